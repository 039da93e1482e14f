//! The server driver: hyper 1.x for HTTP/1.1 long-polling, tokio-tungstenite for WebSocket, and
//! one task (the *core*) that owns the sans-IO endpoint and the application.
//!
//! ```text
//!  TCP accept ─► hyper connection task ─┬─ request ─────────────► Msg ─┐
//!                                       └─ 101 ─► WebSocket task ─► Msg ─┤
//!                                                                        ▼
//!                           core task: Service (an endpoint + the app)
//!                                                                        │
//!  replies (one channel per request) ◄────────────────────────────────────┤
//!  frames (bounded channel per socket) ◄──────────────────────────────────┘
//! ```
//!
//! The driver only moves bytes and time: connection tasks turn requests and frames into
//! [`Input`]s, the core feeds them to the [`Service`] with the current time, drains its
//! transmits onto the wire, and sleeps until its next deadline. Sessions, routing, timers and
//! ids all live in the endpoint ([`engineio_proto::session::endpoint`] or
//! [`socketio_proto::session::endpoint`]).
//!
//! To use every core, [`serve_sharded`] runs one such core per thread (a *shard*), each with
//! its own service and the connections it accepts: a connection, its session and the
//! application meet on one thread. Session ids name their shard
//! ([`Ids::for_shard`]), so a polling request or an upgrade that arrives on another shard's
//! connection goes to its session's core; broadcasts and connection state recovery cross
//! shards through [`Service::handle_external`] ([`Shards`]), the seam a cluster adapter uses
//! between servers.
//!
//! Limits the driver adds: a POST body is refused (413) from its `Content-Length` or once the
//! endpoint's limit has arrived, and its reading stops when its session ends; a WebSocket
//! message over `maxPayload` closes the socket (1009); each socket's outgoing backlog is
//! bounded in bytes, with backpressure on its input first ([`crate::websocket`]);
//! a request whose client goes away is reported as aborted.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use engineio_proto::session::endpoint::{Endpoint, Input};
use engineio_proto::session::server::{HttpResponse, Method, ServerConfig, SessionEvent, Transmit};
use engineio_proto::session::{RequestId, SocketId};
use engineio_proto::{ErrorCode, Frame, RequestQuery, Transport};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use socketio_proto::session::handshake::Handshake;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::policy::{ConnectionLimits, RequestInfo};
pub use crate::policy::{Fallback, Options};
use crate::websocket::{self, Outbox};

/// What the core task runs: a sans-IO endpoint and the application on top of it. The driver
/// calls [`Service::handle`] for every input, then [`Service::run_app`], then drains
/// [`Service::poll_transmit`].
pub trait Service: Send + 'static {
    /// Feeds one input (the endpoint applies due deadlines first).
    fn handle(&mut self, now: Instant, input: Input<'_>);
    /// Feeds an input that may open a session, with what the driver read of its HTTP request
    /// (see [`Endpoint::handle_handshake`](socketio_proto::session::endpoint::Endpoint::handle_handshake)).
    /// By default the description is dropped.
    fn handle_handshake(&mut self, now: Instant, input: Input<'_>, handshake: Handshake) {
        let _ = handshake;
        self.handle(now, input);
    }
    /// Fires due deadlines.
    fn handle_timeout(&mut self, now: Instant);
    /// The next deadline.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Lets the application handle every pending event.
    fn run_app(&mut self, now: Instant);
    /// The next thing to put on the wire.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// The largest message a client may send (`maxPayload`).
    fn max_payload(&self) -> usize;
    /// How many Engine.IO sessions are open.
    fn session_count(&self) -> usize;
    /// A message from outside the HTTP server, such as a cluster adapter's Redis channel
    /// ([`serve_with_external`]) or another shard ([`Shards::send`]). Ignored by default.
    fn handle_external(&mut self, _now: Instant, _message: External) {}
    /// Served as one shard of several ([`serve_sharded`]): how to reach the others. Called
    /// once, before any input. Ignored by default.
    fn attach_shards(&mut self, _shards: Shards) {}
}

