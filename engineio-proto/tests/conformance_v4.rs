//! The official Engine.IO v4 test suite (PROTOCOL.md C.3), every case, run against our server
//! session through the test driver in `support/` on a virtual clock.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use bytes::Bytes;
use engineio_proto::session::server::Method;
use engineio_proto::{Frame, OpenPacket};
use support::{Harness, sid_of, suite_config, text};

fn harness() -> Harness {
    Harness::new(suite_config(false))
}

/// `initLongPollingSession()`: the handshake GET, returning the sid.
fn polling_session(h: &mut Harness) -> String {
    let r = h.get(Method::Get, "EIO=4&transport=polling");
    sid_of(&h.response(r).unwrap().body)
}

fn q(sid: &str) -> String {
    format!("EIO=4&transport=polling&sid={sid}")
}

fn get_body(h: &mut Harness, sid: &str) -> (u16, Bytes) {
    let r = h.get(Method::Get, &q(sid));
    let response = h.response(r).expect("the GET is answered at once");
    (response.status, response.body)
}

fn open_json(body: &[u8]) -> serde_json::Value {
    assert_eq!(body[0], b'0');
    serde_json::from_slice(&body[1..]).unwrap()
}

fn assert_handshake_keys(json: &serde_json::Value, upgrades: serde_json::Value) {
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "maxPayload",
            "pingInterval",
            "pingTimeout",
            "sid",
            "upgrades"
        ]
    );
    assert!(json["sid"].is_string());
    assert_eq!(json["upgrades"], upgrades);
    assert_eq!(json["pingInterval"], 300);
    assert_eq!(json["pingTimeout"], 200);
    assert_eq!(json["maxPayload"], 1_000_000);
}

#[test]
fn c3_01_http_handshake_opens_a_session() {
    let mut h = harness();
    let r = h.get(Method::Get, "EIO=4&transport=polling");
    let response = h.response(r).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.content_type, Some("text/plain; charset=UTF-8"));
    assert_handshake_keys(&open_json(&response.body), serde_json::json!(["websocket"]));
    // The reference key order, byte for byte.
    let open: OpenPacket = serde_json::from_slice(&response.body[1..]).unwrap();
    let mut again = Vec::new();
    open.encode(&mut again);
    assert_eq!(again, response.body);
}

#[test]
fn c3_02_http_handshake_invalid_eio() {
    let mut h = harness();
    for query in ["transport=polling", "EIO=abc&transport=polling"] {
        let r = h.get(Method::Get, query);
        assert_eq!(h.response(r).unwrap().status, 400, "{query}");
    }
}

#[test]
fn c3_03_http_handshake_invalid_transport() {
    let mut h = harness();
    for query in ["EIO=4", "EIO=4&transport=abc"] {
        let r = h.get(Method::Get, query);
        assert_eq!(h.response(r).unwrap().status, 400, "{query}");
    }
}

#[test]
fn c3_04_http_handshake_invalid_method() {
    let mut h = harness();
    for method in [Method::Post, Method::Other] {
        let r = h.get(method, "EIO=4&transport=polling");
        let response = h.response(r).unwrap();
        assert_eq!(response.status, 400);
        assert_eq!(
            response.body,
            br#"{"code":2,"message":"Bad handshake method"}"#[..]
        );
    }
}

#[test]
fn c3_05_websocket_handshake_opens_a_session() {
    let mut h = harness();
    let ws = h.websocket("EIO=4&transport=websocket");
    let frames = h.frames(ws);
    let Frame::Text(open) = &frames[0] else {
        panic!("text frame expected")
    };
    assert_handshake_keys(&open_json(open.as_bytes()), serde_json::json!([]));
}

#[test]
fn c3_06_websocket_handshake_invalid_eio() {
    let mut h = harness();
    for query in ["transport=websocket", "EIO=abc&transport=websocket"] {
        let ws = h.websocket(query);
        assert!(h.is_closed(ws), "{query}");
    }
}

