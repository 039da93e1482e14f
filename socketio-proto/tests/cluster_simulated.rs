//! Several of our nodes in one cluster, classic, sharded or streams, sans-IO: each an
//! `Endpoint` with a `ClusterNode`, joined by an in-memory Redis (Pub/Sub with pattern, exact
//! and per-room subscriptions, delivery in publish order; one stream every node reads),
//! clients over simulated WebSockets. Property: every client
//! receives each broadcast exactly once when the broadcast's rooms and exceptions select it,
//! and never otherwise, whichever node it came from; `socketsJoin` from any node moves
//! sockets on every node; requests from any node (`fetchSockets`, `allRooms`,
//! `serverSideEmitWithAck`, `serverCount`) collect every node's answer, and time out as the
//! reference's do when a server stays silent.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::session::SocketId;
use engineio_proto::session::endpoint::Input;
use engineio_proto::session::server::Transmit;
use proptest::prelude::*;
use socketio_proto::cluster::classic::Request;
use socketio_proto::cluster::sharded::SubscriptionMode;
use socketio_proto::cluster::{
    Answers, BroadcastOptions, ClusterNode, Command, Mode, REQUESTS_TIMEOUT, Reply,
};
use socketio_proto::session::endpoint::{Endpoint, EndpointConfig, ServerEvent, SocketRef};
use socketio_proto::session::rooms::BroadcastTarget;
use socketio_proto::{Namespace, Packet};

const ROOMS: [&str; 3] = ["r0", "r1", "r2"];

struct Server {
    endpoint: Endpoint,
    node: ClusterNode,
    /// Event names each client (by socket id) received, in order.
    received: HashMap<String, Vec<String>>,
    /// Socket id of each WebSocket.
    sids: HashMap<SocketId, String>,
    sockets: Vec<SocketRef>,
    next_request: u64,
    /// Room channels the node subscribed to (sharded, dynamic).
    rooms: BTreeSet<String>,
    /// The clients do not answer acks.
    silent: bool,
}

const SHARDED: Mode = Mode::Sharded(SubscriptionMode::Dynamic);

impl Server {
    fn new(index: usize) -> Server {
        Self::with_mode(index, Mode::Classic)
    }

    fn with_mode(index: usize, mode: Mode) -> Server {
        let mut n = 0;
        let ids = move || {
            n += 1;
            format!("n{index}s{n}")
        };
        let uid = format!("node{index}");
        let namespaces = [(Namespace::main(), uid)];
        let mut server = Server {
            endpoint: Endpoint::new(EndpointConfig::default(), Box::new(ids)),
            node: match mode {
                Mode::Classic => ClusterNode::classic("socket.io", &namespaces),
                Mode::Sharded(subscription) => {
                    ClusterNode::sharded("socket.io", &namespaces, subscription)
                }
                Mode::Streams => ClusterNode::streams("socket.io", &namespaces, Default::default()),
            },
            received: HashMap::new(),
            sids: HashMap::new(),
            sockets: Vec::new(),
            next_request: 0,
            rooms: BTreeSet::new(),
            silent: false,
        };
        server.node.attach(&mut server.endpoint);
        server
    }

    fn subscribed(&self, channel: &str) -> bool {
        let (patterns, channels) = self.node.subscriptions();
        let by_pattern = patterns
            .iter()
            .any(|p| channel.starts_with(p.trim_end_matches('*')));
        by_pattern || channels.iter().any(|c| c == channel) || self.rooms.contains(channel)
    }

    /// A client that joins `/`.
    fn connect(&mut self, now: Instant) -> SocketRef {
        self.next_request += 1;
        let socket = support::open_websocket(&mut self.endpoint, now, self.next_request, "40");
        self.drive(now);
        let socket_ref = self.sockets.last().unwrap().clone();
        self.sids.insert(socket, socket_ref.id.clone());
        self.received.insert(socket_ref.id.clone(), Vec::new());
        socket_ref
    }

