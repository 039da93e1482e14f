//! Multi-node through Redis with the adapters of `@socket.io/redis-adapter` 8.3, classic
//! (`createAdapter`) or sharded (`createShardedAdapter`, Redis 7), or with
//! `@socket.io/redis-streams-adapter` 0.3: this server joins a cluster of Node.js (or Rust)
//! Socket.IO servers that share a Redis server.
//!
//! [`start`] connects to Redis and spawns two tasks: a subscriber that hands each message to
//! the server core in order, and a publisher. Classic: one connection with
//! `PSUBSCRIBE ‹key›#‹nsp›#*` and `SUBSCRIBE` on the request and response channels of every
//! namespace, as the reference does. Sharded: `SSUBSCRIBE` on each namespace's channel and
//! the node's own, and (the default dynamic mode) on the channel of each room the server has,
//! following the rooms as they appear and empty. Streams: `SUBSCRIBE` on each namespace's
//! channel and the node's own, and a third task reading the stream (`XREAD COUNT 100 BLOCK
//! 5000`, from the entries added after it started, then from the last one read). Every task
//! reconnects with a backoff from 100 ms to 5 s when Redis goes away; the subscriber
//! subscribes again and the reader goes on from its last entry. [`SocketIo::with_cluster`](crate::socketio::SocketIo::with_cluster)
//! plugs the returned [`Cluster`] into the server, and
//! [`serve_with_external`](crate::server::serve_with_external) takes the message stream.
//!
//! What the node does:
//!
//! * every [`Io::broadcast`](crate::socketio::Io::broadcast) is delivered locally and
//!   published once (`[uid, packet, opts]`, msgpack) on the room's or the namespace's channel;
//! * broadcasts from other nodes (and from the Redis emitter) are delivered to the local
//!   sockets they select, rooms, exceptions and `volatile` included; a room broadcast for a
//!   room with no socket here is dropped unread;
//! * `socketsJoin`, `socketsLeave` and `disconnectSockets` requests are applied to the local
//!   sockets; `allRooms` and `fetchSockets` requests are answered (a fetched socket's
//!   `handshake` has the reference's shape but empty values: this server does not keep the
//!   handshake), so Node.js peers never wait for this node;
//! * broadcasts with acknowledgements from other nodes reach the local sockets, each with an
//!   ack id of its own; this node answers the client count at once (zero included) and sends
//!   every client's acknowledgement back;
//! * `serverSideEmit` from other nodes goes to
//!   [`App::on_server_side_emit`](crate::socketio::App::on_server_side_emit), whose answer is
//!   sent back when the sender waits for acknowledgements;
//! * [`Io::sockets_join`](crate::socketio::Io::sockets_join), `sockets_leave`,
//!   `disconnect_sockets` and `server_side_emit` are published for every node (this one
//!   applies them when they come back from Redis, as Node.js nodes do);
//! * [`Io::fetch_sockets`](crate::socketio::Io::fetch_sockets), `all_rooms`,
//!   `server_side_emit_with_ack`, `server_count` and `broadcast_with_ack` publish the
//!   request, ask Redis how many servers listen (`PUBSUB NUMSUB`), and end in
//!   [`App::on_cluster_reply`](crate::socketio::App::on_cluster_reply) once every other
//!   server answered (every client, for a broadcast with acks) or after the timeout (5 s
//!   for requests, the broadcast's own).
//!
//! The cluster logic is sans-IO, in [`ClusterNode`]; this module moves its bytes.
//!
//! With the sharded and streams adapters, `socketsJoin`, `socketsLeave` and
//! `disconnectSockets` apply here at once (as their Node.js nodes do) and there is no
//! `allRooms`.
//!
//! With the streams adapter and connection state recovery on the server
//! ([`RedisOptions::recovery`]), a client recovers on any node: this server's broadcasts are
//! appended to the stream first and delivered here with their entry id as the offset, the
//! sessions of sockets that drop go to Redis (`SET sio:session:‹pid› … PX`), and a CONNECT
//! with a pid and an offset waits for its session and the missed entries
//! (`MULTI GET DEL EXEC`, `XRANGE`), as the reference does. Events sent to one socket
//! ([`Io::emit`](crate::socketio::Io::emit)) carry no offset then: only broadcasts are part
//! of the recovery.
//!
//! **Why the `redis` crate:** it is the Redis organisation's own client for Rust, the most
//! used one, with async Pub/Sub (patterns included) on tokio and nothing else pulled in with
//! the features chosen here (`tokio-comp` only: no TLS, no cluster, no connection pools). Its
//! connection manager does not cover a Pub/Sub connection, so reconnection and resubscription
//! are ours, in the subscriber loop below, where a restart test holds them. `fred` has
//! reconnection built in but brings a much larger dependency tree and its own runtime
//! abstractions; the driver only needs PUBLISH, PSUBSCRIBE and SUBSCRIBE.
//!
//! **Backpressure:** published messages wait in a queue of [`PUBLISH_QUEUE`] messages while
//! Redis is slow or away; beyond that a broadcast still reaches the local sockets but not the
//! other nodes, and the drop is counted and logged on stderr (never silent).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use socketio_proto::cluster::classic::{self, Channels, Request};
use socketio_proto::cluster::streams::StreamsOptions;
use socketio_proto::cluster::{BroadcastOptions, ClusterNode, Command, Mode, ServerSideEmit};
use socketio_proto::session::endpoint::Endpoint;
use socketio_proto::{Namespace, Packet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::sync::mpsc;

use crate::server::External;

/// Messages waiting to be published (and server counts waiting to be asked), at most.
pub const PUBLISH_QUEUE: usize = 4096;

/// Messages from Redis waiting for the server core, at most (the subscriber waits beyond).
const SUBSCRIBE_QUEUE: usize = 1024;

/// How to join the cluster.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://HOST:PORT`.
    pub url: String,
    /// The channel prefix (the adapter's `key`), `socket.io` by default.
    pub key: String,
    /// The namespaces this server serves: each gets its uid and its channels.
    pub namespaces: Vec<String>,
    /// The adapter, as on every node of the cluster: [`Mode::Classic`] by default.
    pub mode: Mode,
    /// With the streams adapter and connection state recovery on the server: its
    /// `maxDisconnectionDuration`, so sessions and offsets go through Redis and a client
    /// recovers on any node (`None` by default).
    pub recovery: Option<Duration>,
    /// How long a request of this server waits for the other nodes' answers (the
    /// reference's `requestsTimeout`), [`REQUESTS_TIMEOUT`](socketio_proto::cluster::REQUESTS_TIMEOUT)
    /// (5 s) by default.
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
            requests_timeout: socketio_proto::cluster::REQUESTS_TIMEOUT,
        }
    }
}

