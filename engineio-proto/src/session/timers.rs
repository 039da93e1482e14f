//! One timer table for many state machines: the next deadline of each key, in time order.

use std::collections::BTreeSet;
use std::time::Instant;

/// The next deadline of each of many keys (sessions, connections), earliest first.
///
/// Every operation is O(log n), so a server with a hundred thousand sessions finds the next
/// wake-up without scanning them. The owner of each key remembers the deadline it last
/// scheduled (next to the state machine it belongs to) and hands it back when it moves it, so
/// the table needs no index of its own and an unchanged deadline costs one comparison in the
/// caller. The [`Endpoint`](super::endpoint::Endpoint) and the Socket.IO server keep one each.
///
/// ```
/// use std::time::{Duration, Instant};
/// use engineio_proto::session::TimerTable;
/// let now = Instant::now();
/// let (a, b) = (now + Duration::from_secs(2), now + Duration::from_secs(1));
/// let mut timers = TimerTable::default();
/// timers.reschedule("a", None, Some(a));
/// timers.reschedule("b", None, Some(b));
/// timers.reschedule("b", Some(b), Some(now + Duration::from_secs(3)));
/// assert_eq!(timers.next(), Some(a));
/// assert_eq!(timers.pop_due(a), Some((a, "a")));
/// assert_eq!(timers.pop_due(a), None);
/// ```
#[derive(Clone, Debug)]
pub struct TimerTable<K> {
    order: BTreeSet<(Instant, K)>,
}

impl<K> Default for TimerTable<K> {
    fn default() -> Self {
        TimerTable {
            order: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Clone> TimerTable<K> {
    /// Moves `key` from the deadline `from` (the one last scheduled for it and not yet popped;
    /// `None` if none) to `to` (`None`: no deadline).
    pub fn reschedule(&mut self, key: K, from: Option<Instant>, to: Option<Instant>) {
        if from == to {
            return;
        }
        if let Some(from) = from {
            self.order.remove(&(from, key.clone()));
        }
        if let Some(to) = to {
            self.order.insert((to, key));
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.order.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest deadline and its key if it is due at `now`; the key
    /// then has no deadline in the table.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, K)> {
        if self.order.first().is_none_or(|(at, _)| *at > now) {
            return None;
        }
        self.order.pop_first()
    }

    /// How many deadlines are scheduled.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no deadline is scheduled.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}
