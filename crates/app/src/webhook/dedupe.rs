//! Recently seen delivery ids. GitHub redelivers on timeouts and on request;
//! a delivery seen within the window is answered but not processed again.
//! This is only a cache: the reconciler is idempotent, so a redelivery that
//! slips past it (after a restart, or to another replica) changes nothing.

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::Mutex;

/// A bounded set of delivery ids, oldest evicted first. Ids are kept as
/// 64-bit keyed hashes: no allocation per delivery, and collisions across a
/// window of thousands are vanishingly rare.
pub struct RecentDeliveries {
    capacity: usize,
    hasher: RandomState,
    seen: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    set: HashSet<u64>,
    order: VecDeque<u64>,
}

impl RecentDeliveries {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            hasher: RandomState::new(),
            seen: Mutex::default(),
        }
    }

    /// Records `id`; false when it was already there.
    pub fn insert(&self, id: &str) -> bool {
        let key = self.hasher.hash_one(id);
        let mut w = self.seen.lock().expect("dedupe lock");
        if !w.set.insert(key) {
            return false;
        }
        w.order.push_back(key);
        if w.order.len() > self.capacity
            && let Some(old) = w.order.pop_front()
        {
            w.set.remove(&old);
        }
        true
    }

    /// Forgets `id`, so that a delivery we could not take can be redelivered.
    pub fn remove(&self, id: &str) {
        let key = self.hasher.hash_one(id);
        let mut w = self.seen.lock().expect("dedupe lock");
        if w.set.remove(&key) {
            w.order.retain(|k| *k != key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RecentDeliveries;

    #[test]
    fn remembers_a_bounded_window() {
        let d = RecentDeliveries::new(2);
        assert!(d.insert("a"));
        assert!(!d.insert("a"));
        assert!(d.insert("b"));
        assert!(d.insert("c")); // evicts "a"
        assert!(d.insert("a"));
        d.remove("a");
        assert!(d.insert("a"));
    }
}
