//! The platform repository's one writer. Changes from many requests are
//! batched into one commit; a rejected push (someone else moved the branch)
//! means fetch, re-apply, push again. Never a force-push, so history stays
//! linear and nobody's commit is lost.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::error::StepError;
use crate::git::{self, Author, FileChange, GitError};
use crate::github::GitHub;
use crate::metrics::Metrics;

/// Attempts at fetch-apply-push before giving up on a batch.
const MAX_PUSH_ATTEMPTS: u32 = 10;
/// Changes waiting at once; senders wait beyond it.
const QUEUE: usize = 256;

/// Why a write did not land; every waiter in a batch gets the same one.
fn stopped() -> StepError {
    StepError::Transient("the platform writer has stopped".into())
}

/// What a write did: the commit that holds the change (the new one, or the
/// default branch as it was when nothing needed changing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub commit: String,
    pub changed: bool,
}

/// Whether a change may replace a file that is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Write the files as given.
    Replace,
    /// Add files that are missing; leave existing ones alone.
    CreateOnly,
}

struct Pending {
    changes: Vec<FileChange>,
    mode: WriteMode,
    /// A new branch to commit to (for a pull request) instead of the
    /// default branch.
    branch: Option<String>,
    /// One line naming the request, e.g. `Add billing-api (catalog#12)`.
    reason: String,
    reply: oneshot::Sender<Result<Written, StepError>>,
}

/// Where and as whom the writer writes.
pub struct WriterConfig {
    pub github: GitHub,
    /// The platform repository's clone URL.
    pub clone_url: String,
    /// Its default branch: what Argo CD deploys from, and what pull
    /// requests branch off.
    pub branch: String,
    pub installation: u64,
    pub author: Author,
    /// A local bare clone kept between writes, so fetches are incremental.
    pub cache_dir: PathBuf,
    pub metrics: Arc<Metrics>,
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct PlatformWriter {
    tx: mpsc::Sender<Pending>,
}

impl PlatformWriter {
    pub fn spawn(config: WriterConfig) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(config, rx));
        Self { tx }
    }

    /// Makes the platform repository hold `changes`, committing only when
    /// something differs. Waits for the batch it joins to be pushed.
    pub async fn write(
        &self,
        changes: Vec<FileChange>,
        mode: WriteMode,
        reason: String,
    ) -> Result<Written, StepError> {
        self.send(changes, mode, None, reason).await
    }

    /// Commits `changes` on top of the default branch to a new `branch`,
    /// for a pull request; the default branch itself is not touched.
    pub async fn write_branch(
        &self,
        changes: Vec<FileChange>,
        branch: String,
        reason: String,
    ) -> Result<Written, StepError> {
        self.send(changes, WriteMode::Replace, Some(branch), reason)
            .await
    }

    async fn send(
        &self,
        changes: Vec<FileChange>,
        mode: WriteMode,
        branch: Option<String>,
        reason: String,
    ) -> Result<Written, StepError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            changes,
            mode,
            branch,
            reason,
            reply,
        };
        self.tx.send(pending).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// While changes come in crowds (the last batch, this recent, held more
/// than one), the writer gathers them into one commit until none arrives
/// for [`QUIET`], or for [`GATHER_MAX`] at most. Changes one at a time go
/// at once.
const BUSY: Duration = Duration::from_secs(2);
const QUIET: Duration = Duration::from_millis(100);
const GATHER_MAX: Duration = Duration::from_millis(500);

async fn run(config: WriterConfig, mut rx: mpsc::Receiver<Pending>) {
    let config = Arc::new(config);
    // When the last batch was pushed, and whether it held several changes.
    let mut last: Option<(Instant, bool)> = None;
    while let Some(first) = rx.recv().await {
        let mut pending = vec![first];
        let busy = last.is_some_and(|(at, crowd)| crowd && at.elapsed() < BUSY);
        gather(&mut rx, &mut pending, busy).await;
        let crowd = pending.len() > 1;
        // Changes to the default branch share one commit; a new branch gets
        // a commit of its own.
        let (branches, main): (Vec<Pending>, Vec<Pending>) =
            pending.into_iter().partition(|p| p.branch.is_some());
        let mut groups: Vec<Vec<Pending>> = branches.into_iter().map(|p| vec![p]).collect();
        if !main.is_empty() {
            groups.push(main);
        }
        for batch in groups {
            let result = write_batch(&config, &batch).await;
            for p in batch {
                let _ = p.reply.send(result.clone());
            }
        }
        last = Some((Instant::now(), crowd));
    }
}

/// Adds what is queued to `pending`; while `busy`, also what arrives until
/// the queue is quiet. Fewer, larger commits spend fewer pushes and fewer of
/// Argo CD's syncs of the platform repository.
async fn gather(rx: &mut mpsc::Receiver<Pending>, pending: &mut Vec<Pending>, busy: bool) {
    while let Ok(more) = rx.try_recv() {
        pending.push(more);
    }
    if !busy {
        return;
    }
    let until = Instant::now() + GATHER_MAX;
    while let Ok(Some(more)) = tokio::time::timeout(
        QUIET.min(until.saturating_duration_since(Instant::now())),
        rx.recv(),
    )
    .await
    {
        pending.push(more);
        while let Ok(more) = rx.try_recv() {
            pending.push(more);
        }
    }
}

