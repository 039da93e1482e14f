//! What the servers of a cluster say to each other, whatever the adapter: [`ClusterMessage`],
//! the broadcast options it carries, and the error of a message that does not decode.

use std::fmt;

use socketio_proto::msgpack::MsgpackError;
use socketio_proto::server::{BroadcastTarget, RemoteSocket};
use socketio_proto::{DecodeError, Packet};

/// The options of a broadcast, as the adapters carry them (`opts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// The rooms to reach; empty for the whole namespace. A socket id is a room too.
    pub rooms: Vec<String>,
    /// The rooms whose sockets are skipped.
    pub except: Vec<String>,
    /// The flags.
    pub flags: Flags,
}

impl From<&BroadcastTarget> for BroadcastOptions {
    /// A local broadcast's target as the adapters carry it (`volatile` is its only flag).
    fn from(target: &BroadcastTarget) -> Self {
        BroadcastOptions {
            rooms: target.rooms.clone(),
            except: target.except.clone(),
            flags: Flags {
                volatile: target.volatile,
                ..Flags::default()
            },
        }
    }
}

impl From<&BroadcastOptions> for BroadcastTarget {
    /// The local sockets another node's broadcast selects here (rooms, exceptions,
    /// `volatile`; the other flags do not change who receives it).
    fn from(opts: &BroadcastOptions) -> Self {
        let target = BroadcastTarget::to(opts.rooms.iter().map(String::as_str))
            .except(opts.except.iter().map(String::as_str));
        if opts.flags.volatile {
            target.volatile()
        } else {
            target
        }
    }
}

/// Broadcast flags. Unknown flags are ignored when decoding, as the reference does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `volatile`: may be dropped for a client that cannot take it now.
    pub volatile: bool,
    /// `compress`, when set.
    pub compress: Option<bool>,
    /// `timeout` in milliseconds (broadcasts with acknowledgements).
    pub timeout: Option<u64>,
    /// `expectSingleResponse` (operations on one remote socket).
    pub expect_single_response: bool,
}

/// A message from another node that does not decode.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClusterError {
    /// The msgpack is malformed.
    Msgpack(MsgpackError),
    /// The embedded Socket.IO packet is not one.
    Packet(DecodeError),
    /// The JSON is malformed or has the wrong shape.
    Json(String),
    /// The message has the wrong shape (a missing or mistyped field).
    Shape(&'static str),
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Msgpack(err) => write!(f, "msgpack: {err}"),
            Self::Packet(err) => write!(f, "packet: {err}"),
            Self::Json(err) => write!(f, "JSON: {err}"),
            Self::Shape(what) => write!(f, "unexpected message shape: {what}"),
        }
    }
}

impl std::error::Error for ClusterError {}

impl From<MsgpackError> for ClusterError {
    fn from(err: MsgpackError) -> Self {
        Self::Msgpack(err)
    }
}

impl From<DecodeError> for ClusterError {
    fn from(err: DecodeError) -> Self {
        match err {
            DecodeError::Msgpack(err) => Self::Msgpack(err),
            err => Self::Packet(err),
        }
    }
}

