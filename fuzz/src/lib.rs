//! Invariants shared by the fuzz targets. Each check panics (and so reports a crash) when an
//! invariant breaks; "does not panic" alone is not the bar.

use bytes::Bytes;
use engineio_proto::{
    Frame, Limits, Packet, PacketRef, PayloadFormat, ProtocolVersion, decode_payload,
    decode_payload_owned, encode_payload,
};

/// A text or binary frame decodes to a packet whose own encoding decodes back to it.
pub fn check_packet(version: ProtocolVersion, data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(packet) = PacketRef::decode_text(version, text) {
            let mut out = Vec::new();
            packet
                .encode_text(version, &mut out)
                .expect("a decoded packet encodes");
            let again = PacketRef::decode_text(
                version,
                std::str::from_utf8(&out).expect("text form is UTF-8"),
            )
            .expect("an encoded packet decodes");
            assert_eq!(again.to_owned_packet(), packet.to_owned_packet());
            check_frame(version, &packet.to_owned_packet());
        }
    }
    if let Ok(packet) = PacketRef::decode_binary(version, data) {
        check_frame(version, &packet.to_owned_packet());
    }
}

fn check_frame(version: ProtocolVersion, packet: &Packet) {
    for b64 in [false, true] {
        let back = match packet
            .to_frame(version, b64)
            .expect("a decoded packet has a frame")
        {
            Frame::Text(t) => Packet::decode_text_frame(version, &t),
            Frame::Binary(b) => Packet::decode_binary_frame(version, &b),
        };
        assert_eq!(back.as_ref(), Ok(packet));
    }
}

/// A polling body yields at most `max_packets` packets then at most one error, last; the good
/// packets re-encode into a body that decodes to the same packets.
pub fn check_payload(format: PayloadFormat, data: &[u8]) {
    let limits = Limits::default().with_max_packets(64);
    let mut packets = Vec::new();
    let mut errors = 0;
    for item in decode_payload(format, data, &limits) {
        assert_eq!(errors, 0, "nothing follows an error");
        match item {
            Ok(p) => packets.push(p.to_owned_packet()),
            Err(_) => errors += 1,
        }
    }
    assert!(packets.len() <= limits.max_packets);
    if packets.is_empty() {
        return;
    }
    let mut body = Vec::new();
    let n = encode_payload(
        format,
        packets.iter().map(Packet::as_packet_ref),
        usize::MAX,
        &mut body,
    )
    .expect("decoded packets encode");
    assert_eq!(n, packets.len());
    let (back, error) = decode_payload_owned(format, &Bytes::from(body), &Limits::default());
    assert_eq!(error, None);
    assert_eq!(back, packets);
}

/// Encodes `packet` in msgpack as `side` writes it, decodes it and checks that encoding is a
/// fixpoint from the second round on (the first may wrap integers past 2^64, as notepack
/// does). Returns the decoded packet; `None` when the payload is too deep to encode.
pub fn msgpack_fixpoint(
    packet: &socketio_proto::Packet,
    side: socketio_proto::msgpack::Side,
) -> Option<socketio_proto::Packet> {
    use socketio_proto::{EncodedPacket, Limits, Packet};
    let encode = |packet: &Packet| match packet.encode_msgpack(side) {
        Ok(EncodedPacket::Msgpack(bytes)) => Some(bytes),
        Ok(other) => panic!("msgpack encodes to one binary message, not {other:?}"),
        // Only a payload at the depth limit exceeds serde_json's recursion limit.
        Err(err) => {
            assert!(err.to_string().contains("recursion limit"), "{err}");
            None
        }
    };
    let decode = |bytes: &Bytes| {
        Packet::decode_msgpack(bytes.clone(), &Limits::default())
            .unwrap_or_else(|err| panic!("our encoding {bytes:?} does not decode: {err}"))
    };
    let first = decode(&encode(packet)?);
    let second = encode(&first)?;
    let third = encode(&decode(&second))?;
    assert_eq!(second, third, "encoding is not a fixpoint");
    Some(first)
}
