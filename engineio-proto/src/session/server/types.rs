//! What a server session takes and gives: its settings, the routing of a request, the HTTP
//! answers, the transmits and the events.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;

use super::{CloseReason, RequestId, SocketId};
use crate::handshake::{ErrorCode, ErrorResponse, RequestQuery, Transport};
use crate::packet::{Data, Frame, Packet, ProtocolVersion};

/// Server settings. The defaults are the reference's; change fields with
/// `ServerConfig { allow_eio3: true, ..Default::default() }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// How often the v4 server pings (advertised; in v3 the client pings this often). 25 s.
    pub ping_interval: Duration,
    /// How long a heartbeat may stay unanswered. 20 s.
    pub ping_timeout: Duration,
    /// How long an upgrade may take before the new transport is dropped. 10 s.
    pub upgrade_timeout: Duration,
    /// How long a server-initiated close on polling waits for a GET to carry the `1`. 30 s.
    pub close_timeout: Duration,
    /// While an upgrade is probed, a pending GET is released with `6` this often. 100 ms.
    pub noop_interval: Duration,
    /// The largest POST body accepted (`maxHttpBufferSize`, advertised as `maxPayload`).
    /// 1 000 000 bytes.
    pub max_payload: usize,
    /// Most packets in one POST body (see [`Limits::max_packets`](crate::payload::Limits::max_packets)). 10 000.
    pub max_packets: usize,
    /// The most message bytes that may wait for a polling client's next GET. Over it the
    /// session closes ([`CloseReason::BacklogFull`]): a client that does not poll as fast as
    /// it is sent to is disconnected, never left to grow the server's memory. (On a WebSocket
    /// the driver bounds the socket's own backlog.) The reference has no limit. 16 MiB.
    pub max_queued_bytes: usize,
    /// Accept Engine.IO v3 clients (Socket.IO 2.x). Off, as in the reference.
    pub allow_eio3: bool,
    /// Offer the upgrade from polling to WebSocket. On.
    pub allow_upgrades: bool,
    /// Accept the polling transport. On.
    pub polling: bool,
    /// Accept the WebSocket transport. On.
    pub websocket: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            close_timeout: Duration::from_millis(30_000),
            noop_interval: Duration::from_millis(100),
            max_payload: 1_000_000,
            max_packets: 10_000,
            max_queued_bytes: 16 << 20,
            allow_eio3: false,
            allow_upgrades: true,
            polling: true,
            websocket: true,
        }
    }
}

/// The HTTP method of a request, as far as Engine.IO cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Method {
    /// GET: a handshake, a long-poll, or a WebSocket upgrade request.
    Get,
    /// POST: packets from the client.
    Post,
    /// Anything else.
    Other,
}

/// What a new session needs from its handshake request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// The protocol version the client asked for.
    pub version: ProtocolVersion,
    /// The transport of the handshake request.
    pub transport: Transport,
    /// The `b64` flag: the client cannot take binary.
    pub b64: bool,
    /// The JSONP callback index (`j`), for JSONP polling.
    pub jsonp_index: Option<String>,
}

/// Where a request goes: see [`route`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// A new session: create a [`ServerSession`](super::ServerSession).
    Handshake(Handshake),
    /// A request for the session `sid`, with its parsed query (for `b64` on an upgrade).
    Session {
        /// The session id.
        sid: Cow<'a, str>,
        /// The whole query.
        query: RequestQuery<'a>,
    },
    /// Refuse the request with this error.
    Refuse(ErrorCode),
}

