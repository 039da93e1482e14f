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
use socketio_cluster_proto::envelope::Envelope;
use socketio_cluster_proto::redis::{RedisCommand, RedisInput};
use socketio_cluster_proto::streams::{self, StreamsOptions, StreamsWire};
use socketio_cluster_proto::{BroadcastOptions, ClusterAdapter, ClusterMessage};
use socketio_proto::server::{
    Adapter, BroadcastTarget, Endpoint, EndpointConfig, RecoveryConfig, ServerEvent, SocketRef,
};
use socketio_proto::{Namespace, Packet};

struct Server {
    endpoint: Endpoint,
    next_request: u64,
    /// Each socket that joined, and whether it was recovered.
    connected: Vec<(SocketRef, bool)>,
}

impl Server {
    fn new() -> Server {
        Self::node("node", "id")
    }

    /// A node whose uid is `uid` and whose ids start with `prefix`.
    fn node(uid: &str, prefix: &'static str) -> Server {
        let mut n = 0;
        let ids = move || {
            n += 1;
            format!("{prefix}{n:018}")
        };
        let config = EndpointConfig {
            recovery: Some(RecoveryConfig::default()),
            ..EndpointConfig::default()
        };
        let options = StreamsOptions {
            recovery: Some(Duration::from_secs(120)),
            ..StreamsOptions::default()
        };
        let namespaces = [(Namespace::main(), uid.to_owned())];
        let adapter = ClusterAdapter::new(StreamsWire::new("socket.io", options), &namespaces);
        Server {
            endpoint: Endpoint::with_adapter(config, Box::new(ids), Box::new(adapter)),
            next_request: 0,
            connected: Vec::new(),
        }
    }

    /// A client's WebSocket sending `connect` (`40…`).
    fn open(&mut self, now: Instant, connect: &str) -> SocketId {
        self.next_request += 1;
        support::open_websocket(&mut self.endpoint, now, self.next_request, connect)
    }

