//! The fleet dashboard: one pinned "Services" issue in the catalog, rebuilt
//! from the platform repository and GitHub's deployments after changes, in
//! batches, and never duplicated.

mod common;

use common::{TempDir, quiescent};
use paved::demo::{CATALOG, Stage, StageOptions};
use paved_sandbox::{Health, Issue, Notification};

/// A stage keeping the dashboard, with `names` requested and committed.
async fn fleet(tag: &str, names: &[&str]) -> (TempDir, Stage) {
    let work = TempDir::new(tag);
    let options = StageOptions {
        dashboard: true,
        ..StageOptions::shipped(work.path().to_owned())
    };
    let stage = Stage::start(options).await.unwrap();
    let mut numbers = Vec::new();
    for name in names {
        let n = stage
            .request(&stage.writer, name, "node-express", "A service.")
            .await
            .unwrap();
        numbers.push(n);
    }
    for n in numbers {
        let labels = stage
            .settled(n, std::time::Duration::from_secs(60))
            .await
            .unwrap();
        assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    }
    quiescent(&stage).await;
    (work, stage)
}

/// paved's dashboard issues in the catalog.
fn dashboards(stage: &Stage) -> Vec<Issue> {
    stage
        .sandbox
        .issues(CATALOG)
        .into_iter()
        .filter(|i| i.user == "paved[bot]" && i.title == "Services")
        .collect()
}

/// The one dashboard's body, once it contains `text` (bounded wait).
async fn dashboard_shows(stage: &Stage, text: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let found = dashboards(stage);
        assert!(found.len() <= 1, "{found:#?}");
        let body = found
            .first()
            .and_then(|d| d.body.clone())
            .unwrap_or_default();
        if body.contains(text) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dashboard never showed {text:?}:\n{body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn argo_reports(stage: &Stage, service: &str, health: Health) {
    let repo = format!("acme/{service}");
    let sha = stage.sandbox.branch_sha(&repo, "main").await.unwrap();
    let notification = Notification {
        repo,
        revision: sha,
        environment: "dev".into(),
        health,
        environment_url: format!("https://{service}.apps.acme.dev"),
        log_url: format!("https://argocd.acme.dev/applications/{service}-dev"),
        message: String::new(),
    };
    stage.sandbox.argo_cd_notifies(&notification).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_pinned_issue_lists_every_service_and_follows_what_runs() {
    let (_work, mut stage) = fleet("dashboard", &["orders", "ledger"]).await;
    let found = dashboards(&stage);
    assert_eq!(found.len(), 1, "{found:#?}");
    let issue = &found[0];
    assert!(issue.pinned, "the dashboard is pinned");
    assert_eq!(issue.labels, ["paved:dashboard"]);
    let body = issue.body.clone().unwrap();
    assert!(
        body.starts_with("<!-- paved:dashboard -->") && body.contains("2 in all"),
        "{body}"
    );
    assert!(
        body.contains("| service | owner | template | dev | staging | prod |"),
        "{body}"
    );
    for service in ["ledger", "orders"] {
        let sha = stage
            .sandbox
            .branch_sha(&format!("acme/{service}"), "main")
            .await
            .unwrap();
        let row = format!(
            "/acme/{service}) | `@acme/payments` | node-express `1.0.0` | `{}` ⏳ deploying | — | — |",
            &sha[..7]
        );
        assert!(body.contains(&row), "{row}\n{body}");
    }
    // The services are listed in order, one row each.
    let (ledger, orders) = (
        body.find("[ledger]").unwrap(),
        body.find("[orders]").unwrap(),
    );
    assert!(ledger < orders && body.matches("[orders]").count() == 1);

    // Argo CD reports: the dashboard follows, within seconds.
    argo_reports(&stage, "orders", Health::Healthy).await;
    dashboard_shows(&stage, "✅ [live](https://orders.apps.acme.dev)").await;
    argo_reports(&stage, "orders", Health::Degraded).await;
    let body = dashboard_shows(&stage, "❌ Degraded").await;
    assert!(!body.contains("orders.apps.acme.dev"), "{body}");
    // A promotion shows in its environment.
    let n = stage.sandbox.issues(CATALOG)[0].number;
    common::ask(&stage, &stage.writer, n, "/paved promote staging").await;
    dashboard_shows(&stage, "❌ Degraded | `").await;

    // A restarted paved finds its dashboard again, and so does a resync:
    // still one issue, edited in place.
    quiescent(&stage).await;
    let before = dashboards(&stage)[0].clone();
    stage.stop_paved().await;
    stage.start_paved().await.unwrap();
    argo_reports(&stage, "orders", Health::Healthy).await;
    dashboard_shows(&stage, "✅ [live](https://orders.apps.acme.dev)").await;
    quiescent(&stage).await;
    let after = dashboards(&stage);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].number, before.number);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_changes_makes_a_handful_of_edits() {
    let (_work, stage) = fleet("dashboard-burst", &["orders", "ledger"]).await;
    let number = dashboards(&stage)[0].number;
    let edits = |stage: &Stage| {
        let path = format!("/repos/{CATALOG}/issues/{number}");
        stage
            .sandbox
            .requests()
            .by_installation()
            .filter(|r| r.method == "PATCH" && r.path == path)
            .count()
    };
    let before = edits(&stage);
    // 60 reports at once, each a change the dashboard shows.
    for i in 0..30 {
        let health = if i % 2 == 0 {
            Health::Degraded
        } else {
            Health::Healthy
        };
        argo_reports(&stage, "orders", health).await;
        argo_reports(&stage, "ledger", health).await;
    }
    quiescent(&stage).await;
    let made = edits(&stage) - before;
    eprintln!("60 changes made {made} dashboard edits");
    assert!((1..=12).contains(&made), "{made} edits for 60 changes");
    // It ends showing the last report.
    let body = dashboards(&stage)[0].body.clone().unwrap();
    assert!(
        body.contains("✅ [live](https://orders.apps.acme.dev)")
            && body.contains("✅ [live](https://ledger.apps.acme.dev)"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_reads_only_the_rows_that_changed() {
    let (_work, stage) = fleet("dashboard-cost", &["orders", "ledger", "billing"]).await;
    let rows_read = |stage: &Stage, from: usize| -> Vec<String> {
        stage
            .sandbox
            .requests()
            .by_installation()
            .skip(from)
            .filter(|r| {
                r.path.ends_with("/contents/.paved/answers.yml")
                    || r.operation.as_deref() == Some("repos/list-deployments")
            })
            .map(|r| r.path.clone())
            .collect()
    };
    let logged = |stage: &Stage| stage.sandbox.requests().by_installation().count();

    // A resync pass with nothing changed lists the requests and the
    // dashboard, and reads none of its rows.
    let from = logged(&stage);
    stage.resync().await;
    quiescent(&stage).await;
    assert_eq!(rows_read(&stage, from), Vec::<String>::new());

    // A report on one service reads its row again, and only its.
    let from = logged(&stage);
    argo_reports(&stage, "ledger", Health::Healthy).await;
    dashboard_shows(&stage, "✅ [live](https://ledger.apps.acme.dev)").await;
    quiescent(&stage).await;
    let read = rows_read(&stage, from);
    assert!(!read.is_empty());
    assert!(
        read.iter().all(|p| p.starts_with("/repos/acme/ledger/")),
        "{read:#?}"
    );
}
