//! The server endpoint: every Engine.IO session of one server behind one input and one output.
//!
//! An [`Endpoint`] owns the [`ServerSession`]s, routes HTTP requests, WebSocket upgrades and
//! socket events to them, keeps one [`TimerTable`] for all of them, and takes session ids from
//! an [`IdSource`] you supply (this crate has no random number generator). A driver only moves
//! bytes and time:
//!
//! 1. Feed what happens on the wire to [`Endpoint::handle`] with the current time: a request
//!    whose headers were read ([`Input::Request`], with its real method), a POST body, an
//!    aborted request, an accepted WebSocket, a frame, a closed socket.
//! 2. Drain [`Endpoint::poll_transmit`] and [`Endpoint::poll_event`] until both return `None`:
//!    write responses, frames and closes; read a POST body when asked
//!    ([`Transmit::ReadBody`]); complete a WebSocket upgrade when asked
//!    ([`Transmit::AcceptWebSocket`]). Answer events with commands
//!    ([`Endpoint::send`], [`Endpoint::close`]).
//! 3. Sleep until [`Endpoint::poll_timeout`], then call [`Endpoint::handle_timeout`].
//!
//! **Refusals** come out as [`Transmit::Response`]s like any answer: write the status, the
//! `Content-Type` (when there is one), `Content-Length` and the body. For a polling request
//! that is the whole HTTP response; for a refused WebSocket upgrade, answer the upgrade
//! request with it instead of `101 Switching Protocols` (the reference sends
//! `400 {"code":3,"message":"Bad request"}` and its siblings, [`ErrorCode`]).
//!
//! **Time is applied before input.** Every call that takes `now` first fires the deadlines
//! that are due at `now`, so a request that arrives after a session's ping timeout finds the
//! session closed, however late the driver woke up.
//!
//! # Example: an echo server, driven by hand
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use engineio_proto::session::endpoint::{Endpoint, Input};
//! use engineio_proto::session::server::{SessionEvent, Method, ServerConfig, Transmit};
//! use engineio_proto::session::RequestId;
//!
//! let mut n = 0;
//! let ids = move || { n += 1; format!("sid{n}") }; // use a CSPRNG in production
//! let mut endpoint = Endpoint::new(ServerConfig::default(), Box::new(ids));
//! let now = Instant::now();
//!
//! // GET /engine.io/?EIO=4&transport=polling: the handshake, answered with the open packet.
//! endpoint.handle(now, Input::Request {
//!     request: RequestId(1), method: Method::Get, query: "EIO=4&transport=polling", websocket_upgrade: false,
//! });
//! let Some(Transmit::Response { request: RequestId(1), response }) = endpoint.poll_transmit() else { unreachable!() };
//! assert!(response.body.starts_with(br#"0{"sid":"sid1""#));
//!
//! // POST …&sid=sid1: the endpoint asks for the body, with the limit to read it under.
//! endpoint.handle(now, Input::Request {
//!     request: RequestId(2), method: Method::Post, query: "EIO=4&transport=polling&sid=sid1", websocket_upgrade: false,
//! });
//! let Some(Transmit::ReadBody { request: RequestId(2), limit: 1_000_000 }) = endpoint.poll_transmit() else { unreachable!() };
//! endpoint.handle(now, Input::PostBody { request: RequestId(2), content_type: None, body: Bytes::from_static(b"4hello") });
//!
//! // Drain: the message (echoed back), then the POST's `ok`.
//! while let Some((session, event)) = endpoint.poll_event() {
//!     if let SessionEvent::Message(data) = event {
//!         endpoint.send(session, data).unwrap();
//!     }
//! }
//! let Some(Transmit::Response { request: RequestId(2), response }) = endpoint.poll_transmit() else { unreachable!() };
//! assert_eq!(response.body, &b"ok"[..]);
//!
//! // The next GET carries the echo.
//! endpoint.handle(now, Input::Request {
//!     request: RequestId(3), method: Method::Get, query: "EIO=4&transport=polling&sid=sid1", websocket_upgrade: false,
//! });
//! let Some(Transmit::Response { request: RequestId(3), response }) = endpoint.poll_transmit() else { unreachable!() };
//! assert_eq!(response.body, &b"4hello"[..]);
//! assert_eq!(endpoint.poll_timeout(), Some(now + ServerConfig::default().ping_interval));
//! ```

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use super::server::{
    Handshake, HttpResponse, InitialTransport, Method, Route, ServerConfig, ServerSession,
    SessionEvent, Transmit, route,
};
use super::{CloseReason, RequestId, SessionError, SocketId, TimerTable};
use crate::handshake::ErrorCode;
use crate::packet::{Data, Frame};
use crate::utf8::Utf8Bytes;

