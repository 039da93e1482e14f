//! A Socket.IO client on blocking `tungstenite`: the sans-IO [`Manager`] over one WebSocket at
//! a time. It joins `/`, sends `chat` events with an ack, prints what comes back, and
//! reconnects on its own when the server goes away.
//!
//! ```sh
//! cargo run -p socketio-proto --example std_client -- ws://127.0.0.1:3001
//! ```
//!
//! Works against `std_server`, the tokio `chat` server (`ws://127.0.0.1:3000`) or any Socket.IO
//! 4 server.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use engineio_proto::session::SocketId;
use engineio_proto::{Frame, Transport};
use socketio_proto::client::{
    EmitOptions, Manager, ManagerConfig, ManagerEvent, SocketOptions, Transmit,
};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

fn main() {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:3001".into());
    let mut config = ManagerConfig::default();
    config.engine.transport = Transport::Websocket;
    // Jitter for the reconnection delays; any value in [0, 1) will do.
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut manager = Manager::new(Instant::now(), config, Box::new(random));
    manager
        .connect(Instant::now(), "/", SocketOptions::default())
        .expect("a valid namespace");
    let mut socket: Option<(SocketId, Socket)> = None;
    let mut next_chat = Instant::now();
    let mut sent = 0u32;
    loop {
        let now = Instant::now();
        // Commands: a chat line every second, with an ack.
        if now >= next_chat {
            next_chat = now + Duration::from_secs(1);
            sent += 1;
            let options = EmitOptions {
                ack: true,
                timeout: Some(Duration::from_secs(5)),
                ..Default::default()
            };
            let _ = manager.emit(now, "/", "chat", &(format!("hello #{sent}"),), options);
        }
        // Drain the manager: carry out its transmits, print its events.
        loop {
            if let Some(event) = manager.poll_event() {
                match event {
                    ManagerEvent::Connected { sid, .. } => println!("connected as {sid}"),
                    ManagerEvent::Event { packet, .. } => {
                        println!("event {}", packet.raw_json().map_or("", |j| j.as_str()))
                    }
                    ManagerEvent::Ack { packet, .. } => {
                        println!("ack {}", packet.raw_json().map_or("", |j| j.as_str()))
                    }
                    ManagerEvent::Disconnected { reason, .. } => {
                        println!("disconnected: {reason:?}")
                    }
                    ManagerEvent::ReconnectAttempt(n) => println!("reconnection attempt {n}"),
                    _ => {}
                }
                continue;
            }
            let Some(transmit) = manager.poll_transmit() else {
                break;
            };
            match transmit {
                Transmit::OpenWebSocket { socket: id, query } => {
                    match tungstenite::connect(format!("{base}/socket.io/?{query}")) {
                        Ok((ws, _)) => {
                            if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
                                let _ = tcp.set_read_timeout(Some(Duration::from_millis(20)));
                            }
                            socket = Some((id, ws));
                            manager.handle_websocket_open(Instant::now(), id);
                        }
                        Err(_) => manager.handle_websocket_closed(Instant::now(), id),
                    }
                }
                Transmit::Frame { socket: id, frame } => {
                    let message = match frame {
                        Frame::Text(text) => Message::text(text.as_str()),
                        Frame::Binary(data) => Message::Binary(data),
                    };
                    if let Some((open, ws)) = &mut socket {
                        if *open == id && ws.send(message).is_err() {
                            socket = None;
                            manager.handle_websocket_closed(Instant::now(), id);
                        }
                    }
                }
                Transmit::CloseSocket { socket: id }
                    if socket.as_ref().is_some_and(|(open, _)| *open == id) =>
                {
                    socket = None
                }
                // WebSocket only: the manager asks for no HTTP request.
                _ => {}
            }
        }
        // Input: what the server sent (the read waits at most 20 ms), then the timers.
        if let Some((id, ws)) = &mut socket {
            let id = *id;
            match ws.read() {
                Ok(Message::Text(text)) => manager.handle_websocket_frame(
                    Instant::now(),
                    id,
                    Frame::Text(text.as_str().to_owned().into()),
                ),
                Ok(Message::Binary(data)) => {
                    manager.handle_websocket_frame(Instant::now(), id, Frame::Binary(data))
                }
                Ok(Message::Close(_)) => {
                    socket = None;
                    manager.handle_websocket_closed(Instant::now(), id);
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => {
                    socket = None;
                    manager.handle_websocket_closed(Instant::now(), id);
                }
            }
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
        manager.handle_timeout(Instant::now());
    }
}
