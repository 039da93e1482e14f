//! A test driver: what a real driver does with sockets, done with maps and a virtual clock.
//! It routes requests, owns the sid → session map, echoes every message (the server the
//! official conformance suites expect), and records what the sessions transmit.
#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::session::endpoint::{Endpoint, Input, SessionKey};
use engineio_proto::session::server::{HttpResponse, Method, ServerConfig, SessionEvent, Transmit};
use engineio_proto::session::{CloseReason, RequestId, SocketId};

/// The endpoint with a virtual clock and what it put on the "wire".
pub struct Harness {
    pub config: ServerConfig,
    pub now: Instant,
    endpoint: Endpoint,
    /// Session ids, to report closes by sid.
    sids: HashMap<SessionKey, String>,
    responses: HashMap<RequestId, HttpResponse>,
    frames: HashMap<SocketId, Vec<Frame>>,
    closed_sockets: HashSet<SocketId>,
    /// The sockets that refused upgrades stand for (the endpoint never names them).
    next_refused: u64,
    pub closes: Vec<(String, CloseReason)>,
    next_request: u64,
}

/// The conformance suites' settings: pingInterval 300 ms, pingTimeout 200 ms.
pub fn suite_config(allow_eio3: bool) -> ServerConfig {
    ServerConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        allow_eio3,
        ..ServerConfig::default()
    }
}

impl Harness {
    pub fn new(config: ServerConfig) -> Harness {
        let mut n = 0u64;
        let ids = move || {
            n += 1;
            format!("sid{n}")
        };
        Harness {
            endpoint: Endpoint::new(config.clone(), Box::new(ids)),
            config,
            now: Instant::now(),
            sids: HashMap::new(),
            responses: HashMap::new(),
            frames: HashMap::new(),
            closed_sockets: HashSet::new(),
            next_refused: u64::MAX,
            closes: Vec::new(),
            next_request: 0,
        }
    }

    fn request(&mut self, method: Method, query: &str, websocket_upgrade: bool) -> RequestId {
        self.next_request += 1;
        let request = RequestId(self.next_request);
        let input = Input::Request {
            request,
            method,
            query,
            websocket_upgrade,
        };
        self.endpoint.handle(self.now, input);
        request
    }

    /// Sends a GET (or another bodiless method) and returns its id; see [`Harness::response`].
    pub fn get(&mut self, method: Method, query: &str) -> RequestId {
        let request = self.request(method, query, false);
        self.drive_with_body(request, None, Bytes::new());
        request
    }

    /// Sends a POST with a body.
    pub fn post(
        &mut self,
        query: &str,
        content_type: Option<&str>,
        body: impl Into<Bytes>,
    ) -> RequestId {
        let request = self.request(Method::Post, query, false);
        self.drive_with_body(request, content_type, body.into());
        request
    }

    /// Drains, answering the endpoint's request for `request`'s body with `body`.
    fn drive_with_body(&mut self, request: RequestId, content_type: Option<&str>, body: Bytes) {
        if let Some(limit) = self.drive_until_read(request) {
            let input = if body.len() > limit {
                Input::PostTooLarge { request }
            } else {
                Input::PostBody {
                    request,
                    content_type,
                    body,
                }
            };
            self.endpoint.handle(self.now, input);
            self.drive();
        }
    }

    /// The client gives up on a request.
    pub fn abort(&mut self, request: RequestId) {
        self.endpoint
            .handle(self.now, Input::RequestAborted { request });
        self.drive();
    }

    /// The response to a request, if it has been answered.
    pub fn response(&mut self, request: RequestId) -> Option<HttpResponse> {
        self.responses.remove(&request)
    }

    /// Opens a WebSocket (a GET with `Upgrade: websocket`). A refused one is closed at once.
    pub fn websocket(&mut self, query: &str) -> SocketId {
        let request = self.request(Method::Get, query, true);
        let mut accepted = None;
        while let Some(transmit) = self.endpoint.poll_transmit() {
            match transmit {
                Transmit::AcceptWebSocket { request: r, socket } if r == request => {
                    accepted = Some(socket)
                }
                other => self.record(other),
            }
        }
        let socket = match accepted {
            Some(socket) => {
                self.endpoint
                    .handle(self.now, Input::WebSocketOpen { socket });
                socket
            }
            None => {
                assert!(
                    self.responses.remove(&request).is_some(),
                    "neither accepted nor refused"
                );
                self.next_refused -= 1;
                let socket = SocketId(self.next_refused);
                self.closed_sockets.insert(socket);
                socket
            }
        };
        self.drive();
        socket
    }

