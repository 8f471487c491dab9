//! paved's own metrics after a demo-sized run: the counters a platform team
//! charts move as they should.

mod common;

use std::time::Duration;

use common::TempDir;
use paved::demo::{Stage, StageOptions};

/// The value of the sample `name{labels}` (labels exactly as exposed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_demo_sized_run_moves_the_counters() {
    let work = TempDir::new("metrics");
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let ok = stage
        .request(&stage.writer, "billing-api", "python-fastapi", "Bills.")
        .await
        .unwrap();
    let bad = stage
        .request(&stage.writer, "Bad Name", "python-fastapi", "Bills.")
        .await
        .unwrap();
    stage.settled(ok, Duration::from_secs(60)).await.unwrap();
    stage.settled(bad, Duration::from_secs(60)).await.unwrap();
    stage
        .writer
        .comment(paved::demo::CATALOG, ok, "/paved status")
        .await
        .unwrap();
    common::quiescent(&stage).await;

    let addr = stage.paved.as_ref().unwrap().addr;
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let get =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(
        get(r#"paved_provisioning_requests_total{outcome="ready",template="python-fastapi"}"#),
        1.0
    );
    assert_eq!(
        get(r#"paved_provisioning_requests_total{outcome="invalid",template="unknown"}"#),
        1.0
    );
    assert_eq!(
        get(r#"paved_provisioning_duration_seconds_count{template="python-fastapi"}"#),
        1.0
    );
    assert!(get(r#"paved_webhooks_received_total{event="issues",outcome="queued"}"#) >= 2.0);
    assert!(
        get(r#"paved_github_api_calls_total{operation="repos/create-in-org",status="201"}"#) == 1.0
    );
    assert_eq!(get("paved_platform_commits_total"), 1.0);
    assert_eq!(
        get(r#"paved_commands_total{command="status",outcome="done"}"#),
        1.0
    );
    assert_eq!(get("paved_jobs_running"), 0.0);
    assert!(
        text.lines()
            .any(|l| l.starts_with("paved_github_rate_limit_remaining{installation=")),
        "{text}"
    );
    assert!(get("process_resident_memory_bytes") > 0.0);
}

/// Every `paved_*` name the shipped dashboards and alert rules read.
fn names_read_by_deploy() -> Vec<String> {
    let named = regex::Regex::new(r"paved_[a-z_]+").unwrap();
    let mut names = Vec::new();
    for dir in ["deploy/grafana", "deploy/prometheus"] {
        for entry in std::fs::read_dir(common::workspace().join(dir)).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            names.extend(named.find_iter(&text).map(|m| m.as_str().to_owned()));
        }
    }
    names.sort();
    names.dedup();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_paved_exports_every_metric_its_dashboards_and_alerts_read() {
    let work = TempDir::new("metrics-fresh");
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    // Nothing requested, nothing delivered: only the start-up resync ran.
    common::quiescent(&stage).await;
    assert!(stage.sandbox.deliveries().is_empty());
    let addr = stage.paved.as_ref().unwrap().addr;
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let names = names_read_by_deploy();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let exported = text.lines().any(|l| {
            l.strip_prefix(name.as_str())
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        });
        assert!(
            exported,
            "{name} is read by deploy/ but not exported:\n{text}"
        );
    }
}
