//! The Socket.IO client: the sans-IO [`Manager`] on tokio, with the API of the official
//! JavaScript client.
//!
//! ```no_run
//! use socketio_tokio::client::{Ack, Client};
//! use socketio_tokio::{Data, Event};
//!
//! # async fn run() -> Result<(), socketio_tokio::client::Error> {
//! let client = Client::builder("http://127.0.0.1:3000").build()?;
//! // Handlers first, so that nothing the server sends on connection is missed.
//! client.on("chat", |_: Client, event: Event| println!("chat: {:?}", event.raw_args()));
//! client.on("echo", |_: Client, event: Event, ack: Ack| {
//!     let _ = ack.send(&event); // its arguments unchanged, binary included
//! });
//! client.connect().await?; // joins the namespace of the URL (`/`)
//! let joined: bool = client.emit_with_ack("join", &"lobby").await?;
//! client.emit("chat", &("hello", 42))?;
//! # let _ = joined; Ok(()) }
//! ```
//!
//! * [`Client::builder`] takes the URL (`http://host:port/namespace?query`) and the
//!   settings of socket.io-client's `io(url, options)`: path, transports, parser, protocol
//!   (v4 for socket.io 2.x servers), `auth` (fixed or computed before each attempt), query,
//!   extra headers, reconnection, timeouts, `retries` and `ackTimeout`.
//! * A [`Client`] is one namespace on one connection (socket.io-client's `Socket`): cheap to
//!   clone, `Send + Sync`, usable from any task. [`Client::socket`] joins another namespace
//!   over the same connection (the JavaScript `Manager`).
//! * Handlers ([`Client::on`], [`on_async`](Client::on_async),
//!   [`on_fallback`](Client::on_fallback) and the lifecycle ones) take the [`Client`], typed
//!   or raw arguments ([`Data<T>`](crate::Data), [`Event`]) and, if they want it, the [`Ack`]
//!   the server asked for; returning a [`Reply`](crate::Reply) answers it too. Sync handlers
//!   run on the client's task, in the order the events came; an
//!   [`on_any`](Client::on_any) listener sees each event first.
//! * Emits made while the namespace is not connected wait in the send buffer and go out, in
//!   order, once it is ([`ManagerConfig::max_buffered`] at most); volatile ones are dropped.
//!
//! One task per client drives the manager: it carries out the polling requests (hyper) and
//! the WebSocket (tokio-tungstenite), runs the timers, and calls the handlers. It stops with
//! [`Client::close`], or when the last handle is dropped.

mod builder;
mod driver;
mod error;

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use socketio_proto::client::{
    AckError, AckRef, Auth, ConnectError, EmitOptions, Manager, SocketOptions,
};
use socketio_proto::{AckId, Namespace};
use tokio::sync::{Notify, oneshot};

pub use builder::{Builder, Transports};
pub use error::Error;
pub use socketio_proto::client::{DisconnectReason, ManagerConfig};

use crate::args::{ArgsError, Event, IntoArgs, read_args};
use crate::handler::{
    AsyncEventHandler, AsyncHandler, ErasedEventHandler, EventHandler, EventHandlers, Listener,
    Responder, SyncHandler, Target,
};

/// What the client's task and its handles share.
struct Shared {
    state: Mutex<State>,
    /// Wakes the task: a command left something to send or report.
    wake: Notify,
    /// Drop the transports as a network failure would ([`Client::cut_transport`]).
    cut: AtomicBool,
    /// Stop the task ([`Client::close`], or the last handle dropped).
    stopped: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }
}

/// The manager and what the handles registered with it.
struct State {
    manager: Manager,
    namespaces: Vec<NsState>,
    /// The manager's lifecycle handlers, each with the namespace it was registered from.
    reconnect_attempt: Vec<(Namespace, CountHandler)>,
    reconnect: Vec<(Namespace, CountHandler)>,
    reconnect_failed: Vec<(Namespace, ClientHandler)>,
    /// Set once the task has stopped: every later command fails with [`Error::Closed`].
    closed: bool,
}

impl State {
    fn ns(&mut self, namespace: &Namespace) -> &mut NsState {
        let at = match self
            .namespaces
            .iter()
            .position(|ns| ns.namespace == *namespace)
        {
            Some(at) => at,
            None => {
                self.namespaces.push(NsState::new(namespace.clone()));
                self.namespaces.len() - 1
            }
        };
        &mut self.namespaces[at]
    }
}