/// What reaches the server from outside HTTP: a cluster adapter's Redis traffic, or another
/// shard's messages.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum External {
    /// A message published on a channel the server listens to.
    Message {
        /// The channel it was published on.
        channel: String,
        /// Its bytes.
        payload: Bytes,
    },
    /// An entry of a Redis stream the server reads (the streams adapter).
    Entry {
        /// Its id (`‹ms›-‹seq›`).
        id: Bytes,
        /// The fields and their values, as read.
        fields: Vec<(Bytes, Bytes)>,
    },
    /// The id Redis gave an entry this server appended and waits for.
    Appended {
        /// The append.
        token: u64,
        /// The entry id.
        id: String,
    },
    /// What Redis had for a recovery (the streams adapter).
    Restored {
        /// The recovery.
        token: u64,
        /// The session, when it and the client's offset were both there.
        session: Option<Bytes>,
        /// The entries after the offset: (id, fields).
        entries: Vec<crate::cluster::RangeEntry>,
    },
    /// How many servers Redis counted for one of the server's cluster requests
    /// (`PUBSUB NUMSUB`).
    ServerCount {
        /// The request.
        request: socketio_proto::cluster::RequestId,
        /// The servers, the asking one included.
        count: usize,
    },
    /// From another shard of a sharded Socket.IO server ([`Shards::send`]).
    Shard(crate::socketio::ShardMessage),
}

/// An Engine.IO echo server: every message goes back to its sender (the server of the
/// official Engine.IO test suites).
#[derive(Debug)]
pub struct Echo(pub Endpoint);

impl Echo {
    /// An echo server with these session settings and ids from the OS's CSPRNG.
    pub fn new(config: ServerConfig) -> Echo {
        Echo(Endpoint::new(config, Box::new(Ids::default())))
    }

    /// Shard `index` of a [`serve_sharded`] echo server.
    pub fn for_shard(config: ServerConfig, index: usize) -> Echo {
        Echo(Endpoint::new(config, Box::new(Ids::for_shard(index))))
    }
}

impl Service for Echo {
    fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.0.handle(now, input);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }
    fn run_app(&mut self, _now: Instant) {
        while let Some((session, event)) = self.0.poll_event() {
            if let SessionEvent::Message(data) = event {
                // Fails only when the session is closing: nobody to echo to then.
                let _ = self.0.send(session, data);
            }
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.0.poll_transmit()
    }
    fn max_payload(&self) -> usize {
        self.0.config().max_payload
    }
    fn session_count(&self) -> usize {
        self.0.len()
    }
}

/// Ids from the operating system's CSPRNG: 15 random bytes as 20 characters of URL-safe
/// base64, the shape of the reference's `base64id`. Random bytes are fetched in batches.
#[derive(Debug, Default)]
pub struct Ids {
    pool: Vec<u8>,
    /// A shard's tag, the ids' first character.
    tag: Option<u8>,
}

impl Ids {
    /// Ids of shard `index` of a [`serve_sharded`] server (at most 64 shards): the first
    /// character names the shard, which leaves 114 random bits.
    pub fn for_shard(index: usize) -> Ids {
        Ids {
            pool: Vec::new(),
            tag: SHARD_TAGS.get(index).copied(),
        }
    }
}

impl engineio_proto::session::endpoint::IdSource for Ids {
    fn next_id(&mut self) -> String {
        if self.pool.len() < 15 {
            self.pool.resize(15 * 64, 0);
            // The OS generator does not fail on any platform tokio runs on; if it ever did,
            // serving predictable ids would be worse than stopping.
            #[allow(clippy::expect_used)]
            getrandom::fill(&mut self.pool).expect("the OS random number generator failed");
        }
        let at = self.pool.len() - 15;
        let mut id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.pool[at..]);
        self.pool.truncate(at);
        if let Some(tag) = self.tag {
            id.replace_range(..1, char::from(tag).encode_utf8(&mut [0; 4]));
        }
        id
    }
}

/// A running server.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    addr: SocketAddr,
    /// Each shard's core.
    inputs: Vec<Inputs>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many Engine.IO sessions are open, over every shard (0 once the server stopped).
    pub async fn session_count(&self) -> usize {
        let mut total = 0;
        for inputs in &self.inputs {
            let (reply, count) = oneshot::channel();
            if inputs.send(Msg::Count(reply)).is_ok() {
                total += count.await.unwrap_or(0);
            }
        }
        total
    }
}

