//! The msgpack wire format of `socket.io-msgpack-parser` 3.0.2 (which encodes with
//! `notepack.io` 2.2): every packet is one Engine.IO **binary** message holding a msgpack map
//! `{type, data, id, nsp}`, binary values inline as `bin`, no attachments, no types 5 and 6.
//! Protocol v5 only (socket.io 3 and 4).
//!
//! Pick it per server or client with [`Parser::Msgpack`](crate::Parser); everything above
//! the codec ([`Packet::args`](crate::Packet::args), [`Packet::event`](crate::Packet::event),
//! the sessions, rooms and recovery) works the same with either format, because a msgpack
//! packet decodes into the same [`Packet`] model: its payload becomes the JSON the
//! JavaScript side would see (`JSON.stringify` of the decoded value), with every binary value
//! a placeholder and an attachment that is a slice of the received frame (no copy).
//!
//! # Two layers
//!
//! * [`RawMsgpackPacket::parse`] walks the whole message once, checks it exactly as the
//!   reference decoder does and borrows type, namespace, ack id and the raw `data` value
//!   from it: no allocation. This is the validation-only path for proxies and routers.
//! * [`Decoder::msgpack`](crate::Decoder::msgpack) (or [`Packet::decode_msgpack`]) builds
//!   the owned [`Packet`]: the namespace is a slice of the frame, binaries are slices of the
//!   frame, and the JSON text of the payload is the one allocation.
//!
//! Encoding ([`Packet::write_msgpack`], [`Packet::encode_msgpack`]) writes the keys in the
//! order the official package of each side creates them ([`Side`]), with notepack's choice
//! of widths: the smallest integer form, float 64 for any other number, fixstr/str 8/16/32
//! by UTF-8 length, bin 8/16/32 for binaries, and `d4 00 00` for the `undefined` values the
//! reference writes (a server's `pid` without recovery, a refusal without `data`, a
//! client's CONNECT without auth).
//!
//! # Why a codec of our own
//!
//! `rmp` reads msgpack correctly but not as notepack does: the reference fails truncated
//! input with one of three messages depending on where it ends, reads `d4 00 xx` as
//! `undefined`, ext type 0 as an `ArrayBuffer`, `d7 00` as a `Date`, and turns every other
//! extension into an array. Matching its verdicts byte for byte needs a cursor that moves as
//! the JavaScript one does (`read.rs`, no dependency), and the writer must pick
//! notepack's widths (which differ from rmp-serde's for floats and negative numbers). The
//! JSON side reuses `serde_json`. [`to_vec`], [`to_writer`] and [`from_slice`] are serde over
//! the same reader and writer, for msgpack values outside packets (the Redis adapters'
//! messages, for one). The benchmarks compare this codec with `rmp-serde` into
//! `rmpv::Value` as the floor.
//!
//! # Map keys
//!
//! notepack builds every map as a JavaScript object, so each key becomes the property name
//! `String(key)` gives, and this codec reads it so, in the packet map and in the payload
//! alike: a string or binary is its bytes as UTF-8 (a binary `type` or the array `["id"]` is
//! the packet's field), a number `String(n)` (`1.5`, `NaN`), `nil` `null`, an array its
//! elements joined by `,` (`[1,[2,null]]` is `1,2,`), an extension `[type, bytes]`
//! (`5,abc`), an `ArrayBuffer` `[object ArrayBuffer]` and a map `[object Object]`. A map
//! with its own `toString` entry or a `null` prototype cannot be converted: the reference
//! throws, and so does this codec ([`MsgpackError::UnconvertibleKey`], with the same message),
//! after the entry's value, as V8 converts the key only then. Both layers convert keys.
//!
//! # Where this codec is stricter than the reference
//!
//! * nesting deeper than [`Limits::max_json_depth`], counted as the payload's JSON view
//!   nests: each array and map a level (a map key that is an array or a map too), a binary
//!   one more for its placeholder object, an extension two (`[type, placeholder]`)
//!   ⇒ [`MsgpackError::TooDeep`]. JavaScript has no limit but its stack (some thousands of
//!   levels). Both layers count alike, and with the default of 127, serde_json's own limit,
//!   every packet they accept can be read with [`Packet::args`](crate::Packet::args) and
//!   re-encoded in either format;
//! * a map key whose name the message alone does not decide ⇒
//!   [`MsgpackError::UnsupportedKey`]: a map (alone or inside an array key) whose
//!   `__proto__` entry is an object, which JavaScript makes the key's prototype and reads
//!   the name through (both layers); in a payload, a date, whose name is in the server's
//!   time zone ([`Packet::decode_msgpack`] only: the raw check needs no payload key's name);
//! * a `_placeholder` key anywhere in the payload, whatever its msgpack type (the packet
//!   model reserves it for binary values) ⇒ [`MsgpackError::PlaceholderKey`];
//! * ack ids that are negative or above 2^53−1 (JavaScript accepts any integral number)
//!   ⇒ [`DecodeError::InvalidAckId`];
//! * a top-level `__proto__` key (a string or a binary) is an ordinary unknown key, where
//!   JavaScript makes it the packet's prototype and reads a missing `type`, `nsp`, `data`
//!   or `id` from it.
//!
//! Where the model differs from the JavaScript value (it is JSON): duplicate keys stay in the
//! payload in order, so that a reader keeping the last value at the first position
//! (`JSON.parse`, serde_json with `preserve_order`) gets JavaScript's object; but a key whose
//! last value is `undefined` is left out with all its entries, as `JSON.stringify` leaves it
//! out, and an overridden value that holds binaries reads as `null`, so that the attachments
//! are the binaries the object holds; integer-like keys keep their order (JavaScript moves
//! them first); `undefined` array elements read as `null`, and `NaN`/`Infinity` as `null`,
//! all as `JSON.stringify` would write them.

