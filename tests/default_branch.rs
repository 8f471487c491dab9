//! A repository's default branch is data, not `main`: an organisation whose
//! repositories start on `trunk` gets its scaffolds, Applications, pull
//! requests, deployments and rollbacks on `trunk`, and `main` is never
//! touched.

mod common;

use std::time::Duration;

use common::{TempDir, ask, quiescent};
use paved::demo::{ORG, PLATFORM, Stage, StageOptions};
use paved_app::platform::AppSpec;
use reqwest::Method;
use serde_json::json;

const BRANCH: &str = "trunk";

/// `service`'s Application in `env` on the platform's `branch`.
async fn app_on(stage: &Stage, branch: &str, env: &str) -> Option<AppSpec> {
    let bytes = stage
        .sandbox
        .file(PLATFORM, branch, &format!("apps/billing/{env}.yaml"))
        .await?;
    Some(AppSpec::from_yaml(&String::from_utf8(bytes).unwrap()).unwrap())
}

/// Waits (bounded) until dev on `trunk` runs `tag`.
async fn dev_runs(stage: &Stage, tag: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while app_on(stage, BRANCH, "dev").await.map(|a| a.tag).as_deref() != Some(tag) {
        assert!(std::time::Instant::now() < deadline, "dev never ran {tag}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_organisation_on_trunk_is_served_on_trunk() {
    let work = TempDir::new("trunk");
    let mut stage = Stage::seeded(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    // The platform repository moves to trunk, as its admin would; new
    // repositories of the organisation start on trunk.
    let admin = &stage.admin;
    let platform_main = stage.sandbox.branch_sha(PLATFORM, "main").await.unwrap();
    admin
        .push_files(PLATFORM, BRANCH, &[("apps/.gitkeep", b"")], "Start trunk")
        .await
        .unwrap();
    admin
        .call(
            Method::PATCH,
            &format!("/repos/{PLATFORM}"),
            Some(json!({ "default_branch": BRANCH })),
        )
        .await
        .unwrap();
    stage.sandbox.set_new_repo_branch(ORG, BRANCH);
    stage.start_paved().await.unwrap();

    let n = stage
        .request(&stage.writer, "billing", "node-express", "Bills.")
        .await
        .unwrap();
    let labels = stage.settled(n, Duration::from_secs(60)).await.unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");

    // The scaffold is on the service's trunk, and Argo CD deploys trunk.
    let service = format!("{ORG}/billing");
    let scaffold = stage.sandbox.branch_sha(&service, BRANCH).await;
    assert!(scaffold.is_some(), "the scaffold is on trunk");
    assert_eq!(stage.sandbox.branch_sha(&service, "main").await, None);
    let dev = app_on(&stage, BRANCH, "dev").await.expect("dev on trunk");
    assert_eq!(dev.revision, BRANCH);
    assert_eq!(Some(dev.tag.clone()), scaffold);

    // CI on trunk deploys; a promotion commits to trunk; one under review
    // is a pull request into trunk.
    let pushed = stage
        .writer
        .push_files(&service, BRANCH, &[("CHANGES.md", b"v2\n")], "v2")
        .await
        .unwrap();
    stage
        .sandbox
        .complete_workflow_run(&service, BRANCH, "ci", "success")
        .await
        .unwrap();
    dev_runs(&stage, &pushed).await;
    let answer = ask(&stage, &stage.writer, n, "/paved promote staging").await;
    assert!(answer.contains("✅"), "{answer}");
    assert_eq!(
        app_on(&stage, BRANCH, "staging").await.map(|a| a.tag),
        Some(pushed.clone())
    );
    let answer = ask(&stage, &stage.admin, n, "/paved promote prod").await;
    assert!(answer.contains("pull request"), "{answer}");
    let pulls = stage
        .admin
        .call(Method::GET, &format!("/repos/{PLATFORM}/pulls"), None)
        .await
        .unwrap();
    let bases: Vec<&str> = pulls
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["base"]["ref"].as_str())
        .collect();
    assert_eq!(bases, [BRANCH]);

    // A rollback reads trunk's history: dev goes back to the scaffold.
    let answer = ask(&stage, &stage.writer, n, "/paved rollback dev").await;
    assert!(answer.contains("✅"), "{answer}");
    dev_runs(&stage, scaffold.as_deref().unwrap()).await;

    quiescent(&stage).await;
    assert_eq!(
        stage.sandbox.branch_sha(PLATFORM, "main").await.as_deref(),
        Some(platform_main.as_str()),
        "the platform's old main is left alone"
    );
    assert_eq!(stage.sandbox.branch_sha(&service, "main").await, None);
    let on_main = stage
        .sandbox
        .file(PLATFORM, "main", "apps/billing/dev.yaml")
        .await;
    assert_eq!(on_main, None);
}
