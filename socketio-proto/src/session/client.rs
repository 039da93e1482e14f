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
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::{
    AckId, DecodeStatus, Decoder, Limits, Namespace, Packet, PacketType, ProtocolVersion,
    RESERVED_EVENT_NAMES, Utf8Bytes, WireAction,
};

/// Manager settings, named and defaulted as socket.io-client's `Manager` options.
#[derive(Clone, Debug, PartialEq)]
pub struct ManagerConfig {
    /// The Socket.IO protocol: v5 (socket.io 3/4, over Engine.IO v4) by default, or v4
    /// (socket.io 2.x, over Engine.IO v3).
    pub version: ProtocolVersion,
    /// Settings for each Engine.IO session. Its `version` is ignored: it follows
    /// [`version`](Self::version).
    pub engine: ClientConfig,
    /// Reconnect after the Engine.IO session closes (`reconnection`, on).
    pub reconnection: bool,
    /// How many attempts before giving up (`reconnectionAttempts`); `None` for no limit, the
    /// default. `Some(0)` also means no limit (the JS client's `|| Infinity`).
    pub reconnection_attempts: Option<u32>,
    /// The first backoff delay (`reconnectionDelay`, 1 s). Zero means 1 s (JS `|| 1000`).
    pub reconnection_delay: Duration,
    /// The backoff cap (`reconnectionDelayMax`, 5 s). Zero means 5 s (JS `|| 5000`).
    pub reconnection_delay_max: Duration,
    /// The jitter (`randomizationFactor`, 0.5); used only when in `(0, 1]`.
    pub randomization_factor: f64,
    /// How long an Engine.IO session may take to open (`timeout`, 20 s); `None` for no limit.
    pub timeout: Option<Duration>,
    /// Decoder limits.
    pub limits: Limits,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            version: ProtocolVersion::V5,
            engine: ClientConfig::default(),
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            timeout: Some(Duration::from_secs(20)),
            limits: Limits::default(),
        }
    }
}

impl ManagerConfig {
    /// The backoff the manager builds from these settings, with the JS client's `||`
    /// defaults applied (a zero delay becomes 1000 ms, a zero cap 5000 ms).
    pub fn backoff(&self) -> Backoff {
        let or = |d: Duration, default: u64| {
            if d.is_zero() {
                Duration::from_millis(default)
            } else {
                d
            }
        };
        Backoff::new(
            or(self.reconnection_delay, 1000),
            or(self.reconnection_delay_max, 5000),
            self.randomization_factor,
        )
    }
}

/// Exponential backoff with jitter, exactly as `backo2` (used by socket.io-client 2.x and
/// 4.x): attempt `n` (from 0) waits `min * 2^n`, moved by `floor(r * jitter * ms)` down when
/// `floor(r * 10)` is even and up when odd (`r` is one random draw), then capped at `max` and
/// truncated as JavaScript's `| 0` does.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    min_ms: f64,
    max_ms: f64,
    jitter: f64,
    attempts: u32,
}

impl Backoff {
    /// A backoff (backo2's constructor: a zero `min` becomes 100 ms, a zero `max` 10 s, and
    /// `jitter` outside `(0, 1]` means none).
    pub fn new(min: Duration, max: Duration, jitter: f64) -> Backoff {
        let ms = |d: Duration, default: f64| {
            let ms = d.as_secs_f64() * 1000.0;
            if ms == 0.0 { default } else { ms }
        };
        Backoff {
            min_ms: ms(min, 100.0),
            max_ms: ms(max, 10_000.0),
            jitter: if jitter > 0.0 && jitter <= 1.0 {
                jitter
            } else {
                0.0
            },
            attempts: 0,
        }
    }

    /// Delays handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Starts over from the first delay.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// The next delay, given one uniform draw `random` in `[0, 1)` (values outside are
    /// clamped, NaN counts as 0). Counts an attempt. A negative result of the `| 0`
    /// truncation (only with a cap above 2^31 ms) becomes zero.
    pub fn duration(&mut self, random: f64) -> Duration {
        let factor = 2f64.powf(f64::from(self.attempts));
        let mut ms = self.min_ms * factor;
        self.attempts = self.attempts.saturating_add(1);
        if self.jitter != 0.0 {
            let r = if random.is_nan() {
                0.0
            } else {
                random.clamp(0.0, 1.0 - f64::EPSILON)
            };
            let deviation = (r * self.jitter * ms).floor();
            // `floor(r * 10)` is 0..=9 here, so the cast is exact.
            let odd = ((r * 10.0).floor() as u8) & 1 == 1;
            ms = if odd { ms + deviation } else { ms - deviation };
        }
        let ms = to_int32(ms.min(self.max_ms));
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }
}

