//! [`Builder`]: the server's settings, and how it is served (a tower layer, a service, or a
//! standalone listener), alone or as one node of a cluster.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use socketio_proto::server::{
    Adapter, Endpoint, EndpointConfig, IdSource, MemoryAdapter, OsIds, Parser, RecoveryConfig,
};

use super::io::{Registry, SocketIo};
use super::machine::Server;
use super::shards::ShardGroup;
use crate::driver::{
    Guard, ServerHandle, Shard, Shared, SocketIoLayer, SocketIoService, serve_shards, shard_tag,
};
use crate::policy::{AllowRequest, ConnectionLimits, Cookie, Cors, Options, RequestInfo};

/// A cluster adapter's driver half: the sans-IO adapter of each shard's endpoint (each shard
/// is one node of the cluster), and the I/O that carries out its commands and feeds it what
/// arrives. The `socketio-redis` crate has the Redis ones.
pub trait ClusterDriver: Send + Sync + 'static {
    /// The adapter of shard `shard`'s endpoint.
    fn adapter(&self, shard: usize) -> Box<dyn Adapter>;
    /// The shard runs: start its I/O (spawn tasks that feed the adapter through `node`, and
    /// drain its commands with [`Node::on_commands`]).
    fn start(&self, node: Node);
}

/// One shard's endpoint, as a cluster adapter's driver half reaches it.
#[derive(Clone, Debug)]
pub struct Node {
    shard: Shard<Server>,
}

impl Node {
    /// The shard's number.
    pub fn index(&self) -> usize {
        self.shard.index()
    }

    /// Locks the shard's server: [`Server::endpoint_mut`] for
    /// [`Endpoint::with_adapter_mut`](socketio_proto::server::Endpoint::with_adapter_mut).
    /// When the guard drops, what the adapter made the endpoint do is put on the wire.
    pub fn lock(&self) -> Guard<'_, Server> {
        self.shard.lock()
    }

    /// Runs `hook` on the endpoint every time a lock on it is released (after every input and
    /// command): the place to take the adapter's commands
    /// ([`Endpoint::adapter_mut`](socketio_proto::server::Endpoint::adapter_mut)) and hand
    /// them to the I/O tasks, without blocking.
    pub fn on_commands(&self, hook: impl FnMut(&mut Endpoint) + Send + 'static) {
        self.shard.lock().add_hook(Box::new(hook));
    }

    /// Whether the shard has stopped (its I/O tasks may end).
    pub fn is_stopped(&self) -> bool {
        self.shard.is_stopped()
    }
}

/// The server's settings. The defaults are the reference's (`socket.io` 4.8), and the
/// driver's bounds (see [`policy`](crate::policy)).
#[must_use]
pub struct Builder {
    config: EndpointConfig,
    options: Options,
    cluster: Option<Arc<dyn ClusterDriver>>,
    threads: usize,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("options", &self.options)
            .field("cluster", &self.cluster.is_some())
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            config: EndpointConfig::default(),
            options: Options::new("/socket.io/"),
            cluster: None,
            threads: 1,
        }
    }
}

