//! Our Socket.IO client Manager against our Socket.IO server (Engine.IO server sessions,
//! connections, rooms, recovery) over a simulated network on a virtual clock: namespaces and
//! auth, acks both ways, broadcast to rooms, a server outage with reconnection at exact backoff
//! instants, and recovery of missed events with rooms.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use engineio_proto::session::server::{self as eio, Method, Route, ServerSession};
use engineio_proto::session::{RequestId, SocketId};
use socketio_proto::client::{self, EmitOptions, Manager, ManagerConfig, SocketOptions, Transmit};
use socketio_proto::server::{self as sio, Connection, Output};
use socketio_proto::server::{BroadcastTarget, Rooms};
use socketio_proto::server::{KeptSession, RecoveryConfig, RecoveryRequest, RecoveryStore};
use socketio_proto::{Namespace, Packet, ProtocolVersion};

const LATENCY: Duration = Duration::from_millis(5);

/// One client's state on the server.
struct Peer {
    engine: ServerSession,
    sio: Connection,
    /// Socket id per joined namespace.
    sids: HashMap<String, String>,
}

/// The server application: joins everyone to `lobby`, refuses `/private` without the right
/// token, broadcasts `say` to the lobby (with recovery offsets), answers `ask` with an ack.
struct Server {
    up: bool,
    recovery: bool,
    peers: HashMap<String, Peer>,
    /// Which engine session owns a WebSocket.
    sockets: HashMap<SocketId, String>,
    rooms: Rooms,
    store: RecoveryStore,
    next_id: u64,
    next_offset: u64,
}

enum ToClient {
    Response(RequestId, eio::HttpResponse),
    RequestFailed(RequestId),
    Frame(SocketId, engineio_proto::Frame),
    SocketOpen(SocketId),
    SocketClosed(SocketId),
}

