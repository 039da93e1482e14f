//! Error types of the codec.

use core::fmt;

/// Bytes from the peer that are not a valid Engine.IO packet, payload or frame.
///
/// Small and `Copy` so that decoders stay allocation-free on the error path too. Every variant
/// maps to the action a server takes on the wire (see [`DecodeError::http_status`] and
/// [`DecodeError::closes_session`]); the reference server reacts to all of them except
/// [`DecodeError::PayloadTooLarge`] by closing the session with reason `"parse error"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// An empty packet (an empty text frame, an empty polling body, or an empty record
    /// between two `\x1e` separators).
    EmptyPacket,
    /// The first character is not a packet type `0`..`6` (nor `b` for base64 binary), or a v3
    /// binary frame starts with a type byte above 6.
    UnknownPacketType,
    /// The base64 text of a `b…` packet is not valid standard base64.
    InvalidBase64,
    /// A text frame, polling body or text record is not valid UTF-8.
    InvalidUtf8,
    /// A v3 length prefix is missing, empty or contains something other than decimal digits.
    InvalidLength,
    /// A v3 length prefix has more digits than [`Limits::max_length_digits`](crate::Limits).
    TooManyLengthDigits,
    /// A length prefix announces more data than the body holds.
    Truncated,
    /// A v3 text length (in UTF-16 code units) ends inside a surrogate pair.
    SplitSurrogatePair,
    /// A v3 binary payload record has a kind byte other than `0x00` (text) or `0x01` (binary).
    InvalidRecordKind,
    /// A polling body holds more packets than [`Limits::max_packets`](crate::Limits).
    TooManyPackets,
    /// A body or frame is larger than [`Limits::max_payload`](crate::Limits).
    PayloadTooLarge,
    /// A WebTransport frame header announces a zero-length payload.
    ZeroLengthFrame,
    /// A v4 polling request carried `Content-Type: application/octet-stream`; only v3 has
    /// binary polling payloads.
    BinaryPayloadNotSupported,
    /// A JSONP POST body has no single `d` form field.
    InvalidJsonpBody,
}

impl DecodeError {
    /// The HTTP status a server answers a polling POST with when its body fails with this error.
    ///
    /// `413 Payload Too Large` for [`DecodeError::PayloadTooLarge`], `400 Bad Request` otherwise.
    pub fn http_status(self) -> u16 {
        match self {
            DecodeError::PayloadTooLarge => 413,
            _ => 400,
        }
    }

    /// Whether the reference server closes the session after this error.
    ///
    /// Every decode error closes the session (`"parse error"`, or `"transport error"` for a v4
    /// binary POST) except an oversized polling body, which engine.io 6.6 answers with 413 and
    /// otherwise ignores. An oversized WebSocket or WebTransport frame does close the session;
    /// the driver applies that rule because only it knows the transport.
    pub fn closes_session(self) -> bool {
        !matches!(self, DecodeError::PayloadTooLarge)
    }

    fn as_str(self) -> &'static str {
        match self {
            DecodeError::EmptyPacket => "empty packet",
            DecodeError::UnknownPacketType => "unknown packet type",
            DecodeError::InvalidBase64 => "invalid base64 data",
            DecodeError::InvalidUtf8 => "invalid UTF-8 text",
            DecodeError::InvalidLength => "invalid length prefix",
            DecodeError::TooManyLengthDigits => "too many digits in length prefix",
            DecodeError::Truncated => "length prefix exceeds the available data",
            DecodeError::SplitSurrogatePair => "length prefix splits a surrogate pair",
            DecodeError::InvalidRecordKind => "invalid binary payload record kind",
            DecodeError::TooManyPackets => "too many packets in payload",
            DecodeError::PayloadTooLarge => "payload too large",
            DecodeError::ZeroLengthFrame => "zero-length frame",
            DecodeError::BinaryPayloadNotSupported => "binary polling payload not supported",
            DecodeError::InvalidJsonpBody => "invalid JSONP body",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for DecodeError {}

/// A packet that cannot be written in the requested form. This is local misuse, never caused
/// by the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// Engine.IO v4 can carry binary data only in `message` packets (`b…` has no type digit).
    BinaryNotMessage,
    /// The text contains the v4 record separator `\x1e`, which polling does not escape: the
    /// receiver would split the packet in two.
    RecordSeparatorInText,
    /// A WebTransport frame cannot be empty: the receiver rejects a zero length.
    EmptyFrame,
    /// A message frame must be `4` followed by the text.
    NotAMessageFrame,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncodeError::BinaryNotMessage => {
                "Engine.IO v4 sends binary data only in message packets"
            }
            EncodeError::RecordSeparatorInText => {
                "text containing \\x1e cannot be sent in a v4 polling payload"
            }
            EncodeError::EmptyFrame => "a WebTransport frame cannot be empty",
            EncodeError::NotAMessageFrame => "a message frame must start with '4'",
        })
    }
}

impl std::error::Error for EncodeError {}
