//! The shards of one server ([`Builder::threads`](super::Builder::threads)) as a
//! cluster: each shard's endpoint has a [`ClusterAdapter`] over [`ShardWire`], which hands
//! its messages to the other shards' cores, in process, without encoding them. Broadcasts,
//! room operations, queries, acknowledgements of broadcasts and recoveries cross shards
//! through the same seam as through Redis.
//!
//! Bounded, losing nothing: a shard takes at most [`SIBLING_QUEUE`](crate::driver::SIBLING_QUEUE) tasks from the others;
//! beyond, the sender keeps them in its own queue, in order, and while that queue holds more
//! than [`FORWARD_HIGH`] messages it stops reading its own clients (its input
//! [`Gate`](crate::driver::Gate)), until the queue is back under [`FORWARD_LOW`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use socketio_cluster_proto::{
    ClusterAdapter, ClusterMessage, Decoded, Destination, Member, Restoring, Wire,
};
use socketio_proto::server::{
    BroadcastTarget, KeptSession, Local, QueryError, QueryId, RecoveryConfig, RecoveryRequest,
    RecoveryStore,
};
use socketio_proto::{Namespace, Parser};
use tokio::sync::{Notify, mpsc};

use super::machine::Server;
use crate::driver::{Shard, Task};

/// Messages a shard keeps for busy siblings before it stops reading its own clients.
pub const FORWARD_HIGH: usize = 4096;

/// Messages under which it reads them again.
pub const FORWARD_LOW: usize = 1024;

/// The adapter of one shard.
pub(crate) type ShardAdapter = ClusterAdapter<ShardWire>;

/// The shards of one server, before and after they exist.
#[derive(Clone)]
pub(crate) struct ShardGroup {
    inner: Arc<GroupInner>,
}

struct GroupInner {
    count: usize,
    /// Each shard, once they run.
    shards: OnceLock<Vec<Shard<Server>>>,
    /// The recovery store they share, with recovery on.
    store: Option<Mutex<Store>>,
}

struct Store {
    sessions: RecoveryStore,
    next_offset: u64,
}

/// What one shard hands another.
pub(crate) enum ShardInput {
    Message {
        namespace: Namespace,
        from: String,
        message: ClusterMessage,
        offset: Option<String>,
    },
}

impl ShardGroup {
    /// The group of `count` shards (`None` for one: nothing to share), with the server's
    /// recovery settings and wire format.
    pub(crate) fn new(
        count: usize,
        recovery: Option<&RecoveryConfig>,
        parser: Parser,
    ) -> Option<Self> {
        (count > 1).then(|| ShardGroup {
            inner: Arc::new(GroupInner {
                count,
                shards: OnceLock::new(),
                store: recovery.map(|config| {
                    Mutex::new(Store {
                        sessions: RecoveryStore::with_parser(config.clone(), parser),
                        next_offset: 0,
                    })
                }),
            }),
        })
    }

    /// The adapter of shard `index`.
    pub(crate) fn adapter(&self, index: usize) -> ShardAdapter {
        let wire = ShardWire {
            index,
            group: self.clone(),
            forward: Arc::new(Forward::default()),
            recovery: self.inner.store.as_ref().map(|_| Duration::MAX),
        };
        ClusterAdapter::every_namespace(wire, &uid(index))
    }

    /// The shards run: each adapter learns its siblings and starts forwarding.
    pub(crate) fn attach(&self, shards: &[Shard<Server>]) {
        let _ = self.inner.shards.set(shards.to_vec());
    }

    fn shards(&self) -> &[Shard<Server>] {
        self.inner.shards.get().map_or(&[], Vec::as_slice)
    }

