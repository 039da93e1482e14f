//! The classic Pub/Sub adapter (`@socket.io/redis-adapter` 8.3, `createAdapter`): channels,
//! broadcasts, requests and responses, byte-exact with what Node.js nodes publish.
//!
//! Per namespace a node has a uid (6 characters from `[A-Za-z0-9_-]`) and subscribes to the
//! four [`Channels`]. A broadcast is the msgpack array `[uid, packet, opts]`
//! ([`broadcast`], [`Broadcast::decode`]), published on the room's channel when it targets
//! exactly one room, else on the namespace's. Requests go to the request channel and responses
//! to the response channel as JSON, except a broadcast with acknowledgements and its acks,
//! which are msgpack; receivers tell them apart by the first byte (`{` is JSON).
//!
//! ```
//! use socketio_cluster_proto::BroadcastOptions;
//! use socketio_cluster_proto::classic::{self, Broadcast, Channels};
//! use socketio_proto::{Limits, Namespace, Packet};
//!
//! let channels = Channels::new("socket.io", "/", "JATxCS");
//! assert_eq!(channels.pattern(), "socket.io#/#*");
//! let opts = BroadcastOptions { rooms: vec!["room1".into()], ..Default::default() };
//! let packet = Packet::event(Namespace::main(), "e2", &("r1",), None)?;
//! let mut message = Vec::new();
//! classic::broadcast(&mut message, "JATxCS", &packet, &opts)?;
//! assert_eq!(channels.broadcast_channel(&opts), "socket.io#/#room1#");
//!
//! // What another node makes of it.
//! let received = Broadcast::decode(message.into(), &Limits::default())?;
//! assert_eq!((received.uid.as_str(), received.opts), ("JATxCS", opts));
//! assert_eq!(received.packet.raw_json().map(|j| j.as_str()), Some(r#"["e2","r1"]"#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use socketio_proto::msgpack::Side;
use socketio_proto::msgpack::embed::{self, Dialect, Reader, Token};
use socketio_proto::{EncodeError, Limits, Packet};

use crate::{BroadcastOptions, ClusterError, Flags};

/// The channels of one namespace on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    /// `‹key›#‹nsp›#`: broadcasts to the whole namespace or to several rooms.
    broadcast: String,
    /// `‹key›-request#‹nsp›#`.
    request: String,
    /// `‹key›-response#‹nsp›#`.
    response: String,
    /// `‹key›-response#‹nsp›#‹uid›#`.
    own_response: String,
}

impl Channels {
    /// The channels for namespace `nsp` under the cluster's `key` (`socket.io` by default),
    /// for the node whose uid in that namespace is `uid`.
    pub fn new(key: &str, nsp: &str, uid: &str) -> Self {
        Self {
            broadcast: format!("{key}#{nsp}#"),
            request: format!("{key}-request#{nsp}#"),
            response: format!("{key}-response#{nsp}#"),
            own_response: format!("{key}-response#{nsp}#{uid}#"),
        }
    }

    /// The pattern to `PSUBSCRIBE`: every broadcast of the namespace (`‹key›#‹nsp›#*`).
    pub fn pattern(&self) -> String {
        format!("{}*", self.broadcast)
    }

    /// The channels to `SUBSCRIBE`, in the reference's order: requests, responses, the
    /// node's own responses.
    pub fn subscriptions(&self) -> [&str; 3] {
        [&self.request, &self.response, &self.own_response]
    }

    /// The request channel (`‹key›-request#‹nsp›#`), whose `PUBSUB NUMSUB` is the server
    /// count.
    pub fn request(&self) -> &str {
        &self.request
    }

    /// The shared response channel.
    pub fn response(&self) -> &str {
        &self.response
    }