/// The adapter named on a command line: `classic`, `sharded` (the dynamic subscription
/// mode, the reference's default) or `streams` (the reference's default options).
pub fn parse_mode(name: &str) -> Result<Mode, String> {
    match name {
        "classic" => Ok(Mode::Classic),
        "sharded" => Ok(Mode::Sharded(Default::default())),
        "streams" => Ok(Mode::Streams),
        other => Err(format!(
            "unknown adapter {other:?} (classic, sharded or streams)"
        )),
    }
}

/// Messages from Redis this long, at most (the sharded subscriber's own reader): the
/// connection is dropped and made again beyond.
pub const MAX_MESSAGE: usize = 64 << 20;

/// The room channels a sharded subscriber should be on, shared with the server core.
#[derive(Debug, Default)]
struct RoomChannels {
    channels: Mutex<BTreeSet<String>>,
    changed: Notify,
}

/// This server's side of the cluster: the sans-IO [`ClusterNode`] and the publisher's queue.
#[derive(Debug)]
pub struct Cluster {
    node: ClusterNode,
    publish: mpsc::Sender<Command>,
    rooms: Arc<RoomChannels>,
    dropped: u64,
}

/// Connects to Redis and starts the subscriber and the publisher. Returns the cluster for
/// the server and the stream of messages for
/// [`serve_with_external`](crate::server::serve_with_external).
pub fn start(options: &RedisOptions) -> Result<(Cluster, mpsc::Receiver<External>), String> {
    let client = redis::Client::open(options.url.as_str()).map_err(|e| e.to_string())?;
    let mut namespaces = Vec::new();
    for name in &options.namespaces {
        let namespace = Namespace::new(name).map_err(|e| format!("{name}: {e}"))?;
        namespaces.push((namespace, uid(options.mode)?));
    }
    let streams = StreamsOptions {
        recovery: options.recovery,
        ..StreamsOptions::default()
    };
    let node = match options.mode {
        Mode::Classic => ClusterNode::classic(&options.key, &namespaces),
        Mode::Sharded(subscription) => {
            ClusterNode::sharded(&options.key, &namespaces, subscription)
        }
        Mode::Streams => ClusterNode::streams(&options.key, &namespaces, streams.clone()),
    }
    .with_requests_timeout(options.requests_timeout);
    let (patterns, channels) = node.subscriptions();
    let (external, messages) = mpsc::channel(SUBSCRIBE_QUEUE);
    let (publish, queue) = mpsc::channel(PUBLISH_QUEUE);
    let rooms = Arc::new(RoomChannels::default());
    match options.mode {
        Mode::Classic => {
            let subscriber = subscriber(client.clone(), patterns, channels, external.clone());
            tokio::spawn(subscriber);
        }
        Mode::Streams => {
            let subscriber = subscriber(client.clone(), patterns, channels, external.clone());
            tokio::spawn(subscriber);
            tokio::spawn(stream_reader(
                client.clone(),
                streams.streams(),
                external.clone(),
            ));
        }
        Mode::Sharded(_) => {
            let address = tcp_address(&client)?;
            let subscriber = sharded_subscriber(address, channels, rooms.clone(), external.clone());
            tokio::spawn(subscriber);
        }
    }
    tokio::spawn(publisher(client, options.mode, queue, external));
    let cluster = Cluster {
        node,
        publish,
        rooms,
        dropped: 0,
    };
    Ok((cluster, messages))
}

