//! Connection state recovery (socket.io ≥ 4.6, PROTOCOL.md B.9), server side.
//!
//! With recovery on, every broadcast event without an ack id and not volatile carries a string
//! offset as its last argument and is kept in a [`RecoveryStore`] for
//! `maxDisconnectionDuration`. When a socket disconnects for a recoverable reason, its session
//! (id, pid, rooms) is kept as long. A client that reconnects with `{"pid":…,"offset":…}` in
//! its CONNECT payload gets its old socket id and rooms back, and the events it missed (filtered
//! by its rooms) are sent before the CONNECT reply, as the reference does.
//!
//! Offsets and pids come from the caller (this crate has no clock or RNG); the reference uses
//! base-64 timestamps for offsets and 20-character random ids for pids. Memory is bounded:
//! at most [`RecoveryConfig::max_stored_packets`] packets, dropped oldest first.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::rooms::BroadcastTarget;
use crate::Parser;
use crate::encode::EncodedPacket;
use crate::error::EncodeError;
use crate::msgpack::Side;
use crate::packet::{Packet, PacketType};

/// Recovery settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long sessions and packets are kept after a disconnect. 120 s.
    pub max_disconnection_duration: Duration,
    /// The most packets kept; the oldest go first. 10 000 (the reference has no cap).
    pub max_stored_packets: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(120_000),
            max_stored_packets: 10_000,
        }
    }
}

/// The `pid` and `offset` a reconnecting client puts in its CONNECT payload.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct RecoveryRequest {
    /// The private session id from the previous CONNECT reply.
    pub pid: String,
    /// The offset of the last event the client received.
    pub offset: String,
}

impl RecoveryRequest {
    /// Reads `pid` and `offset` from a CONNECT payload; `None` unless both are strings.
    pub fn from_auth(auth: &str) -> Option<RecoveryRequest> {
        serde_json::from_str(auth).ok()
    }
}

/// A disconnected socket's session, kept for connection state recovery: what the reference
/// persists (`{sid, pid, rooms, data}`), whichever store keeps it (this endpoint's
/// [`RecoveryStore`], or a cluster adapter's, such as Redis).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptSession {
    /// The socket id, which a recovered socket gets back.
    pub sid: String,
    /// The private id the client sends back to recover.
    pub pid: String,
    /// Its rooms, its own id included.
    pub rooms: Vec<String>,
    /// Its `socket.data` (`None`: the reference's `{}`).
    pub data: Option<serde_json::Value>,
}

/// A session handed back to a reconnecting client: the kept session and the events it missed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// The session, with its id, rooms and data.
    pub session: KeptSession,
    /// The events missed since the client's offset, oldest first, filtered by the session's
    /// rooms, each carrying its offset; they go out before the CONNECT reply.
    pub missed: Vec<EncodedPacket>,
}

#[derive(Clone, Debug)]
struct Saved {
    session: KeptSession,
    namespace: String,
    disconnected_at: Instant,
}

#[derive(Clone, Debug)]
struct StoredPacket {
    offset: String,
    namespace: String,
    target: BroadcastTarget,
    packet: EncodedPacket,
    stored_at: Instant,
}

/// Saved sessions and the recent broadcast events, for recovery.
#[derive(Debug, Default)]
pub struct RecoveryStore {
    config: RecoveryConfig,
    parser: Parser,
    sessions: HashMap<String, Saved>,
    packets: VecDeque<StoredPacket>,
}

impl RecoveryStore {
    /// An empty store whose packets are encoded in the text format.
    pub fn new(config: RecoveryConfig) -> RecoveryStore {
        Self::with_parser(config, Parser::Text)
    }

    /// An empty store whose packets are encoded in `parser`'s format (the server's).
    pub fn with_parser(config: RecoveryConfig, parser: Parser) -> RecoveryStore {
        RecoveryStore {
            config,
            parser,
            sessions: HashMap::new(),
            packets: VecDeque::new(),
        }
    }

