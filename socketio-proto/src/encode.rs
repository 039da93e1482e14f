//! Encoding: the text header written into a caller buffer, and [`EncodedPacket`], a packet
//! encoded once and sent to any number of receivers.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::Utf8Bytes;
use crate::packet::Packet;

impl Packet {
    /// Appends the text header `type [count "-"] [nsp ","] [ack-id]` to `out`, exactly as the
    /// reference encoder writes it: EVENT/ACK with attachments become types 5/6, the main
    /// namespace `/` is omitted, and any other namespace is followed by `,` even when nothing
    /// follows. The JSON payload ([`raw_json`](Self::raw_json)) comes right after the header;
    /// send the two together (or use [`encode`](Self::encode)) without copying the JSON.
    pub fn write_header(&self, out: &mut Vec<u8>) {
        let wire_type = self.packet_type.on_wire(!self.attachments.is_empty());
        out.push(b'0' + wire_type.digit());
        if wire_type.is_binary() {
            push_decimal(out, self.attachments.len() as u64);
            out.push(b'-');
        }
        if !self.namespace.is_main() {
            out.extend_from_slice(self.namespace.wire().as_bytes());
            out.push(b',');
        }
        if let Some(id) = self.ack_id {
            push_decimal(out, id.get());
        }
    }

    /// Encodes the packet: a small header plus the payload and attachments shared, not copied.
    pub fn encode(&self) -> EncodedPacket {
        let mut header = Vec::with_capacity(8 + self.namespace.wire().len());
        self.write_header(&mut header);
        EncodedPacket {
            header: Bytes::from(header),
            json: self.data.clone(),
            attachments: self.attachments.iter().cloned().collect(),
            text: Arc::default(),
        }
    }
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// An encoded packet: one Socket.IO text message (header followed by the JSON payload) and
/// its binary attachments, each to be sent as its own Engine.IO binary message right after the
/// text, in order.
///
/// Cloning is cheap (reference counts only), so a broadcast encodes once and clones per
/// receiver. The one-buffer text of [`to_text`](Self::to_text) is built on first use and shared
/// by every clone.
#[derive(Debug, Clone)]
pub struct EncodedPacket {
    header: Bytes,
    json: Option<Utf8Bytes>,
    attachments: Arc<[Bytes]>,
    text: Arc<OnceLock<Utf8Bytes>>,
}

impl PartialEq for EncodedPacket {
    fn eq(&self, other: &Self) -> bool {
        (&self.header, &self.json, &self.attachments)
            == (&other.header, &other.json, &other.attachments)
    }
}

impl Eq for EncodedPacket {}

impl EncodedPacket {
    /// The text header (ASCII except for the namespace, which is UTF-8).
    pub fn header(&self) -> &[u8] {
        &self.header
    }

    /// The JSON payload that follows the header, if any.
    pub fn json(&self) -> Option<&Utf8Bytes> {
        self.json.as_ref()
    }

    /// Length of the text message in bytes.
    pub fn text_len(&self) -> usize {
        self.header.len() + self.json.as_ref().map_or(0, Utf8Bytes::len)
    }

    /// Appends the whole text message to `out` (for instance right after the Engine.IO `4`).
    pub fn write_text(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.header);
        if let Some(json) = &self.json {
            out.extend_from_slice(json.as_bytes());
        }
    }

    /// The text message as one buffer. The first call on a packet (or any of its clones)
    /// copies the JSON behind the header; later calls share that buffer.
    pub fn to_text(&self) -> Utf8Bytes {
        self.text
            .get_or_init(|| {
                let bytes = match &self.json {
                    None => self.header.clone(),
                    Some(_) => {
                        let mut text = Vec::with_capacity(self.text_len());
                        self.write_text(&mut text);
                        Bytes::from(text)
                    }
                };
                // Header and JSON are both UTF-8, so the fallback is never taken.
                Utf8Bytes::try_from_bytes(bytes).unwrap_or_default()
            })
            .clone()
    }

    /// The binary attachments, in placeholder order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }
}
