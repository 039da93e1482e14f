//! The msgpack vectors of PROTOCOL.md D.11, one test each. Where the table's key order is one
//! that neither official package writes (MP-04, MP-05, MP-07) or holds `undefined` inside the
//! payload (MP-08), the vector is decoded only; the others are encoded byte for byte too.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use bytes::Bytes;
use socketio_proto::msgpack::{MsgpackError, Side};
use socketio_proto::{AckId, DecodeError, Limits, Namespace, Packet, PacketType, Utf8Bytes};

fn bytes(hex: &str) -> Bytes {
    let hex: String = hex.split_whitespace().collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

fn decode(hex: &str) -> Result<Packet, DecodeError> {
    Packet::decode_msgpack(bytes(hex), &Limits::default())
}

fn packet(t: PacketType, nsp: &str, id: Option<u64>, json: Option<&str>, bins: &[&[u8]]) -> Packet {
    Packet::from_parts(
        t,
        Namespace::new(nsp).unwrap(),
        id.map(|id| AckId::new(id).unwrap()),
        json.map(Utf8Bytes::copy_from_str),
        bins.iter().map(|b| Bytes::copy_from_slice(b)).collect(),
    )
    .unwrap()
}

/// Decodes `hex` to `expected`, and when `side` is given encodes `expected` back to `hex`.
fn check(hex: &str, expected: &Packet, side: Option<Side>) {
    assert_eq!(&decode(hex).unwrap(), expected);
    if let Some(side) = side {
        let mut out = Vec::new();
        expected.write_msgpack(side, &mut out).unwrap();
        assert_eq!(Bytes::from(out), bytes(hex));
    }
}

#[test]
fn mp_01_connect_without_data() {
    let p = packet(PacketType::Connect, "/", None, None, &[]);
    check(
        "82 a4 74 79 70 65 00 a3 6e 73 70 a1 2f",
        &p,
        Some(Side::Server),
    );
}

#[test]
fn mp_02_connect_with_data() {
    // The client writes it so; the server adds `pid: undefined` without recovery.
    let p = packet(
        PacketType::Connect,
        "/",
        None,
        Some(r#"{"sid":"abc"}"#),
        &[],
    );
    check(
        "83 a4 74 79 70 65 00 a4 64 61 74 61 81 a3 73 69 64 a3 61 62 63 a3 6e 73 70 a1 2f",
        &p,
        Some(Side::Client),
    );
}

#[test]
fn mp_03_event() {
    let p = packet(PacketType::Event, "/", None, Some(r#"["hello",1]"#), &[]);
    check(
        "83 a4 74 79 70 65 02 a4 64 61 74 61 92 a5 68 65 6c 6c 6f 01 a3 6e 73 70 a1 2f",
        &p,
        Some(Side::Server),
    );
}

#[test]
fn mp_04_readme_key_order_decodes() {
    let p = packet(
        PacketType::Event,
        "/",
        None,
        Some(r#"["hello","you"]"#),
        &[],
    );
    check(
        "83 a4 74 79 70 65 02 a3 6e 73 70 a1 2f a4 64 61 74 61 92 a5 68 65 6c 6c 6f a3 79 6f 75",
        &p,
        None,
    );
}

#[test]
fn mp_05_event_with_id_after_nsp_decodes() {
    let p = packet(PacketType::Event, "/", Some(1), Some(r#"["hello"]"#), &[]);
    check(
        "84 a4 74 79 70 65 02 a4 64 61 74 61 91 a5 68 65 6c 6c 6f a3 6e 73 70 a1 2f a2 69 64 01",
        &p,
        None,
    );
}

#[test]
fn mp_06_binary_inline() {
    let p = packet(
        PacketType::Event,
        "/admin",
        None,
        Some(r#"["bin",{"_placeholder":true,"num":0}]"#),
        &[&[1, 2, 3]],
    );
    check(
        "83 a4 74 79 70 65 02 a4 64 61 74 61 92 a3 62 69 6e c4 03 01 02 03 a3 6e 73 70 a6 2f 61 64 6d 69 6e",
        &p,
        Some(Side::Server),
    );
}

#[test]
fn mp_07_empty_ack_decodes() {
    let p = packet(PacketType::Ack, "/", Some(0), Some("[]"), &[]);
    check(
        "84 a4 74 79 70 65 03 a4 64 61 74 61 90 a3 6e 73 70 a1 2f a2 69 64 00",
        &p,
        None,
    );
}

#[test]
fn mp_08_undefined_reads_as_null_in_an_array() {
    let p = packet(PacketType::Event, "/", None, Some(r#"["x",null]"#), &[]);
    check(
        "83 a4 74 79 70 65 02 a4 64 61 74 61 92 a1 78 d4 00 00 a3 6e 73 70 a1 2f",
        &p,
        None,
    );
}

#[test]
fn mp_09_numbers_and_literals() {
    let p = packet(
        PacketType::Event,
        "/",
        None,
        Some(r#"["f",1.5,-1,300,true,null]"#),
        &[],
    );
    check(
        "83 a4 74 79 70 65 02 a4 64 61 74 61 96 a1 66 cb 3f f8 00 00 00 00 00 00 ff cd 01 2c c3 c0 a3 6e 73 70 a1 2f",
        &p,
        Some(Side::Server),
    );
}

#[test]
fn mp_e1_type_5_is_an_invalid_packet_type() {
    let err = decode("83 a4 74 79 70 65 05 a3 6e 73 70 a1 2f a4 64 61 74 61 90").unwrap_err();
    assert_eq!(err, DecodeError::Msgpack(MsgpackError::InvalidPacketType));
    assert_eq!(err.to_string(), "invalid packet type");
}

#[test]
fn mp_e2_numeric_namespace_is_invalid() {
    let err = decode("83 a4 74 79 70 65 02 a3 6e 73 70 01 a4 64 61 74 61 90").unwrap_err();
    assert_eq!(err.to_string(), "invalid namespace");
}

#[test]
fn mp_e3_event_with_map_data_is_an_invalid_payload() {
    let err = decode("83 a4 74 79 70 65 02 a3 6e 73 70 a1 2f a4 64 61 74 61 80").unwrap_err();
    assert_eq!(err, DecodeError::InvalidPayload);
    assert_eq!(err.to_string(), "invalid payload");
}

#[test]
fn mp_e4_string_id_is_an_invalid_packet_id() {
    let err =
        decode("84 a4 74 79 70 65 02 a3 6e 73 70 a1 2f a4 64 61 74 61 91 a1 78 a2 69 64 a1 31")
            .unwrap_err();
    assert_eq!(err.to_string(), "invalid packet id");
}

#[test]
fn mp_d1_reserved_event_names_are_accepted() {
    let p =
        decode("83 a4 74 79 70 65 02 a3 6e 73 70 a1 2f a4 64 61 74 61 91 a7 63 6f 6e 6e 65 63 74")
            .unwrap();
    assert_eq!(p.raw_json().unwrap().as_str(), r#"["connect"]"#);
}
