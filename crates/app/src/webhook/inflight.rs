//! Bytes of request bodies held at once, before any signature is checked.
//! Whatever the concurrency, unauthenticated senders cannot make paved hold
//! more than this; a body that does not fit is turned away with 503.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Room for one body of GitHub's 25 MB cap and some more besides; ordinary
/// deliveries are a few kilobytes.
pub const BODY_BYTES_IN_FLIGHT: usize = 32 * 1024 * 1024;

/// Counted in KiB, so the semaphore's permit count stays small.
const UNIT: usize = 1024;

#[derive(Clone)]
pub struct InFlight(Arc<Semaphore>);

/// Bytes held for one body; released when dropped.
pub struct Held(Option<OwnedSemaphorePermit>);

impl InFlight {
    pub fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(bytes.div_ceil(UNIT))))
    }

    /// Nothing held yet.
    pub fn none() -> Held {
        Held(None)
    }

    /// Holds `bytes` more on `held`, or says the budget is spent.
    pub fn hold(&self, held: &mut Held, bytes: usize) -> bool {
        let units = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX);
        if units == 0 {
            return true;
        }
        match self.0.clone().try_acquire_many_owned(units) {
            Ok(permit) => {
                match &mut held.0 {
                    Some(p) => p.merge(permit),
                    None => held.0 = Some(permit),
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Bytes free now.
    #[cfg(test)]
    fn free(&self) -> usize {
        self.0.available_permits() * UNIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_the_budget_and_frees_on_drop() {
        let budget = InFlight::new(10 * UNIT);
        let mut a = InFlight::none();
        assert!(budget.hold(&mut a, 6 * UNIT));
        assert!(budget.hold(&mut a, 1));
        let mut b = InFlight::none();
        assert!(!budget.hold(&mut b, 4 * UNIT), "only 3 KiB are left");
        drop(a);
        assert!(budget.hold(&mut b, 10 * UNIT));
        assert_eq!(budget.free(), 0);
    }
}
