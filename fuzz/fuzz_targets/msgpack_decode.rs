//! Any bytes as a msgpack message: the borrowed check and the owned decoder agree (but for
//! the two refusals of the packet model, which only the owned decoder makes), and a
//! decoded packet re-encodes (server side) to bytes that decode to the same packet and
//! encode to the same bytes again (notepack's wrap of integers past 2^64 applies once).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use socketio_proto::msgpack::{MsgpackError, RawMsgpackPacket, Side};
use socketio_proto::{DecodeError, Limits, Packet};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let raw = RawMsgpackPacket::parse(data, &limits);
    let packet = Packet::decode_msgpack(Bytes::copy_from_slice(data), &limits);
    let packet = match (raw, packet) {
        (Ok(raw), Ok(packet)) => {
            assert_eq!(raw.packet_type(), packet.packet_type());
            assert_eq!(raw.namespace(), packet.full_namespace().wire().as_str());
            assert_eq!(raw.ack_id(), packet.ack_id());
            packet
        }
        (Err(a), Err(b)) if a == b => return,
        // The two refusals of the packet model are the owned decoder's alone.
        (
            Ok(_),
            Err(DecodeError::Msgpack(MsgpackError::UnsupportedKey | MsgpackError::PlaceholderKey)),
        ) => return,
        (raw, packet) => panic!("the layers disagree: {raw:?} vs {packet:?}"),
    };
    for side in [Side::Server, Side::Client] {
        if let Some(again) = socketio_sansio_fuzz::msgpack_fixpoint(&packet, side) {
            assert_eq!(again.packet_type(), packet.packet_type());
            assert_eq!(again.ack_id(), packet.ack_id());
            assert_eq!(again.full_namespace(), packet.full_namespace());
        }
    }
});