#[test]
fn c3_07_websocket_handshake_invalid_transport() {
    let mut h = harness();
    for query in ["EIO=4", "EIO=4&transport=abc"] {
        let ws = h.websocket(query);
        assert!(h.is_closed(ws), "{query}");
    }
}

fn post_then_get(body: &'static [u8]) -> Bytes {
    let mut h = harness();
    let sid = polling_session(&mut h);
    let p = h.post(&q(&sid), Some("text/plain;charset=UTF-8"), body);
    let response = h.response(p).unwrap();
    assert_eq!((response.status, &response.body[..]), (200, &b"ok"[..]));
    assert_eq!(response.content_type, Some("text/html"));
    let (status, body) = get_body(&mut h, &sid);
    assert_eq!(status, 200);
    body
}

#[test]
fn c3_08_http_one_text_packet() {
    assert_eq!(post_then_get(b"4hello"), &b"4hello"[..]);
}

#[test]
fn c3_09_http_several_text_packets_come_back_in_one_payload() {
    assert_eq!(
        post_then_get(b"4test1\x1e4test2\x1e4test3"),
        &b"4test1\x1e4test2\x1e4test3"[..]
    );
}

#[test]
fn c3_10_http_text_and_binary_packets() {
    assert_eq!(
        post_then_get(b"4hello\x1ebAQIDBA=="),
        &b"4hello\x1ebAQIDBA=="[..]
    );
}

#[test]
fn c3_11_http_invalid_packet_closes_the_session() {
    let mut h = harness();
    let sid = polling_session(&mut h);
    let p = h.post(&q(&sid), None, &b"abc"[..]);
    assert_eq!(h.response(p).unwrap().status, 400);
    assert_eq!(get_body(&mut h, &sid).0, 400);
}

#[test]
fn c3_12_http_duplicate_poll_closes_the_session() {
    let mut h = harness();
    let sid = polling_session(&mut h);
    let first = h.get(Method::Get, &q(&sid));
    assert!(h.response(first).is_none(), "parked");
    h.advance_ms(5);
    let second = h.get(Method::Get, &format!("{}&t=burst", q(&sid)));
    let first = h.response(first).unwrap();
    assert_eq!((first.status, &first.body[..]), (200, &b"1"[..]));
    assert_eq!(h.response(second).unwrap().status, 400);
    assert_eq!(get_body(&mut h, &sid).0, 400);
}

#[test]
fn c3_13_http_cancelled_poll_closes_the_session() {
    let mut h = harness();
    let sid = polling_session(&mut h);
    let get = h.get(Method::Get, &q(&sid));
    h.advance_ms(5);
    h.abort(get);
    assert_eq!(get_body(&mut h, &sid).0, 400);
}

#[test]
fn c3_14_websocket_text_packet() {
    let mut h = harness();
    let ws = h.websocket("EIO=4&transport=websocket");
    h.frames(ws);
    h.send_text(ws, "4hello");
    assert_eq!(h.frames(ws), [text("4hello")]);
}

#[test]
fn c3_15_websocket_binary_packet() {
    let mut h = harness();
    let ws = h.websocket("EIO=4&transport=websocket");
    h.frames(ws);
    h.send_frame(ws, Frame::Binary(Bytes::from_static(&[1, 2, 3, 4])));
    assert_eq!(
        h.frames(ws),
        [Frame::Binary(Bytes::from_static(&[1, 2, 3, 4]))]
    );
}

#[test]
fn c3_16_websocket_invalid_packet_closes_the_session() {
    let mut h = harness();
    let ws = h.websocket("EIO=4&transport=websocket");
    h.send_text(ws, "abc");
    assert!(h.is_closed(ws));
}

