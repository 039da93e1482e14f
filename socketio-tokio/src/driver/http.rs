//! One HTTP request on the Socket.IO path: routed to its session's shard, answered with what
//! the machine says (a response, a body to read first, or a WebSocket upgrade), for any body
//! type, standalone or mounted in another server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use engineio_proto::{ErrorCode, RequestQuery, Transport};
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use socketio_proto::server::{Handshake, HttpResponse, Method, RequestId, SocketId};
use tokio::sync::oneshot;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::shard::{Inputs, Machine, Msg, Reply, SHARD_TAGS, Shard};
use crate::policy::{ConnectionLimits, Options, RequestInfo};
use crate::websocket;

/// Any error of a request body.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The peer's address, for a server that mounts the Socket.IO service: put it in the
/// request's extensions (`request.extensions_mut().insert(RemoteAddr(addr))`) and the
/// handshake shows it (`socket.handshake.address`). The standalone server does it itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// State shared by the request tasks of every shard.
pub(crate) struct Shared<M> {
    pub(crate) options: Options,
    pub(crate) shards: Vec<Shard<M>>,
    next_request: AtomicU64,
    /// Open connections, WebSockets included (standalone server).
    connections: AtomicUsize,
}

/// One open connection of the standalone server, counted in [`Shared::connections`] while
/// any clone lives: the HTTP connection's task holds one, and a WebSocket it upgrades to takes
/// one along.
pub(crate) struct Connection {
    _slot: Arc<dyn Send + Sync>,
}

impl Clone for Connection {
    fn clone(&self) -> Self {
        Connection {
            _slot: self._slot.clone(),
        }
    }
}

struct ConnectionSlot<M: Machine>(Arc<Shared<M>>);

impl<M: Machine> Drop for ConnectionSlot<M> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<M: Machine> Shared<M> {
    pub(crate) fn new(options: Options, shards: Vec<Shard<M>>) -> Arc<Shared<M>> {
        Arc::new(Shared {
            options,
            shards,
            next_request: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
        })
    }

    /// Counts a new connection, unless the limit is reached.
    pub(crate) fn count_connection(self: &Arc<Self>) -> Option<Connection> {
        let max = self.options.limits.max_connections;
        let open = self.connections.fetch_add(1, Ordering::Relaxed);
        if open >= max {
            self.connections.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Connection {
            _slot: Arc::new(ConnectionSlot(self.clone())),
        })
    }

    /// The shard a request goes to: its session's, else the connection's own.
    fn route(&self, query: &RequestQuery<'_>, home: usize) -> &Shard<M> {
        let owner = query
            .sid
            .as_deref()
            .and_then(|sid| shard_of(sid, self.shards.len()));
        &self.shards[owner.unwrap_or(home).min(self.shards.len() - 1)]
    }

    /// Whether `path` is the Socket.IO path.
    pub(crate) fn is_ours(&self, path: &str) -> bool {
        path == self.options.path
    }

