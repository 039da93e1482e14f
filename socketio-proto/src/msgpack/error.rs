//! [`MsgpackError`]: why a msgpack message does not decode. A leaf: the crate's error types
//! ([`DecodeError`](crate::DecodeError), the cluster errors) wrap it, it wraps nothing.

use std::fmt;

/// Why a msgpack message does not decode as the reference decoder would read it.
///
/// `Display` prints notepack's message (or the JavaScript error the reference decoder
/// throws) where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MsgpackError {
    /// A value starts at the end of the input, or with the unused byte `c1`
    /// (`Could not parse`).
    CouldNotParse,
    /// A fixed-width field (a length, a number) runs past the end: Node.js throws a
    /// `RangeError`, `The value of "offset" is out of range. It must be >= 0 and <= {max}.
    /// Received {offset}`, or `Attempt to access memory outside buffer bounds` when the
    /// whole input is shorter than the field (`max` negative).
    OutOfBounds {
        /// Where the field starts.
        offset: u64,
        /// The input length minus the field's width.
        max: i64,
    },
    /// The value ends before the input does (`N trailing bytes`), or, negative, a string or
    /// binary ran past the end (`-N trailing bytes`, as the reference prints it).
    TrailingBytes(i64),
    /// The message is `nil` or `undefined` (`Cannot read properties of null (reading
    /// 'type')`, a `TypeError` in JavaScript); `true` for `nil`.
    NotAnObject {
        /// `nil` rather than `undefined`.
        null: bool,
    },
    /// `type` is missing or not an integer from 0 to 4 (`invalid packet type`).
    InvalidPacketType,
    /// `nsp` is missing or not a string (`invalid namespace`).
    InvalidNamespace,
    /// `id` is present but not an integer (`invalid packet id`).
    InvalidPacketId,
    /// Nested deeper than [`Limits::max_json_depth`](crate::Limits), counted as the
    /// packet's JSON view nests: each array and map one level (a map key that is an array
    /// or a map too), each binary one more for its placeholder object, an extension two
    /// (`[type, placeholder]`). The reference has no limit.
    TooDeep,
    /// A map key whose property name the message alone does not decide, which this crate
    /// refuses where the reference reads some name or fails:
    ///
    /// * a map (alone, or inside an array key) with a `__proto__` entry whose value is an
    ///   array, map, binary, extension or date: JavaScript makes that value the key
    ///   object's prototype and reads the name through its inherited methods (`{"__proto__":
    ///   ["type"]}` names `type`; others throw, or loop as long as an announced `length`);
    /// * in a payload (where the name becomes JSON), a date, alone or inside an array key:
    ///   its name is `Date.prototype.toString`, which depends on the server's time zone.
    UnsupportedKey,
    /// A map key that JavaScript cannot turn into a property name: a map (alone, or inside
    /// an array key) with its own `toString` entry or a `null` prototype. The reference
    /// throws `TypeError: Cannot convert object to primitive value`, after reading the
    /// entry's value.
    UnconvertibleKey,
    /// A `_placeholder` key in the payload (a string, or any key whose name is
    /// `_placeholder`), which the packet model reserves.
    PlaceholderKey,
}

impl fmt::Display for MsgpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CouldNotParse => f.write_str("Could not parse"),
            Self::OutOfBounds { max, .. } if *max < 0 => {
                f.write_str("Attempt to access memory outside buffer bounds")
            }
            Self::OutOfBounds { offset, max } => write!(
                f,
                "The value of \"offset\" is out of range. It must be >= 0 and <= {max}. Received {offset}"
            ),
            Self::TrailingBytes(n) => write!(f, "{n} trailing bytes"),
            Self::NotAnObject { null } => write!(
                f,
                "Cannot read properties of {} (reading 'type')",
                if *null { "null" } else { "undefined" }
            ),
            Self::InvalidPacketType => f.write_str("invalid packet type"),
            Self::InvalidNamespace => f.write_str("invalid namespace"),
            Self::InvalidPacketId => f.write_str("invalid packet id"),
            Self::TooDeep => f.write_str("msgpack value nested too deeply"),
            Self::UnsupportedKey => f.write_str("unsupported msgpack map key"),
            Self::UnconvertibleKey => f.write_str("Cannot convert object to primitive value"),
            Self::PlaceholderKey => f.write_str("reserved key _placeholder in a msgpack payload"),
        }
    }
}

impl std::error::Error for MsgpackError {}
