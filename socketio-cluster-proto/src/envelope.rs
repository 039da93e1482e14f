//! The messages of the adapters built on `socket.io-adapter`'s `ClusterAdapter`: the sharded
//! Pub/Sub adapter (`@socket.io/redis-adapter` 8.3 `createShardedAdapter`, ADAPTERS.md §3),
//! whose envelope the Redis-streams adapter shares.
//!
//! Every message is `{type, data, uid, nsp}`: `uid` the sending node (16 hexadecimal
//! characters per namespace), `nsp` the namespace, `data` per [`ClusterMessage`]. It travels as JSON,
//! or as msgpack when it carries binary (broadcasts, fetched sockets, `serverSideEmit` and
//! acknowledgements); receivers tell them apart by the first byte (`{` is JSON). Unlike the
//! classic adapter's, the embedded packet has no `nsp` and every node applies its own
//! `socketsJoin`, `socketsLeave` and `disconnectSockets` at once.
//!
//! ```
//! use socketio_cluster_proto::envelope::Envelope;
//! use socketio_cluster_proto::{BroadcastOptions, ClusterMessage};
//! use socketio_proto::{Limits, Namespace, Packet};
//!
//! let packet = Packet::event(Namespace::main(), "e2", &("r1",), None)?;
//! let opts = BroadcastOptions { rooms: vec!["room1".into()], ..Default::default() };
//! let message = ClusterMessage::Broadcast { packet, opts, request_id: None };
//! let bytes = Envelope::new("d68fee24e727e0fb", "/", message).encode()?;
//! assert_eq!(
//!     String::from_utf8_lossy(&bytes),
//!     r#"{"type":3,"data":{"packet":{"type":2,"data":["e2","r1"]},"opts":{"rooms":["room1"],"except":[],"flags":{}}},"uid":"d68fee24e727e0fb","nsp":"/"}"#
//! );
//! let received = Envelope::decode(bytes.into(), &Limits::default())?;
//! assert_eq!(received.map(|e| e.uid).as_deref(), Some("d68fee24e727e0fb"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use socketio_proto::msgpack::embed::{self, Dialect, Reader, Token};
use socketio_proto::{EncodeError, Limits, Namespace, Packet, PacketType, Utf8Bytes};

use crate::classic::codec::{RoomName, names, read_options, string, write_options};
use crate::{BroadcastOptions, ClusterError, ClusterMessage, Flags};

/// One message between cluster nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The sending node's uid for the namespace. Drop your own.
    pub uid: String,
    /// The namespace. Drop the ones you do not serve.
    pub nsp: String,
    /// The message.
    pub message: ClusterMessage,
}

/// The JSON envelope, before `data` is read by type.
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    uid: String,
    nsp: String,
}

/// `data` of every type, every field optional.
#[derive(Deserialize, Default)]
struct RawData<'a> {
    #[serde(borrow)]
    packet: Option<&'a RawValue>,
    opts: Option<RawOptions>,
    #[serde(rename = "requestId")]
    request_id: Option<String>,
    rooms: Option<Vec<RoomName>>,
    close: Option<bool>,
    #[serde(borrow)]
    sockets: Option<&'a RawValue>,
    #[serde(rename = "clientCount")]
    client_count: Option<u64>,
}

#[derive(Deserialize)]
struct RawOptions {
    #[serde(default)]
    rooms: Vec<RoomName>,
    #[serde(default)]
    except: Vec<RoomName>,
    #[serde(default)]
    flags: RawFlags,
}

#[derive(Deserialize, Default)]
struct RawFlags {
    volatile: Option<bool>,
    compress: Option<bool>,
    timeout: Option<f64>,
    #[serde(rename = "expectSingleResponse")]
    expect_single_response: Option<bool>,
}

impl From<RawOptions> for BroadcastOptions {
    fn from(raw: RawOptions) -> Self {
        BroadcastOptions {
            rooms: names(raw.rooms),
            except: names(raw.except),
            flags: Flags {
                volatile: raw.flags.volatile.unwrap_or(false),
                compress: raw.flags.compress,
                timeout: raw.flags.timeout.filter(|t| *t >= 0.0).map(|t| t as u64),
                expect_single_response: raw.flags.expect_single_response.unwrap_or(false),
            },
        }
    }
}

