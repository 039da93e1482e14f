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
//! * `to-all`(…args) ⇒ `all-message`(…args) to the whole namespace, sender included.
//! * `ask-client`(…args) ⇒ emits `question`(…args) with an ack (5 s); the answer comes back
//!   as `answer`(…answer), a timeout as `answer-timeout`.
//! * `disconnect-me` ⇒ server-side disconnect of the socket.
//! * `last-disconnect-reason` ⇒ ack(reason of the latest server-side disconnect, or null).
//! * In a cluster: another node's `serverSideEmit("who")` with an ack is answered `"rust"`;
//!   `last-server-side-emit` ⇒ ack(the latest `serverSideEmit` data, or null);
//!   `cluster-sockets-join`(room, new), `cluster-sockets-leave`(room, old),
//!   `cluster-disconnect`(room) and `cluster-server-side-note`(…args) (a `serverSideEmit` of
//!   `note`) act on every node, then ack; `cluster-all-rooms` ⇒ ack(every node's rooms,
//!   sorted), `cluster-fetch`(room) ⇒ ack([{id, rooms (sorted)}…]),
//!   `cluster-server-side-emit` ⇒ ack({error, answers}) of `serverSideEmitWithAck("who")`,
//!   `cluster-server-count` ⇒ ack(the number of servers).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::value::RawValue;
use socketio_proto::cluster::{Answers, Reply, RequestId};
use socketio_proto::session::rooms::BroadcastTarget;
use socketio_proto::session::server::DisconnectReason;
use socketio_proto::{AckId, Namespace, Packet};

use crate::socketio::{Admission, App, Io, SocketRef};

/// The interop app. It has no settings: the server's options (heartbeats, recovery, v3) are
/// the driver's.
#[derive(Debug, Default)]
pub struct Interop {
    last_disconnect: Option<&'static str>,
    /// The latest `serverSideEmit` from another node, JSON.
    last_server_side_emit: Option<Box<RawValue>>,
    /// Cluster requests (at most the node's limit) and the acks that wait for them.
    waiting: HashMap<RequestId, (SocketRef, AckId)>,
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
                    ack_id.and_then(|id| Packet::ack(ns, id, &(self.last_disconnect,)).ok())
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
        let answer = match reply.answers {
            Answers::Rooms(rooms) => serde_json::json!(rooms),
            Answers::Sockets(sockets) => sockets
                .into_iter()
                .map(|mut s| {
                    s.rooms.sort();
                    serde_json::json!({ "id": s.id, "rooms": s.rooms })
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
        self.last_disconnect = Some(reason.as_str());
    }
}

/// The first argument as a room name: a string (so never a binary placeholder, which keeps
/// the attachments of the remaining arguments intact when it is dropped).
fn room_name(args: &[&RawValue]) -> Option<String> {
    serde_json::from_str(args.first()?.get()).ok()
}