pub mod embed;
pub(crate) mod error;
mod key;
pub(crate) mod read;
mod serde;
pub(crate) mod to_json;
pub(crate) mod write;

pub use self::error::MsgpackError;
pub use self::serde::{Error, from_slice, to_vec, to_writer};

use std::borrow::Cow;

use bytes::Bytes;

use crate::error::{DecodeError, EncodeError};
use crate::limits::Limits;
use crate::packet::{AckId, Namespace, Packet, PacketType};
use crate::{EncodedPacket, Utf8Bytes};

use key::ShortName;
use read::{Conversion, Reader, Token};

/// Which side's packet objects an encoder writes: the two official packages create the keys
/// in different orders, and only the client adds `options`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// As socket.io 4.8 writes: `{type, data, id?, nsp}`, acks `{id, type, data, nsp}`, the
    /// CONNECT reply `{type, data: {sid, pid}, nsp}` (`pid: undefined` without recovery),
    /// refusals `{type, data: {message, data}, nsp}` (`data: undefined` when absent) and the
    /// invalid-namespace refusal `{type, nsp, data: {message}}` (recognised by its payload,
    /// exactly `{"message":"Invalid namespace"}`: a middleware refusal with that message and
    /// no data is written the same way).
    Server,
    /// As socket.io-client 4.8 writes: events `{type, data, options: {compress: true}, id?,
    /// nsp}`, acks `{type, id, data, nsp}`, CONNECT `{type, data, nsp}` (`data: undefined`
    /// without auth).
    Client,
}

/// A msgpack packet, checked and borrowed from the message: no allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMsgpackPacket<'a> {
    packet_type: PacketType,
    namespace: Cow<'a, str>,
    ack_id: Option<AckId>,
    data: Option<&'a [u8]>,
    /// Binary values in the message and their bytes, to size the owned packet's buffers.
    binaries: usize,
    binary_bytes: usize,
}

impl<'a> RawMsgpackPacket<'a> {
    /// Walks `message` once and checks it as `socket.io-msgpack-parser` does: the whole
    /// message must be one msgpack value (notepack's errors), then `type` an integer 0–4,
    /// `nsp` a string, `data` of the shape the type requires (CONNECT: absent or a map;
    /// DISCONNECT: absent; CONNECT_ERROR: a string or a map; EVENT/ACK: an array) and `id`
    /// absent or an integer. Every map key is converted to its property name as JavaScript
    /// converts it (see the [module docs](crate::msgpack)): a packet key whose name is `type`,
    /// `nsp`, `data` or `id` is that field whatever its msgpack type, a key that cannot be
    /// converted fails as the reference fails. Unknown keys are skipped, the last of
    /// duplicate keys wins, and `undefined` counts as absent. Nesting is bounded by
    /// `limits.max_json_depth`, counted as in the payload's JSON view.
    ///
    /// Two refusals of the packet model are made by [`Packet::decode_msgpack`] only, as
    /// they need the payload keys' names: [`MsgpackError::PlaceholderKey`], and
    /// [`MsgpackError::UnsupportedKey`] for a date in a payload key.
    pub fn parse(message: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        Self::parse_with(message, limits, None)
    }

