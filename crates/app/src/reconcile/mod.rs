//! The reconciler: for a request, read the world (the issue, its status
//! comment, the service repository, the platform repository), decide the
//! next step and do it, every step checking before acting. Webhooks only
//! wake it early; a resync pass reconciles every open request, so lost
//! webhooks and crashes heal without a database.

mod access;
mod commands;
mod dashboard;
mod day2;
mod deletion;
mod deploy;
mod environments;
mod fleet;
mod jobs;
mod live;
mod making;
mod policies;
mod provision;
mod pull;
mod resources;
mod state;
mod upgrade;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{Mutex, OnceCell};

pub use commands::CommandJob;
pub use jobs::{Jobs, Trigger};
pub use state::RequestState;

use crate::catalog::CatalogSettings;
use crate::error::StepError;
use crate::git::Author;
use crate::github::{GitHub, RepoInfo, RepoName};
use crate::metrics::Metrics;
use crate::platform::{PlatformWriter, WriterConfig};
use crate::scaffold::Templates;

/// The folders the reconciler keeps under the work dir, all caches: the
/// platform clone the writer pushes from, the one rollbacks read history
/// from, scratch repositories for scaffolds and for upgrades.
const PLATFORM_CACHE: &str = "platform.git";
const HISTORY_CACHE: &str = "platform-history.git";
const SCAFFOLDS: &str = "scaffolds";
const UPGRADES: &str = "upgrades";
pub const CACHES: [&str; 5] = [
    PLATFORM_CACHE,
    HISTORY_CACHE,
    fleet::CACHE,
    SCAFFOLDS,
    UPGRADES,
];

/// What the reconciler works with; all of it injected.
pub struct Deps {
    pub github: GitHub,
    pub catalog: RepoName,
    pub platform: RepoName,
    pub templates: Arc<Templates>,
    pub work_dir: PathBuf,
    pub metrics: Arc<Metrics>,
}

/// Learned from GitHub once, on first use (never at startup, so paved
/// starts while GitHub is unreachable).
struct Setup {
    installation: u64,
    /// The App's bot login, `<slug>[bot]`: who paved's comments are by.
    bot: String,
    author: Author,
    writer: PlatformWriter,
    platform: RepoInfo,
}

pub struct Reconciler {
    deps: Deps,
    setup: OnceCell<Setup>,
    /// `paved.yaml` from the catalog; dropped when the catalog is pushed to.
    settings: Mutex<Option<CatalogSettings>>,
    /// The catalog's policies, compiled; dropped with `settings`.
    policies: Mutex<Option<policies::Compiled>>,
    /// Merged pull requests that asked for no service, so resyncs skip them.
    /// Only a cache: after a restart each is looked at once more.
    not_requests: std::sync::Mutex<std::collections::HashSet<u64>>,
    /// Requests edited by someone other than their author, and by whom: the
    /// next run judges the editor as a requester too. Only a cache: after a
    /// restart, a pending edit is judged by its author's rights.
    editors: std::sync::Mutex<std::collections::HashMap<u64, String>>,
    /// Comments whose commands this process picked up, newest last (at most
    /// [`commands::PICKED_KEPT`]): running them again after a failure of
    /// its own need not wait for another replica's answer.
    picked: std::sync::Mutex<std::collections::VecDeque<u64>>,
    /// The fleet dashboard's rows as last built. Only a cache: after a
    /// restart the first rebuild reads the rows it shows.
    dashboard_rows: dashboard::Rows,
    /// Services being made, and their CI's news meanwhile.
    making: Arc<making::Making>,
    /// Held while the fleet's clone is read.
    fleet_clone: Mutex<()>,
}

impl Reconciler {
    pub fn new(deps: Deps) -> Arc<Self> {
        Arc::new(Self {
            deps,
            setup: OnceCell::new(),
            settings: Mutex::new(None),
            policies: Mutex::new(None),
            not_requests: Default::default(),
            editors: Default::default(),
            picked: Default::default(),
            dashboard_rows: Default::default(),
            making: Default::default(),
            fleet_clone: Mutex::new(()),
        })
    }

    pub fn metrics(&self) -> &Metrics {
        &self.deps.metrics
    }

    /// Now, by the clock GitHub's rate-limit resets are read with.
    pub fn now(&self) -> std::time::SystemTime {
        self.deps.github.now()
    }

    /// The App's bot login, once known.
    pub fn bot(&self) -> Option<&str> {
        self.setup.get().map(|s| s.bot.as_str())
    }

    pub fn catalog(&self) -> &RepoName {
        &self.deps.catalog
    }

    pub fn platform(&self) -> &RepoName {
        &self.deps.platform
    }

