//! WebTransport framing (Engine.IO v4.1): every packet on the bidirectional stream is
//! prefixed by a header giving its kind (text or binary) and length.
//!
//! ```text
//! header = 1 byte  : B LLLLLLL                   if len <= 125
//!        | 3 bytes : B 1111110 + u16 BE len      if len <= 65535
//!        | 9 bytes : B 1111111 + u64 BE len      otherwise
//! B = 1 for a binary payload, 0 for text
//! ```

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{FrameKind, Packet, PacketRef, ProtocolVersion};
use crate::utf8::Utf8Bytes;

/// Largest length a JavaScript peer can express (2^53 − 1).
const MAX_SAFE_LENGTH: u64 = (1 << 53) - 1;

/// An encoded frame header: up to 9 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    bytes: [u8; 9],
    len: u8,
}

impl FrameHeader {
    /// The header for a payload of `len` bytes. A WebTransport frame cannot be empty.
    pub fn new(kind: FrameKind, len: usize) -> Result<FrameHeader, EncodeError> {
        if len == 0 {
            return Err(EncodeError::EmptyFrame);
        }
        let flag = if kind == FrameKind::Binary { 0x80 } else { 0 };
        let mut bytes = [0u8; 9];
        let header_len = if len <= 125 {
            bytes[0] = flag | len as u8;
            1
        } else if let Ok(short) = u16::try_from(len) {
            bytes[0] = flag | 126;
            bytes[1..3].copy_from_slice(&short.to_be_bytes());
            3
        } else {
            bytes[0] = flag | 127;
            bytes[1..9].copy_from_slice(&(len as u64).to_be_bytes());
            9
        };
        Ok(FrameHeader {
            bytes,
            len: header_len,
        })
    }

    /// The header bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Appends the framed packet (header, then payload) to `out`. Text packets go in text frames;
/// binary messages in binary frames holding just the data. On error `out` is left as it was.
///
/// An empty binary message goes as the text frame `b` (its base64 form): the reference would
/// write a binary frame of length zero, which every receiver, its own included, rejects.
pub fn encode_packet(packet: &PacketRef<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    let as_text = packet.data.is_binary() && packet.data.is_empty();
    // The payload goes first into `out` so it is encoded once; its header then moves in front.
    let kind = packet.encode_frame(ProtocolVersion::V4, as_text, out)?;
    let header = match FrameHeader::new(kind, out.len() - start) {
        Ok(h) => h,
        Err(e) => {
            out.truncate(start);
            return Err(e);
        }
    };
    let header = header.as_bytes();
    out.splice(start..start, header.iter().copied());
    Ok(())
}

/// Splits a WebTransport stream back into frames. Feed it the stream's chunks as they arrive,
/// in any sizes; it buffers at most one frame, and only after checking its declared length
/// against `max_payload`.
///
/// Chunks are taken as [`Bytes`]: a frame that lies whole inside one chunk is returned as a
/// slice of it, without a copy.
///
/// ```
/// use bytes::Bytes;
/// use engineio_proto::webtransport::Deframer;
/// use engineio_proto::{Data, PacketType};
/// let mut deframer = Deframer::new(1_000_000);
/// let mut chunk = Bytes::from_static(b"\x05\x341\xe2\x82\xac\x01\x32");
/// let first = deframer.decode_packet(&mut chunk).unwrap().unwrap();
/// assert_eq!(first.data, Data::Text("1€".into()));
/// let second = deframer.decode_packet(&mut chunk).unwrap().unwrap();
/// assert_eq!(second.packet_type, PacketType::Ping);
/// assert_eq!(deframer.decode_packet(&mut chunk), Ok(None)); // needs more input
/// ```
#[derive(Debug)]
pub struct Deframer {
    max_payload: usize,
    header: [u8; 9],
    header_filled: usize,
    /// Kind and length of the frame whose payload is being read.
    current: Option<(FrameKind, usize)>,
    partial: BytesMut,
    failed: Option<DecodeError>,
}

impl Deframer {
    /// A deframer that refuses frames longer than `max_payload` bytes.
    pub fn new(max_payload: usize) -> Deframer {
        Deframer {
            max_payload,
            header: [0; 9],
            header_filled: 0,
            current: None,
            partial: BytesMut::new(),
            failed: None,
        }
    }

