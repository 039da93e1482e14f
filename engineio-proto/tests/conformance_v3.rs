//! The official Engine.IO v3 test suite (PROTOCOL.md C.4), every case, against our server
//! session with v3 allowed. The suite's sessions use `b64=1` unless a case says otherwise.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::session::server::Method;
use support::{Harness, sid_of, suite_config, text};

fn harness() -> Harness {
    Harness::new(suite_config(true))
}

/// `initLongPollingSession(supportsBinary)`: `b64=1` unless binary is supported.
fn polling_session(h: &mut Harness, supports_binary: bool) -> String {
    let query = if supports_binary {
        "EIO=3&transport=polling"
    } else {
        "EIO=3&transport=polling&b64=1"
    };
    let r = h.get(Method::Get, query);
    sid_of(&h.response(r).unwrap().body)
}

fn q(sid: &str) -> String {
    format!("EIO=3&transport=polling&sid={sid}")
}

fn get_body(h: &mut Harness, sid: &str) -> (u16, Bytes) {
    let r = h.get(Method::Get, &q(sid));
    let response = h.response(r).expect("the GET is answered at once");
    (response.status, response.body)
}

#[test]
fn c4_01_http_handshake_opens_a_session() {
    let mut h = harness();
    let r = h.get(Method::Get, "EIO=3&transport=polling");
    let body = h.response(r).unwrap().body;
    let body = std::str::from_utf8(&body).unwrap();
    let (len, packet) = body.split_once(':').unwrap();
    assert_eq!(len.parse::<usize>().unwrap(), packet.encode_utf16().count());
    assert!(packet.starts_with('0'));
    let json: serde_json::Value = serde_json::from_str(&packet[1..]).unwrap();
    assert!(json["sid"].is_string());
    assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(
        (json["pingInterval"].as_u64(), json["pingTimeout"].as_u64()),
        (Some(300), Some(200))
    );
    assert_eq!(json["maxPayload"], 1_000_000);
}

#[test]
fn c4_02_http_handshake_invalid_transport() {
    let mut h = harness();
    for query in ["EIO=3", "EIO=3&transport=abc"] {
        let r = h.get(Method::Get, query);
        assert_eq!(h.response(r).unwrap().status, 400, "{query}");
    }
}

#[test]
fn c4_03_http_handshake_invalid_method() {
    let mut h = harness();
    let r = h.get(Method::Post, "EIO=3&transport=polling");
    assert_eq!(h.response(r).unwrap().status, 400);
}

#[test]
fn c4_04_websocket_handshake_opens_a_session() {
    let mut h = harness();
    let ws = h.websocket("EIO=3&transport=websocket");
    let frames = h.frames(ws);
    let Frame::Text(open) = &frames[0] else {
        panic!("text frame expected")
    };
    assert!(open.starts_with('0'));
    let json: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    assert_eq!(json["upgrades"], serde_json::json!([]));
    assert_eq!(
        (json["pingInterval"].as_u64(), json["pingTimeout"].as_u64()),
        (Some(300), Some(200))
    );
}

/// The v3 suite does not await these closes; we check them anyway.
#[test]
fn c4_05_06_websocket_handshake_invalid_eio_or_transport() {
    let mut h = harness();
    for query in [
        "EIO=abc&transport=websocket",
        "EIO=3",
        "EIO=3&transport=abc",
    ] {
        let ws = h.websocket(query);
        assert!(h.is_closed(ws), "{query}");
    }
}

fn post_then_get(supports_binary: bool, body: &'static [u8]) -> Bytes {
    let mut h = harness();
    let sid = polling_session(&mut h, supports_binary);
    let p = h.post(&q(&sid), Some("text/plain;charset=UTF-8"), body);
    let response = h.response(p).unwrap();
    assert_eq!((response.status, &response.body[..]), (200, &b"ok"[..]));
    let (status, body) = get_body(&mut h, &sid);
    assert_eq!(status, 200);
    body
}

#[test]
fn c4_07_http_one_text_packet() {
    assert_eq!(post_then_get(false, b"6:4hello"), &b"6:4hello"[..]);
}

#[test]
fn c4_08_http_several_text_packets() {
    assert_eq!(
        post_then_get(false, b"6:4test16:4test26:4test3"),
        &b"6:4test16:4test26:4test3"[..]
    );
}

#[test]
fn c4_09_http_text_and_binary_base64() {
    assert_eq!(
        post_then_get(false, b"6:4hello10:b4AQIDBA=="),
        &b"6:4hello10:b4AQIDBA=="[..]
    );
}

#[test]
fn c4_10_http_text_and_binary_as_binary_payload() {
    assert_eq!(
        post_then_get(true, b"6:4hello10:b4AQIDBA=="),
        &b"\x00\x06\xff\x34hello\x01\x05\xff\x04\x01\x02\x03\x04"[..]
    );
}

#[test]
fn c4_10_binary_payload_content_type() {
    let mut h = harness();
    let sid = polling_session(&mut h, true);
    h.post(&q(&sid), None, &b"10:b4AQIDBA=="[..]);
    let r = h.get(Method::Get, &q(&sid));
    assert_eq!(
        h.response(r).unwrap().content_type,
        Some("application/octet-stream")
    );
}

#[test]
fn c4_11_http_invalid_packet_closes_the_session() {
    let mut h = harness();
    let sid = polling_session(&mut h, false);
    let p = h.post(&q(&sid), None, &b"abc"[..]);
    assert_eq!(h.response(p).unwrap().status, 400);
    assert_eq!(get_body(&mut h, &sid).0, 400);
}

