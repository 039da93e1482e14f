//! Our Socket.IO client against any server that speaks the interop app (our
//! `conformance-server --mode interop`, or `interop/reference-server.mjs` on the official
//! `socket.io` package).
//!
//! `cargo run -p socketio-programs --bin client -- [--url http://127.0.0.1:3000]
//! [--transport polling|websocket|upgrade] [--rounds N] [--parser text|msgpack]`
//!
//! It joins `/` and `/custom`, then every second emits `message-with-ack` (and prints the
//! ack) and a `message` with a binary argument (and prints the binary `message-back`). It
//! survives server restarts: the manager reconnects with backoff and the rounds go on.
//! With `--rounds N` it exits after N acknowledged rounds (0 = run until Ctrl-C).

use std::time::Duration;

use bytes::Bytes;
use engineio_proto::Transport;
use serde::Serialize;
use socketio_proto::Parser;
use socketio_proto::client::{EmitOptions, ManagerConfig, ManagerEvent, SocketOptions};
use socketio_tokio::client;

/// Bytes that serialize as a binary attachment.
struct Binary(Bytes);

impl Serialize for Binary {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut url = String::from("http://127.0.0.1:3000");
    let mut transport = String::from("upgrade");
    let mut rounds = 0u64;
    let mut parser = Parser::Text;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--url", Some(value)) => url = value,
            ("--transport", Some(value)) => transport = value,
            ("--rounds", Some(value)) => rounds = value.parse()?,
            ("--parser", Some(value)) if value == "text" => parser = Parser::Text,
            ("--parser", Some(value)) if value == "msgpack" => parser = Parser::Msgpack,
            _ => return Err(
                "usage: client [--url URL] [--transport polling|websocket|upgrade] [--rounds N] \
                 [--parser text|msgpack]"
                    .into(),
            ),
        }
    }
    let mut config = ManagerConfig {
        reconnection_delay: Duration::from_millis(500),
        reconnection_delay_max: Duration::from_millis(2000),
        parser,
        ..ManagerConfig::default()
    };
    match transport.as_str() {
        "polling" => config.engine.upgrade = false,
        "websocket" => config.engine.transport = Transport::Websocket,
        "upgrade" => {}
        _ => return Err(format!("unknown transport {transport}").into()),
    }
    let mut client = client::connect(&url, "/socket.io/", config);
    for namespace in ["/", "/custom"] {
        client
            .with(move |m, now| m.connect(now, namespace, SocketOptions::default()))
            .await
            .ok_or("client stopped")??;
    }
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let (mut sent, mut acked) = (0u64, 0u64);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                sent += 1;
                let round = sent;
                client.with(move |m, now| {
                    if !m.is_connected("/") {
                        return;
                    }
                    let ack = EmitOptions { ack: true, timeout: Some(Duration::from_secs(2)), ..Default::default() };
                    let _ = m.emit(now, "/", "message-with-ack", &("round", round), ack);
                    let bytes = Binary(Bytes::from(vec![1, 2, 3, round as u8]));
                    let _ = m.emit(now, "/custom", "message", &("binary", bytes), EmitOptions::default());
                }).await;
            }
            event = client.next_event() => {
                let Some(event) = event else { return Err("client stopped".into()) };
                match event {
                    ManagerEvent::Connected { namespace, sid, recovered } => {
                        println!("connected to {} as {sid} (recovered: {recovered})", namespace.as_str());
                    }
                    ManagerEvent::Event { namespace, packet } => {
                        let name = packet.event_name().map(|n| n.into_owned()).unwrap_or_default();
                        let binary: Vec<Vec<u8>> = packet.attachments().iter().map(|a| a.to_vec()).collect();
                        let json = packet.raw_json().map(|j| j.as_str().to_owned()).unwrap_or_default();
                        println!("{} event {name}: {json} attachments {binary:?}", namespace.as_str());
                    }
                    ManagerEvent::Ack { packet, .. } => {
                        acked += 1;
                        let json = packet.raw_json().map(|j| j.as_str().to_owned()).unwrap_or_default();
                        println!("ack {json}");
                        if rounds > 0 && acked >= rounds {
                            return Ok(());
                        }
                    }
                    ManagerEvent::Disconnected { namespace, reason } => {
                        println!("disconnected from {}: {reason}", namespace.as_str());
                    }
                    ManagerEvent::ReconnectAttempt(n) => println!("reconnection attempt {n}"),
                    ManagerEvent::Reconnected(n) => println!("reconnected after {n} attempts"),
                    other => println!("{other:?}"),
                }
            }
        }
    }
}
