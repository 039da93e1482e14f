//! The server side: request routing and one [`ServerSession`] per Engine.IO session.
//!
//! Most servers want the [`Endpoint`](super::endpoint::Endpoint), which owns the sessions and
//! does everything below for all of them. This module's pieces are for drivers that keep their
//! own session table.
//!
//! # Run loop
//!
//! 1. For every HTTP request on the Engine.IO path, call [`route`] with the method, the query
//!    string and whether it is a WebSocket upgrade request.
//!    - [`Route::Refuse`]: answer with [`ErrorResponse`](crate::handshake::ErrorResponse) (its `body()` on polling, its
//!      `upgrade_response()` on a WebSocket upgrade request).
//!    - [`Route::Handshake`]: pick a session id (this crate has no RNG), create a
//!      [`ServerSession`] with the request (polling) or the accepted WebSocket, and keep it in
//!      your map from sid to session.
//!    - [`Route::Session`]: look the sid up (unknown: refuse with [`ErrorCode::UnknownSid`]) and
//!      hand the request to the session: [`ServerSession::handle_get`],
//!      [`ServerSession::handle_post`] then [`ServerSession::handle_post_body`], or
//!      [`ServerSession::handle_websocket_open`] once the WebSocket is accepted.
//! 2. Feed it what happens on the wire: WebSocket frames, closed sockets, aborted requests.
//! 3. After every input, drain [`ServerSession::poll_transmit`] (responses to write, frames to
//!    send, sockets to close) and [`ServerSession::poll_event`] (messages, upgrades, the close)
//!    until both return `None`, then sleep until [`ServerSession::poll_timeout`] and call
//!    [`ServerSession::handle_timeout`].
//! 4. After [`SessionEvent::Closed`], drain the transmits once more and drop the session.
//!
//! A parked GET is answered by a later transmit, so keep the request open until its
//! [`Transmit::Response`] arrives.
//!
//! # Example: an echo server's polling session, driven by hand
//!
//! ```
//! use std::collections::HashMap;
//! use std::time::Instant;
//! use bytes::Bytes;
//! use engineio_proto::session::server::*;
//! use engineio_proto::session::RequestId;
//!
//! let config = ServerConfig::default();
//! let mut sessions: HashMap<String, ServerSession> = HashMap::new();
//! let now = Instant::now();
//!
//! // GET /engine.io/?EIO=4&transport=polling: a handshake.
//! let Route::Handshake(handshake) = route(&config, Method::Get, "EIO=4&transport=polling", false) else {
//!     unreachable!()
//! };
//! let mut session = ServerSession::new(now, "sid1", &handshake, config.clone(), InitialTransport::Polling(RequestId(1)));
//! let Some(Transmit::Response { request: RequestId(1), response }) = session.poll_transmit() else { unreachable!() };
//! assert!(response.body.starts_with(br#"0{"sid":"sid1","upgrades":["websocket"]"#));
//! sessions.insert("sid1".into(), session);
//!
//! // POST …&sid=sid1 with body `4hello`: read the body (at most config.max_payload bytes).
//! let session = sessions.get_mut("sid1").unwrap();
//! if session.handle_post(now, RequestId(2)) {
//!     session.handle_post_body(now, RequestId(2), Some("text/plain;charset=UTF-8"), Bytes::from_static(b"4hello"));
//! }
//! // Drain: the POST's `ok`, and the message, which we echo.
//! while let Some(event) = session.poll_event() {
//!     if let SessionEvent::Message(data) = event {
//!         session.send(data).unwrap();
//!     }
//! }
//! let Some(Transmit::Response { request: RequestId(2), response }) = session.poll_transmit() else { unreachable!() };
//! assert_eq!(response.body, &b"ok"[..]);
//!
//! // GET …&sid=sid1: answered at once with what is queued.
//! session.handle_get(now, RequestId(3));
//! let Some(Transmit::Response { request: RequestId(3), response }) = session.poll_transmit() else { unreachable!() };
//! assert_eq!(response.body, &b"4hello"[..]);
//!
//! // Nothing else to do until the next ping is due.
//! assert!(session.poll_transmit().is_none());
//! assert_eq!(session.poll_timeout(), Some(now + config.ping_interval));
//! ```

