//! paved's own pace under GitHub's secondary limits, per installation:
//! requests at once, points a minute per endpoint (a read 1, a write 5),
//! and content-creating requests (`POST`s) a minute and an hour.
//!
//! Each limit is a sliding window of the calls paved sent, the same
//! measure GitHub applies, rather than a token bucket: a bucket that never
//! passes 80 calls in any minute must either refill at a fraction of that
//! or allow only small bursts, where a window allows the whole minute's
//! calls at once and then exactly GitHub's pace. A call waits for room; a
//! wait longer than the client's longest is handed back as a rate limit,
//! so the work parks and the person is told.
//!
//! Waiting calls go in priority order: answers to people first, then
//! provisioning and commands, then background work (resync, fleet upgrades,
//! the dashboard), which runs in a [`background`] scope.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Method;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
// tokio's clock, so tests can pause time.
use tokio::time::Instant;

/// The limits paved keeps to, per installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaceLimits {
    pub concurrent: u32,
    pub points_per_minute: u32,
    pub content_per_minute: u32,
    pub content_per_hour: u32,
    /// How long paved counts a minute; an hour is sixty of them. A little
    /// longer than GitHub's, for the time a call takes to reach it; a
    /// benchmark shortens it, with the sandbox's, to run hours in minutes.
    pub minute: Duration,
}

impl PaceLimits {
    /// GitHub's documented limits (100 at once, 900 points, 80 a minute,
    /// 500 an hour) less a margin for what paved does not see: the
    /// organisation's people and other Apps creating content too.
    pub const GITHUB: Self = Self {
        concurrent: 50,
        points_per_minute: 850,
        content_per_minute: 72,
        content_per_hour: 450,
        minute: Duration::from_secs(61),
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

    /// Each of `replicas` processes keeps to its share, so together they
    /// stay under the limits without talking to each other.
    pub fn shared_by(self, replicas: u32) -> Self {
        let n = replicas.max(1);
        let share = |v: u32| (v / n).max(1);
        Self {
            concurrent: share(self.concurrent),
            points_per_minute: share(self.points_per_minute),
            content_per_minute: share(self.content_per_minute),
            content_per_hour: share(self.content_per_hour),
            minute: self.minute,
        }
    }
}

/// Who waits first for room under the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Telling people where their request or command stands, and checking
    /// who asked.
    Answer = 0,
    /// Provisioning, commands, deployments.
    Work = 1,
    /// Resync, fleet upgrades, the dashboard.
    Background = 2,
}

tokio::task_local! {
    static SCOPE: Priority;
}

/// Runs `work` with its calls at background priority.
pub async fn background<F: Future>(work: F) -> F::Output {
    SCOPE.scope(Priority::Background, work).await
}

/// Operations whose calls answer people or check who asked.
const ANSWERS: [&str; 8] = [
    "issues/get",
    "orgs/get-membership-for-user",
    "repos/get-collaborator-permission-level",
    "teams/get-membership-for-user-in-org",
    "issues/create-comment",
    "issues/update-comment",
    "issues/update",
    "reactions/create-for-issue-comment",
];

/// A call's priority: its scope's, raised to [`Priority::Answer`] for the
/// operations that answer people.
fn priority_of(operation: &str) -> Priority {
    let scope = SCOPE.try_with(|p| *p).unwrap_or(Priority::Work);
    if ANSWERS.contains(&operation) {
        Priority::Answer
    } else {
        scope
    }
}

/// Why a call may not go yet.
enum Hold {
    /// Room comes at this instant.
    Until(Instant),
    /// A call of higher priority waits for the same room.
    Behind,
}

/// Room in the windows, reserved; stamped when the call is sent.
pub struct Reserved {
    lane: Arc<Lane>,
    operation: &'static str,
    creates: bool,
    points: u32,
    permit: Option<OwnedSemaphorePermit>,
    stamped: bool,
}

impl Reserved {
    /// The call goes out now: its place in the windows is from now. The
    /// place among calls under way is kept until this is dropped.
    pub fn stamp(&mut self) {
        if self.stamped {
            return;
        }
        let now = Instant::now();
        let mut w = self.lane.lock();
        w.release(self.operation, self.points, self.creates);
        w.points
            .entry(self.operation)
            .or_default()
            .push_back((now, self.points));
        if self.creates {
            w.created.push_back(now);
        }
        self.stamped = true;
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if !self.stamped {
            let mut w = self.lane.lock();
            w.release(self.operation, self.points, self.creates);
        }
        self.permit.take();
        self.lane.changed.notify_waiters();
    }
}

/// A content-creating call waiting for room, counted for lower priorities
/// to wait behind; dropping it (the call went, or was given up) uncounts it.
struct Waiting<'a> {
    lane: &'a Lane,
    priority: Priority,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.lane.lock().waiting[self.priority as usize] -= 1;
        self.lane.changed.notify_waiters();
    }
}

/// The pacer: one lane per installation.
pub struct Pacer {
    limits: PaceLimits,
    lanes: Mutex<HashMap<u64, Arc<Lane>>>,
}

