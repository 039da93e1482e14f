//! Socket.IO inside an axum 0.8 app, on the same port as its other routes.
//!
//! ```text
//! PORT=3000 cargo run -p socketio-tokio --example axum_chat
//! ```
//!
//! Then open <http://127.0.0.1:3000/> in two windows (the page loads the official browser
//! client from its CDN). The events:
//!
//! - `join`(room): joins the room and acknowledges `true`;
//! - `chat`(any arguments, binary included): goes to every socket in the rooms the sender has
//!   joined, the sender included;
//! - `echo`(any arguments): acknowledged with the same arguments.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use socketio_tokio::{Ack, Data, Event, Socket, SocketIo};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // The layer answers `/socket.io/` and passes every other request to the router.
    let (layer, io) = SocketIo::new_layer();

    io.ns("/", |socket: Socket| {
        socket.on(
            "join",
            |socket: Socket, Data(room): Data<String>, ack: Ack| {
                socket.join(&room);
                let _ = ack.send(&true);
            },
        );
        socket.on("chat", |socket: Socket, event: Event| {
            // `rooms()` lists the joined rooms; `within(id)` adds the sender's own room.
            let _ = socket
                .within(socket.id())
                .to_rooms(socket.rooms())
                .emit("chat", &event);
        });
        // An `&Event` as arguments sends the received ones, attachments included.
        socket.on("echo", |_: Socket, event: Event, ack: Ack| {
            let _ = ack.send(&event);
        });
    });

    let app = Router::new()
        .route("/", get(|| async { Html(include_str!("axum_chat.html")) }))
        .layer(layer);

    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}/", listener.local_addr()?);
    axum::serve(listener, app).await
}
