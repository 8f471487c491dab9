//! Simulated GitHub Actions: a push queues a run of each workflow the
//! pushed commit holds, the control moves it on, and each step fires
//! `workflow_run` and shows in `GET .../actions/runs`.

mod support;

use paved_sandbox::SandboxConfig;
use serde_json::Value;
use support::{World, world};

async fn runs(w: &World, query: &str) -> Value {
    let token = w.sb.installation_token(w.installation);
    let response = reqwest::Client::new()
        .get(format!(
            "{}/repos/acme/catalog/actions/runs?{query}",
            w.sb.url()
        ))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_push_queues_its_workflows_and_the_control_moves_the_run_on() {
    let w = world(SandboxConfig::default()).await;
    let workflow = b"# built on every push\nname: CI\non: push\njobs: {}\n";
    let sha =
        w.sb.push_files(
            "acme/catalog",
            "main",
            &[(".github/workflows/ci.yml", workflow), ("a", b"1")],
            "One",
            "paved[bot]",
        )
        .await
        .unwrap();
    let requested = w.hooks.wait_for("workflow_run", Some("requested")).await;
    assert_eq!(requested.payload["workflow_run"]["status"], "queued");
    assert_eq!(requested.payload["workflow_run"]["head_sha"], sha.as_str());
    assert_eq!(requested.payload["workflow"]["name"], "CI");
    let listed = runs(&w, &format!("head_sha={sha}")).await;
    assert_eq!(listed["total_count"], 1, "{listed}");
    let run = &listed["workflow_runs"][0];
    assert_eq!(
        (&run["name"], &run["status"]),
        (&"CI".into(), &"queued".into())
    );
    let id = run["id"].as_u64().unwrap();

    let started = w.sb.start_workflow_run("acme/catalog", "main", "CI").await;
    assert_eq!(started.unwrap(), id, "the queued run starts");
    let progress = w.hooks.wait_for("workflow_run", Some("in_progress")).await;
    assert_eq!(progress.payload["workflow_run"]["id"], id);
    let done =
        w.sb.complete_workflow_run("acme/catalog", "main", "CI", "failure")
            .await;
    assert_eq!(done.unwrap(), id);
    let completed = w.hooks.wait_for("workflow_run", Some("completed")).await;
    assert_eq!(completed.payload["workflow_run"]["conclusion"], "failure");
    let listed = runs(&w, "status=failure").await;
    assert_eq!(listed["workflow_runs"][0]["id"], id, "{listed}");
    assert_eq!(runs(&w, "status=queued").await["total_count"], 0);

    // A conclusion GitHub does not know is refused and changes nothing.
    let bad =
        w.sb.complete_workflow_run("acme/catalog", "main", "CI", "great")
            .await
            .unwrap_err();
    assert_eq!(bad.status, 422);
    assert_eq!(runs(&w, "").await["total_count"], 1);
}

#[tokio::test]
async fn a_commit_without_workflows_runs_nothing() {
    let w = world(SandboxConfig::default()).await;
    let sha =
        w.sb.push_files("acme/catalog", "main", &[("a", b"1")], "One", "paved[bot]")
            .await
            .unwrap();
    assert!(w.sb.settle(std::time::Duration::from_secs(5)).await);
    assert_eq!(runs(&w, &format!("head_sha={sha}")).await["total_count"], 0);
    assert!(
        !w.hooks
            .events()
            .iter()
            .any(|e| e.starts_with("workflow_run")),
        "{:?}",
        w.hooks.events()
    );
}

#[tokio::test]
async fn a_push_runs_only_the_workflows_whose_branch_filters_take_it() {
    let w = world(SandboxConfig::default()).await;
    let main_only = b"name: ci\non:\n  pull_request:\n  push:\n    branches: [main]\njobs: {}\n";
    let files = [(".github/workflows/ci.yml", &main_only[..])];
    let side =
        w.sb.push_files("acme/catalog", "template", &files, "One", "paved[bot]")
            .await
            .unwrap();
    assert!(w.sb.settle(std::time::Duration::from_secs(5)).await);
    assert_eq!(
        runs(&w, &format!("head_sha={side}")).await["total_count"],
        0
    );
    let main =
        w.sb.push_files("acme/catalog", "main", &files, "One", "paved[bot]")
            .await
            .unwrap();
    let requested = w.hooks.wait_for("workflow_run", Some("requested")).await;
    assert_eq!(requested.payload["workflow_run"]["head_sha"], main.as_str());
    assert_eq!(requested.payload["workflow_run"]["head_branch"], "main");
    assert_eq!(runs(&w, "").await["total_count"], 1);
}
