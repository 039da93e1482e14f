//! The Socket.IO [`Machine`]: the sans-IO endpoint, the application's handlers, and the
//! waiters of acknowledgements and queries. Events are taken from the endpoint with the shard
//! locked and handed to the handlers with it unlocked, in order.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use socketio_proto::server::{
    ConnectRequest, DisconnectReason, Endpoint, Handshake, Input, QueryId, QueryReply, ReplyTo,
    ServerEvent, SocketRef, Transmit,
};
use socketio_proto::{AckId, Namespace, Packet};
use tokio::sync::oneshot;

use super::error::{Error, Refusal};
use super::io::{
    Connecting, Middleware, Monitor, NamespaceEntry, Registry, ServerSideEmit, SocketIo,
};
use super::shards::ShardGroup;
use super::socket::{Ack, Socket};
use super::socket::{ConnectionHandler, DisconnectHandler};
use crate::args::Event;
use crate::driver::{Machine, Shard};
use crate::handler::EventHandlers;

/// A command run on the endpoint after every lock (a cluster adapter's driver draining its
/// commands).
pub(crate) type Hook = Box<dyn FnMut(&mut Endpoint) + Send>;

/// One shard's Socket.IO server: its endpoint and what the application waits for.
pub struct Server {
    endpoint: Endpoint,
    registry: Arc<RwLock<Registry>>,
    /// The server's handle (the shards live as long as the server: the process, or until
    /// `io.close()`).
    io: SocketIo,
    /// The sockets connected here, by id.
    sockets: FxHashMap<String, Socket>,
    /// `socket.data` the middlewares set, for the sockets their CONNECT is about to make.
    pending_data: HashMap<(usize, Namespace), serde_json::Value>,
    acks: FxHashMap<(SocketRef, AckId), oneshot::Sender<Result<Event, Error>>>,
    queries: FxHashMap<QueryId, oneshot::Sender<QueryReply>>,
    hooks: Vec<Hook>,
    /// The jobs of the batch being handed out (kept for its allocation).
    jobs: Vec<Job>,
    /// The other shards, when this is one of several and they share its adapter.
    group: Option<ShardGroup>,
    /// The endpoint records room memberships for a monitor.
    tracking: bool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("sockets", &self.sockets.len())
            .finish_non_exhaustive()
    }
}

/// What the application is handed, with the shard unlocked.
enum Job {
    Connect(Connecting, Arc<NamespaceEntry>),
    Connected(Socket, ConnectionHandler),
    Event(Socket, Event, EventHandlers<Socket>),
    Disconnected(Socket, DisconnectReason, DisconnectHandler),
    ServerSideEmit(ServerSideEmit, Arc<dyn Fn(ServerSideEmit) + Send + Sync>),
    Watched(Arc<dyn Monitor>, Watched),
}

#[cfg(feature = "tracing")]
impl Job {
    /// The socket the job is about (its span is entered while it runs).
    fn socket(&self) -> Option<&Socket> {
        match self {
            Job::Connected(socket, _) | Job::Event(socket, ..) | Job::Disconnected(socket, ..) => {
                Some(socket)
            }
            _ => None,
        }
    }
}

/// What a monitor is told.
enum Watched {
    Connected(Socket),
    Disconnected(Socket, DisconnectReason),
    Received(Socket, Event),
    Membership(socketio_proto::server::Membership),
}

impl Server {
    pub(crate) fn new(
        endpoint: Endpoint,
        registry: Arc<RwLock<Registry>>,
        io: SocketIo,
        group: Option<ShardGroup>,
    ) -> Self {
        Server {
            endpoint,
            registry,
            io,
            sockets: FxHashMap::default(),
            pending_data: HashMap::new(),
            acks: FxHashMap::default(),
            queries: FxHashMap::default(),
            hooks: Vec::new(),
            jobs: Vec::new(),
            group,
            tracking: false,
        }
    }

    /// The sans-IO endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The sans-IO endpoint, for commands (drain rule: the shard's guard does it).
    pub fn endpoint_mut(&mut self) -> &mut Endpoint {
        &mut self.endpoint
    }

    /// Runs `hook` on the endpoint after every lock, from now on.
    pub(crate) fn add_hook(&mut self, hook: Hook) {
        self.hooks.push(hook);
    }

    /// Whether `socket` is connected here.
    pub(crate) fn is_live(&self, socket: &SocketRef) -> bool {
        self.sockets
            .get(&*socket.id)
            .is_some_and(|s| s.socket_ref() == socket)
    }

