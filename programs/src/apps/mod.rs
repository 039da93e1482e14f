//! The applications behind the programs, on the public API of `socketio-tokio`.

pub mod chat;
pub mod interop;
