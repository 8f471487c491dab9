//! Every metric the shipped dashboards and alert rules query exists: paved's
//! own are checked against a scrape of a running paved, the services' against
//! what both templates' generated tests assert.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::TempDir;
use paved::demo::{Stage, StageOptions};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Metric family names in PromQL text (histogram series folded to their family).
fn metric_names(promql: &str) -> BTreeSet<String> {
    // Not after ':' or a word character: recording-rule names such as
    // service:http_errors:ratio5m are not metrics anyone exports.
    let re =
        regex::Regex::new(r"(?:^|[^:\w])(paved_[a-z_]+|process_[a-z_]+|http_[a-z_]+)\b").unwrap();
    re.captures_iter(promql)
        .map(|c| {
            let n = c.get(1).expect("group").as_str();
            ["_bucket", "_sum", "_count"]
                .iter()
                .fold(n.to_owned(), |n, s| {
                    n.strip_suffix(s).map_or(n.clone(), str::to_owned)
                })
        })
        .collect()
}

fn queried() -> BTreeSet<String> {
    let mut text = String::new();
    for f in [
        "deploy/grafana/paved-dashboard.json",
        "deploy/grafana/services-dashboard.json",
    ] {
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root().join(f)).unwrap()).unwrap();
        assert_eq!(dashboard["refresh"], "10s", "{f}");
        assert!(
            dashboard["templating"]["list"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["type"] == "datasource"),
            "{f}"
        );
        for p in dashboard["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().unwrap() {
                text.push_str(t["expr"].as_str().unwrap());
                text.push('\n');
            }
        }
    }
    let rules: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("deploy/prometheus/rules.yml")).unwrap(),
    )
    .unwrap();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            text.push_str(rule["expr"].as_str().unwrap());
            text.push('\n');
        }
    }
    metric_names(&text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboards_and_rules_query_only_metrics_that_exist() {
    let names = queried();
    assert!(
        names.contains("paved_provisioning_requests_total")
            && names.contains("http_requests_total"),
        "{names:?}"
    );

    let work = TempDir::new("observability");
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let n = stage
        .request(&stage.writer, "scraped", "node-express", "Scraped.")
        .await
        .unwrap();
    stage.settled(n, Duration::from_secs(60)).await.unwrap();
    // Counters with labels appear once something was counted: run a command too.
    common::ask(&stage, &stage.reader, n, "/paved help").await;
    let addr = stage.paved.as_ref().unwrap().addr;
    let scrape = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exported: BTreeSet<String> = scrape
        .lines()
        .filter_map(|l| {
            l.strip_prefix("# TYPE ")?
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .collect();

    for name in names.iter().filter(|n| !n.starts_with("http_")) {
        assert!(
            exported.contains(name),
            "{name} is queried but paved does not export it"
        );
    }
    for name in names.iter().filter(|n| n.starts_with("http_")) {
        for test in [
            "templates/node-express/skeleton/test/app.test.js",
            "templates/python-fastapi/skeleton/tests/test_app.py",
        ] {
            let source = std::fs::read_to_string(root().join(test)).unwrap();
            assert!(
                source.contains(name.as_str()),
                "{name} is queried but {test} does not check it"
            );
        }
    }
}