#[test]
fn c3_17_http_ping_pong() {
    let mut h = harness();
    let sid = polling_session(&mut h);
    for _ in 0..3 {
        let get = h.get(Method::Get, &q(&sid));
        h.advance_ms(300);
        let ping = h.response(get).unwrap();
        assert_eq!((ping.status, &ping.body[..]), (200, &b"2"[..]));
        let pong = h.post(&q(&sid), None, &b"3"[..]);
        assert_eq!(h.response(pong).unwrap().status, 200);
    }
}

#[test]
fn c3_18_http_ping_timeout() {
    let mut h = harness();
    let sid = polling_session(&mut h);
    h.advance_ms(499);
    assert_eq!(h.session_count(), 1);
    h.advance_ms(1);
    assert_eq!(get_body(&mut h, &sid).0, 400);
}

#[test]
fn c3_19_websocket_ping_pong() {
    let mut h = harness();
    let ws = h.websocket("EIO=4&transport=websocket");
    h.frames(ws);
    for _ in 0..3 {
        h.advance_ms(300);
        assert_eq!(h.frames(ws), [text("2")]);
        h.send_text(ws, "3");
    }
    assert!(!h.is_closed(ws));
}

#[test]
fn c3_20_websocket_ping_timeout() {
    let mut h = harness();
    let ws = h.websocket("EIO=4&transport=websocket");
    h.advance_ms(499);
    assert!(!h.is_closed(ws));
    h.advance_ms(1);
    assert!(h.is_closed(ws));
}

#[test]
fn c3_21_http_forceful_close() {
    let mut h = harness();
    let sid = polling_session(&mut h);
    let get = h.get(Method::Get, &q(&sid));
    let post = h.post(&q(&sid), None, &b"1"[..]);
    assert_eq!(h.response(post).unwrap().status, 200);
    let get = h.response(get).unwrap();
    assert_eq!((get.status, &get.body[..]), (200, &b"6"[..]));
    assert_eq!(get_body(&mut h, &sid).0, 400);
}

#[test]
fn c3_22_websocket_forceful_close() {
    let mut h = harness();
    let ws = h.websocket("EIO=4&transport=websocket");
    h.send_text(ws, "1");
    assert!(h.is_closed(ws));
    assert_eq!(h.session_count(), 0);
}

/// Upgrades a polling session: probe, a parked GET released with `6`, then `5`.
fn upgrade(h: &mut Harness, sid: &str) -> engineio_proto::session::SocketId {
    let ws = h.websocket(&format!("EIO=4&transport=websocket&sid={sid}"));
    assert!(!h.is_closed(ws));
    h.send_text(ws, "2probe");
    assert_eq!(h.frames(ws), [text("3probe")]);
    let get = h.get(Method::Get, &q(sid));
    h.advance_ms(100);
    let noop = h.response(get).unwrap();
    assert_eq!((noop.status, &noop.body[..]), (200, &b"6"[..]));
    h.send_text(ws, "5");
    ws
}

#[test]
fn c3_23_upgrade_from_polling_to_websocket() {
    let mut h = harness();
    let sid = polling_session(&mut h);
    let ws = upgrade(&mut h, &sid);
    h.send_text(ws, "4hello");
    assert_eq!(h.frames(ws), [text("4hello")]);
}

#[test]
fn c3_24_polling_refused_after_upgrade() {
    let mut h = harness();
    let sid = polling_session(&mut h);
    let ws = upgrade(&mut h, &sid);
    let (status, body) = get_body(&mut h, &sid);
    assert_eq!(
        (status, &body[..]),
        (400, &br#"{"code":3,"message":"Bad request"}"#[..])
    );
    h.send_text(ws, "4hello");
    assert_eq!(h.frames(ws), [text("4hello")]);
}

#[test]
fn c3_25_second_websocket_refused_after_upgrade() {
    let mut h = harness();
    let sid = polling_session(&mut h);
    let ws = upgrade(&mut h, &sid);
    let second = h.websocket(&format!("EIO=4&transport=websocket&sid={sid}"));
    assert!(h.is_closed(second));
    h.send_text(ws, "4hello");
    assert_eq!(h.frames(ws), [text("4hello")]);
}
