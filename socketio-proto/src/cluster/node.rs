//! A classic-adapter node, sans-IO: what one server does in a cluster, given its
//! [`Endpoint`]. The driver feeds it every message from the node's subscriptions
//! ([`ClassicNode::handle`]), tells it about local broadcasts
//! ([`ClassicNode::broadcast`]) and client acks, carries out what
//! [`ClassicNode::poll_command`] returns, in order, and fires its deadlines.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::BroadcastOptions;
use super::classic::{self, Broadcast, BroadcastWithAck, Channels, Request, Response};
use crate::session::endpoint::{Endpoint, SocketRef};
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

/// A socket as `fetchSockets` returns it: `{id, handshake, rooms, data}`, the reference's
/// descriptor (ADAPTERS.md §1.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: String,
    /// The handshake as its server describes it (headers, time, address, url, query, auth…).
    /// Sockets of this crate's servers have the shape with empty values: the endpoint does
    /// not keep the HTTP handshake.
    #[serde(default)]
    pub handshake: serde_json::Value,
    /// Its rooms, its own id included.
    #[serde(default)]
    pub rooms: Vec<String>,
    /// `socket.data`, when its server set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl RemoteSocket {
    /// A local socket's descriptor.
    fn local(endpoint: &Endpoint, socket: &SocketRef) -> RemoteSocket {
        let rooms = endpoint
            .rooms()
            .rooms_of(socket.namespace.as_str(), &socket.id);
        RemoteSocket {
            id: socket.id.clone(),
            handshake: serde_json::json!({
                "headers": {}, "time": "", "address": "", "xdomain": false, "secure": false,
                "issued": 0, "url": "", "query": {}, "auth": {}
            }),
            rooms: rooms.into_iter().map(str::to_owned).collect(),
            data: None,
        }
    }
}

/// One of this node's requests that wait for answers, as [`ClassicNode`] hands them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// What a node asks of Redis, in order.
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
    /// count to [`ClassicNode::servers_counted`].
    CountServers {
        /// The request that waits for the count.
        request: RequestId,
        /// The namespace's request channel.
        channel: String,
    },
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
    /// The namespace is not one of the node's.
    UnknownNamespace,
    /// [`MAX_PENDING_REQUESTS`] requests already wait for answers.
    TooManyPending,
    /// The request does not encode (`data` is not JSON text).
    Encode(EncodeError),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownNamespace => f.write_str("the namespace is not in the cluster"),
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
    /// How many other nodes answer, once Redis counted the servers.
    expected: Option<usize>,
    received: usize,
    answers: Answers,
}

/// One namespace's identity in the cluster.
#[derive(Debug)]
struct Member {
    namespace: Namespace,
    uid: String,
    channels: Channels,
}

/// A `serverSideEmit` from another node, for the application. Answer it with
/// [`ClassicNode::answer`] when [`request_id`](Self::request_id) is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSideEmit {
    /// The namespace.
    pub namespace: Namespace,
    /// `[event, ...args]`, JSON text.
    pub data: String,
    /// Set when the sender waits for one answer from this node.
    pub request_id: Option<String>,
    response_channel: String,
}

/// What one server does in a classic cluster: which channels to subscribe to, what to
/// publish for its broadcasts, and how to apply other nodes' messages to its endpoint.
///
/// It answers every request the reference answers (`allRooms`, `fetchSockets`, broadcasts
/// with acks, `serverSideEmit` through the application) so Node.js peers never wait for it,
/// and it applies `socketsJoin`, `socketsLeave` and `disconnectSockets`.
///
/// Its own requests that wait for answers ([`fetch_sockets`](Self::fetch_sockets),
/// [`all_rooms`](Self::all_rooms),
/// [`server_side_emit_with_ack`](Self::server_side_emit_with_ack),
/// [`server_count`](Self::server_count)) publish the request, then ask Redis how many
/// servers listen ([`Command::CountServers`]), and end with a [`Reply`]
/// ([`poll_reply`](Self::poll_reply)) once every other server answered or at the deadline
/// ([`poll_timeout`](Self::poll_timeout), [`REQUESTS_TIMEOUT`] by default).
#[derive(Debug)]
pub struct ClassicNode {
    members: Vec<Member>,
    limits: Limits,
    commands: VecDeque<Command>,
    requests_timeout: Duration,
    next_request: u64,
    pending: BTreeMap<RequestId, Pending>,
    replies: VecDeque<Reply>,
    /// Local deliveries of other nodes' broadcasts with acks: (socket id, ack id) ⇒ the
    /// request id and the response channel. Each entry leaves on its ack, its timeout or its
    /// socket's disconnection.
    pending_acks: HashMap<(String, AckId), (String, String)>,
}

