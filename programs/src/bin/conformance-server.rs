//! The server of the official test suites (PROTOCOL.md C.6), and of the interop tests.

use std::net::SocketAddr;
use std::time::Duration;

use engineio_proto::session::endpoint::OsIds;
use engineio_proto::session::server::ServerConfig;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::Full;
use socketio_postgres::{PostgresAdapter, PostgresAdapterOptions};
use socketio_programs::apps::interop;
use socketio_programs::cli::Args;
use socketio_programs::echo::Echo;
use socketio_redis::{Mode, RedisAdapter, RedisOptions};
use socketio_tokio::SocketIo;
use socketio_tokio::admin::{AdminAuth, AdminUi};
use socketio_tokio::driver::{self, ServerHandle, shard_tag};
use socketio_tokio::policy::Fallback;
use socketio_tokio::{ConnectionLimits, Cookie, Cors, Parser, RecoveryConfig, RequestPolicy};

const USAGE: &str = "usage: conformance-server [--mode eio4|eio3|sio|interop] [--port N] \
[--max-connections N] [--header-timeout-ms N] [--body-timeout-ms N] \
[--allowed-origin ORIGIN]… [--cors | --cors-origin ORIGIN…] [--cookie] \
[--threads N] [--ping-interval-ms N] [--ping-timeout-ms N] [--parser text|msgpack] \
[--redis redis://HOST:PORT [--adapter classic|sharded|streams] [--redis-key KEY] \
[--requests-timeout-ms N]] [--postgres postgres://USER@HOST:PORT/DB [--heartbeat-ms N]] \
[--admin-ui] [--admin-ui-auth USER:BCRYPT_HASH] [--admin-ui-readonly] [--server-id ID] \
[--admin-ui-dir DIR] [--metrics]

The server of the official test suites (PROTOCOL.md C.6), and of the interop tests:
  eio4      Engine.IO echo on /engine.io/, v3 refused (the Engine.IO v4 suite)
  eio3      the same with v3 allowed (the Engine.IO v3 suite)
  sio       the interop app on /socket.io/ with connectTimeout 1000 ms, recovery off (the
            Socket.IO v5 suite; the default)
  interop   the same app with connection state recovery on and v3 allowed (the interop
            tests with socket.io-client 4.8 and 2.x)
All modes: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1 000 000, port 3000 (0 picks
a free one). Prints `listening on http://ADDR` once ready. --threads N serves N shards (a
thread each); with --redis or --postgres (@socket.io/postgres-adapter's wire, channel prefix
socket.io, table socket_io_attachments, created if missing; --heartbeat-ms N: heartbeats
every N ms, a silent node gone after 2N, 5000 by default) each shard is a node of the
cluster (namespaces / and /custom).
In the sio and interop modes, --admin-ui serves the Admin UI's namespace (/admin, development
mode, no authentication; --admin-ui-auth USER:BCRYPT_HASH for a login, --admin-ui-readonly
without commands, --server-id the id it shows), --admin-ui-dir DIR the UI's files (its
ui/dist) under /admin-ui/, and --metrics the counters on /metrics (Prometheus).";

