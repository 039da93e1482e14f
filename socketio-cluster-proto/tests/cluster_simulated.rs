//! Several of our nodes in one cluster, classic, sharded or streams, sans-IO: each an
//! `Endpoint` whose adapter is a `ClusterAdapter` over the mode's wire, joined by an in-memory
//! Redis (Pub/Sub with pattern, exact and per-room subscriptions, delivery in publish order;
//! one stream every node reads), clients over simulated WebSockets. Property: every client
//! receives each broadcast exactly once when the broadcast's rooms and exceptions select it,
//! and never otherwise, whichever node it came from; `socketsJoin` from any node moves
//! sockets on every node; requests from any node (`fetchSockets`, `allRooms`,
//! `serverSideEmitWithAck`, `serverCount`) collect every node's answer, and time out as the
//! reference's do when a server stays silent.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::session::SocketId;
use engineio_proto::session::endpoint::Input;
use engineio_proto::session::server::Transmit;
use proptest::prelude::*;
use socketio_cluster_proto::classic::ClassicWire;
use socketio_cluster_proto::redis::{RedisCommand, RedisInput};
use socketio_cluster_proto::sharded::{ShardedWire, SubscriptionMode};
use socketio_cluster_proto::streams::StreamsWire;
use socketio_cluster_proto::{BroadcastOptions, ClusterAdapter};
use socketio_proto::server::{
    Adapter, Answers, BroadcastTarget, Endpoint, EndpointConfig, QueryId, QueryReply,
    REQUESTS_TIMEOUT, ServerEvent, SocketRef,
};
use socketio_proto::{Namespace, Packet};

const ROOMS: [&str; 3] = ["r0", "r1", "r2"];

/// Which adapter the nodes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Classic,
    /// Sharded Pub/Sub, in the reference's default (dynamic) subscription mode.
    Sharded,
    Streams,
}

struct Server {
    index: usize,
    mode: Mode,
    endpoint: Endpoint,
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
    /// The queries of this server that ended, in order.
    replies: VecDeque<QueryReply>,
    /// The other servers' `serverSideEmit`s this server's application received.
    server_side_emits: usize,
}

impl Server {
    fn new(index: usize) -> Server {
        Self::with_mode(index, Mode::Classic)
    }

    fn with_mode(index: usize, mode: Mode) -> Server {
        Self::with_config(index, mode, EndpointConfig::default())
    }

    fn with_config(index: usize, mode: Mode, config: EndpointConfig) -> Server {
        let mut n = 0;
        let ids = move || {
            n += 1;
            format!("n{index}s{n}")
        };
        let uid = format!("node{index}");
        let namespaces = [(Namespace::main(), uid)];
        let adapter: Box<dyn Adapter> = match mode {
            Mode::Classic => Box::new(ClusterAdapter::new(
                ClassicWire::new("socket.io"),
                &namespaces,
            )),
            Mode::Sharded => Box::new(ClusterAdapter::new(
                ShardedWire::new("socket.io", SubscriptionMode::Dynamic),
                &namespaces,
            )),
            Mode::Streams => Box::new(ClusterAdapter::new(
                StreamsWire::new("socket.io", Default::default()),
                &namespaces,
            )),
        };
        Server {
            index,
            mode,
            endpoint: Endpoint::with_adapter(config, Box::new(ids), adapter),
            received: HashMap::new(),
            sids: HashMap::new(),
            sockets: Vec::new(),
            next_request: 0,
            rooms: BTreeSet::new(),
            silent: false,
            replies: VecDeque::new(),
            server_side_emits: 0,
        }
    }

    /// What Redis hands the node's adapter.
    fn feed(&mut self, now: Instant, input: RedisInput) {
        match self.mode {
            Mode::Classic => support::feed::<ClassicWire>(&mut self.endpoint, now, input),
            Mode::Sharded => support::feed::<ShardedWire>(&mut self.endpoint, now, input),
            Mode::Streams => support::feed::<StreamsWire>(&mut self.endpoint, now, input),
        }
    }

    /// What the node's adapter asks of Redis, in order.
    fn commands(&mut self, now: Instant) -> Vec<RedisCommand> {
        match self.mode {
            Mode::Classic => support::commands::<ClassicWire>(&mut self.endpoint, now),
            Mode::Sharded => support::commands::<ShardedWire>(&mut self.endpoint, now),
            Mode::Streams => support::commands::<StreamsWire>(&mut self.endpoint, now),
        }
    }

