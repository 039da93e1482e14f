//! Our client (the `Manager` on the tokio driver) against the official `socket.io` 4.8.4
//! server running the interop app (`interop/reference-server.mjs`, recovery on), over
//! polling only, WebSocket only, and polling upgraded to WebSocket: namespaces, auth, events
//! and acks both ways, nested binary, rooms among three clients, server-side disconnect, ping
//! timeout (the server process is frozen with SIGSTOP), reconnection after the server restarts,
//! and connection state recovery. The same scenario runs with `socket.io-msgpack-parser` 3.0.2
//! on both sides (`ManagerConfig::parser`, `reference-server.mjs --parser msgpack`), and the
//! `client` program with `--parser msgpack` joins, gets acks and binary echoes from that server.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use engineio_proto::Transport;
use engineio_proto::session::CloseReason;
use serde::Serialize;
use serde_json::{Value, json};
use socketio_proto::client::{
    Auth, ConnectError, DisconnectReason, EmitOptions, ManagerConfig, ManagerEvent, SocketOptions,
};
use socketio_proto::{Packet, Parser};
use socketio_tokio::client::{self, Client};
use support::{Process, reference_server_with};

/// One scenario at a time: they share two cores and the heartbeats are 300/200 ms.
static SERIAL: Mutex<()> = Mutex::new(());

const WAIT: Duration = Duration::from_secs(5);

/// Bytes that serialize as a binary attachment.
struct Bin(&'static [u8]);

impl Serialize for Bin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

fn config(transport: &str, parser: Parser) -> ManagerConfig {
    let mut config = ManagerConfig {
        reconnection_delay: Duration::from_millis(100),
        reconnection_delay_max: Duration::from_millis(500),
        randomization_factor: 0.0,
        parser,
        ..ManagerConfig::default()
    };
    match transport {
        "polling" => config.engine.upgrade = false,
        "websocket" => config.engine.transport = Transport::Websocket,
        _ => {}
    }
    config
}

/// A client and the events it has seen but no test step consumed yet.
struct Peer {
    client: Client,
    transport: String,
}

impl Peer {
    async fn new(url: &str, transport: &str, parser: Parser) -> Peer {
        Peer {
            client: client::connect(url, "/socket.io/", config(transport, parser)),
            transport: format!("{transport}, {parser:?}"),
        }
    }

    /// Waits for the first event that `pick` maps to a value, dropping the others.
    async fn expect<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&ManagerEvent) -> Option<T>,
    ) -> T {
        let found = tokio::time::timeout(WAIT, async {
            loop {
                let event = self.client.next_event().await.expect("client running");
                if let Some(value) = pick(&event) {
                    return value;
                }
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("[{}] timed out waiting for {what}", self.transport))
    }

    async fn join(&mut self, namespace: &'static str, auth: Option<Value>) -> String {
        let options = SocketOptions {
            auth: auth.map(|a| Auth::new(&a).unwrap()),
            ..SocketOptions::default()
        };
        self.client
            .with(move |m, now| m.connect(now, namespace, options))
            .await
            .unwrap()
            .unwrap();
        self.expect("connected", |e| match e {
            ManagerEvent::Connected {
                namespace: ns, sid, ..
            } if ns.as_str() == namespace => Some(sid.clone()),
            _ => None,
        })
        .await
    }

    async fn emit<T: Serialize + Send + Sync + 'static>(
        &self,
        namespace: &'static str,
        event: &'static str,
        args: T,
        ack: bool,
    ) {
        let options = EmitOptions {
            ack,
            timeout: ack.then_some(WAIT),
            ..EmitOptions::default()
        };
        self.client
            .with(move |m, now| m.emit(now, namespace, event, &args, options))
            .await
            .unwrap()
            .unwrap();
    }

    /// The next `name` event on `namespace`: its JSON arguments and attachments.
    async fn event(&mut self, namespace: &str, name: &str) -> (Value, Vec<Bytes>) {
        self.expect(name, |e| match e {
            ManagerEvent::Event {
                namespace: ns,
                packet,
            } if ns.as_str() == namespace && is(packet, name) => Some(args_of(packet)),
            _ => None,
        })
        .await
    }

    async fn ack(&mut self) -> (Value, Vec<Bytes>) {
        self.expect("ack", |e| match e {
            ManagerEvent::Ack { packet, .. } => Some(args_of(packet)),
            _ => None,
        })
        .await
    }
}

