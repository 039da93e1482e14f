//! The messages Socket.IO nodes exchange through Redis, byte-exact with the official adapters,
//! so a node built on this crate can join a cluster of Node.js servers.
//!
//! This module is the codec: it turns what arrives from Redis into typed messages and builds
//! what to publish, for the classic Pub/Sub adapter (`@socket.io/redis-adapter` 8.3
//! `createAdapter`, [`classic`]), the sharded one (`createShardedAdapter`, [`sharded`]) and
//! the Redis-streams adapter (`@socket.io/redis-streams-adapter` 0.3, [`streams`]), the last
//! two speaking [`envelope`]s. It does no I/O and holds no Redis connection.
//!
//! Above the codec, [`ClusterNode`] is what one server does in a cluster, sans-IO: it
//! applies other nodes' messages to an [`Endpoint`](crate::session::endpoint::Endpoint),
//! answers their requests, sends its own, and hands back the Redis commands to issue. A
//! driver's loop around it:
//!
//! ```
//! use std::time::Instant;
//! use socketio_proto::cluster::{ClusterNode, Command};
//! use socketio_proto::session::endpoint::{Endpoint, EndpointConfig};
//! use socketio_proto::session::rooms::BroadcastTarget;
//! use socketio_proto::{Namespace, Packet};
//!
//! let now = Instant::now();
//! let mut endpoint = Endpoint::new(EndpointConfig::default(), Box::new(|| "sid".to_owned()));
//! // One uid per namespace, random (drawn by the driver).
//! let mut node = ClusterNode::classic("socket.io", &[(Namespace::main(), "JATxCS".into())]);
//! node.attach(&mut endpoint);
//! // Subscribe once, on one connection.
//! let (patterns, channels) = node.subscriptions();
//! assert_eq!(patterns, ["socket.io#/#*"]);
//! assert_eq!(channels.len(), 3);
//!
//! // A broadcast of this server: delivered here, then published for the others.
//! let packet = Packet::event(Namespace::main(), "news", &("hi",), None)?;
//! endpoint.broadcast(now, packet.clone(), &BroadcastTarget::all())?;
//! node.broadcast(&packet, &BroadcastTarget::all());
//! // A request that waits for the other nodes' answers.
//! node.server_count(now, &Namespace::main())?;
//!
//! // After every input: carry out the commands, in order.
//! while let Some(command) = node.poll_command() {
//!     match command {
//!         Command::Publish { channel, message } => { /* PUBLISH channel message */ }
//!         Command::CountServers { request, channel } => {
//!             // PUBSUB NUMSUB channel, and later:
//!             node.servers_counted(request, 1);
//!         }
//!         _ => { /* (S)SUBSCRIBE, UNSUBSCRIBE, XADD: the other adapters */ }
//!     }
//! }
//! // What arrives from Redis goes to `node.handle` (channels) or `node.handle_entry`
//! // (stream entries); requests end in replies, at the latest at `node.poll_timeout()`.
//! let reply = node.poll_reply().expect("alone, the count is known at once");
//! assert!(!reply.timed_out);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the streams adapter and recovery on ([`streams::StreamsOptions::recovery`]),
//! connection state recovery works across nodes: broadcasts carry their stream entry ids as
//! offsets, sessions go to Redis, and a client that reconnects to any node gets its state
//! back ([`ClusterNode::restore`], [`ClusterNode::restored`]).
//!
//! Every decoder takes the peer's bytes as they come: it never panics, never allocates from
//! an announced length, and bounds nesting by [`Limits::max_json_depth`](crate::Limits).

pub mod classic;
pub mod envelope;
mod node;
pub mod sharded;
pub mod streams;

pub use node::{
    Answers, ClusterNode, Command, MAX_PENDING_REQUESTS, MAX_REMOTE_ACK_TIMEOUT, MAX_REMOTE_ACKS,
    Mode, REQUESTS_TIMEOUT, RemoteSocket, Reply, RequestError, RequestId, ServerSideEmit,
};

use std::fmt;

use crate::DecodeError;
use crate::msgpack::MsgpackError;
use crate::session::rooms::BroadcastTarget;

/// The options of a broadcast, as the adapters carry them (`opts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// The rooms to reach; empty for the whole namespace. A socket id is a room too.
    pub rooms: Vec<String>,
    /// The rooms whose sockets are skipped.
    pub except: Vec<String>,
    /// The flags.
    pub flags: Flags,
}

impl From<&BroadcastTarget> for BroadcastOptions {
    /// A local broadcast's target as the adapters carry it (`volatile` is its only flag).
    fn from(target: &BroadcastTarget) -> Self {
        BroadcastOptions {
            rooms: target.rooms.clone(),
            except: target.except.clone(),
            flags: Flags {
                volatile: target.volatile,
                ..Flags::default()
            },
        }
    }
}

impl From<&BroadcastOptions> for BroadcastTarget {
    /// The local sockets another node's broadcast selects here (rooms, exceptions,
    /// `volatile`; the other flags do not change who receives it).
    fn from(opts: &BroadcastOptions) -> Self {
        let target = BroadcastTarget::to(opts.rooms.iter().map(String::as_str))
            .except(opts.except.iter().map(String::as_str));
        if opts.flags.volatile {
            target.volatile()
        } else {
            target
        }
    }
}

/// Broadcast flags. Unknown flags are ignored when decoding, as the reference does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `volatile`: may be dropped for a client that cannot take it now.
    pub volatile: bool,
    /// `compress`, when set.
    pub compress: Option<bool>,
    /// `timeout` in milliseconds (broadcasts with acknowledgements).
    pub timeout: Option<u64>,
    /// `expectSingleResponse` (operations on one remote socket).
    pub expect_single_response: bool,
}

/// A message from another node that does not decode.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClusterError {
    /// The msgpack is malformed.
    Msgpack(MsgpackError),
    /// The embedded Socket.IO packet is not one.
    Packet(DecodeError),
    /// The JSON is malformed or has the wrong shape.
    Json(String),
    /// The message has the wrong shape (a missing or mistyped field).
    Shape(&'static str),
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Msgpack(err) => write!(f, "msgpack: {err}"),
            Self::Packet(err) => write!(f, "packet: {err}"),
            Self::Json(err) => write!(f, "JSON: {err}"),
            Self::Shape(what) => write!(f, "unexpected message shape: {what}"),
        }
    }
}

impl std::error::Error for ClusterError {}

impl From<MsgpackError> for ClusterError {
    fn from(err: MsgpackError) -> Self {
        Self::Msgpack(err)
    }
}

impl From<DecodeError> for ClusterError {
    fn from(err: DecodeError) -> Self {
        match err {
            DecodeError::Msgpack(err) => Self::Msgpack(err),
            err => Self::Packet(err),
        }
    }
}
