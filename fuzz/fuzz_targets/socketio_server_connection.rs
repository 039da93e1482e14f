//! A Socket.IO server connection fed arbitrary Engine.IO messages, application answers and clock
//! advances. It never panics, reports Closed once and then stays silent, answers only what the
//! client asked (each ack id at most once), and never leaves a timer due after handle_timeout.
#![no_main]

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use engineio_proto::Data;
use engineio_proto::session::CloseReason;
use socketio_proto::server::{Connection, ConnectionConfig, ConnectionEvent, Output};
use socketio_proto::{Namespace, Packet, PacketType, ProtocolVersion};

#[derive(Arbitrary, Debug)]
enum Op {
    Text(String),
    Binary(Vec<u8>),
    Advance(u16),
    AcceptOrRefuse { accept: bool },
    EmitWithAck { timeout_ms: u16 },
    AckLastEvent,
    Disconnect,
    Close,
    EngineClosed,
}

libfuzzer_sys::fuzz_target!(|input: (bool, Vec<Op>)| {
    let (v4, ops) = input;
    let version = if v4 {
        ProtocolVersion::V4
    } else {
        ProtocolVersion::V5
    };
    let mut now = Instant::now();
    let mut c = Connection::new(now, version, ConnectionConfig::default());
    let mut pending: Vec<Namespace> = Vec::new();
    let mut last_event: Option<Packet> = None;
    let mut closed = false;
    for op in ops {
        let was_closed = c.is_closed();
        match op {
            Op::Text(t) => c.handle_message(now, Data::Text(t.into())),
            Op::Binary(b) => c.handle_message(now, Data::Binary(Bytes::from(b))),
            Op::Advance(ms) => {
                now += Duration::from_millis(u64::from(ms) * 8);
                c.handle_timeout(now);
                assert!(
                    c.poll_timeout().is_none_or(|at| at > now),
                    "a due timer survived"
                );
            }
            Op::AcceptOrRefuse { accept } => {
                if let Some(ns) = pending.pop() {
                    let result = if accept {
                        c.accept(&ns, "sid", None)
                    } else {
                        c.refuse::<()>(&ns, "no", None)
                    };
                    assert_eq!(result.is_ok(), !c.is_closed());
                }
            }
            Op::EmitWithAck { timeout_ms } => {
                let ns = c.namespaces().next().map(str::to_owned);
                if let Some(ns) = ns {
                    let packet =
                        Packet::event(Namespace::new(&ns).unwrap(), "e", &(1,), None).unwrap();
                    let id = c
                        .emit(
                            now,
                            packet,
                            Some(Duration::from_millis(u64::from(timeout_ms))),
                        )
                        .unwrap();
                    assert!(id.is_some());
                }
            }
            Op::AckLastEvent => {
                if let Some(event) = last_event.take() {
                    if let Some(id) = event.ack_id() {
                        let ack = Packet::ack(event.full_namespace().clone(), id, &()).unwrap();
                        let first = c.ack(ack.clone()).is_ok();
                        // A second ack for the same id is always refused.
                        assert!(c.ack(ack).is_err());
                        assert!(!first || !c.is_closed());
                    }
                }
            }
            Op::Disconnect => {
                let ns = c.namespaces().next().map(str::to_owned);
                if let Some(ns) = ns {
                    c.disconnect(&Namespace::new(&ns).unwrap()).unwrap();
                }
            }
            Op::Close => c.close(),
            Op::EngineClosed => c.handle_engine_closed(CloseReason::TransportClose),
        }
        let mut outputs = 0;
        while let Some(output) = c.poll_transmit() {
            outputs += 1;
            if let Output::TextFrame(frame) = &output {
                // Only well-formed packets go out, each framed as an Engine.IO message.
                assert_eq!(frame.as_bytes()[0], b'4');
                let t = &frame[1..];
                let mut decoder = socketio_proto::Decoder::new(version, Default::default());
                let status = decoder.feed_text(Bytes::copy_from_slice(t.as_bytes()));
                assert!(status.is_ok(), "we sent {t:?}");
            }
        }
        if was_closed {
            assert_eq!(outputs, 0, "output after the close");
        }
        while let Some(event) = c.poll_event() {
            assert!(!closed, "an event after Closed");
            match event {
                ConnectionEvent::ConnectRequest { namespace, .. } => pending.push(namespace),
                ConnectionEvent::Event(packet) => {
                    assert_ne!(packet.packet_type(), PacketType::Connect);
                    last_event = Some(packet);
                }
                ConnectionEvent::Closed(_) => closed = true,
                _ => {}
            }
        }
        assert_eq!(closed, c.is_closed());
    }
});
