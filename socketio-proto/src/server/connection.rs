//! The server side: one [`Connection`] per Engine.IO session, multiplexing namespaces.
//!
//! Most servers want the [`Endpoint`](super::endpoint::Endpoint), which owns the Engine.IO
//! sessions and one `Connection` each and does the gluing below. A `Connection` alone sits on
//! top of an Engine.IO server session without owning it; glue them in the run loop:
//!
//! 1. Engine.IO `SessionEvent::Message(data)` ⇒ [`Connection::handle_message`]; Engine.IO
//!    `SessionEvent::Closed` ⇒ [`Connection::handle_engine_closed`].
//! 2. Drain [`Connection::poll_transmit`]: [`Output::TextFrame`] goes to the Engine.IO
//!    session's `send_text_frame`, [`Output::Binary`] to its `send` as binary data,
//!    [`Output::CloseEngine`] to its `close`.
//! 3. Drain [`Connection::poll_event`] and answer what needs an answer: every
//!    [`ConnectionEvent::ConnectRequest`] with [`Connection::accept`] or
//!    [`Connection::refuse`] (this is where middleware runs, in your code, async or not), every
//!    event with an ack id with [`Connection::ack`].
//! 4. Sleep until [`Connection::poll_timeout`] (the `connectTimeout`, ack deadlines) and call
//!    [`Connection::handle_timeout`].
//!
//! Socket ids (and recovery pids) come from the caller: this crate has no RNG.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::Utf8Bytes;
use engineio_proto::Data;
use serde::Serialize;

use crate::Parser;
use crate::decoder::{DecodeStatus, Decoder};
use crate::encode::{EncodedPacket, Message};
use crate::error::{EncodeError, WireAction};
use crate::limits::Limits;
use crate::msgpack::Side;
use crate::packet::{AckId, Namespace, Packet, PacketType, ProtocolVersion};
use crate::session::{NamespaceMap, SessionError};

/// Settings of a server connection. The defaults are the reference's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// How long a v5 client may take to join its first namespace before the connection is
    /// closed. 45 s.
    pub connect_timeout: Duration,
    /// Decoder limits for incoming packets.
    pub limits: Limits,
    /// The wire format, the same for every client (the server's `parser` option). Text by
    /// default; [`Parser::Msgpack`] serves v5 clients of `socket.io-msgpack-parser`.
    pub parser: Parser,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            connect_timeout: Duration::from_millis(45_000),
            limits: Limits::default(),
            parser: Parser::Text,
        }
    }
}

/// Why a namespace socket was disconnected, with the reference's reason strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client sent DISCONNECT for the namespace.
    ClientNamespaceDisconnect,
    /// The server disconnected the namespace ([`Connection::disconnect`]).
    ServerNamespaceDisconnect,
    /// The whole connection was closed by the server ([`Connection::close`]).
    ServerClose,
    /// The server is shutting down ([`Connection::shutdown`]): the client may recover on
    /// another server.
    ServerShuttingDown,
    /// The Engine.IO session ended; the engine's reason.
    Engine(engineio_proto::session::CloseReason),
    /// The client broke a protocol rule or sent bytes that do not parse; the connection closed.
    ParseError,
}

impl DisconnectReason {
    /// The reason string the reference reports to `disconnect` listeners.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ServerClose => "forced server close",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::Engine(reason) => reason.as_str(),
            DisconnectReason::ParseError => "parse error",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    /// The reference's reason string ([`as_str`](Self::as_str)).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the server must do with the Engine.IO session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send a packet's text: the Engine.IO message frame (`4` + text), shared with the other
    /// recipients of a broadcast. Hand it to the session's `send_text_frame`.
    TextFrame(Utf8Bytes),
    /// Send an Engine.IO binary message: an attachment of the text packet before it, or a
    /// whole msgpack packet.
    Binary(bytes::Bytes),
    /// Close the Engine.IO session.
    CloseEngine,
}

