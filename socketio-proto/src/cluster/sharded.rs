//! The sharded Pub/Sub adapter (`@socket.io/redis-adapter` 8.3 `createShardedAdapter`,
//! Redis 7 `SPUBLISH`/`SSUBSCRIBE`): its channels. The messages are
//! [`envelope`](super::envelope)s.
//!
//! Per namespace a node listens on the namespace's channel `‹prefix›#‹nsp›#` (every request
//! and broadcast), on its own `‹prefix›#‹nsp›#‹uid›#` (the answers to its requests) and, in
//! the dynamic modes, on `‹prefix›#‹nsp›#‹room›#` for each room it has, where Node.js nodes
//! publish broadcasts to that one room.
//!
//! ```
//! use socketio_proto::cluster::BroadcastOptions;
//! use socketio_proto::cluster::sharded::{Channels, SubscriptionMode};
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

use super::BroadcastOptions;

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