    /// [`parse`](Self::parse), reading a missing `nsp` as `default_namespace` when given (the
    /// packets inside the Redis adapters' messages may omit it).
    pub(crate) fn parse_with(
        message: &'a [u8],
        limits: &Limits,
        default_namespace: Option<&'static str>,
    ) -> Result<Self, DecodeError> {
        let depth = limits.max_json_depth;
        let mut reader = Reader::new(message);
        let mut fields = Fields::default();
        let top = reader.next()?;
        if let Token::Map(entries) = top {
            for _ in 0..entries {
                let (field, conversion) = PacketKey::read(&mut reader, depth)?;
                let start = reader.offset();
                let value = reader.skip_small(depth)?;
                // V8 converts the key once the value is read.
                conversion?;
                let slot = match field {
                    Some(PacketKey::Type) => &mut fields.packet_type,
                    Some(PacketKey::Nsp) => &mut fields.namespace,
                    Some(PacketKey::Data) => &mut fields.data,
                    Some(PacketKey::Id) => &mut fields.id,
                    None => continue,
                };
                *slot = Some((value, reader.since(start)));
            }
        } else {
            // Walked again as a whole for notepack's errors; nothing but a map has a `type`.
            reader = Reader::new(message);
            reader.skip(depth)?;
        }
        reader.finish()?;
        match top {
            Token::Nil => return Err(MsgpackError::NotAnObject { null: true }.into()),
            Token::Undefined => return Err(MsgpackError::NotAnObject { null: false }.into()),
            _ => {}
        }
        if fields.namespace.is_none() {
            if let Some(default) = default_namespace {
                fields.namespace = Some((Token::Str(default.as_bytes()), &[]));
            }
        }
        let mut raw = fields.check()?;
        (raw.binaries, raw.binary_bytes) = (reader.binaries, reader.binary_bytes);
        Ok(raw)
    }

    /// The packet type (0 to 4).
    pub fn packet_type(&self) -> PacketType {
        self.packet_type
    }

    /// The namespace (invalid UTF-8 replaced by U+FFFD, as the reference reads it).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The acknowledgement id.
    pub fn ack_id(&self) -> Option<AckId> {
        self.ack_id
    }

    /// The `data` value as msgpack bytes, `None` when absent or `undefined`.
    pub fn data(&self) -> Option<&'a [u8]> {
        self.data
    }
}

/// A key of the packet map that the reference decoder reads.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PacketKey {
    Type,
    Nsp,
    Data,
    Id,
}

impl PacketKey {
    /// Reads a key of the packet map: the field JavaScript's property name for it names, if
    /// any, and what converting it does (to raise after its value, as V8 does). `__proto__`
    /// is an ordinary unknown key here (see the module docs).
    fn read(
        reader: &mut Reader<'_>,
        depth: usize,
    ) -> Result<(Option<Self>, Conversion), MsgpackError> {
        let token = reader.next()?;
        let field = match token {
            // A binary's name is its bytes as UTF-8: the same bytes name the same field.
            Token::Str(name) | Token::Bin(name) => Self::named(name),
            Token::Array(_) | Token::Map(_) => {
                let mut name = ShortName::new();
                let conversion = reader.key(token, depth, &mut name)?;
                return Ok((name.get().and_then(Self::named), conversion));
            }
            // Numbers, literals, extensions (`type,bytes`), `ArrayBuffer`s and dates name
            // none of the four.
            _ => None,
        };
        Ok((field, Ok(())))
    }

    fn named(name: &[u8]) -> Option<Self> {
        Some(match name {
            b"type" => Self::Type,
            b"nsp" => Self::Nsp,
            b"data" => Self::Data,
            b"id" => Self::Id,
            _ => return None,
        })
    }
}

/// The last value of each key the packet check reads, with its bytes.
#[derive(Default)]
struct Fields<'a> {
    packet_type: Option<(Token<'a>, &'a [u8])>,
    namespace: Option<(Token<'a>, &'a [u8])>,
    data: Option<(Token<'a>, &'a [u8])>,
    id: Option<(Token<'a>, &'a [u8])>,
}

fn integer(token: Option<Token<'_>>) -> Option<f64> {
    token
        .and_then(|token| token.number())
        .filter(|n| n.is_finite() && n.fract() == 0.0)
}

