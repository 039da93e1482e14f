//! Multi-node Socket.IO through Redis, for `socketio-tokio`: this server joins a cluster of
//! Node.js (or Rust) Socket.IO servers sharing a Redis server, with the adapters of
//! `@socket.io/redis-adapter` 8.3, classic (`createAdapter`) or sharded
//! (`createShardedAdapter`, Redis 7), or with `@socket.io/redis-streams-adapter` 0.3 — byte
//! for byte.
//!
//! ```text
//!   socketio-cluster-proto   the cluster logic and the three Redis wires, sans-IO
//! → socketio-redis           this crate: their driver half (Redis connections and tasks)
//!   socketio-tokio           the server it plugs into (`Builder::cluster`)
//! ```
//!
//! ```no_run
//! use socketio_redis::{Mode, RedisAdapter, RedisOptions};
//! use socketio_tokio::SocketIo;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let options = RedisOptions { mode: Mode::Classic, ..RedisOptions::new("redis://127.0.0.1:6379") };
//! let (layer, io) = SocketIo::builder().cluster(RedisAdapter::new(options)?).build_layer();
//! // Broadcasts, `fetch_sockets`, `sockets_join`, `server_side_emit`… now reach every node.
//! # let _ = (layer, io);
//! # Ok(()) }
//! ```
//!
//! What runs, per server (per shard of a sharded one): a subscriber (classic: one connection
//! with `PSUBSCRIBE ‹key›#‹nsp›#*` and `SUBSCRIBE` on the request and response channels of
//! every namespace, as the reference; sharded: `SSUBSCRIBE` on each namespace's channel and
//! the node's own, and, in the dynamic mode, on each room's; streams: `SUBSCRIBE` on the
//! sharded channels), for the streams adapter a stream reader (`XREAD COUNT 100 BLOCK 5000`,
//! from the entries added after it started, then from the last one read), and a publisher.
//! Each reconnects with a backoff from 100 ms to 5 s; the subscriber subscribes again and the
//! reader goes on from its last entry.
//!
//! **Why the `redis` crate:** it is the Redis organisation's own client for Rust, the most
//! used one, with async Pub/Sub (patterns included) on tokio and nothing else pulled in with
//! the features chosen here (`tokio-comp` only). Its connection manager does not cover a
//! Pub/Sub connection, so reconnection and resubscription are ours; `SSUBSCRIBE` on a
//! standalone server is not in the crate, so the sharded subscriber speaks RESP itself.
//!
//! **Backpressure:** commands wait in a queue of [`PUBLISH_QUEUE`] while Redis is slow or
//! away; beyond, a broadcast still reaches the local sockets but not the other nodes, and the
//! drop is counted and logged on stderr (never silent). What arrives from Redis is applied as
//! it is read: a slow server slows its subscriber, and Redis holds the rest.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod emitter;
mod resp;
mod tasks;

use std::fmt;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use socketio_cluster_proto::classic::ClassicWire;
use socketio_cluster_proto::redis::{RedisCommand, RedisInput};
use socketio_cluster_proto::sharded::{ShardedWire, SubscriptionMode};
use socketio_cluster_proto::streams::{StreamsOptions, StreamsWire};
use socketio_cluster_proto::{ClusterAdapter, Wire};
use socketio_proto::Namespace;
use socketio_proto::server::{Adapter, Endpoint, REQUESTS_TIMEOUT};
use socketio_tokio::server::{ClusterDriver, Node};
use tokio::sync::mpsc;

pub use emitter::{Emitter, EmitterError};
/// The sans-IO cluster crate underneath (broadcast options, the wires).
pub use socketio_cluster_proto;

use tasks::RoomChannels;

/// Commands waiting to be carried out by the publisher, at most.
pub const PUBLISH_QUEUE: usize = 4096;

/// Messages from Redis this long, at most (the sharded subscriber's own reader): the
/// connection is dropped and made again beyond.
pub const MAX_MESSAGE: usize = 64 << 20;

/// Which adapter the cluster runs; every node of a cluster runs the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `createAdapter` of `@socket.io/redis-adapter` 8.3.
    #[default]
    Classic,
    /// `createShardedAdapter`, with its subscription mode (`dynamic` by default).
    Sharded(SubscriptionMode),
    /// `@socket.io/redis-streams-adapter` 0.3.
    Streams,
}

impl std::str::FromStr for Mode {
    type Err = RedisAdapterError;

    /// `classic`, `sharded` (the dynamic subscription mode, the reference's default) or
    /// `streams`.
    fn from_str(name: &str) -> Result<Mode, RedisAdapterError> {
        match name {
            "classic" => Ok(Mode::Classic),
            "sharded" => Ok(Mode::Sharded(SubscriptionMode::default())),
            "streams" => Ok(Mode::Streams),
            other => Err(RedisAdapterError::UnknownMode(other.to_owned())),
        }
    }
}

