//! The PostgreSQL adapter (`@socket.io/postgres-adapter` 0.5.0, ADAPTERS.md §11): its SQL, its
//! notifications and [`PostgresWire`].
//!
//! Every node `LISTEN`s on one channel per namespace, `‹prefix›#‹namespace›`, and publishes
//! with `SELECT pg_notify(channel, json)`: the [`envelope`](super::envelope) of the adapters
//! built on `socket.io-adapter`'s `ClusterAdapter`, in JSON. A message that carries binary, or
//! whose JSON is too long for a notification ([`PostgresOptions::payload_threshold`]), is
//! written msgpack-encoded into the attachments table and announced by a header
//! `{"uid":…,"type":…,"attachmentId":"‹id›"}`; receivers read the row back. Servers are
//! counted by heartbeats (`socket.io-adapter`'s `ClusterAdapterWithHeartbeat`): every node
//! announces itself (`INITIAL_HEARTBEAT`, answered by a `HEARTBEAT`), sends a `HEARTBEAT` when
//! it has published nothing for [`heartbeat_interval`](PostgresOptions::heartbeat_interval),
//! and counts as gone after [`heartbeat_timeout`](PostgresOptions::heartbeat_timeout) of
//! silence or its `ADAPTER_CLOSE`. Connection state recovery does not cross nodes here (the
//! reference has none either).
//!
//! ```
//! use std::time::Instant;
//! use socketio_cluster_proto::ClusterAdapter;
//! use socketio_cluster_proto::postgres::{PostgresCommand, PostgresOptions, PostgresWire};
//! use socketio_proto::Namespace;
//!
//! let wire = PostgresWire::new(PostgresOptions::default(), Instant::now());
//! let mut adapter = ClusterAdapter::new(wire, &[(Namespace::main(), "3881832b26c62a02".into())]);
//! // A new node listens on its namespaces' channels and announces itself.
//! assert_eq!(
//!     adapter.poll_command(),
//!     Some(PostgresCommand::Listen { channel: "socket.io#/".into() })
//! );
//! assert_eq!(
//!     adapter.poll_command(),
//!     Some(PostgresCommand::Notify {
//!         channel: "socket.io#/".into(),
//!         payload: r#"{"type":1,"uid":"3881832b26c62a02","nsp":"/"}"#.into(),
//!     })
//! );
//! ```
//!
//! Where this adapter differs from the package, on purpose (the package's behaviour is a bug
//! each time): it publishes in order on one connection (the package's pool reorders
//! notifications); a JSON of exactly [`payload_threshold`](PostgresOptions::payload_threshold)
//! bytes goes through the table (the package sends it as a notification, which PostgreSQL
//! refuses); it does not read back its own attachments; a message without `nsp` (what
//! `@socket.io/postgres-emitter` 0.1.1 sends) is taken for the namespace of its channel (the
//! package drops it, so that emitter reaches no Node.js node); channel names are quoted as SQL
//! identifiers and refused beyond 63 bytes (the package interpolates them). A server that
//! leaves does not end this server's pending queries early: they end at their deadline with
//! the answers that came (the package resolves them when the last missing server is gone).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Deserialize;
use socketio_proto::Limits;
use socketio_proto::server::{Local, QueryError, QueryId};

use crate::ClusterMessage;
use crate::envelope::Envelope;
use crate::wire::{Decoded, Destination, Member, Wire};

/// Other servers tracked per namespace, at most; beyond, new ones are not counted.
pub const MAX_PEERS: usize = 1024;

/// The longest channel name PostgreSQL takes (`NAMEDATALEN - 1`).
pub const MAX_CHANNEL: usize = 63;

/// The uid of `@socket.io/postgres-emitter`: its messages are applied, never counted as a
/// server.
pub const EMITTER_UID: &str = "emitter";

/// How often departed servers are looked for (the reference's sweep).
const SWEEP: Duration = Duration::from_secs(1);

