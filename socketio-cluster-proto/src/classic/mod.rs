//! The classic Pub/Sub adapter (`@socket.io/redis-adapter` 8.3, `createAdapter`, ADAPTERS.md
//! §2): the codec, byte-exact with what Node.js nodes publish, and [`ClassicWire`].
//!
//! Per namespace a node has a uid (6 characters from `[A-Za-z0-9_-]`) and subscribes to the
//! four [`Channels`]. A broadcast is the msgpack array `[uid, packet, opts]`
//! ([`broadcast`], [`Broadcast::decode`]), published on the room's channel when it targets
//! exactly one room, else on the namespace's. Requests go to the request channel and
//! responses to the response channel as JSON, except a broadcast with acknowledgements and its
//! acks, which are msgpack; receivers tell them apart by the first byte (`{` is JSON). A
//! node's own `socketsJoin`, `socketsLeave` and `disconnectSockets` come back to it through
//! Redis, and it applies them then, as Node.js classic nodes do.
//!
//! ```
//! use socketio_cluster_proto::BroadcastOptions;
//! use socketio_cluster_proto::classic::{self, Broadcast, Channels};
//! use socketio_proto::{Limits, Namespace, Packet};
//!
//! let channels = Channels::new("socket.io", "/", "JATxCS");
//! assert_eq!(channels.pattern(), "socket.io#/#*");
//! let opts = BroadcastOptions { rooms: vec!["room1".into()], ..Default::default() };
//! let packet = Packet::event(Namespace::main(), "e2", &("r1",), None)?;
//! let mut message = Vec::new();
//! classic::broadcast(&mut message, "JATxCS", &packet, &opts)?;
//! assert_eq!(channels.broadcast_channel(&opts), "socket.io#/#room1#");
//!
//! // What another node makes of it.
//! let received = Broadcast::decode(message.into(), &Limits::default())?;
//! assert_eq!((received.uid.as_str(), received.opts), ("JATxCS", opts));
//! assert_eq!(received.packet.raw_json().map(|j| j.as_str()), Some(r#"["e2","r1"]"#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod codec;

use std::collections::VecDeque;

pub use codec::*;
use socketio_proto::Limits;
use socketio_proto::server::{Local, QueryError, QueryId};

use crate::ClusterMessage;
use crate::redis::{RedisCommand, RedisInput};
use crate::wire::{Decoded, Destination, Member, Wire};

/// The classic adapter's wire: its messages on Redis Pub/Sub, the server count from
/// `PUBSUB NUMSUB` of the request channel.
#[derive(Debug)]
pub struct ClassicWire {
    key: String,
    channels: Vec<Channels>,
    uids: Vec<String>,
    members: Vec<socketio_proto::Namespace>,
    limits: Limits,
    commands: VecDeque<RedisCommand>,
}

impl ClassicWire {
    /// The wire of a cluster whose channel prefix is `key` (`socket.io` by default).
    pub fn new(key: &str) -> ClassicWire {
        ClassicWire {
            key: key.to_owned(),
            channels: Vec::new(),
            uids: Vec::new(),
            members: Vec::new(),
            limits: Limits::default(),
            commands: VecDeque::new(),
        }
    }

    /// The patterns to `PSUBSCRIBE` and the channels to `SUBSCRIBE`, on one connection, at
    /// start (and again after a reconnection).
    pub fn subscriptions(&self) -> (Vec<String>, Vec<String>) {
        let patterns = self.channels.iter().map(Channels::pattern).collect();
        let channels = self
            .channels
            .iter()
            .flat_map(|c| c.subscriptions().map(str::to_owned))
            .collect();
        (patterns, channels)
    }

    fn publish(&mut self, channel: String, message: Vec<u8>) {
        self.commands
            .push_back(RedisCommand::Publish { channel, message });
    }

