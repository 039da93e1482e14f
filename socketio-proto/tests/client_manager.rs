//! The client `Manager` against a scripted Socket.IO server on a virtual clock.
//!
//! The Engine.IO layer runs over a simulated WebSocket (no latency): the harness answers the
//! manager's `OpenWebSocket` with the handshake, strips the Engine.IO `4` from each message the
//! client sends, and feeds back what a tiny scripted Socket.IO server answers. Times in the
//! assertions are milliseconds since the start.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::session::SocketId;
use engineio_proto::session::client::ClientConfig;
use engineio_proto::{Frame, Transport};
use socketio_proto::client::{
    AckRef, Auth, Backoff, ConnectError, EmitOptions, Manager, ManagerConfig, ManagerEvent,
    SocketOptions, Transmit,
};
use socketio_proto::{AckId, Packet, ProtocolVersion, SessionError, Utf8Bytes};

// ---------------------------------------------------------------------------------------------
// Backoff

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

#[test]
fn backoff_defaults_table() {
    // (attempt index from 0, random draw, expected delay): min 1000, factor 2, jitter 0.5, max 5000.
    let table: &[(u32, f64, u64)] = &[
        (0, 0.0, 1000),  // floor(0) = 0: even, deviation 0
        (0, 0.05, 975),  // deviation floor(25) = 25, floor(0.5) = 0: even, minus
        (0, 0.15, 1075), // deviation 75, floor(1.5) = 1: odd, plus
        (0, 0.5, 1250),  // deviation 250, floor(5) = 5: odd, plus
        (0, 0.99, 1495), // deviation 495, floor(9.9) = 9: odd, plus
        (0, 0.45, 775),  // deviation 225, floor(4.5) = 4: even, minus
        (1, 0.0, 2000),
        (1, 0.05, 1950),
        (1, 0.99, 2990),
        (2, 0.05, 3900),
        (2, 0.15, 4300),
        (2, 0.99, 5000), // 4000 + 1980 = 5980, capped after jitter
        (3, 0.45, 5000), // 8000 - 1800 = 6200 ⇒ 5000 (capping first would give 3875)
        (3, 0.0, 5000),
        (4, 0.99, 5000),
        (30, 0.5, 5000), // 1000 * 2^30 overflows no integer: f64 math, then the cap
    ];
    let config = ManagerConfig::default();
    for &(attempt, r, expected) in table {
        let mut backoff = config.backoff();
        for _ in 0..attempt {
            backoff.duration(0.0);
        }
        assert_eq!(ms(backoff.duration(r)), expected, "attempt {attempt} r {r}");
        assert_eq!(backoff.attempts(), attempt + 1);
    }
}

#[test]
fn backoff_default_ranges() {
    let ranges = [
        (500, 1500),
        (1000, 3000),
        (2000, 5000),
        (4000, 5000),
        (5000, 5000),
    ];
    for (attempt, (lo, hi)) in ranges.iter().enumerate() {
        for i in 0..1000 {
            let r = f64::from(i) / 1000.0;
            let mut backoff = ManagerConfig::default().backoff();
            for _ in 0..attempt {
                backoff.duration(0.0);
            }
            let d = ms(backoff.duration(r));
            assert!(
                (*lo..=*hi).contains(&d),
                "attempt {} r {r}: {d}",
                attempt + 1
            );
        }
    }
}

#[test]
fn backoff_zero_delay_becomes_1000_and_zero_cap_5000() {
    let config = ManagerConfig {
        reconnection_delay: Duration::ZERO,
        reconnection_delay_max: Duration::ZERO,
        ..ManagerConfig::default()
    };
    let mut backoff = config.backoff();
    assert_eq!(ms(backoff.duration(0.0)), 1000);
    assert_eq!(ms(backoff.duration(0.0)), 2000);
    assert_eq!(ms(backoff.duration(0.0)), 4000);
    assert_eq!(ms(backoff.duration(0.0)), 5000);
}

#[test]
fn backoff_jitter_outside_unit_interval_is_off_and_reset_starts_over() {
    for factor in [0.0, -0.5, 1.5, f64::NAN] {
        let config = ManagerConfig {
            randomization_factor: factor,
            ..ManagerConfig::default()
        };
        let mut backoff = config.backoff();
        assert_eq!(ms(backoff.duration(0.99)), 1000, "factor {factor}");
        assert_eq!(ms(backoff.duration(0.99)), 2000);
        backoff.reset();
        assert_eq!(backoff.attempts(), 0);
        assert_eq!(ms(backoff.duration(0.99)), 1000);
    }
    // Jitter 1: the deviation can reach the whole delay.
    let mut full = Backoff::new(Duration::from_secs(1), Duration::from_secs(5), 1.0);
    assert_eq!(ms(full.duration(0.05)), 950);
}

#[test]
fn backoff_truncates_like_js_int32() {
    // The cap is 3e9 ms; `3e9 | 0` is negative in JavaScript, which setTimeout runs at once.
    let mut backoff = Backoff::new(
        Duration::from_secs(1),
        Duration::from_millis(3_000_000_000),
        0.0,
    );
    for _ in 0..21 {
        backoff.duration(0.0);
    }
    assert_eq!(ms(backoff.duration(0.0)), 2_097_152_000); // 1000 * 2^21
    assert_eq!(ms(backoff.duration(0.0)), 0); // min(4.19e9, 3e9) | 0 < 0
    // backo2's own defaults for zero inputs: 100 ms, capped at 10 s.
    let mut raw = Backoff::new(Duration::ZERO, Duration::ZERO, 0.0);
    assert_eq!(ms(raw.duration(0.0)), 100);
    for _ in 0..10 {
        raw.duration(0.0);
    }
    assert_eq!(ms(raw.duration(0.0)), 10_000);
}

// ---------------------------------------------------------------------------------------------
// Harness

type Responder = Box<dyn FnMut(&str) -> Vec<String>>;

