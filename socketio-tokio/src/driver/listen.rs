//! The standalone server: a listener (or one per shard), hyper on each connection, the
//! connection limit and the header timeout.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::http::{Connection, Shared, plain};
use super::shard::{Machine, Shard};
use crate::policy::Options;

const MIN_ACCEPT_BACKOFF: Duration = Duration::from_millis(5);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// A running standalone server.
#[derive(Clone)]
pub struct ServerHandle {
    addr: SocketAddr,
    sessions: Arc<dyn Fn() -> usize + Send + Sync>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many Engine.IO sessions are open, over every shard.
    pub fn session_count(&self) -> usize {
        (self.sessions)()
    }
}

fn handle<M: Machine>(addr: SocketAddr, shards: Vec<Shard<M>>) -> ServerHandle {
    let sessions = move || shards.iter().map(|s| s.lock().session_count()).sum();
    ServerHandle {
        addr,
        sessions: Arc::new(sessions),
    }
}

/// Binds `addr` and serves `machine` on it, on the current tokio runtime, until the runtime
/// shuts down.
pub async fn serve<M: Machine>(
    addr: SocketAddr,
    options: Options,
    machine: M,
) -> std::io::Result<ServerHandle> {
    serve_sharded(addr, options, vec![machine]).await
}

/// Serves on several shards: each machine runs on a thread of its own, which accepts its own
/// connections (one listener per shard on the same port, `SO_REUSEPORT`: the kernel spreads
/// the connections), so a connection's frames, its session and the application meet on one
/// thread, with no hand-off between threads. Requests for a session (polling, an upgrade)
/// go to the shard that owns it, which its id tells (ids begin with their shard's tag, see
/// [`shard_tag`](crate::driver::shard_tag)); each machine learns its siblings
/// ([`Machine::attach`]) to share broadcasts and recoveries. The shards' threads serve until
/// the process exits. A single machine is served on the current runtime.
pub async fn serve_sharded<M: Machine>(
    addr: SocketAddr,
    options: Options,
    machines: Vec<M>,
) -> std::io::Result<ServerHandle> {
    serve_shards(addr, options, machines)
        .await
        .map(|(handle, _)| handle)
}

/// [`serve_sharded`], with the shards.
pub(crate) async fn serve_shards<M: Machine>(
    addr: SocketAddr,
    options: Options,
    machines: Vec<M>,
) -> std::io::Result<(ServerHandle, Vec<Shard<M>>)> {
    if machines.is_empty() {
        return Err(std::io::Error::other("no shard to serve"));
    }
    if machines.len() == 1 {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shards = super::spawn_shards(machines);
        let shared = Shared::new(options, shards.clone());
        tokio::spawn(accept(listener, shared, 0));
        return Ok((handle(addr, shards.clone()), shards));
    }
    let first = shard_listener(addr)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..machines.len() {
        listeners.push(shard_listener(addr)?);
    }
    let (shards, receivers): (Vec<_>, Vec<_>) = machines
        .into_iter()
        .enumerate()
        .map(|(index, machine)| Shard::new(index, machine))
        .unzip();
    for shard in &shards {
        shard.lock().attach(&shards);
    }
    let shared = Shared::new(options, shards.clone());
    for ((shard, receivers), listener) in shards.iter().cloned().zip(receivers).zip(listeners) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let shared = shared.clone();
        let index = shard.index();
        std::thread::Builder::new()
            .name(format!("shard-{index}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::spawn(shard.run_core(receivers));
                    accept(listener, shared, index).await;
                })
            })?;
    }
    Ok((handle(addr, shards.clone()), shards))
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

/// Accepts connections, up to the limit, and serves each on this shard (`home`).
async fn accept<M: Machine>(listener: TcpListener, shared: Arc<Shared<M>>, home: usize) {
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
        let Some(connection) = shared.count_connection() else {
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
        // reach the machine after it.
        tokio::task::yield_now().await;
    }
}

/// Serves one HTTP connection of shard `home`.
async fn serve_connection<M: Machine>(
    shared: Arc<Shared<M>>,
    stream: TcpStream,
    remote: SocketAddr,
    connection: Connection,
    home: usize,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(shared.options.limits.header_read_timeout);
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let shared = shared.clone();
        let connection = connection.clone();
        async move {
            if !shared.is_ours(req.uri().path()) {
                let response = match &shared.options.fallback {
                    Some(fallback) => fallback(&req),
                    None => plain(hyper::StatusCode::NOT_FOUND, "not found"),
                };
                return Ok::<_, Infallible>(response);
            }
            // Boxed: the future stays small while a long-poll waits.
            let response = Box::pin(shared.handle(req, Some(remote), Some(connection), home));
            Ok::<_, Infallible>(response.await)
        }
    });
    // Errors here are the peer's (reset connections, bad HTTP, timeouts): nothing to do but
    // close.
    let served = http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    #[cfg(feature = "tracing")]
    let served = tracing::Instrument::instrument(
        served,
        tracing::info_span!("connection", %remote, shard = home),
    );
    let _ = served.await;
}
