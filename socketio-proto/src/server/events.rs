//! What the endpoint reports to the application ([`ServerEvent`]) and the handles it carries.

use engineio_proto::session::endpoint::SessionKey;

use super::connection::DisconnectReason;
use super::query::QueryReply;
use crate::{AckId, Namespace, Packet, Utf8Bytes};

/// One namespace socket: the Engine.IO session it lives on, its namespace and its id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SocketRef {
    /// The Engine.IO session.
    pub session: SessionKey,
    /// The namespace.
    pub namespace: Namespace,
    /// The socket id (`socket.id` in JavaScript).
    pub id: String,
}

/// A client's request to join a namespace, waiting for
/// [`Endpoint::accept`](super::Endpoint::accept) or a refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The Engine.IO session.
    pub session: SessionKey,
    /// The namespace (without a v4 client's `?query`).
    pub namespace: Namespace,
    /// The CONNECT payload as raw JSON; for a v4 client, its namespace query as an object
    /// (`/admin?token=1` ⇒ `{"token":"1"}`), as the modern reference server exposes it.
    pub auth: Option<Utf8Bytes>,
}

/// Where the answer to another server's `serverSideEmitWithAck` goes: hand it to
/// [`Endpoint::answer_server_side_emit`](super::Endpoint::answer_server_side_emit) with the
/// answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplyTo {
    /// The namespace the request came on.
    pub namespace: Namespace,
    /// The request's id on the wire.
    pub request_id: String,
    /// The uid of the server that waits for the answer.
    pub requester: String,
}

/// What happened, for the application. Exhaustive: an application that ignores a new kind of
/// event does not compile.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerEvent {
    /// A client asks to join a namespace: answer with
    /// [`Endpoint::accept`](super::Endpoint::accept),
    /// [`Endpoint::refuse`](super::Endpoint::refuse) or
    /// [`Endpoint::refuse_invalid_namespace`](super::Endpoint::refuse_invalid_namespace). This
    /// is where the reference's middlewares run.
    ConnectRequest(ConnectRequest),
    /// A socket joined (or was recovered: then its rooms and data are back and the missed
    /// events were sent before the CONNECT reply).
    Connected {
        /// The socket.
        socket: SocketRef,
        /// The auth payload of its CONNECT.
        auth: Option<Utf8Bytes>,
        /// Whether its state was recovered.
        recovered: bool,
    },
    /// An EVENT from a socket; when it carries an ack id, answer with
    /// [`Endpoint::ack`](super::Endpoint::ack).
    Event {
        /// The socket.
        socket: SocketRef,
        /// The packet.
        packet: Packet,
    },
    /// The client acknowledged an event sent with
    /// [`Endpoint::emit_with_ack`](super::Endpoint::emit_with_ack).
    Ack {
        /// The socket.
        socket: SocketRef,
        /// The ACK packet.
        packet: Packet,
    },
    /// An ack asked for with [`Endpoint::emit_with_ack`](super::Endpoint::emit_with_ack) did
    /// not come before its deadline.
    AckTimeout {
        /// The socket.
        socket: SocketRef,
        /// The ack id.
        ack_id: AckId,
    },
    /// A socket left; its rooms are already gone.
    Disconnected {
        /// The socket.
        socket: SocketRef,
        /// Why.
        reason: DisconnectReason,
    },
    /// Another server of the cluster called `serverSideEmit`. When it waits for an answer
    /// (`reply` is set), answer with
    /// [`Endpoint::answer_server_side_emit`](super::Endpoint::answer_server_side_emit); a
    /// server that does not answer makes the requester wait until its timeout.
    ServerSideEmit {
        /// The namespace.
        namespace: Namespace,
        /// `[event, ...args]`, JSON text.
        data: String,
        /// Where the answer goes, when one is awaited.
        reply: Option<ReplyTo>,
    },
    /// One of this server's queries ended
    /// ([`fetch_sockets`](super::Endpoint::fetch_sockets),
    /// [`broadcast_with_ack`](super::Endpoint::broadcast_with_ack), …).
    Reply(QueryReply),
}
