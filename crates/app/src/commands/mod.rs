//! Slash-commands in comments: `/paved <command> [args]`, one per line. Case
//! and extra spaces do not matter; lines inside code blocks and quoted
//! replies are never commands; an unknown command or a bad argument gets the
//! help text and changes nothing.

use std::fmt::Write;

use crate::catalog::resources::{Ask, ask_of_words};
use crate::github::Permission;
use crate::platform::is_tag;
use crate::scaffold::is_dns_label;

/// A command paved understood, with checked arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Status,
    Retry,
    Promote {
        env: String,
    },
    Rollback {
        env: String,
        tag: Option<String>,
    },
    Scale {
        env: String,
        replicas: u32,
    },
    Delete {
        name: String,
    },
    /// Upgrade this service to its template's current version, or with a
    /// template name, every service made from it.
    Upgrade {
        template: Option<String>,
    },
    /// Give the service a resource in `env` (the first environment when
    /// none is named).
    Add {
        ask: Ask,
        env: Option<String>,
    },
    /// Take a resource away from the service in `env`.
    Remove {
        name: String,
        env: Option<String>,
    },
}

/// A command's name, for help, metrics and permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Help,
    Status,
    Retry,
    Promote,
    Rollback,
    Scale,
    Delete,
    Upgrade,
    Add,
    Remove,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Help,
        Kind::Status,
        Kind::Retry,
        Kind::Promote,
        Kind::Rollback,
        Kind::Scale,
        Kind::Delete,
        Kind::Upgrade,
        Kind::Add,
        Kind::Remove,
    ];

    pub fn name(self) -> &'static str {
        self.help().0.split_whitespace().nth(1).unwrap_or("help")
    }

    /// Usage, what it does, who may run it. The match is exhaustive, so a
    /// command cannot be added without its help.
    pub fn help(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Kind::Help => ("/paved help", "these commands", "read"),
            Kind::Status => (
                "/paved status",
                "image tag, replicas and last change per environment",
                "read",
            ),
            Kind::Retry => ("/paved retry", "run a failed request again", "write"),
            Kind::Promote => (
                "/paved promote <env>",
                "copy the previous environment's image tag to `<env>`",
                "write; admin for environments under review",
            ),
            Kind::Rollback => (
                "/paved rollback <env> [<tag>]",
                "restore `<env>`'s previous (or the named) image tag",
                "write; admin for environments under review",
            ),
            Kind::Scale => (
                "/paved scale <env> <replicas>",
                "set `<env>`'s replica count",
                "write within the policy maximum; admin above it or under review",
            ),
            Kind::Delete => (
                "/paved delete <name>",
                "remove the service's Applications and archive its repository",
                "admin",
            ),
            Kind::Upgrade => (
                "/paved upgrade [--template <name>]",
                "open a pull request that brings the service (with --template, every service of that template) to the template's current version",
                "write; admin with --template",
            ),
            Kind::Add => (
                "/paved add <type> <name> [<size>] [--env <env>]",
                "give the service a `postgres` (`version=<n>`), `redis` or `queue` (`fifo`, `dlq`), in the first environment unless `--env` names another",
                "write; admin for environments under review",
            ),
            Kind::Remove => (
                "/paved remove <name> [--env <env>]",
                "take a resource away; the cloud resource is orphaned unless paved.yaml sets `deletion: delete` for the environment",
                "write; admin for environments under review",
            ),
        }
    }
}

/// The least permission a command needs; environment policy may ask more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    None,
    Read,
    Write,
    Admin,
}

/// A maintainer acts as a writer, a triager as a reader.
impl From<Permission> for Role {
    fn from(permission: Permission) -> Self {
        match permission {
            Permission::Admin => Role::Admin,
            Permission::Maintain | Permission::Write => Role::Write,
            Permission::Triage | Permission::Read => Role::Read,
            Permission::None => Role::None,
        }
    }
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::None => "none",
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

impl Command {
    pub fn kind(&self) -> Kind {
        match self {
            Command::Help => Kind::Help,
            Command::Status => Kind::Status,
            Command::Retry => Kind::Retry,
            Command::Promote { .. } => Kind::Promote,
            Command::Rollback { .. } => Kind::Rollback,
            Command::Scale { .. } => Kind::Scale,
            Command::Delete { .. } => Kind::Delete,
            Command::Upgrade { .. } => Kind::Upgrade,
            Command::Add { .. } => Kind::Add,
            Command::Remove { .. } => Kind::Remove,
        }
    }