async fn write_batch(config: &Arc<WriterConfig>, batch: &[Pending]) -> Result<Written, StepError> {
    let token = config
        .github
        .installation_token(config.installation)
        .await?;
    let changes: Vec<Change> = batch
        .iter()
        .enumerate()
        .flat_map(|(request, p)| {
            p.changes.iter().map(move |c| Change {
                file: c.clone(),
                mode: p.mode,
                request,
            })
        })
        .collect();
    let reasons: Vec<String> = batch.iter().map(|p| p.reason.clone()).collect();
    let branch = batch[0].branch.clone();
    let config = config.clone();
    crate::git::blocking(move || {
        git::with_retries(git::TRANSIENT_ATTEMPTS, || {
            push_changes(&config, &token, &changes, &reasons, branch.as_deref())
        })
        .map_err(StepError::from)
    })
    .await?
}

/// Fetch, apply, push; again while someone else moved the branch.
fn push_changes(
    config: &WriterConfig,
    token: &crate::secret::Secret,
    changes: &[Change],
    reasons: &[String],
    branch: Option<&str>,
) -> Result<Written, GitError> {
    let cache = git::open_cache(&config.cache_dir)?;
    let branch_name = branch.unwrap_or(&config.branch);
    let target = format!("refs/heads/{branch_name}");
    for attempt in 1..=MAX_PUSH_ATTEMPTS {
        let head = git::fetch(&cache, &config.clone_url, token, &config.branch)?;
        let base = head
            .map(|h| cache.find_commit(h).and_then(|c| c.tree()))
            .transpose()?;
        let apply = effective(&cache, base.as_ref(), changes)?;
        if apply.is_empty() {
            let commit = head.map(|h| h.to_string()).unwrap_or_default();
            return Ok(Written {
                commit,
                changed: false,
            });
        }
        let files: Vec<FileChange> = apply.iter().map(|c| c.file.clone()).collect();
        let tree = match git::write_tree(&cache, base.as_ref(), &files)? {
            Some(t) => t,
            None => cache.treebuilder(None)?.write()?,
        };
        let message = commit_message(reasons, &apply);
        let commit = git::commit(&cache, &target, tree, head, &config.author, &message)?;
        match git::push(
            &cache,
            &config.clone_url,
            token,
            &[format!("{target}:{target}")],
        ) {
            Ok(()) => {
                config.metrics.platform_commits.inc();
                return Ok(Written {
                    commit: commit.to_string(),
                    changed: true,
                });
            }
            // A ref refused because the branch moved under us (git says "failed to
            // update ref" when its compare-and-swap loses) is a race, not a
            // refusal: fetch and re-apply.
            Err(GitError::Rejected(_))
                if git::remote_heads(&cache, &config.clone_url, token)?.get(branch_name)
                    != head.as_ref() => {}
            Err(GitError::NotFastForward) => {}
            Err(e) => return Err(e),
        }
        config.metrics.platform_push_retries.inc();
        tracing::info!(
            attempt,
            "the platform repository moved on; fetching and re-applying"
        );
        std::thread::sleep(push_backoff(attempt));
    }
    Err(GitError::Raced(MAX_PUSH_ATTEMPTS))
}

/// A random pause before push attempt `attempt + 1`, up to 50 ms for each
/// lost so far: replicas that keep losing to each other fall out of step,
/// so one of them wins, and then the next.
fn push_backoff(attempt: u32) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    // A fresh `RandomState` is seeded at random: randomness without a crate.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let most = 50 * u64::from(attempt);
    std::time::Duration::from_millis(random % (most + 1))
}

/// One file change and the request (index in the batch) it serves.
struct Change {
    file: FileChange,
    mode: WriteMode,
    request: usize,
}

/// The changes that alter `base`: a create-only file that is already there,
/// or a file written as it already is, drops out.
fn effective<'a>(
    repo: &git2::Repository,
    base: Option<&git2::Tree>,
    changes: &'a [Change],
) -> Result<Vec<&'a Change>, GitError> {
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        let current = match base {
            Some(tree) => git::read_file(repo, tree, &change.file.path)?,
            None => None,
        };
        let alters = match (&current, change.mode) {
            (Some(_), WriteMode::CreateOnly) => false,
            (current, _) => *current != change.file.contents,
        };
        if alters {
            out.push(change);
        }
    }
    Ok(out)
}

/// Names the requests whose changes are in the commit: one, its reason;
/// several, a summary line and one line each.
fn commit_message(reasons: &[String], applied: &[&Change]) -> String {
    let mut requests: Vec<usize> = applied.iter().map(|c| c.request).collect();
    requests.dedup();
    match requests.as_slice() {
        [one] => format!("{}\n", reasons[*one]),
        many => {
            let mut msg = format!("Update {} services\n\n", many.len());
            for r in many {
                msg.push_str("- ");
                msg.push_str(&reasons[*r]);
                msg.push('\n');
            }
            msg
        }
    }
}

#[cfg(test)]
mod tests {
    use super::push_backoff;
    use std::time::Duration;

    #[test]
    fn push_backoff_is_random_and_grows_with_the_attempts_lost() {
        for attempt in 1..=10 {
            let most = Duration::from_millis(50 * u64::from(attempt));
            assert!((0..20).all(|_| push_backoff(attempt) <= most));
        }
        let drawn: std::collections::HashSet<Duration> =
            (0..20).map(|_| push_backoff(10)).collect();
        assert!(drawn.len() > 1, "{drawn:?}");
    }
}
