//! [`SocketIo`]: the server as the application holds it (the reference's `io`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use socketio_proto::Namespace;
use socketio_proto::server::{ConnectRequest, Handshake, ReplyTo};

use super::error::{Error, Refusal};
use super::machine::Server;
use super::operators::{Acks, Operators};
use super::socket::ConnectionHandler;
use super::socket::Socket;
use crate::args::{Event, IntoArgs};
use crate::driver::Shard;
use crate::handler::BoxFuture;

/// The server (the reference's `io`): namespaces and their handlers, broadcasts, cluster-wide
/// operations, shutdown. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct SocketIo {
    inner: Arc<IoInner>,
}

pub(crate) struct IoInner {
    pub(crate) shards: std::sync::OnceLock<Vec<Shard<Server>>>,
    pub(crate) registry: Arc<RwLock<Registry>>,
}

impl std::fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIo").finish_non_exhaustive()
    }
}

/// The namespaces' handlers, and the server's own.
#[derive(Default)]
pub(crate) struct Registry {
    namespaces: HashMap<String, Arc<NamespaceEntry>>,
    dynamic: Vec<(NamespaceMatcher, Arc<NamespaceEntry>)>,
    pub(crate) server_side_emit: Option<Arc<dyn Fn(ServerSideEmit) + Send + Sync>>,
    /// What watches every socket (the Admin UI's development mode).
    pub(crate) monitor: Option<Arc<dyn Monitor>>,
    /// The server is a node of a cluster (built with a cluster adapter).
    pub(crate) clustered: bool,
}

/// What an instrumented server reports, with the shards unlocked: the lives of its sockets,
/// the events they send, their rooms.
pub(crate) trait Monitor: Send + Sync {
    /// Whether anybody could receive the reports now (else none is made).
    fn watched(&self) -> bool;
    /// A socket connected (its `socket.data` has the monitor's `_admin` part already).
    fn connected(&self, socket: &Socket);
    /// A socket left.
    fn disconnected(&self, socket: &Socket, reason: socketio_proto::server::DisconnectReason);
    /// A socket sent an event.
    fn received(&self, socket: &Socket, event: &Event);
    /// A socket of this server joined or left a room.
    fn membership(&self, membership: socketio_proto::server::Membership);
}

type NamespaceMatcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;

impl Registry {
    /// The namespaces served by name (not the dynamic ones), sorted.
    #[cfg(feature = "admin-ui")]
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.namespaces.keys().cloned().collect();
        names.sort();
        names
    }

    pub(crate) fn entry(&self, namespace: &str) -> Option<Arc<NamespaceEntry>> {
        if let Some(entry) = self.namespaces.get(namespace) {
            return Some(entry.clone());
        }
        self.dynamic
            .iter()
            .find(|(matches, _)| matches(namespace))
            .map(|(_, entry)| entry.clone())
    }
}

/// One namespace's handlers (or a family's, for a dynamic namespace).
#[derive(Clone, Default)]
pub(crate) struct NamespaceEntry {
    pub(crate) middlewares: Vec<Middleware>,
    pub(crate) on_connection: Option<ConnectionHandler>,
}

/// A check of every CONNECT before it is accepted (the reference's `io.use`).
#[derive(Clone)]
pub(crate) enum Middleware {
    Sync(SyncCheck),
    Async(AsyncCheck),
}

type SyncCheck = Arc<dyn Fn(&Connecting) -> Result<(), Refusal> + Send + Sync>;
type AsyncCheck = Arc<dyn Fn(Connecting) -> BoxFuture<Result<(), Refusal>> + Send + Sync>;

/// Where a namespace's handlers are set, from [`SocketIo::ns`] and [`SocketIo::dyn_ns`].
#[derive(Clone)]
pub struct NamespaceBuilder {
    io: SocketIo,
    key: NamespaceKey,
}

#[derive(Clone)]
enum NamespaceKey {
    Static(String),
    Dynamic(usize),
}

impl NamespaceBuilder {
    fn update(&self, change: impl FnOnce(&mut NamespaceEntry)) {
        let mut registry = self.io.registry_mut();
        let entry = match &self.key {
            NamespaceKey::Static(name) => registry.namespaces.entry(name.clone()).or_default(),
            NamespaceKey::Dynamic(at) => match registry.dynamic.get_mut(*at) {
                Some((_, entry)) => entry,
                None => return,
            },
        };
        change(Arc::make_mut(entry));
    }

    /// Checks every CONNECT before it is accepted, in the order the checks were added: the
    /// reference's middleware. `Err` refuses it with the refusal's message and data.
    pub fn with(
        self,
        check: impl Fn(&Connecting) -> Result<(), Refusal> + Send + Sync + 'static,
    ) -> Self {
        let check = Middleware::Sync(Arc::new(check));
        self.update(|entry| entry.middlewares.push(check));
        self
    }

