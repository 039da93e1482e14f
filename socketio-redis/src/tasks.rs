//! The Redis I/O: the subscribers (Pub/Sub, sharded Pub/Sub), the stream reader and the
//! publisher, each reconnecting with a backoff from 100 ms to 5 s.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use socketio_cluster_proto::redis::{RedisCommand, RedisInput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};

use crate::{Feed, MAX_MESSAGE, Mode};

/// The room channels a sharded subscriber should be on, shared with the server.
#[derive(Debug, Default)]
pub(crate) struct RoomChannels {
    pub(crate) channels: Mutex<BTreeSet<String>>,
    pub(crate) changed: Notify,
}

async fn backoff(delay: &mut Duration) {
    tokio::time::sleep(*delay).await;
    *delay = (*delay * 2).min(Duration::from_secs(5));
}

/// Subscribes, forwards every message in order, and starts over when the connection drops.
pub(crate) async fn subscriber(
    client: redis::Client,
    patterns: Vec<String>,
    channels: Vec<String>,
    feed: Feed,
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
                    let message = RedisInput::Message {
                        channel: message.get_channel_name().to_owned(),
                        payload: Bytes::copy_from_slice(message.get_payload_bytes()),
                    };
                    if !feed.send(message) {
                        return; // The server stopped.
                    }
                }
            }
        }
        if feed.is_closed() {
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
pub(crate) async fn stream_reader(client: redis::Client, streams: Vec<String>, feed: Feed) {
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
                    if !feed.send(RedisInput::Entry { id, fields }) {
                        return; // The server stopped.
                    }
                }
            }
        }
        if feed.is_closed() {
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
    use socketio_cluster_proto::streams::next_entry_id;
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
use socketio_cluster_proto::redis::StreamEntry as RangeEntry;

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
pub(crate) async fn sharded_subscriber(
    address: String,
    fixed: Vec<String>,
    rooms: Arc<RoomChannels>,
    feed: Feed,
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
                                if !feed.send(message) {
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
        if feed.is_closed() {
            return;
        }
        eprintln!("redis subscriber: connection lost, subscribing again in {delay:?}");
        backoff(&mut delay).await;
    }
}

/// A sharded subscriber's push: `smessage` becomes a message for the core; the
/// confirmations of `SSUBSCRIBE`/`SUNSUBSCRIBE` are nothing; anything else is an error.
fn smessage(value: crate::resp::Value) -> Result<Option<RedisInput>, String> {
    use crate::resp::Value;
    let Value::Array(Some(items)) = value else {
        return Err(format!("unexpected reply {value:?}"));
    };
    match items.as_slice() {
        [
            Value::Bulk(Some(kind)),
            Value::Bulk(Some(channel)),
            Value::Bulk(Some(payload)),
        ] if &kind[..] == b"smessage" => Ok(Some(RedisInput::Message {
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
pub(crate) async fn publisher(
    client: redis::Client,
    mode: Mode,
    mut queue: mpsc::Receiver<RedisCommand>,
    feed: Feed,
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
                    RedisCommand::Publish { channel, message } => redis::cmd(publish)
                        .arg(channel)
                        .arg(message)
                        .query_async::<i64>(conn)
                        .await
                        .map(drop),
                    RedisCommand::CountServers { query, channel } => {
                        let counted: redis::RedisResult<(String, usize)> = redis::cmd("PUBSUB")
                            .arg(numsub)
                            .arg(channel)
                            .query_async(conn)
                            .await;
                        match counted {
                            Ok((_, count)) => {
                                let query = *query;
                                let count = RedisInput::Counted { query, count };
                                if !feed.send(count) {
                                    return; // The server stopped.
                                }
                                Ok(())
                            }
                            Err(err) => Err(err),
                        }
                    }
                    RedisCommand::Append {
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
                                if !feed.send(RedisInput::Appended { token, id }) {
                                    return;
                                }
                                Ok(())
                            }
                            (result, _) => result.map(drop),
                        }
                    }
                    RedisCommand::KeepSession { key, value, ttl } => redis::cmd("SET")
                        .arg(key)
                        .arg(value)
                        .arg("PX")
                        .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
                        .query_async::<redis::Value>(conn)
                        .await
                        .map(drop),
                    RedisCommand::Restore {
                        token,
                        key,
                        stream,
                        offset,
                    } => match restore(conn, key, stream, offset).await {
                        Ok((session, entries)) => {
                            let token = *token;
                            let restored = RedisInput::Restored {
                                token,
                                session,
                                entries,
                            };
                            if !feed.send(restored) {
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
}
