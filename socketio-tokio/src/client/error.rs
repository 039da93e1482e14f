//! The client's error type.

use std::fmt;

use socketio_proto::client::ConnectError;
use socketio_proto::{EncodeError, SessionError};

use crate::args::ArgsError;

/// Why a client call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL cannot be used (not `http://` or `ws://`, no host, a bad namespace…).
    Url(String),
    /// The arguments do not encode.
    Encode(EncodeError),
    /// The client refused the command: a reserved event name, a full send buffer, an auth
    /// payload that is not a JSON object, a namespace that is not joined.
    Session(SessionError),
    /// The answer did not have the expected shape.
    Args(ArgsError),
    /// No acknowledgement within the timeout (`operation has timed out`).
    Timeout,
    /// The namespace disconnected before the acknowledgement came (`socket has been
    /// disconnected`).
    Disconnected,
    /// Joining the namespace failed: the server refused it (its middleware's message and
    /// data), or speaks another protocol version, or the connection did not open.
    Connect(ConnectError),
    /// Every reconnection attempt failed (`reconnect_failed`).
    ReconnectFailed,
    /// The client is closed.
    Closed,
    /// The server asked for no acknowledgement.
    NoAck,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Url(why) => write!(f, "unusable URL: {why}"),
            Error::Encode(err) => write!(f, "does not encode: {err}"),
            Error::Session(err) => write!(f, "{err}"),
            Error::Args(err) => write!(f, "{err}"),
            Error::Timeout => f.write_str("operation has timed out"),
            Error::Disconnected => f.write_str("socket has been disconnected"),
            Error::Connect(ConnectError::Refused { message, .. }) => {
                write!(f, "refused by the server: {message}")
            }
            Error::Connect(ConnectError::Engine(err)) => write!(f, "could not connect: {err}"),
            Error::Connect(err) => write!(f, "could not join the namespace: {err:?}"),
            Error::ReconnectFailed => f.write_str("every reconnection attempt failed"),
            Error::Closed => f.write_str("the client is closed"),
            Error::NoAck => f.write_str("the server asked for no acknowledgement"),
        }
    }
}

impl std::error::Error for Error {}

impl From<SessionError> for Error {
    fn from(err: SessionError) -> Self {
        Error::Session(err)
    }
}
