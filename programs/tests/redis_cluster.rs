//! Multi-node through Redis, over real sockets: the official socket.io 4.8.4 server with
//! `@socket.io/redis-adapter` 8.3.0 (`createAdapter`, the classic adapter, and
//! `createShardedAdapter`, the sharded one) or `@socket.io/redis-streams-adapter` 0.3.1 as
//! node A, our `conformance-server --redis` as
//! node B, a `redis-server` of the test's own, and socket.io-client 4.8.4 clients on both
//! nodes (`interop/cluster-clients.mjs`):
//!
//! * broadcasts to the namespace and to rooms, with binary arguments, both ways;
//! * the adapter's requests both ways: `allRooms` (classic), `fetchSockets`, `socketsJoin`/
//!   `socketsLeave`, `serverSideEmit` with and without acks, `serverCount` and
//!   `disconnectSockets`, broadcasts with acks (a binary ack included); `fetchSockets` shows
//!   the handshake (headers, address, url, query, time) and `socket.data`;
//! * a request a silent subscriber never answers ends at the requests timeout, both ways;
//! * a Redis restart: our node subscribes (and reads the stream) again, with each adapter,
//!   and broadcasts flow as before;
//! * connection state recovery across nodes with the streams adapter, both ways
//!   (`interop/recovery-clients.mjs`);
//! * emitters: the official `@socket.io/redis-emitter` 5.1.0 and our `emit` program drive
//!   both nodes (broadcasts, rooms, `socketsJoin`, `disconnectSockets`)
//!   (`interop/emitter-clients.mjs`).
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::{assert_all_passed, our_server_with, reference_cluster_node, run_script};

/// One cluster at a time: they share two cores.
static SERIAL: Mutex<()> = Mutex::new(());

const BROADCASTS: [&str; 3] = ["broadcast-a-to-b", "broadcast-b-to-a", "rooms-both-ways"];

fn available() -> bool {
    support::node_available() && support::redis_available()
}

/// A `redis-server`, the official server (node A's kind) and ours on it; the guards stop
/// them. One cluster at a time.
struct Cluster {
    redis: Option<support::Process>,
    _processes: [support::Process; 2],
    url: String,
    node: String,
    ours: String,
}

impl Cluster {
    /// Both nodes with `adapter` (`classic` or `sharded`).
    fn start(adapter: &str) -> (std::sync::MutexGuard<'static, ()>, Cluster) {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let (redis, url) = support::redis_server();
        let (node_process, node) = reference_cluster_node(&url, adapter);
        let args = ["--redis", &url, "--adapter", adapter];
        let (ours_process, ours) = our_server_with("sio", 0, &args);
        let cluster = Cluster {
            redis: Some(redis),
            _processes: [node_process, ours_process],
            url,
            node: format!("http://{node}"),
            ours: format!("http://{ours}"),
        };
        (serial, cluster)
    }
}

fn clients(a: &str, b: &str, extra: &[&str]) -> (Vec<support::Report>, std::process::ExitStatus) {
    let mut args = vec!["--a", a, "--b", b];
    args.extend(extra);
    run_script("cluster-clients.mjs", &args, Duration::from_secs(90), || {})
}

/// Every case both ways between a Node.js node and ours, with `adapter`.
fn every_operation_both_ways(adapter: &str) {
    if !available() {
        return;
    }
    let (_serial, cluster) = Cluster::start(adapter);
    let (node, ours) = (cluster.node.as_str(), cluster.ours.as_str());

    // The sharded adapter has no allRooms.
    let requests: &[&str] = match adapter {
        "classic" => &["all-rooms"],
        _ => &[],
    };
    let requests = [
        requests,
        &[
            "local-broadcast-stays",
            "fetch-sockets",
            "sockets-join-and-leave",
            "server-side-emit",
            "server-count",
            "disconnect-sockets",
            "broadcast-with-ack",
        ],
    ]
    .concat();
    let (reports, status) = clients(node, ours, &["--requests", "--adapter", adapter]);
    let mut expected = BROADCASTS.to_vec();
    expected.extend(&requests);
    assert_all_passed("Node.js node A, our node B", &reports, &expected);
    assert!(status.success());

    // The same with our node as A: the requests our node sends.
    let (reports, status) = clients(ours, node, &["--our-requests", "--adapter", adapter]);
    let mut expected = BROADCASTS.to_vec();
    expected.extend(&requests);
    assert_all_passed("our node A, Node.js node B", &reports, &expected);
    assert!(status.success());
}

#[test]
fn a_node_js_node_and_ours_exchange_broadcasts_and_answer_requests() {
    every_operation_both_ways("classic");
}