    async fn setup(&self) -> Result<&Setup, StepError> {
        self.setup
            .get_or_try_init(|| async {
                let gh = &self.deps.github;
                let app = gh.get_app().await?;
                let installation = gh.repo_installation(&self.deps.catalog).await?;
                let platform = gh
                    .get_repo(installation, &self.deps.platform)
                    .await?
                    .ok_or_else(|| {
                        StepError::Refused(format!(
                            "the platform repository {} does not exist",
                            self.deps.platform
                        ))
                    })?;
                let bot = format!("{}[bot]", app.slug);
                let author = Author {
                    name: bot.clone(),
                    email: format!("{}+{bot}@users.noreply.github.com", app.id),
                };
                let writer = PlatformWriter::spawn(WriterConfig {
                    github: gh.clone(),
                    clone_url: platform.clone_url.clone(),
                    branch: platform.default_branch.clone(),
                    installation,
                    author: author.clone(),
                    cache_dir: self.deps.work_dir.join(PLATFORM_CACHE),
                    metrics: self.deps.metrics.clone(),
                });
                Ok(Setup {
                    installation,
                    bot,
                    author,
                    writer,
                    platform,
                })
            })
            .await
    }

    /// paved's oldest comment on `repo#number` older than its comment
    /// `ours` that `is_twin` says is the same kind (a status comment, the
    /// answer to one comment): another replica made it at the same moment.
    async fn older_twin(
        &self,
        setup: &Setup,
        repo: &RepoName,
        number: u64,
        ours: u64,
        is_twin: impl Fn(&str) -> bool,
    ) -> Result<Option<crate::github::CommentInfo>, StepError> {
        let comments = self
            .deps
            .github
            .list_comments(setup.installation, repo, number)
            .await?;
        Ok(comments
            .into_iter()
            .filter(|c| c.author == setup.bot && c.id < ours && is_twin(&c.body))
            .min_by_key(|c| c.id))
    }

    /// `paved.yaml` from the catalog's default branch, cached until the
    /// catalog is pushed to. A catalog without one gets the defaults.
    async fn settings(&self, installation: u64) -> Result<CatalogSettings, StepError> {
        let mut cached = self.settings.lock().await;
        if let Some(s) = cached.as_ref() {
            return Ok(s.clone());
        }
        let file = self
            .deps
            .github
            .get_file(installation, &self.deps.catalog, "paved.yaml", "HEAD")
            .await?;
        let settings = match file {
            Some(bytes) => {
                CatalogSettings::parse(&String::from_utf8_lossy(&bytes)).map_err(|problems| {
                    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
                    StepError::Refused(format!(
                        "the catalog's paved.yaml is invalid: {}",
                        text.join("; ")
                    ))
                })?
            }
            None => CatalogSettings::defaults(&self.deps.catalog.owner),
        };
        *cached = Some(settings.clone());
        Ok(settings)
    }

    /// `editor`, not the author, edited request `number`.
    pub fn edited_by(&self, number: u64, editor: &str) {
        self.editors
            .lock()
            .expect("lock")
            .insert(number, editor.to_owned());
    }

    /// Who edited request `number` since its last run, if not its author.
    fn take_editor(&self, number: u64) -> Option<String> {
        self.editors.lock().expect("lock").remove(&number)
    }

    /// The catalog changed: read `paved.yaml` and the policies again next
    /// time.
    pub async fn catalog_pushed(&self) {
        *self.settings.lock().await = None;
        *self.policies.lock().await = None;
    }

    /// Every request a resync pass looks at: open request issues, and merged
    /// pull requests paved has not finished (a lost merge webhook).
    pub async fn open_requests(&self) -> Result<Vec<u64>, StepError> {
        let setup = self.setup().await?;
        let gh = &self.deps.github;
        let (inst, catalog) = (setup.installation, &self.deps.catalog);
        let issues = gh
            .list_open_issues(inst, catalog, crate::catalog::form::REQUEST_LABEL)
            .await?;
        let mut numbers: Vec<u64> = issues
            .into_iter()
            .filter(|i| !i.is_pull_request)
            .map(|i| i.number)
            .collect();
        let finished = |labels: &[String]| !RequestState::from_labels(labels).unfinished();
        let merged = gh.recently_merged_pulls(inst, catalog).await?;
        let skip = self.not_requests.lock().expect("lock").clone();
        numbers.extend(
            merged
                .into_iter()
                .filter(|(n, labels)| !finished(labels) && !skip.contains(n))
                .map(|(n, _)| n),
        );
        Ok(numbers)
    }
}

/// A tag or commit as answers show it: its first 7 characters. Characters,
/// not bytes: a tag read from the platform repository may be anything.
fn short(tag: &str) -> &str {
    tag.char_indices().nth(7).map_or(tag, |(at, _)| &tag[..at])
}

/// Applications one push to the platform repository may have recorded as
/// deployments: a push by a person is trusted, but its cost is still bounded.
const MAX_LANDED: usize = 50;