/// Where session ids come from. This crate draws no random numbers: the driver supplies ids,
/// which must be unique and unguessable (the reference uses 15 random bytes from the operating
/// system's CSPRNG, as 20 characters of URL-safe base64). Any `FnMut() -> String` is one.
pub trait IdSource: Send {
    /// A fresh id.
    fn next_id(&mut self) -> String;
}

impl<F: FnMut() -> String + Send> IdSource for F {
    fn next_id(&mut self) -> String {
        self()
    }
}

/// Ids from the operating system's CSPRNG (the `getrandom` feature): 15 random bytes as 20
/// characters of URL-safe base64, the shape of the reference's `base64id`. Random bytes are
/// fetched in batches of 64 ids.
///
/// If the operating system's generator fails (it does not, on any platform Rust supports with
/// `std`), drawing an id panics: serving predictable ids would be worse than stopping.
#[cfg(feature = "getrandom")]
#[derive(Debug, Default, Clone)]
pub struct OsIds {
    pool: Vec<u8>,
    tag: Option<char>,
}

#[cfg(feature = "getrandom")]
impl OsIds {
    /// Ids drawn from the operating system.
    pub fn new() -> OsIds {
        OsIds::default()
    }

    /// Ids whose first character is `tag` (a URL-safe base64 digit), which leaves 114 random
    /// bits: a server of several endpoints (one per thread) tells from an id which endpoint
    /// handed it out. Any other `tag` is ignored.
    pub fn tagged(tag: char) -> OsIds {
        let valid = tag.is_ascii_alphanumeric() || tag == '-' || tag == '_';
        OsIds {
            pool: Vec::new(),
            tag: valid.then_some(tag),
        }
    }
}

#[cfg(feature = "getrandom")]
impl IdSource for OsIds {
    fn next_id(&mut self) -> String {
        use base64::Engine as _;
        if self.pool.len() < 15 {
            self.pool.resize(15 * 64, 0);
            #[allow(clippy::expect_used)] // See the type's docs.
            getrandom::fill(&mut self.pool).expect("the OS random number generator failed");
        }
        let at = self.pool.len() - 15;
        let mut id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.pool[at..]);
        self.pool.truncate(at);
        if let Some(tag) = self.tag {
            id.replace_range(..1, tag.encode_utf8(&mut [0; 4]));
        }
        id
    }
}

/// A handle on one session of an [`Endpoint`]: small, `Copy`, never reused for another
/// session (a handle of a closed session finds nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    index: u32,
    generation: u32,
}

impl SessionKey {
    /// A small number, unique among the open sessions and reused after a session closes
    /// (the key as a whole is not): index your own per-session tables with it, and keep the
    /// key beside the entry to tell a reused slot from the session you stored.
    pub fn index(self) -> usize {
        self.index as usize
    }
}

/// Something that happened on the wire, for [`Endpoint::handle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// An HTTP request on the Engine.IO path, its headers read. `query` is the query string
    /// without `?`; `websocket_upgrade` is whether it asks for a WebSocket (`Upgrade:
    /// websocket`). Answered by a [`Transmit::Response`], a [`Transmit::ReadBody`] (a POST)
    /// or a [`Transmit::AcceptWebSocket`] (an upgrade).
    Request {
        /// The driver's id for the request, unique among the requests in flight.
        request: RequestId,
        /// The request's real method.
        method: Method,
        /// The query string.
        query: &'a str,
        /// Whether the request asks for a WebSocket.
        websocket_upgrade: bool,
    },
    /// The whole body of a POST that [`Transmit::ReadBody`] asked for, with its
    /// `Content-Type`.
    PostBody {
        /// The request.
        request: RequestId,
        /// The `Content-Type` header.
        content_type: Option<&'a str>,
        /// The body.
        body: Bytes,
    },
    /// The POST's body was over the limit of its [`Transmit::ReadBody`] (by `Content-Length`
    /// or by what arrived): answered with 413.
    PostTooLarge {
        /// The request.
        request: RequestId,
    },
    /// The client went away before its request was answered (the reference then closes the
    /// session: `transport error`).
    RequestAborted {
        /// The request.
        request: RequestId,
    },
    /// The WebSocket of a [`Transmit::AcceptWebSocket`] is open: the upgrade response was
    /// written.
    WebSocketOpen {
        /// The socket.
        socket: SocketId,
    },
    /// A frame arrived on a WebSocket.
    WebSocketFrame {
        /// The socket.
        socket: SocketId,
        /// The frame.
        frame: Frame,
    },
    /// A WebSocket closed, or an accepted upgrade failed before it opened.
    WebSocketClosed {
        /// The socket.
        socket: SocketId,
    },
}

