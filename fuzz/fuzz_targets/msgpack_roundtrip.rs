//! Arbitrary packets in the msgpack format, as either side writes them: the encoding decodes
//! to the same type, namespace, ack id and attachments, and re-encoding reaches a fixpoint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socketio_proto::msgpack::Side;
use socketio_proto::{Packet, PacketType};

fuzz_target!(|packet: Packet| {
    for side in [Side::Server, Side::Client] {
        let Some(decoded) = socketio_sansio_fuzz::msgpack_fixpoint(&packet, side) else {
            continue;
        };
        let expected_type = match packet.packet_type() {
            PacketType::BinaryEvent => PacketType::Event,
            PacketType::BinaryAck => PacketType::Ack,
            other => other,
        };
        assert_eq!(decoded.packet_type(), expected_type);
        assert_eq!(
            decoded.full_namespace().wire(),
            packet.full_namespace().wire()
        );
        assert_eq!(decoded.ack_id(), packet.ack_id());
        assert_eq!(decoded.attachments(), packet.attachments());
    }
});