fn is(packet: &Packet, name: &str) -> bool {
    packet.event_name().is_some_and(|n| n == name)
}

/// The arguments as JSON (placeholders left in) and the attachments.
fn args_of(packet: &Packet) -> (Value, Vec<Bytes>) {
    let json: Value = serde_json::from_str(packet.raw_json().unwrap().as_str()).unwrap();
    (json, packet.attachments().to_vec())
}

/// The first `n` event arguments (after the name): with recovery on, the server appends an
/// offset to events without ack.
fn leading(json: &Value, n: usize) -> Vec<Value> {
    json.as_array().unwrap()[1..=n].to_vec()
}

fn ph(num: u64) -> Value {
    json!({"_placeholder": true, "num": num})
}

/// The reference server's arguments for `parser`.
fn parser_args(parser: Parser) -> &'static [&'static str] {
    match parser {
        Parser::Msgpack => &["--parser", "msgpack"],
        Parser::Text => &[],
    }
}

async fn scenario(transport: &str, parser: Parser) {
    let (server, addr) = reference_server_with(0, parser_args(parser));
    let url = format!("http://{addr}");
    let mut server = Some(server);

    // Namespaces and auth.
    let mut a = Peer::new(&url, transport, parser).await;
    a.join("/", None).await;
    assert_eq!(leading(&a.event("/", "auth").await.0, 1), [json!({})]);
    a.join("/custom", Some(json!({"token": "abc"}))).await;
    assert_eq!(
        leading(&a.event("/custom", "auth").await.0, 1),
        [json!({"token": "abc"})]
    );
    a.join("/private", Some(json!({"token": "secret"}))).await;
    let refused = |a: &ManagerEvent| match a {
        ManagerEvent::ConnectError {
            namespace,
            error: ConnectError::Refused { message, .. },
        } => Some((namespace.as_str().to_owned(), message.clone())),
        _ => None,
    };
    let mut b = Peer::new(&url, transport, parser).await;
    b.client
        .with(|m, now| {
            m.connect(
                now,
                "/private",
                SocketOptions {
                    auth: Some(Auth::new(&json!({"token": "nope"})).unwrap()),
                    ..Default::default()
                },
            )
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        b.expect("refusal", refused).await,
        ("/private".into(), "not authorized".into())
    );
    b.client
        .with(|m, now| m.connect(now, "/random", SocketOptions::default()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        b.expect("refusal", refused).await,
        ("/random".into(), "Invalid namespace".into())
    );

    // Events and acks, both ways.
    a.emit("/", "message", (1, "2", json!({"3": [true]})), false)
        .await;
    assert_eq!(
        leading(&a.event("/", "message-back").await.0, 3),
        [json!(1), json!("2"), json!({"3": [true]})]
    );
    a.emit(
        "/",
        "message-with-ack",
        (1, "2", json!({"3": [false]})),
        true,
    )
    .await;
    assert_eq!(a.ack().await.0, json!([1, "2", {"3": [false]}]));
    a.emit("/", "ask-client", ("q1",), false).await;
    let (id, question) = a
        .expect("question", |e| match e {
            ManagerEvent::Event { packet, .. } if is(packet, "question") => {
                Some((packet.ack_id().unwrap(), args_of(packet).0))
            }
            _ => None,
        })
        .await;
    assert_eq!(question, json!(["question", "q1"]));
    a.client
        .with(move |m, _| m.ack("/", id, &("yes", "q1")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        leading(&a.event("/", "answer").await.0, 2),
        [json!("yes"), json!("q1")]
    );

    // Binary: several attachments, nested, both ways and in an ack.
    let nested = (
        Bin(&[1, 2, 3]),
        json!("text"),
        (Bin(&[4, 5, 6]), [Bin(&[]), Bin(&[7])]),
    );
    a.emit("/", "message", nested, false).await;
    let (json, attachments) = a.event("/", "message-back").await;
    assert_eq!(
        leading(&json, 3),
        [ph(0), json!("text"), json!([ph(1), [ph(2), ph(3)]])]
    );
    assert_eq!(attachments, [&[1u8, 2, 3][..], &[4, 5, 6], &[], &[7]]);
    #[derive(Serialize)]
    struct K {
        k: Bin,
    }
    a.emit(
        "/",
        "message-with-ack",
        (Bin(&[9]), K { k: Bin(&[8, 8]) }),
        true,
    )
    .await;
    let (json, attachments) = a.ack().await;
    assert_eq!(json, json!([ph(0), {"k": ph(1)}]));
    assert_eq!(attachments, [&[9u8][..], &[8, 8]]);

    // Rooms among three clients: a and b in r1, c in r2.
    b.join("/", None).await;
    let mut c = Peer::new(&url, transport, parser).await;
    c.join("/", None).await;
    for (peer, room) in [(&mut a, "r1"), (&mut b, "r1"), (&mut c, "r2")] {
        peer.emit("/", "join", (room,), true).await;
        assert_eq!(peer.ack().await.0, json!([room]));
    }
    a.emit("/", "to-room", ("r1", "hi"), false).await;
    assert_eq!(
        leading(&b.event("/", "room-message").await.0, 1),
        [json!("hi")]
    );
    c.emit("/", "to-room", ("r2", "echo?"), false).await;
    a.emit("/", "to-room", ("r2", "to c"), false).await;
    assert_eq!(
        leading(&c.event("/", "room-message").await.0, 1),
        [json!("to c")]
    );
    // a got nothing from its own broadcast, c nothing from r1, and nobody the r2 echo.
    a.emit("/", "message", ("marker",), false).await;
    let (json, _) = a
        .expect("the marker", |e| match e {
            ManagerEvent::Event { packet, .. }
                if is(packet, "room-message") || is(packet, "message-back") =>
            {
                Some(args_of(packet))
            }
            _ => None,
        })
        .await;
    assert_eq!(json[0], "message-back", "a received its own room message");

    // Server-side disconnect: no reconnection.
    c.emit("/", "disconnect-me", (), false).await;
    let reason = c
        .expect("disconnect", |e| match e {
            ManagerEvent::Disconnected { reason, .. } => Some(*reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, DisconnectReason::ServerDisconnect);
    assert!(!c.client.with(|m, _| m.is_active("/")).await.unwrap());
    drop(c);
    drop(b);

    // Ping timeout: the frozen server stops pinging; we notice within 300 + 200 ms.
    let pid = server.as_ref().unwrap().child.id();
    signal(pid, "STOP");
    let reason = a
        .expect("ping timeout", |e| match e {
            ManagerEvent::Disconnected { namespace, reason } if namespace.as_str() == "/" => {
                Some(*reason)
            }
            _ => None,
        })
        .await;
    signal(pid, "CONT");
    assert_eq!(reason, DisconnectReason::Engine(CloseReason::PingTimeout));
    a.expect("reconnected", |e| {
        matches!(e, ManagerEvent::Reconnected(_)).then_some(())
    })
    .await;
    a.expect("connected", |e| {
        matches!(e, ManagerEvent::Connected { namespace, .. } if namespace.as_str() == "/")
            .then_some(())
    })
    .await;

    // Restart: the server process dies and comes back on the same port.
    drop(server.take());
    let reason = a
        .expect("disconnect", |e| match e {
            ManagerEvent::Disconnected { namespace, reason } if namespace.as_str() == "/" => {
                Some(*reason)
            }
            _ => None,
        })
        .await;
    assert!(
        matches!(
            reason,
            DisconnectReason::Engine(CloseReason::TransportClose | CloseReason::TransportError)
        ),
        "{reason:?}"
    );
    server = Some(reference_server_with(addr.port(), parser_args(parser)).0);
    a.expect("reconnected", |e| {
        matches!(e, ManagerEvent::Reconnected(_)).then_some(())
    })
    .await;
    a.expect("connected", |e| {
        matches!(e, ManagerEvent::Connected { namespace, .. } if namespace.as_str() == "/")
            .then_some(())
    })
    .await;
    a.emit("/", "message-with-ack", ("after restart",), true)
        .await;
    assert_eq!(a.ack().await.0, json!(["after restart"]));
    drop(a);

    // Recovery: r is cut off, misses an event, comes back with the same id and gets it.
    let mut r = Peer::new(&url, transport, parser).await;
    let sid = r.join("/", None).await;
    r.event("/", "auth").await; // carries an offset: now recoverable
    let mut w = Peer::new(&url, transport, parser).await;
    w.join("/", None).await;
    r.client.cut_transport();
    r.expect("cut", |e| {
        matches!(e, ManagerEvent::Disconnected { .. }).then_some(())
    })
    .await;
    // Let the server notice before emitting, so the event is "missed".
    let mut noticed = false;
    for _ in 0..50 {
        w.emit("/", "last-disconnect-reason", (), true).await;
        if w.ack().await.0 != json!([null]) {
            noticed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(noticed, "the server never saw the cut");
    w.emit("/", "to-all", ("missed-1",), false).await;
    let (recovered_sid, recovered) = r
        .expect("recovered", |e| match e {
            ManagerEvent::Connected { sid, recovered, .. } => Some((sid.clone(), *recovered)),
            _ => None,
        })
        .await;
    assert!(recovered, "not recovered");
    assert_eq!(recovered_sid, sid);
    assert_eq!(
        leading(&r.event("/", "all-message").await.0, 1),
        [json!("missed-1")]
    );
    drop(server);
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

fn run(transport: &str, parser: Parser) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !support::node_available() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(scenario(transport, parser));
}

#[test]
fn against_socket_io_4_8_over_polling() {
    run("polling", Parser::Text);
}

#[test]
fn against_socket_io_4_8_over_websocket() {
    run("websocket", Parser::Text);
}

#[test]
fn against_socket_io_4_8_with_upgrade() {
    run("upgrade", Parser::Text);
}

#[test]
fn against_socket_io_4_8_msgpack_over_polling() {
    run("polling", Parser::Msgpack);
}

#[test]
fn against_socket_io_4_8_msgpack_over_websocket() {
    run("websocket", Parser::Msgpack);
}

#[test]
fn against_socket_io_4_8_msgpack_with_upgrade() {
    run("upgrade", Parser::Msgpack);
}

/// The `client` program with `--parser msgpack` (upgrade): it joins `/` and `/custom` on the
/// msgpack reference server and gets its acks and binary echoes.
#[test]
fn the_client_program_with_msgpack_against_socket_io_4_8() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !support::node_available() {
        return;
    }
    let (server, addr) = reference_server_with(0, parser_args(Parser::Msgpack));
    let mut client = Process::spawn({
        let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
        command.args([
            "--url",
            &format!("http://{addr}"),
            "--transport",
            "upgrade",
            "--rounds",
            "0",
            "--parser",
            "msgpack",
        ]);
        command
    });
    client.wait_for_line("connected to / as ");
    client.wait_for_line("connected to /custom as ");
    // A binary echo: `message-back` with the attachment [1, 2, 3, round] (and an offset).
    let echo = client.wait_for_line("/custom event message-back: ");
    assert!(
        echo.contains(r#"["message-back","binary",{"_placeholder":true,"num":0},""#),
        "{echo}"
    );
    assert!(echo.contains("attachments [[1, 2, 3, "), "{echo}");
    assert!(client.wait_for_line("ack ").starts_with(r#"["round","#));
    client.wait_for_line("ack ");
    assert!(
        client.child.try_wait().unwrap().is_none(),
        "the client stopped"
    );
    drop(client);
    drop(server);
}
