//! Socket.IO codec, side by side with socketioxide's `socketioxide-parser-common` on the same
//! inputs, and `serde_json` validation of the same JSON as the floor:
//!
//! - decode at three depths: header only (routing), full validation (the reference rules),
//!   and typed serde decode into a struct;
//! - encode: into a reused buffer, and into a fresh shareable packet; from serde arguments;
//! - scaling sweeps: payload size 100 B to 1 MB, attachment count 1 to 100;
//! - a broadcast of one event to 10 000 connections, and to one (the difference is the cost
//!   of the extra recipients).
//!
//! Allocations per operation are printed as `allocs <id> <n>` lines.
//!
//! `cargo bench -p socketio-sansio-benches --bench socketio`
#![allow(missing_docs, clippy::unwrap_used)] // criterion macros

mod common;

use std::time::Instant;

use bytes::Bytes;
use criterion::{
    BatchSize, BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main,
};
use engineio_proto::session::RequestId;
use engineio_proto::session::SocketId;
use engineio_proto::session::endpoint::Input;
use engineio_proto::session::server::{
    Handshake, InitialTransport, Method, ServerConfig, ServerSession, Transmit,
};
use serde::{Deserialize, Serialize};
use socketio_proto::server::{BroadcastTarget, Rooms};
use socketio_proto::server::{Connection, ConnectionConfig, Output};
use socketio_proto::server::{Endpoint, EndpointConfig, ServerEvent};
use socketio_proto::{
    DecodeStatus, Decoder, Limits, Namespace, Packet, ProtocolVersion, RawHeader, Utf8Bytes,
};
use socketioxide_core::parser::{Parse, ParseConfig, ParseError, ParserState};
use socketioxide_core::{Str, Value, packet::Packet as OxidePacket};
use socketioxide_parser_common::CommonParser;

#[derive(Serialize, Deserialize)]
struct User {
    id: u32,
    name: String,
    active: bool,
    score: f64,
}

fn user(i: usize) -> User {
    User {
        id: i as u32,
        name: format!("user{i}"),
        active: true,
        score: (i * 3) as f64 + 0.5,
    }
}

fn users(n: usize) -> Vec<User> {
    (0..n).map(user).collect()
}

/// `2["snapshot",[…users…]]` with enough users to reach `bytes`.
fn event_of_size(bytes: usize) -> String {
    let mut text = String::from(r#"2["snapshot",["#);
    let mut i = 0;
    while text.len() + 2 < bytes {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&serde_json::to_string(&user(i)).unwrap());
        i += 1;
    }
    text.push_str("]]");
    text
}

