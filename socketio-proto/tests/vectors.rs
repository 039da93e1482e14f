//! Golden vectors from PROTOCOL.md D.6–D.10 (Socket.IO parts) and the Socket.IO rows of
//! Part F, one named test each. Expected outputs were produced by socket.io-parser 4.2.7
//! (v5) and 3.4.5 (v4); the few deliberate differences are marked `house rule` or `strict`.
//!
//! S5-E22 (`Unknown type: 999`, input neither string nor binary) has no counterpart: the
//! decoder's inputs are typed text or binary.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use socketio_proto::{
    AckId, DecodeError, DecodeStatus, Decoder, EncodeError, Limits, Namespace, Packet, PacketType,
    ProtocolVersion, Utf8Bytes, WireAction,
};

use PacketType::{Ack, BinaryAck, BinaryEvent, Connect, ConnectError, Disconnect, Event};
use ProtocolVersion::{V4, V5};

const PH0: &str = r#"{"_placeholder":true,"num":0}"#;

fn ns(name: &str) -> Namespace {
    Namespace::new(name).unwrap()
}

fn id(n: u64) -> Option<AckId> {
    AckId::new(n)
}

fn bin(bytes: &[u8]) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

/// A packet as a decoder should report it.
fn packet(
    packet_type: PacketType,
    namespace: &str,
    ack_id: Option<AckId>,
    json: Option<&str>,
    attachments: &[&[u8]],
) -> Packet {
    Packet::from_parts(
        packet_type,
        ns(namespace),
        ack_id,
        json.map(Utf8Bytes::copy_from_str),
        attachments.iter().map(|a| bin(a)).collect(),
    )
    .unwrap()
}

enum Frame {
    Text(&'static str),
    Binary(&'static [u8]),
}

/// Feeds the frames in order; the last status, or the first error.
fn run(
    version: ProtocolVersion,
    limits: Limits,
    frames: &[Frame],
) -> Result<DecodeStatus, DecodeError> {
    let mut decoder = Decoder::new(version, limits);
    let mut status = None;
    for frame in frames {
        let result = match frame {
            Frame::Text(text) => decoder.feed_text(*text),
            Frame::Binary(data) => decoder.feed_binary(Bytes::from_static(data)),
        };
        match result {
            Ok(s) => status = Some(s),
            Err(err) => {
                assert!(decoder.is_idle(), "decoder holds state after {err}");
                assert_eq!(decoder.buffered_bytes(), 0);
                return Err(err);
            }
        }
    }
    Ok(status.unwrap())
}

fn decode(version: ProtocolVersion, frames: &[Frame]) -> Result<DecodeStatus, DecodeError> {
    run(version, Limits::default(), frames)
}

fn encoded(packet: &Packet) -> (String, Vec<Bytes>) {
    let encoded = packet.encode();
    (
        encoded.to_text().unwrap().to_string(),
        encoded.attachments().to_vec(),
    )
}

/// `encode!(name, packet => "text" [, attachments…])`: byte-exact reference output.
macro_rules! encode {
    ($name:ident, $packet:expr => $text:expr $(, $att:expr)* $(,)?) => {
        #[test]
        fn $name() {
            let (text, attachments) = encoded(&$packet);
            assert_eq!(text, $text);
            let expected: Vec<Bytes> = vec![$(bin($att)),*];
            assert_eq!(attachments, expected);
        }
    };
}

/// `accept!(name, version, frames… => packet)`: decodes to exactly this packet.
macro_rules! accept {
    ($name:ident, $version:expr, $($frame:expr),+ => $expected:expr) => {
        #[test]
        fn $name() {
            let status = decode($version, &[$($frame),+]).unwrap();
            assert_eq!(status, DecodeStatus::Complete($expected));
        }
    };
}

/// `reject!(name, version, frames… => error, "reference message")`.
macro_rules! reject {
    ($name:ident, $version:expr, $($frame:expr),+ => $error:expr, $message:expr) => {
        #[test]
        fn $name() {
            let err = decode($version, &[$($frame),+]).unwrap_err();
            assert_eq!(err, $error);
            assert_eq!(err.to_string(), $message);
        }
    };
}

use Frame::{Binary as B, Text as T};

#[derive(Serialize)]
struct Sid<'a> {
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<&'a str>,
}

#[derive(Serialize)]
struct Recover<'a> {
    pid: &'a str,
    offset: &'a str,
}

#[derive(Serialize)]
struct ErrorData<'a, T> {
    message: &'a str,
    data: T,
}

// ---- D.6 Socket.IO v5 encoding ----

