//! The Engine.IO rows of PROTOCOL.md Part F: inputs that crashed, hung or exhausted memory in
//! other implementations. Each yields a typed error (or the right value) in bounded time.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use engineio_proto::webtransport::Deframer;
use engineio_proto::{
    DecodeError, Limits, PacketRef, PayloadFormat, ProtocolVersion, RequestQuery, decode_payload,
};

fn errors(format: PayloadFormat, body: &[u8], limits: &Limits) -> Vec<DecodeError> {
    decode_payload(format, body, limits)
        .filter_map(Result::err)
        .collect()
}

/// CVE-2020-36049: a v3 length of 8 digits followed by ~10^8 digits of ack id. The length cap
/// and the byte limit refuse it before any work proportional to the claim.
#[test]
fn huge_v3_length_prefix() {
    let mut body = b"99999991:4".to_vec();
    body.extend(std::iter::repeat_n(b'2', 100_000));
    assert_eq!(
        errors(PayloadFormat::V3Text, &body, &Limits::default()),
        [DecodeError::Truncated]
    );
    let long_digits = vec![b'9'; 500_000];
    assert_eq!(
        errors(PayloadFormat::V3Text, &long_digits, &Limits::default()),
        [DecodeError::TooManyLengthDigits]
    );
    let binary = [&[0u8][..], &[9u8; 400][..], &[0xff, 4][..]].concat();
    assert_eq!(
        errors(PayloadFormat::V3Binary, &binary, &Limits::default()),
        [DecodeError::TooManyLengthDigits]
    );
}

/// CVE-2020-36048: a body over the limit is refused as a whole.
#[test]
fn oversized_body() {
    let body = vec![b'4'; 1_000_001];
    for format in [
        PayloadFormat::V4,
        PayloadFormat::V3Text,
        PayloadFormat::V3Binary,
    ] {
        assert_eq!(
            errors(format, &body, &Limits::default()),
            [DecodeError::PayloadTooLarge]
        );
    }
    assert_eq!(DecodeError::PayloadTooLarge.http_status(), 413);
    assert!(!DecodeError::PayloadTooLarge.closes_session());
}

/// Many tiny packets: capped by `max_packets`, after which decoding stops.
#[test]
fn too_many_packets() {
    let body = "2\u{1e}".repeat(20_000) + "2";
    let limits = Limits::default();
    let results: Vec<_> = decode_payload(PayloadFormat::V4, body.as_bytes(), &limits).collect();
    assert_eq!(results.len(), limits.max_packets + 1);
    assert_eq!(results.last(), Some(&Err(DecodeError::TooManyPackets)));
}

/// CVE-2023-31125: prototype-chain names and other non-whitelisted transports.
#[test]
fn prototype_names_as_transport() {
    for t in ["__proto__", "constructor", "toString", "hasOwnProperty", ""] {
        assert!(RequestQuery::parse(&format!("EIO=4&transport={t}")).is_err());
    }
}

/// engineioxide-core 0.2.3: a multi-byte first character, and v3 `b` / `bé`.
#[test]
fn multibyte_first_character() {
    assert_eq!(
        PacketRef::decode_text(ProtocolVersion::V4, "éabcd"),
        Err(DecodeError::UnknownPacketType)
    );
    assert_eq!(
        PacketRef::decode_text(ProtocolVersion::V3, "éabcd"),
        Err(DecodeError::UnknownPacketType)
    );
    assert_eq!(
        PacketRef::decode_text(ProtocolVersion::V3, "b"),
        Err(DecodeError::UnknownPacketType)
    );
    assert_eq!(
        PacketRef::decode_text(ProtocolVersion::V3, "bé"),
        Err(DecodeError::UnknownPacketType)
    );
    assert_eq!(
        PacketRef::decode_text(ProtocolVersion::V4, "bé"),
        Err(DecodeError::InvalidBase64)
    );
}

/// engineioxide 0.17.4: v4 `b4OHi` is base64 of E0 E1 E2, not a v3 `b4` packet.
#[test]
fn v4_base64_starting_with_4() {
    let p = PacketRef::decode_text(ProtocolVersion::V4, "b4OHi").unwrap();
    assert_eq!(
        p.to_owned_packet(),
        engineio_proto::Packet::binary(vec![0xe0, 0xe1, 0xe2])
    );
    // The same text in v3 is a message whose base64 is `OHi`.
    let p3 = PacketRef::decode_text(ProtocolVersion::V3, "b4OHi").unwrap();
    assert_eq!(p3.packet_type, engineio_proto::PacketType::Message);
}

/// engineioxide 0.17.4 / #741: malformed v3 lengths must neither loop nor overflow.
#[test]
fn malformed_v3_lengths() {
    let limits = Limits::default();
    for body in [
        &b"0:0:0:0:"[..],
        b"0:",
        b":",
        b"::::",
        b"1:2:",
        b"18446744073709551616:4",
        b"9999999999:4",
        b"0:1",
    ] {
        let results: Vec<_> = decode_payload(PayloadFormat::V3Text, body, &limits).collect();
        // At most one error, and nothing after it.
        let first_error = results
            .iter()
            .position(Result::is_err)
            .unwrap_or(results.len());
        assert!(first_error + 1 >= results.len(), "{body:?}");
        assert!(results.len() <= 2, "{body:?}");
    }
    let overflow = b"\x00\x01\x08\x04\x04\x06\x07\x04\x04\x00\x07\x03\x07\x00\x09\x05\x05\x01\x06\x01\x06\xff4";
    let unlimited = Limits::default().with_max_length_digits(usize::MAX);
    assert_eq!(
        errors(PayloadFormat::V3Binary, overflow, &unlimited),
        [DecodeError::TooManyLengthDigits]
    );
}

/// CVE-2022-21676 (garbage after an upgrade) at the codec level: a WebTransport stream of
/// garbage fails once, stays failed, and buffers nothing.
#[test]
fn garbage_stream() {
    let mut deframer = Deframer::new(1_000_000);
    let mut garbage = bytes::Bytes::from(vec![0xff; 64]);
    assert_eq!(
        deframer.decode_frame(&mut garbage),
        Err(DecodeError::PayloadTooLarge)
    );
    assert_eq!(
        deframer.decode_frame(&mut garbage),
        Err(DecodeError::PayloadTooLarge)
    );
}