    /// The sockets connected here.
    pub(crate) fn sockets(&self) -> impl Iterator<Item = &Socket> {
        self.sockets.values()
    }

    /// The socket `id`, if it is connected here.
    pub(crate) fn socket(&self, id: &str) -> Option<Socket> {
        self.sockets.get(id).cloned()
    }

    /// Emits with an ack id; the answer comes through the receiver.
    pub(crate) fn emit_with_ack(
        &mut self,
        socket: &SocketRef,
        packet: Packet,
        timeout: Duration,
    ) -> Result<oneshot::Receiver<Result<Event, Error>>, Error> {
        let id = self
            .endpoint
            .emit_with_ack(Instant::now(), socket, packet, timeout)?;
        let (answer, receiver) = oneshot::channel();
        self.acks.insert((socket.clone(), id), answer);
        Ok(receiver)
    }

    /// Starts a query; its reply comes through the receiver.
    pub(crate) fn query(
        &mut self,
        start: impl FnOnce(
            &mut Endpoint,
            Instant,
        ) -> Result<QueryId, socketio_proto::server::QueryError>,
    ) -> Result<oneshot::Receiver<QueryReply>, Error> {
        let query = start(&mut self.endpoint, Instant::now())?;
        let (answer, receiver) = oneshot::channel();
        self.queries.insert(query, answer);
        Ok(receiver)
    }

