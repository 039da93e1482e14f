//! A Socket.IO client: joins room `a`, says hello, prints the chat, answers `echo`, leaves on
//! `bye`. Against the axum example (or any server with that contract):
//!
//! ```text
//! cargo run -p socketio-tokio --example axum_chat &
//! URL=http://127.0.0.1:3000 TRANSPORT=upgrade cargo run -p socketio-tokio --example client_chat
//! ```
//!
//! `TRANSPORT` is `websocket`, `polling` or `upgrade` (polling, then WebSocket: the default).

use socketio_tokio::Event;
use socketio_tokio::client::{Ack, Client};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let transports = std::env::var("TRANSPORT").unwrap_or_else(|_| "upgrade".into());
    let client = Client::builder(&url).transports(transports.parse()?);
    let client = client.build()?;

    // Every `chat`, its arguments as one JSON array (binary ones as placeholders).
    client.on("chat", |_: Client, event: Event| {
        let args: Vec<&str> = event.raw_args().iter().map(|arg| arg.get()).collect();
        println!("chat: [{}]", args.join(","));
    });
    // An `echo` that asks for an ack gets its own arguments back, binary included.
    client.on("echo", |_: Client, event: Event, ack: Ack| {
        let _ = ack.send(&event);
    });
    let (bye, mut said_bye) = mpsc::unbounded_channel();
    client.on("bye", move |_: Client, _: Event| {
        let _ = bye.send(());
    });

    client.connect().await?;
    if !client.emit_with_ack::<bool>("join", "a").await? {
        return Err("the server did not let us join".into());
    }
    client.emit("chat", "hello from rust")?;
    said_bye.recv().await;
    client.close();
    Ok(())
}
