//! What the three Redis wires ([`ClassicWire`](crate::classic::ClassicWire),
//! [`ShardedWire`](crate::sharded::ShardedWire), [`StreamsWire`](crate::streams::StreamsWire))
//! ask of Redis and what their driver half hands back: one command set and one input set, so
//! one Redis driver serves the three.

use std::time::Duration;

use bytes::Bytes;
use socketio_proto::server::QueryId;

/// One entry of a stream: (id, fields).
pub type StreamEntry = (Bytes, Vec<(Bytes, Bytes)>);

/// What a Redis wire asks of Redis, in order. The Pub/Sub commands are named for the classic
/// and streams adapters; the sharded wire's are their sharded forms (`SPUBLISH`,
/// `SSUBSCRIBE`, `SUNSUBSCRIBE`, `PUBSUB SHARDNUMSUB`): see [`sharded`](Self::Publish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisCommand {
    /// `PUBLISH channel message` (sharded: `SPUBLISH`).
    Publish {
        /// The channel.
        channel: String,
        /// The bytes.
        message: Vec<u8>,
    },
    /// `PUBSUB NUMSUB channel` (sharded: `PUBSUB SHARDNUMSUB`): the servers of the namespace,
    /// this one included; hand the count back as [`RedisInput::Counted`].
    CountServers {
        /// The query that waits for the count.
        query: QueryId,
        /// The namespace's channel the servers listen on.
        channel: String,
    },
    /// Subscribe the subscriber connection to `channel` (sharded, dynamic modes: a room
    /// appeared here).
    Subscribe {
        /// The room's channel.
        channel: String,
    },
    /// Unsubscribe from `channel`: the room emptied.
    Unsubscribe {
        /// The room's channel.
        channel: String,
    },
    /// `XADD stream MAXLEN ~ max_len * field value …` (the streams adapter's durable
    /// messages); with a `token`, hand the entry id back as [`RedisInput::Appended`].
    Append {
        /// The stream.
        stream: String,
        /// The approximate length to trim the stream to.
        max_len: u64,
        /// The entry's fields, in order: `uid`, `nsp`, `type`, `data`.
        fields: Vec<(&'static str, Vec<u8>)>,
        /// Set when this server waits for the entry's id.
        token: Option<u64>,
    },
    /// `SET key value PX ttl`: a disconnected socket's session, for recovery on any node.
    KeepSession {
        /// `‹sessionKeyPrefix›‹pid›`.
        key: String,
        /// The session.
        value: Vec<u8>,
        /// How long Redis keeps it.
        ttl: Duration,
    },
    /// A recovery: `MULTI GET key DEL key EXEC` and `XRANGE stream offset offset`; when both
    /// found something, the entries after `offset` (`XRANGE stream ‹next id› + COUNT 100`,
    /// at most 100 times). Hand the result back as [`RedisInput::Restored`].
    Restore {
        /// The recovery.
        token: u64,
        /// The session's key.
        key: String,
        /// The stream.
        stream: String,
        /// The client's offset, a stream entry id.
        offset: String,
    },
}

/// What a Redis driver hands its wire: what arrived, and the answers to its commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisInput {
    /// A message published on a channel the node listens to.
    Message {
        /// The channel it was published on.
        channel: String,
        /// Its bytes.
        payload: Bytes,
    },
    /// An entry of a stream the node reads (the streams adapter).
    Entry {
        /// Its id (`‹ms›-‹seq›`).
        id: Bytes,
        /// The fields and their values, as read.
        fields: Vec<(Bytes, Bytes)>,
    },
    /// The answer to [`RedisCommand::CountServers`].
    Counted {
        /// The query.
        query: QueryId,
        /// The servers, this one included (0 when Redis did not answer).
        count: usize,
    },
    /// The id Redis gave an entry appended with a token ([`RedisCommand::Append`]).
    Appended {
        /// The token.
        token: u64,
        /// The entry id.
        id: String,
    },
    /// The answer to [`RedisCommand::Restore`].
    Restored {
        /// The recovery.
        token: u64,
        /// The session, when it and the client's offset were both there.
        session: Option<Bytes>,
        /// The entries after the offset.
        entries: Vec<StreamEntry>,
    },
}

/// The value of `name` among an entry's fields.
pub(crate) fn field<'a>(fields: &'a [(Bytes, Bytes)], name: &[u8]) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(key, _)| &key[..] == name)
        .map(|(_, value)| &value[..])
}
