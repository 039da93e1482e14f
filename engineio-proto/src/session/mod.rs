//! Sans-IO Engine.IO sessions: pure state machines for a server ([`server`]) and a client
//! ([`client`]).
//!
//! Both follow one shape. Inputs come in through `handle_*` methods that take the current time;
//! local actions are commands (`send`, `close`); outputs come out of `poll_transmit` (bytes to
//! write), `poll_event` (what happened) and `poll_timeout` (when to call `handle_timeout`
//! next). **After every input, drain the outputs until there is none.** Nothing reads a clock,
//! spawns, locks or does I/O; an early `handle_timeout` call is harmless.

use core::fmt;

pub mod client;
pub mod endpoint;
pub mod server;
mod timers;

pub use timers::TimerTable;

/// Why a session ended. Reported exactly once, in the last event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed the session (a `1` packet, or the WebSocket closed).
    TransportClose,
    /// The transport failed or the peer broke a transport rule (overlapping polls, an aborted
    /// poll, a heartbeat in the wrong direction, a refused POST).
    TransportError,
    /// No heartbeat within `pingInterval + pingTimeout`.
    PingTimeout,
    /// The peer sent bytes that do not decode.
    ParseError,
    /// The local side called `close`.
    ForcedClose,
    /// The server closed a session whose client did not take what was sent to it fast enough
    /// (more than `max_queued_bytes` waiting). Not a reference reason: the reference buffers
    /// without bound.
    BacklogFull,
}

impl CloseReason {
    /// The reference's name for the reason (`"transport close"`, `"ping timeout"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::BacklogFull => "backlog full",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A local command that cannot be carried out. Never caused by the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionError {
    /// The session is closed or closing.
    Closed,
    /// The packet cannot be encoded for this session (see [`EncodeError`](crate::EncodeError)).
    Encode(crate::EncodeError),
    /// The packet is larger than the peer's `maxPayload` and could never be delivered by polling.
    TooLarge,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Closed => f.write_str("the session is closed"),
            SessionError::Encode(e) => write!(f, "cannot encode the packet: {e}"),
            SessionError::TooLarge => f.write_str("the packet exceeds the peer's maxPayload"),
        }
    }
}

impl std::error::Error for SessionError {}

/// Identifies one HTTP request of a session; chosen by the driver, opaque to the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct RequestId(pub u64);

/// Identifies one WebSocket connection: chosen by the [`Endpoint`](endpoint::Endpoint) (or by
/// the driver of a bare [`ServerSession`](server::ServerSession)), opaque to the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SocketId(pub u64);
