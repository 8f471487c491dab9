//! The HTTP server: the webhook endpoint plus health, readiness and metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::mpsc;

use crate::clock::SystemClock;
use crate::config::Config;
use crate::github::{GitHub, GitHubOptions, RetryPolicy};
use crate::metrics::Metrics;
use crate::queue::{Job, Queue};
use crate::reconcile::{self, Deps, Jobs, Reconciler};
use crate::webhook::dedupe::RecentDeliveries;
use crate::webhook::handler::{Intake, receive};
use crate::webhook::inflight::{BODY_BYTES_IN_FLIGHT, InFlight};

/// How many delivery ids are remembered to spot redeliveries.
const RECENT_DELIVERIES: usize = 10_000;

/// The router and the receiving end of its queue, for whoever does the work.
pub struct App {
    pub router: Router,
    pub jobs: mpsc::Receiver<Job>,
    pub intake: Arc<Intake>,
}

pub fn app(config: &Config, metrics: Arc<Metrics>) -> App {
    let (queue, jobs) = Queue::bounded(config.queue_capacity);
    let intake = Arc::new(Intake {
        secrets: config.webhook_secrets.clone(),
        queue,
        recent: RecentDeliveries::new(RECENT_DELIVERIES),
        metrics,
        body_timeout: config.body_timeout,
        draining: AtomicBool::new(false),
        in_flight: InFlight::new(BODY_BYTES_IN_FLIGHT),
    });
    let router = Router::new()
        .route(&config.webhook_path, post(receive))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
        .with_state(intake.clone());
    App {
        router,
        jobs,
        intake,
    }
}

/// Ready when the queue can take work; config was checked before the server started.
async fn ready(State(intake): State<Arc<Intake>>) -> impl IntoResponse {
    if intake.draining.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    } else if intake.queue.is_full() {
        (StatusCode::SERVICE_UNAVAILABLE, "queue full")
    } else {
        (StatusCode::OK, "ready")
    }
}

async fn metrics_text(State(intake): State<Arc<Intake>>) -> impl IntoResponse {
    intake.metrics.queue_depth.set(intake.queue.depth() as i64);
    (
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        intake.metrics.render(),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the templates are broken:\n{}", .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Templates(Vec<crate::scaffold::TemplateError>),
    #[error("{0}")]
    GitHub(#[from] crate::github::GitHubError),
}

impl StartError {
    /// The exit code: 2 for settings that cannot work (as for a bad
    /// variable), 1 for the rest.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Templates(_) => 2,
            Self::Io(_) | Self::Listen { .. } | Self::GitHub(_) => 1,
        }
    }
}

/// A running paved: the server, its workers and the resync loop.
pub struct Paved {
    pub addr: SocketAddr,
    pub jobs: Arc<Jobs>,
    pub metrics: Arc<Metrics>,
    intake: Arc<Intake>,
    grace: Duration,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    /// Takes deliveries off the queue and routes them to jobs.
    dispatch: tokio::task::JoinHandle<()>,
    /// The resync loop, automatic upgrades.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Paved {
    /// Stops as a deploy does: deliveries get 503 (and `/readyz` too, so
    /// a load balancer moves on) while the queue and running jobs finish,
    /// for at most the shutdown grace period; then what still runs is
    /// dropped (every step is idempotent, so the next start's resync
    /// completes it) and the server closes.
    pub async fn stop(self) {
        let grace = self.grace;
        self.stop_within(grace).await;
    }

    /// Stops at once, dropping running jobs where they stand, as a crash would.
    pub async fn halt(self) {
        self.stop_within(Duration::ZERO).await;
    }