/// `HOST:PORT` of a `redis://` URL (the sharded subscriber connects on its own).
fn tcp_address(client: &redis::Client) -> Result<String, String> {
    match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) => Ok(format!("{host}:{port}")),
        other => Err(format!(
            "the sharded adapter needs a plain TCP Redis URL, not {other}"
        )),
    }
}

/// A uid as the reference draws it, from the OS's CSPRNG (two nodes with the same uid would
/// ignore each other's messages): classic, 6 characters of `[A-Za-z0-9_-]`; sharded, 16
/// lowercase hexadecimal characters.
fn uid(mode: Mode) -> Result<String, String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for the node's uid: {e}"))?;
    Ok(match mode {
        Mode::Classic => bytes[..6]
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 63)]))
            .collect(),
        Mode::Sharded(_) | Mode::Streams => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

async fn backoff(delay: &mut Duration) {
    tokio::time::sleep(*delay).await;
    *delay = (*delay * 2).min(Duration::from_secs(5));
}

/// Subscribes, forwards every message in order, and starts over when the connection drops.
async fn subscriber(
    client: redis::Client,
    patterns: Vec<String>,
    channels: Vec<String>,
    external: mpsc::Sender<External>,
) {
    let mut delay = Duration::from_millis(100);
    loop {
        if let Ok(mut pubsub) = client.get_async_pubsub().await {
            if (patterns.is_empty() || pubsub.psubscribe(&patterns).await.is_ok())
                && pubsub.subscribe(&channels).await.is_ok()
            {
                delay = Duration::from_millis(100);
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    let message = External::Message {
                        channel: message.get_channel_name().to_owned(),
                        payload: Bytes::copy_from_slice(message.get_payload_bytes()),
                    };
                    if external.send(message).await.is_err() {
                        return; // The server stopped.
                    }
                }
            }
        }
        if external.is_closed() {
            return;
        }
        eprintln!("redis subscriber: connection lost, subscribing again in {delay:?}");
        backoff(&mut delay).await;
    }
}

