//! One shard: the machine behind a lock, its core task, and the way in for its connections.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use engineio_proto::Frame;
use rustc_hash::FxHashMap;
use socketio_proto::server::{
    Handshake, HttpResponse, Input, Method, RequestId, SocketId, Transmit,
};
use tokio::sync::{Notify, mpsc, oneshot};

use super::gate::Gate;
use crate::websocket::Outbox;

/// The sans-IO side of a server, as the driver sees it: inputs from the wire, transmits out,
/// deadlines, and the application's work.
pub trait Machine: Send + Sized + 'static {
    /// Feeds one input (due deadlines are applied first).
    fn handle(&mut self, now: Instant, input: Input<'_>);
    /// Feeds an input that may open a session, with what the driver read of its HTTP request.
    fn handle_handshake(&mut self, now: Instant, input: Input<'_>, handshake: Handshake) {
        let _ = handshake;
        self.handle(now, input);
    }
    /// Fires due deadlines.
    fn handle_timeout(&mut self, now: Instant);
    /// The next deadline.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The next thing to put on the wire.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// The largest message a client may send (`maxPayload`).
    fn max_payload(&self) -> usize;
    /// How many Engine.IO sessions are open.
    fn session_count(&self) -> usize;
    /// Whether the application has work ([`run`](Self::run) should be called).
    fn has_work(&mut self) -> bool {
        false
    }
    /// Called when a lock on the machine is released: a place to hand what the commands made
    /// to other I/O (a cluster adapter's publisher).
    fn after_commands(&mut self) {}
    /// Served as one shard of several ([`serve_sharded`](super::serve_sharded)): every shard, this one included,
    /// in order. Called once, before any input.
    fn attach(&mut self, shards: &[Shard<Self>]) {
        let _ = shards;
    }
    /// Runs the application's work with the machine unlocked (it locks the shard for each
    /// command). Called by the core task after each batch when [`has_work`](Self::has_work).
    fn run(shard: &Shard<Self>, now: Instant) {
        let _ = (shard, now);
    }
}

/// What a request task waits for.
#[derive(Debug)]
pub(crate) enum Reply {
    Response(HttpResponse),
    /// Read the body (at most `limit` bytes), then wait for `response`.
    ReadBody {
        limit: usize,
        response: oneshot::Receiver<Reply>,
    },
    /// Complete the WebSocket upgrade; the socket is this one.
    Accept(SocketId, usize),
}

/// A closure run on the machine by its core, in order with the shard's other inputs.
pub type Task<M> = Box<dyn FnOnce(&mut M, Instant) + Send>;

/// Messages from connection tasks to the core: the endpoint's inputs, owned.
pub(crate) enum Msg<M> {
    Request {
        request: RequestId,
        method: Method,
        query: String,
        upgrade: bool,
        /// A polling handshake's request, described for the session it opens.
        handshake: Option<Box<Handshake>>,
        reply: oneshot::Sender<Reply>,
    },
    Body {
        request: RequestId,
        content_type: Option<String>,
        body: Option<Bytes>,
    },
    Aborted(RequestId),
    Opened {
        socket: SocketId,
        frames: Outbox,
        /// A WebSocket-only handshake's upgrade request, described for the session it opens.
        handshake: Option<Box<Handshake>>,
    },
    Frame(SocketId, Frame),
    SocketClosed(SocketId),
    Task(Task<M>),
}

/// The way into a shard's core. Each message is stamped with the time it arrived: the core
/// feeds it to the machine at that time, not at the (later) time it gets to it, so a pong that
/// arrived before its deadline counts even when the core was busy with a burst.
pub(crate) struct Inputs<M> {
    sender: mpsc::UnboundedSender<(Instant, Msg<M>)>,
    /// Closed while the shard cannot take more from its clients.
    pub(crate) gate: Arc<Gate>,
}

impl<M> Clone for Inputs<M> {
    fn clone(&self) -> Self {
        Inputs {
            sender: self.sender.clone(),
            gate: self.gate.clone(),
        }
    }
}

impl<M> Inputs<M> {
    pub(crate) fn send(&self, msg: Msg<M>) -> Result<(), ()> {
        self.sender.send((Instant::now(), msg)).map_err(drop)
    }
}

