//! The client's task: the manager's transmits carried out (polling requests on hyper, the
//! WebSocket on tokio-tungstenite), its timers run, its events handed to the handlers and
//! the waiting calls.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Instant;

use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::session::{RequestId, SocketId};
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use socketio_proto::Namespace;
use socketio_proto::client::{Auth, ManagerEvent, Transmit};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::{Ack, Client, Error, Life, Shared, State, ack_outcome, handle};
use crate::args::Event;
use crate::websocket::{self, Backlog, Inbox, Outbox};

/// What the I/O tasks report.
enum Input {
    Response(RequestId, Result<(u16, Option<String>, Bytes), ()>),
    Opened(SocketId),
    Frame(SocketId, Frame),
    Closed(SocketId),
}

pub(super) struct Driver {
    shared: Arc<Shared>,
    life: Weak<Life>,
    base: String,
    path: String,
    headers: Arc<[(HeaderName, HeaderValue)]>,
    http: HttpClient<HttpConnector, Full<Bytes>>,
    inputs: mpsc::UnboundedSender<Input>,
    /// In-flight requests, to fail them on a cut.
    requests: HashMap<RequestId, JoinHandle<()>>,
    /// Open WebSockets: their writer and their task.
    sockets: HashMap<SocketId, (Outbox, JoinHandle<()>)>,
}

impl Driver {
    pub(super) fn spawn(
        shared: Arc<Shared>,
        life: Weak<Life>,
        base: String,
        path: String,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) {
        #[cfg(feature = "tracing")]
        let span = tracing::info_span!("socketio_client", url = %base, %path);
        let (inputs, input_rx) = mpsc::unbounded_channel();
        let driver = Driver {
            shared,
            life,
            base,
            path,
            headers: headers.into(),
            http: HttpClient::builder(TokioExecutor::new()).build({
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                connector
            }),
            inputs,
            requests: HashMap::new(),
            sockets: HashMap::new(),
        };
        let run = driver.run(input_rx);
        // The client's span: its transports' tasks and its handlers run in it.
        #[cfg(feature = "tracing")]
        let run = tracing::Instrument::instrument(run, span);
        tokio::spawn(run);
    }