/// An accepted upgrade waiting for its socket to open.
#[derive(Clone, Debug)]
enum Upgrade {
    /// A WebSocket-only handshake.
    Handshake(Handshake),
    /// An upgrade of an existing session, with the request's `b64` flag.
    Session(SessionKey, bool),
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    session: Option<ServerSession>,
    /// Requests and sockets routed to this session, forgotten when it closes.
    requests: Vec<RequestId>,
    sockets: Vec<SocketId>,
    dirty: bool,
    /// The deadline scheduled in the timer table.
    deadline: Option<Instant>,
    /// Counted in [`Counters::polling`].
    polling: bool,
}

/// What an endpoint counted since it was made: sessions, and the messages each way with
/// their bytes (what a message carries, without its packet type, as the Admin UI and the
/// reference's `packet`/`packetCreate` events count them). Control packets (pings, pongs,
/// upgrades, noops) are not counted. Read with [`Endpoint::counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Sessions opened.
    pub opened: u64,
    /// Sessions closed, by reason ([`closed_by`](Self::closed_by)).
    closed: [u64; CLOSE_REASONS.len()],
    /// Messages received.
    pub messages_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Messages sent (queued on a session).
    pub messages_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Sessions open now that began on long-polling and have not upgraded.
    pub polling: u64,
}

/// Every close reason, in the order [`Counters`] keeps them.
const CLOSE_REASONS: [CloseReason; 6] = [
    CloseReason::TransportClose,
    CloseReason::TransportError,
    CloseReason::PingTimeout,
    CloseReason::ParseError,
    CloseReason::ForcedClose,
    CloseReason::BacklogFull,
];

impl Counters {
    /// Sessions closed for `reason`.
    pub fn closed_by(&self, reason: CloseReason) -> u64 {
        CLOSE_REASONS
            .iter()
            .position(|r| *r == reason)
            .map_or(0, |at| self.closed[at])
    }

    /// Sessions closed, for every reason that closed one.
    pub fn closed(&self) -> impl Iterator<Item = (CloseReason, u64)> + '_ {
        CLOSE_REASONS
            .iter()
            .zip(self.closed)
            .filter(|(_, n)| *n > 0)
            .map(|(reason, n)| (*reason, n))
    }

    /// Adds `other`'s counts to these (the shards of one server).
    pub fn add(&mut self, other: &Counters) {
        self.opened += other.opened;
        for (mine, theirs) in self.closed.iter_mut().zip(other.closed) {
            *mine += theirs;
        }
        self.messages_in += other.messages_in;
        self.bytes_in += other.bytes_in;
        self.messages_out += other.messages_out;
        self.bytes_out += other.bytes_out;
        self.polling += other.polling;
    }

    fn close(&mut self, reason: CloseReason) {
        if let Some(at) = CLOSE_REASONS.iter().position(|r| *r == reason) {
            self.closed[at] += 1;
        }
    }
}

/// The bytes of a message, as counted.
fn data_len(data: &Data) -> u64 {
    match data {
        Data::None => 0,
        Data::Text(text) => text.len() as u64,
        Data::Binary(bytes) => bytes.len() as u64,
    }
}