/// Why the connection ended on the Socket.IO level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionCloseReason {
    /// No namespace was joined within `connectTimeout`.
    ConnectTimeout,
    /// The client broke a rule of the protocol (B.7) or sent bytes that do not decode.
    ProtocolViolation,
    /// The server closed it.
    ServerClose,
    /// The Engine.IO session ended.
    Engine(engineio_proto::session::CloseReason),
}

/// What happened on the connection.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectionEvent {
    /// The client asks to join `namespace`. Answer with [`Connection::accept`] or
    /// [`Connection::refuse`]; packets for the namespace are a protocol violation until then.
    ConnectRequest {
        /// The namespace (for v4 without the `?query` suffix).
        namespace: Namespace,
        /// The CONNECT payload (v5 auth object), as raw JSON; `None` when absent.
        auth: Option<engineio_proto::Utf8Bytes>,
        /// The v4 client's query suffix (`/admin?token=1` ⇒ `token=1`), which the modern
        /// reference server exposes as the handshake's auth.
        query: Option<String>,
    },
    /// A namespace socket joined.
    Connected {
        /// The namespace.
        namespace: Namespace,
        /// Whether its state was recovered ([`Connection::accept_recovered`]).
        recovered: bool,
    },
    /// An EVENT. When it carries an ack id, answer with [`Connection::ack`].
    Event(Packet),
    /// The client acknowledged an event the server emitted.
    Ack(Packet),
    /// An emitted event's ack did not come before its deadline.
    AckTimeout {
        /// The namespace.
        namespace: Namespace,
        /// The ack id that timed out.
        ack_id: AckId,
    },
    /// A namespace socket left.
    Disconnected {
        /// The namespace.
        namespace: Namespace,
        /// Why.
        reason: DisconnectReason,
    },
    /// The connection ended; the last event.
    Closed(ConnectionCloseReason),
}

#[derive(Debug, Default)]
struct SocketState {
    /// Ids of received events still waiting for our ack.
    incoming_acks: HashSet<AckId>,
    /// Ids of our events waiting for the client's ack, with their deadlines (the key of each
    /// in `Connection::deadlines`, so an ack finds its deadline in O(log n)).
    outgoing_acks: HashMap<AckId, Instant>,
    next_ack_id: u64,
}

/// One Socket.IO client connection on top of one Engine.IO session.
#[derive(Debug)]
pub struct Connection {
    version: ProtocolVersion,
    config: ConnectionConfig,
    decoder: Decoder,
    /// Joined namespaces. Ordered, not hashed: a connection joins a handful, and looking one
    /// up on every send is then cheaper than hashing its name.
    sockets: NamespaceMap<SocketState>,
    pending_connects: NamespaceMap<()>,
    /// Ack deadlines in time order.
    deadlines: BTreeSet<(Instant, String, AckId)>,
    connect_deadline: Option<Instant>,
    transmits: VecDeque<Output>,
    events: VecDeque<ConnectionEvent>,
    closed: bool,
}

impl Connection {
    /// A connection for a freshly opened Engine.IO session. `version` is the Socket.IO protocol:
    /// v5 over Engine.IO v4, v4 over Engine.IO v3.
    ///
    /// A v4 client is joined to `/` by the server without asking: the connection reports an
    /// [`ConnectionEvent::ConnectRequest`] for `/` right away, to be accepted like any other.
    pub fn new(now: Instant, version: ProtocolVersion, config: ConnectionConfig) -> Connection {
        let mut connection = Connection {
            version,
            decoder: Decoder::with_parser(config.parser, version, config.limits),
            sockets: NamespaceMap::default(),
            pending_connects: NamespaceMap::default(),
            deadlines: BTreeSet::new(),
            connect_deadline: None,
            // Room for one: each input makes about one of each, and an idle connection keeps
            // what its queues grew to (a first growth would make room for four).
            transmits: VecDeque::with_capacity(1),
            events: VecDeque::with_capacity(1),
            closed: false,
            config,
        };
        match version {
            ProtocolVersion::V5 => {
                connection.connect_deadline = Some(now + connection.config.connect_timeout)
            }
            ProtocolVersion::V4 => {
                connection.pending_connects.insert("/".to_owned(), ());
                connection
                    .events
                    .push_back(ConnectionEvent::ConnectRequest {
                        namespace: Namespace::main(),
                        auth: None,
                        query: None,
                    });
            }
        }
        connection
    }