    async fn run(mut self, mut inputs: mpsc::UnboundedReceiver<Input>) {
        loop {
            if self.shared.stopped.load(Ordering::Relaxed) || self.life.strong_count() == 0 {
                return self.shutdown();
            }
            if self.shared.cut.swap(false, Ordering::Relaxed) {
                self.cut();
            }
            let (transmits, events, deadline) = {
                let mut state = self.shared.lock();
                let transmits: Vec<Transmit> =
                    std::iter::from_fn(|| state.manager.poll_transmit()).collect();
                let events: Vec<ManagerEvent> =
                    std::iter::from_fn(|| state.manager.poll_event()).collect();
                (transmits, events, state.manager.poll_timeout())
            };
            if !transmits.is_empty() || !events.is_empty() {
                for transmit in transmits {
                    self.transmit(transmit);
                }
                for event in events {
                    self.dispatch(event);
                }
                continue;
            }
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(input) = inputs.recv() => self.input(input),
                () = self.shared.wake.notified() => {}
                () = sleep => self.shared.lock().manager.handle_timeout(Instant::now()),
            }
        }
    }

    /// Closes the connection, fails every waiting call, and ends.
    fn shutdown(mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        state.manager.close(Instant::now());
        while let Some(transmit) = state.manager.poll_transmit() {
            // The close frame, if a WebSocket is open; requests are abandoned.
            if let Transmit::Frame { socket, frame } = transmit {
                if let Some((frames, _)) = self.sockets.get(&socket) {
                    let _ = frames.send(frame);
                }
            }
        }
        for ns in &mut state.namespaces {
            for (_, waiter) in ns.acks.drain() {
                let _ = waiter.send(Err(Error::Closed));
            }
            for waiter in ns.joining.drain(..) {
                let _ = waiter.send(Err(Error::Closed));
            }
        }
        drop(state);
        // Dropping the writers closes the sockets; requests stop where they are.
        self.sockets.clear();
        for (_, task) in self.requests.drain() {
            task.abort();
        }
    }

    fn input(&mut self, input: Input) {
        let now = Instant::now();
        let mut state = self.shared.lock();
        let manager = &mut state.manager;
        match input {
            Input::Response(request, result) => {
                self.requests.remove(&request);
                match result {
                    Ok((status, content_type, body)) => {
                        manager.handle_response(
                            now,
                            request,
                            status,
                            content_type.as_deref(),
                            body,
                        );
                    }
                    Err(()) => manager.handle_request_failed(now, request),
                }
            }
            Input::Opened(socket) => manager.handle_websocket_open(now, socket),
            Input::Frame(socket, frame) => manager.handle_websocket_frame(now, socket, frame),
            Input::Closed(socket) => {
                if self.sockets.remove(&socket).is_some() {
                    manager.handle_websocket_closed(now, socket);
                }
            }
        }
    }

    /// Kills every transport and tells the manager they failed.
    fn cut(&mut self) {
        let now = Instant::now();
        let mut state = self.shared.lock();
        for (socket, (_, task)) in std::mem::take(&mut self.sockets) {
            task.abort();
            state.manager.handle_websocket_closed(now, socket);
        }
        for (request, task) in std::mem::take(&mut self.requests) {
            task.abort();
            state.manager.handle_request_failed(now, request);
        }
    }

    fn transmit(&mut self, transmit: Transmit) {
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
                let task = spawn(open_websocket(
                    url,
                    self.headers.clone(),
                    socket,
                    inbox,
                    self.inputs.clone(),
                ));
                self.sockets.insert(socket, (frames, task));
            }
            Transmit::Frame { socket, frame } => {
                let sent = self
                    .sockets
                    .get(&socket)
                    .is_some_and(|(frames, _)| frames.send(frame).is_ok());
                if !sent && self.sockets.remove(&socket).is_some() {
                    let mut state = self.shared.lock();
                    state
                        .manager
                        .handle_websocket_closed(Instant::now(), socket);
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
        let mut builder = hyper::Request::builder().uri(uri);
        for (name, value) in self.headers.iter() {
            builder = builder.header(name, value);
        }
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
        let task = spawn(async move {
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

    /// Hands one manager event to the waiting calls and the handlers. Handlers run with the
    /// state unlocked, so they can use the client.
    fn dispatch(&self, event: ManagerEvent) {
        #[cfg(feature = "tracing")]
        trace_event(&event);
        let mut state = self.shared.lock();
        match event {
            ManagerEvent::Open | ManagerEvent::ReconnectError(_) => {}
            ManagerEvent::Connected {
                namespace,
                sid,
                recovered,
            } => {
                let ns = state.ns(&namespace);
                ns.id = Some(sid);
                ns.recovered = recovered;
                for waiter in ns.joining.drain(..) {
                    let _ = waiter.send(Ok(()));
                }
                let handler = ns.connect.clone();
                drop(state);
                if let (Some(handler), Some(client)) = (handler, handle(&self.life, &namespace)) {
                    handler(client);
                }
            }
            ManagerEvent::ConnectError { namespace, error } => {
                let ns = state.ns(&namespace);
                for waiter in ns.joining.drain(..) {
                    let _ = waiter.send(Err(Error::Connect(error.clone())));
                }
                let handler = ns.connect_error.clone();
                drop(state);
                if let (Some(handler), Some(client)) = (handler, handle(&self.life, &namespace)) {
                    handler(client, error);
                }
            }
            ManagerEvent::Event { namespace, packet } => {
                let name = packet.event_name().map(|name| name.as_str().to_owned());
                let (listener, handler) = state.ns(&namespace).handlers(name.as_deref());
                drop(state);
                if listener.is_none() && handler.is_none() {
                    return;
                }
                let Some(client) = handle(&self.life, &namespace) else {
                    return;
                };
                let event = Event::new(packet);
                if let Some(listener) = listener {
                    listener(&client, &event);
                }
                if let Some(handler) = handler {
                    let ack = Ack {
                        target: event.packet().ack_id().map(|id| (client.clone(), id)),
                    };
                    handler.call(client, event, ack);
                }
            }
            ManagerEvent::Ack {
                namespace,
                ack,
                packet,
            } => {
                if let Some(waiter) = state.ns(&namespace).acks.remove(&ack) {
                    let _ = waiter.send(ack_outcome(Ok(packet)));
                }
            }
            ManagerEvent::AckFailed {
                namespace,
                ack,
                error,
            } => {
                if let Some(waiter) = state.ns(&namespace).acks.remove(&ack) {
                    let _ = waiter.send(ack_outcome(Err(error)));
                }
            }
            ManagerEvent::Disconnected { namespace, reason } => {
                let ns = state.ns(&namespace);
                ns.id = None;
                let handler = ns.disconnect.clone();
                drop(state);
                if let (Some(handler), Some(client)) = (handler, handle(&self.life, &namespace)) {
                    handler(client, reason);
                }
            }
            ManagerEvent::ReconnectAttempt(attempt) => {
                refresh_auth(&mut state);
                let handlers = state.reconnect_attempt.clone();
                drop(state);
                self.each(handlers, |handler, client| handler(client, attempt));
            }
            ManagerEvent::Reconnected(attempts) => {
                let handlers = state.reconnect.clone();
                drop(state);
                self.each(handlers, |handler, client| handler(client, attempts));
            }
            ManagerEvent::ReconnectFailed => {
                for ns in &mut state.namespaces {
                    for waiter in ns.joining.drain(..) {
                        let _ = waiter.send(Err(Error::ReconnectFailed));
                    }
                }
                let handlers = state.reconnect_failed.clone();
                drop(state);
                self.each(handlers, |handler, client| handler(client));
            }
        }
    }

    /// Calls each manager-level handler with the handle of the namespace it came from.
    fn each<H>(&self, handlers: Vec<(Namespace, H)>, call: impl Fn(&H, Client)) {
        for (namespace, handler) in &handlers {
            if let Some(client) = handle(&self.life, namespace) {
                call(handler, client);
            }
        }
    }
}

/// `auth` functions run again before an attempt, for the next CONNECTs.
fn refresh_auth(state: &mut State) {
    let State {
        manager,
        namespaces,
        ..
    } = state;
    for ns in namespaces.iter() {
        if let Some(auth) = &ns.auth_fn {
            // A function that stops returning an object keeps the last good payload.
            if let Ok(auth) = Auth::new(&auth()) {
                let _ = manager.set_auth(ns.namespace.as_str(), Some(auth));
            }
        }
    }
}

/// Connects one WebSocket (with the extra headers) and pumps it until either side closes it.
async fn open_websocket(
    url: String,
    headers: Arc<[(HeaderName, HeaderValue)]>,
    socket: SocketId,
    inbox: Inbox,
    inputs: mpsc::UnboundedSender<Input>,
) {
    let request = url.into_client_request().map(|mut request| {
        for (name, value) in headers.iter() {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        request
    });
    // A 2 KiB read buffer (tungstenite's default, 128 KiB zero-filled, would be most of an
    // idle client's memory); Nagle off, as for the polling requests.
    let config = WebSocketConfig::default().read_buffer_size(2048);
    // Boxed: the connection's future is large and only needed until the handshake is done;
    // the task then keeps only what the pump needs, for the socket's whole life.
    let connected = match request {
        Ok(request) => Box::pin(tokio_tungstenite::connect_async_with_config(
            request,
            Some(config),
            true,
        ))
        .await
        .ok(),
        Err(_) => None,
    };
    let Some((ws, _)) = connected else {
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

/// A debug event (in the client's span) for each thing the manager reports.
#[cfg(feature = "tracing")]
fn trace_event(event: &ManagerEvent) {
    use tracing::debug;
    match event {
        ManagerEvent::Open => debug!("open"),
        ManagerEvent::Connected {
            namespace,
            sid,
            recovered,
        } => debug!(ns = namespace.as_str(), %sid, recovered, "connected"),
        ManagerEvent::ConnectError { namespace, error } => {
            debug!(ns = namespace.as_str(), ?error, "connect error");
        }
        ManagerEvent::Event { namespace, packet } => debug!(
            ns = namespace.as_str(),
            event = packet
                .event_name()
                .as_ref()
                .map_or("", |name| name.as_str()),
            ack = packet.ack_id().is_some(),
            "event"
        ),
        ManagerEvent::Ack { .. } => {}
        ManagerEvent::AckFailed {
            namespace, error, ..
        } => {
            debug!(ns = namespace.as_str(), %error, "ack failed");
        }
        ManagerEvent::Disconnected { namespace, reason } => {
            debug!(ns = namespace.as_str(), %reason, "disconnected");
        }
        ManagerEvent::ReconnectAttempt(attempt) => debug!(attempt, "reconnect attempt"),
        ManagerEvent::ReconnectError(error) => debug!(%error, "reconnect error"),
        ManagerEvent::Reconnected(attempts) => debug!(attempts, "reconnected"),
        ManagerEvent::ReconnectFailed => debug!("reconnection failed"),
    }
}

/// Spawns one of the client's tasks (with the `tracing` feature, in the client's span).
fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(task: F) -> JoinHandle<()> {
    #[cfg(feature = "tracing")]
    let task = tracing::Instrument::in_current_span(task);
    tokio::spawn(task)
}
