//! The main job end to end: the `chat` program serves its page with the official browser
//! client from the local npm package, and headless Chromium (Debian's `chromium`, which
//! `.ci/run` installs) opens two pages: one sets a nickname, joins a room, types, sends a
//! message and an image; the other shows them (`interop/browser-chat.mjs`).
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Process, assert_all_passed, chromium_available, node_available, run_script};

#[test]
fn two_browser_pages_chat_with_text_and_an_image() {
    if !node_available() || !chromium_available() {
        return;
    }
    let mut chat = Process::spawn({
        let mut command = Command::new(env!("CARGO_BIN_EXE_chat"));
        command.args(["--port", "0"]);
        command
    });
    let url = chat
        .wait_for_line("chat server listening on ")
        .trim_end_matches('/')
        .to_owned();
    let bundle = chat.wait_for_line("socket.io-client: ");
    assert!(
        bundle.starts_with("serving the local npm package"),
        "the page would need the CDN: {bundle}"
    );
    let (reports, status) = run_script(
        "browser-chat.mjs",
        &["--url", &url],
        Duration::from_secs(90),
        || panic!("the browser test does not restart servers"),
    );
    if status.code() == Some(2) {
        panic!(
            "Chromium is missing: install Debian's `chromium` package (apt-get install chromium; \
             .ci/run does this) or point CHROMIUM at a Chromium binary"
        );
    }
    assert_all_passed(
        "chat in Chromium",
        &reports,
        &[
            "browser-pages-connect",
            "set-nickname",
            "join-room",
            "text-message",
            "typing",
            "image-message",
        ],
    );
    assert!(status.success(), "browser-chat.mjs exit status {status}");
}
