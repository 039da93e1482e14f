//! The interop app: the Socket.IO v5 test suite's server (PROTOCOL.md C.6) plus what the
//! interop tests exercise. `interop/reference-server.mjs` implements the same contract with
//! the official `socket.io` package, so one client script can run against both.
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
//!   header}…]),
//!   `cluster-server-side-emit` ⇒ ack({error, answers}) of `serverSideEmitWithAck("who")`,
//!   `cluster-server-count` ⇒ ack(the number of servers), `cluster-broadcast-with-ack`(room)
//!   ⇒ `question-all`("q") to the room on every node with a 3 s timeout, then
//!   ack({error, answers}) with every client's answer (binary ones as binary).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;
use socketio_proto::cluster::{Answers, Reply, RequestId};
use socketio_proto::session::rooms::BroadcastTarget;
use socketio_proto::session::server::DisconnectReason;
use socketio_proto::{AckId, Namespace, Packet};

use crate::socketio::{Admission, App, Io, SocketRef};

/// The interop app. It has no settings: the server's options (heartbeats, recovery, v3) are
/// the driver's. Its clones (one per shard of a sharded server) share the latest disconnect
/// reason; the rest is each shard's.
#[derive(Debug, Default, Clone)]
pub struct Interop {
    last_disconnect: Arc<Mutex<Option<&'static str>>>,
    /// The latest `serverSideEmit` from another node, JSON.
    last_server_side_emit: Option<Box<RawValue>>,
    /// Cluster requests (at most the node's limit) and the acks that wait for them.
    waiting: HashMap<RequestId, (SocketRef, AckId)>,
}

impl Interop {
    fn last_disconnect(&self) -> Option<&'static str> {
        self.last_disconnect.lock().ok().and_then(|last| *last)
    }
}

impl App for Interop {
    fn on_server_side_emit(
        &mut self,
        _io: &mut Io<'_>,
        _namespace: &Namespace,
        data: &str,
        with_ack: bool,
    ) -> Option<String> {
        self.last_server_side_emit = RawValue::from_string(data.to_owned()).ok();
        let who = serde_json::from_str::<(String,)>(data).is_ok_and(|(event,)| event == "who");
        (with_ack && who).then(|| "\"rust\"".to_owned())
    }

    fn admit(&mut self, namespace: &Namespace, auth: Option<&str>) -> Admission {
        match namespace.as_str() {
            "/" | "/custom" => Admission::Accept,
            "/private" => {
                let token = auth
                    .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
                    .and_then(|a| a.get("token").cloned());
                if token.as_ref().and_then(|t| t.as_str()) == Some("secret") {
                    Admission::Accept
                } else {
                    Admission::Refuse {
                        message: "not authorized".into(),
                        data: None,
                    }
                }
            }
            _ => Admission::InvalidNamespace,
        }
    }

    fn on_connect(&mut self, io: &mut Io<'_>, socket: &SocketRef, auth: Option<&str>, _: bool) {
        let auth = auth.and_then(|a| RawValue::from_string(a.to_owned()).ok());
        let empty = RawValue::from_string("{}".into()).ok();
        if let Some(auth) = auth.or(empty) {
            if let Ok(packet) = Packet::event(socket.namespace.clone(), "auth", &(auth,), None) {
                let _ = io.emit(socket, packet);
            }
        }
    }

