//! The stateful decoder fed an arbitrary sequence of text and binary frames.
//!
//! Input: a settings byte, then records `[kind][len lo][len hi][len bytes]` (kind bit 0 set:
//! binary frame, else text frame). Asserts the limits hold after every frame, the decoder is
//! idle after every error, and every completed packet survives an encode/decode round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socketio_proto::{DecodeStatus, Decoder, Limits, Packet, ProtocolVersion};

fn round_trip(version: ProtocolVersion, limits: Limits, packet: &Packet) {
    let encoded = packet.encode();
    let mut decoder = Decoder::new(version, limits);
    let mut status = decoder.feed_text(encoded.to_text().unwrap_or_default());
    for attachment in encoded.attachments() {
        status = decoder.feed_binary(attachment.clone());
    }
    assert_eq!(status, Ok(DecodeStatus::Complete(packet.clone())));
}

fuzz_target!(|data: &[u8]| {
    let Some((&settings, mut rest)) = data.split_first() else {
        return;
    };
    let version = if settings & 1 == 0 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V4
    };
    let limits = Limits {
        max_attachments: usize::from(settings >> 4),
        max_attachment_bytes: 64 << ((settings >> 1) & 7),
        max_json_depth: 32,
    };
    let mut decoder = Decoder::new(version, limits);
    while let [kind, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (frame, tail) = tail.split_at(len);
        rest = tail;
        let result = if kind & 1 == 1 {
            decoder.feed_binary(frame.to_vec())
        } else {
            decoder.feed_text(frame.to_vec())
        };
        match result {
            Ok(DecodeStatus::Complete(packet)) => {
                assert!(decoder.is_idle());
                assert!(packet.attachments().len() <= limits.max_attachments);
                let total: usize = packet.attachments().iter().map(|a| a.len()).sum();
                assert!(total <= limits.max_attachment_bytes);
                round_trip(version, limits, &packet);
            }
            Ok(DecodeStatus::NeedAttachments { remaining }) => {
                assert!(remaining >= 1 && remaining <= limits.max_attachments);
            }
            Err(_) => assert!(decoder.is_idle()),
        }
        assert!(decoder.buffered_bytes() <= limits.max_attachment_bytes);
        assert!(decoder.remaining_attachments() <= limits.max_attachments);
    }
    decoder.reset();
    assert!(decoder.is_idle() && decoder.buffered_bytes() == 0);
});
