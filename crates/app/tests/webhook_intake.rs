//! The webhook endpoint over real HTTP on loopback: what GitHub (or an
//! attacker) sends, what comes back, and what reaches the queue.

mod common;

use std::sync::Arc;

use common::{SECRET, config, deliver, fixture, spawn};
use paved_app::metrics::Metrics;
use paved_app::queue::Job;
use paved_app::server::app;
use paved_app::webhook::event::{EventKind, IssueAction};
use reqwest::StatusCode;
use tokio::sync::mpsc::Receiver;

struct Harness {
    url: String,
    base: String,
    jobs: Receiver<Job>,
    http: reqwest::Client,
}

async fn start(overrides: &[(&str, &str)]) -> Harness {
    let app = app(&config(overrides), Arc::new(Metrics::new()));
    let addr = spawn(app.router).await;
    Harness {
        url: format!("http://{addr}/webhook"),
        base: format!("http://{addr}"),
        jobs: app.jobs,
        http: reqwest::Client::new(),
    }
}

impl Harness {
    async fn send(&self, event: &str, delivery: &str, body: Vec<u8>) -> (StatusCode, String) {
        let r = deliver(&self.http, &self.url, event, delivery, body, SECRET).await;
        (r.status(), r.text().await.unwrap())
    }

    fn queued(&mut self) -> Vec<Job> {
        std::iter::from_fn(|| self.jobs.try_recv().ok()).collect()
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }
}

#[tokio::test]
async fn a_signed_issue_delivery_is_queued_as_our_event() {
    let mut h = start(&[]).await;
    let (status, text) = h.send("issues", "d-1", fixture("issues.opened.json")).await;
    assert_eq!((status, text.as_str()), (StatusCode::ACCEPTED, "queued"));
    let jobs = h.queued();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].delivery, "d-1");
    let EventKind::Issue { action, issue } = &jobs[0].event.kind else {
        panic!("{:?}", jobs[0].event)
    };
    assert_eq!(*action, IssueAction::Opened);
    assert_eq!(issue.number, 12);
    assert_eq!(issue.labels, ["paved:request"]);
    assert_eq!(issue.author, "alice");
    assert_eq!(jobs[0].event.installation, Some(4242));
    assert_eq!(
        jobs[0].event.repo.as_ref().unwrap().full_name(),
        "acme/catalog"
    );
}

