//! One Engine.IO v3 packet, as a text frame and as a binary frame: decodes or fails cleanly,
//! and round-trips through every encoding when it decodes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    socketio_sansio_fuzz::check_packet(engineio_proto::ProtocolVersion::V3, data);
});