struct Harness {
    start: Instant,
    now: Instant,
    manager: Manager,
    version: ProtocolVersion,
    /// The server accepts WebSockets.
    server_up: bool,
    /// The server answers the handshake (false: it accepts the socket and stays silent).
    handshake: bool,
    socket: Option<SocketId>,
    engine_sid_seq: u32,
    /// What the scripted server answers to each Socket.IO text message.
    responder: Responder,
    /// Socket.IO messages the client sent, with the time (text; binary as `<bin:len>`).
    sent: Vec<(u64, String)>,
    /// WebSocket opening attempts.
    dials: Vec<u64>,
    closes: Vec<u64>,
    events: Vec<(u64, String)>,
    raw_events: Vec<ManagerEvent>,
}

/// The default server: accepts every CONNECT with sid `s-<nsp>`.
fn accept_all() -> Responder {
    Box::new(|msg: &str| {
        if let Some(rest) = msg.strip_prefix('0') {
            let nsp = match rest.find(',') {
                Some(i) if rest.starts_with('/') => &rest[..=i],
                _ => "",
            };
            let name = if nsp.is_empty() {
                "/"
            } else {
                &nsp[..nsp.len() - 1]
            };
            return vec![format!("0{nsp}{{\"sid\":\"s-{name}\"}}")];
        }
        Vec::new()
    })
}

fn silent() -> Responder {
    Box::new(|_: &str| Vec::new())
}

/// Draws handed out in order, then 0.5.
fn draws(values: &[f64]) -> Box<dyn FnMut() -> f64 + Send> {
    let mut q: VecDeque<f64> = values.iter().copied().collect();
    Box::new(move || q.pop_front().unwrap_or(0.5))
}

fn describe(e: &ManagerEvent) -> String {
    match e {
        ManagerEvent::Open => "open".into(),
        ManagerEvent::Connected {
            namespace,
            sid,
            recovered,
        } => format!("connected {namespace:?} {sid} recovered={recovered}"),
        ManagerEvent::ConnectError { namespace, error } => {
            format!("connect_error {namespace:?} {error:?}")
        }
        ManagerEvent::Event { namespace, packet } => format!(
            "event {namespace:?} {} id={:?}",
            packet.raw_json().map_or("", Utf8Bytes::as_str),
            packet.ack_id().map(AckId::get)
        ),
        ManagerEvent::Ack {
            namespace,
            ack,
            packet,
        } => format!(
            "ack {namespace:?} {ack:?} {}",
            packet.raw_json().map_or("", Utf8Bytes::as_str)
        ),
        ManagerEvent::AckFailed {
            namespace,
            ack,
            error,
        } => format!("ack_failed {namespace:?} {ack:?} {error}"),
        ManagerEvent::Disconnected { namespace, reason } => {
            format!("disconnected {namespace:?} {reason}")
        }
        ManagerEvent::ReconnectAttempt(n) => format!("reconnect_attempt {n}"),
        ManagerEvent::ReconnectError(e) => format!("reconnect_error {e}"),
        ManagerEvent::Reconnected(n) => format!("reconnect {n}"),
        ManagerEvent::ReconnectFailed => "reconnect_failed".into(),
    }
}

impl Harness {
    fn new(config: ManagerConfig, random: Box<dyn FnMut() -> f64 + Send>) -> Harness {
        Harness::build(config, random, true)
    }

    fn build(
        config: ManagerConfig,
        random: Box<dyn FnMut() -> f64 + Send>,
        server_up: bool,
    ) -> Harness {
        let start = Instant::now();
        let version = config.version;
        let config = ManagerConfig {
            engine: ClientConfig {
                transport: Transport::Websocket,
                ..ClientConfig::default()
            },
            ..config
        };
        let mut h = Harness {
            start,
            now: start,
            manager: Manager::new(start, config, random),
            version,
            server_up,
            handshake: true,
            socket: None,
            engine_sid_seq: 0,
            responder: accept_all(),
            sent: Vec::new(),
            dials: Vec::new(),
            closes: Vec::new(),
            events: Vec::new(),
            raw_events: Vec::new(),
        };
        h.drain();
        h
    }

    fn v5() -> Harness {
        Harness::new(ManagerConfig::default(), draws(&[]))
    }

    fn t(&self) -> u64 {
        ms(self.now - self.start)
    }

    fn deliver(&mut self, msg: &str) {
        if let Some(socket) = self.socket {
            let frame = Frame::Text(Utf8Bytes::from(format!("4{msg}")));
            self.manager.handle_websocket_frame(self.now, socket, frame);
        }
    }

    /// Server → client Socket.IO messages.
    fn push(&mut self, msgs: &[&str]) {
        for m in msgs {
            self.deliver(m);
        }
        self.drain();
    }

    fn drain(&mut self) {
        loop {
            let mut progress = false;
            while let Some(t) = self.manager.poll_transmit() {
                progress = true;
                self.on_transmit(t);
            }
            while let Some(e) = self.manager.poll_event() {
                progress = true;
                self.events.push((self.t(), describe(&e)));
                self.raw_events.push(e);
            }
            if !progress {
                break;
            }
        }
    }