    /// Consumes bytes from `input` until one frame is complete and returns its kind and payload;
    /// `Ok(None)` when `input` is used up first. After an error the stream is unusable: every
    /// later call returns the same error.
    pub fn decode_frame(
        &mut self,
        input: &mut Bytes,
    ) -> Result<Option<(FrameKind, Bytes)>, DecodeError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let result = self.step(input);
        if let Err(e) = result {
            self.failed = Some(e);
        }
        result
    }

    fn step(&mut self, input: &mut Bytes) -> Result<Option<(FrameKind, Bytes)>, DecodeError> {
        let (kind, len) = match self.current {
            Some(current) => current,
            None => match self.read_header(input)? {
                Some(current) => {
                    self.current = Some(current);
                    current
                }
                None => return Ok(None),
            },
        };
        let payload = if self.partial.is_empty() && input.len() >= len {
            input.split_to(len)
        } else {
            let take = (len - self.partial.len()).min(input.len());
            if self.partial.is_empty() {
                self.partial.reserve(len);
            }
            self.partial.extend_from_slice(&input[..take]);
            input.advance(take);
            if self.partial.len() < len {
                return Ok(None);
            }
            self.partial.split().freeze()
        };
        self.current = None;
        Ok(Some((kind, payload)))
    }

    fn read_header(
        &mut self,
        input: &mut Bytes,
    ) -> Result<Option<(FrameKind, usize)>, DecodeError> {
        loop {
            let needed = match self.header_filled {
                0 => 1,
                _ => match self.header[0] & 0x7f {
                    126 => 3,
                    127 => 9,
                    _ => 1,
                },
            };
            if self.header_filled == needed {
                break;
            }
            if input.is_empty() {
                return Ok(None);
            }
            let take = (needed - self.header_filled).min(input.len());
            self.header[self.header_filled..self.header_filled + take]
                .copy_from_slice(&input[..take]);
            self.header_filled += take;
            input.advance(take);
        }
        let kind = if self.header[0] & 0x80 != 0 {
            FrameKind::Binary
        } else {
            FrameKind::Text
        };
        let len = match self.header_filled {
            1 => u64::from(self.header[0] & 0x7f),
            3 => u64::from(u16::from_be_bytes([self.header[1], self.header[2]])),
            _ => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&self.header[1..9]);
                u64::from_be_bytes(be)
            }
        };
        self.header_filled = 0;
        if len == 0 {
            return Err(DecodeError::ZeroLengthFrame);
        }
        match usize::try_from(len) {
            Ok(len) if len <= self.max_payload && len as u64 <= MAX_SAFE_LENGTH => {
                Ok(Some((kind, len)))
            }
            _ => Err(DecodeError::PayloadTooLarge),
        }
    }

    /// Like [`Deframer::decode_frame`], then decodes the frame as an Engine.IO v4 packet whose
    /// data is a slice of the frame.
    pub fn decode_packet(&mut self, input: &mut Bytes) -> Result<Option<Packet>, DecodeError> {
        let Some((kind, payload)) = self.decode_frame(input)? else {
            return Ok(None);
        };
        let packet = match kind {
            FrameKind::Binary => Packet::decode_binary_frame(ProtocolVersion::V4, &payload),
            FrameKind::Text => Utf8Bytes::try_from_bytes(payload)
                .map_err(|_| DecodeError::InvalidUtf8)
                .and_then(|text| Packet::decode_text_frame(ProtocolVersion::V4, &text)),
        };
        if let Err(e) = packet {
            self.failed = Some(e);
        }
        packet.map(Some)
    }
}
