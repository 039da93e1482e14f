//! The client side: one [`ClientSession`] per connection to an Engine.IO server, usable from
//! any runtime's HTTP and WebSocket client.
//!
//! # Run loop
//!
//! 1. Create the session with [`ClientSession::new`]; it asks for its first request.
//! 2. Drain [`ClientSession::poll_transmit`] and carry each [`Transmit`] out: an HTTP GET or POST
//!    to the Engine.IO path (for example `http://host/engine.io/?` + the query), opening a
//!    WebSocket, sending a frame, closing a socket. Report every outcome:
//!    [`ClientSession::handle_response`], [`ClientSession::handle_request_failed`],
//!    [`ClientSession::handle_websocket_open`], [`ClientSession::handle_websocket_frame`],
//!    [`ClientSession::handle_websocket_closed`].
//! 3. After every input, drain `poll_transmit` and [`ClientSession::poll_event`] until both
//!    return `None`; then wait for I/O or until [`ClientSession::poll_timeout`] and call
//!    [`ClientSession::handle_timeout`].
//!
//! The session keeps at most one GET and one POST in flight, as the protocol requires, and
//! upgrades to WebSocket when the server offers it: it probes the new socket, waits for the
//! in-flight polls to finish, switches, and flushes what was queued.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{CloseReason, RequestId, SessionError, SocketId};
use crate::EncodeError;
use crate::handshake::{OpenPacket, Transport};
use crate::packet::{Data, Frame, Packet, PacketType, ProtocolVersion};
use crate::payload::{
    Limits, PayloadFormat, RECORD_SEPARATOR, decode_payload_owned, encode_payload,
};
use crate::utf8::Utf8Bytes;

/// Client settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The protocol version to speak. v4 by default.
    pub version: ProtocolVersion,
    /// The first transport: polling (the default, upgraded when the server allows) or
    /// WebSocket only.
    pub transport: Transport,
    /// Upgrade from polling to WebSocket when the server offers it. On.
    pub upgrade: bool,
    /// Ask the server for binary data in base64 (`b64=1`, the JS client's `forceBase64`).
    pub force_base64: bool,
    /// Extra query parameters, already encoded (`token=abc&x=1`), appended to every request.
    pub query: String,
    /// The largest body sent before the server said its `maxPayload`.
    pub max_payload: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            version: ProtocolVersion::V4,
            transport: Transport::Polling,
            upgrade: true,
            force_base64: false,
            query: String::new(),
            max_payload: 1_000_000,
        }
    }
}

/// Something for the driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transmit {
    /// Send an HTTP GET with this query string; report the answer under `request`.
    Get {
        /// Identifies the request in later reports.
        request: RequestId,
        /// The query string, without `?`.
        query: String,
    },
    /// Send an HTTP POST.
    Post {
        /// Identifies the request in later reports.
        request: RequestId,
        /// The query string, without `?`.
        query: String,
        /// The request's `Content-Type`.
        content_type: &'static str,
        /// The body.
        body: Bytes,
    },
    /// Open a WebSocket with this query string; report it under `socket`.
    OpenWebSocket {
        /// Identifies the socket in later reports.
        socket: SocketId,
        /// The query string, without `?`.
        query: String,
    },
    /// Send a frame.
    Frame {
        /// The socket.
        socket: SocketId,
        /// The frame.
        frame: Frame,
    },
    /// Close a WebSocket.
    CloseSocket {
        /// The socket.
        socket: SocketId,
    },
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// The handshake succeeded.
    Open(OpenPacket),
    /// The server sent a message.
    Message(Data),
    /// The session switched to the WebSocket.
    Upgraded,
    /// The session ended; the last event. `undelivered` holds queued messages never sent.
    Closed {
        /// Why.
        reason: CloseReason,
        /// Queued messages that were never sent.
        undelivered: Vec<Packet>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// v3: when to send the next ping.
    Ping,
    /// No sign of life from the server by then: ping timeout.
    Liveness,
}