/// Reads the streams adapter's streams: `XREAD COUNT 100 BLOCK 5000` from the entries added
/// after it started (`$`), then from the last one read, on a connection of its own (whose
/// response timeout outlasts the block); every entry goes to the core in order. After a
/// lost connection it goes on from the last entry read.
async fn stream_reader(
    client: redis::Client,
    streams: Vec<String>,
    external: mpsc::Sender<External>,
) {
    let config =
        redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(30)));
    let mut last: Vec<String> = vec!["$".to_owned(); streams.len()];
    let mut delay = Duration::from_millis(100);
    loop {
        if let Ok(mut conn) = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            loop {
                let read: redis::RedisResult<redis::Value> = redis::cmd("XREAD")
                    .arg("COUNT")
                    .arg(100)
                    .arg("BLOCK")
                    .arg(5000)
                    .arg("STREAMS")
                    .arg(&streams)
                    .arg(&last)
                    .query_async(&mut conn)
                    .await;
                let Ok(read) = read else {
                    break;
                };
                delay = Duration::from_millis(100);
                for (stream, id, fields) in stream_entries(read) {
                    if let Some(at) = streams.iter().position(|s| s.as_bytes() == &stream[..]) {
                        last[at] = String::from_utf8_lossy(&id).into_owned();
                    }
                    if external.send(External::Entry { id, fields }).await.is_err() {
                        return; // The server stopped.
                    }
                }
            }
        }
        if external.is_closed() {
            return;
        }
        eprintln!("redis stream reader: connection lost, reading again in {delay:?}");
        backoff(&mut delay).await;
    }
}

/// A recovery's reads, as the reference does them: the session taken (`GET` and `DEL` in one
/// transaction) with the client's offset entry (`XRANGE offset offset`), both required; then
/// the entries after it, 100 at a time, at most 100 times.
async fn restore(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
    stream: &str,
    offset: &str,
) -> redis::RedisResult<(Option<Bytes>, Vec<RangeEntry>)> {
    use socketio_proto::cluster::streams::next_entry_id;
    let (session, _): (Option<Vec<u8>>, i64) = redis::pipe()
        .atomic()
        .get(key)
        .del(key)
        .query_async(conn)
        .await?;
    let found: redis::Value = redis::cmd("XRANGE")
        .arg(stream)
        .arg(offset)
        .arg(offset)
        .query_async(conn)
        .await?;
    let (Some(session), false) = (session, range_entries(found).is_empty()) else {
        return Ok((None, Vec::new()));
    };
    let mut entries = Vec::new();
    let mut last = offset.to_owned();
    for _ in 0..100 {
        let Some(start) = next_entry_id(&last) else {
            break;
        };
        let read: redis::Value = redis::cmd("XRANGE")
            .arg(stream)
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(100)
            .query_async(conn)
            .await?;
        let read = range_entries(read);
        let Some((id, _)) = read.last() else {
            break;
        };
        last = String::from_utf8_lossy(id).into_owned();
        entries.extend(read);
    }
    Ok((Some(Bytes::from(session)), entries))
}

/// One entry of a stream range: (id, fields).
pub type RangeEntry = (Bytes, Vec<(Bytes, Bytes)>);

/// The entries of an `XRANGE` reply.
fn range_entries(reply: redis::Value) -> Vec<RangeEntry> {
    let wrapped = redis::Value::Array(vec![redis::Value::Array(vec![
        redis::Value::BulkString(Vec::new()),
        reply,
    ])]);
    stream_entries(wrapped)
        .into_iter()
        .map(|(_, id, fields)| (id, fields))
        .collect()
}

/// One entry of a stream: (stream, id, fields).
type StreamEntry = (Bytes, Bytes, Vec<(Bytes, Bytes)>);