    /// Where a broadcast with `opts` is published: the room's channel when exactly one room
    /// is targeted, the namespace's otherwise.
    pub fn broadcast_channel(&self, opts: &BroadcastOptions) -> String {
        match opts.rooms.as_slice() {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }

    /// For a message received through the pattern: `None` when the channel is not one of this
    /// namespace's broadcast channels (the pattern over-matches names with `*?[]`), else the
    /// room it was published for (`Some(None)` for the whole namespace). A receiver drops a
    /// room broadcast when it has no socket in that room.
    pub fn broadcast_room<'c>(&self, channel: &'c str) -> Option<Option<&'c str>> {
        let rest = channel.strip_prefix(self.broadcast.as_str())?;
        if rest.is_empty() {
            return Some(None);
        }
        rest.strip_suffix('#').map(Some)
    }
}

/// Appends the broadcast message `[uid, packet, opts]` to `out`, as a classic node publishes
/// it: the packet as `{type, data, nsp}` (an EVENT; no id), `opts` as `{rooms, except,
/// flags}`.
pub fn broadcast(
    out: &mut Vec<u8>,
    uid: &str,
    packet: &Packet,
    opts: &BroadcastOptions,
) -> Result<(), EncodeError> {
    out.push(0x93);
    embed::write_str(out, uid)?;
    packet.write_msgpack(Side::Server, out)?;
    write_options(out, opts, true)
}

/// Appends a broadcast as `@socket.io/redis-emitter` 5.1 publishes it: uid `emitter` and
/// `opts` in the emitter's key order `{rooms, flags, except}`. Publish it on
/// [`Channels::broadcast_channel`]; every classic node delivers it to its sockets.
pub fn emitter_broadcast(
    out: &mut Vec<u8>,
    packet: &Packet,
    opts: &BroadcastOptions,
) -> Result<(), EncodeError> {
    out.extend_from_slice(b"\x93\xa7emitter");
    packet.write_msgpack(Side::Server, out)?;
    out.push(0x83);
    write_rooms(out, "rooms", &opts.rooms)?;
    write_flags(out, &opts.flags);
    write_rooms(out, "except", &opts.except)
}

fn write_rooms(out: &mut Vec<u8>, key: &str, rooms: &[String]) -> Result<(), EncodeError> {
    embed::write_str(out, key)?;
    embed::write_array_header(out, rooms.len())?;
    for room in rooms {
        embed::write_str(out, room)?;
    }
    Ok(())
}

/// `{rooms, except, flags}` (or `{rooms, except}` for requests, which carry no flags).
pub(crate) fn write_options(
    out: &mut Vec<u8>,
    opts: &BroadcastOptions,
    flags: bool,
) -> Result<(), EncodeError> {
    out.push(if flags { 0x83 } else { 0x82 });
    write_rooms(out, "rooms", &opts.rooms)?;
    write_rooms(out, "except", &opts.except)?;
    if flags {
        write_flags(out, &opts.flags);
    }
    Ok(())
}

/// `flags: {…}`, the set flags in a fixed order (receivers read them in any order): a
/// `RemoteSocket`'s `expectSingleResponse` before its `timeout`, as its operator sets them.
fn write_flags(out: &mut Vec<u8>, f: &Flags) {
    out.extend_from_slice(b"\xa5flags");
    let count = usize::from(f.volatile)
        + usize::from(f.compress.is_some())
        + usize::from(f.timeout.is_some())
        + usize::from(f.expect_single_response);
    out.push(0x80 | count as u8);
    if f.volatile {
        out.extend_from_slice(b"\xa8volatile\xc3");
    }
    if let Some(compress) = f.compress {
        out.extend_from_slice(b"\xa8compress");
        out.push(if compress { 0xc3 } else { 0xc2 });
    }
    if f.expect_single_response {
        out.extend_from_slice(b"\xb4expectSingleResponse\xc3");
    }
    if let Some(timeout) = f.timeout {
        out.extend_from_slice(b"\xa7timeout");
        embed::write_number(out, timeout as f64);
    }
}

/// A broadcast from another node.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// The sending node's uid (`emitter` for the Redis emitter). Drop your own.
    pub uid: String,
    /// The packet, its binaries slices of the message.
    pub packet: Packet,
    /// Rooms, exceptions and flags.
    pub opts: BroadcastOptions,
}

