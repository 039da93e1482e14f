//! Property tests: every packet kind round-trips through every encoding, in both versions.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use bytes::Bytes;
use engineio_proto::webtransport::{self, Deframer};
use engineio_proto::{
    Data, Frame, Limits, Packet, PacketRef, PacketType, PayloadFormat, ProtocolVersion, Utf8Bytes,
    decode_payload, decode_payload_owned, encode_payload,
};
use proptest::prelude::*;

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V3), Just(ProtocolVersion::V4)]
}

fn packet_type() -> impl Strategy<Value = PacketType> {
    (0u8..7).prop_map(|n| PacketType::from_number(n).unwrap())
}

/// Any packet the given version can carry: v4 puts binary data only in messages. Text is any
/// Unicode (astral characters included) but the v4 record separator.
fn packet(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let data = prop_oneof![
        Just(Data::None),
        "[^\u{1e}]{1,40}".prop_map(|s| Data::Text(Utf8Bytes::from(s))),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Data::Binary(Bytes::from(b))),
    ];
    (packet_type(), data).prop_map(move |(t, data)| {
        let packet_type = if version == ProtocolVersion::V4 && matches!(data, Data::Binary(_)) {
            PacketType::Message
        } else {
            t
        };
        Packet { packet_type, data }
    })
}

fn version_and_packets(max: usize) -> impl Strategy<Value = (ProtocolVersion, Vec<Packet>)> {
    version().prop_flat_map(move |v| (Just(v), proptest::collection::vec(packet(v), 0..max)))
}

fn formats(version: ProtocolVersion) -> &'static [PayloadFormat] {
    match version {
        ProtocolVersion::V4 => &[PayloadFormat::V4],
        ProtocolVersion::V3 => &[PayloadFormat::V3Text, PayloadFormat::V3Binary],
    }
}

proptest! {
    #[test]
    fn text_form_round_trips((version, packets) in version_and_packets(2)) {
        for p in packets {
            let mut out = Vec::new();
            p.as_packet_ref().encode_text(version, &mut out).unwrap();
            let text = std::str::from_utf8(&out).unwrap();
            let back = PacketRef::decode_text(version, text).unwrap().to_owned_packet();
            prop_assert_eq!(back, p);
        }
    }

    #[test]
    fn frames_round_trip((version, packets) in version_and_packets(2), b64 in any::<bool>()) {
        for p in packets {
            let back = match p.to_frame(version, b64).unwrap() {
                Frame::Text(t) => Packet::decode_text_frame(version, &t).unwrap(),
                Frame::Binary(b) => Packet::decode_binary_frame(version, &b).unwrap(),
            };
            prop_assert_eq!(back, p);
        }
    }

    #[test]
    fn polling_bodies_round_trip((version, packets) in version_and_packets(12)) {
        for &format in formats(version) {
            let mut body = Vec::new();
            let n = encode_payload(format, packets.iter().map(Packet::as_packet_ref), usize::MAX, &mut body).unwrap();
            prop_assert_eq!(n, packets.len());
            if packets.is_empty() && format != PayloadFormat::V3Text {
                continue; // an empty body is not a valid request
            }
            let (back, error) = decode_payload_owned(format, &Bytes::from(body), &Limits::default());
            prop_assert_eq!(error, None);
            prop_assert_eq!(back, packets.clone());
        }
    }

    #[test]
    fn packing_respects_max_payload((version, packets) in version_and_packets(12), max in 1usize..200) {
        for &format in formats(version) {
            let mut body = Vec::new();
            let n = encode_payload(format, packets.iter().map(Packet::as_packet_ref), max, &mut body).unwrap();
            prop_assert!(n <= packets.len());
            if !packets.is_empty() {
                prop_assert!(n >= 1, "a queue always drains");
                prop_assert!(body.len() <= max || n == 1);
                let (back, error) = decode_payload_owned(format, &Bytes::from(body), &Limits::default().with_max_payload(usize::MAX));
                prop_assert_eq!(error, None);
                prop_assert_eq!(&back[..], &packets[..n]);
                // The next packet would not have fitted.
                if n < packets.len() {
                    let mut longer = Vec::new();
                    encode_payload(format, packets[..=n].iter().map(Packet::as_packet_ref), usize::MAX, &mut longer).unwrap();
                    prop_assert!(longer.len() > max);
                }
            }
        }
    }

    #[test]
    fn webtransport_round_trips_in_any_chunking(packets in proptest::collection::vec(packet(ProtocolVersion::V4), 0..8), chunk in 1usize..50) {
        let mut stream = Vec::new();
        for p in &packets {
            webtransport::encode_packet(&p.as_packet_ref(), &mut stream).unwrap();
        }
        let mut deframer = Deframer::new(1_000_000);
        let mut back = Vec::new();
        for piece in stream.chunks(chunk) {
            let mut piece = Bytes::copy_from_slice(piece);
            while let Some(p) = deframer.decode_packet(&mut piece).unwrap() {
                back.push(p);
            }
            prop_assert!(piece.is_empty());
        }
        prop_assert_eq!(back, packets);
    }

    /// Arbitrary bytes never panic, and whatever decodes re-encodes to a body that decodes to
    /// the same packets.
    #[test]
    fn arbitrary_bodies_decode_or_fail_cleanly(body in proptest::collection::vec(any::<u8>(), 0..64), pick in 0usize..3) {
        let format = [PayloadFormat::V4, PayloadFormat::V3Text, PayloadFormat::V3Binary][pick];
        let packets: Vec<Packet> = decode_payload(format, &body, &Limits::default())
            .map_while(Result::ok)
            .map(|p| p.to_owned_packet())
            .collect();
        if packets.is_empty() {
            return Ok(());
        }
        let mut again = Vec::new();
        encode_payload(format, packets.iter().map(Packet::as_packet_ref), usize::MAX, &mut again).unwrap();
        let (back, error) = decode_payload_owned(format, &Bytes::from(again), &Limits::default());
        prop_assert_eq!(error, None);
        prop_assert_eq!(back, packets);
    }

    #[test]
    fn utf16_len_matches_std(s in any::<String>()) {
        prop_assert_eq!(engineio_proto::utf16_len(&s), s.encode_utf16().count());
    }
}
