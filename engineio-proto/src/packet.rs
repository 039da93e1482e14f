//! Engine.IO packets: the single-packet text form, WebSocket frames, and the borrowed and owned
//! packet types.

use bytes::Bytes;

use crate::base64;
use crate::error::{DecodeError, EncodeError};
use crate::utf8::Utf8Bytes;

/// The Engine.IO protocol revision: the `EIO` query parameter.
///
/// Every decoder takes it explicitly: v3 and v4 read the same bytes differently (`b4AQ==` is a
/// v3 binary message `<01>` but a v4 binary message of the bytes that `4AQ==` decodes to).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ProtocolVersion {
    /// Engine.IO 3 (`EIO=3`): Socket.IO 1.x and 2.x.
    V3,
    /// Engine.IO 4 (`EIO=4`): Socket.IO 3 and later.
    V4,
}

impl ProtocolVersion {
    /// The value of the `EIO` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V3 => "3",
            ProtocolVersion::V4 => "4",
        }
    }
}

/// The seven Engine.IO packet types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PacketType {
    /// `0`: the handshake, server to client (JSON data, see [`OpenPacket`](crate::OpenPacket)).
    Open,
    /// `1`: close the session (meaningful on polling).
    Close,
    /// `2`: heartbeat request (server to client in v4, client to server in v3), or `2probe`
    /// during an upgrade.
    Ping,
    /// `3`: heartbeat reply, or `3probe` during an upgrade.
    Pong,
    /// `4`: application data, text or binary.
    Message,
    /// `5`: the client switches to the new transport.
    Upgrade,
    /// `6`: releases a pending long-poll during an upgrade.
    Noop,
}

impl PacketType {
    /// All types in wire order.
    pub const ALL: [PacketType; 7] = [
        PacketType::Open,
        PacketType::Close,
        PacketType::Ping,
        PacketType::Pong,
        PacketType::Message,
        PacketType::Upgrade,
        PacketType::Noop,
    ];

    /// The type with wire number `n` (0..=6).
    pub fn from_number(n: u8) -> Option<PacketType> {
        PacketType::ALL.get(usize::from(n)).copied()
    }

    /// The type whose ASCII digit is `c` (`b'0'..=b'6'`).
    pub fn from_digit(c: u8) -> Option<PacketType> {
        PacketType::from_number(c.wrapping_sub(b'0'))
    }

    /// The wire number, 0..=6 (the raw type byte of v3 binary frames).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The ASCII digit of the text form.
    pub fn digit(self) -> u8 {
        b'0' + self as u8
    }
}

/// The data of a borrowed packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataRef<'a> {
    /// No data (`4`, `2`, …). An empty text encodes the same way and decodes as `None`.
    None,
    /// Text data: everything after the type digit, verbatim.
    Text(&'a str),
    /// Binary data from a binary frame or binary payload record.
    Binary(&'a [u8]),
    /// Binary data still in its base64 text form (`b…` packets), already checked to be valid
    /// base64. [`DataRef::decode_base64_into`] turns it into bytes; keeping it encoded is what lets
    /// the borrowed layer decode without allocating.
    Base64(&'a str),
}

impl<'a> DataRef<'a> {
    /// Whether the data is binary (raw or still base64-encoded).
    pub fn is_binary(&self) -> bool {
        matches!(self, DataRef::Binary(_) | DataRef::Base64(_))
    }

    /// The text, if this is text data.
    pub fn as_text(&self) -> Option<&'a str> {
        match *self {
            DataRef::Text(t) => Some(t),
            _ => None,
        }
    }

    /// Appends the binary data to `out`, decoding base64; returns `false` (and appends
    /// nothing) for text or no data.
    pub fn decode_base64_into(&self, out: &mut Vec<u8>) -> bool {
        match *self {
            DataRef::Binary(b) => out.extend_from_slice(b),
            DataRef::Base64(b) => base64::decode_into(b, out),
            DataRef::None | DataRef::Text(_) => return false,
        }
        true
    }

    /// Length in bytes of the binary data (decoded), or of the text.
    pub fn len(&self) -> usize {
        match *self {
            DataRef::None => 0,
            DataRef::Text(t) => t.len(),
            DataRef::Binary(b) => b.len(),
            DataRef::Base64(b) => base64::decoded_len(base64::validate(b).unwrap_or(0)),
        }
    }

    /// Whether there is no data, or the data is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A packet borrowed from the bytes it was decoded from. Decoding one allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PacketRef<'a> {
    /// The packet type.
    pub packet_type: PacketType,
    /// The packet data.
    pub data: DataRef<'a>,
}

/// Whether a WebSocket (or WebTransport) frame is text or binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// A text frame (opcode 0x1).
    Text,
    /// A binary frame (opcode 0x2).
    Binary,
}