/// The entries of an `XREAD` reply, in order.
fn stream_entries(reply: redis::Value) -> Vec<StreamEntry> {
    use redis::Value;
    fn bytes(value: Value) -> Option<Bytes> {
        match value {
            Value::BulkString(bytes) => Some(Bytes::from(bytes)),
            Value::SimpleString(text) => Some(Bytes::from(text)),
            _ => None,
        }
    }
    fn items(value: Value) -> Vec<Value> {
        match value {
            Value::Array(items) => items,
            Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            _ => Vec::new(),
        }
    }
    let mut out = Vec::new();
    let mut streams = items(reply).into_iter();
    // RESP2: [[stream, entries], …]; RESP3: {stream: entries}.
    while let Some(first) = streams.next() {
        let (stream, entries) = match first {
            Value::Array(pair) => {
                let mut pair = pair.into_iter();
                (pair.next(), pair.next())
            }
            stream => (Some(stream), streams.next()),
        };
        let (Some(stream), Some(entries)) = (stream.and_then(bytes), entries) else {
            continue;
        };
        for entry in items(entries) {
            let mut entry = items(entry).into_iter();
            let (Some(id), Some(fields)) = (entry.next().and_then(bytes), entry.next()) else {
                continue;
            };
            let mut values = items(fields).into_iter();
            let mut fields = Vec::new();
            while let (Some(key), Some(value)) = (values.next(), values.next()) {
                if let (Some(key), Some(value)) = (bytes(key), bytes(value)) {
                    fields.push((key, value));
                }
            }
            out.push((stream.clone(), id, fields));
        }
    }
    out
}

/// The sharded subscriber: its own RESP connection (`SSUBSCRIBE` on a standalone server is
/// not in the `redis` crate), on the fixed channels and the room channels the core wants.
/// Every message goes to the core in order; the connection is made again (and every channel
/// subscribed again) when it drops or Redis sends what is not a Pub/Sub push.
async fn sharded_subscriber(
    address: String,
    fixed: Vec<String>,
    rooms: Arc<RoomChannels>,
    external: mpsc::Sender<External>,
) {
    let mut delay = Duration::from_millis(100);
    loop {
        if let Ok(stream) = tokio::net::TcpStream::connect(&address).await {
            delay = Duration::from_millis(100);
            let (mut read, mut write) = stream.into_split();
            let mut subscribed = BTreeSet::new();
            let mut buf = BytesMut::with_capacity(16 << 10);
            'connection: loop {
                // Follow the wanted channels: one command per channel (a command's channels
                // must share a hash slot on a Redis Cluster).
                let wanted: BTreeSet<String> = {
                    let rooms = rooms.channels.lock().unwrap_or_else(|e| e.into_inner());
                    fixed.iter().cloned().chain(rooms.iter().cloned()).collect()
                };
                let mut commands = Vec::new();
                for channel in wanted.difference(&subscribed) {
                    commands.extend(crate::resp::command(&[b"SSUBSCRIBE", channel.as_bytes()]));
                }
                for channel in subscribed.difference(&wanted) {
                    commands.extend(crate::resp::command(&[b"SUNSUBSCRIBE", channel.as_bytes()]));
                }
                if !commands.is_empty() && write.write_all(&commands).await.is_err() {
                    break;
                }
                subscribed = wanted;
                loop {
                    match crate::resp::next(&mut buf, MAX_MESSAGE) {
                        Ok(Some(value)) => match smessage(value) {
                            Ok(Some(message)) => {
                                if external.send(message).await.is_err() {
                                    return; // The server stopped.
                                }
                                continue;
                            }
                            Ok(None) => continue,
                            Err(err) => {
                                eprintln!("redis subscriber: {err}");
                                break 'connection;
                            }
                        },
                        Ok(None) => {}
                        Err(err) => {
                            eprintln!("redis subscriber: {err}");
                            break 'connection;
                        }
                    }
                    tokio::select! {
                        read = read.read_buf(&mut buf) => {
                            if !matches!(read, Ok(n) if n > 0) {
                                break 'connection;
                            }
                        }
                        () = rooms.changed.notified() => continue 'connection,
                    }
                }
            }
        }
        if external.is_closed() {
            return;
        }
        eprintln!("redis subscriber: connection lost, subscribing again in {delay:?}");
        backoff(&mut delay).await;
    }
}

