//! The sharded Pub/Sub adapter (`@socket.io/redis-adapter` 8.3 `createShardedAdapter`,
//! Redis 7 `SPUBLISH`/`SSUBSCRIBE`, ADAPTERS.md §3): its channels and [`ShardedWire`]. The
//! messages are [`envelope`](super::envelope)s; the server count is
//! `PUBSUB SHARDNUMSUB` of the namespace's channel.
//!
//! Per namespace a node listens on the namespace's channel `‹prefix›#‹nsp›#` (every request
//! and broadcast), on its own `‹prefix›#‹nsp›#‹uid›#` (the answers to its requests) and, in
//! the dynamic modes, on `‹prefix›#‹nsp›#‹room›#` for each room it has, where Node.js nodes
//! publish broadcasts to that one room.
//!
//! ```
//! use socketio_cluster_proto::BroadcastOptions;
//! use socketio_cluster_proto::sharded::{Channels, SubscriptionMode};
//!
//! let channels = Channels::new("socket.io", "/", "d68fee24e727e0fb");
//! assert_eq!(channels.subscriptions(), ["socket.io#/#", "socket.io#/#d68fee24e727e0fb#"]);
//! let to_room1 = BroadcastOptions { rooms: vec!["room1".into()], ..Default::default() };
//! let dynamic = SubscriptionMode::Dynamic;
//! assert_eq!(channels.broadcast_channel(&to_room1, dynamic), "socket.io#/#room1#");
//! // A room of 20 characters looks like a socket id: the namespace's channel.
//! let to_socket = BroadcastOptions { rooms: vec!["TFvt5XeAZp6Rl1-UAAAC".into()], ..Default::default() };
//! assert_eq!(channels.broadcast_channel(&to_socket, dynamic), "socket.io#/#");
//! ```

use std::collections::VecDeque;

use socketio_proto::Limits;
use socketio_proto::server::{Local, QueryError, QueryId, RoomChange};

use crate::envelope::Envelope;
use crate::redis::{RedisCommand, RedisInput};
use crate::wire::{Decoded, Destination, Member, Wire};
use crate::{BroadcastOptions, ClusterMessage};

/// When nodes subscribe to a room's channel (the reference's `subscriptionMode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubscriptionMode {
    /// Only the namespace's and the node's own channels; broadcasts always go to the
    /// namespace's channel.
    Static,
    /// The reference's default: also a channel per room that is not a socket id.
    #[default]
    Dynamic,
    /// A channel per room, socket ids included.
    DynamicPrivate,
}

impl SubscriptionMode {
    /// Whether a node subscribes to this room's channel.
    pub fn subscribes(self, socket_room: bool) -> bool {
        match self {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !socket_room,
            SubscriptionMode::DynamicPrivate => true,
        }
    }
}

/// The channels of one namespace on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    /// `‹prefix›#‹nsp›#`.
    base: String,
    /// `‹prefix›#‹nsp›#‹uid›#`.
    own: String,
}

impl Channels {
    /// The channels of namespace `nsp` for node `uid` under `prefix` (`socket.io` by
    /// default).
    pub fn new(prefix: &str, nsp: &str, uid: &str) -> Self {
        let base = format!("{prefix}#{nsp}#");
        let own = format!("{base}{uid}#");
        Channels { base, own }
    }

    /// The two channels to `SSUBSCRIBE` at start: the namespace's and the node's own.
    pub fn subscriptions(&self) -> [&str; 2] {
        [&self.base, &self.own]
    }

    /// The namespace's channel: requests, and broadcasts not to one room.
    pub fn main(&self) -> &str {
        &self.base
    }

    /// Where the answers to this node's requests arrive.
    pub fn own(&self) -> &str {
        &self.own
    }

    /// Where answers to node `uid`'s requests go.
    pub fn responses_to(&self, uid: &str) -> String {
        format!("{}{uid}#", self.base)
    }

    /// The channel of `room`.
    pub fn room(&self, room: &str) -> String {
        format!("{}{room}#", self.base)
    }

    /// Whether `channel` is one of this namespace's.
    pub fn contains(&self, channel: &str) -> bool {
        channel.starts_with(&self.base)
    }

    /// Where a broadcast without acknowledgements goes: the room's channel when it targets
    /// exactly one room and the mode subscribes to such rooms (in the dynamic mode, a room
    /// of 20 UTF-16 units counts as a socket id, as the reference judges it), else the
    /// namespace's.
    pub fn broadcast_channel(&self, opts: &BroadcastOptions, mode: SubscriptionMode) -> String {
        match opts.rooms.as_slice() {
            [room] if mode.subscribes(room.encode_utf16().count() == 20) => self.room(room),
            _ => self.base.clone(),
        }
    }
}

