//! The sandbox's answers and webhook payloads checked against GitHub's own
//! OpenAPI description (`../shared/github/rest-openapi-subset.json`), when it
//! is present: required fields and JSON types, following `$ref`s.

mod support;

use paved_sandbox::{Permission, SandboxConfig};
use serde_json::{Value, json};
use support::{app_client, world};

fn spec() -> Option<Value> {
    support::shared_json("github/rest-openapi-subset.json")
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            resolve(spec, &spec["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Problems with `value` against `schema`, as JSON paths.
fn check(spec: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if value.is_null() {
        let nullable = schema["nullable"] == true
            || schema["type"]
                .as_array()
                .is_some_and(|t| t.contains(&json!("null")))
            || schema.get("type").is_none();
        if !nullable {
            problems.push(format!("{at}: null"));
        }
        return;
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = schema[key].as_array() {
            let fits = options.iter().any(|o| {
                let mut p = Vec::new();
                check(spec, o, value, at, &mut p);
                p.is_empty()
            });
            if !fits {
                problems.push(format!("{at}: fits no {key} option"));
            }
            return;
        }
    }
    if let Some(all) = schema["allOf"].as_array() {
        for part in all {
            check(spec, part, value, at, problems);
        }
        return;
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let kind = match value {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::Null => "null",
    };
    let ok = types.is_empty()
        || types.contains(&kind)
        || (kind == "integer" && types.contains(&"number"));
    if !ok {
        problems.push(format!("{at}: {kind}, expected {types:?}"));
        return;
    }
    if let Some(required) = schema["required"].as_array() {
        for field in required.iter().filter_map(Value::as_str) {
            if value.get(field).is_none() {
                problems.push(format!("{at}.{field}: missing"));
            }
        }
    }
    if let (Some(props), Some(object)) = (schema["properties"].as_object(), value.as_object()) {
        for (name, sub) in props {
            if let Some(v) = object.get(name) {
                check(spec, sub, v, &format!("{at}.{name}"), problems);
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, v) in list.iter().take(3).enumerate() {
            check(spec, items, v, &format!("{at}[{i}]"), problems);
        }
    }
}

fn response_schema<'a>(spec: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    &spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
}

#[tokio::test]
async fn rest_answers_and_webhooks_match_githubs_schemas() {
    let Some(spec) = spec() else { return };
    // The checker itself must catch an incomplete object.
    let repo_schema = response_schema(&spec, "/repos/{owner}/{repo}", "get", "200");
    let mut caught = Vec::new();
    check(
        &spec,
        repo_schema,
        &json!({"id": "x"}),
        "empty",
        &mut caught,
    );
    assert!(caught.len() > 20, "{caught:?}");
    let w = world(SandboxConfig::default()).await;
    let alice = w.sb.create_user("alice");
    w.sb.set_org_role("alice", "acme", Permission::Admin);
    w.sb.push_files(
        "acme/catalog",
        "main",
        &[
            ("paved.yaml", b"x: 1\n"),
            (".github/workflows/ci.yml", b"name: CI\non: push\n"),
        ],
        "seed",
        "alice",
    )
    .await
    .unwrap();
    // The seed push queued a run of CI; it starts and completes.
    w.sb.start_workflow_run("acme/catalog", "main", "CI")
        .await
        .unwrap();
    w.sb.complete_workflow_run("acme/catalog", "main", "CI", "failure")
        .await
        .unwrap();
    alice
        .push_files("acme/catalog", "feature", &[("b.txt", b"b\n")], "b")
        .await
        .unwrap();
    let token = w.sb.installation_token(w.installation);
    let http = reqwest::Client::new();
    let base = w.sb.url();
    let call = |method: reqwest::Method, path: String, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(token.expose());
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16().to_string();
            (status, response.json::<Value>().await.unwrap_or_default())
        }
    };
    let number = alice
        .open_issue("acme/catalog", "Hello", "body", &[])
        .await
        .unwrap();
    let sha = w.sb.branch_sha("acme/catalog", "main").await.unwrap();
    use reqwest::Method;
    let cases: Vec<(&str, &str, Method, String, Option<Value>)> = vec![
        (
            "/repos/{owner}/{repo}",
            "get",
            Method::GET,
            "/repos/acme/catalog".into(),
            None,
        ),
        (
            "/orgs/{org}/repos",
            "post",
            Method::POST,
            "/orgs/acme/repos".into(),
            Some(json!({"name": "svc"})),
        ),
        (
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            "post",
            Method::POST,
            format!("/repos/acme/catalog/issues/{number}/comments"),
            Some(json!({"body": "hi"})),
        ),
        (
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            "get",
            Method::GET,
            format!("/repos/acme/catalog/issues/{number}/comments"),
            None,
        ),
        (
            "/repos/{owner}/{repo}/issues/{issue_number}/labels",
            "post",
            Method::POST,
            format!("/repos/acme/catalog/issues/{number}/labels"),
            Some(json!({"labels": ["a"]})),
        ),
        (
            "/repos/{owner}/{repo}/issues/{issue_number}/labels",
            "put",
            Method::PUT,
            format!("/repos/acme/catalog/issues/{number}/labels"),
            Some(json!({"labels": ["b"]})),
        ),
        (
            "/repos/{owner}/{repo}/check-runs",
            "post",
            Method::POST,
            "/repos/acme/catalog/check-runs".into(),
            Some(json!({"name": "paved", "head_sha": sha})),
        ),
        (
            "/repos/{owner}/{repo}/collaborators/{username}/permission",
            "get",
            Method::GET,
            "/repos/acme/catalog/collaborators/alice/permission".into(),
            None,
        ),
        (
            "/repos/{owner}/{repo}/pulls",
            "post",
            Method::POST,
            "/repos/acme/catalog/pulls".into(),
            Some(json!({"title": "F", "head": "feature", "base": "main"})),
        ),
        (
            "/repos/{owner}/{repo}/pulls",
            "get",
            Method::GET,
            "/repos/acme/catalog/pulls".into(),
            None,
        ),
        (
            "/orgs/{org}/memberships/{username}",
            "get",
            Method::GET,
            "/orgs/acme/memberships/alice".into(),
            None,
        ),
        (
            "/repos/{owner}/{repo}/contents/{path}",
            "get",
            Method::GET,
            "/repos/acme/catalog/contents/paved.yaml".into(),
            None,
        ),
    ];
    let mut problems = Vec::new();
    // A deployment first, so that its own paths have something to answer.
    let (_, deployment) = call(
        Method::POST,
        "/repos/acme/catalog/deployments".into(),
        Some(json!({"ref": "main", "environment": "dev", "auto_merge": false, "required_contexts": []})),
    )
    .await;
    let id = deployment["id"].as_u64().unwrap();
    let deployments = format!("/repos/acme/catalog/deployments/{id}");
    let cases = cases.into_iter().chain([
        (
            "/repos/{owner}/{repo}/deployments",
            "post",
            Method::POST,
            "/repos/acme/catalog/deployments".into(),
            Some(json!({"ref": "main", "required_contexts": [], "payload": {"a": 1}})),
        ),
        (
            "/repos/{owner}/{repo}/deployments",
            "get",
            Method::GET,
            "/repos/acme/catalog/deployments?environment=dev".into(),
            None,
        ),
        (
            "/repos/{owner}/{repo}/deployments/{deployment_id}",
            "get",
            Method::GET,
            deployments.clone(),
            None,
        ),
        (
            "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
            "post",
            Method::POST,
            format!("{deployments}/statuses"),
            Some(json!({"state": "success", "environment_url": "https://svc.example.com"})),
        ),
        (
            "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
            "get",
            Method::GET,
            format!("{deployments}/statuses"),
            None,
        ),
        (
            "/repos/{owner}/{repo}/environments",
            "get",
            Method::GET,
            "/repos/acme/catalog/environments".into(),
            None,
        ),
        (
            "/repos/{owner}/{repo}/actions/runs",
            "get",
            Method::GET,
            "/repos/acme/catalog/actions/runs?branch=main&status=failure".into(),
            None,
        ),
    ]);
    for (template, method, verb, path, body) in cases {
        let (status, value) = call(verb, path.clone(), body).await;
        let schema = response_schema(&spec, template, method, &status);
        assert!(
            !schema.is_null(),
            "{method} {path} answered {status}: {value}"
        );
        check(
            &spec,
            schema,
            &value,
            &format!("{method} {path}"),
            &mut problems,
        );
    }
    let (_, runs) = call(
        Method::GET,
        "/repos/acme/catalog/actions/runs?status=failure".into(),
        None,
    )
    .await;
    assert_eq!(runs["total_count"], 1, "{runs}");
    assert_eq!(runs["workflow_runs"][0]["name"], "CI", "{runs}");
    // App endpoints, authenticated with the JWT.
    let app = app_client(&w.sb);
    let me: Value = app.get("/app", None::<&()>).await.unwrap();
    check(
        &spec,
        response_schema(&spec, "/app", "get", "200"),
        &me,
        "GET /app",
        &mut problems,
    );
    let installation: Value = app
        .get("/repos/acme/catalog/installation", None::<&()>)
        .await
        .unwrap();
    let schema = response_schema(&spec, "/repos/{owner}/{repo}/installation", "get", "200");
    check(
        &spec,
        schema,
        &installation,
        "GET installation",
        &mut problems,
    );
    let path = format!("/app/installations/{}/access_tokens", w.installation);
    let token: Value = app.post(path, None::<&()>).await.unwrap();
    let schema = response_schema(
        &spec,
        "/app/installations/{installation_id}/access_tokens",
        "post",
        "201",
    );
    check(&spec, schema, &token, "POST access_tokens", &mut problems);

    // Webhook payloads against the webhook schemas.
    let merged = alice.merge_pull("acme/catalog", 2).await;
    assert!(merged.is_ok(), "{merged:?}");
    assert!(w.sb.settle(std::time::Duration::from_secs(5)).await);
    let schemas = [
        ("issues", "opened", "webhook-issues-opened"),
        ("issues", "labeled", "webhook-issues-labeled"),
        ("issues", "unlabeled", "webhook-issues-unlabeled"),
        ("issue_comment", "created", "webhook-issue-comment-created"),
        ("pull_request", "opened", "webhook-pull-request-opened"),
        ("pull_request", "closed", "webhook-pull-request-closed"),
        ("push", "", "webhook-push"),
        ("installation", "created", "webhook-installation-created"),
        (
            "workflow_run",
            "completed",
            "webhook-workflow-run-completed",
        ),
        ("deployment", "created", "webhook-deployment-created"),
        (
            "deployment_status",
            "created",
            "webhook-deployment-status-created",
        ),
    ];
    for (event, action, name) in schemas {
        let delivery =
            w.sb.deliveries()
                .into_iter()
                .find(|d| d.event == event && d.action.as_deref().unwrap_or("") == action)
                .unwrap_or_else(|| panic!("no {event}.{action} delivery"));
        let schema = &spec["components"]["schemas"][name];
        assert!(!schema.is_null(), "{name} not in the spec");
        check(&spec, schema, &delivery.payload(), name, &mut problems);
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    let unknown: Vec<_> = w.sb.requests().unknown().cloned().collect();
    assert!(
        unknown.is_empty(),
        "requests the sandbox does not serve: {unknown:?}"
    );
}
