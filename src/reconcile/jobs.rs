//! Running reconciles: one at a time per request, several requests in
//! parallel (bounded). A request woken while it runs runs once more after,
//! so no wake-up is lost and none piles up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tracing::Instrument;

use super::{CommandJob, ReconcileError, Reconciler};
use crate::github::GitHubError;
use crate::github::RepoName;

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
    Deploy {
        repo: RepoName,
        sha: String,
        run: u64,
    },
}

pub struct Jobs {
    reconciler: Arc<Reconciler>,
    ordered: tokio::sync::mpsc::UnboundedSender<Ordered>,
    /// Ordered work queued or running.
    ordered_pending: AtomicUsize,
    /// Set when paved stops: running jobs are dropped where they stand, as
    /// in a crash; the next start's resync picks their requests up.
    stop: tokio::sync::watch::Sender<bool>,
    permits: Semaphore,
    /// Requests with a job running, and the strongest trigger that arrived meanwhile.
    running: Mutex<HashMap<u64, Option<(Trigger, String)>>>,
}

impl Jobs {
    pub fn new(reconciler: Arc<Reconciler>, workers: usize) -> Arc<Self> {
        let (ordered, rx) = tokio::sync::mpsc::unbounded_channel();
        let jobs = Arc::new(Self {
            reconciler,
            ordered,
            ordered_pending: AtomicUsize::new(0),
            stop: tokio::sync::watch::channel(false).0,
            permits: Semaphore::new(workers),
            running: Mutex::default(),
        });
        tokio::spawn(run_ordered(Arc::downgrade(&jobs), rx));
        jobs
    }

    /// Queues commands or a deployment behind those already queued.
    pub fn order(&self, work: Ordered) {
        if *self.stop.borrow() {
            return;
        }
        // Counted before it is sent, so the runner never counts below zero.
        self.ordered_pending.fetch_add(1, Ordering::Relaxed);
        if self.ordered.send(work).is_err() {
            self.ordered_pending.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn reconciler(&self) -> &Arc<Reconciler> {
        &self.reconciler
    }

    /// Reconciles catalog request `number`, now or right after its running
    /// job. `origin` (a delivery id, `resync`, a command) goes on every log
    /// line of the job.
    pub fn submit(self: &Arc<Self>, number: u64, trigger: Trigger, origin: &str) {
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
                () = jobs.run(number, trigger, origin) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }

    async fn run(self: Arc<Self>, number: u64, mut trigger: Trigger, mut origin: String) {
        loop {
            {
                let _permit = self.permits.acquire().await.expect("semaphore open");
                let metrics = self.reconciler.metrics();
                metrics.jobs_running.inc();
                let span = tracing::info_span!("job", delivery = %origin);
                let outcome = self
                    .reconciler
                    .reconcile_request(number, trigger)
                    .instrument(span)
                    .await;
                if let Err(ReconcileError::GitHub(GitHubError::RateLimited { reset_at, .. })) =
                    &outcome
                {
                    self.park(number, trigger, *reset_at);
                } else if let Err(e) = outcome {
                    tracing::warn!(request = number, error = %e, "reconcile failed; the next event or resync retries");
                }
                metrics.jobs_running.dec();
            }
            let mut running = self.running.lock().expect("jobs lock");
            match running.get_mut(&number).and_then(Option::take) {
                Some((next, from)) => (trigger, origin) = (next, from),
                None => {
                    running.remove(&number);
                    return;
                }
            }
        }
    }

    /// Runs `number` again once GitHub's rate limit has reset, instead of
    /// spending calls on it meanwhile.
    fn park(self: &Arc<Self>, number: u64, trigger: Trigger, reset_at: std::time::SystemTime) {
        let wait = until_reset(reset_at);
        tracing::info!(
            request = number,
            wait_s = wait.as_secs(),
            "rate limited: parked until the reset"
        );
        let jobs = self.clone();
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(wait) => jobs.submit(number, trigger, "rate limit reset"),
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }

    /// Drops every running job and takes no more.
    pub fn stop(&self) {
        self.stop.send_replace(true);
        self.running.lock().expect("jobs lock").clear();
    }

    /// Whether any job is running or waiting.
    pub fn idle(&self) -> bool {
        self.running() == 0
    }

    /// Requests and ordered work (commands, deployments) running or waiting.
    pub fn running(&self) -> usize {
        self.running.lock().expect("jobs lock").len() + self.ordered_pending.load(Ordering::Relaxed)
    }
}

/// How long to wait for a rate limit that resets at `reset_at`: a second
/// past it, and never more than GitHub's hour-long window.
pub fn until_reset(reset_at: std::time::SystemTime) -> std::time::Duration {
    reset_at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default()
        .min(std::time::Duration::from_secs(3600))
        + std::time::Duration::from_secs(1)
}

/// Runs ordered work until paved stops.
async fn run_ordered(
    jobs: std::sync::Weak<Jobs>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Ordered>,
) {
    while let Some(work) = rx.recv().await {
        let Some(jobs) = jobs.upgrade() else { return };
        let mut stop = jobs.stop.subscribe();
        // Each item runs as a task of its own: should one panic, the
        // runner logs it and goes on with the next.
        let mut item = tokio::spawn(run_one(jobs.clone(), work));
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

async fn run_one(jobs: Arc<Jobs>, work: Ordered) {
    let reconciler = jobs.reconciler.clone();
    match work {
        Ordered::Commands(job) => match reconciler.run_commands(&job).await {
            Ok(true) => jobs.submit(
                job.number,
                Trigger::Retry,
                &format!("comment {}", job.comment),
            ),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, comment = job.comment, "commands failed"),
        },
        Ordered::Deploy { repo, sha, run } => {
            if let Err(e) = reconciler.deploy_commit(&repo, &sha, run).await {
                tracing::warn!(error = %e, %repo, "deployment failed");
            }
        }
    }
}
