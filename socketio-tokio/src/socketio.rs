//! The Socket.IO layer of the server driver: [`SocketIo`] runs an [`App`] on the sans-IO
//! [`Endpoint`] (namespaces, acks, rooms, broadcast, connection state recovery all live
//! there) and is a [`Service`] for [`server::serve`](crate::server::serve).
//!
//! The app gets callbacks, each with an [`Io`] through which it emits, acknowledges, joins
//! rooms, broadcasts and disconnects.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use engineio_proto::session::endpoint::Input;
use engineio_proto::session::server::Transmit;
use socketio_proto::session::SessionError;
use socketio_proto::session::endpoint::{ConnectRequest, Endpoint, ServerEvent};
pub use socketio_proto::session::endpoint::{EndpointConfig, SocketRef};
use socketio_proto::session::handshake::Handshake;
use socketio_proto::session::recovery::{Recovered, RecoveryRequest};
use socketio_proto::session::rooms::{Adapter, BroadcastTarget};
use socketio_proto::session::server::DisconnectReason;
use socketio_proto::{AckId, Namespace, Packet};

use socketio_proto::cluster::classic::Request;
use socketio_proto::cluster::{BroadcastOptions, ClusterNode, Reply, RequestError, RequestId};

use crate::cluster::Cluster;
use crate::server::{External, Ids, Service, Shards};

/// The answer to a CONNECT.
#[derive(Clone, Debug, PartialEq)]
pub enum Admission {
    /// Accept: the socket joins the namespace.
    Accept,
    /// Refuse with a CONNECT_ERROR `{"message": …, "data": …}` (a middleware's `next(err)`).
    Refuse {
        /// The error message.
        message: String,
        /// Extra data (`err.data`), if any.
        data: Option<serde_json::Value>,
    },
    /// The namespace does not exist: `{"message":"Invalid namespace"}`.
    InvalidNamespace,
}