impl<'a> PacketRef<'a> {
    /// A packet without data.
    pub fn new(packet_type: PacketType) -> Self {
        PacketRef {
            packet_type,
            data: DataRef::None,
        }
    }

    /// Decodes the text form of one packet: a WebSocket text frame, or one packet of a polling
    /// payload.
    ///
    /// ```
    /// use engineio_proto::{DataRef, PacketRef, PacketType, ProtocolVersion};
    /// let p = PacketRef::decode_text(ProtocolVersion::V4, "4hello").unwrap();
    /// assert_eq!(p.packet_type, PacketType::Message);
    /// assert_eq!(p.data, DataRef::Text("hello"));
    /// ```
    #[inline]
    pub fn decode_text(version: ProtocolVersion, text: &'a str) -> Result<Self, DecodeError> {
        let bytes = text.as_bytes();
        let first = *bytes.first().ok_or(DecodeError::EmptyPacket)?;
        if first == b'b' {
            // Slicing at 1 and 2 is safe: both bytes before the cut are checked to be ASCII.
            let (packet_type, encoded) = match version {
                ProtocolVersion::V4 => (PacketType::Message, &text[1..]),
                ProtocolVersion::V3 => {
                    let digit = bytes
                        .get(1)
                        .copied()
                        .ok_or(DecodeError::UnknownPacketType)?;
                    let t = PacketType::from_digit(digit).ok_or(DecodeError::UnknownPacketType)?;
                    (t, &text[2..])
                }
            };
            base64::validate(encoded).ok_or(DecodeError::InvalidBase64)?;
            return Ok(PacketRef {
                packet_type,
                data: DataRef::Base64(encoded),
            });
        }
        let packet_type = PacketType::from_digit(first).ok_or(DecodeError::UnknownPacketType)?;
        let data = if text.len() > 1 {
            DataRef::Text(&text[1..])
        } else {
            DataRef::None
        };
        Ok(PacketRef { packet_type, data })
    }

    /// Decodes a binary WebSocket (or WebTransport) frame.
    ///
    /// v4: the whole frame is the data of a `message`. v3: the first byte is the raw packet type
    /// (`0x04` for message), the rest is the data.
    #[inline]
    pub fn decode_binary(version: ProtocolVersion, frame: &'a [u8]) -> Result<Self, DecodeError> {
        match version {
            ProtocolVersion::V4 => Ok(PacketRef {
                packet_type: PacketType::Message,
                data: DataRef::Binary(frame),
            }),
            ProtocolVersion::V3 => {
                let (&t, rest) = frame.split_first().ok_or(DecodeError::EmptyPacket)?;
                let packet_type =
                    PacketType::from_number(t).ok_or(DecodeError::UnknownPacketType)?;
                Ok(PacketRef {
                    packet_type,
                    data: DataRef::Binary(rest),
                })
            }
        }
    }

    /// Length in bytes of the text form that [`PacketRef::encode_text`] writes.
    pub fn text_len(&self, version: ProtocolVersion) -> usize {
        match self.data {
            DataRef::None => 1,
            DataRef::Text(t) => 1 + t.len(),
            DataRef::Binary(_) | DataRef::Base64(_) => {
                let prefix = if version == ProtocolVersion::V3 { 2 } else { 1 };
                prefix + self.base64_len()
            }
        }
    }

    fn base64_len(&self) -> usize {
        match self.data {
            DataRef::Binary(b) => base64::encoded_len(b.len()),
            DataRef::Base64(b) => b.len(),
            DataRef::None | DataRef::Text(_) => 0,
        }
    }

