//! Policies in Rego decide what may be requested: a deny refuses the
//! request with the rule's message and makes nothing; a warn is shown and
//! does not block; a policy that does not compile refuses every request,
//! naming its file and line, until the catalog is fixed.

mod common;

use std::time::Duration;

use common::{TempDir, quiescent};
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions};

const NAMES: &str = r#"package main

deny contains msg if {
    startswith(input.name, "tmp-")
    msg := sprintf("%s: temporary names are not services", [input.name])
}

warn contains "a description of a sentence or more helps the next on-call" if {
    count(input.description) < 20
}
"#;

/// A stage whose catalog holds `files` under `policy/`, pushed by the admin.
async fn with_policies(tag: &str, files: &[(&str, &str)]) -> (TempDir, Stage) {
    let work = TempDir::new(tag);
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();
    push_policies(&stage, files).await;
    (work, stage)
}

async fn push_policies(stage: &Stage, files: &[(&str, &str)]) {
    let files: Vec<(String, &[u8])> = files
        .iter()
        .map(|(name, text)| (format!("policy/{name}"), text.as_bytes()))
        .collect();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
    stage
        .admin
        .push_files(CATALOG, "main", &files, "Policies")
        .await
        .unwrap();
    quiescent(stage).await;
}

/// Requests `name` as the writer and waits until paved is done with it.
async fn request(stage: &Stage, name: &str, description: &str) -> (u64, Vec<String>) {
    let n = stage
        .request(&stage.writer, name, "node-express", description)
        .await
        .unwrap();
    let labels = stage.settled(n, Duration::from_secs(60)).await.unwrap();
    quiescent(stage).await;
    (n, labels)
}

