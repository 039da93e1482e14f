//! A server on two shards (`conformance-server --mode interop --threads 2`), over real sockets
//! with raw clients that pick their shard: every session id, socket id and recovery id names
//! the shard that gave it out (its first character), so a client reconnects until it lands on
//! the shard it wants.
//!
//! * a client that drops from one shard recovers on the other: same socket id, and the room
//!   broadcast it missed comes before the CONNECT reply; dropped again, it recovers on the
//!   first shard;
//! * a broadcast from a client of one shard reaches a client of the other;
//! * a polling client's requests, each on a new connection, reach its session whichever shard
//!   accepted them.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{WebSocketStream, client_async};

type Ws = WebSocketStream<TcpStream>;

fn sharded_server() -> (support::Process, SocketAddr) {
    let args = [
        "--threads",
        "2",
        "--ping-interval-ms",
        "25000",
        "--ping-timeout-ms",
        "20000",
    ];
    support::our_server_with("interop", 0, &args)
}

/// The next text frame (pings answered).
async fn text(ws: &mut Ws) -> String {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("open")
            .unwrap();
        if let Message::Text(text) = frame {
            if text.as_str() == "2" {
                ws.send(Message::text("3")).await.unwrap();
                continue;
            }
            return text.as_str().to_owned();
        }
    }
}

/// A WebSocket session on a shard `wanted` accepts (its session id's first character):
/// reconnects until the kernel hands it to one (at most 64 tries).
async fn open_where(addr: SocketAddr, wanted: impl Fn(u8) -> bool) -> Ws {
    for _ in 0..64 {
        let stream = TcpStream::connect(addr).await.unwrap();
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (mut ws, _) = client_async(url, stream).await.unwrap();
        let open = text(&mut ws).await;
        let sid = open.split("\"sid\":\"").nth(1).unwrap();
        if wanted(sid.as_bytes()[0]) {
            return ws;
        }
    }
    panic!("never landed on the shard wanted")
}

/// Joins `/` (with `auth`); returns the CONNECT reply's `{sid, pid}` and the offset of the
/// `auth` event the interop app sends on connect.
async fn join(ws: &mut Ws, auth: &str) -> (serde_json::Value, String) {
    ws.send(Message::text(format!("40{auth}"))).await.unwrap();
    let reply = text(ws).await;
    let reply: serde_json::Value = serde_json::from_str(reply.strip_prefix("40").unwrap()).unwrap();
    let event = text(ws).await;
    let event: serde_json::Value = serde_json::from_str(event.strip_prefix("42").unwrap()).unwrap();
    assert_eq!(event[0], "auth");
    (reply, event[2].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_client_that_drops_from_one_shard_recovers_on_the_other() {
    let (_server, addr) = sharded_server();
    let mut first = open_where(addr, |_| true).await;
    let (reply, offset) = join(&mut first, "").await;
    let (sid, pid) = (
        reply["sid"].as_str().unwrap(),
        reply["pid"].as_str().unwrap(),
    );
    let home = pid.as_bytes()[0];
    first
        .send(Message::text(r#"421["join","r7"]"#))
        .await
        .unwrap();
    assert_eq!(text(&mut first).await, r#"431["r7"]"#);
    // The transport fails (no close frame): the session is kept on its shard.
    drop(first);
    let mut helper = open_where(addr, |_| true).await;
    join(&mut helper, "").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    helper
        .send(Message::text(r#"42["to-room","r7","missed"]"#))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut again = open_where(addr, |shard| shard != home).await;
    let auth = format!(r#"{{"pid":"{pid}","offset":"{offset}"}}"#);
    again
        .send(Message::text(format!("40{auth}")))
        .await
        .unwrap();
    let missed = text(&mut again).await;
    assert!(
        missed.starts_with(r#"42["room-message","missed",""#),
        "the missed broadcast first: {missed}"
    );
    assert_eq!(
        text(&mut again).await,
        format!(r#"40{{"sid":"{sid}","pid":"{pid}"}}"#),
        "the same socket, recovered"
    );
    // The app greets it again: the last offset this shard gave it.
    let greeting = text(&mut again).await;
    let greeting: serde_json::Value =
        serde_json::from_str(greeting.strip_prefix("42").unwrap()).unwrap();
    let offset = greeting[2].as_str().unwrap().to_owned();

    // Dropped again, it comes back to its first shard, which no longer has its session.
    drop(again);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut back = open_where(addr, |shard| shard == home).await;
    let auth = format!(r#"{{"pid":"{pid}","offset":"{offset}"}}"#);
    back.send(Message::text(format!("40{auth}"))).await.unwrap();
    assert_eq!(
        text(&mut back).await,
        format!(r#"40{{"sid":"{sid}","pid":"{pid}"}}"#),
        "recovered a second time"
    );
}

#[tokio::test]
async fn a_broadcast_reaches_the_other_shard() {
    let (_server, addr) = sharded_server();
    let mut a = open_where(addr, |_| true).await;
    let (reply, _) = join(&mut a, "").await;
    let home = reply["sid"].as_str().unwrap().as_bytes()[0];
    let mut b = open_where(addr, |shard| shard != home).await;
    join(&mut b, "").await;
    a.send(Message::text(r#"42["to-all","hello"]"#))
        .await
        .unwrap();
    let got = text(&mut b).await;
    assert!(got.starts_with(r#"42["all-message","hello",""#), "{got}");
}

/// One request on a new connection: (status, body).
async fn http(addr: SocketAddr, method: &str, query: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} /socket.io/?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
        .await
        .expect("answered within 5 s")
        .unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[tokio::test]
async fn a_polling_clients_requests_reach_its_session_from_either_shard() {
    let (_server, addr) = sharded_server();
    let (status, open) = http(addr, "GET", "EIO=4&transport=polling", "").await;
    assert_eq!(status, 200);
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let query = format!("EIO=4&transport=polling&sid={sid}");
    // Ten requests on new connections: each reaches the session, on whichever shard the
    // kernel put its connection (all on one: one chance in 2^10).
    assert_eq!(http(addr, "POST", &query, "40").await, (200, "ok".into()));
    let (_, reply) = http(addr, "GET", &query, "").await;
    assert!(reply.starts_with("40{\"sid\":"), "{reply}");
    for n in 0..4 {
        let event = format!(r#"42{n}["message-with-ack","m{n}"]"#);
        assert_eq!(http(addr, "POST", &query, &event).await, (200, "ok".into()));
        let (_, ack) = http(addr, "GET", &query, "").await;
        assert!(ack.contains(&format!(r#"43{n}["m{n}"]"#)), "{ack}");
    }
}