/// Tasks from the other shards waiting for a shard's core, at most: a shard that sends more
/// to a busy sibling keeps them itself (and closes its own [`Gate`]).
pub const SIBLING_QUEUE: usize = 1024;

/// The first character of the ids of shard `index` of a [`serve_sharded`](super::serve_sharded) server (at most
/// 64 shards: URL-safe base64 digits), which the driver reads to route a session's requests
/// to its shard; `None` beyond. Give a shard's machine ids that begin with it
/// (`OsIds::tagged`).
pub fn shard_tag(index: usize) -> Option<char> {
    SHARD_TAGS.get(index).map(|&tag| char::from(tag))
}

/// The first character of the ids of shard `n`: URL-safe base64 digits.
pub(crate) const SHARD_TAGS: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Inputs handled before the outputs are drained, at most.
const INPUT_BATCH: usize = 256;

/// One shard: a machine, its core task and the connections it serves. Cheap to clone.
pub struct Shard<M> {
    inner: Arc<ShardInner<M>>,
}

impl<M> Clone for Shard<M> {
    fn clone(&self) -> Self {
        Shard {
            inner: self.inner.clone(),
        }
    }
}

impl<M> std::fmt::Debug for Shard<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("index", &self.inner.index)
            .finish_non_exhaustive()
    }
}

struct ShardInner<M> {
    index: usize,
    core: Mutex<Core<M>>,
    inputs: Inputs<M>,
    /// The bounded way in for the other shards.
    siblings: mpsc::Sender<Task<M>>,
    /// Wakes the core: the application has work, or a deadline moved earlier.
    wake: Notify,
    stopped: AtomicBool,
}

/// The machine and where its output goes.
pub(crate) struct Core<M> {
    machine: M,
    /// Requests waiting for a reply.
    requests: HashMap<RequestId, oneshot::Sender<Reply>>,
    /// Open WebSockets' outgoing queues (the ids are ours: a fast hash is safe).
    sockets: FxHashMap<SocketId, Outbox>,
    /// Sockets given frames since the last wake-up.
    written: Vec<SocketId>,
    /// The deadline the core task sleeps until.
    armed: Option<Instant>,
}

