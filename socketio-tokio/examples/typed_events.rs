//! Typed events: serde structs in and out, binary as `Bytes`, a connect middleware that reads
//! the client's `auth` and stores typed `socket.data`, answers by returning a value, an async
//! handler that asks the client and awaits its acknowledgement, and shared application state.
//!
//! ```text
//! cargo run -p socketio-tokio --example typed_events
//! ```
//!
//! A client for it, with the official JavaScript client:
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000/game", { auth: { name: "ada" } });
//! socket.on("moved", (m) => console.log(m));            // {by: "ada", x: 1, y: 2}
//! socket.emit("move", { x: 1, y: 2 });
//! console.log(await socket.emitWithAck("sum", 2, 3));   // 5
//! console.log(await socket.emitWithAck("upload", "a.bin", new Uint8Array([1, 2])));
//! socket.on("are-you-there", (callback) => callback("yes"));
//! socket.emit("poke");
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use socketio_tokio::bytes::Bytes;
use socketio_tokio::{Data, Refusal, Reply, Socket, SocketIo};

/// What the client sends in its handshake's `auth`.
#[derive(Deserialize)]
struct Auth {
    name: String,
}

/// What the middleware keeps for the socket's lifetime (`socket.data`).
#[derive(Serialize, Deserialize)]
struct Player {
    name: String,
}

#[derive(Deserialize)]
struct Move {
    x: i32,
    y: i32,
}

#[derive(Serialize)]
struct Moved<'a> {
    by: &'a str,
    x: i32,
    y: i32,
}

/// Application state shared by every handler: capture an `Arc` of it.
#[derive(Default)]
struct Stats {
    moves: AtomicU64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let stats = Arc::new(Stats::default());
    let (io, server) = SocketIo::builder().build_server();

    io.ns("/game", move |socket: Socket| {
        let stats = stats.clone();
        // Typed arguments; a client whose arguments do not fit is not answered.
        socket.on("move", move |socket: Socket, Data(step): Data<Move>| {
            stats.moves.fetch_add(1, Ordering::Relaxed);
            let player: Option<Player> = socket.data();
            let by = player.as_ref().map_or("?", |p| p.name.as_str());
            let moved = Moved {
                by,
                x: step.x,
                y: step.y,
            };
            // To every other player of the namespace.
            let _ = socket.broadcast().emit("moved", &moved);
        });
        // A tuple reads (or sends) several arguments; returning `Reply` acknowledges.
        socket.on("sum", |_: Socket, Data((a, b)): Data<(i64, i64)>| {
            Reply(a + b)
        });
        // Binary arguments arrive as `Bytes`, sharing the received buffer.
        socket.on(
            "upload",
            |_: Socket, Data((name, body)): Data<(String, Bytes)>| Reply((name, body.len())),
        );
        // An async handler: ask the client, wait for its acknowledgement (2 s at most).
        socket.on_async("poke", |socket: Socket, Data(()): Data<()>| async move {
            let answer = socket
                .emit_with_ack::<String>("are-you-there", &(), Duration::from_secs(2))
                .await;
            println!("{} answered {answer:?}", socket.id());
        });
        socket.on_disconnect(|socket, reason| println!("{} left: {reason}", socket.id()));
    })
    // The reference's middleware: refuse a CONNECT without a name, keep the name otherwise.
    .with(|connecting| {
        let auth: Auth = connecting
            .auth()
            .ok_or_else(|| Refusal::new("a name is required"))?;
        connecting
            .set_data(&Player { name: auth.name })
            .map_err(|e| Refusal::new(e.to_string()))
    });

    let addr = SocketAddr::from(([127, 0, 0, 1], 3000));
    let handle = server.listen(addr).await?;
    println!("listening on http://{}/", handle.local_addr());
    std::future::pending().await
}
