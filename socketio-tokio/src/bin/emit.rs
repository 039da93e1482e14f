//! A command-line emitter for a Redis cluster of Socket.IO servers (classic adapter), Rust or
//! Node.js, as `@socket.io/redis-emitter` does it from code:
//!
//! ```text
//! emit --redis redis://127.0.0.1:6379 [--key socket.io] [--nsp /] [--to ROOM]… [--except ROOM]…
//!      [--volatile] ( EVENT [ARG]… | --sockets-join ROOM | --sockets-leave ROOM | --disconnect
//!      | --disconnect-close )
//! ```
//!
//! Each `ARG` is JSON (`'"text"'`, `42`, `'{"a":1}'`), or `bin:HEX` for a binary argument.

use bytes::Bytes;
use serde_json::value::RawValue;
use socketio_proto::cluster::BroadcastOptions;
use socketio_proto::{Namespace, Packet};
use socketio_tokio::cluster::Emitter;

/// One event argument: JSON, or bytes.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Arg {
    Json(Box<RawValue>),
    Binary(Bytes),
}

fn hex(text: &str) -> Option<Bytes> {
    (text.len() % 2 == 0)
        .then(|| {
            (0..text.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()
        })
        .flatten()
        .map(Bytes::from)
}

enum Action {
    Emit(String, Vec<Arg>),
    Join(String),
    Leave(String),
    Disconnect(bool),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: emit --redis URL [--key KEY] [--nsp NSP] [--to ROOM]… [--except ROOM]… \
                 [--volatile] (EVENT [ARG]… | --sockets-join ROOM | --sockets-leave ROOM | \
                 --disconnect | --disconnect-close)";
    let (mut url, mut key, mut nsp) = (None, String::from("socket.io"), String::from("/"));
    let mut opts = BroadcastOptions::default();
    let mut action = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(usage);
        match arg.as_str() {
            "--redis" => url = Some(value()?),
            "--key" => key = value()?,
            "--nsp" => nsp = value()?,
            "--to" => opts.rooms.push(value()?),
            "--except" => opts.except.push(value()?),
            "--volatile" => opts.flags.volatile = true,
            "--sockets-join" => action = Some(Action::Join(value()?)),
            "--sockets-leave" => action = Some(Action::Leave(value()?)),
            "--disconnect" => action = Some(Action::Disconnect(false)),
            "--disconnect-close" => action = Some(Action::Disconnect(true)),
            _ => match &mut action {
                Some(Action::Emit(_, event_args)) => {
                    event_args.push(match arg.strip_prefix("bin:") {
                        Some(bytes) => Arg::Binary(hex(bytes).ok_or("bin: wants hex digits")?),
                        None => Arg::Json(RawValue::from_string(arg)?),
                    })
                }
                None => action = Some(Action::Emit(arg, Vec::new())),
                Some(_) => return Err(usage.into()),
            },
        }
    }
    let mut emitter = Emitter::connect(&url.ok_or(usage)?, &key).await?;
    match action.ok_or(usage)? {
        Action::Emit(event, event_args) => {
            let packet = Packet::event(Namespace::new(&nsp)?, &event, &event_args, None)?;
            emitter.emit(&packet, &opts).await?;
        }
        Action::Join(room) => emitter.sockets_join(&nsp, &opts, &[room]).await?,
        Action::Leave(room) => emitter.sockets_leave(&nsp, &opts, &[room]).await?,
        Action::Disconnect(close) => emitter.disconnect_sockets(&nsp, &opts, close).await?,
    }
    Ok(())
}