    fn on_event(&mut self, io: &mut Io<'_>, socket: &SocketRef, packet: Packet) {
        let Some(name) = packet
            .event_name()
            .and_then(|n| n.as_str().map(str::to_owned))
        else {
            return;
        };
        let ns = packet.full_namespace().clone();
        let ack_id = packet.ack_id();
        let args = packet.raw_args();
        let rest = args.get(1..).unwrap_or_default();
        let attachments = packet.attachments().to_vec();
        match name.as_str() {
            "message" => {
                if let Ok(back) = Packet::event_raw(ns.clone(), "message-back", rest, attachments) {
                    let _ = io.emit(socket, back);
                }
            }
            "message-with-ack" => {
                if let Some(ack) =
                    ack_id.and_then(|id| Packet::ack_raw(ns.clone(), id, rest, attachments).ok())
                {
                    io.ack(socket, ack);
                }
            }
            "set-data" => {
                let value = rest
                    .first()
                    .and_then(|v| serde_json::from_str(v.get()).ok());
                if let (Some(value), Some(id)) = (value, ack_id) {
                    io.set_data(socket, value);
                    if let Ok(ack) = Packet::ack(ns, id, &()) {
                        io.ack(socket, ack);
                    }
                }
            }
            "get-data" => {
                let empty = serde_json::json!({});
                let data = io.data(socket).unwrap_or(&empty).clone();
                if let Some(ack) = ack_id.and_then(|id| Packet::ack(ns, id, &(data,)).ok()) {
                    io.ack(socket, ack);
                }
            }
            "join" => {
                let (Some(room), Some(id)) = (room_name(rest), ack_id) else {
                    return;
                };
                io.join(socket, &room);
                if let Ok(ack) = Packet::ack(ns, id, &(room,)) {
                    io.ack(socket, ack);
                }
            }
            "to-room" => {
                let Some(room) = room_name(rest) else {
                    return;
                };
                if let Ok(packet) =
                    Packet::event_raw(ns.clone(), "room-message", &rest[1..], attachments)
                {
                    let _ = io.broadcast(
                        packet,
                        &BroadcastTarget::to([room]).except([socket.id.clone()]),
                    );
                }
            }
            "to-all" => {
                if let Ok(packet) = Packet::event_raw(ns.clone(), "all-message", rest, attachments)
                {
                    let _ = io.broadcast(packet, &BroadcastTarget::all());
                }
            }
            "to-all-local" => {
                if let Ok(packet) = Packet::event_raw(ns.clone(), "all-message", rest, attachments)
                {
                    let _ = io.broadcast_local(packet, &BroadcastTarget::all());
                }
            }
            "ask-client" => {
                if let Ok(question) = Packet::event_raw(ns.clone(), "question", rest, attachments) {
                    io.emit_with_ack(socket, question, Duration::from_secs(5));
                }
            }
            "disconnect-me" => io.disconnect(socket),
            // Cluster operations from this node (meaningful with --redis), acked once sent.
            "cluster-sockets-join" | "cluster-sockets-leave" | "cluster-disconnect" => {
                let (Some(room), Some(id)) = (room_name(rest), ack_id) else {
                    return;
                };
                let target = BroadcastTarget::to([room]);
                let other = rest
                    .get(1)
                    .and_then(|r| serde_json::from_str::<String>(r.get()).ok());
                match (name.as_str(), other) {
                    ("cluster-sockets-join", Some(new_room)) => {
                        io.sockets_join(&ns, &target, &[new_room])
                    }
                    ("cluster-sockets-leave", Some(old_room)) => {
                        io.sockets_leave(&ns, &target, &[old_room])
                    }
                    ("cluster-disconnect", _) => io.disconnect_sockets(&ns, &target, false),
                    _ => return,
                }
                if let Ok(ack) = Packet::ack(ns, id, &()) {
                    io.ack(socket, ack);
                }
            }
            "cluster-server-side-note" => {
                let mut data = vec![RawValue::from_string("\"note\"".into()).ok()];
                data.extend(rest.iter().map(|a| Some((*a).to_owned())));
                let data: Vec<Box<RawValue>> = data.into_iter().flatten().collect();
                if let Ok(json) = serde_json::to_string(&data) {
                    io.server_side_emit(&ns, &json);
                }
                if let Some(ack) = ack_id.and_then(|id| Packet::ack(ns, id, &()).ok()) {
                    io.ack(socket, ack);
                }
            }
            "cluster-broadcast-with-ack" => {
                let (Some(room), Some(id)) = (room_name(rest), ack_id) else {
                    return;
                };
                let Ok(question) = Packet::event(ns.clone(), "question-all", &("q",), None) else {
                    return;
                };
                let target = BroadcastTarget::to([room]);
                match io.broadcast_with_ack(question, &target, Duration::from_secs(3)) {
                    Ok(request) => {
                        self.waiting.insert(request, (socket.clone(), id));
                    }
                    Err(err) => {
                        let error = serde_json::json!({ "error": err.to_string() });
                        if let Ok(ack) = Packet::ack(ns, id, &(error,)) {
                            io.ack(socket, ack);
                        }
                    }
                }
            }
            "cluster-all-rooms"
            | "cluster-fetch"
            | "cluster-server-side-emit"
            | "cluster-server-count" => {
                let Some(id) = ack_id else {
                    return;
                };
                let request = match name.as_str() {
                    "cluster-all-rooms" => io.all_rooms(&ns),
                    "cluster-fetch" => {
                        let Some(room) = room_name(rest) else {
                            return;
                        };
                        io.fetch_sockets(&ns, &BroadcastTarget::to([room]))
                    }
                    "cluster-server-side-emit" => io.server_side_emit_with_ack(&ns, r#"["who"]"#),
                    _ => io.server_count(&ns),
                };
                match request {
                    Ok(request) => {
                        self.waiting.insert(request, (socket.clone(), id));
                    }
                    Err(err) => {
                        let error = serde_json::json!({ "error": err.to_string() });
                        if let Ok(ack) = Packet::ack(ns, id, &(error,)) {
                            io.ack(socket, ack);
                        }
                    }
                }
            }
            "last-server-side-emit" => {
                let last = &self.last_server_side_emit;
                if let Some(ack) = ack_id.and_then(|id| Packet::ack(ns, id, &(last,)).ok()) {
                    io.ack(socket, ack);
                }
            }
            "last-disconnect-reason" => {
                if let Some(ack) =
                    ack_id.and_then(|id| Packet::ack(ns, id, &(self.last_disconnect(),)).ok())
                {
                    io.ack(socket, ack);
                }
            }
            _ => {}
        }
    }

    fn on_ack(&mut self, io: &mut Io<'_>, socket: &SocketRef, packet: Packet) {
        let args = packet.raw_args();
        let attachments = packet.attachments().to_vec();
        if let Ok(answer) =
            Packet::event_raw(socket.namespace.clone(), "answer", &args, attachments)
        {
            let _ = io.emit(socket, answer);
        }
    }

    fn on_ack_timeout(&mut self, io: &mut Io<'_>, socket: &SocketRef, _: AckId) {
        if let Ok(packet) = Packet::event(socket.namespace.clone(), "answer-timeout", &(), None) {
            let _ = io.emit(socket, packet);
        }
    }

    fn on_cluster_reply(&mut self, io: &mut Io<'_>, reply: Reply) {
        let Some((socket, id)) = self.waiting.remove(&reply.request) else {
            return;
        };
        if let Answers::Acks(acks) = &reply.answers {
            // Each client's first argument, binaries kept: `{error, answers}` as the
            // reference server's handler answers.
            let answers: Vec<AnyValue> = acks
                .iter()
                .filter_map(|ack| ack.args::<(AnyValue,)>().ok().map(|(first,)| first))
                .collect();
            let error = reply.timed_out.then_some("operation has timed out");
            let answer = AckAnswer { error, answers };
            if let Ok(ack) = Packet::ack(socket.namespace.clone(), id, &(answer,)) {
                io.ack(&socket, ack);
            }
            return;
        }
        let answer = match reply.answers {
            Answers::Rooms(rooms) => serde_json::json!(rooms),
            Answers::Sockets(sockets) => sockets
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
            Answers::ServerSideEmit(answers) => {
                let answers: Vec<Box<RawValue>> = answers
                    .into_iter()
                    .filter_map(|a| RawValue::from_string(a).ok())
                    .collect();
                let error = reply.timed_out.then_some("timeout reached");
                serde_json::json!({ "error": error, "answers": answers })
            }
            Answers::ServerCount(count) => serde_json::json!(count),
            _ => return,
        };
        if let Ok(ack) = Packet::ack(socket.namespace.clone(), id, &(answer,)) {
            io.ack(&socket, ack);
        }
    }

    fn on_disconnect(&mut self, _: &mut Io<'_>, _: &SocketRef, reason: DisconnectReason) {
        if let Ok(mut last) = self.last_disconnect.lock() {
            *last = Some(reason.as_str());
        }
    }
}

/// The first argument as a room name: a string (so never a binary placeholder, which keeps
/// the attachments of the remaining arguments intact when it is dropped).
fn room_name(args: &[&RawValue]) -> Option<String> {
    serde_json::from_str(args.first()?.get()).ok()
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
