//! The published crate's examples, built and run as a user runs them, over WebSocket only,
//! polling only, and polling upgraded to WebSocket: the axum server against the official
//! `socket.io-client` 4.8, the client against the official `socket.io` 4.8 server.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::{Process, assert_all_passed, node_server, run_script};

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

#[test]
fn client_chat_against_the_official_server() {
    if !support::node_available() {
        return;
    }
    let executable = example("client_chat");
    for transport in ["websocket", "polling", "upgrade"] {
        let (mut server, addr) = node_server("client-chat-server.mjs", 0, &[]);
        let mut command = Command::new(&executable);
        command
            .env("URL", format!("http://{addr}"))
            .env("TRANSPORT", transport);
        let mut client = Process::spawn(command);
        let mut lines = Vec::new();
        while let Some(line) = client.next_line(Duration::from_secs(30)) {
            lines.push(line);
        }
        let status = client.child.wait().unwrap();
        assert!(
            status.success(),
            "client_chat over {transport}: {status}, {lines:?}"
        );
        assert_eq!(
            lines,
            [
                r#"chat: ["hello from rust"]"#,
                r#"chat: ["from node",{"_placeholder":true,"num":0}]"#
            ],
            "client_chat over {transport}"
        );
        let result = server.wait_for_line("RESULT ");
        assert_eq!(
            result, "ok",
            "client_chat over {transport}: the server says {result}"
        );
    }
}
