//! A test driver: what a real driver does with sockets, done with maps and a virtual clock.
//! It routes requests, owns the sid → session map, echoes every message (the server the
//! official conformance suites expect), and records what the sessions transmit.
#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::session::server::{
    Connection, Event, HttpResponse, Method, Route, ServerConfig, ServerSession, Transmit, route,
};
use engineio_proto::session::{CloseReason, RequestId, SocketId};
use engineio_proto::{ErrorResponse, Frame, Transport};

pub struct Harness {
    pub config: ServerConfig,
    pub now: Instant,
    sessions: HashMap<String, ServerSession>,
    /// Which session owns a WebSocket.
    socket_owner: HashMap<SocketId, String>,
    responses: HashMap<RequestId, HttpResponse>,
    frames: HashMap<SocketId, Vec<Frame>>,
    closed_sockets: HashSet<SocketId>,
    pub closes: Vec<(String, CloseReason)>,
    next_id: u64,
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
        Harness {
            config,
            now: Instant::now(),
            sessions: HashMap::new(),
            socket_owner: HashMap::new(),
            responses: HashMap::new(),
            frames: HashMap::new(),
            closed_sockets: HashSet::new(),
            closes: Vec::new(),
            next_id: 0,
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn refuse(&mut self, request: RequestId, response: ErrorResponse<'_>) {
        let body = Bytes::from(response.body());
        self.responses.insert(
            request,
            HttpResponse {
                status: response.status(),
                content_type: Some("application/json"),
                body,
            },
        );
    }

    /// Sends a GET (or another bodiless method) and returns its id; see [`Harness::response`].
    pub fn get(&mut self, method: Method, query: &str) -> RequestId {
        let request = RequestId(self.id());
        match route(&self.config, method, query, false) {
            Route::Refuse(code) => self.refuse(request, ErrorResponse::new(code)),
            Route::Handshake(handshake) => {
                let sid = format!("sid{}", self.next_id);
                let session = ServerSession::new(
                    self.now,
                    sid.clone(),
                    &handshake,
                    self.config.clone(),
                    Connection::Polling(request),
                );
                self.sessions.insert(sid, session);
            }
            Route::Session { sid, .. } => match self.sessions.get_mut(&*sid) {
                None => self.refuse(
                    request,
                    ErrorResponse::new(engineio_proto::ErrorCode::UnknownSid),
                ),
                Some(session) if method == Method::Post => {
                    // A POST without a body: the driver reads nothing.
                    if session.handle_post(self.now, request) {
                        session.handle_post_body(self.now, request, None, Bytes::new());
                    }
                }
                Some(session) => session.handle_get(self.now, request),
            },
        }
        self.drive();
        request
    }

    /// Sends a POST with a body.
    pub fn post(
        &mut self,
        query: &str,
        content_type: Option<&str>,
        body: impl Into<Bytes>,
    ) -> RequestId {
        let request = RequestId(self.id());
        match route(&self.config, Method::Post, query, false) {
            Route::Refuse(code) => self.refuse(request, ErrorResponse::new(code)),
            Route::Handshake(_) => unreachable!("a POST is never a handshake"),
            Route::Session { sid, .. } => match self.sessions.get_mut(&*sid) {
                None => self.refuse(
                    request,
                    ErrorResponse::new(engineio_proto::ErrorCode::UnknownSid),
                ),
                Some(session) => {
                    if session.handle_post(self.now, request) {
                        session.handle_post_body(self.now, request, content_type, body.into());
                    }
                }
            },
        }
        self.drive();
        request
    }

    /// The client gives up on a request.
    pub fn abort(&mut self, request: RequestId) {
        for session in self.sessions.values_mut() {
            session.handle_request_aborted(self.now, request);
        }
        self.drive();
    }

    /// The response to a request, if it has been answered.
    pub fn response(&mut self, request: RequestId) -> Option<HttpResponse> {
        self.responses.remove(&request)
    }

    /// Opens a WebSocket (a GET with `Upgrade: websocket`). A refused one is closed at once.
    pub fn websocket(&mut self, query: &str) -> SocketId {
        let socket = SocketId(self.id());
        match route(&self.config, Method::Get, query, true) {
            Route::Refuse(_) => {
                self.closed_sockets.insert(socket);
            }
            Route::Handshake(handshake) => {
                assert_eq!(handshake.transport, Transport::Websocket);
                let sid = format!("sid{}", self.next_id);
                let session = ServerSession::new(
                    self.now,
                    sid.clone(),
                    &handshake,
                    self.config.clone(),
                    Connection::WebSocket(socket),
                );
                self.socket_owner.insert(socket, sid.clone());
                self.sessions.insert(sid, session);
            }
            Route::Session { sid, query } => match self.sessions.get_mut(&*sid) {
                None => {
                    self.closed_sockets.insert(socket);
                }
                Some(session) => {
                    self.socket_owner.insert(socket, sid.to_string());
                    session.handle_websocket_open(self.now, socket, query.b64);
                }
            },
        }
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
        if let Some(session) = self
            .socket_owner
            .get(&socket)
            .and_then(|sid| self.sessions.get_mut(sid))
        {
            session.handle_websocket_frame(self.now, socket, frame);
        }
        self.drive();
    }

    /// The client closes a WebSocket.
    pub fn close_socket(&mut self, socket: SocketId) {
        self.closed_sockets.insert(socket);
        if let Some(session) = self
            .socket_owner
            .get(&socket)
            .and_then(|sid| self.sessions.get_mut(sid))
        {
            session.handle_websocket_closed(self.now, socket);
        }
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
        self.sessions.len()
    }

    /// Advances the virtual clock, firing every timer on the way, in order.
    pub fn advance(&mut self, duration: Duration) {
        let end = self.now + duration;
        loop {
            let next = self
                .sessions
                .values()
                .filter_map(ServerSession::poll_timeout)
                .min();
            match next {
                Some(at) if at <= end => {
                    self.now = self.now.max(at);
                    for session in self.sessions.values_mut() {
                        session.handle_timeout(self.now);
                    }
                    self.drive();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    pub fn advance_ms(&mut self, ms: u64) {
        self.advance(Duration::from_millis(ms));
    }

    /// Drains every session: echoes messages, records transmits, drops closed sessions.
    pub fn drive(&mut self) {
        let sids: Vec<String> = self.sessions.keys().cloned().collect();
        for sid in sids {
            let Some(session) = self.sessions.get_mut(&sid) else {
                continue;
            };
            let mut closed = false;
            loop {
                let mut progress = false;
                while let Some(event) = session.poll_event() {
                    progress = true;
                    match event {
                        Event::Message(data) => {
                            let _ = session.send(data);
                        }
                        Event::Closed { reason, .. } => {
                            closed = true;
                            self.closes.push((sid.clone(), reason));
                        }
                        _ => {}
                    }
                }
                while let Some(transmit) = session.poll_transmit() {
                    progress = true;
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
                        _ => {}
                    }
                }
                if !progress {
                    break;
                }
            }
            if closed {
                self.sessions.remove(&sid);
            }
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