struct Lane {
    permits: Arc<Semaphore>,
    windows: Mutex<Windows>,
    changed: Notify,
}

#[derive(Default)]
struct Windows {
    /// Per operation: when each call went out and its points.
    points: HashMap<&'static str, VecDeque<(Instant, u32)>>,
    /// When each content-creating call went out, over the last hour.
    created: VecDeque<Instant>,
    /// Reserved and not yet sent: counted as sent now.
    pending_points: HashMap<&'static str, u32>,
    pending_created: u32,
    /// Content-creating calls waiting, per priority.
    waiting: [u32; 3],
}

impl Pacer {
    pub fn new(limits: PaceLimits) -> Self {
        Self {
            limits,
            lanes: Mutex::default(),
        }
    }

    fn lane(&self, installation: u64) -> Arc<Lane> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        lanes
            .entry(installation)
            .or_insert_with(|| {
                Arc::new(Lane {
                    permits: Arc::new(Semaphore::new(self.limits.concurrent as usize)),
                    windows: Mutex::default(),
                    changed: Notify::new(),
                })
            })
            .clone()
    }

    /// Waits for room for one call and a place among the calls under way;
    /// `Err` with the wait when room is further off than `longest`.
    pub async fn reserve(
        &self,
        installation: u64,
        operation: &'static str,
        method: &Method,
        longest: Duration,
    ) -> Result<Reserved, Duration> {
        let lane = self.lane(installation);
        let creates = *method == Method::POST;
        let points = if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            1
        } else {
            5
        };
        let priority = priority_of(operation);
        let started = Instant::now();
        let mut waiting = None;
        loop {
            // Registered before looking, so no change is missed between.
            let changed = lane.changed.notified();
            let hold = {
                let mut w = lane.lock();
                let now = Instant::now();
                w.forget_before(&self.limits, now);
                let hold = w.hold(&self.limits, operation, points, creates, priority, now);
                if hold.is_none() {
                    w.take(operation, points, creates);
                } else if creates && waiting.is_none() {
                    w.waiting[priority as usize] += 1;
                    waiting = Some(Waiting {
                        lane: &lane,
                        priority,
                    });
                }
                hold
            };
            let until = match hold {
                None => break,
                Some(Hold::Until(at)) => at,
                Some(Hold::Behind) => Instant::now() + Duration::from_secs(1),
            };
            if until.saturating_duration_since(started) > longest {
                return Err(until.saturating_duration_since(Instant::now()));
            }
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                () = changed => {}
            }
        }
        drop(waiting);
        // Room is taken from here; the place among calls under way comes
        // after, so a call waiting for room holds none of those places.
        let mut reserved = Reserved {
            lane: lane.clone(),
            operation,
            creates,
            points,
            permit: None,
            stamped: false,
        };
        let permit = lane.permits.clone().acquire_owned().await;
        reserved.permit = Some(permit.expect("the semaphore is never closed"));
        Ok(reserved)
    }
}

