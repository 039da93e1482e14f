//! Sans-IO Socket.IO sessions above the codec: a server connection ([`server`]) with rooms and
//! broadcast ([`rooms`]), and a client
//! manager ([`client`]).
//!
//! Both follow the shape of `engineio_proto::session`: `handle_*` inputs that take the current
//! time, commands, and `poll_transmit` / `poll_event` / `poll_timeout` outputs, drained after
//! every input. Nothing reads a clock or a random number generator: ids, offsets and jitter come
//! from the caller.

pub mod client;
pub mod endpoint;
pub mod recovery;
pub mod rooms;
pub mod server;
