//! Running reconciles: one at a time per request, several requests in
//! parallel (bounded). A request woken while it runs runs once more after,
//! so no wake-up is lost and none piles up. Work that fails comes back here
//! with its [`StepError`], and [`decide`] alone says what happens next.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::Semaphore;
use tracing::Instrument;

use super::commands::Answer;
use super::{CommandJob, Reconciler};
use crate::error::StepError;
use crate::github::RepoName;

/// Tries at work that fails transiently, the first included, before paved
/// gives up on it and says why.
pub const ATTEMPTS: u32 = 4;

/// What becomes of work that ended in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run it again once GitHub's rate limit resets, spending no calls meanwhile.
    Park(SystemTime),
    /// Run it again after a pause.
    Backoff(Duration),
    /// Stop and tell whoever asked why: on the request, in the answer, on
    /// the commit.
    GiveUp,
}

/// The one decision about failed work: `attempt` counts from 1.
pub fn decide(error: &StepError, attempt: u32) -> Action {
    match error {
        StepError::RateLimited { until, .. } => Action::Park(*until),
        StepError::Transient(_) if attempt < ATTEMPTS => {
            Action::Backoff(Duration::from_secs(1 << (attempt.max(1) - 1)))
        }
        StepError::Transient(_) | StepError::Refused(_) | StepError::Invalid(_) => Action::GiveUp,
    }
}

/// Why a request is being reconciled; decides what a failed request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    /// The periodic pass: failed and invalid requests wait for a person.
    Resync,
    /// A webhook about the request (opened, edited, ...).
    Event,
    /// `/paved retry`: run a failed request again.
    Retry,
}

/// Work done in order, one item at a time: commands and deployments change
/// the same Applications, and each reads before it writes.
#[derive(Debug)]
pub enum Ordered {
    Commands(CommandJob),
    /// The answer to commands that have run, still to be posted.
    Answer(Answer),
    Deploy {
        repo: RepoName,
        sha: String,
        run: u64,
    },
    /// Someone else's push to the platform repository's default branch (a
    /// merged review pull request, as a rule) wrote these Applications.
    Landed {
        commit: String,
        files: Vec<String>,
    },
    /// Something moved on `sha` of the service `repo`: CI, or (with its
    /// `environment`) a deployment status was posted.
    Follow {
        repo: RepoName,
        sha: String,
        environment: Option<String>,
    },
}

/// Ordered work and how many times it has been tried.
#[derive(Debug)]
struct Queued {
    work: Ordered,
    attempt: u32,
}

pub struct Jobs {
    reconciler: Arc<Reconciler>,
    ordered: tokio::sync::mpsc::UnboundedSender<Queued>,
    /// Ordered work queued or running.
    ordered_pending: AtomicUsize,
    /// Ordered work parked until the rate limit resets, in its order.
    parked: Mutex<Vec<Queued>>,
    /// Timers for work waiting to be tried again: a backoff, or the reset
    /// parked work waits for.
    waiting: AtomicUsize,
    /// Set when paved stops: running jobs are dropped where they stand, as
    /// in a crash; the next start's resync picks their requests up.
    stop: tokio::sync::watch::Sender<bool>,
    permits: Semaphore,
    /// Requests with a job running, and the strongest trigger that arrived meanwhile.
    running: Mutex<HashMap<u64, Option<(Trigger, String)>>>,
    /// The fleet dashboard's rebuilds; `None` when it is off.
    dashboard: Option<Mutex<Rebuild>>,
    /// Service repositories with a `Follow` queued and not yet started: a
    /// follow reads everything afresh, so one more for the same repository
    /// would only repeat it. A burst of CI and Argo CD events costs one.
    following: Mutex<HashSet<RepoName>>,
}

/// How long the fleet dashboard gathers changes before a rebuild: a burst
/// of changes makes one rebuild, not one each.
const DASHBOARD_DELAY: Duration = Duration::from_secs(1);

/// Whether a fleet dashboard rebuild is due, and whether its task runs.
#[derive(Debug, Default)]
struct Rebuild {
    due: bool,
    running: bool,
}