    /// Appends the text form to `out`: the type digit and the text, or for binary data the base64
    /// form (`b<base64>` in v4, `b<type digit><base64>` in v3).
    ///
    /// Fails only for binary data on a non-message packet in v4, which the wire cannot express.
    pub fn encode_text(
        &self,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        match self.data {
            DataRef::None => out.push(self.packet_type.digit()),
            DataRef::Text(t) => {
                out.push(self.packet_type.digit());
                out.extend_from_slice(t.as_bytes());
            }
            DataRef::Binary(_) | DataRef::Base64(_) => {
                match version {
                    ProtocolVersion::V4 if self.packet_type != PacketType::Message => {
                        return Err(EncodeError::BinaryNotMessage);
                    }
                    ProtocolVersion::V4 => out.push(b'b'),
                    ProtocolVersion::V3 => out.extend_from_slice(&[b'b', self.packet_type.digit()]),
                }
                self.push_base64(out);
            }
        }
        Ok(())
    }

    fn push_base64(&self, out: &mut Vec<u8>) {
        match self.data {
            DataRef::Binary(b) => base64::encode_into(b, out),
            // Already base64: forwarded as received (valid, possibly unpadded).
            DataRef::Base64(b) => out.extend_from_slice(b.as_bytes()),
            DataRef::None | DataRef::Text(_) => {}
        }
    }

    /// Appends the payload of the WebSocket frame that carries this packet to `out` and says
    /// which kind of frame it is.
    ///
    /// Binary data goes in a binary frame (v4: the raw bytes; v3: the raw type byte, then the
    /// bytes) unless `base64` is set, the `b64` query flag of a peer that cannot take binary
    /// frames; then it goes in a text frame in base64 form. Everything else is a text frame.
    pub fn encode_frame(
        &self,
        version: ProtocolVersion,
        base64: bool,
        out: &mut Vec<u8>,
    ) -> Result<FrameKind, EncodeError> {
        if !self.data.is_binary() || base64 {
            self.encode_text(version, out)?;
            return Ok(FrameKind::Text);
        }
        match version {
            ProtocolVersion::V4 if self.packet_type != PacketType::Message => {
                return Err(EncodeError::BinaryNotMessage);
            }
            ProtocolVersion::V4 => {}
            ProtocolVersion::V3 => out.push(self.packet_type.number()),
        }
        self.data.decode_base64_into(out);
        Ok(FrameKind::Binary)
    }

    /// Copies the packet into an owned [`Packet`] (base64 data is decoded).
    ///
    /// To keep text and binary data as zero-copy slices of a received buffer, use
    /// [`Packet::from_ref`] instead.
    pub fn to_owned_packet(&self) -> Packet {
        let data = match self.data {
            DataRef::None => Data::None,
            DataRef::Text(t) => Data::Text(Utf8Bytes::from(t.to_owned())),
            DataRef::Binary(_) | DataRef::Base64(_) => {
                let mut bytes = Vec::with_capacity(self.data.len());
                self.data.decode_base64_into(&mut bytes);
                Data::Binary(Bytes::from(bytes))
            }
        };
        Packet {
            packet_type: self.packet_type,
            data,
        }
    }
}

/// The data of an owned packet.
///
/// Text and binary data decoded from a frame are slices of that frame: they keep the frame's
/// buffer alive. [`Data::detach`] copies them out.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Data {
    /// No data. An empty [`Data::Text`] encodes the same way and decodes as `None`.
    #[default]
    None,
    /// UTF-8 text.
    Text(Utf8Bytes),
    /// Binary data.
    Binary(Bytes),
}

impl Data {
    /// Borrows the data.
    pub fn as_data_ref(&self) -> DataRef<'_> {
        match self {
            Data::None => DataRef::None,
            Data::Text(t) => DataRef::Text(t.as_str()),
            Data::Binary(b) => DataRef::Binary(b),
        }
    }

    /// Copies text and binary data into buffers of their own, so that the frame they were
    /// sliced from can be freed.
    pub fn detach(&self) -> Data {
        match self {
            Data::None => Data::None,
            Data::Text(t) => Data::Text(t.detach()),
            Data::Binary(b) => Data::Binary(Bytes::copy_from_slice(b)),
        }
    }
}

/// An owned packet: what outlives the buffer it was received in, or what a session queues.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Packet {
    /// The packet type.
    pub packet_type: PacketType,
    /// The packet data.
    pub data: Data,
}