#[test]
fn the_same_with_the_sharded_adapter() {
    every_operation_both_ways("sharded");
}

#[test]
fn the_same_with_the_streams_adapter() {
    every_operation_both_ways("streams");
}

/// A third subscriber of the requests channel that never answers: a request of either node
/// ends at the requests timeout (1 s here, both nodes) with the error, as the reference's.
#[test]
fn a_request_a_silent_node_never_answers_ends_at_the_requests_timeout() {
    use std::io::{Read, Write};
    if !available() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (_redis, url) = support::redis_server();
    let timeout = ["--requests-timeout", "1000"];
    let (_node_process, node) = support::reference_cluster_node_with(&url, "classic", &timeout);
    let args = ["--redis", &url, "--requests-timeout-ms", "1000"];
    let (_ours_process, ours) = our_server_with("sio", 0, &args);
    let (node, ours) = (format!("http://{node}"), format!("http://{ours}"));

    let address = url.trim_start_matches("redis://");
    let mut silent = std::net::TcpStream::connect(address).unwrap();
    silent
        .write_all(b"SUBSCRIBE socket.io-request#/#\r\n")
        .unwrap();
    let mut reply = [0u8; 64];
    let n = silent.read(&mut reply).unwrap();
    assert!(reply[..n].ends_with(b":1\r\n"), "subscribed");

    for (a, b, flag) in [
        (&node, &ours, "--requests"),
        (&ours, &node, "--our-requests"),
    ] {
        let (reports, status) = clients(a, b, &[flag, "--silent-peer"]);
        assert_all_passed(flag, &reports, &["request-times-out"]);
        assert!(status.success());
    }
}

#[test]
fn our_node_subscribes_again_after_a_redis_restart() {
    subscribes_again_after_a_restart("classic");
}

#[test]
fn our_sharded_node_subscribes_again_after_a_redis_restart() {
    subscribes_again_after_a_restart("sharded");
}

#[test]
fn our_streams_node_reads_again_after_a_redis_restart() {
    subscribes_again_after_a_restart("streams");
}

fn subscribes_again_after_a_restart(adapter: &str) {
    if !available() {
        return;
    }
    let (_serial, mut cluster) = Cluster::start(adapter);
    let port: u16 = cluster.url.rsplit(':').next().unwrap().parse().unwrap();
    let (node, ours) = (cluster.node.clone(), cluster.ours.clone());
    let args = ["--adapter", adapter];
    let (reports, _) = clients(&node, &ours, &args);
    assert_all_passed("before the restart", &reports, &BROADCASTS);

    // Redis goes away (SIGKILL) and comes back on the same port, empty.
    drop(cluster.redis.take());
    let _redis = support::redis_server_on(port);
    // Both nodes reconnect with backoffs (ours: at most 5 s between attempts).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (reports, status) = clients(&node, &ours, &args);
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
fn the_official_emitter_and_ours_drive_both_nodes() {
    if !available() {
        return;
    }
    let (_serial, cluster) = Cluster::start("classic");
    let (url, node, ours) = (
        cluster.url.as_str(),
        cluster.node.as_str(),
        cluster.ours.as_str(),
    );
    let args = [
        "--a",
        node,
        "--b",
        ours,
        "--redis",
        url,
        "--emit-bin",
        env!("CARGO_BIN_EXE_emit"),
    ];
    let (reports, status) =
        run_script("emitter-clients.mjs", &args, Duration::from_secs(60), || {});
    assert_all_passed("emitters", &reports, &["official-emitter", "our-emitter"]);
    assert!(status.success());
}

/// Connection state recovery across nodes with the streams adapter, both nodes with recovery
/// on: a client that drops from one node recovers its socket id, rooms and missed broadcasts
/// on the other, both ways (`interop/recovery-clients.mjs`).
#[test]
fn a_client_recovers_on_the_other_node_with_the_streams_adapter() {
    if !available() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (_redis, url) = support::redis_server();
    let (_node_process, node) =
        support::reference_cluster_node_with(&url, "streams", &["--recovery"]);
    let args = ["--redis", &url, "--adapter", "streams"];
    let (_ours_process, ours) = our_server_with("interop", 0, &args);
    let (node, ours) = (format!("http://{node}"), format!("http://{ours}"));
    let args = ["--a", node.as_str(), "--b", ours.as_str()];
    let (reports, status) = run_script(
        "recovery-clients.mjs",
        &args,
        Duration::from_secs(60),
        || {},
    );
    let expected = [
        "recover-from-a-on-b",
        "recover-from-b-on-a",
        "an-unknown-session-starts-fresh",
    ];
    assert_all_passed("recovery across nodes", &reports, &expected);
    assert!(status.success());
}
