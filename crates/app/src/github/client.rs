//! The one place paved sends requests to GitHub. Every call names its
//! operation, is counted in metrics by operation and status, and is retried
//! within [`RetryPolicy`]'s bounds.

use super::conditional::{Etags, Remembered};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::auth::{AppKey, InstallationToken, TokenCache};
use super::budget::Budgets;
use super::error::{GitHubError, message_of};
use super::pace::{PaceLimits, Pacer, Reserved};
use super::retry::{RetryPolicy, Verdict, classify, header_u64};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::secret::Secret;

const API_VERSION: &str = "2022-11-28";
const USER_AGENT_VALUE: &str = concat!("paved/", env!("CARGO_PKG_VERSION"));

/// Who a call is made as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The App itself, with a JWT (`/app/...` endpoints).
    App,
    /// An installation of the App, with its access token.
    Installation(u64),
}

pub struct GitHubOptions {
    /// The REST API root, e.g. `https://api.github.com` (no trailing slash).
    pub api_url: String,
    pub app_id: u64,
    pub key: AppKey,
    pub retry: RetryPolicy,
    /// Per-request timeout, connect and read.
    pub timeout: Duration,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// The secondary limits this process keeps to, per installation;
    /// `None` where GitHub has none (GitHub Enterprise Server's default).
    pub pace: Option<PaceLimits>,
}

/// A successful answer.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn json<T: DeserializeOwned>(&self, operation: &'static str) -> Result<T, GitHubError> {
        serde_json::from_slice(&self.body).map_err(|e| GitHubError::Decode {
            operation,
            detail: e.to_string(),
        })
    }
}

/// Cheap to clone; clones share the token cache.
#[derive(Clone)]
pub struct GitHub {
    inner: Arc<Inner>,
}

struct Inner {
    http: octocrab::Octocrab,
    api_url: String,
    app_id: u64,
    key: AppKey,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    tokens: TokenCache,
    budgets: Budgets,
    etags: Etags,
    pacer: Option<Pacer>,
}

/// The installation-token answer; `expires_at` is RFC 3339.
#[derive(serde::Deserialize)]
struct TokenAnswer {
    token: String,
    expires_at: String,
}