/// The packet of a JSON broadcast: `{type, data}`.
#[derive(Deserialize)]
struct RawPacket<'a> {
    #[serde(borrow)]
    data: &'a RawValue,
}

fn json_error(err: serde_json::Error) -> ClusterError {
    ClusterError::Json(err.to_string())
}

impl Envelope {
    /// A message from node `uid` about namespace `nsp`.
    pub fn new(uid: &str, nsp: &str, message: ClusterMessage) -> Envelope {
        Envelope {
            uid: uid.to_owned(),
            nsp: nsp.to_owned(),
            message,
        }
    }

    /// Decodes a message, JSON or msgpack. Types 1, 2 and 13 (heartbeats and closes of
    /// other adapter families) and unknown types are `Ok(None)`: not for this node.
    pub fn decode(message: Bytes, limits: &Limits) -> Result<Option<Envelope>, ClusterError> {
        if message.first() == Some(&b'{') {
            let raw: RawEnvelope<'_> = serde_json::from_slice(&message).map_err(json_error)?;
            let data = raw.data.map(RawValue::get).unwrap_or("{}");
            let message = json_message(raw.kind, data, &raw.nsp)?;
            return Ok(message.map(|message| Envelope {
                uid: raw.uid,
                nsp: raw.nsp,
                message,
            }));
        }
        let mut reader = Reader::new(&message);
        let Token::Map(n) = reader.next()? else {
            return Err(ClusterError::Shape("an envelope is a map"));
        };
        let (mut kind, mut uid, mut nsp, mut data) = (None, None, None, None);
        let depth = limits.max_json_depth;
        for _ in 0..n {
            match reader.next()? {
                Token::Str(b"type") => kind = reader.next()?.number(),
                Token::Str(b"uid") => uid = string(reader.next()?),
                Token::Str(b"nsp") => nsp = string(reader.next()?),
                Token::Str(b"data") => {
                    let start = reader.offset();
                    reader.skip(depth)?;
                    data = Some(reader.since(start));
                }
                _ => {
                    reader.skip(depth)?;
                }
            }
        }
        reader.finish()?;
        let uid = uid.ok_or(ClusterError::Shape("uid"))?;
        let nsp = nsp.ok_or(ClusterError::Shape("nsp"))?;
        let kind = kind.ok_or(ClusterError::Shape("type"))?;
        if !(3.0..=12.0).contains(&kind) || kind.fract() != 0.0 {
            return Ok(None);
        }
        let message = match data {
            Some(data) => msgpack_message(kind as u8, &message, data, &nsp, limits)?,
            None => json_message(kind as u8, "{}", &nsp)?,
        };
        Ok(message.map(|message| Envelope { uid, nsp, message }))
    }

