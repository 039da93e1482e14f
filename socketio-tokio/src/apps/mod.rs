//! The applications behind the example programs, on the [`crate::socketio`] layer.

pub mod chat;
pub mod interop;
