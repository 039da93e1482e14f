//! The generic driver: HTTP long-polling and WebSocket connections in, a sans-IO state
//! machine in the middle, bytes and time out. It knows HTTP, WebSocket, timers and shards,
//! nothing of Socket.IO's application API or of any cluster adapter.
//!
//! ```text
//!  HTTP request ─► request task ─┬─ Msg ───────────────► core task ─┐ (one per shard)
//!                                └─ 101 ─► WebSocket task ─► Msg ──┤
//!                                                                   ▼
//!                                  Mutex<Core<M>>: the Machine, reply channels, outboxes
//!                                   ▲                               │
//!  application handles ─ lock() ────┘     replies (per request) ◄───┤
//!                                         frames (per socket)  ◄────┘
//! ```
//!
//! A [`Machine`] is the sans-IO side (a Socket.IO endpoint with its application, or an
//! Engine.IO echo). Each shard's *core task* feeds it what the connection tasks report, in
//! arrival order and in batches, drains its transmits onto the wire, runs the application
//! ([`Machine::run`]) and sleeps until its next deadline. Anything else that acts on the
//! machine — an application handle on another task, a cluster adapter's connection —
//! [`lock`](Shard::lock)s it; when the lock is released, whatever the machine wants sent goes
//! out and the core is woken if there is work for it (the run loop's drain rule, kept by the
//! guard).

pub(crate) mod gate;
mod http;
mod listen;
mod service;
pub(crate) mod shard;

pub use gate::Gate;
pub use http::RemoteAddr;
pub(crate) use http::Shared;
pub(crate) use listen::serve_shards;
pub use listen::{ServerHandle, serve, serve_sharded};
pub use service::{NotFound, ResponseBody, ResponseFuture, SocketIoLayer, SocketIoService};
pub(crate) use shard::spawn_shards;
pub use shard::{Guard, Machine, SIBLING_QUEUE, Shard, Task, shard_tag};