impl Jobs {
    /// Jobs for `reconciler`, `workers` requests at a time; `dashboard`
    /// keeps the fleet dashboard.
    pub fn new(reconciler: Arc<Reconciler>, workers: usize, dashboard: bool) -> Arc<Self> {
        let (ordered, rx) = tokio::sync::mpsc::unbounded_channel();
        let jobs = Arc::new(Self {
            reconciler,
            ordered,
            ordered_pending: AtomicUsize::new(0),
            parked: Mutex::default(),
            waiting: AtomicUsize::new(0),
            stop: tokio::sync::watch::channel(false).0,
            permits: Semaphore::new(workers),
            running: Mutex::default(),
            dashboard: dashboard.then(Mutex::default),
            following: Mutex::default(),
        });
        tokio::spawn(run_ordered(Arc::downgrade(&jobs), rx));
        jobs
    }

    /// Queues commands or a deployment behind those already queued; a
    /// `Follow` of a repository that has one queued already is that one.
    pub fn order(&self, work: Ordered) {
        if let Ordered::Follow { repo, .. } = &work {
            let fresh = self
                .following
                .lock()
                .expect("jobs lock")
                .insert(repo.clone());
            if !fresh {
                tracing::debug!(%repo, "a follow is queued already");
                return;
            }
        }
        self.enqueue(Queued { work, attempt: 1 });
    }

    /// A `Follow` of `repo` starts: events from now on need one more.
    fn follow_started(&self, repo: &RepoName) {
        self.following.lock().expect("jobs lock").remove(repo);
    }