    /// Accepts a CONNECT the middlewares let through (keeping the data they set) or refuses
    /// it.
    pub(crate) fn answer_connect(
        &mut self,
        request: &ConnectRequest,
        verdict: Result<Option<serde_json::Value>, Refusal>,
    ) {
        // Errors mean the client left meanwhile: nobody to answer.
        let _ = match verdict {
            Ok(data) => {
                if let Some(data) = data {
                    let key = (request.session.index(), request.namespace.clone());
                    self.pending_data.insert(key, data);
                }
                self.endpoint.accept(Instant::now(), request)
            }
            Err(refusal) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(
                    ns = request.namespace.as_str(),
                    message = %refusal.message,
                    "connection refused by a middleware"
                );
                self.endpoint
                    .refuse(request, &refusal.message, refusal.data.as_ref())
            }
        };
    }

    /// Takes the endpoint's events: the ones of the waiters are answered here, the ones of
    /// the application become jobs.
    fn prepare(&mut self, shard: &Shard<Server>, io: &SocketIo) {
        let instrumented = self.registry().monitor.clone();
        if instrumented.is_some() && !self.tracking {
            self.endpoint.track_memberships();
            self.tracking = true;
        }
        // Reports only while somebody could receive them; `socket.data` is kept ready for
        // an admin who connects later.
        let monitor = instrumented.clone().filter(|monitor| monitor.watched());
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                ServerEvent::ConnectRequest(request) => self.connect_request(request, io),
                ServerEvent::Connected {
                    socket, recovered, ..
                } => {
                    let key = (socket.session.index(), socket.namespace.clone());
                    if let Some(data) = self.pending_data.remove(&key) {
                        self.endpoint.set_data(&socket, data);
                    }
                    let handle = Socket::new(socket.clone(), shard.clone(), io.clone(), recovered);
                    #[cfg(feature = "tracing")]
                    tracing::debug!(parent: handle.span(), recovered, "connected");
                    self.sockets.insert(socket.id.to_string(), handle.clone());
                    if instrumented.is_some() {
                        self.admin_data(&socket);
                    }
                    let entry = self.entry(socket.namespace.as_str());
                    if let Some(handler) = entry.and_then(|e| e.on_connection.clone()) {
                        self.jobs.push(Job::Connected(handle.clone(), handler));
                    }
                    // After the application's handler, which may set `socket.data`.
                    if let Some(monitor) = &monitor {
                        let watched = Watched::Connected(handle);
                        self.jobs.push(Job::Watched(monitor.clone(), watched));
                    }
                }
                ServerEvent::Event { socket, packet } => {
                    let Some(handle) = self.sockets.get(&*socket.id) else {
                        continue;
                    };
                    if let Some(monitor) = &monitor {
                        let watched = Watched::Received(handle.clone(), Event::new(packet.clone()));
                        self.jobs.push(Job::Watched(monitor.clone(), watched));
                    }
                    let name = packet.event_name();
                    #[cfg(feature = "tracing")]
                    tracing::debug!(
                        parent: handle.span(),
                        event = name.as_ref().map_or("", |name| name.as_str()),
                        ack = packet.ack_id().is_some(),
                        "event"
                    );
                    let handlers = handle.handlers().for_event(name.as_deref());
                    if let (None, None) = handlers {
                        continue;
                    }
                    let handle = handle.clone();
                    self.jobs
                        .push(Job::Event(handle, Event::new(packet), handlers));
                }
                ServerEvent::Ack { socket, packet } => {
                    if let Some(id) = packet.ack_id() {
                        if let Some(answer) = self.acks.remove(&(socket, id)) {
                            let _ = answer.send(Ok(Event::new(packet)));
                        }
                    }
                }
                ServerEvent::AckTimeout { socket, ack_id } => {
                    if let Some(answer) = self.acks.remove(&(socket, ack_id)) {
                        let _ = answer.send(Err(Error::Timeout));
                    }
                }
                ServerEvent::Disconnected { socket, reason } => {
                    if !self.acks.is_empty() {
                        // Their acknowledgements will not come.
                        self.acks.retain(|(owner, _), _| *owner != socket);
                    }
                    let Some(handle) = self.sockets.remove(&*socket.id) else {
                        continue;
                    };
                    #[cfg(feature = "tracing")]
                    tracing::debug!(parent: handle.span(), %reason, "disconnected");
                    if let Some(monitor) = &monitor {
                        let watched = Watched::Disconnected(handle.clone(), reason);
                        self.jobs.push(Job::Watched(monitor.clone(), watched));
                    }
                    let handler = handle.handlers().disconnect.clone();
                    if let Some(handler) = handler {
                        self.jobs.push(Job::Disconnected(handle, reason, handler));
                    }
                }
                ServerEvent::ServerSideEmit {
                    namespace,
                    data,
                    reply,
                } => {
                    let handler = self.registry().server_side_emit.clone();
                    if let Some(handler) = handler {
                        let emit = ServerSideEmit::new(io.clone(), namespace, data, reply);
                        self.jobs.push(Job::ServerSideEmit(emit, handler));
                    }
                }
                ServerEvent::Reply(reply) => {
                    if let Some(answer) = self.queries.remove(&reply.query) {
                        let _ = answer.send(reply);
                    }
                }
            }
        }
        // After the disconnections: a socket leaves its rooms once it is gone.
        while let Some(membership) = self.endpoint.poll_membership() {
            if let Some(monitor) = &monitor {
                let watched = Watched::Membership(membership);
                self.jobs.push(Job::Watched(monitor.clone(), watched));
            }
        }
    }

    /// The monitor's part of a new socket's `socket.data`, first, as `@socket.io/admin-ui`
    /// writes it: `_admin: {clientId, transport}` (the first 12 characters of its Engine.IO
    /// session id, its transport then), so that other nodes' `fetchSockets` show them.
    fn admin_data(&mut self, socket: &SocketRef) {
        let Some((client_id, transport)) = engine_info(&self.endpoint, socket) else {
            return;
        };
        let mut data = serde_json::Map::new();
        data.insert(
            "_admin".into(),
            serde_json::json!({ "clientId": client_id, "transport": transport }),
        );
        if let Some(serde_json::Value::Object(fields)) = self.endpoint.data(socket) {
            for (key, value) in fields {
                if key != "_admin" {
                    data.insert(key.clone(), value.clone());
                }
            }
        }
        self.endpoint
            .set_data(socket, serde_json::Value::Object(data));
    }

    fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn entry(&self, namespace: &str) -> Option<Arc<NamespaceEntry>> {
        self.registry().entry(namespace)
    }

    /// A CONNECT: refused for an unknown namespace (but `/`, which always exists), accepted
    /// at once without middlewares, else handed to them.
    fn connect_request(&mut self, request: ConnectRequest, io: &SocketIo) {
        let entry = self.entry(request.namespace.as_str());
        let Some(entry) = entry else {
            let _ = if request.namespace.is_main() {
                self.endpoint.accept(Instant::now(), &request)
            } else {
                self.endpoint.refuse_invalid_namespace(&request)
            };
            return;
        };
        if entry.middlewares.is_empty() {
            let _ = self.endpoint.accept(Instant::now(), &request);
            return;
        }
        let handshake = self.endpoint.handshake(request.session).cloned();
        let connecting = Connecting::new(io.clone(), request, handshake);
        self.jobs.push(Job::Connect(connecting, entry));
    }
}

