//! Tokio drivers for `engineio-proto` and `socketio-proto`, and the programs built on them.
//!
//! The protocol crates are sans-IO: they never touch a socket, a clock or a task. This crate
//! is the glue for one runtime (tokio, with hyper 1.x for HTTP/1.1 long-polling and
//! tokio-tungstenite for WebSocket), written to be read in one sitting and copied to another
//! runtime:
//!
//! * [`server`]: the server driver: HTTP and WebSocket connections in, one task that owns a
//!   sans-IO endpoint and the application (a [`server::Service`]), CSPRNG ids; or one such
//!   task per thread ([`server::serve_sharded`]), to use every core.
//! * [`socketio`]: a Socket.IO [`server::Service`]: the `socketio-proto` endpoint with an
//!   [`socketio::App`] of callbacks.
//! * [`websocket`]: one WebSocket's task for both drivers: batched writes, an outgoing
//!   backlog bounded in bytes with backpressure on input, the reference's close codes.
//! * [`client`]: the Socket.IO client driver around `socketio_proto::session::client::Manager`.
//! * [`apps`]: the applications of the example programs: the chat server and the interop app
//!   (the server the official test suites and our interop tests talk to).
//!
//! Programs (`cargo run -p socketio-tokio --bin …`): `chat` (the chat server on
//! 127.0.0.1:3000), `conformance-server` (the modes of the official test suites, and the
//! interop app), `client` (our client against any server speaking the interop app).
//!
//! # Example: an Engine.IO echo server
//!
//! ```no_run
//! use socketio_tokio::server::{self, Echo, Options};
//! # async fn run() -> std::io::Result<()> {
//! let options = Options::new("/engine.io/");
//! let echo = Echo::new(Default::default());
//! let server = server::serve("127.0.0.1:3000".parse().unwrap(), options, echo).await?;
//! println!("listening on {}", server.local_addr());
//! std::future::pending::<()>().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod apps;
pub mod client;
pub mod cluster;
pub mod policy;
mod resp;
pub mod server;
pub mod socketio;
pub mod websocket;
