//! The server driver's own duties, over real sockets with raw HTTP: bodies over `maxPayload`
//! refused before they are read whole, clients that vanish mid-poll or mid-upgrade leave no
//! session behind, and the reference's refusals come back with their status codes.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::net::SocketAddr;
use std::time::Duration;

use engineio_proto::session::server::ServerConfig;
use socketio_programs::echo::Echo;
use socketio_tokio::Options;
use socketio_tokio::driver::{self as server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server(max_payload: usize) -> ServerHandle {
    let config = ServerConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        upgrade_timeout: Duration::from_millis(400),
        max_payload,
        ..ServerConfig::default()
    };
    let options = Options::new("/engine.io/");
    server::serve("127.0.0.1:0".parse().unwrap(), options, Echo::new(config))
        .await
        .unwrap()
}

/// Sends raw bytes on a new connection.
async fn send_raw(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    stream
}

/// Reads one HTTP/1.1 response with a Content-Length: (status, body).
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let status = text[9..12].parse().unwrap();
                return (status, text[end + 4..end + 4 + length].to_owned());
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("response in time")
            .unwrap();
        assert!(
            n > 0,
            "connection closed before a full response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn get(addr: SocketAddr, query: &str) -> (u16, String) {
    let request = format!("GET /engine.io/?{query} HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut stream = send_raw(addr, request.as_bytes()).await;
    read_response(&mut stream).await
}

async fn handshake(addr: SocketAddr) -> String {
    let (status, body) = get(addr, "EIO=4&transport=polling").await;
    assert_eq!(status, 200);
    let open: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
    open["sid"].as_str().unwrap().to_owned()
}

async fn wait_for_sessions(server: &ServerHandle, expected: usize, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while server.session_count() != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {} sessions, expected {expected}",
            server.session_count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_declared_oversize_body_is_refused_before_it_is_sent() {
    let server = server(1000).await;
    let sid = handshake(server.local_addr()).await;
    // Headers only: the body never comes, so a 413 proves it was not waited for.
    let request = format!(
        "POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5000000\r\n\r\n"
    );
    let mut stream = send_raw(server.local_addr(), request.as_bytes()).await;
    assert_eq!(read_response(&mut stream).await.0, 413);
    // The session is still there (the reference keeps it too) and takes a proper POST.
    assert_eq!(server.session_count(), 1);
    let ok = format!(
        "POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n4hello"
    );
    let mut stream = send_raw(server.local_addr(), ok.as_bytes()).await;
    assert_eq!(read_response(&mut stream).await, (200, "ok".into()));
    assert_eq!(
        get(
            server.local_addr(),
            &format!("EIO=4&transport=polling&sid={sid}")
        )
        .await,
        (200, "4hello".into())
    );
}

#[tokio::test]
async fn a_chunked_body_is_cut_off_at_max_payload() {
    let server = server(1000).await;
    let sid = handshake(server.local_addr()).await;
    let request = format!(
        "POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut stream = send_raw(server.local_addr(), request.as_bytes()).await;
    // 600 + 600 bytes: over the limit after the second chunk; the stream never ends.
    let chunk = format!("258\r\n4{}\r\n", "a".repeat(599));
    stream.write_all(chunk.as_bytes()).await.unwrap();
    stream.write_all(chunk.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 413);
}

#[tokio::test]
async fn a_client_that_vanishes_mid_poll_leaves_no_session() {
    let server = server(1_000_000).await;
    let sid = handshake(server.local_addr()).await;
    let request =
        format!("GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n");
    let stream = send_raw(server.local_addr(), request.as_bytes()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.session_count(), 1);
    drop(stream); // the parked poll's connection goes away
    // Aborted at once, or at the latest after pingInterval + pingTimeout.
    wait_for_sessions(&server, 0, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_client_that_vanishes_mid_upgrade_leaves_no_session() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let server = server(1_000_000).await;
    let sid = handshake(server.local_addr()).await;
    let url = format!(
        "ws://{}/engine.io/?EIO=4&transport=websocket&sid={sid}",
        server.local_addr()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text("2probe")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("3probe"));
    // The client goes silent: no `5`, no polls, no pongs; its TCP connection stays open.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.session_count(), 1);
    wait_for_sessions(&server, 0, Duration::from_secs(3)).await;
    // And the half-upgraded socket was closed by the server.
    let rest = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(message)) = ws.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(rest.is_ok(), "the socket was left open");
}

#[tokio::test]
async fn refusals_carry_the_reference_codes() {
    let server = server(1_000_000).await;
    let addr = server.local_addr();
    assert_eq!(
        get(addr, "EIO=4&transport=carrier-pigeon").await,
        (400, r#"{"code":0,"message":"Transport unknown"}"#.into())
    );
    assert_eq!(
        get(addr, "EIO=4&transport=polling&sid=nope").await,
        (400, r#"{"code":1,"message":"Session ID unknown"}"#.into())
    );
    assert_eq!(
        get(addr, "EIO=3&transport=polling").await,
        (
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#.into()
        )
    );
    let (status, _) = get(addr, "").await;
    assert_eq!(status, 400);
    // Not the Engine.IO path: no fallback given, so 404.
    let mut stream = send_raw(addr, b"GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(read_response(&mut stream).await.0, 404);
}