/// A sharded subscriber's push: `smessage` becomes a message for the core; the
/// confirmations of `SSUBSCRIBE`/`SUNSUBSCRIBE` are nothing; anything else is an error.
fn smessage(value: crate::resp::Value) -> Result<Option<External>, String> {
    use crate::resp::Value;
    let Value::Array(Some(items)) = value else {
        return Err(format!("unexpected reply {value:?}"));
    };
    match items.as_slice() {
        [
            Value::Bulk(Some(kind)),
            Value::Bulk(Some(channel)),
            Value::Bulk(Some(payload)),
        ] if &kind[..] == b"smessage" => Ok(Some(External::Message {
            channel: String::from_utf8_lossy(channel).into_owned(),
            payload: payload.clone(),
        })),
        [Value::Bulk(Some(kind)), ..]
            if &kind[..] == b"ssubscribe" || &kind[..] == b"sunsubscribe" =>
        {
            Ok(None)
        }
        _ => Err(format!("unexpected push {items:?}")),
    }
}

/// Carries out the node's commands in order: publishes messages and asks for server
/// counts (`SPUBLISH` and `PUBSUB SHARDNUMSUB` for the sharded adapter), whose answers go to
/// the server core with the subscriber's messages. A command is retried until Redis takes
/// it.
async fn publisher(
    client: redis::Client,
    mode: Mode,
    mut queue: mpsc::Receiver<Command>,
    external: mpsc::Sender<External>,
) {
    let (publish, numsub) = match mode {
        Mode::Classic | Mode::Streams => ("PUBLISH", "NUMSUB"),
        Mode::Sharded(_) => ("SPUBLISH", "SHARDNUMSUB"),
    };
    let mut connection = None;
    let mut delay = Duration::from_millis(100);
    while let Some(command) = queue.recv().await {
        loop {
            if connection.is_none() {
                connection = client.get_multiplexed_async_connection().await.ok();
            }
            if let Some(conn) = connection.as_mut() {
                let done = match &command {
                    Command::Publish { channel, message } => redis::cmd(publish)
                        .arg(channel)
                        .arg(message)
                        .query_async::<i64>(conn)
                        .await
                        .map(drop),
                    Command::CountServers { request, channel } => {
                        let counted: redis::RedisResult<(String, usize)> = redis::cmd("PUBSUB")
                            .arg(numsub)
                            .arg(channel)
                            .query_async(conn)
                            .await;
                        match counted {
                            Ok((_, count)) => {
                                let request = *request;
                                let count = External::ServerCount { request, count };
                                if external.send(count).await.is_err() {
                                    return; // The server stopped.
                                }
                                Ok(())
                            }
                            Err(err) => Err(err),
                        }
                    }
                    Command::Append {
                        stream,
                        max_len,
                        fields,
                        token,
                    } => {
                        let mut xadd = redis::cmd("XADD");
                        xadd.arg(stream)
                            .arg("MAXLEN")
                            .arg("~")
                            .arg(max_len)
                            .arg("*");
                        for (key, value) in fields {
                            xadd.arg(key).arg(value);
                        }
                        match (xadd.query_async::<String>(conn).await, token) {
                            (Ok(id), Some(token)) => {
                                let token = *token;
                                if external
                                    .send(External::Appended { token, id })
                                    .await
                                    .is_err()
                                {
                                    return;
                                }
                                Ok(())
                            }
                            (result, _) => result.map(drop),
                        }
                    }
                    Command::KeepSession { key, value, ttl } => redis::cmd("SET")
                        .arg(key)
                        .arg(value)
                        .arg("PX")
                        .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
                        .query_async::<redis::Value>(conn)
                        .await
                        .map(drop),
                    Command::Restore {
                        token,
                        key,
                        stream,
                        offset,
                    } => match restore(conn, key, stream, offset).await {
                        Ok((session, entries)) => {
                            let token = *token;
                            let restored = External::Restored {
                                token,
                                session,
                                entries,
                            };
                            if external.send(restored).await.is_err() {
                                return;
                            }
                            Ok(())
                        }
                        Err(err) => Err(err),
                    },
                    // The core hands subscriptions to the subscriber, not here.
                    _ => Ok(()),
                };
                if done.is_ok() {
                    delay = Duration::from_millis(100);
                    break;
                }
                connection = None;
            }
            eprintln!("redis publisher: Redis unavailable, retrying in {delay:?}");
            backoff(&mut delay).await;
        }
    }
}

