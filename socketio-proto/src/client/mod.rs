//! The client side: a [`Manager`] per connection to a Socket.IO server, holding one Engine.IO
//! [`ClientSession`] at a time (a new one per (re)connection attempt) and the state of every
//! namespace socket joined through it, as socket.io-client's `Manager` and `Socket` do.
//!
//! # Run loop
//!
//! 1. Create the manager with [`Manager::new`]: it opens the first Engine.IO session at once
//!    (socket.io-client's `autoConnect`). Join namespaces with [`Manager::connect`]; emit with
//!    [`Manager::emit`] (before the namespace is connected, emits wait in the send buffer).
//! 2. Drain [`Manager::poll_transmit`] and carry each [`Transmit`] out exactly as for an
//!    Engine.IO client (see [`engineio_proto::session::client`]); report every outcome with
//!    [`Manager::handle_response`], [`Manager::handle_request_failed`],
//!    [`Manager::handle_websocket_open`], [`Manager::handle_websocket_frame`],
//!    [`Manager::handle_websocket_closed`]. The request and socket ids in the transmits are the
//!    manager's: they tell sessions apart, so a late answer to an abandoned session is ignored.
//! 3. **After every input and every command, drain `poll_transmit` and
//!    [`Manager::poll_event`] until both return `None`**; then wait for I/O or until
//!    [`Manager::poll_timeout`] and call [`Manager::handle_timeout`]. An early call is harmless.
//!
//! The manager never reads a clock and never draws random numbers itself: time is an argument
//! and the reconnection jitter comes from the `random` function given to [`Manager::new`]
//! (one draw per scheduled attempt, as in socket.io-client), so tests replay exact delays.
//!
//! # What it does, after socket.io-client 4.8
//!
//! * **Reconnection** ([`Backoff`]): when the Engine.IO session closes (or fails to open), a
//!   new one is opened after `reconnectionDelay * 2^attempts` with one-draw jitter, capped at
//!   `reconnectionDelayMax`, up to `reconnectionAttempts` times. Every active namespace socket
//!   sends CONNECT again on each new session. Not after [`Manager::close`], a server DISCONNECT
//!   or CONNECT_ERROR (those stop their namespace), or once no namespace socket is active.
//! * **Buffers**: emits while the namespace is not connected wait in a send buffer and go out,
//!   in order, right after the CONNECT reply; volatile emits are dropped instead while the
//!   Engine.IO session is not open. Events received before the CONNECT reply are held and
//!   delivered right after [`ManagerEvent::Connected`].
//! * **Acks** with an optional timeout, reported as [`ManagerEvent::Ack`] or [`ManagerEvent::AckFailed`].
//! * **`retries`** (at-least-once): every non-volatile emit goes through a FIFO queue whose
//!   head alone is in flight, with a fresh ack id per try.
//! * **Connection state recovery**: the `pid` of the CONNECT reply and the last string
//!   argument of received events are sent back in the next CONNECT.
//!
//! Protocol v4 (socket.io 2.x over Engine.IO v3) is spoken too: the server joins `/` by
//! itself, so only other namespaces send CONNECT, and a CONNECT without payload counts as
//! connected.
//!
//! # Where it differs from socket.io-client
//!
//! * [`ManagerEvent::Connected`] comes first, then the events held in the receive buffer (the JS
//!   client runs the buffered listeners before the `connect` listener).
//! * A pending ack without timeout is reported as failed ([`AckError::Disconnected`]) when
//!   the namespace disconnects (the JS client drops the callback silently); an ack is never
//!   left hanging.
//! * With `retries`, any ACK counts as success (the JS client reads the server's first ack
//!   argument as an error when no timeout is set), and the queue's outcome is always reported,
//!   under [`AckRef::Queued`].
//! * `Disconnected` is only reported for a namespace that was connected.
//! * "The transport is writable" (volatile emits) is approximated by "the Engine.IO session is
//!   open"; the JS client also drops a volatile emit while a polling POST is in flight.
//! * Protocol v4 CONNECT_ERROR (ERROR) stops the namespace, as in v5 (socket.io-client 2.x
//!   only reported it).
//! * Auth objects keep their key order as given; JavaScript would move integer-like keys first.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use engineio_proto::Data;
use engineio_proto::ProtocolVersion as EngineVersion;
pub use engineio_proto::session::client::Transmit;
use engineio_proto::session::client::{ClientConfig, ClientEvent, ClientSession};
use engineio_proto::session::{CloseReason, RequestId, SessionError as EngineError, SocketId};