    /// The adapter's own deadline (pending recoveries, the wire's timers).
    fn adapter_timeout(&self) -> Option<Instant> {
        match self.mode {
            Mode::Classic => support::adapter::<ClassicWire>(&self.endpoint).poll_timeout(),
            Mode::Sharded => support::adapter::<ShardedWire>(&self.endpoint).poll_timeout(),
            Mode::Streams => support::adapter::<StreamsWire>(&self.endpoint).poll_timeout(),
        }
    }

    fn subscribed(&self, channel: &str) -> bool {
        let (patterns, channels) = match self.mode {
            Mode::Classic => support::adapter::<ClassicWire>(&self.endpoint)
                .wire()
                .subscriptions(),
            Mode::Sharded => (
                Vec::new(),
                support::adapter::<ShardedWire>(&self.endpoint)
                    .wire()
                    .subscriptions(),
            ),
            Mode::Streams => (
                Vec::new(),
                support::adapter::<StreamsWire>(&self.endpoint)
                    .wire()
                    .subscriptions(),
            ),
        };
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
        let mut answers = Vec::new();
        loop {
            if let Some(event) = self.endpoint.poll_event() {
                match event {
                    ServerEvent::ConnectRequest(request) => {
                        self.endpoint.accept(now, &request).unwrap()
                    }
                    ServerEvent::Connected { socket, .. } => self.sockets.push(socket),
                    // Acks of cluster broadcasts, of this node's and of the others', are the
                    // adapter's: the application never sees them.
                    ServerEvent::Ack { socket, packet } => {
                        panic!("an ack reached the application: {socket:?} {packet:?}")
                    }
                    ServerEvent::AckTimeout { socket, ack_id } => {
                        panic!("an ack timeout reached the application: {socket:?} {ack_id:?}")
                    }
                    ServerEvent::Reply(reply) => self.replies.push_back(reply),
                    // Each node answers a `serverSideEmit` with acks with its uid.
                    ServerEvent::ServerSideEmit {
                        namespace, reply, ..
                    } => {
                        assert_eq!(namespace, Namespace::main());
                        self.server_side_emits += 1;
                        if let Some(reply) = reply {
                            let answer = format!("\"node{}\"", self.index);
                            self.endpoint.answer_server_side_emit(now, &reply, &answer);
                        }
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
/// with its uid (in `drive`).
fn deliver_with(servers: &mut [Server], now: Instant, silent: usize) {
    loop {
        let mut published = Vec::new();
        let mut appended = Vec::new();
        for server in servers.iter_mut() {
            server.drive(now);
            for command in server.commands(now) {
                match command {
                    RedisCommand::Publish { channel, message } => {
                        published.push((channel, message))
                    }
                    RedisCommand::Append { stream, fields, .. } => {
                        assert_eq!(stream, "socket.io");
                        let fields: Vec<(Bytes, Bytes)> = fields
                            .into_iter()
                            .map(|(k, v)| (Bytes::from_static(k.as_bytes()), Bytes::from(v)))
                            .collect();
                        appended.push(fields);
                    }
                    RedisCommand::CountServers { query, channel } => {
                        assert!(channel.starts_with("socket.io"), "{channel}");
                        let count = 3 + silent;
                        server.feed(now, RedisInput::Counted { query, count });
                    }
                    RedisCommand::Subscribe { channel } => assert!(server.rooms.insert(channel)),
                    RedisCommand::Unsubscribe { channel } => {
                        assert!(server.rooms.remove(&channel))
                    }
                    other => panic!("not in these tests: {other:?}"),
                }
            }
            // What the counts ended.
            server.drive(now);
        }
        if published.is_empty() && appended.is_empty() {
            return;
        }
        // Every node reads every entry of the stream, in order.
        for fields in appended {
            for (index, server) in servers.iter_mut().enumerate() {
                let emits = server.server_side_emits;
                let id = Bytes::from_static(b"1-0");
                let fields = fields.clone();
                server.feed(now, RedisInput::Entry { id, fields });
                server.drive(now);
                assert_eq!(
                    server.server_side_emits, emits,
                    "node {index}: no serverSideEmit goes to the stream"
                );
            }
        }
        for (channel, payload) in published {
            for server in servers.iter_mut() {
                if server.subscribed(&channel) {
                    let payload = Bytes::from(payload.clone());
                    let channel = channel.clone();
                    server.feed(now, RedisInput::Message { channel, payload });
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
        mode in prop_oneof![Just(Mode::Classic), Just(Mode::Sharded), Just(Mode::Streams)],
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
                    // sender too: classic when it comes back from Redis, sharded and streams at
                    // once).
                    let target = BroadcastTarget::to([ROOMS[*from]]);
                    let joined = [ROOMS[*to].to_owned()];
                    let s = &mut servers[*server];
                    prop_assert!(s.endpoint.sockets_join(now, &Namespace::main(), &target, &joined).is_ok());
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

fn reply(server: &mut Server) -> QueryReply {
    let reply = server.replies.pop_front().expect("a reply");
    assert_eq!(server.replies.pop_front(), None, "one reply");
    reply
}

/// Nothing of `queries` still waits for answers on `server`, its adapter waits for nothing
/// either, and its next deadline is its clients' first heartbeat (they connected at `opened`).
fn nothing_pending(server: &Server, queries: &[QueryId], opened: Instant) -> bool {
    let local = server.endpoint.local();
    let heartbeat = opened + server.endpoint.config().engine.ping_interval;
    !queries.iter().any(|q| local.is_query_pending(*q))
        && server.adapter_timeout().is_none()
        && server
            .endpoint
            .poll_timeout()
            .is_none_or(|next| next >= heartbeat)
}

#[test]
fn requests_from_any_node_collect_every_nodes_answers() {
    requests_from_any_node(Mode::Classic);
    requests_from_any_node(Mode::Sharded);
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
        let mut queries = Vec::new();
        let target = BroadcastTarget::to(["r0"]);
        let s = &mut servers[asker];
        let fetch = s.endpoint.fetch_sockets(now, &main, &target).unwrap();
        queries.push(fetch);
        deliver(&mut servers, now);
        let got = reply(&mut servers[asker]);
        assert_eq!((got.query, got.timed_out), (fetch, false));
        let Answers::Sockets(sockets) = got.answers else {
            panic!("{:?}", got.answers)
        };
        let ids: BTreeSet<String> = sockets.iter().map(|s| s.id.clone()).collect();
        assert_eq!(ids, in_r0, "node {asker}");
        assert_eq!(sockets.len(), 3, "node {asker}: each socket once");
        assert!(
            sockets
                .iter()
                .all(|s| s.rooms.contains(&s.id) && s.rooms.contains(&"r0".to_owned()))
        );

        let s = &mut servers[asker];
        if mode == Mode::Classic {
            let rooms = s.endpoint.all_rooms(now, &main).unwrap();
            queries.push(rooms);
            deliver(&mut servers, now);
            let got = reply(&mut servers[asker]);
            assert_eq!((got.query, got.timed_out), (rooms, false));
            assert_eq!(
                got.answers,
                Answers::Rooms(every_room.clone()),
                "node {asker}"
            );
        } else {
            assert!(s.endpoint.all_rooms(now, &main).is_err(), "no allRooms");
            assert!(s.replies.is_empty(), "no query opened");
        }

        let emit = servers[asker]
            .endpoint
            .server_side_emit_with_ack(now, &main, r#"["who"]"#)
            .unwrap();
        queries.push(emit);
        deliver(&mut servers, now);
        let got = reply(&mut servers[asker]);
        assert_eq!((got.query, got.timed_out), (emit, false));
        let Answers::ServerSideEmit(mut answers) = got.answers else {
            panic!()
        };
        answers.sort();
        let others: Vec<String> = (0..3)
            .filter(|n| *n != asker)
            .map(|n| format!("\"node{n}\""))
            .collect();
        assert_eq!(answers, others, "node {asker}");

        let count = servers[asker].endpoint.server_count(now, &main).unwrap();
        queries.push(count);
        deliver(&mut servers, now);
        let got = reply(&mut servers[asker]);
        assert_eq!((got.query, got.timed_out), (count, false));
        assert_eq!(got.answers, Answers::ServerCount(3));
        assert!(
            nothing_pending(&servers[asker], &queries, now),
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
    let all_rooms = s.endpoint.all_rooms(start, &main).unwrap();
    let emit = s
        .endpoint
        .server_side_emit_with_ack(start, &main, r#"["who"]"#)
        .unwrap();
    // One subscriber more than the nodes that answer.
    deliver_with(&mut servers, start, 1);
    let server = &mut servers[0];
    assert_eq!(
        server.replies.pop_front(),
        None,
        "still waiting for the silent server"
    );
    // The queries' deadline is the endpoint's next (the heartbeats come later).
    assert_eq!(
        server.endpoint.poll_timeout(),
        Some(start + REQUESTS_TIMEOUT)
    );
    server
        .endpoint
        .handle_timeout(start + REQUESTS_TIMEOUT - Duration::from_millis(1));
    server.drive(start + REQUESTS_TIMEOUT - Duration::from_millis(1));
    assert_eq!(server.replies.pop_front(), None, "not before the deadline");
    server.endpoint.handle_timeout(start + REQUESTS_TIMEOUT);
    server.drive(start + REQUESTS_TIMEOUT);
    let got = server.replies.pop_front().unwrap();
    assert_eq!((got.query, got.timed_out), (all_rooms, true));
    let Answers::Rooms(rooms) = got.answers else {
        panic!()
    };
    assert_eq!(
        rooms.len(),
        2 * 3 + 1,
        "what the two other nodes sent, and ours"
    );
    let got = server.replies.pop_front().unwrap();
    assert_eq!((got.query, got.timed_out), (emit, true));
    let Answers::ServerSideEmit(answers) = got.answers else {
        panic!()
    };
    assert_eq!(answers.len(), 2);
    assert_eq!(server.replies.pop_front(), None);
    assert!(
        nothing_pending(server, &[all_rooms, emit], start),
        "no deadline left but the heartbeats"
    );
}

#[test]
fn alone_a_request_ends_with_the_local_answer_and_late_answers_are_dropped() {
    let now = Instant::now();
    let mut server = Server::new(0);
    let socket = server.connect(now);
    let main = Namespace::main();
    let fetch = server
        .endpoint
        .fetch_sockets(now, &main, &BroadcastTarget::all())
        .unwrap();
    let commands = server.commands(now);
    let [
        RedisCommand::Publish { .. },
        RedisCommand::CountServers { query, .. },
    ] = &commands[..]
    else {
        panic!("{commands:?}")
    };
    let query = *query;
    assert_eq!(query, fetch);
    server.feed(now, RedisInput::Counted { query, count: 1 });
    server.drive(now);
    let got = reply(&mut server);
    assert_eq!((got.query, got.timed_out), (fetch, false));
    let Answers::Sockets(sockets) = got.answers else {
        panic!()
    };
    assert_eq!(sockets.len(), 1);
    assert_eq!(sockets[0].id, socket.id);
    // An answer naming the ended request changes nothing.
    let late = r#"{"requestId":"node00","sockets":[{"id":"x","rooms":["x"]}]}"#;
    let channel = "socket.io-response#/#".to_owned();
    let payload = Bytes::from(late);
    server.feed(now, RedisInput::Message { channel, payload });
    server.feed(now, RedisInput::Counted { query, count: 3 });
    server.drive(now);
    assert_eq!(server.replies.pop_front(), None);
    assert!(server.commands(now).is_empty());
}

#[test]
fn a_broadcast_with_acks_collects_every_client_of_every_node() {
    for mode in [Mode::Classic, Mode::Sharded, Mode::Streams] {
        let now = Instant::now();
        let (mut servers, clients) = cluster(now, mode);
        let every: BTreeSet<String> = clients.iter().flatten().map(|c| c.id.clone()).collect();
        for asker in 0..3 {
            let packet = Packet::event(Namespace::main(), "q", &(), None).unwrap();
            let s = &mut servers[asker];
            let timeout = Duration::from_secs(1);
            let all = BroadcastTarget::all();
            let request = s
                .endpoint
                .broadcast_with_ack(now, packet, &all, timeout)
                .unwrap();
            deliver(&mut servers, now);
            let got = reply(&mut servers[asker]);
            assert_eq!((got.query, got.timed_out), (request, false), "{mode:?}");
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
            assert!(
                nothing_pending(&servers[asker], &[request], now),
                "{mode:?}"
            );
        }
    }
}

#[test]
fn a_broadcast_with_acks_ends_at_its_timeout_with_the_acks_that_came() {
    for mode in [Mode::Classic, Mode::Sharded, Mode::Streams] {
        let start = Instant::now();
        let (mut servers, _) = cluster(start, mode);
        servers[2].silent = true;
        let packet = Packet::event(Namespace::main(), "q", &(), None).unwrap();
        let timeout = Duration::from_millis(1500);
        let all = BroadcastTarget::all();
        let request = servers[0]
            .endpoint
            .broadcast_with_ack(start, packet, &all, timeout)
            .unwrap();
        deliver(&mut servers, start);
        let server = &mut servers[0];
        assert_eq!(
            server.replies.pop_front(),
            None,
            "{mode:?}: two clients are silent"
        );
        assert_eq!(server.endpoint.poll_timeout(), Some(start + timeout));
        server.endpoint.handle_timeout(start + timeout);
        server.drive(start + timeout);
        let got = reply(server);
        assert_eq!((got.query, got.timed_out), (request, true), "{mode:?}");
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
    use socketio_cluster_proto::classic;
    use socketio_cluster_proto::{Flags, MAX_REMOTE_ACK_TIMEOUT};
    let start = Instant::now();
    // Heartbeats slower than the bound: the socket outlives it.
    let mut config = EndpointConfig::default();
    config.engine.ping_interval = Duration::from_secs(3600);
    config.engine.ping_timeout = Duration::from_secs(3600);
    let mut server = Server::with_config(0, Mode::Classic, config);
    server.silent = true;
    server.connect(start);
    let packet = Packet::event(Namespace::main(), "q", &(), None).unwrap();
    let opts = BroadcastOptions {
        flags: Flags {
            timeout: Some(1 << 50),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut request = Vec::new();
    classic::broadcast_with_ack(&mut request, "other", "r1", &packet, &opts).unwrap();
    let channel = "socket.io-request#/#".to_owned();
    let payload = Bytes::from(request);
    server.feed(start, RedisInput::Message { channel, payload });
    server.drive(start);
    // The count went out.
    let count = RedisCommand::Publish {
        channel: "socket.io-response#/#".to_owned(),
        message: br#"{"type":8,"requestId":"r1","clientCount":1}"#.to_vec(),
    };
    assert_eq!(server.commands(start), [count]);
    // Then, at the bound, the delivery is forgotten (`drive` asserts that the application
    // never sees the ack's timeout: it is the adapter's).
    let at = start + MAX_REMOTE_ACK_TIMEOUT;
    assert_eq!(
        server.endpoint.poll_timeout(),
        Some(at),
        "the wait is bounded"
    );
    server.endpoint.handle_timeout(at);
    server.drive(at);
    assert!(
        server.endpoint.poll_timeout().is_some_and(|t| t > at),
        "the ack wait ended at the bound"
    );
    let adapter = support::adapter::<ClassicWire>(&server.endpoint);
    assert!(
        format!("{adapter:?}").contains("relays: {}"),
        "the delivery is forgotten: {adapter:?}"
    );
    assert!(server.commands(at).is_empty(), "no ack goes back");
}

/// A `serverSideEmitWithAck` whose data is not JSON text is refused, and no query opens: no
/// reply comes for a query the caller never got, and nothing is published.
#[test]
fn a_server_side_emit_that_does_not_encode_opens_no_query() {
    for mode in [Mode::Classic, Mode::Sharded, Mode::Streams] {
        let now = Instant::now();
        let mut server = Server::with_mode(0, mode);
        server.connect(now);
        let main = Namespace::main();
        let refused = server
            .endpoint
            .server_side_emit_with_ack(now, &main, "[nope");
        assert!(refused.is_err(), "{mode:?}");
        assert!(
            server
                .endpoint
                .server_side_emit(now, &main, "[nope")
                .is_err()
        );
        server.drive(now);
        assert_eq!(server.replies.pop_front(), None, "{mode:?}");
        assert!(server.commands(now).is_empty(), "{mode:?}");
        // The next one is sent, and ends as usual (alone here).
        let emit = server
            .endpoint
            .server_side_emit_with_ack(now, &main, r#"["who"]"#)
            .unwrap();
        let commands = server.commands(now);
        let [
            RedisCommand::Publish { .. },
            RedisCommand::CountServers { query, .. },
        ] = &commands[..]
        else {
            panic!("{mode:?}: {commands:?}")
        };
        let query = *query;
        server.feed(now, RedisInput::Counted { query, count: 1 });
        server.drive(now);
        let got = reply(&mut server);
        assert_eq!((got.query, got.timed_out), (emit, false), "{mode:?}");
    }
}