    /// An async check, as [`with`](Self::with).
    pub fn with_async<F, Fut>(self, check: F) -> Self
    where
        F: Fn(Connecting) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Refusal>> + Send + 'static,
    {
        let check = Middleware::Async(Arc::new(move |c| Box::pin(check(c)) as BoxFuture<_>));
        self.update(|entry| entry.middlewares.push(check));
        self
    }
}

/// A client's request to join a namespace, as its middlewares see it.
#[derive(Clone)]
pub struct Connecting {
    inner: Arc<ConnectingInner>,
}

struct ConnectingInner {
    io: SocketIo,
    request: ConnectRequest,
    handshake: Option<Handshake>,
    data: Mutex<Option<serde_json::Value>>,
}

impl std::fmt::Debug for Connecting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connecting")
            .field("namespace", &self.namespace().as_str())
            .finish_non_exhaustive()
    }
}

impl Connecting {
    pub(crate) fn new(io: SocketIo, request: ConnectRequest, handshake: Option<Handshake>) -> Self {
        Connecting {
            inner: Arc::new(ConnectingInner {
                io,
                request,
                handshake,
                data: Mutex::new(None),
            }),
        }
    }

    pub(crate) fn request(&self) -> &ConnectRequest {
        &self.inner.request
    }

    pub(crate) fn take_data(&self) -> Option<serde_json::Value> {
        self.inner
            .data
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.inner.request.namespace
    }

    /// The CONNECT payload (`socket.handshake.auth`), read into `T`.
    pub fn auth<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self.auth_json()?).ok()
    }

    /// The CONNECT payload as JSON text.
    pub fn auth_json(&self) -> Option<&str> {
        self.inner.request.auth.as_deref()
    }

    /// The HTTP request that opened the connection: headers, query, address, URL.
    pub fn handshake(&self) -> Option<&Handshake> {
        self.inner.handshake.as_ref()
    }

    /// Sets `socket.data` for the socket this CONNECT makes, if accepted.
    pub fn set_data<T: serde::Serialize + ?Sized>(&self, data: &T) -> Result<(), Error> {
        let value = serde_json::to_value(data)
            .map_err(|e| Error::Encode(socketio_proto::EncodeError::Serialize(e)))?;
        *self
            .inner
            .data
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(value);
        Ok(())
    }

    /// The server.
    pub fn io(&self) -> &SocketIo {
        &self.inner.io
    }
}

/// Another server's `serverSideEmit`, for [`SocketIo::on_server_side_emit`].
#[derive(Debug, Clone)]
pub struct ServerSideEmit {
    io: SocketIo,
    namespace: Namespace,
    event: Event,
    reply: Option<ReplyTo>,
}

impl ServerSideEmit {
    pub(crate) fn new(
        io: SocketIo,
        namespace: Namespace,
        data: String,
        reply: Option<ReplyTo>,
    ) -> Self {
        // `[event, ...args]`: read as an EVENT's payload.
        let packet = socketio_proto::Packet::from_parts(
            socketio_proto::PacketType::Event,
            namespace.clone(),
            None,
            Some(data.into()),
            Vec::new(),
        )
        .unwrap_or_else(|_| socketio_proto::Packet::disconnect(namespace.clone()));
        ServerSideEmit {
            io,
            namespace,
            event: Event::new(packet),
            reply,
        }
    }

    /// The namespace it was sent on.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The event and its arguments (binary arrives as Node.js writes a `Buffer` in JSON).
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// Whether the sender waits for this server's answer.
    pub fn wants_answer(&self) -> bool {
        self.reply.is_some()
    }

    /// Answers (the first argument of the reference's ack callback), once.
    pub fn answer<T: serde::Serialize + ?Sized>(self, answer: &T) -> Result<(), Error> {
        let reply = self.reply.ok_or(Error::NoAck)?;
        let json = serde_json::to_string(answer)
            .map_err(|e| Error::Encode(socketio_proto::EncodeError::Serialize(e)))?;
        super::machine::answer_server_side_emit(self.io.shard()?, &reply, &json);
        Ok(())
    }
}

impl SocketIo {
    pub(crate) fn new_inner(registry: Arc<RwLock<Registry>>) -> SocketIo {
        SocketIo {
            inner: Arc::new(IoInner {
                shards: std::sync::OnceLock::new(),
                registry,
            }),
        }
    }

    /// Watches every socket from now on (the Admin UI).
    #[cfg(feature = "admin-ui")]
    pub(crate) fn set_monitor(&self, monitor: Arc<dyn Monitor>) {
        self.registry_mut().monitor = Some(monitor);
    }

    /// Whether the server is a node of a cluster.
    #[cfg(feature = "admin-ui")]
    pub(crate) fn is_clustered(&self) -> bool {
        self.inner
            .registry
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clustered
    }

    /// The namespaces served by name.
    #[cfg(feature = "admin-ui")]
    pub(crate) fn namespace_names(&self) -> Vec<String> {
        self.inner
            .registry
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .names()
    }

