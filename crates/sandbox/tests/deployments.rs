//! Deployments, deployment statuses and environments, as GitHub's REST docs
//! describe them: what Argo CD's GitHub notifications and paved call.

mod support;

use std::time::Duration;

use paved_sandbox::{Health, Notification, SandboxConfig};
use serde_json::{Value, json};
use support::{World, world};

/// Calls the sandbox as the App's installation: the status and the body.
async fn call(w: &World, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let token = w.sb.installation_token(w.installation);
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", w.sb.url()))
        .bearer_auth(token.expose());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(w: &World, path: &str, body: Value) -> (u16, Value) {
    call(w, reqwest::Method::POST, path, Some(body)).await
}

async fn get(w: &World, path: &str) -> Value {
    let (status, body) = call(w, reqwest::Method::GET, path, None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

const DEPLOYMENTS: &str = "/repos/acme/catalog/deployments";

/// A world whose catalog has a commit on `main`; its SHA.
async fn seeded() -> (World, String) {
    let w = world(SandboxConfig::default()).await;
    let sha =
        w.sb.push_files("acme/catalog", "main", &[("a", b"1")], "One", "paved[bot]")
            .await
            .unwrap();
    (w, sha)
}

#[tokio::test]
async fn a_deployment_is_made_found_by_its_filters_and_announced() {
    let (w, sha) = seeded().await;
    let (status, made) = post(
        &w,
        DEPLOYMENTS,
        json!({
            "ref": sha, "environment": "dev", "auto_merge": false, "required_contexts": [],
            "payload": {"platform_commit": "abc", "application": "svc-dev"},
            "description": "svc to dev",
        }),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["sha"], sha.as_str());
    assert_eq!(made["ref"], sha.as_str());
    assert_eq!(made["task"], "deploy");
    assert_eq!(made["environment"], "dev");
    assert_eq!(made["original_environment"], "dev");
    assert_eq!(made["production_environment"], false);
    assert_eq!(made["payload"]["application"], "svc-dev");
    assert_eq!(made["creator"]["login"], "paved[bot]");
    assert_eq!(made["performed_via_github_app"]["slug"], "paved");
    let id = made["id"].as_u64().unwrap();

    // "production" is the default environment, and a production one.
    let (_, prod) = post(
        &w,
        DEPLOYMENTS,
        json!({"ref": "main", "required_contexts": []}),
    )
    .await;
    assert_eq!(
        (&prod["environment"], &prod["production_environment"]),
        (&json!("production"), &json!(true))
    );
    assert_eq!(prod["ref"], "main");

    let listed = |query: &str| {
        let w = &w;
        let query = query.to_owned();
        async move {
            let list = get(w, &format!("{DEPLOYMENTS}{query}")).await;
            list.as_array()
                .unwrap()
                .iter()
                .map(|d| d["environment"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("").await, ["production", "dev"], "newest first");
    assert_eq!(listed("?environment=dev").await, ["dev"]);
    assert_eq!(
        listed(&format!("?sha={sha}&ref=main")).await,
        ["production"]
    );
    assert_eq!(
        listed("?task=deploy:migrations").await,
        Vec::<String>::new()
    );
    assert_eq!(get(&w, &format!("{DEPLOYMENTS}/{id}")).await["id"], id);
    let (missing, _) = call(
        &w,
        reqwest::Method::GET,
        &format!("{DEPLOYMENTS}/999999"),
        None,
    )
    .await;
    assert_eq!(missing, 404);

    assert!(w.sb.settle(Duration::from_secs(5)).await);
    let announced: Vec<Value> =
        w.sb.deliveries()
            .into_iter()
            .filter(|d| d.event == "deployment")
            .map(|d| d.payload())
            .collect();
    assert_eq!(announced.len(), 2);
    assert_eq!(announced[0]["action"], "created");
    assert_eq!(announced[0]["deployment"]["id"], id);
    assert_eq!(announced[0]["repository"]["full_name"], "acme/catalog");
}

#[tokio::test]
async fn refs_must_exist_and_required_checks_must_have_passed() {
    let (w, sha) = seeded().await;
    let before = w.sb.deliveries().len();
    let (status, body) = post(&w, DEPLOYMENTS, json!({"ref": "nope"})).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("No ref found for: nope"))
    );
    let (status, _) = post(&w, DEPLOYMENTS, json!({"environment": "dev"})).await;
    assert_eq!(status, 422, "ref is required");

    // A failed check on the commit blocks a deployment that checks them all,
    // and one that names it; naming none skips the check.
    let (made, _) = post(
        &w,
        "/repos/acme/catalog/check-runs",
        json!({"name": "ci", "head_sha": sha, "conclusion": "failure"}),
    )
    .await;
    assert_eq!(made, 201);
    for body in [
        json!({"ref": sha, "auto_merge": false}),
        json!({"ref": sha, "auto_merge": false, "required_contexts": ["ci"]}),
    ] {
        let (status, answer) = post(&w, DEPLOYMENTS, body).await;
        assert_eq!(status, 409, "{answer}");
    }
    assert!(get(&w, DEPLOYMENTS).await.as_array().unwrap().is_empty());
    assert!(w.sb.settle(Duration::from_secs(5)).await);
    assert!(
        w.sb.deliveries()[before..]
            .iter()
            .all(|d| d.event != "deployment"),
        "a refused deployment is not announced"
    );
    let (status, _) = post(
        &w,
        DEPLOYMENTS,
        json!({"ref": sha, "auto_merge": false, "required_contexts": []}),
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn auto_merge_brings_a_branch_up_to_date_or_refuses_a_conflict() {
    let (w, _) = seeded().await;
    let sb = &w.sb;
    sb.push_files(
        "acme/catalog",
        "topic",
        &[("a", b"1"), ("t", b"t")],
        "Topic",
        "paved[bot]",
    )
    .await
    .unwrap();
    let main = sb
        .push_files(
            "acme/catalog",
            "main",
            &[("m", b"m")],
            "Main moves",
            "paved[bot]",
        )
        .await
        .unwrap();
    let (status, made) = post(
        &w,
        DEPLOYMENTS,
        json!({"ref": "topic", "required_contexts": []}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let topic = sb.branch_sha("acme/catalog", "topic").await.unwrap();
    assert_eq!(made["sha"], topic.as_str(), "the merge commit is deployed");
    assert_eq!(
        sb.file("acme/catalog", "topic", "m").await.as_deref(),
        Some(&b"m"[..])
    );
    assert_eq!(sb.branch_sha("acme/catalog", "main").await.unwrap(), main);

    // Both sides change one file: the merge conflicts, nothing moves.
    sb.push_files(
        "acme/catalog",
        "clash",
        &[("a", b"clash")],
        "Clash",
        "paved[bot]",
    )
    .await
    .unwrap();
    sb.push_files(
        "acme/catalog",
        "main",
        &[("a", b"main")],
        "Main again",
        "paved[bot]",
    )
    .await
    .unwrap();
    let clash = sb.branch_sha("acme/catalog", "clash").await;
    let (status, answer) = post(
        &w,
        DEPLOYMENTS,
        json!({"ref": "clash", "required_contexts": []}),
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(sb.branch_sha("acme/catalog", "clash").await, clash);
    assert_eq!(get(&w, DEPLOYMENTS).await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn statuses_round_trip_and_success_retires_the_environments_older_deployments() {
    let (w, sha) = seeded().await;
    let deploy = |environment: &str| {
        let w = &w;
        let body = json!({"ref": sha, "environment": environment, "auto_merge": false, "required_contexts": []});
        async move {
            let (status, made) = post(w, DEPLOYMENTS, body).await;
            assert_eq!(status, 201, "{made}");
            made["id"].as_u64().unwrap()
        }
    };
    let report = |id: u64, body: Value| {
        let w = &w;
        async move { post(w, &format!("{DEPLOYMENTS}/{id}/statuses"), body).await }
    };
    let first = deploy("dev").await;
    let prod_first = deploy("prod-like").await;
    let (status, progress) = report(first, json!({"state": "in_progress"})).await;
    assert_eq!((status, &progress["state"]), (201, &json!("in_progress")));
    let (status, done) = report(
        first,
        json!({
            "state": "success", "environment_url": "https://svc.example.com",
            "log_url": "https://argocd.example.com/applications/svc-dev",
            "description": "Healthy",
        }),
    )
    .await;
    assert_eq!(status, 201, "{done}");
    assert_eq!(done["environment_url"], "https://svc.example.com");
    assert_eq!(
        done["log_url"],
        "https://argocd.example.com/applications/svc-dev"
    );
    assert_eq!(done["target_url"], done["log_url"]);
    assert_eq!(done["environment"], "dev");

    let statuses = get(&w, &format!("{DEPLOYMENTS}/{first}/statuses")).await;
    let states: Vec<&str> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["success", "in_progress"], "newest first");

    // A newer success in dev retires the older dev deployment.
    let second = deploy("dev").await;
    report(second, json!({"state": "success"})).await;
    let first_now = get(&w, &format!("{DEPLOYMENTS}/{first}/statuses")).await;
    assert_eq!(first_now[0]["state"], "inactive");
    assert_eq!(first_now[0]["environment_url"], "https://svc.example.com");
    // ... unless asked not to, and never a production environment's.
    let prod = |environment: &str| json!({"ref": sha, "environment": environment, "auto_merge": false, "required_contexts": [], "production_environment": true});
    let (_, p1) = post(&w, DEPLOYMENTS, prod("prod")).await;
    let (_, p2) = post(&w, DEPLOYMENTS, prod("prod")).await;
    let (p1, p2) = (p1["id"].as_u64().unwrap(), p2["id"].as_u64().unwrap());
    report(p1, json!({"state": "success"})).await;
    report(p2, json!({"state": "success"})).await;
    assert_eq!(
        get(&w, &format!("{DEPLOYMENTS}/{p1}/statuses")).await[0]["state"],
        "success"
    );
    let third = deploy("dev").await;
    report(third, json!({"state": "success", "auto_inactive": false})).await;
    let second_now = get(&w, &format!("{DEPLOYMENTS}/{second}/statuses")).await;
    assert_eq!(second_now[0]["state"], "success");
    assert_eq!(
        get(&w, &format!("{DEPLOYMENTS}/{prod_first}/statuses")).await,
        json!([])
    );

    // Bad input changes nothing.
    for bad in [
        json!({}),
        json!({"state": "healthy"}),
        json!({"state": "success", "description": "x".repeat(141)}),
    ] {
        let (status, _) = report(third, bad).await;
        assert_eq!(status, 422);
    }
    assert_eq!(
        get(&w, &format!("{DEPLOYMENTS}/{third}/statuses"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let environments = get(&w, "/repos/acme/catalog/environments").await;
    let names: Vec<&str> = environments["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev", "prod", "prod-like"]);
    assert_eq!(environments["total_count"], 3);

    assert!(w.sb.settle(Duration::from_secs(5)).await);
    let reported =
        w.sb.deliveries()
            .into_iter()
            .filter(|d| d.event == "deployment_status")
            .map(|d| d.payload())
            .find(|p| p["deployment_status"]["description"] == "Healthy")
            .expect("a deployment_status webhook");
    assert_eq!(reported["action"], "created");
    assert_eq!(reported["deployment"]["id"], first);
}

/// Our payloads carry every field GitHub's own example deliveries carry.
#[tokio::test]
async fn deployment_webhooks_are_shaped_like_githubs_examples() {
    let example = |name: &str| support::shared_json(&format!("github/webhooks/{name}"));
    let (Some(deployment), Some(status)) = (
        example("deployment.json"),
        example("deployment_status.json"),
    ) else {
        return;
    };
    let (w, sha) = seeded().await;
    let (_, made) = post(
        &w,
        DEPLOYMENTS,
        json!({"ref": sha, "auto_merge": false, "required_contexts": []}),
    )
    .await;
    let id = made["id"].as_u64().unwrap();
    post(
        &w,
        &format!("{DEPLOYMENTS}/{id}/statuses"),
        json!({"state": "success"}),
    )
    .await;
    assert!(w.sb.settle(Duration::from_secs(5)).await);
    let ours = |event: &str| {
        w.sb.deliveries()
            .into_iter()
            .find(|d| d.event == event)
            .map(|d| d.payload())
            .unwrap_or_else(|| panic!("no {event} delivery"))
    };
    let missing = |theirs: &Value, ours: &Value, at: &str| -> Vec<String> {
        theirs
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| ours.get(k.as_str()).is_none())
            .map(|k| format!("{at}.{k}"))
            .collect()
    };
    let (our_deployment, our_status) = (ours("deployment"), ours("deployment_status"));
    let mut problems = missing(&deployment, &our_deployment, "deployment");
    problems.extend(missing(
        &deployment["deployment"],
        &our_deployment["deployment"],
        "deployment.deployment",
    ));
    problems.extend(missing(&status, &our_status, "deployment_status"));
    problems.extend(missing(
        &status["deployment_status"],
        &our_status["deployment_status"],
        "deployment_status.deployment_status",
    ));
    assert!(problems.is_empty(), "missing: {problems:?}");
}

/// A notification Argo CD's GitHub service sends for `revision` in dev.
fn notification(revision: &str, health: Health) -> Notification {
    Notification {
        repo: "acme/catalog".into(),
        revision: revision.into(),
        environment: "dev".into(),
        health,
        environment_url: "https://svc.apps.acme.dev".into(),
        log_url: "https://argocd.acme.dev/applications/svc-dev".into(),
        message: "svc-dev is Healthy".into(),
    }
}

#[tokio::test]
async fn argo_cd_reports_as_its_own_app_on_the_deployment_it_finds_or_makes() {
    let (w, sha) = seeded().await;
    let (_, made) = post(
        &w,
        DEPLOYMENTS,
        json!({"ref": sha, "environment": "dev", "auto_merge": false, "required_contexts": []}),
    )
    .await;
    w.sb.clear_requests();
    let id =
        w.sb.argo_cd_notifies(&notification(&sha, Health::Healthy))
            .await
            .unwrap();
    // Argo CD's own calls, with its own installation's token.
    let calls: Vec<(String, String)> =
        w.sb.requests()
            .0
            .iter()
            .map(|r| (r.operation.clone().unwrap_or_default(), r.caller.clone()))
            .collect();
    let ops: Vec<&str> = calls.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(
        ops,
        ["repos/list-deployments", "repos/create-deployment-status"]
    );
    let paved = format!("installation:{}", w.installation);
    assert!(
        calls
            .iter()
            .all(|(_, caller)| caller.starts_with("installation:") && *caller != paved),
        "{calls:?}"
    );
    assert_eq!(
        id,
        made["id"].as_u64().unwrap(),
        "the deployment paved made"
    );
    let statuses = get(&w, &format!("{DEPLOYMENTS}/{id}/statuses")).await;
    assert_eq!(statuses[0]["state"], "success");
    assert_eq!(statuses[0]["creator"]["login"], "argo-cd[bot]");
    assert_eq!(statuses[0]["environment_url"], "https://svc.apps.acme.dev");
    let hook = w.hooks.wait_for("deployment_status", Some("created")).await;
    assert_eq!(hook.payload["sender"]["login"], "argo-cd[bot]");

    // No deployment of the revision: Argo CD makes one, as its service does.
    let other =
        w.sb.push_files("acme/catalog", "main", &[("b", b"2")], "Two", "paved[bot]")
            .await
            .unwrap();
    let made_by_argo =
        w.sb.argo_cd_notifies(&notification(&other, Health::SyncFailed))
            .await
            .unwrap();
    let deployment = get(&w, &format!("{DEPLOYMENTS}/{made_by_argo}")).await;
    assert_eq!(deployment["creator"]["login"], "argo-cd[bot]");
    assert_eq!(deployment["sha"], other.as_str());
    let statuses = get(&w, &format!("{DEPLOYMENTS}/{made_by_argo}/statuses")).await;
    assert_eq!(statuses[0]["state"], "error");
}

#[tokio::test]
async fn argo_cd_on_a_repository_that_does_not_exist_is_told_so_and_changes_nothing() {
    let (w, sha) = seeded().await;
    assert!(w.sb.settle(Duration::from_secs(5)).await);
    let before = w.sb.deliveries().len();
    let mut n = notification(&sha, Health::Degraded);
    n.repo = "acme/nowhere".into();
    let missing = w.sb.argo_cd_notifies(&n).await.unwrap_err();
    assert_eq!(missing.status, 404);
    assert!(w.sb.settle(Duration::from_secs(5)).await);
    assert_eq!(w.sb.deliveries().len(), before, "no webhook fired");
}
