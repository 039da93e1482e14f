//! The server, sans-IO: everything a driver touches, from one `use`.
//!
//! ```
//! use socketio_proto::server::*;
//! ```
//!
//! brings the [`Endpoint`] and its settings, what goes in ([`Input`], [`Handshake`]), what comes
//! out ([`Transmit`], [`ServerEvent`], [`HttpResponse`]), the ids ([`RequestId`], [`SocketId`],
//! [`SessionKey`], [`IdSource`]), the packets ([`Packet`], [`Namespace`], [`AckId`]), the
//! broadcast targets ([`BroadcastTarget`]) and the adapter seam ([`Adapter`], [`Local`]).
//!
//! # The run loop
//!
//! A driver — tokio, a thread per socket, an embedded loop — only moves bytes and time.
//!
//! 1. **Input.** For every HTTP request on the Socket.IO path (`/socket.io/`), call
//!    [`Endpoint::handle`] with the current time and [`Input::Request`] (its real method, its
//!    query string, whether it asks for a WebSocket); a request that may open a session (no
//!    `sid`) goes to [`Endpoint::handle_handshake`] with a [`Handshake`] describing it. Then
//!    report what follows: the POST body the endpoint asked for ([`Input::PostBody`]), the
//!    opened WebSocket, every frame, every closed socket, every request whose client went
//!    away.
//! 2. **Drain.** After every input and every command, call [`Endpoint::poll_event`] and
//!    [`Endpoint::poll_transmit`] until both return `None`. Events are the application's (a
//!    client asking to join a namespace: accept or refuse it, this is your middleware; an
//!    event: answer its ack id; an ack; a disconnect; a query's reply). Transmits are the
//!    wire's: an HTTP response (refusals included) to write, a body to read, an upgrade to
//!    accept, a frame to send, a socket to close. Both enums are exhaustive: a driver that
//!    forgets one does not compile.
//! 3. **Sleep** until [`Endpoint::poll_timeout`], then call [`Endpoint::handle_timeout`]. Any
//!    call whose `now` is past a deadline applies that deadline first, so a late wake-up
//!    cannot deliver input to a session that already timed out.
//!
//! Commands ([`Endpoint::emit`], [`Endpoint::broadcast`], [`Endpoint::join`],
//! [`Endpoint::fetch_sockets`], [`Endpoint::disconnect`], …) can be given at any time; drain
//! after them too. A broadcast is encoded once, down to the WebSocket frame, and shared by
//! every recipient. Ids come from the [`IdSource`] you pass: use the operating system's
//! CSPRNG ([`OsIds`], with the `getrandom` feature).
//!
//! The endpoint never panics on what a peer sends: every input yields a response, an event
//! or nothing, and every buffer is bounded (see the crate's limits).
//!
//! # One server of many: the adapter
//!
//! Everything that reaches beyond one socket — broadcasts, `socketsJoin`, `fetchSockets`,
//! `serverSideEmit`, broadcasts with acknowledgements, kept sessions, the CONNECT of a
//! recovering client — goes through the endpoint's [`Adapter`]. Alone, it is the
//! [`MemoryAdapter`]; the `socketio-cluster-proto` crate has the Redis and PostgreSQL ones,
//! which make this server one node of a cluster of Node.js and Rust servers. An adapter's
//! driver half feeds it through [`Endpoint::with_adapter_mut`].
//!
//! # Example
//!
//! `examples/std_server.rs` (blocking `std::net`) and `examples/hyper_server.rs` (tokio and
//! hyper, long-polling and WebSocket) are complete servers on this module; the
//! [`endpoint`](self::Endpoint) docs drive a polling handshake by hand.

mod adapter;
mod config;
mod connection;
mod endpoint;
mod events;
mod handshake;
mod local;
mod query;
mod recovery;
mod rooms;

pub use adapter::{Adapter, MemoryAdapter, Restore};
pub use config::EndpointConfig;
pub use connection::{
    Connection, ConnectionCloseReason, ConnectionConfig, ConnectionEvent, DisconnectReason, Output,
};
pub use endpoint::Endpoint;
pub use events::{ConnectRequest, ReplyTo, ServerEvent, SocketRef};
pub use handshake::Handshake;
pub use local::{Local, Notice};
pub use query::{
    Answer, Answers, MAX_PENDING_QUERIES, QueryError, QueryId, QueryReply, REQUESTS_TIMEOUT,
    RemoteSocket,
};
pub use recovery::{
    KeptSession, Recovered, RecoveryConfig, RecoveryRequest, RecoveryStore, reaches,
    with_offset_if_recoverable,
};
pub use rooms::{BroadcastTarget, MAX_MEMBERSHIPS, Membership, RoomChange, Rooms};

pub use crate::session::SessionError;
pub use crate::{AckId, EncodedPacket, Namespace, Packet, Parser, Utf8Bytes};
#[cfg(feature = "getrandom")]
pub use engineio_proto::session::endpoint::OsIds;
pub use engineio_proto::session::endpoint::{Counters, IdSource, Input, SessionKey};
pub use engineio_proto::session::server::{HttpResponse, Method, ServerConfig, Transmit};
pub use engineio_proto::session::{CloseReason, RequestId, SocketId};
pub use engineio_proto::{Frame, ProtocolVersion as EngineVersion};
