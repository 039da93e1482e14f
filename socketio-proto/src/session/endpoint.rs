//! The Socket.IO server endpoint: every client of one server, from HTTP requests and WebSocket
//! frames to application events, behind one input and one output.
//!
//! An [`Endpoint`] owns an Engine.IO [`engineio_proto::session::endpoint::Endpoint`] (sessions,
//! routing, heartbeats), one [`Connection`] per session (namespaces, acks, the B.7 rules),
//! the [`Rooms`] and, when configured, the [`RecoveryStore`]. A driver only moves bytes and
//! time, exactly as for the Engine.IO endpoint; the application reads [`ServerEvent`]s and answers
//! with commands:
//!
//! 1. Feed what happens on the wire to [`Endpoint::handle`] with the current time (the
//!    Engine.IO [`Input`]: requests with their real method, POST bodies, WebSocket frames…).
//! 2. Drain [`Endpoint::poll_event`] and [`Endpoint::poll_transmit`] until both return `None`.
//!    Answer every [`ServerEvent::ConnectRequest`] with [`Endpoint::accept`] or one of the refusals
//!    (this is where middleware runs, in your code), every event that carries an ack id with
//!    [`Endpoint::ack`]; emit, broadcast, join rooms, disconnect, whenever you like. Put every
//!    [`Transmit`] on the wire (see the Engine.IO endpoint for what each one asks).
//! 3. Sleep until [`Endpoint::poll_timeout`], then call [`Endpoint::handle_timeout`].
//!
//! Deadlines (heartbeats, `connectTimeout`, ack timeouts, recovery expiry) due at the `now` of
//! any call are applied before that call's input.
//!
//! Ids (Engine.IO sessions, Socket.IO sockets, recovery pids) all come from the
//! [`IdSource`] you give: this crate has no random number generator.
//!
//! # Example: the Socket.IO v5 handshake over polling, driven by hand
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use engineio_proto::session::endpoint::Input;
//! use engineio_proto::session::server::{Method, Transmit};
//! use engineio_proto::session::RequestId;
//! use socketio_proto::session::endpoint::{EndpointConfig, Endpoint, ServerEvent};
//! use socketio_proto::Packet;
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
//!             server.emit(now, &socket, hello);
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

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use std::time::{Duration, Instant};

use engineio_proto::Data;
use engineio_proto::session::endpoint::{self as engine, IdSource, Input, SessionKey};
use engineio_proto::session::server::{ServerConfig as EngineConfig, SessionEvent, Transmit};
use serde::Serialize;

use super::handshake::{Handshake, query_fields};
use super::recovery::{self, RecoveryConfig, RecoveryRequest, RecoveryStore};
use super::rooms::{Adapter, BroadcastTarget, RoomChange, Rooms};
use super::server::{Connection, ConnectionConfig, ConnectionEvent, DisconnectReason, Output};
use super::{NamespaceMap, SessionError};
use crate::msgpack::Side;
use crate::{AckId, EncodedPacket, Message, Namespace, Packet, Utf8Bytes};

/// Server-wide settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointConfig {
    /// The Engine.IO sessions' settings (heartbeats, `maxPayload`, transports, v3).
    pub engine: EngineConfig,
    /// Each connection's settings (`connectTimeout`, decoder limits).
    pub connection: ConnectionConfig,
    /// Connection state recovery; off when `None`.
    pub recovery: Option<RecoveryConfig>,
}

/// One namespace socket: the Engine.IO session it lives on, its namespace and its id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SocketRef {
    /// The Engine.IO session.
    pub session: SessionKey,
    /// The namespace.
    pub namespace: Namespace,
    /// The socket id (`socket.id` in JavaScript).
    pub id: String,
}

/// A client's request to join a namespace, waiting for [`Endpoint::accept`] or a refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The Engine.IO session.
    pub session: SessionKey,
    /// The namespace (without a v4 client's `?query`).
    pub namespace: Namespace,
    /// The CONNECT payload as raw JSON; for a v4 client, its namespace query as an object
    /// (`/admin?token=1` ⇒ `{"token":"1"}`), as the modern reference server exposes it.
    pub auth: Option<Utf8Bytes>,
}

