//! The official Socket.IO v5 test suite (PROTOCOL.md C.5), every case, against our Engine.IO
//! server sessions and Socket.IO connections, driven on a virtual clock. The application is the
//! suite's: `/` and `/custom`, an `auth` event on connect, `message` echoed as `message-back`,
//! `message-with-ack` acknowledged with its arguments, connectTimeout 1000 ms.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::session::server::{
    self as eio, Connection as EioConnection, Method, Route, ServerConfig as EioConfig,
    ServerSession,
};
use engineio_proto::session::{RequestId, SocketId};
use engineio_proto::{ErrorResponse, Frame};
use serde_json::value::RawValue;
use socketio_proto::session::server::{Connection, Event, Output, ServerConfig};
use socketio_proto::{Packet, PacketType, ProtocolVersion, Utf8Bytes};

struct Client {
    engine: ServerSession,
    sio: Connection,
}

struct Suite {
    now: Instant,
    clients: HashMap<String, Client>,
    owner: HashMap<SocketId, String>,
    responses: HashMap<RequestId, eio::HttpResponse>,
    frames: HashMap<SocketId, Vec<Frame>>,
    closed_sockets: HashSet<SocketId>,
    next: u64,
}

fn eio_config() -> EioConfig {
    EioConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..EioConfig::default()
    }
}

impl Suite {
    fn new() -> Suite {
        Suite {
            now: Instant::now(),
            clients: HashMap::new(),
            owner: HashMap::new(),
            responses: HashMap::new(),
            frames: HashMap::new(),
            closed_sockets: HashSet::new(),
            next: 0,
        }
    }

    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn open(&mut self, engine: ServerSession) {
        let sid = engine.sid().to_owned();
        let sio = Connection::new(
            self.now,
            ProtocolVersion::V5,
            ServerConfig {
                connect_timeout: Duration::from_millis(1000),
                ..ServerConfig::default()
            },
        );
        self.clients.insert(sid, Client { engine, sio });
    }

    fn get(&mut self, method: Method, query: &str) -> RequestId {
        let request = RequestId(self.id());
        match eio::route(&eio_config(), method, query, false) {
            Route::Refuse(code) => {
                let r = ErrorResponse::new(code);
                self.responses.insert(
                    request,
                    eio::HttpResponse {
                        status: r.status(),
                        content_type: None,
                        body: r.body().into(),
                    },
                );
            }
            Route::Handshake(h) => {
                let sid = format!("eio{}", self.next);
                let engine = ServerSession::new(
                    self.now,
                    sid,
                    &h,
                    eio_config(),
                    EioConnection::Polling(request),
                );
                self.open(engine);
            }
            Route::Session { sid, .. } => match self.clients.get_mut(&*sid) {
                Some(c) if method == Method::Post => {
                    if c.engine.handle_post(self.now, request) {
                        c.engine
                            .handle_post_body(self.now, request, None, Bytes::new());
                    }
                }
                Some(c) => c.engine.handle_get(self.now, request),
                None => {
                    let r = ErrorResponse::new(engineio_proto::ErrorCode::UnknownSid);
                    self.responses.insert(
                        request,
                        eio::HttpResponse {
                            status: 400,
                            content_type: None,
                            body: r.body().into(),
                        },
                    );
                }
            },
        }
        self.drive();
        request
    }

    fn post(&mut self, query: &str, body: &'static [u8]) -> RequestId {
        let request = RequestId(self.id());
        if let Route::Session { sid, .. } = eio::route(&eio_config(), Method::Post, query, false) {
            match self.clients.get_mut(&*sid) {
                Some(c) => {
                    if c.engine.handle_post(self.now, request) {
                        c.engine.handle_post_body(
                            self.now,
                            request,
                            None,
                            Bytes::from_static(body),
                        );
                    }
                }
                None => {
                    self.responses.insert(
                        request,
                        eio::HttpResponse {
                            status: 400,
                            content_type: None,
                            body: Bytes::new(),
                        },
                    );
                }
            }
        }
        self.drive();
        request
    }

    fn response(&mut self, request: RequestId) -> Option<eio::HttpResponse> {
        self.responses.remove(&request)
    }

    fn websocket(&mut self, query: &str) -> SocketId {
        let socket = SocketId(self.id());
        match eio::route(&eio_config(), Method::Get, query, true) {
            Route::Refuse(_) => {
                self.closed_sockets.insert(socket);
            }
            Route::Handshake(h) => {
                let sid = format!("eio{}", self.next);
                let engine = ServerSession::new(
                    self.now,
                    sid.clone(),
                    &h,
                    eio_config(),
                    EioConnection::WebSocket(socket),
                );
                self.owner.insert(socket, sid);
                self.open(engine);
            }
            Route::Session { sid, query } => match self.clients.get_mut(&*sid) {
                Some(c) => {
                    self.owner.insert(socket, sid.to_string());
                    c.engine.handle_websocket_open(self.now, socket, query.b64);
                }
                None => {
                    self.closed_sockets.insert(socket);
                }
            },
        }
        self.drive();
        socket
    }