impl Lane {
    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Windows {
    fn hold(
        &self,
        limits: &PaceLimits,
        operation: &'static str,
        points: u32,
        creates: bool,
        priority: Priority,
        now: Instant,
    ) -> Option<Hold> {
        let window = self.points.get(operation);
        let pending = self.pending_points.get(operation).copied().unwrap_or(0);
        let spent: u32 = window.map_or(0, |w| w.iter().map(|(_, p)| p).sum()) + pending;
        if spent + points > limits.points_per_minute {
            let mut freed = 0;
            let mut until = now + limits.minute;
            for (at, p) in window.into_iter().flatten() {
                freed += p;
                until = *at + limits.minute;
                if spent - freed + points <= limits.points_per_minute {
                    break;
                }
            }
            return Some(Hold::Until(until));
        }
        if !creates {
            return None;
        }
        if self.waiting[..priority as usize].iter().any(|n| *n > 0) {
            return Some(Hold::Behind);
        }
        let made = |within: Duration, limit: u32| -> Option<Instant> {
            let recent = self.created.iter().filter(|at| now - **at < within).count() as u32;
            let taken = recent + self.pending_created;
            (taken >= limit).then(|| {
                // Room comes when the oldest call that keeps it full ages out.
                let over = (taken + 1 - limit) as usize;
                let start = self.created.len() - recent as usize;
                self.created
                    .get(start + over - 1)
                    .map_or(now + Duration::from_millis(100), |at| *at + within)
            })
        };
        made(limits.minute, limits.content_per_minute)
            .into_iter()
            .chain(made(limits.hour(), limits.content_per_hour))
            .max()
            .map(Hold::Until)
    }

    /// Takes room for a call about to go out.
    fn take(&mut self, operation: &'static str, points: u32, creates: bool) {
        *self.pending_points.entry(operation).or_default() += points;
        if creates {
            self.pending_created += 1;
        }
    }

    /// Gives back room taken: the call went out (and is in the windows
    /// now), or will not.
    fn release(&mut self, operation: &'static str, points: u32, creates: bool) {
        if let Some(p) = self.pending_points.get_mut(operation) {
            *p = p.saturating_sub(points);
        }
        if creates {
            self.pending_created = self.pending_created.saturating_sub(1);
        }
    }

    fn forget_before(&mut self, limits: &PaceLimits, now: Instant) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(7200);
    const MINUTE: Duration = Duration::from_secs(61);
    const HOUR: Duration = Duration::from_secs(3660);

    fn small() -> PaceLimits {
        PaceLimits {
            concurrent: 2,
            points_per_minute: 12,
            content_per_minute: 3,
            content_per_hour: 5,
            minute: MINUTE,
        }
    }

    async fn sent(p: &Pacer, operation: &'static str, method: Method) -> Instant {
        let mut r = p.reserve(1, operation, &method, LONG).await.unwrap();
        r.stamp();
        Instant::now()
    }

    #[tokio::test(start_paused = true)]
    async fn content_creation_waits_for_the_minute_and_the_hour() {
        let p = Pacer::new(small());
        let start = Instant::now();
        for op in ["a", "b", "c"] {
            assert_eq!(sent(&p, op, Method::POST).await, start, "room at once");
        }
        // Edits and reads make nothing: they go now.
        assert_eq!(sent(&p, "d", Method::PATCH).await, start);
        assert_eq!(sent(&p, "d", Method::GET).await, start);
        // The fourth waits for the first to age out of the minute.
        assert_eq!(sent(&p, "e", Method::POST).await - start, MINUTE);
        assert_eq!(sent(&p, "e", Method::POST).await - start, MINUTE);
        // Five in the hour: the sixth waits for the hour's first to age out.
        assert_eq!(sent(&p, "f", Method::POST).await - start, HOUR);
        // Another installation has its own room.
        let mut other = p.reserve(2, "a", &Method::POST, LONG).await.unwrap();
        other.stamp();
        assert_eq!(Instant::now() - start, HOUR);
    }

    #[tokio::test(start_paused = true)]
    async fn points_are_counted_per_operation() {
        let p = Pacer::new(small());
        let start = Instant::now();
        sent(&p, "e", Method::PATCH).await;
        sent(&p, "e", Method::DELETE).await;
        sent(&p, "e", Method::GET).await;
        sent(&p, "e", Method::GET).await;
        assert_eq!(sent(&p, "other", Method::GET).await, start);
        assert_eq!(sent(&p, "e", Method::GET).await - start, MINUTE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_the_longest_is_handed_back() {
        let p = Pacer::new(small());
        for op in ["a", "b", "c"] {
            sent(&p, op, Method::POST).await;
        }
        let wait = p
            .reserve(1, "d", &Method::POST, Duration::from_secs(30))
            .await
            .err()
            .unwrap();
        assert_eq!(wait, MINUTE);
        // Nothing was taken by the call that gave up.
        assert!(p.lane(1).lock().pending_created == 0);
        assert_eq!(p.lane(1).lock().waiting, [0, 0, 0]);
    }

    #[tokio::test(start_paused = true)]
    async fn calls_under_way_are_capped() {
        let p = Arc::new(Pacer::new(small()));
        let a = p.reserve(1, "x", &Method::GET, LONG).await.unwrap();
        let _b = p.reserve(1, "x", &Method::GET, LONG).await.unwrap();
        let third = tokio::spawn({
            let p = p.clone();
            async move {
                p.reserve(1, "x", &Method::GET, LONG).await.unwrap();
            }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!third.is_finished(), "a third waits for a place");
        drop(a);
        third.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn answers_to_people_go_before_background_work() {
        let p = Arc::new(Pacer::new(small()));
        let start = Instant::now();
        for op in ["a", "b", "c"] {
            sent(&p, op, Method::POST).await;
        }
        let order = Arc::new(Mutex::new(Vec::new()));
        let call = |operation: &'static str, scope: Option<Priority>| {
            let (p, order) = (p.clone(), order.clone());
            let work = async move {
                sent(&p, operation, Method::POST).await;
                order.lock().unwrap().push(operation);
            };
            tokio::spawn(async move {
                match scope {
                    Some(_) => background(work).await,
                    None => work.await,
                }
            })
        };
        let upgrade = call("pulls/create", Some(Priority::Background));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let provision = call("repos/create-in-org", None);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let answer = call("issues/create-comment", Some(Priority::Background));
        for task in [upgrade, provision, answer] {
            task.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            [
                "issues/create-comment",
                "repos/create-in-org",
                "pulls/create"
            ]
        );
        assert!(Instant::now() - start >= MINUTE);
    }

    #[test]
    fn replicas_share_the_limits() {
        let each = PaceLimits::GITHUB.shared_by(3);
        assert_eq!(each.content_per_minute, 24);
        assert_eq!(each.content_per_hour, 150);
        assert_eq!(PaceLimits::GITHUB.shared_by(0), PaceLimits::GITHUB);
    }
}
