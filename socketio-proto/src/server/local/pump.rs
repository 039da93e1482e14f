//! The pump: Engine.IO events into the connections, connection outputs into the Engine.IO
//! sessions, connection events into the application's and the adapter's queues.

use std::time::Instant;

use engineio_proto::Data;
use engineio_proto::session::endpoint::SessionKey;
use engineio_proto::session::server::SessionEvent;

use super::peers::{Member, Peer, mark};
use super::{AckOwner, Local, Notice};
use crate::AckId;
use crate::Namespace;
use crate::server::connection::{Connection, ConnectionEvent, DisconnectReason, Output};
use crate::server::events::{ConnectRequest, ServerEvent, SocketRef};
use crate::server::handshake::query_fields;
use crate::server::query::Answer;
use crate::server::recovery::KeptSession;
use crate::session::NamespaceMap;

impl Local {
    pub(super) fn seen(&mut self, now: Instant) {
        self.now = Some(self.now.map_or(now, |seen| seen.max(now)));
    }

    pub(super) fn pump(&mut self, now: Instant) {
        self.seen(now);
        self.pump_with(Some(now));
    }

    /// Moves everything between the layers until nothing moves: Engine.IO events into the
    /// connections, connection outputs into the Engine.IO sessions, connection events into the
    /// application's queue. `now` is the time of the input being handled; the poll methods
    /// pass `None` and the latest time seen is used.
    pub(super) fn pump_with(&mut self, now: Option<Instant>) {
        self.collect_replies();
        let Some(now) = now.or(self.now) else {
            // Nothing was ever fed in: nothing can be pending.
            return;
        };
        loop {
            if let Some((key, event)) = self.engine.poll_event() {
                self.on_engine_event(now, key, event);
                continue;
            }
            let Some(key) = self.dirty.pop() else {
                break;
            };
            let Some(peer) = self.peers.get_mut(key) else {
                continue;
            };
            peer.dirty = false;
            self.drain_peer(now, key);
        }
        self.collect_replies();
    }

    fn on_engine_event(&mut self, now: Instant, key: SessionKey, event: SessionEvent) {
        match event {
            SessionEvent::Opened => {
                let Some(session) = self.engine.session(key) else {
                    return;
                };
                let mut peer = Peer {
                    connection: Connection::new(
                        now,
                        session.version().into(),
                        self.config.connection.clone(),
                    ),
                    sockets: NamespaceMap::default(),
                    pending: NamespaceMap::default(),
                    dirty: false,
                    deadline: None,
                    key,
                    handshake: self.opening.take(),
                };
                mark(&mut self.dirty, key, &mut peer);
                self.peers.insert(peer);
            }
            SessionEvent::Message(data) => {
                if let Some(peer) = self.peers.get_mut(key) {
                    peer.connection.handle_message(now, data);
                    mark(&mut self.dirty, key, peer);
                }
            }
            SessionEvent::Closed { reason, .. } => {
                if let Some(peer) = self.peers.get_mut(key) {
                    peer.connection.handle_engine_closed(reason);
                    mark(&mut self.dirty, key, peer);
                }
            }
            // Upgrades and the like change nothing above Engine.IO.
            _ => {}
        }
    }

    /// Drains one peer's connection until it is quiet.
    fn drain_peer(&mut self, now: Instant, key: SessionKey) {
        loop {
            let Some(peer) = self.peers.get_mut(key) else {
                return;
            };
            if let Some(output) = peer.connection.poll_transmit() {
                match output {
                    // Fails only when the Engine.IO session is already closing.
                    Output::TextFrame(frame) => drop(self.engine.send_text_frame(key, frame)),
                    Output::Binary(data) => drop(self.engine.send(key, Data::Binary(data))),
                    Output::CloseEngine => self.engine.close(now, key),
                }
                continue;
            }
            let Some(event) = peer.connection.poll_event() else {
                let deadline = peer.connection.poll_timeout();
                if deadline != peer.deadline {
                    self.timers.reschedule(key, peer.deadline, deadline);
                    peer.deadline = deadline;
                }
                return;
            };
            self.on_connection_event(key, event);
        }
    }