    pub(crate) fn set_shards(&self, shards: Vec<Shard<Server>>) {
        let _ = self.inner.shards.set(shards);
    }

    /// The shards (one unless the server is sharded).
    pub(crate) fn shards(&self) -> &[Shard<Server>] {
        self.inner.shards.get().map_or(&[], Vec::as_slice)
    }

    /// The first shard, whose adapter reaches the others; [`Error::Closed`] before the
    /// server runs.
    pub(crate) fn shard(&self) -> Result<&Shard<Server>, Error> {
        self.shards().first().ok_or(Error::Closed)
    }

    fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.inner
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves namespace `path` (`io.of(path).on("connection", …)`): `on_connection` runs for
    /// every socket that joins it, before any of its events, and is where its handlers are
    /// set ([`Socket::on`]). Add middlewares with the returned builder. `/` always exists;
    /// other namespaces that are not served are refused (`Invalid namespace`).
    pub fn ns(
        &self,
        path: &str,
        on_connection: impl Fn(Socket) + Send + Sync + 'static,
    ) -> NamespaceBuilder {
        let handler: ConnectionHandler = Arc::new(on_connection);
        let mut registry = self.registry_mut();
        let entry = registry.namespaces.entry(path.to_owned()).or_default();
        Arc::make_mut(entry).on_connection = Some(handler);
        drop(registry);
        NamespaceBuilder {
            io: self.clone(),
            key: NamespaceKey::Static(path.to_owned()),
        }
    }

    /// Serves every namespace whose name `matches` (the reference's dynamic namespaces, with a
    /// function for its regular expression), with the same handlers.
    pub fn dyn_ns(
        &self,
        matches: impl Fn(&str) -> bool + Send + Sync + 'static,
        on_connection: impl Fn(Socket) + Send + Sync + 'static,
    ) -> NamespaceBuilder {
        let entry = NamespaceEntry {
            middlewares: Vec::new(),
            on_connection: Some(Arc::new(on_connection)),
        };
        let mut registry = self.registry_mut();
        registry.dynamic.push((Arc::new(matches), Arc::new(entry)));
        NamespaceBuilder {
            io: self.clone(),
            key: NamespaceKey::Dynamic(registry.dynamic.len() - 1),
        }
    }

    /// Calls `handler` for every `serverSideEmit` of the other servers of the cluster.
    pub fn on_server_side_emit(&self, handler: impl Fn(ServerSideEmit) + Send + Sync + 'static) {
        self.registry_mut().server_side_emit = Some(Arc::new(handler));
    }

    /// Operations on namespace `namespace` (`io.of(name)`).
    pub fn of(&self, namespace: &str) -> Result<Operators, Error> {
        let namespace = Namespace::new(namespace).map_err(Error::Encode)?;
        Ok(Operators::new(self.clone(), namespace))
    }

    /// Operations on the main namespace `/`, every socket.
    pub fn all(&self) -> Operators {
        Operators::new(self.clone(), Namespace::main())
    }

    /// The sockets of `/` in `room` (`io.to(room)`).
    pub fn to(&self, room: impl Into<String>) -> Operators {
        self.all().to(room)
    }

    /// Every socket of `/` but those in `room` (`io.except(room)`).
    pub fn except(&self, room: impl Into<String>) -> Operators {
        self.all().except(room)
    }

    /// Emits `event` to every socket of `/` (`io.emit`), on every server.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), Error> {
        self.all().emit(event, args)
    }

    /// The sockets connected to this server (every shard's), of every namespace.
    pub fn sockets(&self) -> Vec<Socket> {
        let mut sockets = Vec::new();
        for shard in self.shards() {
            sockets.extend(shard.lock().sockets().cloned());
        }
        sockets
    }

    /// The socket `id` of this server, if it is connected.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.shards()
            .iter()
            .find_map(|shard| shard.lock().socket(id))
    }

    /// `serverSideEmit` in `/` (see [`Operators::server_side_emit`]).
    pub fn server_side_emit(&self, event: &str, args: impl IntoArgs) -> Result<(), Error> {
        self.all().server_side_emit(event, args)
    }

    /// `serverSideEmitWithAck` in `/` (see [`Operators::server_side_emit_with_ack`]).
    pub async fn server_side_emit_with_ack<R: DeserializeOwned>(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Acks<R>, Error> {
        self.all().server_side_emit_with_ack(event, args).await
    }

    /// `serverCount`: how many servers serve `/`, this one included.
    pub async fn server_count(&self) -> Result<usize, Error> {
        self.all().server_count().await
    }

    /// Shuts the server down gracefully (`io.close()`): every client is disconnected (its
    /// sockets see `server shutting down`, and may recover on another server), and every
    /// shard stops taking new sessions. The HTTP listener is the host's (or the standalone
    /// server's, which stops with the runtime).
    pub async fn close(&self) {
        for shard in self.shards() {
            shard.lock().endpoint_mut().shutdown(Instant::now());
        }
        // Let the closes reach the wire.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
