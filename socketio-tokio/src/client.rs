//! The Socket.IO client driver: a [`Manager`] on tokio, with hyper for the polling requests and
//! tokio-tungstenite for WebSockets.
//!
//! [`connect`] spawns one task that owns the manager. It carries out every
//! [`Transmit`] (each HTTP request and each WebSocket in a task of its own, reporting back
//! through a channel), runs the manager's timers, and forwards the manager's events to the
//! [`Client`]. Commands reach the manager as closures ([`Client::with`]), so every manager
//! method is available without a wrapper per method.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::time::Instant;

use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::session::{RequestId, SocketId};
use http_body_util::{BodyExt, Full};
use hyper::header;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use socketio_proto::client::{Manager, ManagerConfig, ManagerEvent, Transmit};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::websocket::{self, Backlog, Inbox, Outbox};

type Command = Box<dyn FnOnce(&mut Manager, Instant) + Send>;

/// A handle on a running client: commands in, events out. Dropping it stops the client.
#[derive(Debug)]
pub struct Client {
    commands: mpsc::UnboundedSender<Command>,
    cuts: mpsc::UnboundedSender<()>,
    events: mpsc::UnboundedReceiver<ManagerEvent>,
    task: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Client {
    /// Runs `command` on the manager (at the current time) and returns its result.
    /// `None` when the client task has ended.
    pub async fn with<R: Send + 'static>(
        &self,
        command: impl FnOnce(&mut Manager, Instant) -> R + Send + 'static,
    ) -> Option<R> {
        let (reply, result) = oneshot::channel();
        let command: Command = Box::new(move |manager, now| {
            let _ = reply.send(command(manager, now));
        });
        self.commands.send(command).ok()?;
        result.await.ok()
    }

    /// The next event from the manager; `None` when the client task has ended.
    pub async fn next_event(&mut self) -> Option<ManagerEvent> {
        self.events.recv().await
    }

    /// Drops the current transports at once, as a network failure would, without telling the
    /// server: the manager sees its sockets close and its requests fail, and reconnects.
    pub fn cut_transport(&self) {
        let _ = self.cuts.send(());
    }
}

