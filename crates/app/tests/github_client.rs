//! The GitHub client against a local server that checks the App JWT's RS256
//! signature with the public key and issues expiring installation tokens.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use paved_app::clock::{Clock, ManualClock};
use paved_app::github::{
    AppKey, Auth, GitHub, GitHubError, GitHubOptions, PaceLimits, RetryPolicy,
};
use paved_app::metrics::Metrics;
use serde_json::json;

const APP_ID: u64 = 77;

/// Canned answers for `GET /repos/acme/{repo}`, served in order; then 200.
type Script = VecDeque<(u16, Vec<(&'static str, String)>)>;

#[derive(Default)]
struct Fake {
    token_requests: AtomicUsize,
    repo_requests: AtomicUsize,
    issued: Mutex<Vec<String>>,
    script: Mutex<Script>,
    /// Unix time the fake GitHub believes it is (follows the test's clock).
    now: Mutex<u64>,
    token_lifetime: u64,
}

fn unix(t: SystemTime) -> u64 {
    paved_app::clock::unix_seconds(t)
}

async fn create_token(
    State(f): State<Arc<Fake>>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Response {
    let Some(jwt) = bearer(&headers) else {
        return unauthorized();
    };
    let mut v = Validation::new(Algorithm::RS256);
    v.set_required_spec_claims(&["exp", "iat", "iss"]);
    v.validate_exp = false; // checked against the fake's own clock below
    let key = DecodingKey::from_rsa_der(&common::key().public_der);
    let Ok(claims) = jsonwebtoken::decode::<serde_json::Value>(&jwt, &key, &v) else {
        return unauthorized();
    };
    let now = *f.now.lock().unwrap();
    let (iat, exp) = (
        claims.claims["iat"].as_u64().unwrap(),
        claims.claims["exp"].as_u64().unwrap(),
    );
    if claims.claims["iss"] != json!(APP_ID.to_string())
        || exp <= now
        || exp - iat > 600
        || id != 4242
    {
        return unauthorized();
    }
    let n = f.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(Duration::from_millis(50)).await; // widen the race window
    let token = format!("ghs_test{n}");
    f.issued.lock().unwrap().push(token.clone());
    let expires = now + f.token_lifetime;
    let expires_at = time_string(expires);
    (
        StatusCode::CREATED,
        axum::Json(json!({"token": token, "expires_at": expires_at, "permissions": {}})),
    )
        .into_response()
}

async fn get_repo(
    State(f): State<Arc<Fake>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    f.repo_requests.fetch_add(1, Ordering::SeqCst);
    let valid = bearer(&headers).is_some_and(|t| f.issued.lock().unwrap().last() == Some(&t));
    if !valid {
        return unauthorized();
    }
    let (status, extra) = f
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, vec![]));
    let mut response = if status == 200 {
        axum::Json(json!({"id": 1, "name": name, "full_name": format!("acme/{name}")}))
            .into_response()
    } else {
        axum::Json(json!({"message": format!("scripted {status}"), "documentation_url": "https://docs.github.com"}))
            .into_response()
    };
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
        .headers_mut()
        .insert("x-ratelimit-remaining", "4999".parse().unwrap());
    for (k, v) in extra {
        response.headers_mut().insert(k, v.parse().unwrap());
    }
    response
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

fn unauthorized() -> Response {
    let body =
        json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"});
    (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a unix time (days-to-civil, restated).
fn time_string(t: u64) -> String {
    let days = (t / 86_400) as i64;
    let rem = t % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

struct Harness {
    addr: std::net::SocketAddr,
    fake: Arc<Fake>,
    clock: Arc<ManualClock>,
    github: GitHub,
    metrics: Arc<Metrics>,
}

impl Harness {
    async fn new(retry: RetryPolicy) -> Self {
        let start = SystemTime::now();
        let fake = Arc::new(Fake {
            token_lifetime: 3600,
            now: Mutex::new(unix(start)),
            ..Fake::default()
        });
        let router = Router::new()
            .route("/app/installations/{id}/access_tokens", post(create_token))
            .route("/repos/acme/{name}", get(get_repo))
            .with_state(fake.clone());
        let addr = common::spawn(router).await;
        let clock = Arc::new(ManualClock::new(start));
        let metrics = Arc::new(Metrics::new());
        let github = GitHub::new(GitHubOptions {
            api_url: format!("http://{addr}"),
            app_id: APP_ID,
            key: AppKey::from_pem(&common::key().pem).unwrap(),
            retry,
            timeout: Duration::from_secs(5),
            clock: clock.clone(),
            metrics: metrics.clone(),
            pace: Some(PaceLimits::GITHUB),
        })
        .unwrap();
        Self {
            addr,
            fake,
            clock,
            github,
            metrics,
        }
    }

    fn github_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        *self.fake.now.lock().unwrap() = unix(self.clock.now());
    }

    async fn get_repo(&self) -> Result<serde_json::Value, GitHubError> {
        self.github
            .get("get_repo", Auth::Installation(4242), "/repos/acme/widgets")
            .await
    }

    fn script(&self, answers: &[(u16, &[(&'static str, &str)])]) {
        let mut s = self.fake.script.lock().unwrap();
        for (status, headers) in answers {
            s.push_back((
                *status,
                headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            ));
        }
    }
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_wait: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let h = Harness::new(quick()).await;
    let calls = (0..20).map(|_| h.github.installation_token(4242));
    let tokens = futures_util::future::join_all(calls).await;
    assert!(
        tokens
            .iter()
            .all(|t| t.as_ref().unwrap().expose() == "ghs_test1")
    );
    assert_eq!(h.fake.token_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_token_is_refreshed_five_minutes_before_it_expires() {
    let h = Harness::new(quick()).await;
    h.get_repo().await.unwrap();
    h.advance(Duration::from_secs(54 * 60));
    h.get_repo().await.unwrap();
    assert_eq!(
        h.fake.token_requests.load(Ordering::SeqCst),
        1,
        "still fresh at 54 minutes"
    );
    h.advance(Duration::from_secs(60));
    assert_eq!(
        h.github.installation_token(4242).await.unwrap().expose(),
        "ghs_test2"
    );
    h.get_repo().await.unwrap();
    assert_eq!(h.fake.token_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn server_errors_are_retried_and_every_attempt_counted() {
    let h = Harness::new(quick()).await;
    h.script(&[(502, &[]), (500, &[])]);
    let repo = h.get_repo().await.unwrap();
    assert_eq!(repo["full_name"], "acme/widgets");
    assert_eq!(h.fake.repo_requests.load(Ordering::SeqCst), 3);
    let text = h.metrics.render();
    for line in [
        r#"paved_github_api_calls_total{operation="get_repo",status="502"} 1"#,
        r#"paved_github_api_calls_total{operation="get_repo",status="500"} 1"#,
        r#"paved_github_api_calls_total{operation="get_repo",status="200"} 1"#,
        r#"paved_github_api_calls_total{operation="create_installation_token",status="201"} 1"#,
        r#"paved_github_rate_limit_remaining{installation="4242"} 4999"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
}

#[tokio::test]
async fn retries_are_bounded_in_count() {
    let h = Harness::new(quick()).await;
    h.script(&[(503, &[]), (503, &[]), (503, &[]), (503, &[]), (503, &[])]);
    let err = h.get_repo().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(
        err.to_string(),
        "GitHub answered 503 Service Unavailable to get_repo: scripted 503"
    );
    assert_eq!(h.fake.repo_requests.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn secondary_rate_limits_wait_as_told_then_succeed() {
    let h = Harness::new(quick()).await;
    h.script(&[
        (403, &[("retry-after", "0")]),
        (429, &[("retry-after", "0")]),
    ]);
    h.get_repo().await.unwrap();
    assert_eq!(h.fake.repo_requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_exhausted_primary_limit_is_not_hammered() {
    let h = Harness::new(quick()).await;
    let reset = (unix(h.clock.now()) + 3600).to_string();
    h.script(&[(
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ],
    )]);
    let err = h.get_repo().await.unwrap_err();
    let GitHubError::RateLimited {
        operation,
        reset_at,
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!(operation, "get_repo");
    assert!(unix(reset_at) >= unix(h.clock.now()) + 3600);
    assert_eq!(
        h.fake.repo_requests.load(Ordering::SeqCst),
        1,
        "one call, then it waits for the reset"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let h = Harness::new(quick()).await;
    h.script(&[(404, &[]), (403, &[])]);
    assert!(h.get_repo().await.unwrap_err().is_not_found());
    assert_eq!(
        h.get_repo().await.unwrap_err().status().map(|s| s.as_u16()),
        Some(403)
    );
    assert_eq!(h.fake.repo_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let h = Harness::new(quick()).await;
    h.get_repo().await.unwrap();
    h.script(&[(401, &[])]);
    h.get_repo().await.unwrap();
    assert_eq!(h.fake.token_requests.load(Ordering::SeqCst), 2);
}

fn client(api_url: String, key: AppKey, h: &Harness) -> GitHub {
    GitHub::new(GitHubOptions {
        api_url,
        app_id: APP_ID,
        key,
        retry: quick(),
        timeout: Duration::from_millis(500),
        clock: h.clock.clone(),
        metrics: h.metrics.clone(),
        pace: Some(PaceLimits::GITHUB),
    })
    .unwrap()
}

#[tokio::test]
async fn a_jwt_signed_by_another_key_is_refused_as_bad_credentials() {
    let h = Harness::new(quick()).await;
    h.github.installation_token(4242).await.unwrap();
    let impostor = AppKey::from_pem(&common::new_key().pem).unwrap();
    assert_eq!(format!("{impostor:?}"), "AppKey([redacted])");
    let url = format!("http://{}", h.github_addr());
    let err = client(url, impostor, &h)
        .installation_token(4242)
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401), "{err}");
    assert!(err.to_string().ends_with("Bad credentials"), "{err}");
    assert_eq!(h.fake.token_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unreachable_github_is_a_transport_error_after_bounded_retries() {
    let h = Harness::new(quick()).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener); // nothing listens here now
    let key = AppKey::from_pem(&common::key().pem).unwrap();
    let err = client(format!("http://{closed}"), key, &h)
        .installation_token(4242)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GitHubError::Transport {
                operation: "create_installation_token",
                ..
            }
        ),
        "{err}"
    );
    let text = h.metrics.render();
    let line =
        r#"paved_github_api_calls_total{operation="create_installation_token",status="error"} 4"#;
    assert!(text.contains(line), "{text}");
}

#[test]
fn the_fake_writes_githubs_time_format() {
    assert_eq!(time_string(0), "1970-01-01T00:00:00Z");
    assert_eq!(time_string(1_468_275_250), "2016-07-11T22:14:10Z");
}
