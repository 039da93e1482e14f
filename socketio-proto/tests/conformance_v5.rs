//! The official Socket.IO v5 test suite (PROTOCOL.md C.5), every case, against our Engine.IO
//! server sessions and Socket.IO connections, driven on a virtual clock. The application is the
//! suite's: `/` and `/custom`, an `auth` event on connect, `message` echoed as `message-back`,
//! `message-with-ack` acknowledged with its arguments, connectTimeout 1000 ms.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::session::endpoint::Input;
use engineio_proto::session::server::{self as eio, Method, ServerConfig as EioConfig, Transmit};
use engineio_proto::session::{RequestId, SocketId};
use socketio_proto::server::ConnectionConfig;
use socketio_proto::server::{Endpoint, EndpointConfig, ServerEvent};
use socketio_proto::{Packet, Utf8Bytes};

/// The composed server endpoint on a virtual clock, with the suite's application.
struct Suite {
    now: Instant,
    server: Endpoint,
    responses: HashMap<RequestId, eio::HttpResponse>,
    frames: HashMap<SocketId, Vec<Frame>>,
    closed_sockets: HashSet<SocketId>,
    next_refused: u64,
    next: u64,
}

impl Suite {
    fn new() -> Suite {
        let config = EndpointConfig {
            engine: EioConfig {
                ping_interval: Duration::from_millis(300),
                ping_timeout: Duration::from_millis(200),
                ..EioConfig::default()
            },
            connection: ConnectionConfig {
                connect_timeout: Duration::from_millis(1000),
                ..ConnectionConfig::default()
            },
            recovery: None,
        };
        let mut n = 0;
        let ids = move || {
            n += 1;
            format!("id{n}")
        };
        Suite {
            now: Instant::now(),
            server: Endpoint::new(config, Box::new(ids)),
            responses: HashMap::new(),
            frames: HashMap::new(),
            closed_sockets: HashSet::new(),
            next_refused: u64::MAX,
            next: 0,
        }
    }

    fn request(&mut self, method: Method, query: &str, websocket_upgrade: bool) -> RequestId {
        self.next += 1;
        let request = RequestId(self.next);
        let input = Input::Request {
            request,
            method,
            query,
            websocket_upgrade,
        };
        self.server.handle(self.now, input);
        request
    }

    fn get(&mut self, method: Method, query: &str) -> RequestId {
        let request = self.request(method, query, false);
        self.drive_with_body(request, Bytes::new());
        request
    }

    fn post(&mut self, query: &str, body: &'static [u8]) -> RequestId {
        let request = self.request(Method::Post, query, false);
        self.drive_with_body(request, Bytes::from_static(body));
        request
    }

    fn drive_with_body(&mut self, request: RequestId, body: Bytes) {
        if self
            .drive_until(|t| matches!(t, Transmit::ReadBody { request: r, .. } if *r == request))
            .is_some()
        {
            let input = Input::PostBody {
                request,
                content_type: None,
                body,
            };
            self.server.handle(self.now, input);
            self.drive();
        }
    }

    fn response(&mut self, request: RequestId) -> Option<eio::HttpResponse> {
        self.responses.remove(&request)
    }

    fn websocket(&mut self, query: &str) -> SocketId {
        let request = self.request(Method::Get, query, true);
        let accepted = self.drive_until(
            |t| matches!(t, Transmit::AcceptWebSocket { request: r, .. } if *r == request),
        );
        let socket = match accepted {
            Some(Transmit::AcceptWebSocket { socket, .. }) => {
                self.server
                    .handle(self.now, Input::WebSocketOpen { socket });
                socket
            }
            _ => {
                self.next_refused -= 1;
                let socket = SocketId(self.next_refused);
                self.closed_sockets.insert(socket);
                socket
            }
        };
        self.drive();
        socket
    }

    fn send(&mut self, socket: SocketId, frame: Frame) {
        self.server
            .handle(self.now, Input::WebSocketFrame { socket, frame });
        self.drive();
    }

