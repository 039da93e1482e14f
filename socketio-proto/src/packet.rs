//! The packet model, independent of the wire format: [`Packet`], [`PacketType`],
//! [`Namespace`], [`AckId`].

use std::fmt;

use bytes::Bytes;

use crate::Utf8Bytes;
use crate::error::EncodeError;
pub use crate::version::ProtocolVersion;

/// The seven Socket.IO packet types, numbered as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PacketType {
    /// `0`: join a namespace (client) or confirm the join (server).
    Connect = 0,
    /// `1`: leave a namespace.
    Disconnect = 1,
    /// `2`: an event, `[name, ...args]`.
    Event = 2,
    /// `3`: the reply to an event that carried an ack id, `[...args]`.
    Ack = 3,
    /// `4`: CONNECT_ERROR in v5 (namespace join refused); called ERROR in v4.
    ConnectError = 4,
    /// `5`: an event with binary attachments. A v5 decoder reports these as
    /// [`Event`](Self::Event); a v4 decoder keeps type 5, as the references do.
    BinaryEvent = 5,
    /// `6`: an ack with binary attachments; relabelled [`Ack`](Self::Ack) by a v5 decoder.
    BinaryAck = 6,
}

impl PacketType {
    /// The type for a wire digit `0`..`6`.
    pub fn from_digit(digit: u8) -> Option<Self> {
        Some(match digit {
            0 => Self::Connect,
            1 => Self::Disconnect,
            2 => Self::Event,
            3 => Self::Ack,
            4 => Self::ConnectError,
            5 => Self::BinaryEvent,
            6 => Self::BinaryAck,
            _ => return None,
        })
    }

    /// The wire digit `0`..`6`.
    pub fn digit(self) -> u8 {
        self as u8
    }

    /// Whether the header carries an attachment count (types 5 and 6).
    pub fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }

    /// Whether packets of this type may carry binary attachments (EVENT and ACK, plain or
    /// binary).
    pub fn can_carry_attachments(self) -> bool {
        matches!(
            self,
            Self::Event | Self::Ack | Self::BinaryEvent | Self::BinaryAck
        )
    }

    /// The type written on the wire: EVENT/ACK with attachments become 5/6.
    pub(crate) fn on_wire(self, has_attachments: bool) -> Self {
        match self {
            Self::Event if has_attachments => Self::BinaryEvent,
            Self::Ack if has_attachments => Self::BinaryAck,
            other => other,
        }
    }
}

/// An acknowledgement id: an unsigned integer of at most 53 bits, since the JavaScript peer
/// holds it in a `Number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AckId(u64);

impl AckId {
    /// The largest id JavaScript represents exactly, 2^53−1.
    pub const MAX: Self = Self((1 << 53) - 1);

    /// The id, or `None` above [`AckId::MAX`].
    pub const fn new(id: u64) -> Option<Self> {
        if id <= Self::MAX.0 {
            Some(Self(id))
        } else {
            None
        }
    }

    /// The numeric value.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for AckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A namespace as written on the wire: `/` (the main namespace, never written), or a name
/// starting with `/` and free of `,`.
///
/// Protocol v4 clients append their query to the namespace (`/admin?token=1`); a v4 decoder
/// splits it off, so [`as_str`](Self::as_str) is the name and [`query`](Self::query) the
/// query. v5 does not interpret `?`: the whole text is the name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Namespace {
    wire: Utf8Bytes,
    /// Byte offset of the `?` that starts a v4 query.
    query_at: Option<usize>,
}

impl Namespace {
    /// The main namespace `/`.
    pub const fn main() -> Self {
        Self {
            wire: Utf8Bytes::from_static("/"),
            query_at: None,
        }
    }

    /// A namespace taken literally (v5 semantics: a `?` is part of the name).
    pub fn new(name: &str) -> Result<Self, EncodeError> {
        check_name(name)?;
        Ok(Self {
            wire: Utf8Bytes::copy_from_str(name),
            query_at: None,
        })
    }

    /// A namespace with a v4 query suffix: written `name?query`.
    pub fn with_query(name: &str, query: &str) -> Result<Self, EncodeError> {
        check_name(name)?;
        if name.contains('?') || query.contains(',') {
            return Err(EncodeError::InvalidNamespace);
        }
        let mut wire = String::with_capacity(name.len() + 1 + query.len());
        wire.push_str(name);
        wire.push('?');
        wire.push_str(query);
        Ok(Self {
            wire: Utf8Bytes::from(wire),
            query_at: Some(name.len()),
        })
    }

    /// Wraps a namespace slice taken from a decoded frame. `wire` starts with `/` and has no
    /// `,` by construction of the header grammar.
    pub(crate) fn from_wire(wire: Utf8Bytes, version: ProtocolVersion) -> Self {
        let query_at = match version {
            ProtocolVersion::V4 => wire.as_bytes().iter().position(|&b| b == b'?'),
            ProtocolVersion::V5 => None,
        };
        Self { wire, query_at }
    }

    /// The namespace name, without a v4 query.
    pub fn as_str(&self) -> &str {
        let wire = self.wire.as_str();
        match self.query_at {
            Some(at) => wire.get(..at).unwrap_or(wire),
            None => wire,
        }
    }

