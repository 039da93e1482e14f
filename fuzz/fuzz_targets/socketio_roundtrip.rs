//! Arbitrary packets (nested arguments with binary values) survive encode → decode in both
//! protocol versions; v4 reports binary packets as BINARY_EVENT/BINARY_ACK.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socketio_proto::{DecodeStatus, Decoder, Limits, Packet, PacketType, ProtocolVersion};

fn decode(version: ProtocolVersion, packet: &Packet) -> Packet {
    let encoded = packet.encode();
    let mut decoder = Decoder::new(version, Limits::default());
    let mut status = decoder.feed_text(encoded.to_text().unwrap_or_default());
    for attachment in encoded.attachments() {
        status = decoder.feed_binary(attachment.clone());
    }
    match status {
        Ok(DecodeStatus::Complete(decoded)) => decoded,
        other => panic!("{packet:?} did not decode: {other:?}"),
    }
}

fuzz_target!(|packet: Packet| {
    assert_eq!(decode(ProtocolVersion::V5, &packet), packet);

    let v4 = decode(ProtocolVersion::V4, &packet);
    let expected_type = match packet.packet_type() {
        PacketType::Event if packet.is_binary() => PacketType::BinaryEvent,
        PacketType::Ack if packet.is_binary() => PacketType::BinaryAck,
        other => other,
    };
    assert_eq!(v4.packet_type(), expected_type);
    let (_, namespace, ack_id, data, attachments) = packet.into_parts();
    let (_, namespace4, ack_id4, data4, attachments4) = v4.into_parts();
    assert_eq!(
        (namespace, ack_id, data, attachments),
        (namespace4, ack_id4, data4, attachments4)
    );
});
