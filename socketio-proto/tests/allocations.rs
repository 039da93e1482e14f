//! The allocation counts the README states, held as tests: decoding a plain packet allocates
//! nothing, a binary one only its attachment list; encoding into a reused buffer allocates
//! nothing and `encode()` once for the text.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

#[path = "../../engineio-proto/tests/support/counting.rs"]
mod counting;

use bytes::Bytes;
use counting::allocations_during;
use socketio_proto::{
    AckId, DecodeStatus, Decoder, Limits, Namespace, Packet, ProtocolVersion, Utf8Bytes,
};

fn placeholders(count: usize) -> String {
    let items: Vec<String> = (0..count)
        .map(|n| format!(r#"{{"_placeholder":true,"num":{n}}}"#))
        .collect();
    items.join(",")
}

/// Feeds a header and its attachments; returns the packet and the allocations made.
fn decode(limits: Limits, text: &Utf8Bytes, attachments: &[Bytes]) -> (Packet, usize) {
    let mut decoder = Decoder::new(ProtocolVersion::V5, limits);
    let mut packet = None;
    let n = allocations_during(|| {
        let mut status = decoder.feed_utf8(text.clone()).unwrap();
        for a in attachments {
            status = decoder.feed_binary(a.clone()).unwrap();
        }
        match status {
            DecodeStatus::Complete(p) => packet = Some(p),
            other => panic!("{other:?}"),
        }
    });
    (packet.unwrap(), n)
}

#[test]
fn decoding_a_plain_packet_allocates_nothing() {
    for text in [
        "0",
        r#"0/admin,{"token":"abc"}"#,
        r#"2["chat","hello"]"#,
        r#"2/admin,12["chat",{"a":[1,2,{"b":null}]}]"#,
        r#"3/admin,12["ok"]"#,
        r#"4{"message":"refused"}"#,
        "1/admin,",
    ] {
        // A shared buffer, as an Engine.IO frame is: cloning it counts a reference.
        let text = Utf8Bytes::from_static(text);
        assert_eq!(decode(Limits::default(), &text, &[]).1, 0, "{text}");
    }
}

#[test]
fn decoding_a_binary_packet_allocates_only_its_attachment_list() {
    for count in [1, 10] {
        let text = Utf8Bytes::from(format!(r#"5{count}-["file",{}]"#, placeholders(count)));
        let attachments = vec![Bytes::from_static(&[7; 64]); count];
        let (packet, n) = decode(Limits::default(), &text, &attachments);
        assert_eq!(packet.attachments().len(), count);
        assert_eq!(n, 1, "{count} attachments");
    }
    // Beyond 128 attachments the placeholder bookkeeping spills to the heap: one more.
    let limits = Limits {
        max_attachments: 300,
        ..Limits::default()
    };
    let text = Utf8Bytes::from(format!(r#"5300-["file",{}]"#, placeholders(300)));
    let attachments = vec![Bytes::from_static(&[7; 4]); 300];
    assert_eq!(decode(limits, &text, &attachments).1, 2);
}

#[test]
fn encoding_allocates_at_most_the_text() {
    let packets = [
        Packet::event(Namespace::main(), "chat", &("hello", 1), None).unwrap(),
        Packet::event(
            Namespace::new("/admin").unwrap(),
            "file",
            &(Bytes::from_static(&[1; 16]),),
            AckId::new(7),
        )
        .unwrap(),
    ];
    let mut out = Vec::with_capacity(256);
    for packet in &packets {
        assert_eq!(
            allocations_during(|| {
                out.clear();
                packet.write_text(&mut out);
            }),
            0
        );
        // The first clone of an attachment serialized into a `Vec` turns it into a shared
        // buffer (one allocation, once per attachment); count from the second encode on.
        packet.encode();
        let fresh_list = usize::from(!packet.attachments().is_empty());
        assert_eq!(allocations_during(|| packet.encode()), 1 + fresh_list);
        let owned = packet.clone();
        assert_eq!(allocations_during(|| owned.into_encoded()), 1);
    }
}

#[test]
fn msgpack_encoding_into_a_reused_buffer_allocates_nothing() {
    use socketio_proto::msgpack::Side;
    let wide: Vec<u32> = (0..40).collect();
    for packet in [
        Packet::event(Namespace::main(), "chat", &("hello", 42, [1.5, -2.0]), None).unwrap(),
        Packet::event(
            Namespace::new("/admin").unwrap(),
            "file",
            &(Bytes::from_static(&[9; 2000]), wide.as_slice()),
            AckId::new(7),
        )
        .unwrap(),
        Packet::ack(Namespace::main(), AckId::new(3).unwrap(), &("ok",)).unwrap(),
    ] {
        for side in [Side::Server, Side::Client] {
            let mut out = Vec::with_capacity(8192);
            packet.write_msgpack(side, &mut out).unwrap();
            let n = allocations_during(|| {
                out.clear();
                packet.write_msgpack(side, &mut out).unwrap();
            });
            assert_eq!(n, 0, "{packet:?} as {side:?}");
        }
    }
}
