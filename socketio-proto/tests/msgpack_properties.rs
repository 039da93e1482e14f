//! Properties of the msgpack codec: any bytes decode or fail without panicking, the borrowed
//! and owned layers agree, and packets built with serde survive encode → decode unchanged
//! (JSON text and attachments), as either side writes them; with a key repeated in an
//! object, unchanged as JavaScript holds them (the last value at the first place, and no
//! binary of an overridden value).
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use bytes::Bytes;
use proptest::prelude::*;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use socketio_proto::msgpack::{MsgpackError, RawMsgpackPacket, Side};
use socketio_proto::{AckId, DecodeError, Limits, Namespace, Packet};

/// A payload value: JSON plus binaries.
#[derive(Debug, Clone)]
enum V {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bin(Vec<u8>),
    Arr(Vec<V>),
    Obj(Vec<(String, V)>),
}

impl Serialize for V {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            V::Null => s.serialize_unit(),
            V::Bool(b) => s.serialize_bool(*b),
            V::Int(n) => s.serialize_i64(*n),
            V::Float(f) => s.serialize_f64(*f),
            V::Str(t) => s.serialize_str(t),
            V::Bin(b) => s.serialize_bytes(b),
            V::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            V::Obj(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl V {
    fn repeats_a_key(&self) -> bool {
        match self {
            V::Arr(items) => items.iter().any(V::repeats_a_key),
            V::Obj(entries) => entries.iter().enumerate().any(|(i, (key, value))| {
                value.repeats_a_key() || entries[..i].iter().any(|(k, _)| k == key)
            }),
            _ => false,
        }
    }
}

/// The payload as a JavaScript object holds it: parsed with the last value of a repeated key
/// at its first place (serde_json with `preserve_order`, as `JSON.parse`), each placeholder
/// replaced by its attachment's bytes.
fn as_javascript_holds(packet: &Packet) -> Option<String> {
    fn resolve(value: &mut serde_json::Value, attachments: &[Bytes]) {
        match value {
            serde_json::Value::Array(items) => {
                items.iter_mut().for_each(|item| resolve(item, attachments))
            }
            serde_json::Value::Object(map) => {
                if map.get("_placeholder") == Some(&serde_json::Value::Bool(true)) {
                    let num = map.get("num").and_then(serde_json::Value::as_u64).unwrap();
                    *value = format!("bin:{:?}", attachments[num as usize]).into();
                } else {
                    map.values_mut().for_each(|item| resolve(item, attachments));
                }
            }
            _ => {}
        }
    }
    let mut value: serde_json::Value = serde_json::from_str(packet.raw_json()?.as_str()).unwrap();
    resolve(&mut value, packet.attachments());
    // The text of the value keeps the keys' order.
    Some(value.to_string())
}

fn value() -> impl Strategy<Value = V> {
    let leaf = prop_oneof![
        Just(V::Null),
        any::<bool>().prop_map(V::Bool),
        prop_oneof![
            -(1i64 << 53)..(1i64 << 53),
            -40i64..300,
            Just((1 << 53) - 1),
            Just(u32::MAX as i64 + 1)
        ]
        .prop_map(V::Int),
        // Integral doubles past 2^64 wrap, as notepack writes them (the vectors test that).
        any::<f64>()
            .prop_filter("finite and exact", |f| f.is_finite()
                && (f.fract() != 0.0 || f.abs() < 9e15))
            .prop_map(V::Float),
        ".{0,40}".prop_map(V::Str),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(V::Bin),
    ];
    leaf.prop_recursive(4, 64, 20, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..20).prop_map(V::Arr),
            prop::collection::vec(("[a-z]{0,6}", inner), 0..18).prop_map(V::Obj),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_decode_or_fail_and_the_layers_agree(data in prop::collection::vec(any::<u8>(), 0..200)) {
        let raw = RawMsgpackPacket::parse(&data, &Limits::default());
        let owned = Packet::decode_msgpack(Bytes::copy_from_slice(&data), &Limits::default());
        match (raw, owned) {
            (Ok(raw), Ok(packet)) => {
                prop_assert_eq!(raw.packet_type(), packet.packet_type());
                prop_assert_eq!(raw.ack_id(), packet.ack_id());
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            // The packet model's own refusals are the owned decoder's alone.
            (Ok(_), Err(DecodeError::Msgpack(MsgpackError::UnsupportedKey | MsgpackError::PlaceholderKey))) => {}
            (raw, owned) => prop_assert!(false, "{:?} vs {:?}", raw, owned),
        }
    }

    #[test]
    fn events_survive_a_round_trip(
        name in "[a-z]{1,8}",
        args in prop::collection::vec(value(), 0..5),
        id in prop::option::of(0u64..=AckId::MAX.get()),
        nsp in prop_oneof![Just("/"), Just("/admin"), Just("/é")],
        client in any::<bool>(),
    ) {
        let packet = Packet::event(Namespace::new(nsp).unwrap(), &name, &args, id.map(|id| AckId::new(id).unwrap())).unwrap();
        let side = if client { Side::Client } else { Side::Server };
        let mut out = Vec::new();
        packet.write_msgpack(side, &mut out).unwrap();
        let decoded = Packet::decode_msgpack(Bytes::from(out), &Limits::default()).unwrap();
        if args.iter().any(V::repeats_a_key) {
            prop_assert_eq!(as_javascript_holds(&decoded), as_javascript_holds(&packet));
        } else {
            prop_assert_eq!(decoded.raw_json(), packet.raw_json());
            prop_assert_eq!(decoded.attachments(), packet.attachments());
        }
        prop_assert_eq!(decoded.ack_id(), packet.ack_id());
        prop_assert_eq!(decoded.namespace(), packet.namespace());
    }
}

/// A peer may put an `id` on any packet type, and both parsers keep it: re-encoding writes
/// it back, on either side (found by the `msgpack_decode` fuzz target: a CONNECT lost it).
#[test]
fn an_ack_id_on_any_packet_type_survives_a_round_trip() {
    // {type, id: 98, nsp: "/", data?} with a payload the type accepts.
    let cases: [(u8, &[u8]); 5] = [
        (0, b"\xa4data\x80"),
        (1, b""),
        (2, b"\xa4data\x91\xa1a"),
        (3, b"\xa4data\x90"),
        (4, b"\xa4data\xa1x"),
    ];
    for (packet_type, data) in cases {
        let mut wire = vec![if data.is_empty() { 0x83 } else { 0x84 }];
        wire.extend_from_slice(b"\xa4type");
        wire.push(packet_type);
        wire.extend_from_slice(b"\xa2id\x62\xa3nsp\xa1/");
        wire.extend_from_slice(data);
        let packet = Packet::decode_msgpack(Bytes::from(wire), &Limits::default()).unwrap();
        assert_eq!(
            packet.ack_id(),
            Some(AckId::new(98).unwrap()),
            "type {packet_type}"
        );
        for side in [Side::Server, Side::Client] {
            let mut out = Vec::new();
            packet.write_msgpack(side, &mut out).unwrap();
            let again = Packet::decode_msgpack(Bytes::from(out), &Limits::default()).unwrap();
            assert_eq!(
                again.ack_id(),
                packet.ack_id(),
                "type {packet_type}, {side:?}"
            );
            assert_eq!(
                again.raw_json(),
                packet.raw_json(),
                "type {packet_type}, {side:?}"
            );
        }
    }
}