impl Broadcast {
    /// Decodes a message received on a broadcast channel. A packet without `nsp` is for `/`,
    /// as the reference reads it; check [`Packet::namespace`] against yours.
    pub fn decode(message: Bytes, limits: &Limits) -> Result<Broadcast, ClusterError> {
        let mut reader = Reader::new(&message);
        if reader.next()? != Token::Array(3) {
            return Err(ClusterError::Shape("a broadcast is [uid, packet, opts]"));
        }
        let uid = string(reader.next()?).ok_or(ClusterError::Shape("uid"))?;
        let start = reader.offset();
        reader.skip(limits.max_json_depth)?;
        let packet_bytes = reader.since(start);
        let opts = read_options(&mut reader, limits)?;
        reader.finish()?;
        let packet = embed::packet(&message, packet_bytes, limits, Some("/"), Dialect::Cluster)?;
        Ok(Broadcast { uid, packet, opts })
    }
}

/// A broadcast with acknowledgements from another node: request type 7, the only msgpack
/// request. Answer it with [`Response::ClientCount`] at once (also when no local socket
/// matches: the requester counts on every node's answer), then one [`broadcast_ack`] per
/// client acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub struct BroadcastWithAck {
    /// The requesting node.
    pub uid: String,
    /// The request id to answer with.
    pub request_id: String,
    /// The packet to deliver, each local recipient with an ack id of its own.
    pub packet: Packet,
    /// Rooms, exceptions and flags (`timeout`, in milliseconds, bounds the wait).
    pub opts: BroadcastOptions,
}

impl BroadcastWithAck {
    /// Decodes a message from the request channel; `Ok(None)` when it is JSON (see
    /// [`Request::decode`]) or not a type-7 map.
    pub fn decode(message: Bytes, limits: &Limits) -> Result<Option<Self>, ClusterError> {
        if message.first() == Some(&b'{') {
            return Ok(None);
        }
        let mut reader = Reader::new(&message);
        let Token::Map(n) = reader.next()? else {
            return Ok(None);
        };
        let (mut uid, mut request_id, mut kind, mut packet, mut opts) =
            (None, None, None, None, None);
        for _ in 0..n {
            let key = reader.skip(limits.max_json_depth)?;
            match key {
                Token::Str(b"uid") => uid = string(reader.next()?),
                Token::Str(b"requestId") => request_id = string(reader.next()?),
                Token::Str(b"type") => kind = reader.next()?.number(),
                Token::Str(b"packet") => {
                    let start = reader.offset();
                    reader.skip(limits.max_json_depth)?;
                    packet = Some(reader.since(start));
                }
                Token::Str(b"opts") => opts = Some(read_options(&mut reader, limits)?),
                _ => {
                    reader.skip(limits.max_json_depth)?;
                }
            }
        }
        reader.finish()?;
        if kind != Some(7.0) {
            return Ok(None);
        }
        let packet = packet.ok_or(ClusterError::Shape("packet"))?;
        Ok(Some(BroadcastWithAck {
            uid: uid.ok_or(ClusterError::Shape("uid"))?,
            request_id: request_id.ok_or(ClusterError::Shape("requestId"))?,
            packet: embed::packet(&message, packet, limits, Some("/"), Dialect::Cluster)?,
            opts: opts.unwrap_or_default(),
        }))
    }
}

/// Appends a broadcast with acknowledgements as a classic node publishes it on the request
/// channel (msgpack `{uid, requestId, type: 7, packet: {type, data, nsp}, opts: {rooms,
/// except, flags}}`, ADAPTERS.md C3); `opts.flags.timeout` bounds every node's wait.
pub fn broadcast_with_ack(
    out: &mut Vec<u8>,
    uid: &str,
    request_id: &str,
    packet: &Packet,
    opts: &BroadcastOptions,
) -> Result<(), EncodeError> {
    out.extend_from_slice(b"\x85\xa3uid");
    embed::write_str(out, uid)?;
    out.extend_from_slice(b"\xa9requestId");
    embed::write_str(out, request_id)?;
    out.extend_from_slice(b"\xa4type\x07\xa6packet");
    packet.write_msgpack(Side::Server, out)?;
    out.extend_from_slice(b"\xa4opts");
    write_options(out, opts, true)
}