/// Binds `addr` and serves `service` on it, on the current tokio runtime, until the runtime
/// shuts down.
pub async fn serve<S: Service>(
    addr: SocketAddr,
    options: Options,
    service: S,
) -> std::io::Result<ServerHandle> {
    serve_with_external(addr, options, service, None).await
}

/// [`serve`], with messages from outside HTTP (a cluster adapter's subscriber) handed to
/// [`Service::handle_external`] in arrival order. The channel is bounded: a subscriber that
/// outpaces the server waits, and Redis holds the rest.
pub async fn serve_with_external<S: Service>(
    addr: SocketAddr,
    options: Options,
    service: S,
    external: Option<mpsc::Receiver<External>>,
) -> std::io::Result<ServerHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (inputs, rx) = mpsc::unbounded_channel();
    let inputs = Inputs(inputs);
    tokio::spawn(Core::new(service).run(rx, external));
    let shared = Shared::new(options, vec![inputs.clone()]);
    tokio::spawn(accept(listener, shared, 0));
    Ok(ServerHandle {
        addr,
        inputs: vec![inputs],
    })
}

/// Serves on several shards: each service runs on a thread of its own, which accepts its own
/// connections (one listener per shard on the same port, `SO_REUSEPORT`: the kernel spreads
/// the connections), so a connection's frames, its session and the application meet on one
/// thread, with no hand-off between threads. Requests for a session (polling, an upgrade)
/// go to the shard that owns it, which its id tells ([`Ids::for_shard`]); each service
/// learns its siblings ([`Service::attach_shards`]) to share broadcasts and recoveries. Each
/// service comes with its external messages, if any (a cluster adapter's). The shards' threads
/// serve until the process exits. A single shard is [`serve_with_external`]: everything on
/// the current runtime.
pub async fn serve_sharded<S: Service>(
    addr: SocketAddr,
    options: Options,
    mut shards: Vec<(S, Option<mpsc::Receiver<External>>)>,
) -> std::io::Result<ServerHandle> {
    if shards.len() <= 1 {
        let Some((service, external)) = shards.pop() else {
            return Err(std::io::Error::other("no shard to serve"));
        };
        return serve_with_external(addr, options, service, external).await;
    }
    // A listener per shard on the same port (`SO_REUSEPORT`): the kernel spreads the
    // connections, and each shard accepts its own, with no hand-off between threads.
    let first = shard_listener(addr)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..shards.len() {
        listeners.push(shard_listener(addr)?);
    }
    let (inputs, receivers): (Vec<_>, Vec<_>) = shards
        .iter()
        .map(|_| {
            let (inputs, rx) = mpsc::unbounded_channel();
            (Inputs(inputs), rx)
        })
        .unzip();
    let shared = Shared::new(options, inputs.clone());
    let shards = shards.into_iter().zip(receivers).zip(listeners);
    for (index, (((mut service, external), rx), listener)) in shards.enumerate() {
        service.attach_shards(Shards {
            index,
            peers: inputs.clone(),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let shared = shared.clone();
        std::thread::Builder::new()
            .name(format!("shard-{index}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::spawn(Core::new(service).run(rx, external));
                    accept(listener, shared, index).await;
                })
            })?;
    }
    Ok(ServerHandle { addr, inputs })
}

/// A listener of one shard: bound with `SO_REUSEPORT` (where the platform has it), for the
/// shard's own runtime.
fn shard_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    #[cfg(all(unix, not(target_os = "solaris"), not(target_os = "illumos")))]
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

/// One shard's view of the others, for a service of [`serve_sharded`].
#[derive(Debug, Clone)]
pub struct Shards {
    index: usize,
    peers: Vec<Inputs>,
}

impl Shards {
    /// This shard's number.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many shards there are.
    pub fn count(&self) -> usize {
        self.peers.len()
    }