/// JavaScript's ToInt32 (`x | 0`).
fn to_int32(x: f64) -> i64 {
    if !x.is_finite() {
        return 0;
    }
    const TWO_32: f64 = 4_294_967_296.0;
    let m = x.trunc().rem_euclid(TWO_32);
    // `m` is an integer in [0, 2^32), so the casts are exact.
    if m >= TWO_32 / 2.0 {
        (m - TWO_32) as i64
    } else {
        m as i64
    }
}

/// The auth object sent in CONNECT (socket.io-client's `auth` option), key order kept.
#[derive(Clone, Debug)]
pub struct Auth {
    fields: Vec<(String, Box<RawValue>)>,
}

impl PartialEq for Auth {
    fn eq(&self, other: &Auth) -> bool {
        self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .zip(&other.fields)
                .all(|((k1, v1), (k2, v2))| k1 == k2 && v1.get() == v2.get())
    }
}

impl Auth {
    /// Serializes `value`, which must serialize to a JSON object, as the JS client would
    /// (compact, fields in declaration order).
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<Auth, SessionError> {
        let packet = Packet::connect_with(Namespace::main(), value).map_err(SessionError::from)?;
        let json = packet.raw_json().map_or("null", Utf8Bytes::as_str);
        Auth::from_json(json)
    }

    /// Takes JSON text of an object; values are kept verbatim. A key given twice keeps its
    /// first position and its last value, as `JSON.parse` does.
    pub fn from_json(json: &str) -> Result<Auth, SessionError> {
        let object: OrderedObject =
            serde_json::from_str(json).map_err(|_| SessionError::AuthNotAnObject)?;
        Ok(Auth { fields: object.0 })
    }

    /// The object's JSON text.
    pub fn to_json(&self) -> String {
        write_object(self.fields.iter().map(|(k, v)| (k.as_str(), v.get())))
    }
}

struct OrderedObject(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut fields: Vec<(String, Box<RawValue>)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    match fields.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = value,
                        None => fields.push((key, value)),
                    }
                }
                Ok(OrderedObject(fields))
            }
        }
        de.deserialize_map(V)
    }
}

fn write_object<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(key).unwrap_or_else(|_| String::from("\"\"")));
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    out
}

/// Per-namespace settings, as socket.io-client's `Socket` options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SocketOptions {
    /// The `auth` payload of CONNECT (v5 only); none sends a bare `40`.
    pub auth: Option<Auth>,
    /// The default ack timeout (`ackTimeout`) for emits that ask for an ack.
    pub ack_timeout: Option<Duration>,
    /// `retries`: when above 0, non-volatile emits go through the at-least-once queue.
    pub retries: u32,
}

/// How to emit one event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmitOptions {
    /// Ask the server for an ACK (the JS callback argument).
    pub ack: bool,
    /// This emit's ack timeout (`socket.timeout(ms)`), overriding
    /// [`SocketOptions::ack_timeout`]; needs `ack` (or `retries`).
    pub timeout: Option<Duration>,
    /// Drop the event instead of buffering it when it cannot be sent now
    /// (`socket.volatile`); volatile emits bypass the `retries` queue.
    pub volatile: bool,
}

/// Identifies an emit whose outcome will be reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AckRef {
    /// A plain emit that asked for an ack; the id is the one on the wire.
    Id(AckId),
    /// An emit through the `retries` queue (numbered per namespace from 0); its wire ack id
    /// changes with every try.
    Queued(u64),
}

/// Why an acknowledgement will not come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AckError {
    /// No ACK within the timeout (`operation has timed out`).
    Timeout,
    /// The namespace disconnected while the event was in flight
    /// (`socket has been disconnected`).
    Disconnected,
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AckError::Timeout => "operation has timed out",
            AckError::Disconnected => "socket has been disconnected",
        })
    }
}

/// Why an Engine.IO session could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenError {
    /// Not open within [`ManagerConfig::timeout`] (`timeout`).
    Timeout,
    /// The session ended before the handshake completed.
    Closed(CloseReason),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Timeout => f.write_str("timeout"),
            OpenError::Closed(reason) => write!(f, "{reason}"),
        }
    }
}

