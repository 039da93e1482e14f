//! The composed server `Endpoint`: what it adds over a bare connection — rooms and broadcast
//! across clients, recovery across Engine.IO sessions, a v4 client's query as auth, acks with
//! deadlines, volatile packets, and time applied before input — driven over simulated
//! WebSockets on a virtual clock.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::collections::HashMap;
use std::time::{Duration, Instant};

use engineio_proto::Frame;
use engineio_proto::session::endpoint::Input;
use engineio_proto::session::server::{Method, ServerConfig, Transmit};
use engineio_proto::session::{RequestId, SocketId};
use socketio_proto::SessionError;
use socketio_proto::server::BroadcastTarget;
use socketio_proto::server::DisconnectReason;
use socketio_proto::server::RecoveryConfig;
use socketio_proto::server::{Endpoint, EndpointConfig, ServerEvent, SocketRef};
use socketio_proto::{Namespace, Packet};

struct Harness {
    now: Instant,
    server: Endpoint,
    /// Frames each socket received, as text (binary as `<hex>`).
    frames: HashMap<SocketId, Vec<String>>,
    closed: Vec<SocketId>,
    events: Vec<ServerEvent>,
    next_request: u64,
    /// Accept every CONNECT (false: leave them for the test).
    auto_accept: bool,
}

impl Harness {
    fn new(recovery: bool, allow_eio3: bool) -> Harness {
        let config = EndpointConfig {
            engine: ServerConfig {
                ping_interval: Duration::from_millis(300),
                ping_timeout: Duration::from_millis(200),
                allow_eio3,
                ..ServerConfig::default()
            },
            recovery: recovery.then(RecoveryConfig::default),
            ..EndpointConfig::default()
        };
        let mut n = 0;
        let ids = move || {
            n += 1;
            format!("id{n}")
        };
        Harness {
            now: Instant::now(),
            server: Endpoint::new(config, Box::new(ids)),
            frames: HashMap::new(),
            closed: Vec::new(),
            events: Vec::new(),
            next_request: 0,
            auto_accept: true,
        }
    }

    /// A WebSocket client: opens, and returns its socket once the open packet arrived.
    fn connect(&mut self, query: &str) -> SocketId {
        self.next_request += 1;
        let input = Input::Request {
            request: RequestId(self.next_request),
            method: Method::Get,
            query,
            websocket_upgrade: true,
        };
        self.server.handle(self.now, input);
        let Some(Transmit::AcceptWebSocket { socket, .. }) = self.server.poll_transmit() else {
            panic!("not accepted")
        };
        self.server
            .handle(self.now, Input::WebSocketOpen { socket });
        self.drive();
        assert!(self.take(socket)[0].starts_with("0{"), "the open packet");
        socket
    }

    fn send(&mut self, socket: SocketId, text: &str) {
        let frame = Frame::Text(text.to_owned().into());
        self.server
            .handle(self.now, Input::WebSocketFrame { socket, frame });
        self.drive();
    }

    fn drop_socket(&mut self, socket: SocketId) {
        self.server
            .handle(self.now, Input::WebSocketClosed { socket });
        self.drive();
    }

    fn advance_ms(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        self.server.handle_timeout(self.now);
        self.drive();
    }

    fn drive(&mut self) {
        loop {
            if let Some(event) = self.server.poll_event() {
                if let (ServerEvent::ConnectRequest(request), true) = (&event, self.auto_accept) {
                    self.server.accept(self.now, request).unwrap();
                }
                self.events.push(event);
                continue;
            }
            match self.server.poll_transmit() {
                Some(Transmit::Frame { socket, frame }) => {
                    let text = match frame {
                        Frame::Text(t) => t.to_string(),
                        Frame::Binary(b) => format!("<{}>", hex(&b)),
                    };
                    self.frames.entry(socket).or_default().push(text);
                }
                Some(Transmit::CloseSocket { socket }) => self.closed.push(socket),
                Some(other) => panic!("unexpected {other:?}"),
                None => return,
            }
        }
    }