    async fn stop_within(self, grace: Duration) {
        let deadline = Instant::now() + grace;
        self.intake.draining.store(true, Ordering::Relaxed);
        if !grace.is_zero() {
            tracing::info!(
                grace_s = grace.as_secs(),
                "shutting down: deliveries get 503 while running jobs finish"
            );
        }
        // Only dispatch keeps going: the queue drains into jobs.
        for task in &self.background {
            task.abort();
        }
        while !(self.intake.queue.depth() == 0 && self.jobs.running() == 0) {
            // A halt drops what runs on purpose: only a grace run out is news.
            if grace.is_zero() {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    jobs = self.jobs.running(),
                    queued = self.intake.queue.depth(),
                    "shutdown grace period over: abandoning what still runs; the next start's resync completes it"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.jobs.stop();
        self.dispatch.abort();
        let _ = self.stop.send(true);
        let mut server = self.server;
        let close = deadline
            .saturating_duration_since(Instant::now())
            .max(CONNECTION_CLOSE);
        if tokio::time::timeout(close, &mut server).await.is_err() {
            tracing::warn!("connections still open after the grace period; closing them");
            server.abort();
        }
        tracing::info!("stopped");
    }
}

/// The least time open connections get to finish their last request.
const CONNECTION_CLOSE: Duration = Duration::from_secs(1);

/// Starts paved: binds the listener and spawns the server, the workers and
/// the resync loop. Nothing here contacts GitHub, so it starts while GitHub
/// is unreachable; the first job learns what it needs.
pub async fn start(config: Config) -> Result<Paved, StartError> {
    let metrics = Arc::new(Metrics::new());
    crate::git::set_timeouts(config.github_timeout);
    let templates = config.templates.load().map_err(StartError::Templates)?;
    metrics.preset(templates.names());
    let github = GitHub::new(GitHubOptions {
        api_url: config.github_api_url.clone(),
        app_id: config.app_id,
        key: config.private_key.clone(),
        retry: RetryPolicy {
            max_wait: config.github_max_wait,
            ..RetryPolicy::default()
        },
        timeout: config.github_timeout,
        clock: Arc::new(SystemClock),
        metrics: metrics.clone(),
        pace: config.pace,
    })?;
    let reconciler = Reconciler::new(Deps {
        github,
        catalog: config.catalog_repo.clone(),
        platform: config.platform_repo.clone(),
        templates: Arc::new(templates),
        work_dir: config.work_dir.clone(),
        metrics: metrics.clone(),
    });
    // The work dir holds only caches; a process killed mid-write may have
    // left git lock files in them, so every start begins afresh. Only the
    // folders paved makes are removed, whatever PAVED_WORK_DIR points at.
    for cache in reconcile::CACHES {
        let dir = config.work_dir.join(cache);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
    }
    std::fs::create_dir_all(&config.work_dir)?;
    let jobs = Jobs::new(reconciler, config.workers, config.dashboard);
    let App {
        router,
        jobs: deliveries,
        intake,
    } = app(&config, metrics.clone());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    tracing::info!(
        listen = %addr,
        webhook_path = %config.webhook_path,
        catalog = %config.catalog_repo,
        platform = %config.platform_repo,
        "paved is serving"
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let dispatch = tokio::spawn(work(deliveries, intake.clone(), jobs.clone()));
    let background = vec![
        tokio::spawn(reconcile::resync_loop(jobs.clone(), config.resync)),
        tokio::spawn({
            let reconciler = jobs.reconciler().clone();
            async move {
                if let Err(e) = crate::github::background(reconciler.auto_upgrade()).await {
                    tracing::warn!(error = %e, "automatic upgrades did not run");
                }
            }
        }),
    ];
    let server = tokio::spawn(crate::listener::serve(
        listener,
        router,
        stopped,
        crate::listener::Limits::default(),
    ));
    Ok(Paved {
        addr,
        jobs,
        metrics,
        intake,
        grace: config.shutdown_grace,
        stop,
        server,
        dispatch,
        background,
    })
}

/// Runs `paved serve` until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let paved = start(config).await?;
    shutdown_signal().await;
    paved.stop().await;
    Ok(())
}

/// Takes deliveries off the queue in order of arrival and routes them to jobs.
async fn work(mut deliveries: mpsc::Receiver<Job>, intake: Arc<Intake>, jobs: Arc<Jobs>) {
    while let Some(job) = deliveries.recv().await {
        intake.metrics.queue_depth.set(intake.queue.depth() as i64);
        tracing::info!(
            delivery = %job.delivery,
            event = %job.event.kind.name(),
            repo = job.event.repo.as_ref().map(|r| tracing::field::display(r.full_name())),
            sender = %job.event.sender,
            waited_us = job.received.elapsed().as_micros() as u64,
            "took a delivery"
        );
        reconcile::route(&jobs, &job.event, &job.delivery);
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
