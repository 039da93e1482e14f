//! The Engine.IO server driver: hyper 1.x for HTTP/1.1 long-polling, tokio-tungstenite for
//! WebSocket, and one task (the *core*) that owns every [`ServerSession`].
//!
//! ```text
//!  TCP accept ─► hyper connection task ─┬─ GET/POST ──────────► Input ─┐
//!                                       └─ 101 ─► WebSocket task ─► Input ─┤
//!                                                                          ▼
//!                                  core task: route(), ServerSession, Handler
//!                                                                          │
//!  responses (oneshot per request) ◄───────────────────────────────────────┤
//!  frames (bounded channel per socket) ◄───────────────────────────────────┘
//! ```
//!
//! The sessions never see a socket: connection tasks turn bytes into inputs on a channel, the core feeds
//! them to the sessions, drains their outputs and hands events to a [`Handler`] (an echo server,
//! or the Socket.IO layer in [`crate::socketio`]). Because one task owns all state, nothing is
//! locked, and a handler can send to any session (broadcast) synchronously.
//!
//! Limits the driver enforces on top of the sessions': a POST body is refused with 413 from its
//! `Content-Length`, or once `maxPayload` bytes have arrived, before it is read whole; a
//! WebSocket message over `maxPayload` closes the socket; each socket's outgoing queue is bounded
//! ([`SOCKET_QUEUE`] frames) and a socket that cannot keep up is closed; a request whose client
//! goes away is reported as aborted, which closes its session.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use engineio_proto::session::server::{
    self as eio, Connection, Event, HttpResponse, Method, Route, ServerConfig, ServerSession,
    Transmit,
};
use engineio_proto::session::{RequestId, SocketId};
use engineio_proto::{Data, ErrorCode, Frame, ProtocolVersion, Utf8Bytes};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};

/// Frames that may wait for one WebSocket's writer before the socket is dropped as too slow.
pub const SOCKET_QUEUE: usize = 1024;

/// What the application does with sessions. Runs inside the core task: keep it synchronous
/// and quick, and hand slow work to other tasks.
pub trait Handler: Send + 'static {
    /// A session was opened (before its open packet is written).
    fn on_open(&mut self, now: Instant, sid: &str, version: ProtocolVersion, engines: &mut Engines);
    /// A session reported an event; [`Event::Closed`] is the last one, after which the session
    /// is gone.
    fn on_event(&mut self, now: Instant, sid: &str, event: Event, engines: &mut Engines);
    /// When [`Handler::handle_timeout`] should run next.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    /// Runs the handler's timers.
    fn handle_timeout(&mut self, _now: Instant, _engines: &mut Engines) {}
}

/// An Engine.IO echo server: every message goes back to its sender (the reference test suites'
/// server).
#[derive(Debug, Default)]
pub struct Echo;

impl Handler for Echo {
    fn on_open(&mut self, _: Instant, _: &str, _: ProtocolVersion, _: &mut Engines) {}

    fn on_event(&mut self, _now: Instant, sid: &str, event: Event, engines: &mut Engines) {
        if let Event::Message(data) = event {
            // Only fails when the session is closing: then there is nobody to echo to.
            let _ = engines.send(sid, data);
        }
    }
}

/// The open sessions, as the core and handlers see them.
#[derive(Debug, Default)]
pub struct Engines {
    sessions: HashMap<String, ServerSession>,
    /// Sessions with outputs to drain.
    dirty: Vec<String>,
}

impl Engines {
    /// Queues a message on session `sid`. Fails when the session is unknown or closing.
    pub fn send(
        &mut self,
        sid: &str,
        data: Data,
    ) -> Result<(), engineio_proto::session::SendError> {
        let session = self
            .sessions
            .get_mut(sid)
            .ok_or(engineio_proto::session::SendError::Closed)?;
        session.send(data)?;
        self.dirty.push(sid.to_owned());
        Ok(())
    }

    /// Closes session `sid` (no-op when unknown).
    pub fn close(&mut self, now: Instant, sid: &str) {
        if let Some(session) = self.sessions.get_mut(sid) {
            session.close(now);
            self.dirty.push(sid.to_owned());
        }
    }