/// The adapter's options (the reference's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// `channelPrefix`: `socket.io`.
    pub channel_prefix: String,
    /// `tableName`: `socket_io_attachments`.
    pub table_name: String,
    /// `payloadThreshold`: a JSON message this long or longer (in bytes) goes through the
    /// table. 8 000: PostgreSQL refuses notifications of 8 000 bytes and more.
    pub payload_threshold: usize,
    /// `cleanupInterval`: rows older than this are deleted, this often. 30 s.
    pub cleanup_interval: Duration,
    /// `heartbeatInterval`: 5 s.
    pub heartbeat_interval: Duration,
    /// `heartbeatTimeout`: 10 s.
    pub heartbeat_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            channel_prefix: "socket.io".to_owned(),
            table_name: "socket_io_attachments".to_owned(),
            payload_threshold: 8000,
            cleanup_interval: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(10),
        }
    }
}

impl PostgresOptions {
    /// The channel of namespace `nsp`: `‹prefix›#‹nsp›`.
    pub fn channel(&self, nsp: &str) -> String {
        format!("{}#{nsp}", self.channel_prefix)
    }

    /// The namespace a channel is for, when it is one of this prefix's.
    pub fn namespace_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel
            .strip_prefix(self.channel_prefix.as_str())?
            .strip_prefix('#')
    }

    /// `LISTEN "‹channel›"`, the name quoted as an SQL identifier; `None` for a name
    /// PostgreSQL would truncate (over [`MAX_CHANNEL`] bytes) or that holds a NUL.
    pub fn listen_sql(channel: &str) -> Option<String> {
        if channel.is_empty() || channel.len() > MAX_CHANNEL || channel.contains('\0') {
            return None;
        }
        Some(format!("LISTEN \"{}\"", channel.replace('"', "\"\"")))
    }

    /// The table, as the reference's README creates it (the server runs it at start).
    pub fn create_table_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (id bigserial UNIQUE, created_at timestamptz DEFAULT \
             NOW(), payload bytea)",
            self.table_name
        )
    }

    /// A row of a message: `$1` the msgpack bytes; returns its `id`.
    pub fn insert_sql(&self) -> String {
        format!(
            "INSERT INTO {} (payload) VALUES ($1) RETURNING id;",
            self.table_name
        )
    }

    /// The row announced by a header: `$1` its id (text, as the reference sends it).
    pub fn select_sql(&self) -> String {
        format!("SELECT payload FROM {} WHERE id = $1", self.table_name)
    }

    /// Deletes the rows older than the cleanup interval.
    pub fn cleanup_sql(&self) -> String {
        format!(
            "DELETE FROM {} WHERE created_at < now() - interval '{} milliseconds'",
            self.table_name,
            self.cleanup_interval.as_millis()
        )
    }

    /// How `uid` publishes `message` on namespace `nsp`: one notification, or a row and its
    /// header. The emitter publishes this way too, with [`EMITTER_UID`].
    pub fn publish(
        &self,
        uid: &str,
        nsp: &str,
        message: &ClusterMessage,
    ) -> Result<PostgresCommand, QueryError> {
        let channel = self.channel(nsp);
        let envelope = Envelope::new(uid, nsp, message.clone());
        let kind = envelope.kind().ok_or(QueryError::Unsupported)?;
        let encoded = envelope.encode().map_err(QueryError::Encode)?;
        if encoded.first() == Some(&b'{') && encoded.len() < self.payload_threshold {
            // JSON text (serde_json writes UTF-8).
            let payload = String::from_utf8(encoded).map_err(|_| QueryError::Unsupported)?;
            return Ok(PostgresCommand::Notify { channel, payload });
        }
        let payload = if encoded.first() == Some(&b'{') {
            let mut msgpack = Vec::new();
            envelope
                .write_msgpack(&mut msgpack)
                .map_err(QueryError::Encode)?;
            msgpack
        } else {
            encoded
        };
        Ok(PostgresCommand::Attach {
            channel,
            uid: uid.to_owned(),
            kind,
            payload,
        })
    }
}

