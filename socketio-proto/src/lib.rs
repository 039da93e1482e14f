//! Sans-IO Socket.IO for protocol v5 (socket.io 3 and 4) and v4 (socket.io 1.x and 2.x): the
//! packet codec (namespaces, acknowledgements, binary attachments, serde, msgpack) and the
//! sessions above it, for servers and clients.
//!
//! # Where this crate sits
//!
//! ```text
//!   engineio-proto          Engine.IO v3/v4: packets, payloads, sessions, its Endpoint
//! → socketio-proto          this crate: the Socket.IO codec, the server Endpoint and its
//!                           Adapter seam, the client Manager
//!   socketio-cluster-proto  the cluster adapters (Redis, …), on the Adapter seam
//!   socketio-tokio          a driver and the application API, on tokio
//! ```
//!
//! The crate does no I/O, reads no clock, spawns nothing and draws no random numbers: time is
//! an argument, ids come from an [`IdSource`](server::IdSource) you pass (with the
//! `getrandom` feature, [`OsIds`](engineio_proto::session::endpoint) draws them from the
//! operating system), and what to put on the wire comes out as values. It never panics on
//! what a peer sends: every input yields a value or a typed error, and every buffer is
//! bounded by [`Limits`] and the sessions' settings.
//!
//! | you are writing | start with | it owns |
//! |---|---|---|
//! | a server (a driver for your I/O stack) | [`server`]: `use socketio_proto::server::*;` and [`server::Endpoint`] | the Engine.IO sessions (routing, heartbeats, upgrades), one Socket.IO connection per client, rooms and broadcast, connection state recovery, queries, the [`Adapter`](server::Adapter) that makes it one node of a cluster |
//! | a client | [`client::Manager`] | one Engine.IO session at a time, reconnection with backoff, namespaces, buffers, acks, recovery |
//! | a proxy, a router, a fuzzer, a custom session layer | the codec below: [`RawHeader`], [`Decoder`], [`Packet`] | nothing: pure functions and one decoder state machine |
//!
//! The [`server`] module teaches the server's run loop step by step; its `Endpoint` docs
//! drive a polling handshake by hand, and `examples/std_server.rs` (blocking `std::net`) and
//! `examples/hyper_server.rs` (tokio and hyper, long-polling and WebSocket) are complete
//! servers on it.
//!
//! # The codec
//!
//! Its input is the data of Engine.IO `message` packets — text (`Bytes` holding UTF-8) and
//! binary (`Bytes`) — and its output is the same: one text message per packet, followed by
//! one binary message per attachment.
//!
//! ## Decoding, in two layers
//!
//! * [`RawHeader::parse`] is a borrowed view of a text packet's header (type, attachment
//!   count, namespace, ack id, raw JSON slice). It allocates nothing and leaves the payload
//!   alone; [`RawHeader::validate`] applies the reference's payload rules when wanted. This is
//!   the path for proxies and routers.
//! * [`Decoder`] is the per-connection state machine. Feed it every text and binary message;
//!   it validates each packet exactly as the reference decoder of the [`ProtocolVersion`]
//!   does (socket.io-parser 4.2.7 for v5, 3.4.5 for v4), reassembles binary packets and
//!   answers [`DecodeStatus::Complete`] or [`DecodeStatus::NeedAttachments`]. The owned
//!   [`Packet`] it returns holds its namespace, JSON and attachments as `Bytes` slices of the
//!   received frames: no copy. [`Packet::detach`] copies them out for long-lived packets.
//!
//! Errors are a small `Copy` enum, [`DecodeError`], whose `Display` is the reference's exact
//! message and whose [`action`](DecodeError::action) says what to do on the wire (close the
//! Engine.IO connection, or for v4 unknown packet types, ignore the packet). After an error
//! the decoder is idle again. No input panics, every count and length is bounded by
//! [`Limits`], and the limits are checked before anything is buffered.
//!
//! ## Encoding
//!
//! Build packets with [`Packet::event`], [`Packet::ack`], [`Packet::connect_with`]… from any
//! `Serialize` arguments: byte values ([`bytes::Bytes`], `serde_bytes`) become placeholders
//! and attachments in the same pass that writes the JSON. [`Packet::encode`] writes the text
//! message into one buffer (its only allocation; [`Packet::write_text`] into a reused buffer
//! allocates nothing) and shares the attachments, so an [`EncodedPacket`] is sent to many
//! receivers without re-encoding or copying. Output is byte-identical to the reference encoder.
//! To forward, rename or echo arguments without building a value tree, read them as raw JSON
//! with [`Packet::raw_args`] and rebuild with [`Packet::event_raw`] / [`Packet::ack_raw`].
//! Binary arguments typed [`Attachment`] go in and out by reference count, never copied.
//!
//! ## Example
//!
//! A server receives a binary event over WebSocket (a text frame `451-…` and a binary frame;
//! the Engine.IO layer strips the `4`) and acknowledges it with binary data.
//!
//! ```
//! use bytes::Bytes;
//! use socketio_proto::{DecodeStatus, Decoder, Limits, Packet, PacketType, ProtocolVersion};
//!
//! let mut decoder = Decoder::new(ProtocolVersion::V5, Limits::default());
//!
//! // 1. The header announces one attachment; the decoder waits for it.
//! let status = decoder.feed_text(r#"51-/chat,7["upload","a.png",{"_placeholder":true,"num":0}]"#)?;
//! assert_eq!(status, DecodeStatus::NeedAttachments { remaining: 1 });
//!
//! // 2. The binary frame completes the packet. v5 reports it as a plain EVENT.
//! let DecodeStatus::Complete(packet) = decoder.feed_binary(Bytes::from_static(b"\x89PNG"))? else {
//!     panic!("one attachment was announced");
//! };
//! assert_eq!(packet.packet_type(), PacketType::Event);
//! assert_eq!(packet.namespace(), "/chat");
//! assert_eq!(packet.event_name().as_deref(), Some("upload"));
//!
//! // 3. Typed arguments; the placeholder comes back as the attachment's bytes (borrowed).
//! let (file_name, content): (String, &[u8]) = packet.args()?;
//! assert_eq!((file_name.as_str(), content), ("a.png", &b"\x89PNG"[..]));
//!
//! // 4. Reply with serde arguments: the `Bytes` value becomes placeholder 0 and an attachment.
//! let ack_id = packet.ack_id().expect("the client asked for an ack");
//! let thumbnail = Bytes::from_static(b"thumb");
//! let reply = Packet::ack(packet.full_namespace().clone(), ack_id, &("stored", thumbnail))?;
//!
//! // 5. Encode once; send the text, then each attachment as a binary message.
//! let encoded = reply.encode();
//! assert_eq!(encoded.text(), Some(r#"61-/chat,7["stored",{"_placeholder":true,"num":0}]"#));
//! assert_eq!(encoded.attachments(), &[Bytes::from_static(b"thumb")]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where this crate is stricter than the reference
//!
//! The reference decoders accept some inputs through JavaScript quirks; this crate rejects
//! them, and follows the house rules for binary packets:
//!
//! * the empty string (JS: CONNECT `/`) ⇒ [`DecodeError::EmptyPacket`];
//! * whitespace where an ack id may start (JS reads ack id 0) and ack ids above 2^53−1 (JS
//!   loses precision) ⇒ [`DecodeError::InvalidAckId`]; non-ASCII whitespace there (U+00A0,
//!   U+FEFF, … which JS also reads as ack id 0) and whitespace inside an ack id (JS: `NaN`)
//!   fail as [`DecodeError::InvalidPayload`] instead;
//! * attachment counts that are not plain decimal digits (JS accepts `1e1`, `0x1`, ` 1`,
//!   `1.0`) ⇒ [`DecodeError::IllegalAttachmentCount`]; a first character that is whitespace
//!   (JS: type 0) ⇒ [`DecodeError::UnknownPacketType`];
//! * placeholders: `num` must be integral, and each attachment must be referenced exactly
//!   once (JS drops unused attachments, allows repeats and yields `undefined` for `0.5`)
//!   ⇒ [`DecodeError::IllegalPlaceholder`]; every placeholder object in the JSON text counts,
//!   including one hidden in an extra key of another placeholder or under an overwritten
//!   duplicate key (both of which JS discards);
//! * attachments above [`Limits::max_attachment_bytes`] in total, and binary-packet JSON
//!   deeper than [`Limits::max_json_depth`], are refused (the reference has no such limits).
//!
//! For protocol v4, the reference parser does not throw on an unknown packet type but emits
//! an ERROR packet that socket.io 2.x ignores; here that is
//! [`DecodeError::UnknownPacketType`] with [`WireAction::IgnorePacket`], and the connection
//! may stay open. (A leading whitespace character, which the reference reads as type 0 and
//! then usually rejects, also gets `IgnorePacket` here.) On the encoding side, a BINARY_EVENT/BINARY_ACK without attachments is
//! refused ([`EncodeError::AttachmentMismatch`]) where the v4 reference writes `50-…`, which
//! its own decoders reject.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "arbitrary")]
mod arbitrary;
mod args;
mod attachment;
pub mod client;
mod decoder;
mod encode;
mod error;
mod header;
mod js_number;
mod json;
mod limits;
pub mod msgpack;
mod packet;
mod placeholder;
pub mod server;
mod session;

mod validate;
mod version;

pub use bytes;

pub use args::EventName;
pub use attachment::Attachment;
pub use decoder::{DecodeStatus, Decoder};
pub use encode::{EncodedPacket, Message};
pub use engineio_proto::Utf8Bytes;
pub use error::{DecodeError, EncodeError, WireAction};
pub use header::RawHeader;
pub use limits::Limits;
pub use packet::{AckId, Namespace, Packet, PacketType, ProtocolVersion};
pub use session::SessionError;
pub use validate::RESERVED_EVENT_NAMES;

/// The wire format of a server or client: chosen once, for every packet of every connection,
/// as the JavaScript `parser` option is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Parser {
    /// The default parser (`socket.io-parser`): a text message per packet, binary values as
    /// attachments that follow it. Protocol v4 and v5.
    #[default]
    Text,
    /// `socket.io-msgpack-parser`: one binary message per packet ([`msgpack`]). Protocol v5
    /// only; both sides must use it.
    Msgpack,
}
