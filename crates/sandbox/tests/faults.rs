//! Fault injection, rate limits, the request log and delivery bookkeeping.

mod support;

use std::time::{Duration, Instant};

use paved_sandbox::{FaultKind, FaultRule, Sandbox, SandboxConfig, SecondaryLimits};
use reqwest::StatusCode;
use support::world;

async fn get_repo(sb: &Sandbox, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/repos/acme/catalog", sb.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_fault_mode_answers_with_githubs_status_and_headers() {
    let w = world(SandboxConfig::default()).await;
    let token = w.sb.installation_token(w.installation);
    let token = token.expose();
    let cases = [
        (
            FaultKind::ServerError,
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
        ),
        (FaultKind::BadGateway, StatusCode::BAD_GATEWAY, None),
        (
            FaultKind::SecondaryRateLimit { retry_after: 7 },
            StatusCode::FORBIDDEN,
            Some("7"),
        ),
        (
            FaultKind::TooManyRequests { retry_after: 3 },
            StatusCode::TOO_MANY_REQUESTS,
            Some("3"),
        ),
    ];
    for (kind, status, retry_after) in cases {
        w.sb.inject(FaultRule::next("repos/get", kind.clone(), 2));
        for _ in 0..2 {
            let response = get_repo(&w.sb, token).await;
            assert_eq!(response.status(), status, "{kind:?}");
            assert_eq!(
                response
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap()),
                retry_after,
                "{kind:?}"
            );
            assert!(response.headers().contains_key("x-ratelimit-remaining"));
            let body: serde_json::Value = response.json().await.unwrap();
            assert!(body["message"].is_string() && body["documentation_url"].is_string());
            if status == StatusCode::FORBIDDEN {
                assert!(
                    body["message"]
                        .as_str()
                        .unwrap()
                        .contains("secondary rate limit")
                );
            }
        }
        assert_eq!(
            get_repo(&w.sb, token).await.status(),
            200,
            "only the next 2 calls fail"
        );
    }

    // Other endpoints are untouched by a fault on one operation.
    w.sb.inject(FaultRule::next("issues/create", FaultKind::ServerError, 1));
    assert_eq!(get_repo(&w.sb, token).await.status(), 200);
    // Route patterns match too.
    w.sb.inject(FaultRule::next(
        "GET /repos/{owner}/*",
        FaultKind::BadGateway,
        1,
    ));
    assert_eq!(get_repo(&w.sb, token).await.status(), 502);
    w.sb.clear_faults();

    // A stall outlasts the client's timeout; latency only slows the answer.
    w.sb.inject(FaultRule::next(
        "repos/get",
        FaultKind::Stall { millis: 1500 },
        1,
    ));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let url = format!("{}/repos/acme/catalog", w.sb.url());
    let timed_out = impatient.get(&url).bearer_auth(token).send().await;
    assert!(timed_out.unwrap_err().is_timeout());
    w.sb.inject(FaultRule::next(
        "repos/get",
        FaultKind::Latency { millis: 200 },
        1,
    ));
    let started = Instant::now();
    assert_eq!(get_repo(&w.sb, token).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn faults_can_be_injected_over_http() {
    let w = world(SandboxConfig::default()).await;
    let token = w.sb.installation_token(w.installation);
    let http = reqwest::Client::new();
    let faults = format!("{}/_sandbox/faults", w.sb.url());
    let added = http
        .post(&faults)
        .json(&serde_json::json!({"endpoint": "repos/get", "kind": "server_error", "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let listed: serde_json::Value = http
        .get(&faults)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["endpoint"], "repos/get");
    assert_eq!(get_repo(&w.sb, token.expose()).await.status(), 500);
    assert_eq!(get_repo(&w.sb, token.expose()).await.status(), 200);

    let exhaust = format!("{}/_sandbox/rate-limit/exhaust", w.sb.url());
    let response = http
        .post(&exhaust)
        .json(&serde_json::json!({"seconds": 60}))
        .send()
        .await;
    assert_eq!(response.unwrap().status(), 204);
    let limited = get_repo(&w.sb, token.expose()).await;
    assert_eq!(limited.status(), 403);
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    let body: serde_json::Value = limited.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded")
    );
    assert_eq!(http.delete(&faults).send().await.unwrap().status(), 204);
    assert_eq!(get_repo(&w.sb, token.expose()).await.status(), 200);
}

#[tokio::test]
async fn the_primary_rate_limit_is_a_budget_per_installation() {
    let w = world(SandboxConfig {
        rate_limit: 3,
        ..SandboxConfig::default()
    })
    .await;
    let token = w.sb.installation_token(w.installation);
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let response = get_repo(&w.sb, token.expose()).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        assert_eq!(response.headers()["x-ratelimit-resource"], "core");
        remaining.push(
            response.headers()["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    // GET /rate_limit reports the budget without spending it.
    let gh = support::client(&w.sb, &token);
    let limits = gh.ratelimit().get().await.unwrap();
    assert_eq!((limits.rate.limit, limits.rate.remaining), (3, 0));
    assert_eq!(limits.resources.core.used, 3);
    let spent = get_repo(&w.sb, token.expose()).await;
    assert_eq!(spent.status(), 403);
    let reset: i64 = spent.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > chrono::Utc::now().timestamp());
    // Another caller has its own budget.
    let alice = w.sb.create_user("alice");
    assert_eq!(get_repo(&w.sb, alice.token().expose()).await.status(), 200);

    w.sb.clear_faults();
    w.sb.exhaust_rate_limit(Duration::from_secs(30));
    assert_eq!(get_repo(&w.sb, alice.token().expose()).await.status(), 403);

    // An installation on an organisation of more than 20 repositories gets
    // 50 calls more for each, as on GitHub.
    w.sb.clear_faults();
    for i in 0..21 {
        w.sb.create_repo("acme", &format!("r{i}")).await.unwrap();
    }
    let grown = get_repo(&w.sb, token.expose()).await;
    assert_eq!(grown.headers()["x-ratelimit-limit"], "103");
    assert_eq!(grown.status(), 200);
}

/// POSTs a comment on issue 1 of acme/catalog as `token`.
async fn comment(sb: &Sandbox, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/repos/acme/catalog/issues/1/comments", sb.url()))
        .bearer_auth(token)
        .json(&serde_json::json!({ "body": "hello" }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn githubs_secondary_limits_are_on_by_default_and_answered_as_github_does() {
    let w = world(SandboxConfig::default()).await;
    let alice = w.sb.create_user("alice");
    alice
        .open_issue("acme/catalog", "one", "", &[])
        .await
        .unwrap();
    let token = w.sb.installation_token(w.installation);
    // 80 content-creating requests in a minute pass; the 81st does not.
    for i in 0..80 {
        assert_eq!(comment(&w.sb, token.expose()).await.status(), 201, "{i}");
    }
    w.sb.clear_requests();
    let refused = comment(&w.sb, token.expose()).await;
    assert_eq!(refused.status(), 403);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(refused.headers().contains_key("x-ratelimit-remaining"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("You have exceeded a secondary rate limit"),
        "{body}"
    );
    assert!(body["documentation_url"].is_string());
    assert_eq!(w.sb.secondary_limit_answers(), 1);
    // Nothing was made, and the refusal is in the log.
    let comments = w.sb.comments("acme/catalog", 1);
    assert_eq!(comments.len(), 80);
    let log = w.sb.requests();
    assert_eq!(log.0.len(), 1);
    assert_eq!(log.0[0].status, 403);
    // Reads are not content; a person's own pace is not limited.
    assert_eq!(get_repo(&w.sb, token.expose()).await.status(), 200);
    assert_eq!(comment(&w.sb, alice.token().expose()).await.status(), 201);
    // Clearing faults empties the windows.
    w.sb.clear_faults();
    assert_eq!(comment(&w.sb, token.expose()).await.status(), 201);
}

#[tokio::test]
async fn secondary_limits_count_points_per_endpoint_and_requests_under_way() {
    let w = world(SandboxConfig {
        secondary: Some(SecondaryLimits {
            concurrent: 2,
            points_per_minute: 10,
            ..SecondaryLimits::GITHUB
        }),
        ..SandboxConfig::default()
    })
    .await;
    let token = w.sb.installation_token(w.installation);
    // Ten reads of one endpoint spend its points; another endpoint is free.
    for _ in 0..10 {
        assert_eq!(get_repo(&w.sb, token.expose()).await.status(), 200);
    }
    assert_eq!(get_repo(&w.sb, token.expose()).await.status(), 403);
    let issues = reqwest::Client::new()
        .get(format!("{}/repos/acme/catalog/issues", w.sb.url()))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(issues.status(), 200);
    // Three slow requests at once: two are served, one is refused.
    w.sb.inject(FaultRule::next(
        "issues/list-for-repo",
        FaultKind::Latency { millis: 500 },
        3,
    ));
    let slow = || async {
        reqwest::Client::new()
            .get(format!("{}/repos/acme/catalog/issues", w.sb.url()))
            .bearer_auth(token.expose())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let mut statuses = vec![];
    let (a, b, c) = tokio::join!(slow(), slow(), slow());
    statuses.extend([a, b, c]);
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 403]);
    assert_eq!(w.sb.secondary_limit_answers(), 2);
}

#[tokio::test]
async fn the_request_log_answers_how_many_calls_were_made() {
    let w = world(SandboxConfig::default()).await;
    let alice = w.sb.create_user("alice");
    w.sb.clear_requests();
    alice
        .open_issue("acme/catalog", "one", "", &[])
        .await
        .unwrap();
    alice
        .open_issue("acme/catalog", "two", "", &[])
        .await
        .unwrap();
    let _ = get_repo(&w.sb, "ghs_bad").await;
    let log = w.sb.requests();
    assert_eq!(log.count("issues/create"), 2);
    assert_eq!(log.by("user:alice").count(), 2);
    let refused = log.0.iter().find(|r| r.status == 401).unwrap();
    assert_eq!(refused.operation.as_deref(), Some("repos/get"));
    assert_eq!(refused.path, "/repos/acme/catalog");

    let over_http: serde_json::Value = reqwest::get(format!("{}/_sandbox/requests", w.sb.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http.as_array().unwrap().len(), 3);
    assert_eq!(over_http[0]["method"], "POST");
    assert_eq!(over_http[0]["caller"], "user:alice");
}

#[tokio::test]
async fn deliveries_are_recorded_redelivered_and_survive_a_dead_receiver() {
    let w = world(SandboxConfig::default()).await;
    let alice = w.sb.create_user("alice");
    alice
        .open_issue("acme/catalog", "hello", "", &[])
        .await
        .unwrap();
    let first = w.hooks.wait_for("issues", Some("opened")).await;
    assert!(w.sb.settle(Duration::from_secs(5)).await);
    let recorded = w.sb.deliveries();
    let events: Vec<&str> = recorded.iter().map(|d| d.event.as_str()).collect();
    assert_eq!(events, ["installation", "issues"]);
    assert!(recorded.iter().all(|d| d.status_code == Some(200)));
    assert_eq!(recorded[1].guid, first.guid);

    let again = reqwest::Client::new()
        .post(format!("{}/_sandbox/deliveries/1/redeliver", w.sb.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 202);
    assert!(w.sb.settle(Duration::from_secs(5)).await);
    let seen = w.hooks.all();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].guid, seen[1].guid, "a redelivery keeps its GUID");
    assert!(w.sb.deliveries()[2].redelivery);

    // Nobody listening: recorded as failed, the sandbox carries on.
    let lonely = Sandbox::start(SandboxConfig {
        webhook_url: Some("http://127.0.0.1:9/webhook".into()),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    lonely.create_org("acme");
    lonely.install_app("acme");
    lonely.create_repo("acme", "catalog").await.unwrap();
    let bob = lonely.create_user("bob");
    bob.open_issue("acme/catalog", "anyone?", "", &[])
        .await
        .unwrap();
    assert!(lonely.settle(Duration::from_secs(10)).await);
    let failed = &lonely.deliveries()[0];
    assert!(failed.status_code.is_none() && failed.error.is_some());
    assert!(!failed.succeeded());
    bob.open_issue("acme/catalog", "still here", "", &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn without_a_webhook_url_events_make_no_deliveries_until_one_is_set() {
    let w = world(SandboxConfig::default()).await;
    let url = w.hooks.url.clone();
    assert!(w.sb.settle(Duration::from_secs(5)).await);
    let before = w.sb.deliveries().len();
    w.sb.set_webhook_url(None);
    let alice = w.sb.create_user("alice");
    alice
        .open_issue("acme/catalog", "unheard", "", &[])
        .await
        .unwrap();
    assert!(w.sb.settle(Duration::from_secs(5)).await);
    assert_eq!(w.sb.deliveries().len(), before, "no delivery without a URL");

    w.sb.set_webhook_url(Some(url));
    alice
        .open_issue("acme/catalog", "heard", "", &[])
        .await
        .unwrap();
    let heard = w.hooks.wait_for("issues", Some("opened")).await;
    assert_eq!(heard.payload["issue"]["title"], "heard");
    assert!(w.sb.settle(Duration::from_secs(5)).await);
    let titles: Vec<String> = w
        .hooks
        .all()
        .iter()
        .filter(|r| r.event == "issues")
        .map(|r| {
            r.payload["issue"]["title"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(titles, ["heard"]);
}