    /// Decodes an entry of the Redis-streams adapter's stream: its fields `uid`, `nsp`,
    /// `type` (a decimal string) and `data` (JSON text, or base64 of msgpack when it
    /// carries binary). Unknown types are `Ok(None)`.
    pub fn decode_entry(
        uid: &[u8],
        nsp: &[u8],
        kind: &[u8],
        data: Option<&[u8]>,
        limits: &Limits,
    ) -> Result<Option<Envelope>, ClusterError> {
        use base64::Engine as _;
        let text = |bytes: &[u8], what| {
            std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| ClusterError::Shape(what))
        };
        let (uid, nsp) = (text(uid, "uid")?, text(nsp, "nsp")?);
        let Some(kind) = std::str::from_utf8(kind)
            .ok()
            .and_then(|k| k.parse::<u8>().ok())
            .filter(|k| (3..=12).contains(k))
        else {
            return Ok(None);
        };
        let message = match data {
            None => json_message(kind, "{}", &nsp)?,
            Some(data) if data.first() == Some(&b'{') => {
                json_message(kind, &text(data, "data")?, &nsp)?
            }
            Some(data) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|_| ClusterError::Shape("data is neither JSON nor base64"))?;
                let message = Bytes::from(bytes);
                msgpack_message(kind, &message, &message, &nsp, limits)?
            }
        };
        Ok(message.map(|message| Envelope { uid, nsp, message }))
    }

    /// The `data` field of this message as a stream entry: JSON text, or base64 of msgpack
    /// when it carries binary (as the streams adapter writes it).
    pub fn entry_data(&self) -> Result<Vec<u8>, EncodeError> {
        use base64::Engine as _;
        if self.has_binary() {
            let mut data = Vec::new();
            self.write_data_msgpack(&mut data)?;
            Ok(base64::engine::general_purpose::STANDARD
                .encode(data)
                .into_bytes())
        } else {
            Ok(self.data_json()?.into_bytes())
        }
    }

    /// The message's `type` (`None` for the classic adapter's own `allRooms`, which no
    /// envelope carries).
    pub fn kind(&self) -> Option<u8> {
        self.message.kind()
    }

    fn checked_kind(&self) -> Result<u8, EncodeError> {
        self.message.kind().ok_or(EncodeError::Unsupported)
    }

    fn has_binary(&self) -> bool {
        match &self.message {
            ClusterMessage::Broadcast { packet, .. }
            | ClusterMessage::BroadcastAck { ack: packet, .. } => !packet.attachments().is_empty(),
            _ => false,
        }
    }

    /// The message as a `ClusterAdapter` node publishes it: msgpack when it carries binary
    /// (a broadcast's or an acknowledgement's attachments), else JSON; key order
    /// `{type, data, uid, nsp}` and each `data` in the reference's order. Fails when a
    /// payload is not JSON text or a value exceeds msgpack's limits.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        if self.has_binary() {
            let mut out = Vec::new();
            self.write_msgpack(&mut out)?;
            Ok(out)
        } else {
            self.to_json()
        }
    }

    fn to_json(&self) -> Result<Vec<u8>, EncodeError> {
        let json = |value: &str| serde_json::to_string(value).map_err(EncodeError::Serialize);
        Ok(format!(
            r#"{{"type":{},"data":{},"uid":{},"nsp":{}}}"#,
            self.checked_kind()?,
            self.data_json()?,
            json(&self.uid)?,
            json(&self.nsp)?
        )
        .into_bytes())
    }

    /// `data` as JSON text, keys in the reference's order.
    fn data_json(&self) -> Result<String, EncodeError> {
        let json = |value: &str| serde_json::to_string(value).map_err(EncodeError::Serialize);
        let opts = |opts: &BroadcastOptions| -> Result<String, EncodeError> {
            Ok(format!(
                r#"{{"rooms":{},"except":{},"flags":{}}}"#,
                serde_json::to_string(&opts.rooms).map_err(EncodeError::Serialize)?,
                serde_json::to_string(&opts.except).map_err(EncodeError::Serialize)?,
                flags_json(&opts.flags)
            ))
        };
        let data = match &self.message {
            ClusterMessage::AllRooms { .. } | ClusterMessage::AllRoomsResponse { .. } => {
                return Err(EncodeError::Unsupported);
            }
            ClusterMessage::Broadcast {
                packet,
                opts: o,
                request_id,
            } => {
                let args = packet.raw_json().map_or("[]", |d| d.as_str());
                let id = match request_id {
                    Some(id) => format!(r#""requestId":{},"#, json(id)?),
                    None => String::new(),
                };
                format!(
                    r#"{{"packet":{{"type":2,"data":{args}}},{id}"opts":{}}}"#,
                    opts(o)?
                )
            }
            ClusterMessage::SocketsJoin { opts: o, rooms }
            | ClusterMessage::SocketsLeave { opts: o, rooms } => {
                let rooms = serde_json::to_string(rooms).map_err(EncodeError::Serialize)?;
                format!(r#"{{"opts":{},"rooms":{rooms}}}"#, opts(o)?)
            }
            ClusterMessage::DisconnectSockets { opts: o, close } => {
                format!(r#"{{"opts":{},"close":{close}}}"#, opts(o)?)
            }
            ClusterMessage::FetchSockets {
                opts: o,
                request_id,
            } => format!(
                r#"{{"opts":{},"requestId":{}}}"#,
                opts(o)?,
                json(request_id)?
            ),
            ClusterMessage::FetchSocketsResponse {
                request_id,
                sockets,
            } => format!(
                r#"{{"requestId":{},"sockets":{}}}"#,
                json(request_id)?,
                serde_json::to_string(sockets).map_err(EncodeError::Serialize)?
            ),
            ClusterMessage::ServerSideEmit { request_id, data } => {
                check_json(data)?;
                match request_id {
                    Some(id) => format!(r#"{{"requestId":{},"packet":{data}}}"#, json(id)?),
                    None => format!(r#"{{"packet":{data}}}"#),
                }
            }
            ClusterMessage::ServerSideEmitResponse { request_id, data } => {
                check_json(data)?;
                format!(r#"{{"requestId":{},"packet":{data}}}"#, json(request_id)?)
            }
            ClusterMessage::BroadcastClientCount {
                request_id,
                client_count,
            } => format!(
                r#"{{"requestId":{},"clientCount":{client_count}}}"#,
                json(request_id)?
            ),
            ClusterMessage::BroadcastAck { request_id, ack } => {
                let first = ack.raw_args().first().map(|a| a.get().to_owned());
                match first {
                    Some(first) => {
                        format!(r#"{{"requestId":{},"packet":{first}}}"#, json(request_id)?)
                    }
                    None => format!(r#"{{"requestId":{}}}"#, json(request_id)?),
                }
            }
        };
        Ok(data)
    }

    /// The msgpack form (for messages with binary; the streams adapter's channels take every
    /// message this way).
    pub fn write_msgpack(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(b"\x84\xa4type");
        out.push(self.checked_kind()?);
        out.extend_from_slice(b"\xa4data");
        self.write_data_msgpack(out)?;
        out.extend_from_slice(b"\xa3uid");
        embed::write_str(out, &self.uid)?;
        out.extend_from_slice(b"\xa3nsp");
        embed::write_str(out, &self.nsp)?;
        Ok(())
    }

    /// `data` as msgpack.
    fn write_data_msgpack(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let transcode = embed::write_json;
        let request_id = |out: &mut Vec<u8>, id: &str| {
            out.extend_from_slice(b"\xa9requestId");
            embed::write_str(out, id)
        };
        match &self.message {
            ClusterMessage::AllRooms { .. } | ClusterMessage::AllRoomsResponse { .. } => {
                return Err(EncodeError::Unsupported);
            }
            ClusterMessage::Broadcast {
                packet,
                opts,
                request_id: id,
            } => {
                out.push(if id.is_some() { 0x83 } else { 0x82 });
                out.extend_from_slice(b"\xa6packet\x82\xa4type\x02\xa4data");
                let args = packet.raw_json().map_or("[]", |d| d.as_str());
                transcode(out, args, packet.attachments())?;
                if let Some(id) = id {
                    request_id(out, id)?;
                }
                out.extend_from_slice(b"\xa4opts");
                write_options(out, opts, true)?;
            }
            ClusterMessage::BroadcastAck {
                request_id: id,
                ack,
            } => {
                let args = ack.raw_args();
                out.push(if args.is_empty() { 0x81 } else { 0x82 });
                request_id(out, id)?;
                if let Some(first) = args.first() {
                    out.extend_from_slice(b"\xa6packet");
                    transcode(out, first.get(), ack.attachments())?;
                }
            }
            // No binary: the JSON form, transcoded.
            _ => transcode(out, &self.data_json()?, &[])?,
        }
        Ok(())
    }
}

/// `{"volatile":true,…}`, the set flags in a fixed order.
fn flags_json(f: &Flags) -> String {
    let mut entries = Vec::new();
    if f.volatile {
        entries.push(r#""volatile":true"#.to_owned());
    }
    if let Some(compress) = f.compress {
        entries.push(format!(r#""compress":{compress}"#));
    }
    // A `RemoteSocket`'s operator sets `expectSingleResponse`, then `timeout`.
    if f.expect_single_response {
        entries.push(r#""expectSingleResponse":true"#.to_owned());
    }
    if let Some(timeout) = f.timeout {
        entries.push(format!(r#""timeout":{timeout}"#));
    }
    format!("{{{}}}", entries.join(","))
}

fn check_json(text: &str) -> Result<(), EncodeError> {
    serde_json::from_str::<&RawValue>(text)
        .map(drop)
        .map_err(EncodeError::Serialize)
}

/// `data` of type `kind` in msgpack (a slice of `message`).
fn msgpack_message(
    kind: u8,
    message: &Bytes,
    data: &[u8],
    nsp: &str,
    limits: &Limits,
) -> Result<Option<ClusterMessage>, ClusterError> {
    match kind {
        3 => msgpack_broadcast(message, data, nsp, limits),
        12 => msgpack_ack(message, data, nsp, limits),
        _ => {
            let (json, _) = to_json(message, data, limits, Dialect::ClusterJson)?;
            json_message(kind, &json, nsp)
        }
    }
}

/// A msgpack value of `message` as JSON text, its binaries as `dialect` says.
pub(crate) fn to_json(
    message: &Bytes,
    value: &[u8],
    limits: &Limits,
    dialect: Dialect,
) -> Result<(String, Vec<Bytes>), ClusterError> {
    Ok(embed::to_json(message, value, limits, dialect)?)
}

/// A msgpack broadcast's `data`: `{packet, requestId?, opts}`, the packet's binaries slices
/// of `message`.
fn msgpack_broadcast(
    message: &Bytes,
    data: &[u8],
    nsp: &str,
    limits: &Limits,
) -> Result<Option<ClusterMessage>, ClusterError> {
    let mut reader = Reader::new(data);
    let Token::Map(n) = reader.next()? else {
        return Err(ClusterError::Shape("data must be a map"));
    };
    let (mut packet, mut opts, mut request_id) = (None, None, None);
    for _ in 0..n {
        match reader.next()? {
            Token::Str(b"packet") => {
                let start = reader.offset();
                reader.skip(limits.max_json_depth)?;
                packet = Some(reader.since(start));
            }
            Token::Str(b"opts") => opts = Some(read_options(&mut reader, limits)?),
            Token::Str(b"requestId") => request_id = string(reader.next()?),
            _ => {
                reader.skip(limits.max_json_depth)?;
            }
        }
    }
    let packet = packet.ok_or(ClusterError::Shape("packet"))?;
    let packet = embed::packet(message, packet, limits, Some("/"), Dialect::Cluster)?;
    let (kind, _, id, data, attachments) = packet.into_parts();
    let packet = Packet::from_parts(kind, namespace(nsp)?, id, data, attachments)
        .map_err(|_| ClusterError::Shape("packet"))?;
    Ok(Some(ClusterMessage::Broadcast {
        packet,
        opts: opts.unwrap_or_default(),
        request_id,
    }))
}

/// A msgpack acknowledgement's `data`: `{requestId, packet?}` (other keys, such as the
/// classic adapter's `type: 9`, ignored), the packet's binaries attachments (slices of
/// `message`).
pub(super) fn msgpack_ack(
    message: &Bytes,
    data: &[u8],
    nsp: &str,
    limits: &Limits,
) -> Result<Option<ClusterMessage>, ClusterError> {
    let mut reader = Reader::new(data);
    let Token::Map(n) = reader.next()? else {
        return Err(ClusterError::Shape("data must be a map"));
    };
    let (mut request_id, mut packet) = (None, None);
    for _ in 0..n {
        match reader.next()? {
            Token::Str(b"requestId") => request_id = string(reader.next()?),
            Token::Str(b"packet") => {
                let start = reader.offset();
                reader.skip(limits.max_json_depth)?;
                packet = Some(reader.since(start));
            }
            _ => {
                reader.skip(limits.max_json_depth)?;
            }
        }
    }
    let (args, attachments) = match packet {
        Some(value) => {
            let (json, attachments) = to_json(message, value, limits, Dialect::Cluster)?;
            (format!("[{json}]"), attachments)
        }
        None => ("[]".to_owned(), Vec::new()),
    };
    let ack = ack_packet(nsp, args, attachments)?;
    let request_id = request_id.ok_or(ClusterError::Shape("requestId"))?;
    Ok(Some(ClusterMessage::BroadcastAck { request_id, ack }))
}

/// An ACK without ack id whose payload is `args`.
fn ack_packet(nsp: &str, args: String, attachments: Vec<Bytes>) -> Result<Packet, ClusterError> {
    let kind = if attachments.is_empty() {
        PacketType::Ack
    } else {
        PacketType::BinaryAck
    };
    Packet::from_parts(
        kind,
        namespace(nsp)?,
        None,
        Some(Utf8Bytes::from(args)),
        attachments,
    )
    .map_err(|_| ClusterError::Shape("packet"))
}

fn namespace(nsp: &str) -> Result<Namespace, ClusterError> {
    Namespace::new(nsp).map_err(|_| ClusterError::Shape("nsp"))
}

/// `data` of type `kind` as JSON text.
fn json_message(kind: u8, data: &str, nsp: &str) -> Result<Option<ClusterMessage>, ClusterError> {
    let raw: RawData<'_> = serde_json::from_str(data).map_err(json_error)?;
    let opts = raw.opts.map(BroadcastOptions::from).unwrap_or_default();
    let request_id = || {
        raw.request_id
            .clone()
            .ok_or(ClusterError::Shape("requestId"))
    };
    let packet = || raw.packet.map_or("null", RawValue::get).to_owned();
    Ok(Some(match kind {
        3 => {
            let packet: RawPacket<'_> =
                serde_json::from_str(raw.packet.ok_or(ClusterError::Shape("packet"))?.get())
                    .map_err(json_error)?;
            let args: Vec<&RawValue> =
                serde_json::from_str(packet.data.get()).map_err(json_error)?;
            let (name, args) = args.split_first().ok_or(ClusterError::Shape("event"))?;
            let name: String = serde_json::from_str(name.get()).map_err(json_error)?;
            let packet = Packet::event_raw(namespace(nsp)?, &name, args, Vec::new())
                .map_err(|_| ClusterError::Shape("event"))?;
            ClusterMessage::Broadcast {
                packet,
                request_id: raw.request_id.clone(),
                opts,
            }
        }
        4 | 5 => {
            let rooms = raw.rooms.map(names).ok_or(ClusterError::Shape("rooms"))?;
            if kind == 4 {
                ClusterMessage::SocketsJoin { opts, rooms }
            } else {
                ClusterMessage::SocketsLeave { opts, rooms }
            }
        }
        6 => ClusterMessage::DisconnectSockets {
            close: raw.close.unwrap_or(false),
            opts,
        },
        7 => ClusterMessage::FetchSockets {
            request_id: request_id()?,
            opts,
        },
        8 => {
            let sockets = raw.sockets.map_or("[]", RawValue::get);
            ClusterMessage::FetchSocketsResponse {
                request_id: request_id()?,
                sockets: serde_json::from_str(sockets).map_err(json_error)?,
            }
        }
        9 => ClusterMessage::ServerSideEmit {
            request_id: raw.request_id.clone(),
            data: raw
                .packet
                .ok_or(ClusterError::Shape("packet"))?
                .get()
                .to_owned(),
        },
        10 => ClusterMessage::ServerSideEmitResponse {
            request_id: request_id()?,
            data: packet(),
        },
        11 => ClusterMessage::BroadcastClientCount {
            request_id: request_id()?,
            client_count: raw.client_count.ok_or(ClusterError::Shape("clientCount"))?,
        },
        12 => {
            let args = raw
                .packet
                .map_or("[]".to_owned(), |p| format!("[{}]", p.get()));
            ClusterMessage::BroadcastAck {
                request_id: request_id()?,
                ack: ack_packet(nsp, args, Vec::new())?,
            }
        }
        _ => return Ok(None),
    }))
}