    /// Runs the events (as a driver's app loop: every CONNECT is admitted, and the adapter
    /// restores it when it asks to) and returns the text frames sent, in order.
    fn run(&mut self, now: Instant) -> Vec<(SocketId, String)> {
        let mut frames = Vec::new();
        loop {
            if let Some(event) = self.endpoint.poll_event() {
                match event {
                    ServerEvent::ConnectRequest(request) => {
                        self.endpoint.accept(now, &request).unwrap();
                    }
                    ServerEvent::Connected {
                        socket, recovered, ..
                    } => self.connected.push((socket, recovered)),
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

    /// What the adapter asks of Redis, in order.
    fn commands(&mut self, now: Instant) -> Vec<RedisCommand> {
        support::commands::<StreamsWire>(&mut self.endpoint, now)
    }

    /// What Redis answers.
    fn feed(&mut self, now: Instant, input: RedisInput) {
        support::feed::<StreamsWire>(&mut self.endpoint, now, input);
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
        ClusterMessage::Broadcast {
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
    server.endpoint.broadcast(now, news, &all).unwrap();
    assert_eq!(server.run(now), [], "not before its entry id");
    let [
        RedisCommand::Append {
            token: Some(token),
            fields,
            ..
        },
    ] = &server.commands(now)[..]
    else {
        panic!("one append that waits for its id")
    };
    assert_eq!(fields[2], ("type", b"3".to_vec()));
    let token = *token;
    server.feed(
        now,
        RedisInput::Appended {
            token,
            id: "5-0".to_owned(),
        },
    );
    assert_eq!(
        server.run(now),
        [(first, r#"42["news","x","5-0"]"#.to_owned())]
    );

    // The transport goes away: the session goes to Redis, as the reference writes it.
    server
        .endpoint
        .handle(now, Input::WebSocketClosed { socket: first });
    server.run(now);
    let [RedisCommand::KeepSession { key, value, ttl }] = &server.commands(now)[..] else {
        panic!("the session kept")
    };
    let (key, value) = (key.clone(), Bytes::from(value.clone()));
    assert_eq!(key, format!("sio:session:{pid}"));
    assert_eq!(*ttl, Duration::from_secs(120));
    let rooms = vec![sid.clone(), "r7".to_owned()];
    let kept = streams::decode_session(&value).unwrap();
    assert_eq!((&kept.sid, &kept.pid, &kept.rooms), (&sid, &pid, &rooms));
    assert_eq!(kept.data, None, "no data: `{{}}`");

    // A new connection asks for it back.
    let auth = format!(r#"40{{"pid":"{pid}","offset":"5-0"}}"#);
    server.open(now, &auth);
    assert_eq!(server.run(now), [], "waiting for Redis");
    let [
        RedisCommand::Restore {
            token,
            key: asked,
            stream,
            offset,
        },
    ] = &server.commands(now)[..]
    else {
        panic!("a restore")
    };
    assert_eq!(
        (asked, stream.as_str(), offset.as_str()),
        (&key, "socket.io", "5-0")
    );
    let token = *token;
    let to = |rooms: &[&str]| BroadcastOptions {
        rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
        ..Default::default()
    };
    let event = |name| Packet::event(Namespace::main(), name, &(), None).unwrap();
    let custom = Packet::event(Namespace::new("/custom").unwrap(), "c", &(), None).unwrap();
    let entries = vec![
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
    let restored = RedisInput::Restored {
        token,
        session: Some(value),
        entries,
    };
    server.feed(now, restored);
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
    let (socket, recovered) = server.connected.last().unwrap();
    assert_eq!((socket.id.as_str(), *recovered), (sid.as_str(), true));
    // Back in its room.
    let back = server
        .endpoint
        .sockets(&Namespace::main(), &BroadcastTarget::to(["r7"]));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].id, sid);
    assert!(server.commands(now).is_empty());
}

#[test]
fn without_a_session_or_a_stream_offset_the_connection_starts_fresh() {
    let now = Instant::now();
    let mut server = Server::new();
    // An offset that is not a stream entry id: accepted at once, fresh.
    server.open(now, r#"40{"pid":"p","offset":"1f"}"#);
    let frames = server.run(now);
    assert_eq!(frames.len(), 1);
    assert!(server.commands(now).is_empty());
    // A session Redis did not have.
    server.open(now, r#"40{"pid":"p","offset":"1-0"}"#);
    assert_eq!(server.run(now), []);
    let [RedisCommand::Restore { token, .. }] = &server.commands(now)[..] else {
        panic!()
    };
    let restored = RedisInput::Restored {
        token: *token,
        session: None,
        entries: Vec::new(),
    };
    server.feed(now, restored);
    let frames = server.run(now);
    let (sid, _) = connect_reply(&frames[0].1);
    assert_ne!(sid, "p");
    assert!(server.connected.iter().all(|(_, recovered)| !recovered));
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
    use socketio_proto::server::REQUESTS_TIMEOUT;
    let now = Instant::now();
    let mut server = Server::new();
    server.open(now, r#"40{"pid":"p","offset":"1-0"}"#);
    assert_eq!(server.run(now), []);
    let [RedisCommand::Restore { token, .. }] = &server.commands(now)[..] else {
        panic!()
    };
    let token = *token;
    let adapter = support::adapter::<StreamsWire>(&server.endpoint);
    assert_eq!(adapter.poll_timeout(), Some(now + REQUESTS_TIMEOUT));
    assert_eq!(server.endpoint.poll_timeout(), Some(now + REQUESTS_TIMEOUT));
    let late = now + REQUESTS_TIMEOUT;
    server.endpoint.handle_timeout(late);
    let frames = server.run(late);
    assert_eq!(frames.len(), 1, "accepted fresh");
    assert_ne!(connect_reply(&frames[0].1).0, "p");
    assert_eq!(
        support::adapter::<StreamsWire>(&server.endpoint).poll_timeout(),
        None
    );
    // Redis's late answer changes nothing.
    let restored = RedisInput::Restored {
        token,
        session: None,
        entries: Vec::new(),
    };
    server.feed(late, restored);
    assert_eq!(server.run(late), []);
    assert_eq!(server.connected.len(), 1);
}

/// The Redis of two nodes: one stream, the sessions' keys, ids `‹n›-0`.
#[derive(Default)]
struct Redis {
    stream: Vec<(Bytes, Vec<(Bytes, Bytes)>)>,
    keys: std::collections::HashMap<String, Vec<u8>>,
}

impl Redis {
    /// Carries out every node's commands and hands every node the stream's new entries,
    /// until nothing moves; returns the text frames each node sent meanwhile.
    fn run(&mut self, nodes: &mut [&mut Server], now: Instant) -> Vec<Vec<(SocketId, String)>> {
        let mut frames = vec![Vec::new(); nodes.len()];
        let mut read = vec![self.stream.len(); nodes.len()];
        loop {
            let mut moved = false;
            for (at, node) in nodes.iter_mut().enumerate() {
                frames[at].extend(node.run(now));
                for command in node.commands(now) {
                    moved = true;
                    match command {
                        RedisCommand::Append {
                            stream,
                            fields,
                            token,
                            ..
                        } => {
                            assert_eq!(stream, "socket.io");
                            let id = format!("{}-0", self.stream.len() + 1);
                            let fields = fields
                                .into_iter()
                                .map(|(k, v)| (Bytes::from_static(k.as_bytes()), Bytes::from(v)))
                                .collect();
                            self.stream.push((Bytes::from(id.clone()), fields));
                            if let Some(token) = token {
                                node.feed(now, RedisInput::Appended { token, id });
                            }
                        }
                        RedisCommand::KeepSession { key, value, .. } => {
                            self.keys.insert(key, value);
                        }
                        RedisCommand::Restore {
                            token, key, offset, ..
                        } => {
                            // `GET`+`DEL`, and the entries after the offset when it is there.
                            let session = self.keys.remove(&key);
                            let at = self
                                .stream
                                .iter()
                                .position(|(id, _)| id[..] == *offset.as_bytes());
                            let (session, entries) = match (session, at) {
                                (Some(session), Some(at)) => {
                                    (Some(Bytes::from(session)), self.stream[at + 1..].to_vec())
                                }
                                _ => (None, Vec::new()),
                            };
                            let restored = RedisInput::Restored {
                                token,
                                session,
                                entries,
                            };
                            node.feed(now, restored);
                        }
                        other => panic!("not in this test: {other:?}"),
                    }
                }
            }
            for (at, node) in nodes.iter_mut().enumerate() {
                for (id, fields) in self.stream[read[at]..].iter().cloned() {
                    moved = true;
                    node.feed(now, RedisInput::Entry { id, fields });
                }
                read[at] = self.stream.len();
            }
            if !moved {
                for (at, node) in nodes.iter_mut().enumerate() {
                    frames[at].extend(node.run(now));
                }
                return frames;
            }
        }
    }
}

/// The reason for a shared store: a client of node B, dropped, recovers on node A, with what
/// both nodes broadcast meanwhile to its rooms, and both nodes' broadcasts reach it there
/// with their entry ids.
#[test]
fn a_session_kept_by_one_node_is_recovered_on_another() {
    let now = Instant::now();
    let mut redis = Redis::default();
    let (mut a, mut b) = (Server::node("nodeA", "a"), Server::node("nodeB", "b"));
    let first = b.open(now, "40");
    let frames = redis.run(&mut [&mut a, &mut b], now);
    let (sid, pid) = connect_reply(&frames[1][0].1);
    let socket = b
        .endpoint
        .sockets(&Namespace::main(), &BroadcastTarget::all());
    b.endpoint.join(&socket[0], "r7");

    // A's broadcast reaches B's client with its entry id.
    let event = |name| Packet::event(Namespace::main(), name, &(), None).unwrap();
    let all = BroadcastTarget::all();
    a.endpoint.broadcast(now, event("news"), &all).unwrap();
    let frames = redis.run(&mut [&mut a, &mut b], now);
    assert_eq!(frames[1], [(first, r#"42["news","1-0"]"#.to_owned())]);
    // B's own event to it takes the stream too (the reference's `socket.emit` with
    // recovery), so that its offset is one any node knows.
    b.endpoint.emit(now, &socket[0], event("direct")).unwrap();
    let frames = redis.run(&mut [&mut a, &mut b], now);
    assert_eq!(frames[1], [(first, r#"42["direct","2-0"]"#.to_owned())]);

    // The client drops; while it is away, both nodes broadcast.
    b.endpoint
        .handle(now, Input::WebSocketClosed { socket: first });
    redis.run(&mut [&mut a, &mut b], now);
    assert_eq!(redis.keys.len(), 1, "its session is in Redis");
    let r7 = BroadcastTarget::to(["r7"]);
    a.endpoint.broadcast(now, event("a-to-r7"), &r7).unwrap();
    let r8 = BroadcastTarget::to(["r8"]);
    b.endpoint.broadcast(now, event("b-to-r8"), &r8).unwrap();
    b.endpoint.broadcast(now, event("b-to-all"), &all).unwrap();
    let frames = redis.run(&mut [&mut a, &mut b], now);
    assert_eq!(frames, [[], []], "nobody to deliver to");

    // It comes back on A.
    a.open(now, &format!(r#"40{{"pid":"{pid}","offset":"2-0"}}"#));
    let frames = redis.run(&mut [&mut a, &mut b], now);
    let texts: Vec<&str> = frames[0].iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(
        texts[..2],
        [r#"42["a-to-r7","3-0"]"#, r#"42["b-to-all","5-0"]"#],
        "what it missed, from both nodes"
    );
    assert_eq!(connect_reply(texts[2]), (sid.clone(), pid), "the same ids");
    assert_eq!(texts.len(), 3);
    assert!(frames[1].is_empty());
    assert!(redis.keys.is_empty(), "the session was taken");
    let (socket, recovered) = a.connected.last().unwrap();
    assert_eq!((socket.id.as_str(), *recovered), (sid.as_str(), true));

    // In its room on A: B's broadcasts to it reach it there.
    b.endpoint.broadcast(now, event("b-to-r7"), &r7).unwrap();
    let frames = redis.run(&mut [&mut a, &mut b], now);
    let texts: Vec<&str> = frames[0].iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(texts, [r#"42["b-to-r7","6-0"]"#]);
    let fetched = a
        .endpoint
        .sockets(&Namespace::main(), &BroadcastTarget::to(["r7"]));
    assert_eq!(fetched.len(), 1);
}