/// How to join the cluster.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://HOST:PORT`.
    pub url: String,
    /// The channel prefix (the adapter's `key`), `socket.io` by default.
    pub key: String,
    /// The namespaces this server serves in the cluster (each gets its uid and its
    /// channels); `/` by default.
    pub namespaces: Vec<String>,
    /// The adapter: [`Mode::Classic`] by default.
    pub mode: Mode,
    /// With the streams adapter and connection state recovery on the server: its
    /// `maxDisconnectionDuration`, so that sessions and offsets go through Redis and a client
    /// recovers on any node (`None` by default).
    pub recovery: Option<Duration>,
    /// How long a query of this server waits for the other nodes' answers (the reference's
    /// `requestsTimeout`), 5 s by default.
    pub requests_timeout: Duration,
}

impl RedisOptions {
    /// The defaults for `url`: key `socket.io`, namespace `/`, the classic adapter.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            key: "socket.io".to_owned(),
            namespaces: vec!["/".to_owned()],
            mode: Mode::Classic,
            recovery: None,
            requests_timeout: REQUESTS_TIMEOUT,
        }
    }
}

/// Why the adapter cannot start.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisAdapterError {
    /// The URL is not a Redis URL.
    Url(redis::RedisError),
    /// The sharded adapter needs a plain TCP Redis URL (it speaks RESP on its own).
    NotTcp(String),
    /// A namespace is not one.
    Namespace(String),
    /// An adapter name that is not `classic`, `sharded` or `streams`.
    UnknownMode(String),
    /// The operating system's random number generator failed (the nodes' uids come from it:
    /// two nodes with the same uid would ignore each other's messages).
    Random(getrandom::Error),
}

impl fmt::Display for RedisAdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(err) => write!(f, "bad Redis URL: {err}"),
            Self::NotTcp(addr) => write!(
                f,
                "the sharded adapter needs a plain TCP Redis URL, not {addr}"
            ),
            Self::Namespace(name) => write!(f, "{name:?} is not a namespace"),
            Self::UnknownMode(name) => {
                write!(f, "unknown adapter {name:?} (classic, sharded or streams)")
            }
            Self::Random(err) => write!(f, "no randomness for the node's uid: {err}"),
        }
    }
}

impl std::error::Error for RedisAdapterError {}

/// The Redis adapters' driver half: give it to
/// [`Builder::cluster`](socketio_tokio::Builder::cluster).
pub struct RedisAdapter {
    options: RedisOptions,
    client: redis::Client,
    namespaces: Vec<Namespace>,
}

impl fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RedisAdapter {
    /// An adapter with these options (nothing connects before the server runs).
    pub fn new(options: RedisOptions) -> Result<RedisAdapter, RedisAdapterError> {
        let client = redis::Client::open(options.url.as_str()).map_err(RedisAdapterError::Url)?;
        if matches!(options.mode, Mode::Sharded(_)) {
            tcp_address(&client)?;
        }
        let namespaces = options
            .namespaces
            .iter()
            .map(|name| {
                Namespace::new(name).map_err(|_| RedisAdapterError::Namespace(name.clone()))
            })
            .collect::<Result<_, _>>()?;
        // A uid can be drawn: checked now, not at the first shard.
        uid(options.mode)?;
        Ok(RedisAdapter {
            options,
            client,
            namespaces,
        })
    }

    fn members(&self) -> Vec<(Namespace, String)> {
        // Checked in `new`: the generator works.
        self.namespaces
            .iter()
            .map(|ns| (ns.clone(), uid(self.options.mode).unwrap_or_default()))
            .collect()
    }

    fn streams_options(&self) -> StreamsOptions {
        StreamsOptions {
            recovery: self.options.recovery,
            ..StreamsOptions::default()
        }
    }

    /// Starts the tasks of one node whose adapter runs wire `W`.
    fn start_wire<W>(&self, node: Node, subscriptions: (Vec<String>, Vec<String>))
    where
        W: Wire<Input = RedisInput, Command = RedisCommand>,
    {
        let feed = Feed::new::<W>(node.clone());
        let (publish, queue) = mpsc::channel(PUBLISH_QUEUE);
        let rooms = Arc::new(RoomChannels::default());
        let (patterns, channels) = subscriptions;
        match self.options.mode {
            Mode::Classic => {
                tokio::spawn(tasks::subscriber(
                    self.client.clone(),
                    patterns,
                    channels,
                    feed.clone(),
                ));
            }
            Mode::Streams => {
                tokio::spawn(tasks::subscriber(
                    self.client.clone(),
                    patterns,
                    channels,
                    feed.clone(),
                ));
                let streams = self.streams_options().streams();
                tokio::spawn(tasks::stream_reader(
                    self.client.clone(),
                    streams,
                    feed.clone(),
                ));
            }
            Mode::Sharded(_) => {
                // Checked in `new`.
                let address = tcp_address(&self.client).unwrap_or_default();
                let subscriber =
                    tasks::sharded_subscriber(address, channels, rooms.clone(), feed.clone());
                tokio::spawn(subscriber);
            }
        }
        tokio::spawn(tasks::publisher(
            self.client.clone(),
            self.options.mode,
            queue,
            feed,
        ));
        let mut dropped = 0u64;
        node.on_commands(move |endpoint: &mut Endpoint| {
            let Some(adapter) = endpoint.adapter_mut::<ClusterAdapter<W>>() else {
                return;
            };
            while let Some(command) = adapter.poll_command() {
                let subscription = match &command {
                    RedisCommand::Subscribe { channel } => Some((channel, true)),
                    RedisCommand::Unsubscribe { channel } => Some((channel, false)),
                    _ => None,
                };
                if let Some((channel, subscribe)) = subscription {
                    let mut channels = rooms
                        .channels
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    if subscribe {
                        channels.insert(channel.clone());
                    } else {
                        channels.remove(channel);
                    }
                    rooms.changed.notify_one();
                    continue;
                }
                if publish.try_send(command).is_err() {
                    dropped += 1;
                    if dropped.is_power_of_two() {
                        eprintln!(
                            "redis publisher: queue full ({PUBLISH_QUEUE} commands), {dropped} \
                             not carried out so far"
                        );
                    }
                }
            }
        });
    }
}

