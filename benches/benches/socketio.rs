//! Socket.IO codec: decode at three depths (header only, validated, typed serde), encode, and a
//! broadcast to 10 000 sockets; `serde_json` validation of the same JSON as the floor.
//! Allocations per operation are counted by a global allocator and printed before the timings.
//!
//! `cargo bench -p socketio-sansio-benches --bench socketio`
#![allow(missing_docs, unsafe_code, clippy::unwrap_used)] // criterion macros; the counting allocator

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use serde::Deserialize;
use socketio_proto::session::rooms::{Adapter, BroadcastTarget, Rooms};
use socketio_proto::session::server::{Connection, ServerConfig};
use socketio_proto::{
    DecodeStatus, Decoder, Limits, Namespace, Packet, ProtocolVersion, RawHeader,
};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; the counter is an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations of one run of `f` (after a warm-up run).
fn allocations(mut f: impl FnMut()) -> usize {
    f();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn big_event() -> String {
    let items: Vec<String> = (0..250)
        .map(|i| {
            format!(
                r#"{{"id":{i},"name":"user{i}","active":true,"score":{}.5}}"#,
                i * 3
            )
        })
        .collect();
    format!(r#"2["snapshot",[{}]]"#, items.join(","))
}

/// (name, text packet, attachments)
fn cases() -> Vec<(&'static str, String, Vec<Bytes>)> {
    let ph = |n: usize| format!(r#"{{"_placeholder":true,"num":{n}}}"#);
    let ten: Vec<String> = (0..10).map(ph).collect();
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
            format!(r#"51-["file",{}]"#, ph(0)),
            vec![Bytes::from_static(&[1; 64])],
        ),
        (
            "binary_event_10",
            format!(r#"510-["files",{}]"#, ten.join(",")),
            vec![Bytes::from_static(&[2; 64]); 10],
        ),
        (
            "binary_ack",
            format!(r#"61-12[{}]"#, ph(0)),
            vec![Bytes::from_static(&[3; 64])],
        ),
        ("event_14kb", big_event(), vec![]),
    ]
}

#[derive(Deserialize)]
#[allow(dead_code)] // fields exist to be deserialized
struct User {
    id: u32,
    name: String,
    active: bool,
    score: f64,
}

fn decode_full(text: &Bytes, attachments: &[Bytes]) -> Packet {
    let mut decoder = Decoder::new(ProtocolVersion::V5, Limits::default());
    let mut status = decoder.feed_text(text.clone()).unwrap();
    for a in attachments {
        status = decoder.feed_binary(a.clone()).unwrap();
    }
    match status {
        DecodeStatus::Complete(p) => p,
        _ => unreachable!("all attachments fed"),
    }
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("sio_decode");
    println!("allocations per operation (header / validated / serde_json floor):");
    for (name, text, attachments) in cases() {
        let bytes = Bytes::from(text.clone());
        let json_start = RawHeader::parse(&text, ProtocolVersion::V5, &Limits::default())
            .unwrap()
            .json()
            .map(|j| text.len() - j.len());
        let size = text.len() + attachments.iter().map(Bytes::len).sum::<usize>();
        group.throughput(Throughput::Bytes(size as u64));
        let limits = Limits::default();
        let header = allocations(|| {
            black_box(RawHeader::parse(black_box(&text), ProtocolVersion::V5, &limits).unwrap());
        });
        let full = allocations(|| {
            black_box(decode_full(&bytes, &attachments));
        });
        let floor = allocations(|| {
            if let Some(start) = json_start {
                black_box(serde_json::from_str::<serde::de::IgnoredAny>(&text[start..]).unwrap());
            }
        });
        println!("  {name:20} {header} / {full} / {floor}");
        group.bench_with_input(BenchmarkId::new("header", name), &text, |b, text| {
            b.iter(|| RawHeader::parse(black_box(text), ProtocolVersion::V5, &limits).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("validated", name), &bytes, |b, bytes| {
            b.iter(|| decode_full(black_box(bytes), &attachments))
        });
        if let Some(start) = json_start {
            group.bench_with_input(
                BenchmarkId::new("serde_json_floor", name),
                &text[start..],
                |b, json| {
                    b.iter(|| {
                        serde_json::from_str::<serde::de::IgnoredAny>(black_box(json)).unwrap()
                    })
                },
            );
        }
    }
    let text = Bytes::from(big_event());
    let packet = decode_full(&text, &[]);
    group.bench_function("typed/event_14kb", |b| {
        b.iter(|| black_box(&packet).args::<(Vec<User>,)>().unwrap())
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("sio_encode");
    println!("allocations per encode (write_header into a reused buffer / encode + to_text):");
    for (name, text, attachments) in cases() {
        let packet = decode_full(&Bytes::from(text.clone()), &attachments);
        group.throughput(Throughput::Bytes(text.len() as u64));
        let mut out = Vec::with_capacity(64);
        let header = allocations(|| {
            out.clear();
            packet.write_header(&mut out);
        });
        let whole = allocations(|| {
            black_box(packet.encode().to_text());
        });
        println!("  {name:20} {header} / {whole}");
        group.bench_with_input(
            BenchmarkId::new("header_into_buffer", name),
            &packet,
            |b, packet| {
                b.iter(|| {
                    out.clear();
                    black_box(packet).write_header(&mut out);
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("encode_to_text", name),
            &packet,
            |b, packet| b.iter(|| black_box(packet).encode().to_text()),
        );
    }
    group.bench_function("serde_args/event", |b| {
        b.iter(|| {
            Packet::event(
                Namespace::main(),
                "chat",
                black_box(&("hello, world",)),
                None,
            )
            .unwrap()
        })
    });
    group.finish();
}

fn broadcast(c: &mut Criterion) {
    let now = Instant::now();
    let mut rooms = Rooms::default();
    let mut connections = Vec::new();
    for i in 0..10_000 {
        let sid = format!("s{i}");
        rooms.add_socket("/", &sid);
        rooms.join("/", &sid, if i % 2 == 0 { "even" } else { "odd" });
        let mut conn = Connection::new(now, ProtocolVersion::V5, ServerConfig::default());
        conn.handle_message(now, engineio_proto::Data::Text("0".into()));
        while conn.poll_event().is_some() {}
        conn.accept(&Namespace::main(), &sid, None).unwrap();
        while conn.poll_transmit().is_some() {}
        while conn.poll_event().is_some() {}
        connections.push(conn);
    }
    let packet = Packet::event(Namespace::main(), "news", &("hello, everyone",), None).unwrap();
    let target = BroadcastTarget::all();
    let recipients = rooms.recipients("/", &target).len();
    let mut group = c.benchmark_group("sio_broadcast");
    group.throughput(Throughput::Elements(recipients as u64));
    group.bench_function("10000_sockets", |b| {
        b.iter(|| {
            let encoded = packet.encode();
            for conn in &mut connections {
                conn.send_encoded("/", &encoded).unwrap();
            }
            // Drain, as the driver would, so that queues do not grow across iterations.
            for conn in &mut connections {
                while conn.poll_transmit().is_some() {}
            }
        })
    });
    group.finish();
}

criterion_group!(benches, decode, encode, broadcast);
criterion_main!(benches);
