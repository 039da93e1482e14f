//! Engine.IO codec: single packets and polling bodies, decode and encode.
//!
//! `cargo bench -p socketio-sansio-benches --bench engineio`
#![allow(missing_docs, clippy::unwrap_used)] // criterion's macros generate undocumented items

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use engineio_proto::{
    Limits, Packet, PacketRef, PayloadFormat, ProtocolVersion, decode_payload, encode_payload,
};

const PACKETS: [(&str, &str); 4] = [
    ("message", "4Hello"),
    ("ping", "2"),
    ("probe", "2probe"),
    ("binary_b64", "bAQIDBAUG"),
];

fn packets(c: &mut Criterion) {
    let mut group = c.benchmark_group("eio_packet");
    for (name, text) in PACKETS {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("decode", name), text, |b, text| {
            b.iter(|| PacketRef::decode_text(ProtocolVersion::V4, black_box(text)).unwrap())
        });
        let packet = PacketRef::decode_text(ProtocolVersion::V4, text)
            .unwrap()
            .to_owned_packet();
        let mut out = Vec::with_capacity(64);
        group.bench_with_input(BenchmarkId::new("encode", name), &packet, |b, packet| {
            b.iter(|| {
                out.clear();
                black_box(packet)
                    .as_packet_ref()
                    .encode_text(ProtocolVersion::V4, &mut out)
                    .unwrap();
            })
        });
    }
    group.finish();
}

fn bodies(c: &mut Criterion) {
    let mut group = c.benchmark_group("eio_payload");
    let limits = Limits::default();
    for (format, name) in [
        (PayloadFormat::V4, "v4"),
        (PayloadFormat::V3Text, "v3_text"),
        (PayloadFormat::V3Binary, "v3_binary"),
    ] {
        for n in [1usize, 10, 100] {
            let queue: Vec<Packet> = (0..n)
                .map(|i| {
                    if i % 5 == 4 {
                        Packet::binary(vec![1, 2, 3, 4, 5, 6])
                    } else {
                        Packet::message(r#"2["chat","hello, world"]"#)
                    }
                })
                .collect();
            let mut body = Vec::new();
            encode_payload(
                format,
                queue.iter().map(Packet::as_packet_ref),
                usize::MAX,
                &mut body,
            )
            .unwrap();
            group.throughput(Throughput::Bytes(body.len() as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("decode_{name}"), n),
                &body,
                |b, body| {
                    b.iter(|| {
                        decode_payload(format, black_box(body), &limits)
                            .fold(0, |n, p| n + usize::from(p.is_ok()))
                    })
                },
            );
            let mut out = Vec::with_capacity(body.len());
            group.bench_with_input(
                BenchmarkId::new(format!("encode_{name}"), n),
                &queue,
                |b, queue| {
                    b.iter(|| {
                        out.clear();
                        encode_payload(
                            format,
                            black_box(queue).iter().map(Packet::as_packet_ref),
                            usize::MAX,
                            &mut out,
                        )
                        .unwrap()
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, packets, bodies);
criterion_main!(benches);
