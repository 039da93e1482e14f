//! Our client session against our server session over a simulated network on a virtual
//! clock: hours of protocol time run in milliseconds.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::session::client::{self, ClientConfig, ClientSession};
use engineio_proto::session::server::{
    self, InitialTransport, Method, Route, ServerConfig, ServerSession, route,
};
use engineio_proto::session::{CloseReason, SocketId};
use engineio_proto::{Data, ProtocolVersion, Transport};

/// Something in flight on the simulated network.
#[derive(Debug)]
enum Delivery {
    ToServer(client::Transmit),
    ToClient(server::Transmit),
    /// The server accepted a WebSocket.
    SocketOpen(SocketId),
}

struct Pair {
    now: Instant,
    latency: Duration,
    client: ClientSession,
    server: Option<ServerSession>,
    server_config: ServerConfig,
    /// The server stops answering (crash, partition): deliveries to it vanish.
    server_dead: bool,
    /// Seed of a random extra delay (0 to 50 ms) on HTTP requests and responses, which reorders
    /// them; WebSocket frames keep their order, as on TCP.
    jitter: Option<u64>,
    /// Fail the next HTTP response to the client instead of delivering it.
    fail_next_response: bool,
    network: BTreeMap<(Instant, u64), Delivery>,
    seq: u64,
    client_events: Vec<(Instant, client::ClientEvent)>,
    server_events: Vec<(Instant, server::SessionEvent)>,
}

impl Pair {
    fn new(
        version: ProtocolVersion,
        client_config: ClientConfig,
        server_config: ServerConfig,
    ) -> Pair {
        let now = Instant::now();
        let client = ClientSession::new(
            now,
            ClientConfig {
                version,
                ..client_config
            },
        );
        let mut pair = Pair {
            now,
            latency: Duration::from_millis(10),
            client,
            server: None,
            server_config: ServerConfig {
                allow_eio3: true,
                ..server_config
            },
            server_dead: false,
            jitter: None,
            fail_next_response: false,
            network: BTreeMap::new(),
            seq: 0,
            client_events: Vec::new(),
            server_events: Vec::new(),
        };
        pair.drain();
        pair
    }

    fn schedule(&mut self, delivery: Delivery) {
        self.seq += 1;
        let http = matches!(
            delivery,
            Delivery::ToServer(client::Transmit::Get { .. } | client::Transmit::Post { .. })
                | Delivery::ToClient(server::Transmit::Response { .. })
        );
        let mut at = self.now + self.latency;
        if let (Some(seed), true) = (&mut self.jitter, http) {
            *seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            at += Duration::from_millis((*seed >> 33) % 50);
        }
        self.network.insert((at, self.seq), delivery);
    }

    fn drain(&mut self) {
        loop {
            let mut progress = false;
            while let Some(t) = self.client.poll_transmit() {
                progress = true;
                self.schedule(Delivery::ToServer(t));
            }
            while let Some(e) = self.client.poll_event() {
                progress = true;
                self.client_events.push((self.now, e));
            }
            if let Some(server) = &mut self.server {
                let mut out = Vec::new();
                while let Some(t) = server.poll_transmit() {
                    out.push(t);
                }
                while let Some(e) = server.poll_event() {
                    progress = true;
                    self.server_events.push((self.now, e));
                }
                for t in out {
                    progress = true;
                    self.schedule(Delivery::ToClient(t));
                }
            }
            if !progress {
                break;
            }
        }
    }

