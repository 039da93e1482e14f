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
    /// Deepest JSON nesting accepted in a binary packet, whose placeholder check recurses.
    /// Default 128, serde_json's own recursion limit (which also bounds the typed reads of
    /// [`Packet::args`](crate::Packet::args) and [`Packet::data`](crate::Packet::data)). Plain packets are checked without recursion
    /// and accept any depth, as `JSON.parse` does. Keep it modest: the walk uses the stack.
    pub max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_attachments: 10,
            max_attachment_bytes: 1_000_000,
            max_json_depth: 128,
        }
    }
}