    fn enqueue(&self, queued: Queued) {
        if *self.stop.borrow() {
            return;
        }
        // Counted before it is sent, so the runner never counts below zero.
        self.ordered_pending.fetch_add(1, Ordering::Relaxed);
        if self.ordered.send(queued).is_err() {
            self.ordered_pending.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Something may have changed what the fleet dashboard shows: it is
    /// rebuilt after [`DASHBOARD_DELAY`], or once more after the rebuild
    /// under way.
    pub fn dashboard_changed(self: &Arc<Self>) {
        let Some(rebuild) = &self.dashboard else {
            return;
        };
        {
            let mut r = rebuild.lock().expect("jobs lock");
            r.due = true;
            if r.running || *self.stop.borrow() {
                return;
            }
            r.running = true;
        }
        let jobs = self.clone();
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                () = jobs.rebuild_dashboard() => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }

    /// Rebuilds the dashboard until no change is left; a failed rebuild is
    /// tried again by the next change.
    async fn rebuild_dashboard(&self) {
        let Some(rebuild) = &self.dashboard else {
            return;
        };
        loop {
            tokio::time::sleep(DASHBOARD_DELAY).await;
            {
                let mut r = rebuild.lock().expect("jobs lock");
                if !r.due {
                    r.running = false;
                    return;
                }
                r.due = false;
            }
            let rebuilt = crate::github::background(self.reconciler.refresh_dashboard()).await;
            if let Err(e) = rebuilt {
                tracing::warn!(error = %e, "the fleet dashboard could not be rebuilt; the next change tries again");
            }
        }
    }

    /// Whether a dashboard rebuild is due or running.
    fn rebuilding(&self) -> bool {
        self.dashboard
            .as_ref()
            .is_some_and(|r| r.lock().expect("jobs lock").running)
    }

    pub fn reconciler(&self) -> &Arc<Reconciler> {
        &self.reconciler
    }

    /// Reconciles catalog request `number`, now or right after its running
    /// job. `origin` (a delivery id, `resync`, a command) goes on every log
    /// line of the job.
    pub fn submit(self: &Arc<Self>, number: u64, trigger: Trigger, origin: &str) {
        self.submit_attempt(number, trigger, origin, 1);
    }

    fn submit_attempt(self: &Arc<Self>, number: u64, trigger: Trigger, origin: &str, attempt: u32) {
        if *self.stop.borrow() {
            return;
        }
        {
            let mut running = self.running.lock().expect("jobs lock");
            if let Some(again) = running.get_mut(&number) {
                if again.as_ref().is_none_or(|(t, _)| *t < trigger) {
                    *again = Some((trigger, origin.to_owned()));
                }
                return;
            }
            running.insert(number, None);
        }
        let jobs = self.clone();
        let mut stop = self.stop.subscribe();
        let origin = origin.to_owned();
        tokio::spawn(async move {
            tokio::select! {
                () = jobs.run(number, trigger, origin, attempt) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }

    async fn run(
        self: Arc<Self>,
        number: u64,
        mut trigger: Trigger,
        mut origin: String,
        mut attempt: u32,
    ) {
        loop {
            {
                let _permit = self.permits.acquire().await.expect("semaphore open");
                let metrics = self.reconciler.metrics();
                metrics.jobs_running.inc();
                let span = tracing::info_span!("job", delivery = %origin, attempt);
                let work = self
                    .reconciler
                    .reconcile_request(number, trigger, attempt)
                    .instrument(span);
                // The periodic pass yields GitHub's limits to work people wait for.
                let outcome = if trigger == Trigger::Resync {
                    crate::github::background(work).await
                } else {
                    work.await
                };
                if let Err(e) = outcome {
                    self.after_request(number, trigger, attempt, &e);
                }
                metrics.jobs_running.dec();
                self.dashboard_changed();
            }
            let mut running = self.running.lock().expect("jobs lock");
            match running.get_mut(&number).and_then(Option::take) {
                Some((next, from)) => (trigger, origin, attempt) = (next, from, 1),
                None => {
                    running.remove(&number);
                    return;
                }
            }
        }
    }

    /// A request's run ended in `error`. Errors on the request's own steps
    /// were shown on it already, by the same [`decide`]; these are the rest.
    fn after_request(
        self: &Arc<Self>,
        number: u64,
        trigger: Trigger,
        attempt: u32,
        error: &StepError,
    ) {
        match decide(error, attempt) {
            Action::Park(until) => {
                let wait = self.until(until);
                tracing::info!(
                    request = number,
                    wait_s = wait.as_secs(),
                    "rate limited: parked until the reset"
                );
                self.later(wait, move |jobs| {
                    jobs.submit_attempt(number, trigger, "rate limit reset", attempt)
                });
            }
            Action::Backoff(wait) => {
                tracing::info!(request = number, attempt, error = %error, "failed for now; trying again");
                self.later(wait, move |jobs| {
                    jobs.submit_attempt(number, trigger, "retry", attempt + 1)
                });
            }
            Action::GiveUp => {
                tracing::warn!(request = number, error = %error, "reconcile failed; the next event or resync retries");
            }
        }
    }

    /// Ordered work ended in `error`: parked, tried again, or given up on
    /// with a word to whoever asked.
    async fn after_ordered(self: &Arc<Self>, queued: Queued, error: StepError) {
        match decide(&error, queued.attempt) {
            Action::Park(until) => self.park(queued, until),
            Action::Backoff(wait) => {
                tracing::info!(attempt = queued.attempt, error = %error, "ordered work failed for now; trying again");
                let again = Queued {
                    attempt: queued.attempt + 1,
                    ..queued
                };
                self.later(wait, move |jobs| jobs.enqueue(again));
            }
            Action::GiveUp => self.reconciler.give_up(queued.work, &error).await,
        }
    }

    /// Holds `queued` until the rate limit resets at `until`. Everything
    /// parked goes back in the order it came, on one timer (which counts as
    /// waiting work while anything is parked).
    fn park(self: &Arc<Self>, queued: Queued, until: SystemTime) {
        let first = {
            let mut parked = self.parked.lock().expect("jobs lock");
            parked.push(queued);
            parked.len() == 1
        };
        if !first {
            return;
        }
        let wait = self.until(until);
        tracing::info!(
            wait_s = wait.as_secs(),
            "rate limited: ordered work parked until the reset"
        );
        self.later(wait, |jobs| {
            let parked = std::mem::take(&mut *jobs.parked.lock().expect("jobs lock"));
            for queued in parked {
                jobs.enqueue(queued);
            }
        });
    }

    /// Runs `then` after `wait`, unless paved stops first; counted as waiting
    /// work until `then` has queued what it brings back, so the work is never
    /// counted as gone in between.
    fn later(self: &Arc<Self>, wait: Duration, then: impl FnOnce(&Arc<Self>) + Send + 'static) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let jobs = self.clone();
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(wait) => then(&jobs),
                _ = stop.wait_for(|s| *s) => {}
            }
            jobs.waiting.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// How long until a rate limit that resets at `until`, by the clock the
    /// reset came from: a second past it, and never more than GitHub's
    /// hour-long window.
    fn until(&self, until: SystemTime) -> Duration {
        until
            .duration_since(self.reconciler.now())
            .unwrap_or_default()
            .min(Duration::from_secs(3600))
            + Duration::from_secs(1)
    }

    /// Drops every running job and takes no more.
    pub fn stop(&self) {
        self.stop.send_replace(true);
        self.running.lock().expect("jobs lock").clear();
        self.parked.lock().expect("jobs lock").clear();
        if let Some(rebuild) = &self.dashboard {
            *rebuild.lock().expect("jobs lock") = Rebuild::default();
        }
    }

    /// Whether no work is running, queued or waiting to be tried again.
    pub fn idle(&self) -> bool {
        self.running() == 0 && self.waiting.load(Ordering::Relaxed) == 0 && !self.rebuilding()
    }

    /// Requests and ordered work (commands, deployments) running or queued.
    /// Work waiting for a reset or a backoff is not counted: a shutdown
    /// does not wait for it. The next start's resync takes requests up;
    /// waiting commands and deployments go with the process, as queued ones
    /// do.
    pub fn running(&self) -> usize {
        self.running.lock().expect("jobs lock").len() + self.ordered_pending.load(Ordering::Relaxed)
    }
}

/// Runs ordered work until paved stops.
async fn run_ordered(
    jobs: std::sync::Weak<Jobs>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Queued>,
) {
    while let Some(queued) = rx.recv().await {
        let Some(jobs) = jobs.upgrade() else { return };
        let mut stop = jobs.stop.subscribe();
        // Each item runs as a task of its own: should one panic, the
        // runner logs it and goes on with the next.
        let mut item = tokio::spawn(run_one(jobs.clone(), queued));
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => {
                item.abort();
                return;
            }
            done = &mut item => {
                if let Err(e) = done {
                    tracing::error!(error = %e, "an ordered item panicked; the next one runs");
                }
            }
        }
        jobs.ordered_pending.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn run_one(jobs: Arc<Jobs>, queued: Queued) {
    let reconciler = jobs.reconciler.clone();
    let attempt = queued.attempt;
    let failed = match queued.work {
        Ordered::Commands(job) => match reconciler.run_commands(&job).await {
            Ok(None) => None,
            Ok(Some(ran)) => {
                if ran.retry {
                    let origin = format!("comment {}", job.comment);
                    jobs.submit(job.number, Trigger::Retry, &origin);
                }
                // The commands have run: what is left is their answer.
                post(&reconciler, ran.answer, 1).await
            }
            Err(e) => Some((
                Queued {
                    work: Ordered::Commands(job),
                    attempt,
                },
                e,
            )),
        },
        Ordered::Answer(answer) => post(&reconciler, answer, attempt).await,
        Ordered::Deploy { repo, sha, run } => reconciler
            .deploy_commit(&repo, &sha, run)
            .await
            .err()
            .map(|e| {
                let work = Ordered::Deploy { repo, sha, run };
                (Queued { work, attempt }, e)
            }),
        Ordered::Landed { commit, files } => reconciler
            .record_landed(&commit, &files)
            .await
            .err()
            .map(|e| {
                let work = Ordered::Landed { commit, files };
                (Queued { work, attempt }, e)
            }),
        Ordered::Follow {
            repo,
            sha,
            environment,
        } => {
            jobs.follow_started(&repo);
            reconciler
                .follow(&repo, &sha, environment.as_deref())
                .await
                .err()
                .map(|e| {
                    let work = Ordered::Follow {
                        repo,
                        sha,
                        environment,
                    };
                    (Queued { work, attempt }, e)
                })
        }
    };
    if let Some((queued, error)) = failed {
        jobs.after_ordered(queued, error).await;
    }
    jobs.dashboard_changed();
}

/// Posts an answer; the answer back with the error when it did not go.
async fn post(
    reconciler: &Reconciler,
    answer: Answer,
    attempt: u32,
) -> Option<(Queued, StepError)> {
    let error = reconciler.post_answer(&answer).await.err()?;
    let work = Ordered::Answer(answer);
    Some((Queued { work, attempt }, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_park_transient_errors_back_off_then_give_up_and_refusals_give_up_at_once() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(99);
        let limited = StepError::RateLimited {
            operation: "issues/get",
            until: at,
        };
        assert_eq!(decide(&limited, 9), Action::Park(at));
        let flaky = StepError::Transient("502".into());
        assert_eq!(decide(&flaky, 1), Action::Backoff(Duration::from_secs(1)));
        assert_eq!(decide(&flaky, 3), Action::Backoff(Duration::from_secs(4)));
        assert_eq!(decide(&flaky, ATTEMPTS), Action::GiveUp);
        assert_eq!(decide(&StepError::Refused("no".into()), 1), Action::GiveUp);
        assert_eq!(decide(&StepError::invalid("bad"), 1), Action::GiveUp);
    }
}
