//! The interop app: the Socket.IO v5 test suite's server (PROTOCOL.md C.6) plus what the
//! interop tests exercise, on the public API of `socketio-tokio`.
//! `interop/reference-server.mjs` implements the same contract with the official `socket.io`
//! package, so one client script can run against both.
//!
//! * Namespaces `/` and `/custom` accept everyone; `/private` wants `{"token":"secret"}` and
//!   refuses others with `not authorized`; anything else is an invalid namespace. On connect,
//!   the server emits `auth` with the CONNECT payload (`{}` without one).
//! * `message`(…args) ⇒ `message-back`(…args), binary included.
//! * `message-with-ack`(…args) ⇒ ack(…args).
//! * `join`(room) ⇒ joins, ack(room).
//! * `to-room`(room, …args) ⇒ `room-message`(…args) to the room but not the sender.
//! * `to-all`(…args) ⇒ `all-message`(…args) to the whole namespace, sender included;
//!   `to-all-local`(…args) the same on this node only (`io.local.emit`).
//! * `ask-client`(…args) ⇒ emits `question`(…args) with an ack (5 s); the answer comes back
//!   as `answer`(…answer), a timeout as `answer-timeout`.
//! * `set-data`(value) ⇒ `socket.data = value`, ack(); `get-data` ⇒ ack(socket.data).
//! * `disconnect-me` ⇒ server-side disconnect of the socket.
//! * `last-disconnect-reason` ⇒ ack(reason of the latest server-side disconnect, or null).
//! * In a cluster: another node's `serverSideEmit("who")` with an ack is answered `"rust"`;
//!   `last-server-side-emit` ⇒ ack(the latest `serverSideEmit` data, or null);
//!   `cluster-sockets-join`(room, new), `cluster-sockets-leave`(room, old),
//!   `cluster-disconnect`(room) and `cluster-server-side-note`(…args) (a `serverSideEmit` of
//!   `note`) act on every node, then ack; `cluster-all-rooms` ⇒ ack(every node's rooms,
//!   sorted), `cluster-fetch`(room) ⇒ ack([{id, rooms (sorted), data, auth, and the
//!   handshake's address, url, query, time, issued, xdomain, secure and `x-cluster-test`
//!   header}…]), `cluster-server-side-emit` ⇒ ack({error, answers}) of
//!   `serverSideEmitWithAck("who")`, `cluster-server-count` ⇒ ack(the number of servers),
//!   `cluster-broadcast-with-ack`(room) ⇒ `question-all`("q") to the room on every node with
//!   a 3 s timeout, then ack({error, answers}) with every client's answer (binary ones as
//!   binary).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::value::RawValue;
use socketio_tokio::{Ack, Data, Event, Refusal, Socket, SocketIo};

/// What the app remembers, shared by every shard.
#[derive(Debug, Default)]
struct State {
    last_disconnect: Mutex<Option<&'static str>>,
    /// The latest `serverSideEmit` from another node, JSON.
    last_server_side_emit: Mutex<Option<Box<RawValue>>>,
}

