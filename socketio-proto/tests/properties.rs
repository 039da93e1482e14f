//! Property tests: encode/decode round trips with arbitrarily nested binary values, stepwise
//! attachment delivery, typed serde round trips, and no panics on arbitrary frames.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use proptest::prelude::*;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use socketio_proto::{
    AckId, DecodeStatus, Decoder, EncodedPacket, Limits, Namespace, Packet, PacketType,
    ProtocolVersion, RESERVED_EVENT_NAMES, RawHeader,
};

/// A JSON value whose leaves may be binary.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    Binary(Bytes),
    List(Vec<Arg>),
    Object(BTreeMap<String, Arg>),
}

impl Serialize for Arg {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match self {
            Arg::Null => ser.serialize_unit(),
            Arg::Bool(b) => ser.serialize_bool(*b),
            Arg::Int(n) => ser.serialize_i64(*n),
            Arg::Text(s) => ser.serialize_str(s),
            Arg::Binary(b) => ser.serialize_bytes(b),
            Arg::List(items) => {
                let mut seq = ser.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Arg::Object(members) => {
                let mut map = ser.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Arg {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct ArgVisitor;
        impl<'de> Visitor<'de> for ArgVisitor {
            type Value = Arg;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value or bytes")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Arg, E> {
                Ok(Arg::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Arg, E> {
                Ok(Arg::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Arg, E> {
                Ok(Arg::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Arg, E> {
                i64::try_from(v).map(Arg::Int).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Arg, E> {
                Ok(Arg::Text(v.to_owned()))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Arg, E> {
                Ok(Arg::Binary(Bytes::copy_from_slice(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Arg, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Arg::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Arg, A::Error> {
                let mut members = BTreeMap::new();
                while let Some((k, v)) = map.next_entry()? {
                    members.insert(k, v);
                }
                Ok(Arg::Object(members))
            }
        }
        de.deserialize_any(ArgVisitor)
    }
}

fn arg() -> impl Strategy<Value = Arg> {
    let leaf = prop_oneof![
        Just(Arg::Null),
        any::<bool>().prop_map(Arg::Bool),
        any::<i64>().prop_map(Arg::Int),
        "\\PC{0,8}".prop_map(Arg::Text),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(|b| Arg::Binary(b.into())),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Arg::List),
            prop::collection::btree_map("[a-z_]{1,4}", inner, 0..4).prop_map(Arg::Object),
        ]
    })
}

fn namespace() -> impl Strategy<Value = Namespace> {
    prop_oneof![Just("/".to_owned()), "/[a-z/é]{0,6}"].prop_map(|n| Namespace::new(&n).unwrap())
}

fn event_name() -> impl Strategy<Value = String> {
    "\\PC{0,10}".prop_filter("reserved", |n| !RESERVED_EVENT_NAMES.contains(&n.as_str()))
}

fn ack_id() -> impl Strategy<Value = AckId> {
    (0..=AckId::MAX.get()).prop_map(|n| AckId::new(n).unwrap())
}

/// Any packet the builders make, in its v5 form.
fn packet() -> impl Strategy<Value = Packet> {
    let args = || prop::collection::vec(arg(), 0..5);
    prop_oneof![
        namespace().prop_map(Packet::connect),
        namespace().prop_map(Packet::disconnect),
        (
            namespace(),
            prop::collection::btree_map("[a-z]{1,4}", "\\PC{0,6}", 0..4)
        )
            .prop_map(|(ns, auth)| Packet::connect_with(ns, &auth).unwrap()),
        (namespace(), "\\PC{0,12}").prop_map(|(ns, m)| Packet::connect_error(ns, &m).unwrap()),
        (
            namespace(),
            event_name(),
            args(),
            proptest::option::of(ack_id())
        )
            .prop_map(|(ns, name, args, id)| Packet::event(ns, &name, &args, id).unwrap()),
        (namespace(), ack_id(), args())
            .prop_map(|(ns, id, args)| Packet::ack(ns, id, &args).unwrap()),
    ]
}

fn limits() -> Limits {
    Limits {
        max_attachments: 10_000,
        ..Limits::default()
    }
}

/// Feeds an encoded packet frame by frame, checking the countdown.
fn feed(decoder: &mut Decoder, encoded: &EncodedPacket) -> Packet {
    let attachments = encoded.attachments();
    let mut status = decoder.feed_text(encoded.to_text().unwrap()).unwrap();
    for (k, attachment) in attachments.iter().enumerate() {
        assert_eq!(
            status,
            DecodeStatus::NeedAttachments {
                remaining: attachments.len() - k
            }
        );
        status = decoder.feed_binary(attachment.clone()).unwrap();
    }
    assert!(decoder.is_idle());
    match status {
        DecodeStatus::Complete(packet) => packet,
        other => panic!("incomplete: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn v5_decode_of_encode_is_identity(p in packet()) {
        let mut decoder = Decoder::new(ProtocolVersion::V5, limits());
        prop_assert_eq!(feed(&mut decoder, &p.encode()), p);
    }

    #[test]
    fn v4_decode_of_encode_keeps_binary_types(p in packet()) {
        let mut decoder = Decoder::new(ProtocolVersion::V4, limits());
        let decoded = feed(&mut decoder, &p.encode());
        let expected_type = p.packet_type().on_wire_for_test(p.is_binary());
        prop_assert_eq!(decoded.packet_type(), expected_type);
        let (_, ns, id, data, attachments) = p.into_parts();
        let (_, ns2, id2, data2, attachments2) = decoded.into_parts();
        prop_assert_eq!((ns, id, data, attachments), (ns2, id2, data2, attachments2));
    }

    #[test]
    fn event_args_round_trip(name in event_name(), args in prop::collection::vec(arg(), 0..5), id in proptest::option::of(ack_id())) {
        let p = Packet::event(Namespace::main(), &name, &args, id).unwrap();
        let mut decoder = Decoder::new(ProtocolVersion::V5, limits());
        let decoded = feed(&mut decoder, &p.encode());
        let decoded_name = decoded.event_name().unwrap();
        prop_assert_eq!(decoded_name.as_str(), name.as_str());
        prop_assert_eq!(decoded.args::<Vec<Arg>>().unwrap(), args);
    }

    /// Attachments fed one by one on a decoder that already handled other packets give the
    /// packet assembled from the header and all attachments at once.
    #[test]
    fn stepwise_attachments_equal_all_at_once(packets in prop::collection::vec(packet(), 1..6)) {
        let mut decoder = Decoder::new(ProtocolVersion::V5, limits());
        for p in packets {
            let encoded = p.encode();
            let text = encoded.to_text().unwrap();
            let header = RawHeader::parse(text.as_str(), ProtocolVersion::V5, &limits()).unwrap();
            let all_at_once = Packet::from_parts(
                p.packet_type(),
                Namespace::new(header.namespace_name()).unwrap(),
                header.ack_id(),
                header.json().map(socketio_proto::Utf8Bytes::copy_from_str),
                encoded.attachments().to_vec(),
            ).unwrap();
            prop_assert_eq!(header.attachments(), encoded.attachments().len());
            prop_assert_eq!(feed(&mut decoder, &encoded), all_at_once);
        }
    }

    #[test]
    fn detach_keeps_the_value(p in packet()) {
        let mut copy = p.clone();
        copy.detach();
        prop_assert_eq!(copy, p);
    }

    #[test]
    fn arbitrary_frames_never_panic_and_respect_limits(
        frames in prop::collection::vec(
            prop_oneof![
                "[0-9]{0,3}[-/,]?[0-9a-z/]{0,3}[-/,]?[0-9]{0,2}(\\[\"a\",\\{\"_placeholder\":true,\"num\":[0-2]\\}\\])?"
                    .prop_map(Ok),
                prop::collection::vec(any::<u8>(), 0..300).prop_map(Err),
            ],
            0..40,
        )
    ) {
        let limits = Limits { max_attachments: 3, max_attachment_bytes: 500, max_json_depth: 8 };
        let mut decoder = Decoder::new(ProtocolVersion::V5, limits);
        for frame in frames {
            let result = match frame {
                Ok(text) => decoder.feed_text(text),
                Err(binary) => decoder.feed_binary(binary),
            };
            if result.is_err() {
                prop_assert!(decoder.is_idle());
            }
            prop_assert!(decoder.buffered_bytes() <= limits.max_attachment_bytes);
            prop_assert!(decoder.remaining_attachments() <= limits.max_attachments);
        }
    }

    #[test]
    fn raw_header_never_panics(text in "\\PC{0,24}") {
        for version in [ProtocolVersion::V4, ProtocolVersion::V5] {
            if let Ok(header) = RawHeader::parse(&text, version, &Limits::default()) {
                let _ = header.validate();
            }
        }
    }
}

/// The type a v4 decoder reports for a packet built in v5 form.
trait V4Type {
    fn on_wire_for_test(self, binary: bool) -> PacketType;
}

impl V4Type for PacketType {
    fn on_wire_for_test(self, binary: bool) -> PacketType {
        match self {
            PacketType::Event if binary => PacketType::BinaryEvent,
            PacketType::Ack if binary => PacketType::BinaryAck,
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Kind {
    Plain,
    Sized(u32),
    Blob { data: Bytes },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Upload {
    name: String,
    chunks: Vec<Bytes>,
    meta: Option<BTreeMap<u32, i64>>,
    kind: Kind,
}

fn upload() -> impl Strategy<Value = Upload> {
    let bytes = prop::collection::vec(any::<u8>(), 0..16).prop_map(Bytes::from);
    let kind = prop_oneof![
        Just(Kind::Plain),
        any::<u32>().prop_map(Kind::Sized),
        bytes.clone().prop_map(|data| Kind::Blob { data }),
    ];
    (
        "\\PC{0,10}",
        prop::collection::vec(bytes, 0..4),
        proptest::option::of(prop::collection::btree_map(
            any::<u32>(),
            any::<i64>(),
            0..3,
        )),
        kind,
    )
        .prop_map(|(name, chunks, meta, kind)| Upload {
            name,
            chunks,
            meta,
            kind,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn typed_serde_round_trip(upload in upload(), tag in any::<u8>(), id in ack_id()) {
        let event = Packet::event(Namespace::main(), "upload", &(&upload, tag), Some(id)).unwrap();
        let ack = Packet::ack(Namespace::main(), id, &(&upload,)).unwrap();
        let mut decoder = Decoder::new(ProtocolVersion::V5, limits());
        let decoded = feed(&mut decoder, &event.encode());
        prop_assert_eq!(decoded.args::<(Upload, u8)>().unwrap(), (upload.clone(), tag));
        let decoded = feed(&mut decoder, &ack.encode());
        prop_assert_eq!(decoded.args::<(Upload,)>().unwrap().0, upload.clone());
        prop_assert_eq!(decoded.data::<(Upload,)>().unwrap().0, upload);
    }
}

/// `Attachment` and `Bytes` arguments mix in one packet: placeholders numbered in argument
/// order, the `Attachment` shared rather than copied, and both read back.
#[test]
fn attachments_and_bytes_mix_and_attachments_are_not_copied() {
    use socketio_proto::{Attachment, EncodeError, Namespace, Packet};
    let shared = bytes::Bytes::from(vec![7u8; 64]);
    let packet = Packet::event(
        Namespace::main(),
        "mix",
        &(
            bytes::Bytes::from_static(b"copied"),
            vec![Attachment(shared.clone())],
        ),
        None,
    )
    .unwrap();
    assert_eq!(
        packet.raw_json().unwrap().as_str(),
        r#"["mix",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]"#
    );
    assert_eq!(packet.attachments()[1].as_ptr(), shared.as_ptr());
    let (first, list): (Vec<u8>, Vec<Attachment>) = packet.args().unwrap();
    assert_eq!(first, b"copied");
    assert_eq!(list[0].0.as_ptr(), shared.as_ptr());
    // Types that carry no attachments refuse it, as they refuse bytes.
    assert!(matches!(
        Packet::connect_with(Namespace::main(), &Attachment(shared)),
        Err(EncodeError::BinaryNotAllowed)
    ));
    // Outside a packet, it is plain bytes.
    let json = serde_json::to_string(&Attachment(bytes::Bytes::from_static(b"\x01\x02"))).unwrap();
    assert_eq!(json, "[1,2]");
}