    fn send(&mut self, socket: SocketId, frame: Frame) {
        if let Some(c) = self
            .owner
            .get(&socket)
            .and_then(|sid| self.clients.get_mut(sid))
        {
            c.engine.handle_websocket_frame(self.now, socket, frame);
        }
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
        loop {
            let next = self
                .clients
                .values()
                .flat_map(|c| [c.engine.poll_timeout(), c.sio.poll_timeout()])
                .flatten()
                .min();
            match next {
                Some(at) if at <= end => {
                    self.now = self.now.max(at);
                    for c in self.clients.values_mut() {
                        c.engine.handle_timeout(self.now);
                        c.sio.handle_timeout(self.now);
                    }
                    self.drive();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// Runs every client until nothing moves: the suite's application plus the glue.
    fn drive(&mut self) {
        let sids: Vec<String> = self.clients.keys().cloned().collect();
        for sid in sids {
            let mut gone = false;
            let Some(c) = self.clients.get_mut(&sid) else {
                continue;
            };
            loop {
                let mut progress = false;
                while let Some(event) = c.engine.poll_event() {
                    progress = true;
                    match event {
                        eio::Event::Message(data) => c.sio.handle_message(self.now, data),
                        eio::Event::Closed { reason, .. } => {
                            c.sio.handle_engine_closed(reason);
                            gone = true;
                        }
                        _ => {}
                    }
                }
                while let Some(event) = c.sio.poll_event() {
                    progress = true;
                    suite_app(self.now, &mut c.sio, event);
                }
                while let Some(output) = c.sio.poll_transmit() {
                    progress = true;
                    match output {
                        Output::Message(data) => {
                            let _ = c.engine.send(data);
                        }
                        Output::CloseEngine => c.engine.close(self.now),
                        _ => {}
                    }
                }
                while let Some(t) = c.engine.poll_transmit() {
                    progress = true;
                    match t {
                        eio::Transmit::Response { request, response } => {
                            self.responses.insert(request, response);
                        }
                        eio::Transmit::Frame { socket, frame } => {
                            self.frames.entry(socket).or_default().push(frame)
                        }
                        eio::Transmit::CloseSocket { socket } => {
                            self.closed_sockets.insert(socket);
                        }
                        _ => {}
                    }
                }
                if !progress {
                    break;
                }
            }
            if gone {
                self.clients.remove(&sid);
            }
        }
    }
}

/// The conformance suite's server application.
fn suite_app(now: Instant, sio: &mut Connection, event: Event) {
    match event {
        Event::ConnectRequest {
            namespace, auth, ..
        } => {
            if !matches!(namespace.as_str(), "/" | "/custom") {
                sio.refuse_invalid_namespace(&namespace).unwrap();
                return;
            }
            let id = format!("sock{}", namespace.as_str().len());
            sio.accept(&namespace, &id, None).unwrap();
            let auth = auth.unwrap_or_else(|| Utf8Bytes::from_static("{}"));
            let json = format!("[\"auth\",{}]", auth.as_str());
            let packet = Packet::from_parts(
                PacketType::Event,
                namespace,
                None,
                Some(json.into()),
                vec![],
            )
            .unwrap();
            sio.emit(now, packet, None).unwrap();
        }
        Event::Event(packet) => {
            let json = packet.raw_json().unwrap().to_string();
            let args: Vec<&RawValue> = serde_json::from_str(&json).unwrap();
            let rest: Vec<&str> = args[1..].iter().map(|a| a.get()).collect();
            match packet
                .event_name()
                .and_then(|n| n.as_str().map(str::to_owned))
                .as_deref()
            {
                Some("message") => {
                    let json = format!(
                        "[\"message-back\"{}{}]",
                        if rest.is_empty() { "" } else { "," },
                        rest.join(",")
                    );
                    let (_, ns, _, _, attachments) = packet.into_parts();
                    let back = Packet::from_parts(
                        PacketType::Event,
                        ns,
                        None,
                        Some(json.into()),
                        attachments,
                    )
                    .unwrap();
                    sio.emit(now, back, None).unwrap();
                }
                Some("message-with-ack") => {
                    let json = format!("[{}]", rest.join(","));
                    let ack_id = packet.ack_id().unwrap();
                    let (_, ns, _, _, attachments) = packet.into_parts();
                    sio.ack(
                        Packet::from_parts(
                            PacketType::Ack,
                            ns,
                            Some(ack_id),
                            Some(json.into()),
                            attachments,
                        )
                        .unwrap(),
                    )
                    .unwrap();
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
