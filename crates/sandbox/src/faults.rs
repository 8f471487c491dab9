//! Fault injection: make the next N calls to an endpoint fail the way GitHub
//! fails (5xx, secondary rate limits, stalls) or answer slowly.

use std::sync::Mutex;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// A stall never sleeps longer than this, so a forgotten fault cannot hang a test run.
pub const MAX_STALL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// 500 Internal Server Error.
    ServerError,
    /// 502 Bad Gateway.
    BadGateway,
    /// 403 with GitHub's secondary-rate-limit message and `Retry-After`.
    SecondaryRateLimit { retry_after: u64 },
    /// 429 Too Many Requests with `Retry-After`.
    TooManyRequests { retry_after: u64 },
    /// Holds the request for `millis` (at most a minute), then answers 504
    /// without performing it: longer than a client's timeout, the client sees a hang.
    Stall { millis: u64 },
    /// Answers normally after `millis`.
    Latency { millis: u64 },
}

/// Which requests a fault applies to, parsed from text:
/// `*` (all), `METHOD /path/with/{params}/or/*` (a route) or an operation
/// name such as `issues/create-comment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Endpoint {
    Any,
    Route { method: String, pattern: String },
    Operation(String),
}

impl From<String> for Endpoint {
    fn from(text: String) -> Self {
        let text = text.trim();
        if text == "*" {
            return Endpoint::Any;
        }
        match text.split_once(' ') {
            Some((method, pattern)) if pattern.starts_with('/') => Endpoint::Route {
                method: method.to_ascii_uppercase(),
                pattern: pattern.to_string(),
            },
            _ => Endpoint::Operation(text.to_string()),
        }
    }
}

impl From<&str> for Endpoint {
    fn from(text: &str) -> Self {
        Endpoint::from(text.to_string())
    }
}

impl From<Endpoint> for String {
    fn from(endpoint: Endpoint) -> Self {
        match endpoint {
            Endpoint::Any => "*".into(),
            Endpoint::Route { method, pattern } => format!("{method} {pattern}"),
            Endpoint::Operation(op) => op,
        }
    }
}

impl Endpoint {
    fn matches(&self, method: &str, path: &str, operation: Option<&str>) -> bool {
        match self {
            Endpoint::Any => true,
            Endpoint::Operation(op) => operation == Some(op.as_str()),
            Endpoint::Route { method: m, pattern } => {
                (m == "*" || m.eq_ignore_ascii_case(method)) && path_matches(pattern, path)
            }
        }
    }
}