/// Turns a verified event into work: which request to reconcile, which
/// commands to run, what to deploy.
pub fn route(jobs: &Arc<Jobs>, event: &crate::webhook::event::Event, delivery: &str) {
    use crate::webhook::event::{CommentAction, EventKind, IssueAction, PullRequestAction};
    let reconciler = jobs.reconciler();
    // paved's own changes (labels, edits, comments) come back as webhooks:
    // nothing to do. (CI runs its pushes trigger still deploy.)
    let own = reconciler.bot().is_some_and(|bot| event.sender == bot);
    if own && !matches!(event.kind, EventKind::WorkflowRun(_)) {
        return;
    }
    let Some(repo) = event.repo.as_ref() else {
        return;
    };
    let Ok(name) = format!("{}/{}", repo.owner, repo.name).parse::<RepoName>() else {
        return;
    };
    let catalog = reconciler.catalog();
    let in_catalog = name.owner.eq_ignore_ascii_case(&catalog.owner)
        && name.name.eq_ignore_ascii_case(&catalog.name);
    match &event.kind {
        EventKind::Issue { action, issue }
            if in_catalog
                && *action != IssueAction::Closed
                && issue
                    .labels
                    .iter()
                    .any(|l| l == crate::catalog::form::REQUEST_LABEL) =>
        {
            if *action == IssueAction::Edited && !event.sender.eq_ignore_ascii_case(&issue.author) {
                reconciler.edited_by(issue.number, &event.sender);
            }
            jobs.submit(issue.number, Trigger::Event, delivery);
        }
        EventKind::PullRequest { action, number }
            if in_catalog && *action != PullRequestAction::Edited =>
        {
            jobs.submit(*number, Trigger::Event, delivery);
        }
        EventKind::IssueComment {
            action,
            number,
            comment,
            previous_body,
        } => {
            let previous = (*action == CommentAction::Edited)
                .then_some(previous_body.as_deref())
                .flatten();
            let (commands, left_out) =
                crate::commands::bounded(crate::commands::added(&comment.body, previous));
            if !commands.is_empty() {
                let job = CommandJob {
                    left_out,
                    repo: name,
                    number: *number,
                    comment: comment.id,
                    actor: event.sender.clone(),
                    author: comment.author.clone(),
                    commands,
                    edited: *action == CommentAction::Edited,
                };
                jobs.order(jobs::Ordered::Commands(job));
            }
        }
        EventKind::WorkflowRun(run) if !in_catalog => {
            if run.conclusion.as_deref() == Some("success")
                && run.head_branch.as_deref() == Some(repo.default_branch.as_str())
            {
                jobs.order(jobs::Ordered::Deploy {
                    repo: name.clone(),
                    sha: run.head_sha.clone(),
                    run: run.id,
                });
            }
            // A service being made shows its CI on the card it gets.
            if !reconciler
                .making
                .hear(&name, run.id, &run.head_sha, &run.run)
            {
                jobs.order(jobs::Ordered::Follow {
                    repo: name,
                    sha: run.head_sha.clone(),
                    environment: None,
                });
            }
        }
        EventKind::CheckSuite(suite) if !in_catalog => {
            jobs.order(jobs::Ordered::Follow {
                repo: name,
                sha: suite.head_sha.clone(),
                environment: None,
            });
        }
        EventKind::DeploymentStatus(status) if !in_catalog => {
            jobs.order(jobs::Ordered::Follow {
                repo: name,
                sha: status.sha.clone(),
                environment: Some(status.environment.clone()),
            });
        }
        EventKind::Push(push)
            if name == *reconciler.platform()
                && push.git_ref == format!("refs/heads/{}", repo.default_branch) =>
        {
            let files: Vec<String> = push
                .written
                .iter()
                .filter(|f| crate::platform::of_path(f).is_some())
                .take(MAX_LANDED)
                .cloned()
                .collect();
            if !files.is_empty() {
                jobs.order(jobs::Ordered::Landed {
                    commit: push.after.clone(),
                    files,
                });
            }
        }
        EventKind::Push(_) if in_catalog => {
            let reconciler = reconciler.clone();
            tokio::spawn(async move { reconciler.catalog_pushed().await });
        }
        _ => {}
    }
}

/// Reconciles every open request now and every `every` after.
pub async fn resync_loop(jobs: Arc<Jobs>, every: std::time::Duration) {
    loop {
        resync(&jobs).await;
        tokio::time::sleep(every).await;
    }
}

/// One resync pass: every open request is submitted, and the dashboard
/// rebuilt. It costs the open requests, not the fleet: the dashboard reads
/// again only the rows that changed, and a few of the oldest.
pub async fn resync(jobs: &Arc<Jobs>) {
    match jobs.reconciler().open_requests().await {
        Ok(numbers) => {
            tracing::info!(requests = numbers.len(), "resync");
            for n in numbers {
                jobs.submit(n, Trigger::Resync, "resync");
            }
            // A change whose rebuild failed, or that paved missed.
            jobs.dashboard_changed();
        }
        Err(e) => {
            tracing::warn!(error = %e, "resync could not list requests; trying again next time")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_cuts_characters_not_bytes() {
        assert_eq!(super::short("5aaedf8c0ffee"), "5aaedf8");
        assert_eq!(super::short("äöüßéèêë"), "äöüßéèê");
        assert_eq!(super::short("v1"), "v1");
    }
}
