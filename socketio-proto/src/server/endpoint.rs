//! The Socket.IO server endpoint: every client of one server, from HTTP requests and WebSocket
//! frames to application events, behind one input and one output.
//!
//! An [`Endpoint`] owns an Engine.IO endpoint (sessions, routing, heartbeats), one
//! [`Connection`](super::Connection) per session (namespaces, acks, the B.7 rules), the
//! [`Rooms`](super::Rooms), the [`RecoveryStore`](super::RecoveryStore) when recovery is on,
//! and an [`Adapter`] (alone, the [`MemoryAdapter`]; in a cluster, one that also reaches the
//! other servers). A driver only moves bytes and time; the application reads
//! [`ServerEvent`]s and answers with commands:
//!
//! 1. Feed what happens on the wire to [`Endpoint::handle`] with the current time (the
//!    Engine.IO [`Input`]: requests with their real method, POST bodies, WebSocket frames…).
//! 2. Drain [`Endpoint::poll_event`] and [`Endpoint::poll_transmit`] until both return `None`.
//!    Answer every [`ServerEvent::ConnectRequest`] with [`Endpoint::accept`] or one of the
//!    refusals (this is where middleware runs, in your code), every event that carries an ack
//!    id with [`Endpoint::ack`]; emit, broadcast, join rooms, disconnect, whenever you like.
//!    Put every [`Transmit`] on the wire (see the Engine.IO endpoint for what each one asks).
//! 3. Sleep until [`Endpoint::poll_timeout`], then call [`Endpoint::handle_timeout`].
//!
//! Deadlines (heartbeats, `connectTimeout`, ack timeouts, recovery expiry, queries) due at the
//! `now` of any call are applied before that call's input.
//!
//! Ids (Engine.IO sessions, Socket.IO sockets, recovery pids) all come from the
//! [`IdSource`] you give (with the `getrandom` feature, [`OsIds`](super::OsIds) draws them
//! from the operating system): this crate has no random number generator.
//!
//! # Example: the Socket.IO v5 handshake over polling, driven by hand
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use socketio_proto::server::*;
//!
//! let mut n = 0;
//! let ids = move || { n += 1; format!("id{n}") }; // use a CSPRNG in production
//! let mut server = Endpoint::new(EndpointConfig::default(), Box::new(ids));
//! let now = Instant::now();
//! let request = |server: &mut Endpoint, id, method, query: &str| {
//!     server.handle(now, Input::Request { request: RequestId(id), method, query, websocket_upgrade: false });
//! };
//!
//! // The Engine.IO handshake: the open packet carries the session id `id1`.
//! request(&mut server, 1, Method::Get, "EIO=4&transport=polling");
//! let Some(Transmit::Response { response, .. }) = server.poll_transmit() else { unreachable!() };
//! assert!(response.body.starts_with(br#"0{"sid":"id1""#));
//!
//! // The client joins `/` with a POST `40`.
//! request(&mut server, 2, Method::Post, "EIO=4&transport=polling&sid=id1");
//! let Some(Transmit::ReadBody { request: post, .. }) = server.poll_transmit() else { unreachable!() };
//! server.handle(now, Input::PostBody { request: post, content_type: None, body: Bytes::from_static(b"40") });
//!
//! // The application admits it and greets it.
//! while let Some(event) = server.poll_event() {
//!     match event {
//!         ServerEvent::ConnectRequest(connect) => server.accept(now, &connect).unwrap(),
//!         ServerEvent::Connected { socket, .. } => {
//!             let hello = Packet::event(socket.namespace.clone(), "hello", &("world",), None).unwrap();
//!             server.emit(now, &socket, hello).unwrap();
//!         }
//!         _ => {}
//!     }
//! }
//! let Some(Transmit::Response { response, .. }) = server.poll_transmit() else { unreachable!() };
//! assert_eq!(response.body, &b"ok"[..]);
//!
//! // The next poll carries the CONNECT reply (socket id `id2`) and the event.
//! request(&mut server, 3, Method::Get, "EIO=4&transport=polling&sid=id1");
//! let Some(Transmit::Response { response, .. }) = server.poll_transmit() else { unreachable!() };
//! assert_eq!(response.body, &b"40{\"sid\":\"id2\"}\x1e42[\"hello\",\"world\"]"[..]);
//! ```

