//! The Admin UI's server side (`socketio_tokio::admin`) over real sockets: the protocol of
//! `@socket.io/admin-ui` 0.5.1 driven by socket.io-client 4.8.4 configured as the UI
//! configures it (`interop/admin-clients.mjs`), against `conformance-server --admin-ui`:
//! logins and refusals (wrong credentials, forged or null session ids, a password that is not
//! a string), sessions, `config`, `server_stats` (its counts checked against 100 messages of
//! known size), `all_sockets`, the live events (connections, rooms, events received with
//! binary, disconnections), the commands and their effect on a client, malformed commands,
//! the read-only mode; and the UI's files and `/metrics` served by the server.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::Duration;

use support::{assert_all_passed, our_server_with, run_script};

/// One server at a time: they share two cores and the stats ticks are timed.
static SERIAL: Mutex<()> = Mutex::new(());

/// `changeit`, as the package's README hashes it.
const HASH: &str = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS";

const CASES: [&str; 7] = [
    "login-and-config",
    "server-stats",
    "counts-match-what-was-sent",
    "all-sockets",
    "live-events",
    "commands",
    "malformed-commands",
];

fn run(server_args: &[&str], script_args: &[&str], expected: &[&str]) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !support::node_available() {
        return;
    }
    let (_server, addr) = our_server_with("sio", 0, server_args);
    let url = format!("http://{addr}");
    let mut args = vec!["--url", url.as_str()];
    args.extend(script_args);
    let (reports, status) = run_script("admin-clients.mjs", &args, Duration::from_secs(120), || {});
    assert_all_passed("admin", &reports, expected);
    assert!(status.success());
}

#[test]
fn without_authentication() {
    run(&["--admin-ui"], &[], &CASES);
}

#[test]
fn with_a_login() {
    let login = format!("admin:{HASH}");
    let mut expected = vec!["refusals"];
    expected.extend(CASES);
    run(
        &["--admin-ui-auth", &login],
        &["--auth", "admin:changeit"],
        &expected,
    );
}

#[test]
fn read_only() {
    run(
        &["--admin-ui", "--admin-ui-readonly"],
        &["--readonly"],
        &CASES,
    );
}

/// One GET; (status, content type, body).
fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (status, content_type, response[split + 4..].to_vec())
}

#[test]
fn the_ui_and_the_metrics_are_served() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !support::node_available() {
        return;
    }
    let dir = support::interop_dir().join("node_modules/@socket.io/admin-ui/ui/dist");
    let dir = dir.to_str().unwrap();
    let args = ["--admin-ui", "--admin-ui-dir", dir, "--metrics"];
    let (_server, addr) = our_server_with("sio", 0, &args);
    let (status, content_type, body) = get(addr, "/admin-ui/");
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/html; charset=utf-8")
    );
    assert!(String::from_utf8_lossy(&body).contains("<script"));
    let (status, _, _) = get(addr, "/admin-ui/favicon.png");
    assert_eq!(status, 200);
    assert_eq!(get(addr, "/admin-ui/../Cargo.toml").0, 404);
    let (status, _, metrics) = get(addr, "/metrics");
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).unwrap();
    for line in [
        "# TYPE socketio_sessions_opened_total counter",
        "socketio_messages_total{direction=\"in\"}",
        "# TYPE socketio_sockets gauge",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}

/// The real UI in headless Chromium, served by our server: it logs in, lists the server and
/// a client's socket, joins the socket to a room and disconnects it; the screenshot of its
/// dashboard is kept in `target/admin-ui-dashboard.png`.
#[test]
fn the_real_ui_in_chromium() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !support::node_available() || !support::chromium_available() {
        return;
    }
    let dir = support::interop_dir().join("node_modules/@socket.io/admin-ui/ui/dist");
    let login = format!("admin:{HASH}");
    let args = [
        "--admin-ui-auth",
        &login,
        "--server-id",
        "rust-node-1",
        "--admin-ui-dir",
        dir.to_str().unwrap(),
    ];
    let (_server, addr) = our_server_with("sio", 0, &args);
    let screenshot =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/admin-ui-dashboard.png");
    let url = format!("http://{addr}");
    let script = [
        "--url",
        url.as_str(),
        "--login",
        "admin:changeit",
        "--server-id",
        "rust-node-1",
        "--screenshot",
        screenshot.to_str().unwrap(),
    ];
    let (reports, status) = run_script(
        "admin-ui-browser.mjs",
        &script,
        Duration::from_secs(120),
        || {},
    );
    assert_all_passed(
        "the UI",
        &reports,
        &[
            "log-in",
            "server-listed",
            "socket-listed",
            "join-from-the-socket-page",
            "dashboard-screenshot",
            "disconnect-from-the-socket-page",
        ],
    );
    assert!(status.success());
}

/// A mixed Redis cluster (classic adapter): a Node.js node instrumented with the package and
/// ours; an admin on either node lists both servers and every socket, and its commands reach
/// the clients of both.
#[test]
fn a_mixed_cluster_with_an_instrumented_node_js_node() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !support::node_available() || !support::redis_available() {
        return;
    }
    let (_redis, url) = support::redis_server();
    let node_args = ["--redis", url.as_str(), "--admin-ui", "node-1"];
    let (_a, a) = support::node_server("reference-server.mjs", 0, &node_args);
    let ours_args = [
        "--redis",
        url.as_str(),
        "--admin-ui",
        "--server-id",
        "rust-1",
    ];
    let (_b, b) = our_server_with("sio", 0, &ours_args);
    let (a, b) = (format!("http://{a}"), format!("http://{b}"));
    for (label, on) in [("admin on the Node.js node", &a), ("admin on ours", &b)] {
        let args = [
            "--a",
            &a,
            "--b",
            &b,
            "--admin",
            on,
            "--ids",
            "node-1,rust-1",
        ];
        let (reports, status) =
            run_script("admin-cluster.mjs", &args, Duration::from_secs(60), || {});
        assert_all_passed(
            label,
            &reports,
            &[
                "both-servers-listed",
                "every-socket-listed",
                "commands-reach-both-nodes",
            ],
        );
        assert!(status.success(), "{label}");
    }
}
