//! A classic-adapter node, sans-IO: what one server does in a cluster, given its
//! [`Endpoint`]. The driver feeds it every message from the node's subscriptions
//! ([`ClassicNode::handle`]), tells it about local broadcasts
//! ([`ClassicNode::broadcast`]) and client acks, and publishes what
//! [`ClassicNode::poll_publish`] returns, in order.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::BroadcastOptions;
use super::classic::{self, Broadcast, BroadcastWithAck, Channels, Request, Response};
use crate::session::endpoint::{Endpoint, SocketRef};
use crate::session::rooms::{Adapter, BroadcastTarget};
use crate::{AckId, Limits, Namespace, Packet};

/// A fetched socket as the reference describes it, with the handshake's shape but no values
/// (this server does not keep them).
#[derive(serde::Serialize)]
struct SocketDescriptor<'a> {
    id: &'a str,
    handshake: Handshake,
    rooms: Vec<&'a str>,
}

#[derive(serde::Serialize)]
struct Handshake {
    headers: serde_json::Map<String, serde_json::Value>,
    time: &'static str,
    address: &'static str,
    xdomain: bool,
    secure: bool,
    issued: u64,
    url: &'static str,
    query: serde_json::Map<String, serde_json::Value>,
    auth: serde_json::Map<String, serde_json::Value>,
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
/// and it applies `socketsJoin`, `socketsLeave` and `disconnectSockets`. It sends no requests
/// of its own yet.
#[derive(Debug)]
pub struct ClassicNode {
    members: Vec<Member>,
    limits: Limits,
    publish: VecDeque<(String, Vec<u8>)>,
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
            publish: VecDeque::new(),
            pending_acks: HashMap::new(),
        }
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

    /// The next message to `PUBLISH` (channel, bytes), in order.
    pub fn poll_publish(&mut self) -> Option<(String, Vec<u8>)> {
        self.publish.pop_front()
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
            // Requests that wait for answers are not sent by this version.
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
        self.publish.push_back((channel, message));
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
        let Some(at) = self.members.iter().position(|n| {
            n.channels.broadcast_room(channel).is_some() || n.channels.request() == channel
        }) else {
            return None; // A response: this node sends no requests yet.
        };
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
                let descriptors: Vec<SocketDescriptor<'_>> = sockets
                    .iter()
                    .map(|s| SocketDescriptor {
                        id: &s.id,
                        handshake: Handshake {
                            headers: serde_json::Map::new(),
                            time: "",
                            address: "",
                            xdomain: false,
                            secure: false,
                            issued: 0,
                            url: "",
                            query: serde_json::Map::new(),
                            auth: serde_json::Map::new(),
                        },
                        rooms: endpoint.rooms().rooms_of(namespace.as_str(), &s.id),
                    })
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
