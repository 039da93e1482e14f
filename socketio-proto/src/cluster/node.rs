//! A cluster node, sans-IO: what one server does in a Redis cluster, given its [`Endpoint`].
//! The driver feeds it every message from the node's subscriptions ([`ClusterNode::handle`]),
//! tells it about local broadcasts ([`ClusterNode::broadcast`]), client acks and room
//! changes ([`ClusterNode::sync_rooms`]), carries out what [`ClusterNode::poll_command`]
//! returns, in order, and fires its deadlines.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::BroadcastOptions;
use super::classic::{self, Broadcast, BroadcastWithAck, Request, Response};
use super::envelope::{self, Envelope, Message};
use super::sharded::{self, SubscriptionMode};
use super::streams::StreamsOptions;
use crate::session::SessionError;
use crate::session::endpoint::{ConnectRequest, Endpoint, KeptSession, SocketRef};
use crate::session::recovery::RecoveryRequest;
use crate::session::rooms::{Adapter, BroadcastTarget};
use crate::{AckId, EncodeError, Limits, Namespace, Packet};

/// How long a request waits for the other nodes by default: the reference's
/// `requestsTimeout`, 5 s.
pub const REQUESTS_TIMEOUT: Duration = Duration::from_secs(5);

/// Requests of one node waiting for answers, at most; more are refused
/// ([`RequestError::TooManyPending`]).
pub const MAX_PENDING_REQUESTS: usize = 256;

/// Answers one request takes before the server count is known, at most (then exactly as
/// many as there are other servers); extra answers are dropped.
const MAX_ANSWERS: usize = 1024;

/// Local deliveries of other nodes' broadcasts with acks waiting for their acks, at most;
/// beyond, a broadcast still reaches the sockets but without an ack id, and they are not
/// counted in the answer (the reference has no bound).
pub const MAX_REMOTE_ACKS: usize = 65_536;

/// Streams with recovery: this server's broadcasts waiting for their stream entry ids, at
/// most; beyond, they are delivered here at once, without an offset.
const MAX_PENDING_LOCAL: usize = 4096;

/// Streams with recovery: CONNECTs waiting for their sessions from Redis, at most; beyond,
/// they start fresh.
const MAX_PENDING_RESTORES: usize = 1024;

/// The longest wait for a client's ack of another node's broadcast (the requester's
/// `timeout`, which the reference takes as it comes).
pub const MAX_REMOTE_ACK_TIMEOUT: Duration = Duration::from_secs(600);

/// A socket as `fetchSockets` returns it: `{id, handshake, rooms, data}`, the reference's
/// descriptor (ADAPTERS.md §1.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: String,
    /// The handshake as its server describes it (headers, time, address, url, query, auth…):
    /// for this crate's sockets, [`Handshake::to_json`](crate::session::handshake::Handshake::to_json).
    #[serde(default)]
    pub handshake: serde_json::Value,
    /// Its rooms, its own id included.
    #[serde(default)]
    pub rooms: Vec<String>,
    /// `socket.data` (the reference's default is `{}`).
    #[serde(default)]
    pub data: serde_json::Value,
}

impl RemoteSocket {
    /// A local socket's descriptor: its rooms, its data, and its session's handshake with the
    /// `auth` of its CONNECT (when the driver did not describe the request, the handshake's
    /// fields are empty, in the reference's shape).
    fn local(endpoint: &Endpoint, socket: &SocketRef) -> RemoteSocket {
        let rooms = endpoint
            .rooms()
            .rooms_of(socket.namespace.as_str(), &socket.id);
        let auth = endpoint
            .auth(socket)
            .and_then(|auth| serde_json::from_str(auth).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        let handshake = match endpoint.handshake(socket.session) {
            Some(handshake) => handshake.to_json(auth),
            None => serde_json::json!({
                "headers": {}, "time": "", "address": "", "xdomain": false, "secure": false,
                "issued": 0, "url": "", "query": {}, "auth": auth
            }),
        };
        RemoteSocket {
            id: socket.id.clone(),
            handshake,
            rooms: rooms.into_iter().map(str::to_owned).collect(),
            data: endpoint
                .data(socket)
                .cloned()
                .unwrap_or_else(|| serde_json::json!({})),
        }
    }
}

/// One of this node's requests that wait for answers, as [`ClusterNode`] hands them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// What a node asks of Redis, in order. The commands are named for the classic adapter; a
/// sharded node's are their sharded forms (`SPUBLISH`, `SSUBSCRIBE`, `SUNSUBSCRIBE`,
/// `PUBSUB SHARDNUMSUB`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `PUBLISH channel message`.
    Publish {
        /// The channel.
        channel: String,
        /// The bytes.
        message: Vec<u8>,
    },
    /// `PUBSUB NUMSUB channel` (the servers of the namespace, this one included): hand the
    /// count to [`ClusterNode::servers_counted`].
    CountServers {
        /// The request that waits for the count.
        request: RequestId,
        /// The namespace's request channel.
        channel: String,
    },
    /// `SUBSCRIBE channel` on the subscriber connection: a room appeared here (sharded,
    /// dynamic modes).
    Subscribe {
        /// The room's channel.
        channel: String,
    },
    /// `UNSUBSCRIBE channel`: the room emptied.
    Unsubscribe {
        /// The room's channel.
        channel: String,
    },
    /// `XADD stream MAXLEN ~ max_len * field value …` (the streams adapter's durable
    /// messages).
    Append {
        /// The stream.
        stream: String,
        /// The approximate length to trim the stream to.
        max_len: u64,
        /// The entry's fields, in order: `uid`, `nsp`, `type`, `data`.
        fields: Vec<(&'static str, Vec<u8>)>,
        /// Set when this server waits for the entry's id (a broadcast delivered here only
        /// then, carrying it as its recovery offset): hand it to [`ClusterNode::appended`].
        token: Option<u64>,
    },
    /// `SET key value PX ttl`: a disconnected socket's session, for recovery on any node.
    KeepSession {
        /// `‹sessionKeyPrefix›‹pid›`.
        key: String,
        /// The session.
        value: Vec<u8>,
        /// How long Redis keeps it.
        ttl: Duration,
    },
    /// A recovery: `MULTI GET key DEL key EXEC` and `XRANGE stream offset offset`; when both
    /// found something, the entries after `offset` (`XRANGE stream ‹next id› +`). Hand the
    /// session (`None` when either was missing) and those entries to
    /// [`ClusterNode::restored`].
    Restore {
        /// The recovery.
        token: u64,
        /// The session's key.
        key: String,
        /// The stream.
        stream: String,
        /// The client's offset, a stream entry id.
        offset: String,
    },
}

/// Which adapter the cluster runs; every node of a cluster runs the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `createAdapter` of `@socket.io/redis-adapter` 8.3 ([`classic`](super::classic)).
    Classic,
    /// `createShardedAdapter` ([`sharded`](super::sharded)), with its subscription mode.
    Sharded(SubscriptionMode),
    /// `@socket.io/redis-streams-adapter` 0.3 ([`streams`](super::streams)).
    Streams,
}

