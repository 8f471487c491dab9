//! The HTTP server: the webhook endpoint plus health, readiness and metrics.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::queue::{Job, Queue};
use crate::webhook::dedupe::RecentDeliveries;
use crate::webhook::handler::{Intake, receive};

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
    if intake.queue.is_full() {
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

/// Runs `paved serve` until SIGTERM or Ctrl-C. Nothing here contacts GitHub,
/// so the server answers even while GitHub is unreachable.
pub async fn serve(config: Config) -> std::io::Result<()> {
    let metrics = Arc::new(Metrics::new());
    let App {
        router,
        jobs,
        intake,
    } = app(&config, metrics);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(
        listen = %listener.local_addr()?,
        webhook_path = %config.webhook_path,
        catalog = %config.catalog_repo,
        platform = %config.platform_repo,
        "paved is serving"
    );
    tokio::spawn(work(jobs, intake));
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

/// Takes jobs off the queue in order of arrival.
async fn work(mut jobs: mpsc::Receiver<Job>, intake: Arc<Intake>) {
    while let Some(job) = jobs.recv().await {
        intake.metrics.queue_depth.set(intake.queue.depth() as i64);
        tracing::info!(
            delivery = %job.delivery,
            event = job.event.kind.name(),
            repo = ?job.event.repo.as_ref().map(|r| r.full_name()),
            sender = %job.event.sender.login,
            waited_us = job.received.elapsed().as_micros() as u64,
            "took a delivery"
        );
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
    tracing::info!("shutting down: no new deliveries are taken");
}