fn main() -> std::io::Result<()> {
    // One thread by default, as the reference's event loop: requests on different connections
    // are handled in the order they arrive, which the suites' back-to-back requests rely on (a
    // GET sent right after `5` on the WebSocket must find the upgrade done). `--threads N`
    // (the load benchmark) serves on N shards, a thread each.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> std::io::Result<()> {
    let mut args = Args::new(USAGE);
    let mut port = 3000u16;
    let mut mode = String::from("sio");
    let mut parser = Parser::Text;
    let mut redis: Option<RedisOptions> = None;
    let mut postgres: Option<PostgresAdapterOptions> = None;
    let mut heartbeat = None::<Duration>;
    let mut admin = None::<AdminUi>;
    let (mut readonly, mut server_id) = (false, None::<String>);
    let (mut ui_dir, mut metrics) = (None::<PathBuf>, false);
    let mut threads = 1usize;
    let mut limits = ConnectionLimits::default();
    let mut ping_interval = Duration::from_millis(300);
    let mut ping_timeout = Duration::from_millis(200);
    let mut policy = RequestPolicy::default();
    let (mut key, mut adapter, mut requests_timeout) = (None, None::<Mode>, None);
    let ms = |n: u64| Duration::from_millis(n);
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--port" => port = args.value("--port"),
            "--mode" => mode = args.value("--mode"),
            "--max-connections" => limits.max_connections = args.value("--max-connections"),
            "--header-timeout-ms" => limits.header_read_timeout = ms(args.value(&flag)),
            "--body-timeout-ms" => limits.body_read_timeout = ms(args.value(&flag)),
            "--allowed-origin" => policy
                .allowed_origins
                .get_or_insert_with(Vec::new)
                .push(args.value(&flag)),
            "--cors" => policy.cors = Some(Cors::default()),
            "--cors-origin" => {
                let cors = policy.cors.get_or_insert_with(Cors::default);
                cors.origins
                    .get_or_insert_with(Vec::new)
                    .push(args.value(&flag));
            }
            "--cookie" => policy.cookie = Some(Cookie::default()),
            "--ping-interval-ms" => ping_interval = ms(args.value(&flag)),
            "--ping-timeout-ms" => ping_timeout = ms(args.value(&flag)),
            "--threads" => threads = args.value::<usize>(&flag).clamp(1, 64),
            "--redis" => redis = Some(RedisOptions::new(&args.value::<String>(&flag))),
            "--redis-key" => key = Some(args.value::<String>(&flag)),
            "--postgres" => {
                postgres = Some(PostgresAdapterOptions::new(&args.value::<String>(&flag)));
            }
            "--heartbeat-ms" => heartbeat = Some(ms(args.value(&flag))),
            "--admin-ui" => admin = Some(AdminUi::new(AdminAuth::None)),
            "--admin-ui-auth" => {
                let login: String = args.value(&flag);
                let Some((user, hash)) = login.split_once(':') else {
                    args.fail("--admin-ui-auth wants USER:BCRYPT_HASH");
                };
                admin = Some(AdminUi::new(AdminAuth::basic(user, hash)));
            }
            "--admin-ui-readonly" => readonly = true,
            "--server-id" => server_id = Some(args.value(&flag)),
            "--admin-ui-dir" => ui_dir = Some(args.value(&flag)),
            "--metrics" => metrics = true,
            "--requests-timeout-ms" => requests_timeout = Some(ms(args.value(&flag))),
            "--adapter" => adapter = Some(args.value(&flag)),
            "--parser" => match args.value::<String>(&flag).as_str() {
                "text" => parser = Parser::Text,
                "msgpack" => parser = Parser::Msgpack,
                other => args.fail(&format!("unknown parser {other:?}")),
            },
            other => args.fail(&format!("unknown flag {other:?}")),
        }
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let engine = ServerConfig {
        ping_interval,
        ping_timeout,
        max_payload: 1_000_000,
        allow_eio3: matches!(mode.as_str(), "eio3" | "interop"),
        ..ServerConfig::default()
    };
    let options = |path: &str| socketio_tokio::Options {
        limits: limits.clone(),
        policy: policy.clone(),
        ..socketio_tokio::Options::new(path)
    };
    let server: ServerHandle = match mode.as_str() {
        "eio4" | "eio3" => {
            let echo = |shard: usize| {
                let ids = match (threads, shard_tag(shard)) {
                    (1, _) | (_, None) => OsIds::new(),
                    (_, Some(tag)) => OsIds::tagged(tag),
                };
                Echo::with_ids(engine.clone(), ids)
            };
            let machines = (0..threads).map(echo).collect();
            driver::serve_sharded(addr, options("/engine.io/"), machines).await?
        }
        "sio" | "interop" => {
            let mut config = socketio_proto::server::EndpointConfig {
                engine,
                ..Default::default()
            };
            config.connection.connect_timeout = ms(1000);
            config.connection.parser = parser;
            if mode == "interop" {
                config.recovery = Some(RecoveryConfig::default());
            }
            let mut builder = socketio_tokio::Builder::default()
                .endpoint_config(config.clone())
                .limits(limits.clone());
            builder = with_policy(builder, &policy);
            // `/metrics` and the UI's files, once the server exists.
            let served = Arc::new(OnceLock::<SocketIo>::new());
            if metrics || ui_dir.is_some() {
                builder = builder.fallback(fallback(served.clone(), metrics, ui_dir));
            }
            if let Some(mut redis) = redis {
                redis.key = key.unwrap_or(redis.key);
                redis.mode = adapter.unwrap_or(redis.mode);
                redis.requests_timeout = requests_timeout.unwrap_or(redis.requests_timeout);
                redis.namespaces = vec!["/".into(), "/custom".into()];
                if admin.is_some() {
                    // The admins of every node hear this one's events.
                    redis.namespaces.push("/admin".into());
                }
                // With the streams adapter, recovery goes through Redis (any node).
                redis.recovery = config.recovery.map(|r| r.max_disconnection_duration);
                let cluster = RedisAdapter::new(redis).map_err(std::io::Error::other)?;
                builder = builder.cluster(cluster);
            } else if let Some(mut postgres) = postgres {
                postgres.requests_timeout = requests_timeout.unwrap_or(postgres.requests_timeout);
                postgres.namespaces = vec!["/".into(), "/custom".into()];
                if admin.is_some() {
                    postgres.namespaces.push("/admin".into());
                }
                if let Some(interval) = heartbeat {
                    postgres.options.heartbeat_interval = interval;
                    postgres.options.heartbeat_timeout = interval * 2;
                }
                let cluster = PostgresAdapter::new(postgres).map_err(std::io::Error::other)?;
                builder = builder.cluster(cluster);
            }
            let (io, server) = builder.threads(threads).build_server();
            interop::install(&io);
            if let Some(mut admin) = admin {
                admin = admin.readonly(readonly);
                if let Some(id) = &server_id {
                    admin = admin.server_id(id);
                }
                io.instrument(admin).map_err(std::io::Error::other)?;
            }
            let _ = served.set(io.clone());
            server.listen(addr).await?
        }
        other => args.fail(&format!("unknown mode {other:?}")),
    };
    println!("listening on http://{} (mode {mode})", server.local_addr());
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// What the server answers outside `/socket.io/`: `/metrics` and the Admin UI's files.
fn fallback(io: Arc<OnceLock<SocketIo>>, metrics: bool, ui: Option<PathBuf>) -> Fallback {
    Arc::new(move |request| {
        let path = request.uri().path();
        let found = match (path, io.get(), &ui) {
            ("/metrics", Some(io), _) if metrics => {
                Some(("text/plain; version=0.0.4", io.metrics().into_bytes()))
            }
            (_, _, Some(dir)) => path
                .strip_prefix("/admin-ui/")
                .and_then(|file| socketio_tokio::admin::ui_file(dir, file)),
            _ => None,
        };
        let (status, content_type, body) = match found {
            Some((content_type, body)) => (200, content_type, body),
            None => (404, "text/plain", b"not found".to_vec()),
        };
        hyper::Response::builder()
            .status(status)
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    })
}

/// The request policy's parts as the builder takes them.
fn with_policy(
    mut builder: socketio_tokio::Builder,
    policy: &RequestPolicy,
) -> socketio_tokio::Builder {
    if let Some(origins) = &policy.allowed_origins {
        builder = builder.allowed_origins(origins.clone());
    }
    if let Some(cors) = &policy.cors {
        builder = builder.cors(cors.clone());
    }
    if let Some(cookie) = &policy.cookie {
        builder = builder.cookie(cookie.clone());
    }
    builder
}
