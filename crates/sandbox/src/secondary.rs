//! GitHub's secondary rate limits, as its REST docs state them: per
//! installation, at most so many requests at once, so many points a minute
//! on one endpoint (a read costs 1, a write 5), and so many
//! content-creating requests a minute and an hour. Past one, GitHub answers
//! 403 with `retry-after` and its secondary-limit message.
//!
//! Only installations are limited: they are the App under test. The
//! sandbox's users stand in for a whole organisation of people, whose
//! combined pace no single GitHub account would have.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// GitHub's words for a secondary limit, whichever was passed.
pub const MESSAGE: &str = "You have exceeded a secondary rate limit. Please wait a few minutes \
                           before you try again. If you reach out to GitHub Support for help, \
                           please include the request ID.";

/// The limits themselves; [`SecondaryLimits::GITHUB`] is what GitHub documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondaryLimits {
    /// Requests under way at once.
    pub concurrent: u32,
    /// Points one REST endpoint takes in any minute.
    pub points_per_minute: u32,
    /// Points the GraphQL endpoint takes in any minute.
    pub graphql_points_per_minute: u32,
    /// Content-creating requests in any minute.
    pub content_per_minute: u32,
    /// Content-creating requests in any hour.
    pub content_per_hour: u32,
    /// How long a minute lasts; an hour is sixty of them. GitHub's is 60 s;
    /// a benchmark shortens it to see hours of GitHub's pace in minutes.
    pub minute: Duration,
}

impl SecondaryLimits {
    pub const GITHUB: Self = Self {
        concurrent: 100,
        points_per_minute: 900,
        graphql_points_per_minute: 2_000,
        content_per_minute: 80,
        content_per_hour: 500,
        minute: Duration::from_secs(60),
    };

    /// These limits with time running `factor` times faster.
    pub fn hastened(self, factor: u32) -> Self {
        Self {
            minute: self.minute / factor.max(1),
            ..self
        }
    }

    fn hour(&self) -> Duration {
        self.minute * 60
    }
}

/// What one request is, for the limits.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The endpoint: GitHub's operation name, or the method and path.
    pub endpoint: &'a str,
    pub method: &'a str,
}

impl Call<'_> {
    /// Reads cost 1 point, everything else 5.
    fn points(&self) -> u32 {
        if matches!(self.method, "GET" | "HEAD" | "OPTIONS") {
            1
        } else {
            5
        }
    }

    /// A `POST` makes something: an issue, a comment, a repository, a
    /// check run, a deployment, a GraphQL mutation. Edits and deletions
    /// are writes but make nothing new.
    fn creates_content(&self) -> bool {
        self.method == "POST"
    }

    fn points_limit(&self, limits: &SecondaryLimits) -> u32 {
        if self.endpoint == "graphql" {
            limits.graphql_points_per_minute
        } else {
            limits.points_per_minute
        }
    }
}

/// Which limit a refused request passed, and when to come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub limit: &'static str,
    pub retry_after: Duration,
}

/// The sandbox's enforcement; `None` limits switch it off.
pub struct Secondary {
    limits: Option<SecondaryLimits>,
    usage: Arc<Mutex<HashMap<String, Usage>>>,
    refused: AtomicU64,
}

#[derive(Debug, Default)]
struct Usage {
    in_flight: u32,
    /// Per endpoint: when each counted request came, and its points.
    points: HashMap<String, VecDeque<(Instant, u32)>>,
    /// When each content-creating request came, over the last hour.
    created: VecDeque<Instant>,
}

/// A request under way; dropping it ends it.
#[derive(Debug)]
pub struct InFlight {
    usage: Arc<Mutex<HashMap<String, Usage>>>,
    caller: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(u) = usage.get_mut(&self.caller) {
            u.in_flight = u.in_flight.saturating_sub(1);
        }
    }
}

impl Secondary {
    pub fn new(limits: Option<SecondaryLimits>) -> Self {
        Self {
            limits,
            usage: Arc::default(),
            refused: AtomicU64::new(0),
        }
    }

    /// Counts `call` by `caller` (`installation:ID`), or refuses it. The
    /// guard must live as long as the request is served.
    pub fn admit(&self, caller: &str, call: Call<'_>) -> Result<Option<InFlight>, Exceeded> {
        let Some(limits) = self.limits else {
            return Ok(None);
        };
        if !caller.starts_with("installation:") {
            return Ok(None);
        }
        let now = Instant::now();
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let u = usage.entry(caller.to_owned()).or_default();
        let verdict = u.check(&limits, call, now);
        if let Err(e) = verdict {
            drop(usage);
            self.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                caller,
                endpoint = call.endpoint,
                limit = e.limit,
                "secondary rate limit"
            );
            return Err(e);
        }
        u.in_flight += 1;
        u.points
            .entry(call.endpoint.to_owned())
            .or_default()
            .push_back((now, call.points()));
        if call.creates_content() {
            u.created.push_back(now);
        }
        Ok(Some(InFlight {
            usage: self.usage.clone(),
            caller: caller.to_owned(),
        }))
    }

    /// Requests refused for a secondary limit so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Forgets all usage: every window starts empty.
    pub fn reset(&self) {
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        for u in usage.values_mut() {
            u.points.clear();
            u.created.clear();
        }
    }
}