/// What a request collected: local answers first, then each other node's.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Answers {
    /// `fetchSockets`: the matching sockets of every node.
    Sockets(Vec<RemoteSocket>),
    /// `allRooms`: the rooms of every node, socket-id rooms included.
    Rooms(BTreeSet<String>),
    /// `serverSideEmitWithAck`: each other node's answer (its first ack argument), JSON text.
    ServerSideEmit(Vec<String>),
    /// `serverCount`: the servers of the namespace, this one included (0 when Redis did not
    /// answer in time).
    ServerCount(usize),
    /// A broadcast with acknowledgements: each client's acknowledgement, an ACK whose first
    /// argument is its answer (only the first argument crosses nodes, as in the reference).
    Acks(Vec<Packet>),
}

/// The end of a request: what it collected and whether every node answered in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The request.
    pub request: RequestId,
    /// What it collected.
    pub answers: Answers,
    /// The deadline passed before every node answered: `answers` is partial. (The reference
    /// rejects `fetchSockets` and `allRooms` then, and hands `serverSideEmitWithAck` its
    /// partial answers with an error; the caller chooses here.)
    pub timed_out: bool,
}

/// Why a node cannot send a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum RequestError {
    /// The namespace is not one of the node's (or there is no cluster).
    UnknownNamespace,
    /// The adapter has no such request (`allRooms` in the sharded adapter).
    Unsupported,
    /// [`MAX_PENDING_REQUESTS`] requests already wait for answers.
    TooManyPending,
    /// The request does not encode (`data` is not JSON text).
    Encode(EncodeError),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownNamespace => f.write_str("the namespace is not in the cluster"),
            Self::Unsupported => f.write_str("the cluster's adapter has no such request"),
            Self::TooManyPending => write!(
                f,
                "{MAX_PENDING_REQUESTS} cluster requests already wait for answers"
            ),
            Self::Encode(err) => write!(f, "the request does not encode: {err}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// A request waiting for answers.
#[derive(Debug)]
struct Pending {
    member: usize,
    deadline: Instant,
    /// How many nodes answer, once Redis counted the servers (a broadcast with acks counts
    /// this one too).
    expected: Option<usize>,
    received: usize,
    /// A broadcast with acks: the clients that received it, on the nodes that answered.
    clients: u64,
    answers: Answers,
}

/// One namespace's identity in the cluster.
#[derive(Debug)]
struct Member {
    namespace: Namespace,
    uid: String,
    channels: Channels,
}

/// A member's channels, by mode.
#[derive(Debug)]
enum Channels {
    Classic(classic::Channels),
    Sharded(sharded::Channels),
}

/// Where an answer goes and how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    member: usize,
    channel: String,
}

/// A `serverSideEmit` from another node, for the application. Answer it with
/// [`ClusterNode::answer`] when [`request_id`](Self::request_id) is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSideEmit {
    /// The namespace.
    pub namespace: Namespace,
    /// `[event, ...args]`, JSON text.
    pub data: String,
    /// Set when the sender waits for one answer from this node.
    pub request_id: Option<String>,
    route: Route,
}

/// What a node answers, before its mode writes it.
enum Answer {
    Rooms(Vec<String>),
    Sockets(Vec<RemoteSocket>),
    ServerSideEmit(String),
    ClientCount(u64),
}

/// What another node asked, whatever the mode.
enum Incoming {
    /// With the stream entry id that carried it (the streams adapter), its recovery offset.
    Broadcast(Packet, BroadcastOptions, Option<String>),
    BroadcastWithAck(String, Packet, BroadcastOptions),
    Join(BroadcastOptions, Vec<String>),
    Leave(BroadcastOptions, Vec<String>),
    Disconnect(BroadcastOptions, bool),
    Fetch(String, BroadcastOptions),
    AllRooms(String),
    ServerSideEmit(Option<String>, String),
    /// An answer to one of this node's requests.
    Answered(String, Part),
}

/// One node's answer to one of this node's requests (or, for a broadcast with acks, one
/// client's acknowledgement).
enum Part {
    Rooms(Vec<String>),
    Sockets(Vec<RemoteSocket>),
    ServerSideEmit(String),
    ClientCount(u64),
    Ack(Packet),
}

/// What one server does in a cluster: which channels to subscribe to, what to publish for
/// its broadcasts and requests, and how to apply other nodes' messages to its endpoint.
///
/// It answers every request the reference answers (`allRooms` in the classic adapter,
/// `fetchSockets`, broadcasts with acks, `serverSideEmit` through the application) so Node.js
/// peers never wait for it, and it applies `socketsJoin`, `socketsLeave` and
/// `disconnectSockets`.
///
/// Its own requests that wait for answers ([`fetch_sockets`](Self::fetch_sockets),
/// [`all_rooms`](Self::all_rooms),
/// [`server_side_emit_with_ack`](Self::server_side_emit_with_ack),
/// [`server_count`](Self::server_count)) publish the request, then ask Redis how many
/// servers listen ([`Command::CountServers`]), and end with a [`Reply`]
/// ([`poll_reply`](Self::poll_reply)) once every other server answered or at the deadline
/// ([`poll_timeout`](Self::poll_timeout), [`REQUESTS_TIMEOUT`] by default).
#[derive(Debug)]
pub struct ClusterNode {
    mode: Mode,
    streams: StreamsOptions,
    members: Vec<Member>,
    limits: Limits,
    commands: VecDeque<Command>,
    requests_timeout: Duration,
    next_request: u64,
    pending: BTreeMap<RequestId, Pending>,
    replies: VecDeque<Reply>,
    /// Local deliveries of other nodes' broadcasts with acks: (socket id, ack id) ⇒ the
    /// request id and where the acks go. Each entry leaves on its ack, its timeout or its
    /// socket's disconnection.
    pending_acks: HashMap<(String, AckId), (String, Route)>,
    /// Local deliveries of this node's broadcasts with acks: (socket id, ack id) ⇒ the
    /// request. Each entry leaves on its ack, its timeout or its socket's disconnection.
    own_acks: HashMap<(String, AckId), RequestId>,
    /// Streams with recovery: this server's broadcasts waiting for their entry ids.
    pending_local: HashMap<u64, (Packet, BroadcastTarget)>,
    /// Streams with recovery: CONNECTs waiting for their sessions from Redis.
    /// Each with the time it starts fresh if Redis has not answered.
    pending_restores: HashMap<u64, (ConnectRequest, Instant)>,
    next_token: u64,
}

impl ClusterNode {
    /// A node of a classic cluster whose channel prefix is `key` (`socket.io` by default),
    /// serving `namespaces`, each with the uid the caller drew for it (6 random characters of
    /// `[A-Za-z0-9_-]`: this crate draws no random numbers).
    pub fn classic(key: &str, namespaces: &[(Namespace, String)]) -> ClusterNode {
        Self::new(Mode::Classic, namespaces, |nsp, uid| {
            Channels::Classic(classic::Channels::new(key, nsp, uid))
        })
    }

    /// A node of a sharded cluster whose channel prefix is `prefix` (`socket.io` by default),
    /// serving `namespaces`, each with the uid the caller drew for it (16 random lowercase
    /// hexadecimal characters). In the dynamic modes, call [`attach`](Self::attach) before
    /// the first socket connects.
    pub fn sharded(
        prefix: &str,
        namespaces: &[(Namespace, String)],
        subscription: SubscriptionMode,
    ) -> ClusterNode {
        Self::new(Mode::Sharded(subscription), namespaces, |nsp, uid| {
            Channels::Sharded(sharded::Channels::new(prefix, nsp, uid))
        })
    }