impl ClusterDriver for RedisAdapter {
    fn adapter(&self, _shard: usize) -> Box<dyn Adapter> {
        let members = self.members();
        let key = &self.options.key;
        let timeout = self.options.requests_timeout;
        match self.options.mode {
            Mode::Classic => Box::new(
                ClusterAdapter::new(ClassicWire::new(key), &members).with_requests_timeout(timeout),
            ),
            Mode::Sharded(subscription) => Box::new(
                ClusterAdapter::new(ShardedWire::new(key, subscription), &members)
                    .with_requests_timeout(timeout),
            ),
            Mode::Streams => Box::new(
                ClusterAdapter::new(StreamsWire::new(key, self.streams_options()), &members)
                    .with_requests_timeout(timeout),
            ),
        }
    }

    fn start(&self, node: Node) {
        let subscriptions = {
            let guard = node.lock();
            let endpoint = guard.endpoint();
            match self.options.mode {
                Mode::Classic => endpoint
                    .adapter::<ClusterAdapter<ClassicWire>>()
                    .map(|a| a.wire().subscriptions()),
                Mode::Sharded(_) => endpoint
                    .adapter::<ClusterAdapter<ShardedWire>>()
                    .map(|a| (Vec::new(), a.wire().subscriptions())),
                Mode::Streams => endpoint
                    .adapter::<ClusterAdapter<StreamsWire>>()
                    .map(|a| (Vec::new(), a.wire().subscriptions())),
            }
        };
        let Some(subscriptions) = subscriptions else {
            return; // Not this driver's adapter.
        };
        match self.options.mode {
            Mode::Classic => self.start_wire::<ClassicWire>(node, subscriptions),
            Mode::Sharded(_) => self.start_wire::<ShardedWire>(node, subscriptions),
            Mode::Streams => self.start_wire::<StreamsWire>(node, subscriptions),
        }
    }
}

/// How the tasks hand their node what arrived.
#[derive(Clone)]
pub(crate) struct Feed {
    node: Node,
    apply: fn(&mut Endpoint, Instant, RedisInput),
}

impl Feed {
    fn new<W: Wire<Input = RedisInput>>(node: Node) -> Feed {
        fn apply<W: Wire<Input = RedisInput>>(
            endpoint: &mut Endpoint,
            now: Instant,
            input: RedisInput,
        ) {
            endpoint.with_adapter_mut(now, |adapter: &mut ClusterAdapter<W>, local| {
                adapter.handle(now, local, input)
            });
        }
        Feed {
            node,
            apply: apply::<W>,
        }
    }

    /// Applies `input`; `false` once the server stopped.
    pub(crate) fn send(&self, input: RedisInput) -> bool {
        if self.node.is_stopped() {
            return false;
        }
        let mut guard = self.node.lock();
        (self.apply)(guard.endpoint_mut(), Instant::now(), input);
        true
    }

    /// Whether the server stopped.
    pub(crate) fn is_closed(&self) -> bool {
        self.node.is_stopped()
    }
}

/// `HOST:PORT` of a `redis://` URL (the sharded subscriber connects on its own).
fn tcp_address(client: &redis::Client) -> Result<String, RedisAdapterError> {
    match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) => Ok(format!("{host}:{port}")),
        other => Err(RedisAdapterError::NotTcp(other.to_string())),
    }
}

/// A uid as the reference draws it, from the OS's CSPRNG: classic, 6 characters of
/// `[A-Za-z0-9_-]`; sharded and streams, 16 lowercase hexadecimal characters.
fn uid(mode: Mode) -> Result<String, RedisAdapterError> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(RedisAdapterError::Random)?;
    Ok(match mode {
        Mode::Classic => bytes[..6]
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 63)]))
            .collect(),
        Mode::Sharded(_) | Mode::Streams => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_as_each_adapter_draws_them() {
        let classic = uid(Mode::Classic).unwrap();
        assert_eq!(classic.len(), 6);
        let streams = uid(Mode::Streams).unwrap();
        assert_eq!(streams.len(), 16);
        assert!(
            streams
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
