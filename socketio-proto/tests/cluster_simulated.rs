//! Several of our nodes in one classic cluster, sans-IO: each an `Endpoint` with a
//! `ClassicNode`, joined by an in-memory Redis Pub/Sub (pattern and exact subscriptions,
//! delivery in publish order), clients over simulated WebSockets. Property: every client
//! receives each broadcast exactly once when the broadcast's rooms and exceptions select it,
//! and never otherwise, whichever node it came from; `socketsJoin` from any node moves
//! sockets on every node.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::session::endpoint::Input;
use engineio_proto::session::server::{Method, Transmit};
use engineio_proto::session::{RequestId, SocketId};
use proptest::prelude::*;
use socketio_proto::cluster::classic::Request;
use socketio_proto::cluster::{BroadcastOptions, ClassicNode};
use socketio_proto::session::endpoint::{Endpoint, EndpointConfig, ServerEvent, SocketRef};
use socketio_proto::session::rooms::BroadcastTarget;
use socketio_proto::{Namespace, Packet};

const ROOMS: [&str; 3] = ["r0", "r1", "r2"];

struct Server {
    endpoint: Endpoint,
    node: ClassicNode,
    /// Event names each client (by socket id) received, in order.
    received: HashMap<String, Vec<String>>,
    /// Socket id of each WebSocket.
    sids: HashMap<SocketId, String>,
    sockets: Vec<SocketRef>,
    next_request: u64,
}

impl Server {
    fn new(index: usize) -> Server {
        let mut n = 0;
        let ids = move || {
            n += 1;
            format!("n{index}s{n}")
        };
        let uid = format!("node{index}");
        Server {
            endpoint: Endpoint::new(EndpointConfig::default(), Box::new(ids)),
            node: ClassicNode::new("socket.io", &[(Namespace::main(), uid)]),
            received: HashMap::new(),
            sids: HashMap::new(),
            sockets: Vec::new(),
            next_request: 0,
        }
    }

    /// A client that joins `/`.
    fn connect(&mut self, now: Instant) -> SocketRef {
        self.next_request += 1;
        let input = Input::Request {
            request: RequestId(self.next_request),
            method: Method::Get,
            query: "EIO=4&transport=websocket",
            websocket_upgrade: true,
        };
        self.endpoint.handle(now, input);
        let Some(Transmit::AcceptWebSocket { socket, .. }) = self.endpoint.poll_transmit() else {
            panic!("not accepted")
        };
        self.endpoint.handle(now, Input::WebSocketOpen { socket });
        let frame = Frame::Text("40".to_owned().into());
        self.endpoint
            .handle(now, Input::WebSocketFrame { socket, frame });
        self.drive(now);
        let socket_ref = self.sockets.last().unwrap().clone();
        self.sids.insert(socket, socket_ref.id.clone());
        self.received.insert(socket_ref.id.clone(), Vec::new());
        socket_ref
    }

    fn drive(&mut self, now: Instant) {
        loop {
            if let Some(event) = self.endpoint.poll_event() {
                match event {
                    ServerEvent::ConnectRequest(request) => {
                        self.endpoint.accept(now, &request).unwrap()
                    }
                    ServerEvent::Connected { socket, .. } => self.sockets.push(socket),
                    _ => {}
                }
                continue;
            }
            match self.endpoint.poll_transmit() {
                Some(Transmit::Frame {
                    socket,
                    frame: Frame::Text(text),
                }) => {
                    // `42["name",…]`: keep the event name.
                    if let (Some(sid), Some(json)) =
                        (self.sids.get(&socket), text.strip_prefix("42"))
                    {
                        let args: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
                        let name = args[0].as_str().unwrap().to_owned();
                        self.received.get_mut(sid).unwrap().push(name);
                    }
                }
                Some(_) => {}
                None => return,
            }
        }
    }
}

/// The in-memory Redis: every published message reaches every node subscribed to its
/// channel (exactly or by pattern), in publish order.
fn deliver(servers: &mut [Server], now: Instant) {
    loop {
        let mut published = Vec::new();
        for server in servers.iter_mut() {
            while let Some(message) = server.node.poll_publish() {
                published.push(message);
            }
        }
        if published.is_empty() {
            return;
        }
        for (channel, payload) in published {
            for server in servers.iter_mut() {
                let (patterns, channels) = server.node.subscriptions();
                let by_pattern = patterns
                    .iter()
                    .any(|p| channel.starts_with(p.trim_end_matches('*')));
                if by_pattern || channels.contains(&channel) {
                    let payload = Bytes::from(payload.clone());
                    let _ = server
                        .node
                        .handle(now, &mut server.endpoint, &channel, payload);
                    server.drive(now);
                }
            }
        }
    }
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
    fn every_selected_client_gets_each_broadcast_exactly_once(steps in prop::collection::vec(step(), 1..25)) {
        let now = Instant::now();
        let mut servers: Vec<Server> = (0..3).map(Server::new).collect();
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
                    // Like `io.in(from).socketsJoin(to)` on that node: the request goes through
                    // Redis and every node, the sender included, applies it.
                    let opts = BroadcastOptions { rooms: vec![ROOMS[*from].to_owned()], ..Default::default() };
                    let request = Request::Join { uid: Some("someone".into()), opts, rooms: vec![ROOMS[*to].to_owned()] };
                    let channel = "socket.io-request#/#".to_owned();
                    for s in &mut servers {
                        let _ = s.node.handle(now, &mut s.endpoint, &channel, Bytes::from(request.encode().unwrap()));
                    }
                    let _ = server;
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
