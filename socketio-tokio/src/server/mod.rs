//! The Socket.IO server: what an application registers and calls.
//!
//! * [`SocketIo`] (the reference's `io`) registers namespaces ([`SocketIo::ns`]) and their
//!   middlewares, broadcasts ([`SocketIo::to`], [`Operators`]), and runs cluster-wide
//!   operations (`fetchSockets`, `socketsJoin`, `serverSideEmit`, `serverCount`).
//! * [`Socket`] is one client in one namespace: [`Socket::on`] for its events,
//!   [`Socket::emit`] / [`Socket::emit_with_ack`], rooms, `socket.data`, the handshake.
//! * [`Builder`] holds the settings and serves: [`Builder::build_layer`] (axum, tower),
//!   [`Builder::build_service`] (hyper), [`Builder::build_server`] (standalone, one
//!   endpoint per thread with [`Builder::threads`]).
//!
//! Handlers are sync or async ([`handler`](crate::handler)); arguments are typed with serde ([`Data`]) or
//! read as they came ([`Event`]), binary values by reference count, never copied.

mod builder;
mod error;
mod io;
mod machine;
mod operators;
mod shards;
mod socket;

pub use crate::args::{ArgsError, Data, Event, FromEvent, IntoArgs};
pub use crate::handler::Reply;
pub use builder::{Builder, ClusterDriver, Node, Standalone};
pub use error::{Error, Refusal};
#[cfg(feature = "admin-ui")]
pub(crate) use io::Monitor;
pub use io::{Connecting, NamespaceBuilder, ServerSideEmit, SocketIo};
pub use machine::Server;
pub use operators::{Acks, Operators};
pub use shards::{FORWARD_HIGH, FORWARD_LOW};
pub use socket::{Ack, Socket};