    /// Whether the command only reads: running it twice changes nothing.
    /// (`retry` asks for a run of the request, which is idempotent.)
    pub fn reads_only(&self) -> bool {
        matches!(self.kind(), Kind::Help | Kind::Status | Kind::Retry)
    }

    pub fn base_role(&self) -> Role {
        match self.kind() {
            Kind::Help | Kind::Status => Role::Read,
            Kind::Retry
            | Kind::Promote
            | Kind::Rollback
            | Kind::Scale
            | Kind::Add
            | Kind::Remove => Role::Write,
            Kind::Delete => Role::Admin,
            Kind::Upgrade if matches!(self, Command::Upgrade { template: Some(_) }) => Role::Admin,
            Kind::Upgrade => Role::Write,
        }
    }
}

/// What a line starting with `/paved` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Command(Command),
    /// Not a command paved knows, or a bad argument: the reason.
    Invalid(String),
}

/// The help text, from [`Kind::ALL`].
pub fn help_text() -> String {
    let mut out = String::from("| command | does | who |\n| --- | --- | --- |\n");
    for kind in Kind::ALL {
        let (usage, does, who) = kind.help();
        let _ = writeln!(out, "| `{usage}` | {does} | {who} |");
    }
    out
}

/// The `/paved` lines of `body`, in order. The comment is read as
/// CommonMark: only lines of top-level paragraphs count, so code (fenced,
/// indented or inline), block quotes, lists, tables and HTML comments never
/// hold a command.
pub fn parse(body: &str) -> Vec<Parsed> {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut out = Vec::new();
    let mut nested = 0usize;
    let mut in_paragraph = false;
    let mut line = String::new();
    let end_line = |line: &mut String, out: &mut Vec<Parsed>| {
        out.extend(command_line(line));
        line.clear();
    };
    for event in Parser::new(body) {
        match event {
            Event::Start(Tag::Paragraph) => in_paragraph = nested == 0,
            Event::End(TagEnd::Paragraph) => {
                end_line(&mut line, &mut out);
                in_paragraph = false;
            }
            Event::Start(
                Tag::BlockQuote(_) | Tag::List(_) | Tag::Table(_) | Tag::FootnoteDefinition(_),
            ) => nested += 1,
            Event::End(
                TagEnd::BlockQuote(_)
                | TagEnd::List(_)
                | TagEnd::Table
                | TagEnd::FootnoteDefinition,
            ) => {
                nested = nested.saturating_sub(1);
            }
            Event::Text(t) if in_paragraph => line.push_str(&t),
            Event::SoftBreak | Event::HardBreak if in_paragraph => end_line(&mut line, &mut out),
            _ => {}
        }
    }
    out
}

/// The command on one line of paragraph text, if it starts with `/paved`.
fn command_line(line: &str) -> Option<Parsed> {
    let mut words = line.split_whitespace();
    if !words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("/paved"))
    {
        return None;
    }
    let words: Vec<String> = words.map(str::to_owned).collect();
    Some(command(&words))
}