use std::time::{Duration, Instant};

use engineio_proto::session::endpoint::{IdSource, Input, SessionKey};
use engineio_proto::session::server::Transmit;
use serde::Serialize;

use super::adapter::{Adapter, MemoryAdapter, Restore};
use super::config::EndpointConfig;
use super::events::{ConnectRequest, ReplyTo, ServerEvent, SocketRef};
use super::handshake::Handshake;
use super::local::Local;
use super::query::{QueryError, QueryId};
use super::recovery::RecoveryRequest;
use super::rooms::{BroadcastTarget, Membership};
use crate::session::SessionError;
use crate::{AckId, Namespace, Packet};

/// Every client of one Socket.IO server. See the [module docs](crate::server) for the run loop.
#[derive(Debug)]
pub struct Endpoint {
    local: Local,
    adapter: Box<dyn Adapter>,
}

impl Endpoint {
    /// A server alone (the [`MemoryAdapter`]), with no client. `ids` supplies every id the
    /// server hands out.
    pub fn new(config: EndpointConfig, ids: Box<dyn IdSource>) -> Endpoint {
        Self::with_adapter(config, ids, Box::new(MemoryAdapter))
    }

    /// A server whose broadcasts, room operations, queries and kept sessions go through
    /// `adapter` (a cluster's, to be one node of many).
    pub fn with_adapter(
        config: EndpointConfig,
        ids: Box<dyn IdSource>,
        mut adapter: Box<dyn Adapter>,
    ) -> Endpoint {
        let mut local = Local::new(config, ids);
        adapter.attach(&mut local);
        Endpoint { local, adapter }
    }

    /// The settings.
    pub fn config(&self) -> &EndpointConfig {
        self.local.config()
    }

    /// The local side: this server's sockets, rooms and sessions (lookups, counts).
    pub fn local(&self) -> &Local {
        &self.local
    }

    /// The adapter, when it is an `A`.
    pub fn adapter<A: Adapter>(&self) -> Option<&A> {
        let adapter: &dyn std::any::Any = &*self.adapter;
        adapter.downcast_ref()
    }

    /// The adapter, when it is an `A`, to take what it queued (its driver half's commands).
    pub fn adapter_mut<A: Adapter>(&mut self) -> Option<&mut A> {
        let adapter: &mut dyn std::any::Any = &mut *self.adapter;
        adapter.downcast_mut()
    }

