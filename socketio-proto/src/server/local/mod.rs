//! The local side of an endpoint: this server's own clients (their Engine.IO sessions and
//! Socket.IO connections), their rooms, the sessions kept for recovery, and the queries in
//! flight. It is everything of the [`Endpoint`](super::Endpoint) but its
//! [`Adapter`](super::Adapter), and what an adapter works on: every adapter method gets it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use engineio_proto::session::TimerTable;
use engineio_proto::session::endpoint::{self as engine, IdSource, Input, SessionKey};
use engineio_proto::session::server::Transmit;
use rustc_hash::FxHashMap;

mod peers;
mod pump;

use peers::{Member, Peers, deliver, mark};

use super::config::EndpointConfig;
use super::connection::Connection;
use super::events::{ConnectRequest, ReplyTo, ServerEvent, SocketRef};
use super::handshake::Handshake;
use super::query::{Answer, Answers, Queries, QueryError, QueryId, RemoteSocket};
use super::recovery::{self, KeptSession, Recovered, RecoveryRequest, RecoveryStore};
use super::rooms::{BroadcastTarget, Rooms};
use crate::msgpack::Side;
use crate::session::SessionError;
use crate::{AckId, EncodeError, EncodedPacket, Namespace, Packet};

/// What the local side tells the adapter, in order, after the call that caused it
/// ([`Adapter::notice`](super::Adapter::notice)).
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// A room appeared here or emptied (only once
    /// [`Local::track_room_changes`] was called: the sharded Redis adapter subscribes per room).
    Room(super::rooms::RoomChange),
    /// A socket left for a reason that allows recovery, with recovery on: keep its session
    /// for the recovery's `max_disconnection_duration` (the default adapter keeps it in
    /// [`Local::keep_session`]).
    SessionKept {
        /// The namespace.
        namespace: Namespace,
        /// What to keep.
        session: KeptSession,
    },
    /// The client answered an event the adapter sent with
    /// [`Local::emit_with_ack_for`]: its ACK, or `None` when it timed out or the socket left.
    Ack {
        /// The adapter's token for that emit.
        token: u64,
        /// The socket.
        socket: SocketRef,
        /// The ACK packet, when it came.
        ack: Option<Packet>,
    },
}

/// Who waits for an ack the local side asked for.
#[derive(Clone, Copy, Debug)]
enum AckOwner {
    /// A broadcast with acknowledgements of this server.
    Query(QueryId),
    /// The adapter (its token).
    Adapter(u64),
}

/// This server's clients, rooms, recovery store and queries: the endpoint without its adapter.
/// Adapters reach it in every call; applications through the
/// [`Endpoint`](super::Endpoint)'s methods.
#[derive(Debug)]
pub struct Local {
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
    /// Recovery is kept by the adapter (a cluster's store): no local offsets or sessions.
    external_recovery: bool,
    next_offset: u64,
    dirty: Vec<SessionKey>,
    timers: TimerTable<SessionKey>,
    events: VecDeque<ServerEvent>,
    notices: VecDeque<Notice>,
    queries: Queries,
    /// Acks this side waits for on someone's behalf: (socket id, ack id) ⇒ who.
    owned_acks: FxHashMap<(String, AckId), AckOwner>,
    /// The latest time a call brought; what the poll methods use for work they cause.
    now: Option<Instant>,
    /// The description of the request [`handle_handshake`](Self::handle_handshake) is
    /// feeding, for the session it opens.
    opening: Option<Box<Handshake>>,
}