thread_local! {
    /// The shard whose application the core task of this thread is running (its address), if
    /// any: commands given from there leave the draining to the core, which does it once for
    /// the whole batch.
    static RUNNING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl<M: Machine> Shard<M> {
    /// A shard around `machine`, with the receiver its core task reads.
    pub(crate) fn new(index: usize, machine: M) -> (Shard<M>, Receivers<M>) {
        let (inputs, rx) = mpsc::unbounded_channel();
        let (siblings, from_siblings) = mpsc::channel(SIBLING_QUEUE);
        let core = Core {
            machine,
            requests: HashMap::new(),
            sockets: FxHashMap::default(),
            written: Vec::new(),
            armed: None,
        };
        let inner = ShardInner {
            index,
            core: Mutex::new(core),
            inputs: Inputs {
                sender: inputs,
                gate: Arc::new(Gate::default()),
            },
            siblings,
            wake: Notify::new(),
            stopped: AtomicBool::new(false),
        };
        (
            Shard {
                inner: Arc::new(inner),
            },
            Receivers {
                inputs: rx,
                siblings: from_siblings,
            },
        )
    }

    /// This shard's number (0 when there is one).
    pub fn index(&self) -> usize {
        self.inner.index
    }

    /// Locks the machine. When the guard is dropped, what the commands made is put on the
    /// wire, and the core task is woken if the application has work or a deadline moved
    /// earlier.
    pub fn lock(&self) -> Guard<'_, M> {
        let core = self
            .inner
            .core
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Guard {
            core,
            shard: &self.inner,
        }
    }

    /// Runs `task` on the machine from the core task, after what the shard already received.
    /// `false` when the shard has stopped.
    pub fn spawn_task(&self, task: Task<M>) -> bool {
        self.inner.inputs.send(Msg::Task(task)).is_ok()
    }

    pub(crate) fn inputs(&self) -> &Inputs<M> {
        &self.inner.inputs
    }

    /// The bounded way into this shard's core for another shard: a task waits there when
    /// [`SIBLING_QUEUE`] are already waiting.
    pub fn sibling_sender(&self) -> mpsc::Sender<Task<M>> {
        self.inner.siblings.clone()
    }

    /// This shard's input gate.
    pub fn gate(&self) -> &Arc<Gate> {
        &self.inner.inputs.gate
    }

    /// Whether the core task has stopped.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::Relaxed)
    }

    fn running_key(&self) -> usize {
        Arc::as_ptr(&self.inner) as *const () as usize
    }

    /// The core task: reads inputs, fires deadlines, runs the application, until every
    /// sender is gone.
    pub(crate) async fn run_core(self, receivers: Receivers<M>) {
        let Receivers {
            mut inputs,
            mut siblings,
        } = receivers;
        let mut now = Instant::now();
        loop {
            let deadline = {
                let mut core = self.lock_raw();
                core.armed = core.machine.poll_timeout();
                core.armed
            };
            tokio::select! {
                // Inputs first: they arrived before any deadline that fires now, and each
                // applies the deadlines due at its own arrival.
                biased;
                input = inputs.recv() => match input {
                    Some((at, input)) => {
                        now = now.max(at);
                        let mut core = self.lock_raw();
                        core.input(now, input);
                        // Whatever else already arrived goes in before the outputs are
                        // drained: a burst of frames then costs one drain, and each socket
                        // one wake-up and one write.
                        for _ in 0..INPUT_BATCH {
                            let Ok((at, input)) = inputs.try_recv() else { break };
                            now = now.max(at);
                            core.input(now, input);
                        }
                    }
                    None => break,
                },
                Some(task) = siblings.recv() => {
                    now = now.max(Instant::now());
                    let mut core = self.lock_raw();
                    task(&mut core.machine, now);
                    for _ in 0..INPUT_BATCH {
                        let Ok(task) = siblings.try_recv() else { break };
                        task(&mut core.machine, now);
                    }
                }
                () = self.inner.wake.notified() => {
                    now = now.max(Instant::now());
                }
                () = sleep_until(deadline) => {
                    now = now.max(Instant::now());
                    self.lock_raw().machine.handle_timeout(now);
                }
            }
            self.settle(now);
        }
        self.inner.stopped.store(true, Ordering::Relaxed);
    }

    /// Drains the machine and runs the application until nothing moves.
    fn settle(&self, now: Instant) {
        loop {
            let work = {
                let mut core = self.lock_raw();
                core.flush(now);
                core.machine.after_commands();
                core.machine.has_work()
            };
            if !work {
                return;
            }
            RUNNING.with(|running| running.set(self.running_key()));
            M::run(self, now);
            RUNNING.with(|running| running.set(0));
        }
    }

    fn lock_raw(&self) -> MutexGuard<'_, Core<M>> {
        self.inner
            .core
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The machine, locked (see [`Shard::lock`]).
pub struct Guard<'a, M: Machine> {
    core: MutexGuard<'a, Core<M>>,
    shard: &'a ShardInner<M>,
}

impl<M: Machine> Deref for Guard<'_, M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.core.machine
    }
}

impl<M: Machine> DerefMut for Guard<'_, M> {
    fn deref_mut(&mut self) -> &mut M {
        &mut self.core.machine
    }
}

impl<M: Machine> Drop for Guard<'_, M> {
    fn drop(&mut self) {
        // Commands given while the core runs the application are drained by the core, once
        // for the whole batch.
        let key = std::ptr::from_ref(self.shard) as *const () as usize;
        if RUNNING.with(std::cell::Cell::get) == key {
            return;
        }
        let core = &mut *self.core;
        core.flush(Instant::now());
        core.machine.after_commands();
        let earlier = match (core.machine.poll_timeout(), core.armed) {
            (Some(next), Some(armed)) => next < armed,
            (Some(_), None) => true,
            _ => false,
        };
        if earlier || core.machine.has_work() {
            self.shard.wake.notify_one();
        }
    }
}

