//! The `client` program against our `conformance-server --mode interop`: it joins `/` and
//! `/custom`, gets acks and binary echoes, and keeps going across a server restart
//! (the server process is killed and started again on the same port).
//! `--rounds 0` keeps it running; the test stops it.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::process::Command;

use support::{Process, our_server};

#[test]
fn the_client_program_survives_a_server_restart() {
    let (server, addr) = our_server("interop", 0);
    let mut server = Some(server);
    let mut client = Process::spawn({
        let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
        command.args([
            "--url",
            &format!("http://{addr}"),
            "--transport",
            "upgrade",
            "--rounds",
            "0",
        ]);
        command
    });
    client.wait_for_line("connected to / as ");
    client.wait_for_line("connected to /custom as ");
    // A binary echo: `message-back` with the attachment [1, 2, 3, round].
    let echo = client.wait_for_line("/custom event message-back: ");
    assert!(
        echo.contains(r#"["message-back","binary",{"_placeholder":true,"num":0}"#),
        "{echo}"
    );
    assert!(echo.contains("attachments [[1, 2, 3, "), "{echo}");
    assert!(client.wait_for_line("ack ").starts_with(r#"["round","#));
    client.wait_for_line("ack ");

    drop(server.take());
    client.wait_for_line("disconnected from /:");
    server = Some(our_server("interop", addr.port()).0);
    client.wait_for_line("reconnected after ");
    client.wait_for_line("connected to / as ");
    client.wait_for_line("ack ");
    client.wait_for_line("ack ");
    assert!(
        client.child.try_wait().unwrap().is_none(),
        "the client stopped"
    );
    drop(server);
}