    /// The v4 query (the text after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.query_at
            .and_then(|at| self.wire.as_str().get(at + 1..))
    }

    /// The namespace as written on the wire, query included.
    pub fn wire(&self) -> &Utf8Bytes {
        &self.wire
    }

    /// Whether this is the main namespace `/`, which the encoder never writes.
    pub fn is_main(&self) -> bool {
        self.wire == "/"
    }

    /// A namespace from a msgpack packet: any string, taken as is (the msgpack parser does
    /// not check it; an unknown name is refused at CONNECT like any other).
    pub(crate) fn from_msgpack(wire: Utf8Bytes) -> Self {
        Self {
            wire,
            query_at: None,
        }
    }

    pub(crate) fn detached(&self) -> Self {
        Self {
            wire: self.wire.detach(),
            query_at: self.query_at,
        }
    }
}

fn check_name(name: &str) -> Result<(), EncodeError> {
    if name.starts_with('/') && !name.contains(',') {
        Ok(())
    } else {
        Err(EncodeError::InvalidNamespace)
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Self::main()
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.wire.as_str(), f)
    }
}

/// A complete Socket.IO packet.
///
/// The payload is kept as the JSON text received or produced (`data`), with binary values
/// replaced by placeholders that index [`attachments`](Self::attachments). Decoded packets
/// own their namespace, JSON and attachments as [`Bytes`] slices of the received frames, so a
/// packet costs no copy; [`detach`](Self::detach) copies them out when the packet will be held
/// for long. Read the payload with [`event_name`](Self::event_name),
/// [`args`](Self::args) and [`data`](Self::data); build packets with [`Packet::event`] and its
/// siblings, or [`Packet::from_parts`] for JSON text you already have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub(crate) packet_type: PacketType,
    pub(crate) namespace: Namespace,
    pub(crate) ack_id: Option<AckId>,
    pub(crate) data: Option<Utf8Bytes>,
    pub(crate) attachments: Vec<Bytes>,
}

impl Packet {
    /// Assembles a packet from raw parts.
    ///
    /// `data` is JSON text; it is not parsed here (it is what a proxy forwards untouched).
    /// Attachments are allowed on EVENT/ACK types with a payload; BINARY_EVENT/BINARY_ACK
    /// require at least one. The JSON must reference each attachment exactly once by a
    /// placeholder `{"_placeholder":true,"num":N}`.
    pub fn from_parts(
        packet_type: PacketType,
        namespace: Namespace,
        ack_id: Option<AckId>,
        data: Option<Utf8Bytes>,
        attachments: Vec<Bytes>,
    ) -> Result<Self, EncodeError> {
        let fits = if attachments.is_empty() {
            !packet_type.is_binary()
        } else {
            packet_type.can_carry_attachments() && data.is_some()
        };
        if !fits {
            return Err(EncodeError::AttachmentMismatch);
        }
        Ok(Self {
            packet_type,
            namespace,
            ack_id,
            data,
            attachments,
        })
    }

    /// The packet type, as the reference decoder of the packet's protocol version reports it:
    /// binary packets are EVENT/ACK in v5 and BINARY_EVENT/BINARY_ACK in v4.
    pub fn packet_type(&self) -> PacketType {
        self.packet_type
    }

    /// The namespace name (`/` for the main namespace), without a v4 query.
    pub fn namespace(&self) -> &str {
        self.namespace.as_str()
    }

    /// The v4 query appended to the namespace, if any.
    pub fn namespace_query(&self) -> Option<&str> {
        self.namespace.query()
    }

    /// The namespace with its wire form.
    pub fn full_namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The acknowledgement id, if the sender expects an ACK (or, for ACK packets, the id being
    /// acknowledged).
    pub fn ack_id(&self) -> Option<AckId> {
        self.ack_id
    }

    /// The JSON payload as received, placeholders included, for forwarding without parsing.
    /// `None` when the packet has no payload.
    pub fn raw_json(&self) -> Option<&Utf8Bytes> {
        self.data.as_ref()
    }

    /// The binary attachments, indexed by placeholder `num`.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Whether the packet carries binary attachments (types 5/6 on the wire).
    pub fn is_binary(&self) -> bool {
        !self.attachments.is_empty()
    }

    /// Copies the namespace, JSON and attachments into buffers of their own.
    ///
    /// A decoded packet's slices keep the received frames alive (a `Bytes` slice pins its
    /// whole parent buffer); call this before storing a packet for long, e.g. in a
    /// connection-state-recovery buffer.
    pub fn detach(&mut self) {
        self.namespace = self.namespace.detached();
        if let Some(data) = &mut self.data {
            *data = data.detach();
        }
        for attachment in &mut self.attachments {
            *attachment = Bytes::copy_from_slice(attachment);
        }
    }

    /// Splits the packet into its parts (the inverse of [`Packet::from_parts`]).
    pub fn into_parts(
        self,
    ) -> (
        PacketType,
        Namespace,
        Option<AckId>,
        Option<Utf8Bytes>,
        Vec<Bytes>,
    ) {
        (
            self.packet_type,
            self.namespace,
            self.ack_id,
            self.data,
            self.attachments,
        )
    }
}
