//! What the manager reports: [`ManagerEvent`] and the outcomes it carries.

use super::*;

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