type ClientHandler = Arc<dyn Fn(Client) + Send + Sync>;
type CountHandler = Arc<dyn Fn(Client, u32) + Send + Sync>;
type AuthFn = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;
type AckWaiter = oneshot::Sender<Result<Event, Error>>;
/// Where an emit's acknowledgement will come.
type AckAnswer = oneshot::Receiver<Result<Event, Error>>;

/// One namespace: its settings, handlers and waiters.
struct NsState {
    namespace: Namespace,
    options: SocketOptions,
    /// `auth` computed before each attempt.
    auth_fn: Option<AuthFn>,
    events: Vec<(Box<str>, Arc<dyn ErasedEventHandler<Client>>)>,
    fallback: Option<Arc<dyn ErasedEventHandler<Client>>>,
    any: Option<Listener<Client>>,
    connect: Option<ClientHandler>,
    disconnect: Option<Arc<dyn Fn(Client, DisconnectReason) + Send + Sync>>,
    connect_error: Option<Arc<dyn Fn(Client, ConnectError) + Send + Sync>>,
    acks: HashMap<AckRef, AckWaiter>,
    /// [`Client::connect`] calls waiting for the namespace.
    joining: Vec<oneshot::Sender<Result<(), Error>>>,
    id: Option<String>,
    recovered: bool,
}

impl NsState {
    fn new(namespace: Namespace) -> NsState {
        NsState {
            namespace,
            options: SocketOptions::default(),
            auth_fn: None,
            events: Vec::new(),
            fallback: None,
            any: None,
            connect: None,
            disconnect: None,
            connect_error: None,
            acks: HashMap::new(),
            joining: Vec::new(),
            id: None,
            recovered: false,
        }
    }

    /// What an event named `name` runs: the [`on_any`](Client::on_any) listener, and the
    /// event's handler or else the fallback.
    fn handlers(&self, name: Option<&str>) -> EventHandlers<Client> {
        let handler = name
            .and_then(|name| self.events.iter().find(|(event, _)| **event == *name))
            .map(|(_, handler)| handler.clone())
            .or_else(|| self.fallback.clone());
        (self.any.clone(), handler)
    }

    /// The options of the next CONNECT, `auth` computed now when it is a function.
    fn connect_options(&self) -> Result<SocketOptions, Error> {
        let mut options = self.options.clone();
        if let Some(auth) = &self.auth_fn {
            options.auth = Some(Auth::new(&auth())?);
        }
        Ok(options)
    }
}

/// Stops the client when the last [`Client`] handle goes.
struct Life {
    shared: Arc<Shared>,
}

impl Drop for Life {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

/// One namespace of a Socket.IO connection (socket.io-client's `Socket`). Cheap to clone,
/// usable from any task; the client runs while a handle exists (or until
/// [`close`](Self::close)).
#[derive(Clone)]
pub struct Client {
    life: Arc<Life>,
    namespace: Namespace,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The settings of a client for `url` (`http://host:port/namespace?query`).
    pub fn builder(url: &str) -> Builder {
        Builder::new(url)
    }

    fn shared(&self) -> &Shared {
        &self.life.shared
    }

    /// Runs `command` on this namespace's state and the manager, then wakes the task.
    fn with<R>(
        &self,
        command: impl FnOnce(&mut State, Instant) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let result = {
            let mut state = self.shared().lock();
            if state.closed {
                return Err(Error::Closed);
            }
            command(&mut state, Instant::now())
        };
        self.shared().wake.notify_one();
        result
    }

    fn with_ns<R>(&self, command: impl FnOnce(&mut NsState) -> R) -> R {
        command(self.shared().lock().ns(&self.namespace))
    }

    /// The namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The server's id for this socket while it is connected (`socket.id`).
    pub fn id(&self) -> Option<String> {
        self.with_ns(|ns| ns.id.clone())
    }

    /// Whether the namespace is connected (`socket.connected`).
    pub fn connected(&self) -> bool {
        self.shared()
            .lock()
            .manager
            .is_connected(self.namespace.as_str())
    }

    /// Whether the last connection recovered the previous session (`socket.recovered`): same
    /// id, rooms kept, missed events delivered.
    pub fn recovered(&self) -> bool {
        self.with_ns(|ns| ns.recovered)
    }

