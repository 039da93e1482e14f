//! The namespace sockets: packets from the server, CONNECT replies, acks, the send and
//! receive buffers and the `retries` queue.

use serde_json::value::RawValue;

use super::auth::write_object;
use super::*;
use crate::Message;
use crate::msgpack::Side;

impl Manager {
    pub(super) fn on_message(&mut self, now: Instant, data: Data) {
        let status = match data {
            Data::Text(text) => self.decoder.feed_utf8(text),
            Data::Binary(bytes) => self.decoder.feed_binary(bytes),
            Data::None => self.decoder.feed_utf8(Utf8Bytes::default()),
        };
        match status {
            Ok(DecodeStatus::Complete(packet)) => self.on_packet(now, packet),
            Ok(_) => {}
            Err(e) if e.action() == WireAction::IgnorePacket => {}
            Err(_) => self.on_close(now, DisconnectReason::Engine(CloseReason::ParseError)),
        }
    }

    /// Writes a packet to the open session in the configured format: the text message, then
    /// each attachment; or the one msgpack message.
    pub(super) fn write(&mut self, packet: &Packet) -> Result<(), SessionError> {
        let Some(engine) = self.engine.as_mut().filter(|_| self.ready == Ready::Open) else {
            return Err(SessionError::Engine(EngineError::Closed));
        };
        let encoded = packet.encode_as(self.config.parser, Side::Client)?;
        for message in encoded.messages() {
            let data = match message {
                Message::TextFrame(frame) => Data::Text(frame.clone().into_slice(1..frame.len())),
                Message::Binary(data) => Data::Binary(data.clone()),
            };
            engine.send(data).map_err(SessionError::Engine)?;
        }
        Ok(())
    }

    // ---- namespace sockets (socket.io-client `Socket`) ----

    /// Socket `onopen`: send CONNECT.
    pub(super) fn socket_open(&mut self, now: Instant, idx: usize) {
        let socket = &self.sockets[idx];
        let namespace = socket.namespace.clone();
        let packet = match self.config.version {
            ProtocolVersion::V4 if namespace.is_main() => {
                // The server joins `/` by itself; its `40` may already be here.
                if self.main_connected && !socket.connected {
                    let sid = self.engine_sid.clone().unwrap_or_default();
                    self.on_connect(now, idx, sid, None);
                }
                return;
            }
            ProtocolVersion::V4 => Packet::connect(namespace),
            ProtocolVersion::V5 => match connect_payload(socket) {
                None => Packet::connect(namespace),
                Some(json) => match Packet::from_parts(
                    PacketType::Connect,
                    namespace,
                    None,
                    Some(Utf8Bytes::from(json)),
                    Vec::new(),
                ) {
                    Ok(packet) => packet,
                    Err(_) => return,
                },
            },
        };
        // Only called with the session open.
        let _ = self.write(&packet);
    }