/// The sharded adapter's wire: envelopes on sharded Pub/Sub (the driver issues the sharded
/// forms of the commands: `SPUBLISH`, `SSUBSCRIBE`, `SUNSUBSCRIBE`, `PUBSUB SHARDNUMSUB`),
/// and, in the dynamic modes, a channel per room this server has.
#[derive(Debug)]
pub struct ShardedWire {
    prefix: String,
    mode: SubscriptionMode,
    channels: Vec<Channels>,
    limits: Limits,
    commands: VecDeque<RedisCommand>,
}

impl ShardedWire {
    /// The wire of a cluster whose channel prefix is `prefix` (`socket.io` by default), in
    /// subscription mode `mode`.
    pub fn new(prefix: &str, mode: SubscriptionMode) -> ShardedWire {
        ShardedWire {
            prefix: prefix.to_owned(),
            mode,
            channels: Vec::new(),
            limits: Limits::default(),
            commands: VecDeque::new(),
        }
    }

    /// The subscription mode.
    pub fn mode(&self) -> SubscriptionMode {
        self.mode
    }

    /// The channels to `SSUBSCRIBE` at start (and again after a reconnection): each
    /// namespace's and this node's own; room channels come as [`RedisCommand::Subscribe`].
    pub fn subscriptions(&self) -> Vec<String> {
        self.channels
            .iter()
            .flat_map(|c| c.subscriptions().map(str::to_owned))
            .collect()
    }
}

/// The channel an envelope goes to: a response to its requester's, a broadcast per `mode`,
/// anything else the namespace's.
pub(crate) fn envelope_channel(
    channels: &Channels,
    message: &ClusterMessage,
    to: Destination<'_>,
    mode: SubscriptionMode,
) -> String {
    match (to, message) {
        (Destination::Requester(uid), _) => channels.responses_to(uid),
        (
            Destination::All,
            ClusterMessage::Broadcast {
                opts,
                request_id: None,
                ..
            },
        ) => channels.broadcast_channel(opts, mode),
        (Destination::All, _) => channels.main().to_owned(),
    }
}

/// An envelope from one of `channels`' namespaces, unless it is this node's own.
pub(crate) fn decode_envelope(
    members: &[Member],
    channels: &[Channels],
    channel: &str,
    payload: bytes::Bytes,
    limits: &Limits,
) -> Option<Decoded> {
    let at = channels.iter().position(|c| c.contains(channel))?;
    let envelope = Envelope::decode(payload, limits).ok()??;
    let member = members.get(at)?;
    if envelope.uid == member.uid || envelope.nsp != member.namespace.as_str() {
        return None;
    }
    Some(Decoded::Message {
        namespace: member.namespace.clone(),
        from: envelope.uid,
        message: envelope.message,
        offset: None,
    })
}

impl Wire for ShardedWire {
    type Input = RedisInput;
    type Command = RedisCommand;

    fn add_member(&mut self, member: &Member) {
        let ns = member.namespace.as_str();
        self.channels
            .push(Channels::new(&self.prefix, ns, &member.uid));
    }

    fn send(
        &mut self,
        member: &Member,
        message: &ClusterMessage,
        to: Destination<'_>,
    ) -> Result<(), QueryError> {
        let channel = envelope_channel(&self.channels[member.index], message, to, self.mode);
        let envelope = Envelope::new(&member.uid, member.namespace.as_str(), message.clone());
        let message = envelope.encode()?;
        self.commands
            .push_back(RedisCommand::Publish { channel, message });
        Ok(())
    }

    fn count_servers(&mut self, member: &Member, query: QueryId) -> Option<usize> {
        let channel = self.channels[member.index].main().to_owned();
        self.commands
            .push_back(RedisCommand::CountServers { query, channel });
        None
    }

    fn decode(&mut self, members: &[Member], _local: &Local, input: RedisInput) -> Option<Decoded> {
        match input {
            RedisInput::Message { channel, payload } => {
                decode_envelope(members, &self.channels, &channel, payload, &self.limits)
            }
            RedisInput::Counted { query, count } => Some(Decoded::Counted { query, count }),
            RedisInput::Entry { .. }
            | RedisInput::Appended { .. }
            | RedisInput::Restored { .. } => None,
        }
    }

    fn poll_command(&mut self) -> Option<RedisCommand> {
        self.commands.pop_front()
    }

    fn follows_rooms(&self) -> bool {
        self.mode != SubscriptionMode::Static
    }

    fn room_changed(&mut self, member: &Member, change: &RoomChange) {
        if !self.mode.subscribes(change.socket_room) {
            return;
        }
        let channel = self.channels[member.index].room(&change.room);
        self.commands.push_back(if change.created {
            RedisCommand::Subscribe { channel }
        } else {
            RedisCommand::Unsubscribe { channel }
        });
    }
}
