//! Which handler an event reaches, on our server and our client over a real socket:
//! `on_any` sees every event before its handler (as `socket.onAny` does), `on_fallback` takes
//! only the events no `on` handler takes, and an event nothing handles asks in vain for its
//! acknowledgement.

#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketio_tokio::client::{Client, Transports};
use socketio_tokio::{Event, Reply, Socket, SocketIo};

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, line: String) {
    log.lock().unwrap().push(line);
}

fn name(event: &Event) -> String {
    event
        .name()
        .map(|name| name.to_string())
        .unwrap_or_default()
}

/// Waits until `log` holds `count` lines, and returns them.
async fn lines(log: &Log, count: usize) -> Vec<String> {
    for _ in 0..200 {
        if log.lock().unwrap().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log.lock().unwrap().clone()
}

#[tokio::test]
async fn on_any_sees_every_event_and_on_fallback_only_the_unhandled_ones() {
    let server_log = Log::default();
    let (io, server) = SocketIo::builder().build_server();
    let log = server_log.clone();
    io.ns("/", move |socket: Socket| {
        let any = log.clone();
        socket.on_any(move |_: &Socket, event: &Event| push(&any, format!("any {}", name(event))));
        let on = log.clone();
        socket.on("known", move |_: Socket, _: Event| {
            push(&on, "on known".into());
            Reply("from on")
        });
        let fallback = log.clone();
        socket.on_fallback(move |socket: Socket, event: Event| {
            push(&fallback, format!("fallback {}", name(&event)));
            if name(&event) == "other" {
                // Now the client's handlers: one event it handles, one it does not.
                socket.emit("known", ()).unwrap();
                socket.emit("unknown", ()).unwrap();
            }
            Reply("from fallback")
        });
    });
    let handle = server
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();

    let client_log = Log::default();
    let client = Client::builder(format!("http://{}", handle.local_addr()).as_str())
        .transports(Transports::WebSocket)
        .build()
        .unwrap();
    let any = client_log.clone();
    client.on_any(move |_: &Client, event: &Event| push(&any, format!("any {}", name(event))));
    let on = client_log.clone();
    client.on("known", move |_: Client, _: Event| {
        push(&on, "on known".into())
    });
    client.connect().await.unwrap();

    let answer: String = client.emit_with_ack("known", ()).await.unwrap();
    assert_eq!(answer, "from on");
    let answer: String = client.emit_with_ack("other", ()).await.unwrap();
    assert_eq!(answer, "from fallback");
    assert_eq!(
        lines(&server_log, 4).await,
        ["any known", "on known", "any other", "fallback other"]
    );
    // The client has no fallback: its listener sees `unknown`, nothing answers it.
    assert_eq!(
        lines(&client_log, 3).await,
        ["any known", "on known", "any unknown"]
    );

    // An event only a listener sees is not acknowledged: the sender's wait times out.
    io.ns("/quiet", |socket: Socket| {
        socket.on_any(|_: &Socket, _: &Event| {});
    });
    let quiet = client.socket("/quiet").unwrap();
    quiet.connect().await.unwrap();
    let unanswered = quiet
        .timeout(Duration::from_millis(200))
        .emit_with_ack::<String>("anything", ())
        .await;
    assert!(unanswered.is_err(), "{unanswered:?}");
    io.close().await;
}
