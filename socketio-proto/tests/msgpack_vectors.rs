//! The msgpack vectors of PROTOCOL.md D.11, one test each. Where the table's key order is one
//! that neither official package writes (MP-04, MP-05, MP-07) or holds `undefined` inside the
//! payload (MP-08), the vector is decoded only; the others are encoded byte for byte too.
//! Then the frames on which a differential run found us apart from the reference (MP-R..),
//! each with the reference's verdict.
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

// Differences an independent differential run found against socket.io-msgpack-parser 3.0.2
// (Node.js), each with the reference decoder's verdict as
// `node reference/generate-msgpack.js --probe HEX…` prints it (the same frames are hand cases
// of the generator, so `msgpack_reference.rs` replays them too).

/// The packet `hex` decodes to: type, namespace, id, the payload as a JSON value (a reader
/// keeping the last value of a duplicate key at its first position, as `JSON.parse` does)
/// with its keys in order, and the attachments.
fn reads_as(hex: &str, t: PacketType, nsp: &str, id: Option<u64>, json: &str, bins: &[&[u8]]) {
    let p = decode(hex).unwrap_or_else(|e| panic!("{hex}: {e}"));
    assert_eq!(p.packet_type(), t, "{hex}");
    assert_eq!(p.full_namespace().wire().as_str(), nsp, "{hex}");
    assert_eq!(p.ack_id().map(AckId::get), id, "{hex}");
    let ours: serde_json::Value = serde_json::from_str(p.raw_json().unwrap().as_str()).unwrap();
    let reference: serde_json::Value = serde_json::from_str(json).unwrap();
    // `Value` equality ignores key order; the text of the parsed value does not.
    assert_eq!(
        ours.to_string(),
        reference.to_string(),
        "{hex}: {:?}",
        p.raw_json()
    );
    let bins: Vec<Bytes> = bins.iter().map(|b| Bytes::copy_from_slice(b)).collect();
    assert_eq!(p.attachments(), bins.as_slice(), "{hex}");
    // Whatever the decoder accepts re-encodes, and reads back the same.
    for side in [Side::Server, Side::Client] {
        let mut out = Vec::new();
        p.write_msgpack(side, &mut out).unwrap();
        let again = Packet::decode_msgpack(Bytes::from(out), &Limits::default()).unwrap();
        let json = |p: &Packet| {
            p.raw_json()
                .map(|j| serde_json::from_str::<serde_json::Value>(j.as_str()).unwrap())
        };
        assert_eq!(json(&again), json(&p));
        assert_eq!(again.attachments(), p.attachments());
    }
}

fn refused(hex: &str) -> DecodeError {
    let err = decode(hex).unwrap_err();
    // The borrowed check refuses alike, but for the two refusals that need the payload's names.
    let frame = bytes(hex);
    match socketio_proto::msgpack::RawMsgpackPacket::parse(&frame, &Limits::default()) {
        Err(raw) => assert_eq!(raw, err, "{hex}"),
        Ok(_) => assert!(
            matches!(
                err,
                DecodeError::Msgpack(MsgpackError::UnsupportedKey | MsgpackError::PlaceholderKey)
            ),
            "{hex}: {err}"
        ),
    }
    err
}

// --- A key whose last value is `undefined` (reference: the key is left out).

#[test]
fn mp_r01_duplicate_key_whose_last_value_is_undefined_is_left_out() {
    // {type: 2, nsp: "/", data: ["e", {a: 1, a: undefined}]}: reference ["e",{}].
    reads_as(
        "83a47479706502a36e7370a12fa46461746192a16582a16101a161d40000",
        PacketType::Event,
        "/",
        None,
        r#"["e",{}]"#,
        &[],
    );
}

#[test]
fn mp_r02_a_key_set_again_after_undefined_keeps_its_first_place() {
    // data ["x", {a: 1, b: 2, a: undefined, a: 3}]: reference ["x",{"a":3,"b":2}].
    reads_as(
        "83a47479706502a36e7370a12fa46461746192a17884a16101a16202a161d40000a16103",
        PacketType::Event,
        "/",
        None,
        r#"["x",{"a":3,"b":2}]"#,
        &[],
    );
}

#[test]
fn mp_r03_a_first_undefined_entry_holds_its_keys_place() {
    // data ["x", {a: undefined, b: 2, a: 3}]: reference ["x",{"a":3,"b":2}].
    reads_as(
        "83a47479706502a36e7370a12fa46461746192a17883a161d40000a16202a16103",
        PacketType::Event,
        "/",
        None,
        r#"["x",{"a":3,"b":2}]"#,
        &[],
    );
}

