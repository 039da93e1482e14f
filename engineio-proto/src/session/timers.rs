//! One timer table for many state machines: the earliest deadline of each key, in time order.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// The next deadline of each of many keys (sessions, connections), earliest first.
///
/// Setting a key's deadline replaces its old one; every operation is O(log n), so a server
/// with a hundred thousand sessions finds the next wake-up without scanning them. The
/// [`Endpoint`](super::endpoint::Endpoint) and the Socket.IO server keep one each.
///
/// ```
/// use std::time::{Duration, Instant};
/// use engineio_proto::session::TimerTable;
/// let now = Instant::now();
/// let mut timers = TimerTable::default();
/// timers.set(&"a", Some(now + Duration::from_secs(2)));
/// timers.set(&"b", Some(now + Duration::from_secs(1)));
/// timers.set(&"b", Some(now + Duration::from_secs(3))); // replaces b's deadline
/// assert_eq!(timers.next(), Some(now + Duration::from_secs(2)));
/// assert_eq!(timers.pop_due(now + Duration::from_secs(2)), Some((now + Duration::from_secs(2), "a")));
/// assert_eq!(timers.pop_due(now + Duration::from_secs(2)), None);
/// ```
#[derive(Clone, Debug)]
pub struct TimerTable<K> {
    order: BTreeSet<(Instant, K)>,
    at: HashMap<K, Instant>,
}

impl<K> Default for TimerTable<K> {
    fn default() -> Self {
        TimerTable {
            order: BTreeSet::new(),
            at: HashMap::new(),
        }
    }
}

impl<K: Ord + Hash + Clone> TimerTable<K> {
    /// Sets (or clears, with `None`) the deadline of `key`.
    pub fn set(&mut self, key: &K, deadline: Option<Instant>) {
        if self.at.get(key).copied() == deadline {
            return;
        }
        if let Some(old) = self.at.remove(key) {
            self.order.remove(&(old, key.clone()));
        }
        if let Some(deadline) = deadline {
            self.order.insert((deadline, key.clone()));
            self.at.insert(key.clone(), deadline);
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.order.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest deadline and its key if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, K)> {
        if self.order.first().is_none_or(|(at, _)| *at > now) {
            return None;
        }
        let (at, key) = self.order.pop_first()?;
        self.at.remove(&key);
        Some((at, key))
    }

    /// How many keys have a deadline.
    pub fn len(&self) -> usize {
        self.at.len()
    }

    /// Whether no key has a deadline.
    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }
}