    /// Appends `offset` as the last argument of an EVENT (the reference's offset tagging) and
    /// keeps the encoded packet for recovery. Returns the packet to broadcast. Events with an ack
    /// id and volatile broadcasts are not stored (the reference never stores them): they come back
    /// unchanged.
    pub fn store(
        &mut self,
        now: Instant,
        offset: &str,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Result<EncodedPacket, EncodeError> {
        let parser = self.parser;
        let event = matches!(
            packet.packet_type(),
            PacketType::Event | PacketType::BinaryEvent
        );
        if packet.ack_id().is_some() || target.volatile || !event {
            return packet.encode_as(parser, Side::Server);
        }
        let packet = with_offset(packet, offset)?;
        let encoded = packet.encode_as(parser, Side::Server)?;
        if self.config.max_stored_packets > 0 {
            if self.packets.len() == self.config.max_stored_packets {
                self.packets.pop_front();
            }
            self.packets.push_back(StoredPacket {
                offset: offset.to_owned(),
                namespace: packet.namespace().to_owned(),
                target: target.clone(),
                packet: encoded.clone(),
                stored_at: now,
            });
        }
        Ok(encoded)
    }

    /// Keeps a disconnected socket's session of `namespace`. Call it only for recoverable
    /// reasons (`transport error`, `transport close`, `forced close`, `ping timeout`,
    /// `server shutting down`, `forced server close`), as the reference does.
    pub fn keep(&mut self, now: Instant, namespace: &str, session: KeptSession) {
        let saved = Saved {
            namespace: namespace.to_owned(),
            disconnected_at: now,
            session,
        };
        self.sessions.insert(saved.session.pid.clone(), saved);
    }

    /// Hands back the session `request.pid` if it was kept less than
    /// `maxDisconnectionDuration` ago in this namespace and `request.offset` is still stored;
    /// the session is consumed. `None` means: treat the client as new (new sid and pid).
    pub fn take(
        &mut self,
        now: Instant,
        namespace: &str,
        request: &RecoveryRequest,
    ) -> Option<Recovered> {
        self.expire(now);
        let saved = self.sessions.get(&request.pid)?;
        if saved.namespace != namespace {
            return None;
        }
        let start = self
            .packets
            .iter()
            .position(|p| p.offset == request.offset)?
            + 1;
        let session = self.sessions.remove(&request.pid)?.session;
        let missed = self
            .packets
            .iter()
            .skip(start)
            .filter(|p| p.namespace == namespace && reaches(&session.rooms, &p.target))
            .map(|p| p.packet.clone())
            .collect();
        Some(Recovered { session, missed })
    }

    /// Drops sessions and packets older than `maxDisconnectionDuration`.
    pub fn expire(&mut self, now: Instant) {
        let max = self.config.max_disconnection_duration;
        self.sessions
            .retain(|_, s| now.saturating_duration_since(s.disconnected_at) < max);
        while self
            .packets
            .front()
            .is_some_and(|p| now.saturating_duration_since(p.stored_at) >= max)
        {
            self.packets.pop_front();
        }
    }

    /// When the oldest entry expires: call [`RecoveryStore::expire`] then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let max = self.config.max_disconnection_duration;
        let session = self
            .sessions
            .values()
            .map(|s| s.disconnected_at + max)
            .min();
        let packet = self.packets.front().map(|p| p.stored_at + max);
        [session, packet].into_iter().flatten().min()
    }

    /// Number of packets kept.
    pub fn stored_packets(&self) -> usize {
        self.packets.len()
    }
}

/// Whether a broadcast to `target` reached a socket in `rooms` (flags aside).
pub fn reaches(rooms: &[String], target: &BroadcastTarget) -> bool {
    let member = |room: &String| rooms.contains(room);
    (target.rooms.is_empty() || target.rooms.iter().any(member))
        && !target.except.iter().any(member)
}

/// `packet` with `offset` appended when the reference would store it for recovery: an EVENT
/// without ack id, not volatile; other packets as they are.
pub fn with_offset_if_recoverable(
    packet: Packet,
    offset: &str,
    target: &BroadcastTarget,
) -> Result<Packet, EncodeError> {
    let event = matches!(
        packet.packet_type(),
        PacketType::Event | PacketType::BinaryEvent
    );
    if packet.ack_id().is_some() || target.volatile || !event {
        return Ok(packet);
    }
    with_offset(packet, offset)
}

/// The EVENT (binary or not) with `offset` appended to its arguments: `["hello","world"]` ⇒
/// `["hello","world","<offset>"]`.
fn with_offset(packet: Packet, offset: &str) -> Result<Packet, EncodeError> {
    let (packet_type, namespace, ack_id, data, attachments) = packet.into_parts();
    let json = data.as_deref().unwrap_or("[]");
    let body = json
        .trim_end()
        .strip_suffix(']')
        .ok_or(EncodeError::ArgumentsNotASequence)?;
    let separator = if body.trim_end().ends_with('[') {
        ""
    } else {
        ","
    };
    let offset = serde_json::to_string(offset).map_err(|_| EncodeError::ArgumentsNotASequence)?;
    let json = format!("{body}{separator}{offset}]");
    Packet::from_parts(
        packet_type,
        namespace,
        ack_id,
        Some(json.into()),
        attachments,
    )
}
