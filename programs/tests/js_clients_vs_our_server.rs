//! The official clients against our server (`conformance-server --mode interop`: the interop
//! app with recovery on and Engine.IO v3 allowed), each over polling only, WebSocket only and
//! polling upgraded to WebSocket:
//!
//! * `socket.io-client` 4.8.4 (`interop/client-v4.mjs`): namespaces, auth, events and acks
//!   both ways, nested binary, rooms among three clients, server-side disconnect, ping timeout,
//!   reconnection after our server restarts (the process is killed and started again on the
//!   same port), connection state recovery.
//! * the same client and cases with `socket.io-msgpack-parser` 3.0.2 (`client-v4.mjs
//!   --parser msgpack` against `conformance-server --mode interop --parser msgpack`, restarted
//!   with it too).
//! * `socket.io-client` 2.5.0 (`interop/client-v2.mjs`, Engine.IO v3 / Socket.IO v4):
//!   connect, namespaces, events, acks, binary, auth from the namespace query.
//! * the v4 cases again on two shards (`--threads 2`): the kernel spreads the connections
//!   over the shards, so polling requests, upgrades, rooms, broadcasts and recoveries cross
//!   them (`tests/shards.rs` crosses them on purpose).
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::sync::Mutex;
use std::time::Duration;

use support::{assert_all_passed, our_server_with, run_script};

/// One script at a time: they share two cores and the heartbeats are 300/200 ms.
static SERIAL: Mutex<()> = Mutex::new(());

const V4_CASES: [&str; 9] = [
    "namespaces",
    "auth",
    "events-and-acks",
    "binary",
    "rooms",
    "server-disconnect",
    "ping-timeout",
    "restart",
    "recovery",
];

const V2_CASES: [&str; 6] = [
    "connect",
    "namespaces",
    "events",
    "acks",
    "binary",
    "query-auth",
];

/// `parser` is given to both the script and our server (`--parser`); `None`: their default,
/// the text parser.
fn run(script: &str, transport: &str, parser: Option<&str>, expected: &[&str]) {
    run_on(script, transport, parser, &[], expected);
}

/// [`run`] with more arguments for our server (`--threads 2`).
fn run_on(
    script: &str,
    transport: &str,
    parser: Option<&str>,
    server_args: &[&str],
    expected: &[&str],
) {
    if !support::node_available() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let parser_args: Vec<&str> = parser.map_or(vec![], |p| vec!["--parser", p]);
    let server_args = [&parser_args[..], server_args].concat();
    let (server, addr) = our_server_with("interop", 0, &server_args);
    let mut server = Some(server);
    let url = format!("http://{addr}");
    let mut restarts = 0;
    let mut args = vec!["--url", &url, "--transport", transport];
    args.extend(&parser_args);
    let (reports, status) = run_script(script, &args, Duration::from_secs(120), || {
        // The process dies (SIGKILL: no goodbye to the clients) and comes back.
        drop(server.take());
        server = Some(our_server_with("interop", addr.port(), &server_args).0);
        restarts += 1;
    });
    let label = format!(
        "{script} over {transport}{}{}",
        parser.map_or(String::new(), |p| format!(" with the {p} parser")),
        if server_args.contains(&"--threads") {
            " on shards"
        } else {
            ""
        }
    );
    assert_all_passed(&label, &reports, expected);
    assert!(status.success(), "{label}: exit status {status}");
    if expected.contains(&"restart") {
        assert_eq!(
            restarts, 1,
            "{label}: the restart case did not ask for a restart"
        );
    }
}

#[test]
fn socket_io_client_4_8_over_polling() {
    run("client-v4.mjs", "polling", None, &V4_CASES);
}

#[test]
fn socket_io_client_4_8_over_websocket() {
    run("client-v4.mjs", "websocket", None, &V4_CASES);
}

#[test]
fn socket_io_client_4_8_with_upgrade() {
    run("client-v4.mjs", "upgrade", None, &V4_CASES);
}

#[test]
fn socket_io_client_4_8_on_two_shards_over_polling() {
    run_on(
        "client-v4.mjs",
        "polling",
        None,
        &["--threads", "2"],
        &V4_CASES,
    );
}

#[test]
fn socket_io_client_4_8_on_two_shards_with_upgrade() {
    run_on(
        "client-v4.mjs",
        "upgrade",
        None,
        &["--threads", "2"],
        &V4_CASES,
    );
}

#[test]
fn socket_io_client_4_8_msgpack_over_polling() {
    run("client-v4.mjs", "polling", Some("msgpack"), &V4_CASES);
}

#[test]
fn socket_io_client_4_8_msgpack_over_websocket() {
    run("client-v4.mjs", "websocket", Some("msgpack"), &V4_CASES);
}

#[test]
fn socket_io_client_4_8_msgpack_with_upgrade() {
    run("client-v4.mjs", "upgrade", Some("msgpack"), &V4_CASES);
}

#[test]
fn socket_io_client_2_5_over_polling() {
    run("client-v2.mjs", "polling", None, &V2_CASES);
}

#[test]
fn socket_io_client_2_5_over_websocket() {
    run("client-v2.mjs", "websocket", None, &V2_CASES);
}

#[test]
fn socket_io_client_2_5_with_upgrade() {
    run("client-v2.mjs", "upgrade", None, &V2_CASES);
}

/// The oracle's calibration: the same scripts pass against the official `socket.io` 4.8.4
/// server (`interop/run-against-reference.mjs`, all transports, SIGKILL restarts; client-v4
/// with the text and the msgpack parser), so what they assert is the reference's behaviour,
/// not ours.
#[test]
fn the_scripts_pass_against_the_official_server() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !support::node_available() {
        return;
    }
    let status = std::process::Command::new("node")
        .arg(support::interop_dir().join("run-against-reference.mjs"))
        .args(["--restart-signal", "SIGKILL"])
        .status()
        .unwrap();
    assert!(status.success(), "run-against-reference.mjs: {status}");
}