impl Server {
    fn new(recovery: bool) -> Server {
        Server {
            up: true,
            recovery,
            peers: HashMap::new(),
            sockets: HashMap::new(),
            rooms: Rooms::default(),
            store: RecoveryStore::new(RecoveryConfig::default()),
            next_id: 0,
            next_offset: 0,
        }
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    /// Handles one client transmit; returns what the client will see.
    fn receive(&mut self, now: Instant, transmit: Transmit, out: &mut Vec<ToClient>) {
        if !self.up {
            match transmit {
                Transmit::Get { request, .. } | Transmit::Post { request, .. } => {
                    out.push(ToClient::RequestFailed(request))
                }
                Transmit::OpenWebSocket { socket, .. } | Transmit::Frame { socket, .. } => {
                    out.push(ToClient::SocketClosed(socket))
                }
                _ => {}
            }
            return;
        }
        let config = eio::ServerConfig::default();
        match transmit {
            Transmit::Get { request, query } => {
                match eio::route(&config, Method::Get, &query, false) {
                    Route::Handshake(h) => {
                        let sid = self.id("eio");
                        let engine = ServerSession::new(
                            now,
                            sid.clone(),
                            &h,
                            config,
                            eio::InitialTransport::Polling(request),
                        );
                        let sio = Connection::new(
                            now,
                            ProtocolVersion::V5,
                            sio::ConnectionConfig::default(),
                        );
                        self.peers.insert(
                            sid,
                            Peer {
                                engine,
                                sio,
                                sids: HashMap::new(),
                            },
                        );
                    }
                    Route::Session { sid, .. } => match self.peers.get_mut(&*sid) {
                        Some(p) => p.engine.handle_get(now, request),
                        None => out.push(ToClient::Response(
                            request,
                            eio::HttpResponse {
                                status: 400,
                                content_type: None,
                                body: Default::default(),
                            },
                        )),
                    },
                    Route::Refuse(code) => panic!("refused {query}: {code:?}"),
                }
            }
            Transmit::Post {
                request,
                query,
                content_type,
                body,
            } => {
                let Route::Session { sid, .. } = eio::route(&config, Method::Post, &query, false)
                else {
                    panic!()
                };
                match self.peers.get_mut(&*sid) {
                    Some(p) => {
                        if p.engine.handle_post(now, request) {
                            p.engine
                                .handle_post_body(now, request, Some(content_type), body);
                        }
                    }
                    None => out.push(ToClient::Response(
                        request,
                        eio::HttpResponse {
                            status: 400,
                            content_type: None,
                            body: Default::default(),
                        },
                    )),
                }
            }
            Transmit::OpenWebSocket { socket, query } => {
                match eio::route(&config, Method::Get, &query, true) {
                    Route::Session { sid, query } => match self.peers.get_mut(&*sid) {
                        Some(p) => {
                            self.sockets.insert(socket, sid.to_string());
                            p.engine.handle_websocket_open(now, socket, query.b64);
                            out.push(ToClient::SocketOpen(socket));
                        }
                        None => out.push(ToClient::SocketClosed(socket)),
                    },
                    Route::Handshake(h) => {
                        let sid = self.id("eio");
                        let engine = ServerSession::new(
                            now,
                            sid.clone(),
                            &h,
                            config,
                            eio::InitialTransport::WebSocket(socket),
                        );
                        let sio = Connection::new(
                            now,
                            ProtocolVersion::V5,
                            sio::ConnectionConfig::default(),
                        );
                        self.sockets.insert(socket, sid.clone());
                        self.peers.insert(
                            sid,
                            Peer {
                                engine,
                                sio,
                                sids: HashMap::new(),
                            },
                        );
                        out.push(ToClient::SocketOpen(socket));
                    }
                    Route::Refuse(code) => panic!("refused {query}: {code:?}"),
                }
            }
            Transmit::Frame { socket, frame } => {
                if let Some(p) = self
                    .sockets
                    .get(&socket)
                    .and_then(|sid| self.peers.get_mut(sid))
                {
                    p.engine.handle_websocket_frame(now, socket, frame);
                }
            }
            Transmit::CloseSocket { socket } => {
                if let Some(p) = self
                    .sockets
                    .get(&socket)
                    .and_then(|sid| self.peers.get_mut(sid))
                {
                    p.engine.handle_websocket_closed(now, socket);
                }
            }
        }
        self.pump(now, out);
    }

    fn timeout(&mut self, now: Instant, out: &mut Vec<ToClient>) {
        for p in self.peers.values_mut() {
            p.engine.handle_timeout(now);
            p.sio.handle_timeout(now);
        }
        self.store.expire(now);
        self.pump(now, out);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.peers
            .values()
            .flat_map(|p| [p.engine.poll_timeout(), p.sio.poll_timeout()])
            .flatten()
            .min()
    }

    /// The glue and the application, until nothing moves.
    fn pump(&mut self, now: Instant, out: &mut Vec<ToClient>) {
        loop {
            let mut broadcasts: Vec<Packet> = Vec::new();
            let mut progress = false;
            let keys: Vec<String> = self.peers.keys().cloned().collect();
            for key in keys {
                let Some(p) = self.peers.get_mut(&key) else {
                    continue;
                };
                let mut gone = false;
                while let Some(e) = p.engine.poll_event() {
                    progress = true;
                    match e {
                        eio::SessionEvent::Message(data) => p.sio.handle_message(now, data),
                        eio::SessionEvent::Closed { reason, .. } => {
                            p.sio.handle_engine_closed(reason);
                            gone = true;
                        }
                        _ => {}
                    }
                }
                while let Some(e) = p.sio.poll_event() {
                    progress = true;
                    match e {
                        sio::ConnectionEvent::ConnectRequest {
                            namespace, auth, ..
                        } => {
                            let ns = namespace.as_str().to_owned();
                            if ns == "/private" && auth.as_deref() != Some(r#"{"token":"secret"}"#)
                            {
                                p.sio
                                    .refuse::<()>(&namespace, "not authorized", None)
                                    .unwrap();
                                continue;
                            }
                            let request = auth.as_deref().and_then(RecoveryRequest::from_auth);
                            let recovered = match (self.recovery, request) {
                                (true, Some(r)) => self.store.take(now, &ns, &r),
                                _ => None,
                            };
                            if let Some(recovered) = recovered {
                                let sid = recovered.session.sid.clone();
                                for room in &recovered.session.rooms {
                                    self.rooms.join(&ns, &sid, room);
                                }
                                p.sio
                                    .accept_recovered(
                                        &namespace,
                                        &sid,
                                        Some(&recovered.session.pid),
                                        &recovered.missed,
                                    )
                                    .unwrap();
                                p.sids.insert(ns, sid);
                            } else {
                                self.next_id += 1;
                                let sid = format!("s{}", self.next_id);
                                let pid = self.recovery.then(|| format!("p{}", self.next_id));
                                p.sio.accept(&namespace, &sid, pid.as_deref()).unwrap();
                                self.rooms.add_socket(&ns, &sid);
                                self.rooms.join(&ns, &sid, "lobby");
                                if let Some(pid) = pid {
                                    p.sids.insert(format!("pid:{ns}"), pid);
                                }
                                p.sids.insert(ns, sid);
                            }
                        }
                        sio::ConnectionEvent::Event(packet) => {
                            let name = packet.event_name().map(|n| n.into_owned());
                            match name.as_deref() {
                                Some("say") => {
                                    let (text,): (String,) = packet.args().unwrap();
                                    broadcasts.push(
                                        Packet::event(
                                            packet.full_namespace().clone(),
                                            "said",
                                            &(text,),
                                            None,
                                        )
                                        .unwrap(),
                                    );
                                }
                                Some("ask") => {
                                    let ack = Packet::ack(
                                        packet.full_namespace().clone(),
                                        packet.ack_id().unwrap(),
                                        &("answer",),
                                    )
                                    .unwrap();
                                    p.sio.ack(ack).unwrap();
                                }
                                _ => {}
                            }
                        }
                        sio::ConnectionEvent::Disconnected { namespace, reason } => {
                            let ns = namespace.as_str().to_owned();
                            if let Some(sid) = p.sids.remove(&ns) {
                                if let (true, Some(pid), sio::DisconnectReason::Engine(_)) =
                                    (self.recovery, p.sids.get(&format!("pid:{ns}")), reason)
                                {
                                    let session = KeptSession {
                                        sid: sid.clone(),
                                        pid: pid.clone(),
                                        rooms: self.rooms.socket_rooms(&ns, &sid),
                                        data: None,
                                    };
                                    self.store.keep(now, &ns, session);
                                }
                                self.rooms.remove_socket(&ns, &sid);
                            }
                        }
                        _ => {}
                    }
                }
                while let Some(o) = p.sio.poll_transmit() {
                    progress = true;
                    match o {
                        Output::TextFrame(frame) => {
                            let _ = p.engine.send_text_frame(frame);
                        }
                        Output::Binary(data) => {
                            let _ = p.engine.send(engineio_proto::Data::Binary(data));
                        }
                        Output::CloseEngine => p.engine.close(now),
                    }
                }
                while let Some(t) = p.engine.poll_transmit() {
                    progress = true;
                    match t {
                        eio::Transmit::Response { request, response } => {
                            out.push(ToClient::Response(request, response))
                        }
                        eio::Transmit::Frame { socket, frame } => {
                            out.push(ToClient::Frame(socket, frame))
                        }
                        eio::Transmit::CloseSocket { socket } => {
                            out.push(ToClient::SocketClosed(socket))
                        }
                        _ => {}
                    }
                }
                if gone {
                    self.peers.remove(&key);
                }
            }
            for packet in broadcasts {
                self.broadcast(now, packet, &BroadcastTarget::to(["lobby"]));
                progress = true;
            }
            if !progress {
                break;
            }
        }
    }

    /// Encodes once (tagging an offset when recovery is on) and hands the same bytes to every
    /// recipient in the room.
    fn broadcast(&mut self, now: Instant, packet: Packet, target: &BroadcastTarget) {
        let ns = packet.namespace().to_owned();
        let encoded = if self.recovery {
            self.next_offset += 1;
            self.store
                .store(now, &format!("o{}", self.next_offset), packet, target)
                .unwrap()
        } else {
            packet.encode()
        };
        let recipients: Vec<String> = self
            .rooms
            .recipients(&ns, target)
            .into_iter()
            .map(str::to_owned)
            .collect();
        for p in self.peers.values_mut() {
            if p.sids.get(&ns).is_some_and(|sid| recipients.contains(sid)) {
                p.sio.send_encoded(&ns, &encoded).unwrap();
            }
        }
    }

    /// The server drops every transport (a network cut): sessions die, recovery data stays.
    fn cut_transports(&mut self, now: Instant, out: &mut Vec<ToClient>) {
        let sockets: Vec<(SocketId, String)> = self.sockets.drain().collect();
        for (socket, sid) in sockets {
            if let Some(p) = self.peers.get_mut(&sid) {
                p.engine.handle_websocket_closed(now, socket);
            }
            out.push(ToClient::SocketClosed(socket));
        }
        self.pump(now, out);
    }
}

/// The client, the server and the network between them.
struct World {
    now: Instant,
    client: Manager,
    server: Server,
    network: BTreeMap<(Instant, u64), Result<Transmit, ToClient>>,
    seq: u64,
    events: Vec<(Instant, client::ManagerEvent)>,
}

impl World {
    fn new(recovery: bool, random: f64) -> World {
        let now = Instant::now();
        let client = Manager::new(now, ManagerConfig::default(), Box::new(move || random));
        let mut world = World {
            now,
            client,
            server: Server::new(recovery),
            network: BTreeMap::new(),
            seq: 0,
            events: Vec::new(),
        };
        world.drain();
        world
    }

    fn push(&mut self, item: Result<Transmit, ToClient>) {
        self.seq += 1;
        self.network.insert((self.now + LATENCY, self.seq), item);
    }

    fn drain(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            self.push(Ok(t));
        }
        while let Some(e) = self.client.poll_event() {
            self.events.push((self.now, e));
        }
    }

    fn deliver_to_client(&mut self, item: ToClient) {
        let now = self.now;
        match item {
            ToClient::Response(r, resp) => {
                self.client
                    .handle_response(now, r, resp.status, resp.content_type, resp.body)
            }
            ToClient::RequestFailed(r) => self.client.handle_request_failed(now, r),
            ToClient::Frame(s, f) => self.client.handle_websocket_frame(now, s, f),
            ToClient::SocketOpen(s) => self.client.handle_websocket_open(now, s),
            ToClient::SocketClosed(s) => self.client.handle_websocket_closed(now, s),
        }
    }

    fn server_outputs(&mut self, out: Vec<ToClient>) {
        for item in out {
            self.push(Err(item));
        }
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next_net = self.network.keys().next().map(|k| k.0);
            let next_timer = [
                self.client.poll_timeout(),
                self.server.poll_timeout(),
                self.server.store.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(at) = [next_net, next_timer]
                .into_iter()
                .flatten()
                .min()
                .filter(|at| *at <= end)
            else {
                break;
            };
            self.now = self.now.max(at);
            let now = self.now;
            if next_net == Some(at) {
                let (_, item) = self.network.pop_first().unwrap();
                match item {
                    Ok(transmit) => {
                        let mut out = Vec::new();
                        self.server.receive(now, transmit, &mut out);
                        self.server_outputs(out);
                    }
                    Err(to_client) => self.deliver_to_client(to_client),
                }
            } else {
                self.client.handle_timeout(now);
                let mut out = Vec::new();
                self.server.timeout(now, &mut out);
                self.server_outputs(out);
            }
            self.drain();
        }
        self.now = end;
    }

    fn take_events(&mut self) -> Vec<(Instant, client::ManagerEvent)> {
        std::mem::take(&mut self.events)
    }

    fn said(&mut self) -> Vec<String> {
        self.take_events()
            .into_iter()
            .filter_map(|(_, e)| match e {
                client::ManagerEvent::Event { packet, .. } => {
                    let args: Vec<serde_json::Value> = packet.args().unwrap();
                    Some(args[0].as_str().unwrap().to_owned())
                }
                _ => None,
            })
            .collect()
    }
}

#[test]
fn namespaces_auth_acks_and_broadcast() {
    let mut w = World::new(false, 0.5);
    w.client
        .connect(w.now, "/", SocketOptions::default())
        .unwrap();
    w.client
        .connect(
            w.now,
            "/private",
            SocketOptions {
                auth: Some(client::Auth::new(&serde_json::json!({"token": "wrong"})).unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
    w.drain();
    w.run(Duration::from_secs(1));
    let events = w.take_events();
    assert!(events.iter().any(|(_, e)| matches!(e, client::ManagerEvent::Connected { namespace, .. } if namespace.as_str() == "/")));
    assert!(events.iter().any(|(_, e)| matches!(e, client::ManagerEvent::ConnectError { namespace, .. } if namespace.as_str() == "/private")));
    assert_eq!(
        w.client.engine().unwrap().transport(),
        engineio_proto::Transport::Websocket,
        "upgraded"
    );

    // An emit with an ack, answered by the server.
    let ack = w
        .client
        .emit(
            w.now,
            "/",
            "ask",
            &("q",),
            EmitOptions {
                ack: true,
                timeout: Some(Duration::from_secs(1)),
                ..Default::default()
            },
        )
        .unwrap();
    w.drain();
    // A broadcast to the lobby comes back to the sender too.
    w.client
        .emit(w.now, "/", "say", &("hi all",), EmitOptions::default())
        .unwrap();
    w.drain();
    w.run(Duration::from_secs(1));
    let events = w.take_events();
    assert!(events.iter().any(|(_, e)| matches!(e, client::ManagerEvent::Ack { ack: a, packet, .. } if Some(*a) == ack && packet.args::<(String,)>().unwrap().0 == "answer")));
    assert!(events.iter().any(|(_, e)| matches!(e, client::ManagerEvent::Event { packet, .. } if packet.event_name().as_deref() == Some("said"))));
}

#[test]
fn a_server_outage_is_survived_with_backoff_at_exact_instants() {
    // random() = 0.5: floor(5) & 1 = 1, so every delay is min * 2^n + floor(0.5 * 0.5 * that).
    let mut w = World::new(false, 0.5);
    w.client
        .connect(w.now, "/", SocketOptions::default())
        .unwrap();
    w.drain();
    w.run(Duration::from_secs(1));
    w.take_events();

    // The server goes down and cuts every transport.
    w.server.up = false;
    let mut out = Vec::new();
    let now = w.now;
    w.server.cut_transports(now, &mut out);
    w.server.peers.clear();
    w.server_outputs(out);
    let cut_seen = w.now + LATENCY;
    w.run(Duration::from_secs(4));
    let attempts: Vec<Instant> = w
        .take_events()
        .into_iter()
        .filter_map(|(t, e)| matches!(e, client::ManagerEvent::ReconnectAttempt(_)).then_some(t))
        .collect();
    // First attempt 1250 ms after the close is seen; it fails after the network round trip
    // (the refused handshake comes back 2 × latency later), and the next comes 2500 ms after.
    assert_eq!(attempts[0], cut_seen + Duration::from_millis(1250));
    assert_eq!(
        attempts[1],
        attempts[0] + 2 * LATENCY + Duration::from_millis(2500)
    );

    // The server comes back; the next attempt (capped at 5000 ms after jitter) succeeds.
    w.server.up = true;
    w.run(Duration::from_secs(10));
    let events = w.take_events();
    let (at, _) = events
        .iter()
        .find(|(_, e)| matches!(e, client::ManagerEvent::Reconnected(_)))
        .unwrap();
    assert!(*at > attempts[1]);
    assert!(events.iter().any(|(_, e)| matches!(e, client::ManagerEvent::Connected { namespace, recovered: false, .. } if namespace.as_str() == "/")));
    w.client
        .emit(w.now, "/", "say", &("back",), EmitOptions::default())
        .unwrap();
    w.drain();
    w.run(Duration::from_secs(1));
    assert_eq!(w.said(), ["back"]);
}

#[test]
fn recovery_replays_missed_room_events_and_keeps_the_socket_id() {
    let mut w = World::new(true, 0.0);
    w.client
        .connect(w.now, "/", SocketOptions::default())
        .unwrap();
    w.drain();
    w.run(Duration::from_secs(1));
    let sid = w.client.sid("/").unwrap().to_owned();
    w.client
        .emit(w.now, "/", "say", &("before",), EmitOptions::default())
        .unwrap();
    w.drain();
    w.run(Duration::from_secs(1));
    assert_eq!(w.said(), ["before"]);
    assert_eq!(w.client.last_offset("/"), Some("o1"));

    // The transport drops; the server keeps the session for recovery.
    let mut out = Vec::new();
    let now = w.now;
    w.server.cut_transports(now, &mut out);
    w.server_outputs(out);
    w.run(Duration::from_millis(20));
    // While the client is away: one event for its room, one for another room.
    let now = w.now;
    w.server.broadcast(
        now,
        Packet::event(Namespace::main(), "said", &("missed",), None).unwrap(),
        &BroadcastTarget::to(["lobby"]),
    );
    w.server.broadcast(
        now,
        Packet::event(Namespace::main(), "said", &("elsewhere",), None).unwrap(),
        &BroadcastTarget::to(["other"]),
    );
    w.run(Duration::from_secs(5));
    let events = w.take_events();
    let connected = events
        .iter()
        .position(|(_, e)| {
            matches!(
                e,
                client::ManagerEvent::Connected {
                    recovered: true,
                    ..
                }
            )
        })
        .expect("recovered");
    let said: Vec<String> = events[connected..]
        .iter()
        .filter_map(|(_, e)| match e {
            client::ManagerEvent::Event { packet, .. } => {
                Some(packet.args::<(String, String)>().unwrap().0)
            }
            _ => None,
        })
        .collect();
    assert_eq!(said, ["missed"]);
    assert_eq!(w.client.sid("/"), Some(sid.as_str()), "same socket id");
    assert_eq!(w.client.last_offset("/"), Some("o2"));
}