/// Routes a request by its method, query string (without `?`) and whether it asks for a
/// WebSocket upgrade, applying the reference's checks in the reference's order: transport
/// (code 0), then for requests without `sid` the method (code 2), a WebSocket transport without
/// upgrade (code 3) and the protocol version (code 5). A request with a `sid` must use the
/// transport it asks for: polling without upgrade, or WebSocket with one (code 3 otherwise).
///
/// ```
/// use engineio_proto::session::server::{route, Method, Route, ServerConfig};
/// use engineio_proto::ErrorCode;
/// let config = ServerConfig::default();
/// assert!(matches!(route(&config, Method::Get, "EIO=4&transport=polling", false), Route::Handshake(_)));
/// assert_eq!(route(&config, Method::Get, "EIO=3&transport=polling", false), Route::Refuse(ErrorCode::UnsupportedProtocolVersion));
/// assert_eq!(route(&config, Method::Post, "EIO=4&transport=polling", false), Route::Refuse(ErrorCode::BadHandshakeMethod));
/// ```
pub fn route<'a>(
    config: &ServerConfig,
    method: Method,
    query: &'a str,
    websocket_upgrade: bool,
) -> Route<'a> {
    let query = match RequestQuery::parse(query) {
        Ok(q) => q,
        Err(code) => return Route::Refuse(code),
    };
    let enabled = match query.transport {
        Transport::Polling => config.polling,
        Transport::Websocket => config.websocket,
        // WebTransport runs on HTTP/3 sessions, never on an HTTP request.
        Transport::Webtransport => false,
    };
    if !enabled {
        return Route::Refuse(ErrorCode::TransportUnknown);
    }
    let is_websocket = query.transport == Transport::Websocket;
    if let Some(sid) = query.sid.clone() {
        if is_websocket != websocket_upgrade {
            return Route::Refuse(ErrorCode::BadRequest);
        }
        return Route::Session { sid, query };
    }
    if method != Method::Get {
        return Route::Refuse(ErrorCode::BadHandshakeMethod);
    }
    if is_websocket && !websocket_upgrade {
        return Route::Refuse(ErrorCode::BadRequest);
    }
    let version = match query.version {
        Some(ProtocolVersion::V4) => ProtocolVersion::V4,
        Some(ProtocolVersion::V3) if config.allow_eio3 => ProtocolVersion::V3,
        _ => return Route::Refuse(ErrorCode::UnsupportedProtocolVersion),
    };
    Route::Handshake(Handshake {
        version,
        transport: query.transport,
        b64: query.b64,
        jsonp_index: query.jsonp_index.map(Cow::into_owned),
    })
}

/// The transport a new session starts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InitialTransport {
    /// A polling handshake: the GET that the open packet answers.
    Polling(RequestId),
    /// A WebSocket-only session on this accepted socket.
    WebSocket(SocketId),
}

/// An HTTP response for the driver to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`, if the response has one.
    pub content_type: Option<&'static str>,
    /// The body; set `Content-Length` to its length.
    pub body: Bytes,
}

impl HttpResponse {
    pub(crate) fn ok() -> Self {
        HttpResponse {
            status: 200,
            content_type: Some("text/html"),
            body: Bytes::from_static(b"ok"),
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        HttpResponse {
            status,
            content_type: None,
            body: Bytes::new(),
        }
    }

    /// The reference's refusal for `code`: the status of [`ErrorCode::http_status`] with
    /// the JSON body `{"code":…,"message":…}`. Drivers answer [`Route::Refuse`] and unknown
    /// sids with it.
    pub fn error(code: ErrorCode) -> Self {
        let response = ErrorResponse::new(code);
        HttpResponse {
            status: response.status(),
            content_type: Some(response.content_type()),
            body: response.body().into(),
        }
    }
}

/// Something for the driver to put on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transmit {
    /// Answer this HTTP request.
    Response {
        /// The request.
        request: RequestId,
        /// The response.
        response: HttpResponse,
    },
    /// Send a frame on this WebSocket.
    Frame {
        /// The socket.
        socket: SocketId,
        /// The frame.
        frame: Frame,
    },
    /// Close this WebSocket (after sending what came before).
    CloseSocket {
        /// The socket.
        socket: SocketId,
    },
    /// Read this POST's body, refusing it once more than `limit` bytes arrive (or when its
    /// `Content-Length` says so), then report it to the
    /// [`Endpoint`](crate::session::endpoint::Endpoint) as `PostBody` or `PostTooLarge`.
    ReadBody {
        /// The request.
        request: RequestId,
        /// The most bytes to read.
        limit: usize,
    },
    /// Accept this WebSocket upgrade request (write the `101 Switching Protocols`); the
    /// socket is `socket` from now on. Report `WebSocketOpen` once the upgrade is done, or
    /// `WebSocketClosed` if it fails.
    AcceptWebSocket {
        /// The upgrade request.
        request: RequestId,
        /// The id of the new socket.
        socket: SocketId,
    },
}

/// What happened in a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// A new session: the first event of each. Reported by the
    /// [`Endpoint`](crate::session::endpoint::Endpoint), which creates sessions; a [`ServerSession`](super::ServerSession)
    /// created by hand does not report it.
    Opened,
    /// The client sent a message.
    Message(Data),
    /// The client probed a WebSocket and will switch to it.
    Upgrading,
    /// The session now runs on the WebSocket.
    Upgraded,
    /// The session ended; the last event. `undelivered` holds the messages that were queued
    /// but never written out.
    Closed {
        /// Why.
        reason: CloseReason,
        /// Queued messages that were never sent.
        undelivered: Vec<Packet>,
    },
}
