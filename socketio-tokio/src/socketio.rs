//! The Socket.IO layer of the server driver: one [`Connection`] per Engine.IO session, the
//! in-memory [`Rooms`], optional connection state recovery, and an [`App`] with callbacks.
//!
//! [`SocketIo`] is an [`engine::Handler`]: pass it to [`engine::serve`]. It glues each
//! Engine.IO session to its Socket.IO connection (messages in, packets out) and turns the
//! connection's events into [`App`] calls, each with an [`Io`] through which the app emits,
//! acknowledges, joins rooms, broadcasts and disconnects.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use engineio_proto::ProtocolVersion as EngineVersion;
use engineio_proto::session::server::Event as EngineEvent;
use socketio_proto::session::recovery::{RecoveryConfig, RecoveryRequest, RecoveryStore};
use socketio_proto::session::rooms::{Adapter, BroadcastTarget, Rooms};
use socketio_proto::session::server::{Connection, DisconnectReason, Event, Output, ServerConfig};
use socketio_proto::{AckId, EncodedPacket, Namespace, Packet, ProtocolVersion, Utf8Bytes};

use crate::engine::{self, Engines, SidGenerator, Timers};

/// One namespace socket: the Engine.IO session it lives on, its namespace and its id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SocketRef {
    /// The Engine.IO session id.
    pub engine: String,
    /// The namespace.
    pub namespace: Namespace,
    /// The socket id (`socket.id` in JavaScript).
    pub id: String,
}

/// The answer to a CONNECT.
#[derive(Clone, Debug, PartialEq)]
pub enum Admission {
    /// Accept: the socket joins the namespace.
    Accept,
    /// Refuse with a CONNECT_ERROR `{"message": …, "data": …}` (a middleware's `next(err)`).
    Refuse {
        /// The error message.
        message: String,
        /// Extra data (`err.data`), if any.
        data: Option<serde_json::Value>,
    },
    /// The namespace does not exist: `{"message":"Invalid namespace"}`.
    InvalidNamespace,
}

