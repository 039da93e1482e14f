//! The server of the official test suites (PROTOCOL.md C.6), and of the interop tests.
//!
//! `cargo run -p socketio-tokio --bin conformance-server -- --mode MODE [--port N]`
//!
//! * `eio4`: Engine.IO echo on `/engine.io/`, v3 refused (the Engine.IO v4 suite).
//! * `eio3`: the same with v3 allowed (the Engine.IO v3 suite).
//! * `sio`: the Socket.IO app on `/socket.io/` with `connectTimeout` 1000 ms, recovery off
//!   (the Socket.IO v5 suite).
//! * `interop`: the same app with connection state recovery on and v3 allowed (the interop
//!   tests with socket.io-client 4.8 and 2.x).
//!
//! All modes: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1 000 000, port 3000 by
//! default (0 picks a free one). Prints `listening on http://ADDR` once ready.
//!
//! Connection limits and request policy (the defaults are `socketio_tokio::policy`'s):
//! `--max-connections N`, `--header-timeout-ms N`, `--body-timeout-ms N`,
//! `--allowed-origin ORIGIN` (repeatable: other origins are refused), `--cors` (any origin) or
//! `--cors-origin ORIGIN` (repeatable), `--cookie` (the `io` cookie). For the load benchmark:
//! `--threads N` (1 by default: N shards, a thread each, `server::serve_sharded`; with
//! `--redis`, each shard is a node of the cluster), `--ping-interval-ms N`,
//! `--ping-timeout-ms N`. The Socket.IO
//! modes take `--parser text|msgpack` (text by default; msgpack is `socket.io-msgpack-parser`)
//! and `--redis redis://HOST:PORT [--adapter classic|sharded|streams] [--redis-key KEY]
//! [--requests-timeout-ms N]` to
//! join a cluster of servers through Redis (namespaces `/` and `/custom`; see
//! `socketio_tokio::cluster`).

use std::net::SocketAddr;
use std::time::Duration;

use engineio_proto::session::server::ServerConfig;
use socketio_proto::Parser;
use socketio_proto::session::recovery::RecoveryConfig;
use socketio_tokio::apps::interop::Interop;
use socketio_tokio::cluster::{self, RedisOptions};
use socketio_tokio::policy::{ConnectionLimits, Cookie, Cors, RequestPolicy};
use socketio_tokio::server::{self, Echo, Options, ServerHandle};
use socketio_tokio::socketio::{EndpointConfig, SocketIo};