/// What the driver half carries out, in order, on its connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostgresCommand {
    /// [`PostgresOptions::listen_sql`] on the listening connection (again after each
    /// reconnection: [`PostgresWire::channels`]).
    Listen {
        /// The channel.
        channel: String,
    },
    /// `SELECT pg_notify($1, $2)`.
    Notify {
        /// `$1`.
        channel: String,
        /// `$2`, JSON.
        payload: String,
    },
    /// [`PostgresOptions::insert_sql`] with the payload, then `SELECT pg_notify($1, $2)` with
    /// [`attachment_header`](Self::attachment_header) of the row's id.
    Attach {
        /// The channel to notify.
        channel: String,
        /// The sender.
        uid: String,
        /// The message's type.
        kind: u8,
        /// The msgpack row.
        payload: Vec<u8>,
    },
    /// [`PostgresOptions::select_sql`]; the row comes back as [`PostgresInput::Attachment`]
    /// (nothing, when it is gone).
    Fetch {
        /// The row's id.
        id: i64,
        /// The channel its header came on.
        channel: String,
    },
    /// [`PostgresOptions::cleanup_sql`].
    Cleanup,
}

impl PostgresCommand {
    /// The notification announcing row `id` of `uid`'s message of type `kind`, as the
    /// reference writes it (the id as a string).
    pub fn attachment_header(uid: &str, kind: u8, id: i64) -> String {
        format!(
            r#"{{"uid":{},"type":{kind},"attachmentId":"{id}"}}"#,
            serde_json::Value::from(uid)
        )
    }
}

/// What the driver half hands in, each with the time it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostgresInput {
    /// A notification on one of the channels listened to.
    Notification {
        /// The channel.
        channel: String,
        /// Its payload.
        payload: String,
        /// When it arrived.
        at: Instant,
    },
    /// The row a [`PostgresCommand::Fetch`] asked for.
    Attachment {
        /// The channel of its header.
        channel: String,
        /// The msgpack row.
        payload: Bytes,
        /// When it arrived.
        at: Instant,
    },
}

/// What every notification has: a header, or the start of a message.
#[derive(Deserialize)]
struct Header {
    #[serde(rename = "type")]
    kind: Option<u8>,
    uid: Option<String>,
    nsp: Option<String>,
    #[serde(rename = "attachmentId")]
    attachment_id: Option<serde_json::Value>,
}

/// The PostgreSQL adapter's wire.
#[derive(Debug)]
pub struct PostgresWire {
    options: PostgresOptions,
    limits: Limits,
    commands: VecDeque<PostgresCommand>,
    /// Per member: its channel, the other servers and when each was last heard from, and
    /// whether it published since its last heartbeat.
    namespaces: Vec<Heartbeats>,
    next_heartbeat: Instant,
    next_sweep: Instant,
    next_cleanup: Instant,
}

#[derive(Debug)]
struct Heartbeats {
    channel: String,
    uid: String,
    nsp: String,
    peers: HashMap<String, Instant>,
    published: bool,
}

