//! Provisioning against the sandbox: `cargo bench --bench provision`.
//! Requests are opened one at a time; for each, the time from the issue
//! being opened (its webhook) to the service being ready, and the REST calls
//! paved made for it.

use std::time::{Duration, Instant};

use paved::demo::{Stage, StageOptions};

const REQUESTS: usize = 20;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let work = std::env::temp_dir().join(format!("paved-bench-{}", std::process::id()));
    let stage = Stage::start(StageOptions::shipped(work.clone()))
        .await
        .expect("stage");
    // Warm up: the first request also learns the App, the installation and paved.yaml.
    let first = stage
        .request(&stage.writer, "warm-up", "node-express", "Warm up.")
        .await
        .expect("request");
    stage
        .settled(first, Duration::from_secs(60))
        .await
        .expect("ready");
    let mut times = Vec::with_capacity(REQUESTS);
    let mut calls = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS {
        let before = rest_calls(&stage);
        let start = Instant::now();
        let n = stage
            .request(
                &stage.writer,
                &format!("bench-{i:02}"),
                "python-fastapi",
                "Bench.",
            )
            .await
            .expect("request");
        let labels = stage
            .settled(n, Duration::from_secs(60))
            .await
            .expect("settled");
        assert!(labels.iter().any(|l| l == "paved:ready"), "{labels:?}");
        times.push(start.elapsed());
        calls.push(rest_calls(&stage) - before);
    }
    times.sort();
    calls.sort();
    println!(
        "provision (issue form to ready, {REQUESTS} requests one at a time): median {:.0} ms, max {:.0} ms; REST calls per request: median {}, max {}",
        times[REQUESTS / 2].as_secs_f64() * 1000.0,
        times[REQUESTS - 1].as_secs_f64() * 1000.0,
        calls[REQUESTS / 2],
        calls[REQUESTS - 1],
    );
    let _ = std::fs::remove_dir_all(work);
}

fn rest_calls(stage: &Stage) -> usize {
    stage
        .sandbox
        .requests()
        .0
        .iter()
        .filter(|r| r.caller.starts_with("installation:") && !r.path.contains(".git"))
        .count()
}
