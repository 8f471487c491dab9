//! Requests by pull request: `services/<name>.yaml` validated on the pull
//! request (check run with line annotations, preview comment), provisioned
//! once merged and never before.

mod common;

use std::time::{Duration, Instant};

use common::TempDir;
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions};
use paved_sandbox::CheckRun;

const LIMIT: Duration = Duration::from_secs(60);

async fn check_run(stage: &Stage, head: &str) -> CheckRun {
    let deadline = Instant::now() + LIMIT;
    loop {
        let runs = stage.sandbox.check_runs(CATALOG);
        if let Some(run) = runs
            .into_iter()
            .find(|r| r.head_sha == head && r.name == "paved/validate")
        {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "no paved/validate check run on {head}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until paved has made `count` calls of `operation`.
async fn calls_reach(stage: &Stage, operation: &str, count: usize) {
    let deadline = Instant::now() + LIMIT;
    while stage.sandbox.requests().count(operation) < count {
        assert!(Instant::now() < deadline, "paved made no {operation} call");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn open_pr(stage: &Stage, branch: &str, path: &str, text: &str) -> (u64, String) {
    let head = stage
        .writer
        .push_files(CATALOG, branch, &[(path, text.as_bytes())], "Add a service")
        .await
        .unwrap();
    let number = stage
        .writer
        .open_pull(CATALOG, branch, "main", "Add a service", "")
        .await
        .unwrap();
    (number, head)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invalid_service_file_fails_the_check_with_annotations() {
    let work = TempDir::new("pr-bad");
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let text = "name: bad-svc\ntemplate: node-express\ndescription: Bad.\nowner: nobody\nparameters:\n  port: 80\n";
    let (number, head) = open_pr(&stage, "add-bad", "services/bad-svc.yaml", text).await;
    let run = check_run(&stage, &head).await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let lines: Vec<(u64, &str)> = run
        .output
        .annotations
        .iter()
        .map(|a| (a.start_line, a.message.as_str()))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0].0, 4);
    assert!(
        lines[0].1.starts_with("owner: \"nobody\" does not match"),
        "{lines:?}"
    );
    assert_eq!(lines[1], (6, "port: 80 is outside 1024 to 65535"));
    stage.settled(number, LIMIT).await.unwrap();
    let reply = &stage.sandbox.comments(CATALOG, number)[0].body;
    assert!(
        reply.contains("paved could not take this request"),
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_valid_service_file_is_previewed_then_provisioned_when_merged() {
    let work = TempDir::new("pr-good");
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let text = "name: inventory\ntemplate: python-fastapi\ndescription: Counts stock.\nowner: \"@acme/stock\"\n";
    let (number, head) = open_pr(&stage, "add-inventory", "services/inventory.yaml", text).await;
    let run = check_run(&stage, &head).await;
    assert_eq!(run.conclusion.as_deref(), Some("success"));

    let deadline = Instant::now() + LIMIT;
    let preview = loop {
        if let Some(c) = stage.sandbox.comments(CATALOG, number).into_iter().next() {
            break c.body;
        }
        assert!(Instant::now() < deadline, "no preview comment");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        preview.contains("preview of inventory") && preview.contains("`app/main.py`"),
        "{preview}"
    );
    assert!(
        preview.contains("name: inventory-dev") && preview.contains("kind: Application"),
        "{preview}"
    );
    assert_eq!(
        stage.sandbox.requests().count("repos/create-in-org"),
        0,
        "nothing is created before the merge"
    );

    stage.admin.merge_pull(CATALOG, number).await.unwrap();
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    assert!(
        stage
            .sandbox
            .file("acme/inventory", "main", "app/main.py")
            .await
            .is_some()
    );
    assert!(
        stage
            .sandbox
            .file(PLATFORM, "main", "apps/inventory/dev.yaml")
            .await
            .is_some()
    );
    let comments = stage.sandbox.comments(CATALOG, number);
    assert_eq!(
        comments.len(),
        1,
        "the preview became the status: {comments:#?}"
    );
    assert!(comments[0].body.contains("**Committed.**"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_merge_whose_webhook_was_lost_is_provisioned_by_the_resync() {
    let work = TempDir::new("pr-lost");
    let mut stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let text = "name: shipping\ntemplate: node-express\ndescription: Ships parcels.\nowner: \"@acme/logistics\"\n";
    let (number, head) = open_pr(&stage, "add-shipping", "services/shipping.yaml", text).await;
    check_run(&stage, &head).await;
    stage.settled_jobs().await;
    stage.stop_paved().await;
    stage.admin.merge_pull(CATALOG, number).await.unwrap(); // paved is down: the webhook is lost
    assert!(stage.sandbox.settle(LIMIT).await);
    stage.start_paved().await.unwrap(); // resyncs on start
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    assert!(
        stage
            .sandbox
            .file(PLATFORM, "main", "apps/shipping/dev.yaml")
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_merged_request_that_crashed_while_provisioning_is_finished_by_the_resync() {
    let work = TempDir::new("pr-crash");
    let mut stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let text =
        "name: billing\ntemplate: node-express\ndescription: Bills.\nowner: \"@acme/finance\"\n";
    let (number, head) = open_pr(&stage, "add-billing", "services/billing.yaml", text).await;
    check_run(&stage, &head).await;
    stage.settled_jobs().await;
    // paved crashed right after labelling the merged request: nothing else was made.
    stage.stop_paved().await;
    stage.admin.merge_pull(CATALOG, number).await.unwrap();
    stage
        .admin
        .call(
            http::Method::PUT,
            &format!("/repos/{CATALOG}/issues/{number}/labels"),
            Some(serde_json::json!({ "labels": ["paved:provisioning"] })),
        )
        .await
        .unwrap();
    assert!(stage.sandbox.settle(LIMIT).await);
    stage.start_paved().await.unwrap(); // resyncs on start
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert_eq!(labels, ["paved:deploying"]);
    assert!(
        stage
            .sandbox
            .file(PLATFORM, "main", "apps/billing/dev.yaml")
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pull_request_from_a_fork_is_validated_and_never_provisioned_unmerged() {
    let work = TempDir::new("pr-fork");
    let mut stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    // Someone with read access only: they fork, push there and ask.
    let fork = stage.reader.fork(CATALOG).await.unwrap();
    let text = "name: sneaky\ntemplate: node-express\ndescription: Wants in.\nowner: \"@acme/x\"\n";
    let files: &[(&str, &[u8])] = &[("services/sneaky.yaml", text.as_bytes())];
    let head = stage
        .reader
        .push_files(&fork, "add-sneaky", files, "Add sneaky")
        .await
        .unwrap();
    let head_ref = format!("{}:add-sneaky", stage.reader.login());
    let number = stage
        .reader
        .open_pull(CATALOG, &head_ref, "main", "Add sneaky", "")
        .await
        .unwrap();
    assert_eq!(
        check_run(&stage, &head).await.conclusion.as_deref(),
        Some("success")
    );
    let deadline = Instant::now() + LIMIT;
    while !stage
        .sandbox
        .comments(CATALOG, number)
        .iter()
        .any(|c| c.body.contains("preview of sneaky"))
    {
        assert!(Instant::now() < deadline, "no preview comment");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stage.sandbox.requests().count("repos/create-in-org"), 0);
    stage.settled_jobs().await;
    let looked = stage.sandbox.requests().count("pulls/get");
    stage
        .reader
        .call(
            reqwest::Method::PATCH,
            &format!("/repos/{CATALOG}/pulls/{number}"),
            Some(serde_json::json!({"state": "closed"})),
        )
        .await
        .unwrap();
    // paved looks at the closed pull request...
    calls_reach(&stage, "pulls/get", looked + 1).await;
    stage.settled_jobs().await;
    // ...and so does a restart's resync, which lists closed ones for lost merges.
    stage.stop_paved().await;
    stage.sandbox.clear_requests();
    stage.start_paved().await.unwrap();
    calls_reach(&stage, "pulls/list", 1).await;
    stage.settled_jobs().await;
    let requests = stage.sandbox.requests();
    assert_eq!(requests.count("repos/create-in-org"), 0);
    assert_eq!(requests.count("git/receive-pack"), 0, "no push anywhere");
    assert!(stage.sandbox.repo_path("acme/sneaky").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commands_work_on_the_merged_pull_request_and_delete_sticks() {
    let work = TempDir::new("pr-day2");
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    let text =
        "name: ledger\ntemplate: node-express\ndescription: Books.\nowner: \"@acme/finance\"\n";
    let (number, _) = open_pr(&stage, "add-ledger", "services/ledger.yaml", text).await;
    // Before the merge the pull request names no service paved knows.
    check_run(
        &stage,
        &stage
            .sandbox
            .branch_sha(CATALOG, "add-ledger")
            .await
            .unwrap(),
    )
    .await;
    // The preview comes after the check run: wait for it, so the next
    // comment is the reader's.
    common::paved_comment(&stage, CATALOG, number, "preview of ledger").await;
    common::quiescent(&stage).await;
    let early = common::ask(&stage, &stage.reader, number, "/paved status").await;
    assert!(
        early.contains("not a request for a service paved knows"),
        "{early}"
    );

    stage.admin.merge_pull(CATALOG, number).await.unwrap();
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    let status = common::ask(&stage, &stage.reader, number, "/paved status").await;
    assert!(
        status.contains("**ledger**") && status.contains("[dev]("),
        "{status}"
    );
    let gone = common::ask(&stage, &stage.admin, number, "/paved delete ledger").await;
    assert!(gone.contains("archived, not deleted"), "{gone}");
    let labels = stage.sandbox.issue(CATALOG, number).unwrap().labels;
    assert!(
        labels.contains(&"paved:deleted".to_owned())
            && !labels.contains(&"paved:deploying".to_owned()),
        "{labels:?}"
    );
    assert!(
        stage
            .sandbox
            .file(PLATFORM, "main", "apps/ledger/dev.yaml")
            .await
            .is_none()
    );
}