    /// Whether a message sent now would be written at once (for volatile packets).
    pub fn is_writable(&self, sid: &str) -> bool {
        self.sessions
            .get(sid)
            .is_some_and(ServerSession::is_writable)
    }

    /// The session `sid`, read-only.
    pub fn get(&self, sid: &str) -> Option<&ServerSession> {
        self.sessions.get(sid)
    }

    /// Number of open sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

/// Answers a request outside the Engine.IO path.
pub type Fallback = Arc<dyn Fn(&Request<Incoming>) -> Response<Full<Bytes>> + Send + Sync>;

/// Where and how to serve.
#[derive(Clone)]
pub struct Options {
    /// The Engine.IO path, with both slashes: `/engine.io/` or `/socket.io/`.
    pub path: String,
    /// The sessions' settings (`maxPayload`, heartbeats, v3, transports).
    pub config: ServerConfig,
    /// Answers requests outside `path` (pages, scripts); 404 when `None`.
    pub fallback: Option<Fallback>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("path", &self.path)
            .field("config", &self.config)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

/// A running server.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    addr: SocketAddr,
    inputs: mpsc::UnboundedSender<Input>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many Engine.IO sessions are open (0 once the server stopped).
    pub async fn session_count(&self) -> usize {
        let (reply, count) = oneshot::channel();
        if self.inputs.send(Input::Count(reply)).is_err() {
            return 0;
        }
        count.await.unwrap_or(0)
    }
}

/// Binds `addr` and serves Engine.IO on it with `handler`, on the current tokio runtime.
/// The server runs until the runtime shuts down.
pub async fn serve<H: Handler>(
    addr: SocketAddr,
    options: Options,
    handler: H,
) -> std::io::Result<ServerHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (inputs, rx) = mpsc::unbounded_channel();
    let core = Core {
        handler,
        config: options.config.clone(),
        engines: Engines::default(),
        requests: HashMap::new(),
        sockets: HashMap::new(),
        timers: Timers::default(),
        sids: SidGenerator::default(),
        next_socket: 0,
    };
    tokio::spawn(core.run(rx));
    let shared = Arc::new(Shared {
        options,
        inputs: inputs.clone(),
        next_request: AtomicU64::new(0),
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let shared = shared.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let shared = shared.clone();
                    async move { Ok::<_, Infallible>(shared.handle(req).await) }
                });
                // Errors here are the peer's (reset connections, bad HTTP): nothing to do.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Ok(ServerHandle { addr, inputs })
}

/// Messages from connection tasks to the core.
#[derive(Debug)]
enum Input {
    /// A GET that is not a WebSocket upgrade: a handshake or a poll.
    Get {
        id: RequestId,
        query: String,
        reply: oneshot::Sender<HttpResponse>,
    },
    /// A POST has arrived; the core answers `proceed` with the body limit, or with `None` when
    /// it already answered `reply`.
    Post {
        id: RequestId,
        query: String,
        reply: oneshot::Sender<HttpResponse>,
        proceed: oneshot::Sender<Option<usize>>,
    },
    /// The POST's body, or `None` when it was over the limit.
    PostBody {
        id: RequestId,
        content_type: Option<String>,
        body: Option<Bytes>,
    },
    /// The client went away before its request was answered.
    Aborted(RequestId),
    /// A WebSocket upgrade request: the core accepts (a socket id) or refuses (a response).
    Upgrade {
        query: String,
        reply: oneshot::Sender<Result<(SocketId, usize), HttpResponse>>,
    },
    /// The upgrade completed; frames for the socket go to `frames`.
    Opened {
        socket: SocketId,
        query: String,
        frames: mpsc::Sender<Frame>,
    },
    Frame(SocketId, Frame),
    SocketClosed(SocketId),
    Count(oneshot::Sender<usize>),
}

/// State shared by the connection tasks.
struct Shared {
    options: Options,
    inputs: mpsc::UnboundedSender<Input>,
    next_request: AtomicU64,
}

