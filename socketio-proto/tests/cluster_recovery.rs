//! Connection state recovery through Redis with the streams adapter, sans-IO: a node's
//! broadcasts wait for their stream entry ids (their offsets), a dropped socket's session
//! goes to Redis as the reference writes it (ADAPTERS.md §4.3, R5), and a CONNECT with a pid
//! and an offset is restored from what Redis returns: the same socket id, its rooms, the
//! missed broadcasts of its rooms (with their entry ids) before the CONNECT reply.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::session::SocketId;
use engineio_proto::session::endpoint::Input;
use engineio_proto::session::server::Transmit;
use socketio_proto::cluster::envelope::{Envelope, Message};
use socketio_proto::cluster::streams::{self, StreamsOptions};
use socketio_proto::cluster::{BroadcastOptions, ClusterNode, Command};
use socketio_proto::session::endpoint::{Endpoint, EndpointConfig, ServerEvent};
use socketio_proto::session::recovery::RecoveryConfig;
use socketio_proto::session::rooms::BroadcastTarget;
use socketio_proto::{Namespace, Packet};

struct Server {
    endpoint: Endpoint,
    node: ClusterNode,
    next_request: u64,
}

impl Server {
    fn new() -> Server {
        let mut n = 0;
        let ids = move || {
            n += 1;
            format!("id{n:018}")
        };
        let config = EndpointConfig {
            recovery: Some(RecoveryConfig::default()),
            ..EndpointConfig::default()
        };
        let options = StreamsOptions {
            recovery: Some(Duration::from_secs(120)),
            ..StreamsOptions::default()
        };
        let namespaces = [(Namespace::main(), "node".to_owned())];
        let mut server = Server {
            endpoint: Endpoint::new(config, Box::new(ids)),
            node: ClusterNode::streams("socket.io", &namespaces, options),
            next_request: 0,
        };
        server.node.attach(&mut server.endpoint);
        server
    }

    /// A client's WebSocket sending `connect` (`40…`); CONNECT requests are admitted, and
    /// handed to the node first, as the driver does.
    fn open(&mut self, now: Instant, connect: &str) -> SocketId {
        self.next_request += 1;
        support::open_websocket(&mut self.endpoint, now, self.next_request, connect)
    }

    /// Runs the events (as a driver's app loop) and returns the text frames sent, in order.
    fn run(&mut self, now: Instant) -> Vec<(SocketId, String)> {
        let mut frames = Vec::new();
        loop {
            if let Some(event) = self.endpoint.poll_event() {
                match event {
                    ServerEvent::ConnectRequest(request) if !self.node.restore(now, &request) => {
                        self.endpoint.accept(now, &request).unwrap();
                    }
                    ServerEvent::SessionKept { session, .. } => self.node.keep_session(&session),
                    _ => {}
                }
                continue;
            }
            match self.endpoint.poll_transmit() {
                // Socket.IO packets (`4…`), not the Engine.IO handshake and heartbeats.
                Some(Transmit::Frame {
                    socket,
                    frame: Frame::Text(text),
                }) if text.starts_with('4') => frames.push((socket, text.as_str().to_owned())),
                Some(_) => {}
                None => return frames,
            }
        }
    }

    fn commands(&mut self) -> Vec<Command> {
        std::iter::from_fn(|| self.node.poll_command()).collect()
    }
}

/// `40{"sid":…,"pid":…}` ⇒ (sid, pid).
fn connect_reply(text: &str) -> (String, String) {
    let reply: serde_json::Value = serde_json::from_str(text.strip_prefix("40").unwrap()).unwrap();
    (
        reply["sid"].as_str().unwrap().to_owned(),
        reply["pid"].as_str().unwrap().to_owned(),
    )
}

