//! [`Limits`]: the bounds on what a peer may make us buffer.

/// Resource limits, each enforced before anything is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest attachment count a binary header may declare. Default 10, the reference's
    /// `maxAttachments`.
    pub max_attachments: usize,
    /// Largest total size of one packet's attachments, in bytes. Default 1 000 000, the
    /// Engine.IO `maxPayload` default, so a packet's attachments together weigh no more than
    /// one maximal Engine.IO message. The reference has no such limit.
    pub max_attachment_bytes: usize,
    /// Deepest nesting of a payload's JSON, in levels: each array and object is one, so
    /// `["a",[1]]` has two, and a binary counts as the placeholder object it becomes.
    ///
    /// * A binary text packet is checked against it (its placeholder check recurses).
    /// * A msgpack packet is checked against it as its JSON view will nest: each array and
    ///   map one level (a map key that is an array or a map too, though it becomes a
    ///   string), a binary one more, an extension two (`[type, placeholder]`); the Redis
    ///   adapters' msgpack messages too.
    /// * A plain text packet is not: it is checked without recursion and accepts any depth,
    ///   as `JSON.parse` does.
    ///
    /// Default 127, the deepest nesting serde_json reads back. With it, every packet a
    /// decoder accepts (but a plain text packet nested deeper) can be read with
    /// [`Packet::args`](crate::Packet::args) and [`Packet::data`](crate::Packet::data) and
    /// re-encoded in either format ([`Packet::write_msgpack`](crate::Packet::write_msgpack)
    /// transcodes the JSON through serde_json); a larger value lets the decoders accept
    /// payloads that those then refuse. Keep it modest: the walks use the stack.
    pub max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_attachments: 10,
            max_attachment_bytes: 1_000_000,
            max_json_depth: 127,
        }
    }
}