impl<M: Machine> Core<M> {
    fn input(&mut self, now: Instant, msg: Msg<M>) {
        match msg {
            Msg::Request {
                request,
                method,
                query,
                upgrade,
                handshake,
                reply,
            } => {
                self.requests.insert(request, reply);
                let input = Input::Request {
                    request,
                    method,
                    query: &query,
                    websocket_upgrade: upgrade,
                };
                match handshake {
                    Some(handshake) => self.machine.handle_handshake(now, input, *handshake),
                    None => self.machine.handle(now, input),
                }
            }
            Msg::Body {
                request,
                content_type,
                body: Some(body),
            } => {
                let content_type = content_type.as_deref();
                let input = Input::PostBody {
                    request,
                    content_type,
                    body,
                };
                self.machine.handle(now, input);
            }
            Msg::Body { request, .. } => {
                self.machine.handle(now, Input::PostTooLarge { request });
            }
            Msg::Aborted(request) => {
                self.requests.remove(&request);
                self.machine.handle(now, Input::RequestAborted { request });
            }
            Msg::Opened {
                socket,
                frames,
                handshake,
            } => {
                self.sockets.insert(socket, frames);
                let input = Input::WebSocketOpen { socket };
                match handshake {
                    Some(handshake) => self.machine.handle_handshake(now, input, *handshake),
                    None => self.machine.handle(now, input),
                }
            }
            Msg::Frame(socket, frame) => {
                self.machine
                    .handle(now, Input::WebSocketFrame { socket, frame });
            }
            Msg::SocketClosed(socket) => {
                self.sockets.remove(&socket);
                self.machine.handle(now, Input::WebSocketClosed { socket });
            }
            Msg::Task(task) => task(&mut self.machine, now),
        }
    }

    /// Writes everything out, until nothing moves.
    fn flush(&mut self, now: Instant) {
        while let Some(transmit) = self.machine.poll_transmit() {
            self.transmit(now, transmit);
        }
        for socket in self.written.drain(..) {
            if let Some(frames) = self.sockets.get(&socket) {
                frames.wake();
            }
        }
    }

    fn transmit(&mut self, now: Instant, transmit: Transmit) {
        match transmit {
            Transmit::Response { request, response } => {
                if let Some(reply) = self.requests.remove(&request) {
                    let _ = reply.send(Reply::Response(response));
                }
            }
            Transmit::ReadBody { request, limit } => {
                let (next, response) = oneshot::channel();
                if let Some(reply) = self.requests.insert(request, next) {
                    let _ = reply.send(Reply::ReadBody { limit, response });
                }
            }
            Transmit::AcceptWebSocket { request, socket } => {
                if let Some(reply) = self.requests.remove(&request) {
                    let accepted = Reply::Accept(socket, self.machine.max_payload());
                    if reply.send(accepted).is_err() {
                        // The client left before the upgrade.
                        self.machine.handle(now, Input::WebSocketClosed { socket });
                    }
                }
            }
            Transmit::Frame { socket, frame } => {
                let Some(frames) = self.sockets.get(&socket) else {
                    return;
                };
                if frames.push(frame).is_ok() {
                    self.written.push(socket);
                } else {
                    // Too slow (closed with 1008) or gone: the session learns that its socket
                    // closed.
                    self.sockets.remove(&socket);
                    self.machine.handle(now, Input::WebSocketClosed { socket });
                }
            }
            Transmit::CloseSocket { socket } => {
                // Dropping the sender lets the writer flush what is queued, then close.
                self.sockets.remove(&socket);
            }
        }
    }
}

/// What a shard's core task reads.
pub(crate) struct Receivers<M> {
    inputs: mpsc::UnboundedReceiver<(Instant, Msg<M>)>,
    siblings: mpsc::Receiver<Task<M>>,
}

/// Makes a shard of each machine (each learns its siblings, [`Machine::attach`]) and runs
/// their cores on the current runtime.
pub(crate) fn spawn_shards<M: Machine>(machines: Vec<M>) -> Vec<Shard<M>> {
    let (shards, receivers): (Vec<_>, Vec<_>) = machines
        .into_iter()
        .enumerate()
        .map(|(index, machine)| Shard::new(index, machine))
        .unzip();
    for shard in &shards {
        shard.lock().attach(&shards);
    }
    for (shard, receivers) in shards.iter().cloned().zip(receivers) {
        tokio::spawn(shard.run_core(receivers));
    }
    shards
}

/// Sleeps until `deadline`, forever when there is none.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
