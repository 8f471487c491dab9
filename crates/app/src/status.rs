//! The one status comment per request, edited in place. A hidden marker
//! finds it again; every value from the requester is inert Markdown: escaped, with what
//! GitHub would link (references, mentions, URLs) in code spans.

use std::fmt::Write;

use crate::catalog::Problem;
use crate::scaffold::escape::inert;

/// Opens every status comment; paved finds its comment by it.
pub const MARKER: &str = "<!-- paved:status -->";

/// How far one step has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    Pending,
    /// Done, with Markdown that links to what it made.
    Done(String),
    /// Failed, with GitHub's (or git's) own message.
    Failed(String),
    /// Held up, not failed: why, and until when.
    Waiting(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: &'static str,
    pub state: StepState,
}

/// Where a request stands, as its status comment shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Validation found problems; nothing was created.
    Invalid { problems: Vec<Problem> },
    /// A pull request's valid service: what merging it will create.
    Preview {
        service: String,
        repo: String,
        template: String,
        files: Vec<String>,
        application: String,
    },
    /// The requester may not request services; nothing was created.
    Refused { requester: String, who: String },
    /// An admin deleted the service: by whom, and on which day (`YYYY-MM-DD`).
    Deleted {
        service: String,
        by: String,
        on: String,
    },
    /// Steps under way or finished.
    Progress {
        service: String,
        steps: Vec<Step>,
        summary: Option<String>,
    },
}

impl Status {
    /// The comment body, marker first.
    pub fn render(&self) -> String {
        let mut out = String::from(MARKER);
        out.push('\n');
        match self {
            Self::Invalid { problems } => {
                out.push_str("### paved could not take this request\n\n");
                out.push_str(
                    "Nothing was created. Edit the issue to fix these and paved checks again:\n\n",
                );
                for p in problems {
                    let _ = writeln!(out, "- {}", inert(&p.to_string()));
                }
            }
            Self::Refused { requester, who } => {
                out.push_str("### paved could not take this request\n\n");
                let _ = writeln!(
                    out,
                    "Nothing was created. Services are requested by {who}, and @{} is not one of them. Someone who is may open the request instead.",
                    inert(requester)
                );
            }
            Self::Deleted { service, by, on } => {
                let _ = writeln!(out, "{DELETED_MARKER} {by} {on} -->");
                let _ = writeln!(out, "### paved · {}\n", inert(service));
                let _ = writeln!(
                    out,
                    "🗑️ **Deleted** by @{} on {on}: its Applications are removed from the platform repository and its repository is archived. Reopening or editing this request changes nothing.",
                    inert(by)
                );
            }
            Self::Preview {
                service,
                repo,
                template,
                files,
                application,
            } => {
                let _ = writeln!(out, "### paved · preview of {}\n", inert(service));
                let _ = writeln!(
                    out,
                    "The service file is valid. When this pull request is merged, paved creates **{}** from {} with {} files:\n",
                    inert(repo),
                    inert(template),
                    files.len()
                );
                out.push_str("<details><summary>files</summary>\n\n");
                for f in files {
                    let _ = writeln!(out, "- `{f}`");
                }
                out.push_str("\n</details>\n\nand commits this Argo CD Application to the platform repository:\n\n```yaml\n");
                out.push_str(application);
                out.push_str("```\n");
            }
            Self::Progress {
                service,
                steps,
                summary,
            } => {
                let _ = writeln!(out, "### paved · {}\n", inert(service));
                out.push_str("| step | state |\n| --- | --- |\n");
                for step in steps {
                    let state = match &step.state {
                        StepState::Pending => "⏳ pending".to_owned(),
                        StepState::Done(detail) => format!("✅ {detail}"),
                        StepState::Failed(message) => format!("❌ {}", inert(message)),
                        StepState::Waiting(why) => format!("⏳ {}", inert(why)),
                    };
                    let _ = writeln!(out, "| {} | {state} |", step.name);
                }
                if let Some(failed) = steps
                    .iter()
                    .find(|s| matches!(s.state, StepState::Failed(_)))
                {
                    let _ = write!(
                        out,
                        "\nThe step **{}** failed. Fix the cause if it is yours, then comment `/paved retry`.\n",
                        failed.name
                    );
                }
                if let Some(summary) = summary {
                    let _ = write!(out, "\n{summary}\n");
                }
            }
        }
        out
    }
}

const DELETED_MARKER: &str = "<!-- paved:deleted";

/// Opens the live section at the end of a ready request's status comment:
/// what runs in each environment, as GitHub's deployments say.
const LIVE_MARKER: &str = "<!-- paved:live -->";

/// `body` with its live section replaced by (or ending in) one showing
/// `table`.
pub fn with_live(body: &str, table: &str) -> String {
    let kept = body.split(LIVE_MARKER).next().unwrap_or(body).trim_end();
    format!("{kept}\n\n{LIVE_MARKER}\n#### What runs\n\n{table}")
}

/// `new` (a fresh render of a request's progress) keeping the live section
/// `old` had, so that redoing a step never hides what runs.
pub fn keep_live(old: &str, new: String) -> String {
    match old.split_once(LIVE_MARKER) {
        Some((_, live)) => format!("{}\n\n{LIVE_MARKER}{live}", new.trim_end()),
        None => new,
    }
}

/// Who deleted the service and when, from its status comment: `(by, on)`.
pub fn deleted_by(body: &str) -> Option<(String, String)> {
    let line = body.lines().find(|l| l.starts_with(DELETED_MARKER))?;
    let mut words = line[DELETED_MARKER.len()..].split_whitespace();
    Some((words.next()?.to_owned(), words.next()?.to_owned()))
}

/// Whether `body` is a status comment.
pub fn is_status(body: &str) -> bool {
    body.starts_with(MARKER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_section_is_replaced_in_place_and_survives_a_new_render() {
        let card = format!("{MARKER}\n### paved · orders\n\n**Ready.**\n");
        let live = with_live(&card, "| dev | ✅ |\n");
        assert!(
            live.starts_with(&card.trim_end().to_string()) && live.ends_with("| dev | ✅ |\n"),
            "{live}"
        );
        let again = with_live(&live, "| dev | ❌ |\n");
        assert_eq!(again.matches(LIVE_MARKER).count(), 1);
        assert!(
            again.ends_with("| dev | ❌ |\n") && !again.contains("✅ |"),
            "{again}"
        );
        let rendered = keep_live(&again, card.clone());
        assert_eq!(rendered, again);
        assert_eq!(keep_live(&card, card.clone()), card);
    }
}
