//! Helpers shared by the cluster tests.
#![allow(dead_code)] // each test crate uses its own part
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::time::Instant;

use engineio_proto::Frame;
use engineio_proto::session::endpoint::Input;
use engineio_proto::session::server::{Method, Transmit};
use engineio_proto::session::{RequestId, SocketId};
use socketio_proto::server::Endpoint;

/// The bytes of a hex dump as ADAPTERS.md prints them (whitespace ignored).
pub(crate) fn bytes(hex: &str) -> Vec<u8> {
    let hex: String = hex.split_whitespace().collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// A client's WebSocket handshake (`request` its HTTP request's id), opened, sending
/// `connect` (a Socket.IO CONNECT, `40…`).
pub(crate) fn open_websocket(
    endpoint: &mut Endpoint,
    now: Instant,
    request: u64,
    connect: &str,
) -> SocketId {
    let input = Input::Request {
        request: RequestId(request),
        method: Method::Get,
        query: "EIO=4&transport=websocket",
        websocket_upgrade: true,
    };
    endpoint.handle(now, input);
    let Some(Transmit::AcceptWebSocket { socket, .. }) = endpoint.poll_transmit() else {
        panic!("not accepted")
    };
    endpoint.handle(now, Input::WebSocketOpen { socket });
    let frame = Frame::Text(connect.to_owned().into());
    endpoint.handle(now, Input::WebSocketFrame { socket, frame });
    socket
}
