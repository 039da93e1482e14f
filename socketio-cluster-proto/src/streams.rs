//! The Redis-streams adapter (`@socket.io/redis-streams-adapter` 0.3, ADAPTERS.md §4): where
//! its messages go, how it keeps sessions, and [`StreamsWire`].
//!
//! Durable messages (broadcasts without acknowledgements, `socketsJoin`, `socketsLeave`,
//! `disconnectSockets`) are entries of a Redis stream shared by every namespace
//! (`XADD ‹stream› MAXLEN ~ ‹maxLen› * uid … nsp … type "3" data …`), which every node
//! reads (`XREAD`); the others (requests and their answers) are [`envelope`](super::envelope)s
//! in msgpack on the same Pub/Sub channels as the sharded adapter's
//! ([`sharded::Channels`](super::sharded::Channels)), with `SUBSCRIBE` and `PUBLISH`; the
//! server count is `PUBSUB NUMSUB` of the namespace's channel. With connection state
//! recovery ([`StreamsOptions::recovery`]), broadcasts carry their entry ids as offsets and
//! sessions are kept in Redis, so a client recovers on any node.
//!
//! ```
//! use socketio_cluster_proto::streams::StreamsOptions;
//!
//! let options = StreamsOptions::default();
//! assert_eq!(options.stream_for("/chat"), "socket.io");
//! let four = StreamsOptions { stream_count: 4, ..StreamsOptions::default() };
//! assert_eq!(four.stream_for("/chat"), "socket.io-3");
//! // The reference's hash is negative here, and so is its stream's number.
//! assert_eq!(four.stream_for("/notifications"), "socket.io--3");
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use socketio_proto::Limits;
use socketio_proto::server::{KeptSession, Local, QueryError, QueryId, RecoveryRequest};

use crate::ClusterMessage;
use crate::envelope::Envelope;
use crate::redis::{RedisCommand, RedisInput, StreamEntry, field};
use crate::sharded::{Channels, SubscriptionMode, decode_envelope, envelope_channel};
use crate::wire::{Decoded, Destination, Member, Restoring, Wire};

/// The adapter's options (the reference's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsOptions {
    /// `streamName`: `socket.io`.
    pub stream_name: String,
    /// `streamCount`: 1. With more, namespace ‹N› uses `‹streamName›-‹hash(N) % count›`.
    pub stream_count: u32,
    /// `maxLen`: each `XADD` trims the stream to about this many entries (10 000).
    pub max_len: u64,
    /// Connection state recovery across nodes: the server's `maxDisconnectionDuration`, how
    /// long a disconnected socket's session is kept in Redis; `None` (the default) when the
    /// server has no recovery. With it, broadcasts carry their stream entry id as their offset
    /// and sessions go to Redis.
    pub recovery: Option<Duration>,
    /// `sessionKeyPrefix`: the sessions' keys are this and the pid (`sio:session:`).
    pub session_key_prefix: String,
}

impl Default for StreamsOptions {
    fn default() -> Self {
        StreamsOptions {
            stream_name: "socket.io".to_owned(),
            stream_count: 1,
            max_len: 10_000,
            recovery: None,
            session_key_prefix: "sio:session:".to_owned(),
        }
    }
}

impl StreamsOptions {
    /// The stream of namespace `nsp`, as the reference names it: its Java-style string hash
    /// over UTF-16 units, wrapped to 32 bits, with JavaScript's remainder (negative for a
    /// negative hash: such a stream is written but read by no Node.js node, ADAPTERS.md §8.13).
    pub fn stream_for(&self, nsp: &str) -> String {
        if self.stream_count <= 1 {
            return self.stream_name.clone();
        }
        let hash = nsp.encode_utf16().fold(0i32, |h, unit| {
            h.wrapping_mul(31).wrapping_add(i32::from(unit))
        });
        let count = i64::from(self.stream_count);
        format!("{}-{}", self.stream_name, i64::from(hash) % count)
    }

    /// The streams every node reads: `‹streamName›`, or `‹streamName›-0` … `-‹count−1›`.
    pub fn streams(&self) -> Vec<String> {
        if self.stream_count <= 1 {
            return vec![self.stream_name.clone()];
        }
        (0..self.stream_count)
            .map(|i| format!("{}-{i}", self.stream_name))
            .collect()
    }
}

/// Whether `offset` is a stream entry id (`‹ms›-‹seq›`), the only offsets the reference
/// restores from.
pub fn is_entry_id(offset: &str) -> bool {
    entry_id(offset).is_some()
}