/// What happened, for the application.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A client asks to join a namespace: answer with [`Endpoint::accept`],
    /// [`Endpoint::refuse`] or [`Endpoint::refuse_invalid_namespace`].
    ConnectRequest(ConnectRequest),
    /// A socket joined (or was recovered: then its rooms are back and the missed events were
    /// sent before the CONNECT reply).
    Connected {
        /// The socket.
        socket: SocketRef,
        /// The auth payload of its CONNECT.
        auth: Option<Utf8Bytes>,
        /// Whether its state was recovered.
        recovered: bool,
    },
    /// An EVENT from a socket; when it carries an ack id, answer with [`Endpoint::ack`].
    Event {
        /// The socket.
        socket: SocketRef,
        /// The packet.
        packet: Packet,
    },
    /// The client acknowledged an event sent with [`Endpoint::emit_with_ack`].
    Ack {
        /// The socket.
        socket: SocketRef,
        /// The ACK packet.
        packet: Packet,
    },
    /// An ack did not come before its deadline.
    AckTimeout {
        /// The socket.
        socket: SocketRef,
        /// The ack id.
        ack_id: AckId,
    },
    /// A socket left; its rooms are already gone.
    Disconnected {
        /// The socket.
        socket: SocketRef,
        /// Why.
        reason: DisconnectReason,
    },
    /// With recovery kept elsewhere ([`Endpoint::use_external_recovery`]): a socket left for
    /// a reason that allows recovery; keep its session for the recovery's
    /// `max_disconnection_duration`. Reported just before its
    /// [`Disconnected`](Self::Disconnected).
    SessionKept {
        /// The namespace.
        namespace: Namespace,
        /// What to keep.
        session: KeptSession,
    },
}

/// A disconnected socket's session, kept for connection state recovery outside the endpoint
/// ([`ServerEvent::SessionKept`], [`Endpoint::accept_restored`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptSession {
    /// The socket id, which a recovered socket gets back.
    pub sid: String,
    /// The private id the client sends back to recover.
    pub pid: String,
    /// Its rooms, its own id included.
    pub rooms: Vec<String>,
    /// Its `socket.data` (`None`: the reference's `{}`).
    pub data: Option<serde_json::Value>,
}

/// A recovered socket's state, for [`Endpoint::connect`].
struct Restored {
    session: KeptSession,
    missed: Vec<EncodedPacket>,
}

impl From<recovery::Recovered> for Restored {
    fn from(recovered: recovery::Recovered) -> Restored {
        let session = recovered.session;
        let session = KeptSession {
            sid: session.sid,
            pid: session.pid,
            rooms: session.rooms,
            data: session.data,
        };
        Restored {
            session,
            missed: recovered.missed,
        }
    }
}

/// One client: its connection and its sockets.
#[derive(Debug)]
struct Peer {
    connection: Connection,
    /// Namespace ⇒ its socket.
    sockets: NamespaceMap<Member>,
    /// Namespace ⇒ auth of a CONNECT waiting for an answer.
    pending: NamespaceMap<Option<Utf8Bytes>>,
    dirty: bool,
    /// The deadline scheduled in the timer table.
    deadline: Option<Instant>,
    /// The Engine.IO session, to tell this peer from a later one in the same slot.
    key: SessionKey,
    /// The HTTP request that opened the session, when the driver described it.
    handshake: Option<Box<Handshake>>,
}

/// One namespace socket of a peer.
#[derive(Debug)]
struct Member {
    id: String,
    /// The recovery pid.
    pid: Option<String>,
    /// The CONNECT payload.
    auth: Option<Utf8Bytes>,
    /// `socket.data`; `None` is the reference's `{}`.
    data: Option<Box<serde_json::Value>>,
}

/// Every client of one Socket.IO server. See the [module docs](self) for the run loop.
#[derive(Debug)]
pub struct Endpoint {
    engine: engine::Endpoint,
    config: EndpointConfig,
    /// One peer per Engine.IO session, at its key's index.
    peers: Peers,
    /// Socket id ⇒ its session. Socket ids are unique across namespaces (they come from the
    /// id source), so a broadcast finds each recipient without building a key. The ids are
    /// ours, never the peer's choice, so a fast non-keyed hash is safe here.
    owners: FxHashMap<String, SessionKey>,
    rooms: Rooms,
    recovery: Option<RecoveryStore>,
    /// Recovery is kept elsewhere (a cluster's store): no local offsets, sessions or restores.
    external_recovery: bool,
    next_offset: u64,
    dirty: Vec<SessionKey>,
    timers: engineio_proto::session::TimerTable<SessionKey>,
    events: VecDeque<ServerEvent>,
    /// The latest time a call brought; what the poll methods use for work they cause.
    now: Option<Instant>,
    /// The description of the request [`handle_handshake`](Self::handle_handshake) is
    /// feeding, for the session it opens.
    opening: Option<Box<Handshake>>,
}