impl Cluster {
    /// Applies what came from Redis; a `serverSideEmit` from another node comes back for
    /// the app.
    pub(crate) fn handle(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        message: External,
    ) -> Option<ServerSideEmit> {
        let emit = match message {
            External::Message { channel, payload } => {
                self.node.handle(now, endpoint, &channel, payload)
            }
            External::Entry { id, fields } => self.node.handle_entry(now, endpoint, &id, &fields),
            External::Appended { token, id } => {
                self.node.appended(now, endpoint, token, &id);
                None
            }
            External::Restored {
                token,
                session,
                entries,
            } => {
                // Fails only when the client left meanwhile: nothing to answer.
                let _ = self
                    .node
                    .restored(now, endpoint, token, session.as_deref(), &entries);
                None
            }
            External::ServerCount { request, count } => {
                self.node.servers_counted(request, count);
                None
            }
            // Shards' messages are the Socket.IO layer's.
            External::Shard(_) => None,
        };
        self.flush();
        emit
    }

    /// Runs `f` on the node (a local broadcast, a request, an ack, a deadline…), then hands
    /// what it queued to the subscriber and the publisher.
    pub(crate) fn with_node<R>(&mut self, f: impl FnOnce(&mut ClusterNode) -> R) -> R {
        let result = f(&mut self.node);
        self.flush();
        result
    }

    /// Whether connection state recovery goes through Redis.
    pub(crate) fn recovers(&self) -> bool {
        self.node.recovers()
    }

    /// The earliest deadline of this server's pending requests.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.node.poll_timeout()
    }

    /// Hands what the node wants done to the subscriber (room channels) and the publisher.
    fn flush(&mut self) {
        while let Some(message) = self.node.poll_command() {
            let subscription = match &message {
                Command::Subscribe { channel } => Some((channel, true)),
                Command::Unsubscribe { channel } => Some((channel, false)),
                _ => None,
            };
            if let Some((channel, subscribe)) = subscription {
                let mut channels = self
                    .rooms
                    .channels
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if subscribe {
                    channels.insert(channel.clone());
                } else {
                    channels.remove(channel);
                }
                self.rooms.changed.notify_one();
                continue;
            }
            if self.publish.try_send(message).is_err() {
                self.dropped += 1;
                if self.dropped.is_power_of_two() {
                    eprintln!(
                        "redis publisher: queue full ({PUBLISH_QUEUE} messages), {} messages \
                         not published to the other nodes so far",
                        self.dropped
                    );
                }
            }
        }
    }
}

/// Why the [`Emitter`] could not publish.
#[derive(Debug)]
#[non_exhaustive]
pub enum EmitterError {
    /// The packet or the request does not encode.
    Encode(socketio_proto::EncodeError),
    /// Redis refused or is unreachable.
    Redis(redis::RedisError),
}

impl std::fmt::Display for EmitterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Encode(err) => write!(f, "encode: {err}"),
            Self::Redis(err) => write!(f, "redis: {err}"),
        }
    }
}

impl std::error::Error for EmitterError {}

impl From<redis::RedisError> for EmitterError {
    fn from(err: redis::RedisError) -> Self {
        Self::Redis(err)
    }
}

impl From<socketio_proto::EncodeError> for EmitterError {
    fn from(err: socketio_proto::EncodeError) -> Self {
        Self::Encode(err)
    }
}