    fn on_transmit(&mut self, t: Transmit) {
        let now = self.now;
        match t {
            Transmit::OpenWebSocket { socket, query } => {
                let eio = match self.version {
                    ProtocolVersion::V5 => "EIO=4",
                    ProtocolVersion::V4 => "EIO=3",
                };
                assert!(query.starts_with(eio), "{query}");
                self.dials.push(self.t());
                if !self.server_up {
                    self.manager.handle_websocket_closed(now, socket);
                    return;
                }
                self.socket = Some(socket);
                self.manager.handle_websocket_open(now, socket);
                if self.handshake {
                    self.engine_sid_seq += 1;
                    let open = format!(
                        "0{{\"sid\":\"e{}\",\"upgrades\":[],\"pingInterval\":10000000,\"pingTimeout\":10000000,\"maxPayload\":1000000}}",
                        self.engine_sid_seq
                    );
                    self.manager.handle_websocket_frame(
                        now,
                        socket,
                        Frame::Text(Utf8Bytes::from(open)),
                    );
                    if self.version == ProtocolVersion::V4 {
                        // The server joins `/` by itself.
                        self.deliver("0");
                    }
                }
            }
            Transmit::Frame { socket, frame } => {
                assert_eq!(Some(socket), self.socket, "frame on a dead socket");
                let msg = match frame {
                    Frame::Text(text) => {
                        let text = text.as_str();
                        match text.strip_prefix('4') {
                            Some(msg) => msg.to_owned(),
                            None => return, // Engine.IO control packet
                        }
                    }
                    Frame::Binary(b) => format!("<bin:{}>", b.len()),
                };
                self.sent.push((self.t(), msg.clone()));
                for reply in (self.responder)(&msg) {
                    self.deliver(&reply);
                }
            }
            Transmit::CloseSocket { socket } => {
                if self.socket == Some(socket) {
                    self.socket = None;
                    self.closes.push(self.t());
                }
            }
            other => panic!("unexpected transmit {other:?}"),
        }
    }

    /// Runs the clock to `t` ms, firing every timer on the way at its exact instant.
    fn advance_to(&mut self, t: u64) {
        let target = self.start + Duration::from_millis(t);
        while let Some(at) = self.manager.poll_timeout() {
            if at > target {
                break;
            }
            self.now = self.now.max(at);
            self.manager.handle_timeout(self.now);
            self.drain();
        }
        self.now = target;
    }

    /// The server process dies: the socket drops and nothing answers any more.
    fn kill_server(&mut self) {
        self.server_up = false;
        if let Some(socket) = self.socket.take() {
            self.manager.handle_websocket_closed(self.now, socket);
        }
        self.drain();
    }

    fn connect(&mut self, nsp: &str, options: SocketOptions) {
        self.manager.connect(self.now, nsp, options).unwrap();
        self.drain();
    }

    fn emit(&mut self, nsp: &str, event: &str, options: EmitOptions) -> Option<AckRef> {
        let r = self
            .manager
            .emit(self.now, nsp, event, &(), options)
            .unwrap();
        self.drain();
        r
    }

    fn sent(&self) -> Vec<(u64, &str)> {
        self.sent.iter().map(|(t, s)| (*t, s.as_str())).collect()
    }

    fn sent_texts(&self) -> Vec<&str> {
        self.sent.iter().map(|(_, s)| s.as_str()).collect()
    }

    fn events(&self) -> Vec<(u64, &str)> {
        self.events.iter().map(|(t, s)| (*t, s.as_str())).collect()
    }

    fn take_events(&mut self) -> Vec<(u64, String)> {
        self.raw_events.clear();
        std::mem::take(&mut self.events)
    }
}

fn with_ack(timeout: Option<u64>) -> EmitOptions {
    EmitOptions {
        ack: true,
        timeout: timeout.map(Duration::from_millis),
        volatile: false,
    }
}

fn auth(json: &str) -> SocketOptions {
    SocketOptions {
        auth: Some(Auth::from_json(json).unwrap()),
        ..SocketOptions::default()
    }
}

// ---------------------------------------------------------------------------------------------
// CONNECT, buffers

