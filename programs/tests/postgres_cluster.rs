//! Multi-node through PostgreSQL, over real sockets: the official socket.io 4.8.4 server with
//! `@socket.io/postgres-adapter` 0.5.0 (pg 8.16.3) as node A, our `conformance-server
//! --postgres` as node B, a throw-away PostgreSQL cluster of the test's own (Debian's
//! `postgresql`, run as the `postgres` user when the tests run as root), and
//! socket.io-client 4.8.4 clients on both nodes (`interop/cluster-clients.mjs`):
//!
//! * broadcasts to the namespace and to rooms with binary arguments, and broadcasts of 20 000
//!   characters (through the attachments table), both ways;
//! * the adapter's requests both ways: `fetchSockets`, `socketsJoin`/`socketsLeave`,
//!   `serverSideEmit` with and without acks, `serverCount` (from heartbeats),
//!   `disconnectSockets`, broadcasts with acks (a binary ack included);
//! * a node that stops without a word is no longer counted once its heartbeats stop, and one
//!   that closes at once;
//! * a database restart: both connections of our node come back and broadcasts flow again;
//! * our emitter (the `emit` program) reaches the clients of both nodes.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use socketio_tokio::client::{Client, Transports};
use support::{Postgres, Process, assert_all_passed, node_server, our_server_with, run_script};

/// One cluster at a time: they share two cores.
static SERIAL: Mutex<()> = Mutex::new(());

const BROADCASTS: [&str; 3] = ["broadcast-a-to-b", "broadcast-b-to-a", "rooms-both-ways"];

/// Heartbeats every 300 ms, a silent node gone after 600 ms (ours) or 900 ms (Node.js), so
/// that the tests of departures are short.
const HEARTBEAT_MS: &str = "300";

fn available() -> bool {
    support::node_available() && support::postgres_available()
}

/// Node A, the official server, on the cluster at `url`.
fn node_js(url: &str) -> (Process, String) {
    let args = [
        "--postgres",
        url,
        "--heartbeat-interval",
        HEARTBEAT_MS,
        "--heartbeat-timeout",
        "900",
    ];
    let (process, addr) = node_server("reference-server.mjs", 0, &args);
    (process, format!("http://{addr}"))
}

/// Node B, ours.
fn ours(url: &str) -> (Process, String) {
    let args = ["--postgres", url, "--heartbeat-ms", HEARTBEAT_MS];
    let (process, addr) = our_server_with("sio", 0, &args);
    (process, format!("http://{addr}"))
}

fn clients(a: &str, b: &str, extra: &[&str]) -> (Vec<support::Report>, std::process::ExitStatus) {
    let mut args = vec!["--a", a, "--b", b, "--adapter", "postgres"];
    args.extend(extra);
    run_script("cluster-clients.mjs", &args, Duration::from_secs(90), || {})
}

const REQUESTS: [&str; 7] = [
    "local-broadcast-stays",
    "fetch-sockets",
    "sockets-join-and-leave",
    "server-side-emit",
    "server-count",
    "disconnect-sockets",
    "broadcast-with-ack",
];

#[test]
fn a_node_js_node_and_ours_exchange_broadcasts_and_answer_requests() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !available() {
        return;
    }
    let pg = Postgres::start();
    let (_a, node) = node_js(&pg.url());
    let (_b, ours) = ours(&pg.url());
    // Both nodes heard each other's first heartbeat.
    std::thread::sleep(Duration::from_millis(500));
    let mut expected = BROADCASTS.to_vec();
    expected.push("big-broadcast-both-ways");
    expected.extend(REQUESTS);

    let (reports, status) = clients(&node, &ours, &["--requests", "--big"]);
    assert_all_passed("Node.js node A, our node B", &reports, &expected);
    assert!(status.success());

    let (reports, status) = clients(&ours, &node, &["--our-requests", "--big"]);
    assert_all_passed("our node A, Node.js node B", &reports, &expected);
    assert!(status.success());
}

/// `serverCount` asked of our node, through our client.
async fn server_count(url: &str) -> u64 {
    let client = Client::builder(url)
        .transports(Transports::WebSocket)
        .reconnection(false)
        .build()
        .unwrap();
    client.connect().await.unwrap();
    let count = client
        .timeout(Duration::from_secs(5))
        .emit_with_ack("cluster-server-count", ())
        .await
        .unwrap();
    client.close();
    count
}

/// Waits until our node counts `expected` servers (heartbeats take their time).
async fn counts(url: &str, expected: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let count = server_count(url).await;
        if count == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: our node counts {count} servers, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn servers_are_counted_by_their_heartbeats() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !available() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(heartbeats());
}

async fn heartbeats() {
    let pg = Postgres::start();
    let (_b, ours) = ours(&pg.url());
    counts(&ours, 1, "alone").await;
    let (a, _) = node_js(&pg.url());
    counts(&ours, 2, "with a Node.js node").await;
    let (c, _) = node_js(&pg.url());
    counts(&ours, 3, "with two").await;
    // One killed (SIGKILL: not a word): gone once its heartbeats stop.
    drop(c);
    counts(&ours, 2, "one killed").await;
    // One closing (SIGTERM: the server closes, and its adapter says so).
    let pid = a.child.id();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    counts(&ours, 1, "one closed").await;
}

#[test]
fn broadcasts_flow_again_after_a_database_restart() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !available() {
        return;
    }
    let pg = Postgres::start();
    let (_a, node) = node_js(&pg.url());
    let (_b, ours) = ours(&pg.url());
    std::thread::sleep(Duration::from_millis(500));
    let (reports, _) = clients(&node, &ours, &[]);
    assert_all_passed("before the restart", &reports, &BROADCASTS);

    pg.stop();
    std::thread::sleep(Duration::from_millis(500));
    pg.restart();
    // Our node's connections come back after 1 to 3 s; the Node.js node's listener too (it
    // has the error listener the package's users add).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (reports, status) = clients(&node, &ours, &[]);
        if status.success() {
            assert_all_passed("after the restart", &reports, &BROADCASTS);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "broadcasts did not flow again within 30 s of the restart: {reports:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn our_emitter_reaches_both_nodes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !available() {
        return;
    }
    let pg = Postgres::start();
    let (_a, node) = node_js(&pg.url());
    let (_b, ours) = ours(&pg.url());
    let url = pg.url();
    let args = [
        "--a",
        node.as_str(),
        "--b",
        ours.as_str(),
        "--postgres",
        url.as_str(),
        "--emit-bin",
        env!("CARGO_BIN_EXE_emit"),
    ];
    let (reports, status) =
        run_script("emitter-clients.mjs", &args, Duration::from_secs(60), || {});
    assert_all_passed("emitters", &reports, &["our-emitter"]);
    assert!(status.success());
}
