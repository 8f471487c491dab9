//! GitHub Deployments: every environment change paved commits is recorded
//! on the service repository, once, as a deployment of the commit whose
//! image runs there, naming the platform commit and the Application.

mod common;

use common::{ask, quiescent};
use paved::demo::{PLATFORM, Stage};
use paved_sandbox::{Health, Notification};
use reqwest::Method;
use serde_json::Value;

const SERVICE: &str = "acme/orders";

/// The service's deployments as GitHub lists them, newest first:
/// (environment, sha, platform commit, production, newest status).
async fn deployments(stage: &Stage) -> Vec<(String, String, String, bool, String)> {
    let list = stage
        .admin
        .call(Method::GET, &format!("/repos/{SERVICE}/deployments"), None)
        .await
        .unwrap();
    let mut out = Vec::new();
    for d in list.as_array().unwrap() {
        let statuses = stage
            .admin
            .call(
                Method::GET,
                &format!("/repos/{SERVICE}/deployments/{}/statuses", d["id"]),
                None,
            )
            .await
            .unwrap();
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        out.push((
            text(&d["environment"]),
            text(&d["sha"]),
            text(&d["payload"]["platform_commit"]),
            d["production_environment"] == true,
            // A deployment is pending until Argo CD reports: paved posts none.
            statuses[0]
                .get("state")
                .map_or_else(|| "no status".to_owned(), text),
        ));
    }
    out
}

/// A writer pushes to the service's main and CI passes: once dev runs the
/// commit and all is still, the commit.
async fn ci_deploys(stage: &Stage) -> String {
    let pushed = stage
        .writer
        .push_files(SERVICE, "main", &[("CHANGES.md", b"v2\n")], "v2")
        .await
        .unwrap();
    stage
        .sandbox
        .complete_workflow_run(SERVICE, "main", "ci", "success")
        .await
        .unwrap();
    common::wait_for_application(stage, "orders", "dev", |a| {
        a.as_ref().is_some_and(|a| a.tag == pushed)
    })
    .await;
    quiescent(stage).await;
    pushed
}