impl Endpoint {
    /// A server with no client. `ids` supplies every id the server hands out.
    pub fn new(config: EndpointConfig, ids: Box<dyn IdSource>) -> Endpoint {
        Endpoint {
            engine: engine::Endpoint::new(config.engine.clone(), ids),
            recovery: config
                .recovery
                .clone()
                .map(|recovery| RecoveryStore::with_parser(recovery, config.connection.parser)),
            config,
            peers: Peers::default(),
            owners: FxHashMap::default(),
            rooms: Rooms::default(),
            external_recovery: false,
            next_offset: 0,
            dirty: Vec::new(),
            timers: Default::default(),
            events: VecDeque::new(),
            now: None,
            opening: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// The Engine.IO endpoint underneath (session lookups, counts).
    pub fn engine(&self) -> &engine::Endpoint {
        &self.engine
    }

    /// The rooms of every namespace.
    pub fn rooms(&self) -> &Rooms {
        &self.rooms
    }

    /// Starts recording the rooms that appear and empty ([`Rooms::track_changes`]), for a
    /// cluster node that subscribes per room.
    pub fn track_room_changes(&mut self) {
        self.rooms.track_changes();
    }

    /// The rooms that appeared or emptied since the last call ([`Rooms::take_changes`]).
    pub fn take_room_changes(&mut self) -> Vec<RoomChange> {
        self.rooms.take_changes()
    }

    /// Hands connection state recovery to a store outside this endpoint (the Redis-streams
    /// cluster adapter): broadcasts carry the offsets given to
    /// [`broadcast_with_offset`](Self::broadcast_with_offset) (others none), sessions are
    /// reported ([`ServerEvent::SessionKept`]) instead of kept, and a CONNECT asking for
    /// recovery is accepted with [`accept_restored`](Self::accept_restored) once the store
    /// answered (or with [`accept`](Self::accept), fresh). Recovery must be configured
    /// ([`EndpointConfig::recovery`]): its pids and its rule of which disconnections keep a
    /// session still apply.
    pub fn use_external_recovery(&mut self) {
        self.external_recovery = true;
    }

    /// Feeds one input from the wire. Deadlines due at `now` are applied first.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.handle_timeout(now);
        self.engine.handle(now, input);
        self.pump(now);
    }

    /// [`handle`](Self::handle) for an input that may open a session (a polling handshake's
    /// [`Input::Request`], or the [`Input::WebSocketOpen`] of a WebSocket-only client's
    /// upgrade), with a description of its HTTP request: the session it opens keeps it
    /// ([`handshake`](Self::handshake)). When the input opens nothing, it is dropped.
    pub fn handle_handshake(&mut self, now: Instant, input: Input<'_>, handshake: Handshake) {
        self.handle_timeout(now);
        self.opening = Some(Box::new(handshake));
        self.engine.handle(now, input);
        self.pump(now);
        self.opening = None;
    }

    /// Fires every deadline due at `now`: heartbeats, `connectTimeout`, ack timeouts,
    /// recovery expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.engine.handle_timeout(now);
        self.pump(now);
        while let Some((_, key)) = self.timers.pop_due(now) {
            if let Some(peer) = self.peers.get_mut(key) {
                peer.deadline = None;
                peer.connection.handle_timeout(now);
                mark(&mut self.dirty, key, peer);
            }
        }
        if let Some(store) = &mut self.recovery {
            store.expire(now);
        }
        self.pump(now);
    }

