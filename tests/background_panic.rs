//! A panic in a background task fails the test at once, instead of showing
//! only as a long timeout. Its own binary: the flag it sets is process-wide.

mod common;

use std::time::{Duration, Instant};

use common::TempDir;
use paved::demo::{Stage, StageOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_panic_fails_the_waits_at_once() {
    let work = TempDir::new("background-panic");
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let n = stage
        .request(&stage.writer, "orders", "node-express", "x")
        .await
        .unwrap();
    assert!(!paved::demo::background_panicked());
    let crashed = tokio::spawn(async { panic!("boom in the background") }).await;
    assert!(crashed.unwrap_err().is_panic());
    assert!(paved::demo::background_panicked());
    // The wait for a request that would settle fails now, not after a minute.
    let started = Instant::now();
    let waited = tokio::spawn(async move { stage.settled(n, Duration::from_secs(60)).await }).await;
    assert!(waited.unwrap_err().is_panic());
    assert!(started.elapsed() < Duration::from_secs(5));
}
