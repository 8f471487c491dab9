//! GitHub's primary rate limit: a budget per installation, user or address,
//! reported in `x-ratelimit-*` headers on every answer. Each caller's limit
//! is given with each request: an installation's grows with its
//! organisation, as on GitHub ([`installation_limit`]).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue};
use chrono::{Duration, Utc};

use super::state::Time;

/// Where one caller stands after a request was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    pub used: u32,
    pub reset: Time,
}

impl Quota {
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("x-ratelimit-used", HeaderValue::from(self.used));
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from(self.reset.timestamp()),
        );
        headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    }
}

#[derive(Debug, Clone, Copy)]
struct Budget {
    used: u32,
    reset: Time,
    limit: u32,
}

/// An installation's hourly limit on GitHub: `base`, plus 50 for each
/// repository beyond 20 and 50 for each member beyond 20 of the account it
/// is installed on, up to 12,500.
pub fn installation_limit(base: u32, repos: usize, members: usize) -> u32 {
    let extra = |n: usize| 50 * n.saturating_sub(20) as u32;
    (base + extra(repos) + extra(members)).min(base.max(12_500))
}

pub struct RateLimits {
    /// The limit of every caller but installations.
    pub base: u32,
    window: Duration,
    budgets: Mutex<HashMap<String, Budget>>,
    exhausted_until: Mutex<Option<Time>>,
}

impl RateLimits {
    pub fn new(base: u32) -> Self {
        Self {
            base,
            window: Duration::hours(1),
            budgets: Mutex::new(HashMap::new()),
            exhausted_until: Mutex::new(None),
        }
    }

    /// Counts one request for `key`, whose limit is `limit`; `Err` when
    /// the budget is spent.
    pub fn charge(&self, key: &str, limit: u32) -> Result<Quota, Quota> {
        let now = Utc::now();
        if let Some(spent) = self.exhausted(limit, now) {
            return Err(spent);
        }
        let mut budgets = self.budgets.lock().unwrap();
        let budget = budgets.entry(key.to_string()).or_insert(Budget {
            used: 0,
            reset: now + self.window,
            limit,
        });
        if budget.reset <= now {
            *budget = Budget {
                used: 0,
                reset: now + self.window,
                limit,
            };
        }
        budget.limit = limit;
        let spent = budget.used >= limit;
        if !spent {
            budget.used += 1;
        }
        let quota = Quota {
            limit,
            remaining: limit.saturating_sub(budget.used),
            used: budget.used,
            reset: budget.reset,
        };
        if spent { Err(quota) } else { Ok(quota) }
    }

    /// Takes back one request counted for `key`: a conditional request
    /// answered 304 costs nothing on GitHub.
    pub fn refund(&self, key: &str, limit: u32) -> Quota {
        if let Some(budget) = self.budgets.lock().unwrap().get_mut(key) {
            budget.used = budget.used.saturating_sub(1);
        }
        self.peek(key, limit)
    }

    /// Where `key` stands, without counting a request (`GET /rate_limit` is free).
    pub fn peek(&self, key: &str, limit: u32) -> Quota {
        let now = Utc::now();
        if let Some(spent) = self.exhausted(limit, now) {
            return spent;
        }
        let budget = self.budgets.lock().unwrap().get(key).copied();
        let (used, reset) = match budget {
            Some(b) if b.reset > now => (b.used, b.reset),
            _ => (0, now + self.window),
        };
        Quota {
            limit,
            remaining: limit.saturating_sub(used),
            used,
            reset,
        }
    }

    /// The answer for every caller while [`RateLimits::exhaust`] holds.
    fn exhausted(&self, limit: u32, now: Time) -> Option<Quota> {
        let until = (*self.exhausted_until.lock().unwrap()).filter(|until| *until > now)?;
        Some(Quota {
            limit,
            remaining: 0,
            used: limit,
            reset: until,
        })
    }

    /// Spends every budget until `duration` from now.
    pub fn exhaust(&self, duration: std::time::Duration) {
        let duration = Duration::from_std(duration).unwrap_or(Duration::hours(1));
        *self.exhausted_until.lock().unwrap() = Some(Utc::now() + duration);
    }

    /// Brings every budget used so far down to `leave` calls, until
    /// `duration` from now: a limit running out the ordinary way.
    pub fn drain(&self, leave: u32, duration: std::time::Duration) {
        let reset = Utc::now() + Duration::from_std(duration).unwrap_or(Duration::hours(1));
        for budget in self.budgets.lock().unwrap().values_mut() {
            *budget = Budget {
                used: budget.limit.saturating_sub(leave),
                reset,
                limit: budget.limit,
            };
        }
    }

    /// Lifts an exhaustion and refills every budget.
    pub fn reset(&self) {
        *self.exhausted_until.lock().unwrap() = None;
        self.budgets.lock().unwrap().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_runs_out_per_key() {
        let limits = RateLimits::new(2);
        assert_eq!(limits.charge("a", 2).unwrap().remaining, 1);
        assert_eq!(limits.charge("a", 2).unwrap().remaining, 0);
        assert_eq!(limits.charge("a", 2).unwrap_err().remaining, 0);
        assert_eq!(limits.charge("b", 2).unwrap().remaining, 1);
        assert_eq!(limits.charge("c", 3).unwrap().remaining, 2, "its own limit");
        limits.exhaust(std::time::Duration::from_secs(30));
        let spent = limits.charge("c", 3).unwrap_err();
        assert!(spent.reset > Utc::now());
        limits.reset();
        assert!(limits.charge("a", 2).is_ok());
    }

    #[test]
    fn an_installations_limit_grows_with_its_organisation() {
        assert_eq!(installation_limit(5_000, 3, 4), 5_000);
        assert_eq!(installation_limit(5_000, 20, 20), 5_000);
        assert_eq!(installation_limit(5_000, 102, 24), 9_300);
        assert_eq!(installation_limit(5_000, 1_000, 0), 12_500);
        assert_eq!(installation_limit(3, 21, 0), 53);
    }
}