impl ClassicNode {
    /// A node of the cluster whose channel prefix is `key` (`socket.io` by default), serving
    /// `namespaces`, each with the uid the caller drew for it (6 characters of
    /// `[A-Za-z0-9_-]`, random: this crate draws no random numbers).
    pub fn new(key: &str, namespaces: &[(Namespace, String)]) -> ClassicNode {
        let members = namespaces
            .iter()
            .map(|(namespace, uid)| Member {
                namespace: namespace.clone(),
                uid: uid.clone(),
                channels: Channels::new(key, namespace.as_str(), uid),
            })
            .collect();
        ClassicNode {
            members,
            limits: Limits::default(),
            commands: VecDeque::new(),
            requests_timeout: REQUESTS_TIMEOUT,
            next_request: 0,
            pending: BTreeMap::new(),
            replies: VecDeque::new(),
            pending_acks: HashMap::new(),
        }
    }

    /// How long this node's requests wait for the other nodes (the reference's
    /// `requestsTimeout`, [`REQUESTS_TIMEOUT`] by default).
    pub fn with_requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// The patterns to `PSUBSCRIBE` and the channels to `SUBSCRIBE`, on one connection.
    pub fn subscriptions(&self) -> (Vec<String>, Vec<String>) {
        let patterns = self.members.iter().map(|m| m.channels.pattern()).collect();
        let channels = self
            .members
            .iter()
            .flat_map(|m| m.channels.subscriptions().map(str::to_owned))
            .collect();
        (patterns, channels)
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
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Ends the requests whose deadline passed, with what they collected.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for request in due {
            self.finish(request, true);
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
        self.ask(
            now,
            namespace,
            Answers::Sockets(local),
            |uid, request_id| {
                Some(Request::Fetch {
                    uid,
                    request_id,
                    opts: opts.clone(),
                })
            },
        )
    }

    /// `allRooms`: the rooms of `namespace` on every node. This node's are taken now.
    pub fn all_rooms(
        &mut self,
        now: Instant,
        endpoint: &Endpoint,
        namespace: &Namespace,
    ) -> Result<RequestId, RequestError> {
        let rooms = endpoint.rooms().all_rooms(namespace.as_str());
        let local = rooms.into_iter().map(str::to_owned).collect();
        self.ask(now, namespace, Answers::Rooms(local), |uid, request_id| {
            Some(Request::AllRooms { uid, request_id })
        })
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
        self.ask(now, namespace, answers, |uid, request_id| {
            Some(Request::ServerSideEmit {
                uid,
                request_id: Some(request_id),
                data: data.to_owned(),
            })
        })
    }

    /// `serverCount`: how many servers serve `namespace`, this one included.
    pub fn server_count(
        &mut self,
        now: Instant,
        namespace: &Namespace,
    ) -> Result<RequestId, RequestError> {
        self.ask(now, namespace, Answers::ServerCount(0), |_, _| None)
    }

    /// Registers a request: publishes what `build` makes of (uid, request id), if anything,
    /// then asks for the server count.
    fn ask(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        answers: Answers,
        build: impl FnOnce(String, String) -> Option<Request>,
    ) -> Result<RequestId, RequestError> {
        let member = self
            .members
            .iter()
            .position(|m| m.namespace == *namespace)
            .ok_or(RequestError::UnknownNamespace)?;
        if self.pending.len() >= MAX_PENDING_REQUESTS {
            return Err(RequestError::TooManyPending);
        }
        let request = RequestId(self.next_request);
        let Member { uid, channels, .. } = &self.members[member];
        // Unique in the cluster as long as the uids are: the node's uid and a counter.
        let wire_id = format!("{uid}{}", request.0);
        let channel = channels.request().to_owned();
        if let Some(message) = build(uid.clone(), wire_id) {
            let message = message.encode().map_err(RequestError::Encode)?;
            self.send(channel.clone(), message);
        }
        self.next_request += 1;
        self.commands
            .push_back(Command::CountServers { request, channel });
        let pending = Pending {
            member,
            deadline: now + self.requests_timeout,
            expected: None,
            received: 0,
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
        if let Answers::ServerCount(n) = &mut pending.answers {
            *n = count;
            pending.expected = Some(0);
        } else {
            // Every server but this one answers.
            pending.expected = Some(count.saturating_sub(1));
        }
        self.complete_if_done(request);
    }

    fn complete_if_done(&mut self, request: RequestId) {
        let done = self
            .pending
            .get(&request)
            .is_some_and(|p| p.expected.is_some_and(|expected| p.received >= expected));
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
    fn answered(&mut self, member: usize, response: Response) {
        let request_id = match &response {
            Response::Rooms { request_id, .. }
            | Response::Sockets { request_id, .. }
            | Response::ServerSideEmit { request_id, .. }
            | Response::ClientCount { request_id, .. } => request_id,
        };
        let Some(request) = request_id
            .strip_prefix(self.members[member].uid.as_str())
            .and_then(|n| n.parse().ok())
            .map(RequestId)
        else {
            return; // Another node's request.
        };
        let Some(pending) = self.pending.get_mut(&request) else {
            return;
        };
        if pending.member != member || pending.received >= pending.expected.unwrap_or(MAX_ANSWERS) {
            return;
        }
        match (&mut pending.answers, response) {
            (Answers::Rooms(all), Response::Rooms { rooms, .. }) => all.extend(rooms),
            (Answers::Sockets(all), Response::Sockets { sockets, .. }) => {
                // A descriptor list that does not parse still counts as that node's answer.
                if let Ok(sockets) = serde_json::from_str::<Vec<RemoteSocket>>(&sockets) {
                    all.extend(sockets);
                }
            }
            (Answers::ServerSideEmit(all), Response::ServerSideEmit { data, .. }) => all.push(data),
            _ => return, // Not an answer to this kind of request.
        }
        pending.received += 1;
        self.complete_if_done(request);
    }

    /// Publishes a broadcast this server just delivered locally.
    pub fn broadcast(&mut self, packet: &Packet, target: &BroadcastTarget) {
        let Some(node) = self
            .members
            .iter()
            .find(|n| n.namespace.as_str() == packet.namespace())
        else {
            return;
        };
        let opts = BroadcastOptions::from(target);
        let mut message = Vec::new();
        if classic::broadcast(&mut message, &node.uid, packet, &opts).is_err() {
            return; // Only a payload too deep to encode, which the local delivery refused too.
        }
        let channel = node.channels.broadcast_channel(&opts);
        self.send(channel, message);
    }

    /// Publishes a request that every node applies, this one included when it comes back
    /// from Redis (as Node.js classic nodes do): `socketsJoin`, `socketsLeave`,
    /// `disconnectSockets`, or a `serverSideEmit` without acks (which the other nodes' apps
    /// receive). The request's `uid` is replaced by this node's for its namespace; `false`
    /// when the namespace is not one of the node's.
    pub fn request(&mut self, namespace: &str, request: Request) -> bool {
        let Some(member) = self
            .members
            .iter()
            .find(|m| m.namespace.as_str() == namespace)
        else {
            return false;
        };
        let uid = member.uid.clone();
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
        let channel = member.channels.request().to_owned();
        match request.encode() {
            Ok(bytes) => {
                self.send(channel, bytes);
                true
            }
            Err(_) => false,
        }
    }

    fn send(&mut self, channel: String, message: Vec<u8>) {
        self.commands
            .push_back(Command::Publish { channel, message });
    }

    /// Sends a client's ack of another node's broadcast back to it; `false` when the ack is
    /// not one of those.
    pub fn acknowledged(&mut self, socket: &SocketRef, ack: &Packet) -> bool {
        let Some(id) = ack.ack_id() else {
            return false;
        };
        let Some((request_id, channel)) = self.pending_acks.remove(&(socket.id.clone(), id)) else {
            return false;
        };
        let mut message = Vec::new();
        if classic::broadcast_ack(&mut message, &request_id, ack).is_ok() {
            self.send(channel, message);
        }
        true
    }

    /// Forgets a delivery whose ack did not come in time; `false` when it is not one of ours.
    pub fn forget(&mut self, socket: &SocketRef, ack_id: AckId) -> bool {
        self.pending_acks
            .remove(&(socket.id.clone(), ack_id))
            .is_some()
    }

    /// Forgets the deliveries to a socket that left (its acks can no longer come).
    pub fn forget_socket(&mut self, socket: &SocketRef) {
        if !self.pending_acks.is_empty() {
            self.pending_acks.retain(|(id, _), _| *id != socket.id);
        }
    }

    /// Publishes this server's answer to a `serverSideEmit` with acks.
    pub fn answer(&mut self, emit: &ServerSideEmit, answer: &str) {
        let Some(request_id) = &emit.request_id else {
            return;
        };
        let response = Response::ServerSideEmit {
            request_id: request_id.clone(),
            data: answer.to_owned(),
        };
        if let Ok(bytes) = response.encode() {
            self.send(emit.response_channel.clone(), bytes);
        }
    }

    /// Delivers another node's broadcast with acks to the local sockets it selects, each with
    /// an ack id of its own, and answers with their count.
    fn broadcast_with_ack(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        at: usize,
        request: BroadcastWithAck,
    ) {
        let node = &self.members[at];
        if request.uid == node.uid || request.packet.namespace() != node.namespace.as_str() {
            return;
        }
        let timeout = Duration::from_millis(request.opts.flags.timeout.unwrap_or(5000));
        let channel = node.channels.response().to_owned();
        let mut count = 0;
        for socket in endpoint.sockets(&node.namespace, &BroadcastTarget::from(&request.opts)) {
            if let Ok(id) = endpoint.emit_with_ack(now, &socket, request.packet.clone(), timeout) {
                count += 1;
                let pending = (request.request_id.clone(), channel.clone());
                self.pending_acks.insert((socket.id, id), pending);
            }
        }
        let response = Response::ClientCount {
            request_id: request.request_id,
            client_count: count,
        };
        if let Ok(bytes) = response.encode() {
            self.send(channel, bytes);
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
        if let Some(at) = self
            .members
            .iter()
            .position(|n| n.channels.subscriptions()[1..].contains(&channel))
        {
            if let Ok(Some(response)) = Response::decode(&payload) {
                self.answered(at, response);
            }
            return None;
        }
        let at = self.members.iter().position(|n| {
            n.channels.broadcast_room(channel).is_some() || n.channels.request() == channel
        })?;
        let node = &self.members[at];
        if let Some(room) = node.channels.broadcast_room(channel) {
            if room.is_some_and(|room| !endpoint.rooms().has_room(node.namespace.as_str(), room)) {
                return None;
            }
            let Ok(broadcast) = Broadcast::decode(payload.clone(), &self.limits) else {
                return None; // Not a broadcast; nothing to deliver.
            };
            if broadcast.uid == node.uid || broadcast.packet.namespace() != node.namespace.as_str()
            {
                return None;
            }
            let _ = endpoint.broadcast(
                now,
                broadcast.packet,
                &BroadcastTarget::from(&broadcast.opts),
            );
            return None;
        }
        if let Ok(Some(request)) = BroadcastWithAck::decode(payload.clone(), &self.limits) {
            self.broadcast_with_ack(now, endpoint, at, request);
            return None;
        }
        let Ok(Some(request)) = Request::decode(&payload) else {
            return None;
        };
        let namespace = node.namespace.clone();
        let response = match request {
            Request::AllRooms { uid, request_id } if uid != node.uid => {
                let rooms = endpoint.rooms().all_rooms(namespace.as_str());
                Response::Rooms {
                    request_id,
                    rooms: rooms.into_iter().map(str::to_owned).collect(),
                }
            }
            Request::Fetch {
                uid,
                request_id,
                opts,
            } if uid != node.uid => {
                let sockets = endpoint.sockets(&namespace, &BroadcastTarget::from(&opts));
                let descriptors: Vec<RemoteSocket> = sockets
                    .iter()
                    .map(|socket| RemoteSocket::local(endpoint, socket))
                    .collect();
                Response::Sockets {
                    request_id,
                    sockets: serde_json::to_string(&descriptors).unwrap_or_else(|_| "[]".into()),
                }
            }
            Request::Join { opts, rooms, .. } => {
                for socket in endpoint.sockets(&namespace, &BroadcastTarget::from(&opts)) {
                    for room in &rooms {
                        endpoint.join(&socket, room);
                    }
                }
                return None;
            }
            Request::Leave { opts, rooms, .. } => {
                for socket in endpoint.sockets(&namespace, &BroadcastTarget::from(&opts)) {
                    for room in &rooms {
                        endpoint.leave(&socket, room);
                    }
                }
                return None;
            }
            Request::Disconnect { opts, close, .. } => {
                for socket in endpoint.sockets(&namespace, &BroadcastTarget::from(&opts)) {
                    if close {
                        endpoint.close(socket.session);
                    } else {
                        let _ = endpoint.disconnect(&socket);
                    }
                }
                return None;
            }
            Request::ServerSideEmit {
                uid,
                request_id,
                data,
            } if uid != node.uid => {
                // Answers always go to the shared response channel (ADAPTERS.md §2.3).
                return Some(ServerSideEmit {
                    namespace,
                    data,
                    request_id,
                    response_channel: node.channels.response().to_owned(),
                });
            }
            _ => return None,
        };
        if let Ok(bytes) = response.encode() {
            let channel = node.channels.response().to_owned();
            self.send(channel, bytes);
        }
        None
    }
}