    pub fn send_text(&mut self, socket: SocketId, text: &str) {
        self.send_frame(socket, Frame::Text(text.to_owned().into()));
    }

    pub fn send_frame(&mut self, socket: SocketId, frame: Frame) {
        assert!(
            !self.closed_sockets.contains(&socket),
            "sending on a closed socket"
        );
        self.endpoint
            .handle(self.now, Input::WebSocketFrame { socket, frame });
        self.drive();
    }

    /// The client closes a WebSocket.
    pub fn close_socket(&mut self, socket: SocketId) {
        self.closed_sockets.insert(socket);
        self.endpoint
            .handle(self.now, Input::WebSocketClosed { socket });
        self.drive();
    }

    /// Frames received on a socket so far (taken).
    pub fn frames(&mut self, socket: SocketId) -> Vec<Frame> {
        self.frames.remove(&socket).unwrap_or_default()
    }

    pub fn is_closed(&self, socket: SocketId) -> bool {
        self.closed_sockets.contains(&socket)
    }

    pub fn session_count(&self) -> usize {
        self.endpoint.len()
    }

    /// Advances the virtual clock, firing every timer on the way, in order.
    pub fn advance(&mut self, duration: Duration) {
        let end = self.now + duration;
        while let Some(at) = self.endpoint.poll_timeout().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.endpoint.handle_timeout(self.now);
            self.drive();
        }
        self.now = end;
    }

    pub fn advance_ms(&mut self, ms: u64) {
        self.advance(Duration::from_millis(ms));
    }

    /// Drains the endpoint: echoes messages, records transmits and closes.
    pub fn drive(&mut self) {
        let read = self.drive_until_read(RequestId(0));
        assert!(read.is_none(), "a body was asked for outside a POST");
    }

    /// Drains; returns the limit when the endpoint asks for `request`'s body.
    fn drive_until_read(&mut self, request: RequestId) -> Option<usize> {
        let mut read = None;
        loop {
            if let Some((key, event)) = self.endpoint.poll_event() {
                match event {
                    SessionEvent::Opened => {
                        let sid = self.endpoint.session(key).unwrap().sid().to_owned();
                        self.sids.insert(key, sid);
                    }
                    SessionEvent::Message(data) => {
                        let _ = self.endpoint.send(key, data);
                    }
                    SessionEvent::Closed { reason, .. } => {
                        let sid = self.sids.remove(&key).unwrap();
                        self.closes.push((sid, reason));
                    }
                    _ => {}
                }
                continue;
            }
            match self.endpoint.poll_transmit() {
                Some(Transmit::ReadBody { request: r, limit }) if r == request => {
                    read = Some(limit)
                }
                Some(transmit) => self.record(transmit),
                None => return read,
            }
        }
    }

    fn record(&mut self, transmit: Transmit) {
        match transmit {
            Transmit::Response { request, response } => {
                assert!(
                    self.responses.insert(request, response).is_none(),
                    "a request answered twice"
                );
            }
            Transmit::Frame { socket, frame } => {
                assert!(
                    !self.closed_sockets.contains(&socket),
                    "a frame after the close"
                );
                self.frames.entry(socket).or_default().push(frame);
            }
            Transmit::CloseSocket { socket } => {
                self.closed_sockets.insert(socket);
            }
            other => panic!("unexpected transmit {other:?}"),
        }
    }
}

/// The sid from a v4 open packet body (`0{…}`).
pub fn sid_of(open: &[u8]) -> String {
    let open = std::str::from_utf8(open).unwrap();
    let json: serde_json::Value = serde_json::from_str(&open[open.find('{').unwrap()..]).unwrap();
    json["sid"].as_str().unwrap().to_owned()
}

pub fn text(s: &str) -> Frame {
    Frame::Text(s.to_owned().into())
}