encode!(s5_01_connect_main, Packet::connect(Namespace::main()) => "0");
encode!(s5_02_connect_admin, Packet::connect(ns("/admin")) => "0/admin,");
encode!(s5_03_connect_auth, Packet::connect_with(Namespace::main(), &json!({"token": "123"})).unwrap()
    => r#"0{"token":"123"}"#);
encode!(s5_04_connect_woot_auth, Packet::connect_with(ns("/woot"), &json!({"token": "123"})).unwrap()
    => r#"0/woot,{"token":"123"}"#);
encode!(s5_05_connect_sid, Packet::connect_with(Namespace::main(), &Sid { sid: "wZX3oN0bSVIhsaknAAAI", pid: None }).unwrap()
    => r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#);
encode!(s5_06_connect_sid_pid_undefined, Packet::connect_with(Namespace::main(), &Sid { sid: "wZX3oN0bSVIhsaknAAAI", pid: None }).unwrap()
    => r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#);
encode!(s5_07_connect_sid_pid, Packet::connect_with(Namespace::main(), &Sid { sid: "wZX3oN0bSVIhsaknAAAI", pid: Some("oLG5gPDQmqsoLdYGAAAB") }).unwrap()
    => r#"0{"sid":"wZX3oN0bSVIhsaknAAAI","pid":"oLG5gPDQmqsoLdYGAAAB"}"#);
encode!(s5_08_connect_recovery, Packet::connect_with(Namespace::main(), &Recover { pid: "oLG5gPDQmqsoLdYGAAAB", offset: "MoXZ1bA.0" }).unwrap()
    => r#"0{"pid":"oLG5gPDQmqsoLdYGAAAB","offset":"MoXZ1bA.0"}"#);
encode!(s5_09_disconnect_main, Packet::disconnect(Namespace::main()) => "1");
encode!(s5_10_disconnect_woot, Packet::disconnect(ns("/woot")) => "1/woot,");
encode!(s5_11_event, Packet::event(Namespace::main(), "a", &(1, json!({})), None).unwrap() => r#"2["a",1,{}]"#);
encode!(s5_12_event_numeric_name, packet(Event, "/", None, Some(r#"[1,"a",{}]"#), &[]) => r#"2[1,"a",{}]"#);
encode!(s5_13_event_namespace_id, Packet::event(ns("/test"), "a", &(1, json!({})), id(1)).unwrap() => r#"2/test,1["a",1,{}]"#);
encode!(s5_14_event_id, Packet::event(Namespace::main(), "foo", &(), id(12)).unwrap() => r#"212["foo"]"#);
encode!(s5_15_event_id_zero, Packet::event(Namespace::main(), "foo", &(), id(0)).unwrap() => r#"20["foo"]"#);
encode!(s5_16_event_raw_utf8, Packet::event(Namespace::main(), "é", &("€😀",), None).unwrap() => "2[\"é\",\"€😀\"]");
// A Rust string cannot hold a lone surrogate; the escaped JSON passes through unchanged.
encode!(s5_17_event_lone_surrogate, packet(Event, "/", None, Some(r#"["\ud800"]"#), &[]) => r#"2["\ud800"]"#);
encode!(s5_18_event_u2028_raw_1e_escaped, Packet::event(Namespace::main(), "a\u{2028}b\u{1e}", &(), None).unwrap()
    => "2[\"a\u{2028}b\\u001e\"]");
encode!(s5_19_event_no_data, packet(Event, "/", None, None, &[]) => "2");
encode!(s5_20_event_null_nan_infinity_date,
    Packet::event(Namespace::main(), "x", &(None::<u8>, (), f64::NAN, f64::INFINITY, "1970-01-01T00:00:00.000Z"), None).unwrap()
    => r#"2["x",null,null,null,null,"1970-01-01T00:00:00.000Z"]"#);
encode!(s5_21_ack, Packet::ack(Namespace::main(), AckId::new(123).unwrap(), &("a", 1, json!({}))).unwrap() => r#"3123["a",1,{}]"#);
encode!(s5_22_ack_admin, Packet::ack(ns("/admin"), AckId::new(13).unwrap(), &("bar",)).unwrap() => r#"3/admin,13["bar"]"#);
encode!(s5_23_ack_empty, Packet::ack(Namespace::main(), AckId::new(12).unwrap(), &()).unwrap() => "312[]");
encode!(s5_24_connect_error_string, Packet::connect_error(Namespace::main(), "Unauthorized").unwrap() => r#"4"Unauthorized""#);
encode!(s5_25_connect_error_object, Packet::connect_error(Namespace::main(), &json!({"message": "Unauthorized"})).unwrap()
    => r#"4{"message":"Unauthorized"}"#);
encode!(s5_26_connect_error_namespace, Packet::connect_error(ns("/random"), &json!({"message": "Invalid namespace"})).unwrap()
    => r#"4/random,{"message":"Invalid namespace"}"#);
encode!(s5_27_connect_error_data,
    Packet::connect_error(Namespace::main(), &ErrorData { message: "not authorized", data: json!({"content": "Please retry later"}) }).unwrap()
    => r#"4{"message":"not authorized","data":{"content":"Please retry later"}}"#);
encode!(s5_28_binary_event, Packet::event(Namespace::main(), "baz", &(bin(&[1, 2, 3, 4]),), None).unwrap()
    => r#"51-["baz",{"_placeholder":true,"num":0}]"#, &[1, 2, 3, 4]);
encode!(s5_29_binary_event_two, Packet::event(ns("/admin"), "baz", &(bin(&[1, 2]), bin(&[3, 4])), None).unwrap()
    => r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#, &[1, 2], &[3, 4]);
encode!(s5_30_binary_event_namespace_id, Packet::event(ns("/cool"), "a", &(bin(b"abc"),), id(23)).unwrap()
    => r#"51-/cool,23["a",{"_placeholder":true,"num":0}]"#, b"abc");

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Nested {
    b: (String, Bytes),
}

encode!(s5_31_binary_nested, Packet::event(ns("/cool"), "a", &(Nested { b: ("c".into(), bin(b"abc")) },), id(23)).unwrap()
    => r#"51-/cool,23["a",{"b":["c",{"_placeholder":true,"num":0}]}]"#, b"abc");
encode!(s5_32_binary_ack, Packet::ack(ns("/back"), AckId::new(127).unwrap(), &("a", bin(b"xxx"), json!({}))).unwrap()
    => r#"61-/back,127["a",{"_placeholder":true,"num":0},{}]"#, b"xxx");
encode!(s5_33_binary_ack_main, Packet::ack(Namespace::main(), AckId::new(15).unwrap(), &("bar", bin(&[1, 2, 3, 4]))).unwrap()
    => r#"61-15["bar",{"_placeholder":true,"num":0}]"#, &[1, 2, 3, 4]);

#[derive(Serialize)]
struct Deep {
    a: &'static str,
    b: Why,
    c: Bye,
}
#[derive(Serialize)]
struct Why {
    why: Bytes,
}
#[derive(Serialize)]
struct Bye {
    a: &'static str,
    b: Inner,
}
#[derive(Serialize)]
struct Inner {
    a: Bytes,
}

encode!(s5_34_binary_depth_first_numbering,
    Packet::event(ns("/deep"), "a", &(Deep { a: "hi", b: Why { why: bin(&[0; 3]) }, c: Bye { a: "bye", b: Inner { a: bin(&[0; 6]) } } },), id(999)).unwrap()
    => r#"52-/deep,999["a",{"a":"hi","b":{"why":{"_placeholder":true,"num":0}},"c":{"a":"bye","b":{"a":{"_placeholder":true,"num":1}}}}]"#,
    &[0; 3], &[0; 6]);

#[derive(Serialize)]
struct Mixed {
    a: &'static str,
    c: u8,
    e: serde_json::Value,
    h: Bytes,
}

encode!(s5_35_binary_mixed_object,
    Packet::event(Namespace::main(), "a", &(Mixed { a: "b", c: 4, e: json!({"g": null}), h: bin(&[0; 9]) },), id(600)).unwrap()
    => r#"51-600["a",{"a":"b","c":4,"e":{"g":null},"h":{"_placeholder":true,"num":0}}]"#, &[0; 9]);
encode!(s5_36_binary_id_zero, Packet::event(Namespace::main(), "a", &(bin(&[0, 1, 2, 3, 4]),), id(0)).unwrap()
    => r#"51-0["a",{"_placeholder":true,"num":0}]"#, &[0, 1, 2, 3, 4]);
encode!(s5_37_binary_empty_attachment, Packet::event(Namespace::main(), "a", &(bin(&[]),), None).unwrap()
    => r#"51-["a",{"_placeholder":true,"num":0}]"#, &[]);
encode!(s5_38_binary_event_name, packet(Event, "/", None, Some(&format!("[{PH0}]")), &[&[1]])
    => r#"51-[{"_placeholder":true,"num":0}]"#, &[1]);
encode!(s5_39_event_recovery_offset, Packet::event(Namespace::main(), "foo", &("bar", "MoXZ1bA"), None).unwrap()
    => r#"2["foo","bar","MoXZ1bA"]"#);

// ---- D.7 Socket.IO v5 decoding, accepted ----

accept!(s5_d01_connect, V5, T("0") => packet(Connect, "/", None, None, &[]));
accept!(s5_d02_connect_admin, V5, T("0/admin,") => packet(Connect, "/admin", None, None, &[]));
accept!(s5_d03_connect_admin_no_comma, V5, T("0/admin") => packet(Connect, "/admin", None, None, &[]));
accept!(s5_d04_connect_auth, V5, T(r#"0{"token":"123"}"#) => packet(Connect, "/", None, Some(r#"{"token":"123"}"#), &[]));
accept!(s5_d05_connect_admin_auth, V5, T(r#"0/admin,{"token":"123"}"#) => packet(Connect, "/admin", None, Some(r#"{"token":"123"}"#), &[]));
accept!(s5_d06_connect_empty_object, V5, T("0{}") => packet(Connect, "/", None, Some("{}"), &[]));
accept!(s5_d07_connect_query_literal, V5, T("0/admin?token=abc,") => packet(Connect, "/admin?token=abc", None, None, &[]));
accept!(s5_d08a_disconnect, V5, T("1") => packet(Disconnect, "/", None, None, &[]));
accept!(s5_d08b_disconnect_admin, V5, T("1/admin,") => packet(Disconnect, "/admin", None, None, &[]));
accept!(s5_d08c_disconnect_admin_no_comma, V5, T("1/admin") => packet(Disconnect, "/admin", None, None, &[]));
accept!(s5_d09_event, V5, T(r#"2["a",1,{}]"#) => packet(Event, "/", None, Some(r#"["a",1,{}]"#), &[]));
accept!(s5_d10_event_numeric_name, V5, T(r#"2[1,"a"]"#) => packet(Event, "/", None, Some(r#"[1,"a"]"#), &[]));
accept!(s5_d11_event_id, V5, T(r#"212["foo"]"#) => packet(Event, "/", id(12), Some(r#"["foo"]"#), &[]));
accept!(s5_d12_event_admin_id, V5, T(r#"2/admin,13["bar"]"#) => packet(Event, "/admin", id(13), Some(r#"["bar"]"#), &[]));
accept!(s5_d13a_ack_admin, V5, T(r#"3/admin,13["bar"]"#) => packet(Ack, "/admin", id(13), Some(r#"["bar"]"#), &[]));
accept!(s5_d13b_ack_empty, V5, T("3123[]") => packet(Ack, "/", id(123), Some("[]"), &[]));
accept!(s5_d13c_ack_admin_empty, V5, T("3/admin,456[]") => packet(Ack, "/admin", id(456), Some("[]"), &[]));
accept!(s5_d14_connect_error_object, V5, T(r#"4{"message":"Not authorized"}"#) => packet(ConnectError, "/", None, Some(r#"{"message":"Not authorized"}"#), &[]));
accept!(s5_d15a_connect_error_string, V5, T(r#"4"Not authorized""#) => packet(ConnectError, "/", None, Some(r#""Not authorized""#), &[]));
accept!(s5_d15b_connect_error_string_admin, V5, T(r#"4/admin,"Not authorized""#) => packet(ConnectError, "/admin", None, Some(r#""Not authorized""#), &[]));
accept!(s5_d16_nested_namespace, V5, T(r#"2/a/b,["x"]"#) => packet(Event, "/a/b", None, Some(r#"["x"]"#), &[]));
accept!(s5_d17_explicit_main_namespace, V5, T(r#"2/,["x"]"#) => packet(Event, "/", None, Some(r#"["x"]"#), &[]));
accept!(s5_d18_ack_id_leading_zeros, V5, T(r#"2007["a"]"#) => packet(Event, "/", id(7), Some(r#"["a"]"#), &[]));
// strict: the reference reads 9007199254740992 (precision lost).
reject!(s5_d19_ack_id_above_2_pow_53, V5, T(r#"29007199254740993["a"]"#) => DecodeError::InvalidAckId, "invalid ack id");
accept!(s5_d20_trailing_whitespace, V5, T("2[\"a\"]   ") => packet(Event, "/", None, Some("[\"a\"]   "), &[]));
accept!(s5_d21a_event_error_name, V5, T(r#"2["error"]"#) => packet(Event, "/", None, Some(r#"["error"]"#), &[]));
accept!(s5_d21b_event_connection_name, V5, T(r#"2["connection"]"#) => packet(Event, "/", None, Some(r#"["connection"]"#), &[]));
accept!(s5_d22a_event_no_data, V5, T("2") => packet(Event, "/", None, None, &[]));
accept!(s5_d22b_ack_no_data, V5, T("3") => packet(Ack, "/", None, None, &[]));
accept!(s5_d22c_event_id_no_data, V5, T("21") => packet(Event, "/", id(1), None, &[]));
accept!(s5_d22d_event_admin_no_data, V5, T("2/admin,") => packet(Event, "/admin", None, None, &[]));
accept!(s5_d23_connect_error_with_ack_id, V5, T("42{}") => packet(ConnectError, "/", id(2), Some("{}"), &[]));
// strict: the reference reads the space as ack id 0.
reject!(s5_d24_space_as_ack_digit, V5, T(r#"2 ["a"]"#) => DecodeError::InvalidAckId, "invalid ack id");
// strict: the reference reads the empty string as CONNECT `/`.
reject!(s5_d25_empty_string, V5, T("") => DecodeError::EmptyPacket, "empty packet");
accept!(s5_d26_binary_event, V5, T(r#"51-["baz",{"_placeholder":true,"num":0}]"#), B(&[1, 2, 3, 4])
    => packet(Event, "/", None, Some(r#"["baz",{"_placeholder":true,"num":0}]"#), &[&[1, 2, 3, 4]]));
accept!(s5_d27_binary_event_two, V5,
    T(r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#), B(&[1, 2]), B(&[3, 4])
    => packet(Event, "/admin", None, Some(r#"["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#), &[&[1, 2], &[3, 4]]));

#[test]
fn s5_d28_placeholders_index_arrival_order() {
    let status = decode(
        V5,
        &[
            T(r#"52-["x",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#),
            B(&[0xaa]),
            B(&[0xbb]),
        ],
    )
    .unwrap();
    let DecodeStatus::Complete(packet) = status else {
        panic!("incomplete")
    };
    let args: (Bytes, Bytes) = packet.args().unwrap();
    assert_eq!(args, (bin(&[0xbb]), bin(&[0xaa])));
}

accept!(s5_d29_binary_ack, V5, T(r#"61-15["bar",{"_placeholder":true,"num":0}]"#), B(&[1, 2, 3, 4])
    => packet(Ack, "/", id(15), Some(r#"["bar",{"_placeholder":true,"num":0}]"#), &[&[1, 2, 3, 4]]));
accept!(s5_d30_binary_ack_admin, V5, T(r#"61-/admin,1[{"_placeholder":true,"num":0}]"#), B(&[0xde, 0xad])
    => packet(Ack, "/admin", id(1), Some(r#"[{"_placeholder":true,"num":0}]"#), &[&[0xde, 0xad]]));
// house rule: every attachment is referenced exactly once (the reference drops it).
reject!(s5_d31_unused_attachment, V5, T(r#"51-["hello"]"#), B(b"world") => DecodeError::IllegalPlaceholder, "illegal attachments");
accept!(s5_d32_placeholder_extra_keys, V5, T(r#"51-["hello",{"_placeholder":true,"num":0,"x":1}]"#), B(&[0x77])
    => packet(Event, "/", None, Some(r#"["hello",{"_placeholder":true,"num":0,"x":1}]"#), &[&[0x77]]));
// house rule: `"true"` is not a placeholder, so the attachment is unused.
reject!(s5_d33_placeholder_string_true, V5, T(r#"51-["hello",{"_placeholder":"true","num":0}]"#), B(&[0x77])
    => DecodeError::IllegalPlaceholder, "illegal attachments");

#[test]
fn s5_d34_ten_attachments_is_the_default_maximum() {
    let placeholders: Vec<String> = (0..10)
        .map(|n| format!(r#"{{"_placeholder":true,"num":{n}}}"#))
        .collect();
    let text = format!(r#"510-["a",{}]"#, placeholders.join(","));
    let mut decoder = Decoder::new(V5, Limits::default());
    assert_eq!(
        decoder.feed_text(text).unwrap(),
        DecodeStatus::NeedAttachments { remaining: 10 }
    );
    for n in 0..9u8 {
        assert_eq!(
            decoder.feed_binary(vec![n]).unwrap(),
            DecodeStatus::NeedAttachments {
                remaining: 9 - usize::from(n)
            }
        );
    }
    let DecodeStatus::Complete(packet) = decoder.feed_binary(vec![9]).unwrap() else {
        panic!("incomplete")
    };
    assert_eq!(packet.attachments().len(), 10);
    // `510-["a"]` itself passes the count check and fails the house rule at completion.
    let bare: Vec<Frame> = std::iter::once(T(r#"510-["a"]"#))
        .chain((0..10).map(|_| B(b"x")))
        .collect();
    assert_eq!(decode(V5, &bare), Err(DecodeError::IllegalPlaceholder));
}

#[test]
fn s5_d35_header_alone_waits() {
    assert_eq!(
        decode(V5, &[T(r#"51-["baz",{"_placeholder":true,"num":0}]"#)]),
        Ok(DecodeStatus::NeedAttachments { remaining: 1 })
    );
}

// ---- D.8 Socket.IO v5 decoding, must reject ----

reject!(s5_e01_truncated_json, V5, T(r#"442["some","data""#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e02_connect_string, V5, T(r#"0/admin,"invalid""#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e03_connect_array, V5, T("0[]") => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e04a_connect_string_main, V5, T(r#"0"x""#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e04b_connect_null, V5, T("0/admin,null") => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e05_disconnect_payload, V5, T("1/admin,{}") => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e06_event_unterminated_string, V5, T(r#"2/admin,"invalid"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e07a_event_object_admin, V5, T("2/admin,{}") => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e07b_event_object, V5, T("2{}") => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e08_event_name_object, V5, T(r#"2[{"toString":"foo"}]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e09_event_name_bool, V5, T(r#"2[true,"foo"]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e10_event_name_null, V5, T(r#"2[null,"bar"]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e11a_reserved_connect, V5, T(r#"2["connect"]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e11b_reserved_connect_error, V5, T(r#"2["connect_error"]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e11c_reserved_disconnect, V5, T(r#"2["disconnect","123"]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e11d_reserved_disconnecting, V5, T(r#"2["disconnecting"]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e11e_reserved_new_listener, V5, T(r#"2["newListener"]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e11f_reserved_remove_listener, V5, T(r#"2["removeListener"]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e12_event_empty_array, V5, T("2[]") => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e13a_connect_error_array, V5, T("4[]") => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e13b_connect_error_null, V5, T("4null") => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e14_invalid_ack_id, V5, T(r#"2abc["message-with-ack",1]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s5_e15a_count_missing, V5, T("5") => DecodeError::IllegalAttachmentCount, "Illegal attachments");
reject!(s5_e15b_count_without_dash, V5, T("51") => DecodeError::IllegalAttachmentCount, "Illegal attachments");
reject!(s5_e15c_count_not_numeric, V5, T("5a-") => DecodeError::IllegalAttachmentCount, "Illegal attachments");
reject!(s5_e15d_count_fraction, V5, T("51.23-") => DecodeError::IllegalAttachmentCount, "Illegal attachments");
reject!(s5_e15e_count_negative, V5, T("5-1-") => DecodeError::IllegalAttachmentCount, "Illegal attachments");
reject!(s5_e16a_zero_attachments, V5, T(r#"50-["a"]"#) => DecodeError::IllegalAttachmentCount, "Illegal attachments");
reject!(s5_e16b_zero_attachments_no_data, V5, T("50-") => DecodeError::IllegalAttachmentCount, "Illegal attachments");
reject!(s5_e16c_empty_count, V5, T(r#"5-["a"]"#) => DecodeError::IllegalAttachmentCount, "Illegal attachments");
reject!(s5_e17_too_many_attachments, V5, T(r#"511-["a"]"#) => DecodeError::TooManyAttachments, "too many attachments");

#[test]
fn s5_e18_max_attachments_option() {
    let limits = Limits {
        max_attachments: 2,
        ..Limits::default()
    };
    let text = r#"53-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#;
    let err = run(V5, limits, &[T(text)]).unwrap_err();
    assert_eq!(err, DecodeError::TooManyAttachments);
    assert_eq!(err.to_string(), "too many attachments");
}

reject!(s5_e19_unknown_type_9, V5, T("999") => DecodeError::UnknownPacketType { found: Some(9), version: V5 }, "unknown packet type 9");
reject!(s5_e20a_unknown_type_7, V5, T("7") => DecodeError::UnknownPacketType { found: Some(7), version: V5 }, "unknown packet type 7");
reject!(s5_e20b_unknown_type_8, V5, T("8") => DecodeError::UnknownPacketType { found: Some(8), version: V5 }, "unknown packet type 8");
reject!(s5_e21a_unknown_type_letter, V5, T("a") => DecodeError::UnknownPacketType { found: None, version: V5 }, "unknown packet type NaN");
reject!(s5_e21b_unknown_type_minus, V5, T("-1") => DecodeError::UnknownPacketType { found: None, version: V5 }, "unknown packet type NaN");
reject!(s5_e23_placeholder_num_string, V5, T(r#"51-["hello",{"_placeholder":true,"num":"splice"}]"#), B(b"world")
    => DecodeError::IllegalPlaceholder, "illegal attachments");
reject!(s5_e24_placeholder_out_of_range, V5, T(r#"51-["hello",{"_placeholder":true,"num":1}]"#), B(b"world")
    => DecodeError::IllegalPlaceholder, "illegal attachments");
reject!(s5_e25_binary_without_header, V5, B(b"world")
    => DecodeError::UnexpectedBinary, "got binary data when not reconstructing a packet");
reject!(s5_e26_text_while_reconstructing, V5, T(r#"51-["a",{"_placeholder":true,"num":0}]"#), T(r#"2["hello"]"#)
    => DecodeError::UnexpectedText, "got plaintext data when reconstructing a packet");

#[test]
fn s5_e27_extra_binary_after_completion() {
    let mut decoder = Decoder::new(V5, Limits::default());
    let header = r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    decoder.feed_text(header).unwrap();
    decoder.feed_binary(vec![1]).unwrap();
    assert!(matches!(
        decoder.feed_binary(vec![2]),
        Ok(DecodeStatus::Complete(_))
    ));
    let err = decoder.feed_binary(vec![3]).unwrap_err();
    assert_eq!(err, DecodeError::UnexpectedBinary);
    assert_eq!(
        err.to_string(),
        "got binary data when not reconstructing a packet"
    );
}

#[test]
fn s5_conformance_suite_rejections_close_the_connection() {
    for text in ["abc", "2{}", r#"2abc["message-with-ack",1]"#] {
        let err = decode(V5, &[T(text)]).unwrap_err();
        assert_eq!(err.action(), WireAction::CloseConnection, "{text}");
    }
}

// ---- D.9 Socket.IO v4 ----

encode!(s4_01_connect, Packet::connect(Namespace::main()) => "0");
encode!(s4_02_connect_query, Packet::connect(Namespace::with_query("/admin", "token=1234&uid=abcd").unwrap())
    => "0/admin?token=1234&uid=abcd,");
encode!(s4_03_disconnect_admin, Packet::disconnect(ns("/admin")) => "1/admin,");
encode!(s4_04_event, Packet::event(Namespace::main(), "hello", &(1,), None).unwrap() => r#"2["hello",1]"#);
encode!(s4_05_event_admin_id, Packet::event(ns("/admin"), "project:delete", &(123,), id(456)).unwrap()
    => r#"2/admin,456["project:delete",123]"#);
encode!(s4_06_ack_empty, Packet::ack(ns("/admin"), AckId::new(456).unwrap(), &()).unwrap() => "3/admin,456[]");
encode!(s4_07_error_string, Packet::connect_error(ns("/admin"), "Not authorized").unwrap() => r#"4/admin,"Not authorized""#);
encode!(s4_08_error_invalid_namespace, Packet::connect_error(ns("/random"), "Invalid namespace").unwrap()
    => r#"4/random,"Invalid namespace""#);
encode!(s4_09_binary_event, Packet::event(Namespace::main(), "hello", &(bin(&[1, 2, 3]),), None).unwrap()
    => r#"51-["hello",{"_placeholder":true,"num":0}]"#, &[1, 2, 3]);
encode!(s4_10_binary_event_admin_id, Packet::event(ns("/admin"), "project:delete", &(bin(&[1, 2, 3]),), id(456)).unwrap()
    => r#"51-/admin,456["project:delete",{"_placeholder":true,"num":0}]"#, &[1, 2, 3]);
encode!(s4_11_binary_ack, Packet::ack(ns("/admin"), AckId::new(456).unwrap(), &(bin(&[3, 2, 1]),)).unwrap()
    => r#"61-/admin,456[{"_placeholder":true,"num":0}]"#, &[3, 2, 1]);
// A v4 binary packet decoded as type 5 re-encodes as type 5.
encode!(s4_11b_binary_event_type_5, packet(BinaryEvent, "/", None, Some(&format!(r#"["hello",{PH0}]"#)), &[&[1, 2, 3]])
    => r#"51-["hello",{"_placeholder":true,"num":0}]"#, &[1, 2, 3]);
// S4-12: a caller that JSON-encodes a buffer itself gets it verbatim.
encode!(s4_12_buffer_as_json, packet(Event, "/", None, Some(r#"["hello",{"type":"Buffer","data":[1,2,3]}]"#), &[])
    => r#"2["hello",{"type":"Buffer","data":[1,2,3]}]"#);

#[test]
fn s4_13_binary_event_without_binary_is_refused() {
    // The reference writes `50-["hello"]`, which its own decoders reject.
    let err = Packet::from_parts(
        BinaryEvent,
        Namespace::main(),
        None,
        Some(Utf8Bytes::from_static(r#"["hello"]"#)),
        Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(err, EncodeError::AttachmentMismatch));
}

#[test]
fn s4_14_serialize_failure_is_an_error() {
    // The reference writes `4"encode error"` when `JSON.stringify` throws.
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("circular"))
        }
    }
    let err = Packet::event(Namespace::main(), "hello", &(Fails,), None).unwrap_err();
    assert!(matches!(err, EncodeError::Serialize(_)));
}

#[test]
fn s4_d1_namespace_query_split() {
    let DecodeStatus::Complete(p) = decode(V4, &[T("0/admin?token=1234&uid=abcd,")]).unwrap()
    else {
        panic!("incomplete")
    };
    assert_eq!(p.namespace(), "/admin");
    assert_eq!(p.namespace_query(), Some("token=1234&uid=abcd"));
    assert_eq!(encoded(&p).0, "0/admin?token=1234&uid=abcd,");
}

accept!(s4_d2a_connect_null, V4, T("0null") => packet(Connect, "/", None, Some("null"), &[]));
accept!(s4_d2b_connect_array, V4, T("0[]") => packet(Connect, "/", None, Some("[]"), &[]));
accept!(s4_d2c_connect_object, V4, T("0{}") => packet(Connect, "/", None, Some("{}"), &[]));
accept!(s4_d3a_error_string, V4, T(r#"4/admin,"Not authorized""#) => packet(ConnectError, "/admin", None, Some(r#""Not authorized""#), &[]));
accept!(s4_d3b_error_object, V4, T(r#"4{"message":"x"}"#) => packet(ConnectError, "/", None, Some(r#"{"message":"x"}"#), &[]));
accept!(s4_d3c_error_array, V4, T("4[]") => packet(ConnectError, "/", None, Some("[]"), &[]));
accept!(s4_d4_reserved_name_accepted, V4, T(r#"2["connect"]"#) => packet(Event, "/", None, Some(r#"["connect"]"#), &[]));
accept!(s4_d5_binary_keeps_type_5, V4, T(r#"51-["hello",{"_placeholder":true,"num":0}]"#), B(&[1, 2, 3])
    => packet(BinaryEvent, "/", None, Some(r#"["hello",{"_placeholder":true,"num":0}]"#), &[&[1, 2, 3]]));
accept!(s4_d5b_binary_ack_keeps_type_6, V4, T(r#"61-/admin,456[{"_placeholder":true,"num":0}]"#), B(&[3, 2, 1])
    => packet(BinaryAck, "/admin", id(456), Some(r#"[{"_placeholder":true,"num":0}]"#), &[&[3, 2, 1]]));

#[test]
fn s4_d6_unknown_type_is_ignored() {
    for (text, message) in [
        ("999", "parser error: unknown packet type 9"),
        ("a", "parser error: unknown packet type NaN"),
    ] {
        let err = decode(V4, &[T(text)]).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(err.action(), WireAction::IgnorePacket);
    }
}

reject!(s4_e1a_event_name_bool, V4, T("2[true]") => DecodeError::InvalidPayload, "invalid payload");
reject!(s4_e1b_event_object, V4, T("2{}") => DecodeError::InvalidPayload, "invalid payload");
reject!(s4_e1c_event_truncated, V4, T(r#"2["a""#) => DecodeError::InvalidPayload, "invalid payload");
reject!(s4_e2a_count_missing, V4, T("5") => DecodeError::IllegalAttachmentCount, "Illegal attachments");
reject!(s4_e2b_zero_attachments, V4, T(r#"50-["a"]"#) => DecodeError::IllegalAttachmentCount, "Illegal attachments");
reject!(s4_e3_too_many_attachments, V4, T(r#"511-["a"]"#) => DecodeError::TooManyAttachments, "too many attachments");
reject!(s4_e4_placeholder_num_string, V4, T(r#"51-["a",{"_placeholder":true,"num":"x"}]"#), B(&[1])
    => DecodeError::IllegalPlaceholder, "illegal attachments");

// ---- D.10 full-stack samples (the Socket.IO part, after the Engine.IO `4`) ----

accept!(d10_v5_client_connect, V5, T("0") => packet(Connect, "/", None, None, &[]));
encode!(d10_v5_server_connect_recovery,
    Packet::connect_with(Namespace::main(), &Sid { sid: "pgiWroBYiK_XOGIyAAAA", pid: Some("lnfYGZ64ySeTA8BIAAAB") }).unwrap()
    => r#"0{"sid":"pgiWroBYiK_XOGIyAAAA","pid":"lnfYGZ64ySeTA8BIAAAB"}"#);
encode!(d10_v5_event_with_offset, Packet::event(Namespace::main(), "hello", &("world", "Q8JdRiF"), None).unwrap()
    => r#"2["hello","world","Q8JdRiF"]"#);

#[test]
fn d10_v5_event_with_ack_and_reply() {
    let DecodeStatus::Complete(p) = decode(V5, &[T(r#"21["message-with-ack","x"]"#)]).unwrap()
    else {
        panic!("incomplete")
    };
    assert_eq!(p.event_name().unwrap().as_str(), "message-with-ack");
    let (arg,): (&str,) = p.args().unwrap();
    let reply = Packet::ack(p.full_namespace().clone(), p.ack_id().unwrap(), &(arg,)).unwrap();
    assert_eq!(encoded(&reply).0, r#"31["x"]"#);
}

#[test]
fn d10_v5_reconnect_with_recovery() {
    let DecodeStatus::Complete(p) = decode(
        V5,
        &[T(r#"0{"pid":"lnfYGZ64ySeTA8BIAAAB","offset":"Q8JdRiF"}"#)],
    )
    .unwrap() else {
        panic!("incomplete")
    };
    #[derive(Deserialize)]
    struct Auth<'a> {
        pid: &'a str,
        offset: Option<&'a str>,
    }
    let auth: Auth<'_> = p.data().unwrap();
    assert_eq!(
        (auth.pid, auth.offset),
        ("lnfYGZ64ySeTA8BIAAAB", Some("Q8JdRiF"))
    );
}

encode!(d10_v5_middleware_refusal,
    Packet::connect_error(Namespace::main(), &ErrorData { message: "not authorized", data: json!({"content": "Please retry later"}) }).unwrap()
    => r#"4{"message":"not authorized","data":{"content":"Please retry later"}}"#);
accept!(d10_v5_connect_admin, V5, T("0/admin,") => packet(Connect, "/admin", None, None, &[]));
encode!(d10_v5_connect_admin_reply,
    Packet::connect_with(ns("/admin"), &Sid { sid: "5f00GSb1170sgVWqAAAE", pid: Some("Lkjspv_yOHhhJw6NAAAF") }).unwrap()
    => r#"0/admin,{"sid":"5f00GSb1170sgVWqAAAE","pid":"Lkjspv_yOHhhJw6NAAAF"}"#);
encode!(d10_v5_invalid_namespace, Packet::connect_error(ns("/nope"), &json!({"message": "Invalid namespace"})).unwrap()
    => r#"4/nope,{"message":"Invalid namespace"}"#);
encode!(d10_v4_auto_connect, Packet::connect(Namespace::main()) => "0");
accept!(d10_v4_event_with_ack, V4, T(r#"21["message-with-ack","a"]"#) => packet(Event, "/", id(1), Some(r#"["message-with-ack","a"]"#), &[]));
encode!(d10_v4_ack_reply, Packet::ack(Namespace::main(), AckId::new(1).unwrap(), &("a",)).unwrap() => r#"31["a"]"#);

#[test]
fn d10_v4_connect_with_query_answered_with_bare_name() {
    let DecodeStatus::Complete(p) = decode(V4, &[T("0/admin?x=1,")]).unwrap() else {
        panic!("incomplete")
    };
    assert_eq!(
        (p.namespace(), p.namespace_query()),
        ("/admin", Some("x=1"))
    );
    let reply = Packet::connect(ns(p.namespace()));
    assert_eq!(encoded(&reply).0, "0/admin,");
}

#[test]
fn d10_v5_suite_binary_echo() {
    let header = r#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    let DecodeStatus::Complete(p) = decode(V5, &[T(header), B(&[1, 2, 3]), B(&[4, 5, 6])]).unwrap()
    else {
        panic!("incomplete")
    };
    let (a, b): (Bytes, Bytes) = p.args().unwrap();
    let reply = Packet::event(Namespace::main(), "message-back", &(a, b), None).unwrap();
    let (text, attachments) = encoded(&reply);
    assert_eq!(
        text,
        r#"52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(attachments, [bin(&[1, 2, 3]), bin(&[4, 5, 6])]);
}

#[test]
fn d10_v5_suite_binary_ack() {
    let header =
        r#"52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    let DecodeStatus::Complete(p) = decode(V5, &[T(header), B(&[1, 2, 3]), B(&[4, 5, 6])]).unwrap()
    else {
        panic!("incomplete")
    };
    let args: Vec<Bytes> = p.args().unwrap();
    let reply = Packet::ack(Namespace::main(), p.ack_id().unwrap(), &args).unwrap();
    assert_eq!(
        encoded(&reply).0,
        r#"62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
}

// ---- JSON byte-exactness ----

#[test]
fn json_string_escapes_match_json_stringify() {
    let mut text = String::new();
    for c in (0u8..0x80).map(char::from) {
        text.push(c);
    }
    text.push_str("\u{80}\u{9f}\u{a0}\u{2028}\u{2029}\u{feff}😀");
    // Rule read off `JSON.stringify` in Node 20 for the same string.
    let mut expected = String::from("[\"");
    for c in text.chars() {
        match c {
            '\u{8}' => expected.push_str("\\b"),
            '\t' => expected.push_str("\\t"),
            '\n' => expected.push_str("\\n"),
            '\u{c}' => expected.push_str("\\f"),
            '\r' => expected.push_str("\\r"),
            '"' => expected.push_str("\\\""),
            '\\' => expected.push_str("\\\\"),
            c if u32::from(c) < 0x20 => expected.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => expected.push(c),
        }
    }
    expected.push_str("\"]");
    let p = Packet::event(Namespace::main(), &text, &(), None).unwrap();
    assert_eq!(p.raw_json().unwrap().as_str(), expected);
}

#[test]
fn numbers_match_json_stringify() {
    // socket.io-parser 4.2.7: encode({type:2, data:["x",1.0,-0,1e21,0.1,1e-7,123456789012345680000]})
    let p = Packet::event(
        Namespace::main(),
        "x",
        &(1.0, -0.0, 1e21, 0.1, 1e-7, 123456789012345680000.0),
        None,
    )
    .unwrap();
    assert_eq!(
        encoded(&p).0,
        r#"2["x",1,0,1e+21,0.1,1e-7,123456789012345680000]"#
    );
}

// ---- Part F (Socket.IO rows) ----

#[test]
fn f_cve_2020_36049_huge_ack_id_is_linear() {
    let text = format!("2{}", "2".repeat(10_000_000));
    let started = std::time::Instant::now();
    let mut decoder = Decoder::new(V5, Limits::default());
    assert_eq!(decoder.feed_text(text), Err(DecodeError::InvalidAckId));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

reject!(f_cve_2022_2421_num_splice, V5, T(r#"51-["hello",{"_placeholder":true,"num":"splice"}]"#), B(b"world")
    => DecodeError::IllegalPlaceholder, "illegal attachments");
reject!(f_cve_2022_2421_num_out_of_range, V5, T(r#"51-["hello",{"_placeholder":true,"num":1}]"#), B(b"world")
    => DecodeError::IllegalPlaceholder, "illegal attachments");
reject!(f_cve_2023_32695_name_object, V5, T(r#"2[{"toString":"foo"}]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(f_cve_2023_32695_name_bool, V5, T(r#"2[true,"foo"]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(f_cve_2023_32695_name_null, V5, T(r#"2[null,"bar"]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(f_4_2_4_reserved_connect, V5, T(r#"2["connect"]"#) => DecodeError::InvalidPayload, "invalid payload");
reject!(f_4_2_4_reserved_disconnect, V5, T(r#"2["disconnect","123"]"#) => DecodeError::InvalidPayload, "invalid payload");

#[test]
fn f_cve_2026_33151_huge_count_then_binary_stream() {
    let mut decoder = Decoder::new(V5, Limits::default());
    let err = decoder.feed_text(r#"5999999-["a"]"#).unwrap_err();
    assert_eq!(err, DecodeError::TooManyAttachments);
    for _ in 0..1000 {
        assert_eq!(
            decoder.feed_binary(vec![0; 1024]),
            Err(DecodeError::UnexpectedBinary)
        );
        assert_eq!(decoder.buffered_bytes(), 0);
    }
}

#[test]
fn f_cve_2026_69185_zero_count_then_binary_stream() {
    let mut decoder = Decoder::new(V5, Limits::default());
    assert_eq!(
        decoder.feed_text(r#"50-["e"]"#),
        Err(DecodeError::IllegalAttachmentCount)
    );
    for _ in 0..1000 {
        assert_eq!(
            decoder.feed_binary(vec![1]),
            Err(DecodeError::UnexpectedBinary)
        );
    }
    assert!(decoder.is_idle());
}

accept!(f_cve_2024_38355_error_event_name, V5, T(r#"2["error","x"]"#) => packet(Event, "/", None, Some(r#"["error","x"]"#), &[]));
reject!(f_socketioxide_357_binary_type_without_dash, V5, T("5") => DecodeError::IllegalAttachmentCount, "Illegal attachments");

#[test]
fn f_socketioxide_ghsa_55mf_attachment_bytes_capped_before_buffering() {
    let limits = Limits {
        max_attachment_bytes: 10_000,
        ..Limits::default()
    };
    let placeholders: Vec<String> = (0..10)
        .map(|n| format!(r#"{{"_placeholder":true,"num":{n}}}"#))
        .collect();
    let mut decoder = Decoder::new(V5, limits);
    decoder
        .feed_text(format!(r#"510-["a",{}]"#, placeholders.join(",")))
        .unwrap();
    for _ in 0..2 {
        decoder.feed_binary(vec![0; 4000]).unwrap();
    }
    assert_eq!(decoder.buffered_bytes(), 8000);
    assert_eq!(
        decoder.feed_binary(vec![0; 4000]),
        Err(DecodeError::AttachmentsTooLarge)
    );
    assert!(decoder.is_idle());
    assert_eq!(decoder.buffered_bytes(), 0);
}

#[test]
fn f_msgpack_depth_analogue_deep_placeholder_walk() {
    let depth = 50_000;
    let text = format!(
        r#"51-["a",{}{PH0}{}]"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let mut decoder = Decoder::new(V5, Limits::default());
    assert_eq!(
        decoder.feed_text(text).unwrap(),
        DecodeStatus::NeedAttachments { remaining: 1 }
    );
    assert_eq!(
        decoder.feed_binary(vec![1]),
        Err(DecodeError::PayloadTooDeep)
    );
}

#[test]
fn f_engineioxide_multibyte_first_char() {
    // Never panics, whatever the result.
    for text in ["éabcd", "é", "€", "😀2[]", "5é-", "2/é", "51-/é,", "2/é,é"] {
        let _ = decode(V5, &[T(text)]);
    }
    assert_eq!(
        decode(V5, &[T("éabcd")]),
        Err(DecodeError::UnknownPacketType {
            found: None,
            version: V5
        })
    );
}

#[test]
fn f_socketioxide_0_17_3_stale_packet_not_completed() {
    let mut decoder = Decoder::new(V5, Limits::default());
    decoder.feed_text(format!(r#"51-["a",{PH0}]"#)).unwrap();
    assert_eq!(
        decoder.feed_text(r#"2["b"]"#),
        Err(DecodeError::UnexpectedText)
    );
    assert_eq!(
        decoder.feed_binary(vec![1]),
        Err(DecodeError::UnexpectedBinary)
    );
}

#[test]
fn f_python_socketio_partial_state_freed_on_reset() {
    let mut decoder = Decoder::new(V5, Limits::default());
    decoder
        .feed_text(format!(
            r#"52-/never-joined,["a",{PH0},{{"_placeholder":true,"num":1}}]"#
        ))
        .unwrap();
    decoder.feed_binary(vec![0; 100]).unwrap();
    assert_eq!(decoder.buffered_bytes(), 100);
    decoder.reset();
    assert!(decoder.is_idle());
    assert_eq!(decoder.buffered_bytes(), 0);
}

reject!(f_java_797_count_above_2_pow_31, V5, T(r#"52147483648-["a"]"#) => DecodeError::TooManyAttachments, "too many attachments");
reject!(f_java_797_empty_packet, V5, T("") => DecodeError::EmptyPacket, "empty packet");
reject!(f_java_797_stray_binary, V5, B(&[4, 1, 2]) => DecodeError::UnexpectedBinary, "got binary data when not reconstructing a packet");