impl Builder {
    /// The path Socket.IO answers on, with both slashes: `/socket.io/` by default.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.options.path = path.into();
        self
    }

    /// How often the server pings (`pingInterval`, 25 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.engine.ping_interval = interval;
        self
    }

    /// How long a ping may stay unanswered (`pingTimeout`, 20 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.config.engine.ping_timeout = timeout;
        self
    }

    /// The largest message or polling body a client may send (`maxHttpBufferSize`,
    /// 1 000 000 bytes).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.config.engine.max_payload = bytes;
        self
    }

    /// How long a client may take to join its first namespace (`connectTimeout`, 45 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connection.connect_timeout = timeout;
        self
    }

    /// The transports clients may use: polling, WebSocket (both by default).
    pub fn transports(mut self, polling: bool, websocket: bool) -> Self {
        self.config.engine.polling = polling;
        self.config.engine.websocket = websocket;
        self
    }

    /// Accepts Socket.IO 2.x clients (Engine.IO v3, protocol v4) too (`allowEIO3`, off).
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.config.engine.allow_eio3 = allow;
        self
    }

    /// The wire format (`parser`): text (the default) or msgpack
    /// (`socket.io-msgpack-parser`).
    pub fn parser(mut self, parser: Parser) -> Self {
        self.config.connection.parser = parser;
        self
    }

    /// Connection state recovery (`connectionStateRecovery`), off by default.
    pub fn recovery(mut self, recovery: RecoveryConfig) -> Self {
        self.config.recovery = Some(recovery);
        self
    }

    /// Every setting of the endpoint at once.
    pub fn endpoint_config(mut self, config: EndpointConfig) -> Self {
        self.config = config;
        self
    }

    /// The driver's timeouts and bounds.
    pub fn limits(mut self, limits: ConnectionLimits) -> Self {
        self.options.limits = limits;
        self
    }

    /// CORS for browsers on other origins (`cors`).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.options.policy.cors = Some(cors);
        self
    }

    /// Only browsers from these origins may open sessions.
    pub fn allowed_origins(mut self, origins: Vec<String>) -> Self {
        self.options.policy.allowed_origins = Some(origins);
        self
    }

    /// Decides whether a handshake may open a session (`allowRequest`).
    pub fn allow_request(
        mut self,
        allow: impl Fn(&RequestInfo<'_>) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        let allow: AllowRequest = Arc::new(allow);
        self.options.policy.allow_request = Some(allow);
        self
    }

    /// The sticky-session cookie (`cookie`).
    pub fn cookie(mut self, cookie: Cookie) -> Self {
        self.options.policy.cookie = Some(cookie);
        self
    }

    /// Answers requests outside the Socket.IO path on the standalone server (pages,
    /// scripts); `404` otherwise. A mounted service passes them to the service it wraps.
    pub fn fallback(mut self, fallback: crate::policy::Fallback) -> Self {
        self.options.fallback = Some(fallback);
        self
    }

    /// Makes the server one node of a cluster, through `driver`.
    pub fn cluster(mut self, driver: impl ClusterDriver) -> Self {
        self.cluster = Some(Arc::new(driver));
        self
    }

    /// The server as a tower layer, for axum (`Router::layer`), tower or hyper, and its
    /// handle. Call it inside a tokio runtime.
    pub fn build_layer(self) -> (SocketIoLayer<Server>, SocketIo) {
        let (io, shared) = self.build_shards(1);
        (SocketIoLayer::new(shared), io)
    }

    /// The server as a tower (and hyper) service that answers `404` outside its path, and
    /// its handle. Call it inside a tokio runtime.
    pub fn build_service(self) -> (SocketIoService<Server>, SocketIo) {
        let (io, shared) = self.build_shards(1);
        (SocketIoService::new(shared), io)
    }

    /// How many shards a standalone server runs ([`build_server`](Self::build_server)): a
    /// thread and an endpoint each (1 to 64; 1 by default, on the current runtime). A
    /// connection, its session and the application meet on one thread; broadcasts, queries
    /// and recoveries cross shards through their adapter (or, in a cluster, each shard is a
    /// node of its own).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.clamp(1, 64);
        self
    }

    /// The standalone server, and its handle: register the namespaces, then
    /// [`listen`](Standalone::listen).
    pub fn build_server(self) -> (SocketIo, Standalone) {
        let threads = self.threads;
        let options = self.options.clone();
        let (io, machines, cluster) = self.machines(threads);
        let standalone = Standalone {
            io: io.clone(),
            options,
            machines,
            cluster,
        };
        (io, standalone)
    }

    /// The server's shards in this runtime, for the layer and the service.
    fn build_shards(self, threads: usize) -> (SocketIo, Arc<Shared<Server>>) {
        let options = self.options.clone();
        let (io, machines, cluster) = self.machines(threads);
        let shards = crate::driver::spawn_shards(machines);
        Self::finish(&io, shards.clone(), cluster.as_deref());
        (io, Shared::new(options, shards))
    }

    /// One machine per shard, each with its adapter.
    fn machines(self, threads: usize) -> (SocketIo, Vec<Server>, Option<Arc<dyn ClusterDriver>>) {
        let mut registry = Registry::default();
        registry.clustered = self.cluster.is_some();
        let registry = Arc::new(RwLock::new(registry));
        let io = SocketIo::new_inner(registry.clone());
        let group = ShardGroup::new(
            threads,
            self.config.recovery.as_ref(),
            self.config.connection.parser,
        );
        let machines = (0..threads)
            .map(|index| {
                let ids: Box<dyn IdSource> = match (threads, shard_tag(index)) {
                    (1, _) | (_, None) => Box::new(OsIds::new()),
                    (_, Some(tag)) => Box::new(OsIds::tagged(tag)),
                };
                let adapter: Box<dyn Adapter> = match (&self.cluster, &group) {
                    (Some(cluster), _) => cluster.adapter(index),
                    (None, Some(group)) => Box::new(group.adapter(index)),
                    (None, None) => Box::new(MemoryAdapter),
                };
                let endpoint = Endpoint::with_adapter(self.config.clone(), ids, adapter);
                let group = group.clone().filter(|_| self.cluster.is_none());
                Server::new(endpoint, registry.clone(), io.clone(), group)
            })
            .collect();
        (io, machines, self.cluster)
    }

    fn finish(io: &SocketIo, shards: Vec<Shard<Server>>, cluster: Option<&dyn ClusterDriver>) {
        if let Some(cluster) = cluster {
            for shard in &shards {
                cluster.start(Node {
                    shard: shard.clone(),
                });
            }
        }
        io.set_shards(shards);
    }
}

/// A standalone server ready to listen ([`Builder::build_server`]).
#[must_use = "listen to serve"]
pub struct Standalone {
    io: SocketIo,
    options: Options,
    machines: Vec<Server>,
    cluster: Option<Arc<dyn ClusterDriver>>,
}

impl std::fmt::Debug for Standalone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Standalone")
            .field("shards", &self.machines.len())
            .finish_non_exhaustive()
    }
}

impl Standalone {
    /// Binds `addr` and serves (a single shard on the current runtime; several, each on a
    /// thread of its own) until the process exits.
    pub async fn listen(self, addr: SocketAddr) -> std::io::Result<ServerHandle> {
        let (handle, shards) = serve_shards(addr, self.options, self.machines).await?;
        Builder::finish(&self.io, shards, self.cluster.as_deref());
        Ok(handle)
    }
}

impl SocketIo {
    /// A server with the reference's defaults, as a tower layer, and its handle
    /// (`SocketIo::builder().build_layer()`).
    pub fn new_layer() -> (SocketIoLayer<Server>, SocketIo) {
        Builder::default().build_layer()
    }

    /// The server's settings, to build it.
    pub fn builder() -> Builder {
        Builder::default()
    }
}