impl PostgresWire {
    /// The wire of a node starting at `now`.
    pub fn new(options: PostgresOptions, now: Instant) -> PostgresWire {
        PostgresWire {
            next_heartbeat: now + options.heartbeat_interval,
            next_sweep: now + SWEEP,
            next_cleanup: now + options.cleanup_interval,
            options,
            limits: Limits::default(),
            commands: VecDeque::new(),
            namespaces: Vec::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &PostgresOptions {
        &self.options
    }

    /// The channels to `LISTEN` on (at start, and again after a reconnection).
    pub fn channels(&self) -> Vec<String> {
        let mut channels: Vec<String> = self
            .namespaces
            .iter()
            .map(|ns| ns.channel.clone())
            .collect();
        channels.dedup();
        channels
    }

    /// The other servers known in namespace `nsp`.
    pub fn peers(&self, nsp: &str) -> usize {
        self.namespaces
            .iter()
            .find(|ns| ns.nsp == nsp)
            .map_or(0, |ns| ns.peers.len())
    }

    /// This server is leaving: an `ADAPTER_CLOSE` per namespace, so that the others stop
    /// counting it at once.
    pub fn close(&mut self) {
        for ns in &self.namespaces {
            let payload = membership(13, &ns.uid, &ns.nsp);
            self.commands.push_back(PostgresCommand::Notify {
                channel: ns.channel.clone(),
                payload,
            });
        }
    }

    /// The namespace a message is for: its `nsp`, else its channel's.
    fn namespace_of(&self, nsp: Option<String>, channel: &str) -> Option<usize> {
        let nsp = match &nsp {
            Some(nsp) => nsp.as_str(),
            None => self.options.namespace_of(channel)?,
        };
        self.namespaces.iter().position(|ns| ns.nsp == nsp)
    }

    /// `uid` was heard from in namespace `at`; `true` when it is new.
    fn seen(&mut self, at: usize, uid: &str, now: Instant) -> bool {
        if uid == EMITTER_UID {
            return false;
        }
        let peers = &mut self.namespaces[at].peers;
        if let Some(last) = peers.get_mut(uid) {
            *last = now;
            return false;
        }
        if peers.len() >= MAX_PEERS {
            return false;
        }
        peers.insert(uid.to_owned(), now);
        true
    }

    fn notification(&mut self, channel: &str, payload: &str, at: Instant) -> Option<Decoded> {
        let header: Header = serde_json::from_str(payload).ok()?;
        let uid = header.uid?;
        if self.namespaces.iter().any(|ns| ns.uid == uid) {
            return None; // Our own, attachments included: not read back.
        }
        if let Some(id) = header.attachment_id {
            let id = match &id {
                serde_json::Value::String(text) => text.parse().ok()?,
                other => other.as_i64()?,
            };
            self.commands.push_back(PostgresCommand::Fetch {
                id,
                channel: channel.to_owned(),
            });
            return None;
        }
        let ns = self.namespace_of(header.nsp.clone(), channel)?;
        let new = self.seen(ns, &uid, at);
        let namespace = socketio_proto::Namespace::new(&self.namespaces[ns].nsp).ok()?;
        match header.kind? {
            1 => {
                // INITIAL_HEARTBEAT: answered, so that the newcomer counts us.
                let me = &self.namespaces[ns];
                let payload = membership(2, &me.uid, &me.nsp);
                let channel = me.channel.clone();
                self.commands
                    .push_back(PostgresCommand::Notify { channel, payload });
                new.then_some(Decoded::ServerUp { namespace, uid })
            }
            2 => new.then_some(Decoded::ServerUp { namespace, uid }),
            13 => {
                self.namespaces[ns].peers.remove(&uid);
                Some(Decoded::ServerDown { namespace, uid })
            }
            _ => {
                let bytes = match header.nsp {
                    Some(_) => Bytes::copy_from_slice(payload.as_bytes()),
                    None => with_json_nsp(payload, &self.namespaces[ns].nsp)?,
                };
                self.message(ns, bytes)
            }
        }
    }

    fn attachment(&mut self, channel: &str, payload: Bytes, at: Instant) -> Option<Decoded> {
        let payload = match self.options.namespace_of(channel) {
            // A row without `nsp` (the emitter's) is for its channel's namespace.
            Some(nsp) if !has_msgpack_nsp(&payload) => with_msgpack_nsp(&payload, nsp)?,
            _ => payload,
        };
        let envelope = Envelope::decode(payload, &self.limits).ok()??;
        if self.namespaces.iter().any(|ns| ns.uid == envelope.uid) {
            return None;
        }
        let ns = self.namespace_of(Some(envelope.nsp.clone()), channel)?;
        self.seen(ns, &envelope.uid, at);
        Some(Decoded::Message {
            namespace: socketio_proto::Namespace::new(&envelope.nsp).ok()?,
            from: envelope.uid,
            message: envelope.message,
            offset: None,
        })
    }

    fn message(&self, ns: usize, bytes: Bytes) -> Option<Decoded> {
        let envelope = Envelope::decode(bytes, &self.limits).ok()??;
        if envelope.nsp != self.namespaces[ns].nsp {
            return None;
        }
        Some(Decoded::Message {
            namespace: socketio_proto::Namespace::new(&envelope.nsp).ok()?,
            from: envelope.uid,
            message: envelope.message,
            offset: None,
        })
    }
}

/// `{"type":‹kind›,"uid":…,"nsp":…}`: a heartbeat or a close, which have no `data`.
fn membership(kind: u8, uid: &str, nsp: &str) -> String {
    format!(
        r#"{{"type":{kind},"uid":{},"nsp":{}}}"#,
        serde_json::Value::from(uid),
        serde_json::Value::from(nsp)
    )
}

/// A JSON object with `"nsp":‹nsp›` added at its end.
fn with_json_nsp(payload: &str, nsp: &str) -> Option<Bytes> {
    let body = payload.trim_end().strip_suffix('}')?;
    let nsp = serde_json::Value::from(nsp);
    Some(Bytes::from(format!("{body},\"nsp\":{nsp}}}")))
}

/// Whether a msgpack map has an `nsp` key at its top level (the emitter's rows have none).
fn has_msgpack_nsp(payload: &[u8]) -> bool {
    use socketio_proto::msgpack::embed::{Reader, Token};
    let mut reader = Reader::new(payload);
    let Ok(Token::Map(n)) = reader.next() else {
        return true; // Not a map: the envelope decoder says what it is.
    };
    let depth = Limits::default().max_json_depth;
    for _ in 0..n {
        match reader.next() {
            Ok(Token::Str(b"nsp")) => return true,
            Ok(_) => {}
            Err(_) => return true,
        }
        if reader.skip(depth).is_err() {
            return true;
        }
    }
    false
}

/// A msgpack map with `nsp: ‹nsp›` added (its header counts one more entry).
fn with_msgpack_nsp(payload: &[u8], nsp: &str) -> Option<Bytes> {
    use socketio_proto::msgpack::embed;
    let (&first, rest) = payload.split_first()?;
    let mut out = Vec::with_capacity(payload.len() + nsp.len() + 8);
    match first {
        0x80..=0x8e => {
            out.push(first + 1);
            out.extend_from_slice(rest);
        }
        0x8f => {
            out.extend_from_slice(&[0xde, 0x00, 0x10]);
            out.extend_from_slice(rest);
        }
        0xde => {
            let n = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]).checked_add(1)?;
            out.push(0xde);
            out.extend_from_slice(&n.to_be_bytes());
            out.extend_from_slice(rest.get(2..)?);
        }
        _ => return None,
    }
    out.extend_from_slice(b"\xa3nsp");
    embed::write_str(&mut out, nsp).ok()?;
    Some(Bytes::from(out))
}

