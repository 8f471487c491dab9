//! The webhook endpoint: verify, parse, enqueue, answer. It never calls
//! GitHub and never waits on the workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::dedupe::RecentDeliveries;
use super::event::{Event, Parsed, event_label, parse};
use super::inflight::{Held, InFlight};
use super::signature;
use crate::metrics::Metrics;
use crate::queue::{Job, Queue};
use crate::secret::Secret;

/// GitHub caps webhook payloads at 25 MB.
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// Seconds a sender should wait when the queue is full.
const RETRY_AFTER_SECONDS: &str = "5";

/// What the endpoint needs, shared by every request.
pub struct Intake {
    pub secrets: Vec<Secret>,
    pub queue: Queue,
    pub recent: RecentDeliveries,
    pub metrics: Arc<Metrics>,
    /// How long a body may take to arrive; a sender trickling bytes holds
    /// a connection, not the server.
    pub body_timeout: Duration,
    /// Set when paved is stopping: deliveries are turned away with 503.
    pub draining: AtomicBool,
    /// Body bytes held at once, before signatures are checked.
    pub in_flight: InFlight,
}

/// The answer to one delivery, and how it is counted.
enum Outcome {
    Queued,
    Duplicate,
    Pong,
    Ignored(&'static str),
    BadSignature(signature::SignatureError),
    BadRequest(String),
    TooLarge,
    SlowBody,
    /// Too many body bytes are being read at once.
    Busy,
    QueueFull,
    ShuttingDown,
}

impl Outcome {
    /// One of [`crate::metrics::labels::WEBHOOK_OUTCOMES`].
    fn label(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Duplicate => "duplicate",
            Self::Pong => "pong",
            Self::Ignored(_) => "ignored",
            Self::BadSignature(_) => "bad_signature",
            Self::BadRequest(_) => "bad_request",
            Self::TooLarge => "too_large",
            Self::SlowBody => "slow_body",
            Self::Busy => "busy",
            Self::QueueFull => "queue_full",
            Self::ShuttingDown => "shutting_down",
        }
    }
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        match self {
            Self::Queued => (StatusCode::ACCEPTED, "queued").into_response(),
            Self::Duplicate => {
                (StatusCode::OK, "duplicate delivery: already taken").into_response()
            }
            Self::Pong => (StatusCode::OK, "pong").into_response(),
            Self::Ignored(why) => (StatusCode::ACCEPTED, format!("ignored: {why}")).into_response(),
            Self::BadSignature(e) => (StatusCode::UNAUTHORIZED, e.to_string()).into_response(),
            Self::BadRequest(why) => (StatusCode::BAD_REQUEST, why).into_response(),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload over GitHub's 25 MB limit",
            )
                .into_response(),
            Self::SlowBody => (
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            )
                .into_response(),
            Self::Busy => unavailable("too many bodies being read, retry later"),
            Self::QueueFull => unavailable("queue full, retry later"),
            Self::ShuttingDown => unavailable("shutting down, retry later"),
        }
    }
}

fn unavailable(why: &'static str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        )],
        why,
    )
        .into_response()
}

pub async fn receive(
    State(intake): State<Arc<Intake>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let event = headers.get("x-github-event").and_then(|v| v.to_str().ok());
    let outcome = intake.take(&headers, event, body).await;
    let m = &intake.metrics;
    m.webhooks_received
        .with_label_values(&[event_label(event.unwrap_or("")), outcome.label()])
        .inc();
    if let Outcome::BadSignature(_) = outcome {
        m.signature_failures.inc();
    }
    outcome.into_response()
}

impl Intake {
    async fn take(&self, headers: &HeaderMap, event: Option<&str>, body: Body) -> Outcome {
        let received = Instant::now();
        if self.draining.load(Ordering::Relaxed) {
            return Outcome::ShuttingDown;
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Outcome::TooLarge;
        }
        // Held until the delivery is answered; a declared length is held
        // whole before a byte is read.
        let mut held = InFlight::none();
        if !self
            .in_flight
            .hold(&mut held, declared.unwrap_or(0) as usize)
        {
            return Outcome::Busy;
        }
        let read = tokio::time::timeout(self.body_timeout, self.read(body, declared, &mut held));
        let body = match read.await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(outcome)) => return outcome,
            Err(_) => return Outcome::SlowBody,
        };
        let signature = headers
            .get("x-hub-signature-256")
            .map(HeaderValue::as_bytes);
        if let Err(e) = signature::verify(&self.secrets, &body, signature) {
            tracing::warn!(reason = %e, "refused a webhook delivery");
            return Outcome::BadSignature(e);
        }
        let Some(event) = event else {
            return Outcome::BadRequest("missing X-GitHub-Event header".into());
        };
        let Some(delivery) = headers
            .get("x-github-delivery")
            .and_then(|v| v.to_str().ok())
        else {
            return Outcome::BadRequest("missing X-GitHub-Delivery header".into());
        };
        if !valid_delivery_id(delivery) {
            return Outcome::BadRequest("malformed X-GitHub-Delivery header".into());
        }
        let parsed = match parse(event, &body) {
            Ok(p) => p,
            Err(e) => return Outcome::BadRequest(format!("delivery {delivery}: {e}")),
        };
        match parsed {
            Parsed::Ping => Outcome::Pong,
            Parsed::Ignored(why) => Outcome::Ignored(why),
            Parsed::Event(event) => self.enqueue(delivery, event, received),
        }
    }

    /// Reads the body frame by frame, within GitHub's cap, holding each
    /// frame's bytes unless a declared length holds them already.
    async fn read(
        &self,
        mut body: Body,
        declared: Option<u64>,
        held: &mut Held,
    ) -> Result<bytes::Bytes, Outcome> {
        let mut out = bytes::BytesMut::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|_| Outcome::BadRequest("could not read the request body".into()))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if out.len() + data.len() > MAX_BODY_BYTES {
                return Err(Outcome::TooLarge);
            }
            let counted = declared.is_some_and(|n| (out.len() + data.len()) as u64 <= n);
            if !counted && !self.in_flight.hold(held, data.len()) {
                return Err(Outcome::Busy);
            }
            out.extend_from_slice(&data);
        }
        Ok(out.freeze())
    }

    fn enqueue(&self, delivery: &str, event: Box<Event>, received: Instant) -> Outcome {
        if !self.recent.insert(delivery) {
            return Outcome::Duplicate;
        }
        let job = Job {
            delivery: delivery.to_owned(),
            event,
            received,
        };
        match self.queue.try_push(job) {
            Ok(()) => {
                self.metrics.queue_depth.set(self.queue.depth() as i64);
                Outcome::Queued
            }
            Err(_) => {
                self.recent.remove(delivery);
                Outcome::QueueFull
            }
        }
    }
}

/// GitHub sends a UUID; accept anything of that alphabet and a sane length.
fn valid_delivery_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::Outcome;
    use crate::metrics::labels::WEBHOOK_OUTCOMES;

    /// Every outcome counts under a label preset at zero, and no two share one.
    #[test]
    fn every_outcome_has_a_preset_label() {
        let all = [
            Outcome::Queued,
            Outcome::Duplicate,
            Outcome::Pong,
            Outcome::Ignored("x"),
            Outcome::BadSignature(super::signature::SignatureError::Missing),
            Outcome::BadRequest("x".into()),
            Outcome::TooLarge,
            Outcome::SlowBody,
            Outcome::Busy,
            Outcome::QueueFull,
            Outcome::ShuttingDown,
        ];
        let labels: Vec<&str> = all.iter().map(Outcome::label).collect();
        assert_eq!(labels, WEBHOOK_OUTCOMES);
    }
}