    /// The Socket.IO protocol version.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Whether `namespace` is joined.
    pub fn is_connected(&self, namespace: &str) -> bool {
        self.sockets.contains_key(namespace)
    }

    /// The joined namespaces, in byte order of their names.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.sockets.keys()
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// An Engine.IO message from the client.
    pub fn handle_message(&mut self, now: Instant, data: Data) {
        if self.closed {
            return;
        }
        let status = match data {
            Data::Text(text) => self.decoder.feed_utf8(text),
            Data::Binary(bytes) => self.decoder.feed_binary(bytes),
            Data::None => self.decoder.feed_utf8(Utf8Bytes::default()),
        };
        match status {
            Ok(DecodeStatus::Complete(packet)) => self.on_packet(now, packet),
            Ok(DecodeStatus::NeedAttachments { .. }) => {}
            Err(e) if e.action() == WireAction::IgnorePacket => {}
            Err(_) => self.violation(),
        }
    }

    /// The Engine.IO session ended: every namespace socket is disconnected with its reason.
    pub fn handle_engine_closed(&mut self, reason: engineio_proto::session::CloseReason) {
        if self.closed {
            return;
        }
        self.disconnect_all(DisconnectReason::Engine(reason));
        self.finish(ConnectionCloseReason::Engine(reason));
    }