/// The application: what happens when sockets connect, send events and leave.
pub trait App: Send + 'static {
    /// A client asks to join `namespace` with this auth payload (raw JSON, `None` when absent).
    fn admit(&mut self, namespace: &Namespace, auth: Option<&str>) -> Admission;
    /// A socket joined (or was recovered: then its rooms are back and missed events were sent).
    fn on_connect(
        &mut self,
        io: &mut Io<'_>,
        socket: &SocketRef,
        auth: Option<&str>,
        recovered: bool,
    );
    /// An event from a socket. When it has an ack id, answer with [`Io::ack`].
    fn on_event(&mut self, io: &mut Io<'_>, socket: &SocketRef, packet: Packet);
    /// The client acknowledged an event emitted with [`Io::emit_with_ack`].
    fn on_ack(&mut self, _io: &mut Io<'_>, _socket: &SocketRef, _packet: Packet) {}
    /// An ack did not arrive in time.
    fn on_ack_timeout(&mut self, _io: &mut Io<'_>, _socket: &SocketRef, _ack_id: AckId) {}
    /// A socket left; its rooms are already gone.
    fn on_disconnect(&mut self, _io: &mut Io<'_>, _socket: &SocketRef, _reason: DisconnectReason) {}
}

/// Server-wide settings of the Socket.IO layer.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Connection settings (`connectTimeout`, decoder limits).
    pub connection: ServerConfig,
    /// Connection state recovery; off when `None`.
    pub recovery: Option<RecoveryConfig>,
}

/// One client: its Socket.IO connection and its socket per namespace.
#[derive(Debug)]
struct Peer {
    connection: Connection,
    sockets: HashMap<String, String>,
    /// Private session ids per namespace, for recovery.
    pids: HashMap<String, String>,
}

/// Everything but the app: what [`Io`] works on.
#[derive(Debug)]
struct State {
    peers: HashMap<String, Peer>,
    /// (namespace, socket id) ⇒ Engine.IO session.
    owners: HashMap<(String, String), String>,
    rooms: Rooms,
    recovery: Option<RecoveryStore>,
    ids: SidGenerator,
    next_offset: u64,
    /// Peers with outputs or events to drain.
    dirty: HashSet<String>,
    timers: Timers<String>,
}

/// The Socket.IO server handler.
#[derive(Debug)]
pub struct SocketIo<A> {
    app: A,
    config: Config,
    state: State,
}

impl<A: App> SocketIo<A> {
    /// A server running `app`.
    pub fn new(app: A, config: Config) -> SocketIo<A> {
        SocketIo {
            app,
            state: State {
                peers: HashMap::new(),
                owners: HashMap::new(),
                rooms: Rooms::default(),
                recovery: config.recovery.clone().map(RecoveryStore::new),
                ids: SidGenerator::default(),
                next_offset: 0,
                dirty: HashSet::new(),
                timers: Timers::default(),
            },
            config,
        }
    }

    /// Drains every dirty peer: connection outputs into the engine, events into the app.
    fn pump(&mut self, now: Instant, engines: &mut Engines) {
        while let Some(sid) = self.state.dirty.iter().next().cloned() {
            self.state.dirty.remove(&sid);
            while let Some(peer) = self.state.peers.get_mut(&sid) {
                if let Some(output) = peer.connection.poll_transmit() {
                    match output {
                        // Fails only when the engine is already closing.
                        Output::Message(data) => drop(engines.send(&sid, data)),
                        Output::CloseEngine => engines.close(now, &sid),
                        _ => {}
                    }
                    continue;
                }
                let Some(event) = peer.connection.poll_event() else {
                    break;
                };
                self.event(now, &sid, event, engines);
            }
            let deadline = self
                .state
                .peers
                .get(&sid)
                .and_then(|p| p.connection.poll_timeout());
            self.state.timers.set(&sid, deadline);
        }
    }

    fn event(&mut self, now: Instant, sid: &str, event: Event, engines: &mut Engines) {
        let mut io = Io {
            now,
            engines,
            state: &mut self.state,
        };
        let socket_of = |io: &Io<'_>, namespace: &Namespace| {
            let id = io
                .state
                .peers
                .get(sid)?
                .sockets
                .get(namespace.as_str())?
                .clone();
            Some(SocketRef {
                engine: sid.to_owned(),
                namespace: namespace.clone(),
                id,
            })
        };
        match event {
            Event::ConnectRequest {
                namespace,
                auth,
                query,
            } => {
                // A v4 client has no auth payload: the modern reference server uses its
                // namespace query (`/private?token=x`) as the handshake's auth.
                let auth = auth.or_else(|| query.map(|q| query_as_auth(&q).into()));
                self.connect(now, sid, namespace, auth, engines)
            }
            Event::Event(packet) => {
                if let Some(socket) = socket_of(&io, packet.full_namespace()) {
                    self.app.on_event(&mut io, &socket, packet);
                }
            }
            Event::Ack(packet) => {
                if let Some(socket) = socket_of(&io, packet.full_namespace()) {
                    self.app.on_ack(&mut io, &socket, packet);
                }
            }
            Event::AckTimeout { namespace, ack_id } => {
                if let Some(socket) = socket_of(&io, &namespace) {
                    self.app.on_ack_timeout(&mut io, &socket, ack_id);
                }
            }
            Event::Disconnected { namespace, reason } => {
                let Some(socket) = socket_of(&io, &namespace) else {
                    return;
                };
                io.forget(&socket, reason);
                self.app.on_disconnect(&mut io, &socket, reason);
            }
            Event::Closed(_) => {
                self.state.peers.remove(sid);
            }
            // `Connected` is reported by `connect` itself, with the auth.
            _ => {}
        }
    }

    /// Answers a CONNECT: recovery first, then the app's admission.
    fn connect(
        &mut self,
        now: Instant,
        sid: &str,
        namespace: Namespace,
        auth: Option<Utf8Bytes>,
        engines: &mut Engines,
    ) {
        let auth = auth.as_deref();
        let admission = self.app.admit(&namespace, auth);
        let state = &mut self.state;
        let Some(peer) = state.peers.get_mut(sid) else {
            return;
        };
        let ns = namespace.as_str().to_owned();
        // Errors mean the connection closed meanwhile: nothing left to answer.
        let mut recovered = false;
        let socket_id = match admission {
            Admission::Refuse { message, data } => {
                return drop(peer.connection.refuse(&namespace, &message, data.as_ref()));
            }
            Admission::InvalidNamespace => {
                return drop(peer.connection.refuse_invalid_namespace(&namespace));
            }
            Admission::Accept => {
                let request = auth.and_then(RecoveryRequest::from_auth);
                let restored = match (&mut state.recovery, request) {
                    (Some(store), Some(request)) => store.recover(now, &ns, &request),
                    _ => None,
                };
                if let Some(restored) = restored {
                    let id = restored.session.sid.clone();
                    let pid = restored.session.pid.clone();
                    for room in &restored.session.rooms {
                        state.rooms.join(&ns, &id, room);
                    }
                    let _ = peer.connection.accept_recovered(
                        &namespace,
                        &id,
                        Some(&pid),
                        &restored.missed,
                        true,
                    );
                    peer.pids.insert(ns.clone(), pid);
                    recovered = true;
                    id
                } else {
                    let id = state.ids.next_id();
                    let pid = state.recovery.is_some().then(|| state.ids.next_id());
                    let _ = peer.connection.accept(&namespace, &id, pid.as_deref());
                    state.rooms.add_socket(&ns, &id);
                    if let Some(pid) = pid {
                        peer.pids.insert(ns.clone(), pid);
                    }
                    id
                }
            }
        };
        peer.sockets.insert(ns.clone(), socket_id.clone());
        state.owners.insert((ns, socket_id.clone()), sid.to_owned());
        state.dirty.insert(sid.to_owned());
        let socket = SocketRef {
            engine: sid.to_owned(),
            namespace,
            id: socket_id,
        };
        let mut io = Io {
            now,
            engines,
            state: &mut self.state,
        };
        self.app.on_connect(&mut io, &socket, auth, recovered);
    }
}

impl<A: App> engine::Handler for SocketIo<A> {
    fn on_open(&mut self, now: Instant, sid: &str, version: EngineVersion, engines: &mut Engines) {
        let version = match version {
            EngineVersion::V3 => ProtocolVersion::V4,
            _ => ProtocolVersion::V5,
        };
        let peer = Peer {
            connection: Connection::new(now, version, self.config.connection.clone()),
            sockets: HashMap::new(),
            pids: HashMap::new(),
        };
        self.state.peers.insert(sid.to_owned(), peer);
        self.state.dirty.insert(sid.to_owned());
        self.pump(now, engines);
    }

    fn on_event(&mut self, now: Instant, sid: &str, event: EngineEvent, engines: &mut Engines) {
        let Some(peer) = self.state.peers.get_mut(sid) else {
            return;
        };
        match event {
            EngineEvent::Message(data) => peer.connection.handle_message(now, data),
            EngineEvent::Closed { reason, .. } => peer.connection.handle_engine_closed(reason),
            _ => return,
        }
        self.state.dirty.insert(sid.to_owned());
        self.pump(now, engines);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let store = self
            .state
            .recovery
            .as_ref()
            .and_then(RecoveryStore::poll_timeout);
        [self.state.timers.next(), store]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant, engines: &mut Engines) {
        for sid in self.state.timers.due(now) {
            if let Some(peer) = self.state.peers.get_mut(&sid) {
                peer.connection.handle_timeout(now);
                self.state.dirty.insert(sid);
            }
        }
        if let Some(store) = &mut self.state.recovery {
            store.expire(now);
        }
        self.pump(now, engines);
    }
}

/// What the app can do from a callback. Commands on sockets that have left are ignored.
#[derive(Debug)]
pub struct Io<'a> {
    now: Instant,
    engines: &'a mut Engines,
    state: &'a mut State,
}

