//! GitHub's primary rate limit: a budget per installation, user or address,
//! reported in `x-ratelimit-*` headers on every answer.

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
}

pub struct RateLimits {
    limit: u32,
    window: Duration,
    budgets: Mutex<HashMap<String, Budget>>,
    exhausted_until: Mutex<Option<Time>>,
}

impl RateLimits {
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            window: Duration::hours(1),
            budgets: Mutex::new(HashMap::new()),
            exhausted_until: Mutex::new(None),
        }
    }

    /// Counts one request for `key`; `Err` when the budget is spent.
    pub fn charge(&self, key: &str) -> Result<Quota, Quota> {
        let now = Utc::now();
        if let Some(until) = *self.exhausted_until.lock().unwrap()
            && until > now
        {
            return Err(Quota {
                limit: self.limit,
                remaining: 0,
                used: self.limit,
                reset: until,
            });
        }
        let mut budgets = self.budgets.lock().unwrap();
        let budget = budgets.entry(key.to_string()).or_insert(Budget {
            used: 0,
            reset: now + self.window,
        });
        if budget.reset <= now {
            *budget = Budget {
                used: 0,
                reset: now + self.window,
            };
        }
        let spent = budget.used >= self.limit;
        if !spent {
            budget.used += 1;
        }
        let quota = Quota {
            limit: self.limit,
            remaining: self.limit - budget.used,
            used: budget.used,
            reset: budget.reset,
        };
        if spent { Err(quota) } else { Ok(quota) }
    }

    /// Takes back one request counted for `key`: a conditional request
    /// answered 304 costs nothing on GitHub.
    pub fn refund(&self, key: &str) -> Quota {
        if let Some(budget) = self.budgets.lock().unwrap().get_mut(key) {
            budget.used = budget.used.saturating_sub(1);
        }
        self.peek(key)
    }

    /// Where `key` stands, without counting a request (`GET /rate_limit` is free).
    pub fn peek(&self, key: &str) -> Quota {
        let now = Utc::now();
        if let Some(until) = *self.exhausted_until.lock().unwrap()
            && until > now
        {
            return Quota {
                limit: self.limit,
                remaining: 0,
                used: self.limit,
                reset: until,
            };
        }
        let budget = self.budgets.lock().unwrap().get(key).copied();
        let (used, reset) = match budget {
            Some(b) if b.reset > now => (b.used, b.reset),
            _ => (0, now + self.window),
        };
        Quota {
            limit: self.limit,
            remaining: self.limit - used,
            used,
            reset,
        }
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
                used: self.limit.saturating_sub(leave),
                reset,
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
        assert_eq!(limits.charge("a").unwrap().remaining, 1);
        assert_eq!(limits.charge("a").unwrap().remaining, 0);
        assert_eq!(limits.charge("a").unwrap_err().remaining, 0);
        assert_eq!(limits.charge("b").unwrap().remaining, 1);
        limits.exhaust(std::time::Duration::from_secs(30));
        let spent = limits.charge("c").unwrap_err();
        assert!(spent.reset > Utc::now());
        limits.reset();
        assert!(limits.charge("a").is_ok());
    }
}
