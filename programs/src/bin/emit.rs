//! A command-line emitter for a cluster of Socket.IO servers, Rust or Node.js, through Redis
//! (the classic adapter, as `@socket.io/redis-emitter` does it from code) or PostgreSQL (as
//! `@socket.io/postgres-emitter`, with the namespace its messages lack added):
//!
//! ```text
//! emit (--redis redis://127.0.0.1:6379 | --postgres postgres://USER@HOST/DB) [--key socket.io]
//!      [--nsp /] [--to ROOM]… [--except ROOM]…
//!      [--volatile] ( EVENT [ARG]… | --sockets-join ROOM | --sockets-leave ROOM | --disconnect
//!      | --disconnect-close )
//! ```
//!
//! Each `ARG` is JSON (`'"text"'`, `42`, `'{"a":1}'`), or `bin:HEX` for a binary argument.

use std::error::Error;

use bytes::Bytes;
use serde_json::value::RawValue;
use socketio_postgres::{Emitter as PostgresEmitter, PostgresOptions};
use socketio_programs::cli::Args;
use socketio_proto::{Namespace, Packet};
use socketio_redis::Emitter as RedisEmitter;
use socketio_redis::socketio_cluster_proto::BroadcastOptions;

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

const USAGE: &str =
    "usage: emit (--redis URL | --postgres URL) [--key KEY] [--nsp NSP] [--to ROOM]… \
[--except ROOM]… [--volatile] (EVENT [ARG]… | --sockets-join ROOM | --sockets-leave ROOM | \
--disconnect | --disconnect-close)

Emits to every server of a cluster, Rust or Node.js: through Redis (the classic adapter, as
@socket.io/redis-emitter does) or PostgreSQL (as @socket.io/postgres-emitter, namespace
included). --key is the channel prefix (socket.io). Each ARG is JSON ('\"text\"', 42,
'{\"a\":1}'), or bin:HEX for a binary argument.";

enum Action {
    Emit(String, Vec<Arg>),
    Join(String),
    Leave(String),
    Disconnect(bool),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = Args::new(USAGE);
    let (mut url, mut key, mut nsp) = (None, String::from("socket.io"), String::from("/"));
    let mut postgres = None::<String>;
    let mut opts = BroadcastOptions::default();
    let mut action = None;
    while let Some(arg) = args.next_flag() {
        match arg.as_str() {
            "--redis" => url = Some(args.value::<String>(&arg)),
            "--postgres" => postgres = Some(args.value::<String>(&arg)),
            "--key" => key = args.value(&arg),
            "--nsp" => nsp = args.value(&arg),
            "--to" => opts.rooms.push(args.value(&arg)),
            "--except" => opts.except.push(args.value(&arg)),
            "--volatile" => opts.flags.volatile = true,
            "--sockets-join" => action = Some(Action::Join(args.value(&arg))),
            "--sockets-leave" => action = Some(Action::Leave(args.value(&arg))),
            "--disconnect" => action = Some(Action::Disconnect(false)),
            "--disconnect-close" => action = Some(Action::Disconnect(true)),
            flag if flag.starts_with("--") => args.fail(&format!("unknown flag {flag:?}")),
            _ => match &mut action {
                Some(Action::Emit(_, event_args)) => {
                    event_args.push(match arg.strip_prefix("bin:") {
                        Some(bytes) => match hex(bytes) {
                            Some(bytes) => Arg::Binary(bytes),
                            None => args.fail("bin: wants hex digits"),
                        },
                        None => match RawValue::from_string(arg) {
                            Ok(json) => Arg::Json(json),
                            Err(err) => args.fail(&format!("an argument is JSON: {err}")),
                        },
                    })
                }
                None => action = Some(Action::Emit(arg, Vec::new())),
                Some(_) => args.fail("one action at a time"),
            },
        }
    }
    let Some(action) = action else {
        args.fail("nothing to do: an EVENT or an action");
    };
    if let Some(url) = postgres {
        let options = PostgresOptions {
            channel_prefix: key,
            ..PostgresOptions::default()
        };
        let emitter = PostgresEmitter::connect(&url, options).await?;
        return run(&emitter, action, &nsp, &opts).await;
    }
    let Some(url) = url else {
        args.fail("--redis or --postgres is required");
    };
    let emitter = RedisEmitter::connect(&url, &key).await?;
    run(&tokio::sync::Mutex::new(emitter), action, &nsp, &opts).await
}

/// What the two emitters do, so that one `match` drives either.
trait Emit {
    async fn emit(&self, packet: &Packet, opts: &BroadcastOptions) -> Result<(), Box<dyn Error>>;
    async fn join(
        &self,
        nsp: &str,
        opts: &BroadcastOptions,
        rooms: &[String],
        join: bool,
    ) -> Result<(), Box<dyn Error>>;
    async fn disconnect(
        &self,
        nsp: &str,
        opts: &BroadcastOptions,
        close: bool,
    ) -> Result<(), Box<dyn Error>>;
}

impl Emit for PostgresEmitter {
    async fn emit(&self, packet: &Packet, opts: &BroadcastOptions) -> Result<(), Box<dyn Error>> {
        Ok(PostgresEmitter::emit(self, packet, opts).await?)
    }

    async fn join(
        &self,
        nsp: &str,
        opts: &BroadcastOptions,
        rooms: &[String],
        join: bool,
    ) -> Result<(), Box<dyn Error>> {
        if join {
            self.sockets_join(nsp, opts, rooms).await?;
        } else {
            self.sockets_leave(nsp, opts, rooms).await?;
        }
        Ok(())
    }

    async fn disconnect(
        &self,
        nsp: &str,
        opts: &BroadcastOptions,
        close: bool,
    ) -> Result<(), Box<dyn Error>> {
        Ok(self.disconnect_sockets(nsp, opts, close).await?)
    }
}

impl Emit for tokio::sync::Mutex<RedisEmitter> {
    async fn emit(&self, packet: &Packet, opts: &BroadcastOptions) -> Result<(), Box<dyn Error>> {
        Ok(self.lock().await.emit(packet, opts).await?)
    }

    async fn join(
        &self,
        nsp: &str,
        opts: &BroadcastOptions,
        rooms: &[String],
        join: bool,
    ) -> Result<(), Box<dyn Error>> {
        let mut emitter = self.lock().await;
        if join {
            emitter.sockets_join(nsp, opts, rooms).await?;
        } else {
            emitter.sockets_leave(nsp, opts, rooms).await?;
        }
        Ok(())
    }

    async fn disconnect(
        &self,
        nsp: &str,
        opts: &BroadcastOptions,
        close: bool,
    ) -> Result<(), Box<dyn Error>> {
        Ok(self
            .lock()
            .await
            .disconnect_sockets(nsp, opts, close)
            .await?)
    }
}

async fn run(
    emitter: &impl Emit,
    action: Action,
    nsp: &str,
    opts: &BroadcastOptions,
) -> Result<(), Box<dyn Error>> {
    match action {
        Action::Emit(event, event_args) => {
            let packet = Packet::event(Namespace::new(nsp)?, &event, &event_args, None)?;
            emitter.emit(&packet, opts).await?;
        }
        Action::Join(room) => emitter.join(nsp, opts, &[room], true).await?,
        Action::Leave(room) => emitter.join(nsp, opts, &[room], false).await?,
        Action::Disconnect(close) => emitter.disconnect(nsp, opts, close).await?,
    }
    Ok(())
}