impl<'a> Fields<'a> {
    fn check(self) -> Result<RawMsgpackPacket<'a>, DecodeError> {
        let packet_type = integer(self.packet_type.map(|(token, _)| token))
            .filter(|n| (0.0..=4.0).contains(n))
            .and_then(|n| PacketType::from_digit(n as u8))
            .ok_or(MsgpackError::InvalidPacketType)?;
        let Some((Token::Str(namespace_raw), _)) = self.namespace else {
            return Err(MsgpackError::InvalidNamespace.into());
        };
        let data = self.data.filter(|(token, _)| *token != Token::Undefined);
        let valid = matches!(
            (packet_type, data.map(|(token, _)| token)),
            (PacketType::Connect, None | Some(Token::Map(_)))
                | (PacketType::Disconnect, None)
                | (
                    PacketType::ConnectError,
                    Some(Token::Str(_) | Token::Map(_))
                )
                | (
                    PacketType::Event | PacketType::Ack,
                    Some(Token::Array(_) | Token::Ext(..))
                )
        );
        if !valid {
            return Err(DecodeError::InvalidPayload);
        }
        let ack_id = match self.id.filter(|(token, _)| *token != Token::Undefined) {
            None => None,
            Some((token, _)) => {
                let n = integer(Some(token)).ok_or(MsgpackError::InvalidPacketId)?;
                // -0 is an integer too.
                let id = if n >= 0.0 && n <= AckId::MAX.get() as f64 {
                    AckId::new(n as u64)
                } else {
                    None
                };
                Some(id.ok_or(DecodeError::InvalidAckId)?)
            }
        };
        Ok(RawMsgpackPacket {
            packet_type,
            namespace: String::from_utf8_lossy(namespace_raw),
            ack_id,
            data: data.map(|(_, bytes)| bytes),
            binaries: 0,
            binary_bytes: 0,
        })
    }
}

impl Packet {
    /// Decodes one msgpack message (an Engine.IO binary message) into a packet.
    ///
    /// The namespace and every binary value are slices of `message`; the payload's JSON text
    /// is built once. See the [module docs](crate::msgpack) for the rules.
    pub fn decode_msgpack(message: Bytes, limits: &Limits) -> Result<Packet, DecodeError> {
        let raw = RawMsgpackPacket::parse(&message, limits)?;
        Self::from_raw_msgpack(&message, raw, limits, to_json::Dialect::Parser)
    }

    /// The owned packet of a checked msgpack packet whose bytes lie in `message`.
    pub(crate) fn from_raw_msgpack(
        message: &Bytes,
        raw: RawMsgpackPacket<'_>,
        limits: &Limits,
        dialect: to_json::Dialect,
    ) -> Result<Packet, DecodeError> {
        let namespace = match &raw.namespace {
            Cow::Borrowed("/") => Namespace::main(),
            Cow::Borrowed(name) => Namespace::from_msgpack(
                Utf8Bytes::try_from_bytes(message.slice_ref(name.as_bytes()))
                    .unwrap_or_else(|_| Utf8Bytes::copy_from_str(name)),
            ),
            Cow::Owned(name) => Namespace::from_msgpack(Utf8Bytes::from(name.clone())),
        };
        let mut attachments = Vec::new();
        let data = match raw.data {
            None => None,
            Some(value) => {
                // The JSON holds the payload less its binaries, plus a placeholder for each.
                let placeholders = raw.binaries * 32;
                let capacity = value.len().saturating_sub(raw.binary_bytes) + placeholders + 8;
                let mut json = Vec::with_capacity(capacity);
                attachments.reserve_exact(raw.binaries);
                let mut sink = to_json::JsonSink {
                    out: &mut json,
                    attachments: &mut attachments,
                    frame: message,
                    dialect,
                };
                sink.value(&mut Reader::new(value), limits.max_json_depth)?;
                // The sink writes JSON from UTF-8 strings and ASCII only.
                Some(
                    Utf8Bytes::try_from_bytes(Bytes::from(json))
                        .map_err(|_| DecodeError::InvalidUtf8)?,
                )
            }
        };
        Ok(Packet {
            packet_type: raw.packet_type,
            namespace,
            ack_id: raw.ack_id,
            data,
            attachments,
        })
    }