    /// Joins the namespace (`socket.connect()`) and waits until the server accepts it.
    /// Fails when the server refuses it ([`Error::Connect`]), or every reconnection attempt
    /// failed; with reconnection on (the default), a server that is down is waited for.
    /// Already connected: returns at once.
    pub async fn connect(&self) -> Result<(), Error> {
        let (joined, result) = oneshot::channel();
        self.with(|state, now| {
            let namespace = self.namespace.as_str();
            if state.manager.is_connected(namespace) {
                let _ = joined.send(Ok(()));
                return Ok(());
            }
            let ns = state.ns(&self.namespace);
            ns.joining.push(joined);
            let options = ns.connect_options()?;
            state.manager.connect(now, namespace, options)?;
            Ok(())
        })?;
        result.await.unwrap_or(Err(Error::Closed))
    }

    /// Another namespace over the same connection (`manager.socket(nsp)`), not joined yet:
    /// set its handlers, then [`connect`](Self::connect). Its `auth`, `retries` and
    /// `ackTimeout` start as this one's.
    pub fn socket(&self, namespace: &str) -> Result<Client, Error> {
        let namespace = Namespace::new(namespace).map_err(|e| Error::Url(e.to_string()))?;
        {
            let mut state = self.shared().lock();
            let (options, auth_fn) = {
                let ns = state.ns(&self.namespace);
                (ns.options.clone(), ns.auth_fn.clone())
            };
            let ns = state.ns(&namespace);
            ns.options = options;
            ns.auth_fn = auth_fn;
        }
        Ok(Client {
            life: self.life.clone(),
            namespace,
        })
    }

    /// Sets the `auth` payload of this namespace's next CONNECT (a JSON object).
    pub fn set_auth<T: serde::Serialize + ?Sized>(&self, auth: &T) -> Result<(), Error> {
        let auth = Auth::new(auth)?;
        self.with(|state, _| {
            let ns = state.ns(&self.namespace);
            ns.auth_fn = None;
            ns.options.auth = Some(auth.clone());
            // Ignored when the namespace was never joined: `connect` passes the options.
            let _ = state.manager.set_auth(self.namespace.as_str(), Some(auth));
            Ok(())
        })
    }

    // ---- handlers ----

    /// Calls `handler` for every `event` (`socket.on(event, …)`): `Fn(Client, A)` or
    /// `Fn(Client, A, Ack)`, `A` being [`Data<T>`](crate::Data) or [`Event`]; returning a
    /// [`Reply`](crate::Reply) acknowledges. One handler per event: a later one replaces it.
    pub fn on<H: EventHandler<Client, M>, M: 'static>(&self, event: &str, handler: H) {
        self.set_handler(event, Arc::new(SyncHandler(handler, PhantomData)));
    }