/// Reports a request as aborted if it is dropped (the client went away) before its response.
struct AbortGuard<'a> {
    id: RequestId,
    inputs: &'a mpsc::UnboundedSender<Input>,
    armed: bool,
}

impl Drop for AbortGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.inputs.send(Input::Aborted(self.id));
        }
    }
}

impl Shared {
    async fn handle(&self, mut req: Request<Incoming>) -> Response<Full<Bytes>> {
        if req.uri().path() != self.options.path {
            return match &self.options.fallback {
                Some(fallback) => fallback(&req),
                None => plain(StatusCode::NOT_FOUND, "not found"),
            };
        }
        let query = req.uri().query().unwrap_or("").to_owned();
        let method = match *req.method() {
            hyper::Method::GET => Method::Get,
            hyper::Method::POST => Method::Post,
            _ => Method::Other,
        };
        let gone = || plain(StatusCode::SERVICE_UNAVAILABLE, "server stopping");
        if method == Method::Get && is_websocket_upgrade(&req) {
            let (reply, answer) = oneshot::channel();
            let _ = self.inputs.send(Input::Upgrade {
                query: query.clone(),
                reply,
            });
            let (socket, max_payload) = match answer.await {
                Ok(Ok(accepted)) => accepted,
                Ok(Err(refusal)) => return to_hyper(refusal),
                Err(_) => return gone(),
            };
            let Some(accept) = req
                .headers()
                .get(header::SEC_WEBSOCKET_KEY)
                .map(|key| tungstenite::handshake::derive_accept_key(key.as_bytes()))
            else {
                return plain(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
            };
            let upgrade = hyper::upgrade::on(&mut req);
            let inputs = self.inputs.clone();
            tokio::spawn(async move {
                match upgrade.await {
                    Ok(upgraded) => {
                        run_websocket(upgraded, socket, query, max_payload, inputs).await
                    }
                    Err(_) => drop(inputs.send(Input::SocketClosed(socket))),
                }
            });
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let headers = response.headers_mut();
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            if let Ok(accept) = HeaderValue::from_str(&accept) {
                headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
            }
            return response;
        }

        let id = RequestId(self.next_request.fetch_add(1, Ordering::Relaxed));
        let mut guard = AbortGuard {
            id,
            inputs: &self.inputs,
            armed: true,
        };
        let (reply, response) = oneshot::channel();
        if method == Method::Post {
            let (proceed, limit) = oneshot::channel();
            let _ = self.inputs.send(Input::Post {
                id,
                query,
                reply,
                proceed,
            });
            if let Ok(Some(limit)) = limit.await {
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
                    match Limited::new(req.into_body(), limit).collect().await {
                        Ok(collected) => Some(collected.to_bytes()),
                        // Over the limit, or the connection broke mid-body: if it broke,
                        // nobody reads the 413 and the session sees the request aborted.
                        Err(_) => None,
                    }
                };
                let _ = self.inputs.send(Input::PostBody {
                    id,
                    content_type,
                    body,
                });
            }
        } else {
            let _ = self.inputs.send(Input::Get { id, query, reply });
        }
        let response = response.await;
        guard.armed = false;
        match response {
            Ok(response) => to_hyper(response),
            Err(_) => gone(),
        }
    }
}

fn is_websocket_upgrade(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
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
async fn run_websocket(
    upgraded: hyper::upgrade::Upgraded,
    socket: SocketId,
    query: String,
    max_payload: usize,
    inputs: mpsc::UnboundedSender<Input>,
) {
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_payload))
        .max_frame_size(Some(max_payload));
    let ws =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (frames, outgoing) = mpsc::channel(SOCKET_QUEUE);
    let _ = inputs.send(Input::Opened {
        socket,
        query,
        frames,
    });
    pump_websocket(ws, outgoing, |frame| {
        inputs.send(Input::Frame(socket, frame)).is_ok()
    })
    .await;
    let _ = inputs.send(Input::SocketClosed(socket));
}