    fn send_text(&mut self, socket: SocketId, text: &str) {
        self.send(socket, Frame::Text(text.to_owned().into()));
    }

    /// Frames received so far on `socket`, skipping pings (`waitForPackets` does too).
    fn frames(&mut self, socket: SocketId) -> Vec<Frame> {
        let frames = self.frames.remove(&socket).unwrap_or_default();
        frames
            .into_iter()
            .filter(|f| *f != Frame::Text("2".into()))
            .collect()
    }

    fn texts(&mut self, socket: SocketId) -> Vec<String> {
        self.frames(socket)
            .into_iter()
            .map(|f| match f {
                Frame::Text(t) => t.to_string(),
                Frame::Binary(b) => format!(
                    "<{}>",
                    b.iter()
                        .map(|x| format!("{x:02x}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            })
            .collect()
    }

    fn advance_ms(&mut self, ms: u64) {
        let end = self.now + Duration::from_millis(ms);
        while let Some(at) = self.server.poll_timeout().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.server.handle_timeout(self.now);
            self.drive();
        }
        self.now = end;
    }

    fn drive(&mut self) {
        let stray = self.drive_until(|_| false);
        assert!(stray.is_none());
    }

    /// Runs the application and records the wire until nothing moves; returns the transmit
    /// `wanted` picks out (a body to read, an upgrade to accept) instead of recording it.
    fn drive_until(&mut self, wanted: impl Fn(&Transmit) -> bool) -> Option<Transmit> {
        let mut found = None;
        loop {
            if let Some(event) = self.server.poll_event() {
                suite_app(self.now, &mut self.server, event);
                continue;
            }
            let Some(transmit) = self.server.poll_transmit() else {
                return found;
            };
            if wanted(&transmit) {
                found = Some(transmit);
                continue;
            }
            match transmit {
                Transmit::Response { request, response } => {
                    self.responses.insert(request, response);
                }
                Transmit::Frame { socket, frame } => {
                    self.frames.entry(socket).or_default().push(frame)
                }
                Transmit::CloseSocket { socket } => {
                    self.closed_sockets.insert(socket);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

/// The conformance suite's server application.
fn suite_app(now: Instant, server: &mut Endpoint, event: ServerEvent) {
    match event {
        ServerEvent::ConnectRequest(connect) => {
            if matches!(connect.namespace.as_str(), "/" | "/custom") {
                server.accept(now, &connect).unwrap();
            } else {
                server.refuse_invalid_namespace(&connect).unwrap();
            }
        }
        ServerEvent::Connected { socket, auth, .. } => {
            let auth = auth.unwrap_or_else(|| Utf8Bytes::from_static("{}"));
            let auth = serde_json::value::RawValue::from_string(auth.to_string()).unwrap();
            let packet =
                Packet::event_raw(socket.namespace.clone(), "auth", &[&auth], vec![]).unwrap();
            server.emit(now, &socket, packet).unwrap();
        }
        ServerEvent::Event { socket, packet } => {
            let args = packet.raw_args();
            let rest = &args[1..];
            match packet.event_name().as_deref() {
                Some("message") => {
                    let back = Packet::event_raw(
                        socket.namespace.clone(),
                        "message-back",
                        rest,
                        packet.attachments().to_vec(),
                    )
                    .unwrap();
                    server.emit(now, &socket, back).unwrap();
                }
                Some("message-with-ack") => {
                    let ack = Packet::ack_raw(
                        socket.namespace.clone(),
                        packet.ack_id().unwrap(),
                        rest,
                        packet.attachments().to_vec(),
                    )
                    .unwrap();
                    server.ack(&socket, ack).unwrap();
                }
                _ => {}
            }
        }
        _ => {}
    }
}

fn polling_session(s: &mut Suite) -> String {
    let r = s.get(Method::Get, "EIO=4&transport=polling");
    let body = s.response(r).unwrap().body;
    let json: serde_json::Value = serde_json::from_slice(&body[1..]).unwrap();
    json["sid"].as_str().unwrap().to_owned()
}

fn q(sid: &str) -> String {
    format!("EIO=4&transport=polling&sid={sid}")
}

/// `initSocketIOConnection()`: WebSocket, open, `40`, the CONNECT reply and the `auth` event.
fn sio_connection(s: &mut Suite) -> SocketId {
    let ws = s.websocket("EIO=4&transport=websocket");
    s.frames(ws);
    s.send_text(ws, "40");
    assert_eq!(s.texts(ws).len(), 2);
    ws
}

#[test]
fn c5_01_to_04_engineio_http_handshake() {
    let mut s = Suite::new();
    let r = s.get(Method::Get, "EIO=4&transport=polling");
    let body = s.response(r).unwrap().body;
    let json: serde_json::Value = serde_json::from_slice(&body[1..]).unwrap();
    assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(json["maxPayload"], 1_000_000);
    for query in [
        "transport=polling",
        "EIO=abc&transport=polling",
        "EIO=3&transport=polling",
        "EIO=4",
        "EIO=4&transport=abc",
    ] {
        let r = s.get(Method::Get, query);
        assert_eq!(s.response(r).unwrap().status, 400, "{query}");
    }
    for method in [Method::Post, Method::Other] {
        let r = s.get(method, "EIO=4&transport=polling");
        assert_eq!(s.response(r).unwrap().status, 400);
    }
}

#[test]
fn c5_05_to_07_engineio_websocket_handshake() {
    let mut s = Suite::new();
    let ws = s.websocket("EIO=4&transport=websocket");
    let Frame::Text(open) = &s.frames(ws)[0] else {
        panic!()
    };
    assert!(open.starts_with("0{"));
    for query in [
        "transport=websocket",
        "EIO=abc&transport=websocket",
        "EIO=4",
        "EIO=4&transport=abc",
    ] {
        let ws = s.websocket(query);
        assert!(s.closed_sockets.contains(&ws), "{query}");
    }
}

#[test]
fn c5_08_09_engineio_http_heartbeat() {
    let mut s = Suite::new();
    let sid = polling_session(&mut s);
    for _ in 0..3 {
        let get = s.get(Method::Get, &q(&sid));
        s.advance_ms(300);
        assert_eq!(s.response(get).unwrap().body, &b"2"[..]);
        let pong = s.post(&q(&sid), b"3");
        assert_eq!(s.response(pong).unwrap().status, 200);
    }
    // c5_09: ping timeout (the connectTimeout of 1000 ms would come later).
    let mut s = Suite::new();
    let sid = polling_session(&mut s);
    s.advance_ms(500);
    let get = s.get(Method::Get, &q(&sid));
    assert_eq!(s.response(get).unwrap().status, 400);
}

#[test]
fn c5_10_11_engineio_websocket_heartbeat() {
    let mut s = Suite::new();
    let ws = s.websocket("EIO=4&transport=websocket");
    s.frames(ws);
    for _ in 0..3 {
        s.advance_ms(300);
        assert_eq!(s.frames.remove(&ws).unwrap(), [Frame::Text("2".into())]);
        s.send_text(ws, "3");
    }
    let mut s = Suite::new();
    let ws = s.websocket("EIO=4&transport=websocket");
    s.advance_ms(500);
    assert!(s.closed_sockets.contains(&ws));
}

#[test]
fn c5_12_13_engineio_close() {
    let mut s = Suite::new();
    let sid = polling_session(&mut s);
    let get = s.get(Method::Get, &q(&sid));
    let post = s.post(&q(&sid), b"1");
    assert_eq!(s.response(post).unwrap().status, 200);
    assert_eq!(s.response(get).unwrap().body, &b"6"[..]);
    let again = s.get(Method::Get, &q(&sid));
    assert_eq!(s.response(again).unwrap().status, 400);

    let ws = s.websocket("EIO=4&transport=websocket");
    s.send_text(ws, "1");
    assert!(s.closed_sockets.contains(&ws));
}

#[test]
fn c5_14_to_16_engineio_upgrade() {
    let mut s = Suite::new();
    let sid = polling_session(&mut s);
    let ws = s.websocket(&format!("EIO=4&transport=websocket&sid={sid}"));
    s.send_text(ws, "2probe");
    assert_eq!(s.texts(ws), ["3probe"]);
    s.send_text(ws, "5");
    let get = s.get(Method::Get, &q(&sid));
    assert_eq!(s.response(get).unwrap().status, 400);
    let second = s.websocket(&format!("EIO=4&transport=websocket&sid={sid}"));
    assert!(s.closed_sockets.contains(&second));
    assert!(!s.closed_sockets.contains(&ws));
}

fn connect_reply(text: &str, prefix: &str) {
    assert!(text.starts_with(prefix), "{text}");
    let json: serde_json::Value = serde_json::from_str(&text[prefix.len()..]).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["sid"]);
    assert!(json["sid"].is_string());
}

#[test]
fn c5_17_connect_to_main_namespace() {
    let mut s = Suite::new();
    let ws = s.websocket("EIO=4&transport=websocket");
    s.frames(ws);
    s.send_text(ws, "40");
    let texts = s.texts(ws);
    connect_reply(&texts[0], "40");
    assert_eq!(texts[1], r#"42["auth",{}]"#);
}

#[test]
fn c5_18_connect_to_main_namespace_with_payload() {
    let mut s = Suite::new();
    let ws = s.websocket("EIO=4&transport=websocket");
    s.frames(ws);
    s.send_text(ws, r#"40{"token":"123"}"#);
    let texts = s.texts(ws);
    connect_reply(&texts[0], "40");
    assert_eq!(texts[1], r#"42["auth",{"token":"123"}]"#);
}

#[test]
fn c5_19_connect_to_custom_namespace() {
    let mut s = Suite::new();
    let ws = s.websocket("EIO=4&transport=websocket");
    s.frames(ws);
    s.send_text(ws, "40/custom,");
    let texts = s.texts(ws);
    connect_reply(&texts[0], "40/custom,");
    assert_eq!(texts[1], r#"42/custom,["auth",{}]"#);
}

#[test]
fn c5_20_connect_to_custom_namespace_with_payload() {
    let mut s = Suite::new();
    let ws = s.websocket("EIO=4&transport=websocket");
    s.frames(ws);
    s.send_text(ws, r#"40/custom,{"token":"abc"}"#);
    let texts = s.texts(ws);
    connect_reply(&texts[0], "40/custom,");
    assert_eq!(texts[1], r#"42/custom,["auth",{"token":"abc"}]"#);
}

#[test]
fn c5_21_unknown_namespace_is_refused() {
    let mut s = Suite::new();
    let ws = s.websocket("EIO=4&transport=websocket");
    s.frames(ws);
    s.send_text(ws, "40/random");
    assert_eq!(
        s.texts(ws),
        [r#"44/random,{"message":"Invalid namespace"}"#]
    );
    assert!(!s.closed_sockets.contains(&ws));
}

#[test]
fn c5_22_invalid_handshake_closes() {
    let mut s = Suite::new();
    let ws = s.websocket("EIO=4&transport=websocket");
    s.send_text(ws, "4abc");
    assert!(s.closed_sockets.contains(&ws));
}

#[test]
fn c5_23_no_handshake_closes() {
    let mut s = Suite::new();
    let ws = s.websocket("EIO=4&transport=websocket");
    // Answer the pings so that only the connectTimeout can close it.
    for _ in 0..3 {
        s.advance_ms(300);
        s.send_text(ws, "3");
    }
    s.advance_ms(99);
    assert!(!s.closed_sockets.contains(&ws));
    s.advance_ms(1);
    assert!(
        s.closed_sockets.contains(&ws),
        "closed by connectTimeout at 1000 ms"
    );
}

#[test]
fn c5_24_disconnect_from_main_namespace() {
    let mut s = Suite::new();
    let ws = sio_connection(&mut s);
    s.send_text(ws, "41");
    assert!(s.texts(ws).is_empty(), "no reply to DISCONNECT");
    s.advance_ms(300);
    assert_eq!(s.frames.remove(&ws).unwrap(), [Frame::Text("2".into())]);
    assert!(!s.closed_sockets.contains(&ws));
}

#[test]
fn c5_25_connect_then_disconnect_from_custom_namespace() {
    let mut s = Suite::new();
    let ws = sio_connection(&mut s);
    s.send_text(ws, "40/custom");
    assert_eq!(s.texts(ws).len(), 2);
    s.send_text(ws, "41/custom");
    s.send_text(ws, r#"42["message","message to main namespace"]"#);
    assert_eq!(
        s.texts(ws),
        [r#"42["message-back","message to main namespace"]"#]
    );
}

#[test]
fn c5_26_plain_text_event() {
    let mut s = Suite::new();
    let ws = sio_connection(&mut s);
    s.send_text(ws, r#"42["message",1,"2",{"3":[true]}]"#);
    assert_eq!(s.texts(ws), [r#"42["message-back",1,"2",{"3":[true]}]"#]);
}

#[test]
fn c5_27_event_with_binary_attachments() {
    let mut s = Suite::new();
    let ws = sio_connection(&mut s);
    s.send_text(
        ws,
        r#"452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    );
    s.send(ws, Frame::Binary(Bytes::from_static(&[1, 2, 3])));
    s.send(ws, Frame::Binary(Bytes::from_static(&[4, 5, 6])));
    assert_eq!(
        s.texts(ws),
        [
            r#"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            "<01 02 03>",
            "<04 05 06>"
        ]
    );
}

#[test]
fn c5_28_plain_text_event_with_ack() {
    let mut s = Suite::new();
    let ws = sio_connection(&mut s);
    s.send_text(ws, r#"42456["message-with-ack",1,"2",{"3":[false]}]"#);
    assert_eq!(s.texts(ws), [r#"43456[1,"2",{"3":[false]}]"#]);
}

#[test]
fn c5_29_binary_event_with_ack() {
    let mut s = Suite::new();
    let ws = sio_connection(&mut s);
    s.send_text(ws, r#"452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#);
    s.send(ws, Frame::Binary(Bytes::from_static(&[1, 2, 3])));
    s.send(ws, Frame::Binary(Bytes::from_static(&[4, 5, 6])));
    assert_eq!(
        s.texts(ws),
        [
            r#"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            "<01 02 03>",
            "<04 05 06>"
        ]
    );
}

#[test]
fn c5_30_to_32_invalid_formats_close() {
    for bad in [
        "4abc",
        "42{}",
        r#"42abc["message-with-ack",1,"2",{"3":[false]}]"#,
    ] {
        let mut s = Suite::new();
        let ws = sio_connection(&mut s);
        s.send_text(ws, bad);
        assert!(s.closed_sockets.contains(&ws), "{bad}");
    }
}

#[test]
fn packets_for_a_namespace_not_joined_close_the_connection() {
    for bad in [r#"42/custom,["message"]"#, "40", "44{}"] {
        let mut s = Suite::new();
        let ws = sio_connection(&mut s);
        s.send_text(ws, bad);
        assert!(s.closed_sockets.contains(&ws), "{bad}");
    }
}

#[test]
fn binary_messages_over_polling_keep_their_attachments() {
    let mut s = Suite::new();
    let sid = polling_session(&mut s);
    let post = s.post(&q(&sid), b"40");
    assert_eq!(s.response(post).unwrap().status, 200);
    let get = s.get(Method::Get, &q(&sid));
    assert!(s.response(get).unwrap().body.starts_with(b"40{\"sid\""));
    let post = s.post(&q(&sid), b"452-[\"message\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]\x1ebAQID\x1ebBAUG");
    assert_eq!(s.response(post).unwrap().status, 200);
    let get = s.get(Method::Get, &q(&sid));
    assert_eq!(
        s.response(get).unwrap().body,
        &b"452-[\"message-back\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]\x1ebAQID\x1ebBAUG"[..]
    );
}
