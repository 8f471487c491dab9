//! Provisioning against the sandbox: `cargo bench --bench provision`.
//! 1. Without GitHub's secondary limits (the sandbox enforces none, paved
//!    keeps to none, as on a GitHub Enterprise Server without them):
//!    requests opened one at a time, for each the time from the issue being
//!    opened (its webhook) to the service being committed
//!    (`paved:deploying`) and the REST calls paved made for it; then 100
//!    requests opened at once: the time until all are committed, REST calls
//!    and scaffold pushes per request, platform pushes and commits in total.
//! 2. With them (the sandbox enforces GitHub's figures, paved paces
//!    itself), on a stage of its own: the same 100 at once, and how many
//!    answers were secondary-limit refusals.

use std::time::{Duration, Instant};

use paved::demo::{PLATFORM, Stage, StageOptions};

const REQUESTS: usize = 20;
const BURST: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let only = std::env::args().find_map(|a| a.strip_prefix("--limits=").map(str::to_owned));
    if only.as_deref() != Some("on") {
        run(false).await;
    }
    if only.as_deref() != Some("off") {
        run(true).await;
    }
}

async fn run(limits: bool) {
    let work = std::env::temp_dir().join(format!("paved-bench-{}-{limits}", std::process::id()));
    let mut options = StageOptions::shipped(work.clone());
    options.secondary_limits = limits;
    let stage = Stage::start(options).await.expect("stage");
    let mode = if limits {
        "with GitHub's secondary limits"
    } else {
        "without secondary limits"
    };
    println!("— {mode}");
    // Warm up: the first request also learns the App, the installation and paved.yaml.
    let first = stage
        .request(&stage.writer, "warm-up", "node-express", "Warm up.")
        .await
        .expect("request");
    stage
        .settled(first, Duration::from_secs(60))
        .await
        .expect("committed");
    // One at a time only without the limits: their content counts against
    // the hour's 500 that the burst needs.
    if !limits {
        one_at_a_time(&stage).await;
    }
    burst(&stage).await;
    println!(
        "secondary-limit answers from the sandbox: {}",
        stage.sandbox.secondary_limit_answers()
    );
    drop(stage);
    let _ = std::fs::remove_dir_all(work);
}

async fn one_at_a_time(stage: &Stage) {
    let mut times = Vec::with_capacity(REQUESTS);
    let mut calls = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS {
        let before = stage.rest_calls();
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
        assert!(labels.iter().any(|l| l == "paved:deploying"), "{labels:?}");
        times.push(start.elapsed());
        calls.push(stage.rest_calls() - before);
    }
    times.sort();
    calls.sort();
    println!(
        "provision (issue form to committed, {REQUESTS} requests one at a time): median {:.0} ms, max {:.0} ms; REST calls per request: median {}, max {}",
        times[REQUESTS / 2].as_secs_f64() * 1000.0,
        times[REQUESTS - 1].as_secs_f64() * 1000.0,
        calls[REQUESTS / 2],
        calls[REQUESTS - 1],
    );
}

async fn burst(stage: &Stage) {
    stage.sandbox.clear_requests();
    let commits_before = platform_commits(stage);
    let started = Instant::now();
    let mut numbers = Vec::with_capacity(BURST);
    for i in 0..BURST {
        let name = format!("burst-{i:03}");
        let n = stage.request(&stage.writer, &name, "node-express", "Burst.");
        numbers.push(n.await.expect("request"));
    }
    let opened = started.elapsed();
    for n in numbers {
        let labels = stage
            .settled(n, Duration::from_secs(1800))
            .await
            .expect("settled");
        assert!(
            labels.iter().any(|l| l == "paved:deploying"),
            "#{n}: {labels:?}"
        );
    }
    let elapsed = started.elapsed();
    let log = stage.sandbox.requests();
    let platform_git = format!("/{PLATFORM}.git/");
    let (to_platform, scaffolds): (Vec<_>, Vec<_>) = log
        .by_installation()
        .filter(|r| r.operation.as_deref() == Some("git/receive-pack"))
        .partition(|r| r.path.contains(&platform_git));
    println!(
        "provision ({BURST} requests opened at once, in {:.1} s): all committed after {:.1} s; REST calls per request {:.1}, scaffold pushes per request {:.2}; platform pushes {} for {} commits in total",
        opened.as_secs_f64(),
        elapsed.as_secs_f64(),
        stage.rest_calls() as f64 / BURST as f64,
        scaffolds.len() as f64 / BURST as f64,
        to_platform.len(),
        platform_commits(stage) - commits_before,
    );
}

/// Commits on the platform repository's main.
fn platform_commits(stage: &Stage) -> usize {
    let path = stage.sandbox.repo_path(PLATFORM).expect("platform repo");
    let repo = git2::Repository::open_bare(path).expect("open");
    let mut walk = repo.revwalk().expect("revwalk");
    walk.push_ref("refs/heads/main").expect("main");
    walk.count()
}