/// `{name}` and `*` match one segment, a trailing `**` the rest.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.trim_matches('/').split('/');
    let mut have = path.trim_matches('/').split('/');
    loop {
        match (want.next(), have.next()) {
            (Some("**"), _) => return true,
            (None, None) => return true,
            (Some(w), Some(h)) if w == "*" || w.starts_with('{') || w == h => {}
            _ => return false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    pub endpoint: Endpoint,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many matching calls it affects; `None` means until cleared.
    #[serde(default)]
    pub count: Option<u32>,
    /// Only REST calls by this caller: `installation` (any installation
    /// token) or a caller as the request log names it (`user:reader`).
    #[serde(default)]
    pub caller: Option<String>,
}

impl FaultRule {
    /// Fails (or delays) the next `count` calls to `endpoint`.
    pub fn next(endpoint: impl Into<Endpoint>, kind: FaultKind, count: u32) -> Self {
        Self {
            endpoint: endpoint.into(),
            kind,
            count: Some(count),
            caller: None,
        }
    }

    /// The same rule, for REST calls by `caller` alone (git calls are not
    /// told apart by caller).
    pub fn by(self, caller: &str) -> Self {
        Self {
            caller: Some(caller.to_owned()),
            ..self
        }
    }

    fn applies_to(&self, caller: Option<&str>) -> bool {
        match (&self.caller, caller) {
            (None, _) => true,
            (Some(want), Some(have)) => {
                have == want
                    || have
                        .strip_prefix(want.as_str())
                        .is_some_and(|r| r.starts_with(':'))
            }
            (Some(_), None) => false,
        }
    }
}

/// What the middleware must do to one request.
#[derive(Debug, Default)]
pub struct Plan {
    pub delay: Duration,
    pub failure: Option<FaultKind>,
}

#[derive(Default)]
pub struct Faults(Mutex<Vec<FaultRule>>);

impl Faults {
    pub fn add(&self, rule: FaultRule) {
        self.0.lock().unwrap().push(rule);
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.0.lock().unwrap().clone()
    }

    /// Consumes one use of every matching rule: latencies add up, the
    /// first failure wins. `caller` is as the request log names it, `None`
    /// for git.
    pub fn plan(
        &self,
        method: &str,
        path: &str,
        operation: Option<&str>,
        caller: Option<&str>,
    ) -> Plan {
        let mut rules = self.0.lock().unwrap();
        let mut plan = Plan::default();
        for rule in rules.iter_mut() {
            if rule.count == Some(0)
                || !rule.endpoint.matches(method, path, operation)
                || !rule.applies_to(caller)
            {
                continue;
            }
            match &rule.kind {
                FaultKind::Latency { millis } => plan.delay += Duration::from_millis(*millis),
                kind if plan.failure.is_none() => plan.failure = Some(kind.clone()),
                _ => continue,
            }
            if let Some(n) = &mut rule.count {
                *n -= 1;
            }
        }
        rules.retain(|r| r.count != Some(0));
        plan
    }
}

/// The answer for a failure fault (a stall has already slept).
pub fn failure_response(kind: &FaultKind) -> Response {
    let secondary = crate::secondary::MESSAGE;
    let (error, retry_after) = match kind {
        FaultKind::ServerError => (ApiError::internal("Server Error"), None),
        FaultKind::BadGateway => (ApiError::new(StatusCode::BAD_GATEWAY, "Server Error"), None),
        FaultKind::SecondaryRateLimit { retry_after } => {
            (ApiError::forbidden(secondary), Some(*retry_after))
        }
        FaultKind::TooManyRequests { retry_after } => (
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, secondary),
            Some(*retry_after),
        ),
        FaultKind::Stall { .. } | FaultKind::Latency { .. } => (
            ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "We couldn't respond to your request in time.",
            ),
            None,
        ),
    };
    let mut response = error.into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_match() {
        let route = Endpoint::from("post /repos/{owner}/*/issues");
        assert!(route.matches("POST", "/repos/acme/catalog/issues", None));
        assert!(!route.matches("GET", "/repos/acme/catalog/issues", None));
        assert!(!route.matches("POST", "/repos/acme/catalog/issues/1", None));
        assert!(Endpoint::from("GET /repos/**").matches("GET", "/repos/a/b/pulls/1", None));
        let op = Endpoint::from("issues/create");
        assert!(op.matches("POST", "/x", Some("issues/create")));
        assert!(!op.matches("POST", "/x", Some("issues/update")));
        assert!(Endpoint::from("*").matches("GET", "/anything", None));
    }

    #[test]
    fn counts_run_out_and_latency_adds_up() {
        let faults = Faults::default();
        faults.add(FaultRule::next("*", FaultKind::Latency { millis: 5 }, 2));
        faults.add(FaultRule::next("issues/create", FaultKind::ServerError, 1));
        let first = faults.plan("POST", "/p", Some("issues/create"), None);
        assert_eq!(first.delay, Duration::from_millis(5));
        assert_eq!(first.failure, Some(FaultKind::ServerError));
        let second = faults.plan("POST", "/p", Some("issues/create"), None);
        assert_eq!(second.failure, None);
        assert!(faults.list().is_empty());
    }

    #[test]
    fn a_rule_for_one_caller_leaves_the_others_alone() {
        let faults = Faults::default();
        faults.add(FaultRule::next("*", FaultKind::ServerError, 1).by("installation"));
        let op = Some("issues/create-comment");
        assert_eq!(
            faults.plan("POST", "/p", op, Some("user:reader")).failure,
            None
        );
        assert_eq!(faults.plan("POST", "/p.git/x", None, None).failure, None);
        assert_eq!(
            faults
                .plan("POST", "/p", op, Some("installationx:1"))
                .failure,
            None
        );
        let hit = faults.plan("POST", "/p", op, Some("installation:7"));
        assert_eq!(hit.failure, Some(FaultKind::ServerError));
        assert!(faults.list().is_empty());
    }
}
