//! The manager's settings: [`ManagerConfig`] with its [`Backoff`], and the per-namespace and
//! per-emit options.

use super::*;

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
    /// The wire format (the client's `parser` option): text by default;
    /// [`Parser::Msgpack`](crate::Parser::Msgpack) for servers using
    /// `socket.io-msgpack-parser` (protocol v5 only).
    pub parser: crate::Parser,
    /// The most packets one namespace holds in each of its buffers: emits waiting for the
    /// namespace to connect (beyond, [`Manager::emit`] fails with
    /// [`SessionError::BufferFull`]) and events the server sent before answering CONNECT
    /// (beyond, the session is closed as a protocol error). 10 000; socket.io-client has no
    /// limit.
    pub max_buffered: usize,
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
            parser: crate::Parser::Text,
            max_buffered: 10_000,
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
pub(super) fn to_int32(x: f64) -> i64 {
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
