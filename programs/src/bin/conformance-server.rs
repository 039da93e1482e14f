//! The server of the official test suites (PROTOCOL.md C.6), and of the interop tests.

use std::net::SocketAddr;
use std::time::Duration;

use engineio_proto::session::endpoint::OsIds;
use engineio_proto::session::server::ServerConfig;
use socketio_postgres::{PostgresAdapter, PostgresAdapterOptions};
use socketio_programs::apps::interop;
use socketio_programs::cli::Args;
use socketio_programs::echo::Echo;
use socketio_redis::{Mode, RedisAdapter, RedisOptions};
use socketio_tokio::driver::{self, ServerHandle, shard_tag};
use socketio_tokio::{ConnectionLimits, Cookie, Cors, Parser, RecoveryConfig, RequestPolicy};

const USAGE: &str = "usage: conformance-server [--mode eio4|eio3|sio|interop] [--port N] \
[--max-connections N] [--header-timeout-ms N] [--body-timeout-ms N] \
[--allowed-origin ORIGIN]… [--cors | --cors-origin ORIGIN…] [--cookie] \
[--threads N] [--ping-interval-ms N] [--ping-timeout-ms N] [--parser text|msgpack] \
[--redis redis://HOST:PORT [--adapter classic|sharded|streams] [--redis-key KEY] \
[--requests-timeout-ms N]] [--postgres postgres://USER@HOST:PORT/DB [--heartbeat-ms N]]

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
cluster (namespaces / and /custom).";

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
            if let Some(mut redis) = redis {
                redis.key = key.unwrap_or(redis.key);
                redis.mode = adapter.unwrap_or(redis.mode);
                redis.requests_timeout = requests_timeout.unwrap_or(redis.requests_timeout);
                redis.namespaces = vec!["/".into(), "/custom".into()];
                // With the streams adapter, recovery goes through Redis (any node).
                redis.recovery = config.recovery.map(|r| r.max_disconnection_duration);
                let cluster = RedisAdapter::new(redis).map_err(std::io::Error::other)?;
                builder = builder.cluster(cluster);
            } else if let Some(mut postgres) = postgres {
                postgres.requests_timeout = requests_timeout.unwrap_or(postgres.requests_timeout);
                postgres.namespaces = vec!["/".into(), "/custom".into()];
                if let Some(interval) = heartbeat {
                    postgres.options.heartbeat_interval = interval;
                    postgres.options.heartbeat_timeout = interval * 2;
                }
                let cluster = PostgresAdapter::new(postgres).map_err(std::io::Error::other)?;
                builder = builder.cluster(cluster);
            }
            let (io, server) = builder.threads(threads).build_server();
            interop::install(&io);
            server.listen(addr).await?
        }
        other => args.fail(&format!("unknown mode {other:?}")),
    };
    println!("listening on http://{} (mode {mode})", server.local_addr());
    tokio::signal::ctrl_c().await?;
    Ok(())
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