    fn on_connection_event(&mut self, key: SessionKey, event: ConnectionEvent) {
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        let socket = |peer: &Peer, namespace: &Namespace| {
            let member = peer.sockets.get(namespace.as_str())?;
            Some(SocketRef {
                session: key,
                namespace: namespace.clone(),
                id: member.id.clone(),
            })
        };
        match event {
            ConnectionEvent::ConnectRequest {
                namespace,
                auth,
                query,
            } => {
                let auth = auth.or_else(|| query.map(|q| query_as_auth(&q).into()));
                peer.pending
                    .insert(namespace.as_str().to_owned(), auth.clone());
                self.events
                    .push_back(ServerEvent::ConnectRequest(ConnectRequest {
                        session: key,
                        namespace,
                        auth,
                    }));
            }
            ConnectionEvent::Event(packet) => {
                if let Some(socket) = socket(peer, packet.full_namespace()) {
                    self.events.push_back(ServerEvent::Event { socket, packet });
                }
            }
            ConnectionEvent::Ack(packet) => {
                let (Some(socket), Some(id)) =
                    (socket(peer, packet.full_namespace()), packet.ack_id())
                else {
                    return;
                };
                match self.take_owner(&socket.id, id) {
                    Some(AckOwner::Query(query)) => {
                        self.queries.answer(query, Answer::Ack(packet));
                    }
                    Some(AckOwner::Adapter(token)) => self.notices.push_back(Notice::Ack {
                        token,
                        socket,
                        ack: Some(packet),
                    }),
                    None => self.events.push_back(ServerEvent::Ack { socket, packet }),
                }
            }
            ConnectionEvent::AckTimeout { namespace, ack_id } => {
                let Some(socket) = socket(peer, &namespace) else {
                    return;
                };
                match self.take_owner(&socket.id, ack_id) {
                    // The query ends at the same deadline, with what arrived.
                    Some(AckOwner::Query(_)) => {}
                    Some(AckOwner::Adapter(token)) => self.notices.push_back(Notice::Ack {
                        token,
                        socket,
                        ack: None,
                    }),
                    None => self
                        .events
                        .push_back(ServerEvent::AckTimeout { socket, ack_id }),
                }
            }
            ConnectionEvent::Disconnected { namespace, reason } => {
                let ns = namespace.as_str();
                let Some(Member { id, pid, data, .. }) = peer.sockets.remove(ns) else {
                    return;
                };
                let data = data.map(|data| *data);
                // Kept for recovery when the transport failed or the server closed, not when
                // either side disconnected on purpose (the reference's rule).
                let recoverable = matches!(
                    reason,
                    DisconnectReason::Engine(_)
                        | DisconnectReason::ServerClose
                        | DisconnectReason::ServerShuttingDown
                );
                if let (true, Some(pid), true) = (self.recovery.is_some(), pid, recoverable) {
                    let session = KeptSession {
                        sid: id.clone(),
                        pid,
                        rooms: self.rooms.socket_rooms(ns, &id),
                        data,
                    };
                    self.notices.push_back(Notice::SessionKept {
                        namespace: namespace.clone(),
                        session,
                    });
                }
                self.rooms.remove_socket(ns, &id);
                self.owners.remove(&id);
                let socket = SocketRef {
                    session: key,
                    namespace,
                    id,
                };
                self.forget_acks(&socket);
                self.events
                    .push_back(ServerEvent::Disconnected { socket, reason });
            }
            ConnectionEvent::Closed(_) => {
                if let Some(peer) = self.peers.remove(key) {
                    self.timers.reschedule(key, peer.deadline, None);
                }
            }
            // `Connected` is reported by `connect`, with the auth.
            ConnectionEvent::Connected { .. } => {}
        }
    }

    fn take_owner(&mut self, sid: &str, id: AckId) -> Option<AckOwner> {
        if self.owned_acks.is_empty() {
            return None;
        }
        self.owned_acks.remove(&(sid.to_owned(), id))
    }

    /// The acks a socket that left owed: the adapter learns they will not come; a query
    /// waits for them until its deadline, as the reference's does.
    fn forget_acks(&mut self, socket: &SocketRef) {
        if self.owned_acks.is_empty() {
            return;
        }
        let notices = &mut self.notices;
        self.owned_acks.retain(|(sid, _), owner| {
            if *sid != socket.id {
                return true;
            }
            if let AckOwner::Adapter(token) = *owner {
                notices.push_back(Notice::Ack {
                    token,
                    socket: socket.clone(),
                    ack: None,
                });
            }
            false
        });
    }
}

/// `token=x&n=1` as the JSON object `{"token":"x","n":"1"}`, percent-decoded as Node's
/// `querystring.parse` does (`+` is a space), keys in their first order, the last value kept.
fn query_as_auth(query: &str) -> String {
    let mut fields: Vec<(String, String)> = Vec::new();
    for (key, value) in query_fields(query) {
        match fields.iter_mut().find(|(k, _)| *k == key) {
            Some(field) => field.1 = value,
            None => fields.push((key, value)),
        }
    }
    let mut json = String::from("{");
    for (key, value) in fields {
        if json.len() > 1 {
            json.push(',');
        }
        // Strings always serialize.
        json.push_str(&serde_json::to_string(&key).unwrap_or_default());
        json.push(':');
        json.push_str(&serde_json::to_string(&value).unwrap_or_default());
    }
    json.push('}');
    json
}

#[cfg(test)]
mod tests {
    use super::query_as_auth;

    #[test]
    fn a_v4_query_becomes_the_auth_object() {
        assert_eq!(
            query_as_auth("token=secret&x=a%20b+c&flag"),
            r#"{"token":"secret","x":"a b c","flag":""}"#
        );
        assert_eq!(query_as_auth("t=%zz%4"), r#"{"t":"%zz%4"}"#);
        assert_eq!(query_as_auth("a=1&a=2"), r#"{"a":"2"}"#);
    }
}