impl Local {
    pub(crate) fn new(config: EndpointConfig, ids: Box<dyn IdSource>) -> Local {
        Local {
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
            timers: TimerTable::default(),
            events: VecDeque::new(),
            notices: VecDeque::new(),
            queries: Queries::default(),
            owned_acks: FxHashMap::default(),
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

    /// The rooms of this server's sockets.
    pub fn rooms(&self) -> &Rooms {
        &self.rooms
    }

    /// The latest time a call brought (`None` before the first).
    pub fn now(&self) -> Option<Instant> {
        self.now
    }

    /// From now on, every room that appears or empties here is reported to the adapter
    /// ([`Notice::Room`]).
    pub fn track_room_changes(&mut self) {
        self.rooms.track_changes();
    }

    /// From now on, every socket that joins or leaves a room here is recorded, to be taken
    /// with [`poll_membership`](Self::poll_membership) (the Admin UI's room events); the last
    /// [`MAX_MEMBERSHIPS`](super::rooms::MAX_MEMBERSHIPS) are kept.
    pub fn track_memberships(&mut self) {
        self.rooms.track_memberships();
    }

    /// Whether room membership changes wait to be taken.
    pub fn has_memberships(&self) -> bool {
        self.rooms.has_memberships()
    }

    /// The oldest room membership change not taken yet (see
    /// [`track_memberships`](Self::track_memberships)).
    pub fn poll_membership(&mut self) -> Option<super::rooms::Membership> {
        self.rooms.take_membership()
    }

    /// Hands connection state recovery to the adapter's store: broadcasts carry the offsets
    /// given to [`broadcast_with_offset`](Self::broadcast_with_offset) (others none), and the
    /// local store keeps nothing. Recovery must be configured
    /// ([`EndpointConfig::recovery`]): its pids and its rule of which disconnections keep a
    /// session still apply.
    pub fn use_external_recovery(&mut self) {
        self.external_recovery = true;
    }

    /// Whether connection state recovery is on ([`EndpointConfig::recovery`]).
    pub fn recovers(&self) -> bool {
        self.recovery.is_some()
    }

    pub(crate) fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.handle_timeout(now);
        self.engine.handle(now, input);
        self.pump(now);
    }

    pub(crate) fn handle_handshake(
        &mut self,
        now: Instant,
        input: Input<'_>,
        handshake: Handshake,
    ) {
        self.handle_timeout(now);
        self.opening = Some(Box::new(handshake));
        self.engine.handle(now, input);
        self.pump(now);
        self.opening = None;
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
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
        self.queries.expire(now);
        self.pump(now);
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let store = self.recovery.as_ref().and_then(RecoveryStore::poll_timeout);
        [
            self.engine.poll_timeout(),
            self.timers.next(),
            store,
            self.queries.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(crate) fn poll_event(&mut self) -> Option<ServerEvent> {
        if self.events.is_empty() {
            self.pump_with(None);
        }
        self.events.pop_front()
    }

    pub(crate) fn poll_notice(&mut self) -> Option<Notice> {
        if let Some(change) = self.rooms.take_change() {
            return Some(Notice::Room(change));
        }
        self.notices.pop_front()
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.pump_with(None);
        self.engine.poll_transmit()
    }

    // ---- Connecting ----

    /// Whether `request` still waits for its answer.
    pub fn is_pending(&self, request: &ConnectRequest) -> bool {
        self.peers
            .get(request.session)
            .is_some_and(|peer| peer.pending.contains_key(request.namespace.as_str()))
    }

    /// Accepts a pending CONNECT: as the recovery of `recovered` (its id, pid, rooms and
    /// data come back, and its missed events go out before the CONNECT reply), or fresh, with
    /// new ids. Reports [`ServerEvent::Connected`]. The one path every accepted CONNECT takes,
    /// whoever kept its session.
    pub fn connect(
        &mut self,
        request: &ConnectRequest,
        recovered: Option<Recovered>,
    ) -> Result<(), SessionError> {
        let peer = self
            .peers
            .get_mut(request.session)
            .ok_or(SessionError::Closed)?;
        let ns = request.namespace.as_str();
        let auth = peer
            .pending
            .get(ns)
            .cloned()
            .ok_or(SessionError::NotConnected)?;
        let (id, pid, rooms, data, is_recovered) = match recovered {
            Some(Recovered { session, missed }) => {
                let KeptSession {
                    sid,
                    pid,
                    rooms,
                    data,
                } = session;
                let connection = &mut peer.connection;
                connection.accept_recovered(&request.namespace, &sid, Some(&pid), &missed)?;
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
        peer.pending.remove(ns);
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

    pub(crate) fn pending_peer(
        &mut self,
        request: &ConnectRequest,
    ) -> Result<&mut Connection, SessionError> {
        let peer = self
            .peers
            .get_mut(request.session)
            .ok_or(SessionError::Closed)?;
        peer.pending
            .remove(request.namespace.as_str())
            .ok_or(SessionError::NotConnected)?;
        mark(&mut self.dirty, request.session, peer);
        Ok(&mut peer.connection)
    }

    // ---- Sending ----

    /// Sends `packet` (an EVENT) to one socket. With local recovery on, it goes through the
    /// recovery store like a broadcast to the socket's own room, as the reference does, so
    /// it carries an offset. Fails only when the packet does not encode; a socket that has
    /// left is no error, there is just nobody to send to.
    pub fn emit(
        &mut self,
        now: Instant,
        socket: &SocketRef,
        packet: Packet,
    ) -> Result<(), SessionError> {
        self.seen(now);
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
        self.seen(now);
        let peer = self
            .peers
            .get_mut(socket.session)
            .ok_or(SessionError::Closed)?;
        let ack = peer.connection.emit(now, packet, Some(timeout))?;
        mark(&mut self.dirty, socket.session, peer);
        ack.ok_or(SessionError::UnknownAck)
    }

    /// [`emit_with_ack`](Self::emit_with_ack) on the adapter's behalf: the answer (or its
    /// absence: a timeout, the socket leaving) comes back to the adapter as
    /// [`Notice::Ack`] with `token`, never to the application.
    pub fn emit_with_ack_for(
        &mut self,
        now: Instant,
        socket: &SocketRef,
        packet: Packet,
        timeout: Duration,
        token: u64,
    ) -> Result<AckId, SessionError> {
        let id = self.emit_with_ack(now, socket, packet, timeout)?;
        self.owned_acks
            .insert((socket.id.clone(), id), AckOwner::Adapter(token));
        Ok(id)
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

    /// Sends `packet` to this server's sockets of its namespace that `target` selects,
    /// encoded once and shared by every recipient; with local recovery on, an EVENT is
    /// stored with an offset. Fails only when the packet does not encode.
    pub fn broadcast(
        &mut self,
        now: Instant,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Result<(), SessionError> {
        self.seen(now);
        let namespace = packet.namespace().to_owned();
        let encoded = self.tag(now, packet, target)?;
        self.deliver_all(&namespace, &encoded, target);
        Ok(())
    }

    /// [`broadcast`](Self::broadcast) with the recovery offset the adapter's store gave the
    /// packet ([`use_external_recovery`](Self::use_external_recovery)): an EVENT without ack
    /// id that is not volatile carries `offset` as its last argument (when recovery is on).
    pub fn broadcast_with_offset(
        &mut self,
        now: Instant,
        packet: Packet,
        target: &BroadcastTarget,
        offset: &str,
    ) -> Result<(), SessionError> {
        self.seen(now);
        let namespace = packet.namespace().to_owned();
        let packet = match &self.recovery {
            Some(_) => recovery::with_offset_if_recoverable(packet, offset, target)?,
            None => packet,
        };
        let encoded = self.encode(&packet)?;
        self.deliver_all(&namespace, &encoded, target);
        Ok(())
    }

    /// A broadcast with acknowledgements to this server's sockets: each gets `packet` with an
    /// ack id of its own, and their ACKs are collected in a query ([`Answers::Acks`]) that
    /// waits until `timeout`. The adapter says how many other servers will answer
    /// ([`expect_answers`](Self::expect_answers); zero ends it once every client answered).
    pub fn broadcast_with_ack(
        &mut self,
        now: Instant,
        packet: Packet,
        target: &BroadcastTarget,
        timeout: Duration,
    ) -> Result<QueryId, QueryError> {
        self.seen(now);
        let namespace = Namespace::new(packet.namespace())?;
        let query = self
            .queries
            .open(now + timeout, Answers::Acks(Vec::new()))?;
        let mut reached = 0;
        for socket in self.sockets(&namespace, target) {
            if let Ok(id) = self.emit_with_ack(now, &socket, packet.clone(), timeout) {
                reached += 1;
                self.owned_acks
                    .insert((socket.id, id), AckOwner::Query(query));
            }
        }
        self.queries.answer_clients(query, reached);
        Ok(query)
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

    /// Encodes a packet in the server's wire format.
    pub fn encode(&self, packet: &Packet) -> Result<EncodedPacket, EncodeError> {
        packet.encode_as(self.config.connection.parser, Side::Server)
    }

    /// Tags an event with a recovery offset (when recovery is kept here) and encodes it.
    fn tag(
        &mut self,
        now: Instant,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Result<EncodedPacket, SessionError> {
        let Some(store) = self.recovery.as_mut().filter(|_| !self.external_recovery) else {
            return Ok(self.encode(&packet)?);
        };
        self.next_offset += 1;
        let offset = format!("{:x}", self.next_offset);
        let fallback = packet.clone();
        match store.store(now, &offset, packet, target) {
            Ok(encoded) => Ok(encoded),
            Err(_) => Ok(self.encode(&fallback)?),
        }
    }

    // ---- Sockets and rooms ----

    /// This server's sockets of `namespace` that `target` selects (its rooms and exceptions;
    /// the flags do not matter here), sorted by id.
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

    /// The socket `id` of `namespace`, if it is connected here.
    pub fn socket(&self, namespace: &Namespace, id: &str) -> Option<SocketRef> {
        let session = *self.owners.get(id)?;
        let socket = SocketRef {
            session,
            namespace: namespace.clone(),
            id: id.to_owned(),
        };
        self.member(&socket).is_some().then_some(socket)
    }

    /// How many sockets are connected here (every namespace).
    pub fn socket_count(&self) -> usize {
        self.owners.len()
    }

    /// A socket as `fetchSockets` describes it to any server: its rooms, its data, and its
    /// session's handshake with the `auth` of its CONNECT (when the driver did not describe
    /// the request, the handshake's fields are empty, in the reference's shape).
    pub fn describe(&self, socket: &SocketRef) -> RemoteSocket {
        let auth = self
            .auth(socket)
            .and_then(|auth| serde_json::from_str(auth).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        let handshake = match self.handshake(socket.session) {
            Some(handshake) => handshake.to_json(auth),
            None => serde_json::json!({
                "headers": {}, "time": "", "address": "", "xdomain": false, "secure": false,
                "issued": 0, "url": "", "query": {}, "auth": auth
            }),
        };
        RemoteSocket {
            id: socket.id.clone(),
            handshake,
            rooms: self
                .rooms
                .socket_rooms(socket.namespace.as_str(), &socket.id),
            data: self
                .data(socket)
                .cloned()
                .unwrap_or_else(|| serde_json::json!({})),
        }
    }

    /// The CONNECT payload a socket joined with (raw JSON; for a v4 client, its namespace
    /// query as an object), as [`ServerEvent::Connected`] reported it.
    pub fn auth(&self, socket: &SocketRef) -> Option<&str> {
        self.member(socket)?.auth.as_deref()
    }

    /// The HTTP request that opened `session`, as the driver described it (the reference's
    /// `socket.handshake`, less the `auth`).
    pub fn handshake(&self, session: SessionKey) -> Option<&Handshake> {
        self.peers.get(session)?.handshake.as_deref()
    }

    /// `socket.data`, as [`set_data`](Self::set_data) left it (`None`: the reference's `{}`).
    pub fn data(&self, socket: &SocketRef) -> Option<&serde_json::Value> {
        self.member(socket)?.data.as_deref()
    }

    /// Sets `socket.data`. Returns `false` when the socket is gone.
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

    /// `socketsJoin` on this server: the sockets `target` selects join `rooms`.
    pub fn sockets_join(
        &mut self,
        namespace: &Namespace,
        target: &BroadcastTarget,
        rooms: &[String],
    ) {
        for socket in self.sockets(namespace, target) {
            for room in rooms {
                self.join(&socket, room);
            }
        }
    }

    /// `socketsLeave` on this server: the sockets `target` selects leave `rooms`.
    pub fn sockets_leave(
        &mut self,
        namespace: &Namespace,
        target: &BroadcastTarget,
        rooms: &[String],
    ) {
        for socket in self.sockets(namespace, target) {
            for room in rooms {
                self.leave(&socket, room);
            }
        }
    }

    /// `disconnectSockets` on this server: the sockets `target` selects leave their
    /// namespace (with `close`, their whole connections close).
    pub fn disconnect_sockets(
        &mut self,
        namespace: &Namespace,
        target: &BroadcastTarget,
        close: bool,
    ) {
        for socket in self.sockets(namespace, target) {
            if close {
                self.close(socket.session);
            } else {
                let _ = self.disconnect(&socket);
            }
        }
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

    /// Closes every client's connection because the server shuts down
    /// ([`Connection::shutdown`]).
    pub fn shutdown(&mut self) {
        for peer in self.peers.0.iter_mut().flatten() {
            peer.connection.shutdown();
            mark(&mut self.dirty, peer.key, peer);
        }
    }

    /// Whether events wait for the application (after moving what is pending between the
    /// layers).
    pub(crate) fn has_events(&mut self) -> bool {
        if self.events.is_empty() {
            self.pump_with(None);
        }
        !self.events.is_empty()
    }

    // ---- Recovery ----

    /// Keeps a socket's session in this endpoint's store, for a client that reconnects here.
    pub fn keep_session(&mut self, now: Instant, namespace: &Namespace, session: KeptSession) {
        if let Some(store) = &mut self.recovery {
            store.keep(now, namespace.as_str(), session);
        }
    }

    /// Takes the session `request` asks for (its `pid` and `offset`) out of this endpoint's
    /// store, with the events it missed, when the store has both.
    pub fn take_session(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        request: &RecoveryRequest,
    ) -> Option<Recovered> {
        self.recovery
            .as_mut()?
            .take(now, namespace.as_str(), request)
    }

    // ---- Queries ----

    /// Opens a query that has `answers` from this server and waits at most `timeout` for the
    /// others; say how many will answer with [`expect_answers`](Self::expect_answers).
    pub fn open_query(
        &mut self,
        now: Instant,
        answers: Answers,
        timeout: Duration,
    ) -> Result<QueryId, QueryError> {
        self.seen(now);
        self.queries.open(now + timeout, answers)
    }

    /// `others` servers besides this one answer `query` (a `serverCount` query takes
    /// `others + 1` as its answer). Ends it when all have answered.
    pub fn expect_answers(&mut self, query: QueryId, others: usize) {
        self.queries.expect(query, others);
        self.collect_replies();
    }

    /// Adds one server's answer (or one client's acknowledgement) to `query`.
    pub fn answer(&mut self, query: QueryId, answer: Answer) {
        self.queries.answer(query, answer);
        self.collect_replies();
    }

    /// Drops `query` without a reply (its request could not be sent: the caller has the
    /// error instead).
    pub fn cancel_query(&mut self, query: QueryId) {
        self.queries.cancel(query);
    }

    /// Whether `query` still waits for answers.
    pub fn is_query_pending(&self, query: QueryId) -> bool {
        self.queries.is_pending(query)
    }

    /// Reports another server's `serverSideEmit` to the application
    /// ([`ServerEvent::ServerSideEmit`]).
    pub fn server_side_emit_received(
        &mut self,
        namespace: Namespace,
        data: String,
        reply: Option<ReplyTo>,
    ) {
        self.events.push_back(ServerEvent::ServerSideEmit {
            namespace,
            data,
            reply,
        });
    }

    fn collect_replies(&mut self) {
        let events = &mut self.events;
        events.extend(self.queries.take_done().map(ServerEvent::Reply));
    }
}