/// Every Engine.IO session of one server. See the [module docs](self) for the run loop.
pub struct Endpoint {
    config: ServerConfig,
    ids: Box<dyn IdSource>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_sid: HashMap<Box<str>, SessionKey>,
    requests: HashMap<RequestId, SessionKey>,
    sockets: HashMap<SocketId, SessionKey>,
    upgrades: HashMap<SocketId, Upgrade>,
    next_socket: u64,
    timers: TimerTable<SessionKey>,
    dirty: Vec<SessionKey>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<(SessionKey, SessionEvent)>,
    counters: Counters,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("config", &self.config)
            .field("sessions", &self.by_sid.len())
            .field("requests", &self.requests.len())
            .field("sockets", &self.sockets.len())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint with no session. `ids` supplies session ids.
    pub fn new(config: ServerConfig, ids: Box<dyn IdSource>) -> Endpoint {
        Endpoint {
            config,
            ids,
            slots: Vec::new(),
            free: Vec::new(),
            by_sid: HashMap::new(),
            requests: HashMap::new(),
            sockets: HashMap::new(),
            upgrades: HashMap::new(),
            next_socket: 0,
            counters: Counters::default(),
            timers: TimerTable::default(),
            dirty: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The settings every session gets.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// A fresh id from the endpoint's [`IdSource`] (the Socket.IO layer takes its socket ids
    /// from here too).
    pub fn next_id(&mut self) -> String {
        self.ids.next_id()
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        self.by_sid.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.by_sid.is_empty()
    }

    /// The session behind `key`, if it is still open.
    pub fn session(&self, key: SessionKey) -> Option<&ServerSession> {
        let slot = self.slots.get(key.index as usize)?;
        (slot.generation == key.generation)
            .then_some(slot.session.as_ref())
            .flatten()
    }

    /// The key of the session with id `sid`.
    pub fn find(&self, sid: &str) -> Option<SessionKey> {
        self.by_sid.get(sid).copied()
    }

    /// Feeds one input. Deadlines due at `now` are applied first.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.handle_timeout(now);
        match input {
            Input::Request {
                request,
                method,
                query,
                websocket_upgrade,
            } => self.on_request(now, request, method, query, websocket_upgrade),
            Input::PostBody {
                request,
                content_type,
                body,
            } => {
                if let Some(session) = self.session_of_request(request) {
                    session.handle_post_body(now, request, content_type, body);
                }
            }
            Input::PostTooLarge { request } => {
                if let Some(session) = self.session_of_request(request) {
                    session.handle_post_too_large(now, request);
                }
            }
            Input::RequestAborted { request } => {
                if let Some(session) = self.session_of_request(request) {
                    session.handle_request_aborted(now, request);
                }
                self.forget_request(request);
            }
            Input::WebSocketOpen { socket } => self.on_socket_open(now, socket),
            Input::WebSocketFrame { socket, frame } => {
                if let Some(session) = self.session_of_socket(socket) {
                    session.handle_websocket_frame(now, socket, frame);
                }
            }
            Input::WebSocketClosed { socket } => {
                self.upgrades.remove(&socket);
                if let Some(session) = self.session_of_socket(socket) {
                    session.handle_websocket_closed(now, socket);
                }
                self.forget_socket(socket);
            }
        }
    }

    /// Fires every deadline due at `now`, earliest first. Harmless when nothing is due.
    ///
    /// A session whose deadline passed handles it at `now`, as the reference's late timer
    /// would: a ping due while the server was busy goes out now, and its client has the whole
    /// ping timeout from now to answer.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((_, key)) = self.timers.pop_due(now) {
            let Some(slot) = self.slots.get_mut(key.index as usize) else {
                continue;
            };
            slot.deadline = None;
            let Some(session) = slot.session.as_mut() else {
                continue;
            };
            session.handle_timeout(now);
            // Re-arm at once, so a deadline of the same session still due fires in this loop
            // too.
            slot.deadline = session.poll_timeout();
            self.timers.reschedule(key, None, slot.deadline);
            self.mark(key);
        }
    }

    /// When [`Endpoint::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The next thing to put on the wire.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        loop {
            if let Some(transmit) = self.transmits.pop_front() {
                return Some(transmit);
            }
            if !self.drain_one() {
                return None;
            }
        }
    }

    /// The next event, with the session it happened on. [`SessionEvent::Opened`] comes first for
    /// every session, [`SessionEvent::Closed`] last; the key finds nothing after that.
    pub fn poll_event(&mut self) -> Option<(SessionKey, SessionEvent)> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if !self.drain_one() {
                return None;
            }
        }
    }

    /// Queues a message on a session. Fails when the session is closing or gone, and for data
    /// its protocol cannot carry.
    pub fn send(&mut self, key: SessionKey, data: Data) -> Result<(), SessionError> {
        let session = self.session_mut(key).ok_or(SessionError::Closed)?;
        let len = data_len(&data);
        session.send(data)?;
        self.counters.messages_out += 1;
        self.counters.bytes_out += len;
        self.mark(key);
        Ok(())
    }

    /// Queues a text message in its frame form (`4` + text) on a session: see
    /// [`ServerSession::send_text_frame`]. A broadcast shares one frame among all recipients.
    pub fn send_text_frame(
        &mut self,
        key: SessionKey,
        frame: Utf8Bytes,
    ) -> Result<(), SessionError> {
        let session = self.session_mut(key).ok_or(SessionError::Closed)?;
        // The frame is `4` and the text.
        let len = frame.len().saturating_sub(1) as u64;
        let now = session.send_text_frame_now(frame)?;
        self.counters.messages_out += 1;
        self.counters.bytes_out += len;
        match now {
            // Nothing of the session waits before it: no need to visit it again.
            Some(transmit) => self.transmits.push_back(transmit),
            None => self.mark(key),
        }
        Ok(())
    }

    /// What the endpoint counted so far (sessions, messages and bytes each way).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Whether a message sent to the session now goes out at once (volatile packets are
    /// dropped otherwise).
    pub fn is_writable(&self, key: SessionKey) -> bool {
        self.session(key).is_some_and(ServerSession::is_writable)
    }

    /// Closes a session ([`ServerSession::close`]); a no-op when it is gone.
    pub fn close(&mut self, now: Instant, key: SessionKey) {
        self.handle_timeout(now);
        if let Some(session) = self.session_mut(key) {
            session.close(now);
            self.mark(key);
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        request: RequestId,
        method: Method,
        query: &str,
        websocket_upgrade: bool,
    ) {
        let refuse = |endpoint: &mut Endpoint, code| {
            endpoint.transmits.push_back(Transmit::Response {
                request,
                response: HttpResponse::error(code),
            })
        };
        match route(&self.config, method, query, websocket_upgrade) {
            Route::Refuse(code) => refuse(self, code),
            Route::Handshake(handshake) if websocket_upgrade => {
                let socket = self.new_socket();
                self.upgrades.insert(socket, Upgrade::Handshake(handshake));
                self.transmits
                    .push_back(Transmit::AcceptWebSocket { request, socket });
            }
            Route::Handshake(handshake) => {
                let key = self.open(now, &handshake, InitialTransport::Polling(request));
                self.own_request(key, request);
            }
            Route::Session { sid, query } => {
                let Some(key) = self.find(&sid) else {
                    return refuse(self, ErrorCode::UnknownSid);
                };
                if websocket_upgrade {
                    let socket = self.new_socket();
                    self.upgrades
                        .insert(socket, Upgrade::Session(key, query.b64));
                    return self
                        .transmits
                        .push_back(Transmit::AcceptWebSocket { request, socket });
                }
                let limit = self.config.max_payload;
                let Some(session) = self.session_mut(key) else {
                    return refuse(self, ErrorCode::UnknownSid);
                };
                match method {
                    Method::Get => session.handle_get(now, request),
                    Method::Post => {
                        if session.handle_post(now, request) {
                            self.transmits
                                .push_back(Transmit::ReadBody { request, limit });
                        }
                    }
                    // The reference's polling transport answers other methods with 500.
                    Method::Other => {
                        return self.transmits.push_back(Transmit::Response {
                            request,
                            response: HttpResponse::empty(500),
                        });
                    }
                }
                self.own_request(key, request);
                self.mark(key);
            }
        }
    }

    fn on_socket_open(&mut self, now: Instant, socket: SocketId) {
        match self.upgrades.remove(&socket) {
            Some(Upgrade::Handshake(handshake)) => {
                let key = self.open(now, &handshake, InitialTransport::WebSocket(socket));
                self.own_socket(key, socket);
            }
            Some(Upgrade::Session(key, b64)) => match self.session_mut(key) {
                Some(session) => {
                    session.handle_websocket_open(now, socket, b64);
                    self.own_socket(key, socket);
                    self.mark(key);
                }
                // The session ended while the upgrade was in flight.
                None => self.transmits.push_back(Transmit::CloseSocket { socket }),
            },
            None => self.transmits.push_back(Transmit::CloseSocket { socket }),
        }
    }

    fn new_socket(&mut self) -> SocketId {
        self.next_socket += 1;
        SocketId(self.next_socket)
    }

    fn open(
        &mut self,
        now: Instant,
        handshake: &Handshake,
        connection: InitialTransport,
    ) -> SessionKey {
        let mut sid = self.ids.next_id();
        // A colliding id would route one client's requests to another's session.
        while self.by_sid.contains_key(sid.as_str()) {
            sid = self.ids.next_id();
        }
        let polling = matches!(connection, InitialTransport::Polling(_));
        let session =
            ServerSession::new(now, sid.clone(), handshake, self.config.clone(), connection);
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    session: None,
                    requests: Vec::new(),
                    sockets: Vec::new(),
                    dirty: false,
                    deadline: None,
                    polling: false,
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.counters.opened += 1;
        self.counters.polling += u64::from(polling);
        let slot = &mut self.slots[index as usize];
        slot.session = Some(session);
        slot.polling = polling;
        let key = SessionKey {
            index,
            generation: slot.generation,
        };
        self.by_sid.insert(sid.into_boxed_str(), key);
        self.events.push_back((key, SessionEvent::Opened));
        self.mark(key);
        key
    }

    fn session_mut(&mut self, key: SessionKey) -> Option<&mut ServerSession> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.session.as_mut()
    }

    fn session_of_request(&mut self, request: RequestId) -> Option<&mut ServerSession> {
        let key = *self.requests.get(&request)?;
        self.mark(key);
        self.session_mut(key)
    }

    fn session_of_socket(&mut self, socket: SocketId) -> Option<&mut ServerSession> {
        let key = *self.sockets.get(&socket)?;
        self.mark(key);
        self.session_mut(key)
    }

    fn own_request(&mut self, key: SessionKey, request: RequestId) {
        self.requests.insert(request, key);
        self.slots[key.index as usize].requests.push(request);
    }

    fn own_socket(&mut self, key: SessionKey, socket: SocketId) {
        self.sockets.insert(socket, key);
        self.slots[key.index as usize].sockets.push(socket);
    }

    fn forget_request(&mut self, request: RequestId) {
        if let Some(key) = self.requests.remove(&request) {
            self.slots[key.index as usize]
                .requests
                .retain(|r| *r != request);
        }
    }

    fn forget_socket(&mut self, socket: SocketId) {
        if let Some(key) = self.sockets.remove(&socket) {
            self.slots[key.index as usize]
                .sockets
                .retain(|s| *s != socket);
        }
    }

    fn mark(&mut self, key: SessionKey) {
        if let Some(slot) = self.slots.get_mut(key.index as usize) {
            if slot.generation == key.generation && !slot.dirty {
                slot.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    /// Moves one dirty session's outputs to the endpoint's queues; false when none is dirty.
    fn drain_one(&mut self) -> bool {
        let Some(key) = self.dirty.pop() else {
            return false;
        };
        let Some(slot) = self.slots.get_mut(key.index as usize) else {
            return true;
        };
        slot.dirty = false;
        let Some(session) = slot.session.as_mut() else {
            return true;
        };
        let mut closed = false;
        loop {
            if let Some(transmit) = session.poll_transmit() {
                if let Transmit::Response { request, .. } = &transmit {
                    self.requests.remove(request);
                    slot.requests.retain(|r| r != request);
                }
                self.transmits.push_back(transmit);
            } else if let Some(event) = session.poll_event() {
                match &event {
                    SessionEvent::Message(data) => {
                        self.counters.messages_in += 1;
                        self.counters.bytes_in += data_len(data);
                    }
                    SessionEvent::Upgraded if slot.polling => {
                        slot.polling = false;
                        self.counters.polling -= 1;
                    }
                    SessionEvent::Closed { reason, .. } => {
                        closed = true;
                        self.counters.close(*reason);
                        if std::mem::take(&mut slot.polling) {
                            self.counters.polling -= 1;
                        }
                    }
                    _ => {}
                }
                self.events.push_back((key, event));
            } else {
                break;
            }
        }
        if !closed {
            let next = session.poll_timeout();
            if next != slot.deadline {
                self.timers.reschedule(key, slot.deadline, next);
                slot.deadline = next;
            }
            return true;
        }
        // The session is gone: requests it left unanswered (a POST whose body was still being
        // read) end now, so nothing they buffered outlives it.
        let session = slot.session.take();
        for request in slot.requests.drain(..) {
            self.requests.remove(&request);
            self.transmits.push_back(Transmit::Response {
                request,
                response: HttpResponse::empty(400),
            });
        }
        for socket in slot.sockets.drain(..) {
            self.sockets.remove(&socket);
        }
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(key.index);
        self.timers.reschedule(key, slot.deadline.take(), None);
        if let Some(session) = session {
            self.by_sid.remove(session.sid());
        }
        true
    }
}
