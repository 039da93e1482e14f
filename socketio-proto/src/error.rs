//! Errors: [`DecodeError`] for bytes from the peer, [`EncodeError`] for local misuse.

use std::fmt;

use crate::msgpack::error::MsgpackError;
use crate::version::ProtocolVersion;

/// What the receiving side must do on the wire after a [`DecodeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WireAction {
    /// Close the whole Engine.IO connection (every namespace of that client). This is what the
    /// reference server does whenever its parser throws; the JS client closes with reason
    /// `parse error` and reconnects.
    CloseConnection,
    /// Drop the packet and keep the connection: the v4 reference parser (socket.io-parser 3.x)
    /// turns an unknown packet type into an ERROR packet without a namespace, which socket.io
    /// 2.x then ignores.
    IgnorePacket,
}

/// A Socket.IO packet from the peer that does not decode.
///
/// `Display` prints the reference parser's exact message where one exists (socket.io-parser
/// 4.2.7 for v5, 3.4.5 for v4); the variants without a reference message are inputs the
/// reference accepts through a JavaScript quirk, or limits it does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// An empty text packet. The reference reads it as CONNECT `/` (`Number("") === 0`).
    EmptyPacket,
    /// A text frame that is not UTF-8 (impossible over a conforming Engine.IO transport).
    InvalidUtf8,
    /// The first character is not a packet type `0`..`6`.
    ///
    /// `found` is the digit `7`..`9`, or `None` for any other character (JavaScript's `NaN`).
    /// In v5 the reference throws `unknown packet type <n>`; in v4 it emits the ERROR packet
    /// `parser error: unknown packet type <n>`, which socket.io 2.x ignores, so the action is
    /// [`WireAction::IgnorePacket`] there.
    UnknownPacketType {
        /// The offending digit, `None` when it is not a digit.
        found: Option<u8>,
        /// The protocol version the packet was decoded as.
        version: ProtocolVersion,
    },
    /// The attachment count of a BINARY_EVENT/BINARY_ACK header is missing, not a decimal
    /// number followed by `-`, or zero (`Illegal attachments`).
    IllegalAttachmentCount,
    /// The attachment count is above [`Limits::max_attachments`](crate::Limits).
    TooManyAttachments,
    /// The ack id is above 2^53−1, or whitespace stands where the reference would read an ack
    /// id digit. The reference loses precision (or reads id 0) instead.
    InvalidAckId,
    /// The JSON payload does not parse or has the wrong shape for the packet type.
    InvalidPayload,
    /// A placeholder is malformed, out of range, repeated, or an attachment is never referenced
    /// (`illegal attachments`, lower case as in the reference).
    IllegalPlaceholder,
    /// A binary packet's JSON nests deeper than [`Limits::max_json_depth`](crate::Limits).
    PayloadTooDeep,
    /// A text packet arrived while attachments were still expected.
    UnexpectedText,
    /// A binary frame arrived while no attachment was expected.
    UnexpectedBinary,
    /// The attachments of one packet exceed
    /// [`Limits::max_attachment_bytes`](crate::Limits) in total.
    AttachmentsTooLarge,
    /// A msgpack message that the msgpack parser rejects (or, for the variants documented
    /// there, that this crate refuses where the reference does not).
    Msgpack(MsgpackError),
}

impl DecodeError {
    /// What to do on the wire.
    pub fn action(&self) -> WireAction {
        match self {
            Self::UnknownPacketType {
                version: ProtocolVersion::V4,
                ..
            } => WireAction::IgnorePacket,
            _ => WireAction::CloseConnection,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyPacket => f.write_str("empty packet"),
            Self::InvalidUtf8 => f.write_str("invalid UTF-8 in text packet"),
            Self::UnknownPacketType { found, version } => {
                if *version == ProtocolVersion::V4 {
                    f.write_str("parser error: ")?;
                }
                match found {
                    Some(digit) => write!(f, "unknown packet type {digit}"),
                    None => f.write_str("unknown packet type NaN"),
                }
            }
            Self::IllegalAttachmentCount => f.write_str("Illegal attachments"),
            Self::TooManyAttachments => f.write_str("too many attachments"),
            Self::InvalidAckId => f.write_str("invalid ack id"),
            Self::InvalidPayload => f.write_str("invalid payload"),
            Self::IllegalPlaceholder => f.write_str("illegal attachments"),
            Self::PayloadTooDeep => f.write_str("payload nested too deeply"),
            Self::UnexpectedText => f.write_str("got plaintext data when reconstructing a packet"),
            Self::UnexpectedBinary => {
                f.write_str("got binary data when not reconstructing a packet")
            }
            Self::AttachmentsTooLarge => f.write_str("attachments too large"),
            Self::Msgpack(err) => fmt::Display::fmt(err, f),
        }
    }
}

impl std::error::Error for DecodeError {}

impl From<MsgpackError> for DecodeError {
    fn from(err: MsgpackError) -> Self {
        DecodeError::Msgpack(err)
    }
}

/// A packet this side asked to build or encode cannot be represented on the wire.
#[derive(Debug)]
#[non_exhaustive]
pub enum EncodeError {
    /// A namespace must start with `/` and must not contain `,` (nor `?` in the name part of
    /// [`Namespace::with_query`](crate::Namespace::with_query)).
    InvalidNamespace,
    /// Event and ack arguments must serialize to a JSON array (a tuple, slice, `Vec`, …); wrap
    /// a single argument as `(arg,)`.
    ArgumentsNotASequence,
    /// Binary values (attachments) can only travel in EVENT and ACK packets.
    BinaryNotAllowed,
    /// The packet type, payload and attachments do not fit together: attachments need an
    /// EVENT/ACK payload, BINARY_EVENT/BINARY_ACK need at least one attachment.
    AttachmentMismatch,
    /// The value's `Serialize` implementation failed.
    Serialize(serde_json::Error),
    /// A string, binary or container exceeds what msgpack can announce (2^32−1).
    TooLarge,
    /// The message has no form in this protocol (the classic Redis adapter's `allRooms` in
    /// another adapter's envelope).
    Unsupported,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidNamespace => {
                f.write_str("a namespace must start with '/' and must not contain ','")
            }
            Self::ArgumentsNotASequence => f.write_str("arguments must serialize to a JSON array"),
            Self::BinaryNotAllowed => {
                f.write_str("binary values are only allowed in EVENT and ACK packets")
            }
            Self::AttachmentMismatch => {
                f.write_str("packet type, payload and attachments do not fit together")
            }
            Self::Serialize(err) => write!(f, "serialization failed: {err}"),
            Self::TooLarge => f.write_str("longer than msgpack's 2^32 - 1"),
            Self::Unsupported => f.write_str("the message has no form in this protocol"),
        }
    }
}

impl std::error::Error for EncodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Serialize(err) => Some(err),
            _ => None,
        }
    }
}