    /// Hands `message` to shard `to`'s [`Service::handle_external`], after what it already
    /// received from this one. `false` when that shard has stopped.
    pub fn send(&self, to: usize, message: External) -> bool {
        self.peers
            .get(to)
            .is_some_and(|peer| peer.send(Msg::External(message)).is_ok())
    }
}

/// The shard an id's first character names, when there is such a shard.
fn shard_of(id: &str, shards: usize) -> Option<usize> {
    let first = *id.as_bytes().first()?;
    let index = SHARD_TAGS.iter().position(|&tag| tag == first)?;
    (index < shards).then_some(index)
}

/// The first character of the ids of shard `n`: URL-safe base64 digits.
const SHARD_TAGS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Accepts connections, up to the limit, and serves each on this shard (`home`).
async fn accept(listener: TcpListener, shared: Arc<Shared>, home: usize) {
    let mut backoff = MIN_ACCEPT_BACKOFF;
    loop {
        let (mut stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Out of file descriptors (or memory): wait for connections to end
                // instead of spinning; the ones open keep being served meanwhile.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                continue;
            }
        };
        backoff = MIN_ACCEPT_BACKOFF;
        let Some(connection) = Connection::count(&shared) else {
            // Over the limit: a clean refusal, then the socket closes.
            let _ = stream.try_write(
                    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                );
            let _ = stream.shutdown().await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(serve_connection(shared, stream, remote, connection, home));
        // Let the connection just accepted start before accepting the next: tokio runs the
        // newest spawned task first (its LIFO slot), so two connections accepted in one go
        // would otherwise be read in reverse order, and a GET sent before a POST `1` could
        // reach the endpoint after it.
        tokio::task::yield_now().await;
    }
}

/// Serves one HTTP connection of shard `home`.
async fn serve_connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    remote: SocketAddr,
    connection: Connection,
    home: usize,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(shared.options.limits.header_read_timeout);
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let connection = connection.clone();
        async move {
            // Boxed: the request is let go early, and the future stays small while it waits.
            let response = shared.handle(Box::new(req), remote, connection, home).await;
            Ok::<_, Infallible>(response)
        }
    });
    // Errors here are the peer's (reset connections, bad HTTP, timeouts): nothing to do but
    // close.
    let _ = http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

/// What the core answers a request with.
#[derive(Debug)]
enum Reply {
    Response(HttpResponse),
    /// Read the body (at most `limit` bytes), then wait for `response`.
    ReadBody {
        limit: usize,
        response: oneshot::Receiver<Reply>,
    },
    /// Complete the WebSocket upgrade; the socket is this one.
    Accept(SocketId, usize),
}

/// The way into the core. Each message is stamped with the time it arrived: the core feeds it
/// to the endpoint at that time, not at the (later) time it gets to it, so a pong that arrived
/// before its deadline counts even when the core was busy with a burst.
#[derive(Clone, Debug)]
struct Inputs(mpsc::UnboundedSender<(Instant, Msg)>);

impl Inputs {
    fn send(&self, msg: Msg) -> Result<(), ()> {
        self.0.send((Instant::now(), msg)).map_err(drop)
    }
}

/// Messages from connection tasks to the core: the endpoint's inputs, owned.
#[derive(Debug)]
enum Msg {
    Request {
        request: RequestId,
        method: Method,
        query: String,
        upgrade: bool,
        /// A polling handshake's request, described for the session it opens.
        handshake: Option<Box<Handshake>>,
        reply: oneshot::Sender<Reply>,
    },
    Body {
        request: RequestId,
        content_type: Option<String>,
        body: Option<Bytes>,
    },
    Aborted(RequestId),
    Opened {
        socket: SocketId,
        frames: Outbox,
        /// A WebSocket-only handshake's upgrade request, described for the session it opens.
        handshake: Option<Box<Handshake>>,
    },
    Frame(SocketId, Frame),
    SocketClosed(SocketId),
    Count(oneshot::Sender<usize>),
    /// From another shard.
    External(External),
}

/// State shared by the connection tasks.
struct Shared {
    options: Options,
    /// Each shard's core.
    inputs: Vec<Inputs>,
    next_request: AtomicU64,
    /// Open connections, WebSockets included.
    connections: AtomicUsize,
}