mod types;

pub use types::*;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use super::{CloseReason, RequestId, SessionError, SocketId};
use crate::handshake::{ErrorCode, OpenPacket, Transport};
use crate::packet::{Data, Frame, Packet, PacketType, ProtocolVersion};
use crate::payload::{
    Limits, PayloadFormat, RECORD_SEPARATOR, decode_payload_owned, encode_payload,
};
use crate::utf8::Utf8Bytes;
use crate::{DecodeError, EncodeError, jsonp};

/// A packet waiting for the transport.
#[derive(Clone, Debug)]
enum Queued {
    Packet(Packet),
    /// A message in its frame form `4…`, shared with other sessions.
    TextFrame(Utf8Bytes),
}

impl Queued {
    fn packet_type(&self) -> PacketType {
        match self {
            Queued::Packet(packet) => packet.packet_type,
            Queued::TextFrame(_) => PacketType::Message,
        }
    }

    fn into_packet(self) -> Packet {
        match self {
            Queued::Packet(packet) => packet,
            Queued::TextFrame(frame) => {
                let len = frame.len();
                Packet {
                    packet_type: PacketType::Message,
                    data: Data::Text(frame.into_slice(1..len)),
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// v4: when to send the next ping.
    Ping,
    /// v4: the pong deadline; v3: the liveness deadline.
    PingTimeout,
    /// The probed transport must finish the upgrade by then.
    Upgrade,
    /// Release a pending GET with `6` while probing.
    Noop,
    /// A server close on polling gives up waiting for a GET.
    Close,
}

const TIMERS: usize = 5;

#[derive(Clone, Debug)]
enum Active {
    Polling {
        get: Option<RequestId>,
        post: Option<RequestId>,
    },
    WebSocket {
        socket: SocketId,
        b64: bool,
    },
}

#[derive(Clone, Debug)]
struct Probe {
    socket: SocketId,
    b64: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// `close()` on polling: the `1` waits in the queue for a GET.
    Closing,
    Closed,
}

/// One Engine.IO session on the server. See the [module docs](self) for the run loop.
#[derive(Debug)]
pub struct ServerSession {
    sid: String,
    version: ProtocolVersion,
    config: ServerConfig,
    /// Polling responses may use the v3 binary payload (no `b64`, no JSONP).
    supports_binary: bool,
    jsonp_index: Option<String>,
    active: Active,
    probe: Option<Probe>,
    queue: VecDeque<Queued>,
    /// Message bytes in `queue`.
    queued_bytes: usize,
    transmits: VecDeque<Transmit>,
    events: VecDeque<SessionEvent>,
    timers: [Option<Instant>; TIMERS],
    state: State,
}

impl ServerSession {
    /// Opens a session: queues the open packet for the handshake GET or the WebSocket.
    pub fn new(
        now: Instant,
        sid: impl Into<String>,
        handshake: &Handshake,
        config: ServerConfig,
        connection: InitialTransport,
    ) -> ServerSession {
        let (active, upgrades) = match connection {
            InitialTransport::Polling(request) => {
                let upgrades = if config.allow_upgrades && config.websocket {
                    vec![Transport::Websocket]
                } else {
                    vec![]
                };
                (
                    Active::Polling {
                        get: Some(request),
                        post: None,
                    },
                    upgrades,
                )
            }
            InitialTransport::WebSocket(socket) => (
                Active::WebSocket {
                    socket,
                    b64: handshake.b64,
                },
                vec![],
            ),
        };
        let sid = sid.into();
        let open = OpenPacket {
            sid: sid.clone(),
            upgrades,
            ping_interval: config.ping_interval,
            ping_timeout: config.ping_timeout,
            max_payload: Some(config.max_payload as u64),
        };
        let mut json = Vec::new();
        open.encode(&mut json);
        let open = Packet {
            packet_type: PacketType::Open,
            data: Data::Text(
                Utf8Bytes::try_from_bytes(Bytes::from(json).slice(1..)).expect("JSON is UTF-8"),
            ),
        };
        let mut session = ServerSession {
            sid,
            version: handshake.version,
            supports_binary: !handshake.b64 && handshake.jsonp_index.is_none(),
            jsonp_index: handshake.jsonp_index.clone(),
            active,
            probe: None,
            queue: VecDeque::from([Queued::Packet(open)]),
            queued_bytes: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            timers: [None; TIMERS],
            state: State::Open,
            config,
        };
        match session.version {
            ProtocolVersion::V4 => session.set(Timer::Ping, now + session.config.ping_interval),
            ProtocolVersion::V3 => session.arm_liveness(now),
        }
        session
    }

    /// The session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The protocol version.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The transport the session runs on now.
    pub fn transport(&self) -> Transport {
        match self.active {
            Active::Polling { .. } => Transport::Polling,
            Active::WebSocket { .. } => Transport::Websocket,
        }
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether a message sent now goes out at once: on a WebSocket, or on polling with a GET
    /// parked. Volatile messages (Socket.IO's `volatile` flag) are dropped when this is false,
    /// as the reference does.
    pub fn is_writable(&self) -> bool {
        self.state == State::Open
            && matches!(
                self.active,
                Active::WebSocket { .. } | Active::Polling { get: Some(_), .. }
            )
    }

    /// Queues a message for the client.
    ///
    /// Fails when the session is closing or closed, and for data the session's protocol cannot
    /// carry (v4 text containing `\x1e`, which polling cannot frame, while the session may
    /// still send it by polling).
    pub fn send(&mut self, data: Data) -> Result<(), SessionError> {
        if self.state != State::Open {
            return Err(SessionError::Closed);
        }
        if let Data::Text(t) = &data {
            self.check_text(t.as_bytes())?;
        }
        let size = match &data {
            Data::Text(t) => t.len(),
            Data::Binary(b) => b.len(),
            Data::None => 0,
        };
        self.enqueue(
            Queued::Packet(Packet {
                packet_type: PacketType::Message,
                data,
            }),
            size,
        );
        Ok(())
    }

    /// Queues a text message given in its WebSocket frame form, `4` followed by the text
    /// (the same in v3 and v4). A broadcast encodes its frame once and shares it: on a
    /// WebSocket the frame goes out as it is, with no copy and no second UTF-8 check; on
    /// polling its text is written into the body.
    ///
    /// Fails as [`ServerSession::send`] does, and with [`EncodeError::NotAMessageFrame`] when
    /// `frame` does not start with `4`.
    pub fn send_text_frame(&mut self, frame: Utf8Bytes) -> Result<(), SessionError> {
        if let Some(transmit) = self.send_text_frame_now(frame)? {
            self.transmits.push_back(transmit);
        }
        Ok(())
    }

    /// [`ServerSession::send_text_frame`], handing back the frame's transmit when nothing of
    /// this session waits before it (a WebSocket with empty queues): the endpoint then puts
    /// it straight on its own queue, one hop less per broadcast recipient.
    pub(crate) fn send_text_frame_now(
        &mut self,
        frame: Utf8Bytes,
    ) -> Result<Option<Transmit>, SessionError> {
        if self.state != State::Open {
            return Err(SessionError::Closed);
        }
        if frame.as_bytes().first() != Some(&b'4') {
            return Err(SessionError::Encode(EncodeError::NotAMessageFrame));
        }
        self.check_text(&frame.as_bytes()[1..])?;
        match self.active {
            Active::WebSocket { socket, .. } if self.queue.is_empty() => {
                let frame = Frame::Text(frame);
                let transmit = Transmit::Frame { socket, frame };
                if self.transmits.is_empty() {
                    return Ok(Some(transmit));
                }
                self.transmits.push_back(transmit);
            }
            _ => {
                let size = frame.len();
                self.enqueue(Queued::TextFrame(frame), size);
            }
        }
        Ok(None)
    }

    /// Queues a message; past [`ServerConfig::max_queued_bytes`] the session closes.
    fn enqueue(&mut self, queued: Queued, size: usize) {
        self.queue.push_back(queued);
        self.queued_bytes += size;
        if self.queued_bytes > self.config.max_queued_bytes {
            self.fail(CloseReason::BacklogFull);
        }
    }

    /// v4 polling cannot carry `\x1e` in text; a session on a WebSocket never polls again.
    fn check_text(&self, text: &[u8]) -> Result<(), SessionError> {
        let may_poll = matches!(self.active, Active::Polling { .. });
        if self.version == ProtocolVersion::V4 && may_poll && text.contains(&RECORD_SEPARATOR) {
            return Err(SessionError::Encode(EncodeError::RecordSeparatorInText));
        }
        Ok(())
    }

    /// Closes the session (reason [`CloseReason::ForcedClose`]). Queued messages are sent
    /// first: at once on a WebSocket; on polling with the next GET, followed by `1`, or
    /// dropped after [`ServerConfig::close_timeout`] if no GET comes.
    pub fn close(&mut self, now: Instant) {
        if self.state != State::Open {
            return;
        }
        self.drop_probe();
        match self.active {
            Active::WebSocket { socket, .. } => {
                self.flush();
                self.transmits.push_back(Transmit::CloseSocket { socket });
                self.finish(CloseReason::ForcedClose);
            }
            Active::Polling { .. } => {
                self.queue
                    .push_back(Queued::Packet(Packet::new(PacketType::Close)));
                self.state = State::Closing;
                self.timers = [None; TIMERS];
                self.set(Timer::Close, now + self.config.close_timeout);
            }
        }
    }

    /// A long-poll GET for this session.
    pub fn handle_get(&mut self, _now: Instant, request: RequestId) {
        if self.state == State::Closed {
            return self.respond(request, HttpResponse::error(ErrorCode::UnknownSid));
        }
        let Active::Polling { get, .. } = &mut self.active else {
            return self.respond(request, HttpResponse::error(ErrorCode::BadRequest));
        };
        if get.is_some() {
            // The reference answers the pending GET with `1` and this one with 400.
            self.respond(request, HttpResponse::empty(400));
            return self.fail(CloseReason::TransportError);
        }
        *get = Some(request);
    }

    /// A POST for this session began. Read its body (refusing more than
    /// [`ServerConfig::max_payload`] bytes, see [`ServerSession::handle_post_too_large`]), then
    /// call [`ServerSession::handle_post_body`]. Returns `false` when the session has already
    /// answered the request: do not read the body then.
    pub fn handle_post(&mut self, _now: Instant, request: RequestId) -> bool {
        if self.state == State::Closed {
            self.respond(request, HttpResponse::error(ErrorCode::UnknownSid));
            return false;
        }
        let Active::Polling { post, .. } = &mut self.active else {
            self.respond(request, HttpResponse::error(ErrorCode::BadRequest));
            return false;
        };
        if post.is_some() {
            self.respond(request, HttpResponse::empty(400));
            self.fail(CloseReason::TransportError);
            return false;
        }
        *post = Some(request);
        true
    }

    /// The POST's body was over [`ServerConfig::max_payload`]: answered with 413, and the
    /// session stays open (engine.io 6.6).
    pub fn handle_post_too_large(&mut self, _now: Instant, request: RequestId) {
        if self.take_post(request) {
            self.respond(request, HttpResponse::empty(413));
        }
    }

    /// The complete body of a POST, with its `Content-Type`. Its packets are processed in order
    /// before the `ok` answer; a bad packet closes the session (`parse error`) after the ones
    /// before it, as the reference does.
    pub fn handle_post_body(
        &mut self,
        now: Instant,
        request: RequestId,
        content_type: Option<&str>,
        body: Bytes,
    ) {
        if !self.take_post(request) {
            return;
        }
        if self.state == State::Closed {
            // The session ended while the body was read (the reference destroys the request).
            return self.respond(request, HttpResponse::empty(400));
        }
        if body.len() > self.config.max_payload {
            return self.respond(request, HttpResponse::empty(413));
        }
        let decoded = match &self.jsonp_index {
            Some(_) => jsonp::decode_request(&body).map(|payload| {
                let format = if self.version == ProtocolVersion::V4 {
                    PayloadFormat::V4
                } else {
                    PayloadFormat::V3Text
                };
                (format, Bytes::from(payload))
            }),
            None => {
                PayloadFormat::for_request(self.version, content_type).map(|format| (format, body))
            }
        };
        let (format, body) = match decoded {
            Ok(decoded) => decoded,
            Err(DecodeError::BinaryPayloadNotSupported) => {
                self.respond(request, HttpResponse::empty(400));
                return self.fail(CloseReason::TransportError);
            }
            Err(_) => {
                self.respond(request, HttpResponse::empty(400));
                return self.fail(CloseReason::ParseError);
            }
        };
        let limits = Limits::default()
            .with_max_payload(self.config.max_payload)
            .with_max_packets(self.config.max_packets);
        let (packets, error) = decode_payload_owned(format, &body, &limits);
        for packet in packets {
            self.on_packet(now, packet);
            if self.state == State::Closed {
                // Packets after a `1` are ignored; the POST itself succeeded.
                return self.respond(request, HttpResponse::ok());
            }
        }
        match error {
            Some(DecodeError::PayloadTooLarge) => self.respond(request, HttpResponse::empty(413)),
            Some(_) => {
                self.respond(request, HttpResponse::empty(400));
                self.fail(CloseReason::ParseError);
            }
            None => self.respond(request, HttpResponse::ok()),
        }
    }

    /// An HTTP request of this session ended before it was answered (the client went away).
    /// The reference closes the session (`transport error`).
    pub fn handle_request_aborted(&mut self, _now: Instant, request: RequestId) {
        if let Active::Polling { get, post } = &mut self.active {
            if *get == Some(request) || *post == Some(request) {
                *get = get.filter(|r| *r != request);
                *post = post.filter(|r| *r != request);
                self.fail(CloseReason::TransportError);
            }
        }
    }

    /// A WebSocket for this existing session was accepted (the upgrade). `b64` is that
    /// request's `b64` flag. If the session cannot upgrade (already upgrading or upgraded,
    /// upgrades off, closed), the socket is closed at once, as in the reference.
    pub fn handle_websocket_open(&mut self, now: Instant, socket: SocketId, b64: bool) {
        let can_upgrade = self.state == State::Open
            && self.config.allow_upgrades
            && self.probe.is_none()
            && matches!(self.active, Active::Polling { .. });
        if !can_upgrade {
            return self.transmits.push_back(Transmit::CloseSocket { socket });
        }
        self.probe = Some(Probe { socket, b64 });
        self.set(Timer::Upgrade, now + self.config.upgrade_timeout);
    }

    /// A frame arrived on one of this session's WebSockets.
    pub fn handle_websocket_frame(&mut self, now: Instant, socket: SocketId, frame: Frame) {
        if self.state == State::Closed {
            return;
        }
        let size = match &frame {
            Frame::Text(t) => t.len(),
            Frame::Binary(b) => b.len(),
        };
        let packet = match &frame {
            Frame::Text(t) => Packet::decode_text_frame(self.version, t),
            Frame::Binary(b) => Packet::decode_binary_frame(self.version, b),
        };
        if self.probe.as_ref().is_some_and(|p| p.socket == socket) {
            return self.on_probe_packet(now, socket, packet.ok());
        }
        if !matches!(self.active, Active::WebSocket { socket: s, .. } if s == socket) {
            return;
        }
        if size > self.config.max_payload {
            // What `ws` does with `maxPayload`: close 1009, then the session ends.
            self.transmits.push_back(Transmit::CloseSocket { socket });
            return self.fail(CloseReason::TransportError);
        }
        match packet {
            Ok(packet) => self.on_packet(now, packet),
            Err(_) => {
                self.transmits.push_back(Transmit::CloseSocket { socket });
                self.fail(CloseReason::ParseError);
            }
        }
    }

    /// One of this session's WebSockets closed.
    pub fn handle_websocket_closed(&mut self, _now: Instant, socket: SocketId) {
        if self.probe.as_ref().is_some_and(|p| p.socket == socket) {
            self.probe = None;
            self.timers[Timer::Upgrade as usize] = None;
            self.timers[Timer::Noop as usize] = None;
        } else if matches!(self.active, Active::WebSocket { socket: s, .. } if s == socket)
            && self.state != State::Closed
        {
            self.finish(CloseReason::TransportClose);
        }
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due = |t: Timer, timers: &[Option<Instant>; TIMERS]| {
            timers[t as usize].is_some_and(|at| at <= now)
        };
        if due(Timer::Close, &self.timers) {
            self.timers[Timer::Close as usize] = None;
            self.queue.retain(|q| q.packet_type() != PacketType::Close);
            self.finish(CloseReason::ForcedClose);
        }
        if due(Timer::PingTimeout, &self.timers) {
            return self.fail(CloseReason::PingTimeout);
        }
        if due(Timer::Ping, &self.timers) {
            self.timers[Timer::Ping as usize] = None;
            self.queue
                .push_back(Queued::Packet(Packet::new(PacketType::Ping)));
            // The timeout runs from when the ping is queued, not delivered.
            self.set(Timer::PingTimeout, now + self.config.ping_timeout);
        }
        if due(Timer::Upgrade, &self.timers) {
            self.drop_probe();
        }
        if due(Timer::Noop, &self.timers) {
            self.set(Timer::Noop, now + self.config.noop_interval);
            self.release_get(PacketType::Noop);
        }
    }

    /// The next thing to put on the wire.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.transmits.is_empty() {
            self.flush();
        }
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`ServerSession::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    fn set(&mut self, timer: Timer, at: Instant) {
        self.timers[timer as usize] = Some(at);
    }

    fn arm_liveness(&mut self, now: Instant) {
        self.set(
            Timer::PingTimeout,
            now + self.config.ping_interval + self.config.ping_timeout,
        );
    }

    /// Answers a parked GET, if there is one, with a body holding just `packet_type` (`6` or
    /// `1`).
    fn release_get(&mut self, packet_type: PacketType) {
        let Active::Polling {
            get: Some(request),
            post,
        } = self.active
        else {
            return;
        };
        let body = self.polling_body(&[Packet::new(packet_type)]);
        self.active = Active::Polling { get: None, post };
        self.respond(request, body);
    }

    fn take_post(&mut self, request: RequestId) -> bool {
        match &mut self.active {
            Active::Polling { post, .. } if *post == Some(request) => {
                *post = None;
                true
            }
            _ => false,
        }
    }

    fn respond(&mut self, request: RequestId, response: HttpResponse) {
        self.transmits
            .push_back(Transmit::Response { request, response });
    }

    fn on_packet(&mut self, now: Instant, packet: Packet) {
        match (packet.packet_type, self.version) {
            (PacketType::Message, _) => self.events.push_back(SessionEvent::Message(packet.data)),
            (PacketType::Pong, ProtocolVersion::V4) => {
                self.timers[Timer::PingTimeout as usize] = None;
                self.set(Timer::Ping, now + self.config.ping_interval);
            }
            (PacketType::Ping, ProtocolVersion::V3) => {
                // The reference answers without echoing the ping's data.
                self.arm_liveness(now);
                if self.state == State::Open {
                    self.queue
                        .push_back(Queued::Packet(Packet::new(PacketType::Pong)));
                }
            }
            // A heartbeat in the wrong direction.
            (PacketType::Ping, ProtocolVersion::V4) | (PacketType::Pong, ProtocolVersion::V3) => {
                self.fail(CloseReason::TransportError)
            }
            (PacketType::Close, _) => {
                // The reference releases a pending GET with `6`, not `1`.
                self.release_get(PacketType::Noop);
                if let Active::WebSocket { socket, .. } = self.active {
                    self.transmits.push_back(Transmit::CloseSocket { socket });
                }
                self.drop_probe();
                self.finish(CloseReason::TransportClose);
            }
            (PacketType::Open | PacketType::Upgrade | PacketType::Noop, _) => {}
        }
    }

    fn on_probe_packet(&mut self, now: Instant, socket: SocketId, packet: Option<Packet>) {
        let probe_ping = Packet {
            packet_type: PacketType::Ping,
            data: Data::Text(Utf8Bytes::from_static("probe")),
        };
        match packet {
            Some(p) if p == probe_ping => {
                let pong = Frame::Text(Utf8Bytes::from_static("3probe"));
                self.transmits.push_back(Transmit::Frame {
                    socket,
                    frame: pong,
                });
                self.events.push_back(SessionEvent::Upgrading);
                self.set(Timer::Noop, now + self.config.noop_interval);
            }
            Some(p) if p.packet_type == PacketType::Upgrade => self.complete_upgrade(),
            // Anything else: the upgrade fails and the session stays on polling.
            _ => self.drop_probe(),
        }
    }

    fn complete_upgrade(&mut self) {
        let Some(probe) = self.probe.take() else {
            return;
        };
        self.timers[Timer::Upgrade as usize] = None;
        self.timers[Timer::Noop as usize] = None;
        // The client paused polling; a GET still parked would never be answered.
        self.release_get(PacketType::Noop);
        self.active = Active::WebSocket {
            socket: probe.socket,
            b64: probe.b64,
        };
        self.events.push_back(SessionEvent::Upgraded);
        if self.state == State::Closing {
            // A close requested during the upgrade completes on the new transport.
            self.queue.retain(|q| q.packet_type() != PacketType::Close);
            self.flush();
            self.transmits.push_back(Transmit::CloseSocket {
                socket: probe.socket,
            });
            self.finish(CloseReason::ForcedClose);
        }
    }

    fn drop_probe(&mut self) {
        if let Some(probe) = self.probe.take() {
            self.transmits.push_back(Transmit::CloseSocket {
                socket: probe.socket,
            });
        }
        self.timers[Timer::Upgrade as usize] = None;
        self.timers[Timer::Noop as usize] = None;
    }

    /// Writes the queue to the transport, if it can take it now.
    fn flush(&mut self) {
        if self.state == State::Closed || self.queue.is_empty() {
            return;
        }
        match self.active {
            Active::Polling {
                get: Some(request),
                post,
            } => {
                let packets: Vec<Packet> = self.queue.drain(..).map(Queued::into_packet).collect();
                self.queued_bytes = 0;
                let closing = packets.iter().any(|p| p.packet_type == PacketType::Close);
                let body = self.polling_body(&packets);
                self.active = Active::Polling { get: None, post };
                self.respond(request, body);
                if closing {
                    self.finish(CloseReason::ForcedClose);
                }
            }
            Active::Polling { get: None, .. } => {}
            Active::WebSocket { socket, b64 } => {
                self.queued_bytes = 0;
                while let Some(queued) = self.queue.pop_front() {
                    let packet = match queued {
                        Queued::TextFrame(frame) => {
                            let frame = Frame::Text(frame);
                            self.transmits.push_back(Transmit::Frame { socket, frame });
                            continue;
                        }
                        Queued::Packet(packet) => packet,
                    };
                    match packet.to_frame(self.version, b64) {
                        Ok(frame) => self.transmits.push_back(Transmit::Frame { socket, frame }),
                        Err(e) => {
                            debug_assert!(false, "send() admitted an unencodable packet: {e}")
                        }
                    }
                }
            }
        }
    }

    fn polling_body(&self, packets: &[Packet]) -> HttpResponse {
        let refs = || packets.iter().map(Packet::as_packet_ref);
        let format = match &self.jsonp_index {
            Some(_) if self.version == ProtocolVersion::V3 => PayloadFormat::V3Text,
            _ => PayloadFormat::for_response(self.version, self.supports_binary, refs()),
        };
        let mut body = Vec::new();
        if let Err(e) = encode_payload(format, refs(), usize::MAX, &mut body) {
            debug_assert!(false, "send() admitted an unencodable packet: {e}");
        }
        if let Some(j) = &self.jsonp_index {
            let payload = String::from_utf8_lossy(&body).into_owned();
            body.clear();
            jsonp::encode_response(j, &payload, &mut body);
        }
        HttpResponse {
            status: 200,
            content_type: Some(format.content_type()),
            body: Bytes::from(body),
        }
    }

    /// Ends the session abruptly: a pending GET gets `1`, a WebSocket is closed.
    fn fail(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.release_get(PacketType::Close);
        if let Active::WebSocket { socket, .. } = self.active {
            self.transmits.push_back(Transmit::CloseSocket { socket });
        }
        self.drop_probe();
        self.finish(reason);
    }

    fn finish(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.timers = [None; TIMERS];
        let undelivered = self
            .queue
            .drain(..)
            .map(Queued::into_packet)
            .filter(|p| p.packet_type == PacketType::Message)
            .collect();
        self.events.push_back(SessionEvent::Closed {
            reason,
            undelivered,
        });
    }
}