impl Wire for PostgresWire {
    type Input = PostgresInput;
    type Command = PostgresCommand;

    fn add_member(&mut self, member: &Member) {
        let nsp = member.namespace.as_str().to_owned();
        let channel = self.options.channel(&nsp);
        if !self.namespaces.iter().any(|ns| ns.channel == channel) {
            self.commands.push_back(PostgresCommand::Listen {
                channel: channel.clone(),
            });
        }
        self.commands.push_back(PostgresCommand::Notify {
            channel: channel.clone(),
            payload: membership(1, &member.uid, &nsp),
        });
        self.namespaces.push(Heartbeats {
            channel,
            uid: member.uid.clone(),
            nsp,
            peers: HashMap::new(),
            published: true,
        });
    }

    fn send(
        &mut self,
        member: &Member,
        message: &ClusterMessage,
        to: Destination<'_>,
    ) -> Result<(), QueryError> {
        let command = self
            .options
            .publish(&member.uid, member.namespace.as_str(), message)?;
        if let (Destination::All, Some(ns)) = (to, self.namespaces.get_mut(member.index)) {
            // A publication (not an answer) stands for a heartbeat, as in the reference.
            ns.published = true;
        }
        self.commands.push_back(command);
        Ok(())
    }

    fn count_servers(&mut self, member: &Member, _query: QueryId) -> Option<usize> {
        Some(
            1 + self
                .namespaces
                .get(member.index)
                .map_or(0, |ns| ns.peers.len()),
        )
    }