impl Io<'_> {
    /// The time of the input being handled.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Sends `packet` (an EVENT built with [`Packet::event`]) to one socket. With recovery on,
    /// it goes through the recovery store like a broadcast to the socket's own room, as the
    /// reference does, so it carries an offset.
    pub fn emit(&mut self, socket: &SocketRef, packet: Packet) {
        let target = BroadcastTarget::to([socket.id.clone()]);
        let encoded = self.tag(packet, &target);
        self.send(socket, &encoded);
    }

    /// Sends an event with an ack id; the answer comes to [`App::on_ack`], or
    /// [`App::on_ack_timeout`] after `timeout`.
    pub fn emit_with_ack(
        &mut self,
        socket: &SocketRef,
        packet: Packet,
        timeout: Duration,
    ) -> Option<AckId> {
        let peer = self.state.peers.get_mut(&socket.engine)?;
        let ack = peer.connection.emit(self.now, packet, Some(timeout)).ok()?;
        self.state.dirty.insert(socket.engine.clone());
        ack
    }

    /// Answers an event's ack id with `packet` (built with [`Packet::ack`]).
    pub fn ack(&mut self, socket: &SocketRef, packet: Packet) {
        if let Some(peer) = self.state.peers.get_mut(&socket.engine) {
            // Fails for unknown or already answered ids: nothing to send then.
            let _ = peer.connection.ack(packet);
            self.state.dirty.insert(socket.engine.clone());
        }
    }

    /// Sends `packet` to the sockets of its namespace selected by `target`, encoded once.
    pub fn broadcast(&mut self, packet: Packet, target: &BroadcastTarget) {
        let namespace = packet.namespace().to_owned();
        let encoded = self.tag(packet, target);
        let recipients: Vec<String> = self
            .state
            .rooms
            .recipients(&namespace, target)
            .into_iter()
            .map(str::to_owned)
            .collect();
        for id in recipients {
            let Some(engine) = self.state.owners.get(&(namespace.clone(), id)).cloned() else {
                continue;
            };
            if target.volatile && !self.engines.is_writable(&engine) {
                continue;
            }
            if let Some(peer) = self.state.peers.get_mut(&engine) {
                let _ = peer.connection.send_encoded(&namespace, &encoded);
                self.state.dirty.insert(engine);
            }
        }
    }

    /// Puts the socket in `room`.
    pub fn join(&mut self, socket: &SocketRef, room: &str) {
        self.state
            .rooms
            .join(socket.namespace.as_str(), &socket.id, room);
    }

    /// Takes the socket out of `room`.
    pub fn leave(&mut self, socket: &SocketRef, room: &str) {
        self.state
            .rooms
            .leave(socket.namespace.as_str(), &socket.id, room);
    }

    /// The rooms of a socket (its own id included).
    pub fn rooms_of(&self, socket: &SocketRef) -> Vec<String> {
        let rooms = self
            .state
            .rooms
            .rooms_of(socket.namespace.as_str(), &socket.id);
        rooms.into_iter().map(str::to_owned).collect()
    }

    /// The sockets in `room` of `namespace`.
    pub fn sockets_in(&self, namespace: &str, room: &str) -> Vec<String> {
        let sockets = self.state.rooms.sockets_in(namespace, room);
        sockets.into_iter().map(str::to_owned).collect()
    }

    /// Disconnects the socket from its namespace (the client sees `io server disconnect`).
    pub fn disconnect(&mut self, socket: &SocketRef) {
        if let Some(peer) = self.state.peers.get_mut(&socket.engine) {
            let _ = peer.connection.disconnect(&socket.namespace);
            self.state.dirty.insert(socket.engine.clone());
        }
    }

    /// Tags an event with a recovery offset (when recovery is on) and encodes it.
    fn tag(&mut self, packet: Packet, target: &BroadcastTarget) -> EncodedPacket {
        let Some(store) = &mut self.state.recovery else {
            return packet.encode();
        };
        self.state.next_offset += 1;
        let offset = format!("{:x}", self.state.next_offset);
        let fallback = packet.clone();
        store
            .store(self.now, &offset, packet, target)
            .unwrap_or_else(|_| fallback.encode())
    }

    fn send(&mut self, socket: &SocketRef, encoded: &EncodedPacket) {
        if let Some(peer) = self.state.peers.get_mut(&socket.engine) {
            let _ = peer
                .connection
                .send_encoded(socket.namespace.as_str(), encoded);
            self.state.dirty.insert(socket.engine.clone());
        }
    }

    /// A socket left: drop its rooms, and keep its session for recovery when the reason
    /// allows it (the transport failed or the server closed; not when either side
    /// disconnected on purpose).
    fn forget(&mut self, socket: &SocketRef, reason: DisconnectReason) {
        let ns = socket.namespace.as_str();
        let recoverable = matches!(
            reason,
            DisconnectReason::Engine(_) | DisconnectReason::ServerClose
        );
        let pid = self.state.peers.get_mut(&socket.engine).and_then(|peer| {
            peer.sockets.remove(ns);
            peer.pids.remove(ns)
        });
        if let (Some(store), Some(pid), true) = (&mut self.state.recovery, pid, recoverable) {
            let rooms = self.state.rooms.rooms_of(ns, &socket.id);
            store.save_session(self.now, &socket.id, &pid, ns, &rooms);
        }
        self.state.rooms.remove_socket(ns, &socket.id);
        self.state
            .owners
            .remove(&(ns.to_owned(), socket.id.clone()));
    }
}

/// `token=x&n=1` as the JSON object `{"token":"x","n":"1"}`, percent-decoded as Node's
/// `querystring.parse` does (`+` is a space), keys in their order.
fn query_as_auth(query: &str) -> String {
    let mut fields: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (percent_decode(key), percent_decode(value));
        match fields.iter_mut().find(|(k, _)| *k == key) {
            Some(field) => field.1 = value,
            None => fields.push((key, value)),
        }
    }
    let json = |s: &str| serde_json::Value::from(s).to_string();
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", json(k), json(v)))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    }
}