fn placeholder(n: usize) -> String {
    format!(r#"{{"_placeholder":true,"num":{n}}}"#)
}

/// `5<n>-["files",ph0,…]` and `n` attachments of `size` bytes.
fn binary_event(n: usize, size: usize) -> (String, Vec<Bytes>) {
    let placeholders: Vec<String> = (0..n).map(placeholder).collect();
    (
        format!(r#"5{n}-["files",{}]"#, placeholders.join(",")),
        vec![Bytes::from(vec![7; size]); n],
    )
}

/// (name, text packet, attachments)
fn cases() -> Vec<(&'static str, String, Vec<Bytes>)> {
    let (ten, ten_attachments) = binary_event(10, 64);
    let big = serde_json::to_string(&("snapshot", users(250))).unwrap();
    vec![
        ("connect_main", "0".into(), vec![]),
        (
            "connect_custom_nsp",
            r#"0/custom_nsp,{"token":"abc"}"#.into(),
            vec![],
        ),
        ("event", r#"2["chat","hello, world"]"#.into(), vec![]),
        (
            "event_with_ack",
            r#"212["chat","hello, world"]"#.into(),
            vec![],
        ),
        ("ack", r#"312["ok"]"#.into(), vec![]),
        (
            "binary_event_1",
            format!(r#"51-["file",{}]"#, placeholder(0)),
            vec![Bytes::from_static(&[1; 64])],
        ),
        ("binary_event_10", ten, ten_attachments),
        (
            "binary_ack",
            format!(r#"61-12[{}]"#, placeholder(0)),
            vec![Bytes::from_static(&[3; 64])],
        ),
        ("event_14kb", format!("2{big}"), vec![]),
    ]
}

fn decode_ours(decoder: &mut Decoder, text: &Utf8Bytes, attachments: &[Bytes]) -> Packet {
    let mut status = decoder.feed_utf8(text.clone()).unwrap();
    for a in attachments {
        status = decoder.feed_binary(a.clone()).unwrap();
    }
    match status {
        DecodeStatus::Complete(p) => p,
        _ => unreachable!("all attachments fed"),
    }
}

/// The reference rules on the borrowed text: header and payload, no owned packet.
fn validate_borrowed<'t>(text: &'t str, limits: &Limits) -> RawHeader<'t> {
    let header = RawHeader::parse(text, ProtocolVersion::V5, limits).unwrap();
    header.validate().unwrap();
    header
}

fn decode_oxide(config: &ParseConfig, text: &Str, attachments: &[Bytes]) -> OxidePacket {
    let state = ParserState::default();
    match CommonParser.decode_str(config, &state, text.clone()) {
        Ok(packet) => packet,
        Err(ParseError::NeedsMoreBinaryData) => {
            for a in attachments {
                match CommonParser.decode_bin(config, &state, a.clone()) {
                    Ok(packet) => return packet,
                    Err(ParseError::NeedsMoreBinaryData) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            unreachable!("all attachments fed")
        }
        Err(e) => panic!("{e}"),
    }
}

/// The JSON part of a packet, for the serde_json floor.
fn json_of<'t>(text: &'t str, limits: &Limits) -> Option<&'t str> {
    RawHeader::parse(text, ProtocolVersion::V5, limits)
        .unwrap()
        .json()
}

fn floor(json: &str) {
    serde_json::from_str::<serde::de::IgnoredAny>(json).unwrap();
}

type Group<'c> = criterion::BenchmarkGroup<'c, criterion::measurement::WallTime>;

/// One input of a group: `gid/<function>/name` is its criterion id.
#[derive(Clone, Copy)]
struct Case<'a> {
    gid: &'a str,
    name: &'a str,
    text: &'a str,
    attachments: &'a [Bytes],
    limits: Limits,
}

impl Case<'_> {
    /// The criterion id of `function` on this input.
    fn id(&self, function: &str) -> String {
        format!("{}/{function}/{}", self.gid, self.name)
    }
}

/// The peer's parser settings, with room for the 100-attachment sweep.
fn peer_config() -> ParseConfig {
    ParseConfig {
        max_incoming_binaries: 100,
        ..ParseConfig::default()
    }
}

/// Decode at every depth, ours and the peer's, plus the floor, for one input.
fn decode_case(group: &mut Group<'_>, case: &Case<'_>) {
    let Case {
        name,
        text,
        attachments,
        limits,
        ..
    } = *case;
    let size = text.len() + attachments.iter().map(Bytes::len).sum::<usize>();
    group.throughput(Throughput::Bytes(size as u64));
    let utf8 = Utf8Bytes::from(text.to_owned());
    let oxide_text = Str::from(text.to_owned());
    let config = peer_config();
    let mut decoder = Decoder::new(ProtocolVersion::V5, limits);
    let id = |function: &str| case.id(function);

    common::report(&id("header"), || {
        black_box(RawHeader::parse(text, ProtocolVersion::V5, &limits).unwrap());
    });
    common::report(&id("validated_borrowed"), || {
        black_box(validate_borrowed(text, &limits));
    });
    common::report(&id("validated"), || {
        black_box(decode_ours(&mut decoder, &utf8, attachments));
    });
    common::report(&id("socketioxide_decode"), || {
        black_box(decode_oxide(&config, &oxide_text, attachments));
    });
    group.bench_function(BenchmarkId::new("header", name), |b| {
        b.iter(|| RawHeader::parse(black_box(text), ProtocolVersion::V5, &limits).unwrap())
    });
    group.bench_function(BenchmarkId::new("validated_borrowed", name), |b| {
        b.iter(|| validate_borrowed(black_box(text), &limits))
    });
    group.bench_function(BenchmarkId::new("validated", name), |b| {
        b.iter(|| decode_ours(&mut decoder, black_box(&utf8), attachments))
    });
    group.bench_function(BenchmarkId::new("socketioxide_decode", name), |b| {
        b.iter(|| decode_oxide(&config, black_box(&oxide_text), attachments))
    });
    if let Some(json) = json_of(text, &limits) {
        common::report(&id("serde_json_floor"), || floor(json));
        group.bench_function(BenchmarkId::new("serde_json_floor", name), |b| {
            b.iter(|| floor(black_box(json)))
        });
    }
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("sio_decode");
    for (name, text, attachments) in cases() {
        decode_case(
            &mut group,
            &Case {
                gid: "sio_decode",
                name,
                text: &text,
                attachments: &attachments,
                limits: Limits::default(),
            },
        );
    }

    // Typed: the 14 KB event's argument into `Vec<User>`.
    let text = format!(
        "2{}",
        serde_json::to_string(&("snapshot", users(250))).unwrap()
    );
    group.throughput(Throughput::Bytes(text.len() as u64));
    let utf8 = Utf8Bytes::from(text.clone());
    let packet = decode_ours(
        &mut Decoder::new(ProtocolVersion::V5, Limits::default()),
        &utf8,
        &[],
    );
    let oxide_value = match decode_oxide(&ParseConfig::default(), &Str::from(text), &[]).inner {
        socketioxide_core::packet::PacketData::Event(value, _) => value,
        _ => unreachable!("an event"),
    };
    let typed = |packet: &Packet| packet.args::<(Vec<User>,)>().unwrap();
    let oxide_typed = |value: &mut Value| {
        CommonParser
            .decode_value::<(Vec<User>,)>(value, true)
            .unwrap()
    };
    common::report("sio_decode/typed/event_14kb", || {
        black_box(typed(&packet));
    });
    let mut scratch = oxide_value.clone();
    common::report("sio_decode/socketioxide_typed/event_14kb", || {
        black_box(oxide_typed(&mut scratch));
    });
    group.bench_function(BenchmarkId::new("typed", "event_14kb"), |b| {
        b.iter(|| typed(black_box(&packet)))
    });
    group.bench_function(BenchmarkId::new("socketioxide_typed", "event_14kb"), |b| {
        b.iter_batched_ref(
            || oxide_value.clone(),
            |value| oxide_typed(value),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn encode_case(group: &mut Group<'_>, case: &Case<'_>) {
    let Case {
        name,
        text,
        attachments,
        limits,
        ..
    } = *case;
    let id = |function: &str| case.id(function);
    let packet = decode_ours(
        &mut Decoder::new(ProtocolVersion::V5, limits),
        &Utf8Bytes::from(text.to_owned()),
        attachments,
    );
    let config = peer_config();
    let oxide_packet = decode_oxide(&config, &Str::from(text.to_owned()), attachments);
    // Same bytes out on both sides.
    let mut out = Vec::with_capacity(text.len());
    packet.write_text(&mut out);
    assert_eq!(out, text.as_bytes(), "{name}");
    match CommonParser.encode(oxide_packet.clone()) {
        Value::Str(oxide_text, _) => assert_eq!(oxide_text.as_str(), text, "{name}"),
        Value::Bytes(_) => unreachable!("a text packet"),
    }

    group.throughput(Throughput::Bytes(text.len() as u64));
    common::report(&id("write_text_into_buffer"), || {
        out.clear();
        packet.write_text(&mut out);
    });
    common::report(&id("encode"), || {
        black_box(packet.encode());
    });
    // Consuming encoders: the packet is cloned outside the count and outside the timing.
    common::report_consuming(
        &id("into_encoded"),
        || packet.clone(),
        |p| {
            black_box(p.into_encoded());
        },
    );
    common::report_consuming(
        &id("socketioxide_encode"),
        || oxide_packet.clone(),
        |p| {
            black_box(CommonParser.encode(p));
        },
    );
    group.bench_function(BenchmarkId::new("write_text_into_buffer", name), |b| {
        b.iter(|| {
            out.clear();
            black_box(&packet).write_text(&mut out);
        })
    });
    group.bench_function(BenchmarkId::new("encode", name), |b| {
        b.iter(|| black_box(&packet).encode())
    });
    group.bench_function(BenchmarkId::new("into_encoded", name), |b| {
        b.iter_batched(
            || packet.clone(),
            Packet::into_encoded,
            BatchSize::SmallInput,
        )
    });
    group.bench_function(BenchmarkId::new("socketioxide_encode", name), |b| {
        b.iter_batched(
            || oxide_packet.clone(),
            |p| CommonParser.encode(p),
            BatchSize::SmallInput,
        )
    });
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("sio_encode");
    for (name, text, attachments) in cases() {
        encode_case(
            &mut group,
            &Case {
                gid: "sio_encode",
                name,
                text: &text,
                attachments: &attachments,
                limits: Limits::default(),
            },
        );
    }
    // From serde arguments to a shareable encoded packet, on both sides.
    for (name, data) in [("small", users(1)), ("14kb", users(250))] {
        let ours = || {
            Packet::event(Namespace::main(), "snapshot", &(&data,), None)
                .unwrap()
                .into_encoded()
        };
        let oxide = || {
            let value = CommonParser
                .encode_value(&(&data,), Some("snapshot"))
                .unwrap();
            CommonParser.encode(OxidePacket::event("/", value))
        };
        match oxide() {
            Value::Str(text, _) => assert_eq!(&text.as_str()[1..], &ours().text().unwrap()[1..]),
            Value::Bytes(_) => unreachable!("a text packet"),
        }
        group.throughput(Throughput::Bytes(ours().text().unwrap().len() as u64));
        common::report(&format!("sio_encode/serde/{name}"), || {
            black_box(ours());
        });
        common::report(&format!("sio_encode/socketioxide_serde/{name}"), || {
            black_box(oxide());
        });
        group.bench_function(BenchmarkId::new("serde", name), |b| b.iter(ours));
        group.bench_function(BenchmarkId::new("socketioxide_serde", name), |b| {
            b.iter(oxide)
        });
    }
    group.finish();
}

fn sweeps(c: &mut Criterion) {
    let mut group = c.benchmark_group("sio_sweep_payload");
    group.sample_size(20);
    for size in [100, 1_000, 10_000, 100_000, 1_000_000] {
        let text = event_of_size(size);
        let id = size.to_string();
        let case = Case {
            gid: "sio_sweep_payload",
            name: &id,
            text: &text,
            attachments: &[],
            limits: Limits::default(),
        };
        decode_case(&mut group, &case);
        encode_case(&mut group, &case);
    }
    group.finish();

    let mut group = c.benchmark_group("sio_sweep_attachments");
    group.sample_size(20);
    let limits = Limits {
        max_attachments: 100,
        ..Limits::default()
    };
    for n in [1, 10, 100] {
        let (text, attachments) = binary_event(n, 1024);
        let id = n.to_string();
        let case = Case {
            gid: "sio_sweep_attachments",
            name: &id,
            text: &text,
            attachments: &attachments,
            limits,
        };
        decode_case(&mut group, &case);
        encode_case(&mut group, &case);
    }
    group.finish();
}

fn connections(n: usize) -> (Rooms, Vec<Connection>) {
    let now = Instant::now();
    let mut rooms = Rooms::default();
    let mut connections = Vec::new();
    for i in 0..n {
        let sid = format!("s{i}");
        rooms.add_socket("/", &sid);
        rooms.join("/", &sid, if i % 2 == 0 { "even" } else { "odd" });
        let mut conn = Connection::new(now, ProtocolVersion::V5, ConnectionConfig::default());
        conn.handle_message(now, engineio_proto::Data::Text("0".into()));
        while conn.poll_event().is_some() {}
        conn.accept(&Namespace::main(), &sid, None).unwrap();
        while conn.poll_transmit().is_some() {}
        while conn.poll_event().is_some() {}
        connections.push(conn);
    }
    (rooms, connections)
}

fn broadcast(c: &mut Criterion) {
    let packet = Packet::event(Namespace::main(), "news", &("hello, everyone",), None).unwrap();
    let mut group = c.benchmark_group("sio_broadcast");
    for n in [1, 10_000] {
        let (rooms, mut connections) = connections(n);
        let target = BroadcastTarget::all();
        assert_eq!(rooms.recipients("/", &target).len(), n);
        let mut send = || {
            let encoded = packet.encode();
            for conn in &mut connections {
                conn.send_encoded("/", &encoded).unwrap();
            }
            // Drain, as the driver would, so that queues do not grow across iterations.
            for conn in &mut connections {
                while conn.poll_transmit().is_some() {}
            }
        };
        common::report(&format!("sio_broadcast/sockets/{n}"), &mut send);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("sockets", n), |b| b.iter(&mut send));
    }
    group.finish();
}

/// The two session layers of one recipient: its Socket.IO connection on its Engine.IO
/// session, on a WebSocket.
fn layered_recipients(n: usize, now: Instant) -> Vec<(Connection, ServerSession)> {
    let handshake = Handshake {
        version: engineio_proto::ProtocolVersion::V4,
        transport: engineio_proto::Transport::Websocket,
        b64: false,
        jsonp_index: None,
    };
    (0..n)
        .map(|i| {
            let socket = InitialTransport::WebSocket(SocketId(i as u64));
            let config = ServerConfig::default();
            let mut session = ServerSession::new(now, format!("e{i}"), &handshake, config, socket);
            while session.poll_transmit().is_some() {}
            let mut conn = Connection::new(now, ProtocolVersion::V5, ConnectionConfig::default());
            conn.handle_message(now, engineio_proto::Data::Text("0".into()));
            while conn.poll_event().is_some() {}
            conn.accept(&Namespace::main(), &format!("s{i}"), None)
                .unwrap();
            while conn.poll_transmit().is_some() {}
            while conn.poll_event().is_some() {}
            (conn, session)
        })
        .collect()
}

/// A server endpoint with `n` WebSocket clients joined to `/`.
fn endpoint_with_clients(n: usize, now: Instant) -> Endpoint {
    endpoint_with_adapter(n, now, Box::new(socketio_proto::server::MemoryAdapter))
}

fn endpoint_with_adapter(
    n: usize,
    now: Instant,
    adapter: Box<dyn socketio_proto::server::Adapter>,
) -> Endpoint {
    let mut next = 0u64;
    let ids = move || {
        next += 1;
        format!("id{next}")
    };
    let mut server = Endpoint::with_adapter(EndpointConfig::default(), Box::new(ids), adapter);
    for i in 0..n as u64 {
        let input = Input::Request {
            request: RequestId(i),
            method: Method::Get,
            query: "EIO=4&transport=websocket",
            websocket_upgrade: true,
        };
        server.handle(now, input);
        let mut socket = None;
        while let Some(transmit) = server.poll_transmit() {
            if let Transmit::AcceptWebSocket { socket: s, .. } = transmit {
                socket = Some(s);
            }
        }
        let socket = socket.expect("accepted");
        server.handle(now, Input::WebSocketOpen { socket });
        let frame = engineio_proto::Frame::Text("40".into());
        server.handle(now, Input::WebSocketFrame { socket, frame });
        while let Some(event) = server.poll_event() {
            if let ServerEvent::ConnectRequest(request) = event {
                server.accept(now, &request).unwrap();
            }
        }
        while server.poll_transmit().is_some() {}
    }
    server
}

/// A broadcast from another node of a Redis cluster (classic adapter) as our node handles it:
/// decoding `[uid, packet, opts]`, then the local broadcast down to the WebSocket frames, for
/// 1 and 500 local clients (the load benchmark's cluster nodes).
fn cluster_broadcast(c: &mut Criterion) {
    use socketio_cluster_proto::classic::{self, ClassicWire};
    use socketio_cluster_proto::redis::RedisInput;
    use socketio_cluster_proto::{BroadcastOptions, ClusterAdapter};
    type Classic = ClusterAdapter<ClassicWire>;
    let now = Instant::now();
    let mut group = c.benchmark_group("sio_cluster_broadcast");
    let packet = Packet::event(Namespace::main(), "news", &("x".repeat(70),), None).unwrap();
    let mut message = Vec::new();
    classic::broadcast(
        &mut message,
        "OTHERN",
        &packet,
        &BroadcastOptions::default(),
    )
    .unwrap();
    let message = bytes::Bytes::from(message);
    for n in [1, 500] {
        let members = [(Namespace::main(), "OURUID".to_owned())];
        let adapter = Classic::new(ClassicWire::new("socket.io"), &members);
        let mut server = endpoint_with_adapter(n, now, Box::new(adapter));
        let mut receive = || {
            let input = RedisInput::Message {
                channel: "socket.io#/#".to_owned(),
                payload: message.clone(),
            };
            server.with_adapter_mut(now, |a: &mut Classic, local| a.handle(now, local, input));
            let mut frames = 0;
            while let Some(transmit) = server.poll_transmit() {
                frames += usize::from(matches!(transmit, Transmit::Frame { .. }));
            }
            assert_eq!(frames, n);
        };
        common::report(&format!("sio_cluster_broadcast/receive/{n}"), &mut receive);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("receive", n), |b| b.iter(&mut receive));
    }
    group.finish();
}

/// The whole server path of a broadcast: rooms, the Socket.IO connections, the Engine.IO
/// sessions, down to the WebSocket frames the driver writes.
fn broadcast_to_frames(c: &mut Criterion) {
    let now = Instant::now();
    let mut group = c.benchmark_group("sio_broadcast_frame");
    for (size, filler) in [("100B", "x".repeat(70)), ("14KB", "x".repeat(14_000))] {
        let packet = Packet::event(Namespace::main(), "news", &(filler,), None).unwrap();
        for n in [1, 10_000] {
            let mut server = endpoint_with_clients(n, now);
            let all = BroadcastTarget::all();
            let mut send = || {
                server.broadcast(now, packet.clone(), &all).unwrap();
                let mut frames = 0;
                while let Some(transmit) = server.poll_transmit() {
                    frames += usize::from(matches!(transmit, Transmit::Frame { .. }));
                }
                assert_eq!(frames, n);
            };
            let id = format!("{size}/{n}");
            common::report(&format!("sio_broadcast_frame/{id}"), &mut send);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::new(size, n), |b| b.iter(&mut send));

            // The session layers alone (what a driver that keeps its own recipient list
            // pays): the shared encoding through each connection and session to its frame.
            let mut layers = layered_recipients(n, now);
            let mut send = || {
                let encoded = packet.encode();
                for (conn, session) in &mut layers {
                    conn.send_encoded("/", &encoded).unwrap();
                    while let Some(output) = conn.poll_transmit() {
                        if let Output::TextFrame(frame) = output {
                            session.send_text_frame(frame).unwrap();
                        }
                    }
                    while let Some(transmit) = session.poll_transmit() {
                        std::hint::black_box(transmit);
                    }
                }
            };
            let id = format!("layers_{size}/{n}");
            common::report(&format!("sio_broadcast_frame/{id}"), &mut send);
            group.bench_function(BenchmarkId::new(format!("layers_{size}"), n), |b| {
                b.iter(&mut send)
            });
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    decode,
    encode,
    sweeps,
    broadcast,
    broadcast_to_frames,
    cluster_broadcast
);
criterion_main!(benches);