    /// When [`Endpoint::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let store = self.recovery.as_ref().and_then(RecoveryStore::poll_timeout);
        [self.engine.poll_timeout(), self.timers.next(), store]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        if self.events.is_empty() {
            self.pump_with(None);
        }
        self.events.pop_front()
    }

    /// The next thing to put on the wire.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.pump_with(None);
        self.engine.poll_transmit()
    }

    /// Accepts a CONNECT: recovers the socket's state when its auth asks for it and recovery
    /// is on, else gives it a fresh id; sends the reply and reports [`ServerEvent::Connected`].
    pub fn accept(&mut self, now: Instant, request: &ConnectRequest) -> Result<(), SessionError> {
        let auth = self.take_pending(request)?;
        let wanted = auth
            .as_deref()
            .filter(|_| !self.external_recovery)
            .and_then(RecoveryRequest::from_auth);
        let restored = match (&mut self.recovery, wanted) {
            (Some(store), Some(wanted)) => store.recover(now, request.namespace.as_str(), &wanted),
            _ => None,
        };
        self.connect(request, auth, restored.map(Restored::from))
    }

    /// Takes the session `request` asks for (a CONNECT's `pid` and `offset`) out of this
    /// endpoint's recovery store, with the events it missed, when the store has both: for a
    /// client that reconnects to another endpoint, such as another shard of the same server,
    /// which then calls [`accept_recovered`](Self::accept_recovered) with it.
    pub fn take_recovery(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        request: &RecoveryRequest,
    ) -> Option<recovery::Recovered> {
        self.recovery
            .as_mut()?
            .recover(now, namespace.as_str(), request)
    }

    /// Accepts a CONNECT as the recovery of a session another endpoint kept
    /// ([`take_recovery`](Self::take_recovery)): the socket gets its id, pid, rooms and data
    /// back, and the events it missed go out before the CONNECT reply.
    pub fn accept_recovered(
        &mut self,
        request: &ConnectRequest,
        recovered: recovery::Recovered,
    ) -> Result<(), SessionError> {
        let auth = self.take_pending(request)?;
        self.connect(request, auth, Some(Restored::from(recovered)))
    }

    /// Accepts a CONNECT as the recovery of a socket whose state an external store kept
    /// ([`use_external_recovery`](Self::use_external_recovery)): the socket gets its `sid`,
    /// `pid` and `data` back and joins its `rooms`, and the `missed` EVENTs (their offsets
    /// appended) go out before the CONNECT reply; the app sees [`ServerEvent::Connected`]
    /// with `recovered`.
    pub fn accept_restored(
        &mut self,
        request: &ConnectRequest,
        session: KeptSession,
        missed: Vec<Packet>,
    ) -> Result<(), SessionError> {
        let parser = self.config.connection.parser;
        let missed = missed
            .into_iter()
            .map(|packet| packet.encode_as(parser, Side::Server))
            .collect::<Result<Vec<_>, _>>()?;
        let auth = self.take_pending(request)?;
        let state = Restored { session, missed };
        self.connect(request, auth, Some(state))
    }

    /// The auth of a CONNECT waiting for its answer, which it no longer is.
    fn take_pending(
        &mut self,
        request: &ConnectRequest,
    ) -> Result<Option<Utf8Bytes>, SessionError> {
        let peer = self
            .peers
            .get_mut(request.session)
            .ok_or(SessionError::Closed)?;
        peer.pending
            .remove(request.namespace.as_str())
            .ok_or(SessionError::NotConnected)
    }

    /// Answers a CONNECT: a fresh socket, or a recovered one.
    fn connect(
        &mut self,
        request: &ConnectRequest,
        auth: Option<Utf8Bytes>,
        recovered: Option<Restored>,
    ) -> Result<(), SessionError> {
        let peer = self
            .peers
            .get_mut(request.session)
            .ok_or(SessionError::Closed)?;
        let ns = request.namespace.as_str();
        let (id, pid, rooms, data, is_recovered) = match recovered {
            Some(state) => {
                peer.connection.accept_recovered(
                    &request.namespace,
                    &state.session.sid,
                    Some(&state.session.pid),
                    &state.missed,
                    true,
                )?;
                let KeptSession {
                    sid,
                    pid,
                    rooms,
                    data,
                } = state.session;
                (sid, Some(pid), rooms, data.map(Box::new), true)
            }
            None => {
                let id = self.engine.next_id();
                let pid = self.recovery.is_some().then(|| self.engine.next_id());
                peer.connection
                    .accept(&request.namespace, &id, pid.as_deref())?;
                (id, pid, Vec::new(), None, false)
            }
        };
        self.rooms.add_socket(ns, &id);
        for room in &rooms {
            self.rooms.join(ns, &id, room);
        }
        let member = Member {
            id: id.clone(),
            pid,
            auth: auth.clone(),
            data,
        };
        peer.sockets.insert(ns.to_owned(), member);
        mark(&mut self.dirty, request.session, peer);
        self.owners.insert(id.clone(), request.session);
        self.events.push_back(ServerEvent::Connected {
            socket: SocketRef {
                session: request.session,
                namespace: request.namespace.clone(),
                id,
            },
            auth,
            recovered: is_recovered,
        });
        Ok(())
    }

    /// Refuses a CONNECT with `message` and optional `data` (a middleware's `next(err)`): v5
    /// sends `{"message":…,"data":…}`, v4 the message.
    pub fn refuse<D: Serialize + ?Sized>(
        &mut self,
        request: &ConnectRequest,
        message: &str,
        data: Option<&D>,
    ) -> Result<(), SessionError> {
        let peer = self.pending_peer(request)?;
        peer.connection.refuse(&request.namespace, message, data)
    }

    /// Refuses a CONNECT to a namespace that does not exist: `{"message":"Invalid namespace"}`.
    pub fn refuse_invalid_namespace(
        &mut self,
        request: &ConnectRequest,
    ) -> Result<(), SessionError> {
        let peer = self.pending_peer(request)?;
        peer.connection.refuse_invalid_namespace(&request.namespace)
    }

    /// Sends an event (built with [`Packet::event`]) to one socket. With recovery on, it goes
    /// through the recovery store like a broadcast to the socket's own room, as the reference
    /// does, so it carries an offset. Fails only when the packet does not encode
    /// ([`SessionError::Encode`], possible with the msgpack parser); a socket that has left is
    /// no error, there is just nobody to send to.
    pub fn emit(
        &mut self,
        now: Instant,
        socket: &SocketRef,
        packet: Packet,
    ) -> Result<(), SessionError> {
        let encoded = self.tag(now, packet, &BroadcastTarget::to([socket.id.as_str()]))?;
        if let Some(peer) = self.peers.get_mut(socket.session) {
            let _ = peer
                .connection
                .send_encoded(socket.namespace.as_str(), &encoded);
            mark(&mut self.dirty, socket.session, peer);
        }
        Ok(())
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
        let peer = self
            .peers
            .get_mut(socket.session)
            .ok_or(SessionError::Closed)?;
        let ack = peer.connection.emit(now, packet, Some(timeout))?;
        mark(&mut self.dirty, socket.session, peer);
        ack.ok_or(SessionError::UnknownAck)
    }

    /// Answers a received event's ack id with `packet` (built with [`Packet::ack`]).
    pub fn ack(&mut self, socket: &SocketRef, packet: Packet) -> Result<(), SessionError> {
        let peer = self
            .peers
            .get_mut(socket.session)
            .ok_or(SessionError::Closed)?;
        peer.connection.ack(packet)?;
        mark(&mut self.dirty, socket.session, peer);
        Ok(())
    }

    /// Sends `packet` to the sockets of its namespace that `target` selects, encoded once and
    /// shared by every recipient. Fails only when the packet does not encode
    /// ([`SessionError::Encode`], possible with the msgpack parser).
    pub fn broadcast(
        &mut self,
        now: Instant,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Result<(), SessionError> {
        let namespace = packet.namespace().to_owned();
        let encoded = self.tag(now, packet, target)?;
        self.deliver_all(&namespace, &encoded, target);
        Ok(())
    }

    /// [`broadcast`](Self::broadcast) with the recovery offset an external store gave the
    /// packet ([`use_external_recovery`](Self::use_external_recovery)): an EVENT without ack
    /// id that is not volatile carries `offset` as its last argument (when recovery is on).
    pub fn broadcast_with_offset(
        &mut self,
        now: Instant,
        packet: Packet,
        target: &BroadcastTarget,
        offset: &str,
    ) -> Result<(), SessionError> {
        let namespace = packet.namespace().to_owned();
        let parser = self.config.connection.parser;
        let encoded = match &self.recovery {
            Some(_) => recovery::with_offset_if_recoverable(packet, offset, target)?
                .encode_as(parser, Side::Server)?,
            None => packet.encode_as(parser, Side::Server)?,
        };
        self.now = Some(self.now.map_or(now, |seen| seen.max(now)));
        self.deliver_all(&namespace, &encoded, target);
        Ok(())
    }

    /// Hands `encoded` to every socket of `namespace` that `target` selects.
    fn deliver_all(&mut self, namespace: &str, encoded: &EncodedPacket, target: &BroadcastTarget) {
        if target.rooms.is_empty() && target.except.is_empty() {
            // The whole namespace: every peer joined to it, walked in slot order, with no
            // room or owner lookups (the most common broadcast, and the widest).
            for peer in self.peers.0.iter_mut().flatten() {
                deliver(
                    &mut self.engine,
                    &mut self.dirty,
                    peer,
                    namespace,
                    encoded,
                    target,
                );
            }
            return;
        }
        for id in self.rooms.recipients(namespace, target) {
            let Some(&key) = self.owners.get(id) else {
                continue;
            };
            if let Some(peer) = self.peers.get_mut(key) {
                deliver(
                    &mut self.engine,
                    &mut self.dirty,
                    peer,
                    namespace,
                    encoded,
                    target,
                );
            }
        }
    }

    /// The local sockets of `namespace` that `target` selects (its rooms and exceptions; the
    /// flags do not matter here), sorted by id: what a cluster adapter's `socketsJoin`,
    /// `socketsLeave`, `disconnectSockets` and `fetchSockets` act on.
    pub fn sockets(&self, namespace: &Namespace, target: &BroadcastTarget) -> Vec<SocketRef> {
        self.rooms
            .recipients(namespace.as_str(), target)
            .into_iter()
            .filter_map(|id| {
                self.owners.get(id).map(|&session| SocketRef {
                    session,
                    namespace: namespace.clone(),
                    id: id.to_owned(),
                })
            })
            .collect()
    }

    /// The CONNECT payload a socket joined with (raw JSON; for a v4 client, its namespace
    /// query as an object), as [`ServerEvent::Connected`] reported it: the `auth` of its
    /// handshake for a cluster's `fetchSockets`.
    pub fn auth(&self, socket: &SocketRef) -> Option<&str> {
        self.member(socket)?.auth.as_deref()
    }

    /// The HTTP request that opened `session`, as the driver described it to
    /// [`handle_handshake`](Self::handle_handshake) (the reference's `socket.handshake`, less
    /// the `auth`). A socket's is its [`SocketRef::session`]'s; a [`ConnectRequest`]'s, its
    /// `session`'s.
    pub fn handshake(&self, session: SessionKey) -> Option<&Handshake> {
        self.peers.get(session)?.handshake.as_deref()
    }

    /// `socket.data`: what the application attached to a socket with
    /// [`set_data`](Self::set_data). `None` is the reference's `{}`, its default.
    pub fn data(&self, socket: &SocketRef) -> Option<&serde_json::Value> {
        self.member(socket)?.data.as_deref()
    }

    /// Sets `socket.data`, which a cluster's `fetchSockets` shows other nodes and connection
    /// state recovery gives back. Returns `false` when the socket is gone.
    pub fn set_data(&mut self, socket: &SocketRef, data: serde_json::Value) -> bool {
        let Some(peer) = self.peers.get_mut(socket.session) else {
            return false;
        };
        match peer.sockets.get_mut(socket.namespace.as_str()) {
            Some(member) if member.id == socket.id => {
                member.data = Some(Box::new(data));
                true
            }
            _ => false,
        }
    }

    fn member(&self, socket: &SocketRef) -> Option<&Member> {
        let peer = self.peers.get(socket.session)?;
        let member = peer.sockets.get(socket.namespace.as_str())?;
        (member.id == socket.id).then_some(member)
    }

    /// Puts a socket in `room`.
    pub fn join(&mut self, socket: &SocketRef, room: &str) {
        self.rooms.join(socket.namespace.as_str(), &socket.id, room);
    }

    /// Takes a socket out of `room`.
    pub fn leave(&mut self, socket: &SocketRef, room: &str) {
        self.rooms
            .leave(socket.namespace.as_str(), &socket.id, room);
    }

    /// Disconnects a socket from its namespace (the client sees `io server disconnect`); the
    /// Engine.IO session stays.
    pub fn disconnect(&mut self, socket: &SocketRef) -> Result<(), SessionError> {
        let peer = self
            .peers
            .get_mut(socket.session)
            .ok_or(SessionError::Closed)?;
        peer.connection.disconnect(&socket.namespace)?;
        mark(&mut self.dirty, socket.session, peer);
        Ok(())
    }

    /// Closes a client's whole connection: every socket, then the Engine.IO session.
    pub fn close(&mut self, session: SessionKey) {
        if let Some(peer) = self.peers.get_mut(session) {
            peer.connection.close();
            mark(&mut self.dirty, session, peer);
        }
    }

    fn pending_peer(&mut self, request: &ConnectRequest) -> Result<&mut Peer, SessionError> {
        let peer = self
            .peers
            .get_mut(request.session)
            .ok_or(SessionError::Closed)?;
        peer.pending
            .remove(request.namespace.as_str())
            .ok_or(SessionError::NotConnected)?;
        mark(&mut self.dirty, request.session, peer);
        Ok(peer)
    }

    /// Tags an event with a recovery offset (when recovery is on) and encodes it.
    fn tag(
        &mut self,
        now: Instant,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Result<EncodedPacket, SessionError> {
        let parser = self.config.connection.parser;
        let Some(store) = self.recovery.as_mut().filter(|_| !self.external_recovery) else {
            return Ok(packet.encode_as(parser, Side::Server)?);
        };
        self.next_offset += 1;
        let offset = format!("{:x}", self.next_offset);
        let fallback = packet.clone();
        match store.store(now, &offset, packet, target) {
            Ok(encoded) => Ok(encoded),
            Err(_) => Ok(fallback.encode_as(parser, Side::Server)?),
        }
    }

    fn pump(&mut self, now: Instant) {
        self.now = Some(self.now.map_or(now, |seen| seen.max(now)));
        self.pump_with(Some(now));
    }

    /// Moves everything between the layers until nothing moves: Engine.IO events into the
    /// connections, connection outputs into the Engine.IO sessions, connection events into the
    /// application's queue. `now` is the time of the input being handled; the poll methods
    /// pass `None` and the latest time seen is used.
    fn pump_with(&mut self, now: Option<Instant>) {
        let Some(now) = now.or(self.now) else {
            // Nothing was ever fed in: nothing can be pending.
            return;
        };
        loop {
            if let Some((key, event)) = self.engine.poll_event() {
                self.on_engine_event(now, key, event);
                continue;
            }
            let Some(key) = self.dirty.pop() else {
                return;
            };
            let Some(peer) = self.peers.get_mut(key) else {
                continue;
            };
            peer.dirty = false;
            self.drain_peer(now, key);
        }
    }

    fn on_engine_event(&mut self, now: Instant, key: SessionKey, event: SessionEvent) {
        match event {
            SessionEvent::Opened => {
                let Some(session) = self.engine.session(key) else {
                    return;
                };
                let mut peer = Peer {
                    connection: Connection::new(
                        now,
                        session.version().into(),
                        self.config.connection.clone(),
                    ),
                    sockets: NamespaceMap::default(),
                    pending: NamespaceMap::default(),
                    dirty: false,
                    deadline: None,
                    key,
                    handshake: self.opening.take(),
                };
                mark(&mut self.dirty, key, &mut peer);
                self.peers.insert(peer);
            }
            SessionEvent::Message(data) => {
                if let Some(peer) = self.peers.get_mut(key) {
                    peer.connection.handle_message(now, data);
                    mark(&mut self.dirty, key, peer);
                }
            }
            SessionEvent::Closed { reason, .. } => {
                if let Some(peer) = self.peers.get_mut(key) {
                    peer.connection.handle_engine_closed(reason);
                    mark(&mut self.dirty, key, peer);
                }
            }
            _ => {}
        }
    }

    /// Drains one peer's connection until it is quiet.
    fn drain_peer(&mut self, now: Instant, key: SessionKey) {
        loop {
            let Some(peer) = self.peers.get_mut(key) else {
                return;
            };
            if let Some(output) = peer.connection.poll_transmit() {
                match output {
                    // Fails only when the Engine.IO session is already closing.
                    Output::TextFrame(frame) => drop(self.engine.send_text_frame(key, frame)),
                    Output::Binary(data) => drop(self.engine.send(key, Data::Binary(data))),
                    Output::CloseEngine => self.engine.close(now, key),
                }
                continue;
            }
            let Some(event) = peer.connection.poll_event() else {
                let deadline = peer.connection.poll_timeout();
                if deadline != peer.deadline {
                    self.timers.reschedule(key, peer.deadline, deadline);
                    peer.deadline = deadline;
                }
                return;
            };
            self.on_connection_event(now, key, event);
        }
    }

    fn on_connection_event(&mut self, now: Instant, key: SessionKey, event: ConnectionEvent) {
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        let socket = |peer: &Peer, namespace: &Namespace| {
            let member = peer.sockets.get(namespace.as_str())?;
            Some(SocketRef {
                session: key,
                namespace: namespace.clone(),
                id: member.id.clone(),
            })
        };
        match event {
            ConnectionEvent::ConnectRequest {
                namespace,
                auth,
                query,
            } => {
                let auth = auth.or_else(|| query.map(|q| query_as_auth(&q).into()));
                peer.pending
                    .insert(namespace.as_str().to_owned(), auth.clone());
                self.events
                    .push_back(ServerEvent::ConnectRequest(ConnectRequest {
                        session: key,
                        namespace,
                        auth,
                    }));
            }
            ConnectionEvent::Event(packet) => {
                if let Some(socket) = socket(peer, packet.full_namespace()) {
                    self.events.push_back(ServerEvent::Event { socket, packet });
                }
            }
            ConnectionEvent::Ack(packet) => {
                if let Some(socket) = socket(peer, packet.full_namespace()) {
                    self.events.push_back(ServerEvent::Ack { socket, packet });
                }
            }
            ConnectionEvent::AckTimeout { namespace, ack_id } => {
                if let Some(socket) = socket(peer, &namespace) {
                    self.events
                        .push_back(ServerEvent::AckTimeout { socket, ack_id });
                }
            }
            ConnectionEvent::Disconnected { namespace, reason } => {
                let ns = namespace.as_str();
                let Some(Member { id, pid, data, .. }) = peer.sockets.remove(ns) else {
                    return;
                };
                let data = data.map(|data| *data);
                // Kept for recovery when the transport failed or the server closed, not when
                // either side disconnected on purpose (the reference's rule).
                let recoverable = matches!(
                    reason,
                    DisconnectReason::Engine(_) | DisconnectReason::ServerClose
                );
                if let (Some(store), Some(pid), true) = (&mut self.recovery, pid, recoverable) {
                    let rooms = self.rooms.rooms_of(ns, &id);
                    if self.external_recovery {
                        self.events.push_back(ServerEvent::SessionKept {
                            namespace: namespace.clone(),
                            session: KeptSession {
                                sid: id.clone(),
                                pid,
                                rooms: rooms.into_iter().map(str::to_owned).collect(),
                                data,
                            },
                        });
                    } else {
                        store.save_session(now, &id, &pid, ns, &rooms, data);
                    }
                }
                self.rooms.remove_socket(ns, &id);
                self.owners.remove(&id);
                let socket = SocketRef {
                    session: key,
                    namespace,
                    id,
                };
                self.events
                    .push_back(ServerEvent::Disconnected { socket, reason });
            }
            ConnectionEvent::Closed(_) => {
                if let Some(peer) = self.peers.remove(key) {
                    self.timers.reschedule(key, peer.deadline, None);
                }
            }
            // `Connected` is reported by `accept`, with the auth.
            _ => {}
        }
    }
}

/// The peers, indexed by their session key's index: found without hashing.
#[derive(Debug, Default)]
struct Peers(Vec<Option<Peer>>);

impl Peers {
    fn get(&self, key: SessionKey) -> Option<&Peer> {
        self.0.get(key.index())?.as_ref().filter(|p| p.key == key)
    }

    fn get_mut(&mut self, key: SessionKey) -> Option<&mut Peer> {
        self.0
            .get_mut(key.index())?
            .as_mut()
            .filter(|p| p.key == key)
    }

    fn insert(&mut self, peer: Peer) {
        let index = peer.key.index();
        if self.0.len() <= index {
            self.0.resize_with(index + 1, || None);
        }
        self.0[index] = Some(peer);
    }

    fn remove(&mut self, key: SessionKey) -> Option<Peer> {
        let slot = self.0.get_mut(key.index())?;
        if slot.as_ref().is_some_and(|p| p.key == key) {
            slot.take()
        } else {
            None
        }
    }
}

/// One recipient of a broadcast: straight to its Engine.IO session when nothing of its
/// connection waits before the packet, else behind what waits; a volatile packet is dropped
/// for a session that cannot send it now.
fn deliver(
    engine: &mut engine::Endpoint,
    dirty: &mut Vec<SessionKey>,
    peer: &mut Peer,
    namespace: &str,
    packet: &EncodedPacket,
    target: &BroadcastTarget,
) {
    if target.volatile && !engine.is_writable(peer.key) {
        return;
    }
    match peer.connection.send_encoded_direct(namespace, packet) {
        Ok(true) => {
            // Fails only when the Engine.IO session is closing: nobody to send to.
            for message in packet.messages() {
                let _ = match message {
                    Message::TextFrame(frame) => engine.send_text_frame(peer.key, frame.clone()),
                    Message::Binary(data) => engine.send(peer.key, Data::Binary(data.clone())),
                };
            }
        }
        Ok(false) => mark(dirty, peer.key, peer),
        // Not joined to the namespace (or closed): not a recipient.
        Err(_) => {}
    }
}

fn mark(dirty: &mut Vec<SessionKey>, key: SessionKey, peer: &mut Peer) {
    if !peer.dirty {
        peer.dirty = true;
        dirty.push(key);
    }
}

/// `token=x&n=1` as the JSON object `{"token":"x","n":"1"}`, percent-decoded as Node's
/// `querystring.parse` does (`+` is a space), keys in their first order, the last value kept.
fn query_as_auth(query: &str) -> String {
    let mut fields: Vec<(String, String)> = Vec::new();
    for (key, value) in query_fields(query) {
        match fields.iter_mut().find(|(k, _)| *k == key) {
            Some(field) => field.1 = value,
            None => fields.push((key, value)),
        }
    }
    let mut json = String::from("{");
    for (key, value) in fields {
        if json.len() > 1 {
            json.push(',');
        }
        // Strings always serialize.
        json.push_str(&serde_json::to_string(&key).unwrap_or_default());
        json.push(':');
        json.push_str(&serde_json::to_string(&value).unwrap_or_default());
    }
    json.push('}');
    json
}

#[cfg(test)]
mod tests {
    use super::query_as_auth;

    #[test]
    fn a_v4_query_becomes_the_auth_object() {
        assert_eq!(
            query_as_auth("token=secret&x=a%20b+c&flag"),
            r#"{"token":"secret","x":"a b c","flag":""}"#
        );
        assert_eq!(query_as_auth("t=%zz%4"), r#"{"t":"%zz%4"}"#);
        assert_eq!(query_as_auth("a=1&a=2"), r#"{"a":"2"}"#);
    }
}
