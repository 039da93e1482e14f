//! Encoding: the text header written into a caller buffer, and [`EncodedPacket`], a packet
//! encoded once and sent to any number of receivers.

use bytes::Bytes;

use crate::Parser;
use crate::Utf8Bytes;
use crate::error::EncodeError;
use crate::msgpack::Side;
use crate::packet::Packet;

impl Packet {
    /// Appends the text header `type [count "-"] [nsp ","] [ack-id]` to `out`, exactly as the
    /// reference encoder writes it: EVENT/ACK with attachments become types 5/6, the main
    /// namespace `/` is omitted, and any other namespace is followed by `,` even when nothing
    /// follows. The JSON payload ([`raw_json`](Self::raw_json)) comes right after the header;
    /// send the two together (or use [`write_text`](Self::write_text)) without copying the
    /// JSON.
    pub fn write_header(&self, out: &mut Vec<u8>) {
        self.header_into(out);
    }

    /// Appends the whole text message (header, then JSON) to `out`: with a reused buffer,
    /// encoding allocates nothing.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        self.header_into(out);
        if let Some(json) = &self.data {
            out.extend_from_slice(json.as_bytes());
        }
    }

    /// Length of the text message in bytes.
    pub fn text_len(&self) -> usize {
        let wire_type = self.packet_type.on_wire(!self.attachments.is_empty());
        let mut len = 1;
        if wire_type.is_binary() {
            len += decimal_len(self.attachments.len() as u64) + 1;
        }
        if !self.namespace.is_main() {
            len += self.namespace.wire().len() + 1;
        }
        if let Some(id) = self.ack_id {
            len += decimal_len(id.get());
        }
        len + self.data.as_ref().map_or(0, Utf8Bytes::len)
    }

    /// Encodes the packet into one text buffer (the only allocation) and shares the
    /// attachments, which are cloned by reference count; the attachment list itself is a
    /// second allocation for binary packets, which [`into_encoded`](Self::into_encoded) saves.
    pub fn encode(&self) -> EncodedPacket {
        EncodedPacket::Text {
            frame: self.frame(),
            attachments: self.attachments.clone(),
        }
    }

    /// [`encode`](Self::encode), consuming the packet: its attachment list moves into the
    /// encoded packet, so encoding allocates exactly once (the text).
    pub fn into_encoded(self) -> EncodedPacket {
        EncodedPacket::Text {
            frame: self.frame(),
            attachments: self.attachments,
        }
    }

    /// Encodes the packet in `parser`'s wire format, as `side` writes it (only the msgpack
    /// format depends on the side). The text format cannot fail.
    pub fn encode_as(&self, parser: Parser, side: Side) -> Result<EncodedPacket, EncodeError> {
        match parser {
            Parser::Text => Ok(self.encode()),
            Parser::Msgpack => self.encode_msgpack(side),
        }
    }

    /// The Engine.IO message frame: `4`, then the text. Exactly sized, so that the `Bytes`
    /// takes the buffer over without another allocation.
    fn frame(&self) -> Utf8Bytes {
        let mut text = String::with_capacity(1 + self.text_len());
        text.push('4');
        self.header_into(&mut text);
        if let Some(json) = &self.data {
            text.push_str(json.as_str());
        }
        debug_assert_eq!(text.len(), text.capacity());
        Utf8Bytes::from(text)
    }

    fn header_into(&self, out: &mut impl TextSink) {
        let wire_type = self.packet_type.on_wire(!self.attachments.is_empty());
        out.push_ascii(b'0' + wire_type.digit());
        if wire_type.is_binary() {
            push_decimal(out, self.attachments.len() as u64);
            out.push_ascii(b'-');
        }
        if !self.namespace.is_main() {
            out.push_text(self.namespace.wire());
            out.push_ascii(b',');
        }
        if let Some(id) = self.ack_id {
            push_decimal(out, id.get());
        }
    }
}

/// Where a header is written: a byte buffer or a `String`.
trait TextSink {
    fn push_ascii(&mut self, byte: u8);
    fn push_text(&mut self, text: &str);
}

impl TextSink for Vec<u8> {
    fn push_ascii(&mut self, byte: u8) {
        self.push(byte);
    }
    fn push_text(&mut self, text: &str) {
        self.extend_from_slice(text.as_bytes());
    }
}

