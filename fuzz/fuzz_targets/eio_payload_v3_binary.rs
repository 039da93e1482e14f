//! An Engine.IO polling body (V3Binary): good packets, then at most one error; what decodes
//! round-trips.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    socketio_sansio_fuzz::check_payload(engineio_proto::PayloadFormat::V3Binary, data);
});