    /// Runs the timers that are due: the connect timeout and ack deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if self.connect_deadline.is_some_and(|at| at <= now) {
            self.connect_deadline = None;
            self.transmits.push_back(Output::CloseEngine);
            self.disconnect_all(DisconnectReason::ServerClose);
            return self.finish(ConnectionCloseReason::ConnectTimeout);
        }
        while let Some((at, _, _)) = self.deadlines.first() {
            if *at > now {
                break;
            }
            let Some((_, namespace, ack_id)) = self.deadlines.pop_first() else {
                break;
            };
            let expired = self
                .sockets
                .get_mut(&namespace)
                .is_some_and(|s| s.outgoing_acks.remove(&ack_id).is_some());
            if expired {
                if let Ok(namespace) = Namespace::new(&namespace) {
                    self.events
                        .push_back(ConnectionEvent::AckTimeout { namespace, ack_id });
                }
            }
        }
    }

    /// Accepts a pending CONNECT: sends the reply (v5 `{"sid":…}`, with `pid` when recovery is
    /// on; v4 no payload) and reports [`ConnectionEvent::Connected`].
    pub fn accept(
        &mut self,
        namespace: &Namespace,
        sid: &str,
        pid: Option<&str>,
    ) -> Result<(), SessionError> {
        self.accept_with(namespace, sid, pid, &[], false)
    }

    /// Accepts a pending CONNECT after connection state recovery: the `missed` events go out
    /// first, then the reply with the recovered `sid` and `pid`, as the reference orders them.
    /// [`ConnectionEvent::Connected`] reports it recovered.
    pub fn accept_recovered(
        &mut self,
        namespace: &Namespace,
        sid: &str,
        pid: Option<&str>,
        missed: &[EncodedPacket],
    ) -> Result<(), SessionError> {
        self.accept_with(namespace, sid, pid, missed, true)
    }

    fn accept_with(
        &mut self,
        namespace: &Namespace,
        sid: &str,
        pid: Option<&str>,
        missed: &[EncodedPacket],
        recovered: bool,
    ) -> Result<(), SessionError> {
        self.check_open()?;
        if self.pending_connects.remove(namespace.as_str()).is_none() {
            return Err(SessionError::NotConnected);
        }
        #[derive(Serialize)]
        struct Reply<'a> {
            sid: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            pid: Option<&'a str>,
        }
        let reply = match self.version {
            ProtocolVersion::V5 => Packet::connect_with(namespace.clone(), &Reply { sid, pid })?,
            ProtocolVersion::V4 => Packet::connect(namespace.clone()),
        };
        for packet in missed {
            self.push_packet(packet);
        }
        self.push_packet(&self.encode(&reply)?);
        self.sockets
            .insert(namespace.as_str().to_owned(), SocketState::default());
        self.connect_deadline = None;
        self.events.push_back(ConnectionEvent::Connected {
            namespace: namespace.clone(),
            recovered,
        });
        Ok(())
    }

    /// Refuses a pending CONNECT with `message` (and optional `data`, v5): v5 sends
    /// `{"message":…,"data":…}`; v4 sends the string (`data` if it is a string, else the message).
    pub fn refuse<D: Serialize + ?Sized>(
        &mut self,
        namespace: &Namespace,
        message: &str,
        data: Option<&D>,
    ) -> Result<(), SessionError> {
        self.check_open()?;
        if self.pending_connects.remove(namespace.as_str()).is_none() {
            return Err(SessionError::NotConnected);
        }
        #[derive(Serialize)]
        struct Refusal<'a, D: ?Sized> {
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            data: Option<&'a D>,
        }
        let packet = match self.version {
            ProtocolVersion::V5 => {
                Packet::connect_error(namespace.clone(), &Refusal { message, data })?
            }
            ProtocolVersion::V4 => Packet::connect_error(namespace.clone(), message)?,
        };
        self.push_packet(&self.encode(&packet)?);
        Ok(())
    }

    /// Refuses a pending CONNECT for a namespace that does not exist, byte for byte as the
    /// reference: `{"message":"Invalid namespace"}` (an object for v4 clients too).
    pub fn refuse_invalid_namespace(&mut self, namespace: &Namespace) -> Result<(), SessionError> {
        self.check_open()?;
        if self.pending_connects.remove(namespace.as_str()).is_none() {
            return Err(SessionError::NotConnected);
        }
        #[derive(Serialize)]
        struct Invalid {
            message: &'static str,
        }
        let packet = Packet::connect_error(
            namespace.clone(),
            &Invalid {
                message: "Invalid namespace",
            },
        )?;
        self.push_packet(&self.encode(&packet)?);
        Ok(())
    }

    /// Sends an event (any packet built with [`Packet::event`] or [`Packet::from_parts`]) to a
    /// joined namespace. With `ack_timeout`, the packet gets a fresh ack id (returned), and
    /// [`ConnectionEvent::AckTimeout`] is reported if the client has not acknowledged it by then.
    pub fn emit(
        &mut self,
        now: Instant,
        packet: Packet,
        ack_timeout: Option<Duration>,
    ) -> Result<Option<AckId>, SessionError> {
        self.check_open()?;
        let namespace = packet.namespace().to_owned();
        let socket = self
            .sockets
            .get_mut(&namespace)
            .ok_or(SessionError::NotConnected)?;
        let Some(timeout) = ack_timeout else {
            self.push_packet(&self.encode(&packet)?);
            return Ok(None);
        };
        // Ids wrap at 2^53 - 1, which a JavaScript peer can still represent.
        let ack_id = AckId::new(socket.next_ack_id).unwrap_or(AckId::MAX);
        socket.next_ack_id = if ack_id == AckId::MAX {
            0
        } else {
            socket.next_ack_id + 1
        };
        socket.outgoing_acks.insert(ack_id, now + timeout);
        let (packet_type, ns, _, data, attachments) = packet.into_parts();
        let packet = Packet::from_parts(packet_type, ns, Some(ack_id), data, attachments)?;
        self.push_packet(&self.encode(&packet)?);
        self.deadlines.insert((now + timeout, namespace, ack_id));
        Ok(Some(ack_id))
    }

    /// Sends an already encoded packet to a joined namespace: the broadcast path. Costs O(1)
    /// per call: the text and attachments are shared, not copied.
    pub fn send_encoded(
        &mut self,
        namespace: &str,
        packet: &EncodedPacket,
    ) -> Result<(), SessionError> {
        self.check_open()?;
        if !self.sockets.contains_key(namespace) {
            return Err(SessionError::NotConnected);
        }
        self.push_packet(packet);
        Ok(())
    }

    /// [`Connection::send_encoded`] for a caller that owns the Engine.IO session too: when
    /// nothing of this connection waits to go out, answers `Ok(true)` and queues nothing, and
    /// the caller hands the packet to the Engine.IO session itself (one queue hop less per
    /// broadcast recipient); otherwise queues it behind what waits and answers `Ok(false)`.
    pub(crate) fn send_encoded_direct(
        &mut self,
        namespace: &str,
        packet: &EncodedPacket,
    ) -> Result<bool, SessionError> {
        self.check_open()?;
        if !self.sockets.contains_key(namespace) {
            return Err(SessionError::NotConnected);
        }
        if self.transmits.is_empty() {
            return Ok(true);
        }
        self.push_packet(packet);
        Ok(false)
    }

    /// Answers a received event that carried an ack id with an ACK packet (built with
    /// [`Packet::ack`]). Each id is answered at most once.
    pub fn ack(&mut self, packet: Packet) -> Result<(), SessionError> {
        self.check_open()?;
        let socket = self
            .sockets
            .get_mut(packet.namespace())
            .ok_or(SessionError::NotConnected)?;
        let answered = packet
            .ack_id()
            .is_some_and(|id| socket.incoming_acks.remove(&id));
        if !answered
            || !matches!(
                packet.packet_type(),
                PacketType::Ack | PacketType::BinaryAck
            )
        {
            return Err(SessionError::UnknownAck);
        }
        self.push_packet(&self.encode(&packet)?);
        Ok(())
    }

    /// Disconnects one namespace socket: sends DISCONNECT; the Engine.IO session stays.
    pub fn disconnect(&mut self, namespace: &Namespace) -> Result<(), SessionError> {
        self.check_open()?;
        self.remove_socket(
            namespace.as_str(),
            DisconnectReason::ServerNamespaceDisconnect,
            true,
        )
        .then_some(())
        .ok_or(SessionError::NotConnected)
    }

    /// Closes the whole connection: DISCONNECT for every namespace, then the Engine.IO session.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        let namespaces: Vec<String> = self.sockets.keys().map(str::to_owned).collect();
        for namespace in namespaces {
            self.remove_socket(&namespace, DisconnectReason::ServerClose, true);
        }
        self.transmits.push_back(Output::CloseEngine);
        self.finish(ConnectionCloseReason::ServerClose);
    }

    /// Closes the connection because the server shuts down (the reference's `io.close()`):
    /// every socket leaves with `server shutting down`, without a DISCONNECT (the client
    /// reconnects, and may recover elsewhere), then the Engine.IO session closes.
    pub fn shutdown(&mut self) {
        if self.closed {
            return;
        }
        self.disconnect_all(DisconnectReason::ServerShuttingDown);
        self.transmits.push_back(Output::CloseEngine);
        self.finish(ConnectionCloseReason::ServerClose);
    }

    /// The next thing to hand to the Engine.IO session.
    pub fn poll_transmit(&mut self) -> Option<Output> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        self.events.pop_front()
    }

    /// When [`Connection::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ack = self.deadlines.first().map(|(at, _, _)| *at);
        [ack, self.connect_deadline].into_iter().flatten().min()
    }

    fn check_open(&self) -> Result<(), SessionError> {
        if self.closed {
            Err(SessionError::Closed)
        } else {
            Ok(())
        }
    }

    /// The wire format of this connection's packets.
    pub fn parser(&self) -> Parser {
        self.config.parser
    }

    fn encode(&self, packet: &Packet) -> Result<EncodedPacket, EncodeError> {
        packet.encode_as(self.config.parser, Side::Server)
    }

    fn push_packet(&mut self, packet: &EncodedPacket) {
        for message in packet.messages() {
            self.transmits.push_back(match message {
                Message::TextFrame(frame) => Output::TextFrame(frame.clone()),
                Message::Binary(data) => Output::Binary(data.clone()),
            });
        }
    }

    fn on_packet(&mut self, _now: Instant, packet: Packet) {
        let namespace = packet.namespace().to_owned();
        let joined = self.sockets.contains_key(&namespace);
        match packet.packet_type() {
            PacketType::Connect => {
                if joined || self.pending_connects.contains_key(&namespace) {
                    return self.violation();
                }
                self.pending_connects.insert(namespace, ());
                let auth = packet.raw_json().cloned();
                let query = packet.full_namespace().query().map(str::to_owned);
                let namespace = match query {
                    // Replies name the namespace without the query.
                    Some(_) => Namespace::new(packet.namespace()).unwrap_or_default(),
                    None => packet.full_namespace().clone(),
                };
                self.events.push_back(ConnectionEvent::ConnectRequest {
                    namespace,
                    auth,
                    query,
                });
            }
            PacketType::ConnectError => self.violation(),
            _ if !joined => self.violation(),
            PacketType::Disconnect => {
                self.remove_socket(
                    &namespace,
                    DisconnectReason::ClientNamespaceDisconnect,
                    false,
                );
            }
            PacketType::Event | PacketType::BinaryEvent => {
                if let (Some(id), Some(socket)) =
                    (packet.ack_id(), self.sockets.get_mut(&namespace))
                {
                    socket.incoming_acks.insert(id);
                }
                self.events.push_back(ConnectionEvent::Event(packet));
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let Some(id) = packet.ack_id() else { return };
                // Unknown or duplicate acks are ignored, as the reference does.
                let deadline = self
                    .sockets
                    .get_mut(&namespace)
                    .and_then(|s| s.outgoing_acks.remove(&id));
                if let Some(deadline) = deadline {
                    self.deadlines.remove(&(deadline, namespace, id));
                    self.events.push_back(ConnectionEvent::Ack(packet));
                }
            }
        }
    }

    /// The client broke a session rule or sent garbage: close everything (B.7).
    fn violation(&mut self) {
        self.transmits.push_back(Output::CloseEngine);
        self.disconnect_all(DisconnectReason::ParseError);
        self.finish(ConnectionCloseReason::ProtocolViolation);
    }

    fn remove_socket(
        &mut self,
        namespace: &str,
        reason: DisconnectReason,
        notify_client: bool,
    ) -> bool {
        let Some(socket) = self.sockets.remove(namespace) else {
            return false;
        };
        let mut owned = namespace.to_owned();
        for (id, deadline) in socket.outgoing_acks {
            let key = (deadline, owned, id);
            self.deadlines.remove(&key);
            owned = key.1;
        }
        let namespace = Namespace::new(namespace).unwrap_or_default();
        if notify_client {
            // A DISCONNECT always encodes.
            if let Ok(packet) = self.encode(&Packet::disconnect(namespace.clone())) {
                self.push_packet(&packet);
            }
        }
        self.events
            .push_back(ConnectionEvent::Disconnected { namespace, reason });
        true
    }

    fn disconnect_all(&mut self, reason: DisconnectReason) {
        let namespaces: Vec<String> = self.sockets.keys().map(str::to_owned).collect();
        for namespace in namespaces {
            self.remove_socket(&namespace, reason, false);
        }
    }

    fn finish(&mut self, reason: ConnectionCloseReason) {
        self.closed = true;
        self.decoder.reset();
        self.pending_connects.clear();
        self.deadlines.clear();
        self.connect_deadline = None;
        self.events.push_back(ConnectionEvent::Closed(reason));
    }
}