fn command(words: &[String]) -> Parsed {
    // Command names, environments and service names fold to lower case;
    // an image tag keeps its case, as registries do.
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let args: Vec<&str> = lower.iter().map(String::as_str).collect();
    let env = |e: &str| {
        if is_dns_label(e) {
            Ok(e.to_owned())
        } else {
            Err(format!("{e:?} is not an environment name"))
        }
    };
    let parsed = match args.as_slice() {
        ["help"] => Ok(Command::Help),
        ["status"] => Ok(Command::Status),
        ["retry"] => Ok(Command::Retry),
        ["promote", e] => env(e).map(|env| Command::Promote { env }),
        ["rollback", e] => env(e).map(|env| Command::Rollback { env, tag: None }),
        ["rollback", e, _] if is_tag(&words[2]) => env(e).map(|env| Command::Rollback {
            env,
            tag: Some(words[2].clone()),
        }),
        ["scale", e, n] => match n.parse::<u32>() {
            Ok(replicas) if replicas <= 1000 => env(e).map(|env| Command::Scale { env, replicas }),
            _ => Err(format!("{n:?} is not a replica count from 0 to 1000")),
        },
        ["delete", name] if is_dns_label(name) => Ok(Command::Delete {
            name: (*name).to_owned(),
        }),
        ["upgrade"] => Ok(Command::Upgrade { template: None }),
        ["add", rest @ ..] => env_option(rest).and_then(|(words, env)| {
            if words.len() < 2 {
                return Err(format!("usage: {}", Kind::Add.help().0));
            }
            Ok(Command::Add {
                ask: ask_of_words(&words),
                env,
            })
        }),
        ["remove", rest @ ..] => env_option(rest).and_then(|(words, env)| match words.as_slice() {
            [name] if is_dns_label(name) => Ok(Command::Remove {
                name: (*name).to_owned(),
                env,
            }),
            _ => Err(format!("usage: {}", Kind::Remove.help().0)),
        }),
        ["upgrade", "--template", t] if is_dns_label(t) => Ok(Command::Upgrade {
            template: Some((*t).to_owned()),
        }),
        [] => Err("no command given".to_owned()),
        [first, ..] => match Kind::ALL.iter().find(|k| k.name() == *first) {
            Some(kind) => Err(format!("usage: {}", kind.help().0)),
            None => Err(format!(
                "unknown command {:?}",
                first.chars().take(40).collect::<String>()
            )),
        },
    };
    match parsed {
        Ok(c) => Parsed::Command(c),
        Err(why) => Parsed::Invalid(why),
    }
}

/// `words` without `--env <env>`, and the environment it named.
fn env_option<'a>(words: &[&'a str]) -> Result<(Vec<&'a str>, Option<String>), String> {
    match words.iter().position(|w| *w == "--env") {
        None => Ok((words.to_vec(), None)),
        Some(i) => {
            let env = words
                .get(i + 1)
                .filter(|e| is_dns_label(e))
                .ok_or_else(|| "--env takes an environment name".to_owned())?;
            let mut rest = words[..i].to_vec();
            rest.extend(&words[i + 2..]);
            Ok((rest, Some((*env).to_owned())))
        }
    }
}

/// At most this many commands run from one comment, so one comment's cost
/// stays small whatever it holds.
pub const MAX_PER_COMMENT: usize = 10;

/// `commands` bounded for one comment: a read-only command (or the same
/// mistake) asked again is answered once, and past [`MAX_PER_COMMENT`] the
/// rest do not run. The commands to run, and how many were left out.
pub fn bounded(commands: Vec<Parsed>) -> (Vec<Parsed>, usize) {
    let mut out: Vec<Parsed> = Vec::new();
    let mut left_out = 0;
    for parsed in commands {
        let read_only = match &parsed {
            Parsed::Command(c) => c.base_role() == Role::Read,
            Parsed::Invalid(_) => true,
        };
        if read_only && out.contains(&parsed) {
            continue;
        }
        if out.len() == MAX_PER_COMMENT {
            left_out += 1;
        } else {
            out.push(parsed);
        }
    }
    (out, left_out)
}