#[test]
fn connect_bytes_match_the_js_client() {
    let mut h = Harness::v5();
    h.connect("/", SocketOptions::default());
    h.connect("/admin", auth(r#"{"token":"123"}"#));
    h.connect("/chat", SocketOptions::default());
    assert_eq!(
        h.sent_texts(),
        ["0", r#"0/admin,{"token":"123"}"#, "0/chat,"]
    );
    assert_eq!(
        h.events(),
        [
            (0, "open"),
            (0, r#"connected "/" s-/ recovered=false"#),
            (0, r#"connected "/admin" s-/admin recovered=false"#),
            (0, r#"connected "/chat" s-/chat recovered=false"#),
        ]
    );
    assert!(h.manager.is_connected("/admin"));
    assert_eq!(h.manager.sid("/chat"), Some("s-/chat"));

    // Auth from a serde value: compact, in field order; main namespace not written.
    #[derive(serde::Serialize)]
    struct Token<'a> {
        token: &'a str,
        n: u32,
    }
    let mut h = Harness::v5();
    let options = SocketOptions {
        auth: Some(Auth::new(&Token { token: "123", n: 1 }).unwrap()),
        ..SocketOptions::default()
    };
    h.connect("/", options);
    h.emit("/", "ack", with_ack(None));
    h.emit("/", "hello", EmitOptions::default());
    h.manager
        .emit(h.now, "/", "two", &(1, "b"), EmitOptions::default())
        .unwrap();
    h.drain();
    assert_eq!(
        h.sent_texts(),
        [
            r#"0{"token":"123","n":1}"#,
            r#"20["ack"]"#,
            r#"2["hello"]"#,
            r#"2["two",1,"b"]"#
        ]
    );
    assert!(Auth::from_json("[1]").is_err());
    assert!(Auth::new(&"x").is_err());
    assert!(
        h.manager
            .emit(h.now, "/", "disconnect", &(), EmitOptions::default())
            .is_err()
    );
    assert!(
        h.manager
            .emit(h.now, "/nope", "x", &(), EmitOptions::default())
            .is_err()
    );
}

#[test]
fn binary_emit_sends_attachments_after_the_text() {
    let mut h = Harness::v5();
    h.connect("/", SocketOptions::default());
    let file = Bytes::from_static(b"\x89PNG");
    h.manager
        .emit(h.now, "/", "up", &("a.png", file), EmitOptions::default())
        .unwrap();
    h.drain();
    assert_eq!(
        h.sent_texts(),
        [
            "0",
            r#"51-["up","a.png",{"_placeholder":true,"num":0}]"#,
            "<bin:4>"
        ]
    );
}

#[test]
fn send_buffer_is_flushed_in_order_after_the_connect_reply() {
    let mut h = Harness::v5();
    h.responder = silent();
    h.connect("/", SocketOptions::default());
    h.emit("/", "a", EmitOptions::default());
    let id = h.emit("/", "b", with_ack(None));
    assert_eq!(id, Some(AckRef::Id(AckId::new(0).unwrap())));
    // Volatile emits are not dropped while the Engine.IO session is open: buffered too.
    h.emit(
        "/",
        "c",
        EmitOptions {
            volatile: true,
            ..EmitOptions::default()
        },
    );
    assert_eq!(h.sent_texts(), ["0"]);
    h.advance_to(300);
    h.push(&[r#"0{"sid":"x"}"#]);
    assert_eq!(
        h.sent(),
        [
            (0, "0"),
            (300, r#"2["a"]"#),
            (300, r#"20["b"]"#),
            (300, r#"2["c"]"#)
        ]
    );
    h.push(&[r#"30["done"]"#]);
    assert_eq!(
        h.events().last(),
        Some(&(300, r#"ack "/" Id(AckId(0)) ["done"]"#))
    );
}

#[test]
fn events_before_the_connect_reply_are_delivered_right_after_it() {
    let mut h = Harness::v5();
    h.responder = silent();
    h.connect("/", SocketOptions::default());
    h.push(&[
        r#"2["early",1]"#,
        r#"25["asks"]"#,
        r#"2/other,["elsewhere"]"#,
    ]);
    assert_eq!(h.events(), [(0, "open")]);
    h.push(&[r#"0{"sid":"x"}"#, r#"2["late"]"#]);
    assert_eq!(
        h.events(),
        [
            (0, "open"),
            (0, r#"connected "/" x recovered=false"#),
            (0, r#"event "/" ["early",1] id=None"#),
            (0, r#"event "/" ["asks"] id=Some(5)"#),
            (0, r#"event "/" ["late"] id=None"#),
        ]
    );
    // Answer the ack request.
    h.manager
        .ack("/", AckId::new(5).unwrap(), &("fine",))
        .unwrap();
    h.drain();
    assert_eq!(h.sent_texts().last(), Some(&r#"35["fine"]"#));
    let ManagerEvent::Event { packet, .. } = &h.raw_events[2] else {
        panic!()
    };
    let (n,): (u32,) = packet.args().unwrap();
    assert_eq!(n, 1);
}

#[test]
fn both_buffers_are_bounded() {
    let config = ManagerConfig {
        max_buffered: 2,
        ..ManagerConfig::default()
    };
    let mut h = Harness::new(config, draws(&[]));
    h.responder = silent();
    h.connect("/", SocketOptions::default());
    h.emit("/", "a", EmitOptions::default());
    h.emit("/", "b", EmitOptions::default());
    let full = h.manager.emit(h.now, "/", "c", &(), EmitOptions::default());
    assert_eq!(full, Err(SessionError::BufferFull));
    // Two events before the CONNECT reply are held; a third closes the session.
    h.push(&[r#"2["e1"]"#, r#"2["e2"]"#]);
    assert!(h.manager.is_open());
    h.push(&[r#"2["e3"]"#]);
    assert!(
        !h.manager.is_open(),
        "a server flooding before CONNECT is cut off"
    );
}

#[test]
fn a_received_event_is_forwarded_and_acknowledged_as_built_packets() {
    let mut h = Harness::v5();
    h.connect("/", SocketOptions::default());
    h.push(&[
        r#"0{"sid":"x"}"#,
        r#"51-7["pic",{"_placeholder":true,"num":0}]"#,
    ]);
    h.manager.handle_websocket_frame(
        h.now,
        h.socket.unwrap(),
        Frame::Binary(vec![1u8, 2, 3].into()),
    );
    h.drain();
    let ManagerEvent::Event { packet, .. } = h.raw_events.last().unwrap().clone() else {
        panic!("{:?}", h.events())
    };
    assert_eq!(packet.ack_id().map(AckId::get), Some(7));
    // Passed on with an ack id of the manager's; its attachment travels again.
    let sent = h.sent.len();
    let ack = h
        .manager
        .emit_packet(h.now, packet.clone(), with_ack(None))
        .unwrap();
    assert_eq!(ack, Some(AckRef::Id(AckId::new(0).unwrap())));
    h.drain();
    assert_eq!(
        h.sent_texts()[sent..],
        [r#"51-0["pic",{"_placeholder":true,"num":0}]"#, "<bin:3>"]
    );
    // The event's own ack, answered with its arguments unchanged.
    let answer = Packet::ack_raw(
        socketio_proto::Namespace::main(),
        packet.ack_id().unwrap(),
        &packet.raw_args()[1..],
        packet.attachments().to_vec(),
    )
    .unwrap();
    h.manager.ack_packet(answer).unwrap();
    h.drain();
    assert_eq!(
        h.sent_texts()[h.sent.len() - 2..],
        [r#"61-7[{"_placeholder":true,"num":0}]"#, "<bin:3>"]
    );
    assert_eq!(h.manager.ack_packet(packet), Err(SessionError::WrongPacket));
}

#[test]
fn v5_connect_reply_without_sid_is_an_incompatible_server() {
    let mut h = Harness::v5();
    h.responder = Box::new(|_: &str| vec!["0".to_owned()]);
    h.connect("/", SocketOptions::default());
    assert_eq!(
        h.events(),
        [(0, "open"), (0, r#"connect_error "/" IncompatibleServer"#)]
    );
    assert!(!h.manager.is_connected("/"));
}

// ---------------------------------------------------------------------------------------------
// Acks

#[test]
fn acks_and_ack_timeouts_fire_at_exact_instants() {
    let mut h = Harness::new(ManagerConfig::default(), draws(&[]));
    let options = SocketOptions {
        ack_timeout: Some(Duration::from_millis(5000)),
        ..SocketOptions::default()
    };
    h.connect("/", options);
    h.advance_to(1000);
    h.emit("/", "slow", with_ack(None)); // socket default: 5000 ms
    h.emit("/", "fast", with_ack(Some(50))); // `socket.timeout(50)`
    h.emit("/", "answered", with_ack(None));
    h.advance_to(1049);
    assert_eq!(h.events().len(), 2);
    h.advance_to(1100);
    h.push(&[r#"32["ok",{"a":1}]"#, r#"32["twice"]"#, r#"37["unknown"]"#]);
    h.advance_to(10_000);
    assert_eq!(
        h.events()[2..],
        [
            (
                1050,
                r#"ack_failed "/" Id(AckId(1)) operation has timed out"#
            ),
            (1100, r#"ack "/" Id(AckId(2)) ["ok",{"a":1}]"#),
            (
                6000,
                r#"ack_failed "/" Id(AckId(0)) operation has timed out"#
            ),
        ]
    );
    // An ack after the timeout is ignored.
    h.push(&[r#"30["late"]"#]);
    assert_eq!(h.events().len(), 5);
    assert_eq!(
        h.manager.poll_timeout(),
        h.manager.engine().unwrap().poll_timeout()
    );
}

#[test]
fn a_timed_out_buffered_emit_never_leaves() {
    let mut h = Harness::v5();
    h.responder = silent();
    h.connect("/", SocketOptions::default());
    h.emit("/", "gone", with_ack(Some(100)));
    h.emit("/", "kept", with_ack(Some(1000)));
    h.advance_to(500);
    h.push(&[r#"0{"sid":"x"}"#]);
    assert_eq!(h.sent(), [(0, "0"), (500, r#"21["kept"]"#)]);
    assert_eq!(
        h.events()[1],
        (
            100,
            r#"ack_failed "/" Id(AckId(0)) operation has timed out"#
        )
    );
}

#[test]
fn pending_acks_fail_on_disconnect_unless_still_buffered() {
    let mut h = Harness::new(ManagerConfig::default(), draws(&[0.0]));
    h.connect("/", SocketOptions::default());
    h.emit("/", "inflight", with_ack(Some(10_000)));
    h.emit("/", "untimed", with_ack(None));
    h.advance_to(100);
    h.kill_server();
    // Emitted while disconnected: buffered, its ack survives the next disconnects.
    h.emit("/", "buffered", with_ack(Some(10_000)));
    assert_eq!(
        h.events()[2..],
        [
            (100, r#"disconnected "/" transport close"#),
            (
                100,
                r#"ack_failed "/" Id(AckId(0)) socket has been disconnected"#
            ),
            (
                100,
                r#"ack_failed "/" Id(AckId(1)) socket has been disconnected"#
            ),
        ]
    );
    h.server_up = true;
    h.advance_to(1100); // r = 0: first delay exactly 1000 ms
    assert_eq!(h.sent()[3..], [(1100, "0"), (1100, r#"22["buffered"]"#)]);
    h.push(&[r#"32["ok"]"#]);
    assert_eq!(
        h.events().last(),
        Some(&(1100, r#"ack "/" Id(AckId(2)) ["ok"]"#))
    );
}

// ---------------------------------------------------------------------------------------------
// retries

#[test]
fn retries_resend_with_a_new_ack_id_until_the_count_is_exceeded() {
    let mut h = Harness::v5();
    let options = SocketOptions {
        retries: 3,
        ack_timeout: Some(Duration::from_millis(50)),
        ..SocketOptions::default()
    };
    h.connect("/", options);
    let first = h.emit("/", "ack", EmitOptions::default());
    let second = h.emit("/", "next", EmitOptions::default());
    assert_eq!(first, Some(AckRef::Queued(0)));
    assert_eq!(second, Some(AckRef::Queued(1)));
    h.advance_to(250);
    // Only the head is in flight; the server never acks it.
    assert_eq!(
        h.sent(),
        [
            (0, "0"),
            (0, r#"20["ack"]"#),
            (50, r#"21["ack"]"#),
            (100, r#"22["ack"]"#),
            (150, r#"23["ack"]"#),
            (200, r#"24["next"]"#),
            (250, r#"25["next"]"#),
        ]
    );
    assert_eq!(
        h.events()[2],
        (200, r#"ack_failed "/" Queued(0) operation has timed out"#)
    );
    // The second is acked on its second try; an ack for an older try is ignored.
    h.push(&[r#"34["stale"]"#, r#"35["ok"]"#]);
    h.advance_to(1000);
    assert_eq!(h.events()[3], (250, r#"ack "/" Queued(1) ["ok"]"#));
    assert_eq!(h.events().len(), 4);
    assert_eq!(h.sent().len(), 7);
}

#[test]
fn retries_queue_waits_for_connect_and_resends_the_head_on_reconnect() {
    let mut h = Harness::new(ManagerConfig::default(), draws(&[0.0]));
    h.responder = silent();
    let options = SocketOptions {
        retries: 1,
        ..SocketOptions::default()
    };
    h.connect("/", options);
    h.emit("/", "a", EmitOptions::default());
    assert_eq!(h.sent_texts(), ["0"]); // queued, not buffered: waits for the CONNECT reply
    h.push(&[r#"0{"sid":"x"}"#]);
    assert_eq!(h.sent_texts(), ["0", r#"20["a"]"#]);
    // No ack timeout: nothing retries until the connection is re-established.
    h.advance_to(100);
    h.kill_server();
    h.server_up = true;
    h.responder = accept_all();
    h.advance_to(1100);
    assert_eq!(h.sent()[2..], [(1100, "0"), (1100, r#"21["a"]"#)]);
    h.push(&[r#"31[]"#]);
    assert_eq!(h.events().last(), Some(&(1100, r#"ack "/" Queued(0) []"#)));
}

// ---------------------------------------------------------------------------------------------
// Reconnection

#[test]
fn server_restart_reconnects_with_exact_backoff_instants() {
    let mut h = Harness::new(ManagerConfig::default(), draws(&[0.5, 0.99, 0.05]));
    h.connect("/", SocketOptions::default());
    h.connect("/admin", SocketOptions::default());
    h.advance_to(1000);
    h.kill_server();
    // attempt 1 after 1250 ms (r 0.5), fails; attempt 2 after 2990 ms (r 0.99).
    h.advance_to(4000);
    h.server_up = true;
    h.advance_to(10_000);
    assert_eq!(h.dials, [0, 2250, 5240]);
    assert_eq!(
        h.events()[3..],
        [
            (1000, r#"disconnected "/" transport close"#),
            (1000, r#"disconnected "/admin" transport close"#),
            (2250, "reconnect_attempt 1"),
            (2250, r#"connect_error "/" Engine(Closed(TransportClose))"#),
            (
                2250,
                r#"connect_error "/admin" Engine(Closed(TransportClose))"#
            ),
            (2250, "reconnect_error transport close"),
            (5240, "reconnect_attempt 2"),
            (5240, "open"),
            (5240, "reconnect 2"),
            (5240, r#"connected "/" s-/ recovered=false"#),
            (5240, r#"connected "/admin" s-/admin recovered=false"#),
        ]
    );
    // Every namespace sent CONNECT again on the new session.
    assert_eq!(h.sent()[2..], [(5240, "0"), (5240, "0/admin,")]);
    assert_eq!(h.manager.reconnect_attempts(), 0);
    // The backoff was reset: the next loss starts again from attempt 1 (r 0.05 ⇒ 975 ms).
    h.kill_server();
    h.server_up = true;
    h.advance_to(20_000);
    assert_eq!(h.dials, [0, 2250, 5240, 10_975]);
}

#[test]
fn reconnection_attempts_limit_then_reconnect_failed() {
    let config = ManagerConfig {
        reconnection_attempts: Some(2),
        ..ManagerConfig::default()
    };
    let mut h = Harness::build(config, draws(&[0.0, 0.0, 0.0]), false);
    h.connect("/", SocketOptions::default());
    assert_eq!(h.dials, [0]);
    h.advance_to(60_000);
    // The first connection failure enters the loop too: 1000 ms, then 2000 ms.
    assert_eq!(h.dials, [0, 1000, 3000]);
    let events: Vec<(u64, &str)> = h
        .events()
        .into_iter()
        .filter(|(_, e)| !e.starts_with("connect_error"))
        .collect();
    assert_eq!(
        events,
        [
            (1000, "reconnect_attempt 1"),
            (1000, "reconnect_error transport close"),
            (3000, "reconnect_attempt 2"),
            (3000, "reconnect_failed"),
            (3000, "reconnect_error transport close"),
        ]
    );
    assert_eq!(h.manager.poll_timeout(), None);
    assert!(!h.manager.is_reconnecting());
    // A new connect opens again.
    h.server_up = true;
    h.manager.disconnect(h.now, "/").unwrap();
    h.connect("/", SocketOptions::default());
    assert!(h.manager.is_connected("/"));
}

#[test]
fn open_timeout_is_twenty_seconds() {
    let mut h = Harness::new(ManagerConfig::default(), draws(&[0.0, 0.0]));
    h.handshake = false;
    h.kill_server();
    h.server_up = true;
    h.advance_to(30_000);
    // Fails at 0 ⇒ attempt at 1000 hangs ⇒ timeout at 21000 ⇒ attempt 2 after 2000 ms.
    assert_eq!(h.dials, [0, 1000, 23_000]);
    assert_eq!(h.closes, [21_000]);
    assert!(h.events().contains(&(21_000, "reconnect_error timeout")));
}

#[test]
fn no_reconnection_when_disabled() {
    let config = ManagerConfig {
        reconnection: false,
        ..ManagerConfig::default()
    };
    let mut h = Harness::new(config, draws(&[]));
    h.connect("/", SocketOptions::default());
    h.kill_server();
    h.server_up = true;
    h.advance_to(60_000);
    assert_eq!(h.dials, [0]);
    assert_eq!(h.manager.poll_timeout(), None);
}

#[test]
fn client_close_does_not_reconnect() {
    let mut h = Harness::v5();
    h.connect("/", SocketOptions::default());
    h.emit("/", "pending", with_ack(None));
    h.manager.close(h.now);
    h.drain();
    h.advance_to(60_000);
    assert_eq!(h.dials, [0]);
    assert_eq!(h.closes, [0]);
    assert_eq!(
        h.events()[2..],
        [
            (0, r#"disconnected "/" forced close"#),
            (
                0,
                r#"ack_failed "/" Id(AckId(0)) socket has been disconnected"#
            ),
        ]
    );
    assert_eq!(h.manager.poll_timeout(), None);
}

#[test]
fn client_disconnect_sends_disconnect_and_closes_when_no_namespace_is_left() {
    let mut h = Harness::v5();
    h.connect("/", SocketOptions::default());
    h.connect("/admin", SocketOptions::default());
    h.manager.disconnect(h.now, "/admin").unwrap();
    h.drain();
    assert_eq!(h.sent_texts(), ["0", "0/admin,", "1/admin,"]);
    assert!(h.manager.is_open());
    h.manager.disconnect(h.now, "/").unwrap();
    h.drain();
    assert_eq!(h.sent_texts()[3], "1");
    assert!(!h.manager.is_open());
    assert_eq!(h.closes, [0]);
    assert!(
        h.events()
            .contains(&(0, r#"disconnected "/admin" io client disconnect"#))
    );
    h.advance_to(60_000);
    assert_eq!(h.dials, [0]);
}

#[test]
fn server_disconnect_does_not_reconnect() {
    let mut h = Harness::v5();
    h.connect("/", SocketOptions::default());
    h.advance_to(500);
    h.push(&["1"]);
    assert_eq!(
        h.events().last(),
        Some(&(500, r#"disconnected "/" io server disconnect"#))
    );
    // It was the only namespace: the manager closes for good.
    assert_eq!(h.closes, [500]);
    h.advance_to(60_000);
    assert_eq!(h.dials, [0]);
    assert!(!h.manager.is_active("/"));
}

#[test]
fn connect_error_stops_the_namespace() {
    let mut h = Harness::new(ManagerConfig::default(), draws(&[0.0]));
    h.responder = Box::new(|msg: &str| match msg {
        "0" => vec![r#"0{"sid":"a"}"#.to_owned()],
        _ => vec![
            r#"4/admin,{"message":"not authorized","data":{"content":"Please retry later"}}"#
                .to_owned(),
        ],
    });
    h.connect("/", SocketOptions::default());
    h.connect("/admin", auth(r#"{"token":"bad"}"#));
    assert_eq!(
        h.events()[2],
        (
            0,
            r#"connect_error "/admin" Refused { message: "not authorized", data: Some(Object {"content": String("Please retry later")}) }"#
        )
    );
    assert!(!h.manager.is_active("/admin"));
    h.kill_server();
    h.server_up = true;
    h.advance_to(5000);
    // Only `/` joins again.
    assert_eq!(h.sent_texts(), ["0", r#"0/admin,{"token":"bad"}"#, "0"]);
    let ManagerEvent::ConnectError { error, .. } = &h.raw_events[2] else {
        panic!()
    };
    assert!(matches!(error, ConnectError::Refused { message, .. } if message == "not authorized"));
}

#[test]
fn a_parse_error_closes_and_reconnects() {
    let mut h = Harness::new(ManagerConfig::default(), draws(&[0.0]));
    h.connect("/", SocketOptions::default());
    h.push(&["9"]);
    assert_eq!(h.events()[2], (0, r#"disconnected "/" parse error"#));
    assert_eq!(h.closes, [0]);
    h.advance_to(1000);
    assert_eq!(h.dials, [0, 1000]);
    assert!(h.manager.is_connected("/"));
}

#[test]
fn volatile_emits_are_dropped_while_the_session_is_not_open() {
    let mut h = Harness::new(ManagerConfig::default(), draws(&[0.0]));
    h.connect("/", SocketOptions::default());
    h.kill_server();
    let volatile = EmitOptions {
        volatile: true,
        ..EmitOptions::default()
    };
    h.emit("/", "dropped", volatile);
    h.emit("/", "kept", EmitOptions::default());
    h.server_up = true;
    h.advance_to(1000);
    h.emit("/", "sent", volatile);
    assert_eq!(h.sent_texts(), ["0", "0", r#"2["kept"]"#, r#"2["sent"]"#]);
}

// ---------------------------------------------------------------------------------------------
// Connection state recovery

#[test]
fn recovery_sends_pid_and_offset_and_reports_recovered() {
    let connects = Arc::new(Mutex::new(0));
    let mut h = Harness::new(ManagerConfig::default(), draws(&[0.0]));
    let counter = Arc::clone(&connects);
    h.responder = Box::new(move |msg: &str| {
        if !msg.starts_with('0') {
            return Vec::new();
        }
        let mut n = counter.lock().unwrap();
        *n += 1;
        match *n {
            1 => vec![r#"0{"sid":"a","pid":"p1"}"#.to_owned()],
            // Recovered: the missed events come before the CONNECT reply.
            2 => vec![
                r#"2["missed","m1"]"#.to_owned(),
                r#"2["missed","m2"]"#.to_owned(),
                r#"0{"sid":"a","pid":"p1"}"#.to_owned(),
            ],
            // Not recovered: new sid and pid.
            _ => vec![r#"0{"sid":"b","pid":"p2"}"#.to_owned()],
        }
    });
    h.connect("/", auth(r#"{"token":"1","pid":"ignored-by-nobody"}"#));
    assert_eq!(
        h.sent_texts(),
        [r#"0{"token":"1","pid":"ignored-by-nobody"}"#]
    );
    assert_eq!(h.manager.pid("/"), Some("p1"));
    h.push(&[
        r#"2["hello","world","off1"]"#,
        r#"23["with-ack","not-an-offset"]"#,
        r#"2["number",1]"#,
    ]);
    assert_eq!(h.manager.last_offset("/"), Some("off1"));
    h.kill_server();
    h.server_up = true;
    h.advance_to(1000);
    // `Object.assign({pid, offset}, auth)`: pid and offset first, an auth `pid` overrides.
    assert_eq!(
        h.sent_texts()[1],
        r#"0{"pid":"ignored-by-nobody","offset":"off1","token":"1"}"#
    );
    assert_eq!(
        h.events()[6..],
        [
            (1000, "reconnect_attempt 1"),
            (1000, "open"),
            (1000, "reconnect 1"),
            (1000, r#"connected "/" a recovered=true"#),
            (1000, r#"event "/" ["missed","m1"] id=None"#),
            (1000, r#"event "/" ["missed","m2"] id=None"#),
        ]
    );
    assert_eq!(h.manager.last_offset("/"), Some("m2"));
}

#[test]
fn recovery_payload_without_auth_and_not_recovered() {
    let mut h = Harness::new(ManagerConfig::default(), draws(&[0.0, 0.0]));
    let mut n = 0;
    h.responder = Box::new(move |msg: &str| {
        if !msg.starts_with('0') {
            return Vec::new();
        }
        n += 1;
        vec![format!(r#"0{{"sid":"s{n}","pid":"p{n}"}}"#)]
    });
    h.connect("/", SocketOptions::default());
    // No event yet: `offset` is omitted.
    h.kill_server();
    h.server_up = true;
    h.advance_to(1000);
    assert_eq!(h.sent_texts(), ["0", r#"0{"pid":"p1"}"#]);
    assert_eq!(
        h.events().last(),
        Some(&(1000, r#"connected "/" s2 recovered=false"#))
    );
    // The event name counts as the last argument when there are none (JS `args` holds it).
    h.push(&[r#"2["tick"]"#]);
    assert_eq!(h.manager.last_offset("/"), Some("tick"));
    h.kill_server();
    h.server_up = true;
    h.advance_to(3000);
    assert_eq!(h.sent_texts()[2], r#"0{"pid":"p2","offset":"tick"}"#);
}

// ---------------------------------------------------------------------------------------------
// Protocol v4 (socket.io 2.x)

#[test]
fn v4_main_namespace_is_joined_by_the_server() {
    let config = ManagerConfig {
        version: ProtocolVersion::V4,
        ..ManagerConfig::default()
    };
    let mut h = Harness::new(config, draws(&[0.0]));
    h.responder = Box::new(|msg: &str| match msg {
        "0/admin," => vec!["0/admin,".to_owned()],
        "0/nope," => vec![r#"4/nope,"Invalid namespace""#.to_owned()],
        _ => Vec::new(),
    });
    // `/` joined after the server's automatic `40` arrived.
    h.connect("/", SocketOptions::default());
    h.connect("/admin", auth(r#"{"ignored":"in v4"}"#));
    h.connect("/nope", SocketOptions::default());
    h.emit("/admin", "hi", with_ack(None));
    assert_eq!(
        h.sent_texts(),
        ["0/admin,", "0/nope,", r#"2/admin,0["hi"]"#]
    );
    assert_eq!(
        h.events(),
        [
            (0, "open"),
            (0, r#"connected "/" e1 recovered=false"#),
            (0, r#"connected "/admin" /admin#e1 recovered=false"#),
            (
                0,
                r#"connect_error "/nope" Refused { message: "Invalid namespace", data: None }"#
            ),
        ]
    );
    // Reconnection: `/` is joined by the server again, `/admin` sends CONNECT again.
    h.kill_server();
    h.server_up = true;
    h.advance_to(1000);
    assert_eq!(h.sent_texts()[3], "0/admin,");
    assert!(
        h.events()
            .contains(&(1000, r#"connected "/" e2 recovered=false"#))
    );
    assert!(h.manager.is_connected("/admin"));
}

#[test]
fn stale_inputs_from_an_abandoned_session_are_ignored() {
    let mut h = Harness::new(ManagerConfig::default(), draws(&[0.0]));
    h.connect("/", SocketOptions::default());
    let old = h.socket.unwrap();
    h.kill_server();
    h.server_up = true;
    h.advance_to(1000);
    let new = h.socket.unwrap();
    assert_ne!(old, new);
    // A late frame and close for the old socket change nothing.
    h.manager
        .handle_websocket_frame(h.now, old, Frame::Text(Utf8Bytes::from("41".to_owned())));
    h.manager.handle_websocket_closed(h.now, old);
    h.drain();
    assert!(h.manager.is_connected("/"));
    let before = h.take_events();
    assert!(before.iter().any(|(_, e)| e == "reconnect 1"));
    assert!(h.events().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Polling: the manager forwards HTTP requests under its own ids

#[test]
fn polling_requests_carry_the_session_generation() {
    let start = Instant::now();
    let config = ManagerConfig {
        engine: ClientConfig {
            upgrade: false,
            ..ClientConfig::default()
        },
        ..ManagerConfig::default()
    };
    let mut m = Manager::new(start, config, draws(&[0.0]));
    m.connect(start, "/", auth(r#"{"token":"123"}"#)).unwrap();
    let Some(Transmit::Get { request, query }) = m.poll_transmit() else {
        panic!("handshake GET expected")
    };
    assert_eq!(query, "EIO=4&transport=polling");
    assert_eq!(request.0 >> 48, 1, "first session");
    let open = r#"0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    m.handle_response(
        start,
        request,
        200,
        Some("text/plain; charset=UTF-8"),
        Bytes::from(open),
    );
    assert_eq!(m.poll_event(), Some(ManagerEvent::Open));
    // The long poll, then the CONNECT in a POST.
    let Some(Transmit::Get { request: poll, .. }) = m.poll_transmit() else {
        panic!("long-poll GET expected")
    };
    let Some(Transmit::Post {
        request: post,
        body,
        query,
        ..
    }) = m.poll_transmit()
    else {
        panic!("POST expected")
    };
    assert_eq!(query, "EIO=4&transport=polling&sid=e1");
    assert_eq!(&body[..], br#"40{"token":"123"}"#);
    m.handle_response(
        start,
        post,
        200,
        Some("text/html"),
        Bytes::from_static(b"ok"),
    );
    m.handle_response(
        start,
        poll,
        200,
        Some("text/plain; charset=UTF-8"),
        Bytes::from_static(b"40{\"sid\":\"x\"}\x1e42[\"hi\"]"),
    );
    assert!(matches!(m.poll_event(), Some(ManagerEvent::Connected { sid, .. }) if sid == "x"));
    assert!(matches!(m.poll_event(), Some(ManagerEvent::Event { .. })));
    // The server goes away: the next session's ids differ, and a late answer to the old
    // session's poll is ignored.
    let Some(Transmit::Get { request: poll, .. }) = m.poll_transmit() else {
        panic!("long-poll GET expected")
    };
    m.handle_request_failed(start, poll);
    assert!(matches!(
        m.poll_event(),
        Some(ManagerEvent::Disconnected { .. })
    ));
    let later = start + Duration::from_millis(1000);
    assert_eq!(m.poll_timeout(), Some(later));
    m.handle_timeout(later);
    assert_eq!(m.poll_event(), Some(ManagerEvent::ReconnectAttempt(1)));
    let Some(Transmit::Get { request, .. }) = m.poll_transmit() else {
        panic!("handshake GET expected")
    };
    assert_eq!(request.0 >> 48, 2, "second session");
    m.handle_response(later, poll, 200, None, Bytes::from_static(b"41"));
    assert_eq!(m.poll_event(), None);
    assert!(!m.is_open());
}
