//! A Socket.IO server on tokio and hyper 1.x, driving the sans-IO [`Endpoint`] by hand: what a
//! driver for any async stack does. Long-polling (a GET parked until the endpoint answers it,
//! from whichever task makes it), WebSocket (tokio-tungstenite, after the endpoint accepts the
//! upgrade), timers. Every `chat` event goes to every client; an event sent with an ack is
//! answered with `"ok"`.
//!
//! ```sh
//! cargo run -p socketio-proto --example hyper_server    # http://127.0.0.1:3002/socket.io/
//! ```
//!
//! The published `socketio-tokio` crate is this loop grown up (timeouts, backpressure, shards,
//! the application API); this one is kept short to be read in one sitting.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use socketio_proto::server::*;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_tungstenite::tungstenite::{Message, handshake::derive_accept_key, protocol::Role};

/// The endpoint and where its output goes.
struct Server {
    endpoint: Endpoint,
    /// Requests waiting for what the endpoint says (a response, a body to read, an upgrade).
    waiting: HashMap<RequestId, oneshot::Sender<Transmit>>,
    /// Open WebSockets: their writer's queue (`None` closes it).
    sockets: HashMap<SocketId, mpsc::UnboundedSender<Option<Frame>>>,
}

type Shared = Arc<(Mutex<Server>, Notify)>;

impl Server {
    /// The run loop's second step, after every input and every command: the application
    /// handles every event, every transmit goes where it belongs, until nothing moves.
    fn drain(&mut self, now: Instant) {
        loop {
            if let Some(event) = self.endpoint.poll_event() {
                self.app(now, event);
                continue;
            }
            let Some(transmit) = self.endpoint.poll_transmit() else {
                return;
            };
            match transmit {
                Transmit::Frame { socket, frame } => {
                    if let Some(out) = self.sockets.get(&socket) {
                        let _ = out.send(Some(frame));
                    }
                }
                Transmit::CloseSocket { socket } => {
                    if let Some(out) = self.sockets.remove(&socket) {
                        let _ = out.send(None);
                    }
                }
                Transmit::Response { request, .. }
                | Transmit::ReadBody { request, .. }
                | Transmit::AcceptWebSocket { request, .. } => {
                    if let Some(waiter) = self.waiting.remove(&request) {
                        let _ = waiter.send(transmit);
                    }
                }
            }
        }
    }

    /// The application.
    fn app(&mut self, now: Instant, event: ServerEvent) {
        match event {
            ServerEvent::ConnectRequest(request) => drop(self.endpoint.accept(now, &request)),
            ServerEvent::Event { socket, packet } => {
                if let Some(id) = packet.ack_id() {
                    let ack = Packet::ack(socket.namespace.clone(), id, &("ok",));
                    let _ = ack.map(|ack| self.endpoint.ack(&socket, ack));
                }
                if packet.event_name().as_deref() == Some("chat") {
                    let args = packet.raw_args();
                    let attachments = packet.attachments().to_vec();
                    let out = Packet::event_raw(socket.namespace, "chat", &args[1..], attachments);
                    if let Ok(out) = out {
                        let _ = self.endpoint.broadcast(now, out, &BroadcastTarget::all());
                    }
                }
            }
            // Acks, disconnects, replies… this application ignores them.
            ServerEvent::Connected { .. }
            | ServerEvent::Ack { .. }
            | ServerEvent::AckTimeout { .. }
            | ServerEvent::Disconnected { .. }
            | ServerEvent::ServerSideEmit { .. }
            | ServerEvent::Reply(_) => {}
        }
    }
}

/// Feeds one input, drains, and wakes the timer task (a deadline may have moved).
fn feed(shared: &Shared, input: impl FnOnce(&mut Server, Instant)) {
    let now = Instant::now();
    let mut server = shared.0.lock().unwrap_or_else(|e| e.into_inner());
    input(&mut server, now);
    server.drain(now);
    shared.1.notify_one();
}