    /// Frames received on `socket`, pings left out.
    fn take(&mut self, socket: SocketId) -> Vec<String> {
        let frames = self.frames.remove(&socket).unwrap_or_default();
        frames.into_iter().filter(|f| f != "2").collect()
    }

    /// Joins `/` on `socket`: the CONNECT reply's (sid, pid).
    fn join_main(&mut self, socket: SocketId) -> (String, String) {
        self.send(socket, "40");
        let reply = self.take(socket).remove(0);
        let json: serde_json::Value = serde_json::from_str(&reply[2..]).unwrap();
        let field = |name: &str| json[name].as_str().unwrap().to_owned();
        (field("sid"), field("pid"))
    }

    /// Broadcasts an event to `/` and returns the offset `socket` got it with.
    fn offset_of_a_broadcast(&mut self, socket: SocketId) -> String {
        let now = self.now;
        let hello = event(&Namespace::main(), "n", "1");
        self.server
            .broadcast(now, hello, &BroadcastTarget::all())
            .unwrap();
        self.drive();
        let got: serde_json::Value = serde_json::from_str(&self.take(socket)[0][2..]).unwrap();
        got[2].as_str().unwrap().to_owned()
    }

    fn connected(&mut self) -> Vec<(SocketRef, bool)> {
        self.events
            .drain(..)
            .filter_map(|e| match e {
                ServerEvent::Connected {
                    socket, recovered, ..
                } => Some((socket, recovered)),
                _ => None,
            })
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn event(namespace: &Namespace, name: &str, arg: &str) -> Packet {
    Packet::event(namespace.clone(), name, &(arg,), None).unwrap()
}

const V5: &str = "EIO=4&transport=websocket";

#[test]
fn a_room_broadcast_reaches_its_members_once_except_the_excluded() {
    let mut h = Harness::new(false, false);
    let sockets: Vec<SocketId> = (0..4).map(|_| h.connect(V5)).collect();
    for &s in &sockets {
        h.send(s, "40");
        assert!(h.take(s)[0].starts_with("40{\"sid\":"));
    }
    let refs: Vec<SocketRef> = h.connected().into_iter().map(|(s, _)| s).collect();
    // 0, 1 and 2 in "a"; 2 and 3 in "b"; to a ∪ b except socket 1.
    for (socket, rooms) in refs.iter().zip([&["a"][..], &["a"], &["a", "b"], &["b"]]) {
        for room in rooms {
            h.server.join(socket, room);
        }
    }
    let target = BroadcastTarget::to(["a", "b"]).except([refs[1].id.clone()]);
    let now = h.now;
    h.server
        .broadcast(now, event(&Namespace::main(), "news", "hi"), &target)
        .unwrap();
    h.drive();
    let got: Vec<Vec<String>> = sockets.iter().map(|&s| h.take(s)).collect();
    let news = vec![r#"42["news","hi"]"#.to_owned()];
    assert_eq!(got, [news.clone(), vec![], news.clone(), news]);
}

#[test]
fn a_binary_broadcast_sends_the_text_then_the_attachment_to_each() {
    let mut h = Harness::new(false, false);
    let (a, b) = (h.connect(V5), h.connect(V5));
    h.send(a, "40");
    h.send(b, "40");
    h.take(a);
    h.take(b);
    let packet = Packet::event(
        Namespace::main(),
        "file",
        &(bytes::Bytes::from_static(b"\x01\x02"),),
        None,
    )
    .unwrap();
    let now = h.now;
    h.server
        .broadcast(now, packet, &BroadcastTarget::all())
        .unwrap();
    h.drive();
    for s in [a, b] {
        assert_eq!(
            h.take(s),
            [r#"451-["file",{"_placeholder":true,"num":0}]"#, "<0102>"]
        );
    }
}

#[test]
fn a_client_that_drops_is_recovered_on_its_next_session_with_what_it_missed() {
    let mut h = Harness::new(true, false);
    let (a, b) = (h.connect(V5), h.connect(V5));
    h.send(a, "40");
    h.send(b, "40");
    let reply = h.take(a).remove(0);
    h.take(b);
    let json: serde_json::Value = serde_json::from_str(&reply[2..]).unwrap();
    let (sid, pid) = (json["sid"].as_str().unwrap(), json["pid"].as_str().unwrap());
    let refs = h.connected();
    let alice = refs[0].0.clone();
    h.server.join(&alice, "room");
    // One event it receives (its offset), then it drops, then one it misses.
    let now = h.now;
    let main = Namespace::main();
    h.server
        .broadcast(now, event(&main, "n", "1"), &BroadcastTarget::all())
        .unwrap();
    h.drive();
    let first = h.take(a).remove(0);
    let offset: serde_json::Value = serde_json::from_str(&first[2..]).unwrap();
    let offset = offset[2].as_str().unwrap().to_owned();
    h.drop_socket(a);
    assert!(h.events.iter().any(|e| matches!(
        e,
        ServerEvent::Disconnected {
            reason: DisconnectReason::Engine(_),
            ..
        }
    )));
    h.server
        .broadcast(now, event(&main, "n", "2"), &BroadcastTarget::to(["room"]))
        .unwrap();
    h.drive();
    h.take(b);

    let again = h.connect(V5);
    h.send(
        again,
        &format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#),
    );
    let got = h.take(again);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with(r#"42["n","2","#),
        "the missed event first: {got:?}"
    );
    assert_eq!(got[1], format!(r#"40{{"sid":"{sid}","pid":"{pid}"}}"#));
    let recovered = h.connected();
    assert_eq!(recovered.len(), 1);
    assert!(recovered[0].1, "reported as recovered");
    // Its rooms came back with it.
    let now = h.now;
    h.server
        .broadcast(now, event(&main, "n", "3"), &BroadcastTarget::to(["room"]))
        .unwrap();
    h.drive();
    assert_eq!(h.take(again).len(), 1);
}

#[test]
fn a_v4_client_joins_main_by_itself_and_its_query_is_the_auth() {
    let mut h = Harness::new(false, true);
    h.auto_accept = false;
    let s = h.connect("EIO=3&transport=websocket");
    let requests: Vec<_> = h
        .events
        .drain(..)
        .filter_map(|e| match e {
            ServerEvent::ConnectRequest(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 1, "the server joins `/` for a v4 client");
    h.server.accept(h.now, &requests[0]).unwrap();
    h.drive();
    assert_eq!(h.take(s), ["40"]);
    h.send(s, "40/admin?token=abc&x=a%20b,");
    let Some(ServerEvent::ConnectRequest(admin)) = h.events.pop() else {
        panic!("{:?}", h.events)
    };
    assert_eq!(admin.namespace.as_str(), "/admin");
    assert_eq!(admin.auth.as_deref(), Some(r#"{"token":"abc","x":"a b"}"#));
    h.server.refuse(&admin, "not allowed", None::<&()>).unwrap();
    // A request is answered once.
    assert_eq!(
        h.server.accept(h.now, &admin),
        Err(SessionError::NotConnected)
    );
    h.drive();
    assert_eq!(h.take(s), [r#"44/admin,"not allowed""#]);
}

#[test]
fn an_unanswered_server_ack_times_out_and_a_late_one_is_ignored() {
    let mut h = Harness::new(false, false);
    let s = h.connect(V5);
    h.send(s, "40");
    h.take(s);
    let socket = h.connected().remove(0).0;
    let now = h.now;
    let ack = h
        .server
        .emit_with_ack(
            now,
            &socket,
            event(&socket.namespace, "q", "?"),
            Duration::from_millis(100),
        )
        .unwrap();
    h.drive();
    assert_eq!(h.take(s), [format!(r#"42{}["q","?"]"#, ack.get())]);
    h.advance_ms(150);
    assert!(h.events.iter().any(|e| matches!(e,
        ServerEvent::AckTimeout { ack_id, .. } if *ack_id == ack)));
    h.events.clear();
    h.send(s, &format!(r#"43{}["late"]"#, ack.get()));
    assert!(h.events.is_empty(), "{:?}", h.events);
}

#[test]
fn a_volatile_broadcast_skips_nobody_writable_and_is_not_stored_for_recovery() {
    let mut h = Harness::new(true, false);
    let s = h.connect(V5);
    h.send(s, "40");
    h.take(s);
    let now = h.now;
    h.server
        .broadcast(
            now,
            event(&Namespace::main(), "tick", "1"),
            &BroadcastTarget::all().volatile(),
        )
        .unwrap();
    h.drive();
    // A WebSocket is always writable: delivered, and without a recovery offset.
    assert_eq!(h.take(s), [r#"42["tick","1"]"#]);
}

/// Time before input: a frame handed in after the session's ping timeout, by a driver that
/// overslept the pong deadline, finds the session closed and reaches no application.
#[test]
fn a_frame_after_the_ping_timeout_reaches_nobody() {
    let mut h = Harness::new(false, false);
    let s = h.connect(V5);
    h.send(s, "40");
    h.take(s);
    h.events.clear();
    // The ping goes out at 300 ms and is not answered; the driver then oversleeps.
    h.advance_ms(300);
    assert_eq!(h.frames.remove(&s).unwrap_or_default(), ["2"]);
    h.now += Duration::from_millis(300);
    h.send(s, r#"42["late"]"#);
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, ServerEvent::Event { .. })),
        "{:?}",
        h.events
    );
    assert!(h.events.iter().any(|e| matches!(
        e,
        ServerEvent::Disconnected {
            reason: DisconnectReason::Engine(_),
            ..
        }
    )));
    assert!(h.closed.contains(&s));
    assert!(h.server.local().engine().is_empty());
}

#[test]
fn commands_on_a_socket_that_left_fail_cleanly() {
    let mut h = Harness::new(false, false);
    let s = h.connect(V5);
    h.send(s, "40");
    h.take(s);
    let socket = h.connected().remove(0).0;
    h.drop_socket(s);
    let now = h.now;
    assert_eq!(h.server.disconnect(&socket), Err(SessionError::Closed));
    assert!(
        h.server
            .emit_with_ack(
                now,
                &socket,
                event(&socket.namespace, "x", "y"),
                Duration::from_secs(1)
            )
            .is_err()
    );
    h.server
        .emit(now, &socket, event(&socket.namespace, "x", "y"))
        .unwrap();
    h.drive();
    assert!(h.take(s).is_empty());
}

#[test]
fn the_request_that_opened_a_session_is_its_sockets_handshake() {
    use socketio_proto::server::Handshake;
    let describe = |url: &str| {
        let headers = [("X-Client", &b"one"[..])];
        Handshake::new(url, "127.0.0.1", false, 1_000, headers)
    };
    let mut h = Harness::new(false, false);
    // A WebSocket-only client: its session opens with the socket, which brings the request.
    h.next_request += 1;
    let input = Input::Request {
        request: RequestId(h.next_request),
        method: Method::Get,
        query: V5,
        websocket_upgrade: true,
    };
    // The upgrade request opens nothing yet: its description is dropped.
    h.server
        .handle_handshake(h.now, input, describe("/dropped"));
    let Some(Transmit::AcceptWebSocket { socket, .. }) = h.server.poll_transmit() else {
        panic!("not accepted")
    };
    let url = format!("/socket.io/?{V5}");
    h.server
        .handle_handshake(h.now, Input::WebSocketOpen { socket }, describe(&url));
    h.drive();
    h.take(socket);
    h.send(socket, "40");
    let (alice, _) = h.connected().remove(0);
    let handshake = h.server.handshake(alice.session).unwrap();
    assert_eq!(handshake.url(), url);
    assert_eq!(handshake.header("x-client"), Some("one"));
    assert_eq!(
        handshake.query().collect::<Vec<_>>(),
        [
            ("EIO".into(), "4".into()),
            ("transport".into(), "websocket".into())
        ]
    );

    // A polling client: its handshake GET opens the session.
    h.next_request += 1;
    let input = Input::Request {
        request: RequestId(h.next_request),
        method: Method::Get,
        query: "EIO=4&transport=polling",
        websocket_upgrade: false,
    };
    h.server
        .handle_handshake(h.now, input, describe("/polling"));
    let Some(Transmit::Response { response, .. }) = h.server.poll_transmit() else {
        panic!("no open packet")
    };
    let open: serde_json::Value = serde_json::from_slice(&response.body[1..]).unwrap();
    let session = h
        .server
        .local()
        .engine()
        .find(open["sid"].as_str().unwrap())
        .unwrap();
    assert_eq!(h.server.handshake(session).unwrap().url(), "/polling");
    // A session opened without a description has none.
    let plain = h.connect(V5);
    h.send(plain, "40");
    let (bob, _) = h.connected().remove(0);
    assert_eq!(h.server.handshake(bob.session), None);
}

#[test]
fn socket_data_is_kept_and_recovered_with_the_session() {
    let mut h = Harness::new(true, false);
    let a = h.connect(V5);
    let (_, pid) = h.join_main(a);
    let (alice, _) = h.connected().remove(0);
    assert_eq!(h.server.data(&alice), None, "the reference's `{{}}`");
    let data = serde_json::json!({"user": "alice", "n": 1});
    assert!(h.server.set_data(&alice, data.clone()));
    assert_eq!(h.server.data(&alice), Some(&data));
    let offset = h.offset_of_a_broadcast(a);
    h.drop_socket(a);
    assert!(!h.server.set_data(&alice, serde_json::json!(1)), "gone");

    let again = h.connect(V5);
    h.send(
        again,
        &format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#),
    );
    let (back, recovered) = h.connected().remove(0);
    assert!(recovered);
    assert_eq!(back.id, alice.id);
    assert_eq!(h.server.data(&back), Some(&data));
}

#[test]
fn a_session_kept_by_one_endpoint_is_recovered_on_another() {
    use socketio_proto::server::{Local, MemoryAdapter, RecoveryRequest};
    let (mut first, mut second) = (Harness::new(true, false), Harness::new(true, false));
    let a = first.connect(V5);
    let (sid, pid) = first.join_main(a);
    let (alice, _) = first.connected().remove(0);
    first.server.join(&alice, "room");
    first.server.set_data(&alice, serde_json::json!({"n": 1}));
    let offset = first.offset_of_a_broadcast(a);
    first.drop_socket(a);
    let (now, main) = (first.now, Namespace::main());
    first
        .server
        .broadcast(now, event(&main, "n", "2"), &BroadcastTarget::to(["room"]))
        .unwrap();
    first.drive();

    // The client comes back to the second endpoint, which asks the first.
    second.auto_accept = false;
    let b = second.connect(V5);
    second.send(b, &format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#));
    let Some(ServerEvent::ConnectRequest(request)) = second.events.pop() else {
        panic!("a CONNECT")
    };
    let wanted = RecoveryRequest {
        pid: pid.clone(),
        offset,
    };
    // What an adapter between the two does (the shards of one server, through the seam).
    let take = |first: &mut Harness| {
        let take =
            |_: &mut MemoryAdapter, local: &mut Local| local.take_session(now, &main, &wanted);
        first.server.with_adapter_mut(now, take).unwrap()
    };
    let recovered = take(&mut first).unwrap();
    assert!(take(&mut first).is_none(), "taken once");
    let connect =
        |_: &mut MemoryAdapter, local: &mut Local| local.connect(&request, Some(recovered));
    second
        .server
        .with_adapter_mut(now, connect)
        .unwrap()
        .unwrap();
    second.drive();
    let got = second.take(b);
    assert!(
        got[0].starts_with(r#"42["n","2","#),
        "the missed event first: {got:?}"
    );
    assert_eq!(got[1], format!(r#"40{{"sid":"{sid}","pid":"{pid}"}}"#));
    let (back, recovered) = second.connected().remove(0);
    assert!(recovered);
    assert_eq!(
        second.server.data(&back),
        Some(&serde_json::json!({"n": 1}))
    );
    assert_eq!(second.server.rooms_of(&back), ["room"]);
}