fn main() -> std::io::Result<()> {
    // One thread by default, as the reference's event loop: requests on different connections
    // are handled in the order they arrive, which the suites' back-to-back requests rely on (a
    // GET sent right after `5` on the WebSocket must find the upgrade done). `--threads N`
    // (the load benchmark) serves on N shards, a thread each, and trades that order between
    // connections for more cores.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> std::io::Result<()> {
    let mut port = 3000u16;
    let mut mode = String::from("sio");
    let mut parser = Parser::Text;
    let mut redis: Option<RedisOptions> = None;
    let mut redis_key = None;
    let mut adapter = None;
    let mut requests_timeout = None;
    let mut threads = 1usize;
    let mut limits = ConnectionLimits::default();
    let mut ping_interval = Duration::from_millis(300);
    let mut ping_timeout = Duration::from_millis(200);
    let mut policy = RequestPolicy::default();
    let mut args = std::env::args().skip(1);
    let number = |value: Option<String>| -> std::io::Result<u64> {
        value
            .ok_or_else(usage)?
            .parse()
            .map_err(std::io::Error::other)
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = number(args.next())? as u16,
            "--mode" => mode = args.next().ok_or_else(usage)?,
            "--max-connections" => limits.max_connections = number(args.next())? as usize,
            "--header-timeout-ms" => {
                limits.header_read_timeout = Duration::from_millis(number(args.next())?)
            }
            "--body-timeout-ms" => {
                limits.body_read_timeout = Duration::from_millis(number(args.next())?)
            }
            "--allowed-origin" => policy
                .allowed_origins
                .get_or_insert_with(Vec::new)
                .push(args.next().ok_or_else(usage)?),
            "--cors" => policy.cors = Some(Cors::default()),
            "--cors-origin" => {
                let cors = policy.cors.get_or_insert_with(Cors::default);
                let origin = args.next().ok_or_else(usage)?;
                cors.origins.get_or_insert_with(Vec::new).push(origin);
            }
            "--cookie" => policy.cookie = Some(Cookie::default()),
            "--ping-interval-ms" => ping_interval = Duration::from_millis(number(args.next())?),
            "--ping-timeout-ms" => ping_timeout = Duration::from_millis(number(args.next())?),
            "--threads" => threads = number(args.next())?.clamp(1, 64) as usize,
            "--redis" => redis = Some(RedisOptions::new(&args.next().ok_or_else(usage)?)),
            "--redis-key" => redis_key = Some(args.next().ok_or_else(usage)?),
            "--requests-timeout-ms" => {
                requests_timeout = Some(Duration::from_millis(number(args.next())?));
            }
            "--adapter" => {
                let name = args.next().ok_or_else(usage)?;
                adapter = Some(cluster::parse_mode(&name).map_err(std::io::Error::other)?);
            }
            "--parser" => {
                parser = match args.next().as_deref() {
                    Some("text") => Parser::Text,
                    Some("msgpack") => Parser::Msgpack,
                    _ => return Err(usage()),
                }
            }
            _ => return Err(usage()),
        }
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let config = ServerConfig {
        ping_interval,
        ping_timeout,
        max_payload: 1_000_000,
        allow_eio3: matches!(mode.as_str(), "eio3" | "interop"),
        ..ServerConfig::default()
    };
    let options = |path: &str| Options {
        limits: limits.clone(),
        policy: policy.clone(),
        ..Options::new(path)
    };
    let mut sio = EndpointConfig {
        engine: config.clone(),
        ..EndpointConfig::default()
    };
    sio.connection.connect_timeout = Duration::from_millis(1000);
    sio.connection.parser = parser;
    if let Some(redis) = redis.as_mut() {
        redis.key = redis_key.unwrap_or_else(|| redis.key.clone());
        redis.mode = adapter.unwrap_or(redis.mode);
        redis.requests_timeout = requests_timeout.unwrap_or(redis.requests_timeout);
    }
    let server: ServerHandle = match mode.as_str() {
        "eio4" | "eio3" => {
            // One shard's ids are the reference's: random from the first character.
            let echo = |shard| match threads {
                1 => (Echo::new(config.clone()), None),
                _ => (Echo::for_shard(config.clone(), shard), None),
            };
            let shards = (0..threads).map(echo).collect();
            server::serve_sharded(addr, options("/engine.io/"), shards).await?
        }
        "sio" | "interop" => {
            if mode == "interop" {
                sio.recovery = Some(RecoveryConfig::default());
            }
            let recovery = sio.recovery.as_ref().map(|r| r.max_disconnection_duration);
            // One app per shard; the shards share its state (`Interop` is a handle on it).
            let app = Interop::default();
            let mut shards = Vec::new();
            for shard in 0..threads {
                let sio = match threads {
                    1 => SocketIo::new(app.clone(), sio.clone()),
                    _ => SocketIo::for_shard(app.clone(), sio.clone(), shard),
                };
                shards.push(match &redis {
                    // Each shard is a node of the cluster.
                    Some(redis) => {
                        let mut redis = redis.clone();
                        redis.namespaces = vec!["/".into(), "/custom".into()];
                        // With the streams adapter, recovery goes through Redis (any node).
                        redis.recovery = recovery;
                        let (cluster, messages) =
                            cluster::start(&redis).map_err(std::io::Error::other)?;
                        (sio.with_cluster(cluster), Some(messages))
                    }
                    None => (sio, None),
                });
            }
            server::serve_sharded(addr, options("/socket.io/"), shards).await?
        }
        _ => return Err(usage()),
    };
    println!("listening on http://{} (mode {mode})", server.local_addr());
    tokio::signal::ctrl_c().await?;
    Ok(())
}

fn usage() -> std::io::Error {
    std::io::Error::other(
        "usage: conformance-server [--mode eio4|eio3|sio|interop] [--port N] \
         [--max-connections N] [--header-timeout-ms N] [--body-timeout-ms N] \
         [--allowed-origin ORIGIN]… [--cors | --cors-origin ORIGIN…] [--cookie] \
         [--threads N] [--ping-interval-ms N] [--ping-timeout-ms N] [--parser text|msgpack] \
         [--redis redis://HOST:PORT [--adapter classic|sharded|streams] [--redis-key KEY] \
         [--requests-timeout-ms N]]",
    )
}