/// Runs the middlewares of a CONNECT: the sync ones here; at the first async one, the rest
/// goes on in a task of its own.
fn run_middlewares(shard: &Shard<Server>, connecting: Connecting, entry: Arc<NamespaceEntry>) {
    for (at, middleware) in entry.middlewares.iter().enumerate() {
        match middleware {
            Middleware::Sync(check) => {
                if let Err(refusal) = check(&connecting) {
                    return finish_connect(shard, &connecting, Err(refusal));
                }
            }
            Middleware::Async(_) => {
                let shard = shard.clone();
                let entry = entry.clone();
                tokio::spawn(async move {
                    for middleware in &entry.middlewares[at..] {
                        let verdict = match middleware {
                            Middleware::Sync(check) => check(&connecting),
                            Middleware::Async(check) => check(connecting.clone()).await,
                        };
                        if let Err(refusal) = verdict {
                            return finish_connect(&shard, &connecting, Err(refusal));
                        }
                    }
                    finish_connect(&shard, &connecting, Ok(()));
                });
                return;
            }
        }
    }
    finish_connect(shard, &connecting, Ok(()));
}

fn finish_connect(shard: &Shard<Server>, connecting: &Connecting, verdict: Result<(), Refusal>) {
    let verdict = verdict.map(|()| connecting.take_data());
    shard.lock().answer_connect(connecting.request(), verdict);
}

impl Machine for Server {
    fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.endpoint.handle(now, input);
    }

    fn handle_handshake(&mut self, now: Instant, input: Input<'_>, handshake: Handshake) {
        self.endpoint.handle_handshake(now, input, handshake);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.endpoint.handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.endpoint.poll_timeout()
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.endpoint.poll_transmit()
    }

    fn max_payload(&self) -> usize {
        self.endpoint.config().engine.max_payload
    }

    fn session_count(&self) -> usize {
        self.endpoint.local().engine().len()
    }

    fn has_work(&mut self) -> bool {
        self.endpoint.has_events() || (self.tracking && self.endpoint.has_memberships())
    }

    fn after_commands(&mut self) {
        for hook in &mut self.hooks {
            hook(&mut self.endpoint);
        }
    }

    fn attach(&mut self, shards: &[Shard<Self>]) {
        if let Some(group) = &self.group {
            group.attach(shards);
        }
    }

    fn run(shard: &Shard<Self>, _now: Instant) {
        let io = shard.lock().io.clone();
        loop {
            let mut jobs = {
                let mut machine = shard.lock();
                machine.prepare(shard, &io);
                std::mem::take(&mut machine.jobs)
            };
            if jobs.is_empty() {
                return;
            }
            for job in jobs.drain(..) {
                #[cfg(feature = "tracing")]
                let _span = job.socket().map(|socket| socket.span().clone().entered());
                match job {
                    Job::Connect(connecting, entry) => run_middlewares(shard, connecting, entry),
                    Job::Connected(socket, handler) => handler(socket),
                    Job::Event(socket, event, (listener, handler)) => {
                        if let Some(listener) = listener {
                            listener(&socket, &event);
                        }
                        if let Some(handler) = handler {
                            let ack = Ack::new(socket.clone(), event.packet().ack_id());
                            handler.call(socket, event, ack);
                        }
                    }
                    Job::Disconnected(socket, reason, handler) => handler(socket, reason),
                    Job::ServerSideEmit(emit, handler) => handler(emit),
                    Job::Watched(monitor, watched) => match watched {
                        Watched::Connected(socket) => monitor.connected(&socket),
                        Watched::Disconnected(socket, reason) => {
                            monitor.disconnected(&socket, reason);
                        }
                        Watched::Received(socket, event) => monitor.received(&socket, &event),
                        Watched::Membership(membership) => monitor.membership(membership),
                    },
                }
            }
            // Give the allocation back for the next batch.
            let mut machine = shard.lock();
            if machine.jobs.is_empty() {
                machine.jobs = jobs;
            }
        }
    }
}

/// A socket's Engine.IO client id as the Admin UI shows it (the first 12 characters of its
/// session id) and its transport now (`polling` or `websocket`).
pub(crate) fn engine_info(
    endpoint: &Endpoint,
    socket: &SocketRef,
) -> Option<(String, &'static str)> {
    let session = endpoint.local().engine().session(socket.session)?;
    let client_id: String = session.sid().chars().take(12).collect();
    let transport = match session.transport() {
        engineio_proto::Transport::Polling => "polling",
        _ => "websocket",
    };
    Some((client_id, transport))
}

/// Answers another server's `serverSideEmitWithAck`.
pub(crate) fn answer_server_side_emit(shard: &Shard<Server>, reply: &ReplyTo, answer: &str) {
    shard
        .lock()
        .endpoint_mut()
        .answer_server_side_emit(Instant::now(), reply, answer);
}
