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

use std::net::SocketAddr;
use std::time::Duration;

use engineio_proto::session::server::ServerConfig;
use socketio_proto::session::recovery::RecoveryConfig;
use socketio_tokio::apps::interop::Interop;
use socketio_tokio::server::{self, Echo, Options, ServerHandle};
use socketio_tokio::socketio::{EndpointConfig, SocketIo};

// One thread, as the reference's event loop: requests on different connections are handled
// in the order they arrive, which the suites' back-to-back requests rely on (a GET sent right
// after `5` on the WebSocket must find the upgrade done). On a multi-threaded runtime a task
// woken later can run first.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut port = 3000u16;
    let mut mode = String::from("sio");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(value)) => port = value.parse().map_err(std::io::Error::other)?,
            ("--mode", Some(value)) => mode = value,
            _ => return Err(usage()),
        }
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let config = ServerConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        allow_eio3: matches!(mode.as_str(), "eio3" | "interop"),
        ..ServerConfig::default()
    };
    let options = |path: &str| Options {
        path: path.into(),
        fallback: None,
    };
    let mut sio = EndpointConfig {
        engine: config.clone(),
        ..EndpointConfig::default()
    };
    sio.connection.connect_timeout = Duration::from_millis(1000);
    let server: ServerHandle = match mode.as_str() {
        "eio4" | "eio3" => server::serve(addr, options("/engine.io/"), Echo::new(config)).await?,
        "sio" => {
            server::serve(
                addr,
                options("/socket.io/"),
                SocketIo::new(Interop::default(), sio),
            )
            .await?
        }
        "interop" => {
            sio.recovery = Some(RecoveryConfig::default());
            server::serve(
                addr,
                options("/socket.io/"),
                SocketIo::new(Interop::default(), sio),
            )
            .await?
        }
        _ => return Err(usage()),
    };
    println!("listening on http://{} (mode {mode})", server.local_addr());
    tokio::signal::ctrl_c().await?;
    Ok(())
}

fn usage() -> std::io::Error {
    std::io::Error::other("usage: conformance-server [--mode eio4|eio3|sio|interop] [--port N]")
}
