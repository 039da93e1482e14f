//! The published crate's examples, built and run as a user runs them, against the official
//! `socket.io-client` 4.8 over WebSocket only, polling only, and polling upgraded to WebSocket.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::{Process, assert_all_passed, run_script};

/// Builds `socketio-tokio`'s example `name` (cargo is already running this test, so the
/// dependencies are built) and returns its executable.
fn example(name: &str) -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "-p",
            "socketio-tokio",
            "--example",
            name,
        ])
        .status()
        .expect("run cargo");
    assert!(status.success(), "cargo build --example {name}: {status}");
    // This test runs from target/<profile>/deps; examples land in target/<profile>/examples.
    let deps = std::env::current_exe().unwrap();
    let profile = deps.parent().unwrap().parent().unwrap();
    profile.join("examples").join(name)
}

/// Starts an example that prints `listening on http://ADDR/`, on a free port.
fn start(executable: &PathBuf) -> (Process, SocketAddr) {
    let mut command = Command::new(executable);
    command.env("PORT", "0");
    let mut process = Process::spawn(command);
    let rest = process.wait_for_line("listening on http://");
    let addr = rest.trim_end_matches('/').parse().expect("socket address");
    (process, addr)
}

#[test]
fn axum_chat_with_the_official_client() {
    if !support::node_available() {
        return;
    }
    let executable = example("axum_chat");
    let (_server, addr) = start(&executable);
    let url = format!("http://{addr}");
    for transport in ["websocket", "polling", "upgrade"] {
        let args = ["--url", url.as_str(), "--transport", transport];
        let (reports, status) = run_script("axum-chat.mjs", &args, Duration::from_secs(60), || {});
        let label = format!("axum_chat over {transport}");
        assert_all_passed(
            &label,
            &reports,
            &["page", "join", "chat-to-rooms", "chat-binary", "echo"],
        );
        assert!(status.success(), "{label}: the script exited with {status}");
    }
}