use super::SessionError;
use serde::Serialize;

use crate::{
    AckId, DecodeStatus, Decoder, Limits, Namespace, Packet, PacketType, ProtocolVersion,
    RESERVED_EVENT_NAMES, Utf8Bytes, WireAction,
};

mod auth;
mod config;
mod events;
mod namespaces;

pub use auth::Auth;
pub use config::{Backoff, EmitOptions, ManagerConfig, SocketOptions};
pub use events::{AckError, AckRef, ConnectError, DisconnectReason, ManagerEvent, OpenError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ready {
    Closed,
    Opening,
    Open,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// The Engine.IO session must be open by then (`timeout`).
    Open,
    /// When to start the next reconnection attempt.
    Reconnect,
}

const TIMERS: usize = 2;

/// Request and socket ids carry the session generation in their top bits.
const GENERATION_SHIFT: u32 = 48;
const ENGINE_ID_MASK: u64 = (1 << GENERATION_SHIFT) - 1;

#[derive(Debug)]
struct PendingAck {
    deadline: Option<Instant>,
    target: AckRef,
}

#[derive(Debug)]
struct Queued {
    seq: u64,
    packet: Packet,
    timeout: Option<Duration>,
    tries: u32,
    pending: bool,
}

#[derive(Debug)]
struct NsSocket {
    namespace: Namespace,
    options: SocketOptions,
    /// Subscribed to the manager (JS `socket.active`).
    active: bool,
    connected: bool,
    sid: Option<String>,
    pid: Option<String>,
    last_offset: Option<String>,
    next_ack: u64,
    acks: BTreeMap<u64, PendingAck>,
    send_buffer: VecDeque<Packet>,
    receive_buffer: Vec<Packet>,
    queue: VecDeque<Queued>,
    queue_seq: u64,
}

/// The client for one Socket.IO server. See the [module docs](self) for the run loop.
pub struct Manager {
    config: ManagerConfig,
    random: Box<dyn FnMut() -> f64 + Send>,
    engine: Option<ClientSession>,
    generation: u64,
    ready: Ready,
    engine_sid: Option<String>,
    decoder: Decoder,
    backoff: Backoff,
    reconnecting: bool,
    skip_reconnect: bool,
    opening_for_reconnect: bool,
    /// v4: the server's automatic `40` arrived on this session.
    main_connected: bool,
    timers: [Option<Instant>; TIMERS],
    sockets: Vec<NsSocket>,
    ack_deadlines: BTreeSet<(Instant, usize, u64)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<ManagerEvent>,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("config", &self.config)
            .field("engine", &self.engine)
            .field("ready", &self.ready)
            .field("backoff", &self.backoff)
            .field("reconnecting", &self.reconnecting)
            .field("sockets", &self.sockets)
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// Creates the manager and opens the first Engine.IO session.
    ///
    /// `random` supplies the reconnection jitter: one uniform draw in `[0, 1)` per scheduled
    /// attempt (JavaScript's `Math.random()`); a test passes a scripted sequence.
    pub fn new(
        now: Instant,
        config: ManagerConfig,
        random: Box<dyn FnMut() -> f64 + Send>,
    ) -> Manager {
        let decoder = Decoder::with_parser(config.parser, config.version, config.limits);
        let backoff = config.backoff();
        let mut manager = Manager {
            config,
            random,
            engine: None,
            generation: 0,
            ready: Ready::Closed,
            engine_sid: None,
            decoder,
            backoff,
            reconnecting: false,
            skip_reconnect: false,
            opening_for_reconnect: false,
            main_connected: false,
            timers: [None; TIMERS],
            sockets: Vec::new(),
            ack_deadlines: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        manager.open(now, false);
        manager
    }

    // ---- getters ----

    /// The current Engine.IO session, if any.
    pub fn engine(&self) -> Option<&ClientSession> {
        self.engine.as_ref()
    }

    /// Whether an Engine.IO session is open.
    pub fn is_open(&self) -> bool {
        self.ready == Ready::Open
    }

    /// Whether a reconnection attempt is scheduled or under way.
    pub fn is_reconnecting(&self) -> bool {
        self.reconnecting
    }

    /// Reconnection attempts made since the last success.
    pub fn reconnect_attempts(&self) -> u32 {
        self.backoff.attempts()
    }

    /// Whether the namespace is connected.
    pub fn is_connected(&self, namespace: &str) -> bool {
        self.find(namespace)
            .is_some_and(|i| self.sockets[i].connected)
    }

    /// Whether the namespace's socket is active: joined or trying to join.
    pub fn is_active(&self, namespace: &str) -> bool {
        self.find(namespace).is_some_and(|i| self.sockets[i].active)
    }

    /// The server's socket id for the namespace, while connected.
    pub fn sid(&self, namespace: &str) -> Option<&str> {
        self.find(namespace)
            .and_then(|i| self.sockets[i].sid.as_deref())
    }

    /// The private session id for connection state recovery, once the server sent one.
    pub fn pid(&self, namespace: &str) -> Option<&str> {
        self.find(namespace)
            .and_then(|i| self.sockets[i].pid.as_deref())
    }

    /// The last offset recorded for connection state recovery.
    pub fn last_offset(&self, namespace: &str) -> Option<&str> {
        self.find(namespace)
            .and_then(|i| self.sockets[i].last_offset.as_deref())
    }

    // ---- commands ----

    /// Joins a namespace (`io.socket(nsp, opts).connect()`): CONNECT goes out now if the
    /// Engine.IO session is open, else on its next open (which this call starts if the manager
    /// is closed and not reconnecting). A no-op for a namespace already active; the options
    /// of an inactive one are replaced.
    pub fn connect(
        &mut self,
        now: Instant,
        namespace: &str,
        options: SocketOptions,
    ) -> Result<(), SessionError> {
        let namespace = Namespace::new(namespace)?;
        let idx = match self.find(namespace.as_str()) {
            Some(idx) if self.sockets[idx].active => return Ok(()),
            Some(idx) => {
                self.sockets[idx].options = options;
                idx
            }
            None => {
                self.sockets.push(NsSocket {
                    namespace,
                    options,
                    active: false,
                    connected: false,
                    sid: None,
                    pid: None,
                    last_offset: None,
                    next_ack: 0,
                    acks: BTreeMap::new(),
                    send_buffer: VecDeque::new(),
                    receive_buffer: Vec::new(),
                    queue: VecDeque::new(),
                    queue_seq: 0,
                });
                self.sockets.len() - 1
            }
        };
        self.sockets[idx].active = true;
        if !self.reconnecting {
            self.open(now, false);
        }
        if self.ready == Ready::Open {
            self.socket_open(now, idx);
        }
        Ok(())
    }

    /// Emits `event` with `args` (anything that serializes to a JSON array: a tuple, a `Vec`,
    /// `()` for none; byte values become binary attachments) on a namespace joined with
    /// [`Manager::connect`].
    ///
    /// Sent now when the namespace is connected; otherwise buffered until it is (volatile
    /// emits are dropped while the Engine.IO session is not open). Returns what the outcome
    /// will be reported under: the ack id when `options.ack` asks for an ack, the queue ticket
    /// for emits through the `retries` queue, `None` otherwise.
    pub fn emit<T: Serialize + ?Sized>(
        &mut self,
        now: Instant,
        namespace: &str,
        event: &str,
        args: &T,
        options: EmitOptions,
    ) -> Result<Option<AckRef>, SessionError> {
        let idx = self.find(namespace).ok_or(SessionError::NotConnected)?;
        if RESERVED_EVENT_NAMES.contains(&event) {
            return Err(SessionError::ReservedEventName);
        }
        let packet = Packet::event(self.sockets[idx].namespace.clone(), event, args, None)?;
        self.emit_packet(now, packet, options)
    }

    /// [`Manager::emit`] with an EVENT packet built by the caller ([`Packet::event`],
    /// [`Packet::event_raw`], or a received event passed on, binary attachments shared, not
    /// copied). Its namespace says where it goes; whatever ack id it carries is replaced by
    /// the manager's (or removed, when `options` asks for no ack).
    pub fn emit_packet(
        &mut self,
        now: Instant,
        mut packet: Packet,
        options: EmitOptions,
    ) -> Result<Option<AckRef>, SessionError> {
        if !matches!(
            packet.packet_type(),
            PacketType::Event | PacketType::BinaryEvent
        ) {
            return Err(SessionError::WrongPacket);
        }
        if packet
            .event_name()
            .is_some_and(|name| RESERVED_EVENT_NAMES.contains(&name.as_str()))
        {
            return Err(SessionError::ReservedEventName);
        }
        let idx = self
            .find(packet.namespace())
            .ok_or(SessionError::NotConnected)?;
        packet.ack_id = None;
        let buffering = !self.sockets[idx].connected;
        let socket = &mut self.sockets[idx];
        if socket.options.retries > 0 && !options.volatile {
            if socket.queue.len() >= self.config.max_buffered {
                return Err(SessionError::BufferFull);
            }
            let seq = socket.queue_seq;
            socket.queue_seq += 1;
            let timeout = options.timeout.or(socket.options.ack_timeout);
            socket.queue.push_back(Queued {
                seq,
                packet,
                timeout,
                tries: 0,
                pending: false,
            });
            self.drain_queue(now, idx, false);
            return Ok(Some(AckRef::Queued(seq)));
        }
        let dropped = options.volatile && self.ready != Ready::Open;
        if buffering && !dropped && socket.send_buffer.len() >= self.config.max_buffered {
            return Err(SessionError::BufferFull);
        }
        let ack_id = if options.ack {
            Some(AckId::new(socket.next_ack).ok_or(SessionError::AckIdsExhausted)?)
        } else {
            None
        };
        packet.ack_id = ack_id;
        if let Some(id) = ack_id {
            self.sockets[idx].next_ack += 1;
            let timeout = options.timeout.or(self.sockets[idx].options.ack_timeout);
            self.register_ack(now, idx, id, timeout, AckRef::Id(id));
        }
        if dropped {
            // Dropped, as the JS client does when the transport is not writable.
        } else if self.sockets[idx].connected {
            self.write(&packet)?;
        } else {
            self.sockets[idx].send_buffer.push_back(packet);
        }
        Ok(ack_id.map(AckRef::Id))
    }

    /// Acknowledges an event the server sent with an ack id (`args` as for
    /// [`Manager::emit`]). Written at once if the Engine.IO session is open.
    pub fn ack<T: Serialize + ?Sized>(
        &mut self,
        namespace: &str,
        id: AckId,
        args: &T,
    ) -> Result<(), SessionError> {
        let idx = self.find(namespace).ok_or(SessionError::NotConnected)?;
        let packet = Packet::ack(self.sockets[idx].namespace.clone(), id, args)?;
        self.write(&packet)
    }

    /// [`Manager::ack`] with an ACK packet built by the caller ([`Packet::ack`],
    /// [`Packet::ack_raw`]): its namespace and ack id say what it answers.
    pub fn ack_packet(&mut self, packet: Packet) -> Result<(), SessionError> {
        if !matches!(
            packet.packet_type(),
            PacketType::Ack | PacketType::BinaryAck
        ) || packet.ack_id().is_none()
        {
            return Err(SessionError::WrongPacket);
        }
        self.find(packet.namespace())
            .ok_or(SessionError::NotConnected)?;
        self.write(&packet)
    }

    /// Replaces the `auth` payload a namespace sends in its next CONNECT (socket.io-client's
    /// `auth` given as a function is called before each attempt: call this on
    /// [`ManagerEvent::ReconnectAttempt`]).
    pub fn set_auth(&mut self, namespace: &str, auth: Option<Auth>) -> Result<(), SessionError> {
        let idx = self.find(namespace).ok_or(SessionError::NotConnected)?;
        self.sockets[idx].options.auth = auth;
        Ok(())
    }

    /// Leaves a namespace (`socket.disconnect()`): DISCONNECT is sent if it was connected,
    /// [`ManagerEvent::Disconnected`] with [`DisconnectReason::ClientDisconnect`] follows, and the
    /// namespace is not rejoined on reconnection. When no active namespace remains, the
    /// manager closes the Engine.IO session, as the JS client does.
    pub fn disconnect(&mut self, now: Instant, namespace: &str) -> Result<(), SessionError> {
        let idx = self.find(namespace).ok_or(SessionError::NotConnected)?;
        let connected = self.sockets[idx].connected;
        if connected {
            let packet = Packet::disconnect(self.sockets[idx].namespace.clone());
            // The session may have closed under us; then there is nothing to tell the server.
            let _ = self.write(&packet);
        }
        self.sockets[idx].active = false;
        if connected {
            self.socket_close(now, idx, DisconnectReason::ClientDisconnect);
        }
        self.close_if_unused(now);
        Ok(())
    }

    /// Closes the Engine.IO session and stops reconnecting (`manager.disconnect()`); every
    /// connected namespace reports [`DisconnectReason::Engine`]`(ForcedClose)`. A later
    /// [`Manager::connect`] opens a new session.
    pub fn close(&mut self, now: Instant) {
        self.skip_reconnect = true;
        self.reconnecting = false;
        self.timers[Timer::Reconnect as usize] = None;
        self.on_close(now, DisconnectReason::Engine(CloseReason::ForcedClose));
    }

    // ---- inputs ----

    /// The answer to an HTTP request of a [`Transmit::Get`] or [`Transmit::Post`].
    pub fn handle_response(
        &mut self,
        now: Instant,
        request: RequestId,
        status: u16,
        content_type: Option<&str>,
        body: bytes::Bytes,
    ) {
        if let Some((engine, id)) = self.engine_for(request.0) {
            engine.handle_response(now, RequestId(id), status, content_type, body);
            self.pump(now);
        }
    }

    /// An HTTP request failed.
    pub fn handle_request_failed(&mut self, now: Instant, request: RequestId) {
        if let Some((engine, id)) = self.engine_for(request.0) {
            engine.handle_request_failed(now, RequestId(id));
            self.pump(now);
        }
    }

    /// A WebSocket of a [`Transmit::OpenWebSocket`] is connected.
    pub fn handle_websocket_open(&mut self, now: Instant, socket: SocketId) {
        if let Some((engine, id)) = self.engine_for(socket.0) {
            engine.handle_websocket_open(now, SocketId(id));
            self.pump(now);
        }
    }

    /// A frame arrived on a WebSocket.
    pub fn handle_websocket_frame(
        &mut self,
        now: Instant,
        socket: SocketId,
        frame: engineio_proto::Frame,
    ) {
        if let Some((engine, id)) = self.engine_for(socket.0) {
            engine.handle_websocket_frame(now, SocketId(id), frame);
            self.pump(now);
        }
    }

    /// A WebSocket closed (or failed to connect).
    pub fn handle_websocket_closed(&mut self, now: Instant, socket: SocketId) {
        if let Some((engine, id)) = self.engine_for(socket.0) {
            engine.handle_websocket_closed(now, SocketId(id));
            self.pump(now);
        }
    }

    /// Runs the timers that are due: the Engine.IO session's, the open deadline, the
    /// reconnection delay, ack timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(engine) = &mut self.engine {
            engine.handle_timeout(now);
            self.pump(now);
        }
        if self.timers[Timer::Open as usize].is_some_and(|at| at <= now) {
            self.on_open_error(now, OpenError::Timeout);
        }
        if self.timers[Timer::Reconnect as usize].is_some_and(|at| at <= now) {
            self.timers[Timer::Reconnect as usize] = None;
            if !self.skip_reconnect {
                self.events
                    .push_back(ManagerEvent::ReconnectAttempt(self.backoff.attempts()));
                self.open(now, true);
            }
        }
        while let Some(&(at, idx, id)) = self.ack_deadlines.first() {
            if at > now {
                break;
            }
            self.ack_deadlines.remove(&(at, idx, id));
            self.on_ack_timeout(now, idx, id);
        }
    }

    // ---- outputs ----

    /// The next thing for the driver to do.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.transmits.pop_front() {
            return Some(t);
        }
        let generation = self.generation;
        self.engine
            .as_mut()?
            .poll_transmit()
            .map(|t| tag_transmit(generation, t))
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ManagerEvent> {
        self.events.pop_front()
    }

    /// When [`Manager::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let engine = self.engine.as_ref().and_then(ClientSession::poll_timeout);
        let ack = self.ack_deadlines.first().map(|&(at, _, _)| at);
        self.timers
            .iter()
            .flatten()
            .copied()
            .chain(engine)
            .chain(ack)
            .min()
    }

    // ---- the manager (socket.io-client `Manager`) ----

    fn find(&self, namespace: &str) -> Option<usize> {
        self.sockets
            .iter()
            .position(|s| s.namespace.as_str() == namespace)
    }

    fn engine_for(&mut self, tagged: u64) -> Option<(&mut ClientSession, u64)> {
        if tagged >> GENERATION_SHIFT != self.generation {
            return None;
        }
        self.engine
            .as_mut()
            .map(|engine| (engine, tagged & ENGINE_ID_MASK))
    }

    fn open(&mut self, now: Instant, for_reconnect: bool) {
        if self.ready != Ready::Closed {
            return;
        }
        self.generation += 1;
        let engine_version = match self.config.version {
            ProtocolVersion::V5 => EngineVersion::V4,
            ProtocolVersion::V4 => EngineVersion::V3,
        };
        let config = ClientConfig {
            version: engine_version,
            ..self.config.engine.clone()
        };
        self.engine = Some(ClientSession::new(now, config));
        self.ready = Ready::Opening;
        self.engine_sid = None;
        self.skip_reconnect = false;
        self.opening_for_reconnect = for_reconnect;
        self.main_connected = false;
        self.decoder.reset();
        self.timers[Timer::Open as usize] = self.config.timeout.map(|t| now + t);
    }

    /// Hands the session's last transmits to the driver and forgets it; closes it first
    /// unless it closed itself.
    fn drop_engine(&mut self, now: Instant) {
        let Some(mut engine) = self.engine.take() else {
            return;
        };
        engine.close(now);
        while let Some(t) = engine.poll_transmit() {
            self.transmits.push_back(tag_transmit(self.generation, t));
        }
    }

    fn pump(&mut self, now: Instant) {
        while let Some(event) = self.engine.as_mut().and_then(ClientSession::poll_event) {
            match event {
                ClientEvent::Open(open) => self.on_open(now, open.sid),
                ClientEvent::Message(data) => self.on_message(now, data),
                ClientEvent::Closed { reason, .. } => match self.ready {
                    Ready::Opening => self.on_open_error(now, OpenError::Closed(reason)),
                    _ => self.on_close(now, DisconnectReason::Engine(reason)),
                },
                _ => {}
            }
        }
    }

    fn on_open(&mut self, now: Instant, sid: String) {
        self.timers[Timer::Open as usize] = None;
        self.ready = Ready::Open;
        self.engine_sid = Some(sid);
        self.events.push_back(ManagerEvent::Open);
        for idx in 0..self.sockets.len() {
            if self.sockets[idx].active {
                self.socket_open(now, idx);
            }
        }
        if self.opening_for_reconnect {
            self.opening_for_reconnect = false;
            let attempts = self.backoff.attempts();
            self.reconnecting = false;
            self.backoff.reset();
            self.events.push_back(ManagerEvent::Reconnected(attempts));
        }
    }

    fn on_open_error(&mut self, now: Instant, error: OpenError) {
        self.timers[Timer::Open as usize] = None;
        self.drop_engine(now);
        self.ready = Ready::Closed;
        for s in &self.sockets {
            if s.active && !s.connected {
                self.events.push_back(ManagerEvent::ConnectError {
                    namespace: s.namespace.clone(),
                    error: ConnectError::Engine(error),
                });
            }
        }
        if self.opening_for_reconnect {
            self.opening_for_reconnect = false;
            self.reconnecting = false;
            self.reconnect(now);
            self.events.push_back(ManagerEvent::ReconnectError(error));
        } else if !self.reconnecting && self.config.reconnection && self.backoff.attempts() == 0 {
            self.reconnect(now);
        }
    }

    /// Manager `onclose`: the session is gone (or is being closed).
    fn on_close(&mut self, now: Instant, reason: DisconnectReason) {
        self.timers[Timer::Open as usize] = None;
        self.drop_engine(now);
        self.opening_for_reconnect = false;
        self.backoff.reset();
        self.ready = Ready::Closed;
        for idx in 0..self.sockets.len() {
            if self.sockets[idx].active {
                self.socket_close(now, idx, reason);
            }
        }
        if self.config.reconnection && !self.skip_reconnect {
            self.reconnect(now);
        }
    }

    fn reconnect(&mut self, now: Instant) {
        if self.reconnecting || self.skip_reconnect {
            return;
        }
        let limit = self.config.reconnection_attempts.filter(|&n| n > 0);
        if limit.is_some_and(|limit| self.backoff.attempts() >= limit) {
            self.backoff.reset();
            self.events.push_back(ManagerEvent::ReconnectFailed);
            self.reconnecting = false;
        } else {
            let delay = self.backoff.duration((self.random)());
            self.reconnecting = true;
            self.timers[Timer::Reconnect as usize] = Some(now + delay);
        }
    }

    /// Manager `_destroy`: with no active namespace left, close for good.
    fn close_if_unused(&mut self, now: Instant) {
        if !self.sockets.iter().any(|s| s.active) {
            self.close(now);
        }
    }
}

fn tag(generation: u64, id: u64) -> u64 {
    (generation << GENERATION_SHIFT) | (id & ENGINE_ID_MASK)
}

/// Rewrites the session's request and socket ids into the manager's.
fn tag_transmit(generation: u64, transmit: Transmit) -> Transmit {
    match transmit {
        Transmit::Get { request, query } => Transmit::Get {
            request: RequestId(tag(generation, request.0)),
            query,
        },
        Transmit::Post {
            request,
            query,
            content_type,
            body,
        } => Transmit::Post {
            request: RequestId(tag(generation, request.0)),
            query,
            content_type,
            body,
        },
        Transmit::OpenWebSocket { socket, query } => Transmit::OpenWebSocket {
            socket: SocketId(tag(generation, socket.0)),
            query,
        },
        Transmit::Frame { socket, frame } => Transmit::Frame {
            socket: SocketId(tag(generation, socket.0)),
            frame,
        },
        Transmit::CloseSocket { socket } => Transmit::CloseSocket {
            socket: SocketId(tag(generation, socket.0)),
        },
    }
}