    /// A message on one of member `at`'s channels, with the sender's uid.
    fn incoming(
        &self,
        local: &Local,
        at: usize,
        channel: &str,
        payload: bytes::Bytes,
    ) -> Option<Decoded> {
        let channels = &self.channels[at];
        let uid = &self.uids[at];
        let namespace = &self.members[at];
        let ns = namespace.as_str();
        let decoded = |from: String, message: ClusterMessage| Decoded::Message {
            namespace: namespace.clone(),
            from,
            message,
            offset: None,
        };
        if let Some(room) = channels.broadcast_room(channel) {
            if room.is_some_and(|room| !local.rooms().has_room(ns, room)) {
                return None; // Nobody here is in that room: not even decoded.
            }
            let broadcast = Broadcast::decode(payload, &self.limits).ok()?;
            if broadcast.uid == *uid || broadcast.packet.namespace() != ns {
                return None;
            }
            let message = ClusterMessage::Broadcast {
                packet: broadcast.packet,
                opts: broadcast.opts,
                request_id: None,
            };
            return Some(decoded(broadcast.uid, message));
        }
        if channel != channels.request() {
            return self.response(at, payload);
        }
        if let Ok(Some(request)) = BroadcastWithAck::decode(payload.clone(), &self.limits) {
            if request.uid == *uid || request.packet.namespace() != ns {
                return None;
            }
            let message = ClusterMessage::Broadcast {
                packet: request.packet,
                opts: request.opts,
                request_id: Some(request.request_id),
            };
            return Some(decoded(request.uid, message));
        }
        let emitter = || "emitter".to_owned();
        let (from, message) = match Request::decode(&payload).ok()?? {
            Request::AllRooms {
                uid: from,
                request_id,
            } => (from, ClusterMessage::AllRooms { request_id }),
            Request::Fetch {
                uid: from,
                request_id,
                opts,
            } => (from, ClusterMessage::FetchSockets { opts, request_id }),
            // Applied by every node, this one too when its own request comes back.
            Request::Join { opts, rooms, uid } => {
                let from = uid.unwrap_or_else(emitter);
                (from, ClusterMessage::SocketsJoin { opts, rooms })
            }
            Request::Leave { opts, rooms, uid } => {
                let from = uid.unwrap_or_else(emitter);
                (from, ClusterMessage::SocketsLeave { opts, rooms })
            }
            Request::Disconnect { opts, close, uid } => {
                let from = uid.unwrap_or_else(emitter);
                (from, ClusterMessage::DisconnectSockets { opts, close })
            }
            Request::ServerSideEmit {
                uid: from,
                request_id,
                data,
            } => (from, ClusterMessage::ServerSideEmit { request_id, data }),
        };
        let own = from == *uid;
        let applies_to_all = matches!(
            message,
            ClusterMessage::SocketsJoin { .. }
                | ClusterMessage::SocketsLeave { .. }
                | ClusterMessage::DisconnectSockets { .. }
        );
        (!own || applies_to_all).then(|| decoded(from, message))
    }

    /// A response on the response channels: JSON, or a client's msgpack acknowledgement of a
    /// broadcast (type 9). Every node hears every response; the adapter keeps its own.
    fn response(&self, at: usize, payload: bytes::Bytes) -> Option<Decoded> {
        let message = if payload.first() != Some(&b'{') {
            let ns = self.members[at].as_str();
            match crate::envelope::msgpack_ack(&payload, &payload, ns, &self.limits) {
                Ok(Some(message @ ClusterMessage::BroadcastAck { .. })) => message,
                _ => return None,
            }
        } else {
            match Response::decode(&payload).ok()?? {
                Response::Rooms { request_id, rooms } => {
                    ClusterMessage::AllRoomsResponse { request_id, rooms }
                }
                Response::Sockets {
                    request_id,
                    sockets,
                } => ClusterMessage::FetchSocketsResponse {
                    request_id,
                    // A descriptor list that does not parse still counts as that node's
                    // answer.
                    sockets: serde_json::from_str(&sockets).unwrap_or_default(),
                },
                Response::ServerSideEmit { request_id, data } => {
                    ClusterMessage::ServerSideEmitResponse { request_id, data }
                }
                Response::ClientCount {
                    request_id,
                    client_count,
                } => ClusterMessage::BroadcastClientCount {
                    request_id,
                    client_count,
                },
            }
        };
        Some(Decoded::Message {
            namespace: self.members[at].clone(),
            // Responses do not name their sender; the request id names the requester.
            from: String::new(),
            message,
            offset: None,
        })
    }
}

impl Wire for ClassicWire {
    type Input = RedisInput;
    type Command = RedisCommand;

    fn add_member(&mut self, member: &Member) {
        let ns = member.namespace.as_str();
        self.channels
            .push(Channels::new(&self.key, ns, &member.uid));
        self.uids.push(member.uid.clone());
        self.members.push(member.namespace.clone());
    }