    /// Appends the packet as one msgpack message, with the key order of `side`: with a
    /// reused buffer, encoding allocates nothing (a payload with 16 or more entries in one
    /// array or map moves its bytes once to widen the header).
    ///
    /// Placeholders become the attachments' `bin` values. Fails when the payload is not JSON
    /// or nests deeper than 127 levels (`serde_json`'s limit, which no packet decoded with a
    /// [`Limits::max_json_depth`] of at most 127, the default, reaches), or when a string,
    /// binary or container exceeds msgpack's 2^32−1.
    pub fn write_msgpack(&self, side: Side, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        use Field::*;
        let has_id = self.ack_id.is_some();
        let has_data = self.data.is_some();
        let invalid_namespace = self.packet_type == PacketType::ConnectError
            && self
                .data
                .as_ref()
                .is_some_and(|d| d.as_str() == r#"{"message":"Invalid namespace"}"#);
        // The reference writes an object's keys in the order they were set; its own packets
        // carry an `id` only on EVENT and ACK. Any other packet that holds one (a peer may
        // send it, both parsers keep it) writes it before `nsp`, as an EVENT does.
        let fields: &[Field] = match (side, self.packet_type) {
            (_, PacketType::Disconnect) => &[Type, Id, Nsp],
            (Side::Server, PacketType::Ack | PacketType::BinaryAck) => &[Id, Type, Data, Nsp],
            (Side::Client, PacketType::Ack | PacketType::BinaryAck) => &[Type, Id, Data, Nsp],
            (Side::Server, PacketType::Event | PacketType::BinaryEvent) => &[Type, Data, Id, Nsp],
            (Side::Client, PacketType::Event | PacketType::BinaryEvent) => {
                &[Type, Data, Options, Id, Nsp]
            }
            (Side::Server, PacketType::ConnectError) if invalid_namespace => &[Type, Nsp, Data, Id],
            (Side::Client, PacketType::Connect) => &[Type, UndefinedData, Id, Nsp],
            _ => &[Type, Data, Id, Nsp],
        };
        let present = |field: &Field| match field {
            Id => has_id,
            Data => has_data,
            _ => true,
        };
        write::map_header(out, fields.iter().filter(|f| present(f)).count()).ok();
        for field in fields.iter().filter(|f| present(f)) {
            match field {
                Type => {
                    out.extend_from_slice(b"\xa4type");
                    let wire = match self.packet_type {
                        PacketType::BinaryEvent => PacketType::Event,
                        PacketType::BinaryAck => PacketType::Ack,
                        other => other,
                    };
                    out.push(wire.digit());
                }
                Nsp => {
                    out.extend_from_slice(b"\xa3nsp");
                    write::str(out, self.namespace.wire().as_str())
                        .map_err(|_| EncodeError::InvalidNamespace)?;
                }
                Id => {
                    out.extend_from_slice(b"\xa2id");
                    write::number(out, self.ack_id.map_or(0, AckId::get) as f64);
                }
                Options => out.extend_from_slice(b"\xa7options\x81\xa8compress\xc3"),
                Data | UndefinedData => {
                    out.extend_from_slice(b"\xa4data");
                    let Some(json) = &self.data else {
                        out.extend_from_slice(&write::UNDEFINED);
                        continue;
                    };
                    let undefined_key = match (side, self.packet_type) {
                        (Side::Server, PacketType::Connect) => Some("pid"),
                        (Side::Server, PacketType::ConnectError) if !invalid_namespace => {
                            Some("data")
                        }
                        _ => None,
                    };
                    let mut deserializer = serde_json::Deserializer::from_str(json.as_str());
                    ::serde::de::DeserializeSeed::deserialize(
                        write::Transcode {
                            out,
                            attachments: &self.attachments,
                            undefined_key,
                        },
                        &mut deserializer,
                    )
                    .and_then(|_| deserializer.end())
                    .map_err(EncodeError::Serialize)?;
                }
            }
        }
        Ok(())
    }

    /// Encodes the packet as one msgpack message ([`write_msgpack`](Self::write_msgpack)
    /// into an exactly sized buffer).
    pub fn encode_msgpack(&self, side: Side) -> Result<EncodedPacket, EncodeError> {
        let mut out = Vec::with_capacity(self.msgpack_len_hint());
        self.write_msgpack(side, &mut out)?;
        Ok(EncodedPacket::Msgpack(Bytes::from(out)))
    }

    /// An upper estimate of the msgpack size, for one allocation in the common case.
    fn msgpack_len_hint(&self) -> usize {
        48 + self.namespace.wire().len()
            + self.data.as_ref().map_or(0, Utf8Bytes::len)
            + self.attachments.iter().map(Bytes::len).sum::<usize>()
    }
}

#[derive(Clone, Copy)]
enum Field {
    Type,
    Nsp,
    Id,
    Data,
    /// `data`, written `undefined` when absent.
    UndefinedData,
    Options,
}