impl Shared {
    fn new(options: Options, inputs: Vec<Inputs>) -> Arc<Shared> {
        Arc::new(Shared {
            options,
            inputs,
            next_request: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
        })
    }

    /// The core a request goes to: its session's shard, else the connection's own.
    fn route(&self, query: &RequestQuery<'_>, home: usize) -> &Inputs {
        let owner = query
            .sid
            .as_deref()
            .and_then(|sid| shard_of(sid, self.inputs.len()));
        &self.inputs[owner.unwrap_or(home)]
    }
}

/// Inputs handled before the outputs are drained, at most.
const INPUT_BATCH: usize = 256;

const MIN_ACCEPT_BACKOFF: Duration = Duration::from_millis(5);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// One open connection, counted in [`Shared::connections`] while any clone lives: the HTTP
/// connection's task holds one, and a WebSocket it upgrades to takes one along.
#[derive(Clone)]
struct Connection {
    _slot: Arc<ConnectionSlot>,
}

struct ConnectionSlot(Arc<Shared>);

impl Connection {
    /// Counts a new connection, unless the limit is reached.
    fn count(shared: &Arc<Shared>) -> Option<Connection> {
        let max = shared.options.limits.max_connections;
        let open = shared.connections.fetch_add(1, Ordering::Relaxed);
        if open >= max {
            shared.connections.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Connection {
            _slot: Arc::new(ConnectionSlot(shared.clone())),
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Reports a request as aborted if it is dropped (the client went away) before its response.
struct AbortGuard<'a> {
    id: RequestId,
    inputs: &'a Inputs,
    armed: bool,
}

impl Drop for AbortGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.inputs.send(Msg::Aborted(self.id));
        }
    }
}