    fn drive(&mut self, now: Instant) {
        self.node.sync_rooms(&mut self.endpoint);
        let mut answers = Vec::new();
        loop {
            if let Some(event) = self.endpoint.poll_event() {
                match event {
                    ServerEvent::ConnectRequest(request) => {
                        self.endpoint.accept(now, &request).unwrap()
                    }
                    ServerEvent::Connected { socket, .. } => self.sockets.push(socket),
                    // As a driver does: acks of cluster broadcasts go to the node.
                    ServerEvent::Ack { socket, packet } => {
                        assert!(self.node.acknowledged(&socket, &packet));
                    }
                    ServerEvent::AckTimeout { socket, ack_id } => {
                        assert!(self.node.forget(&socket, ack_id));
                    }
                    _ => {}
                }
                continue;
            }
            match self.endpoint.poll_transmit() {
                Some(Transmit::Frame {
                    socket,
                    frame: Frame::Text(text),
                }) => {
                    // `42[id]["name",…]`: keep the event name; answer an ack id with the
                    // socket id (unless the clients are silent).
                    if let (Some(sid), Some(rest)) =
                        (self.sids.get(&socket), text.strip_prefix("42"))
                    {
                        let json = rest.trim_start_matches(|c: char| c.is_ascii_digit());
                        let id = &rest[..rest.len() - json.len()];
                        let args: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
                        let name = args[0].as_str().unwrap().to_owned();
                        self.received.get_mut(sid).unwrap().push(name);
                        if !id.is_empty() && !self.silent {
                            answers.push((socket, format!("43{id}[\"{sid}\"]")));
                        }
                    }
                }
                Some(_) => {}
                None if answers.is_empty() => return,
                None => {
                    for (socket, answer) in answers.drain(..) {
                        let frame = Frame::Text(answer.into());
                        self.endpoint
                            .handle(now, Input::WebSocketFrame { socket, frame });
                    }
                }
            }
        }
    }
}

/// The in-memory Redis: every published message reaches every node subscribed to its
/// channel (exactly or by pattern), in publish order; `PUBSUB NUMSUB` counts the nodes plus
/// `silent` subscribers that never answer. Each node answers a `serverSideEmit` with acks
/// with its uid.
fn deliver_with(servers: &mut [Server], now: Instant, silent: usize) {
    loop {
        let mut published = Vec::new();
        let mut appended = Vec::new();
        for server in servers.iter_mut() {
            server.drive(now);
            while let Some(command) = server.node.poll_command() {
                match command {
                    Command::Publish { channel, message } => published.push((channel, message)),
                    Command::Append { stream, fields, .. } => {
                        assert_eq!(stream, "socket.io");
                        let fields: Vec<(Bytes, Bytes)> = fields
                            .into_iter()
                            .map(|(k, v)| (Bytes::from_static(k.as_bytes()), Bytes::from(v)))
                            .collect();
                        appended.push(fields);
                    }
                    Command::CountServers { request, channel } => {
                        assert!(channel.starts_with("socket.io"), "{channel}");
                        server.node.servers_counted(request, 3 + silent);
                    }
                    Command::Subscribe { channel } => assert!(server.rooms.insert(channel)),
                    Command::Unsubscribe { channel } => assert!(server.rooms.remove(&channel)),
                    other => panic!("not in these tests: {other:?}"),
                }
            }
        }
        if published.is_empty() && appended.is_empty() {
            return;
        }
        // Every node reads every entry of the stream, in order.
        for fields in appended {
            for (index, server) in servers.iter_mut().enumerate() {
                let emit = server
                    .node
                    .handle_entry(now, &mut server.endpoint, b"1-0", &fields);
                assert!(
                    emit.is_none(),
                    "node {index}: no serverSideEmit goes to the stream"
                );
                server.drive(now);
            }
        }
        for (channel, payload) in published {
            for (index, server) in servers.iter_mut().enumerate() {
                if server.subscribed(&channel) {
                    let payload = Bytes::from(payload.clone());
                    let emit = server
                        .node
                        .handle(now, &mut server.endpoint, &channel, payload);
                    if let Some(emit) = emit.filter(|e| e.request_id.is_some()) {
                        server.node.answer(&emit, &format!("\"node{index}\""));
                    }
                    server.drive(now);
                }
            }
        }
    }
}