/// A stream entry of a broadcast from another node.
fn entry(
    id: &str,
    nsp: &str,
    packet: Packet,
    opts: BroadcastOptions,
) -> (Bytes, Vec<(Bytes, Bytes)>) {
    let envelope = Envelope::new(
        "other",
        nsp,
        Message::Broadcast {
            packet,
            opts,
            request_id: None,
        },
    );
    let field = |k: &'static str, v: Vec<u8>| (Bytes::from_static(k.as_bytes()), Bytes::from(v));
    let fields = vec![
        field("uid", b"other".to_vec()),
        field("nsp", nsp.as_bytes().to_vec()),
        field("type", b"3".to_vec()),
        field("data", envelope.entry_data().unwrap()),
    ];
    (Bytes::copy_from_slice(id.as_bytes()), fields)
}

#[test]
fn broadcasts_wait_for_their_entry_id_and_sessions_are_restored_from_redis() {
    let now = Instant::now();
    let mut server = Server::new();
    let first = server.open(now, "40");
    let frames = server.run(now);
    let (sid, pid) = connect_reply(&frames[0].1);
    let socket = server
        .endpoint
        .sockets(&Namespace::main(), &BroadcastTarget::all());
    server.endpoint.join(&socket[0], "r7");

    // This server's broadcast: appended first, delivered here with its entry id.
    let news = Packet::event(Namespace::main(), "news", &("x",), None).unwrap();
    let all = BroadcastTarget::all();
    server
        .node
        .broadcast_everywhere(now, &mut server.endpoint, news, &all)
        .unwrap();
    assert_eq!(server.run(now), [], "not before its entry id");
    let [
        Command::Append {
            token: Some(token),
            fields,
            ..
        },
    ] = &server.commands()[..]
    else {
        panic!("one append that waits for its id")
    };
    assert_eq!(fields[2], ("type", b"3".to_vec()));
    server
        .node
        .appended(now, &mut server.endpoint, *token, "5-0");
    assert_eq!(
        server.run(now),
        [(first, r#"42["news","x","5-0"]"#.to_owned())]
    );

    // The transport goes away: the session goes to Redis, as the reference writes it.
    server
        .endpoint
        .handle(now, Input::WebSocketClosed { socket: first });
    server.run(now);
    let [Command::KeepSession { key, value, ttl }] = &server.commands()[..] else {
        panic!("the session kept")
    };
    assert_eq!(key, &format!("sio:session:{pid}"));
    assert_eq!(*ttl, Duration::from_secs(120));
    let rooms = vec![sid.clone(), "r7".to_owned()];
    let kept = streams::decode_session(value).unwrap();
    assert_eq!((&kept.sid, &kept.pid, &kept.rooms), (&sid, &pid, &rooms));
    assert_eq!(kept.data, None, "no data: `{{}}`");

    // A new connection asks for it back.
    let auth = format!(r#"40{{"pid":"{pid}","offset":"5-0"}}"#);
    server.open(now, &auth);
    assert_eq!(server.run(now), [], "waiting for Redis");
    let [
        Command::Restore {
            token,
            key: asked,
            stream,
            offset,
        },
    ] = &server.commands()[..]
    else {
        panic!("a restore")
    };
    assert_eq!(
        (asked, stream.as_str(), offset.as_str()),
        (key, "socket.io", "5-0")
    );
    let to = |rooms: &[&str]| BroadcastOptions {
        rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
        ..Default::default()
    };
    let event = |name| Packet::event(Namespace::main(), name, &(), None).unwrap();
    let custom = Packet::event(Namespace::new("/custom").unwrap(), "c", &(), None).unwrap();
    let entries = [
        entry("6-0", "/", event("to-all"), BroadcastOptions::default()),
        entry("6-1", "/", event("to-r7"), to(&["r7"])),
        entry("6-2", "/", event("elsewhere"), to(&["r8"])),
        entry("6-3", "/custom", custom, BroadcastOptions::default()),
        entry(
            "6-4",
            "/",
            event("except-r7"),
            BroadcastOptions {
                except: vec!["r7".into()],
                ..Default::default()
            },
        ),
    ];
    server
        .node
        .restored(now, &mut server.endpoint, *token, Some(value), &entries)
        .unwrap();
    let frames: Vec<String> = server.run(now).into_iter().map(|(_, text)| text).collect();
    assert_eq!(
        frames[..2],
        [r#"42["to-all","6-0"]"#, r#"42["to-r7","6-1"]"#],
        "the missed broadcasts of its rooms first"
    );
    assert_eq!(
        connect_reply(&frames[2]),
        (sid.clone(), pid),
        "then the same ids"
    );
    assert_eq!(frames.len(), 3);
    // Back in its room.
    let back = server
        .endpoint
        .sockets(&Namespace::main(), &BroadcastTarget::to(["r7"]));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].id, sid);
}

#[test]
fn without_a_session_or_a_stream_offset_the_connection_starts_fresh() {
    let now = Instant::now();
    let mut server = Server::new();
    // An offset that is not a stream entry id: accepted at once, fresh.
    server.open(now, r#"40{"pid":"p","offset":"1f"}"#);
    let frames = server.run(now);
    assert_eq!(frames.len(), 1);
    assert!(server.commands().is_empty());
    // A session Redis did not have.
    server.open(now, r#"40{"pid":"p","offset":"1-0"}"#);
    assert_eq!(server.run(now), []);
    let [Command::Restore { token, .. }] = &server.commands()[..] else {
        panic!()
    };
    server
        .node
        .restored(now, &mut server.endpoint, *token, None, &[])
        .unwrap();
    let frames = server.run(now);
    let (sid, _) = connect_reply(&frames[0].1);
    assert_ne!(sid, "p");
}

/// R5: a session a Node.js node wrote, read back.
#[test]
fn r5_a_session_written_by_node() {
    let value = "hKNzaWS0UkJlRmp5Y2JvUTQwMXRnUUFBQUGjcGlktHgxVnBBU2pHUjNIN0gzLU9BQUFCpXJvb21zkrRSQmVGanljYm9RNDAxdGdRQUFBQaVyb29tMaRkYXRhg6R1c2VypWFsaWNlo2JpbsQCAQKhbgc=";
    let session = streams::decode_session(value.as_bytes()).unwrap();
    assert_eq!(session.sid, "RBeFjycboQ401tgQAAAA");
    assert_eq!(session.pid, "x1VpASjGR3H7H3-OAAAB");
    assert_eq!(session.rooms, [session.sid.as_str(), "room1"]);
    // `{user: "alice", bin: Buffer [1, 2], n: 7}`, as JSON shows a Buffer.
    assert_eq!(
        session.data,
        Some(
            serde_json::json!({"user": "alice", "bin": {"type": "Buffer", "data": [1, 2]}, "n": 7})
        )
    );
    // Written back, it reads the same.
    let again = streams::decode_session(&streams::encode_session(&session)).unwrap();
    assert_eq!(again, session);
    assert_eq!(
        streams::next_entry_id("1796133353908-0").as_deref(),
        Some("1796133353908-1")
    );
    assert!(!streams::is_entry_id("1796133353908"));
    assert!(!streams::is_entry_id("-1"));
}

#[test]
fn a_recovery_redis_does_not_answer_in_time_starts_fresh_at_the_requests_timeout() {
    use socketio_proto::cluster::REQUESTS_TIMEOUT;
    let now = Instant::now();
    let mut server = Server::new();
    server.open(now, r#"40{"pid":"p","offset":"1-0"}"#);
    assert_eq!(server.run(now), []);
    let [Command::Restore { token, .. }] = &server.commands()[..] else {
        panic!()
    };
    let token = *token;
    assert_eq!(server.node.poll_timeout(), Some(now + REQUESTS_TIMEOUT));
    let late = now + REQUESTS_TIMEOUT;
    server.node.handle_timeout(late, &mut server.endpoint);
    let frames = server.run(late);
    assert_eq!(frames.len(), 1, "accepted fresh");
    assert_ne!(connect_reply(&frames[0].1).0, "p");
    // Redis's late answer changes nothing.
    server
        .node
        .restored(late, &mut server.endpoint, token, None, &[])
        .unwrap();
    assert_eq!(server.run(late), []);
}