/// Registers the interop app's namespaces and handlers on `io`.
pub fn install(io: &SocketIo) {
    let state = Arc::new(State::default());
    let connection = {
        let state = state.clone();
        move |socket: Socket| on_connection(&socket, &state)
    };
    io.ns("/", connection.clone());
    io.ns("/custom", connection.clone());
    io.ns("/private", connection).with(|connecting| {
        let token = connecting
            .auth::<serde_json::Value>()
            .and_then(|auth| auth.get("token").cloned());
        match token.as_ref().and_then(|t| t.as_str()) {
            Some("secret") => Ok(()),
            _ => Err(Refusal::new("not authorized")),
        }
    });
    io.on_server_side_emit(move |emit| {
        let data = emit
            .event()
            .packet()
            .raw_json()
            .map(|j| j.as_str().to_owned());
        *lock(&state.last_server_side_emit) = data.and_then(|d| RawValue::from_string(d).ok());
        if emit.event().name().is_some_and(|name| name == "who") && emit.wants_answer() {
            let _ = emit.answer("rust");
        }
    });
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn on_connection(socket: &Socket, state: &Arc<State>) {
    let auth = socket
        .auth::<Box<RawValue>>()
        .or_else(|| RawValue::from_string("{}".into()).ok());
    let _ = socket.emit("auth", &(auth,));

    socket.on("message", |socket: Socket, event: Event| {
        let _ = socket.emit("message-back", &event);
    });
    socket.on("message-with-ack", |_: Socket, event: Event, ack: Ack| {
        let _ = ack.send(&event);
    });
    socket.on(
        "set-data",
        |socket: Socket, Data(value): Data<serde_json::Value>, ack: Ack| {
            let _ = socket.set_data(&value);
            let _ = ack.send(());
        },
    );
    socket.on("get-data", |socket: Socket, _: Event, ack: Ack| {
        let data = socket.data::<serde_json::Value>();
        let _ = ack.send(&(data.unwrap_or_else(|| serde_json::json!({})),));
    });
    socket.on(
        "join",
        |socket: Socket, Data(room): Data<String>, ack: Ack| {
            socket.join(&room);
            let _ = ack.send(&room);
        },
    );
    socket.on("to-room", |socket: Socket, event: Event| {
        let Some(room) = first_string(&event) else {
            return;
        };
        if let Ok(rest) = event.skip_args(1) {
            let _ = socket.to(room).emit("room-message", &rest);
        }
    });
    socket.on("to-all", |socket: Socket, event: Event| {
        let _ = socket.nsp().emit("all-message", &event);
    });
    socket.on("to-all-local", |socket: Socket, event: Event| {
        let _ = socket.nsp().local().emit("all-message", &event);
    });
    socket.on_async("ask-client", |socket: Socket, event: Event| async move {
        match socket
            .emit_with_ack_event("question", &event, Duration::from_secs(5))
            .await
        {
            Ok(answer) => drop(socket.emit("answer", &answer)),
            Err(_) => drop(socket.emit("answer-timeout", ())),
        }
    });
    socket.on("disconnect-me", |socket: Socket, _: Event| {
        socket.disconnect()
    });
    {
        let state = state.clone();
        socket.on(
            "last-disconnect-reason",
            move |_: Socket, _: Event, ack: Ack| {
                let _ = ack.send(&(*lock(&state.last_disconnect),));
            },
        );
    }
    {
        let state = state.clone();
        socket.on_disconnect(move |_, reason| {
            *lock(&state.last_disconnect) = Some(reason.as_str());
        });
    }
    cluster_handlers(socket, state);
}

/// The cluster operations (meaningful with `--redis`), acked once sent or answered.
fn cluster_handlers(socket: &Socket, state: &Arc<State>) {
    let ops = |socket: &Socket, room: &str| socket.nsp().to(room.to_owned());
    socket.on(
        "cluster-sockets-join",
        move |socket: Socket, Data((room, new)): Data<(String, String)>, ack: Ack| {
            let _ = ops(&socket, &room).sockets_join([new]);
            let _ = ack.send(());
        },
    );
    socket.on(
        "cluster-sockets-leave",
        move |socket: Socket, Data((room, old)): Data<(String, String)>, ack: Ack| {
            let _ = ops(&socket, &room).sockets_leave([old]);
            let _ = ack.send(());
        },
    );
    socket.on(
        "cluster-disconnect",
        move |socket: Socket, Data(room): Data<String>, ack: Ack| {
            let _ = ops(&socket, &room).disconnect_sockets(false);
            let _ = ack.send(());
        },
    );
    socket.on(
        "cluster-server-side-note",
        |socket: Socket, event: Event, ack: Ack| {
            let _ = socket.nsp().server_side_emit("note", &event);
            let _ = ack.send(());
        },
    );
    {
        let state = state.clone();
        socket.on(
            "last-server-side-emit",
            move |_: Socket, _: Event, ack: Ack| {
                let last = lock(&state.last_server_side_emit).clone();
                let _ = ack.send(&(last,));
            },
        );
    }
    socket.on_async(
        "cluster-all-rooms",
        |socket: Socket, _: Event, ack: Ack| async move {
            let answer = match socket.nsp().all_rooms().await {
                Ok(rooms) => serde_json::json!(rooms),
                Err(err) => serde_json::json!({ "error": err.to_string() }),
            };
            let _ = ack.send(&(answer,));
        },
    );
    socket.on_async(
        "cluster-fetch",
        |socket: Socket, Data(room): Data<String>, ack: Ack| async move {
            let answer = match socket.nsp().to(room).fetch_sockets().await {
                Ok(sockets) => sockets
                    .into_iter()
                    .map(|mut s| {
                        s.rooms.sort();
                        let h = |field: &str| s.handshake.pointer(field).cloned();
                        serde_json::json!({
                            "id": s.id, "rooms": s.rooms, "data": s.data, "auth": h("/auth"),
                            "address": h("/address"), "url": h("/url"), "query": h("/query"),
                            "time": h("/time"), "issued": h("/issued"), "xdomain": h("/xdomain"),
                            "secure": h("/secure"), "header": h("/headers/x-cluster-test"),
                        })
                    })
                    .collect(),
                Err(err) => serde_json::json!({ "error": err.to_string() }),
            };
            let _ = ack.send(&(answer,));
        },
    );
    socket.on_async(
        "cluster-server-side-emit",
        |socket: Socket, _: Event, ack: Ack| async move {
            let answer = match socket
                .nsp()
                .server_side_emit_with_ack::<Box<RawValue>>("who", &())
                .await
            {
                Ok(acks) => {
                    let error = acks.timed_out.then_some("timeout reached");
                    serde_json::json!({ "error": error, "answers": acks.answers })
                }
                Err(err) => serde_json::json!({ "error": err.to_string(), "answers": null }),
            };
            let _ = ack.send(&(answer,));
        },
    );
    socket.on_async(
        "cluster-server-count",
        |socket: Socket, _: Event, ack: Ack| async move {
            let answer = match socket.nsp().server_count().await {
                Ok(count) => serde_json::json!(count),
                Err(err) => serde_json::json!({ "error": err.to_string() }),
            };
            let _ = ack.send(&(answer,));
        },
    );
    socket.on_async(
        "cluster-broadcast-with-ack",
        |socket: Socket, Data(room): Data<String>, ack: Ack| async move {
            let question = socket.nsp().to(room).timeout(Duration::from_secs(3));
            match question.emit_with_ack_events("question-all", &"q").await {
                Ok(acks) => {
                    // Each client's first argument, binaries kept: `{error, answers}` as the
                    // reference server's handler answers.
                    let answers: Vec<AnyValue> = acks
                        .answers
                        .iter()
                        .filter_map(|ack| ack.args::<AnyValue>().ok())
                        .collect();
                    let error = acks.timed_out.then_some("operation has timed out");
                    let _ = ack.send(&(AckAnswer { error, answers },));
                }
                Err(err) => {
                    let _ = ack.send(&(serde_json::json!({ "error": err.to_string() }),));
                }
            }
        },
    );
}

/// The first argument as a room name (a string, so never a binary placeholder).
fn first_string(event: &Event) -> Option<String> {
    serde_json::from_str(event.raw_args().first()?.get()).ok()
}

/// The reference server's answer to `cluster-broadcast-with-ack`.
#[derive(serde::Serialize)]
struct AckAnswer {
    error: Option<&'static str>,
    answers: Vec<AnyValue>,
}

/// Any argument, binaries included: read from a packet's arguments (placeholders become
/// bytes) and written back into another packet (bytes become attachments).
#[derive(Debug)]
enum AnyValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Binary(Vec<u8>),
    Array(Vec<AnyValue>),
    Object(Vec<(String, AnyValue)>),
}