impl GitHub {
    pub fn new(opts: GitHubOptions) -> Result<Self, GitHubError> {
        let http = octocrab::Octocrab::builder()
            .set_connect_timeout(Some(opts.timeout))
            .set_read_timeout(Some(opts.timeout))
            .build()
            .map_err(|e| GitHubError::Transport {
                operation: "build client",
                detail: e.to_string(),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                api_url: opts.api_url.trim_end_matches('/').to_owned(),
                app_id: opts.app_id,
                key: opts.key,
                retry: opts.retry,
                clock: opts.clock,
                metrics: opts.metrics,
                tokens: TokenCache::default(),
                budgets: Budgets::default(),
                etags: Etags::default(),
                pacer: opts.pace.map(Pacer::new),
            }),
        })
    }

    /// Sends one call as `auth`, retrying within policy. Any non-2xx answer
    /// after retries is an error carrying GitHub's message.
    pub async fn request<B: Serialize + ?Sized>(
        &self,
        operation: &'static str,
        auth: Auth,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Response, GitHubError> {
        let body = match body {
            Some(b) => Bytes::from(serde_json::to_vec(b).map_err(|e| GitHubError::Decode {
                operation,
                detail: e.to_string(),
            })?),
            None => Bytes::new(),
        };
        let first = self.send_as(operation, auth, &method, path, &body).await;
        match (&first, auth) {
            // A revoked or otherwise refused token: fetch a new one and try once more.
            (Err(e), Auth::Installation(id)) if e.status() == Some(StatusCode::UNAUTHORIZED) => {
                self.inner.tokens.invalidate(id).await;
                self.send_as(operation, auth, &method, path, &body).await
            }
            _ => first,
        }
    }

    /// `GET path` decoded as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        auth: Auth,
        path: &str,
    ) -> Result<T, GitHubError> {
        self.request(operation, auth, Method::GET, path, None::<&()>)
            .await?
            .json(operation)
    }

    /// `url` (absolute, as in a `Link` header) as a path under the API root.
    pub(crate) fn relative(&self, url: &str) -> Option<String> {
        url.strip_prefix(&self.inner.api_url).map(str::to_owned)
    }

    /// The REST API root this client talks to.
    pub fn api_url(&self) -> &str {
        &self.inner.api_url
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> std::time::SystemTime {
        self.inner.clock.now()
    }

    /// An access token for `installation`, from the cache while it is fresh.
    /// Concurrent callers share one refresh.
    pub async fn installation_token(&self, installation: u64) -> Result<Secret, GitHubError> {
        let now = self.inner.clock.now();
        self.inner
            .tokens
            .get(installation, now, || self.create_token(installation))
            .await
    }

    async fn create_token(&self, installation: u64) -> Result<InstallationToken, GitHubError> {
        const OP: &str = "create_installation_token";
        let path = format!("/app/installations/{installation}/access_tokens");
        let answer: TokenAnswer = self
            .send_retrying(
                OP,
                None,
                || async { self.app_authorization() },
                &Method::POST,
                &path,
                &Bytes::new(),
            )
            .await?
            .json(OP)?;
        let expires_at = parse_rfc3339(&answer.expires_at).ok_or_else(|| GitHubError::Decode {
            operation: OP,
            detail: format!(
                "expires_at {:?} is not an RFC 3339 UTC time",
                answer.expires_at
            ),
        })?;
        Ok(InstallationToken {
            token: Secret::new(answer.token),
            expires_at,
        })
    }

    fn app_authorization(&self) -> Result<HeaderValue, GitHubError> {
        bearer(
            &self
                .inner
                .key
                .jwt(self.inner.app_id, self.inner.clock.now())?,
        )
    }

    async fn installation_authorization(
        &self,
        installation: u64,
    ) -> Result<HeaderValue, GitHubError> {
        bearer(&self.installation_token(installation).await?)
    }

    async fn send_as(
        &self,
        operation: &'static str,
        auth: Auth,
        method: &Method,
        path: &str,
        body: &Bytes,
    ) -> Result<Response, GitHubError> {
        match auth {
            Auth::App => {
                let authorize = || async { self.app_authorization() };
                self.send_retrying(operation, None, authorize, method, path, body)
                    .await
            }
            Auth::Installation(id) => {
                let authorize = || self.installation_authorization(id);
                self.send_retrying(operation, Some(id), authorize, method, path, body)
                    .await
            }
        }
    }

    /// The retry loop. `authorize` runs before every attempt so a token that
    /// expired during a long wait is replaced. (Generic rather than recursive:
    /// fetching an installation token is itself a call through this loop.)
    async fn send_retrying<A, F>(
        &self,
        operation: &'static str,
        installation: Option<u64>,
        authorize: A,
        method: &Method,
        path: &str,
        body: &Bytes,
    ) -> Result<Response, GitHubError>
    where
        A: Fn() -> F,
        F: Future<Output = Result<HeaderValue, GitHubError>>,
    {
        let policy = &self.inner.retry;
        let mut attempt = 1;
        loop {
            if let Some(id) = installation {
                self.hold_for_reserve(operation, id).await?;
            }
            let authorization = authorize().await?;
            let mut reserved = match (installation, &self.inner.pacer) {
                (Some(id), Some(pacer)) => Some(self.pace(pacer, operation, id, method).await?),
                _ => None,
            };
            // A repeated read as an installation asks whether it changed.
            let remembered = installation
                .filter(|_| method == Method::GET)
                .and_then(|id| self.inner.etags.get(id, path));
            let etag = remembered.as_ref().map(|r| &r.etag);
            reserved.as_mut().map(Reserved::stamp);
            let outcome = self
                .send_once(operation, &authorization, method, path, body, etag)
                .await;
            drop(reserved);
            let outcome = match (outcome, installation) {
                (Ok(r), Some(id)) if method == Method::GET => {
                    Ok(self.conditional(id, path, r, remembered))
                }
                (other, _) => other,
            };
            if let (Ok(r), Some(id)) = (&outcome, installation) {
                self.record_rate_limit(id, &r.headers);
            }
            let verdict = match &outcome {
                Ok(r) => classify(r.status, &r.headers, self.inner.clock.now()),
                Err(_) => Verdict::Transient,
            };
            let wait = match verdict {
                Verdict::Final => return finish(operation, outcome?),
                Verdict::Transient if attempt < policy.max_attempts => policy.backoff(attempt),
                Verdict::Transient => return finish(operation, outcome?),
                Verdict::RateLimited { wait }
                    if wait <= policy.max_wait && attempt < policy.max_attempts =>
                {
                    wait
                }
                Verdict::RateLimited { wait } => {
                    return Err(GitHubError::RateLimited {
                        operation,
                        reset_at: self.inner.clock.now() + wait,
                    });
                }
            };
            tracing::warn!(
                operation,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying GitHub call"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// A `GET`'s answer with conditional requests applied: a `304` is the
    /// remembered answer (with the `304`'s rate-limit headers); a tagged
    /// `200` is remembered for next time.
    fn conditional(
        &self,
        installation: u64,
        path: &str,
        response: Response,
        remembered: Option<Remembered>,
    ) -> Response {
        match remembered {
            Some(r) if response.status == StatusCode::NOT_MODIFIED => {
                let mut headers = r.headers;
                for (name, value) in response.headers.iter() {
                    if name.as_str().starts_with("x-ratelimit-") {
                        headers.insert(name.clone(), value.clone());
                    }
                }
                Response {
                    status: StatusCode::OK,
                    headers,
                    body: r.body,
                }
            }
            _ => {
                let etags = &self.inner.etags;
                etags.remember(
                    installation,
                    path,
                    response.status,
                    &response.headers,
                    &response.body,
                );
                response
            }
        }
    }

    async fn send_once(
        &self,
        operation: &'static str,
        authorization: &HeaderValue,
        method: &Method,
        path: &str,
        body: &Bytes,
        if_none_match: Option<&HeaderValue>,
    ) -> Result<Response, GitHubError> {
        let transport = |e: &dyn std::fmt::Display| GitHubError::Transport {
            operation,
            detail: e.to_string(),
        };
        let mut request = http::Request::builder();
        if let Some(etag) = if_none_match {
            request = request.header(http::header::IF_NONE_MATCH, etag.clone());
        }
        let request = request
            .method(method.clone())
            .uri(format!("{}{}", self.inner.api_url, path))
            .header(AUTHORIZATION, authorization.clone())
            .header(ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
            .map_err(|e| transport(&e))?;
        let started = Instant::now();
        let result = async {
            let response = self
                .inner
                .http
                .execute(request)
                .await
                .map_err(|e| transport(&e))?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| transport(&e))?.to_bytes();
            Ok(Response {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        }
        .await;
        let m = &self.inner.metrics;
        m.github_call_seconds
            .with_label_values(&[operation])
            .observe(started.elapsed().as_secs_f64());
        let status = result
            .as_ref()
            .map_or("error", |r: &Response| r.status.as_str());
        m.github_calls.with_label_values(&[operation, status]).inc();
        result
    }

    /// Waits for the rate limit's reset while `installation` is down to the
    /// calls kept for status comments; a reset further off than the policy's
    /// longest wait comes back as [`GitHubError::RateLimited`].
    async fn hold_for_reserve(
        &self,
        operation: &'static str,
        installation: u64,
    ) -> Result<(), GitHubError> {
        let now = self.inner.clock.now();
        let Some(reset_at) = self.inner.budgets.held_until(installation, operation, now) else {
            return Ok(());
        };
        let wait = reset_at.duration_since(now).unwrap_or_default();
        if wait > self.inner.retry.max_wait {
            return Err(GitHubError::RateLimited {
                operation,
                reset_at,
            });
        }
        tracing::info!(
            operation,
            wait_ms = wait.as_millis() as u64,
            "rate limit nearly spent: waiting for the reset"
        );
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Waits for room under the secondary limits; a wait longer than the
    /// policy's longest comes back as [`GitHubError::RateLimited`].
    async fn pace(
        &self,
        pacer: &Pacer,
        operation: &'static str,
        installation: u64,
        method: &Method,
    ) -> Result<Reserved, GitHubError> {
        let longest = self.inner.retry.max_wait;
        let started = Instant::now();
        let reserved = pacer
            .reserve(installation, operation, method, longest)
            .await
            .map_err(|wait| GitHubError::RateLimited {
                operation,
                reset_at: self.inner.clock.now() + wait,
            })?;
        let waited = started.elapsed();
        if waited > Duration::from_millis(100) {
            tracing::debug!(
                operation,
                wait_ms = waited.as_millis() as u64,
                "paced under GitHub's secondary limits"
            );
        }
        self.inner
            .metrics
            .github_pace_seconds
            .observe(waited.as_secs_f64());
        Ok(reserved)
    }

    fn record_rate_limit(&self, installation: u64, headers: &HeaderMap) {
        self.inner.budgets.record(installation, headers);
        if let Some(remaining) = header_u64(headers, "x-ratelimit-remaining") {
            let label = installation.to_string();
            self.inner
                .metrics
                .github_rate_limit_remaining
                .with_label_values(&[&label])
                .set(remaining as i64);
        }
    }
}

fn bearer(secret: &Secret) -> Result<HeaderValue, GitHubError> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", secret.expose())).map_err(|_| {
        GitHubError::Decode {
            operation: "authorization",
            detail: "token is not a valid header".into(),
        }
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn finish(operation: &'static str, r: Response) -> Result<Response, GitHubError> {
    if r.status.is_success() {
        Ok(r)
    } else {
        Err(GitHubError::Api {
            operation,
            status: r.status,
            message: message_of(&r.body),
        })
    }
}

/// Parses GitHub's `YYYY-MM-DDTHH:MM:SSZ` timestamps (fractions allowed).
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if !s.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
/// well-known algorithm, restated).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_github_timestamps() {
        let t = |s| parse_rfc3339(s).map(crate::clock::unix_seconds);
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("2016-07-11T22:14:10Z"), Some(1_468_275_250));
        assert_eq!(t("2024-02-29T12:00:00.5Z"), Some(1_709_208_000));
        assert_eq!(t("2016-07-11T22:14:10+01:00"), None);
        assert_eq!(t("yesterday"), None);
    }
}