/// Why joining a namespace failed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ConnectError {
    /// The server refused (CONNECT_ERROR). The namespace is stopped: no retry.
    Refused {
        /// The error message (`err.message`).
        message: String,
        /// The error's `data`, if any.
        data: Option<serde_json::Value>,
    },
    /// The Engine.IO session did not open; reconnection goes on.
    Engine(OpenError),
    /// A v5 CONNECT reply without `sid`: the server speaks protocol v4.
    IncompatibleServer,
}

/// Why a namespace disconnected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The server sent DISCONNECT (`io server disconnect`); no reconnection.
    ServerDisconnect,
    /// [`Manager::disconnect`] (`io client disconnect`); no reconnection.
    ClientDisconnect,
    /// The Engine.IO session ended (`transport close`, `ping timeout`, `parse error`, …;
    /// `forced close` after [`Manager::close`]).
    Engine(CloseReason),
}

impl DisconnectReason {
    /// The reference's name for the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ServerDisconnect => "io server disconnect",
            DisconnectReason::ClientDisconnect => "io client disconnect",
            DisconnectReason::Engine(reason) => reason.as_str(),
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ManagerEvent {
    /// An Engine.IO session opened (`open`); CONNECT packets are on their way.
    Open,
    /// A namespace is connected.
    Connected {
        /// The namespace.
        namespace: Namespace,
        /// The server's socket id for it.
        sid: String,
        /// Whether the server recovered the previous session (same `pid`).
        recovered: bool,
    },
    /// Joining a namespace failed.
    ConnectError {
        /// The namespace.
        namespace: Namespace,
        /// Why.
        error: ConnectError,
    },
    /// The server emitted an event; read it with [`Packet::event_name`] and
    /// [`Packet::args`]. When [`Packet::ack_id`] is set, answer with [`Manager::ack`].
    Event {
        /// The namespace.
        namespace: Namespace,
        /// The EVENT packet.
        packet: Packet,
    },
    /// The server acknowledged an emit; the arguments are [`Packet::args`].
    Ack {
        /// The namespace.
        namespace: Namespace,
        /// Which emit.
        ack: AckRef,
        /// The ACK packet.
        packet: Packet,
    },
    /// An emit's acknowledgement will not come.
    AckFailed {
        /// The namespace.
        namespace: Namespace,
        /// Which emit.
        ack: AckRef,
        /// Why.
        error: AckError,
    },
    /// A connected namespace disconnected.
    Disconnected {
        /// The namespace.
        namespace: Namespace,
        /// Why.
        reason: DisconnectReason,
    },
    /// A reconnection attempt starts (`reconnect_attempt`); the count starts at 1.
    ReconnectAttempt(u32),
    /// A reconnection attempt failed (`reconnect_error`).
    ReconnectError(OpenError),
    /// A reconnection attempt succeeded (`reconnect`), after this many attempts.
    Reconnected(u32),
    /// The attempts are used up (`reconnect_failed`); the manager stays closed until the next
    /// [`Manager::connect`].
    ReconnectFailed,
}

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
        let decoder = Decoder::new(config.version, config.limits);
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
        let ns = self.sockets[idx].namespace.clone();
        let socket = &mut self.sockets[idx];
        if socket.options.retries > 0 && !options.volatile {
            let packet = Packet::event(ns, event, args, None)?;
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
        let ack_id = if options.ack {
            Some(AckId::new(socket.next_ack).ok_or(SessionError::AckIdsExhausted)?)
        } else {
            None
        };
        let packet = Packet::event(ns, event, args, ack_id)?;
        if let Some(id) = ack_id {
            self.sockets[idx].next_ack += 1;
            let timeout = options.timeout.or(self.sockets[idx].options.ack_timeout);
            self.register_ack(now, idx, id, timeout, AckRef::Id(id));
        }
        if options.volatile && self.ready != Ready::Open {
            // Dropped, as the JS client does when the transport is not writable.
        } else if self.sockets[idx].connected {
            self.write(&packet).map_err(SessionError::Engine)?;
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
        self.write(&packet).map_err(SessionError::Engine)
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

    fn on_message(&mut self, now: Instant, data: Data) {
        let status = match data {
            Data::Text(text) => self.decoder.feed_utf8(text),
            Data::Binary(bytes) => self.decoder.feed_binary(bytes),
            Data::None => self.decoder.feed_utf8(Utf8Bytes::default()),
        };
        match status {
            Ok(DecodeStatus::Complete(packet)) => self.on_packet(now, packet),
            Ok(_) => {}
            Err(e) if e.action() == WireAction::IgnorePacket => {}
            Err(_) => self.on_close(now, DisconnectReason::Engine(CloseReason::ParseError)),
        }
    }

    /// Writes a packet to the open session: the text message, then each attachment.
    fn write(&mut self, packet: &Packet) -> Result<(), EngineError> {
        let Some(engine) = self.engine.as_mut().filter(|_| self.ready == Ready::Open) else {
            return Err(EngineError::Closed);
        };
        let encoded = packet.encode();
        engine.send(Data::Text(encoded.to_text()))?;
        for attachment in encoded.attachments() {
            engine.send(Data::Binary(attachment.clone()))?;
        }
        Ok(())
    }

    // ---- namespace sockets (socket.io-client `Socket`) ----

    /// Socket `onopen`: send CONNECT.
    fn socket_open(&mut self, now: Instant, idx: usize) {
        let socket = &self.sockets[idx];
        let namespace = socket.namespace.clone();
        let packet = match self.config.version {
            ProtocolVersion::V4 if namespace.is_main() => {
                // The server joins `/` by itself; its `40` may already be here.
                if self.main_connected && !socket.connected {
                    let sid = self.engine_sid.clone().unwrap_or_default();
                    self.on_connect(now, idx, sid, None);
                }
                return;
            }
            ProtocolVersion::V4 => Packet::connect(namespace),
            ProtocolVersion::V5 => match connect_payload(socket) {
                None => Packet::connect(namespace),
                Some(json) => match Packet::from_parts(
                    PacketType::Connect,
                    namespace,
                    None,
                    Some(Utf8Bytes::from(json)),
                    Vec::new(),
                ) {
                    Ok(packet) => packet,
                    Err(_) => return,
                },
            },
        };
        // Only called with the session open.
        let _ = self.write(&packet);
    }

    fn on_packet(&mut self, now: Instant, packet: Packet) {
        let is_v4 = self.config.version == ProtocolVersion::V4;
        if is_v4 && packet.packet_type() == PacketType::Connect && packet.full_namespace().is_main()
        {
            self.main_connected = true;
        }
        let Some(idx) = self
            .find(packet.namespace())
            .filter(|&i| self.sockets[i].active)
        else {
            return;
        };
        match packet.packet_type() {
            PacketType::Connect if is_v4 => {
                let engine_sid = self.engine_sid.clone().unwrap_or_default();
                let sid = if packet.full_namespace().is_main() {
                    engine_sid
                } else {
                    format!("{}#{engine_sid}", packet.namespace())
                };
                self.on_connect(now, idx, sid, None);
            }
            PacketType::Connect => {
                let data: serde_json::Value = packet.data().unwrap_or_default();
                let text = |key: &str| {
                    data.get(key)
                        .and_then(serde_json::Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                };
                match text("sid") {
                    Some(sid) => self.on_connect(now, idx, sid, text("pid")),
                    None => self.events.push_back(ManagerEvent::ConnectError {
                        namespace: self.sockets[idx].namespace.clone(),
                        error: ConnectError::IncompatibleServer,
                    }),
                }
            }
            PacketType::Event | PacketType::BinaryEvent => {
                if self.sockets[idx].connected {
                    self.deliver_event(idx, packet);
                } else {
                    self.sockets[idx].receive_buffer.push(packet);
                }
            }
            PacketType::Ack | PacketType::BinaryAck => self.on_ack(now, idx, packet),
            PacketType::Disconnect => {
                self.sockets[idx].active = false;
                self.socket_close(now, idx, DisconnectReason::ServerDisconnect);
                self.close_if_unused(now);
            }
            PacketType::ConnectError => {
                self.sockets[idx].active = false;
                let error = refusal(&packet);
                self.events.push_back(ManagerEvent::ConnectError {
                    namespace: self.sockets[idx].namespace.clone(),
                    error,
                });
                self.close_if_unused(now);
            }
        }
    }

    fn on_connect(&mut self, now: Instant, idx: usize, sid: String, pid: Option<String>) {
        let socket = &mut self.sockets[idx];
        let recovered = pid.is_some() && socket.pid == pid;
        socket.pid = pid;
        socket.sid = Some(sid.clone());
        socket.connected = true;
        self.events.push_back(ManagerEvent::Connected {
            namespace: socket.namespace.clone(),
            sid,
            recovered,
        });
        for packet in std::mem::take(&mut self.sockets[idx].receive_buffer) {
            self.deliver_event(idx, packet);
        }
        for packet in std::mem::take(&mut self.sockets[idx].send_buffer) {
            // A failure means the session closed; the manager is already reconnecting.
            let _ = self.write(&packet);
        }
        self.drain_queue(now, idx, true);
    }

    fn deliver_event(&mut self, idx: usize, packet: Packet) {
        let socket = &mut self.sockets[idx];
        // JS: `args` is `[name, ...args]`, plus an ack function when the packet has an id.
        if socket.pid.is_some() && packet.ack_id().is_none() {
            if let Some(offset) = last_string_arg(&packet) {
                socket.last_offset = Some(offset);
            }
        }
        self.events.push_back(ManagerEvent::Event {
            namespace: socket.namespace.clone(),
            packet,
        });
    }

    fn on_ack(&mut self, now: Instant, idx: usize, packet: Packet) {
        let Some(id) = packet.ack_id() else { return };
        let Some(ack) = self.sockets[idx].acks.remove(&id.get()) else {
            return;
        };
        if let Some(at) = ack.deadline {
            self.ack_deadlines.remove(&(at, idx, id.get()));
        }
        match ack.target {
            AckRef::Id(_) => self.events.push_back(ManagerEvent::Ack {
                namespace: self.sockets[idx].namespace.clone(),
                ack: ack.target,
                packet,
            }),
            AckRef::Queued(seq) => self.on_queue_result(now, idx, seq, Ok(packet)),
        }
    }

    fn on_ack_timeout(&mut self, now: Instant, idx: usize, id: u64) {
        let socket = &mut self.sockets[idx];
        let Some(ack) = socket.acks.remove(&id) else {
            return;
        };
        socket
            .send_buffer
            .retain(|p| p.ack_id().map(AckId::get) != Some(id));
        match ack.target {
            AckRef::Id(_) => self.events.push_back(ManagerEvent::AckFailed {
                namespace: socket.namespace.clone(),
                ack: ack.target,
                error: AckError::Timeout,
            }),
            AckRef::Queued(seq) => self.on_queue_result(now, idx, seq, Err(AckError::Timeout)),
        }
    }

    /// Socket `onclose`.
    fn socket_close(&mut self, now: Instant, idx: usize, reason: DisconnectReason) {
        let socket = &mut self.sockets[idx];
        let was_connected = socket.connected;
        socket.connected = false;
        socket.sid = None;
        if was_connected {
            self.events.push_back(ManagerEvent::Disconnected {
                namespace: socket.namespace.clone(),
                reason,
            });
        }
        // Acks of packets still in the send buffer survive: the packet has not left yet.
        let socket = &mut self.sockets[idx];
        let in_flight: Vec<u64> = socket
            .acks
            .keys()
            .copied()
            .filter(|id| {
                !socket
                    .send_buffer
                    .iter()
                    .any(|p| p.ack_id().map(AckId::get) == Some(*id))
            })
            .collect();
        for id in in_flight {
            let Some(ack) = self.sockets[idx].acks.remove(&id) else {
                continue;
            };
            if let Some(at) = ack.deadline {
                self.ack_deadlines.remove(&(at, idx, id));
            }
            match ack.target {
                AckRef::Id(_) => self.events.push_back(ManagerEvent::AckFailed {
                    namespace: self.sockets[idx].namespace.clone(),
                    ack: ack.target,
                    error: AckError::Disconnected,
                }),
                // JS: only an error-first callback (one with a timeout) hears of it; without,
                // the head stays pending and is re-sent on the next connect.
                AckRef::Queued(seq) if ack.deadline.is_some() => {
                    self.on_queue_result(now, idx, seq, Err(AckError::Disconnected));
                }
                AckRef::Queued(_) => {}
            }
        }
    }

    fn register_ack(
        &mut self,
        now: Instant,
        idx: usize,
        id: AckId,
        timeout: Option<Duration>,
        target: AckRef,
    ) {
        let deadline = timeout.map(|t| now + t);
        if let Some(at) = deadline {
            self.ack_deadlines.insert((at, idx, id.get()));
        }
        self.sockets[idx]
            .acks
            .insert(id.get(), PendingAck { deadline, target });
    }

    /// Socket `_drainQueue`: sends the queue head with a fresh ack id.
    fn drain_queue(&mut self, now: Instant, idx: usize, force: bool) {
        let socket = &mut self.sockets[idx];
        if !socket.connected {
            return;
        }
        let Some(id) = AckId::new(socket.next_ack) else {
            return;
        };
        let Some(head) = socket.queue.front_mut() else {
            return;
        };
        if head.pending && !force {
            return;
        }
        head.pending = true;
        head.tries += 1;
        head.packet.ack_id = Some(id);
        socket.next_ack += 1;
        let (seq, timeout, packet) = (head.seq, head.timeout, head.packet.clone());
        self.register_ack(now, idx, id, timeout, AckRef::Queued(seq));
        let _ = self.write(&packet);
    }

    /// The internal ack callback of a queued emit.
    fn on_queue_result(
        &mut self,
        now: Instant,
        idx: usize,
        seq: u64,
        result: Result<Packet, AckError>,
    ) {
        let socket = &mut self.sockets[idx];
        let Some(head) = socket.queue.front_mut().filter(|h| h.seq == seq) else {
            return; // already acknowledged
        };
        let namespace = socket.namespace.clone();
        let ack = AckRef::Queued(seq);
        match result {
            Err(error) if head.tries > socket.options.retries => {
                socket.queue.pop_front();
                self.events.push_back(ManagerEvent::AckFailed {
                    namespace,
                    ack,
                    error,
                });
            }
            Err(_) => head.pending = false,
            Ok(packet) => {
                socket.queue.pop_front();
                self.events.push_back(ManagerEvent::Ack {
                    namespace,
                    ack,
                    packet,
                });
            }
        }
        self.drain_queue(now, idx, false);
    }
}

/// The CONNECT payload: `auth`, or `Object.assign({pid, offset}, auth)` once a pid is known.
fn connect_payload(socket: &NsSocket) -> Option<String> {
    let Some(pid) = &socket.pid else {
        return socket.options.auth.as_ref().map(Auth::to_json);
    };
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut pid = quote(pid);
    let mut offset = socket.last_offset.as_deref().map(quote);
    let mut rest: Vec<(&str, String)> = Vec::new();
    for (key, value) in socket.options.auth.iter().flat_map(|a| a.fields.iter()) {
        match key.as_str() {
            "pid" => pid = value.get().to_owned(),
            "offset" => offset = Some(value.get().to_owned()),
            _ => rest.push((key, value.get().to_owned())),
        }
    }
    let head = [("pid", Some(pid)), ("offset", offset)];
    let fields = head
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
        .chain(rest.iter().map(|(k, v)| (*k, v.as_str())));
    Some(write_object(fields))
}

/// The last element of an event's payload array (the event name when there are no
/// arguments, as in the JS client) if it is a string.
fn last_string_arg(packet: &Packet) -> Option<String> {
    let json = packet.raw_json()?;
    let items: Vec<&RawValue> = serde_json::from_str(json.as_str()).ok()?;
    serde_json::from_str::<String>(items.last()?.get()).ok()
}

/// A CONNECT_ERROR payload: `{"message", "data"?}` in v5; any value in v4 (a string is the
/// message).
fn refusal(packet: &Packet) -> ConnectError {
    let value: serde_json::Value = packet.data().unwrap_or_default();
    match value {
        serde_json::Value::String(message) => ConnectError::Refused {
            message,
            data: None,
        },
        serde_json::Value::Object(mut object) => match object.remove("message") {
            Some(serde_json::Value::String(message)) => ConnectError::Refused {
                message,
                data: object.remove("data"),
            },
            message => {
                if let Some(message) = message {
                    object.insert(String::from("message"), message);
                }
                ConnectError::Refused {
                    message: String::new(),
                    data: Some(serde_json::Value::Object(object)),
                }
            }
        },
        serde_json::Value::Null => ConnectError::Refused {
            message: String::new(),
            data: None,
        },
        other => ConnectError::Refused {
            message: String::new(),
            data: Some(other),
        },
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
        other => other,
    }
}
