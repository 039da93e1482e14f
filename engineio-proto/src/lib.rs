//! Sans-IO Engine.IO: protocol v4 and v3, byte-exact with the reference Node.js packages
//! (`engine.io-parser` 5.x and 2.x, `engine.io` 6.x).
//!
//! This crate turns bytes into Engine.IO values and back, and runs Engine.IO sessions as pure
//! state machines. It does no I/O, reads no clock and
//! spawns nothing, so it runs on any runtime (tokio, async-std, smol, embedded, WASM) and under
//! a fuzzer. What it covers:
//!
//! | concept | items |
//! |---|---|
//! | one packet (text form, WebSocket frames) | [`PacketRef`] (borrowed), [`Packet`] (owned), [`Frame`] |
//! | long-polling bodies: v4, v3 text, v3 binary | [`decode_payload`], [`encode_payload`], [`PayloadFormat`] |
//! | JSONP polling | [`jsonp`] |
//! | WebTransport framing | [`webtransport`] |
//! | the handshake | [`OpenPacket`], [`RequestQuery`], [`ErrorResponse`] |
//! | limits on peer input | [`Limits`] |
//! | a server: every session behind one input and one output (routing, one timer table, ids from your source) | [`session::endpoint::Endpoint`] |
//! | sessions: server and client state machines on an injected clock | [`session::server`], [`session::client`] |
//!
//! # Two layers, zero copies
//!
//! The **borrowed layer** ([`PacketRef`], [`decode_payload`]) reads `&str` / `&[u8]` and
//! returns views into it. It never allocates, not even for base64 data, which it checks and
//! leaves encoded ([`DataRef::Base64`]) until asked.
//!
//! The **owned layer** ([`Packet`], [`decode_payload_owned`]) turns those views into
//! [`bytes::Bytes`] slices of the received buffer (O(1), no copy), so packets can outlive the
//! call. A slice keeps its whole parent buffer alive; [`Data::detach`] copies when you hold data
//! for long. Base64 decoding is the one copy the wire format forces.
//!
//! Encoders append to a buffer you own and can reuse across calls.
//!
//! # Example: a server's polling round trip
//!
//! ```
//! use std::time::Duration;
//! use engineio_proto::*;
//!
//! // 1. The handshake request: `GET /engine.io/?EIO=4&transport=polling`.
//! let query = RequestQuery::parse("EIO=4&transport=polling&t=PZ3xo1a").unwrap();
//! assert_eq!(query.version, Some(ProtocolVersion::V4));
//! let version = query.version.unwrap();
//!
//! // 2. Answer with the open packet (the sid is yours to choose; this crate has no RNG).
//! let open = OpenPacket {
//!     sid: "lv_VI97HAXpY6yYWAAAC".into(),
//!     upgrades: vec![Transport::Websocket],
//!     ping_interval: Duration::from_millis(25_000),
//!     ping_timeout: Duration::from_millis(20_000),
//!     max_payload: Some(1_000_000),
//! };
//! let mut body = Vec::new();
//! open.encode(&mut body);
//!
//! // 3. A POST from the client: pick the format from the Content-Type, then decode.
//! let limits = Limits::default();
//! let format = PayloadFormat::for_request(version, Some("text/plain;charset=UTF-8")).unwrap();
//! let post = b"4hello\x1ebAQIDBA==";
//! for packet in decode_payload(format, post, &limits) {
//!     match packet {
//!         Ok(p) => assert_eq!(p.packet_type, PacketType::Message),
//!         // Everything before the error was valid; now close with "parse error".
//!         Err(e) => panic!("close the session: {e}"),
//!     }
//! }
//!
//! // 4. A GET: send what is queued, as much as fits in one body.
//! let queue = vec![Packet::message("world"), Packet::new(PacketType::Ping)];
//! body.clear();
//! let sent = encode_payload(format, queue.iter().map(Packet::as_packet_ref), limits.max_payload, &mut body).unwrap();
//! assert_eq!((sent, &body[..]), (2, &b"4world\x1e2"[..]));
//! ```
//!
//! # Panics and errors
//!
//! No byte sequence from the network makes this crate panic: every input yields a value or a
//! [`DecodeError`], and every length, count and digit run from the wire is checked against
//! [`Limits`] before anything is buffered. A [`DecodeError`] tells the driver what to do on the
//! wire ([`DecodeError::http_status`], [`DecodeError::closes_session`]). [`EncodeError`] is
//! local misuse. Panics are reserved for broken internal invariants, and the documented
//! caller bugs of [`Packet::from_ref`] and [`Utf8Bytes::slice_ref`].
//!
//! # Where we are stricter than the reference
//!
//! The reference parsers are JavaScript and lenient in places; we refuse what they would turn
//! into garbage, and say so here:
//! - v3 length prefixes must be decimal digits (`" 1:"` and `"1.0:"` are refused), at most
//!   [`Limits::max_length_digits`] of them; binary records must use kind 0 or 1 and digit
//!   bytes 0..=9, and their bodies must be complete and non-empty.
//! - v3 `b<type>` packets and v3 binary frames must carry a known type (the reference yields a
//!   packet of type `undefined`).
//! - Bodies must be UTF-8 (Node substitutes U+FFFD); base64 must be the standard alphabet,
//!   padded or not (Node skips any character it does not know).
//! - `EIO` must be exactly `3` or `4` (the reference reads anything but `4` as v3).
//! - A v3 binary body with a bad record yields the records before it first (the reference
//!   decodes the structure of the whole body before delivering any packet).
// One exception, in `utf8.rs`: `Utf8Bytes::as_str` skips the UTF-8 re-check that every
// constructor already did (measured: it was a second full pass over every payload).
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod base64;
mod error;
mod handshake;
mod json;
pub mod jsonp;
mod packet;
mod payload;
pub mod session;
mod utf8;
pub mod webtransport;

pub use error::{DecodeError, EncodeError};
pub use handshake::{ErrorCode, ErrorResponse, OpenPacket, RequestQuery, Transport};
pub use packet::{Data, DataRef, Frame, FrameKind, Packet, PacketRef, PacketType, ProtocolVersion};
pub use payload::{
    Limits, Payload, PayloadFormat, RECORD_SEPARATOR, decode_payload, decode_payload_owned,
    encode_payload, utf16_len,
};
pub use utf8::Utf8Bytes;
