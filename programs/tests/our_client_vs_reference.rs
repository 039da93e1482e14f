//! Our client (`socketio_tokio::client`) against the official `socket.io` 4.8.4 server
//! running the interop app (`interop/reference-server.mjs`, recovery on), over polling only,
//! WebSocket only, and polling upgraded to WebSocket: three namespaces on one connection,
//! auth and refusals, events and acks both ways with nested binary, rooms among three
//! clients, server-side disconnect, ping timeout (the server process is frozen with
//! SIGSTOP), reconnection after the server restarts, and connection state recovery after a
//! cut on either side. The same scenario runs with `socket.io-msgpack-parser` 3.0.2 on both
//! sides (`Builder::parser`, `reference-server.mjs --parser msgpack`), and against our own
//! server (`conformance-server --mode interop`, the same app; all but the server-side cut,
//! which the interop app has only in its reference). Protocol v4 runs against the official
//! socket.io 2.5.0 server (`interop/reference-server-v2.mjs`): two namespaces, events and
//! acks both ways with binary. The `client` program with `--parser msgpack` joins, gets acks
//! and binary echoes from the msgpack reference server.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use engineio_proto::session::CloseReason;
use serde::Serialize;
use serde_json::{Value, json};
use socketio_proto::client::{ConnectError, DisconnectReason};
use socketio_proto::{Packet, Parser, ProtocolVersion};
use socketio_tokio::Event;
use socketio_tokio::client::{Ack, Client, Error, Transports};
use support::{Process, node_server, our_server_with, reference_server_with};
use tokio::sync::mpsc;

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

/// What a peer's handlers saw, in order.
#[derive(Debug)]
enum Seen {
    Connected {
        sid: String,
        recovered: bool,
    },
    Event {
        namespace: String,
        packet: Packet,
        ack: Ack,
    },
    Disconnected(DisconnectReason),
    Reconnected,
}

/// A client (one connection, its namespaces) and what its handlers saw but no test step
/// consumed yet.
struct Peer {
    main: Client,
    namespaces: HashMap<&'static str, Client>,
    seen: mpsc::UnboundedReceiver<Seen>,
    recorder: mpsc::UnboundedSender<Seen>,
    transport: String,
}

impl Peer {
    fn new(url: &str, transport: &str, parser: Parser) -> Peer {
        Peer::with_protocol(url, transport, parser, ProtocolVersion::V5)
    }

    fn with_protocol(url: &str, transport: &str, parser: Parser, version: ProtocolVersion) -> Peer {
        let transports = match transport {
            "polling" => Transports::Polling,
            "websocket" => Transports::WebSocket,
            _ => Transports::Upgrade,
        };
        let main = Client::builder(url)
            .transports(transports)
            .parser(parser)
            .protocol(version)
            .reconnection_delay(Duration::from_millis(100))
            .reconnection_delay_max(Duration::from_millis(500))
            .randomization_factor(0.0)
            .build()
            .unwrap();
        let (recorder, seen) = mpsc::unbounded_channel();
        let reconnected = recorder.clone();
        main.on_reconnect(move |_, _| {
            let _ = reconnected.send(Seen::Reconnected);
        });
        Peer {
            main,
            namespaces: HashMap::new(),
            seen,
            recorder,
            transport: format!("{transport}, {parser:?}"),
        }
    }

    /// The handle of `namespace`, its events recorded.
    fn client(&mut self, namespace: &'static str) -> Client {
        if let Some(client) = self.namespaces.get(namespace) {
            return client.clone();
        }
        let client = if namespace == "/" {
            self.main.clone()
        } else {
            self.main.socket(namespace).unwrap()
        };
        let record = self.recorder.clone();
        client.on_fallback(move |client: Client, event: Event, ack: Ack| {
            let namespace = client.namespace().as_str().to_owned();
            let packet = event.into_packet();
            let _ = record.send(Seen::Event {
                namespace,
                packet,
                ack,
            });
        });
        let record = self.recorder.clone();
        client.on_connect(move |client: Client| {
            let sid = client.id().unwrap();
            let recovered = client.recovered();
            let _ = record.send(Seen::Connected { sid, recovered });
        });
        let record = self.recorder.clone();
        client.on_disconnect(move |_, reason| {
            let _ = record.send(Seen::Disconnected(reason));
        });
        self.namespaces.insert(namespace, client.clone());
        client
    }