/// The commands in `body` that were not already in `previous` (an edited
/// comment runs only what the edit added).
pub fn added(body: &str, previous: Option<&str>) -> Vec<Parsed> {
    let before = previous.map(parse).unwrap_or_default();
    parse(body)
        .into_iter()
        .filter(|c| !before.contains(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_commands_outside_code_and_quotes() {
        let body = "Please\n  /PAVED   Retry \n> /paved retry\n```\n/paved retry\n```\n/paved scale   STAGING 3";
        let scale = Command::Scale {
            env: "staging".into(),
            replicas: 3,
        };
        assert_eq!(
            parse(body),
            [Parsed::Command(Command::Retry), Parsed::Command(scale)]
        );
        assert_eq!(parse("/pavedretry\nno /paved retry"), []);
    }

    #[test]
    fn code_quotes_lists_and_html_comments_hold_no_commands() {
        let body = "Hi\n\n    /paved delete orders\n\n`/paved delete orders`\n\n\
                    <!-- /paved delete orders -->\n\n- /paved delete orders\n\n\
                    > quoted\n> /paved delete orders\n\n~~~\n/paved delete orders\n~~~\n\n\
                    Then:\n/paved status";
        assert_eq!(parse(body), [Parsed::Command(Command::Status)]);
    }

    #[test]
    fn tags_keep_their_case_and_follow_the_oci_grammar() {
        assert_eq!(
            parse("/PAVED Rollback DEV v1.2-RC"),
            [Parsed::Command(Command::Rollback {
                env: "dev".into(),
                tag: Some("v1.2-RC".into())
            })]
        );
        assert!(is_tag("_x") && is_tag(&"a".repeat(128)));
        assert!(!is_tag(".hidden") && !is_tag("-x") && !is_tag(&"a".repeat(129)) && !is_tag("ä"));
    }

    #[test]
    fn bad_arguments_and_unknown_commands_are_invalid() {
        let invalid = |s: &str| match parse(s).as_slice() {
            [Parsed::Invalid(why)] => why.clone(),
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(
            invalid("/paved scale prod many"),
            "\"many\" is not a replica count from 0 to 1000"
        );
        assert_eq!(invalid("/paved promote"), "usage: /paved promote <env>");
        assert_eq!(invalid("/paved delete ../x"), "usage: /paved delete <name>");
        assert_eq!(
            invalid("/paved frobnicate"),
            "unknown command \"frobnicate\""
        );
        assert_eq!(
            invalid("/paved rollback prod $(rm -rf)"),
            "usage: /paved rollback <env> [<tag>]"
        );
    }

    #[test]
    fn an_edit_runs_only_new_commands() {
        assert_eq!(added("/paved retry", Some("/paved retry")), []);
        assert_eq!(
            added("/paved retry", Some("thanks")),
            [Parsed::Command(Command::Retry)]
        );
    }

    #[test]
    fn a_comment_runs_at_most_ten_commands_and_read_only_ones_once() {
        let body = "/paved status\n".repeat(100) + &"/paved scale dev 2\n".repeat(12);
        let (run, left_out) = bounded(parse(&body));
        assert_eq!(run.len(), MAX_PER_COMMENT);
        assert_eq!(run[0], Parsed::Command(Command::Status));
        assert_eq!(run[1..].iter().filter(|p| **p == run[0]).count(), 0);
        assert_eq!(left_out, 3, "12 scales: 9 run, 3 left out");
        let (run, left_out) = bounded(parse(&"/paved nope\n".repeat(50)));
        assert_eq!((run.len(), left_out), (1, 0));
    }

    #[test]
    fn help_renders_as_written_with_no_html_for_github_to_drop() {
        use pulldown_cmark::{Event, Options, Parser, Tag};
        let help = help_text();
        let events: Vec<Event> = Parser::new_ext(&help, Options::ENABLE_TABLES).collect();
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::Html(_) | Event::InlineHtml(_))),
            "{events:?}"
        );
        let code: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                Event::Code(c) => Some(c.to_string()),
                _ => None,
            })
            .collect();
        for wanted in ["/paved scale <env> <replicas>", "<env>"] {
            assert!(code.iter().any(|c| c == wanted), "{wanted}: {code:?}");
        }
        let rows = events
            .iter()
            .filter(|e| matches!(e, Event::Start(Tag::TableRow)))
            .count();
        assert_eq!(rows, Kind::ALL.len(), "one row per command");
    }

    #[test]
    fn help_lists_every_command() {
        let help = help_text();
        for kind in Kind::ALL {
            assert!(help.contains(kind.help().0), "{kind:?}");
        }
        assert_eq!(Kind::Rollback.name(), "rollback");
        assert_eq!(Role::from(Permission::Maintain), Role::Write);
        assert_eq!(Role::from(Permission::Triage), Role::Read);
    }
}