/// What one server says to the others, whatever the adapter: the reference's cluster
/// message types (`socket.io-adapter`'s `MessageType`, with their numbers), plus the classic
/// Redis adapter's `allRooms`.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterMessage {
    /// 3: deliver `packet` to the sockets `opts` selects; with a request id, each with an
    /// ack id of its own, answering [`BroadcastClientCount`](Self::BroadcastClientCount) at
    /// once and one [`BroadcastAck`](Self::BroadcastAck) per client acknowledgement.
    Broadcast {
        /// An EVENT of the envelope's namespace.
        packet: Packet,
        /// Rooms, exceptions and flags (`timeout` bounds the wait for acks).
        opts: BroadcastOptions,
        /// Set for a broadcast with acknowledgements.
        request_id: Option<String>,
    },
    /// 4: the sockets `opts` selects join `rooms`.
    SocketsJoin {
        /// Which sockets.
        opts: BroadcastOptions,
        /// The rooms.
        rooms: Vec<String>,
    },
    /// 5: the sockets `opts` selects leave `rooms`.
    SocketsLeave {
        /// Which sockets.
        opts: BroadcastOptions,
        /// The rooms.
        rooms: Vec<String>,
    },
    /// 6: the sockets `opts` selects are disconnected (`close`: their whole connections).
    DisconnectSockets {
        /// Which sockets.
        opts: BroadcastOptions,
        /// Close the Engine.IO connection too.
        close: bool,
    },
    /// 7: every other node answers [`FetchSocketsResponse`](Self::FetchSocketsResponse).
    FetchSockets {
        /// Which sockets (`flags.timeout` bounds the requester's wait).
        opts: BroadcastOptions,
        /// The request id.
        request_id: String,
    },
    /// 8: a node's matching sockets.
    FetchSocketsResponse {
        /// The request id.
        request_id: String,
        /// The sockets.
        sockets: Vec<RemoteSocket>,
    },
    /// 9: `serverSideEmit`; with a request id, every other node answers once
    /// ([`ServerSideEmitResponse`](Self::ServerSideEmitResponse)).
    ServerSideEmit {
        /// Set when the sender waits for acknowledgements.
        request_id: Option<String>,
        /// `[event, ...args]`, JSON text (a binary as Node.js's JSON of a `Buffer`).
        data: String,
    },
    /// 10: a node's answer to a `serverSideEmit` (its first ack argument).
    ServerSideEmitResponse {
        /// The request id.
        request_id: String,
        /// The answer, JSON text (`null` when the node answered nothing).
        data: String,
    },
    /// 11: how many clients a node delivered a broadcast with acknowledgements to.
    BroadcastClientCount {
        /// The request id.
        request_id: String,
        /// The number of clients (0 included).
        client_count: u64,
    },
    /// 12: a client's acknowledgement of a broadcast (its first argument).
    BroadcastAck {
        /// The request id.
        request_id: String,
        /// An ACK (without ack id) whose payload is `[first argument]` with its
        /// attachments, or `[]`; only its first argument travels.
        ack: Packet,
    },
    /// The classic adapter's `allRooms`: every other node answers
    /// [`AllRoomsResponse`](Self::AllRoomsResponse).
    AllRooms {
        /// The request id.
        request_id: String,
    },
    /// A node's rooms, socket-id rooms included.
    AllRoomsResponse {
        /// The request id.
        request_id: String,
        /// The rooms.
        rooms: Vec<String>,
    },
}

impl ClusterMessage {
    /// Its `type` in the reference's cluster messages; `None` for the classic adapter's
    /// own `allRooms` request and response, which no envelope carries.
    pub fn kind(&self) -> Option<u8> {
        Some(match self {
            ClusterMessage::Broadcast { .. } => 3,
            ClusterMessage::SocketsJoin { .. } => 4,
            ClusterMessage::SocketsLeave { .. } => 5,
            ClusterMessage::DisconnectSockets { .. } => 6,
            ClusterMessage::FetchSockets { .. } => 7,
            ClusterMessage::FetchSocketsResponse { .. } => 8,
            ClusterMessage::ServerSideEmit { .. } => 9,
            ClusterMessage::ServerSideEmitResponse { .. } => 10,
            ClusterMessage::BroadcastClientCount { .. } => 11,
            ClusterMessage::BroadcastAck { .. } => 12,
            ClusterMessage::AllRooms { .. } | ClusterMessage::AllRoomsResponse { .. } => {
                return None;
            }
        })
    }

    /// The request id of a response (8, 10, 11, 12).
    pub fn response_to(&self) -> Option<&str> {
        match self {
            ClusterMessage::FetchSocketsResponse { request_id, .. }
            | ClusterMessage::ServerSideEmitResponse { request_id, .. }
            | ClusterMessage::BroadcastClientCount { request_id, .. }
            | ClusterMessage::BroadcastAck { request_id, .. }
            | ClusterMessage::AllRoomsResponse { request_id, .. } => Some(request_id),
            _ => None,
        }
    }
}