    /// A node of a Redis-streams cluster whose channel prefix is `prefix` (`socket.io` by
    /// default), serving `namespaces`, each with the uid the caller drew for it (16 random
    /// lowercase hexadecimal characters); its durable messages go to the streams `options`
    /// names.
    pub fn streams(
        prefix: &str,
        namespaces: &[(Namespace, String)],
        options: StreamsOptions,
    ) -> ClusterNode {
        let mut node = Self::new(Mode::Streams, namespaces, |nsp, uid| {
            Channels::Sharded(sharded::Channels::new(prefix, nsp, uid))
        });
        node.streams = options;
        node
    }

    fn new(
        mode: Mode,
        namespaces: &[(Namespace, String)],
        channels: impl Fn(&str, &str) -> Channels,
    ) -> ClusterNode {
        let members = namespaces
            .iter()
            .map(|(namespace, uid)| Member {
                namespace: namespace.clone(),
                uid: uid.clone(),
                channels: channels(namespace.as_str(), uid),
            })
            .collect();
        ClusterNode {
            mode,
            streams: StreamsOptions::default(),
            members,
            limits: Limits::default(),
            commands: VecDeque::new(),
            requests_timeout: REQUESTS_TIMEOUT,
            next_request: 0,
            pending: BTreeMap::new(),
            replies: VecDeque::new(),
            pending_acks: HashMap::new(),
            own_acks: HashMap::new(),
            pending_local: HashMap::new(),
            pending_restores: HashMap::new(),
            next_token: 0,
        }
    }

    /// How long this node's requests wait for the other nodes (the reference's
    /// `requestsTimeout`, [`REQUESTS_TIMEOUT`] by default).
    pub fn with_requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// The adapter.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The patterns to `PSUBSCRIBE` and the channels to `SUBSCRIBE` (sharded: `SSUBSCRIBE`;
    /// sharded and streams have no patterns), on one connection, at start.
    pub fn subscriptions(&self) -> (Vec<String>, Vec<String>) {
        let mut patterns = Vec::new();
        let mut channels = Vec::new();
        for member in &self.members {
            match &member.channels {
                Channels::Classic(c) => {
                    patterns.push(c.pattern());
                    channels.extend(c.subscriptions().map(str::to_owned));
                }
                Channels::Sharded(c) => channels.extend(c.subscriptions().map(str::to_owned)),
            }
        }
        (patterns, channels)
    }

    /// Plugs the node into `endpoint`: in the sharded dynamic modes, the endpoint records
    /// its rooms' changes from now on, and the node subscribes to the rooms it already has.
    pub fn attach(&mut self, endpoint: &mut Endpoint) {
        if self.recovers() {
            endpoint.use_external_recovery();
        }
        let Mode::Sharded(subscription) = self.mode else {
            return;
        };
        if subscription == SubscriptionMode::Static {
            return;
        }
        endpoint.track_room_changes();
        for member in &self.members {
            let Channels::Sharded(channels) = &member.channels else {
                continue;
            };
            let ns = member.namespace.as_str();
            for room in endpoint.rooms().all_rooms(ns) {
                let socket_room = endpoint.rooms().sockets_in(ns, room) == [room];
                if subscription.subscribes(socket_room) {
                    let channel = channels.room(room);
                    self.commands.push_back(Command::Subscribe { channel });
                }
            }
        }
    }

    /// Follows the endpoint's rooms (sharded, dynamic modes): subscribes to the channel of
    /// each room that appeared and unsubscribes from each that emptied. Call it after every
    /// change of rooms (the driver: after each input).
    pub fn sync_rooms(&mut self, endpoint: &mut Endpoint) {
        let Mode::Sharded(subscription) = self.mode else {
            return;
        };
        for change in endpoint.take_room_changes() {
            if !subscription.subscribes(change.socket_room) {
                continue;
            }
            let Some(Channels::Sharded(channels)) = self
                .members
                .iter()
                .find(|m| m.namespace.as_str() == change.namespace)
                .map(|m| &m.channels)
            else {
                continue;
            };
            let channel = channels.room(&change.room);
            self.commands.push_back(if change.created {
                Command::Subscribe { channel }
            } else {
                Command::Unsubscribe { channel }
            });
        }
    }

    /// The next thing to ask Redis, in order.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The next request that ended.
    pub fn poll_reply(&mut self) -> Option<Reply> {
        self.replies.pop_front()
    }