    pub(super) fn on_packet(&mut self, now: Instant, packet: Packet) {
        let is_v4 = self.config.version == ProtocolVersion::V4;
        if is_v4 && packet.packet_type() == PacketType::Connect && packet.full_namespace().is_main()
        {
            self.main_connected = true;
        }
        let Some(idx) = self
            .find(packet.namespace())
            .filter(|&i| self.sockets[i].active)
        else {
            return;
        };
        match packet.packet_type() {
            PacketType::Connect if is_v4 => {
                let engine_sid = self.engine_sid.clone().unwrap_or_default();
                let sid = if packet.full_namespace().is_main() {
                    engine_sid
                } else {
                    format!("{}#{engine_sid}", packet.namespace())
                };
                self.on_connect(now, idx, sid, None);
            }
            PacketType::Connect => {
                let data: serde_json::Value = packet.data().unwrap_or_default();
                let text = |key: &str| {
                    data.get(key)
                        .and_then(serde_json::Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                };
                match text("sid") {
                    Some(sid) => self.on_connect(now, idx, sid, text("pid")),
                    None => self.events.push_back(ManagerEvent::ConnectError {
                        namespace: self.sockets[idx].namespace.clone(),
                        error: ConnectError::IncompatibleServer,
                    }),
                }
            }
            PacketType::Event | PacketType::BinaryEvent => {
                if self.sockets[idx].connected {
                    self.deliver_event(idx, packet);
                } else if self.sockets[idx].receive_buffer.len() < self.config.max_buffered {
                    self.sockets[idx].receive_buffer.push(packet);
                } else {
                    // A server that floods events before answering CONNECT.
                    self.on_close(now, DisconnectReason::Engine(CloseReason::ParseError));
                }
            }
            PacketType::Ack | PacketType::BinaryAck => self.on_ack(now, idx, packet),
            PacketType::Disconnect => {
                self.sockets[idx].active = false;
                self.socket_close(now, idx, DisconnectReason::ServerDisconnect);
                self.close_if_unused(now);
            }
            PacketType::ConnectError => {
                self.sockets[idx].active = false;
                let error = refusal(&packet);
                self.events.push_back(ManagerEvent::ConnectError {
                    namespace: self.sockets[idx].namespace.clone(),
                    error,
                });
                self.close_if_unused(now);
            }
        }
    }

    pub(super) fn on_connect(
        &mut self,
        now: Instant,
        idx: usize,
        sid: String,
        pid: Option<String>,
    ) {
        let socket = &mut self.sockets[idx];
        let recovered = pid.is_some() && socket.pid == pid;
        socket.pid = pid;
        socket.sid = Some(sid.clone());
        socket.connected = true;
        self.events.push_back(ManagerEvent::Connected {
            namespace: socket.namespace.clone(),
            sid,
            recovered,
        });
        for packet in std::mem::take(&mut self.sockets[idx].receive_buffer) {
            self.deliver_event(idx, packet);
        }
        for packet in std::mem::take(&mut self.sockets[idx].send_buffer) {
            // A failure means the session closed; the manager is already reconnecting.
            let _ = self.write(&packet);
        }
        self.drain_queue(now, idx, true);
    }

    pub(super) fn deliver_event(&mut self, idx: usize, packet: Packet) {
        let socket = &mut self.sockets[idx];
        // JS: `args` is `[name, ...args]`, plus an ack function when the packet has an id.
        if socket.pid.is_some() && packet.ack_id().is_none() {
            if let Some(offset) = last_string_arg(&packet) {
                socket.last_offset = Some(offset);
            }
        }
        self.events.push_back(ManagerEvent::Event {
            namespace: socket.namespace.clone(),
            packet,
        });
    }

    pub(super) fn on_ack(&mut self, now: Instant, idx: usize, packet: Packet) {
        let Some(id) = packet.ack_id() else { return };
        let Some(ack) = self.sockets[idx].acks.remove(&id.get()) else {
            return;
        };
        if let Some(at) = ack.deadline {
            self.ack_deadlines.remove(&(at, idx, id.get()));
        }
        match ack.target {
            AckRef::Id(_) => self.events.push_back(ManagerEvent::Ack {
                namespace: self.sockets[idx].namespace.clone(),
                ack: ack.target,
                packet,
            }),
            AckRef::Queued(seq) => self.on_queue_result(now, idx, seq, Ok(packet)),
        }
    }

    pub(super) fn on_ack_timeout(&mut self, now: Instant, idx: usize, id: u64) {
        let socket = &mut self.sockets[idx];
        let Some(ack) = socket.acks.remove(&id) else {
            return;
        };
        socket
            .send_buffer
            .retain(|p| p.ack_id().map(AckId::get) != Some(id));
        match ack.target {
            AckRef::Id(_) => self.events.push_back(ManagerEvent::AckFailed {
                namespace: socket.namespace.clone(),
                ack: ack.target,
                error: AckError::Timeout,
            }),
            AckRef::Queued(seq) => self.on_queue_result(now, idx, seq, Err(AckError::Timeout)),
        }
    }

    /// Socket `onclose`.
    pub(super) fn socket_close(&mut self, now: Instant, idx: usize, reason: DisconnectReason) {
        let socket = &mut self.sockets[idx];
        let was_connected = socket.connected;
        socket.connected = false;
        socket.sid = None;
        if was_connected {
            self.events.push_back(ManagerEvent::Disconnected {
                namespace: socket.namespace.clone(),
                reason,
            });
        }
        // Acks of packets still in the send buffer survive: the packet has not left yet.
        let socket = &mut self.sockets[idx];
        let in_flight: Vec<u64> = socket
            .acks
            .keys()
            .copied()
            .filter(|id| {
                !socket
                    .send_buffer
                    .iter()
                    .any(|p| p.ack_id().map(AckId::get) == Some(*id))
            })
            .collect();
        for id in in_flight {
            let Some(ack) = self.sockets[idx].acks.remove(&id) else {
                continue;
            };
            if let Some(at) = ack.deadline {
                self.ack_deadlines.remove(&(at, idx, id));
            }
            match ack.target {
                AckRef::Id(_) => self.events.push_back(ManagerEvent::AckFailed {
                    namespace: self.sockets[idx].namespace.clone(),
                    ack: ack.target,
                    error: AckError::Disconnected,
                }),
                // JS: only an error-first callback (one with a timeout) hears of it; without,
                // the head stays pending and is re-sent on the next connect.
                AckRef::Queued(seq) if ack.deadline.is_some() => {
                    self.on_queue_result(now, idx, seq, Err(AckError::Disconnected));
                }
                AckRef::Queued(_) => {}
            }
        }
    }

    pub(super) fn register_ack(
        &mut self,
        now: Instant,
        idx: usize,
        id: AckId,
        timeout: Option<Duration>,
        target: AckRef,
    ) {
        let deadline = timeout.map(|t| now + t);
        if let Some(at) = deadline {
            self.ack_deadlines.insert((at, idx, id.get()));
        }
        self.sockets[idx]
            .acks
            .insert(id.get(), PendingAck { deadline, target });
    }

    /// Socket `_drainQueue`: sends the queue head with a fresh ack id.
    pub(super) fn drain_queue(&mut self, now: Instant, idx: usize, force: bool) {
        let socket = &mut self.sockets[idx];
        if !socket.connected {
            return;
        }
        let Some(id) = AckId::new(socket.next_ack) else {
            return;
        };
        let Some(head) = socket.queue.front_mut() else {
            return;
        };
        if head.pending && !force {
            return;
        }
        head.pending = true;
        head.tries += 1;
        head.packet.ack_id = Some(id);
        socket.next_ack += 1;
        let (seq, timeout, packet) = (head.seq, head.timeout, head.packet.clone());
        self.register_ack(now, idx, id, timeout, AckRef::Queued(seq));
        let _ = self.write(&packet);
    }

    /// The internal ack callback of a queued emit.
    pub(super) fn on_queue_result(
        &mut self,
        now: Instant,
        idx: usize,
        seq: u64,
        result: Result<Packet, AckError>,
    ) {
        let socket = &mut self.sockets[idx];
        let Some(head) = socket.queue.front_mut().filter(|h| h.seq == seq) else {
            return; // already acknowledged
        };
        let namespace = socket.namespace.clone();
        let ack = AckRef::Queued(seq);
        match result {
            Err(error) if head.tries > socket.options.retries => {
                socket.queue.pop_front();
                self.events.push_back(ManagerEvent::AckFailed {
                    namespace,
                    ack,
                    error,
                });
            }
            Err(_) => head.pending = false,
            Ok(packet) => {
                socket.queue.pop_front();
                self.events.push_back(ManagerEvent::Ack {
                    namespace,
                    ack,
                    packet,
                });
            }
        }
        self.drain_queue(now, idx, false);
    }
}

/// The CONNECT payload: `auth`, or `Object.assign({pid, offset}, auth)` once a pid is known.
pub(super) fn connect_payload(socket: &NsSocket) -> Option<String> {
    let Some(pid) = &socket.pid else {
        return socket.options.auth.as_ref().map(Auth::to_json);
    };
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut pid = quote(pid);
    let mut offset = socket.last_offset.as_deref().map(quote);
    let mut rest: Vec<(&str, String)> = Vec::new();
    for (key, value) in socket.options.auth.iter().flat_map(|a| a.fields.iter()) {
        match key.as_str() {
            "pid" => pid = value.get().to_owned(),
            "offset" => offset = Some(value.get().to_owned()),
            _ => rest.push((key, value.get().to_owned())),
        }
    }
    let head = [("pid", Some(pid)), ("offset", offset)];
    let fields = head
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
        .chain(rest.iter().map(|(k, v)| (*k, v.as_str())));
    Some(write_object(fields))
}

/// The last element of an event's payload array (the event name when there are no
/// arguments, as in the JS client) if it is a string.
pub(super) fn last_string_arg(packet: &Packet) -> Option<String> {
    let json = packet.raw_json()?;
    let items: Vec<&RawValue> = serde_json::from_str(json.as_str()).ok()?;
    serde_json::from_str::<String>(items.last()?.get()).ok()
}

/// A CONNECT_ERROR payload: `{"message", "data"?}` in v5; any value in v4 (a string is the
/// message).
pub(super) fn refusal(packet: &Packet) -> ConnectError {
    let value: serde_json::Value = packet.data().unwrap_or_default();
    match value {
        serde_json::Value::String(message) => ConnectError::Refused {
            message,
            data: None,
        },
        serde_json::Value::Object(mut object) => match object.remove("message") {
            Some(serde_json::Value::String(message)) => ConnectError::Refused {
                message,
                data: object.remove("data"),
            },
            message => {
                if let Some(message) = message {
                    object.insert(String::from("message"), message);
                }
                ConnectError::Refused {
                    message: String::new(),
                    data: Some(serde_json::Value::Object(object)),
                }
            }
        },
        serde_json::Value::Null => ConnectError::Refused {
            message: String::new(),
            data: None,
        },
        other => ConnectError::Refused {
            message: String::new(),
            data: Some(other),
        },
    }
}