    /// Runs `f` on the adapter, when it is an `A`, with the local side: how an adapter's
    /// driver half hands it what arrived (a message from the other servers, the answer to a
    /// command it queued). `None` when the adapter is of another type.
    pub fn with_adapter_mut<A: Adapter, R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut A, &mut Local) -> R,
    ) -> Option<R> {
        self.handle_timeout(now);
        let adapter: &mut dyn std::any::Any = &mut *self.adapter;
        let result = f(adapter.downcast_mut::<A>()?, &mut self.local);
        self.settle(now);
        Some(result)
    }

    // ---- Input ----

    /// Feeds one input from the wire. Deadlines due at `now` are applied first.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.handle_timeout(now);
        self.local.handle(now, input);
        self.settle(now);
    }

    /// [`handle`](Self::handle) for an input that may open a session (a polling handshake's
    /// [`Input::Request`], or the [`Input::WebSocketOpen`] of a WebSocket-only client's
    /// upgrade), with a description of its HTTP request: the session it opens keeps it
    /// ([`handshake`](Self::handshake)). When the input opens nothing, it is dropped.
    pub fn handle_handshake(&mut self, now: Instant, input: Input<'_>, handshake: Handshake) {
        self.handle_timeout(now);
        self.local.handle_handshake(now, input, handshake);
        self.settle(now);
    }

    /// Fires every deadline due at `now`: heartbeats, `connectTimeout`, ack timeouts,
    /// recovery expiry, queries, the adapter's.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.local.handle_timeout(now);
        self.adapter.handle_timeout(now, &mut self.local);
        self.settle(now);
    }

    /// Hands the adapter what the local side has to tell it, until there is nothing.
    fn settle(&mut self, now: Instant) {
        while let Some(notice) = self.local.poll_notice() {
            self.adapter.notice(now, &mut self.local, notice);
        }
    }

    /// Shuts the server down (the reference's `io.close()`): every client's sockets leave
    /// with `server shutting down` (their sessions are kept for recovery, when it is on) and
    /// every Engine.IO session closes.
    pub fn shutdown(&mut self, now: Instant) {
        self.handle_timeout(now);
        self.local.shutdown();
        self.settle(now);
    }

    // ---- Output ----

    /// When [`Endpoint::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.local.poll_timeout(), self.adapter.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether [`poll_event`](Self::poll_event) has an event.
    pub fn has_events(&mut self) -> bool {
        self.local.has_events()
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        let event = self.local.poll_event();
        if let Some(now) = self.local.now() {
            self.settle(now);
        }
        event
    }

    /// From now on, records every socket that joins or leaves a room here (its own room
    /// included), for [`poll_membership`](Self::poll_membership): the Admin UI's room events.
    pub fn track_memberships(&mut self) {
        self.local.track_memberships();
    }

    /// Whether room membership changes wait to be taken (see
    /// [`track_memberships`](Self::track_memberships)).
    pub fn has_memberships(&self) -> bool {
        self.local.has_memberships()
    }

    /// The oldest room membership change not taken yet. Drain it after
    /// [`poll_event`](Self::poll_event) to report a socket's disconnection before the rooms
    /// it left.
    pub fn poll_membership(&mut self) -> Option<Membership> {
        self.local.poll_membership()
    }

    /// The next thing to put on the wire.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let transmit = self.local.poll_transmit();
        if let Some(now) = self.local.now() {
            self.settle(now);
        }
        transmit
    }

    // ---- Connecting ----

    /// Accepts a CONNECT. When it asks to recover a session and recovery is on, the adapter
    /// looks the session up (the endpoint's store answers at once; a cluster's store later);
    /// the socket then gets its id, rooms and data back and the events it missed, else a
    /// fresh id. [`ServerEvent::Connected`] reports it.
    pub fn accept(&mut self, now: Instant, request: &ConnectRequest) -> Result<(), SessionError> {
        if !self.local.is_pending(request) {
            return Err(SessionError::NotConnected);
        }
        let wanted = request
            .auth
            .as_deref()
            .filter(|_| self.local.recovers())
            .and_then(RecoveryRequest::from_auth);
        let result = match wanted {
            Some(wanted) => {
                match self
                    .adapter
                    .restore_session(now, &mut self.local, request, &wanted)
                {
                    Restore::Now(recovered) => self.local.connect(request, recovered),
                    Restore::Later => Ok(()),
                }
            }
            None => self.local.connect(request, None),
        };
        self.settle(now);
        result
    }

    /// Refuses a CONNECT with `message` and optional `data` (a middleware's `next(err)`): v5
    /// sends `{"message":…,"data":…}`, v4 the message.
    pub fn refuse<D: Serialize + ?Sized>(
        &mut self,
        request: &ConnectRequest,
        message: &str,
        data: Option<&D>,
    ) -> Result<(), SessionError> {
        let connection = self.local.pending_peer(request)?;
        connection.refuse(&request.namespace, message, data)
    }

    /// Refuses a CONNECT to a namespace that does not exist: `{"message":"Invalid namespace"}`.
    pub fn refuse_invalid_namespace(
        &mut self,
        request: &ConnectRequest,
    ) -> Result<(), SessionError> {
        let connection = self.local.pending_peer(request)?;
        connection.refuse_invalid_namespace(&request.namespace)
    }

    // ---- Sending ----

    /// Sends an event (built with [`Packet::event`]) to one socket. With recovery on, it
    /// carries an offset, as the reference's `socket.emit` does. Fails only when the packet
    /// does not encode ([`SessionError::Encode`], possible with the msgpack parser); a socket
    /// that has left is no error, there is just nobody to send to.
    pub fn emit(
        &mut self,
        now: Instant,
        socket: &SocketRef,
        packet: Packet,
    ) -> Result<(), SessionError> {
        let result = self.adapter.emit(now, &mut self.local, socket, packet);
        self.settle(now);
        result
    }

    /// Sends an event with a fresh ack id; the answer comes as [`ServerEvent::Ack`], or
    /// [`ServerEvent::AckTimeout`] after `timeout`.
    pub fn emit_with_ack(
        &mut self,
        now: Instant,
        socket: &SocketRef,
        packet: Packet,
        timeout: Duration,
    ) -> Result<AckId, SessionError> {
        self.local.emit_with_ack(now, socket, packet, timeout)
    }

    /// Answers a received event's ack id with `packet` (built with [`Packet::ack`]).
    pub fn ack(&mut self, socket: &SocketRef, packet: Packet) -> Result<(), SessionError> {
        self.local.ack(socket, packet)
    }

    /// Sends `packet` to the sockets of its namespace that `target` selects, on this server
    /// (encoded once, shared by every recipient) and, through the adapter, on every other.
    /// Fails only when the packet does not encode.
    pub fn broadcast(
        &mut self,
        now: Instant,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Result<(), SessionError> {
        let result = self.adapter.broadcast(now, &mut self.local, packet, target);
        self.settle(now);
        result
    }

    /// [`broadcast`](Self::broadcast) to this server's sockets only, never to the other
    /// servers: the reference's `io.local.emit`.
    pub fn broadcast_local(
        &mut self,
        now: Instant,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Result<(), SessionError> {
        self.local.broadcast(now, packet, target)
    }

    /// A broadcast with acknowledgements (`io.timeout(ms).emit(…, callback)`): `packet` to
    /// the sockets `target` selects on every server, each with an ack id of its own; every
    /// client's ACK comes in [`ServerEvent::Reply`] ([`Answers::Acks`](super::Answers::Acks))
    /// once all arrived, or at `timeout` with those that did.
    pub fn broadcast_with_ack(
        &mut self,
        now: Instant,
        packet: Packet,
        target: &BroadcastTarget,
        timeout: Duration,
    ) -> Result<QueryId, QueryError> {
        let result = self
            .adapter
            .broadcast_with_ack(now, &mut self.local, packet, target, timeout);
        self.settle(now);
        result
    }

    /// `socketsJoin`: the sockets of `namespace` that `target` selects join `rooms`, on
    /// every server (this one's at once or when the adapter's message comes back, as the
    /// reference's adapter does).
    pub fn sockets_join(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        target: &BroadcastTarget,
        rooms: &[String],
    ) -> Result<(), QueryError> {
        let local = &mut self.local;
        let result = self
            .adapter
            .sockets_join(now, local, namespace, target, rooms);
        self.settle(now);
        result
    }

    /// `socketsLeave`: as [`sockets_join`](Self::sockets_join), leaving `rooms`.
    pub fn sockets_leave(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        target: &BroadcastTarget,
        rooms: &[String],
    ) -> Result<(), QueryError> {
        let local = &mut self.local;
        let result = self
            .adapter
            .sockets_leave(now, local, namespace, target, rooms);
        self.settle(now);
        result
    }

    /// `disconnectSockets`: as [`sockets_join`](Self::sockets_join), disconnecting the
    /// sockets (with `close`, their whole connections).
    pub fn disconnect_sockets(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        target: &BroadcastTarget,
        close: bool,
    ) -> Result<(), QueryError> {
        let local = &mut self.local;
        let result = self
            .adapter
            .disconnect_sockets(now, local, namespace, target, close);
        self.settle(now);
        result
    }

    /// `serverSideEmit`: `data` (the JSON array `[event, ...args]`) to the other servers'
    /// applications ([`ServerEvent::ServerSideEmit`]); alone, to nobody.
    pub fn server_side_emit(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        data: &str,
    ) -> Result<(), QueryError> {
        let local = &mut self.local;
        let result = self.adapter.server_side_emit(now, local, namespace, data);
        self.settle(now);
        result
    }

    /// `serverSideEmitWithAck`: as [`server_side_emit`](Self::server_side_emit); each other
    /// server's answer comes in [`ServerEvent::Reply`]
    /// ([`Answers::ServerSideEmit`](super::Answers::ServerSideEmit)).
    pub fn server_side_emit_with_ack(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        data: &str,
    ) -> Result<QueryId, QueryError> {
        let local = &mut self.local;
        let result = self
            .adapter
            .server_side_emit_with_ack(now, local, namespace, data);
        self.settle(now);
        result
    }

    /// Answers another server's `serverSideEmitWithAck` with `answer` (JSON text: the first
    /// argument of the reference's ack callback).
    pub fn answer_server_side_emit(&mut self, now: Instant, reply: &ReplyTo, answer: &str) {
        let local = &mut self.local;
        self.adapter
            .answer_server_side_emit(now, local, reply, answer);
        self.settle(now);
    }

    /// `fetchSockets`: the sockets of `namespace` that `target` selects, on every server;
    /// they come in [`ServerEvent::Reply`] ([`Answers::Sockets`](super::Answers::Sockets)).
    pub fn fetch_sockets(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        target: &BroadcastTarget,
    ) -> Result<QueryId, QueryError> {
        let local = &mut self.local;
        let result = self.adapter.fetch_sockets(now, local, namespace, target);
        self.settle(now);
        result
    }

    /// `allRooms`: the rooms of `namespace` on every server, as
    /// [`fetch_sockets`](Self::fetch_sockets).
    pub fn all_rooms(
        &mut self,
        now: Instant,
        namespace: &Namespace,
    ) -> Result<QueryId, QueryError> {
        let result = self.adapter.all_rooms(now, &mut self.local, namespace);
        self.settle(now);
        result
    }

    /// `serverCount`: how many servers serve `namespace`, this one included, as
    /// [`fetch_sockets`](Self::fetch_sockets).
    pub fn server_count(
        &mut self,
        now: Instant,
        namespace: &Namespace,
    ) -> Result<QueryId, QueryError> {
        let result = self.adapter.server_count(now, &mut self.local, namespace);
        self.settle(now);
        result
    }

    // ---- Sockets and rooms ----

    /// Puts a socket in `room`.
    pub fn join(&mut self, socket: &SocketRef, room: &str) {
        self.local.join(socket, room);
    }

    /// Takes a socket out of `room`.
    pub fn leave(&mut self, socket: &SocketRef, room: &str) {
        self.local.leave(socket, room);
    }

    /// The rooms a socket joined, sorted, without the room named by its own id.
    pub fn rooms_of(&self, socket: &SocketRef) -> &[String] {
        self.local
            .rooms()
            .rooms_of(socket.namespace.as_str(), &socket.id)
    }

    /// This server's sockets of `namespace` that `target` selects (its rooms and exceptions),
    /// sorted by id.
    pub fn sockets(&self, namespace: &Namespace, target: &BroadcastTarget) -> Vec<SocketRef> {
        self.local.sockets(namespace, target)
    }

    /// The HTTP request that opened `session`, as the driver described it to
    /// [`handle_handshake`](Self::handle_handshake) (the reference's `socket.handshake`, less
    /// the `auth`).
    pub fn handshake(&self, session: SessionKey) -> Option<&Handshake> {
        self.local.handshake(session)
    }

    /// The CONNECT payload a socket joined with (raw JSON).
    pub fn auth(&self, socket: &SocketRef) -> Option<&str> {
        self.local.auth(socket)
    }

    /// `socket.data`: what the application attached to a socket with
    /// [`set_data`](Self::set_data). `None` is the reference's `{}`, its default.
    pub fn data(&self, socket: &SocketRef) -> Option<&serde_json::Value> {
        self.local.data(socket)
    }

    /// Sets `socket.data`, which a cluster's `fetchSockets` shows other servers and
    /// connection state recovery gives back. Returns `false` when the socket is gone.
    pub fn set_data(&mut self, socket: &SocketRef, data: serde_json::Value) -> bool {
        self.local.set_data(socket, data)
    }

    /// Disconnects a socket from its namespace (the client sees `io server disconnect`); the
    /// Engine.IO session stays.
    pub fn disconnect(&mut self, socket: &SocketRef) -> Result<(), SessionError> {
        self.local.disconnect(socket)
    }

    /// Closes a client's whole connection: every socket, then the Engine.IO session.
    pub fn close(&mut self, session: SessionKey) {
        self.local.close(session);
    }
}
