//! The reference decoders' payload rules (socket.io-parser 4.2.7 `isPayloadValid` for v5,
//! 3.4.5 for v4), checked without building a JSON tree.
//!
//! The payload's top-level shape is read from its first byte; the full JSON grammar is
//! checked by [`crate::json`] in one pass without recursion (so no depth limit is needed here
//! and deep JSON is accepted as by `JSON.parse`). Only an event's first element is looked at.

use std::borrow::Cow;

use crate::error::DecodeError;
use crate::json;
use crate::packet::{PacketType, ProtocolVersion};

/// Event names that v5 decoders reject: they have a meaning inside socket.io or Node's
/// `EventEmitter`. `error` is an ordinary name.
pub const RESERVED_EVENT_NAMES: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Object,
    Array,
    String,
    Null,
    Other,
}

pub(crate) fn payload(
    version: ProtocolVersion,
    packet_type: PacketType,
    json: &str,
) -> Result<(), DecodeError> {
    let shape = match json::first_significant(json).map(|(_, byte)| byte) {
        Some(b'{') => Shape::Object,
        Some(b'[') => Shape::Array,
        Some(b'"') => Shape::String,
        Some(b'n') => Shape::Null,
        _ => Shape::Other,
    };
    let v4 = version == ProtocolVersion::V4;
    let allowed = match packet_type {
        PacketType::Connect => {
            shape == Shape::Object || (v4 && matches!(shape, Shape::Array | Shape::Null))
        }
        PacketType::Disconnect => false,
        PacketType::ConnectError => {
            matches!(shape, Shape::String | Shape::Object)
                || (v4 && matches!(shape, Shape::Array | Shape::Null))
        }
        PacketType::Event | PacketType::BinaryEvent | PacketType::Ack | PacketType::BinaryAck => {
            shape == Shape::Array
        }
    };
    if !allowed {
        return Err(DecodeError::InvalidPayload);
    }
    if matches!(packet_type, PacketType::Event | PacketType::BinaryEvent) {
        let first = json::first_array_element(json)
            .map_err(|_| DecodeError::InvalidPayload)?
            .ok_or(DecodeError::InvalidPayload)?;
        return match classify_event_name(first) {
            EventNameKind::Number => Ok(()),
            EventNameKind::String(name) if v4 || !is_reserved(&name) => Ok(()),
            _ => Err(DecodeError::InvalidPayload),
        };
    }
    json::validate(json).map_err(|_| DecodeError::InvalidPayload)
}

fn is_reserved(name: &str) -> bool {
    RESERVED_EVENT_NAMES.contains(&name)
}

pub(crate) enum EventNameKind<'a> {
    String(Cow<'a, str>),
    Number,
    Other,
}

/// Classifies a raw JSON value as an event name: a string (unescaped) or a number.
pub(crate) fn classify_event_name(raw: &str) -> EventNameKind<'_> {
    match raw.as_bytes().first() {
        Some(b'"') => {
            let inner = raw.get(1..raw.len() - 1).unwrap_or_default();
            if !inner.contains('\\') {
                return EventNameKind::String(Cow::Borrowed(inner));
            }
            // A lone surrogate escape cannot be a Rust string; it cannot be a reserved name
            // either, and `JSON.parse` accepts it, so it stays a valid (opaque) name.
            match serde_json::from_str::<String>(raw) {
                Ok(name) => EventNameKind::String(Cow::Owned(name)),
                Err(_) => EventNameKind::String(Cow::Borrowed(inner)),
            }
        }
        Some(b'-' | b'0'..=b'9') => EventNameKind::Number,
        _ => EventNameKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v5(packet_type: PacketType, json: &str) -> Result<(), DecodeError> {
        payload(ProtocolVersion::V5, packet_type, json)
    }

    #[test]
    fn deep_json_is_accepted_like_json_parse() {
        let deep = format!("[\"a\",{}{}]", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(v5(PacketType::Event, &deep), Ok(()));
    }

    #[test]
    fn escaped_reserved_name_is_still_reserved() {
        assert_eq!(
            v5(PacketType::Event, r#"["conn\u0065ct"]"#),
            Err(DecodeError::InvalidPayload)
        );
        assert_eq!(v5(PacketType::Event, r#"["\ud800"]"#), Ok(()));
    }

    #[test]
    fn lone_surrogates_and_huge_numbers_pass_as_in_json_parse() {
        assert_eq!(v5(PacketType::ConnectError, r#""\udc00x""#), Ok(()));
        assert_eq!(v5(PacketType::Event, "[1e400]"), Ok(()));
    }
}