    fn decode(
        &mut self,
        _members: &[Member],
        _local: &Local,
        input: PostgresInput,
    ) -> Option<Decoded> {
        match input {
            PostgresInput::Notification {
                channel,
                payload,
                at,
            } => self.notification(&channel, &payload, at),
            PostgresInput::Attachment {
                channel,
                payload,
                at,
            } => self.attachment(&channel, payload, at),
        }
    }

    fn poll_command(&mut self) -> Option<PostgresCommand> {
        self.commands.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant, _members: &[Member]) -> Vec<Decoded> {
        let mut decoded = Vec::new();
        if now >= self.next_heartbeat {
            for ns in &mut self.namespaces {
                if !std::mem::take(&mut ns.published) {
                    self.commands.push_back(PostgresCommand::Notify {
                        channel: ns.channel.clone(),
                        payload: membership(2, &ns.uid, &ns.nsp),
                    });
                }
            }
            self.next_heartbeat = now + self.options.heartbeat_interval;
        }
        if now >= self.next_sweep {
            let timeout = self.options.heartbeat_timeout;
            for ns in &mut self.namespaces {
                let gone: Vec<String> = ns
                    .peers
                    .iter()
                    .filter(|(_, last)| now.saturating_duration_since(**last) > timeout)
                    .map(|(uid, _)| uid.clone())
                    .collect();
                for uid in gone {
                    ns.peers.remove(&uid);
                    if let Ok(namespace) = socketio_proto::Namespace::new(&ns.nsp) {
                        decoded.push(Decoded::ServerDown { namespace, uid });
                    }
                }
            }
            self.next_sweep = now + SWEEP;
        }
        if now >= self.next_cleanup {
            self.commands.push_back(PostgresCommand::Cleanup);
            self.next_cleanup = now + self.options.cleanup_interval;
        }
        decoded
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(
            self.next_heartbeat
                .min(self.next_sweep)
                .min(self.next_cleanup),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_quoted_identifiers_of_at_most_63_bytes() {
        assert_eq!(
            PostgresOptions::listen_sql("socket.io#/").as_deref(),
            Some(r#"LISTEN "socket.io#/""#)
        );
        assert_eq!(
            PostgresOptions::listen_sql(r#"socket.io#/q"uote"#).as_deref(),
            Some(r#"LISTEN "socket.io#/q""uote""#)
        );
        assert_eq!(PostgresOptions::listen_sql(&"n".repeat(64)), None);
        assert_eq!(PostgresOptions::listen_sql(""), None);
        let options = PostgresOptions::default();
        assert_eq!(options.namespace_of("socket.io#/chat"), Some("/chat"));
        assert_eq!(options.namespace_of("other#/chat"), None);
    }

    #[test]
    fn the_nsp_of_a_channel_is_added_to_messages_without_one() {
        let json =
            with_json_nsp(r#"{"type":9,"data":{"packet":["x"]},"uid":"emitter"}"#, "/").unwrap();
        assert_eq!(
            &json[..],
            br#"{"type":9,"data":{"packet":["x"]},"uid":"emitter","nsp":"/"}"#
        );
        // {"a":1} → {"a":1,"nsp":"/"}
        let msgpack = with_msgpack_nsp(b"\x81\xa1a\x01", "/").unwrap();
        assert_eq!(&msgpack[..], b"\x82\xa1a\x01\xa3nsp\xa1/");
        assert!(!has_msgpack_nsp(b"\x81\xa1a\x01"));
        assert!(has_msgpack_nsp(&msgpack));
        // A fixmap of 15 becomes a map16 of 16.
        assert_eq!(
            &with_msgpack_nsp(b"\x8f", "/").unwrap()[..3],
            b"\xde\x00\x10"
        );
        assert_eq!(with_msgpack_nsp(b"", "/"), None);
    }
}
