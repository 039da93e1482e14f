//! The applications behind the example programs, on the [`crate::socketio`] layer.

use bytes::Bytes;
use serde_json::value::RawValue;
use socketio_proto::{AckId, Namespace, Packet, PacketType};

pub mod chat;
pub mod interop;

/// The JSON array of an EVENT or ACK as its raw elements (for an EVENT the first is the name).
/// Forwarding raw elements keeps every value, binary placeholders included, byte for byte.
pub(crate) fn raw_args(packet: &Packet) -> Vec<&RawValue> {
    packet
        .raw_json()
        .and_then(|json| serde_json::from_str(json.as_str()).ok())
        .unwrap_or_default()
}

/// Builds an EVENT (`name` given) or ACK (`ack` given) from raw elements and the attachments
/// their placeholders point at; binary when there are attachments. The caller keeps every
/// placeholder of `attachments` in `args`.
pub(crate) fn raw_packet(
    namespace: &Namespace,
    name: Option<&str>,
    ack: Option<AckId>,
    args: &[&RawValue],
    attachments: Vec<Bytes>,
) -> Option<Packet> {
    let mut json = String::from("[");
    if let Some(name) = name {
        json.push_str(&serde_json::to_string(name).ok()?);
    }
    for arg in args {
        if json.len() > 1 {
            json.push(',');
        }
        json.push_str(arg.get());
    }
    json.push(']');
    let binary = !attachments.is_empty();
    let packet_type = match (name.is_some(), binary) {
        (true, false) => PacketType::Event,
        (true, true) => PacketType::BinaryEvent,
        (false, false) => PacketType::Ack,
        (false, true) => PacketType::BinaryAck,
    };
    Packet::from_parts(
        packet_type,
        namespace.clone(),
        ack,
        Some(json.into()),
        attachments,
    )
    .ok()
}
