//! A whole session on the simulated pair, with no network in between: our client `Manager`
//! against an Engine.IO `ServerSession` plus a Socket.IO `Connection`, on one virtual instant.
//! One iteration is the polling handshake, the CONNECT, the upgrade to WebSocket and 1 000
//! events, each acknowledged by the server.
//!
//! `cargo bench -p socketio-sansio-benches --bench session`
#![allow(missing_docs, clippy::unwrap_used)] // criterion macros

mod common;

use std::collections::VecDeque;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engineio_proto::session::server::{self as eio, Method, Route, ServerSession};
use socketio_proto::Packet;
use socketio_proto::client::{
    EmitOptions, Manager, ManagerConfig, ManagerEvent, SocketOptions, Transmit,
};
use socketio_proto::server::{self as sio, Connection, Output};

const EVENTS: usize = 1000;

struct Server {
    engine: Option<ServerSession>,
    connection: Option<Connection>,
}

impl Server {
    /// Hands one client transmit to the server session.
    fn receive(&mut self, now: Instant, transmit: Transmit) {
        let config = eio::ServerConfig::default();
        match transmit {
            Transmit::Get { request, query } => {
                match eio::route(&config, Method::Get, &query, false) {
                    Route::Handshake(h) => {
                        let engine = ServerSession::new(
                            now,
                            "sid",
                            &h,
                            config,
                            eio::InitialTransport::Polling(request),
                        );
                        self.engine = Some(engine);
                        self.connection = Some(Connection::new(
                            now,
                            socketio_proto::ProtocolVersion::V5,
                            sio::ConnectionConfig::default(),
                        ));
                    }
                    _ => self.engine.as_mut().unwrap().handle_get(now, request),
                }
            }
            Transmit::Post {
                request,
                content_type,
                body,
                ..
            } => {
                let engine = self.engine.as_mut().unwrap();
                if engine.handle_post(now, request) {
                    engine.handle_post_body(now, request, Some(content_type), body);
                }
            }
            Transmit::OpenWebSocket { socket, .. } => self
                .engine
                .as_mut()
                .unwrap()
                .handle_websocket_open(now, socket, false),
            Transmit::Frame { socket, frame } => self
                .engine
                .as_mut()
                .unwrap()
                .handle_websocket_frame(now, socket, frame),
            Transmit::CloseSocket { socket } => self
                .engine
                .as_mut()
                .unwrap()
                .handle_websocket_closed(now, socket),
        }
    }

    /// Runs the glue and the app (accept every CONNECT, ack every event) until nothing moves;
    /// returns what goes back to the client.
    fn pump(&mut self, now: Instant, out: &mut VecDeque<eio::Transmit>) {
        let (Some(engine), Some(connection)) = (self.engine.as_mut(), self.connection.as_mut())
        else {
            return;
        };
        loop {
            let mut moved = false;
            while let Some(event) = engine.poll_event() {
                moved = true;
                if let eio::SessionEvent::Message(data) = event {
                    connection.handle_message(now, data);
                }
            }
            while let Some(event) = connection.poll_event() {
                moved = true;
                match event {
                    sio::ConnectionEvent::ConnectRequest { namespace, .. } => {
                        connection.accept(&namespace, "s1", None).unwrap()
                    }
                    sio::ConnectionEvent::Event(packet) => {
                        let ack = Packet::ack(
                            packet.full_namespace().clone(),
                            packet.ack_id().unwrap(),
                            &("ok",),
                        )
                        .unwrap();
                        connection.ack(ack).unwrap();
                    }
                    _ => {}
                }
            }
            while let Some(output) = connection.poll_transmit() {
                moved = true;
                match output {
                    Output::TextFrame(frame) => engine.send_text_frame(frame).unwrap(),
                    Output::Binary(data) => {
                        engine.send(engineio_proto::Data::Binary(data)).unwrap()
                    }
                    _ => {}
                }
            }
            while let Some(transmit) = engine.poll_transmit() {
                moved = true;
                out.push_back(transmit);
            }
            if !moved {
                return;
            }
        }
    }
}

/// Delivers everything both ways until both sides are quiet.
fn settle(
    now: Instant,
    client: &mut Manager,
    server: &mut Server,
    acks: &mut usize,
    upgraded: &mut bool,
) {
    let mut to_client = VecDeque::new();
    loop {
        let mut moved = false;
        while let Some(transmit) = client.poll_transmit() {
            moved = true;
            if let Transmit::OpenWebSocket { socket, .. } = &transmit {
                client.handle_websocket_open(now, *socket);
            }
            server.receive(now, transmit);
        }
        while let Some(event) = client.poll_event() {
            moved = true;
            match event {
                ManagerEvent::Ack { .. } => *acks += 1,
                ManagerEvent::Connected { .. } => {}
                _ => {}
            }
        }
        server.pump(now, &mut to_client);
        while let Some(transmit) = to_client.pop_front() {
            moved = true;
            match transmit {
                eio::Transmit::Response { request, response } => client.handle_response(
                    now,
                    request,
                    response.status,
                    response.content_type,
                    response.body,
                ),
                eio::Transmit::Frame { socket, frame } => {
                    client.handle_websocket_frame(now, socket, frame)
                }
                eio::Transmit::CloseSocket { socket } => {
                    client.handle_websocket_closed(now, socket)
                }
                _ => {}
            }
        }
        *upgraded |= server
            .engine
            .as_ref()
            .is_some_and(|e| e.transport() == engineio_proto::Transport::Websocket);
        if !moved {
            return;
        }
    }
}

fn session_round_trip() -> usize {
    let now = Instant::now();
    let mut client = Manager::new(now, ManagerConfig::default(), Box::new(|| 0.5));
    let mut server = Server {
        engine: None,
        connection: None,
    };
    let (mut acks, mut upgraded) = (0, false);
    client.connect(now, "/", SocketOptions::default()).unwrap();
    settle(now, &mut client, &mut server, &mut acks, &mut upgraded);
    assert!(
        upgraded && client.is_connected("/"),
        "handshake and upgrade did not complete"
    );
    let ack = EmitOptions {
        ack: true,
        ..EmitOptions::default()
    };
    for i in 0..EVENTS {
        client
            .emit(now, "/", "event", &(i, "payload"), ack)
            .unwrap();
        settle(now, &mut client, &mut server, &mut acks, &mut upgraded);
    }
    assert_eq!(acks, EVENTS);
    acks
}

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("session");
    group.throughput(Throughput::Elements(EVENTS as u64));
    common::report("session/handshake_upgrade_1000_acked_events", || {
        criterion::black_box(session_round_trip());
    });
    group.bench_function("handshake_upgrade_1000_acked_events", |b| {
        b.iter(session_round_trip)
    });
    group.finish();
}

criterion_group!(benches, round_trip);
criterion_main!(benches);