async fn platform_head(stage: &Stage) -> String {
    stage.sandbox.branch_sha(PLATFORM, "main").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_environment_change_is_a_deployment_recorded_once() {
    let (_work, stage, n) = common::ready_service("deployments", "orders").await;
    quiescent(&stage).await;
    let scaffold = stage.sandbox.branch_sha(SERVICE, "main").await.unwrap();
    let added = platform_head(&stage).await;
    let dev_first = (
        "dev".to_owned(),
        scaffold.clone(),
        added,
        false,
        "no status".to_owned(),
    );
    assert_eq!(deployments(&stage).await, [dev_first]);

    // A promotion, scaling and a rollback are each one more, naming the
    // commit that made them; the environment and the image are the change's.
    let promoted = ask(&stage, &stage.writer, n, "/paved promote staging").await;
    assert!(promoted.contains("✅"), "{promoted}");
    let staging_commit = platform_head(&stage).await;
    let scaled = ask(&stage, &stage.writer, n, "/paved scale dev 2").await;
    assert!(scaled.contains("✅"), "{scaled}");
    let scaled_commit = platform_head(&stage).await;
    let recorded = deployments(&stage).await;
    assert_eq!(
        recorded[..2],
        [
            (
                "dev".to_owned(),
                scaffold.clone(),
                scaled_commit,
                false,
                "no status".to_owned()
            ),
            (
                "staging".to_owned(),
                scaffold.clone(),
                staging_commit,
                false,
                "no status".to_owned()
            ),
        ]
    );
    assert_eq!(recorded.len(), 3);

    // CI on main deploys its commit, and that is a deployment too.
    let pushed = ci_deploys(&stage).await;
    let recorded = deployments(&stage).await;
    assert_eq!(
        (recorded[0].0.as_str(), recorded[0].1.as_str()),
        ("dev", pushed.as_str())
    );
    assert_eq!(recorded[0].2, platform_head(&stage).await);
    let back = ask(&stage, &stage.writer, n, "/paved rollback dev").await;
    assert!(back.contains("✅"), "{back}");
    let recorded = deployments(&stage).await;
    assert_eq!(
        (recorded[0].0.as_str(), recorded[0].1.as_str()),
        ("dev", scaffold.as_str())
    );
    assert_eq!(recorded.len(), 5);

    // What changes nothing records nothing: the same scale again, a retry.
    let again = ask(&stage, &stage.writer, n, "/paved scale dev 2").await;
    assert!(again.contains("already so"), "{again}");
    ask(&stage, &stage.writer, n, "/paved retry").await;
    quiescent(&stage).await;
    assert_eq!(deployments(&stage).await.len(), 5);

    // An environment under review is changed by a pull request: nothing
    // runs there, so nothing is recorded, until it is merged.
    let pr = ask(&stage, &stage.admin, n, "/paved promote prod").await;
    assert!(pr.contains("pull request"), "{pr}");
    quiescent(&stage).await;
    let recorded = deployments(&stage).await;
    assert_eq!(recorded.len(), 5);
    assert!(recorded.iter().all(|d| d.0 != "prod"));
    let number: u64 = pr.rsplit('/').next().unwrap().trim().parse().unwrap();
    let merged = stage.admin.merge_pull(PLATFORM, number).await.unwrap();
    quiescent(&stage).await;
    let recorded = deployments(&stage).await;
    assert_eq!(recorded.len(), 6, "{recorded:#?}");
    let staging_tag = common::application(&stage, "orders", "staging")
        .await
        .unwrap()
        .tag;
    assert_eq!(
        recorded[0],
        (
            "prod".to_owned(),
            staging_tag,
            merged,
            true,
            "no status".to_owned()
        )
    );
}

/// Argo CD reports on `sha` in `env` through GitHub, as its own App with
/// the REST calls its GitHub notification service makes.
async fn argo_reports(stage: &Stage, sha: &str, env: &str, health: Health, message: &str) {
    let notification = Notification {
        repo: SERVICE.into(),
        revision: sha.into(),
        environment: env.into(),
        health,
        environment_url: "https://orders.apps.acme.dev".into(),
        log_url: format!("https://argocd.acme.dev/applications/orders-{env}"),
        message: message.into(),
    };
    stage.sandbox.argo_cd_notifies(&notification).await.unwrap();
}

/// Argo CD reports `sha` in dev as `health`, saying so.
async fn argo_dev(stage: &Stage, sha: &str, health: Health) {
    argo_reports(
        stage,
        sha,
        "dev",
        health,
        &format!("orders-dev is {health:?}"),
    )
    .await;
}

/// The `live` cell of `env` in paved's answer to `/paved status`.
async fn live(stage: &Stage, n: u64, env: &str) -> String {
    let status = ask(stage, &stage.reader, n, "/paved status").await;
    let row = status
        .lines()
        .find(|l| l.starts_with(&format!("| [{env}]")))
        .unwrap_or_else(|| panic!("no row for {env}: {status}"));
    row.trim_end_matches(" |")
        .rsplit(" | ")
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_shows_what_argo_cd_reported_for_the_image_that_runs_now() {
    let (_work, stage, n) = common::ready_service("deployment-reports", "orders").await;
    quiescent(&stage).await;
    let scaffold = stage.sandbox.branch_sha(SERVICE, "main").await.unwrap();
    assert_eq!(live(&stage, n, "dev").await, "⏳ waiting for sync");
    let status = ask(&stage, &stage.reader, n, "/paved status").await;
    assert!(status.contains("| staging | not deployed |"), "{status}");

    argo_dev(&stage, &scaffold, Health::Healthy).await;
    assert_eq!(
        live(&stage, n, "dev").await,
        "✅ Healthy at https://orders.apps.acme.dev ([Argo CD](https://argocd.acme.dev/applications/orders-dev))"
    );
    argo_dev(&stage, &scaffold, Health::Degraded).await;
    assert_eq!(
        live(&stage, n, "dev").await,
        "❌ Degraded ([Argo CD](https://argocd.acme.dev/applications/orders-dev))"
    );

    // CI deploys a new image: dev waits for Argo CD again, and a late
    // report on the old image is never shown as current.
    let pushed = ci_deploys(&stage).await;
    argo_reports(&stage, &scaffold, "dev", Health::Healthy, "late").await;
    assert_eq!(live(&stage, n, "dev").await, "⏳ waiting for sync");
    argo_reports(
        &stage,
        &pushed,
        "dev",
        Health::SyncFailed,
        "one or more objects failed to apply | @alice",
    )
    .await;
    let failed = live(&stage, n, "dev").await;
    assert!(
        failed.starts_with("❌ sync failed: one or more objects failed to apply")
            && failed.contains("`@alice`"),
        "{failed}"
    );
}

/// Waits (bounded) until the request's labels satisfy `ok`.
async fn labels_become(stage: &Stage, n: u64, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let labels = stage.sandbox.issue(paved::demo::CATALOG, n).unwrap().labels;
        if ok(&labels) {
            return labels;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "labels stayed {labels:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_request_is_labelled_degraded_while_argo_cd_says_so() {
    let (_work, stage, n) = common::ready_service("deployment-health", "orders").await;
    quiescent(&stage).await;
    let scaffold = stage.sandbox.branch_sha(SERVICE, "main").await.unwrap();
    let degraded = |l: &[String]| l.iter().any(|l| l == "paved:degraded");
    let ready = |l: &[String]| l.iter().any(|l| l == "paved:ready");

    // Healthy first: the request is ready.
    argo_dev(&stage, &scaffold, Health::Healthy).await;
    labels_become(&stage, n, ready).await;
    // Then health is lost: degraded beside ready, and the card says so.
    argo_dev(&stage, &scaffold, Health::Degraded).await;
    let labels = labels_become(&stage, n, degraded).await;
    assert_eq!(
        labels,
        ["paved:request", "paved:ready", "paved:degraded"],
        "{labels:?}"
    );
    let card = common::paved_comment(&stage, paved::demo::CATALOG, n, "❌ Degraded").await;
    assert!(card.contains("**Not healthy** in dev"), "{card}");
    argo_dev(&stage, &scaffold, Health::Healthy).await;
    let labels = labels_become(&stage, n, |l| !degraded(l)).await;
    assert_eq!(labels, ["paved:request", "paved:ready"]);
    quiescent(&stage).await;
    let card = common::paved_comment(&stage, paved::demo::CATALOG, n, "#### What runs").await;
    assert!(
        card.contains("✅ Healthy at https://orders.apps.acme.dev") && !card.contains("Degraded"),
        "{card}"
    );
    // Running the request again keeps what runs on its one status comment.
    ask(&stage, &stage.writer, n, "/paved retry").await;
    quiescent(&stage).await;
    let cards: Vec<String> = stage
        .sandbox
        .comments(paved::demo::CATALOG, n)
        .into_iter()
        .filter(|c| c.body.starts_with(paved_app::status::MARKER))
        .map(|c| c.body)
        .collect();
    assert_eq!(cards, [card]);

    // Another environment, a stale image, a repository paved did not make:
    // none of them touches the request.
    let pushed = ci_deploys(&stage).await;
    argo_reports(&stage, &scaffold, "dev", Health::Degraded, "late news").await;
    stage.sandbox.create_repo("acme", "other").await.unwrap();
    stage
        .admin
        .push_files("acme/other", "main", &[("a", b"1")], "One")
        .await
        .unwrap();
    let made = stage
        .admin
        .call(
            Method::POST,
            "/repos/acme/other/deployments",
            Some(serde_json::json!({"ref": "main", "environment": "dev", "required_contexts": []})),
        )
        .await
        .unwrap();
    stage
        .admin
        .call(
            Method::POST,
            &format!("/repos/acme/other/deployments/{}/statuses", made["id"]),
            Some(serde_json::json!({"state": "failure"})),
        )
        .await
        .unwrap();
    quiescent(&stage).await;
    let reports = stage
        .sandbox
        .deliveries()
        .into_iter()
        .filter(|d| d.event == "deployment_status" && d.succeeded())
        .count();
    assert!(reports >= 4, "paved was told of every report ({reports})");
    assert_eq!(
        stage.sandbox.issue(paved::demo::CATALOG, n).unwrap().labels,
        ["paved:request", "paved:ready"]
    );
    // The card follows the new image: waiting for Argo CD, the late news
    // on the old one not shown.
    let card = common::paved_comment(&stage, paved::demo::CATALOG, n, "#### What runs").await;
    assert!(card.contains(&format!("`{}`", &pushed[..7])), "{card}");
    assert!(
        card.contains("⏳ waiting for sync") && !card.contains("Healthy"),
        "{card}"
    );
}

/// The request's status comment once it contains `text`.
async fn card_shows(stage: &Stage, n: u64, text: &str) -> String {
    common::paved_comment(stage, paved::demo::CATALOG, n, text).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ci_passes_then_argo_cd_reports_healthy_and_the_request_is_ready() {
    let (_work, stage, n) = common::ready_service("deployment-live", "orders").await;
    quiescent(&stage).await;
    let labels = stage.sandbox.issue(paved::demo::CATALOG, n).unwrap().labels;
    assert_eq!(labels, ["paved:request", "paved:deploying"]);
    let card = card_shows(&stage, n, "#### What runs").await;
    assert!(
        card.contains("**Committed.** orders is committed"),
        "{card}"
    );
    assert!(card.contains("| ⏳ queued ([ci](http"), "{card}");

    // The scaffold's CI run starts and passes: the card follows it.
    stage
        .sandbox
        .start_workflow_run(SERVICE, "main", "ci")
        .await
        .unwrap();
    card_shows(&stage, n, "| 🔄 running ([ci](http").await;
    stage
        .sandbox
        .complete_workflow_run(SERVICE, "main", "ci", "success")
        .await
        .unwrap();
    let card = card_shows(&stage, n, "| ✅ passed ([ci](http").await;
    assert!(
        card.contains("CI passed; waiting for Argo CD to sync"),
        "{card}"
    );
    quiescent(&stage).await;
    let labels = stage.sandbox.issue(paved::demo::CATALOG, n).unwrap().labels;
    assert_eq!(
        labels,
        ["paved:request", "paved:deploying"],
        "CI is not Argo CD"
    );

    // Argo CD synced it and it is Healthy: ready, live at its URL.
    let scaffold = stage.sandbox.branch_sha(SERVICE, "main").await.unwrap();
    argo_dev(&stage, &scaffold, Health::Healthy).await;
    let labels = labels_become(&stage, n, |l| l.iter().any(|l| l == "paved:ready")).await;
    assert_eq!(labels, ["paved:request", "paved:ready"]);
    let card = card_shows(
        &stage,
        n,
        "**Live** in dev at https://orders.apps.acme.dev.",
    )
    .await;
    assert!(
        card.contains("✅ Healthy at https://orders.apps.acme.dev ([Argo CD](https://argocd.acme.dev/applications/orders-dev))"),
        "{card}"
    );
    // Argo CD's report went on paved's deployment, not a second one.
    assert_eq!(deployments(&stage).await.len(), 1);
    assert_eq!(deployments(&stage).await[0].4, "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_ci_run_is_named_on_the_card_and_the_request_is_not_ready() {
    let (_work, stage, n) = common::ready_service("deployment-ci-failed", "orders").await;
    quiescent(&stage).await;
    stage
        .sandbox
        .complete_workflow_run(SERVICE, "main", "ci", "failure")
        .await
        .unwrap();
    let card = card_shows(&stage, n, "**CI failed**").await;
    let runs = stage
        .admin
        .call(Method::GET, &format!("/repos/{SERVICE}/actions/runs"), None)
        .await
        .unwrap();
    let url = runs["workflow_runs"][0]["html_url"].as_str().unwrap();
    assert!(
        card.contains(&format!("❌ failed ([ci]({url}))"))
            && card.contains(&format!(
                "**CI failed** on `{}` ([ci]({url}))",
                &runs["workflow_runs"][0]["head_sha"].as_str().unwrap()[..7]
            ))
            && card.contains("Fix the build"),
        "{card}"
    );
    quiescent(&stage).await;
    let labels = stage.sandbox.issue(paved::demo::CATALOG, n).unwrap().labels;
    assert_eq!(labels, ["paved:request", "paved:deploying"]);
}