/// Pumps a WebSocket until either side ends it: frames from `outgoing` are written (the
/// socket is closed once the channel is closed and drained), frames read are handed to
/// `incoming` until it returns false. Shared by the server and the client driver.
pub(crate) async fn pump_websocket<S>(
    ws: WebSocketStream<S>,
    mut outgoing: mpsc::Receiver<Frame>,
    mut incoming: impl FnMut(Frame) -> bool,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    let writer = async move {
        while let Some(frame) = outgoing.recv().await {
            let message = match frame {
                Frame::Text(text) => match tungstenite::Utf8Bytes::try_from(text.into_bytes()) {
                    Ok(text) => Message::Text(text),
                    Err(_) => break,
                },
                Frame::Binary(bytes) => Message::Binary(bytes),
            };
            if sink.send(message).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    };
    let reader = async {
        while let Some(Ok(message)) = stream.next().await {
            let frame = match message {
                Message::Text(text) => match Utf8Bytes::try_from_bytes(Bytes::from(text)) {
                    Ok(text) => Frame::Text(text),
                    Err(_) => break,
                },
                Message::Binary(bytes) => Frame::Binary(bytes),
                Message::Close(_) => break,
                _ => continue,
            };
            if !incoming(frame) {
                return;
            }
        }
    };
    tokio::select! {
        () = writer => {}
        () = reader => {}
    }
}

/// Deadlines of many keys, earliest first.
#[derive(Debug)]
pub(crate) struct Timers<K: Ord + Clone + std::hash::Hash> {
    order: BTreeSet<(Instant, K)>,
    at: HashMap<K, Instant>,
}

impl<K: Ord + Clone + std::hash::Hash> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            order: BTreeSet::new(),
            at: HashMap::new(),
        }
    }
}

impl<K: Ord + Clone + std::hash::Hash> Timers<K> {
    /// Sets (or clears, with `None`) the deadline of `key`.
    pub(crate) fn set(&mut self, key: &K, deadline: Option<Instant>) {
        if self.at.get(key).copied() == deadline {
            return;
        }
        if let Some(old) = self.at.remove(key) {
            self.order.remove(&(old, key.clone()));
        }
        if let Some(deadline) = deadline {
            self.order.insert((deadline, key.clone()));
            self.at.insert(key.clone(), deadline);
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.order.first().map(|(at, _)| *at)
    }

    /// Removes and returns the keys due at `now`.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<K> {
        let mut due = Vec::new();
        while let Some((at, _)) = self.order.first() {
            if *at > now {
                break;
            }
            if let Some((_, key)) = self.order.pop_first() {
                self.at.remove(&key);
                due.push(key);
            }
        }
        due
    }
}

/// Session ids: 20 characters of URL-safe base64 from 15 random bytes (the reference's
/// `base64id` shape), keyed by the standard library's per-process random SipHash keys.
/// Unpredictable enough for an example; use a CSPRNG in production.
#[derive(Debug, Default)]
pub(crate) struct SidGenerator {
    keys: std::collections::hash_map::RandomState,
    counter: u64,
}