fn deliver(servers: &mut [Server], now: Instant) {
    deliver_with(servers, now, 0);
}

#[derive(Debug, Clone)]
enum Step {
    Join {
        server: usize,
        client: usize,
        room: usize,
    },
    Broadcast {
        server: usize,
        rooms: Vec<usize>,
        except: Vec<usize>,
    },
    SocketsJoin {
        server: usize,
        from: usize,
        to: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize, 0..3usize, 0..3usize).prop_map(|(server, client, room)| Step::Join {
            server,
            client,
            room
        }),
        (
            0..3usize,
            prop::collection::vec(0..3usize, 0..3),
            prop::collection::vec(0..3usize, 0..2)
        )
            .prop_map(|(server, rooms, except)| Step::Broadcast {
                server,
                rooms,
                except
            }),
        (0..3usize, 0..3usize, 0..3usize).prop_map(|(server, from, to)| Step::SocketsJoin {
            server,
            from,
            to
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_selected_client_gets_each_broadcast_exactly_once(
        steps in prop::collection::vec(step(), 1..25),
        mode in prop_oneof![Just(Mode::Classic), Just(SHARDED), Just(Mode::Streams)],
    ) {
        let now = Instant::now();
        let mut servers: Vec<Server> = (0..3).map(|i| Server::with_mode(i, mode)).collect();
        let mut clients: Vec<Vec<SocketRef>> = Vec::new();
        for server in &mut servers {
            clients.push((0..3).map(|_| server.connect(now)).collect());
        }
        // The model: each client's rooms and the events it must receive.
        let mut rooms: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut expected: HashMap<String, Vec<String>> = HashMap::new();
        for socket in clients.iter().flatten() {
            rooms.insert(socket.id.clone(), BTreeSet::from([socket.id.clone()]));
            expected.insert(socket.id.clone(), Vec::new());
        }
        for (n, step) in steps.iter().enumerate() {
            match step {
                Step::Join { server, client, room } => {
                    let socket = clients[*server][*client].clone();
                    servers[*server].endpoint.join(&socket, ROOMS[*room]);
                    rooms.get_mut(&socket.id).unwrap().insert(ROOMS[*room].to_owned());
                }
                Step::Broadcast { server, rooms: to, except } => {
                    let name = format!("b{n}");
                    let target = BroadcastTarget::to(to.iter().map(|r| ROOMS[*r]))
                        .except(except.iter().map(|r| ROOMS[*r]));
                    let packet = Packet::event(Namespace::main(), &name, &(), None).unwrap();
                    let s = &mut servers[*server];
                    s.node.broadcast(&packet, &target);
                    s.endpoint.broadcast(now, packet, &target).unwrap();
                    s.drive(now);
                    for (sid, joined) in &rooms {
                        let selected = target.rooms.is_empty() || target.rooms.iter().any(|r| joined.contains(r));
                        let excluded = target.except.iter().any(|r| joined.contains(r));
                        if selected && !excluded {
                            expected.get_mut(sid).unwrap().push(name.clone());
                        }
                    }
                }
                Step::SocketsJoin { server, from, to } => {
                    // `io.in(from).socketsJoin(to)` on that node: every node applies it (the
                    // sender too: classic when it comes back from Redis, sharded at once).
                    let opts = BroadcastOptions { rooms: vec![ROOMS[*from].to_owned()], ..Default::default() };
                    let request = Request::Join { uid: None, opts, rooms: vec![ROOMS[*to].to_owned()] };
                    let s = &mut servers[*server];
                    prop_assert!(s.node.request(now, &mut s.endpoint, "/", request));
                    for joined in rooms.values_mut() {
                        if joined.contains(ROOMS[*from]) {
                            joined.insert(ROOMS[*to].to_owned());
                        }
                    }
                }
            }
            deliver(&mut servers, now);
        }
        for server in &servers {
            for (sid, got) in &server.received {
                let got: Vec<&String> = got.iter().filter(|name| name.starts_with('b')).collect();
                let want: Vec<&String> = expected[sid].iter().collect();
                prop_assert_eq!(got, want, "client {}", sid);
            }
        }
    }
}

/// Three nodes, two sockets each, some in room `r0`.
fn cluster(now: Instant, mode: Mode) -> (Vec<Server>, Vec<Vec<SocketRef>>) {
    let mut servers: Vec<Server> = (0..3).map(|i| Server::with_mode(i, mode)).collect();
    let mut clients = Vec::new();
    for server in &mut servers {
        let sockets: Vec<SocketRef> = (0..2).map(|_| server.connect(now)).collect();
        server.endpoint.join(&sockets[0], "r0");
        clients.push(sockets);
    }
    (servers, clients)
}

fn reply(server: &mut Server) -> Reply {
    let reply = server.node.poll_reply().expect("a reply");
    assert_eq!(server.node.poll_reply(), None, "one reply");
    reply
}

#[test]
fn requests_from_any_node_collect_every_nodes_answers() {
    requests_from_any_node(Mode::Classic);
    requests_from_any_node(SHARDED);
    requests_from_any_node(Mode::Streams);
}

fn requests_from_any_node(mode: Mode) {
    let now = Instant::now();
    let (mut servers, clients) = cluster(now, mode);
    let main = Namespace::main();
    let in_r0: BTreeSet<String> = clients.iter().map(|c| c[0].id.clone()).collect();
    let mut every_room: BTreeSet<String> = clients.iter().flatten().map(|c| c.id.clone()).collect();
    every_room.insert("r0".into());
    for asker in 0..3 {
        let opts = BroadcastOptions {
            rooms: vec!["r0".into()],
            ..Default::default()
        };
        let s = &mut servers[asker];
        let fetch = s
            .node
            .fetch_sockets(now, &s.endpoint, &main, &opts)
            .unwrap();
        deliver(&mut servers, now);
        let got = reply(&mut servers[asker]);
        assert_eq!((got.request, got.timed_out), (fetch, false));
        let Answers::Sockets(sockets) = got.answers else {
            panic!("{:?}", got.answers)
        };
        let ids: BTreeSet<String> = sockets.iter().map(|s| s.id.clone()).collect();
        assert_eq!(ids, in_r0, "node {asker}");
        assert!(
            sockets
                .iter()
                .all(|s| s.rooms.contains(&s.id) && s.rooms.contains(&"r0".to_owned()))
        );

        let s = &mut servers[asker];
        if mode == Mode::Classic {
            s.node.all_rooms(now, &s.endpoint, &main).unwrap();
            deliver(&mut servers, now);
            let got = reply(&mut servers[asker]);
            assert_eq!(
                got.answers,
                Answers::Rooms(every_room.clone()),
                "node {asker}"
            );
        } else {
            assert!(
                s.node.all_rooms(now, &s.endpoint, &main).is_err(),
                "no allRooms"
            );
        }

        servers[asker]
            .node
            .server_side_emit_with_ack(now, &main, r#"["who"]"#)
            .unwrap();
        deliver(&mut servers, now);
        let got = reply(&mut servers[asker]);
        let Answers::ServerSideEmit(mut answers) = got.answers else {
            panic!()
        };
        answers.sort();
        let others: Vec<String> = (0..3)
            .filter(|n| *n != asker)
            .map(|n| format!("\"node{n}\""))
            .collect();
        assert_eq!(answers, others, "node {asker}");

        servers[asker].node.server_count(now, &main).unwrap();
        deliver(&mut servers, now);
        assert_eq!(reply(&mut servers[asker]).answers, Answers::ServerCount(3));
        assert_eq!(
            servers[asker].node.poll_timeout(),
            None,
            "nothing left pending"
        );
    }
}

#[test]
fn a_silent_server_makes_requests_time_out_at_the_deadline_with_partial_answers() {
    let start = Instant::now();
    let (mut servers, _) = cluster(start, Mode::Classic);
    let main = Namespace::main();
    let s = &mut servers[0];
    s.node.all_rooms(start, &s.endpoint, &main).unwrap();
    servers[0]
        .node
        .server_side_emit_with_ack(start, &main, r#"["who"]"#)
        .unwrap();
    // One subscriber more than the nodes that answer.
    deliver_with(&mut servers, start, 1);
    let Server { node, endpoint, .. } = &mut servers[0];
    assert_eq!(
        node.poll_reply(),
        None,
        "still waiting for the silent server"
    );
    assert_eq!(node.poll_timeout(), Some(start + REQUESTS_TIMEOUT));
    node.handle_timeout(
        start + REQUESTS_TIMEOUT - Duration::from_millis(1),
        endpoint,
    );
    assert_eq!(node.poll_reply(), None, "not before the deadline");
    node.handle_timeout(start + REQUESTS_TIMEOUT, endpoint);
    let rooms = node.poll_reply().unwrap();
    assert!(rooms.timed_out);
    let Answers::Rooms(rooms) = rooms.answers else {
        panic!()
    };
    assert_eq!(
        rooms.len(),
        2 * 3 + 1,
        "what the two other nodes sent, and ours"
    );
    let emit = node.poll_reply().unwrap();
    assert!(emit.timed_out);
    let Answers::ServerSideEmit(answers) = emit.answers else {
        panic!()
    };
    assert_eq!(answers.len(), 2);
    assert_eq!(node.poll_timeout(), None);
}

#[test]
fn alone_a_request_ends_with_the_local_answer_and_late_answers_are_dropped() {
    let now = Instant::now();
    let mut server = Server::new(0);
    let socket = server.connect(now);
    let main = Namespace::main();
    let opts = BroadcastOptions::default();
    let fetch = server
        .node
        .fetch_sockets(now, &server.endpoint, &main, &opts)
        .unwrap();
    let Some(Command::Publish { .. }) = server.node.poll_command() else {
        panic!()
    };
    let Some(Command::CountServers { request, .. }) = server.node.poll_command() else {
        panic!()
    };
    assert_eq!(request, fetch);
    server.node.servers_counted(request, 1);
    let got = reply(&mut server);
    assert!(!got.timed_out);
    let Answers::Sockets(sockets) = got.answers else {
        panic!()
    };
    assert_eq!(sockets.len(), 1);
    assert_eq!(sockets[0].id, socket.id);
    // An answer naming the ended request changes nothing.
    let late = r#"{"requestId":"node00","sockets":[{"id":"x","rooms":["x"]}]}"#;
    server.node.handle(
        now,
        &mut server.endpoint,
        "socket.io-response#/#",
        Bytes::from(late),
    );
    server.node.servers_counted(request, 3);
    assert_eq!(server.node.poll_reply(), None);
}

#[test]
fn a_broadcast_with_acks_collects_every_client_of_every_node() {
    for mode in [Mode::Classic, SHARDED, Mode::Streams] {
        let now = Instant::now();
        let (mut servers, clients) = cluster(now, mode);
        let every: BTreeSet<String> = clients.iter().flatten().map(|c| c.id.clone()).collect();
        for asker in 0..3 {
            let packet = Packet::event(Namespace::main(), "q", &(), None).unwrap();
            let s = &mut servers[asker];
            let timeout = Duration::from_secs(1);
            let all = BroadcastTarget::all();
            let request = s
                .node
                .broadcast_with_ack(now, &mut s.endpoint, packet, &all, timeout)
                .unwrap();
            deliver(&mut servers, now);
            let got = reply(&mut servers[asker]);
            assert_eq!((got.request, got.timed_out), (request, false), "{mode:?}");
            let Answers::Acks(acks) = got.answers else {
                panic!()
            };
            let answered: BTreeSet<String> = acks
                .iter()
                .map(|ack| ack.args::<(String,)>().unwrap().0)
                .collect();
            assert_eq!(
                (acks.len(), &answered),
                (6, &every),
                "{mode:?}, node {asker}"
            );
        }
    }
}

#[test]
fn a_broadcast_with_acks_ends_at_its_timeout_with_the_acks_that_came() {
    for mode in [Mode::Classic, SHARDED, Mode::Streams] {
        let start = Instant::now();
        let (mut servers, _) = cluster(start, mode);
        servers[2].silent = true;
        let packet = Packet::event(Namespace::main(), "q", &(), None).unwrap();
        let timeout = Duration::from_millis(1500);
        let s = &mut servers[0];
        let all = BroadcastTarget::all();
        s.node
            .broadcast_with_ack(start, &mut s.endpoint, packet, &all, timeout)
            .unwrap();
        deliver(&mut servers, start);
        let Server { node, endpoint, .. } = &mut servers[0];
        assert_eq!(node.poll_reply(), None, "{mode:?}: two clients are silent");
        assert_eq!(node.poll_timeout(), Some(start + timeout));
        node.handle_timeout(start + timeout, endpoint);
        let got = node.poll_reply().unwrap();
        assert!(got.timed_out);
        let Answers::Acks(acks) = got.answers else {
            panic!()
        };
        assert_eq!(acks.len(), 4, "{mode:?}");
    }
}

/// Another node's broadcast with acks whose `timeout` is absurd: this node waits at most
/// `MAX_REMOTE_ACK_TIMEOUT` for its client, then forgets the delivery.
#[test]
fn a_remote_ack_timeout_is_bounded() {
    use socketio_proto::cluster::MAX_REMOTE_ACK_TIMEOUT;
    use socketio_proto::cluster::classic;
    let start = Instant::now();
    let mut server = Server::new(0);
    server.silent = true;
    // Heartbeats slower than the bound: the socket outlives it.
    let mut config = EndpointConfig::default();
    config.engine.ping_interval = Duration::from_secs(3600);
    config.engine.ping_timeout = Duration::from_secs(3600);
    server.endpoint = Endpoint::new(config, Box::new(|| "s1".to_owned()));
    server.connect(start);
    let packet = Packet::event(Namespace::main(), "q", &(), None).unwrap();
    let opts = BroadcastOptions {
        flags: socketio_proto::cluster::Flags {
            timeout: Some(1 << 50),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut request = Vec::new();
    classic::broadcast_with_ack(&mut request, "other", "r1", &packet, &opts).unwrap();
    let channel = "socket.io-request#/#";
    let endpoint = &mut server.endpoint;
    server
        .node
        .handle(start, endpoint, channel, Bytes::from(request));
    server.drive(start);
    // The count went out; then, at the bound, the delivery is forgotten (drive asserts that
    // the node takes the timeout as its own).
    let at = start + MAX_REMOTE_ACK_TIMEOUT;
    assert!(server.endpoint.poll_timeout().is_some_and(|t| t <= at));
    server.endpoint.handle_timeout(at);
    let mut timed_out = false;
    while let Some(event) = server.endpoint.poll_event() {
        if let ServerEvent::AckTimeout { socket, ack_id } = event {
            assert!(server.node.forget(&socket, ack_id));
            timed_out = true;
        }
    }
    assert!(timed_out, "the ack wait ended at the bound");
}
