//! Engine.IO codec: single packets and polling bodies, decode and encode, side by side with
//! socketioxide's `engineioxide-core` on the same inputs. Allocations per operation are
//! printed as `allocs <id> <n>` lines.
//!
//! `cargo bench -p socketio-sansio-benches --bench engineio`
#![allow(missing_docs, clippy::unwrap_used)] // criterion macros

mod common;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use engineio_proto::{
    Limits, Packet, PacketRef, PayloadFormat, ProtocolVersion, decode_payload,
    decode_payload_owned, encode_payload,
};
use engineioxide_core as oxide;
use futures_util::StreamExt;

const PACKETS: [(&str, &str); 4] = [
    ("message", "4Hello"),
    ("ping", "2"),
    ("probe", "2probe"),
    ("binary_b64", "bAQIDBAUG"),
];

fn packets(c: &mut Criterion) {
    let mut group = c.benchmark_group("eio_packet");
    let mut binary = Vec::with_capacity(64);
    let mut ours_decode = |text: &str| {
        let packet = PacketRef::decode_text(ProtocolVersion::V4, text).unwrap();
        // Binary data is decoded from base64 too, as the peer does (into a reused buffer).
        binary.clear();
        packet.data.decode_base64_into(&mut binary);
        packet.packet_type
    };
    for (name, text) in PACKETS {
        group.throughput(Throughput::Bytes(text.len() as u64));
        let oxide_text = oxide::Str::from(text);
        let oxide_packet = oxide::Packet::parse(oxide::ProtocolVersion::V4, text).unwrap();
        let packet = PacketRef::decode_text(ProtocolVersion::V4, text)
            .unwrap()
            .to_owned_packet();
        let mut out = Vec::with_capacity(64);
        let mut ours_encode = |packet: &Packet| {
            out.clear();
            packet
                .as_packet_ref()
                .encode_text(ProtocolVersion::V4, &mut out)
                .unwrap();
        };
        let oxide_encode = |packet: &oxide::Packet| String::from(packet.clone());

        common::report(&format!("eio_packet/decode/{name}"), || {
            black_box(ours_decode(text));
        });
        common::report(&format!("eio_packet/socketioxide_decode/{name}"), || {
            black_box(
                oxide::Packet::parse(oxide::ProtocolVersion::V4, oxide_text.clone()).unwrap(),
            );
        });
        common::report(&format!("eio_packet/encode/{name}"), || {
            ours_encode(&packet)
        });
        common::report(&format!("eio_packet/socketioxide_encode/{name}"), || {
            black_box(oxide_encode(&oxide_packet));
        });

        group.bench_with_input(BenchmarkId::new("decode", name), text, |b, text| {
            b.iter(|| ours_decode(black_box(text)))
        });
        group.bench_with_input(
            BenchmarkId::new("socketioxide_decode", name),
            &oxide_text,
            |b, text| {
                b.iter(|| {
                    oxide::Packet::parse(oxide::ProtocolVersion::V4, black_box(text).clone())
                        .unwrap()
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("encode", name), &packet, |b, packet| {
            b.iter(|| ours_encode(black_box(packet)))
        });
        group.bench_with_input(
            BenchmarkId::new("socketioxide_encode", name),
            &oxide_packet,
            |b, packet| b.iter(|| oxide_encode(black_box(packet))),
        );
    }
    group.finish();
}

/// `n` packets: `2["chat","hello, world"]` messages with every fifth one a 6-byte binary.
fn queue(n: usize) -> Vec<Packet> {
    (0..n)
        .map(|i| {
            if i % 5 == 4 {
                Packet::binary(vec![1, 2, 3, 4, 5, 6])
            } else {
                Packet::message(r#"2["chat","hello, world"]"#)
            }
        })
        .collect()
}

fn oxide_queue(queue: &[Packet], v3: bool) -> Vec<oxide::Packet> {
    queue
        .iter()
        .map(|p| match p.as_packet_ref().data {
            engineio_proto::DataRef::Text(text) => oxide::Packet::Message(text.to_owned().into()),
            data => {
                let mut bytes = Vec::new();
                data.decode_base64_into(&mut bytes);
                if v3 {
                    oxide::Packet::BinaryV3(bytes.into())
                } else {
                    oxide::Packet::Binary(bytes.into())
                }
            }
        })
        .collect()
}

fn oxide_decode_body(body: &Bytes, format: PayloadFormat) -> usize {
    let (version, content_type) = match format {
        PayloadFormat::V4 => (oxide::ProtocolVersion::V4, None),
        PayloadFormat::V3Text => (oxide::ProtocolVersion::V3, None),
        _ => (
            oxide::ProtocolVersion::V3,
            Some(http::HeaderValue::from_static("application/octet-stream")),
        ),
    };
    let body = http_body_util::Full::new(body.clone());
    let stream = oxide::payload::decoder(body, content_type.as_ref(), version, 1_000_000);
    common::ready(stream.fold(0, |n, p| async move { n + usize::from(p.is_ok()) }))
}

fn oxide_encode_body(queue: &[oxide::Packet], format: PayloadFormat) -> Bytes {
    let (version, binary) = match format {
        PayloadFormat::V4 => (oxide::ProtocolVersion::V4, true),
        PayloadFormat::V3Text => (oxide::ProtocolVersion::V3, false),
        _ => (oxide::ProtocolVersion::V3, true),
    };
    let stream = futures_util::stream::iter(
        queue
            .iter()
            .map(|p| std::iter::once(p.clone()).collect::<oxide::PacketBuf>()),
    );
    common::ready(oxide::payload::encoder(stream, version, binary, 1_000_000)).data
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
            let queue = queue(n);
            let oxide_queue = oxide_queue(&queue, format != PayloadFormat::V4);
            let mut body = Vec::new();
            encode_payload(
                format,
                queue.iter().map(Packet::as_packet_ref),
                usize::MAX,
                &mut body,
            )
            .unwrap();
            let body = Bytes::from(body);
            assert_eq!(oxide_decode_body(&body, format), n, "{name}");
            if format != PayloadFormat::V3Binary {
                // The peer's v3 binary encoder writes its own record layout; the others match.
                assert_eq!(oxide_encode_body(&oxide_queue, format), body, "{name}");
            }
            group.throughput(Throughput::Bytes(body.len() as u64));
            let decode = |body: &Bytes| {
                decode_payload(format, body, &limits).fold(0, |n, p| n + usize::from(p.is_ok()))
            };
            let decode_owned = |body: &Bytes| decode_payload_owned(format, body, &limits).0.len();
            let mut out = Vec::with_capacity(body.len());
            let mut encode = |queue: &[Packet]| {
                out.clear();
                encode_payload(
                    format,
                    queue.iter().map(Packet::as_packet_ref),
                    usize::MAX,
                    &mut out,
                )
                .unwrap()
            };
            let id = |what: &str| format!("eio_payload/{what}_{name}/{n}");
            common::report(&id("decode"), || {
                black_box(decode(&body));
            });
            common::report(&id("decode_owned"), || {
                black_box(decode_owned(&body));
            });
            common::report(&id("socketioxide_decode"), || {
                black_box(oxide_decode_body(&body, format));
            });
            common::report(&id("encode"), || {
                black_box(encode(&queue));
            });
            common::report(&id("socketioxide_encode"), || {
                black_box(oxide_encode_body(&oxide_queue, format));
            });
            let bench_id = |what: &str| BenchmarkId::new(format!("{what}_{name}"), n);
            group.bench_with_input(bench_id("decode"), &body, |b, body| {
                b.iter(|| decode(black_box(body)))
            });
            group.bench_with_input(bench_id("decode_owned"), &body, |b, body| {
                b.iter(|| decode_owned(black_box(body)))
            });
            group.bench_with_input(bench_id("socketioxide_decode"), &body, |b, body| {
                b.iter(|| oxide_decode_body(black_box(body), format))
            });
            group.bench_with_input(bench_id("encode"), &queue, |b, queue| {
                b.iter(|| encode(black_box(queue)))
            });
            group.bench_with_input(bench_id("socketioxide_encode"), &oxide_queue, |b, queue| {
                b.iter(|| oxide_encode_body(black_box(queue), format))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, packets, bodies);
criterion_main!(benches);
