//! Our Socket.IO client against any server that speaks the interop app (our
//! `conformance-server --mode interop`, or `interop/reference-server.mjs` on the official
//! `socket.io` package), on `socketio_tokio::client`.

use std::time::Duration;

use socketio_programs::cli::Args;
use socketio_tokio::bytes::Bytes;
use socketio_tokio::client::{Client, Transports};
use socketio_tokio::{Event, Parser};

const USAGE: &str = "usage: client [--url URL] [--transport polling|websocket|upgrade] \
[--rounds N] [--parser text|msgpack]

Joins / and /custom of the interop app at URL (http://127.0.0.1:3000), then every second
emits `message-with-ack` (and prints the ack) and a `message` with a binary argument (and
prints the binary `message-back`). It survives server restarts: the client reconnects with
backoff and the rounds go on. With --rounds N it exits after N acknowledged rounds (0, the
default: until Ctrl-C).";

/// Prints every event of a namespace as `NSP event NAME: JSON attachments [...]`.
fn print_events(client: &Client) {
    client.on_any(|client: &Client, event: &Event| {
        let name = event.name().map(|n| n.into_owned()).unwrap_or_default();
        let json = event.packet().raw_json().map_or("", |j| j.as_str());
        let binary: Vec<Vec<u8>> = event.attachments().iter().map(|a| a.to_vec()).collect();
        println!(
            "{} event {name}: {json} attachments {binary:?}",
            client.namespace().as_str()
        );
    });
    client.on_connect(|client: Client| {
        let (id, recovered) = (client.id().unwrap_or_default(), client.recovered());
        println!(
            "connected to {} as {id} (recovered: {recovered})",
            client.namespace().as_str()
        );
    });
    client.on_disconnect(|client: Client, reason| {
        println!(
            "disconnected from {}: {reason}",
            client.namespace().as_str()
        );
    });
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = Args::new(USAGE);
    let (mut url, mut transports) = ("http://127.0.0.1:3000".to_owned(), Transports::Upgrade);
    let (mut rounds, mut parser) = (0u64, Parser::Text);
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--url" => url = args.value("--url"),
            "--rounds" => rounds = args.value("--rounds"),
            "--transport" => transports = args.value("--transport"),
            "--parser" => match args.value::<String>("--parser").as_str() {
                "text" => parser = Parser::Text,
                "msgpack" => parser = Parser::Msgpack,
                other => args.fail(&format!("unknown parser {other:?}")),
            },
            other => args.fail(&format!("unknown flag {other:?}")),
        }
    }
    let main = Client::builder(&url)
        .transports(transports)
        .parser(parser)
        .reconnection_delay(Duration::from_millis(500))
        .reconnection_delay_max(Duration::from_millis(2000))
        .build()?;
    let custom = main.socket("/custom")?;
    for client in [&main, &custom] {
        print_events(client);
    }
    main.on_reconnect_attempt(|_, n| println!("reconnection attempt {n}"));
    main.on_reconnect(|_, n| println!("reconnected after {n} attempts"));
    main.connect().await?;
    custom.connect().await?;

    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut acked = 0u64;
    for round in 1u64.. {
        ticker.tick().await;
        if !main.connected() {
            continue;
        }
        let ack = main
            .timeout(Duration::from_secs(2))
            .emit_with_ack_event("message-with-ack", &("round", round));
        let bytes = Bytes::from(vec![1, 2, 3, round as u8]);
        custom.emit("message", &("binary", bytes))?;
        match ack.await {
            Ok(ack) => {
                acked += 1;
                println!("ack {}", ack.packet().raw_json().map_or("", |j| j.as_str()));
                if rounds > 0 && acked >= rounds {
                    break;
                }
            }
            Err(err) => println!("no ack: {err}"),
        }
    }
    main.close();
    Ok(())
}