    /// The earliest deadline of a pending request.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let restores = self
            .pending_restores
            .values()
            .map(|(_, deadline)| *deadline);
        self.pending
            .values()
            .map(|p| p.deadline)
            .chain(restores)
            .min()
    }

    /// Ends the requests whose deadline passed, with what they collected, and accepts fresh
    /// the CONNECTs whose recovery Redis did not answer in time.
    pub fn handle_timeout(&mut self, now: Instant, endpoint: &mut Endpoint) {
        let due: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for request in due {
            self.finish(request, true);
        }
        if self.pending_restores.is_empty() {
            return;
        }
        let due: Vec<u64> = self
            .pending_restores
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(token, _)| *token)
            .collect();
        for token in due {
            if let Some((request, _)) = self.pending_restores.remove(&token) {
                // Fails only when the client left meanwhile.
                let _ = endpoint.accept(now, &request);
            }
        }
    }

    fn member_of(&self, namespace: &str) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.namespace.as_str() == namespace)
    }

    fn send(&mut self, channel: String, message: Vec<u8>) {
        self.commands
            .push_back(Command::Publish { channel, message });
    }

    /// Publishes an envelope from member `at` on `channel`, as the mode sends it: sharded,
    /// JSON or msgpack with `SPUBLISH`; streams, a durable message as a stream entry and the
    /// others in msgpack. Only a payload too deep to encode fails (the local delivery refused
    /// it too).
    fn send_envelope(&mut self, at: usize, channel: String, message: Message) {
        let member = &self.members[at];
        let envelope = Envelope::new(&member.uid, member.namespace.as_str(), message);
        let _ = self.publish_envelope(channel, &envelope);
    }

    fn send_outgoing(&mut self, channel: String, message: Outgoing) -> Result<(), EncodeError> {
        match message {
            Outgoing::Bytes(bytes) => {
                self.send(channel, bytes);
                Ok(())
            }
            Outgoing::Envelope(envelope) => self.publish_envelope(channel, &envelope),
        }
    }

    fn publish_envelope(
        &mut self,
        channel: String,
        envelope: &Envelope,
    ) -> Result<(), EncodeError> {
        if self.mode != Mode::Streams {
            let bytes = envelope.encode()?;
            self.send(channel, bytes);
            return Ok(());
        }
        let durable = match &envelope.message {
            Message::Broadcast { request_id, .. } => request_id.is_none(),
            Message::SocketsJoin { .. }
            | Message::SocketsLeave { .. }
            | Message::DisconnectSockets { .. } => true,
            _ => false,
        };
        if durable {
            let fields = vec![
                ("uid", envelope.uid.clone().into_bytes()),
                ("nsp", envelope.nsp.clone().into_bytes()),
                ("type", envelope.kind().to_string().into_bytes()),
                ("data", envelope.entry_data()?),
            ];
            self.commands.push_back(Command::Append {
                stream: self.streams.stream_for(&envelope.nsp),
                max_len: self.streams.max_len,
                fields,
                token: None,
            });
        } else {
            let mut bytes = Vec::new();
            envelope.write_msgpack(&mut bytes)?;
            self.send(channel, bytes);
        }
        Ok(())
    }

    /// Publishes a broadcast this server just delivered locally.
    pub fn broadcast(&mut self, packet: &Packet, target: &BroadcastTarget) {
        let Some(at) = self.member_of(packet.namespace()) else {
            return;
        };
        let opts = BroadcastOptions::from(target);
        match (&self.members[at].channels, self.mode) {
            (Channels::Classic(channels), _) => {
                let mut message = Vec::new();
                let uid = &self.members[at].uid;
                if classic::broadcast(&mut message, uid, packet, &opts).is_ok() {
                    let channel = channels.broadcast_channel(&opts);
                    self.send(channel, message);
                }
            }
            (Channels::Sharded(channels), mode) => {
                let channel = match mode {
                    Mode::Sharded(subscription) => channels.broadcast_channel(&opts, subscription),
                    // A stream entry.
                    _ => channels.main().to_owned(),
                };
                let message = Message::Broadcast {
                    packet: packet.clone(),
                    opts,
                    request_id: None,
                };
                self.send_envelope(at, channel, message);
            }
        }
    }

    /// Whether connection state recovery goes through Redis (the streams adapter with
    /// [`StreamsOptions::recovery`]).
    pub fn recovers(&self) -> bool {
        self.mode == Mode::Streams && self.streams.recovery.is_some()
    }

    /// A broadcast of this server, here and on every node: delivered here at once and
    /// published, or, when recovery goes through Redis, appended to the stream first and
    /// delivered here once its entry id (the packet's offset) comes back
    /// ([`appended`](Self::appended)), as the reference does. Fails only when the packet does
    /// not encode here.
    pub fn broadcast_everywhere(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Result<(), SessionError> {
        let Some(at) = self
            .member_of(packet.namespace())
            .filter(|_| self.recovers() && self.pending_local.len() < MAX_PENDING_LOCAL)
        else {
            // Local first: a packet that does not encode goes nowhere.
            endpoint.broadcast(now, packet.clone(), target)?;
            self.broadcast(&packet, target);
            return Ok(());
        };
        let member = &self.members[at];
        let message = Message::Broadcast {
            packet: packet.clone(),
            opts: BroadcastOptions::from(target),
            request_id: None,
        };
        let envelope = Envelope::new(&member.uid, member.namespace.as_str(), message);
        let fields = vec![
            ("uid", envelope.uid.clone().into_bytes()),
            ("nsp", envelope.nsp.clone().into_bytes()),
            ("type", b"3".to_vec()),
            ("data", envelope.entry_data()?),
        ];
        let token = self.next_token;
        self.next_token += 1;
        self.pending_local.insert(token, (packet, target.clone()));
        self.commands.push_back(Command::Append {
            stream: self.streams.stream_for(&envelope.nsp),
            max_len: self.streams.max_len,
            fields,
            token: Some(token),
        });
        Ok(())
    }

    /// Redis gave this server's broadcast its entry id: it is delivered here now, the id as
    /// its offset.
    pub fn appended(&mut self, now: Instant, endpoint: &mut Endpoint, token: u64, id: &str) {
        if let Some((packet, target)) = self.pending_local.remove(&token) {
            let _ = endpoint.broadcast_with_offset(now, packet, &target, id);
        }
    }

    /// A socket left with its session kept
    /// ([`ServerEvent::SessionKept`](crate::session::endpoint::ServerEvent::SessionKept)): it
    /// goes to Redis for its time, so the client can recover on any node.
    pub fn keep_session(&mut self, session: &KeptSession) {
        let Some(ttl) = self.streams.recovery.filter(|_| self.recovers()) else {
            return;
        };
        self.commands.push_back(Command::KeepSession {
            key: format!("{}{}", self.streams.session_key_prefix, session.pid),
            value: super::streams::encode_session(session),
            ttl,
        });
    }

    /// A CONNECT the app admitted: when it asks for recovery (`pid` and an `offset` that is a
    /// stream entry id) and recovery goes through Redis, the node looks its session up
    /// ([`Command::Restore`]) and `true` says to wait for [`restored`](Self::restored) (at
    /// most the requests timeout: then [`handle_timeout`](Self::handle_timeout) accepts it
    /// fresh); `false`: accept it now.
    pub fn restore(&mut self, now: Instant, request: &ConnectRequest) -> bool {
        if !self.recovers() || self.pending_restores.len() >= MAX_PENDING_RESTORES {
            return false;
        }
        let Some(wanted) = request
            .auth
            .as_deref()
            .and_then(RecoveryRequest::from_auth)
            .filter(|wanted| super::streams::is_entry_id(&wanted.offset))
        else {
            return false;
        };
        let token = self.next_token;
        self.next_token += 1;
        let deadline = now + self.requests_timeout;
        self.pending_restores
            .insert(token, (request.clone(), deadline));
        self.commands.push_back(Command::Restore {
            token,
            key: format!("{}{}", self.streams.session_key_prefix, wanted.pid),
            stream: self.streams.stream_for(request.namespace.as_str()),
            offset: wanted.offset,
        });
        true
    }

    /// What Redis had for a recovery: the session (`None` when it or the offset's entry was
    /// missing) and the stream's entries after the offset (id, fields). The socket gets its
    /// id, pid, rooms and data back and the broadcasts it missed (of its namespace, to its rooms,
    /// not excepting them; volatile ones too, as the reference does), or a fresh start.
    pub fn restored(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        token: u64,
        session: Option<&[u8]>,
        entries: &[(Bytes, Vec<(Bytes, Bytes)>)],
    ) -> Result<(), SessionError> {
        let Some((request, _)) = self.pending_restores.remove(&token) else {
            return Ok(()); // Started fresh already (Redis was late).
        };
        let ns = request.namespace.as_str();
        let Some(session) = session.and_then(super::streams::decode_session) else {
            return endpoint.accept(now, &request);
        };
        let mut missed = Vec::new();
        for (id, fields) in entries {
            let field = |name: &[u8]| {
                fields
                    .iter()
                    .find(|(key, _)| &key[..] == name)
                    .map(|(_, value)| &value[..])
            };
            if field(b"nsp") != Some(ns.as_bytes()) || field(b"type") != Some(b"3") {
                continue;
            }
            let (Some(uid), Some(data)) = (field(b"uid"), field(b"data")) else {
                continue;
            };
            let Ok(Some(envelope)) =
                Envelope::decode_entry(uid, ns.as_bytes(), b"3", Some(data), &self.limits)
            else {
                continue;
            };
            let Message::Broadcast {
                packet,
                opts,
                request_id: None,
            } = envelope.message
            else {
                continue;
            };
            let shares = |list: &[String]| list.iter().any(|r| session.rooms.contains(r));
            if (!opts.rooms.is_empty() && !shares(&opts.rooms)) || shares(&opts.except) {
                continue;
            }
            // Flags are not consulted (a volatile packet is restored too).
            let offset = String::from_utf8_lossy(id);
            let all = BroadcastTarget::all();
            if let Ok(packet) =
                crate::session::recovery::with_offset_if_recoverable(packet, &offset, &all)
            {
                missed.push(packet);
            }
        }
        endpoint.accept_restored(&request, session, missed)
    }

    /// A broadcast with acknowledgements (`io.timeout(ms).emit(…, callback)`): `packet` to
    /// the sockets `target` selects on every node, each with an ack id of its own, and every
    /// client's acknowledgement back, until `timeout`. The local sockets get it now (their
    /// acks come through [`acknowledged`](Self::acknowledged)); the other nodes answer with
    /// their client counts, then one acknowledgement per client. It ends in a [`Reply`] of
    /// [`Answers::Acks`] once every server counted and every counted client answered, or at
    /// `timeout` with what arrived.
    pub fn broadcast_with_ack(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        packet: Packet,
        target: &BroadcastTarget,
        timeout: Duration,
    ) -> Result<RequestId, RequestError> {
        let at = self
            .member_of(packet.namespace())
            .ok_or(RequestError::UnknownNamespace)?;
        if self.pending.len() >= MAX_PENDING_REQUESTS {
            return Err(RequestError::TooManyPending);
        }
        let request = RequestId(self.next_request);
        let member = &self.members[at];
        let request_id = format!("{}{}", member.uid, request.0);
        let mut opts = BroadcastOptions::from(target);
        opts.flags.timeout = Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        let (channel, message) = match &member.channels {
            Channels::Classic(channels) => {
                let mut out = Vec::new();
                classic::broadcast_with_ack(&mut out, &member.uid, &request_id, &packet, &opts)
                    .map_err(RequestError::Encode)?;
                (channels.request().to_owned(), Outgoing::Bytes(out))
            }
            Channels::Sharded(channels) => {
                let message = Message::Broadcast {
                    packet: packet.clone(),
                    opts,
                    request_id: Some(request_id),
                };
                let envelope = Envelope::new(&member.uid, member.namespace.as_str(), message);
                (
                    channels.main().to_owned(),
                    Outgoing::Envelope(Box::new(envelope)),
                )
            }
        };
        let namespace = member.namespace.clone();
        self.send_outgoing(channel.clone(), message)
            .map_err(RequestError::Encode)?;
        let mut clients = 0;
        for socket in endpoint.sockets(&namespace, target) {
            if let Ok(id) = endpoint.emit_with_ack(now, &socket, packet.clone(), timeout) {
                clients += 1;
                self.own_acks.insert((socket.id, id), request);
            }
        }
        self.next_request += 1;
        self.commands
            .push_back(Command::CountServers { request, channel });
        let pending = Pending {
            member: at,
            deadline: now + timeout,
            expected: None,
            // This server counted its clients.
            received: 1,
            clients,
            answers: Answers::Acks(Vec::new()),
        };
        self.pending.insert(request, pending);
        Ok(request)
    }

    /// `socketsJoin`, `socketsLeave`, `disconnectSockets`, or a `serverSideEmit` without
    /// acks (which the other nodes' apps receive), for every node. The classic adapter
    /// applies them here when they come back from Redis, as Node.js classic nodes do; the
    /// sharded and streams ones apply them here at once. The request's `uid` is replaced by
    /// this node's for its namespace; `false` when the namespace is not one of the node's or
    /// the request is not one of those.
    pub fn request(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        namespace: &str,
        request: Request,
    ) -> bool {
        let Some(at) = self.member_of(namespace) else {
            return false;
        };
        let member = &self.members[at];
        let uid = member.uid.clone();
        match &member.channels {
            Channels::Classic(channels) => {
                let channel = channels.request().to_owned();
                let request = match request {
                    Request::Join { opts, rooms, .. } => Request::Join {
                        uid: Some(uid),
                        opts,
                        rooms,
                    },
                    Request::Leave { opts, rooms, .. } => Request::Leave {
                        uid: Some(uid),
                        opts,
                        rooms,
                    },
                    Request::Disconnect { opts, close, .. } => Request::Disconnect {
                        uid: Some(uid),
                        opts,
                        close,
                    },
                    Request::ServerSideEmit { data, .. } => Request::ServerSideEmit {
                        uid,
                        request_id: None,
                        data,
                    },
                    // Requests that wait for answers go through `fetch_sockets` and the others.
                    _ => return false,
                };
                match request.encode() {
                    Ok(bytes) => {
                        self.send(channel, bytes);
                        true
                    }
                    Err(_) => false,
                }
            }
            Channels::Sharded(channels) => {
                let channel = channels.main().to_owned();
                let (message, local) = match request {
                    Request::Join { opts, rooms, .. } => (
                        Message::SocketsJoin {
                            opts: opts.clone(),
                            rooms: rooms.clone(),
                        },
                        Some(Incoming::Join(opts, rooms)),
                    ),
                    Request::Leave { opts, rooms, .. } => (
                        Message::SocketsLeave {
                            opts: opts.clone(),
                            rooms: rooms.clone(),
                        },
                        Some(Incoming::Leave(opts, rooms)),
                    ),
                    Request::Disconnect { opts, close, .. } => (
                        Message::DisconnectSockets {
                            opts: opts.clone(),
                            close,
                        },
                        Some(Incoming::Disconnect(opts, close)),
                    ),
                    Request::ServerSideEmit { data, .. } => (
                        Message::ServerSideEmit {
                            request_id: None,
                            data,
                        },
                        None,
                    ),
                    _ => return false,
                };
                let envelope = Envelope::new(&uid, namespace, message);
                if self.publish_envelope(channel, &envelope).is_err() {
                    return false;
                }
                if let Some(local) = local {
                    self.apply(now, endpoint, at, None, local);
                }
                true
            }
        }
    }

    /// `fetchSockets`: the sockets of `namespace` that `opts` selects, on every node. This
    /// node's are taken now.
    pub fn fetch_sockets(
        &mut self,
        now: Instant,
        endpoint: &Endpoint,
        namespace: &Namespace,
        opts: &BroadcastOptions,
    ) -> Result<RequestId, RequestError> {
        let local = endpoint
            .sockets(namespace, &BroadcastTarget::from(opts))
            .iter()
            .map(|socket| RemoteSocket::local(endpoint, socket))
            .collect();
        let ask = Ask::Fetch(opts.clone());
        self.ask(now, namespace, Answers::Sockets(local), ask)
    }

    /// `allRooms` (classic adapter only): the rooms of `namespace` on every node. This node's
    /// are taken now.
    pub fn all_rooms(
        &mut self,
        now: Instant,
        endpoint: &Endpoint,
        namespace: &Namespace,
    ) -> Result<RequestId, RequestError> {
        let rooms = endpoint.rooms().all_rooms(namespace.as_str());
        let local = rooms.into_iter().map(str::to_owned).collect();
        self.ask(now, namespace, Answers::Rooms(local), Ask::AllRooms)
    }

    /// `serverSideEmitWithAck`: `data` (the JSON array `[event, ...args]`) to the other
    /// nodes' applications, each of which answers once.
    pub fn server_side_emit_with_ack(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        data: &str,
    ) -> Result<RequestId, RequestError> {
        let answers = Answers::ServerSideEmit(Vec::new());
        self.ask(
            now,
            namespace,
            answers,
            Ask::ServerSideEmit(data.to_owned()),
        )
    }

    /// `serverCount`: how many servers serve `namespace`, this one included.
    pub fn server_count(
        &mut self,
        now: Instant,
        namespace: &Namespace,
    ) -> Result<RequestId, RequestError> {
        self.ask(now, namespace, Answers::ServerCount(0), Ask::Count)
    }

    /// Registers a request: publishes it (a count publishes nothing), then asks for the
    /// server count.
    fn ask(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        answers: Answers,
        ask: Ask,
    ) -> Result<RequestId, RequestError> {
        let member = self
            .member_of(namespace.as_str())
            .ok_or(RequestError::UnknownNamespace)?;
        if self.pending.len() >= MAX_PENDING_REQUESTS {
            return Err(RequestError::TooManyPending);
        }
        let request = RequestId(self.next_request);
        let Member { uid, channels, .. } = &self.members[member];
        // Unique in the cluster as long as the uids are: the node's uid and a counter.
        let request_id = format!("{uid}{}", request.0);
        let (channel, message) = match channels {
            Channels::Classic(channels) => {
                let uid = uid.clone();
                let request = match ask {
                    Ask::Fetch(opts) => Some(Request::Fetch {
                        uid,
                        request_id,
                        opts,
                    }),
                    Ask::AllRooms => Some(Request::AllRooms { uid, request_id }),
                    Ask::ServerSideEmit(data) => Some(Request::ServerSideEmit {
                        uid,
                        request_id: Some(request_id),
                        data,
                    }),
                    Ask::Count => None,
                };
                let message = request
                    .map(|r| r.encode())
                    .transpose()
                    .map_err(RequestError::Encode)?;
                (channels.request().to_owned(), message.map(Outgoing::Bytes))
            }
            Channels::Sharded(channels) => {
                let message = match ask {
                    Ask::Fetch(opts) => Some(Message::FetchSockets { opts, request_id }),
                    Ask::AllRooms => return Err(RequestError::Unsupported),
                    Ask::ServerSideEmit(data) => Some(Message::ServerSideEmit {
                        request_id: Some(request_id),
                        data,
                    }),
                    Ask::Count => None,
                };
                let message = message.map(|m| {
                    Outgoing::Envelope(Box::new(Envelope::new(uid, namespace.as_str(), m)))
                });
                (channels.main().to_owned(), message)
            }
        };
        if let Some(message) = message {
            self.send_outgoing(channel.clone(), message)
                .map_err(RequestError::Encode)?;
        }
        self.next_request += 1;
        self.commands
            .push_back(Command::CountServers { request, channel });
        let pending = Pending {
            member,
            deadline: now + self.requests_timeout,
            expected: None,
            received: 0,
            clients: 0,
            answers,
        };
        self.pending.insert(request, pending);
        Ok(request)
    }

    /// Redis counted the servers listening for `request`'s namespace (`PUBSUB NUMSUB`).
    pub fn servers_counted(&mut self, request: RequestId, count: usize) {
        let Some(pending) = self.pending.get_mut(&request) else {
            return; // Ended already.
        };
        match &mut pending.answers {
            Answers::ServerCount(n) => {
                *n = count;
                pending.expected = Some(0);
            }
            // Every server answers its client count, this one included (at once).
            Answers::Acks(_) => pending.expected = Some(count),
            // Every server but this one answers.
            _ => pending.expected = Some(count.saturating_sub(1)),
        }
        self.complete_if_done(request);
    }

    fn complete_if_done(&mut self, request: RequestId) {
        let done = self.pending.get(&request).is_some_and(|p| {
            let acks = match &p.answers {
                Answers::Acks(acks) => acks.len() as u64 >= p.clients,
                _ => true,
            };
            acks && p.expected.is_some_and(|expected| p.received >= expected)
        });
        if done {
            self.finish(request, false);
        }
    }

    fn finish(&mut self, request: RequestId, timed_out: bool) {
        if let Some(pending) = self.pending.remove(&request) {
            self.replies.push_back(Reply {
                request,
                answers: pending.answers,
                timed_out,
            });
        }
    }

    /// Adds another node's answer to the request it names, if it is one of ours.
    fn answered(&mut self, member: usize, request_id: &str, part: Part) {
        let Some(request) = request_id
            .strip_prefix(self.members[member].uid.as_str())
            .and_then(|n| n.parse().ok())
            .map(RequestId)
        else {
            return; // Another node's request.
        };
        if self
            .pending
            .get(&request)
            .is_some_and(|p| p.member == member)
        {
            self.add(request, part);
        }
    }

    /// Adds an answer (or an acknowledgement) to a pending request of the same kind; extra
    /// ones are dropped.
    fn add(&mut self, request: RequestId, part: Part) {
        let Some(pending) = self.pending.get_mut(&request) else {
            return;
        };
        let full = pending.received >= pending.expected.unwrap_or(MAX_ANSWERS);
        let node_answer = !matches!(part, Part::Ack(_));
        match (&mut pending.answers, part) {
            (Answers::Acks(acks), Part::Ack(ack)) => {
                if (acks.len() as u64) < pending.clients {
                    acks.push(ack);
                }
            }
            (_, Part::Ack(_)) => return,
            _ if full => return,
            (Answers::Rooms(all), Part::Rooms(rooms)) => all.extend(rooms),
            (Answers::Sockets(all), Part::Sockets(sockets)) => all.extend(sockets),
            (Answers::ServerSideEmit(all), Part::ServerSideEmit(data)) => all.push(data),
            (Answers::Acks(_), Part::ClientCount(count)) => {
                pending.clients = pending.clients.saturating_add(count);
            }
            _ => return, // Not an answer to this kind of request.
        }
        if node_answer {
            pending.received += 1;
        }
        self.complete_if_done(request);
    }

    /// Takes a client's ack of a broadcast with acks: of another node's (sent back to it) or
    /// of this node's (added to its answers); `false` when the ack is not one of those.
    pub fn acknowledged(&mut self, socket: &SocketRef, ack: &Packet) -> bool {
        let Some(id) = ack.ack_id() else {
            return false;
        };
        if let Some(request) = self.own_acks.remove(&(socket.id.clone(), id)) {
            // A local client's answer to this node's broadcast with acks.
            self.add(request, Part::Ack(ack.clone()));
            return true;
        }
        let Some((request_id, route)) = self.pending_acks.remove(&(socket.id.clone(), id)) else {
            return false;
        };
        match self.mode {
            Mode::Classic => {
                let mut message = Vec::new();
                if classic::broadcast_ack(&mut message, &request_id, ack).is_ok() {
                    self.send(route.channel, message);
                }
            }
            Mode::Sharded(_) | Mode::Streams => {
                let message = Message::BroadcastAck {
                    request_id,
                    ack: ack.clone(),
                };
                self.send_envelope(route.member, route.channel, message);
            }
        }
        true
    }

    /// Forgets a delivery of a broadcast with acks whose ack did not come in time; `false`
    /// when it is not one of those.
    pub fn forget(&mut self, socket: &SocketRef, ack_id: AckId) -> bool {
        let key = (socket.id.clone(), ack_id);
        let own = self.own_acks.remove(&key).is_some();
        self.pending_acks.remove(&key).is_some() || own
    }

    /// Forgets the deliveries to a socket that left (its acks can no longer come; a
    /// broadcast of this node then waits for them until its timeout, as the reference's
    /// does).
    pub fn forget_socket(&mut self, socket: &SocketRef) {
        if !self.pending_acks.is_empty() {
            self.pending_acks.retain(|(id, _), _| *id != socket.id);
        }
        if !self.own_acks.is_empty() {
            self.own_acks.retain(|(id, _), _| *id != socket.id);
        }
    }

    /// Publishes this server's answer to a `serverSideEmit` with acks.
    pub fn answer(&mut self, emit: &ServerSideEmit, answer: &str) {
        if let Some(request_id) = &emit.request_id {
            let answer = Answer::ServerSideEmit(answer.to_owned());
            self.respond(&emit.route, request_id.clone(), answer);
        }
    }

    /// Publishes an answer to another node's request, as the mode writes it.
    fn respond(&mut self, route: &Route, request_id: String, answer: Answer) {
        match self.mode {
            Mode::Classic => {
                let response = match answer {
                    Answer::Rooms(rooms) => Response::Rooms { request_id, rooms },
                    Answer::Sockets(sockets) => Response::Sockets {
                        request_id,
                        sockets: serde_json::to_string(&sockets).unwrap_or_else(|_| "[]".into()),
                    },
                    Answer::ServerSideEmit(data) => Response::ServerSideEmit { request_id, data },
                    Answer::ClientCount(client_count) => Response::ClientCount {
                        request_id,
                        client_count,
                    },
                };
                if let Ok(bytes) = response.encode() {
                    self.send(route.channel.clone(), bytes);
                }
            }
            Mode::Sharded(_) | Mode::Streams => {
                let message = match answer {
                    Answer::Rooms(_) => return, // No such request in this adapter.
                    Answer::Sockets(sockets) => Message::FetchSocketsResponse {
                        request_id,
                        sockets,
                    },
                    Answer::ServerSideEmit(data) => {
                        Message::ServerSideEmitResponse { request_id, data }
                    }
                    Answer::ClientCount(client_count) => Message::BroadcastClientCount {
                        request_id,
                        client_count,
                    },
                };
                self.send_envelope(route.member, route.channel.clone(), message);
            }
        }
    }

    /// Applies a message from another node; a `serverSideEmit` comes back for the app.
    pub fn handle(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        channel: &str,
        payload: Bytes,
    ) -> Option<ServerSideEmit> {
        let (at, route, incoming) = match self.mode {
            Mode::Classic => self.classic_incoming(endpoint, channel, payload)?,
            Mode::Sharded(_) | Mode::Streams => self.sharded_incoming(channel, payload)?,
        };
        self.apply(now, endpoint, at, route, incoming)
    }

    /// Applies an entry of the streams adapter's stream (its fields as read, in any order);
    /// entries of other namespaces and this node's own are skipped.
    pub fn handle_entry(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        id: &[u8],
        fields: &[(Bytes, Bytes)],
    ) -> Option<ServerSideEmit> {
        let field = |name: &[u8]| {
            fields
                .iter()
                .find(|(key, _)| &key[..] == name)
                .map(|(_, value)| &value[..])
        };
        let nsp = field(b"nsp")?;
        let (at, channels) =
            self.members
                .iter()
                .enumerate()
                .find_map(|(at, m)| match &m.channels {
                    Channels::Sharded(c) if m.namespace.as_str().as_bytes() == nsp => Some((at, c)),
                    _ => None,
                })?;
        let (uid, kind, data) = (field(b"uid")?, field(b"type")?, field(b"data"));
        let envelope = Envelope::decode_entry(uid, nsp, kind, data, &self.limits).ok()??;
        let (at, route, mut incoming) = self.envelope_incoming(at, channels, envelope)?;
        if let Incoming::Broadcast(_, _, offset) = &mut incoming {
            *offset = Some(String::from_utf8_lossy(id).into_owned());
        }
        self.apply(now, endpoint, at, route, incoming)
    }

    /// A classic message: from a broadcast channel, the request channel or a response
    /// channel of member `at`, with the route of its answers.
    fn classic_incoming(
        &self,
        endpoint: &Endpoint,
        channel: &str,
        payload: Bytes,
    ) -> Option<(usize, Option<Route>, Incoming)> {
        let (at, channels) =
            self.members
                .iter()
                .enumerate()
                .find_map(|(at, m)| match &m.channels {
                    Channels::Classic(c)
                        if c.broadcast_room(channel).is_some()
                            || c.subscriptions().contains(&channel) =>
                    {
                        Some((at, c))
                    }
                    _ => None,
                })?;
        let member = &self.members[at];
        let route = Some(Route {
            member: at,
            channel: channels.response().to_owned(),
        });
        if let Some(room) = channels.broadcast_room(channel) {
            let ns = member.namespace.as_str();
            if room.is_some_and(|room| !endpoint.rooms().has_room(ns, room)) {
                return None;
            }
            let broadcast = Broadcast::decode(payload, &self.limits).ok()?;
            if broadcast.uid == member.uid || broadcast.packet.namespace() != ns {
                return None;
            }
            return Some((
                at,
                None,
                Incoming::Broadcast(broadcast.packet, broadcast.opts, None),
            ));
        }
        if channel != channels.request() {
            if payload.first() != Some(&b'{') {
                // A client's acknowledgement of this node's broadcast: msgpack type 9.
                let ack = envelope::msgpack_ack(
                    &payload,
                    &payload,
                    member.namespace.as_str(),
                    &self.limits,
                );
                let Ok(Some(Message::BroadcastAck { request_id, ack })) = ack else {
                    return None;
                };
                return Some((at, None, Incoming::Answered(request_id, Part::Ack(ack))));
            }
            let (request_id, part) = match Response::decode(&payload).ok()?? {
                Response::Rooms { request_id, rooms } => (request_id, Part::Rooms(rooms)),
                Response::Sockets {
                    request_id,
                    sockets,
                } => {
                    // A descriptor list that does not parse still counts as that node's answer.
                    let sockets = serde_json::from_str(&sockets).unwrap_or_default();
                    (request_id, Part::Sockets(sockets))
                }
                Response::ServerSideEmit { request_id, data } => {
                    (request_id, Part::ServerSideEmit(data))
                }
                Response::ClientCount {
                    request_id,
                    client_count,
                } => (request_id, Part::ClientCount(client_count)),
            };
            return Some((at, None, Incoming::Answered(request_id, part)));
        }
        if let Ok(Some(request)) = BroadcastWithAck::decode(payload.clone(), &self.limits) {
            if request.uid == member.uid || request.packet.namespace() != member.namespace.as_str()
            {
                return None;
            }
            let incoming =
                Incoming::BroadcastWithAck(request.request_id, request.packet, request.opts);
            return Some((at, route, incoming));
        }
        let own = |uid: &str| uid == member.uid;
        let incoming = match Request::decode(&payload).ok()?? {
            Request::AllRooms { uid, request_id } if !own(&uid) => Incoming::AllRooms(request_id),
            Request::Fetch {
                uid,
                request_id,
                opts,
            } if !own(&uid) => Incoming::Fetch(request_id, opts),
            // Applied by every node, this one too when its own request comes back.
            Request::Join { opts, rooms, .. } => Incoming::Join(opts, rooms),
            Request::Leave { opts, rooms, .. } => Incoming::Leave(opts, rooms),
            Request::Disconnect { opts, close, .. } => Incoming::Disconnect(opts, close),
            Request::ServerSideEmit {
                uid,
                request_id,
                data,
            } if !own(&uid) => Incoming::ServerSideEmit(request_id, data),
            _ => return None,
        };
        Some((at, route, incoming))
    }

    /// A sharded envelope on one of member `at`'s channels, with the route of its answers
    /// (the requester's own channel).
    fn sharded_incoming(
        &self,
        channel: &str,
        payload: Bytes,
    ) -> Option<(usize, Option<Route>, Incoming)> {
        let (at, channels) =
            self.members
                .iter()
                .enumerate()
                .find_map(|(at, m)| match &m.channels {
                    Channels::Sharded(c) if c.contains(channel) => Some((at, c)),
                    _ => None,
                })?;
        let envelope = Envelope::decode(payload, &self.limits).ok()??;
        self.envelope_incoming(at, channels, envelope)
    }

    /// An envelope for member `at` (whose channels are `channels`), with the route of its
    /// answers (the requester's own channel); `None` for this node's own and other
    /// namespaces'.
    fn envelope_incoming(
        &self,
        at: usize,
        channels: &sharded::Channels,
        envelope: Envelope,
    ) -> Option<(usize, Option<Route>, Incoming)> {
        let member = &self.members[at];
        if envelope.uid == member.uid || envelope.nsp != member.namespace.as_str() {
            return None;
        }
        let route = Some(Route {
            member: at,
            channel: channels.responses_to(&envelope.uid),
        });
        let incoming = match envelope.message {
            Message::Broadcast {
                packet,
                opts,
                request_id: None,
            } => Incoming::Broadcast(packet, opts, None),
            Message::Broadcast {
                packet,
                opts,
                request_id: Some(request_id),
            } => Incoming::BroadcastWithAck(request_id, packet, opts),
            Message::SocketsJoin { opts, rooms } => Incoming::Join(opts, rooms),
            Message::SocketsLeave { opts, rooms } => Incoming::Leave(opts, rooms),
            Message::DisconnectSockets { opts, close } => Incoming::Disconnect(opts, close),
            Message::FetchSockets { opts, request_id } => Incoming::Fetch(request_id, opts),
            Message::ServerSideEmit { request_id, data } => {
                Incoming::ServerSideEmit(request_id, data)
            }
            Message::FetchSocketsResponse {
                request_id,
                sockets,
            } => Incoming::Answered(request_id, Part::Sockets(sockets)),
            Message::ServerSideEmitResponse { request_id, data } => {
                Incoming::Answered(request_id, Part::ServerSideEmit(data))
            }
            Message::BroadcastClientCount {
                request_id,
                client_count,
            } => Incoming::Answered(request_id, Part::ClientCount(client_count)),
            Message::BroadcastAck { request_id, ack } => {
                Incoming::Answered(request_id, Part::Ack(ack))
            }
        };
        Some((at, route, incoming))
    }

    /// Applies what another node asked, on member `at`'s namespace; answers go by `route`.
    fn apply(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        at: usize,
        route: Option<Route>,
        incoming: Incoming,
    ) -> Option<ServerSideEmit> {
        let namespace = self.members[at].namespace.clone();
        let sockets = |endpoint: &Endpoint, opts: &BroadcastOptions| {
            endpoint.sockets(&namespace, &BroadcastTarget::from(opts))
        };
        match incoming {
            Incoming::Broadcast(packet, opts, offset) => {
                let target = BroadcastTarget::from(&opts);
                let _ = match offset {
                    Some(offset) => endpoint.broadcast_with_offset(now, packet, &target, &offset),
                    None => endpoint.broadcast(now, packet, &target),
                };
            }
            Incoming::BroadcastWithAck(request_id, packet, opts) => {
                let route = route?;
                let timeout = Duration::from_millis(opts.flags.timeout.unwrap_or(5000))
                    .min(MAX_REMOTE_ACK_TIMEOUT);
                let mut count = 0;
                for socket in sockets(endpoint, &opts) {
                    if self.pending_acks.len() >= MAX_REMOTE_ACKS {
                        // Delivered, but not awaited (and not counted): the requester does
                        // not wait for it.
                        let _ = endpoint.emit(now, &socket, packet.clone());
                        continue;
                    }
                    if let Ok(id) = endpoint.emit_with_ack(now, &socket, packet.clone(), timeout) {
                        count += 1;
                        let pending = (request_id.clone(), route.clone());
                        self.pending_acks.insert((socket.id, id), pending);
                    }
                }
                self.respond(&route, request_id, Answer::ClientCount(count));
            }
            Incoming::Join(opts, rooms) => {
                for socket in sockets(endpoint, &opts) {
                    for room in &rooms {
                        endpoint.join(&socket, room);
                    }
                }
            }
            Incoming::Leave(opts, rooms) => {
                for socket in sockets(endpoint, &opts) {
                    for room in &rooms {
                        endpoint.leave(&socket, room);
                    }
                }
            }
            Incoming::Disconnect(opts, close) => {
                for socket in sockets(endpoint, &opts) {
                    if close {
                        endpoint.close(socket.session);
                    } else {
                        let _ = endpoint.disconnect(&socket);
                    }
                }
            }
            Incoming::Fetch(request_id, opts) => {
                let descriptors = sockets(endpoint, &opts)
                    .iter()
                    .map(|socket| RemoteSocket::local(endpoint, socket))
                    .collect();
                self.respond(&route?, request_id, Answer::Sockets(descriptors));
            }
            Incoming::AllRooms(request_id) => {
                let rooms = endpoint.rooms().all_rooms(namespace.as_str());
                let rooms = rooms.into_iter().map(str::to_owned).collect();
                self.respond(&route?, request_id, Answer::Rooms(rooms));
            }
            Incoming::ServerSideEmit(request_id, data) => {
                return Some(ServerSideEmit {
                    namespace,
                    data,
                    request_id,
                    route: route?,
                });
            }
            Incoming::Answered(request_id, answer) => self.answered(at, &request_id, answer),
        }
        None
    }
}

/// A message of this node: bytes to publish (classic), or an envelope whose mode decides
/// how it travels.
enum Outgoing {
    Bytes(Vec<u8>),
    Envelope(Box<Envelope>),
}

/// A request of this node, before its mode writes it.
enum Ask {
    Fetch(BroadcastOptions),
    AllRooms,
    ServerSideEmit(String),
    Count,
}
