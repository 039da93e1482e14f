//! Building blocks for protocols that carry Socket.IO packets and JSON values inside msgpack
//! of their own, as the cluster adapters' messages do (`socketio-cluster-proto`): a token
//! [`Reader`] that moves as notepack's decoder does, writers with notepack's widths, and the
//! conversions between msgpack values and this crate's packet model (JSON text whose binary
//! values are placeholders, with the binaries as attachments sliced from the frame).
//!
//! Everything here is bounded as the packet codec is: nesting by
//! [`Limits::max_json_depth`], lengths by the input.

use bytes::Bytes;

use super::to_json::JsonSink;
use super::{MsgpackError, RawMsgpackPacket, write};
use crate::error::{DecodeError, EncodeError};
use crate::limits::Limits;
use crate::packet::Packet;

pub use super::read::{Reader, Token};
pub use super::to_json::Dialect;

fn too_large(_: write::TooLong) -> EncodeError {
    EncodeError::TooLarge
}

/// Appends a string, in notepack's width (fixstr, str 8/16/32 by UTF-8 length).
pub fn write_str(out: &mut Vec<u8>, text: &str) -> Result<(), EncodeError> {
    write::str(out, text).map_err(too_large)
}

/// Appends a binary (`bin 8/16/32`).
pub fn write_bin(out: &mut Vec<u8>, data: &[u8]) -> Result<(), EncodeError> {
    write::bin(out, data).map_err(too_large)
}

/// Appends an array header for `length` values.
pub fn write_array_header(out: &mut Vec<u8>, length: usize) -> Result<(), EncodeError> {
    write::array_header(out, length).map_err(too_large)
}

/// Appends a map header for `length` entries.
pub fn write_map_header(out: &mut Vec<u8>, length: usize) -> Result<(), EncodeError> {
    write::map_header(out, length).map_err(too_large)
}

/// Appends a number as notepack writes a JavaScript `Number`: the smallest integer form, else
/// a float 64.
pub fn write_number(out: &mut Vec<u8>, value: f64) {
    write::number(out, value);
}

/// Appends a number's text as JavaScript prints it (`String(n)`, `JSON.stringify`).
pub fn write_js_number(out: &mut Vec<u8>, value: f64) {
    super::to_json::write_number(out, value);
}

/// Appends the JSON value `json` as msgpack, its placeholders (`{"_placeholder":true,
/// "num":n}` indexing `attachments`) as those binaries: how a packet's payload travels inside
/// a message. Fails when `json` is not one JSON value, or a length exceeds msgpack's.
pub fn write_json(out: &mut Vec<u8>, json: &str, attachments: &[Bytes]) -> Result<(), EncodeError> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    ::serde::de::DeserializeSeed::deserialize(
        write::Transcode {
            out,
            attachments,
            undefined_key: None,
        },
        &mut deserializer,
    )
    .and_then(|_| deserializer.end())
    .map_err(EncodeError::Serialize)
}

/// The JSON text of the msgpack value `value` (a slice of `frame`), as the `dialect`'s
/// JavaScript decoder would hold it, with its binaries as attachments (slices of `frame`) and
/// placeholders in their place; `null` for `undefined`.
pub fn to_json(
    frame: &Bytes,
    value: &[u8],
    limits: &Limits,
    dialect: Dialect,
) -> Result<(String, Vec<Bytes>), MsgpackError> {
    let mut json = Vec::new();
    let mut attachments = Vec::new();
    let mut sink = JsonSink {
        out: &mut json,
        attachments: &mut attachments,
        frame,
        dialect,
    };
    if !sink.value(&mut Reader::new(value), limits.max_json_depth)? {
        json.extend_from_slice(b"null");
    }
    // The sink writes JSON from UTF-8 strings and ASCII only.
    let json = String::from_utf8(json).map_err(|_| MsgpackError::CouldNotParse)?;
    Ok((json, attachments))
}

/// The packet whose msgpack map `{type, data, nsp, id}` is `packet`, a slice of `frame`: its
/// namespace (`default_namespace` when the map has none) and binaries are slices of `frame`.
/// Checked as [`RawMsgpackPacket::parse`] checks, its payload read in `dialect`.
pub fn packet(
    frame: &Bytes,
    packet: &[u8],
    limits: &Limits,
    default_namespace: Option<&'static str>,
    dialect: Dialect,
) -> Result<Packet, DecodeError> {
    let raw = RawMsgpackPacket::parse_with(packet, limits, default_namespace)?;
    Packet::from_raw_msgpack(frame, raw, limits, dialect)
}