/// `‹ms›-‹seq›` as numbers.
pub(crate) fn entry_id(offset: &str) -> Option<(u64, u64)> {
    let (ms, seq) = offset.split_once('-')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(ms) || !digits(seq) {
        return None;
    }
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// The first entry id after `offset`, as the reference computes the inclusive start of its
/// `XRANGE` (`‹ms›-‹seq+1›`).
pub fn next_entry_id(offset: &str) -> Option<String> {
    let (ms, seq) = entry_id(offset)?;
    Some(match seq.checked_add(1) {
        Some(seq) => format!("{ms}-{seq}"),
        None => format!("{}-0", ms.checked_add(1)?),
    })
}

/// A session as the streams adapter keeps it in Redis: base64 of msgpack
/// `{sid, pid, rooms, data}` (`data` is `{}` when the socket has none).
pub fn encode_session(session: &KeptSession) -> Vec<u8> {
    use base64::Engine as _;
    use socketio_proto::msgpack::embed;
    let mut out = Vec::new();
    out.extend_from_slice(b"\x84\xa3sid");
    let _ = embed::write_str(&mut out, &session.sid);
    out.extend_from_slice(b"\xa3pid");
    let _ = embed::write_str(&mut out, &session.pid);
    out.extend_from_slice(b"\xa5rooms");
    let _ = embed::write_array_header(&mut out, session.rooms.len());
    for room in &session.rooms {
        let _ = embed::write_str(&mut out, room);
    }
    out.extend_from_slice(b"\xa4data");
    let written = match &session.data {
        Some(data) => socketio_proto::msgpack::to_writer(&mut out, data).is_ok(),
        None => false,
    };
    if !written {
        out.push(0x80);
    }
    base64::engine::general_purpose::STANDARD
        .encode(out)
        .into_bytes()
}

/// A session read back from Redis; `None` when it is not one. A `data` that is `{}` or not
/// readable comes back as `None`.
pub fn decode_session(value: &[u8]) -> Option<KeptSession> {
    use base64::Engine as _;
    use socketio_proto::msgpack::embed::{Reader, Token};
    let bytes = bytes::Bytes::from(
        base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()?,
    );
    let mut reader = Reader::new(&bytes);
    let Token::Map(n) = reader.next().ok()? else {
        return None;
    };
    let text = |token: Token<'_>| match token {
        Token::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
        _ => None,
    };
    let depth = Limits::default().max_json_depth;
    let (mut sid, mut pid, mut rooms, mut data) = (None, None, Vec::new(), None);
    for _ in 0..n {
        match reader.next().ok()? {
            Token::Str(b"sid") => sid = text(reader.next().ok()?),
            Token::Str(b"pid") => pid = text(reader.next().ok()?),
            Token::Str(b"rooms") => {
                let Token::Array(count) = reader.next().ok()? else {
                    return None;
                };
                for _ in 0..count {
                    rooms.extend(text(reader.skip(depth).ok()?));
                }
            }
            Token::Str(b"data") => {
                // As the JSON of what a Node.js node restores (a `Buffer` as
                // `{"type":"Buffer","data":[…]}`, a `Date` as its ISO string).
                let start = reader.offset();
                reader.skip(depth).ok()?;
                let limits = Limits::default();
                let dialect = socketio_proto::msgpack::embed::Dialect::ClusterJson;
                data = crate::envelope::to_json(&bytes, reader.since(start), &limits, dialect)
                    .ok()
                    .and_then(|(json, _)| serde_json::from_str::<serde_json::Value>(&json).ok())
                    .filter(|data| data.as_object().is_none_or(|fields| !fields.is_empty()));
            }
            _ => {
                reader.skip(depth).ok()?;
            }
        }
    }
    Some(KeptSession {
        sid: sid?,
        pid: pid?,
        rooms,
        data,
    })
}