fn status(stage: &Stage, n: u64) -> String {
    let comments = stage.sandbox.comments(CATALOG, n);
    let status: Vec<_> = comments
        .iter()
        .filter(|c| c.body.starts_with(paved_app::status::MARKER))
        .collect();
    assert_eq!(status.len(), 1, "{comments:#?}");
    status[0].body.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deny_refuses_the_request_and_a_warn_is_shown() {
    let (_work, stage) = with_policies("policy-deny", &[("names.rego", NAMES)]).await;
    let platform = stage.sandbox.branch_sha(PLATFORM, "main").await;

    let (n, labels) = request(&stage, "tmp-orders", "Takes orders for a while.").await;
    assert_eq!(labels, ["paved:request", "paved:invalid"]);
    let said = status(&stage, n);
    assert!(
        said.contains(
            "denied by policy/names.rego (main.deny): tmp-orders: temporary names are not services"
        ),
        "{said}"
    );
    // Nothing was made.
    assert!(stage.sandbox.repo_path("acme/tmp-orders").is_none());
    assert_eq!(stage.sandbox.branch_sha(PLATFORM, "main").await, platform);

    // A request the policies allow is made, their warning on its status.
    let (n, labels) = request(&stage, "orders", "Takes orders.").await;
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    let said = status(&stage, n);
    assert!(
        said.contains("⚠️ policy: policy/names.rego (main.warn): a description of a sentence or more helps the next on-call"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_policy_that_does_not_compile_refuses_every_request_until_fixed() {
    let broken = NAMES.replace("msg := sprintf(", "msg := sprintf((");
    let (_work, stage) = with_policies("policy-broken", &[("names.rego", &broken)]).await;
    let platform = stage.sandbox.branch_sha(PLATFORM, "main").await;

    let (n, labels) = request(&stage, "orders", "Takes orders, all day long.").await;
    assert_eq!(labels, ["paved:request", "paved:invalid"]);
    let said = status(&stage, n);
    assert!(
        said.contains("policy error in policy/names.rego:5:"),
        "{said}"
    );
    assert!(stage.sandbox.repo_path("acme/orders").is_none());
    assert_eq!(stage.sandbox.branch_sha(PLATFORM, "main").await, platform);

    // Fixed in the catalog, the request is checked again when edited.
    push_policies(&stage, &[("names.rego", NAMES)]).await;
    let issue = stage.sandbox.issue(CATALOG, n).unwrap();
    let body = issue
        .body
        .unwrap_or_default()
        .replace("all day long", "all day");
    stage
        .writer
        .update_issue(CATALOG, n, serde_json::json!({ "body": body }))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let labels = stage.sandbox.issue(CATALOG, n).unwrap().labels;
        if labels.contains(&"paved:deploying".to_owned()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{labels:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stage.sandbox.repo_path("acme/orders").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pull_request_shows_the_policies_verdicts_as_annotations() {
    let (_work, stage) = with_policies("policy-pr", &[("names.rego", NAMES)]).await;
    let head = |text: &'static str, branch: &'static str| {
        let stage = &stage;
        async move {
            let path = format!("services/{}.yaml", &branch[4..]);
            let head = stage
                .writer
                .push_files(CATALOG, branch, &[(path.as_str(), text.as_bytes())], "Add")
                .await
                .unwrap();
            stage
                .writer
                .open_pull(CATALOG, branch, "main", "Add a service", "")
                .await
                .unwrap();
            check_run(stage, &head).await
        }
    };
    let denied = head(
        "# asked by the payments team\nname: tmp-orders\ntemplate: node-express\ndescription: Takes orders for now.\nowner: \"@acme/payments\"\n",
        "add-tmp-orders",
    )
    .await;
    assert_eq!(denied.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        annotations(&denied),
        [(
            2,
            "failure",
            "denied by policy/names.rego (main.deny): tmp-orders: temporary names are not services"
        )]
    );

    let warned = head(
        "name: orders\ntemplate: node-express\ndescription: Orders.\nowner: \"@acme/payments\"\n",
        "add-orders",
    )
    .await;
    assert_eq!(warned.conclusion.as_deref(), Some("success"));
    assert_eq!(
        annotations(&warned),
        [(
            1,
            "warning",
            "warned by policy/names.rego (main.warn): a description of a sentence or more helps the next on-call"
        )]
    );
}

/// A check run's annotations: (line, level, message).
fn annotations(run: &paved_sandbox::CheckRun) -> Vec<(u64, &str, &str)> {
    run.output
        .annotations
        .iter()
        .map(|a| {
            (
                a.start_line,
                a.annotation_level.as_str(),
                a.message.as_str(),
            )
        })
        .collect()
}

/// The `paved/validate` check run on `head`, once paved has made it.
async fn check_run(stage: &Stage, head: &str) -> paved_sandbox::CheckRun {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let found = stage
            .sandbox
            .check_runs(CATALOG)
            .into_iter()
            .find(|r| r.head_sha == head && r.name == "paved/validate");
        if let Some(run) = found {
            return run;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no check run on {head}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Ports under 8000 are for the platform's own agents.
const PORTS: &str = r#"package main

import rego.v1

deny contains msg if {
	input.kind == "Deployment"
	some c in input.spec.template.spec.containers
	some port in c.ports
	port.containerPort < 8000
	msg := sprintf("%s listens on %d: services listen on 8000 or above", [c.name, port.containerPort])
}

deny contains msg if {
	some doc in input
	doc.contents.kind == "Ingress"
	count([d | some d in input; d.contents.kind == "Service"]) == 0
	msg := sprintf("%s has an Ingress and no Service", [doc.path])
}

warn contains sprintf("%d manifests", [count(input)]) if is_array(input)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_whose_manifests_break_a_rule_is_refused_with_its_message() {
    let (_work, stage) = with_policies("policy-manifests", &[("ports.rego", PORTS)]).await;
    let body = paved::demo::form_body(
        "orders",
        "node-express",
        "Takes orders all day.",
        "@acme/payments",
        "port: 3000",
    );
    let n = stage
        .writer
        .open_issue(CATALOG, "New service: orders", &body, &["paved:request"])
        .await
        .unwrap();
    let labels = stage.settled(n, Duration::from_secs(60)).await.unwrap();
    quiescent(&stage).await;
    assert_eq!(labels, ["paved:request", "paved:invalid"]);
    let said = status(&stage, n);
    assert!(
        said.contains("denied by policy/ports.rego (main.deny) on k8s/deployment.yaml: app listens on 3000: services listen on 8000 or above"),
        "{said}"
    );
    assert!(stage.sandbox.repo_path("acme/orders").is_none());

    // The default port passes; the manifests the policies read are what
    // Argo CD deploys: the cross-document rule finds the Service.
    let (n, labels) = request(&stage, "ledger", "Keeps the books, carefully.").await;
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    let said = status(&stage, n);
    assert!(
        !said.contains("denied")
            && said
                .contains("⚠️ policy: policy/ports.rego (main.warn) on all manifests: 3 manifests"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prod_runs_only_what_runs_in_staging_by_the_default_policy() {
    let (_work, stage, n) = common::ready_service("policy-prod", "orders").await;
    let ask = |who, text: &'static str| {
        let stage = &stage;
        async move { common::ask(stage, who, n, text).await }
    };
    assert!(
        ask(&stage.writer, "/paved promote staging")
            .await
            .contains("✅")
    );
    let pr = ask(&stage.admin, "/paved promote prod").await;
    assert!(pr.contains("pull request"), "{pr}");
    let number: u64 = pr.rsplit('/').next().unwrap().trim().parse().unwrap();
    stage.admin.merge_pull(PLATFORM, number).await.unwrap();
    quiescent(&stage).await;
    let prod = common::application(&stage, "orders", "prod").await.unwrap();

    // CI deploys a new commit to dev; it never ran in staging.
    let pushed = stage
        .writer
        .push_files("acme/orders", "main", &[("CHANGES.md", b"v2\n")], "v2")
        .await
        .unwrap();
    stage
        .sandbox
        .complete_workflow_run("acme/orders", "main", "ci", "success")
        .await
        .unwrap();
    common::wait_for_application(&stage, "orders", "dev", |a| {
        a.as_ref().is_some_and(|a| a.tag == pushed)
    })
    .await;
    quiescent(&stage).await;
    let pulls_before = stage.sandbox.requests().count("pulls/create");
    let asked = format!("/paved rollback prod {pushed}");
    let answer = common::ask(&stage, &stage.admin, n, &asked).await;
    assert!(
        answer.contains("❌")
            && answer.contains(&format!(
                "denied by policy/promotion.rego (main.deny): orders may run in prod only what runs in staging now: `{pushed}` does not"
            )),
        "{answer}"
    );
    quiescent(&stage).await;
    // Nothing changed: no pull request, prod as it was.
    assert_eq!(stage.sandbox.requests().count("pulls/create"), pulls_before);
    assert_eq!(
        common::application(&stage, "orders", "prod").await.unwrap(),
        prod
    );
}
