//! Sans-IO Socket.IO clusters: the adapters that make a server built on
//! [`socketio_proto::server::Endpoint`] one node of a cluster of Node.js and Rust servers,
//! byte-exact with the official adapters.
//!
//! # Where this crate sits
//!
//! ```text
//!   engineio-proto          Engine.IO v3/v4 codec and sessions
//!   socketio-proto          Socket.IO codec, the Endpoint and its Adapter seam
//! → socketio-cluster-proto  ClusterAdapter (the cluster logic) and the wires
//!   your driver             I/O: Redis or PostgreSQL connections, tasks, timers
//! ```
//!
//! Like the crates below it, it does no I/O, reads no clock and draws no random numbers: the
//! uids come from the caller, time is an argument, and what to send to Redis or PostgreSQL
//! comes out as commands for a driver to carry out.
//!
//! # The parts
//!
//! * [`ClusterAdapter`] is the endpoint's [`Adapter`](socketio_proto::server::Adapter) in a
//!   cluster, written once for every wire: it publishes this server's broadcasts, room
//!   operations and queries (`fetchSockets`, `serverSideEmit`, broadcasts with acks,
//!   `serverCount`…), applies and answers the other servers' messages, relays the
//!   acknowledgements of their broadcasts, and recovers sessions across nodes when the wire
//!   keeps them.
//! * A [`Wire`] is one adapter's channels and bytes:
//!   [`ClassicWire`](classic::ClassicWire) (`@socket.io/redis-adapter` 8.3 `createAdapter`),
//!   [`ShardedWire`](sharded::ShardedWire) (its `createShardedAdapter`) and
//!   [`StreamsWire`](streams::StreamsWire) (`@socket.io/redis-streams-adapter` 0.3), all three
//!   speaking [`RedisCommand`](redis::RedisCommand)s. A new adapter is a new wire and its
//!   driver half.
//! * The codecs underneath ([`classic`], [`envelope`]) and the shared
//!   [`ClusterMessage`].
//!
//! # A driver's loop
//!
//! ```
//! use std::time::Instant;
//! use socketio_cluster_proto::ClusterAdapter;
//! use socketio_cluster_proto::classic::ClassicWire;
//! use socketio_cluster_proto::redis::{RedisCommand, RedisInput};
//! use socketio_proto::server::*;
//!
//! type Classic = ClusterAdapter<ClassicWire>;
//! let now = Instant::now();
//! // One uid per namespace, random (drawn by the driver).
//! let adapter = Classic::new(ClassicWire::new("socket.io"), &[(Namespace::main(), "JATxCS".into())]);
//! // Subscribe once, on one connection.
//! let (patterns, channels) = adapter.wire().subscriptions();
//! assert_eq!(patterns, ["socket.io#/#*"]);
//! assert_eq!(channels.len(), 3);
//! let mut endpoint = Endpoint::with_adapter(EndpointConfig::default(), Box::new(|| "sid".to_owned()), Box::new(adapter));
//!
//! // A broadcast of this server: delivered here, and published for the others.
//! let packet = Packet::event(Namespace::main(), "news", &("hi",), None)?;
//! endpoint.broadcast(now, packet, &BroadcastTarget::all())?;
//! // A query that waits for the other servers' answers.
//! endpoint.server_count(now, &Namespace::main())?;
//!
//! // After every call: carry out the adapter's commands, in order.
//! let commands: Vec<RedisCommand> = endpoint
//!     .with_adapter_mut(now, |adapter: &mut Classic, _| std::iter::from_fn(|| adapter.poll_command()).collect())
//!     .unwrap_or_default();
//! assert!(matches!(&commands[0], RedisCommand::Publish { channel, .. } if channel == "socket.io#/#"));
//! let RedisCommand::CountServers { query, .. } = commands[1].clone() else { unreachable!() };
//! // `PUBSUB NUMSUB socket.io-request#/#` answered 1: this server is alone.
//! endpoint.with_adapter_mut(now, |adapter: &mut Classic, local| {
//!     adapter.handle(now, local, RedisInput::Counted { query, count: 1 })
//! });
//! let Some(ServerEvent::Reply(reply)) = endpoint.poll_event() else { unreachable!() };
//! assert_eq!(reply.answers, Answers::ServerCount(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every decoder takes the peer's bytes as they come: it never panics, never allocates from
//! an announced length, and bounds nesting by
//! [`Limits::max_json_depth`](socketio_proto::Limits::max_json_depth). Every table the
//! adapter keeps for other servers is bounded ([`MAX_REMOTE_ACKS`], [`MAX_PENDING_APPENDS`],
//! [`MAX_PENDING_RESTORES`], and the endpoint's
//! [`MAX_PENDING_QUERIES`](socketio_proto::server::MAX_PENDING_QUERIES)).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod adapter;
pub mod classic;
pub mod envelope;
mod message;
pub mod postgres;
pub mod redis;
pub mod sharded;
pub mod streams;
mod wire;

pub use adapter::{
    ClusterAdapter, MAX_PENDING_APPENDS, MAX_PENDING_RESTORES, MAX_REMOTE_ACK_TIMEOUT,
    MAX_REMOTE_ACKS,
};
pub use message::{BroadcastOptions, ClusterError, ClusterMessage, Flags};
pub use wire::{Decoded, Destination, Member, Restoring, Wire};