    fn deliver(&mut self, delivery: Delivery) {
        let now = self.now;
        match delivery {
            Delivery::ToServer(_) | Delivery::SocketOpen(_) if self.server_dead => {}
            Delivery::ToServer(t) => self.deliver_to_server(t),
            Delivery::SocketOpen(socket) => self.client.handle_websocket_open(now, socket),
            Delivery::ToClient(server::Transmit::Response { request, .. })
                if self.fail_next_response =>
            {
                self.fail_next_response = false;
                self.client.handle_request_failed(now, request);
            }
            Delivery::ToClient(server::Transmit::Response { request, response }) => {
                self.client.handle_response(
                    now,
                    request,
                    response.status,
                    response.content_type,
                    response.body,
                )
            }
            Delivery::ToClient(server::Transmit::Frame { socket, frame }) => {
                self.client.handle_websocket_frame(now, socket, frame)
            }
            Delivery::ToClient(server::Transmit::CloseSocket { socket }) => {
                self.client.handle_websocket_closed(now, socket)
            }
            Delivery::ToClient(_) => unreachable!("no other transmits"),
        }
        self.drain();
    }

    fn deliver_to_server(&mut self, transmit: client::Transmit) {
        let now = self.now;
        let config = self.server_config.clone();
        match transmit {
            client::Transmit::Get { request, query } => {
                match route(&config, Method::Get, &query, false) {
                    Route::Handshake(h) => {
                        self.server = Some(ServerSession::new(
                            now,
                            "pair-sid",
                            &h,
                            config,
                            InitialTransport::Polling(request),
                        ))
                    }
                    Route::Session { .. } => self.server.as_mut().unwrap().handle_get(now, request),
                    Route::Refuse(code) => panic!("refused GET {query}: {code:?}"),
                }
            }
            client::Transmit::Post {
                request,
                query,
                content_type,
                body,
            } => {
                assert!(matches!(
                    route(&config, Method::Post, &query, false),
                    Route::Session { .. }
                ));
                let server = self.server.as_mut().unwrap();
                if server.handle_post(now, request) {
                    server.handle_post_body(now, request, Some(content_type), body);
                }
            }
            client::Transmit::OpenWebSocket { socket, query } => {
                match route(&config, Method::Get, &query, true) {
                    Route::Handshake(h) => {
                        self.server = Some(ServerSession::new(
                            now,
                            "pair-sid",
                            &h,
                            config,
                            InitialTransport::WebSocket(socket),
                        ))
                    }
                    Route::Session { query, .. } => self
                        .server
                        .as_mut()
                        .unwrap()
                        .handle_websocket_open(now, socket, query.b64),
                    Route::Refuse(code) => panic!("refused WebSocket {query}: {code:?}"),
                }
                self.schedule(Delivery::SocketOpen(socket));
            }
            client::Transmit::Frame { socket, frame } => {
                if let Some(server) = &mut self.server {
                    server.handle_websocket_frame(now, socket, frame);
                }
            }
            client::Transmit::CloseSocket { socket } => {
                if let Some(server) = &mut self.server {
                    server.handle_websocket_closed(now, socket);
                }
            }
        }
    }