    /// [`on`](Self::on) with an async handler, spawned on the runtime when it waits.
    pub fn on_async<H: AsyncEventHandler<Client, M>, M: 'static>(&self, event: &str, handler: H) {
        self.set_handler(event, Arc::new(AsyncHandler(handler, PhantomData)));
    }

    /// Calls `listener` for every event the namespace receives, before the event's handler
    /// (`socket.onAny`): to log or count them. It only looks; answering an acknowledgement is
    /// the handler's ([`on`](Self::on), [`on_fallback`](Self::on_fallback)). One listener: a
    /// later one replaces it.
    pub fn on_any(&self, listener: impl Fn(&Client, &Event) + Send + Sync + 'static) {
        let listener: Listener<Client> = Arc::new(listener);
        self.with_ns(|ns| ns.any = Some(listener));
    }

    /// Calls `handler` for the events no [`on`](Self::on) handler takes ([`Event::name`]
    /// tells them apart). Without one, such an event is dropped, and an acknowledgement it
    /// asks for never comes, as with socket.io-client.
    pub fn on_fallback<H: EventHandler<Client, M>, M: 'static>(&self, handler: H) {
        let handler = Arc::new(SyncHandler(handler, PhantomData));
        self.with_ns(|ns| ns.fallback = Some(handler));
    }

    fn set_handler(&self, event: &str, handler: Arc<dyn ErasedEventHandler<Client>>) {
        self.with_ns(
            |ns| match ns.events.iter_mut().find(|(name, _)| **name == *event) {
                Some(slot) => slot.1 = handler,
                None => ns.events.push((event.into(), handler)),
            },
        );
    }

    /// Calls `handler` each time the namespace connects (`connect`), before the events that
    /// came with the connection.
    pub fn on_connect(&self, handler: impl Fn(Client) + Send + Sync + 'static) {
        self.with_ns(|ns| ns.connect = Some(Arc::new(handler)));
    }

    /// Calls `handler` when the namespace disconnects (`disconnect`), with the reason.
    pub fn on_disconnect(
        &self,
        handler: impl Fn(Client, DisconnectReason) + Send + Sync + 'static,
    ) {
        self.with_ns(|ns| ns.disconnect = Some(Arc::new(handler)));
    }

    /// Calls `handler` when joining the namespace fails (`connect_error`): a refusal stops
    /// the namespace; a connection that did not open is retried.
    pub fn on_connect_error(&self, handler: impl Fn(Client, ConnectError) + Send + Sync + 'static) {
        self.with_ns(|ns| ns.connect_error = Some(Arc::new(handler)));
    }

    /// Calls `handler` before each reconnection attempt (`reconnect_attempt`, from 1).
    pub fn on_reconnect_attempt(&self, handler: impl Fn(Client, u32) + Send + Sync + 'static) {
        let namespace = self.namespace.clone();
        self.shared()
            .lock()
            .reconnect_attempt
            .push((namespace, Arc::new(handler)));
    }

    /// Calls `handler` when a reconnection succeeds (`reconnect`), with the attempts it took.
    pub fn on_reconnect(&self, handler: impl Fn(Client, u32) + Send + Sync + 'static) {
        let namespace = self.namespace.clone();
        self.shared()
            .lock()
            .reconnect
            .push((namespace, Arc::new(handler)));
    }

    /// Calls `handler` when the reconnection attempts are used up (`reconnect_failed`).
    pub fn on_reconnect_failed(&self, handler: impl Fn(Client) + Send + Sync + 'static) {
        let namespace = self.namespace.clone();
        self.shared()
            .lock()
            .reconnect_failed
            .push((namespace, Arc::new(handler)));
    }

    // ---- emitting ----

    /// Emits `event` (`socket.emit`): `args` a tuple for several arguments, any other value
    /// for one, an [`Event`] to pass one on (binary included, not copied). Buffered while
    /// the namespace is not connected.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), Error> {
        self.emit_with(event, args, EmitOptions::default())
            .map(drop)
    }

    /// Emits `event` now and returns the future of the server's acknowledgement, read into
    /// `R` (a tuple for several arguments) (`socket.emitWithAck`). Without a
    /// [`timeout`](Self::timeout) (or the builder's `ack_timeout`) it waits until the
    /// acknowledgement comes or the namespace disconnects.
    pub fn emit_with_ack<R: DeserializeOwned>(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<R, Error>> + Send + 'static {
        self.timed(None).emit_with_ack(event, args)
    }

    /// [`emit_with_ack`](Self::emit_with_ack), the acknowledgement as it came (binary
    /// arguments included).
    pub fn emit_with_ack_event(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Event, Error>> + Send + 'static {
        self.timed(None).emit_with_ack_event(event, args)
    }

    /// An emit dropped rather than buffered when it cannot go out now (`socket.volatile`).
    pub fn volatile(&self) -> Emit<'_> {
        Emit {
            client: self,
            options: EmitOptions {
                volatile: true,
                ..EmitOptions::default()
            },
        }
    }

    /// An emit whose acknowledgement fails with [`Error::Timeout`] after `timeout`
    /// (`socket.timeout(ms)`).
    pub fn timeout(&self, timeout: Duration) -> Emit<'_> {
        self.timed(Some(timeout))
    }

    fn timed(&self, timeout: Option<Duration>) -> Emit<'_> {
        Emit {
            client: self,
            options: EmitOptions {
                timeout,
                ..EmitOptions::default()
            },
        }
    }

    fn emit_with(
        &self,
        event: &str,
        args: impl IntoArgs,
        options: EmitOptions,
    ) -> Result<Option<AckAnswer>, Error> {
        let packet = args
            .into_event(self.namespace.clone(), event)
            .map_err(Error::Encode)?;
        self.with(|state, now| {
            let ack = state.manager.emit_packet(now, packet, options)?;
            Ok(ack.filter(|_| options.ack).map(|ack| {
                let (waiter, answer) = oneshot::channel();
                state.ns(&self.namespace).acks.insert(ack, waiter);
                answer
            }))
        })
    }

    // ---- ending ----

    /// Leaves the namespace (`socket.disconnect()`): DISCONNECT is sent, no reconnection;
    /// the connection closes when no namespace is left.
    pub fn disconnect(&self) -> Result<(), Error> {
        self.with(|state, now| Ok(state.manager.disconnect(now, self.namespace.as_str())?))
    }

    /// Closes the connection and stops the client, for every namespace on it
    /// (`manager.disconnect()` / `io.close()`); later calls fail with [`Error::Closed`].
    pub fn close(&self) {
        self.shared().stop();
    }

    /// Drops the transports at once without telling the server, as a network failure would:
    /// the client sees its connection fail and reconnects (to test recovery).
    pub fn cut_transport(&self) {
        self.shared().cut.store(true, Ordering::Relaxed);
        self.shared().wake.notify_one();
    }
}