/// Appends a client's acknowledgement of a [`BroadcastWithAck`] as a classic node publishes
/// it (msgpack `{type: 9, requestId, packet}`): only the ack's first argument travels, binary
/// as `bin`; an ack without arguments has no `packet` key (notepack drops `undefined`).
pub fn broadcast_ack(out: &mut Vec<u8>, request_id: &str, ack: &Packet) -> Result<(), EncodeError> {
    let args = ack.raw_args();
    out.push(if args.is_empty() { 0x82 } else { 0x83 });
    out.extend_from_slice(b"\xa4type\x09\xa9requestId");
    embed::write_str(out, request_id)?;
    if let Some(first) = args.first() {
        out.extend_from_slice(b"\xa6packet");
        embed::write_json(out, first.get(), ack.attachments())?;
    }
    Ok(())
}

/// A string token as an owned `String` (lossy, as JavaScript reads it).
pub(crate) fn string(token: Token<'_>) -> Option<String> {
    match token {
        Token::Str(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    }
}

/// A room name: a string, or a legacy number written as JavaScript prints it.
fn room(token: Token<'_>) -> Option<String> {
    match token {
        Token::Str(_) => string(token),
        _ => token.number().map(|n| {
            let mut out = Vec::new();
            embed::write_js_number(&mut out, n);
            String::from_utf8_lossy(&out).into_owned()
        }),
    }
}

fn read_rooms(reader: &mut Reader<'_>, limits: &Limits) -> Result<Vec<String>, ClusterError> {
    let Token::Array(n) = reader.next()? else {
        return Err(ClusterError::Shape("rooms must be an array"));
    };
    let mut rooms = Vec::new();
    for _ in 0..n {
        let token = reader.skip(limits.max_json_depth)?;
        if let Some(name) = room(token) {
            rooms.push(name);
        }
    }
    Ok(rooms)
}

pub(crate) fn read_options(
    reader: &mut Reader<'_>,
    limits: &Limits,
) -> Result<BroadcastOptions, ClusterError> {
    let Token::Map(n) = reader.next()? else {
        return Err(ClusterError::Shape("opts must be a map"));
    };
    let mut opts = BroadcastOptions::default();
    for _ in 0..n {
        match reader.next()? {
            Token::Str(b"rooms") => opts.rooms = read_rooms(reader, limits)?,
            Token::Str(b"except") => opts.except = read_rooms(reader, limits)?,
            Token::Str(b"flags") => opts.flags = read_flags(reader, limits)?,
            _ => {
                reader.skip(limits.max_json_depth)?;
            }
        }
    }
    Ok(opts)
}

fn read_flags(reader: &mut Reader<'_>, limits: &Limits) -> Result<Flags, ClusterError> {
    let Token::Map(n) = reader.next()? else {
        return Err(ClusterError::Shape("flags must be a map"));
    };
    let mut flags = Flags::default();
    for _ in 0..n {
        let key = reader.next()?;
        let value = reader.skip(limits.max_json_depth)?;
        match (key, value) {
            (Token::Str(b"volatile"), Token::Bool(b)) => flags.volatile = b,
            (Token::Str(b"compress"), Token::Bool(b)) => flags.compress = Some(b),
            (Token::Str(b"expectSingleResponse"), Token::Bool(b)) => {
                flags.expect_single_response = b
            }
            (Token::Str(b"timeout"), value) => {
                flags.timeout = value.number().filter(|n| *n >= 0.0).map(|n| n as u64)
            }
            _ => {}
        }
    }
    Ok(flags)
}

/// A request on `‹key›-request#‹nsp›#`. `uid` is the requesting node (absent from the
/// emitter's join/leave/disconnect requests); drop your own requests.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Request {
    /// Type 1: every other node answers [`Response::Rooms`] with all its rooms.
    AllRooms {
        /// The requester.
        uid: String,
        /// The request id.
        request_id: String,
    },
    /// Type 2: every node, the sender included, puts the matching sockets in `rooms`.
    Join {
        /// The requester (`None` from the emitter).
        uid: Option<String>,
        /// Which sockets.
        opts: BroadcastOptions,
        /// The rooms to join.
        rooms: Vec<String>,
    },
    /// Type 3: the same, leaving `rooms`.
    Leave {
        /// The requester (`None` from the emitter).
        uid: Option<String>,
        /// Which sockets.
        opts: BroadcastOptions,
        /// The rooms to leave.
        rooms: Vec<String>,
    },
    /// Type 4: every node disconnects the matching sockets (and closes their connections
    /// with `close`).
    Disconnect {
        /// The requester (`None` from the emitter).
        uid: Option<String>,
        /// Which sockets.
        opts: BroadcastOptions,
        /// Close the whole Engine.IO connection.
        close: bool,
    },
    /// Type 5: every other node answers [`Response::Sockets`] with its matching sockets.
    Fetch {
        /// The requester.
        uid: String,
        /// The request id.
        request_id: String,
        /// Which sockets.
        opts: BroadcastOptions,
    },
    /// Type 6: `serverSideEmit`; with a request id every other node answers once
    /// ([`Response::ServerSideEmit`]).
    ServerSideEmit {
        /// The requester.
        uid: String,
        /// Present when the sender waits for acknowledgements.
        request_id: Option<String>,
        /// `[event, ...args]`, JSON text.
        data: String,
    },
}