/// A publish-only member of a classic cluster, as `@socket.io/redis-emitter` 5.1: it emits
/// to the sockets of every node (Rust or Node.js) and asks them to join, leave or disconnect
/// sockets, from any process that reaches Redis. It subscribes to nothing, so it never
/// counts as a server.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use socketio_proto::cluster::BroadcastOptions;
/// use socketio_proto::{Namespace, Packet};
/// use socketio_tokio::cluster::Emitter;
///
/// let mut emitter = Emitter::connect("redis://127.0.0.1:6379", "socket.io").await?;
/// let packet = Packet::event(Namespace::main(), "news", &("hello",), None)?;
/// emitter.emit(&packet, &BroadcastOptions::default()).await?;
/// # Ok(())
/// # }
/// ```
pub struct Emitter {
    connection: redis::aio::MultiplexedConnection,
    key: String,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Emitter {
    /// Connects to Redis; `key` is the cluster's channel prefix (`socket.io` by default).
    pub async fn connect(url: &str, key: &str) -> Result<Emitter, EmitterError> {
        let client = redis::Client::open(url)?;
        let connection = client.get_multiplexed_async_connection().await?;
        Ok(Emitter {
            connection,
            key: key.to_owned(),
        })
    }

    fn channels(&self, namespace: &str) -> Channels {
        Channels::new(&self.key, namespace, "emitter")
    }

    async fn publish(&mut self, channel: &str, message: &[u8]) -> Result<(), EmitterError> {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(message)
            .query_async(&mut self.connection)
            .await?;
        Ok(())
    }

    /// Emits `packet` (an EVENT, to its namespace) to the sockets `opts` selects on every
    /// node.
    pub async fn emit(
        &mut self,
        packet: &Packet,
        opts: &BroadcastOptions,
    ) -> Result<(), EmitterError> {
        let mut message = Vec::new();
        classic::emitter_broadcast(&mut message, packet, opts)?;
        let channel = self.channels(packet.namespace()).broadcast_channel(opts);
        self.publish(&channel, &message).await
    }

    /// Makes the sockets `opts` selects in `namespace` join `rooms`, on every node.
    pub async fn sockets_join(
        &mut self,
        namespace: &str,
        opts: &BroadcastOptions,
        rooms: &[String],
    ) -> Result<(), EmitterError> {
        let request = Request::Join {
            uid: None,
            opts: opts.clone(),
            rooms: rooms.to_vec(),
        };
        self.request(namespace, &request).await
    }

    /// Makes the sockets `opts` selects in `namespace` leave `rooms`, on every node.
    pub async fn sockets_leave(
        &mut self,
        namespace: &str,
        opts: &BroadcastOptions,
        rooms: &[String],
    ) -> Result<(), EmitterError> {
        let request = Request::Leave {
            uid: None,
            opts: opts.clone(),
            rooms: rooms.to_vec(),
        };
        self.request(namespace, &request).await
    }

    /// Disconnects the sockets `opts` selects in `namespace` (with `close`, their whole
    /// connections), on every node.
    pub async fn disconnect_sockets(
        &mut self,
        namespace: &str,
        opts: &BroadcastOptions,
        close: bool,
    ) -> Result<(), EmitterError> {
        let request = Request::Disconnect {
            uid: None,
            opts: opts.clone(),
            close,
        };
        self.request(namespace, &request).await
    }

    /// `serverSideEmit`: `data` (the JSON array `[event, ...args]`) to the servers' own
    /// listeners, without acknowledgements.
    pub async fn server_side_emit(
        &mut self,
        namespace: &str,
        data: &str,
    ) -> Result<(), EmitterError> {
        let request = Request::ServerSideEmit {
            uid: "emitter".to_owned(),
            request_id: None,
            data: data.to_owned(),
        };
        self.request(namespace, &request).await
    }

    async fn request(&mut self, namespace: &str, request: &Request) -> Result<(), EmitterError> {
        let message = request.encode()?;
        let channel = self.channels(namespace).request().to_owned();
        self.publish(&channel, &message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn xread_replies_in_both_protocols() {
        let entry = |id: &str| {
            Value::Array(vec![
                bulk(id),
                Value::Array(vec![bulk("uid"), bulk("a"), bulk("type"), bulk("3")]),
            ])
        };
        let entries = Value::Array(vec![entry("1-0"), entry("1-1")]);
        let resp2 = Value::Array(vec![Value::Array(vec![bulk("socket.io"), entries.clone()])]);
        let resp3 = Value::Map(vec![(bulk("socket.io"), entries)]);
        for reply in [resp2, resp3] {
            let read = stream_entries(reply);
            let ids: Vec<&[u8]> = read.iter().map(|(_, id, _)| &id[..]).collect();
            assert_eq!(ids, [&b"1-0"[..], b"1-1"]);
            assert_eq!(&read[0].0[..], b"socket.io");
            assert_eq!(read[0].2.len(), 2);
            assert_eq!(&read[0].2[1].1[..], b"3");
        }
        assert!(stream_entries(Value::Nil).is_empty());
    }

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
