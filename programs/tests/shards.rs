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
//!   accepted them;
//! * (hostile) a shard starved of CPU while a client of the other floods broadcasts: the
//!   queue between them stays bounded and nothing is lost.
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

/// `VmRSS` of this process, in KiB.
fn own_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// A shard starved of CPU (a handler of its own blocks its thread for 3 s) while a client of
/// the other shard floods broadcasts to every socket: the flooding shard forwards at most
/// `SIBLING_QUEUE` + `FORWARD_HIGH` broadcasts, then stops reading its clients (before the
/// bound, with the queue unbounded, it forwarded all 12 000 and held them); once the starved
/// shard runs again, every broadcast reaches the clients of both shards, none lost.
///
/// In process, on the public API: the server is `SocketIo::builder().threads(2)`, its shards
/// on threads of their own, the clients raw WebSockets on the test's runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starved_shard_bounds_what_the_flooding_shard_queues_and_loses_nothing() {
    use socketio_tokio::server::FORWARD_HIGH;
    use socketio_tokio::{Data, Event, Socket, SocketIo, driver};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const BROADCASTS: usize = 12_000;
    const STALL: Duration = Duration::from_secs(3);

    let (io, server) = SocketIo::builder().threads(2).build_server();
    io.ns("/", |socket: Socket| {
        socket.on("to-all", |socket: Socket, event: Event| {
            let _ = socket.nsp().emit("all-message", &event);
        });
        // Starves this socket's shard: its thread does nothing else meanwhile.
        socket.on("stall", |_: Socket, Data(ms): Data<u64>| {
            std::thread::sleep(Duration::from_millis(ms));
        });
    });
    let handle = server
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = handle.local_addr();
    let tag = |index| driver::shard_tag(index).unwrap() as u8;

    let connect = |wanted: u8| async move {
        let mut ws = open_where(addr, |shard| shard == wanted).await;
        ws.send(Message::text("40")).await.unwrap();
        assert!(text(&mut ws).await.starts_with("40{\"sid\":"));
        ws
    };
    let flooder = connect(tag(0)).await;
    let mut starved = connect(tag(1)).await;

    /// Counts the `all-message` frames a client receives, answering pings.
    fn count(mut stream: futures_util::stream::SplitStream<Ws>) -> Arc<AtomicUsize> {
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                if let Message::Text(text) = frame {
                    if text.as_str().starts_with(r#"42["all-message""#) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        seen
    }

    starved
        .send(Message::text(format!(
            r#"42["stall",{}]"#,
            STALL.as_millis()
        )))
        .await
        .unwrap();
    let (_starved_sink, starved_stream) = starved.split();
    let at_starved = count(starved_stream);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let rss_before = own_rss_kib();
    let stall_started = tokio::time::Instant::now();
    let (mut sink, stream) = flooder.split();
    let at_flooder = count(stream);
    let payload = "x".repeat(1000);
    let writer = tokio::spawn(async move {
        for n in 0..BROADCASTS {
            let frame = format!(r#"42["to-all",{n},"{payload}"]"#);
            if sink.send(Message::text(frame)).await.is_err() {
                return (n, sink);
            }
        }
        (BROADCASTS, sink)
    });

    // Late in the stall: what the flooding shard took in is what it delivered to its own
    // client, and each of those is forwarded or waiting for the starved shard.
    tokio::time::sleep_until(stall_started + STALL - Duration::from_millis(600)).await;
    let taken_in = at_flooder.load(Ordering::Relaxed);
    let rss_during = own_rss_kib();
    eprintln!(
        "during the stall: {taken_in} of {BROADCASTS} broadcasts taken in; RSS {} → {} KiB",
        rss_before, rss_during
    );
    let bound = driver::SIBLING_QUEUE + FORWARD_HIGH + 1024;
    assert!(
        taken_in > 0 && taken_in <= bound,
        "the flooding shard kept reading: {taken_in} broadcasts taken in (bound {bound})"
    );
    assert_eq!(
        at_starved.load(Ordering::Relaxed),
        0,
        "the starved shard delivered during its stall"
    );

    // After the stall, everything arrives, on both shards.
    let (sent, _sink) = writer.await.unwrap();
    assert_eq!(sent, BROADCASTS, "the flooder's connection failed");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while (at_flooder.load(Ordering::Relaxed) < BROADCASTS
        || at_starved.load(Ordering::Relaxed) < BROADCASTS)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        at_flooder.load(Ordering::Relaxed),
        BROADCASTS,
        "lost on the flooding shard"
    );
    assert_eq!(
        at_starved.load(Ordering::Relaxed),
        BROADCASTS,
        "lost on the starved shard"
    );
}