    fn store(&self) -> Option<std::sync::MutexGuard<'_, Store>> {
        let store = self.inner.store.as_ref()?;
        Some(store.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn uid(index: usize) -> String {
    format!("shard-{index}")
}

fn index_of(uid: &str) -> Option<usize> {
    uid.strip_prefix("shard-")?.parse().ok()
}

/// A shard's messages waiting for busy siblings, in order.
#[derive(Default)]
struct Forward {
    queue: Mutex<VecDeque<(usize, Task<Server>)>>,
    ready: Notify,
    started: std::sync::atomic::AtomicBool,
}

/// The wire between the shards of one server.
pub(crate) struct ShardWire {
    index: usize,
    group: ShardGroup,
    forward: Arc<Forward>,
    /// With recovery, the shared store keeps sessions (for as long as it says).
    recovery: Option<Duration>,
}

impl std::fmt::Debug for ShardWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardWire")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl ShardWire {
    /// Hands `input` to shard `to`'s adapter: at once when it has room, else after what
    /// waits for the busy siblings.
    fn deliver(&self, to: usize, input: ShardInput) {
        let Some(shard) = self.group.shards().get(to) else {
            return;
        };
        let task: Task<Server> = Box::new(move |server: &mut Server, now: Instant| {
            server
                .endpoint_mut()
                .with_adapter_mut(now, |adapter: &mut ShardAdapter, local: &mut Local| {
                    adapter.handle(now, local, input)
                });
        });
        let mut queue = self
            .forward
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if queue.is_empty() {
            match shard.sibling_sender().try_send(task) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Closed(_)) => return,
                Err(mpsc::error::TrySendError::Full(task)) => queue.push_back((to, task)),
            }
        } else {
            queue.push_back((to, task));
        }
        let waiting = queue.len();
        drop(queue);
        self.start_forwarding();
        if waiting > FORWARD_HIGH {
            if let Some(own) = self.group.shards().get(self.index) {
                own.gate().close();
            }
        }
        self.forward.ready.notify_one();
    }

    /// The task that moves the queue to the busy siblings, started the first time one is
    /// busy, on this shard's runtime.
    fn start_forwarding(&self) {
        use std::sync::atomic::Ordering;
        if self.forward.started.swap(true, Ordering::Relaxed) {
            return;
        }
        let forward = self.forward.clone();
        let group = self.group.clone();
        let index = self.index;
        tokio::spawn(async move {
            loop {
                let next = forward
                    .queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop_front();
                let Some((to, task)) = next else {
                    forward.ready.notified().await;
                    continue;
                };
                if let Some(shard) = group.shards().get(to) {
                    // Waits while the sibling is busy: this is where the backpressure is.
                    let _ = shard.sibling_sender().send(task).await;
                }
                let left = forward
                    .queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .len();
                if left < FORWARD_LOW {
                    if let Some(own) = group.shards().get(index) {
                        own.gate().open();
                    }
                }
            }
        });
    }

    fn siblings(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.group.inner.count).filter(move |&i| i != self.index)
    }
}

impl Wire for ShardWire {
    type Input = ShardInput;
    type Command = std::convert::Infallible;

    fn add_member(&mut self, _member: &Member) {}

    fn send(
        &mut self,
        member: &Member,
        message: &ClusterMessage,
        to: Destination<'_>,
    ) -> Result<(), QueryError> {
        let input = |message: ClusterMessage| ShardInput::Message {
            namespace: member.namespace.clone(),
            from: member.uid.clone(),
            message,
            offset: None,
        };
        match to {
            Destination::All => {
                for sibling in self.siblings().collect::<Vec<_>>() {
                    self.deliver(sibling, input(message.clone()));
                }
            }
            Destination::Requester(uid) => {
                if let Some(shard) = index_of(uid) {
                    self.deliver(shard, input(message.clone()));
                }
            }
        }
        Ok(())
    }

    fn count_servers(&mut self, _member: &Member, _query: QueryId) -> Option<usize> {
        Some(self.group.inner.count)
    }

    fn decode(
        &mut self,
        _members: &[Member],
        _local: &Local,
        input: ShardInput,
    ) -> Option<Decoded> {
        let ShardInput::Message {
            namespace,
            from,
            message,
            offset,
        } = input;
        Some(Decoded::Message {
            namespace,
            from,
            message,
            offset,
        })
    }

    fn poll_command(&mut self) -> Option<std::convert::Infallible> {
        None
    }

    fn recovery(&self) -> Option<Duration> {
        self.recovery
    }

    fn send_durable(
        &mut self,
        member: &Member,
        message: &ClusterMessage,
        _token: u64,
    ) -> Result<Option<String>, QueryError> {
        let ClusterMessage::Broadcast { packet, opts, .. } = message else {
            return self.send(member, message, Destination::All).map(|()| None);
        };
        let offset = {
            let Some(mut store) = self.group.store() else {
                return self.send(member, message, Destination::All).map(|()| None);
            };
            store.next_offset += 1;
            let offset = format!("{:x}", store.next_offset);
            let target = BroadcastTarget::from(opts);
            store
                .sessions
                .store(Instant::now(), &offset, packet.clone(), &target)?;
            offset
        };
        for sibling in self.siblings().collect::<Vec<_>>() {
            let input = ShardInput::Message {
                namespace: member.namespace.clone(),
                from: member.uid.clone(),
                message: message.clone(),
                offset: Some(offset.clone()),
            };
            self.deliver(sibling, input);
        }
        Ok(Some(offset))
    }

    fn keep_session(&mut self, member: &Member, session: &KeptSession) {
        if let Some(mut store) = self.group.store() {
            let ns = member.namespace.as_str();
            store.sessions.keep(Instant::now(), ns, session.clone());
        }
    }

    fn restore_session(
        &mut self,
        member: &Member,
        wanted: &RecoveryRequest,
        _token: u64,
    ) -> Restoring {
        let Some(mut store) = self.group.store() else {
            return Restoring::Fresh;
        };
        let ns = member.namespace.as_str();
        match store.sessions.take(Instant::now(), ns, wanted) {
            Some(recovered) => Restoring::Found(recovered),
            None => Restoring::Fresh,
        }
    }
}