/// The application: what happens when sockets connect, send events and leave.
pub trait App: Send + 'static {
    /// A client asks to join `namespace` with this auth payload (raw JSON, `None` when absent).
    fn admit(&mut self, namespace: &Namespace, auth: Option<&str>) -> Admission;
    /// A socket joined (or was recovered: then its rooms are back and missed events were sent).
    fn on_connect(
        &mut self,
        io: &mut Io<'_>,
        socket: &SocketRef,
        auth: Option<&str>,
        recovered: bool,
    );
    /// An event from a socket. When it has an ack id, answer with [`Io::ack`].
    fn on_event(&mut self, io: &mut Io<'_>, socket: &SocketRef, packet: Packet);
    /// The client acknowledged an event emitted with [`Io::emit_with_ack`].
    fn on_ack(&mut self, _io: &mut Io<'_>, _socket: &SocketRef, _packet: Packet) {}
    /// An ack did not arrive in time.
    fn on_ack_timeout(&mut self, _io: &mut Io<'_>, _socket: &SocketRef, _ack_id: AckId) {}
    /// A socket left; its rooms are already gone.
    fn on_disconnect(&mut self, _io: &mut Io<'_>, _socket: &SocketRef, _reason: DisconnectReason) {}
    /// Another node of the cluster called `serverSideEmit`: `data` is the JSON array
    /// `[event, ...args]`. When the sender waits for acknowledgements (`with_ack`), return the
    /// JSON of this server's answer (the reference sends each node's first ack argument);
    /// `None` sends none, and the sender then times out waiting for this node.
    fn on_server_side_emit(
        &mut self,
        _io: &mut Io<'_>,
        _namespace: &Namespace,
        _data: &str,
        _with_ack: bool,
    ) -> Option<String> {
        None
    }
    /// A cluster request of this server ended ([`Io::fetch_sockets`], [`Io::all_rooms`],
    /// [`Io::server_side_emit_with_ack`], [`Io::server_count`],
    /// [`Io::broadcast_with_ack`]): every node answered, or its timeout passed
    /// (`reply.timed_out`, with what arrived).
    fn on_cluster_reply(&mut self, _io: &mut Io<'_>, _reply: Reply) {}
}

/// A Socket.IO server: the endpoint and the app (and the cluster, when it has one).
#[derive(Debug)]
pub struct SocketIo<A> {
    app: A,
    endpoint: Endpoint,
    cluster: Option<Cluster>,
    /// The other shards, when this is one of several ([`serve_sharded`](crate::server::serve_sharded)).
    shards: Option<Shards>,
    /// CONNECTs waiting for the shard that kept their session: token ⇒ (request, shards
    /// that have not answered yet).
    recovering: HashMap<u64, (ConnectRequest, usize)>,
    next_token: u64,
}

/// CONNECTs waiting for another shard's kept session, at most; beyond, they start fresh.
const MAX_PENDING_RECOVERIES: usize = 1024;

/// What one shard of a [`serve_sharded`](crate::server::serve_sharded) server asks of
/// another ([`External::Shard`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ShardMessage {
    /// A broadcast of the sending shard's application, for this shard's sockets.
    Broadcast {
        /// The packet.
        packet: Packet,
        /// Its target.
        target: BroadcastTarget,
    },
    /// Shard `from` asks for a session, for a client that reconnected there: this shard
    /// answers with it if it kept it.
    Recover {
        /// The asking shard.
        from: usize,
        /// Its token for the answer.
        token: u64,
        /// The namespace.
        namespace: Namespace,
        /// The CONNECT's `pid` and `offset`.
        request: RecoveryRequest,
    },
    /// The answer: the session and what it missed, or `None` (a fresh start).
    Recovered {
        /// The asking shard's token.
        token: u64,
        /// The session, when this shard still had it.
        recovered: Option<Recovered>,
    },
}

impl<A: App> SocketIo<A> {
    /// A server running `app`, with ids from the OS's CSPRNG.
    pub fn new(app: A, config: EndpointConfig) -> SocketIo<A> {
        Self::with_ids(app, config, Ids::default())
    }

    /// Shard `index` of a [`serve_sharded`](crate::server::serve_sharded) server running
    /// `app` (one instance per shard: state the shards share, such as a user list, belongs
    /// behind a lock the instances hold). Its ids name the shard, so that a session's
    /// requests find their way back to it; a recovering client's session is asked of the
    /// other shards when this one did not keep it.
    pub fn for_shard(app: A, config: EndpointConfig, index: usize) -> SocketIo<A> {
        Self::with_ids(app, config, Ids::for_shard(index))
    }

    fn with_ids(app: A, config: EndpointConfig, ids: Ids) -> SocketIo<A> {
        SocketIo {
            app,
            endpoint: Endpoint::new(config, Box::new(ids)),
            cluster: None,
            shards: None,
            recovering: HashMap::new(),
            next_token: 0,
        }
    }

    /// Joins a Redis cluster ([`cluster::start`](crate::cluster::start)): broadcasts are also
    /// published, and what other nodes send is applied here. Serve it with
    /// [`serve_with_external`](crate::server::serve_with_external) and the message stream
    /// `start` returned.
    pub fn with_cluster(mut self, mut cluster: Cluster) -> Self {
        cluster.with_node(|node| node.attach(&mut self.endpoint));
        self.cluster = Some(cluster);
        self
    }

    fn connect(&mut self, now: Instant, request: ConnectRequest) {
        let admission = self.app.admit(&request.namespace, request.auth.as_deref());
        // Errors mean the connection closed meanwhile: nothing left to answer.
        let _ = match admission {
            Admission::Accept => {
                // With recovery through Redis, a CONNECT that asks for it waits for its
                // session (`External::Restored`).
                let restoring = self
                    .cluster
                    .as_mut()
                    .is_some_and(|cluster| cluster.with_node(|node| node.restore(now, &request)));
                if restoring || self.recover_elsewhere(now, &request) {
                    return;
                }
                self.endpoint.accept(now, &request)
            }
            Admission::Refuse { message, data } => {
                self.endpoint.refuse(&request, &message, data.as_ref())
            }
            Admission::InvalidNamespace => self.endpoint.refuse_invalid_namespace(&request),
        };
    }

    /// A CONNECT asking for a session this shard did not keep: the shard where the client
    /// was last connected kept it, so every other shard is asked ([`ShardMessage::Recover`])
    /// and the CONNECT waits for their answers; `false`: accept it now (recovered here, or
    /// fresh). With a cluster, each shard is a node of its own and recovery is the cluster's.
    fn recover_elsewhere(&mut self, now: Instant, request: &ConnectRequest) -> bool {
        let Some(shards) = &self.shards else {
            return false;
        };
        if self.cluster.is_some()
            || self.endpoint.config().recovery.is_none()
            || self.recovering.len() >= MAX_PENDING_RECOVERIES
        {
            return false;
        }
        let Some(wanted) = request.auth.as_deref().and_then(RecoveryRequest::from_auth) else {
            return false;
        };
        if self
            .endpoint
            .take_recovery(now, &request.namespace, &wanted)
            .is_some_and(|here| self.endpoint.accept_recovered(request, here).is_ok())
        {
            return true;
        }
        let token = self.next_token;
        self.next_token += 1;
        let mut asked = 0;
        for peer in (0..shards.count()).filter(|&peer| peer != shards.index()) {
            let message = ShardMessage::Recover {
                from: shards.index(),
                token,
                namespace: request.namespace.clone(),
                request: wanted.clone(),
            };
            asked += usize::from(shards.send(peer, External::Shard(message)));
        }
        if asked == 0 {
            return false;
        }
        self.recovering.insert(token, (request.clone(), asked));
        true
    }

    fn on_shard_message(&mut self, now: Instant, message: ShardMessage) {
        match message {
            ShardMessage::Broadcast { packet, target } => {
                // Fails only for a packet the sender could not encode either.
                let _ = self.endpoint.broadcast(now, packet, &target);
            }
            ShardMessage::Recover {
                from,
                token,
                namespace,
                request,
            } => {
                let recovered = self.endpoint.take_recovery(now, &namespace, &request);
                if let Some(shards) = &self.shards {
                    let answer = ShardMessage::Recovered { token, recovered };
                    shards.send(from, External::Shard(answer));
                }
            }
            ShardMessage::Recovered { token, recovered } => {
                let Some((_, waiting)) = self.recovering.get_mut(&token) else {
                    return; // Answered already.
                };
                *waiting -= 1;
                if recovered.is_none() && *waiting > 0 {
                    return;
                }
                let Some((request, _)) = self.recovering.remove(&token) else {
                    return;
                };
                // Errors mean the connection closed meanwhile.
                let _ = match recovered {
                    Some(recovered) => self.endpoint.accept_recovered(&request, recovered),
                    None => self.endpoint.accept(now, &request),
                };
            }
        }
    }

    /// Hands every pending endpoint event to the app.
    fn run_events(&mut self, now: Instant) {
        while let Some(event) = self.endpoint.poll_event() {
            let mut io = Io {
                now,
                endpoint: &mut self.endpoint,
                cluster: self.cluster.as_mut(),
                shards: self.shards.as_ref(),
            };
            match event {
                ServerEvent::ConnectRequest(request) => self.connect(now, request),
                ServerEvent::Connected {
                    socket,
                    auth,
                    recovered,
                } => {
                    let auth = auth.as_deref();
                    self.app.on_connect(&mut io, &socket, auth, recovered);
                }
                ServerEvent::Event { socket, packet } => {
                    self.app.on_event(&mut io, &socket, packet)
                }
                ServerEvent::Ack { socket, packet } => {
                    // Acks to a cluster's broadcast go back to the node that asked.
                    let ours = io
                        .cluster
                        .as_deref_mut()
                        .is_none_or(|c| !c.with_node(|node| node.acknowledged(&socket, &packet)));
                    if ours {
                        self.app.on_ack(&mut io, &socket, packet)
                    }
                }
                ServerEvent::AckTimeout { socket, ack_id } => {
                    let ours = io
                        .cluster
                        .as_deref_mut()
                        .is_none_or(|c| !c.with_node(|node| node.forget(&socket, ack_id)));
                    if ours {
                        self.app.on_ack_timeout(&mut io, &socket, ack_id)
                    }
                }
                ServerEvent::SessionKept { session, .. } => {
                    if let Some(cluster) = io.cluster.as_deref_mut() {
                        cluster.with_node(|node| node.keep_session(&session));
                    }
                }
                ServerEvent::Disconnected { socket, reason } => {
                    if let Some(cluster) = io.cluster.as_deref_mut() {
                        cluster.with_node(|node| node.forget_socket(&socket));
                    }
                    self.app.on_disconnect(&mut io, &socket, reason)
                }
                _ => {}
            }
        }
    }
}

impl<A: App> Service for SocketIo<A> {
    fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.endpoint.handle(now, input);
    }

    fn handle_handshake(&mut self, now: Instant, input: Input<'_>, handshake: Handshake) {
        self.endpoint.handle_handshake(now, input, handshake);
    }

    fn attach_shards(&mut self, shards: Shards) {
        self.shards = Some(shards);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.endpoint.handle_timeout(now);
        if let Some(cluster) = &mut self.cluster {
            cluster.with_node(|node| node.handle_timeout(now, &mut self.endpoint));
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let cluster = self.cluster.as_ref().and_then(Cluster::poll_timeout);
        match (self.endpoint.poll_timeout(), cluster) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn run_app(&mut self, now: Instant) {
        loop {
            self.run_events(now);
            let Some(cluster) = &mut self.cluster else {
                return;
            };
            let endpoint = &mut self.endpoint;
            let reply = cluster.with_node(|node| {
                node.sync_rooms(endpoint);
                node.poll_reply()
            });
            let Some(reply) = reply else {
                return;
            };
            let mut io = Io {
                now,
                endpoint: &mut self.endpoint,
                cluster: self.cluster.as_mut(),
                shards: self.shards.as_ref(),
            };
            self.app.on_cluster_reply(&mut io, reply);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.endpoint.poll_transmit()
    }

    fn max_payload(&self) -> usize {
        self.endpoint.config().engine.max_payload
    }

    fn session_count(&self) -> usize {
        self.endpoint.engine().len()
    }

    fn handle_external(&mut self, now: Instant, message: External) {
        if let External::Shard(message) = message {
            return self.on_shard_message(now, message);
        }
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        let Some(emit) = cluster.handle(now, &mut self.endpoint, message) else {
            return;
        };
        let mut io = Io {
            now,
            endpoint: &mut self.endpoint,
            cluster: None,
            shards: self.shards.as_ref(),
        };
        let with_ack = emit.request_id.is_some();
        let answer = self
            .app
            .on_server_side_emit(&mut io, &emit.namespace, &emit.data, with_ack);
        if let (Some(answer), Some(cluster)) = (answer, &mut self.cluster) {
            cluster.with_node(|node| node.answer(&emit, &answer));
        }
    }
}

/// What the app can do from a callback: the endpoint's commands at the callback's time.
/// Commands on sockets that have left are ignored.
#[derive(Debug)]
pub struct Io<'a> {
    now: Instant,
    endpoint: &'a mut Endpoint,
    cluster: Option<&'a mut Cluster>,
    shards: Option<&'a Shards>,
}

impl Io<'_> {
    /// The time of the input being handled.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Sends `packet` (an EVENT built with [`Packet::event`]) to one socket. Fails only when
    /// the packet does not encode in the server's wire format (msgpack: a payload deeper than
    /// 128 levels, or a string over 4 GiB).
    ///
    /// When connection state recovery goes through Redis (the streams adapter), an event
    /// without an ack id goes through the stream, as the reference's `socket.emit` does, so
    /// that it carries an offset and a client recovering on another node gets it back.
    pub fn emit(&mut self, socket: &SocketRef, packet: Packet) -> Result<(), SessionError> {
        let (now, endpoint) = (self.now, &mut *self.endpoint);
        match self.cluster.as_deref_mut() {
            Some(cluster) if packet.ack_id().is_none() && cluster.recovers() => {
                let target = BroadcastTarget::to([socket.id.as_str()]);
                cluster.with_node(|node| node.broadcast_everywhere(now, endpoint, packet, &target))
            }
            _ => endpoint.emit(now, socket, packet),
        }
    }

    /// The HTTP request that opened a socket's connection (`socket.handshake`, less the
    /// `auth`, which [`App::on_connect`] has): headers, address, URL and query, time.
    pub fn handshake(&self, socket: &SocketRef) -> Option<&Handshake> {
        self.endpoint.handshake(socket.session)
    }

    /// `socket.data`, as [`set_data`](Self::set_data) left it (`None`: the reference's `{}`).
    pub fn data(&self, socket: &SocketRef) -> Option<&serde_json::Value> {
        self.endpoint.data(socket)
    }

    /// Sets `socket.data`: other nodes see it in `fetchSockets`, and connection state
    /// recovery gives it back. Returns `false` when the socket is gone.
    pub fn set_data(&mut self, socket: &SocketRef, data: serde_json::Value) -> bool {
        self.endpoint.set_data(socket, data)
    }

    /// Sends an event with an ack id; the answer comes to [`App::on_ack`], or
    /// [`App::on_ack_timeout`] after `timeout`.
    pub fn emit_with_ack(
        &mut self,
        socket: &SocketRef,
        packet: Packet,
        timeout: Duration,
    ) -> Option<AckId> {
        self.endpoint
            .emit_with_ack(self.now, socket, packet, timeout)
            .ok()
    }

    /// Answers an event's ack id with `packet` (built with [`Packet::ack`]).
    pub fn ack(&mut self, socket: &SocketRef, packet: Packet) {
        // Fails for unknown or already answered ids: nothing to send then.
        let _ = self.endpoint.ack(socket, packet);
    }

    /// Sends `packet` to the sockets of its namespace selected by `target`, encoded once; in
    /// a cluster, to the other nodes' sockets too. Fails as [`emit`](Self::emit) does.
    pub fn broadcast(
        &mut self,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Result<(), SessionError> {
        let (now, endpoint) = (self.now, &mut *self.endpoint);
        match self.cluster.as_deref_mut() {
            Some(cluster) => {
                cluster.with_node(|node| node.broadcast_everywhere(now, endpoint, packet, target))
            }
            None => self.broadcast_local(packet, target),
        }
    }

    /// Sends `packet` to the sockets of this server only, as the reference's `io.local.emit`:
    /// never published to the cluster (and, with recovery through Redis, without an offset).
    /// The other shards of a sharded server get it too, unless there is a cluster: each
    /// shard is then a node of its own.
    pub fn broadcast_local(
        &mut self,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Result<(), SessionError> {
        if let (Some(shards), None) = (self.shards, &self.cluster) {
            for peer in (0..shards.count()).filter(|&peer| peer != shards.index()) {
                let packet = packet.clone();
                let target = target.clone();
                shards.send(
                    peer,
                    External::Shard(ShardMessage::Broadcast { packet, target }),
                );
            }
        }
        self.endpoint.broadcast(self.now, packet, target)
    }

    /// A broadcast with acknowledgements (`io.timeout(ms).emit(…, callback)`) to the sockets
    /// `target` selects on every node of the cluster; the clients' acknowledgements come to
    /// [`App::on_cluster_reply`] as [`Answers::Acks`](socketio_proto::cluster::Answers) once
    /// all arrived, or at `timeout` with those that did. Fails without a cluster (use
    /// [`emit_with_ack`](Self::emit_with_ack) per socket then) and with too many requests
    /// pending.
    pub fn broadcast_with_ack(
        &mut self,
        packet: Packet,
        target: &BroadcastTarget,
        timeout: Duration,
    ) -> Result<RequestId, RequestError> {
        let (now, endpoint) = (self.now, &mut *self.endpoint);
        match self.cluster.as_deref_mut() {
            Some(cluster) => cluster
                .with_node(|node| node.broadcast_with_ack(now, endpoint, packet, target, timeout)),
            None => Err(RequestError::UnknownNamespace),
        }
    }

    /// `socketsJoin`: the sockets of `namespace` that `target` selects join `rooms`, on every
    /// node of the cluster (here too: with the classic adapter once the request comes back
    /// from Redis, with the sharded and streams ones at once, as Node.js nodes do); without a
    /// cluster, here at once.
    pub fn sockets_join(
        &mut self,
        namespace: &Namespace,
        target: &BroadcastTarget,
        rooms: &[String],
    ) {
        self.move_sockets(namespace, target, rooms, true);
    }

    /// `socketsLeave`: as [`sockets_join`](Self::sockets_join), leaving `rooms`.
    pub fn sockets_leave(
        &mut self,
        namespace: &Namespace,
        target: &BroadcastTarget,
        rooms: &[String],
    ) {
        self.move_sockets(namespace, target, rooms, false);
    }

    fn move_sockets(
        &mut self,
        namespace: &Namespace,
        target: &BroadcastTarget,
        rooms: &[String],
        join: bool,
    ) {
        let (opts, rooms) = (BroadcastOptions::from(target), rooms.to_vec());
        let request = if join {
            Request::Join {
                uid: None,
                opts,
                rooms: rooms.clone(),
            }
        } else {
            Request::Leave {
                uid: None,
                opts,
                rooms: rooms.clone(),
            }
        };
        if self.cluster_request(namespace, request) {
            return;
        }
        for socket in self.endpoint.sockets(namespace, target) {
            for room in &rooms {
                if join {
                    self.endpoint.join(&socket, room);
                } else {
                    self.endpoint.leave(&socket, room);
                }
            }
        }
    }

    /// `disconnectSockets`: as [`sockets_join`](Self::sockets_join), disconnecting the
    /// sockets (with `close`, their whole connections).
    pub fn disconnect_sockets(
        &mut self,
        namespace: &Namespace,
        target: &BroadcastTarget,
        close: bool,
    ) {
        let request = Request::Disconnect {
            uid: None,
            opts: BroadcastOptions::from(target),
            close,
        };
        if !self.cluster_request(namespace, request) {
            for socket in self.endpoint.sockets(namespace, target) {
                if close {
                    self.endpoint.close(socket.session);
                } else {
                    let _ = self.endpoint.disconnect(&socket);
                }
            }
        }
    }

    /// `serverSideEmit` without acks: `data` (the JSON array `[event, ...args]`) to the
    /// other nodes' [`App::on_server_side_emit`]. `false` without a cluster (or when `data`
    /// is not JSON).
    pub fn server_side_emit(&mut self, namespace: &Namespace, data: &str) -> bool {
        let request = Request::ServerSideEmit {
            uid: String::new(),
            request_id: None,
            data: data.to_owned(),
        };
        self.cluster_request(namespace, request)
    }

    /// `fetchSockets`: the sockets of `namespace` that `target` selects, on every node; they
    /// come to [`App::on_cluster_reply`] as [`Answers::Sockets`](socketio_proto::cluster::Answers).
    /// Fails without a cluster (use [`sockets_in`](Self::sockets_in) and
    /// [`rooms_of`](Self::rooms_of) then) and with too many requests pending.
    pub fn fetch_sockets(
        &mut self,
        namespace: &Namespace,
        target: &BroadcastTarget,
    ) -> Result<RequestId, RequestError> {
        let opts = BroadcastOptions::from(target);
        self.with_cluster(|node, now, endpoint| node.fetch_sockets(now, endpoint, namespace, &opts))
    }

    /// `allRooms` (classic adapter): the rooms of `namespace` on every node, as
    /// [`fetch_sockets`](Self::fetch_sockets).
    pub fn all_rooms(&mut self, namespace: &Namespace) -> Result<RequestId, RequestError> {
        self.with_cluster(|node, now, endpoint| node.all_rooms(now, endpoint, namespace))
    }

    /// `serverSideEmitWithAck`: `data` (the JSON array `[event, ...args]`) to the other
    /// nodes' applications; their answers come as [`fetch_sockets`](Self::fetch_sockets)'
    /// do.
    pub fn server_side_emit_with_ack(
        &mut self,
        namespace: &Namespace,
        data: &str,
    ) -> Result<RequestId, RequestError> {
        self.with_cluster(|node, now, _| node.server_side_emit_with_ack(now, namespace, data))
    }

    /// `serverCount`: how many servers serve `namespace`, this one included, as
    /// [`fetch_sockets`](Self::fetch_sockets).
    pub fn server_count(&mut self, namespace: &Namespace) -> Result<RequestId, RequestError> {
        self.with_cluster(|node, now, _| node.server_count(now, namespace))
    }

    fn with_cluster(
        &mut self,
        f: impl FnOnce(&mut ClusterNode, Instant, &Endpoint) -> Result<RequestId, RequestError>,
    ) -> Result<RequestId, RequestError> {
        let (now, endpoint) = (self.now, &*self.endpoint);
        match self.cluster.as_deref_mut() {
            Some(cluster) => cluster.with_node(|node| f(node, now, endpoint)),
            None => Err(RequestError::UnknownNamespace),
        }
    }

    fn cluster_request(&mut self, namespace: &Namespace, request: Request) -> bool {
        let (now, endpoint) = (self.now, &mut *self.endpoint);
        self.cluster.as_deref_mut().is_some_and(|cluster| {
            cluster.with_node(|node| node.request(now, endpoint, namespace.as_str(), request))
        })
    }

    /// Puts the socket in `room`.
    pub fn join(&mut self, socket: &SocketRef, room: &str) {
        self.endpoint.join(socket, room);
    }

    /// Takes the socket out of `room`.
    pub fn leave(&mut self, socket: &SocketRef, room: &str) {
        self.endpoint.leave(socket, room);
    }

    /// The rooms of a socket (its own id included).
    pub fn rooms_of(&self, socket: &SocketRef) -> Vec<String> {
        let rooms = self
            .endpoint
            .rooms()
            .rooms_of(socket.namespace.as_str(), &socket.id);
        rooms.into_iter().map(str::to_owned).collect()
    }

    /// The sockets in `room` of `namespace`.
    pub fn sockets_in(&self, namespace: &str, room: &str) -> Vec<String> {
        let sockets = self.endpoint.rooms().sockets_in(namespace, room);
        sockets.into_iter().map(str::to_owned).collect()
    }

    /// Disconnects the socket from its namespace (the client sees `io server disconnect`).
    pub fn disconnect(&mut self, socket: &SocketRef) {
        let _ = self.endpoint.disconnect(socket);
    }
}