    /// Answers a request on the Socket.IO path, arrived on shard `home`'s connection.
    pub(crate) async fn handle<B>(
        &self,
        req: Request<B>,
        remote: Option<SocketAddr>,
        connection: Option<Connection>,
        home: usize,
    ) -> Response<Full<Bytes>>
    where
        B: hyper::body::Body + Send + Unpin + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let policy = &self.options.policy;
        let method = match *req.method() {
            hyper::Method::GET => Method::Get,
            hyper::Method::POST => Method::Post,
            hyper::Method::OPTIONS => match policy.preflight(req.headers()) {
                Some(answer) => return answer,
                None => Method::Other,
            },
            _ => Method::Other,
        };
        let remote = remote.or_else(|| req.extensions().get::<RemoteAddr>().map(|r| r.0));
        let upgrade = is_websocket_upgrade(&req);
        let query = req.uri().query().unwrap_or("").to_owned();
        let parsed = RequestQuery::parse(&query).ok();
        let handshake =
            method == Method::Get && parsed.as_ref().is_some_and(|q| is_handshake(q, upgrade));
        let shard = match &parsed {
            Some(parsed) => self.route(parsed, home),
            None => &self.shards[home.min(self.shards.len() - 1)],
        };
        let inputs = shard.inputs();
        // Copied: a header value shares hyper's read buffer.
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|origin| HeaderValue::from_bytes(origin.as_bytes()).ok());
        let mut description = None;
        if handshake {
            let info = RequestInfo {
                method: req.method(),
                uri: req.uri(),
                headers: req.headers(),
                remote,
            };
            if policy.refuses(&info) {
                let forbidden = HttpResponse::error(ErrorCode::Forbidden);
                return self.answer(origin.as_ref(), forbidden, false);
            }
            description = Some(Box::new(describe(&req, remote)));
        }
        // A GET that is no upgrade needs nothing more of its request. Letting it go frees
        // hyper's read buffer, which its headers hold: while a long-poll waits, hyper would
        // otherwise keep it beside the fresh one it reads the connection's next bytes into.
        let mut req = (method != Method::Get || upgrade).then(|| Box::new(req));
        let request = RequestId(self.next_request.fetch_add(1, Ordering::Relaxed));
        let mut guard = AbortGuard {
            id: request,
            inputs,
            armed: true,
        };
        let (reply, answer) = oneshot::channel();
        let _ = inputs.send(Msg::Request {
            request,
            method,
            query,
            upgrade,
            // A WebSocket-only handshake's session opens with its socket (`Msg::Opened`).
            handshake: if upgrade { None } else { description.take() },
            reply,
        });
        let mut next = answer.await;
        loop {
            let Ok(reply) = next else {
                guard.armed = false;
                return plain(StatusCode::SERVICE_UNAVAILABLE, "server stopping");
            };
            match reply {
                Reply::Response(response) => {
                    guard.armed = false;
                    return self.answer(origin.as_ref(), response, handshake);
                }
                Reply::ReadBody {
                    limit,
                    mut response,
                } => {
                    // The machine reads the bodies of POSTs only.
                    let Some(req) = req.as_mut() else {
                        guard.armed = false;
                        return plain(StatusCode::INTERNAL_SERVER_ERROR, "no body");
                    };
                    let content_type = req
                        .headers()
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let declared = req
                        .headers()
                        .get(header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                    let body = if declared.is_some_and(|n| n > limit as u64) {
                        None
                    } else {
                        let timeout = self.options.limits.body_read_timeout;
                        // Boxed: a parked GET's future need not have room for a body's read.
                        let read = read_body(req.body_mut(), limit, timeout, &mut response);
                        match Box::pin(read).await {
                            BodyRead::Read(body) => body,
                            // The session ended while the body was read: stop reading, free
                            // what arrived, and answer.
                            BodyRead::Answered(reply) => {
                                next = reply;
                                continue;
                            }
                            // A stalled body: the request is aborted (the session closes, as
                            // the reference's does when it destroys the request).
                            BodyRead::Stalled => {
                                return plain(StatusCode::REQUEST_TIMEOUT, "body timeout");
                            }
                        }
                    };
                    // While the shard cannot take more, the body waits here.
                    inputs.gate.wait_open().await;
                    let _ = inputs.send(Msg::Body {
                        request,
                        content_type,
                        body,
                    });
                    next = response.await;
                }
                Reply::Accept(socket, max_payload) => {
                    guard.armed = false;
                    // The machine accepts upgrades only.
                    let Some(req) = req.as_mut() else {
                        return plain(StatusCode::INTERNAL_SERVER_ERROR, "no upgrade");
                    };
                    let open = (inputs.clone(), socket, description.take());
                    let limits = self.options.limits.clone();
                    let mut response = accept_websocket(req, open, max_payload, connection, limits);
                    policy.add_cors(origin.as_ref(), response.headers_mut());
                    return response;
                }
            }
        }
    }

    /// The machine's answer, with the policy's headers.
    fn answer(
        &self,
        origin: Option<&HeaderValue>,
        response: HttpResponse,
        handshake: bool,
    ) -> Response<Full<Bytes>> {
        let policy = &self.options.policy;
        let opened = handshake && response.status == 200;
        let body = response.body.clone();
        let mut out = to_hyper(response);
        policy.add_cors(origin, out.headers_mut());
        if opened {
            policy.add_cookie(&body, out.headers_mut());
        }
        out
    }
}

/// Reports a request as aborted if it is dropped (the client went away) before its response.
struct AbortGuard<'a, M> {
    id: RequestId,
    inputs: &'a Inputs<M>,
    armed: bool,
}

impl<M> Drop for AbortGuard<'_, M> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.inputs.send(Msg::Aborted(self.id));
        }
    }
}