/// The fields of a stream entry, in order ([`RedisCommand::Append`]).
type EntryFields = Vec<(&'static str, Vec<u8>)>;

/// The streams adapter's wire: durable messages as entries of its stream, the others as
/// msgpack envelopes on Pub/Sub.
#[derive(Debug)]
pub struct StreamsWire {
    prefix: String,
    options: StreamsOptions,
    channels: Vec<Channels>,
    limits: Limits,
    commands: VecDeque<RedisCommand>,
}

impl StreamsWire {
    /// The wire of a cluster whose channel prefix is `prefix` (`socket.io` by default), its
    /// streams named by `options`.
    pub fn new(prefix: &str, options: StreamsOptions) -> StreamsWire {
        StreamsWire {
            prefix: prefix.to_owned(),
            options,
            channels: Vec::new(),
            limits: Limits::default(),
            commands: VecDeque::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &StreamsOptions {
        &self.options
    }

    /// The channels to `SUBSCRIBE` at start (and again after a reconnection).
    pub fn subscriptions(&self) -> Vec<String> {
        self.channels
            .iter()
            .flat_map(|c| c.subscriptions().map(str::to_owned))
            .collect()
    }

    /// The entry of a durable message (`uid`, `nsp`, `type`, `data`), or `None` for the
    /// messages that travel on Pub/Sub.
    fn entry(member: &Member, message: &ClusterMessage) -> Result<Option<EntryFields>, QueryError> {
        let durable = match message {
            ClusterMessage::Broadcast { request_id, .. } => request_id.is_none(),
            ClusterMessage::SocketsJoin { .. }
            | ClusterMessage::SocketsLeave { .. }
            | ClusterMessage::DisconnectSockets { .. } => true,
            _ => false,
        };
        if !durable {
            return Ok(None);
        }
        let envelope = Envelope::new(&member.uid, member.namespace.as_str(), message.clone());
        let kind = envelope.kind().ok_or(QueryError::Unsupported)?;
        Ok(Some(vec![
            ("uid", member.uid.clone().into_bytes()),
            ("nsp", member.namespace.as_str().as_bytes().to_vec()),
            ("type", kind.to_string().into_bytes()),
            ("data", envelope.entry_data()?),
        ]))
    }

    fn append(&mut self, member: &Member, fields: EntryFields, token: Option<u64>) {
        self.commands.push_back(RedisCommand::Append {
            stream: self.options.stream_for(member.namespace.as_str()),
            max_len: self.options.max_len,
            fields,
            token,
        });
    }

    /// An entry of the stream: a message of another node, its id as its offset.
    fn decode_entry(
        &self,
        members: &[Member],
        id: &[u8],
        fields: &[(Bytes, Bytes)],
    ) -> Option<Decoded> {
        let nsp = field(fields, b"nsp")?;
        let at = members
            .iter()
            .position(|m| m.namespace.as_str().as_bytes() == nsp)?;
        let (uid, kind) = (field(fields, b"uid")?, field(fields, b"type")?);
        let data = field(fields, b"data");
        let envelope = Envelope::decode_entry(uid, nsp, kind, data, &self.limits).ok()??;
        if envelope.uid == members[at].uid {
            return None;
        }
        let offset = matches!(envelope.message, ClusterMessage::Broadcast { .. })
            .then(|| String::from_utf8_lossy(id).into_owned());
        Some(Decoded::Message {
            namespace: members[at].namespace.clone(),
            from: envelope.uid,
            message: envelope.message,
            offset,
        })
    }

    /// What Redis had for a recovery: the session and the broadcasts after the offset.
    fn restored(&self, token: u64, session: Option<Bytes>, entries: Vec<StreamEntry>) -> Decoded {
        let session = session.as_deref().and_then(decode_session);
        let mut missed = Vec::new();
        for (id, fields) in entries.iter().filter(|_| session.is_some()) {
            let (Some(uid), Some(nsp), Some(b"3"), Some(data)) = (
                field(fields, b"uid"),
                field(fields, b"nsp"),
                field(fields, b"type"),
                field(fields, b"data"),
            ) else {
                continue;
            };
            let Ok(Some(envelope)) =
                Envelope::decode_entry(uid, nsp, b"3", Some(data), &self.limits)
            else {
                continue;
            };
            if let ClusterMessage::Broadcast {
                packet,
                opts,
                request_id: None,
            } = envelope.message
            {
                missed.push((String::from_utf8_lossy(id).into_owned(), packet, opts));
            }
        }
        Decoded::Restored {
            token,
            session,
            missed,
        }
    }
}

impl Wire for StreamsWire {
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
        if let (Destination::All, Some(fields)) = (to, Self::entry(member, message)?) {
            self.append(member, fields, None);
            return Ok(());
        }
        let channels = &self.channels[member.index];
        let channel = envelope_channel(channels, message, to, SubscriptionMode::Static);
        let envelope = Envelope::new(&member.uid, member.namespace.as_str(), message.clone());
        let mut bytes = Vec::new();
        envelope.write_msgpack(&mut bytes)?;
        self.commands.push_back(RedisCommand::Publish {
            channel,
            message: bytes,
        });
        Ok(())
    }

    fn send_durable(
        &mut self,
        member: &Member,
        message: &ClusterMessage,
        token: u64,
    ) -> Result<Option<String>, QueryError> {
        match Self::entry(member, message)? {
            Some(fields) => {
                self.append(member, fields, Some(token));
                Ok(None)
            }
            None => self.send(member, message, Destination::All).map(|()| None),
        }
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
            RedisInput::Entry { id, fields } => self.decode_entry(members, &id, &fields),
            RedisInput::Counted { query, count } => Some(Decoded::Counted { query, count }),
            RedisInput::Appended { token, id } => Some(Decoded::Appended { token, offset: id }),
            RedisInput::Restored {
                token,
                session,
                entries,
            } => Some(self.restored(token, session, entries)),
        }
    }

    fn poll_command(&mut self) -> Option<RedisCommand> {
        self.commands.pop_front()
    }

    fn recovery(&self) -> Option<Duration> {
        self.options.recovery
    }

    fn keep_session(&mut self, _member: &Member, session: &KeptSession) {
        let Some(ttl) = self.options.recovery else {
            return;
        };
        self.commands.push_back(RedisCommand::KeepSession {
            key: format!("{}{}", self.options.session_key_prefix, session.pid),
            value: encode_session(session),
            ttl,
        });
    }

    fn restore_session(
        &mut self,
        member: &Member,
        wanted: &RecoveryRequest,
        token: u64,
    ) -> Restoring {
        if self.options.recovery.is_none() || !is_entry_id(&wanted.offset) {
            return Restoring::Fresh;
        }
        self.commands.push_back(RedisCommand::Restore {
            token,
            key: format!("{}{}", self.options.session_key_prefix, wanted.pid),
            stream: self.options.stream_for(member.namespace.as_str()),
            offset: wanted.offset.clone(),
        });
        Restoring::Later
    }
}
