//! Proof that the borrowed decode layer allocates nothing: a counting global allocator wraps
//! the system one for this test binary only.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

#[path = "support/counting.rs"]
mod counting;

use counting::allocations_during;
use engineio_proto::{Limits, PacketRef, PayloadFormat, ProtocolVersion, decode_payload};

#[test]
fn decoding_a_text_packet_allocates_nothing() {
    for (version, text) in [
        (ProtocolVersion::V4, "4hello"),
        (ProtocolVersion::V4, "2probe"),
        (ProtocolVersion::V4, "bAQIDBA=="),
        (ProtocolVersion::V3, "b4AQIDBA=="),
        (ProtocolVersion::V4, "42[\"event\",{\"a\":1}]"),
    ] {
        let n = allocations_during(|| {
            let p = PacketRef::decode_text(version, std::hint::black_box(text)).unwrap();
            std::hint::black_box(p);
        });
        assert_eq!(n, 0, "{text}");
    }
}

#[test]
fn decoding_polling_bodies_allocates_nothing() {
    let limits = Limits::default();
    let v4 = "4hello\u{1e}bAQIDBA==\u{1e}2\u{1e}42[\"a\"]".repeat(25);
    let v3_text = "6:4hello10:b4AQIDBA==3:4😀".repeat(25);
    let v3_binary = b"\x00\x06\xff4hello\x01\x05\xff\x04\x01\x02\x03\x04".repeat(25);
    for (format, body) in [
        (PayloadFormat::V4, v4.as_bytes()),
        (PayloadFormat::V3Text, v3_text.as_bytes()),
        (PayloadFormat::V3Binary, &v3_binary[..]),
    ] {
        let mut count = 0;
        let n = allocations_during(|| {
            for packet in decode_payload(format, std::hint::black_box(body), &limits) {
                std::hint::black_box(packet.unwrap());
                count += 1;
            }
        });
        assert_eq!(n, 0, "{format:?}");
        assert!(count >= 50, "{format:?}: {count}");
    }
}

#[test]
fn encoding_into_a_reused_buffer_allocates_nothing() {
    let queue = [
        engineio_proto::Packet::message("hello"),
        engineio_proto::Packet::binary(vec![1, 2, 3, 4]),
    ];
    let mut out = Vec::with_capacity(256);
    let n = allocations_during(|| {
        for _ in 0..100 {
            out.clear();
            let refs = queue.iter().map(engineio_proto::Packet::as_packet_ref);
            engineio_proto::encode_payload(PayloadFormat::V4, refs, usize::MAX, &mut out).unwrap();
        }
    });
    assert_eq!(n, 0);
    assert_eq!(out, b"4hello\x1ebAQIDBA==");
}

#[test]
fn the_counter_counts() {
    assert_eq!(
        allocations_during(|| drop(std::hint::black_box(vec![1u8; 10]))),
        1
    );
}