/// Answers an accepted upgrade with `101` and pumps the WebSocket once the server hands
/// over the connection.
fn accept_websocket<B, M: Machine>(
    req: &mut Request<B>,
    (inputs, socket, handshake): (Inputs<M>, SocketId, Option<Box<Handshake>>),
    max_payload: usize,
    connection: Option<Connection>,
    limits: ConnectionLimits,
) -> Response<Full<Bytes>> {
    let Some(accept) = req
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|key| tungstenite::handshake::derive_accept_key(key.as_bytes()))
    else {
        let _ = inputs.send(Msg::SocketClosed(socket));
        return plain(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
    };
    let upgrade = hyper::upgrade::on(req);
    let task = async move {
        // The WebSocket counts as this connection until it ends.
        let _connection = connection;
        match tokio::time::timeout(limits.upgrade_timeout, upgrade).await {
            Ok(Ok(upgraded)) => {
                let open = (socket, handshake);
                run_websocket(upgraded, open, max_payload, &limits, inputs).await
            }
            _ => drop(inputs.send(Msg::SocketClosed(socket))),
        }
    };
    // In the span of the HTTP connection it upgrades (ours, or the application's).
    #[cfg(feature = "tracing")]
    let task = tracing::Instrument::in_current_span(task);
    tokio::spawn(task);
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// How reading a POST's body ended.
enum BodyRead {
    /// The body, or `None` when it was over the limit or the connection broke mid-body (if it
    /// broke, nobody reads the 413 and the session sees the request aborted).
    Read(Option<Bytes>),
    /// The core answered first (the session ended).
    Answered(Result<Reply, oneshot::error::RecvError>),
    /// Nothing arrived within the timeout.
    Stalled,
}

/// Reads at most `limit` bytes of `body` within `timeout`, unless `response` comes first.
async fn read_body<B>(
    body: &mut B,
    limit: usize,
    timeout: Duration,
    response: &mut oneshot::Receiver<Reply>,
) -> BodyRead
where
    B: hyper::body::Body + Unpin,
    B::Error: Into<BoxError>,
{
    let read = Limited::new(body, limit).collect();
    tokio::select! {
        reply = response => BodyRead::Answered(reply),
        collected = tokio::time::timeout(timeout, read) => match collected {
            Ok(collected) => BodyRead::Read(collected.ok().map(|c| c.to_bytes())),
            Err(_) => BodyRead::Stalled,
        },
    }
}

/// Whether a GET opens a session, as the reference decides before its `allowRequest`: no
/// `sid`, and a WebSocket handshake asks for the upgrade. Malformed queries are the machine's
/// to refuse.
fn is_handshake(query: &RequestQuery<'_>, upgrade: bool) -> bool {
    query.sid.is_none() && (query.transport != Transport::Websocket || upgrade)
}

/// The handshake request as `socket.handshake` shows it: headers, peer address, URL, and the
/// wall-clock time it arrived. `secure` when the request came over TLS, which a server in
/// front of this one says with `X-Forwarded-Proto: https` (the standalone server speaks plain
/// HTTP).
fn describe<B>(req: &Request<B>, remote: Option<SocketAddr>) -> Handshake {
    let issued = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let url = req.uri().path_and_query().map_or("/", |path| path.as_str());
    let secure = req.uri().scheme_str() == Some("https");
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    let address = remote.map(|r| r.ip().to_string()).unwrap_or_default();
    Handshake::new(url, &address, secure, issued, headers)
}

fn is_websocket_upgrade<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

fn to_hyper(response: HttpResponse) -> Response<Full<Bytes>> {
    let mut out = Response::new(Full::new(response.body));
    *out.status_mut() = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
    if let Some(content_type) = response.content_type {
        out.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    out
}

/// Pumps one accepted WebSocket: frames in go to the core, frames from the core go out.
async fn run_websocket<M: Machine>(
    upgraded: hyper::upgrade::Upgraded,
    (socket, handshake): (SocketId, Option<Box<Handshake>>),
    max_payload: usize,
    limits: &ConnectionLimits,
    inputs: Inputs<M>,
) {
    // A small read buffer: the default 128 KiB, zero-filled before every read, was most of an
    // idle connection's memory and a third of the server's CPU.
    let config = WebSocketConfig::default()
        .read_buffer_size(2048)
        .max_message_size(Some(max_payload))
        .max_frame_size(Some(max_payload));
    let ws =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let backlog = limits.backlog;
    let (frames, inbox) = websocket::channel(&backlog);
    let _ = inputs.send(Msg::Opened {
        socket,
        frames,
        handshake,
    });
    let gate = inputs.gate.clone();
    #[cfg(feature = "tracing")]
    tracing::debug!("websocket open");
    websocket::pump(ws, inbox, backlog, Some(&gate), |frame| {
        inputs.send(Msg::Frame(socket, frame)).is_ok()
    })
    .await;
    #[cfg(feature = "tracing")]
    tracing::debug!("websocket closed");
    let _ = inputs.send(Msg::SocketClosed(socket));
}

/// The shard an id's first character names, when there is such a shard.
pub(crate) fn shard_of(id: &str, shards: usize) -> Option<usize> {
    let first = *id.as_bytes().first()?;
    let index = SHARD_TAGS.iter().position(|&tag| tag == first)?;
    (index < shards).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::shard_of;
    use crate::driver::shard::SHARD_TAGS;

    #[test]
    fn an_id_names_its_shard_when_there_is_one() {
        assert_eq!(shard_of("Babc", 2), Some(1));
        assert_eq!(shard_of("Babc", 1), None, "no such shard");
        assert_eq!(shard_of("", 2), None);
        assert_eq!(shard_of("~abc", 2), None);
        assert_eq!(SHARD_TAGS.len(), 64);
    }
}