impl serde::Serialize for AnyValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            AnyValue::Null => s.serialize_unit(),
            AnyValue::Bool(b) => s.serialize_bool(*b),
            AnyValue::Number(n) => n.serialize(s),
            AnyValue::String(text) => s.serialize_str(text),
            AnyValue::Binary(bytes) => s.serialize_bytes(bytes),
            AnyValue::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            AnyValue::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for AnyValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AnyValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_unit<E>(self) -> Result<AnyValue, E> {
                Ok(AnyValue::Null)
            }
            fn visit_none<E>(self) -> Result<AnyValue, E> {
                Ok(AnyValue::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<AnyValue, E> {
                Ok(AnyValue::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<AnyValue, E> {
                Ok(AnyValue::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<AnyValue, E> {
                Ok(AnyValue::Number(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<AnyValue, E> {
                Ok(serde_json::Number::from_f64(n).map_or(AnyValue::Null, AnyValue::Number))
            }
            fn visit_str<E>(self, text: &str) -> Result<AnyValue, E> {
                Ok(AnyValue::String(text.to_owned()))
            }
            fn visit_bytes<E>(self, bytes: &[u8]) -> Result<AnyValue, E> {
                Ok(AnyValue::Binary(bytes.to_vec()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<AnyValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(AnyValue::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AnyValue, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(AnyValue::Object(entries))
            }
        }
        d.deserialize_any(Visitor)
    }
}