impl SidGenerator {
    pub(crate) fn next_id(&mut self) -> String {
        let mut bytes = [0u8; 15];
        for chunk in bytes.chunks_mut(8) {
            self.counter += 1;
            let mut hasher = self.keys.build_hasher();
            hasher.write_u64(self.counter);
            let word = hasher.finish().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// The task that owns every session.
struct Core<H> {
    handler: H,
    config: ServerConfig,
    engines: Engines,
    /// Requests waiting for their response, and the session they belong to.
    requests: HashMap<RequestId, (Option<String>, oneshot::Sender<HttpResponse>)>,
    /// Open WebSockets: their session (once known) and their writer.
    sockets: HashMap<SocketId, (Option<String>, mpsc::Sender<Frame>)>,
    timers: Timers<String>,
    sids: SidGenerator,
    next_socket: u64,
}

impl<H: Handler> Core<H> {
    async fn run(mut self, mut inputs: mpsc::UnboundedReceiver<Input>) {
        loop {
            let deadline = [self.timers.next(), self.handler.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let sleep: Pin<Box<dyn Future<Output = ()> + Send>> = match deadline {
                Some(at) => Box::pin(tokio::time::sleep_until(at.into())),
                None => Box::pin(std::future::pending()),
            };
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(input) => self.input(Instant::now(), input),
                    None => return,
                },
                () = sleep => self.timeout(Instant::now()),
            }
            self.flush(Instant::now());
        }
    }

    fn timeout(&mut self, now: Instant) {
        for sid in self.timers.due(now) {
            if let Some(session) = self.engines.sessions.get_mut(&sid) {
                session.handle_timeout(now);
                self.engines.dirty.push(sid);
            }
        }
        if self.handler.poll_timeout().is_some_and(|at| at <= now) {
            self.handler.handle_timeout(now, &mut self.engines);
        }
    }

    fn input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Get { id, query, reply } => {
                match eio::route(&self.config, Method::Get, &query, false) {
                    Route::Handshake(handshake) => {
                        self.requests.insert(id, (None, reply));
                        self.open(now, &handshake, Connection::Polling(id));
                    }
                    Route::Session { sid, .. } => match self.engines.sessions.get_mut(&*sid) {
                        Some(session) => {
                            session.handle_get(now, id);
                            self.requests.insert(id, (Some(sid.to_string()), reply));
                            self.engines.dirty.push(sid.into_owned());
                        }
                        None => drop(reply.send(HttpResponse::error(ErrorCode::UnknownSid))),
                    },
                    Route::Refuse(code) => drop(reply.send(HttpResponse::error(code))),
                }
            }
            Input::Post {
                id,
                query,
                reply,
                proceed,
            } => {
                let sid = match eio::route(&self.config, Method::Post, &query, false) {
                    Route::Session { sid, .. } => sid.into_owned(),
                    Route::Refuse(code) => return drop(reply.send(HttpResponse::error(code))),
                    Route::Handshake(_) => unreachable!("a POST is never a handshake"),
                };
                let Some(session) = self.engines.sessions.get_mut(&sid) else {
                    return drop(reply.send(HttpResponse::error(ErrorCode::UnknownSid)));
                };
                self.requests.insert(id, (Some(sid.clone()), reply));
                if session.handle_post(now, id) {
                    let _ = proceed.send(Some(self.config.max_payload));
                }
                self.engines.dirty.push(sid);
            }
            Input::PostBody {
                id,
                content_type,
                body,
            } => {
                let Some(session) = self.session_of_request(id) else {
                    return;
                };
                match body {
                    Some(body) => session.handle_post_body(now, id, content_type.as_deref(), body),
                    None => session.handle_post_too_large(now, id),
                }
            }
            Input::Aborted(id) => {
                if let Some(session) = self.session_of_request(id) {
                    session.handle_request_aborted(now, id);
                }
                self.requests.remove(&id);
            }
            Input::Upgrade { query, reply } => {
                let refusal = match eio::route(&self.config, Method::Get, &query, true) {
                    Route::Handshake(_) => None,
                    Route::Session { sid, .. } if self.engines.sessions.contains_key(&*sid) => None,
                    Route::Session { .. } => Some(ErrorCode::UnknownSid),
                    Route::Refuse(code) => Some(code),
                };
                let answer = match refusal {
                    Some(code) => Err(HttpResponse::error(code)),
                    None => {
                        self.next_socket += 1;
                        Ok((SocketId(self.next_socket), self.config.max_payload))
                    }
                };
                let _ = reply.send(answer);
            }
            Input::Opened {
                socket,
                query,
                frames,
            } => match eio::route(&self.config, Method::Get, &query, true) {
                Route::Handshake(handshake) => {
                    self.sockets.insert(socket, (None, frames));
                    self.open(now, &handshake, Connection::WebSocket(socket));
                }
                Route::Session { sid, query } => match self.engines.sessions.get_mut(&*sid) {
                    Some(session) => {
                        session.handle_websocket_open(now, socket, query.b64);
                        self.sockets.insert(socket, (Some(sid.to_string()), frames));
                        self.engines.dirty.push(sid.into_owned());
                    }
                    // The session ended while the upgrade was in flight.
                    // Dropping the sender closes the socket.
                    None => drop(frames),
                },
                Route::Refuse(_) => drop(frames),
            },
            Input::Frame(socket, frame) => {
                if let Some(session) = self.session_of_socket(socket) {
                    session.handle_websocket_frame(now, socket, frame);
                }
            }
            Input::SocketClosed(socket) => {
                if let Some(session) = self.session_of_socket(socket) {
                    session.handle_websocket_closed(now, socket);
                }
                self.sockets.remove(&socket);
            }
            Input::Count(reply) => drop(reply.send(self.engines.len())),
        }
    }