/// One HTTP request: fed to the endpoint, then answered with what it says.
async fn handle(shared: Shared, mut req: Request<Incoming>) -> Response<Full<Bytes>> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    if req.uri().path() != "/socket.io/" {
        return respond(404, None, Bytes::from_static(b"not found"));
    }
    let request = RequestId(NEXT.fetch_add(1, Ordering::Relaxed));
    let method = match *req.method() {
        hyper::Method::GET => Method::Get,
        hyper::Method::POST => Method::Post,
        _ => Method::Other,
    };
    let query = req.uri().query().unwrap_or("").to_owned();
    let websocket_upgrade = req.headers().get(UPGRADE).is_some_and(|v| v == "websocket");
    let (waiter, mut answer) = oneshot::channel();
    feed(&shared, |server, now| {
        server.waiting.insert(request, waiter);
        let input = Input::Request {
            request,
            method,
            query: &query,
            websocket_upgrade,
        };
        server.endpoint.handle(now, input);
    });
    loop {
        // A long-poll GET waits here until the endpoint has something for it.
        let Ok(transmit) = answer.await else {
            return respond(503, None, Bytes::new());
        };
        match transmit {
            Transmit::Response { response, .. } => {
                return respond(response.status, response.content_type, response.body);
            }
            Transmit::ReadBody { limit, .. } => {
                let content_type = req
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok());
                let content_type = content_type.map(str::to_owned);
                let body = Limited::new(req.body_mut(), limit).collect().await;
                let (waiter, next) = oneshot::channel();
                answer = next;
                feed(&shared, |server, now| {
                    server.waiting.insert(request, waiter);
                    match body {
                        Ok(body) => server.endpoint.handle(
                            now,
                            Input::PostBody {
                                request,
                                content_type: content_type.as_deref(),
                                body: body.to_bytes(),
                            },
                        ),
                        Err(_) => server.endpoint.handle(now, Input::PostTooLarge { request }),
                    }
                });
            }
            Transmit::AcceptWebSocket { socket, .. } => {
                let key = req
                    .headers()
                    .get(SEC_WEBSOCKET_KEY)
                    .map(|k| derive_accept_key(k.as_bytes()));
                tokio::spawn(run_websocket(
                    shared.clone(),
                    hyper::upgrade::on(&mut req),
                    socket,
                ));
                let mut response = respond(101, None, Bytes::new());
                let headers = response.headers_mut();
                headers.insert("upgrade", HeaderValue::from_static("websocket"));
                headers.insert("connection", HeaderValue::from_static("Upgrade"));
                if let Some(accept) = key.and_then(|k| HeaderValue::from_str(&k).ok()) {
                    headers.insert("sec-websocket-accept", accept);
                }
                return response;
            }
            // The endpoint sends frames to sockets, not to requests.
            Transmit::Frame { .. } | Transmit::CloseSocket { .. } => {
                return respond(500, None, Bytes::new());
            }
        }
    }
}

/// An accepted WebSocket: frames in go to the endpoint, frames from it go out.
async fn run_websocket(shared: Shared, upgrade: hyper::upgrade::OnUpgrade, socket: SocketId) {
    let closed = move |server: &mut Server, now| {
        server.sockets.remove(&socket);
        server
            .endpoint
            .handle(now, Input::WebSocketClosed { socket });
    };
    let Ok(upgraded) = upgrade.await else {
        return feed(&shared, closed);
    };
    let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        TokioIo::new(upgraded),
        Role::Server,
        None,
    )
    .await;
    let (mut sink, mut stream) = ws.split();
    let (out, mut frames) = mpsc::unbounded_channel();
    feed(&shared, |server, now| {
        server.sockets.insert(socket, out);
        server.endpoint.handle(now, Input::WebSocketOpen { socket });
    });
    let writer = tokio::spawn(async move {
        while let Some(Some(frame)) = frames.recv().await {
            let message = match frame {
                Frame::Text(text) => Message::text(text.as_str()),
                Frame::Binary(bytes) => Message::binary(bytes),
            };
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    while let Some(Ok(message)) = stream.next().await {
        let frame = match message {
            Message::Text(text) => Frame::Text(Utf8Bytes::copy_from_str(text.as_str())),
            Message::Binary(bytes) => Frame::Binary(bytes),
            Message::Close(_) => break,
            _ => continue,
        };
        feed(&shared, |s, now| {
            s.endpoint
                .handle(now, Input::WebSocketFrame { socket, frame })
        });
    }
    writer.abort();
    feed(&shared, closed);
}

fn respond(status: u16, content_type: Option<&'static str>, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    response
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3002").await?;
    println!("listening on http://{}/socket.io/", listener.local_addr()?);
    let server = Server {
        endpoint: Endpoint::new(EndpointConfig::default(), Box::new(OsIds::new())),
        waiting: HashMap::new(),
        sockets: HashMap::new(),
    };
    let shared: Shared = Arc::new((Mutex::new(server), Notify::new()));
    // The run loop's third step: sleep until the next deadline (heartbeats, timeouts), or
    // until an input moved it.
    let timers = shared.clone();
    tokio::spawn(async move {
        loop {
            let next = timers
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .endpoint
                .poll_timeout();
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => feed(&timers, |s, now| s.endpoint.handle_timeout(now)),
                () = timers.1.notified() => {}
            }
        }
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, req).await) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            let _ = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}