/// The JSON form of requests and responses, every field optional.
#[derive(Deserialize)]
struct RawJson {
    uid: Option<String>,
    #[serde(rename = "requestId")]
    request_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<u8>,
    opts: Option<RawOpts>,
    rooms: Option<Vec<RoomName>>,
    close: Option<bool>,
    data: Option<Box<RawValue>>,
    sockets: Option<Box<RawValue>>,
    #[serde(rename = "clientCount")]
    client_count: Option<u64>,
}

#[derive(Deserialize)]
struct RawOpts {
    #[serde(default)]
    rooms: Vec<RoomName>,
    #[serde(default)]
    except: Vec<RoomName>,
}

/// A room in JSON: a string, or a legacy number.
pub(crate) struct RoomName(String);

impl<'de> Deserialize<'de> for RoomName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(RoomName(s)),
            serde_json::Value::Number(n) => Ok(RoomName(n.to_string())),
            _ => Err(serde::de::Error::custom("a room is a string or a number")),
        }
    }
}

pub(crate) fn names(rooms: Vec<RoomName>) -> Vec<String> {
    rooms.into_iter().map(|r| r.0).collect()
}

impl RawOpts {
    fn into_options(self) -> BroadcastOptions {
        BroadcastOptions {
            rooms: names(self.rooms),
            except: names(self.except),
            flags: Flags::default(),
        }
    }
}

fn json_error(err: serde_json::Error) -> ClusterError {
    ClusterError::Json(err.to_string())
}

impl Request {
    /// Decodes a JSON request (the first byte is `{`). A broadcast with acknowledgements (type
    /// 7, msgpack) and unknown types are `Ok(None)`: not handled by this version.
    pub fn decode(message: &[u8]) -> Result<Option<Request>, ClusterError> {
        if message.first() != Some(&b'{') {
            return Ok(None);
        }
        let raw: RawJson = serde_json::from_slice(message).map_err(json_error)?;
        let opts = || raw_opts(raw.opts.as_ref());
        let uid = || raw.uid.clone().ok_or(ClusterError::Shape("uid"));
        let request_id = || {
            raw.request_id
                .clone()
                .ok_or(ClusterError::Shape("requestId"))
        };
        Ok(Some(match raw.kind {
            Some(1) => Request::AllRooms {
                uid: uid()?,
                request_id: request_id()?,
            },
            Some(kind @ (2 | 3)) => {
                let opts = opts();
                let rooms = raw.rooms.map(names).ok_or(ClusterError::Shape("rooms"))?;
                if kind == 2 {
                    Request::Join {
                        uid: raw.uid,
                        opts,
                        rooms,
                    }
                } else {
                    Request::Leave {
                        uid: raw.uid,
                        opts,
                        rooms,
                    }
                }
            }
            Some(4) => Request::Disconnect {
                opts: opts(),
                close: raw.close.unwrap_or(false),
                uid: raw.uid,
            },
            Some(5) => Request::Fetch {
                uid: uid()?,
                request_id: request_id()?,
                opts: opts(),
            },
            Some(6) => Request::ServerSideEmit {
                uid: uid()?,
                request_id: raw.request_id.clone(),
                data: raw
                    .data
                    .ok_or(ClusterError::Shape("data"))?
                    .get()
                    .to_owned(),
            },
            _ => return Ok(None),
        }))
    }