    fn open(&mut self, now: Instant, handshake: &eio::Handshake, connection: Connection) {
        let sid = self.sids.next_id();
        let session =
            ServerSession::new(now, sid.clone(), handshake, self.config.clone(), connection);
        if let Connection::WebSocket(socket) = connection {
            if let Some(entry) = self.sockets.get_mut(&socket) {
                entry.0 = Some(sid.clone());
            }
        }
        if let Connection::Polling(request) = connection {
            if let Some(entry) = self.requests.get_mut(&request) {
                entry.0 = Some(sid.clone());
            }
        }
        self.engines.sessions.insert(sid.clone(), session);
        self.engines.dirty.push(sid.clone());
        self.handler
            .on_open(now, &sid, handshake.version, &mut self.engines);
    }

    fn session_of_request(&mut self, id: RequestId) -> Option<&mut ServerSession> {
        let sid = self.requests.get(&id)?.0.clone()?;
        self.engines.dirty.push(sid.clone());
        self.engines.sessions.get_mut(&sid)
    }

    fn session_of_socket(&mut self, socket: SocketId) -> Option<&mut ServerSession> {
        let sid = self.sockets.get(&socket)?.0.clone()?;
        self.engines.dirty.push(sid.clone());
        self.engines.sessions.get_mut(&sid)
    }

    /// Drains every session that has outputs, until none has.
    fn flush(&mut self, now: Instant) {
        while let Some(sid) = self.engines.dirty.pop() {
            let mut closed = false;
            while let Some(session) = self.engines.sessions.get_mut(&sid) {
                if let Some(transmit) = session.poll_transmit() {
                    self.transmit(transmit);
                    continue;
                }
                let Some(event) = session.poll_event() else {
                    break;
                };
                closed |= matches!(event, Event::Closed { .. });
                // The handler may send to this and other sessions: they become dirty.
                self.handler.on_event(now, &sid, event, &mut self.engines);
            }
            let deadline = if closed {
                self.engines.sessions.remove(&sid);
                // A closed session has answered its requests; forget any it could not.
                self.requests
                    .retain(|_, (owner, _)| owner.as_deref() != Some(sid.as_str()));
                None
            } else {
                self.engines
                    .sessions
                    .get(&sid)
                    .and_then(ServerSession::poll_timeout)
            };
            self.timers.set(&sid, deadline);
        }
    }

    fn transmit(&mut self, transmit: Transmit) {
        match transmit {
            Transmit::Response { request, response } => {
                if let Some((_, reply)) = self.requests.remove(&request) {
                    let _ = reply.send(response);
                }
            }
            Transmit::Frame { socket, frame } => {
                let Some((sid, frames)) = self.sockets.get(&socket) else {
                    return;
                };
                if frames.try_send(frame).is_err() {
                    // Too slow or gone: the session learns that its socket closed.
                    let sid = sid.clone();
                    self.sockets.remove(&socket);
                    if let Some(session) = sid.and_then(|sid| self.engines.sessions.get_mut(&sid)) {
                        session.handle_websocket_closed(Instant::now(), socket);
                    }
                }
            }
            Transmit::CloseSocket { socket } => {
                // Dropping the sender lets the writer flush what is queued, then close.
                self.sockets.remove(&socket);
            }
            _ => {}
        }
    }
}
