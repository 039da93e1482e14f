//! [`Decoder`]: the per-connection state machine that reassembles binary packets.

use bytes::Bytes;

use crate::Parser;
use crate::Utf8Bytes;
use crate::error::DecodeError;
use crate::header::RawHeader;
use crate::limits::Limits;
use crate::msgpack::MsgpackError;
use crate::packet::{Namespace, Packet, PacketType, ProtocolVersion};
use crate::placeholder;

/// What a [`Decoder`] has after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeStatus {
    /// A whole packet.
    Complete(Packet),
    /// A binary packet's header arrived or one of its attachments did; `remaining` more binary
    /// frames complete it. Nothing else may arrive in between.
    NeedAttachments {
        /// Attachments still expected (at least 1).
        remaining: usize,
    },
}

/// Decodes the Socket.IO packets of one Engine.IO connection.
///
/// Feed it every Engine.IO `message` in order: text messages to
/// [`feed_text`](Self::feed_text), binary ones to [`feed_binary`](Self::feed_binary). A binary
/// packet (type 5/6) is a text header followed by its attachments as the very next binary
/// messages; the decoder holds at most one such packet (the reference keeps this state per
/// connection, not per namespace).
///
/// Every packet is validated as the reference decoder of the chosen [`ProtocolVersion`]
/// validates it. After any error the decoder is idle again and holds nothing; the error's
/// [`action`](DecodeError::action) says what to do with the connection. Call
/// [`reset`](Self::reset) when the connection closes.
#[derive(Debug, Clone)]
pub struct Decoder {
    version: ProtocolVersion,
    parser: Parser,
    limits: Limits,
    partial: Option<Partial>,
}

/// A binary packet waiting for its attachments.
#[derive(Debug, Clone)]
struct Partial {
    packet: Packet,
    expected: usize,
    bytes: usize,
}

impl Decoder {
    /// A decoder for one connection speaking `version`.
    pub fn new(version: ProtocolVersion, limits: Limits) -> Self {
        Self {
            version,
            parser: Parser::Text,
            limits,
            partial: None,
        }
    }

    /// A decoder for the msgpack parser (protocol v5): every packet is one binary message,
    /// decoded by [`Packet::decode_msgpack`]; a text message fails as the reference's does
    /// (`Could not parse`).
    pub fn msgpack(limits: Limits) -> Self {
        Self {
            version: ProtocolVersion::V5,
            parser: Parser::Msgpack,
            limits,
            partial: None,
        }
    }

    /// A decoder for `parser`: [`Decoder::new`] or [`Decoder::msgpack`] (whose version is
    /// always v5).
    pub fn with_parser(parser: Parser, version: ProtocolVersion, limits: Limits) -> Self {
        match parser {
            Parser::Text => Self::new(version, limits),
            Parser::Msgpack => Self::msgpack(limits),
        }
    }

    /// The wire format.
    pub fn parser(&self) -> Parser {
        self.parser
    }

    /// The protocol version.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decodes a text message (one Socket.IO packet without the Engine.IO `4` prefix).
    ///
    /// `text` must be UTF-8, which Engine.IO text messages always are; it is checked once
    /// here. The packet's namespace and payload become slices of `text`.
    pub fn feed_text(&mut self, text: impl Into<Bytes>) -> Result<DecodeStatus, DecodeError> {
        if self.partial.take().is_some() {
            return Err(DecodeError::UnexpectedText);
        }
        if self.parser == Parser::Msgpack {
            return Err(MsgpackError::CouldNotParse.into());
        }
        let text = Utf8Bytes::try_from_bytes(text.into()).map_err(|_| DecodeError::InvalidUtf8)?;
        self.feed_utf8(text)
    }

    /// [`feed_text`](Self::feed_text) for text already known to be UTF-8, such as an
    /// Engine.IO [`Data::Text`](engineio_proto::Data::Text): the same checks but the UTF-8 one.
    pub fn feed_utf8(&mut self, text: Utf8Bytes) -> Result<DecodeStatus, DecodeError> {
        if self.partial.take().is_some() {
            return Err(DecodeError::UnexpectedText);
        }
        if self.parser == Parser::Msgpack {
            return Err(MsgpackError::CouldNotParse.into());
        }
        let str = text.as_str();
        let header = RawHeader::parse(str, self.version, &self.limits)?;
        header.validate()?;
        let namespace = match header.namespace() {
            "/" => Namespace::main(),
            name => Namespace::from_wire(text.slice_ref(name), self.version),
        };
        let json = header.json().map(|json| {
            let start = json.as_ptr() as usize - str.as_ptr() as usize;
            start..start + json.len()
        });
        let (packet_type, ack_id, expected) =
            (header.packet_type(), header.ack_id(), header.attachments());
        let mut packet = Packet {
            packet_type,
            namespace,
            ack_id,
            // The text becomes the payload in place: no reference-count traffic.
            data: json.map(|range| text.into_slice(range)),
            attachments: Vec::new(),
        };
        if expected == 0 {
            return Ok(DecodeStatus::Complete(packet));
        }
        if self.version == ProtocolVersion::V5 {
            packet.packet_type = match packet.packet_type {
                PacketType::BinaryEvent => PacketType::Event,
                _ => PacketType::Ack,
            };
        }
        // `expected` is at most `max_attachments`, so this allocation is bounded.
        packet.attachments.reserve_exact(expected);
        self.partial = Some(Partial {
            packet,
            expected,
            bytes: 0,
        });
        Ok(DecodeStatus::NeedAttachments {
            remaining: expected,
        })
    }

    /// Decodes a binary message: the next attachment of the pending binary packet.
    ///
    /// The attachment is kept as the given `Bytes`, without copying.
    pub fn feed_binary(&mut self, data: impl Into<Bytes>) -> Result<DecodeStatus, DecodeError> {
        let data = data.into();
        if self.parser == Parser::Msgpack {
            return Packet::decode_msgpack(data, &self.limits).map(DecodeStatus::Complete);
        }
        // Updated in place: the pending packet is moved out only once it is complete.
        let Some(partial) = self.partial.as_mut() else {
            return Err(DecodeError::UnexpectedBinary);
        };
        let total = partial.bytes.saturating_add(data.len());
        if total > self.limits.max_attachment_bytes {
            self.partial = None;
            return Err(DecodeError::AttachmentsTooLarge);
        }
        partial.bytes = total;
        partial.packet.attachments.push(data);
        let remaining = partial.expected - partial.packet.attachments.len();
        if remaining > 0 {
            return Ok(DecodeStatus::NeedAttachments { remaining });
        }
        let Some(Partial { packet, .. }) = self.partial.take() else {
            unreachable!("the pending packet was just updated");
        };
        placeholder::check(
            packet.data.as_ref().map(Utf8Bytes::as_bytes),
            packet.attachments.len(),
            self.limits.max_json_depth,
        )?;
        Ok(DecodeStatus::Complete(packet))
    }

    /// Drops a partially received binary packet (call it when the connection closes).
    pub fn reset(&mut self) {
        self.partial = None;
    }

    /// Whether no binary packet is pending.
    pub fn is_idle(&self) -> bool {
        self.partial.is_none()
    }

    /// Attachments the pending binary packet still needs (0 when idle).
    pub fn remaining_attachments(&self) -> usize {
        self.partial
            .as_ref()
            .map_or(0, |p| p.expected - p.packet.attachments.len())
    }

    /// Bytes of attachments held for the pending packet (0 when idle); never above
    /// [`Limits::max_attachment_bytes`].
    pub fn buffered_bytes(&self) -> usize {
        self.partial.as_ref().map_or(0, |p| p.bytes)
    }
}
