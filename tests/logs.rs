//! Logs as an operator reads them: JSON lines where every line of a job
//! carries the delivery that woke it and the request it serves, and no
//! secret ever appears.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TempDir;
use paved::demo::{Stage, StageOptions};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn job_lines_carry_the_delivery_and_the_request_and_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter("paved=debug")
        .with_writer(move || writer.clone())
        .init();
    let work = TempDir::new("logs");
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let n = stage
        .request(&stage.writer, "billing-api", "node-express", "Bills.")
        .await
        .unwrap();
    stage.settled(n, Duration::from_secs(60)).await.unwrap();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let ready = lines
        .iter()
        .find(|l| l["fields"]["message"] == "ready")
        .unwrap_or_else(|| panic!("{text}"));
    let spans = ready["spans"].as_array().unwrap();
    let delivery = spans
        .iter()
        .find_map(|s| s["delivery"].as_str())
        .expect("the delivery id");
    assert!(
        stage
            .sandbox
            .deliveries()
            .iter()
            .any(|d| d.guid == delivery),
        "{delivery} is a real delivery"
    );
    assert!(
        spans
            .iter()
            .any(|s| s["key"] == format!("acme/catalog#{n}")),
        "{ready}"
    );

    let app = stage.sandbox.app();
    for (what, secret) in [
        ("webhook secret", app.webhook_secret.expose()),
        ("private key", &app.private_key_pem.expose()[40..100]),
        ("writer's token", stage.writer.token().expose()),
    ] {
        assert!(!text.contains(secret), "the {what} leaked into the logs");
    }
    let tokens = stage.sandbox.installation_tokens();
    assert!(!tokens.is_empty(), "paved worked with installation tokens");
    for token in tokens {
        assert!(
            !text.contains(token.expose()),
            "an installation token leaked into the logs"
        );
    }
}