/// Starts a client for the server at `base` (`http://127.0.0.1:3000`) on `path`
/// (`/socket.io/`). The manager opens its first session at once; join namespaces with
/// `client.with(|m, now| m.connect(now, "/", SocketOptions::default()))`.
pub fn connect(base: &str, path: &str, config: ManagerConfig) -> Client {
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (cuts, cut_rx) = mpsc::unbounded_channel();
    let (event_tx, events) = mpsc::unbounded_channel();
    let (inputs, input_rx) = mpsc::unbounded_channel();
    let keys = std::collections::hash_map::RandomState::new();
    let mut draws = 0u64;
    // Backoff jitter: uniform in [0, 1) from the std library's random SipHash keys.
    let random = Box::new(move || {
        draws += 1;
        let mut hasher = keys.build_hasher();
        hasher.write_u64(draws);
        (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
    });
    let driver = Driver {
        manager: Manager::new(Instant::now(), config, random),
        base: base.trim_end_matches('/').to_owned(),
        path: path.to_owned(),
        http: HttpClient::builder(TokioExecutor::new()).build_http(),
        inputs,
        requests: HashMap::new(),
        sockets: HashMap::new(),
        events: event_tx,
    };
    let task = tokio::spawn(driver.run(command_rx, cut_rx, input_rx));
    Client {
        commands,
        cuts,
        events,
        task,
    }
}

/// What I/O tasks report to the driver.
enum Input {
    Response(RequestId, Result<(u16, Option<String>, Bytes), ()>),
    Opened(SocketId),
    Frame(SocketId, Frame),
    Closed(SocketId),
}

struct Driver {
    manager: Manager,
    base: String,
    path: String,
    http: HttpClient<HttpConnector, Full<Bytes>>,
    inputs: mpsc::UnboundedSender<Input>,
    /// In-flight requests, to fail them on a cut.
    requests: HashMap<RequestId, JoinHandle<()>>,
    /// Open WebSockets: their writer and their task.
    sockets: HashMap<SocketId, (Outbox, JoinHandle<()>)>,
    events: mpsc::UnboundedSender<ManagerEvent>,
}

impl Driver {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut cuts: mpsc::UnboundedReceiver<()>,
        mut inputs: mpsc::UnboundedReceiver<Input>,
    ) {
        loop {
            self.drain();
            let sleep: Pin<Box<dyn Future<Output = ()> + Send>> = match self.manager.poll_timeout()
            {
                Some(at) => Box::pin(tokio::time::sleep_until(at.into())),
                None => Box::pin(std::future::pending()),
            };
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => command(&mut self.manager, Instant::now()),
                    None => break,
                },
                Some(input) = inputs.recv() => self.input(input),
                Some(()) = cuts.recv() => self.cut(),
                () = sleep => self.manager.handle_timeout(Instant::now()),
            }
        }
        for (_, (_, task)) in self.sockets.drain() {
            task.abort();
        }
        for (_, task) in self.requests.drain() {
            task.abort();
        }
    }

    fn input(&mut self, input: Input) {
        let now = Instant::now();
        match input {
            Input::Response(request, result) => {
                self.requests.remove(&request);
                match result {
                    Ok((status, content_type, body)) => self.manager.handle_response(
                        now,
                        request,
                        status,
                        content_type.as_deref(),
                        body,
                    ),
                    Err(()) => self.manager.handle_request_failed(now, request),
                }
            }
            Input::Opened(socket) => self.manager.handle_websocket_open(now, socket),
            Input::Frame(socket, frame) => self.manager.handle_websocket_frame(now, socket, frame),
            Input::Closed(socket) => {
                if self.sockets.remove(&socket).is_some() {
                    self.manager.handle_websocket_closed(now, socket);
                }
            }
        }
    }

    /// Kills every transport and tells the manager they failed.
    fn cut(&mut self) {
        let now = Instant::now();
        for (socket, (_, task)) in std::mem::take(&mut self.sockets) {
            task.abort();
            self.manager.handle_websocket_closed(now, socket);
        }
        for (request, task) in std::mem::take(&mut self.requests) {
            task.abort();
            self.manager.handle_request_failed(now, request);
        }
    }

    /// Carries out the manager's transmits and forwards its events until it has none.
    fn drain(&mut self) {
        loop {
            if let Some(transmit) = self.manager.poll_transmit() {
                self.transmit(transmit);
            } else if let Some(event) = self.manager.poll_event() {
                let _ = self.events.send(event);
            } else {
                return;
            }
        }
    }

    fn transmit(&mut self, transmit: Transmit) {
        let now = Instant::now();
        match transmit {
            Transmit::Get { request, query } => self.http(request, &query, None),
            Transmit::Post {
                request,
                query,
                content_type,
                body,
            } => self.http(request, &query, Some((content_type, body))),
            Transmit::OpenWebSocket { socket, query } => {
                let url = format!(
                    "{}{}?{query}",
                    self.base.replacen("http", "ws", 1),
                    self.path
                );
                let (frames, inbox) = websocket::channel(&Backlog::default());
                let task = tokio::spawn(open_websocket(url, socket, inbox, self.inputs.clone()));
                self.sockets.insert(socket, (frames, task));
            }
            Transmit::Frame { socket, frame } => {
                let sent = self
                    .sockets
                    .get(&socket)
                    .is_some_and(|(frames, _)| frames.send(frame).is_ok());
                if !sent && self.sockets.remove(&socket).is_some() {
                    self.manager.handle_websocket_closed(now, socket);
                }
            }
            Transmit::CloseSocket { socket } => {
                // Dropping the writer makes the socket task close the connection.
                self.sockets.remove(&socket);
            }
        }
    }

    fn http(&mut self, request: RequestId, query: &str, post: Option<(&'static str, Bytes)>) {
        let uri = format!("{}{}?{query}", self.base, self.path);
        let builder = hyper::Request::builder().uri(uri);
        let built = match post {
            Some((content_type, body)) => builder
                .method(hyper::Method::POST)
                .header(header::CONTENT_TYPE, content_type)
                .body(Full::new(body)),
            None => builder
                .method(hyper::Method::GET)
                .body(Full::new(Bytes::new())),
        };
        let http = self.http.clone();
        let inputs = self.inputs.clone();
        let task = tokio::spawn(async move {
            let result = async {
                let response = http.request(built.map_err(drop)?).await.map_err(drop)?;
                let status = response.status().as_u16();
                let content_type = response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(drop)?
                    .to_bytes();
                Ok((status, content_type, body))
            };
            let _ = inputs.send(Input::Response(request, result.await));
        });
        self.requests.insert(request, task);
    }
}

/// Connects one WebSocket and pumps it until either side closes it.
async fn open_websocket(
    url: String,
    socket: SocketId,
    inbox: Inbox,
    inputs: mpsc::UnboundedSender<Input>,
) {
    let Ok((ws, _)) = tokio_tungstenite::connect_async(url).await else {
        let _ = inputs.send(Input::Closed(socket));
        return;
    };
    let _ = inputs.send(Input::Opened(socket));
    websocket::pump(ws, inbox, Backlog::default(), None, |frame| {
        inputs.send(Input::Frame(socket, frame)).is_ok()
    })
    .await;
    let _ = inputs.send(Input::Closed(socket));
}
