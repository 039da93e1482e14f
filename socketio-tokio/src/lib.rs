//! Socket.IO for tokio: a server that mounts in axum, hyper or any tower stack (or serves on
//! its own), and a client, on the sans-IO protocol crates.
//!
//! ```text
//!   engineio-proto, socketio-proto   the protocols, sans-IO (codecs, sessions, Endpoint)
//!   socketio-cluster-proto           the cluster adapters, sans-IO
//! → socketio-tokio                   this crate: I/O on tokio, hyper and tungstenite,
//!                                    and the application API
//!   socketio-redis, socketio-postgres  the cluster adapters' driver halves
//! ```
//!
//! # A server in axum
//!
//! [`SocketIo::new_layer`] gives a tower layer that answers the Socket.IO path
//! (`/socket.io/`) and passes every other request on, and the [`SocketIo`] handle where the
//! application sets its namespaces and emits from anywhere:
//!
//! ```no_run
//! use axum::routing::get;
//! use socketio_tokio::{Ack, Data, Event, Socket, SocketIo};
//!
//! # async fn run() -> std::io::Result<()> {
//! let (layer, io) = SocketIo::new_layer();
//! io.ns("/", |socket: Socket| {
//!     // `join`(room) joins it and acknowledges `true`.
//!     socket.on("join", |socket: Socket, Data(room): Data<String>, ack: Ack| {
//!         socket.join(&room);
//!         let _ = ack.send(&true);
//!     });
//!     // `chat` goes to every socket of the sender's rooms, the sender included.
//!     socket.on("chat", |socket: Socket, event: Event| {
//!         let _ = socket.within(socket.id()).to_rooms(socket.rooms()).emit("chat", &event);
//!     });
//! });
//! let app = axum::Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(layer);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! The same server mounts in plain hyper ([`Builder::build_service`], a hyper and tower
//! service) or serves on its own ([`Builder::build_server`], with
//! [`threads`](Builder::threads) for one shard per core); the crate's `examples/` show each
//! (`axum_chat`, `hyper_server`, `typed_events`). Several servers form a cluster through an
//! adapter ([`Builder::cluster`]; `socketio-redis` for Redis, `socketio-postgres` for
//! PostgreSQL).
//!
//! # Handlers
//!
//! A handler takes the [`Socket`], the arguments ([`Data<T>`](Data) for typed values, a
//! tuple for several, [`Event`] for the packet as it came) and, optionally, the [`Ack`] to
//! answer; or it returns a [`Reply`]. Application state is whatever the closures capture
//! (an `Arc`). [`NamespaceBuilder::with`](server::NamespaceBuilder::with) checks each CONNECT
//! (the reference's middleware) and may store typed data on the socket.
//!
//! Sync handlers run inline on the shard's core task, in the order events arrive, with no
//! task spawned and no future boxed; async ones ([`Socket::on_async`]) run as tasks. Every
//! command ([`Socket::emit`], [`Operators::emit`], [`Socket::join`]…) acts at once from any
//! task.
//!
//! # What the driver bounds
//!
//! See [`policy`]: header, body and upgrade timeouts, the connection limit (standalone), each
//! WebSocket's outgoing backlog (backpressure on its input first, then a 1008 close), the
//! input [`Gate`](driver::Gate) of a shard whose siblings are busy. The protocol limits
//! (`maxPayload`, attachments, nesting, recovery store) are the endpoint's.
//!
//! # Features
//!
//! - `admin-ui`: the server side of the official Socket.IO Admin UI (`admin`).
//! - `tracing`: spans `connection{remote, shard}` (each HTTP connection of the standalone
//!   server; a WebSocket runs in the span of the request that upgraded it, the host's under
//!   axum), `socket{ns, id}` (`Socket::span`; its handlers run in it, async ones too) and
//!   `socketio_client{url, path}`, with debug events for connections, events, disconnections,
//!   refusals and the client's reconnections. Nothing is compiled in without it.
//!
//! Metrics in the Prometheus text format need no feature: [`SocketIo::metrics`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "admin-ui")]
pub mod admin;
pub mod args;
pub mod client;
pub mod driver;
pub mod handler;
mod metrics;
pub mod policy;
pub mod server;
mod websocket;

pub use policy::{ConnectionLimits, Cookie, Cors, Options, RequestInfo, RequestPolicy};
pub use server::{
    Ack, Builder, Connecting, Data, Error, Event, Operators, Refusal, Reply, Socket, SocketIo,
};
pub use socketio_proto::server::{DisconnectReason, Handshake, RecoveryConfig, RemoteSocket};
pub use socketio_proto::{Parser, bytes};
pub use websocket::Backlog;