/// A WebSocket frame ready to send; building one from a [`Packet`] copies only what the wire
/// format forces (the type digit in front of text, the v3 type byte, base64).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A text frame.
    Text(Utf8Bytes),
    /// A binary frame.
    Binary(Bytes),
}

impl Packet {
    /// A packet without data.
    pub fn new(packet_type: PacketType) -> Self {
        Packet {
            packet_type,
            data: Data::None,
        }
    }

    /// A text `message`.
    pub fn message(text: impl Into<Utf8Bytes>) -> Self {
        Packet {
            packet_type: PacketType::Message,
            data: Data::Text(text.into()),
        }
    }

    /// A binary `message`.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Packet {
            packet_type: PacketType::Message,
            data: Data::Binary(data.into()),
        }
    }

    /// Borrows the packet, for encoding.
    pub fn as_packet_ref(&self) -> PacketRef<'_> {
        PacketRef {
            packet_type: self.packet_type,
            data: self.data.as_data_ref(),
        }
    }

    /// Converts a packet borrowed from `source` into an owned one whose text and binary data are
    /// slices of `source` (O(1), no copy). Base64 data is decoded into a new buffer: the one
    /// unavoidable copy.
    ///
    /// # Panics
    /// If the packet's text or binary data does not lie inside `source` (a caller bug).
    pub fn from_ref(source: &Bytes, packet: PacketRef<'_>) -> Packet {
        let data = match packet.data {
            DataRef::None => Data::None,
            DataRef::Text(t) => {
                let slice = source.slice_ref(t.as_bytes());
                Data::Text(Utf8Bytes::try_from_bytes(slice).expect("slice of a &str is UTF-8"))
            }
            DataRef::Binary(b) => Data::Binary(source.slice_ref(b)),
            DataRef::Base64(_) => {
                let mut bytes = Vec::with_capacity(packet.data.len());
                packet.data.decode_base64_into(&mut bytes);
                Data::Binary(Bytes::from(bytes))
            }
        };
        Packet {
            packet_type: packet.packet_type,
            data,
        }
    }

    /// Decodes a WebSocket text frame; the data is a slice of `frame`.
    pub fn decode_text_frame(
        version: ProtocolVersion,
        frame: &Utf8Bytes,
    ) -> Result<Packet, DecodeError> {
        let packet = PacketRef::decode_text(version, frame.as_str())?;
        Ok(Packet::from_ref(&frame.clone().into_bytes(), packet))
    }

    /// Decodes a WebSocket binary frame; the data is a slice of `frame`.
    pub fn decode_binary_frame(
        version: ProtocolVersion,
        frame: &Bytes,
    ) -> Result<Packet, DecodeError> {
        let packet = PacketRef::decode_binary(version, frame)?;
        Ok(Packet::from_ref(frame, packet))
    }

    /// The WebSocket frame for this packet (see [`PacketRef::encode_frame`] for `base64`).
    ///
    /// A v4 binary message becomes a binary frame that shares the packet's buffer: no copy.
    pub fn to_frame(&self, version: ProtocolVersion, base64: bool) -> Result<Frame, EncodeError> {
        if let (ProtocolVersion::V4, false, Data::Binary(b)) = (version, base64, &self.data) {
            if self.packet_type != PacketType::Message {
                return Err(EncodeError::BinaryNotMessage);
            }
            return Ok(Frame::Binary(b.clone()));
        }
        if let Data::Text(text) = &self.data {
            // The type digit and the text, in both versions: built as a `String`, so the text
            // we already know to be UTF-8 is not checked again.
            let mut out = String::with_capacity(1 + text.len());
            out.push(char::from(self.packet_type.digit()));
            out.push_str(text);
            return Ok(Frame::Text(Utf8Bytes::from(out)));
        }
        let packet = self.as_packet_ref();
        let mut out = Vec::with_capacity(packet.text_len(version));
        Ok(match packet.encode_frame(version, base64, &mut out)? {
            FrameKind::Binary => Frame::Binary(Bytes::from(out)),
            FrameKind::Text => Frame::Text(
                Utf8Bytes::try_from_bytes(Bytes::from(out)).expect("text form is UTF-8"),
            ),
        })
    }
}