#[tokio::test]
async fn bad_signatures_are_refused_and_nothing_is_queued() {
    let mut h = start(&[]).await;
    let body = fixture("issues.opened.json");

    let wrong = deliver(
        &h.http,
        &h.url,
        "issues",
        "d-1",
        body.clone(),
        "not-the-secret",
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.text().await.unwrap(),
        "signature does not match the payload"
    );

    // A valid signature over a different body.
    let signature =
        paved_app::webhook::signature::sign(&paved_app::secret::Secret::new(SECRET), b"{}");
    let tampered = h
        .http
        .post(&h.url)
        .header("x-github-event", "issues")
        .header("x-github-delivery", "d-2")
        .header("x-hub-signature-256", signature)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), StatusCode::UNAUTHORIZED);

    let missing = h
        .http
        .post(&h.url)
        .header("x-github-event", "issues")
        .header("x-github-delivery", "d-3")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.text().await.unwrap(),
        "missing X-Hub-Signature-256 header"
    );

    // GitHub still sends the legacy SHA-1 header; alone it is not accepted.
    let sha1_only = h
        .http
        .post(&h.url)
        .header("x-github-event", "issues")
        .header("x-github-delivery", "d-4")
        .header(
            "x-hub-signature",
            "sha1=0123456789abcdef0123456789abcdef01234567",
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(sha1_only.status(), StatusCode::UNAUTHORIZED);

    assert!(h.queued().is_empty());
    let (_, metrics) = h.get("/metrics").await;
    assert!(
        metrics.contains("paved_webhook_signature_failures_total 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_rotated_secret_accepts_both_old_and_new() {
    let mut h = start(&[("WEBHOOK_SECRET", "old-secret, new-secret")]).await;
    for (delivery, secret) in [("d-old", "old-secret"), ("d-new", "new-secret")] {
        let r = deliver(
            &h.http,
            &h.url,
            "issues",
            delivery,
            fixture("issues.opened.json"),
            secret,
        )
        .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(h.queued().len(), 2);
}

#[tokio::test]
async fn oversize_bodies_get_413_whether_declared_or_streamed() {
    let mut h = start(&[]).await;
    let big = vec![b' '; 25 * 1024 * 1024 + 1];
    let (status, _) = h.send("issues", "d-big", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // Chunked, with no Content-Length: refused once the limit is crossed.
    let chunks = (0..27).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024 * 1024]));
    let streamed = h
        .http
        .post(&h.url)
        .header("x-github-event", "issues")
        .header("x-github-delivery", "d-stream")
        .header("x-hub-signature-256", "sha256=00")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(h.queued().is_empty());
}

#[tokio::test]
async fn a_body_trickling_in_times_out_with_408_and_blocks_nobody() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut h = start(&[("PAVED_BODY_TIMEOUT", "1s")]).await;
    let addr = h.base.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = "POST /webhook HTTP/1.1\r\nhost: paved\r\nx-github-event: issues\r\n\
                x-github-delivery: d-slow\r\nx-hub-signature-256: sha256=00\r\n\
                content-length: 1000\r\n\r\n{\"action\"";
    slow.write_all(head.as_bytes()).await.unwrap();

    // Meanwhile an honest delivery goes through.
    let (status, _) = h
        .send("issues", "d-honest", fixture("issues.opened.json"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        slow.read_to_end(&mut answer),
    );
    read.await.expect("the slow sender was cut off").unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.ends_with("the request body did not arrive in time"),
        "{answer}"
    );
    assert_eq!(h.queued().len(), 1);
    let (_, metrics) = h.get("/metrics").await;
    assert!(
        metrics.contains(r#"paved_webhooks_received_total{event="issues",outcome="slow_body"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_redelivery_is_answered_but_processed_once() {
    let mut h = start(&[]).await;
    let first = h
        .send("issues", "same-id", fixture("issues.opened.json"))
        .await;
    let again = h
        .send("issues", "same-id", fixture("issues.opened.json"))
        .await;
    assert_eq!(first.0, StatusCode::ACCEPTED);
    assert_eq!(
        again,
        (StatusCode::OK, "duplicate delivery: already taken".into())
    );
    assert_eq!(h.queued().len(), 1);
}

#[tokio::test]
async fn unhandled_events_and_actions_are_accepted_and_ignored() {
    let mut h = start(&[]).await;
    let star = br#"{"action":"created","starred_at":"2026-01-01T00:00:00Z","sender":{"login":"x","id":1}}"#;
    let suite =
        br#"{"action":"requested","check_suite":{"head_sha":"0b"},"sender":{"login":"x","id":1}}"#;
    assert_eq!(
        h.send("star", "d-1", star.to_vec()).await,
        (StatusCode::ACCEPTED, "ignored: event not handled".into())
    );
    assert_eq!(
        h.send("pull_request", "d-2", fixture("pull_request.labeled.json"))
            .await,
        (StatusCode::ACCEPTED, "ignored: action not handled".into())
    );
    assert_eq!(
        h.send("check_suite", "d-3", suite.to_vec()).await,
        (StatusCode::ACCEPTED, "ignored: action not handled".into())
    );
    assert!(h.queued().is_empty());
    let (_, metrics) = h.get("/metrics").await;
    assert!(
        metrics.contains(r#"paved_webhooks_received_total{event="other",outcome="ignored"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn comments_by_bots_never_reach_the_queue() {
    let mut h = start(&[]).await;
    let (status, text) = h
        .send(
            "issue_comment",
            "d-1",
            fixture("issue_comment.created.by-bot.json"),
        )
        .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::ACCEPTED, "ignored: comment by a bot")
    );
    assert!(h.queued().is_empty());
}

#[tokio::test]
async fn malformed_json_and_missing_headers_are_bad_requests() {
    let mut h = start(&[]).await;
    let (status, text) = h
        .send("issues", "d-broken", b"{\"action\": \"opened\", ".to_vec())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.starts_with("delivery d-broken: malformed issues payload"),
        "{text}"
    );

    let (status, text) = h
        .send(
            "issues",
            "d-shape",
            br#"{"action":"opened","issue":42}"#.to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");

    let body = fixture("issues.opened.json");
    let signature =
        paved_app::webhook::signature::sign(&paved_app::secret::Secret::new(SECRET), &body);
    for (event, delivery, expected) in [
        (None, Some("d-1"), "missing X-GitHub-Event header"),
        (Some("issues"), None, "missing X-GitHub-Delivery header"),
        (
            Some("issues"),
            Some("../../etc"),
            "malformed X-GitHub-Delivery header",
        ),
    ] {
        let mut req = h
            .http
            .post(&h.url)
            .header("x-hub-signature-256", &signature)
            .body(body.clone());
        if let Some(e) = event {
            req = req.header("x-github-event", e);
        }
        if let Some(d) = delivery {
            req = req.header("x-github-delivery", d);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.text().await.unwrap(), expected);
    }
    assert!(h.queued().is_empty());
}

#[tokio::test]
async fn ping_is_answered() {
    let mut h = start(&[]).await;
    assert_eq!(
        h.send("ping", "d-ping", fixture("ping.json")).await,
        (StatusCode::OK, "pong".into())
    );
    assert!(h.queued().is_empty());
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after_and_is_not_ready() {
    let mut h = start(&[("PAVED_QUEUE_CAPACITY", "2")]).await;
    assert_eq!(h.get("/readyz").await.0, StatusCode::OK);
    for id in ["a", "b"] {
        assert_eq!(
            h.send("issues", id, fixture("issues.opened.json")).await.0,
            StatusCode::ACCEPTED
        );
    }
    let r = deliver(
        &h.http,
        &h.url,
        "issues",
        "c",
        fixture("issues.opened.json"),
        SECRET,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "5");
    assert_eq!(h.get("/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    let (_, metrics) = h.get("/metrics").await;
    assert!(metrics.contains("paved_queue_depth 2"), "{metrics}");

    // Once there is room, GitHub's retry of the refused delivery is taken.
    assert_eq!(h.queued().len(), 2);
    assert_eq!(
        h.send("issues", "c", fixture("issues.opened.json")).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(h.get("/readyz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn health_and_metrics_endpoints_answer() {
    let h = start(&[]).await;
    assert_eq!(h.get("/healthz").await, (StatusCode::OK, "ok".into()));
    h.send("issues", "d-1", fixture("issues.opened.json")).await;
    let r = h
        .http
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains(r#"paved_webhooks_received_total{event="issues",outcome="queued"} 1"#),
        "{text}"
    );
    assert!(text.contains("process_resident_memory_bytes"), "{text}");
}

#[tokio::test]
async fn every_example_delivery_from_github_is_accepted() {
    let Some(dir) = common::shared("github/webhooks") else {
        return;
    };
    let mut h = start(&[("PAVED_QUEUE_CAPACITY", "1000")]).await;
    let (mut checked, mut deployment_statuses) = (0, 0);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        let event = file.split('.').next().unwrap().to_owned();
        let (status, text) = h
            .send(
                &event,
                &format!("ex-{checked}"),
                std::fs::read(&path).unwrap(),
            )
            .await;
        assert!(status.is_success(), "{file}: {status} {text}");
        // Argo CD's reports arrive as deployment statuses, CI as workflow
        // runs and completed check suites: each is work. A deployment is
        // one paved (or Argo CD) made: nothing to do.
        let action = file.split('.').nth(1).unwrap_or_default();
        let work = match event.as_str() {
            "deployment_status" | "workflow_run" => Some(true),
            "check_suite" => Some(action == "completed"),
            "deployment" => Some(false),
            _ => None,
        };
        match work {
            Some(true) => assert_eq!(text, "queued", "{file}"),
            Some(false) => assert!(text.starts_with("ignored"), "{file}: {text}"),
            None => {}
        }
        deployment_statuses += usize::from(event == "deployment_status");
        checked += 1;
    }
    assert!(checked > 50, "only {checked} examples");
    assert!(
        deployment_statuses >= 3,
        "{deployment_statuses} deployment_status examples"
    );
    let reports: Vec<_> = h
        .queued()
        .into_iter()
        .filter_map(|j| match j.event.kind {
            EventKind::DeploymentStatus(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(reports.len(), deployment_statuses);
    assert!(
        reports
            .iter()
            .all(|r| r.sha.len() == 40 && !r.environment.is_empty()),
        "{reports:?}"
    );
}
