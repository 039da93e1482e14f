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

/// The adapter's options that decide where messages go (the reference's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsOptions {
    /// `streamName`: `socket.io`.
    pub stream_name: String,
    /// `streamCount`: 1. With more, namespace ‹N› uses `‹streamName›-‹hash(N) % count›`.
    pub stream_count: u32,
    /// `maxLen`: each `XADD` trims the stream to about this many entries (10 000).
    pub max_len: u64,
}

impl Default for StreamsOptions {
    fn default() -> Self {
        StreamsOptions {
            stream_name: "socket.io".to_owned(),
            stream_count: 1,
            max_len: 10_000,
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
