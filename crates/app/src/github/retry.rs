//! When to try a GitHub call again, and how long to wait first.
//!
//! 5xx answers and transport failures back off exponentially with jitter.
//! Rate limits (429, or 403 with `Retry-After` or an exhausted
//! `x-ratelimit-remaining`) wait exactly as long as GitHub asks, if that is
//! within [`RetryPolicy::max_wait`]; a longer wait is handed back to the caller.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};

use crate::clock::unix_seconds;

/// Bounds on retries, in count and in time.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff after a 5xx or transport failure; doubles each time.
    pub base_delay: Duration,
    /// The longest single backoff.
    pub max_delay: Duration,
    /// The longest rate-limit wait taken inline; beyond it the call fails
    /// with the reset time so the caller can report that it is waiting.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// What an answer means for the call that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Final: success, or an error that a retry will not change.
    Final,
    /// A server-side or transport failure that may pass.
    Transient,
    /// Rate limited: GitHub says when to come back.
    RateLimited { wait: Duration },
}

/// GitHub asks for at least a minute when a secondary limit names no time.
const SECONDARY_LIMIT_DEFAULT_WAIT: Duration = Duration::from_secs(60);

pub(crate) fn classify(status: StatusCode, headers: &HeaderMap, now: SystemTime) -> Verdict {
    if status.is_server_error() {
        return Verdict::Transient;
    }
    let retry_after = header_u64(headers, "retry-after").map(Duration::from_secs);
    let exhausted = header_u64(headers, "x-ratelimit-remaining") == Some(0);
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && (retry_after.is_some() || exhausted));
    if !limited {
        return Verdict::Final;
    }
    let until_reset = exhausted
        .then(|| header_u64(headers, "x-ratelimit-reset"))
        .flatten()
        .map(|reset| Duration::from_secs(reset.saturating_sub(unix_seconds(now)) + 1));
    let wait = retry_after
        .or(until_reset)
        .unwrap_or(SECONDARY_LIMIT_DEFAULT_WAIT);
    Verdict::RateLimited { wait }
}

pub(crate) fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl RetryPolicy {
    /// The backoff before attempt `attempt + 1` after a transient failure:
    /// exponential, capped, with jitter between half and all of it so that
    /// replicas retrying together spread out.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_delay);
        let jitter = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            % 1000;
        capped / 2 + capped / 2 * jitter as u32 / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (http::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn classifies_answers() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let none = HeaderMap::new();
        assert_eq!(classify(StatusCode::OK, &none, now), Verdict::Final);
        assert_eq!(classify(StatusCode::NOT_FOUND, &none, now), Verdict::Final);
        assert_eq!(classify(StatusCode::FORBIDDEN, &none, now), Verdict::Final);
        assert_eq!(
            classify(StatusCode::BAD_GATEWAY, &none, now),
            Verdict::Transient
        );
        assert_eq!(
            classify(
                StatusCode::FORBIDDEN,
                &headers(&[("retry-after", "7")]),
                now
            ),
            Verdict::RateLimited {
                wait: Duration::from_secs(7)
            }
        );
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &none, now),
            Verdict::RateLimited {
                wait: SECONDARY_LIMIT_DEFAULT_WAIT
            }
        );
        let primary = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1030"),
        ]);
        assert_eq!(
            classify(StatusCode::FORBIDDEN, &primary, now),
            Verdict::RateLimited {
                wait: Duration::from_secs(31)
            }
        );
    }

    #[test]
    fn backoff_doubles_within_bounds() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            ..RetryPolicy::default()
        };
        for (attempt, full) in [(1, 100), (2, 200), (3, 300), (9, 300)] {
            let d = p.backoff(attempt).as_millis();
            assert!((full / 2..=full).contains(&d), "attempt {attempt}: {d}ms");
        }
    }
}