    /// The request as a classic node publishes it (JSON, the reference's key order). Fails
    /// when `data` is not JSON text.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        if let Request::ServerSideEmit { data, .. } = self {
            check_json(data)?;
        }
        let mut out = Vec::new();
        let mut write = |text: &str| out.extend_from_slice(text.as_bytes());
        let json = |value: &str| serde_json::to_string(value).unwrap_or_default();
        match self {
            Request::AllRooms { uid, request_id } => write(&format!(
                r#"{{"uid":{},"requestId":{},"type":1}}"#,
                json(uid),
                json(request_id)
            )),
            Request::Join { uid, opts, rooms } | Request::Leave { uid, opts, rooms } => {
                let kind = if matches!(self, Request::Join { .. }) {
                    2
                } else {
                    3
                };
                write("{");
                if let Some(uid) = uid {
                    write(&format!(r#""uid":{},"#, json(uid)));
                }
                write(&format!(
                    r#""type":{kind},"opts":{},"rooms":{}}}"#,
                    opts_json(opts),
                    serde_json::to_string(rooms).map_err(EncodeError::Serialize)?
                ));
            }
            Request::Disconnect { uid, opts, close } => {
                write("{");
                if let Some(uid) = uid {
                    write(&format!(r#""uid":{},"#, json(uid)));
                }
                write(&format!(
                    r#""type":4,"opts":{},"close":{close}}}"#,
                    opts_json(opts)
                ));
            }
            Request::Fetch {
                uid,
                request_id,
                opts,
            } => write(&format!(
                r#"{{"uid":{},"requestId":{},"type":5,"opts":{}}}"#,
                json(uid),
                json(request_id),
                opts_json(opts)
            )),
            Request::ServerSideEmit {
                uid,
                request_id,
                data,
            } => {
                write(&format!(r#"{{"uid":{},"#, json(uid)));
                if let Some(id) = request_id {
                    write(&format!(r#""requestId":{},"#, json(id)));
                }
                write(&format!(r#""type":6,"data":{data}}}"#));
            }
        }
        Ok(out)
    }
}

fn raw_opts(opts: Option<&RawOpts>) -> BroadcastOptions {
    opts.map(|o| RawOpts {
        rooms: o.rooms.iter().map(|r| RoomName(r.0.clone())).collect(),
        except: o.except.iter().map(|r| RoomName(r.0.clone())).collect(),
    })
    .map(RawOpts::into_options)
    .unwrap_or_default()
}

/// Refuses text that is not one JSON value, which would corrupt the message around it.
fn check_json(text: &str) -> Result<(), EncodeError> {
    serde_json::from_str::<&RawValue>(text)
        .map(drop)
        .map_err(EncodeError::Serialize)
}

/// `{"rooms":[…],"except":[…]}`.
fn opts_json(opts: &BroadcastOptions) -> String {
    format!(
        r#"{{"rooms":{},"except":{}}}"#,
        serde_json::to_string(&opts.rooms).unwrap_or_default(),
        serde_json::to_string(&opts.except).unwrap_or_default()
    )
}

/// A response on `‹key›-response#‹nsp›#` (or a node's own response channel). Drop the ones
/// whose request id you did not issue: every node hears every response.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Response {
    /// To [`Request::AllRooms`]: the responder's rooms.
    Rooms {
        /// The request id.
        request_id: String,
        /// Every room of the responder, socket-id rooms included.
        rooms: Vec<String>,
    },
    /// To [`Request::Fetch`]: `[{id, handshake, rooms, data}, …]` as JSON.
    Sockets {
        /// The request id.
        request_id: String,
        /// The socket descriptors, JSON text.
        sockets: String,
    },
    /// To a [`Request::ServerSideEmit`] with a request id: the first acknowledgement argument.
    ServerSideEmit {
        /// The request id.
        request_id: String,
        /// The argument, JSON text.
        data: String,
    },
    /// To a broadcast with acknowledgements: how many clients the responder reached.
    ClientCount {
        /// The request id.
        request_id: String,
        /// The number of clients.
        client_count: u64,
    },
}

impl Response {
    /// Decodes a JSON response (the first byte is `{`); msgpack acknowledgements (type 9) and
    /// unknown shapes are `Ok(None)`.
    pub fn decode(message: &[u8]) -> Result<Option<Response>, ClusterError> {
        if message.first() != Some(&b'{') {
            return Ok(None);
        }
        let raw: RawJson = serde_json::from_slice(message).map_err(json_error)?;
        let Some(request_id) = raw.request_id else {
            return Ok(None);
        };
        Ok(
            match (raw.kind, raw.rooms, raw.sockets, raw.data, raw.client_count) {
                (None, Some(rooms), ..) => Some(Response::Rooms {
                    request_id,
                    rooms: names(rooms),
                }),
                (None, _, Some(sockets), ..) => Some(Response::Sockets {
                    request_id,
                    sockets: sockets.get().to_owned(),
                }),
                (Some(6), _, _, Some(data), _) => Some(Response::ServerSideEmit {
                    request_id,
                    data: data.get().to_owned(),
                }),
                (Some(8), .., Some(client_count)) => Some(Response::ClientCount {
                    request_id,
                    client_count,
                }),
                _ => None,
            },
        )
    }

    /// The response as a classic node publishes it (JSON, the reference's key order). Fails
    /// when `sockets` or `data` is not JSON text.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        if let Response::Sockets { sockets: json, .. }
        | Response::ServerSideEmit { data: json, .. } = self
        {
            check_json(json)?;
        }
        let json = |value: &str| serde_json::to_string(value).unwrap_or_default();
        let text = match self {
            Response::Rooms { request_id, rooms } => format!(
                r#"{{"requestId":{},"rooms":{}}}"#,
                json(request_id),
                serde_json::to_string(rooms).map_err(EncodeError::Serialize)?
            ),
            Response::Sockets {
                request_id,
                sockets,
            } => format!(
                r#"{{"requestId":{},"sockets":{}}}"#,
                json(request_id),
                sockets
            ),
            Response::ServerSideEmit { request_id, data } => format!(
                r#"{{"type":6,"requestId":{},"data":{}}}"#,
                json(request_id),
                data
            ),
            Response::ClientCount {
                request_id,
                client_count,
            } => format!(
                r#"{{"type":8,"requestId":{},"clientCount":{client_count}}}"#,
                json(request_id)
            ),
        };
        Ok(text.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_channels_and_rooms() {
        let c = Channels::new("socket.io", "/chat", "cmOVyM");
        assert_eq!(c.pattern(), "socket.io#/chat#*");
        assert_eq!(
            c.subscriptions(),
            [
                "socket.io-request#/chat#",
                "socket.io-response#/chat#",
                "socket.io-response#/chat#cmOVyM#"
            ]
        );
        assert_eq!(c.broadcast_room("socket.io#/chat#"), Some(None));
        assert_eq!(
            c.broadcast_room("socket.io#/chat#room1#"),
            Some(Some("room1"))
        );
        assert_eq!(c.broadcast_room("socket.io#/chatter#"), None);
        assert_eq!(c.broadcast_room("socket.io#/chat#x"), None);
        let two = BroadcastOptions {
            rooms: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        assert_eq!(c.broadcast_channel(&two), "socket.io#/chat#");
    }
}
