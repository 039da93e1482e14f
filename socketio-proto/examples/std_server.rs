//! A Socket.IO chat server on blocking `std::net` and synchronous `tungstenite`: no async
//! runtime, one thread per WebSocket, the sans-IO [`Endpoint`] behind a mutex. Every `chat`
//! event goes to every client, and an event sent with an ack is answered with `"ok"`.
//!
//! ```sh
//! cargo run -p socketio-proto --example std_server        # ws://127.0.0.1:3001/socket.io/
//! cargo run -p socketio-proto --example std_client        # in another terminal
//! ```
//!
//! WebSocket only, to stay short (tungstenite drops plain HTTP requests, so polling clients
//! get no answer here; `socketio-tokio` serves both). A refused upgrade — a bad `EIO`, an
//! unknown `sid` — is answered as the reference answers it: the status, `Content-Type` and
//! JSON body of the endpoint's [`Transmit::Response`] (see `refusal` below).

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socketio_proto::server::{
    BroadcastTarget, Endpoint, EndpointConfig, Frame, HttpResponse, Input, Method, Packet,
    RequestId, ServerEvent, SocketId, Transmit,
};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::{Message, WebSocket};

/// The endpoint and where its output goes: one channel per open socket.
struct Server {
    endpoint: Endpoint,
    sockets: HashMap<SocketId, Sender<Option<Frame>>>,
    /// Answers to upgrade requests, collected while draining.
    answers: HashMap<RequestId, Transmit>,
    next_request: u64,
}

impl Server {
    /// The run loop's second step: let the application handle every event, put every transmit
    /// on the wire, until nothing moves.
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
                // `None` tells the socket's thread to close it.
                Transmit::CloseSocket { socket } => {
                    if let Some(out) = self.sockets.remove(&socket) {
                        let _ = out.send(None);
                    }
                }
                Transmit::AcceptWebSocket { request, .. } | Transmit::Response { request, .. } => {
                    self.answers.insert(request, transmit);
                }
                // Only polling asks for bodies, and this server refuses polling.
                _ => {}
            }
        }
    }

    /// The application.
    fn app(&mut self, now: Instant, event: ServerEvent) {
        match event {
            ServerEvent::ConnectRequest(request) => {
                let _ = self.endpoint.accept(now, &request);
            }
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
                        // The text format always encodes.
                        let _ = self.endpoint.broadcast(now, out, &BroadcastTarget::all());
                    }
                }
            }
            _ => {}
        }
    }
}

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:3001")?;
    println!("listening on ws://{}/socket.io/", listener.local_addr()?);
    let server = Arc::new(Mutex::new(Server {
        endpoint: Endpoint::new(EndpointConfig::default(), Box::new(ids())),
        sockets: HashMap::new(),
        answers: HashMap::new(),
        next_request: 0,
    }));
    // The run loop's third step: sleep until the next deadline (heartbeats, timeouts).
    let timers = server.clone();
    std::thread::spawn(move || {
        loop {
            let next = timers
                .lock()
                .map(|s| s.endpoint.poll_timeout())
                .ok()
                .flatten();
            let wait = next.map_or(Duration::from_millis(100), |at| at - Instant::now());
            std::thread::sleep(wait.min(Duration::from_millis(100)));
            if let Ok(mut s) = timers.lock() {
                let now = Instant::now();
                s.endpoint.handle_timeout(now);
                s.drain(now);
            }
        }
    });
    for stream in listener.incoming().flatten() {
        let server = server.clone();
        std::thread::spawn(move || serve(stream, &server));
    }
    Ok(())
}

/// One connection: the upgrade, answered by the endpoint, then the WebSocket.
#[allow(clippy::result_large_err)] // tungstenite's callback returns its `ErrorResponse`
fn serve(stream: TcpStream, server: &Mutex<Server>) {
    let (out, frames) = mpsc::channel();
    let mut accepted = None;
    let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let mut s = server
            .lock()
            .map_err(|_| refusal(HttpResponse::error(engineio_proto::ErrorCode::BadRequest)))?;
        s.next_request += 1;
        let id = RequestId(s.next_request);
        let query = request.uri().query().unwrap_or("");
        let now = Instant::now();
        let input = Input::Request {
            request: id,
            method: Method::Get,
            query,
            websocket_upgrade: true,
        };
        s.endpoint.handle(now, input);
        s.drain(now);
        match s.answers.remove(&id) {
            Some(Transmit::AcceptWebSocket { socket, .. }) => {
                s.sockets.insert(socket, out.clone());
                accepted = Some(socket);
                Ok(response)
            }
            Some(Transmit::Response { response, .. }) => Err(refusal(response)),
            _ => Err(refusal(HttpResponse::error(
                engineio_proto::ErrorCode::BadRequest,
            ))),
        }
    };
    let Ok(ws) = tungstenite::accept_hdr(stream, callback) else {
        return;
    };
    let Some(socket) = accepted else { return };
    feed(server, Input::WebSocketOpen { socket });
    pump(ws, socket, server, &frames);
    server.lock().map(|mut s| s.sockets.remove(&socket)).ok();
    feed(server, Input::WebSocketClosed { socket });
}

/// Reads and writes one WebSocket until either side closes it.
fn pump(
    mut ws: WebSocket<TcpStream>,
    socket: SocketId,
    server: &Mutex<Server>,
    frames: &Receiver<Option<Frame>>,
) {
    // Short reads, so that this thread also writes what the endpoint queued for it.
    let _ = ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(20)));
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => {
                let frame = Frame::Text(text.as_str().to_owned().into());
                feed(server, Input::WebSocketFrame { socket, frame });
            }
            Ok(Message::Binary(data)) => feed(
                server,
                Input::WebSocketFrame {
                    socket,
                    frame: Frame::Binary(data),
                },
            ),
            Ok(Message::Close(_)) => return,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return,
        }
        while let Ok(frame) = frames.try_recv() {
            let message = match frame {
                Some(Frame::Text(text)) => Message::text(text.as_str()),
                Some(Frame::Binary(data)) => Message::Binary(data),
                None => return drop(ws.close(None)),
            };
            if ws.send(message).is_err() {
                return;
            }
        }
    }
}

/// The run loop's first step: one input with the current time, then drain.
fn feed(server: &Mutex<Server>, input: Input<'_>) {
    if let Ok(mut s) = server.lock() {
        let now = Instant::now();
        s.endpoint.handle(now, input);
        s.drain(now);
    }
}

/// A refusal as the upgrade's HTTP answer: the status, content type and JSON body of the
/// reference (`{"code":…,"message":…}`).
fn refusal(response: HttpResponse) -> ErrorResponse {
    let mut answer = ErrorResponse::new(Some(String::from_utf8_lossy(&response.body).into_owned()));
    *answer.status_mut() =
        tungstenite::http::StatusCode::from_u16(response.status).unwrap_or_default();
    if let Some(content_type) = response.content_type {
        answer.headers_mut().insert(
            "content-type",
            tungstenite::http::HeaderValue::from_static(content_type),
        );
    }
    answer
}

/// Session and socket ids: an example's counter. A real server must draw them from the
/// operating system's CSPRNG (the `getrandom` crate): they are the only secret protecting a
/// polling session.
fn ids() -> impl FnMut() -> String + Send {
    let mut n = 0u64;
    move || {
        n += 1;
        format!("id{n}")
    }
}