const TIMERS: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Handshaking,
    Open,
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Active {
    Polling {
        get: Option<RequestId>,
        post: Option<RequestId>,
    },
    WebSocket(SocketId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Probe {
    socket: SocketId,
    /// `3probe` arrived: polling is pausing.
    pausing: bool,
}

/// One Engine.IO session on the client. See the [module docs](self) for the run loop.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    state: State,
    open: Option<OpenPacket>,
    active: Active,
    probe: Option<Probe>,
    queue: VecDeque<Packet>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<ClientEvent>,
    timers: [Option<Instant>; TIMERS],
    next_id: u64,
}

impl ClientSession {
    /// Starts a session: the first transmit is the handshake request.
    pub fn new(_now: Instant, config: ClientConfig) -> ClientSession {
        let mut session = ClientSession {
            state: State::Handshaking,
            open: None,
            active: Active::Polling {
                get: None,
                post: None,
            },
            probe: None,
            queue: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            timers: [None; TIMERS],
            next_id: 0,
            config,
        };
        if session.config.transport == Transport::Websocket {
            let socket = SocketId(session.id());
            let query = session.query(Transport::Websocket);
            session.active = Active::WebSocket(socket);
            session
                .transmits
                .push_back(Transmit::OpenWebSocket { socket, query });
        } else {
            session.poll();
        }
        session
    }

    /// The session id, once the handshake is done.
    pub fn sid(&self) -> Option<&str> {
        self.open.as_ref().map(|o| o.sid.as_str())
    }

    /// The transport in use.
    pub fn transport(&self) -> Transport {
        match self.active {
            Active::Polling { .. } => Transport::Polling,
            Active::WebSocket(_) => Transport::Websocket,
        }
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Queues a message for the server; it goes out as soon as the transport allows.
    pub fn send(&mut self, data: Data) -> Result<(), SessionError> {
        if self.state == State::Closed {
            return Err(SessionError::Closed);
        }
        if let (ProtocolVersion::V4, Data::Text(t)) = (self.config.version, &data) {
            if t.as_bytes().contains(&RECORD_SEPARATOR) {
                return Err(SessionError::Encode(EncodeError::RecordSeparatorInText));
            }
        }
        if data.as_data_ref().len() > self.max_payload() {
            return Err(SessionError::TooLarge);
        }
        self.queue.push_back(Packet {
            packet_type: PacketType::Message,
            data,
        });
        Ok(())
    }

    /// Closes the session ([`CloseReason::ForcedClose`]): queued messages are sent first, then
    /// `1` on polling (in the same POST when they fit), or the WebSocket is closed.
    pub fn close(&mut self, _now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if let Some(probe) = self.probe.take() {
            self.transmits.push_back(Transmit::CloseSocket {
                socket: probe.socket,
            });
        }
        match self.active {
            Active::WebSocket(socket) => {
                self.flush();
                self.transmits.push_back(Transmit::CloseSocket { socket });
            }
            Active::Polling { post, .. } if self.state == State::Open => {
                // The `1` goes behind the queue; whatever does not fit in this POST is lost, as
                // in the JS client, and handed back below.
                self.queue.push_back(Packet::new(PacketType::Close));
                if post.is_none() {
                    self.flush();
                }
                let close_sent = !self
                    .queue
                    .iter()
                    .any(|p| p.packet_type == PacketType::Close);
                if !close_sent {
                    // A POST is in flight: send the close on its own right away.
                    self.queue.retain(|p| p.packet_type != PacketType::Close);
                    let request = RequestId(self.id());
                    let (content_type, body) = self.post_body(&[Packet::new(PacketType::Close)]);
                    let query = self.query(Transport::Polling);
                    self.transmits.push_back(Transmit::Post {
                        request,
                        query,
                        content_type,
                        body,
                    });
                }
            }
            Active::Polling { .. } => {}
        }
        self.finish(CloseReason::ForcedClose);
    }

    /// The answer to an HTTP request.
    pub fn handle_response(
        &mut self,
        now: Instant,
        request: RequestId,
        status: u16,
        content_type: Option<&str>,
        body: Bytes,
    ) {
        let Active::Polling { get, post } = &mut self.active else {
            return;
        };
        let is_get = *get == Some(request);
        if is_get {
            *get = None;
        } else if *post == Some(request) {
            *post = None;
        } else {
            return;
        }
        if self.state == State::Closed {
            return;
        }
        if status != 200 {
            return self.fail(CloseReason::TransportError);
        }
        if is_get {
            let format = PayloadFormat::for_request(self.config.version, content_type)
                .unwrap_or(PayloadFormat::V4);
            let limits = Limits::default()
                .with_max_payload(usize::MAX)
                .with_max_packets(usize::MAX);
            let (packets, error) = decode_payload_owned(format, &body, &limits);
            for packet in packets {
                self.on_packet(now, packet);
                if self.state == State::Closed {
                    return;
                }
            }
            if error.is_some() {
                return self.fail(CloseReason::ParseError);
            }
        }
        self.after_poll();
    }

    /// An HTTP request failed (network error, connection reset).
    pub fn handle_request_failed(&mut self, _now: Instant, request: RequestId) {
        if let Active::Polling { get, post } = self.active {
            if get == Some(request) || post == Some(request) {
                self.fail(CloseReason::TransportError);
            }
        }
    }

    /// A WebSocket this session asked for is connected.
    pub fn handle_websocket_open(&mut self, _now: Instant, socket: SocketId) {
        if self.probe.is_some_and(|p| p.socket == socket) {
            let ping = Frame::Text(Utf8Bytes::from_static("2probe"));
            self.transmits.push_back(Transmit::Frame {
                socket,
                frame: ping,
            });
        }
    }

    /// A frame arrived on a WebSocket of this session.
    pub fn handle_websocket_frame(&mut self, now: Instant, socket: SocketId, frame: Frame) {
        if self.state == State::Closed {
            return;
        }
        let packet = match &frame {
            Frame::Text(t) => Packet::decode_text_frame(self.config.version, t),
            Frame::Binary(b) => Packet::decode_binary_frame(self.config.version, b),
        };
        if let Some(probe) = self.probe.filter(|p| p.socket == socket) {
            let is_probe_pong = matches!(&packet, Ok(p) if p.packet_type == PacketType::Pong && p.data == Data::Text(Utf8Bytes::from_static("probe")));
            if is_probe_pong && !probe.pausing {
                self.probe = Some(Probe {
                    pausing: true,
                    ..probe
                });
                return self.try_switch();
            }
            // Anything else: the upgrade failed; stay on polling.
            self.probe = None;
            return self.transmits.push_back(Transmit::CloseSocket { socket });
        }
        if self.active != Active::WebSocket(socket) {
            return;
        }
        match packet {
            Ok(packet) => self.on_packet(now, packet),
            Err(_) => {
                self.transmits.push_back(Transmit::CloseSocket { socket });
                self.fail(CloseReason::ParseError);
            }
        }
    }

    /// A WebSocket of this session closed (or failed to connect).
    pub fn handle_websocket_closed(&mut self, _now: Instant, socket: SocketId) {
        if self.probe.is_some_and(|p| p.socket == socket) {
            self.probe = None;
        } else if self.active == Active::WebSocket(socket) {
            self.finish(CloseReason::TransportClose);
        }
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timers[Timer::Liveness as usize].is_some_and(|at| at <= now) {
            return self.fail(CloseReason::PingTimeout);
        }
        if self.timers[Timer::Ping as usize].is_some_and(|at| at <= now) {
            self.timers[Timer::Ping as usize] = None;
            self.queue.push_front(Packet::new(PacketType::Ping));
        }
    }

    /// The next thing for the driver to do.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.transmits.is_empty() {
            self.flush();
        }
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When [`ClientSession::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn max_payload(&self) -> usize {
        self.open
            .as_ref()
            .and_then(|o| o.max_payload)
            .map_or(self.config.max_payload, |m| {
                usize::try_from(m).unwrap_or(usize::MAX)
            })
    }

    fn query(&self, transport: Transport) -> String {
        let mut query = format!(
            "EIO={}&transport={}",
            self.config.version.as_str(),
            transport.as_str()
        );
        if let Some(open) = &self.open {
            query.push_str("&sid=");
            query.push_str(&open.sid);
        }
        if self.config.force_base64 {
            query.push_str("&b64=1");
        }
        if !self.config.query.is_empty() {
            query.push('&');
            query.push_str(&self.config.query);
        }
        query
    }

    /// Issues the next long-poll GET, unless one is in flight or polling is paused.
    fn poll(&mut self) {
        let pausing = self.probe.is_some_and(|p| p.pausing);
        if let Active::Polling {
            get: get @ None, ..
        } = &mut self.active
        {
            if self.state == State::Closed || pausing {
                return;
            }
            self.next_id += 1;
            let request = RequestId(self.next_id);
            *get = Some(request);
            let query = self.query(Transport::Polling);
            self.transmits.push_back(Transmit::Get { request, query });
        }
    }

    fn after_poll(&mut self) {
        if self.probe.is_some_and(|p| p.pausing) {
            self.try_switch();
        } else {
            self.poll();
        }
    }

    /// Switches to the probed WebSocket once no poll is in flight.
    fn try_switch(&mut self) {
        let Some(probe) = self.probe else { return };
        if !matches!(
            self.active,
            Active::Polling {
                get: None,
                post: None
            }
        ) {
            return;
        }
        self.probe = None;
        self.active = Active::WebSocket(probe.socket);
        let upgrade = Frame::Text(Utf8Bytes::from_static("5"));
        self.transmits.push_back(Transmit::Frame {
            socket: probe.socket,
            frame: upgrade,
        });
        self.events.push_back(ClientEvent::Upgraded);
    }

    fn arm_liveness(&mut self, now: Instant) {
        if let Some(open) = &self.open {
            let at = now + open.ping_interval + open.ping_timeout;
            self.timers[Timer::Liveness as usize] = Some(at);
        }
    }

    fn on_packet(&mut self, now: Instant, packet: Packet) {
        if self.state == State::Handshaking {
            return self.on_open(now, packet);
        }
        if self.config.version == ProtocolVersion::V3 {
            // engine.io-client 3.x: any packet from the server proves it alive.
            self.arm_liveness(now);
        }
        match (packet.packet_type, self.config.version) {
            (PacketType::Message, _) => self.events.push_back(ClientEvent::Message(packet.data)),
            (PacketType::Ping, ProtocolVersion::V4) => {
                self.arm_liveness(now);
                self.queue.push_front(Packet::new(PacketType::Pong));
            }
            (PacketType::Pong, ProtocolVersion::V3) => {
                let interval = self
                    .open
                    .as_ref()
                    .map_or(Duration::ZERO, |o| o.ping_interval);
                self.timers[Timer::Ping as usize] = Some(now + interval);
            }
            (PacketType::Close, _) => {
                if let Active::WebSocket(socket) = self.active {
                    self.transmits.push_back(Transmit::CloseSocket { socket });
                }
                self.finish(CloseReason::TransportClose);
            }
            _ => {}
        }
    }

    fn on_open(&mut self, now: Instant, packet: Packet) {
        let open = match (&packet.packet_type, &packet.data) {
            (PacketType::Open, Data::Text(json)) => OpenPacket::decode(json),
            _ => return self.fail(CloseReason::ParseError),
        };
        let Ok(open) = open else {
            return self.fail(CloseReason::ParseError);
        };
        self.state = State::Open;
        let offers_websocket = open.upgrades.contains(&Transport::Websocket);
        let interval = open.ping_interval;
        self.events.push_back(ClientEvent::Open(open.clone()));
        self.open = Some(open);
        self.arm_liveness(now);
        if self.config.version == ProtocolVersion::V3 {
            self.timers[Timer::Ping as usize] = Some(now + interval);
        }
        if self.config.upgrade && offers_websocket && matches!(self.active, Active::Polling { .. })
        {
            let socket = SocketId(self.id());
            let query = self.query(Transport::Websocket);
            self.probe = Some(Probe {
                socket,
                pausing: false,
            });
            self.transmits
                .push_back(Transmit::OpenWebSocket { socket, query });
        }
    }

    /// Sends what is queued, if the transport can take it now.
    fn flush(&mut self) {
        if self.state != State::Open || self.queue.is_empty() {
            return;
        }
        match self.active {
            Active::WebSocket(socket) => {
                let base64 = self.config.force_base64;
                while let Some(packet) = self.queue.pop_front() {
                    match packet.to_frame(self.config.version, base64) {
                        Ok(frame) => self.transmits.push_back(Transmit::Frame { socket, frame }),
                        Err(e) => {
                            debug_assert!(false, "send() admitted an unencodable packet: {e}")
                        }
                    }
                }
            }
            Active::Polling { post: None, get } => {
                if self.probe.is_some_and(|p| p.pausing) {
                    return;
                }
                let packets: Vec<Packet> = self.queue.iter().cloned().collect();
                let format = self.post_format(&packets);
                let mut body = Vec::new();
                let sent = match encode_payload(
                    format,
                    packets.iter().map(Packet::as_packet_ref),
                    self.max_payload(),
                    &mut body,
                ) {
                    Ok(sent) => sent,
                    Err(e) => {
                        debug_assert!(false, "send() admitted an unencodable packet: {e}");
                        return;
                    }
                };
                self.queue.drain(..sent);
                let request = RequestId(self.id());
                self.active = Active::Polling {
                    get,
                    post: Some(request),
                };
                let query = self.query(Transport::Polling);
                self.transmits.push_back(Transmit::Post {
                    request,
                    query,
                    content_type: content_type(format),
                    body: body.into(),
                });
            }
            Active::Polling { .. } => {}
        }
    }

    fn post_format(&self, packets: &[Packet]) -> PayloadFormat {
        PayloadFormat::for_response(
            self.config.version,
            !self.config.force_base64,
            packets.iter().map(Packet::as_packet_ref),
        )
    }

    fn post_body(&self, packets: &[Packet]) -> (&'static str, Bytes) {
        let format = self.post_format(packets);
        let mut body = Vec::new();
        if encode_payload(
            format,
            packets.iter().map(Packet::as_packet_ref),
            usize::MAX,
            &mut body,
        )
        .is_err()
        {
            debug_assert!(false, "control packets always encode");
        }
        (content_type(format), body.into())
    }

    fn fail(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        if let Active::WebSocket(socket) = self.active {
            self.transmits.push_back(Transmit::CloseSocket { socket });
        }
        if let Some(probe) = self.probe.take() {
            self.transmits.push_back(Transmit::CloseSocket {
                socket: probe.socket,
            });
        }
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
            .filter(|p| p.packet_type == PacketType::Message)
            .collect();
        self.events.push_back(ClientEvent::Closed {
            reason,
            undelivered,
        });
    }
}

/// The `Content-Type` the JS client puts on a POST in this format.
fn content_type(format: PayloadFormat) -> &'static str {
    match format {
        PayloadFormat::V3Binary => "application/octet-stream",
        PayloadFormat::V4 | PayloadFormat::V3Text => "text/plain;charset=UTF-8",
    }
}