impl TextSink for String {
    fn push_ascii(&mut self, byte: u8) {
        self.push(char::from(byte));
    }
    fn push_text(&mut self, text: &str) {
        self.push_str(text);
    }
}

fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

fn push_decimal(out: &mut impl TextSink, mut n: u64) {
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
    for &digit in &digits[start..] {
        out.push_ascii(digit);
    }
}

/// An encoded packet, ready for any number of receivers: cloning shares the buffers
/// (reference counts), so a broadcast encodes once and hands the same bytes to everyone.
///
/// In the text format it is one Socket.IO text message (header followed by the JSON payload)
/// and its binary attachments, each to be sent as its own Engine.IO binary message right
/// after the text, in order. The text is stored in its Engine.IO message frame form (`4` +
/// text), so the WebSocket frame needs no copy either. In the msgpack format it is one
/// Engine.IO binary message. [`EncodedPacket::messages`] lists what to send, in order, for
/// either format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodedPacket {
    /// The text format.
    Text {
        /// The Engine.IO message frame: `4` followed by the Socket.IO text.
        frame: Utf8Bytes,
        /// The binary attachments, in placeholder order.
        attachments: Vec<Bytes>,
    },
    /// The msgpack format: one binary message.
    Msgpack(Bytes),
}

/// One Engine.IO message of an [`EncodedPacket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message, as its Engine.IO frame (`4` + text): hand a clone to
    /// [`ServerSession::send_text_frame`](engineio_proto::session::server::ServerSession::send_text_frame).
    TextFrame(&'a Utf8Bytes),
    /// A binary message.
    Binary(&'a Bytes),
}

impl EncodedPacket {
    /// The Socket.IO text message; `None` in the msgpack format.
    pub fn text(&self) -> Option<&str> {
        self.frame().map(|frame| &frame[1..])
    }

    /// The text message, shared (a reference-count clone of the frame's buffer); `None` in
    /// the msgpack format.
    pub fn to_text(&self) -> Option<Utf8Bytes> {
        self.frame()
            .map(|frame| frame.clone().into_slice(1..frame.len()))
    }

    /// The Engine.IO message frame: `4` followed by the text, as a WebSocket sends it (v3 and
    /// v4 alike); `None` in the msgpack format.
    pub fn frame(&self) -> Option<&Utf8Bytes> {
        match self {
            Self::Text { frame, .. } => Some(frame),
            Self::Msgpack(_) => None,
        }
    }

    /// The binary attachments of a text packet, in placeholder order (none in msgpack).
    pub fn attachments(&self) -> &[Bytes] {
        match self {
            Self::Text { attachments, .. } => attachments,
            Self::Msgpack(_) => &[],
        }
    }

    /// The Engine.IO messages to send, in order.
    pub fn messages(&self) -> impl Iterator<Item = Message<'_>> {
        let (frame, binaries) = match self {
            Self::Text { frame, attachments } => (Some(frame), attachments.as_slice()),
            Self::Msgpack(message) => (None, std::slice::from_ref(message)),
        };
        frame
            .map(Message::TextFrame)
            .into_iter()
            .chain(binaries.iter().map(Message::Binary))
    }
}

#[cfg(test)]
mod tests {
    use crate::{AckId, Namespace, Packet, PacketType, ProtocolVersion};

    #[test]
    fn text_len_is_exact() {
        let nsp = Namespace::from_wire("/é".into(), ProtocolVersion::V5);
        for ack in [None, Some(0), Some(9), Some(10), Some(AckId::MAX.get())] {
            let packet = Packet::from_parts(
                PacketType::Event,
                nsp.clone(),
                ack.and_then(AckId::new),
                Some(r#"["a",{"_placeholder":true,"num":0}]"#.into()),
                vec![bytes::Bytes::from_static(b"x")],
            )
            .unwrap();
            let mut out = Vec::new();
            packet.write_text(&mut out);
            assert_eq!(packet.text_len(), out.len());
            assert_eq!(packet.encode().text().unwrap().as_bytes(), out);
            assert_eq!(packet.encode().frame().unwrap().as_bytes()[1..], out);
        }
    }
}
