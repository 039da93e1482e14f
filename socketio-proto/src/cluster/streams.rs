//! The Redis-streams adapter (`@socket.io/redis-streams-adapter` 0.3): where its messages go.
//!
//! Durable messages (broadcasts without acknowledgements, `socketsJoin`, `socketsLeave`,
//! `disconnectSockets`) are entries of a Redis stream shared by every namespace
//! (`XADD ‹stream› MAXLEN ~ ‹maxLen› * uid … nsp … type "3" data …`), which every node
//! reads (`XREAD`); the others (requests and their answers) are [`envelope`](super::envelope)s
//! in msgpack on the same Pub/Sub channels as the sharded adapter's
//! ([`sharded::Channels`](super::sharded::Channels)), with `SUBSCRIBE` and `PUBLISH`.
//!
//! ```
//! use socketio_proto::cluster::streams::StreamsOptions;
//!
//! let options = StreamsOptions::default();
//! assert_eq!(options.stream_for("/chat"), "socket.io");
//! let four = StreamsOptions { stream_count: 4, ..StreamsOptions::default() };
//! assert_eq!(four.stream_for("/chat"), "socket.io-3");
//! // The reference's hash is negative here, and so is its stream's number.
//! assert_eq!(four.stream_for("/notifications"), "socket.io--3");
//! ```

use crate::session::endpoint::KeptSession;

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
    /// and sessions go to Redis (the endpoint must use
    /// [`use_external_recovery`](crate::session::endpoint::Endpoint::use_external_recovery),
    /// which [`ClusterNode::attach`](super::ClusterNode::attach) calls).
    pub recovery: Option<std::time::Duration>,
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
    use crate::msgpack::write;
    use base64::Engine as _;
    let mut out = Vec::new();
    out.extend_from_slice(b"\x84\xa3sid");
    let _ = write::str(&mut out, &session.sid);
    out.extend_from_slice(b"\xa3pid");
    let _ = write::str(&mut out, &session.pid);
    out.extend_from_slice(b"\xa5rooms");
    let _ = write::array_header(&mut out, session.rooms.len());
    for room in &session.rooms {
        let _ = write::str(&mut out, room);
    }
    out.extend_from_slice(b"\xa4data");
    let written = match &session.data {
        Some(data) => crate::msgpack::to_writer(&mut out, data).is_ok(),
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
    use crate::msgpack::read::{Reader, Token};
    use base64::Engine as _;
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
    let depth = crate::Limits::default().max_json_depth;
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
                let limits = crate::Limits::default();
                let dialect = crate::msgpack::to_json::Dialect::ClusterJson;
                data = super::envelope::to_json(&bytes, reader.since(start), &limits, dialect)
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