    fn send(
        &mut self,
        member: &Member,
        message: &ClusterMessage,
        _to: Destination<'_>,
    ) -> Result<(), QueryError> {
        let channels = &self.channels[member.index];
        let uid = member.uid.clone();
        let (channel, bytes) = match message {
            ClusterMessage::Broadcast {
                packet,
                opts,
                request_id: None,
            } => {
                let mut out = Vec::new();
                broadcast(&mut out, &uid, packet, opts)?;
                (channels.broadcast_channel(opts), out)
            }
            ClusterMessage::Broadcast {
                packet,
                opts,
                request_id: Some(request_id),
            } => {
                let mut out = Vec::new();
                broadcast_with_ack(&mut out, &uid, request_id, packet, opts)?;
                (channels.request().to_owned(), out)
            }
            ClusterMessage::BroadcastAck { request_id, ack } => {
                let mut out = Vec::new();
                broadcast_ack(&mut out, request_id, ack)?;
                (channels.response().to_owned(), out)
            }
            ClusterMessage::SocketsJoin { opts, rooms } => {
                let request = Request::Join {
                    uid: Some(uid),
                    opts: opts.clone(),
                    rooms: rooms.clone(),
                };
                (channels.request().to_owned(), request.encode()?)
            }
            ClusterMessage::SocketsLeave { opts, rooms } => {
                let request = Request::Leave {
                    uid: Some(uid),
                    opts: opts.clone(),
                    rooms: rooms.clone(),
                };
                (channels.request().to_owned(), request.encode()?)
            }
            ClusterMessage::DisconnectSockets { opts, close } => {
                let request = Request::Disconnect {
                    uid: Some(uid),
                    opts: opts.clone(),
                    close: *close,
                };
                (channels.request().to_owned(), request.encode()?)
            }
            ClusterMessage::FetchSockets { opts, request_id } => {
                let request = Request::Fetch {
                    uid,
                    request_id: request_id.clone(),
                    opts: opts.clone(),
                };
                (channels.request().to_owned(), request.encode()?)
            }
            ClusterMessage::AllRooms { request_id } => {
                let request = Request::AllRooms {
                    uid,
                    request_id: request_id.clone(),
                };
                (channels.request().to_owned(), request.encode()?)
            }
            ClusterMessage::ServerSideEmit { request_id, data } => {
                let request = Request::ServerSideEmit {
                    uid,
                    request_id: request_id.clone(),
                    data: data.clone(),
                };
                (channels.request().to_owned(), request.encode()?)
            }
            ClusterMessage::FetchSocketsResponse {
                request_id,
                sockets,
            } => {
                let response = Response::Sockets {
                    request_id: request_id.clone(),
                    sockets: serde_json::to_string(sockets).unwrap_or_else(|_| "[]".into()),
                };
                (channels.response().to_owned(), response.encode()?)
            }
            ClusterMessage::AllRoomsResponse { request_id, rooms } => {
                let response = Response::Rooms {
                    request_id: request_id.clone(),
                    rooms: rooms.clone(),
                };
                (channels.response().to_owned(), response.encode()?)
            }
            ClusterMessage::ServerSideEmitResponse { request_id, data } => {
                let response = Response::ServerSideEmit {
                    request_id: request_id.clone(),
                    data: data.clone(),
                };
                (channels.response().to_owned(), response.encode()?)
            }
            ClusterMessage::BroadcastClientCount {
                request_id,
                client_count,
            } => {
                let response = Response::ClientCount {
                    request_id: request_id.clone(),
                    client_count: *client_count,
                };
                (channels.response().to_owned(), response.encode()?)
            }
        };
        self.publish(channel, bytes);
        Ok(())
    }

    fn count_servers(&mut self, member: &Member, query: QueryId) -> Option<usize> {
        let channel = self.channels[member.index].request().to_owned();
        self.commands
            .push_back(RedisCommand::CountServers { query, channel });
        None
    }

    fn decode(&mut self, _members: &[Member], local: &Local, input: RedisInput) -> Option<Decoded> {
        match input {
            RedisInput::Message { channel, payload } => {
                let at = self.channels.iter().position(|c| {
                    c.broadcast_room(&channel).is_some() || c.subscriptions().contains(&&*channel)
                })?;
                self.incoming(local, at, &channel, payload)
            }
            RedisInput::Counted { query, count } => Some(Decoded::Counted { query, count }),
            // Streams and recoveries are the streams adapter's.
            RedisInput::Entry { .. }
            | RedisInput::Appended { .. }
            | RedisInput::Restored { .. } => None,
        }
    }

    fn poll_command(&mut self) -> Option<RedisCommand> {
        self.commands.pop_front()
    }

    fn loops_back(&self) -> bool {
        true
    }

    fn has_all_rooms(&self) -> bool {
        true
    }
}