#[test]
fn mp_r04_a_binary_under_a_key_set_to_undefined_is_no_attachment() {
    // data ["x", {a: <01>, b: <02>, a: undefined}]: reference ["x",{"b":<02>}].
    reads_as(
        "83a47479706502a36e7370a12fa46461746192a17883a161c40101a162c40102a161d40000",
        PacketType::Event,
        "/",
        None,
        r#"["x",{"b":{"_placeholder":true,"num":0}}]"#,
        &[&[2]],
    );
}

#[test]
fn mp_r05_undefined_keys_in_nested_maps() {
    // data ["x", {a: {b: 1, b: undefined, c: <03>}, a: undefined, d: <04>}]:
    // reference ["x",{"d":<04>}].
    reads_as(
        "83a47479706502a36e7370a12fa46461746192a17883a16183a16201a162d40000a163c40103a161d40000a164c40104",
        PacketType::Event,
        "/",
        None,
        r#"["x",{"d":{"_placeholder":true,"num":0}}]"#,
        &[&[4]],
    );
}

#[test]
fn mp_r06_an_integer_key_and_its_string_are_one_key() {
    // data ["x", {1: "x", "1": undefined}]: reference ["x",{}].
    reads_as(
        "83a47479706502a36e7370a12fa46461746192a1788201a178a131d40000",
        PacketType::Event,
        "/",
        None,
        r#"["x",{}]"#,
        &[],
    );
}

#[test]
fn mp_r07_an_overridden_value_keeps_no_binary() {
    // data ["x", {a: <01>, b: <02>, a: 3}]: reference ["x",{"a":3,"b":<02>}], one attachment.
    reads_as(
        "83a47479706502a36e7370a12fa46461746192a17883a161c40101a162c40102a16103",
        PacketType::Event,
        "/",
        None,
        r#"["x",{"a":3,"b":{"_placeholder":true,"num":0}}]"#,
        &[&[2]],
    );
    // data ["x", {a: [<01>, <05>], a: {c: <06>}, b: <02>}]: reference
    // ["x",{"a":{"c":<06>},"b":<02>}].
    reads_as(
        "83a47479706502a36e7370a12fa46461746192a17883a16192c40101c40105a16181a163c40106a162c40102",
        PacketType::Event,
        "/",
        None,
        r#"["x",{"a":{"c":{"_placeholder":true,"num":0}},"b":{"_placeholder":true,"num":1}}]"#,
        &[&[6], &[2]],
    );
}

// --- Keys that are not strings: the property name JavaScript makes of them.

#[test]
fn mp_r10_a_binary_key_type_is_the_packet_type() {
    // {<"type">: 2, nsp: "/", data: ["e"]}: reference EVENT ["e"].
    reads_as(
        "83c4047479706502a36e7370a12fa46461746191a165",
        PacketType::Event,
        "/",
        None,
        r#"["e"]"#,
        &[],
    );
}

#[test]
fn mp_r11_an_array_key_type_is_the_packet_type() {
    // {["type"]: 2, nsp: "/", data: ["e"]}: reference EVENT ["e"].
    reads_as(
        "8391a47479706502a36e7370a12fa46461746191a165",
        PacketType::Event,
        "/",
        None,
        r#"["e"]"#,
        &[],
    );
}

#[test]
fn mp_r12_a_binary_key_id_is_the_ack_id() {
    // {type: 2, nsp: "/", data: ["e"], <"id">: 7}: reference id 7.
    reads_as(
        "84a47479706502a36e7370a12fa46461746191a165c402696407",
        PacketType::Event,
        "/",
        Some(7),
        r#"["e"]"#,
        &[],
    );
}

#[test]
fn mp_r13_a_nested_array_key_holding_a_binary_nsp_is_the_namespace() {
    // {type: 2, [[<"nsp">]]: "/b", data: ["e"]}: reference nsp "/b".
    reads_as(
        "83a474797065029191c4036e7370a22f62a46461746191a165",
        PacketType::Event,
        "/b",
        None,
        r#"["e"]"#,
        &[],
    );
}

#[test]
fn mp_r14_an_array_key_data_is_the_payload() {
    // {type: 2, nsp: "/", ["data"]: ["e"]}: reference EVENT ["e"].
    reads_as(
        "83a47479706502a36e7370a12f91a46461746191a165",
        PacketType::Event,
        "/",
        None,
        r#"["e"]"#,
        &[],
    );
}