/// An emit with options: [`Client::volatile`], [`Client::timeout`].
#[derive(Debug)]
#[must_use = "emit it"]
pub struct Emit<'a> {
    client: &'a Client,
    options: EmitOptions,
}

impl Emit<'_> {
    /// Drops the emit instead of buffering it when it cannot go out now.
    pub fn volatile(mut self) -> Self {
        self.options.volatile = true;
        self
    }

    /// Fails the acknowledgement with [`Error::Timeout`] after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Emits `event` ([`Client::emit`]).
    pub fn emit(self, event: &str, args: impl IntoArgs) -> Result<(), Error> {
        self.client.emit_with(event, args, self.options).map(drop)
    }

    /// Emits `event` now; the future resolves with its acknowledgement
    /// ([`Client::emit_with_ack`]).
    pub fn emit_with_ack<R: DeserializeOwned>(
        self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<R, Error>> + Send + 'static {
        let answer = self.emit_with_ack_event(event, args);
        async move { read_args(answer.await?.packet()).map_err(Error::Args) }
    }

    /// Emits `event` now; the future resolves with its acknowledgement as it came.
    pub fn emit_with_ack_event(
        mut self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Event, Error>> + Send + 'static {
        self.options.ack = true;
        let sent = self.client.emit_with(event, args, self.options);
        async move {
            let Some(answer) = sent? else {
                return Err(Error::Closed);
            };
            answer.await.unwrap_or(Err(Error::Closed))
        }
    }
}

/// The acknowledgement a server asked for with an event: answer with
/// [`send`](Self::send) (a handler may also return a [`Reply`](crate::Reply)). Dropping it
/// answers nothing.
#[derive(Debug)]
pub struct Ack {
    target: Option<(Client, AckId)>,
}

impl Ack {
    /// Whether the server asked for an acknowledgement.
    pub fn is_requested(&self) -> bool {
        self.target.is_some()
    }

    /// Answers with `args` (a tuple for several, an [`Event`] to send one's arguments back,
    /// binary included). Fails when no acknowledgement was asked for ([`Error::NoAck`]) or the
    /// arguments do not encode.
    pub fn send(self, args: impl IntoArgs) -> Result<(), Error> {
        let (client, id) = self.target.ok_or(Error::NoAck)?;
        let packet = args
            .into_ack(client.namespace.clone(), id)
            .map_err(Error::Encode)?;
        client.with(|state, _| Ok(state.manager.ack_packet(packet)?))
    }
}

impl Responder for Ack {
    fn none() -> Ack {
        Ack { target: None }
    }

    fn respond<T: serde::Serialize + ?Sized>(self, value: &T) {
        let _ = self.send(value);
    }
}

impl Target for Client {
    type Ack = Ack;

    fn unexpected(&self, event: &Event, err: &ArgsError) {
        #[cfg(feature = "tracing")]
        tracing::debug!(
            namespace = self.namespace.as_str(),
            event = event.name().as_deref().unwrap_or(""),
            error = %err,
            "event not handled: unexpected arguments"
        );
        let _ = (event, err);
    }
}

/// Joins the namespace of `url` with the default settings and waits until it is connected
/// (`io(url)`); for handlers that must see the events sent on connection, or other settings,
/// use [`Client::builder`].
pub async fn connect(url: &str) -> Result<Client, Error> {
    let client = Client::builder(url).build()?;
    client.connect().await?;
    Ok(client)
}

/// The outcome of an ack the manager reported.
fn ack_outcome(result: Result<socketio_proto::Packet, AckError>) -> Result<Event, Error> {
    match result {
        Ok(packet) => Ok(Event::new(packet)),
        Err(AckError::Timeout) => Err(Error::Timeout),
        Err(_) => Err(Error::Disconnected),
    }
}

/// A handle the task makes to call a handler with, while a user handle exists.
fn handle(life: &Weak<Life>, namespace: &Namespace) -> Option<Client> {
    Some(Client {
        life: life.upgrade()?,
        namespace: namespace.clone(),
    })
}
