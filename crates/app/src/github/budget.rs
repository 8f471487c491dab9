//! What is left of each installation's primary rate limit, as GitHub's
//! `x-ratelimit-*` headers last said. The last few calls before the limit
//! are kept for telling people about the wait: once an installation is down
//! to its reserve, ordinary calls hold off until the reset (without asking
//! GitHub), and only status comments still go out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use http::HeaderMap;

use super::retry::header_u64;

/// Calls kept back per installation: 1% of GitHub's smallest hourly limit.
pub const RESERVE: u64 = 50;

/// Operations that may spend the reserve: reading a request, checking who
/// asked for it, and telling its requester where it stands (status comment,
/// labels).
const REPORTING: [&str; 8] = [
    "issues/get",
    "orgs/get-membership-for-user",
    "repos/get-collaborator-permission-level",
    "issues/update",
    "issues/list-comments",
    "issues/create-comment",
    "issues/update-comment",
    "issues/delete-comment",
];

#[derive(Debug, Clone, Copy)]
struct Left {
    remaining: u64,
    reset: SystemTime,
}

#[derive(Debug, Default)]
pub struct Budgets(Mutex<HashMap<u64, Left>>);

impl Budgets {
    /// Notes what an answer's headers say about `installation`'s limit.
    pub fn record(&self, installation: u64, headers: &HeaderMap) {
        let (Some(remaining), Some(reset)) = (
            header_u64(headers, "x-ratelimit-remaining"),
            header_u64(headers, "x-ratelimit-reset"),
        ) else {
            return;
        };
        let reset = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
        self.0
            .lock()
            .expect("budgets lock")
            .insert(installation, Left { remaining, reset });
    }

    /// When `operation` may go out for `installation`, if not now: the
    /// limit's reset, while the budget is down to the reserve (or spent).
    pub fn held_until(
        &self,
        installation: u64,
        operation: &str,
        now: SystemTime,
    ) -> Option<SystemTime> {
        let left = *self.0.lock().expect("budgets lock").get(&installation)?;
        let floor = if REPORTING.contains(&operation) {
            0
        } else {
            RESERVE
        };
        (left.reset > now && left.remaining <= floor).then_some(left.reset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(remaining: u64, reset: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", remaining.into());
        h.insert("x-ratelimit-reset", reset.into());
        h
    }

    #[test]
    fn the_reserve_is_kept_for_status_comments() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let reset = SystemTime::UNIX_EPOCH + Duration::from_secs(1600);
        let b = Budgets::default();
        assert_eq!(
            b.held_until(7, "repos/create-in-org", now),
            None,
            "unknown: go"
        );
        b.record(7, &headers(RESERVE + 1, 1600));
        assert_eq!(b.held_until(7, "repos/create-in-org", now), None);
        b.record(7, &headers(RESERVE, 1600));
        assert_eq!(b.held_until(7, "repos/create-in-org", now), Some(reset));
        assert_eq!(b.held_until(7, "issues/update-comment", now), None);
        assert_eq!(
            b.held_until(8, "repos/create-in-org", now),
            None,
            "per installation"
        );
        b.record(7, &headers(0, 1600));
        assert_eq!(b.held_until(7, "issues/update-comment", now), Some(reset));
        let later = reset + Duration::from_secs(1);
        assert_eq!(
            b.held_until(7, "repos/create-in-org", later),
            None,
            "after the reset"
        );
    }
}
