//! The cluster logic, written once for every wire: [`ClusterAdapter`] is the endpoint's
//! [`Adapter`] when the server is one node of many. It publishes this server's broadcasts and
//! requests, applies the other servers' messages to the local sockets, answers their
//! requests, relays the acknowledgements of their broadcasts, counts the servers for this
//! server's queries, and, with a wire that has a session store, recovers sessions across
//! nodes.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use socketio_proto::server::{
    Adapter, Answer, Answers, BroadcastTarget, ConnectRequest, Local, Notice, QueryError, QueryId,
    REQUESTS_TIMEOUT, Recovered, RecoveryRequest, ReplyTo, Restore, SessionError, SocketRef,
    reaches, with_offset_if_recoverable,
};
use socketio_proto::{EncodeError, Namespace, Packet};

use crate::wire::{Decoded, Destination, Member, Restoring, Wire};
use crate::{BroadcastOptions, ClusterMessage};

/// Local deliveries of other servers' broadcasts with acks waiting for their acks, at most;
/// beyond, a broadcast still reaches the sockets but without an ack id, and they are not
/// counted in the answer (the reference has no bound).
pub const MAX_REMOTE_ACKS: usize = 65_536;

/// The longest wait for a client's ack of another server's broadcast (the requester's
/// `timeout`, which the reference takes as it comes).
pub const MAX_REMOTE_ACK_TIMEOUT: Duration = Duration::from_secs(600);

/// With a wire that gives offsets: this server's broadcasts waiting for theirs, at most;
/// beyond, they are delivered here at once, without an offset.
pub const MAX_PENDING_APPENDS: usize = 4096;

/// With a wire that keeps sessions: CONNECTs waiting for theirs, at most; beyond, they start
/// fresh.
pub const MAX_PENDING_RESTORES: usize = 1024;

/// Another server's broadcast with acks, delivered to one local socket: where its ack goes.
#[derive(Debug)]
struct Relay {
    member: usize,
    request_id: String,
    requester: String,
}

/// The [`Adapter`] of a server in a cluster, over the wire `W`: it publishes this server's
/// broadcasts and requests, applies the other servers' messages to the local sockets, answers
/// their requests, relays the acknowledgements of their broadcasts, counts the servers for
/// this server's queries, and, with a wire that keeps sessions, recovers them across nodes.
#[derive(Debug)]
pub struct ClusterAdapter<W: Wire> {
    wire: W,
    members: Vec<Member>,
    /// With every namespace served, the uid of the members made on demand.
    every_namespace: Option<String>,
    requests_timeout: Duration,
    /// This server's pending queries, by the member they were sent on.
    queries: BTreeMap<QueryId, usize>,
    relays: HashMap<u64, Relay>,
    /// Broadcasts waiting for their offsets.
    appending: HashMap<u64, (Packet, BroadcastTarget)>,
    /// CONNECTs waiting for their sessions, each with the time it starts fresh.
    restoring: HashMap<u64, (ConnectRequest, Instant)>,
    next_token: u64,
}

impl<W: Wire> ClusterAdapter<W> {
    /// A node over `wire` serving `namespaces`, each with the uid the caller drew for it (the
    /// wire says how: this crate draws no random numbers).
    pub fn new(mut wire: W, namespaces: &[(Namespace, String)]) -> Self {
        let members: Vec<Member> = namespaces
            .iter()
            .enumerate()
            .map(|(index, (namespace, uid))| Member {
                index,
                namespace: namespace.clone(),
                uid: uid.clone(),
            })
            .collect();
        for member in &members {
            wire.add_member(member);
        }
        ClusterAdapter {
            wire,
            members,
            every_namespace: None,
            requests_timeout: REQUESTS_TIMEOUT,
            queries: BTreeMap::new(),
            relays: HashMap::new(),
            appending: HashMap::new(),
            restoring: HashMap::new(),
            next_token: 0,
        }
    }

    /// A node over `wire` serving every namespace, with `uid` in each (for a wire whose
    /// members cost nothing, such as the threads of one process): a namespace's member is made
    /// when it is first used.
    pub fn every_namespace(wire: W, uid: &str) -> Self {
        let mut adapter = Self::new(wire, &[]);
        adapter.every_namespace = Some(uid.to_owned());
        adapter
    }

