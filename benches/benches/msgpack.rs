//! The msgpack parser side by side with its floor and with our text parser, on the same
//! logical packets: a small event, the 14 KB event, one 64 KB binary, ten 1 KB binaries.
//!
//! * `validate`: [`RawMsgpackPacket::parse`], the borrowed check (no allocation);
//! * `decode`: [`Packet::decode_msgpack`], the owned packet;
//! * `rmpv_floor`: `rmp-serde` into `rmpv::Value`, a generic msgpack tree (the Rust floor);
//! * `rmp_validate_floor`: `rmp-serde` into `IgnoredAny`, its validation-only pass;
//! * `text_decode`: our text decoder on the same packet in the text format (text + binary
//!   frames);
//! * `encode` / `text_encode`: into a reused buffer.

#![allow(missing_docs, clippy::unwrap_used)] // criterion macros

#[path = "common/mod.rs"]
mod common;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use serde::Serialize;
use socketio_proto::msgpack::{RawMsgpackPacket, Side};
use socketio_proto::{
    DecodeStatus, Decoder, Limits, Namespace, Packet, ProtocolVersion, Utf8Bytes,
};

#[derive(Serialize)]
struct User {
    id: u32,
    name: String,
    email: String,
    active: bool,
    score: f64,
    tags: Vec<&'static str>,
}

fn users(n: u32) -> Vec<User> {
    (0..n)
        .map(|id| User {
            id,
            name: format!("user {id}"),
            email: format!("user{id}@example.com"),
            active: id % 3 != 0,
            score: f64::from(id) * 1.25,
            tags: vec!["a", "bc"],
        })
        .collect()
}

fn cases() -> Vec<(&'static str, Packet)> {
    let main = Namespace::main;
    vec![
        (
            "event_small",
            Packet::event(main(), "message", &("hello", 42), None).unwrap(),
        ),
        (
            "event_14kb",
            Packet::event(main(), "snapshot", &(users(100),), None).unwrap(),
        ),
        (
            "binary_1x64kb",
            Packet::event(main(), "file", &(Bytes::from(vec![7u8; 65_536]),), None).unwrap(),
        ),
        (
            "binary_10x1kb",
            Packet::event(
                main(),
                "files",
                &(vec![Bytes::from(vec![7u8; 1024]); 10],),
                None,
            )
            .unwrap(),
        ),
    ]
}

fn text_decode(decoder: &mut Decoder, text: &Utf8Bytes, attachments: &[Bytes]) -> Packet {
    let mut status = decoder.feed_utf8(text.clone()).unwrap();
    for a in attachments {
        status = decoder.feed_binary(a.clone()).unwrap();
    }
    match status {
        DecodeStatus::Complete(p) => p,
        other => panic!("{other:?}"),
    }
}

fn msgpack(c: &mut Criterion) {
    let mut group = c.benchmark_group("sio_msgpack");
    let limits = Limits::default();
    for (name, packet) in cases() {
        let mut wire = Vec::new();
        packet.write_msgpack(Side::Server, &mut wire).unwrap();
        let wire = Bytes::from(wire);
        let encoded = packet.encode();
        let text = encoded.to_text().unwrap();
        let attachments = encoded.attachments().to_vec();
        group.throughput(Throughput::Bytes(wire.len() as u64));

        let id = |f: &str| format!("sio_msgpack/{f}/{name}");
        common::report(&id("validate"), || {
            black_box(RawMsgpackPacket::parse(&wire, &limits).unwrap());
        });
        common::report(&id("decode"), || {
            black_box(Packet::decode_msgpack(wire.clone(), &limits).unwrap());
        });
        group.bench_function(BenchmarkId::new("validate", name), |b| {
            b.iter(|| RawMsgpackPacket::parse(black_box(&wire), &limits).unwrap())
        });
        group.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| Packet::decode_msgpack(black_box(wire.clone()), &limits).unwrap())
        });
        group.bench_function(BenchmarkId::new("rmpv_floor", name), |b| {
            b.iter(|| rmp_serde::from_slice::<rmpv::Value>(black_box(&wire)).unwrap())
        });
        group.bench_function(BenchmarkId::new("rmp_validate_floor", name), |b| {
            b.iter(|| rmp_serde::from_slice::<serde::de::IgnoredAny>(black_box(&wire)).unwrap())
        });
        let mut decoder = Decoder::new(ProtocolVersion::V5, limits);
        group.bench_function(BenchmarkId::new("text_decode", name), |b| {
            b.iter(|| text_decode(&mut decoder, black_box(&text), &attachments))
        });

        let mut out = Vec::with_capacity(wire.len() * 2);
        common::report(&id("encode"), || {
            out.clear();
            packet.write_msgpack(Side::Server, &mut out).unwrap();
        });
        group.bench_function(BenchmarkId::new("encode", name), |b| {
            b.iter(|| {
                out.clear();
                black_box(&packet)
                    .write_msgpack(Side::Server, &mut out)
                    .unwrap();
            })
        });
        group.bench_function(BenchmarkId::new("text_encode", name), |b| {
            b.iter(|| {
                out.clear();
                black_box(&packet).write_text(&mut out);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, msgpack);
criterion_main!(benches);