/// Skipped in the official suite ("FIXME CORS error"); its expectation is `1:1` for the
/// pending GET. engine.io 6 answers the overlapping GET with 400 where 3.x used 500.
#[test]
fn c4_skipped_http_duplicate_poll() {
    let mut h = harness();
    let sid = polling_session(&mut h, false);
    let first = h.get(Method::Get, &q(&sid));
    let second = h.get(Method::Get, &q(&sid));
    assert_eq!(h.response(first).unwrap().body, &b"1:1"[..]);
    assert_eq!(h.response(second).unwrap().status, 400);
}

#[test]
fn c4_12_websocket_text_packet() {
    let mut h = harness();
    let ws = h.websocket("EIO=3&transport=websocket");
    h.frames(ws);
    h.send_text(ws, "4hello");
    assert_eq!(h.frames(ws), [text("4hello")]);
}

#[test]
fn c4_13_websocket_binary_packet_has_type_byte() {
    let mut h = harness();
    let ws = h.websocket("EIO=3&transport=websocket");
    h.frames(ws);
    h.send_frame(ws, Frame::Binary(Bytes::from_static(&[4, 1, 2, 3, 4])));
    assert_eq!(
        h.frames(ws),
        [Frame::Binary(Bytes::from_static(&[4, 1, 2, 3, 4]))]
    );
}

#[test]
fn c4_14_websocket_invalid_packet_closes_the_session() {
    let mut h = harness();
    let ws = h.websocket("EIO=3&transport=websocket");
    h.send_text(ws, "abc");
    assert!(h.is_closed(ws));
}

#[test]
fn c4_15_http_client_pings() {
    let mut h = harness();
    let sid = polling_session(&mut h, false);
    for _ in 0..3 {
        let p = h.post(&q(&sid), None, &b"1:2"[..]);
        assert_eq!(h.response(p).unwrap().status, 200);
        assert_eq!(get_body(&mut h, &sid), (200, Bytes::from_static(b"1:3")));
        h.advance_ms(250);
    }
}

#[test]
fn c4_16_http_ping_timeout() {
    let mut h = harness();
    let sid = polling_session(&mut h, false);
    h.advance_ms(500);
    let p = h.post(&q(&sid), None, &b"1:2"[..]);
    assert_eq!(h.response(p).unwrap().status, 400);
}

#[test]
fn c4_17_websocket_client_pings() {
    let mut h = harness();
    let ws = h.websocket("EIO=3&transport=websocket");
    h.frames(ws);
    for _ in 0..3 {
        h.send_text(ws, "2");
        assert_eq!(h.frames(ws), [text("3")]);
        h.advance_ms(250);
    }
    assert!(!h.is_closed(ws));
}

#[test]
fn c4_18_websocket_ping_timeout() {
    let mut h = harness();
    let ws = h.websocket("EIO=3&transport=websocket");
    h.advance_ms(499);
    assert!(!h.is_closed(ws));
    h.advance_ms(1);
    assert!(h.is_closed(ws));
}

#[test]
fn c4_19_http_forceful_close() {
    let mut h = harness();
    let sid = polling_session(&mut h, false);
    let get = h.get(Method::Get, &q(&sid));
    let post = h.post(&q(&sid), None, &b"1:1"[..]);
    assert_eq!(h.response(post).unwrap().status, 200);
    assert_eq!(h.response(get).unwrap().body, &b"1:6"[..]);
    assert_eq!(get_body(&mut h, &sid).0, 400);
}

#[test]
fn c4_20_websocket_forceful_close() {
    let mut h = harness();
    let ws = h.websocket("EIO=3&transport=websocket");
    h.send_text(ws, "1");
    assert!(h.is_closed(ws));
}

fn upgrade(h: &mut Harness, sid: &str) -> engineio_proto::session::SocketId {
    let ws = h.websocket(&format!("EIO=3&transport=websocket&sid={sid}"));
    h.send_text(ws, "2probe");
    assert_eq!(h.frames(ws), [text("3probe")]);
    let get = h.get(Method::Get, &q(sid));
    h.advance_ms(100);
    assert_eq!(h.response(get).unwrap().body, &b"1:6"[..]);
    h.send_text(ws, "5");
    ws
}

#[test]
fn c4_21_upgrade_from_polling_to_websocket() {
    let mut h = harness();
    let sid = polling_session(&mut h, false);
    let ws = upgrade(&mut h, &sid);
    h.send_text(ws, "4hello");
    assert_eq!(h.frames(ws), [text("4hello")]);
}

#[test]
fn c4_22_polling_refused_after_upgrade() {
    let mut h = harness();
    let sid = polling_session(&mut h, false);
    let ws = upgrade(&mut h, &sid);
    assert_eq!(get_body(&mut h, &sid).0, 400);
    h.send_text(ws, "4hello");
    assert_eq!(h.frames(ws), [text("4hello")]);
}

#[test]
fn c4_23_second_websocket_refused_after_upgrade() {
    let mut h = harness();
    let sid = polling_session(&mut h, false);
    let ws = upgrade(&mut h, &sid);
    let second = h.websocket(&format!("EIO=3&transport=websocket&sid={sid}"));
    assert!(h.is_closed(second));
    h.send_text(ws, "4hello");
    assert_eq!(h.frames(ws), [text("4hello")]);
}

#[test]
fn v3_refused_when_not_allowed() {
    let mut h = Harness::new(suite_config(false));
    let r = h.get(Method::Get, "EIO=3&transport=polling");
    assert_eq!(
        h.response(r).unwrap().body,
        &br#"{"code":5,"message":"Unsupported protocol version"}"#[..]
    );
}