    /// How long this server's queries wait for the other servers (the reference's
    /// `requestsTimeout`, [`REQUESTS_TIMEOUT`] by default).
    pub fn with_requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// The wire.
    pub fn wire(&self) -> &W {
        &self.wire
    }

    /// The wire, to reconfigure it.
    pub fn wire_mut(&mut self) -> &mut W {
        &mut self.wire
    }

    /// The node's members: its namespaces and their uids.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The next command for the driver half, in order.
    pub fn poll_command(&mut self) -> Option<W::Command> {
        self.wire.poll_command()
    }

    /// What the driver half received: decoded by the wire and applied.
    pub fn handle(&mut self, now: Instant, local: &mut Local, input: W::Input) {
        if let Some(decoded) = self.wire.decode(&self.members, local, input) {
            self.apply(now, local, decoded);
        }
    }

    /// The member of `namespace`; with every namespace served, made when missing.
    fn member_of(&mut self, namespace: &str) -> Option<Member> {
        if let Some(member) = self
            .members
            .iter()
            .find(|m| m.namespace.as_str() == namespace)
        {
            return Some(member.clone());
        }
        let uid = self.every_namespace.clone()?;
        let member = Member {
            index: self.members.len(),
            namespace: Namespace::new(namespace).ok()?,
            uid,
        };
        self.wire.add_member(&member);
        self.members.push(member.clone());
        Some(member)
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    /// The request id of `query` on the wire: the member's uid and the query's number,
    /// unique in the cluster as long as the uids are.
    fn request_id(member: &Member, query: QueryId) -> String {
        format!("{}{}", member.uid, query.get())
    }

    /// The pending query of `member` that `request_id` names, if it is one of this server's.
    fn our_query(&self, local: &Local, member: usize, request_id: &str) -> Option<QueryId> {
        let uid = &self.members.get(member)?.uid;
        let number: u64 = request_id.strip_prefix(uid.as_str())?.parse().ok()?;
        let (&query, _) = self
            .queries
            .iter()
            .find(|(q, m)| q.get() == number && **m == member)?;
        local.is_query_pending(query).then_some(query)
    }

    /// Sends a query's request (none for a count) and asks for the server count.
    fn ask(
        &mut self,
        local: &mut Local,
        member: &Member,
        query: QueryId,
        request: Option<ClusterMessage>,
    ) -> Result<QueryId, QueryError> {
        if let Some(request) = request {
            if let Err(err) = self.wire.send(member, &request, Destination::All) {
                // The caller gets the error, and the query no reply.
                local.cancel_query(query);
                return Err(err);
            }
        }
        if self.queries.len() >= socketio_proto::server::MAX_PENDING_QUERIES {
            self.queries.retain(|q, _| local.is_query_pending(*q));
        }
        self.queries.insert(query, member.index);
        if let Some(count) = self.wire.count_servers(member, query) {
            local.expect_answers(query, count.saturating_sub(1));
        }
        Ok(query)
    }

    /// Applies what the wire decoded.
    fn apply(&mut self, now: Instant, local: &mut Local, decoded: Decoded) {
        match decoded {
            Decoded::Message {
                namespace,
                from,
                message,
                offset,
            } => {
                if let Some(member) = self.member_of(namespace.as_str()) {
                    self.on_message(now, local, member, from, message, offset);
                }
            }
            Decoded::Counted { query, count } => {
                local.expect_answers(query, count.saturating_sub(1));
            }
            Decoded::Appended { token, offset } => {
                if let Some((packet, target)) = self.appending.remove(&token) {
                    // Fails only for a packet that does not encode: it went nowhere then.
                    let _ = local.broadcast_with_offset(now, packet, &target, &offset);
                }
            }
            Decoded::Restored {
                token,
                session,
                missed,
            } => {
                let Some((request, _)) = self.restoring.remove(&token) else {
                    return; // Started fresh already (the store was late).
                };
                let recovered = session.map(|session| {
                    let missed = missed
                        .into_iter()
                        .filter(|(_, packet, opts)| {
                            packet.namespace() == request.namespace.as_str()
                                && reaches(&session.rooms, &BroadcastTarget::from(opts))
                        })
                        .filter_map(|(offset, packet, _)| {
                            // Flags are not consulted (a volatile packet is restored too).
                            let all = BroadcastTarget::all();
                            let packet = with_offset_if_recoverable(packet, &offset, &all).ok()?;
                            local.encode(&packet).ok()
                        })
                        .collect();
                    Recovered { session, missed }
                });
                // Fails only when the client left meanwhile.
                let _ = local.connect(&request, recovered);
            }
            // Wires that count by heartbeats answer `count_servers` themselves; a server
            // that left makes no difference to queries already counted (they end at their
            // deadline, with what arrived).
            Decoded::ServerUp { .. } | Decoded::ServerDown { .. } => {}
        }
    }

    /// Applies another server's message on `member`'s namespace.
    fn on_message(
        &mut self,
        now: Instant,
        local: &mut Local,
        member: Member,
        from: String,
        message: ClusterMessage,
        offset: Option<String>,
    ) {
        let at = member.index;
        let ns = &member.namespace;
        let respond = |wire: &mut W, message: ClusterMessage| {
            // Answers of ours always encode; a failure is one answer fewer, which the
            // requester's timeout covers.
            let _ = wire.send(&member, &message, Destination::Requester(&from));
        };
        match message {
            ClusterMessage::Broadcast {
                packet,
                opts,
                request_id: None,
            } => {
                let target = BroadcastTarget::from(&opts);
                let _ = match offset {
                    Some(offset) => local.broadcast_with_offset(now, packet, &target, &offset),
                    None => local.broadcast(now, packet, &target),
                };
            }
            ClusterMessage::Broadcast {
                packet,
                opts,
                request_id: Some(request_id),
            } => {
                let timeout = Duration::from_millis(opts.flags.timeout.unwrap_or(5000))
                    .min(MAX_REMOTE_ACK_TIMEOUT);
                let mut count = 0;
                for socket in local.sockets(ns, &BroadcastTarget::from(&opts)) {
                    if self.relays.len() >= MAX_REMOTE_ACKS {
                        // Delivered, but not awaited (and not counted): the requester does
                        // not wait for it.
                        let _ = local.emit(now, &socket, packet.clone());
                        continue;
                    }
                    let token = self.token();
                    let sent =
                        local.emit_with_ack_for(now, &socket, packet.clone(), timeout, token);
                    if sent.is_ok() {
                        count += 1;
                        let relay = Relay {
                            member: at,
                            request_id: request_id.clone(),
                            requester: from.clone(),
                        };
                        self.relays.insert(token, relay);
                    }
                }
                let client_count = count;
                respond(
                    &mut self.wire,
                    ClusterMessage::BroadcastClientCount {
                        request_id,
                        client_count,
                    },
                );
            }
            ClusterMessage::SocketsJoin { opts, rooms } => {
                local.sockets_join(ns, &BroadcastTarget::from(&opts), &rooms);
            }
            ClusterMessage::SocketsLeave { opts, rooms } => {
                local.sockets_leave(ns, &BroadcastTarget::from(&opts), &rooms);
            }
            ClusterMessage::DisconnectSockets { opts, close } => {
                local.disconnect_sockets(ns, &BroadcastTarget::from(&opts), close);
            }
            ClusterMessage::FetchSockets { opts, request_id } => {
                let sockets = local.sockets(ns, &BroadcastTarget::from(&opts));
                let sockets = sockets.iter().map(|s| local.describe(s)).collect();
                let answer = ClusterMessage::FetchSocketsResponse {
                    request_id,
                    sockets,
                };
                respond(&mut self.wire, answer);
            }
            ClusterMessage::AllRooms { request_id } => {
                let rooms = local.rooms().all_rooms(ns.as_str());
                let rooms = rooms.into_iter().map(str::to_owned).collect();
                respond(
                    &mut self.wire,
                    ClusterMessage::AllRoomsResponse { request_id, rooms },
                );
            }
            ClusterMessage::ServerSideEmit { request_id, data } => {
                let reply = request_id.map(|request_id| ReplyTo {
                    namespace: ns.clone(),
                    request_id,
                    requester: from.clone(),
                });
                local.server_side_emit_received(ns.clone(), data, reply);
            }
            ClusterMessage::FetchSocketsResponse {
                request_id,
                sockets,
            } => self.answered(local, at, &request_id, Answer::Sockets(sockets)),
            ClusterMessage::AllRoomsResponse { request_id, rooms } => {
                self.answered(local, at, &request_id, Answer::Rooms(rooms))
            }
            ClusterMessage::ServerSideEmitResponse { request_id, data } => {
                self.answered(local, at, &request_id, Answer::ServerSideEmit(data))
            }
            ClusterMessage::BroadcastClientCount {
                request_id,
                client_count,
            } => self.answered(local, at, &request_id, Answer::ClientCount(client_count)),
            ClusterMessage::BroadcastAck { request_id, ack } => {
                self.answered(local, at, &request_id, Answer::Ack(ack))
            }
        }
    }

    fn answered(&mut self, local: &mut Local, member: usize, request_id: &str, answer: Answer) {
        if let Some(query) = self.our_query(local, member, request_id) {
            local.answer(query, answer);
        }
    }

    /// The delivery of a broadcast with offsets: appended to the durable log first and
    /// delivered here once its offset comes back, as the reference does; `None` when the
    /// wire keeps no log (or too many wait), for an ordinary broadcast.
    fn broadcast_durable(
        &mut self,
        now: Instant,
        local: &mut Local,
        member: &Member,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Option<Result<(), SessionError>> {
        if self.wire.recovery().is_none() || self.appending.len() >= MAX_PENDING_APPENDS {
            return None;
        }
        let message = ClusterMessage::Broadcast {
            packet: packet.clone(),
            opts: BroadcastOptions::from(target),
            request_id: None,
        };
        let token = self.token();
        match self.wire.send_durable(member, &message, token) {
            Err(_) => Some(Err(SessionError::Encode)),
            Ok(Some(offset)) => Some(local.broadcast_with_offset(now, packet, target, &offset)),
            Ok(None) => {
                self.appending.insert(token, (packet, target.clone()));
                Some(Ok(()))
            }
        }
    }

    /// `socketsJoin`, `socketsLeave` or `disconnectSockets`: published, and applied here now
    /// unless the wire brings it back.
    fn room_operation(
        &mut self,
        local: &mut Local,
        namespace: &Namespace,
        message: ClusterMessage,
        apply_here: impl FnOnce(&mut Local),
    ) -> Result<(), QueryError> {
        let Some(member) = self.member_of(namespace.as_str()) else {
            apply_here(local);
            return Ok(());
        };
        self.wire.send(&member, &message, Destination::All)?;
        if !self.wire.loops_back() {
            apply_here(local);
        }
        Ok(())
    }
}

impl<W: Wire> Adapter for ClusterAdapter<W> {
    fn attach(&mut self, local: &mut Local) {
        if self.wire.recovery().is_some() && local.recovers() {
            local.use_external_recovery();
        }
        if self.wire.follows_rooms() {
            local.track_room_changes();
        }
    }

    fn broadcast(
        &mut self,
        now: Instant,
        local: &mut Local,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Result<(), SessionError> {
        let Some(member) = self.member_of(packet.namespace()) else {
            return local.broadcast(now, packet, target);
        };
        if local.recovers() {
            if let Some(done) = self.broadcast_durable(now, local, &member, packet.clone(), target)
            {
                return done;
            }
        }
        // Here first: a packet that does not encode goes nowhere.
        local.broadcast(now, packet.clone(), target)?;
        let message = ClusterMessage::Broadcast {
            packet,
            opts: BroadcastOptions::from(target),
            request_id: None,
        };
        // It encoded here, so it encodes for the wire.
        let _ = self.wire.send(&member, &message, Destination::All);
        Ok(())
    }

    fn emit(
        &mut self,
        now: Instant,
        local: &mut Local,
        socket: &SocketRef,
        packet: Packet,
    ) -> Result<(), SessionError> {
        // With recovery through the wire's log, a socket's events take the log too, as the
        // reference's `socket.emit` does, so that they carry offsets another node knows.
        let durable = local.recovers() && self.wire.recovery().is_some();
        match self.member_of(socket.namespace.as_str()) {
            Some(member) if durable && packet.ack_id().is_none() => {
                let target = BroadcastTarget::to([socket.id.as_str()]);
                match self.broadcast_durable(now, local, &member, packet.clone(), &target) {
                    Some(done) => done,
                    None => local.emit(now, socket, packet),
                }
            }
            _ => local.emit(now, socket, packet),
        }
    }

    fn broadcast_with_ack(
        &mut self,
        now: Instant,
        local: &mut Local,
        packet: Packet,
        target: &BroadcastTarget,
        timeout: Duration,
    ) -> Result<QueryId, QueryError> {
        let query = local.broadcast_with_ack(now, packet.clone(), target, timeout)?;
        let Some(member) = self.member_of(packet.namespace()) else {
            local.expect_answers(query, 0);
            return Ok(query);
        };
        let mut opts = BroadcastOptions::from(target);
        opts.flags.timeout = Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        let request = ClusterMessage::Broadcast {
            packet,
            opts,
            request_id: Some(Self::request_id(&member, query)),
        };
        self.ask(local, &member, query, Some(request))
    }

    fn sockets_join(
        &mut self,
        _now: Instant,
        local: &mut Local,
        namespace: &Namespace,
        target: &BroadcastTarget,
        rooms: &[String],
    ) -> Result<(), QueryError> {
        let message = ClusterMessage::SocketsJoin {
            opts: BroadcastOptions::from(target),
            rooms: rooms.to_vec(),
        };
        self.room_operation(local, namespace, message, |local| {
            local.sockets_join(namespace, target, rooms)
        })
    }

    fn sockets_leave(
        &mut self,
        _now: Instant,
        local: &mut Local,
        namespace: &Namespace,
        target: &BroadcastTarget,
        rooms: &[String],
    ) -> Result<(), QueryError> {
        let message = ClusterMessage::SocketsLeave {
            opts: BroadcastOptions::from(target),
            rooms: rooms.to_vec(),
        };
        self.room_operation(local, namespace, message, |local| {
            local.sockets_leave(namespace, target, rooms)
        })
    }

    fn disconnect_sockets(
        &mut self,
        _now: Instant,
        local: &mut Local,
        namespace: &Namespace,
        target: &BroadcastTarget,
        close: bool,
    ) -> Result<(), QueryError> {
        let message = ClusterMessage::DisconnectSockets {
            opts: BroadcastOptions::from(target),
            close,
        };
        self.room_operation(local, namespace, message, |local| {
            local.disconnect_sockets(namespace, target, close)
        })
    }

    fn server_side_emit(
        &mut self,
        _now: Instant,
        _local: &mut Local,
        namespace: &Namespace,
        data: &str,
    ) -> Result<(), QueryError> {
        let member = self
            .member_of(namespace.as_str())
            .ok_or(QueryError::UnknownNamespace)?;
        let message = ClusterMessage::ServerSideEmit {
            request_id: None,
            data: data.to_owned(),
        };
        self.wire.send(&member, &message, Destination::All)
    }

    fn server_side_emit_with_ack(
        &mut self,
        now: Instant,
        local: &mut Local,
        namespace: &Namespace,
        data: &str,
    ) -> Result<QueryId, QueryError> {
        let member = self
            .member_of(namespace.as_str())
            .ok_or(QueryError::UnknownNamespace)?;
        // Every wire refuses data that is not JSON text: refused before the query opens, so
        // that a request that is not sent does not also end as a reply.
        serde_json::from_str::<&serde_json::value::RawValue>(data)
            .map_err(|err| QueryError::Encode(EncodeError::Serialize(err)))?;
        let answers = Answers::ServerSideEmit(Vec::new());
        let query = local.open_query(now, answers, self.requests_timeout)?;
        let request = ClusterMessage::ServerSideEmit {
            request_id: Some(Self::request_id(&member, query)),
            data: data.to_owned(),
        };
        self.ask(local, &member, query, Some(request))
    }

    fn answer_server_side_emit(
        &mut self,
        _now: Instant,
        _local: &mut Local,
        reply: &ReplyTo,
        answer: &str,
    ) {
        let Some(member) = self.member_of(reply.namespace.as_str()) else {
            return;
        };
        let message = ClusterMessage::ServerSideEmitResponse {
            request_id: reply.request_id.clone(),
            data: answer.to_owned(),
        };
        let _ = self
            .wire
            .send(&member, &message, Destination::Requester(&reply.requester));
    }

    fn fetch_sockets(
        &mut self,
        now: Instant,
        local: &mut Local,
        namespace: &Namespace,
        target: &BroadcastTarget,
    ) -> Result<QueryId, QueryError> {
        let member = self
            .member_of(namespace.as_str())
            .ok_or(QueryError::UnknownNamespace)?;
        let sockets = local.sockets(namespace, target);
        let mine = sockets.iter().map(|s| local.describe(s)).collect();
        let query = local.open_query(now, Answers::Sockets(mine), self.requests_timeout)?;
        let request = ClusterMessage::FetchSockets {
            opts: BroadcastOptions::from(target),
            request_id: Self::request_id(&member, query),
        };
        self.ask(local, &member, query, Some(request))
    }

    fn all_rooms(
        &mut self,
        now: Instant,
        local: &mut Local,
        namespace: &Namespace,
    ) -> Result<QueryId, QueryError> {
        if !self.wire.has_all_rooms() {
            return Err(QueryError::Unsupported);
        }
        let member = self
            .member_of(namespace.as_str())
            .ok_or(QueryError::UnknownNamespace)?;
        let rooms = local.rooms().all_rooms(namespace.as_str());
        let mine = rooms.into_iter().map(str::to_owned).collect();
        let query = local.open_query(now, Answers::Rooms(mine), self.requests_timeout)?;
        let request = ClusterMessage::AllRooms {
            request_id: Self::request_id(&member, query),
        };
        self.ask(local, &member, query, Some(request))
    }

    fn server_count(
        &mut self,
        now: Instant,
        local: &mut Local,
        namespace: &Namespace,
    ) -> Result<QueryId, QueryError> {
        let member = self
            .member_of(namespace.as_str())
            .ok_or(QueryError::UnknownNamespace)?;
        let query = local.open_query(now, Answers::ServerCount(0), self.requests_timeout)?;
        self.ask(local, &member, query, None)
    }

    fn notice(&mut self, now: Instant, local: &mut Local, notice: Notice) {
        match notice {
            Notice::Room(change) => {
                if let Some(member) = self.member_of(&change.namespace) {
                    self.wire.room_changed(&member, &change);
                }
            }
            Notice::SessionKept { namespace, session } => {
                match self.member_of(namespace.as_str()) {
                    Some(member) if self.wire.recovery().is_some() => {
                        self.wire.keep_session(&member, &session)
                    }
                    _ => local.keep_session(now, &namespace, session),
                }
            }
            Notice::Ack { token, ack, .. } => {
                let (Some(relay), Some(ack)) = (self.relays.remove(&token), ack) else {
                    return;
                };
                let Some(member) = self.members.get(relay.member).cloned() else {
                    return;
                };
                let message = ClusterMessage::BroadcastAck {
                    request_id: relay.request_id,
                    ack,
                };
                let to = Destination::Requester(&relay.requester);
                let _ = self.wire.send(&member, &message, to);
            }
        }
    }

    fn restore_session(
        &mut self,
        now: Instant,
        local: &mut Local,
        request: &ConnectRequest,
        wanted: &RecoveryRequest,
    ) -> Restore {
        if self.wire.recovery().is_none() {
            return Restore::Now(local.take_session(now, &request.namespace, wanted));
        }
        let Some(member) = self.member_of(request.namespace.as_str()) else {
            return Restore::Now(None);
        };
        if self.restoring.len() >= MAX_PENDING_RESTORES {
            return Restore::Now(None);
        }
        let token = self.token();
        match self.wire.restore_session(&member, wanted, token) {
            Restoring::Fresh => Restore::Now(None),
            Restoring::Found(recovered) => Restore::Now(Some(recovered)),
            Restoring::Later => {
                let deadline = now + self.requests_timeout;
                self.restoring.insert(token, (request.clone(), deadline));
                Restore::Later
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant, local: &mut Local) {
        if !self.restoring.is_empty() {
            let due: Vec<u64> = self
                .restoring
                .iter()
                .filter(|(_, (_, deadline))| *deadline <= now)
                .map(|(token, _)| *token)
                .collect();
            for token in due {
                if let Some((request, _)) = self.restoring.remove(&token) {
                    // The store did not answer in time: a fresh start. Fails only when the
                    // client left meanwhile.
                    let _ = local.connect(&request, None);
                }
            }
        }
        for decoded in self.wire.handle_timeout(now, &self.members) {
            self.apply(now, local, decoded);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let restores = self.restoring.values().map(|(_, deadline)| *deadline);
        restores.chain(self.wire.poll_timeout()).min()
    }
}
