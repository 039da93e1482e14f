//! The error of the application API: one type to match on.

use std::fmt;

use socketio_proto::server::QueryError;
use socketio_proto::{EncodeError, SessionError};

use crate::args::ArgsError;

/// Why a command of the application API failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The arguments do not encode (they do not serialize, or the msgpack payload is too
    /// deep or too large).
    Encode(EncodeError),
    /// The event name is reserved (`connect`, `disconnect`, …).
    ReservedEventName,
    /// The socket (or the server) is gone.
    Closed,
    /// No answer within the timeout (an acknowledgement, a query: for a query, at least one
    /// server did not answer, as the reference rejects it).
    Timeout,
    /// The answer did not have the expected shape.
    Args(ArgsError),
    /// The client asked for no acknowledgement.
    NoAck,
    /// The adapter refused the operation (too many queries waiting, an operation it does
    /// not have, a namespace it does not serve).
    Query(QueryError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Encode(err) => write!(f, "does not encode: {err}"),
            Error::ReservedEventName => f.write_str("the event name is reserved"),
            Error::Closed => f.write_str("the socket is closed"),
            Error::Timeout => f.write_str("operation has timed out"),
            Error::Args(err) => write!(f, "{err}"),
            Error::NoAck => f.write_str("the client asked for no acknowledgement"),
            Error::Query(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Encode(err) => Some(err),
            Error::Args(err) => Some(err),
            Error::Query(err) => Some(err),
            _ => None,
        }
    }
}

impl From<SessionError> for Error {
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::ReservedEventName => Error::ReservedEventName,
            SessionError::Encode => Error::Encode(EncodeError::ArgumentsNotASequence),
            _ => Error::Closed,
        }
    }
}

impl From<QueryError> for Error {
    fn from(err: QueryError) -> Self {
        match err {
            QueryError::Encode(err) => Error::Encode(err),
            err => Error::Query(err),
        }
    }
}

/// A middleware's refusal of a CONNECT (the reference's `next(err)`): the client's
/// `connect_error` gets `message` and, when set, `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// `err.message`.
    pub message: String,
    /// `err.data`.
    pub data: Option<serde_json::Value>,
}

impl Refusal {
    /// A refusal with this message.
    pub fn new(message: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            data: None,
        }
    }

    /// With `data` (JSON): what the client reads as `err.data`.
    pub fn with_data(mut self, data: impl serde::Serialize) -> Refusal {
        self.data = serde_json::to_value(data).ok();
        self
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}
