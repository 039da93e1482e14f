//! The server session fed an arbitrary sequence of requests, frames, sends and clock advances.
//! It never panics, reports its close exactly once and nothing after it, answers each request
//! at most once, sends nothing on a socket it closed, and never asks to be woken in the past.
#![no_main]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use engineio_proto::session::server::{
    Connection, Event, Handshake, ServerConfig, ServerSession, Transmit,
};
use engineio_proto::session::{RequestId, SocketId};
use engineio_proto::{Data, Frame, ProtocolVersion, Transport};

#[derive(Arbitrary, Debug)]
enum Op {
    Get,
    Post {
        binary_content_type: bool,
        body: Vec<u8>,
    },
    PostTooLarge,
    /// A POST whose body is still being read; `PostBody` delivers it later.
    PostBegin,
    PostBody {
        binary_content_type: bool,
        body: Vec<u8>,
    },
    Abort(u8),
    WebSocketOpen {
        socket: u8,
        b64: bool,
    },
    Text {
        socket: u8,
        text: String,
    },
    Binary {
        socket: u8,
        data: Vec<u8>,
    },
    WebSocketClosed(u8),
    Advance(u16),
    SendText(String),
    SendBinary(Vec<u8>),
    Close,
}

#[derive(Arbitrary, Debug)]
struct Input {
    v3: bool,
    websocket_only: bool,
    b64: bool,
    jsonp: bool,
    ops: Vec<Op>,
}

fn fresh(last_request: &mut u64) -> RequestId {
    *last_request += 1;
    RequestId(*last_request)
}

libfuzzer_sys::fuzz_target!(|input: Input| {
    let mut now = Instant::now();
    let version = if input.v3 {
        ProtocolVersion::V3
    } else {
        ProtocolVersion::V4
    };
    let handshake = Handshake {
        version,
        transport: if input.websocket_only {
            Transport::Websocket
        } else {
            Transport::Polling
        },
        b64: input.b64,
        jsonp_index: input.jsonp.then(|| "0".to_owned()),
    };
    let connection = if input.websocket_only {
        Connection::WebSocket(SocketId(0))
    } else {
        Connection::Polling(RequestId(0))
    };
    let config = ServerConfig {
        allow_eio3: true,
        max_payload: 4096,
        ..Default::default()
    };
    let mut session = ServerSession::new(now, "fuzz", &handshake, config, connection);
    let mut answered = HashSet::new();
    let mut closed_sockets = HashSet::new();
    let mut closed = false;
    // Every request gets a new id, as a driver would give it; `Abort` picks a recent one.
    let mut last_request = 0u64;
    let mut reading: Vec<RequestId> = Vec::new();
    for op in input.ops {
        match op {
            Op::Get => session.handle_get(now, fresh(&mut last_request)),
            Op::Post {
                binary_content_type,
                body,
            } => {
                let request = fresh(&mut last_request);
                if session.handle_post(now, request) {
                    let content_type = binary_content_type.then_some("application/octet-stream");
                    session.handle_post_body(now, request, content_type, Bytes::from(body));
                }
            }
            Op::PostBegin => {
                let request = fresh(&mut last_request);
                if session.handle_post(now, request) {
                    reading.push(request);
                }
            }
            Op::PostBody {
                binary_content_type,
                body,
            } => {
                if !reading.is_empty() {
                    let request = reading.remove(0);
                    let content_type = binary_content_type.then_some("application/octet-stream");
                    session.handle_post_body(now, request, content_type, Bytes::from(body));
                }
            }
            Op::PostTooLarge => {
                let request = fresh(&mut last_request);
                if session.handle_post(now, request) {
                    session.handle_post_too_large(now, request);
                }
            }
            Op::Abort(back) => session.handle_request_aborted(
                now,
                RequestId(last_request.saturating_sub(u64::from(back % 4))),
            ),
            Op::WebSocketOpen { socket, b64 } => {
                let socket = SocketId(u64::from(socket) + 1);
                closed_sockets.remove(&socket);
                session.handle_websocket_open(now, socket, b64);
            }
            Op::Text { socket, text } => session.handle_websocket_frame(
                now,
                SocketId(u64::from(socket)),
                Frame::Text(text.into()),
            ),
            Op::Binary { socket, data } => session.handle_websocket_frame(
                now,
                SocketId(u64::from(socket)),
                Frame::Binary(Bytes::from(data)),
            ),
            Op::WebSocketClosed(s) => session.handle_websocket_closed(now, SocketId(u64::from(s))),
            Op::Advance(ms) => {
                now += Duration::from_millis(u64::from(ms) * 16);
                session.handle_timeout(now);
                assert!(
                    session.poll_timeout().is_none_or(|at| at > now),
                    "a due timer survived handle_timeout"
                );
            }
            Op::SendText(text) => {
                let _ = session.send(Data::Text(text.into()));
            }
            Op::SendBinary(data) => {
                let _ = session.send(Data::Binary(Bytes::from(data)));
            }
            Op::Close => session.close(now),
        }
        while let Some(transmit) = session.poll_transmit() {
            match transmit {
                Transmit::Response { request, .. } => {
                    assert!(answered.insert(request), "request answered twice")
                }
                Transmit::Frame { socket, .. } => {
                    assert!(!closed_sockets.contains(&socket), "frame after close")
                }
                Transmit::CloseSocket { socket } => {
                    closed_sockets.insert(socket);
                }
                _ => {}
            }
        }
        while let Some(event) = session.poll_event() {
            assert!(!closed, "an event after Closed");
            if let Event::Closed { .. } = event {
                closed = true;
            }
        }
        assert_eq!(closed, session.is_closed());
    }
});