#[test]
fn mp_r15_an_array_key_of_two_strings_is_joined_by_a_comma() {
    // {["ty", "pe"]: 2, nsp: "/", data: ["e"]}: the key is "ty,pe"; reference: invalid packet type.
    let err = refused("8392a27479a2706502a36e7370a12fa46461746191a165");
    assert_eq!(err.to_string(), "invalid packet type");
}

#[test]
fn mp_r16_a_later_binary_key_type_overrides_the_string_one() {
    // {type: 0, nsp: "/", data: ["e"], <"type">: 2}: reference EVENT ["e"].
    reads_as(
        "84a47479706500a36e7370a12fa46461746191a165c4047479706502",
        PacketType::Event,
        "/",
        None,
        r#"["e"]"#,
        &[],
    );
}

#[test]
fn mp_r17_packet_keys_that_name_no_field_are_skipped() {
    // Keys: <"typ\xff"> (U+FFFD), {} ("[object Object]"), a date, an extension ("1,\ufffd"):
    // reference EVENT ["e"] for each.
    for hex in [
        "84c405747970ff6502a47479706502a36e7370a12fa46461746191a165",
        "848005a47479706502a36e7370a12fa46461746191a165",
        "84d700000000000000000002a47479706502a36e7370a12fa46461746191a165",
        "84d401aa02a47479706502a36e7370a12fa46461746191a165",
    ] {
        reads_as(hex, PacketType::Event, "/", None, r#"["e"]"#, &[]);
    }
}

#[test]
fn mp_r18_a_binary_key_proto_is_an_unknown_key_as_the_string_one_is() {
    // {<"__proto__">: {type: 2, nsp: "/", data: ["p"]}, type: 2, nsp: "/", data: ["e"]}:
    // reference EVENT ["e"] (own fields shadow the prototype's).
    reads_as(
        "84c4095f5f70726f746f5f5f83a47479706502a36e7370a12fa46461746191a170a47479706502a36e7370a12fa46461746191a165",
        PacketType::Event,
        "/",
        None,
        r#"["e"]"#,
        &[],
    );
}

#[test]
fn mp_r19_a_map_key_with_its_own_to_string_cannot_be_converted() {
    // {{toString: 1}: 5, ...}, {{__proto__: null}: 5, ...}, in a payload {{<"toString">: 1}: 1}
    // and {[1, {toString: 1}]: 1}: reference TypeError: Cannot convert object to primitive value.
    for hex in [
        "8481a8746f537472696e670105a47479706502a36e7370a12fa46461746191a165",
        "8481a95f5f70726f746f5f5fc005a47479706502a36e7370a12fa46461746191a165",
        "83a47479706502a36e7370a12fa46461746192a1788181c408746f537472696e670101",
        "83a47479706502a36e7370a12fa46461746192a17881920181a8746f537472696e670101",
    ] {
        let err = refused(hex);
        assert_eq!(err, DecodeError::Msgpack(MsgpackError::UnconvertibleKey));
        assert_eq!(err.to_string(), "Cannot convert object to primitive value");
    }
}

#[test]
fn mp_r20_a_key_is_converted_after_its_value_is_read() {
    // {{toString: 1}: <str 8 cut short>}: reference RangeError for the value, not the TypeError.
    let err = refused("8181a8746f537472696e6701d9");
    assert_eq!(
        err.to_string(),
        "The value of \"offset\" is out of range. It must be >= 0 and <= 12. Received 13"
    );
}

#[test]
fn mp_r21_a_key_map_with_an_object_prototype_is_refused() {
    // {{__proto__: ["type"]}: 2, nsp: "/", data: ["e"]}: reference EVENT ["e"] (the key's
    // name comes from Array.prototype.toString through the prototype); refused here.
    let err = refused("8381a95f5f70726f746f5f5f91a47479706502a36e7370a12fa46461746191a165");
    assert_eq!(err, DecodeError::Msgpack(MsgpackError::UnsupportedKey));
}

#[test]
fn mp_r22_payload_keys_are_property_names() {
    // Each: data ["x", {<key>: 1}]; reference ["x", {"<name>": 1}].
    for (key, name) in [
        ("c4016b", "k"),
        ("929201029103", "1,2,3"),
        ("93c0d40000c3", ",,true"),
        (
            "93cb3ff8000000000000cb7ff8000000000000cb8000000000000000",
            "1.5,NaN,0",
        ),
        ("9180", "[object Object]"),
        ("81a776616c75654f6601", "[object Object]"),
        ("c70305616263", "5,abc"),
        ("d4ff61", "-1,a"),
        ("c70100aa", "[object ArrayBuffer]"),
        ("c40561225c0a01", "a\"\\\n\u{1}"),
        ("c402ff61", "\u{fffd}a"),
    ] {
        let hex = format!("83a47479706502a36e7370a12fa46461746192a17881{key}01");
        let json = serde_json::json!(["x", { name: 1 }]).to_string();
        reads_as(&hex, PacketType::Event, "/", None, &json, &[]);
    }
}

#[test]
fn mp_r23_a_binary_key_proto_in_a_payload_sets_no_property() {
    // data ["x", {<"__proto__">: {a: 1}, b: 1}]: reference ["x",{"b":1}].
    reads_as(
        "83a47479706502a36e7370a12fa46461746192a17882c4095f5f70726f746f5f5f81a16101a16201",
        PacketType::Event,
        "/",
        None,
        r#"["x",{"b":1}]"#,
        &[],
    );
}

#[test]
fn mp_r24_a_date_key_in_a_payload_is_refused() {
    // data ["x", {<Date 0>: 1}]: reference {"Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated
    // Universal Time)": 1} in UTC, another name in another time zone; refused here.
    let err = refused("83a47479706502a36e7370a12fa46461746192a17881d700000000000000000001");
    assert_eq!(err, DecodeError::Msgpack(MsgpackError::UnsupportedKey));
}

#[test]
fn mp_r25_a_binary_key_placeholder_is_reserved() {
    // data ["x", {<"_placeholder">: true, num: 0}]: reference a plain object; refused here.
    let err = refused(
        "83a47479706502a36e7370a12fa46461746192a17882c40c5f706c616365686f6c646572c3a36e756d00",
    );
    assert_eq!(err, DecodeError::Msgpack(MsgpackError::PlaceholderKey));
}

// --- The depth limit: what decodes re-encodes (reference: all accepted, no limit).

/// data ["x", <`arrays` nested arrays around `inner`>].
fn deep(arrays: usize, inner: &str) -> String {
    format!(
        "83a47479706502a36e7370a12fa46461746192a178{}{inner}",
        "91".repeat(arrays)
    )
}

#[test]
fn mp_r30_a_payload_at_the_depth_limit_decodes_and_re_encodes() {
    // 127 levels in the JSON view: 1 + 126 arrays around null, 1 + 125 around a binary (its
    // placeholder the 127th), 1 + 124 around an extension ([5, placeholder]).
    let limit = Limits::default().max_json_depth;
    assert_eq!(limit, 127);
    for (hex, bins) in [
        (deep(126, "c0"), &[][..]),
        (deep(125, "c40101"), &[&[1u8][..]][..]),
        (deep(124, "d405aa"), &[&[0xaau8][..]][..]),
    ] {
        let p = decode(&hex).unwrap();
        assert_eq!(p.attachments().len(), bins.len());
        // With attachments, the reads parse the JSON into a tree first (serde_json's limit).
        if bins.is_empty() {
            p.data::<serde_json::Value>().unwrap();
        } else {
            p.data::<serde::de::IgnoredAny>().unwrap();
        }
        let json = p.raw_json().unwrap().as_str();
        let levels = json.bytes().scan(0i32, |d, b| {
            *d += i32::from(b == b'[' || b == b'{') - i32::from(b == b']' || b == b'}');
            Some(*d)
        });
        assert_eq!(levels.max(), Some(127));
        for side in [Side::Server, Side::Client] {
            let mut out = Vec::new();
            p.write_msgpack(side, &mut out).unwrap();
            let again = Packet::decode_msgpack(Bytes::from(out), &Limits::default()).unwrap();
            assert_eq!(again.raw_json(), p.raw_json());
        }
        assert!(matches!(
            p.encode(),
            socketio_proto::EncodedPacket::Text { .. }
        ));
    }
}

#[test]
fn mp_r31_one_level_more_is_too_deep_in_both_layers() {
    // 128 levels: arrays, a binary's placeholder, an extension, an array inside a map key.
    for hex in [
        deep(127, "c0"),
        deep(126, "c40101"),
        deep(125, "d405aa"),
        deep(125, "8191c001"),
    ] {
        assert_eq!(
            refused(&hex),
            DecodeError::Msgpack(MsgpackError::TooDeep),
            "{hex}"
        );
    }
}