impl Usage {
    fn check(
        &mut self,
        limits: &SecondaryLimits,
        call: Call<'_>,
        now: Instant,
    ) -> Result<(), Exceeded> {
        self.forget_before(limits, now);
        if self.in_flight >= limits.concurrent {
            // GitHub names no time for this one; a moment is enough.
            return Err(Exceeded {
                limit: "concurrent requests",
                retry_after: Duration::from_secs(1),
            });
        }
        if let Some(window) = self.points.get(call.endpoint) {
            let spent: u32 = window.iter().map(|(_, p)| p).sum();
            let limit = call.points_limit(limits);
            if spent + call.points() > limit {
                // Wait until enough of the minute's points have aged out.
                let mut freed = 0;
                let mut until = now;
                for (at, p) in window {
                    freed += p;
                    until = *at + limits.minute;
                    if spent - freed + call.points() <= limit {
                        break;
                    }
                }
                return Err(Exceeded {
                    limit: "points per minute on one endpoint",
                    retry_after: until - now,
                });
            }
        }
        if call.creates_content() {
            let last_minute = self
                .created
                .iter()
                .rev()
                .take_while(|at| now - **at < limits.minute);
            if last_minute.count() >= limits.content_per_minute as usize {
                let oldest = self.created[self.created.len() - limits.content_per_minute as usize];
                return Err(Exceeded {
                    limit: "content-creating requests per minute",
                    retry_after: oldest + limits.minute - now,
                });
            }
            if self.created.len() >= limits.content_per_hour as usize {
                let oldest = self.created[self.created.len() - limits.content_per_hour as usize];
                return Err(Exceeded {
                    limit: "content-creating requests per hour",
                    retry_after: oldest + limits.hour() - now,
                });
            }
        }
        Ok(())
    }

    fn forget_before(&mut self, limits: &SecondaryLimits, now: Instant) {
        for window in self.points.values_mut() {
            while window
                .front()
                .is_some_and(|(at, _)| now - *at >= limits.minute)
            {
                window.pop_front();
            }
        }
        self.points.retain(|_, w| !w.is_empty());
        while self
            .created
            .front()
            .is_some_and(|at| now - *at >= limits.hour())
        {
            self.created.pop_front();
        }
    }
}

/// `retry-after` in whole seconds, never 0: GitHub's header is an integer.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INST: &str = "installation:1";

    fn limits() -> SecondaryLimits {
        SecondaryLimits {
            concurrent: 2,
            points_per_minute: 12,
            graphql_points_per_minute: 20,
            content_per_minute: 3,
            content_per_hour: 4,
            minute: Duration::from_secs(60),
        }
    }

    fn get(endpoint: &str) -> Call<'_> {
        Call {
            endpoint,
            method: "GET",
        }
    }

    fn post(endpoint: &str) -> Call<'_> {
        Call {
            endpoint,
            method: "POST",
        }
    }

    #[test]
    fn concurrent_requests_are_capped_and_freed_when_done() {
        let s = Secondary::new(Some(limits()));
        let a = s.admit(INST, get("a")).unwrap();
        let _b = s.admit(INST, get("b")).unwrap();
        assert_eq!(
            s.admit(INST, get("c")).unwrap_err().limit,
            "concurrent requests"
        );
        drop(a);
        assert!(s.admit(INST, get("c")).is_ok());
        assert_eq!(s.refused(), 1);
    }

    #[test]
    fn points_are_per_endpoint_and_writes_cost_five() {
        let s = Secondary::new(Some(limits()));
        drop(s.admit(
            INST,
            Call {
                endpoint: "e",
                method: "PATCH",
            },
        ));
        drop(s.admit(
            INST,
            Call {
                endpoint: "e",
                method: "PATCH",
            },
        ));
        for _ in 0..2 {
            drop(s.admit(INST, get("e")).unwrap());
        }
        let refused = s.admit(INST, get("e")).unwrap_err();
        assert_eq!(refused.limit, "points per minute on one endpoint");
        assert!(refused.retry_after > Duration::from_secs(59), "{refused:?}");
        assert!(s.admit(INST, get("other")).is_ok(), "another endpoint");
    }

    #[test]
    fn content_creation_is_counted_per_minute_and_per_hour() {
        let s = Secondary::new(Some(limits()));
        for endpoint in ["x", "y", "z"] {
            drop(s.admit(INST, post(endpoint)).unwrap());
        }
        let refused = s.admit(INST, post("w")).unwrap_err();
        assert_eq!(refused.limit, "content-creating requests per minute");
        assert!(s.admit(INST, get("w")).is_ok(), "reads are not content");
        assert!(
            s.admit(
                INST,
                Call {
                    endpoint: "w",
                    method: "PATCH"
                }
            )
            .is_ok()
        );
        // Another installation and users have budgets of their own.
        assert!(s.admit("installation:2", post("x")).is_ok());
        for _ in 0..10 {
            assert!(s.admit("user:writer", post("x")).unwrap().is_none());
        }
        let hourly = Secondary::new(Some(SecondaryLimits {
            content_per_minute: 10,
            content_per_hour: 2,
            ..limits()
        }));
        drop(hourly.admit(INST, post("x")).unwrap());
        drop(hourly.admit(INST, post("y")).unwrap());
        let refused = hourly.admit(INST, post("z")).unwrap_err();
        assert_eq!(refused.limit, "content-creating requests per hour");
        assert!(
            refused.retry_after > Duration::from_secs(3500),
            "{refused:?}"
        );
    }

    #[test]
    fn switched_off_admits_everything() {
        let s = Secondary::new(None);
        for _ in 0..1000 {
            assert!(s.admit(INST, post("x")).unwrap().is_none());
        }
        assert_eq!(s.refused(), 0);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_seconds(Duration::from_millis(3001)), 4);
    }
}