    /// Runs the simulation until `until`, delivering and firing timers in time order.
    fn run_until(&mut self, until: Instant) {
        loop {
            let next_delivery = self.network.keys().next().map(|k| k.0);
            let server_timer = if self.server_dead {
                None
            } else {
                self.server.as_ref().and_then(ServerSession::poll_timeout)
            };
            let timers = [self.client.poll_timeout(), server_timer];
            let next_timer = timers.into_iter().flatten().min();
            let next = [next_delivery, next_timer].into_iter().flatten().min();
            match next {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    if next_delivery == Some(at) {
                        let (_, delivery) = self.network.pop_first().unwrap();
                        self.deliver(delivery);
                    } else {
                        let now = self.now;
                        self.client.handle_timeout(now);
                        if let Some(server) = self.server.as_mut().filter(|_| !self.server_dead) {
                            server.handle_timeout(now);
                        }
                        self.drain();
                    }
                }
                _ => break,
            }
        }
        self.now = until;
    }

    fn run(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    fn client_messages(&self) -> Vec<Data> {
        self.client_events
            .iter()
            .filter_map(|(_, e)| match e {
                client::ClientEvent::Message(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    fn server_messages(&self) -> Vec<Data> {
        self.server_events
            .iter()
            .filter_map(|(_, e)| match e {
                server::SessionEvent::Message(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    fn client_close(&self) -> Option<(Instant, CloseReason)> {
        self.client_events.iter().find_map(|(t, e)| match e {
            client::ClientEvent::Closed { reason, .. } => Some((*t, *reason)),
            _ => None,
        })
    }

    fn server_close(&self) -> Option<(Instant, CloseReason)> {
        self.server_events.iter().find_map(|(t, e)| match e {
            server::SessionEvent::Closed { reason, .. } => Some((*t, *reason)),
            _ => None,
        })
    }
}

fn text(s: &'static str) -> Data {
    Data::Text(s.into())
}

fn binary(b: &'static [u8]) -> Data {
    Data::Binary(Bytes::from_static(b))
}

fn exchange(pair: &mut Pair) {
    pair.client.send(text("hello server")).unwrap();
    pair.client.send(binary(&[1, 2, 3])).unwrap();
    pair.drain();
    pair.server
        .as_mut()
        .unwrap()
        .send(text("hello client"))
        .unwrap();
    pair.server
        .as_mut()
        .unwrap()
        .send(binary(&[4, 5, 6]))
        .unwrap();
    pair.drain();
    pair.run(Duration::from_secs(1));
    assert_eq!(
        pair.server_messages(),
        [text("hello server"), binary(&[1, 2, 3])]
    );
    assert_eq!(
        pair.client_messages(),
        [text("hello client"), binary(&[4, 5, 6])]
    );
}

const BOTH: [ProtocolVersion; 2] = [ProtocolVersion::V3, ProtocolVersion::V4];

#[test]
fn polling_only_handshake_and_messages() {
    for version in BOTH {
        let mut pair = Pair::new(
            version,
            ClientConfig {
                upgrade: false,
                ..Default::default()
            },
            ServerConfig::default(),
        );
        pair.run(Duration::from_millis(100));
        assert!(
            matches!(pair.client_events[0].1, client::ClientEvent::Open(_)),
            "{version:?}"
        );
        assert_eq!(pair.client.sid(), Some("pair-sid"));
        exchange(&mut pair);
        assert_eq!(pair.client.transport(), Transport::Polling);
    }
}

#[test]
fn base64_polling_in_both_versions() {
    for version in BOTH {
        let mut pair = Pair::new(
            version,
            ClientConfig {
                upgrade: false,
                force_base64: true,
                ..Default::default()
            },
            ServerConfig::default(),
        );
        pair.run(Duration::from_millis(100));
        exchange(&mut pair);
    }
}

#[test]
fn upgrade_with_a_parked_poll() {
    for version in BOTH {
        let mut pair = Pair::new(version, ClientConfig::default(), ServerConfig::default());
        pair.run(Duration::from_secs(1));
        assert_eq!(pair.client.transport(), Transport::Websocket, "{version:?}");
        assert_eq!(
            pair.server.as_ref().unwrap().transport(),
            Transport::Websocket
        );
        assert!(
            pair.client_events
                .iter()
                .any(|(_, e)| *e == client::ClientEvent::Upgraded)
        );
        assert!(
            pair.server_events
                .iter()
                .any(|(_, e)| *e == server::SessionEvent::Upgraded)
        );
        exchange(&mut pair);
    }
}

#[test]
fn messages_sent_during_the_upgrade_arrive_once_and_in_order() {
    for version in BOTH {
        let mut pair = Pair::new(version, ClientConfig::default(), ServerConfig::default());
        let mut sent_by_server = Vec::new();
        for i in 0..50 {
            pair.run(Duration::from_millis(3));
            pair.client
                .send(Data::Text(format!("c{i}").into()))
                .unwrap();
            // The server session exists once the handshake has arrived.
            if let Some(server) = pair.server.as_mut() {
                let data = Data::Text(format!("s{i}").into());
                server.send(data.clone()).unwrap();
                sent_by_server.push(data);
            }
            pair.drain();
        }
        pair.run(Duration::from_secs(1));
        let expected: Vec<Data> = (0..50)
            .map(|i| Data::Text(format!("c{i}").into()))
            .collect();
        assert_eq!(pair.server_messages(), expected, "{version:?}");
        assert!(sent_by_server.len() > 40);
        assert_eq!(pair.client_messages(), sent_by_server, "{version:?}");
        assert_eq!(pair.client.transport(), Transport::Websocket);
    }
}

#[test]
fn websocket_only_session() {
    for version in BOTH {
        let config = ClientConfig {
            transport: Transport::Websocket,
            ..Default::default()
        };
        let mut pair = Pair::new(version, config, ServerConfig::default());
        pair.run(Duration::from_millis(100));
        assert_eq!(pair.client.sid(), Some("pair-sid"));
        exchange(&mut pair);
    }
}

#[test]
fn heartbeats_keep_a_session_alive_for_an_hour() {
    for version in BOTH {
        for upgrade in [false, true] {
            let started = std::time::Instant::now();
            let mut pair = Pair::new(
                version,
                ClientConfig {
                    upgrade,
                    ..Default::default()
                },
                ServerConfig::default(),
            );
            pair.run(Duration::from_secs(3600));
            assert_eq!(pair.client_close(), None, "{version:?} upgrade={upgrade}");
            assert_eq!(pair.server_close(), None);
            assert!(!pair.client.is_closed() && !pair.server.as_ref().unwrap().is_closed());
            // Real time stays far below simulated time.
            assert!(started.elapsed() < Duration::from_secs(30));
        }
    }
}

#[test]
fn a_dead_server_is_detected_at_ping_interval_plus_ping_timeout() {
    let config = ServerConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    for version in BOTH {
        let mut pair = Pair::new(
            version,
            ClientConfig {
                upgrade: false,
                ..Default::default()
            },
            config.clone(),
        );
        pair.run(Duration::from_secs(2));
        let last_sign_of_life = pair.now;
        pair.server_dead = true;
        pair.run(Duration::from_secs(2));
        let (at, reason) = pair.client_close().unwrap();
        assert_eq!(reason, CloseReason::PingTimeout, "{version:?}");
        // The last heartbeat arrived at most one interval before the server died, and the client
        // gives up exactly interval + timeout after it.
        assert!(
            at > last_sign_of_life && at <= last_sign_of_life + Duration::from_millis(500),
            "{version:?}"
        );
    }
}

#[test]
fn a_silent_client_is_timed_out_by_the_server() {
    let config = ServerConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let mut pair = Pair::new(
        ProtocolVersion::V4,
        ClientConfig {
            transport: Transport::Websocket,
            ..Default::default()
        },
        config,
    );
    pair.run(Duration::from_millis(100));
    let opened = pair.now - Duration::from_millis(100);
    // The client stops processing anything: drop everything to it.
    pair.latency = Duration::from_secs(3600);
    pair.run(Duration::from_secs(1));
    let (at, reason) = pair.server_close().unwrap();
    assert_eq!(reason, CloseReason::PingTimeout);
    // Server opened at +10 ms (latency); ping at +310 ms; timeout 200 ms later.
    assert_eq!(at, opened + Duration::from_millis(10 + 300 + 200));
}

#[test]
fn client_close_reaches_the_server() {
    for version in BOTH {
        for upgrade in [false, true] {
            let mut pair = Pair::new(
                version,
                ClientConfig {
                    upgrade,
                    ..Default::default()
                },
                ServerConfig::default(),
            );
            pair.run(Duration::from_secs(1));
            pair.client.send(text("last words")).unwrap();
            let now = pair.now;
            pair.client.close(now);
            pair.drain();
            pair.run(Duration::from_secs(1));
            assert_eq!(
                pair.client_close().map(|c| c.1),
                Some(CloseReason::ForcedClose)
            );
            assert_eq!(
                pair.server_close().map(|c| c.1),
                Some(CloseReason::TransportClose),
                "{version:?} upgrade={upgrade}"
            );
            assert_eq!(pair.server_messages(), [text("last words")]);
        }
    }
}

#[test]
fn server_close_reaches_the_client() {
    for version in BOTH {
        for upgrade in [false, true] {
            let mut pair = Pair::new(
                version,
                ClientConfig {
                    upgrade,
                    ..Default::default()
                },
                ServerConfig::default(),
            );
            pair.run(Duration::from_secs(1));
            let server = pair.server.as_mut().unwrap();
            server.send(text("goodbye")).unwrap();
            server.close(pair.now);
            pair.drain();
            pair.run(Duration::from_secs(1));
            assert_eq!(
                pair.server_close().map(|c| c.1),
                Some(CloseReason::ForcedClose)
            );
            assert_eq!(
                pair.client_close().map(|c| c.1),
                Some(CloseReason::TransportClose),
                "{version:?} upgrade={upgrade}"
            );
            assert_eq!(pair.client_messages(), [text("goodbye")]);
        }
    }
}

#[test]
fn large_queues_are_split_into_posts_under_max_payload() {
    let config = ServerConfig {
        max_payload: 1000,
        ..Default::default()
    };
    let mut pair = Pair::new(
        ProtocolVersion::V4,
        ClientConfig {
            upgrade: false,
            ..Default::default()
        },
        config,
    );
    pair.run(Duration::from_millis(100));
    let big = "x".repeat(300);
    for _ in 0..10 {
        pair.client.send(Data::Text(big.clone().into())).unwrap();
    }
    assert!(
        pair.client
            .send(Data::Text("y".repeat(2000).into()))
            .is_err()
    );
    pair.drain();
    pair.run(Duration::from_secs(1));
    assert_eq!(pair.server_messages().len(), 10);
    assert_eq!(pair.server_close(), None);
}

#[test]
fn reordered_http_keeps_every_message_in_order() {
    for version in BOTH {
        for seed in 1..20 {
            let mut pair = Pair::new(
                version,
                ClientConfig {
                    upgrade: seed % 2 == 0,
                    ..Default::default()
                },
                ServerConfig::default(),
            );
            pair.jitter = Some(seed);
            let mut sent_by_server = Vec::new();
            for i in 0..40 {
                pair.run(Duration::from_millis(7));
                pair.client
                    .send(Data::Text(format!("c{i}").into()))
                    .unwrap();
                if let Some(server) = pair.server.as_mut() {
                    let data = Data::Text(format!("s{i}").into());
                    server.send(data.clone()).unwrap();
                    sent_by_server.push(data);
                }
                pair.drain();
            }
            pair.run(Duration::from_secs(2));
            let expected: Vec<Data> = (0..40)
                .map(|i| Data::Text(format!("c{i}").into()))
                .collect();
            assert_eq!(pair.server_messages(), expected, "{version:?} seed {seed}");
            assert_eq!(
                pair.client_messages(),
                sent_by_server,
                "{version:?} seed {seed}"
            );
            assert_eq!(pair.client_close(), None);
        }
    }
}

#[test]
fn a_lost_poll_closes_the_client_at_once_and_the_server_by_heartbeat() {
    for version in BOTH {
        let mut pair = Pair::new(
            version,
            ClientConfig {
                upgrade: false,
                ..Default::default()
            },
            ServerConfig::default(),
        );
        pair.run(Duration::from_millis(100));
        pair.server.as_mut().unwrap().send(text("lost")).unwrap();
        pair.fail_next_response = true;
        pair.drain();
        pair.run(Duration::from_millis(100));
        assert_eq!(
            pair.client_close().map(|c| c.1),
            Some(CloseReason::TransportError),
            "{version:?}"
        );
        // The server wrote its response and cannot know it was lost: the heartbeat finds out.
        assert_eq!(pair.server_close(), None);
        pair.run(Duration::from_secs(60));
        assert_eq!(
            pair.server_close().map(|c| c.1),
            Some(CloseReason::PingTimeout)
        );
    }
}