    /// Waits for the first thing seen that `pick` maps to a value, dropping the others.
    async fn expect<T>(&mut self, what: &str, mut pick: impl FnMut(Seen) -> Option<T>) -> T {
        let found = tokio::time::timeout(WAIT, async {
            loop {
                let seen = self.seen.recv().await.expect("client running");
                if let Some(value) = pick(seen) {
                    return value;
                }
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("[{}] timed out waiting for {what}", self.transport))
    }

    /// Joins `namespace` (with `auth`); its socket id.
    async fn join(
        &mut self,
        namespace: &'static str,
        auth: Option<Value>,
    ) -> Result<String, Error> {
        let client = self.client(namespace);
        if let Some(auth) = auth {
            client.set_auth(&auth).unwrap();
        }
        tokio::time::timeout(WAIT, client.connect())
            .await
            .unwrap_or_else(|_| panic!("[{}] joining {namespace} timed out", self.transport))?;
        Ok(client.id().unwrap())
    }

    fn emit<T: Serialize>(&mut self, namespace: &'static str, event: &str, args: T) {
        self.client(namespace).emit(event, &args).unwrap();
    }

    /// Emits with an ack; the ack's arguments as JSON, and its attachments.
    async fn emit_ack<T: Serialize>(&mut self, event: &str, args: T) -> (Value, Vec<Bytes>) {
        let ack = self
            .client("/")
            .timeout(WAIT)
            .emit_with_ack_event(event, &args)
            .await
            .unwrap_or_else(|e| panic!("[{}] no ack to {event}: {e}", self.transport));
        args_of(ack.packet())
    }

    /// The next `name` event on `namespace`: its JSON arguments, attachments and ack.
    async fn event_ack(&mut self, namespace: &str, name: &str) -> (Value, Vec<Bytes>, Ack) {
        self.expect(name, |seen| match seen {
            Seen::Event {
                namespace: ns,
                packet,
                ack,
            } if ns == namespace && is(&packet, name) => {
                let (json, attachments) = args_of(&packet);
                Some((json, attachments, ack))
            }
            _ => None,
        })
        .await
    }

    async fn event(&mut self, namespace: &str, name: &str) -> (Value, Vec<Bytes>) {
        let (json, attachments, _) = self.event_ack(namespace, name).await;
        (json, attachments)
    }

    async fn disconnected(&mut self) -> DisconnectReason {
        self.expect("disconnect", |seen| match seen {
            Seen::Disconnected(reason) => Some(reason),
            _ => None,
        })
        .await
    }

    async fn reconnected(&mut self) {
        self.expect("reconnected", |seen| {
            matches!(seen, Seen::Reconnected).then_some(())
        })
        .await;
        self.expect("connected", |seen| {
            matches!(seen, Seen::Connected { .. }).then_some(())
        })
        .await;
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

fn refusal(result: Result<String, Error>) -> String {
    match result {
        Err(Error::Connect(ConnectError::Refused { message, .. })) => message,
        other => panic!("not refused: {other:?}"),
    }
}

/// Which server a scenario runs against: both run the interop app with recovery on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Against {
    /// The official socket.io 4.8.4 (`interop/reference-server.mjs`).
    Reference,
    /// Ours (`conformance-server --mode interop`).
    Ours,
}

fn start(against: Against, port: u16, parser: Parser) -> (Process, std::net::SocketAddr) {
    match against {
        Against::Reference => reference_server_with(port, parser_args(parser)),
        Against::Ours => our_server_with("interop", port, parser_args(parser)),
    }
}

async fn scenario(against: Against, transport: &str, parser: Parser) {
    let (server, addr) = start(against, 0, parser);
    let url = format!("http://{addr}");
    let mut server = Some(server);

    // Namespaces (three over one connection) and auth.
    let mut a = Peer::new(&url, transport, parser);
    a.join("/", None).await.unwrap();
    assert_eq!(leading(&a.event("/", "auth").await.0, 1), [json!({})]);
    a.join("/custom", Some(json!({"token": "abc"})))
        .await
        .unwrap();
    assert_eq!(
        leading(&a.event("/custom", "auth").await.0, 1),
        [json!({"token": "abc"})]
    );
    a.join("/private", Some(json!({"token": "secret"})))
        .await
        .unwrap();
    let mut b = Peer::new(&url, transport, parser);
    let refused = b.join("/private", Some(json!({"token": "nope"}))).await;
    assert_eq!(refusal(refused), "not authorized");
    assert_eq!(refusal(b.join("/random", None).await), "Invalid namespace");

    // Events and acks, both ways.
    a.emit("/", "message", (1, "2", json!({"3": [true]})));
    assert_eq!(
        leading(&a.event("/", "message-back").await.0, 3),
        [json!(1), json!("2"), json!({"3": [true]})]
    );
    let (ack, _) = a
        .emit_ack("message-with-ack", (1, "2", json!({"3": [false]})))
        .await;
    assert_eq!(ack, json!([1, "2", {"3": [false]}]));
    a.emit("/", "ask-client", ("q1",));
    let (question, _, ack) = a.event_ack("/", "question").await;
    assert_eq!(question, json!(["question", "q1"]));
    assert!(ack.is_requested());
    ack.send(&("yes", Bin(&[5, 6]))).unwrap();
    let (answer, attachments) = a.event("/", "answer").await;
    assert_eq!(leading(&answer, 2), [json!("yes"), ph(0)]);
    assert_eq!(attachments, [&[5u8, 6][..]]);

    // Binary: several attachments, nested, both ways and in an ack.
    let nested = (
        Bin(&[1, 2, 3]),
        json!("text"),
        (Bin(&[4, 5, 6]), [Bin(&[]), Bin(&[7])]),
    );
    a.emit("/", "message", nested);
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
    let (json, attachments) = a
        .emit_ack("message-with-ack", (Bin(&[9]), K { k: Bin(&[8, 8]) }))
        .await;
    assert_eq!(json, json!([ph(0), {"k": ph(1)}]));
    assert_eq!(attachments, [&[9u8][..], &[8, 8]]);

    // Rooms among three clients: a and b in r1, c in r2.
    b.join("/", None).await.unwrap();
    let mut c = Peer::new(&url, transport, parser);
    c.join("/", None).await.unwrap();
    for (peer, room) in [(&mut a, "r1"), (&mut b, "r1"), (&mut c, "r2")] {
        assert_eq!(peer.emit_ack("join", (room,)).await.0, json!([room]));
    }
    a.emit("/", "to-room", ("r1", "hi"));
    assert_eq!(
        leading(&b.event("/", "room-message").await.0, 1),
        [json!("hi")]
    );
    c.emit("/", "to-room", ("r2", "echo?"));
    a.emit("/", "to-room", ("r2", "to c"));
    assert_eq!(
        leading(&c.event("/", "room-message").await.0, 1),
        [json!("to c")]
    );
    // a got nothing from its own broadcast, c nothing from r1, and nobody the r2 echo.
    a.emit("/", "message", ("marker",));
    let json = a
        .expect("the marker", |seen| match seen {
            Seen::Event { packet, .. }
                if is(&packet, "room-message") || is(&packet, "message-back") =>
            {
                Some(args_of(&packet).0)
            }
            _ => None,
        })
        .await;
    assert_eq!(json[0], "message-back", "a received its own room message");

    // Server-side disconnect: no reconnection.
    c.emit("/", "disconnect-me", ());
    assert_eq!(c.disconnected().await, DisconnectReason::ServerDisconnect);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!c.main.connected(), "reconnected after a server disconnect");
    drop(c);
    drop(b);

    // Ping timeout: the frozen server stops pinging; we notice within 300 + 200 ms.
    let pid = server.as_ref().unwrap().child.id();
    signal(pid, "STOP");
    let reason = a.disconnected().await;
    signal(pid, "CONT");
    assert_eq!(reason, DisconnectReason::Engine(CloseReason::PingTimeout));
    a.reconnected().await;

    // Restart: the server process dies and comes back on the same port.
    drop(server.take());
    let reason = a.disconnected().await;
    assert!(
        matches!(
            reason,
            DisconnectReason::Engine(CloseReason::TransportClose | CloseReason::TransportError)
        ),
        "{reason:?}"
    );
    server = Some(start(against, addr.port(), parser).0);
    a.reconnected().await;
    let (ack, _) = a.emit_ack("message-with-ack", ("after restart",)).await;
    assert_eq!(ack, json!(["after restart"]));
    drop(a);

    // Recovery: r is cut off, misses an event, comes back with the same id and gets it.
    let mut r = Peer::new(&url, transport, parser);
    let sid = r.join("/", None).await.unwrap();
    r.event("/", "auth").await; // carries an offset: now recoverable
    let mut w = Peer::new(&url, transport, parser);
    w.join("/", None).await.unwrap();
    r.main.cut_transport();
    r.disconnected().await;
    // Let the server notice before emitting, so the event is "missed".
    let mut noticed = false;
    for _ in 0..50 {
        if w.emit_ack("last-disconnect-reason", ()).await.0 != json!([null]) {
            noticed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(noticed, "the server never saw the cut");
    w.emit("/", "to-all", ("missed-1",));
    let (recovered_sid, recovered) = r
        .expect("recovered", |seen| match seen {
            Seen::Connected { sid, recovered } => Some((sid, recovered)),
            _ => None,
        })
        .await;
    assert!(recovered, "not recovered");
    assert!(r.main.recovered());
    assert_eq!(recovered_sid, sid);
    assert_eq!(
        leading(&r.event("/", "all-message").await.0, 1),
        [json!("missed-1")]
    );

    // Recovery after a server-side cut: the server closes r's connection under it and
    // broadcasts at once; r comes back recovered and gets what it missed.
    if against == Against::Reference {
        r.emit("/", "cut-transport", ());
        let reason = r.disconnected().await;
        assert!(matches!(reason, DisconnectReason::Engine(_)), "{reason:?}");
        let recovered = r
            .expect("recovered", |seen| match seen {
                Seen::Connected { recovered, .. } => Some(recovered),
                _ => None,
            })
            .await;
        assert!(recovered, "not recovered after the server's cut");
        assert_eq!(
            leading(&r.event("/", "all-message").await.0, 1),
            [json!("missed-by-cut")]
        );
    }
    drop(server);
}

/// Protocol v4 against the official socket.io 2.5.0 server: two namespaces on one
/// connection, events and acks both ways with binary.
async fn scenario_v2(transport: &str) {
    let (server, addr) = node_server("reference-server-v2.mjs", 0, &[]);
    let url = format!("http://{addr}");
    let mut a = Peer::with_protocol(&url, transport, Parser::Text, ProtocolVersion::V4);
    a.join("/", None).await.unwrap();
    assert_eq!(a.event("/", "auth").await.0, json!(["auth", {}]));
    a.join("/custom", None).await.unwrap();
    assert_eq!(a.event("/custom", "auth").await.0, json!(["auth", {}]));
    a.emit("/custom", "message", (Bin(&[1, 2]), json!({"k": [true]})));
    let (json, attachments) = a.event("/custom", "message-back").await;
    assert_eq!(json, json!(["message-back", ph(0), {"k": [true]}]));
    assert_eq!(attachments, [&[1u8, 2][..]]);
    let (json, attachments) = a.emit_ack("message-with-ack", ("x", Bin(&[3]))).await;
    assert_eq!(json, json!(["x", ph(0)]));
    assert_eq!(attachments, [&[3u8][..]]);
    a.emit("/", "ask-client", ("q",));
    let (question, _, ack) = a.event_ack("/", "question").await;
    assert_eq!(question, json!(["question", "q"]));
    ack.send(&(Bin(&[4]),)).unwrap();
    let (json, attachments) = a.event("/", "answer").await;
    assert_eq!(json, json!(["answer", ph(0)]));
    assert_eq!(attachments, [&[4u8][..]]);
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
    run_against(Against::Reference, transport, parser);
}

fn run_against(against: Against, transport: &str, parser: Parser) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !support::node_available() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(scenario(against, transport, parser));
}

fn run_v2(transport: &str) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !support::node_available() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(scenario_v2(transport));
}

#[test]
fn protocol_v4_against_socket_io_2_5_over_polling() {
    run_v2("polling");
}

#[test]
fn protocol_v4_against_socket_io_2_5_over_websocket() {
    run_v2("websocket");
}

#[test]
fn protocol_v4_against_socket_io_2_5_with_upgrade() {
    run_v2("upgrade");
}

#[test]
fn against_our_server_with_upgrade() {
    run_against(Against::Ours, "upgrade", Parser::Text);
}

#[test]
fn against_our_server_msgpack_over_websocket() {
    run_against(Against::Ours, "websocket", Parser::Msgpack);
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