impl Shared {
    async fn handle(
        &self,
        req: Box<Request<Incoming>>,
        remote: SocketAddr,
        connection: Connection,
        home: usize,
    ) -> Response<Full<Bytes>> {
        if req.uri().path() != self.options.path {
            return match &self.options.fallback {
                Some(fallback) => fallback(&req),
                None => plain(StatusCode::NOT_FOUND, "not found"),
            };
        }
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
        let upgrade = is_websocket_upgrade(&req);
        let query = req.uri().query().unwrap_or("").to_owned();
        let parsed = RequestQuery::parse(&query).ok();
        let handshake =
            method == Method::Get && parsed.as_ref().is_some_and(|q| is_handshake(q, upgrade));
        let inputs = match &parsed {
            Some(parsed) => self.route(parsed, home),
            None => &self.inputs[home],
        };
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
        let mut req = (method != Method::Get || upgrade).then_some(req);
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
                    // The endpoint reads the bodies of POSTs only.
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
                    let _ = inputs.send(Msg::Body {
                        request,
                        content_type,
                        body,
                    });
                    next = response.await;
                }
                Reply::Accept(socket, max_payload) => {
                    guard.armed = false;
                    // The endpoint accepts upgrades only.
                    let Some(req) = req.as_mut() else {
                        return plain(StatusCode::INTERNAL_SERVER_ERROR, "no upgrade");
                    };
                    let mut response = self.accept_websocket(
                        req,
                        (inputs, socket),
                        max_payload,
                        connection,
                        description.take(),
                    );
                    policy.add_cors(origin.as_ref(), response.headers_mut());
                    return response;
                }
            }
        }
    }

    /// The endpoint's answer, with the policy's headers.
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

    fn accept_websocket(
        &self,
        req: &mut Request<Incoming>,
        (inputs, socket): (&Inputs, SocketId),
        max_payload: usize,
        connection: Connection,
        handshake: Option<Box<Handshake>>,
    ) -> Response<Full<Bytes>> {
        let inputs = inputs.clone();
        let Some(accept) = req
            .headers()
            .get(header::SEC_WEBSOCKET_KEY)
            .map(|key| tungstenite::handshake::derive_accept_key(key.as_bytes()))
        else {
            let _ = inputs.send(Msg::SocketClosed(socket));
            return plain(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
        };
        let upgrade = hyper::upgrade::on(req);
        let limits = self.options.limits.clone();
        tokio::spawn(async move {
            // The WebSocket counts as this connection until it ends.
            let _connection = connection;
            match tokio::time::timeout(limits.upgrade_timeout, upgrade).await {
                Ok(Ok(upgraded)) => {
                    let open = (socket, handshake);
                    run_websocket(upgraded, open, max_payload, &limits, inputs).await
                }
                _ => drop(inputs.send(Msg::SocketClosed(socket))),
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
        response
    }
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
async fn read_body(
    body: &mut Incoming,
    limit: usize,
    timeout: Duration,
    response: &mut oneshot::Receiver<Reply>,
) -> BodyRead {
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
/// `sid`, and a WebSocket handshake asks for the upgrade. Malformed queries are the endpoint's
/// to refuse.
fn is_handshake(query: &RequestQuery<'_>, upgrade: bool) -> bool {
    query.sid.is_none() && (query.transport != Transport::Websocket || upgrade)
}

/// The handshake request as `socket.handshake` shows it: headers, peer address, URL, and the
/// wall-clock time it arrived (this server speaks plain HTTP: never `secure`).
fn describe(req: &Request<Incoming>, remote: SocketAddr) -> Handshake {
    let issued = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let url = req.uri().path_and_query().map_or("/", |path| path.as_str());
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    Handshake::new(url, &remote.ip().to_string(), false, issued, headers)
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
    (socket, handshake): (SocketId, Option<Box<Handshake>>),
    max_payload: usize,
    limits: &ConnectionLimits,
    inputs: Inputs,
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
    websocket::pump(ws, inbox, backlog, |frame| {
        inputs.send(Msg::Frame(socket, frame)).is_ok()
    })
    .await;
    let _ = inputs.send(Msg::SocketClosed(socket));
}

/// The next external message; pending forever when there is no external channel.
async fn recv_external(external: &mut Option<mpsc::Receiver<External>>) -> Option<External> {
    match external {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

impl<S: Service> Core<S> {
    fn new(service: S) -> Core<S> {
        Core {
            max_payload: service.max_payload(),
            service,
            requests: HashMap::new(),
            sockets: FxHashMap::default(),
            written: Vec::new(),
        }
    }
}

/// The task that owns the service.
struct Core<S> {
    service: S,
    max_payload: usize,
    /// Requests waiting for a reply.
    requests: HashMap<RequestId, oneshot::Sender<Reply>>,
    /// Open WebSockets' outgoing queues (the ids are ours: a fast hash is safe).
    sockets: FxHashMap<SocketId, Outbox>,
    /// Sockets given frames since the last wake-up.
    written: Vec<SocketId>,
}

impl<S: Service> Core<S> {
    async fn run(
        mut self,
        mut inputs: mpsc::UnboundedReceiver<(Instant, Msg)>,
        mut external: Option<mpsc::Receiver<External>>,
    ) {
        let mut now = Instant::now();
        loop {
            let deadline = self.service.poll_timeout();
            tokio::select! {
                // Inputs first: they arrived before any deadline that fires now, and each
                // applies the deadlines due at its own arrival.
                biased;
                input = inputs.recv() => match input {
                    Some((at, input)) => {
                        now = now.max(at);
                        self.input(now, input);
                        // Whatever else already arrived goes in before the outputs are
                        // drained: a burst of frames then costs one drain, and each socket
                        // one wake-up and one write.
                        for _ in 0..INPUT_BATCH {
                            let Ok((at, input)) = inputs.try_recv() else { break };
                            now = now.max(at);
                            self.input(now, input);
                        }
                    }
                    None => return,
                },
                message = recv_external(&mut external) => match message {
                    Some(message) => {
                        now = now.max(Instant::now());
                        self.service.handle_external(now, message);
                    }
                    // The subscriber is gone: nothing more will come from outside.
                    None => external = None,
                },
                () = sleep_until(deadline) => {
                    now = now.max(Instant::now());
                    self.service.handle_timeout(now);
                }
            }
            self.flush(now);
        }
    }

    fn input(&mut self, now: Instant, msg: Msg) {
        match msg {
            Msg::Request {
                request,
                method,
                query,
                upgrade,
                handshake,
                reply,
            } => {
                self.requests.insert(request, reply);
                let input = Input::Request {
                    request,
                    method,
                    query: &query,
                    websocket_upgrade: upgrade,
                };
                match handshake {
                    Some(handshake) => self.service.handle_handshake(now, input, *handshake),
                    None => self.service.handle(now, input),
                }
            }
            Msg::Body {
                request,
                content_type,
                body: Some(body),
            } => {
                let content_type = content_type.as_deref();
                let input = Input::PostBody {
                    request,
                    content_type,
                    body,
                };
                self.service.handle(now, input);
            }
            Msg::Body { request, .. } => {
                self.service.handle(now, Input::PostTooLarge { request });
            }
            Msg::Aborted(request) => {
                self.requests.remove(&request);
                self.service.handle(now, Input::RequestAborted { request });
            }
            Msg::Opened {
                socket,
                frames,
                handshake,
            } => {
                self.sockets.insert(socket, frames);
                let input = Input::WebSocketOpen { socket };
                match handshake {
                    Some(handshake) => self.service.handle_handshake(now, input, *handshake),
                    None => self.service.handle(now, input),
                }
            }
            Msg::Frame(socket, frame) => {
                self.service
                    .handle(now, Input::WebSocketFrame { socket, frame });
            }
            Msg::SocketClosed(socket) => {
                self.sockets.remove(&socket);
                self.service.handle(now, Input::WebSocketClosed { socket });
            }
            Msg::Count(reply) => drop(reply.send(self.service.session_count())),
            Msg::External(message) => self.service.handle_external(now, message),
        }
    }

    /// Runs the application and writes everything out, until nothing moves.
    fn flush(&mut self, now: Instant) {
        loop {
            self.service.run_app(now);
            let Some(transmit) = self.service.poll_transmit() else {
                break;
            };
            self.transmit(now, transmit);
        }
        for socket in self.written.drain(..) {
            if let Some(frames) = self.sockets.get(&socket) {
                frames.wake();
            }
        }
    }

    fn transmit(&mut self, now: Instant, transmit: Transmit) {
        match transmit {
            Transmit::Response { request, response } => {
                if let Some(reply) = self.requests.remove(&request) {
                    let _ = reply.send(Reply::Response(response));
                }
            }
            Transmit::ReadBody { request, limit } => {
                let (next, response) = oneshot::channel();
                if let Some(reply) = self.requests.insert(request, next) {
                    let _ = reply.send(Reply::ReadBody { limit, response });
                }
            }
            Transmit::AcceptWebSocket { request, socket } => {
                if let Some(reply) = self.requests.remove(&request) {
                    let accepted = Reply::Accept(socket, self.max_payload);
                    if reply.send(accepted).is_err() {
                        // The client left before the upgrade.
                        self.service.handle(now, Input::WebSocketClosed { socket });
                    }
                }
            }
            Transmit::Frame { socket, frame } => {
                let Some(frames) = self.sockets.get(&socket) else {
                    return;
                };
                if frames.push(frame).is_ok() {
                    self.written.push(socket);
                } else {
                    // Too slow (closed with 1008) or gone: the session learns that its socket
                    // closed.
                    self.sockets.remove(&socket);
                    self.service.handle(now, Input::WebSocketClosed { socket });
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

/// Sleeps until `deadline`, forever when there is none.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use engineio_proto::session::endpoint::IdSource;

    use super::{Ids, SHARD_TAGS, shard_of};

    #[test]
    fn a_shards_ids_name_it_and_others_name_none() {
        for index in [0, 1, 63] {
            let mut ids = Ids::for_shard(index);
            let id = ids.next_id();
            assert_eq!(id.len(), 20);
            assert_eq!(shard_of(&id, 64), Some(index));
            assert_eq!(shard_of(&id, index), None, "no such shard");
        }
        assert_eq!(Ids::for_shard(64).tag, None, "at most 64 shards are named");
        assert_eq!(shard_of("", 2), None);
        assert_eq!(shard_of("~abc", 2), None);
        assert_eq!(SHARD_TAGS.len(), 64);
    }
}
