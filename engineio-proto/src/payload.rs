//! HTTP long-polling bodies: v4 (`\x1e`-separated), v3 text (`<len>:<packet>`, lengths in
//! UTF-16 code units) and v3 binary (`<kind><digit bytes>\xff<body>` records).

use bytes::Bytes;

use crate::error::{DecodeError, EncodeError};
use crate::packet::{DataRef, Packet, PacketRef, ProtocolVersion};

/// The v4 record separator.
pub const RECORD_SEPARATOR: u8 = 0x1e;

/// Limits applied to bodies and frames from the peer. Each is checked before anything is
/// buffered or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Limits {
    /// Largest polling body or frame, in bytes. The reference's `maxHttpBufferSize`, advertised
    /// to clients as `maxPayload`. Default 1 000 000.
    pub max_payload: usize,
    /// Most packets in one polling body. The reference has no such limit (only the byte limit,
    /// which admits 500 000 one-byte packets); the default of 10 000 bounds the work and the
    /// queue growth one request can cause while leaving room for any real client's batch.
    pub max_packets: usize,
    /// Most digits in a v3 length prefix. Default 10: enough for any length under
    /// `max_payload`, with room for leading zeros, and a linear-time guard against the
    /// `99999991:4222…` class of inputs.
    pub max_length_digits: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload: 1_000_000,
            max_packets: 10_000,
            max_length_digits: 10,
        }
    }
}

impl Limits {
    /// Returns these limits with `max_payload` set.
    pub fn with_max_payload(mut self, max_payload: usize) -> Self {
        self.max_payload = max_payload;
        self
    }

    /// Returns these limits with `max_packets` set.
    pub fn with_max_packets(mut self, max_packets: usize) -> Self {
        self.max_packets = max_packets;
        self
    }

    /// Returns these limits with `max_length_digits` set.
    pub fn with_max_length_digits(mut self, max_length_digits: usize) -> Self {
        self.max_length_digits = max_length_digits;
        self
    }
}

/// The encoding of a polling body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PayloadFormat {
    /// v4: packets in text form separated by `\x1e`; binary as `b<base64>`.
    V4,
    /// v3 text: `<len>:<packet>` records, lengths in UTF-16 code units; binary as
    /// `b<type><base64>`.
    V3Text,
    /// v3 binary (XHR2): `<kind><digit bytes>\xff<body>` records; lengths in bytes.
    V3Binary,
}

impl PayloadFormat {
    /// The format of a POST body, from the protocol version and the request's `Content-Type`.
    ///
    /// v3 selects the binary decoder when the content type is exactly
    /// `application/octet-stream`, as the reference does. A v4 body of that type is refused:
    /// the reference answers 400 and closes the session.
    pub fn for_request(
        version: ProtocolVersion,
        content_type: Option<&str>,
    ) -> Result<PayloadFormat, DecodeError> {
        let binary = content_type == Some("application/octet-stream");
        match (version, binary) {
            (ProtocolVersion::V4, true) => Err(DecodeError::BinaryPayloadNotSupported),
            (ProtocolVersion::V4, false) => Ok(PayloadFormat::V4),
            (ProtocolVersion::V3, true) => Ok(PayloadFormat::V3Binary),
            (ProtocolVersion::V3, false) => Ok(PayloadFormat::V3Text),
        }
    }

    /// The format of a response body (GET) carrying `packets`.
    ///
    /// v3 uses the binary format only when the client takes binary (no `b64` flag, no JSONP) and
    /// at least one packet has binary data, as the reference does.
    pub fn for_response<'p>(
        version: ProtocolVersion,
        supports_binary: bool,
        packets: impl IntoIterator<Item = PacketRef<'p>>,
    ) -> PayloadFormat {
        match version {
            ProtocolVersion::V4 => PayloadFormat::V4,
            ProtocolVersion::V3
                if supports_binary && packets.into_iter().any(|p| p.data.is_binary()) =>
            {
                PayloadFormat::V3Binary
            }
            ProtocolVersion::V3 => PayloadFormat::V3Text,
        }
    }

    /// The protocol version this format belongs to.
    pub fn version(self) -> ProtocolVersion {
        match self {
            PayloadFormat::V4 => ProtocolVersion::V4,
            PayloadFormat::V3Text | PayloadFormat::V3Binary => ProtocolVersion::V3,
        }
    }

    /// The `Content-Type` of a body in this format, as the reference server writes it.
    pub fn content_type(self) -> &'static str {
        match self {
            PayloadFormat::V4 | PayloadFormat::V3Text => "text/plain; charset=UTF-8",
            PayloadFormat::V3Binary => "application/octet-stream",
        }
    }
}

/// Decodes a polling body into its packets, lazily and without allocating.
///
/// The iterator yields the packets in order; at the first bad packet it yields the error and
/// stops, as the reference does (the packets before it are valid and are processed; the session
/// is then closed). A body that fails as a whole (too large, not UTF-8, empty) yields just that
/// error.
///
/// ```
/// use engineio_proto::{decode_payload, DataRef, DecodeError, Limits, PayloadFormat};
/// let body = b"4hello\x1ebAQIDBA==\x1e";
/// let mut packets = decode_payload(PayloadFormat::V4, body, &Limits::default());
/// assert_eq!(packets.next().unwrap().unwrap().data, DataRef::Text("hello"));
/// assert_eq!(packets.next().unwrap().unwrap().data, DataRef::Base64("AQIDBA=="));
/// assert_eq!(packets.next().unwrap(), Err(DecodeError::EmptyPacket)); // trailing separator
/// assert_eq!(packets.next(), None);
/// ```
pub fn decode_payload<'a>(format: PayloadFormat, body: &'a [u8], limits: &Limits) -> Payload<'a> {
    let state = if body.len() > limits.max_payload {
        State::Failed(DecodeError::PayloadTooLarge)
    } else if body.is_empty() {
        State::Failed(DecodeError::EmptyPacket)
    } else {
        match format {
            PayloadFormat::V3Binary => State::V3Binary(body),
            PayloadFormat::V4 | PayloadFormat::V3Text => match core::str::from_utf8(body) {
                Err(_) => State::Failed(DecodeError::InvalidUtf8),
                Ok(text) if format == PayloadFormat::V4 => State::V4(text),
                Ok(text) => State::V3Text(text),
            },
        }
    };
    Payload {
        state,
        packets_left: limits.max_packets,
        max_digits: limits.max_length_digits,
    }
}

/// Decodes a polling body into owned packets whose data are slices of `body` (no copy but for
/// base64). Stops at the first error, after the packets before it, like [`decode_payload`].
pub fn decode_payload_owned(
    format: PayloadFormat,
    body: &Bytes,
    limits: &Limits,
) -> (Vec<Packet>, Option<DecodeError>) {
    let mut packets = Vec::new();
    for item in decode_payload(format, body, limits) {
        match item {
            Ok(p) => packets.push(Packet::from_ref(body, p)),
            Err(e) => return (packets, Some(e)),
        }
    }
    (packets, None)
}

/// The packets of a polling body: see [`decode_payload`].
#[derive(Clone, Debug)]
pub struct Payload<'a> {
    state: State<'a>,
    packets_left: usize,
    max_digits: usize,
}

#[derive(Clone, Debug)]
enum State<'a> {
    /// The rest of a v4 body after a separator (or the whole body): at least one packet, maybe
    /// empty, is still to come.
    V4(&'a str),
    V3Text(&'a str),
    V3Binary(&'a [u8]),
    Failed(DecodeError),
    Done,
}

impl<'a> Iterator for Payload<'a> {
    type Item = Result<PacketRef<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = match core::mem::replace(&mut self.state, State::Done) {
            State::Done => return None,
            State::Failed(e) => Err(e),
            State::V4(rest) => {
                let (piece, next) =
                    match rest.as_bytes().iter().position(|&b| b == RECORD_SEPARATOR) {
                        // The separator is ASCII, so both cuts are on character boundaries.
                        Some(i) => (&rest[..i], State::V4(&rest[i + 1..])),
                        None => (rest, State::Done),
                    };
                self.state = next;
                PacketRef::decode_text(ProtocolVersion::V4, piece)
            }
            State::V3Text(rest) => match next_v3_text(rest, self.max_digits) {
                Ok(None) => return None,
                Ok(Some((piece, next))) => {
                    self.state = State::V3Text(next);
                    PacketRef::decode_text(ProtocolVersion::V3, piece)
                }
                Err(e) => Err(e),
            },
            State::V3Binary(rest) => match next_v3_binary(rest, self.max_digits) {
                Ok(None) => return None,
                Ok(Some((packet, next))) => {
                    self.state = State::V3Binary(next);
                    Ok(packet)
                }
                Err(e) => Err(e),
            },
        };
        let result = result.and_then(|p| {
            if self.packets_left == 0 {
                return Err(DecodeError::TooManyPackets);
            }
            self.packets_left -= 1;
            Ok(p)
        });
        if result.is_err() {
            self.state = State::Done;
        }
        Some(result)
    }
}

impl core::iter::FusedIterator for Payload<'_> {}

/// Parses decimal digits (ASCII or raw 0..=9 bytes, per `digit`) up to `terminator`.
fn parse_length(
    bytes: &[u8],
    terminator: u8,
    max_digits: usize,
    digit: impl Fn(u8) -> Option<u8>,
) -> Result<(usize, usize), DecodeError> {
    let mut value: usize = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == terminator {
            return if i == 0 {
                Err(DecodeError::InvalidLength)
            } else {
                Ok((value, i + 1))
            };
        }
        if i >= max_digits {
            return Err(DecodeError::TooManyLengthDigits);
        }
        let d = digit(b).ok_or(DecodeError::InvalidLength)?;
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(usize::from(d)))
            .ok_or(DecodeError::TooManyLengthDigits)?;
    }
    Err(DecodeError::InvalidLength)
}

/// The next non-empty record of a v3 text body: `Ok(None)` at the end.
fn next_v3_text(mut rest: &str, max_digits: usize) -> Result<Option<(&str, &str)>, DecodeError> {
    loop {
        if rest.is_empty() {
            return Ok(None);
        }
        let (units, header) = parse_length(rest.as_bytes(), b':', max_digits, |b| {
            b.is_ascii_digit().then(|| b - b'0')
        })?;
        let body = &rest[header..];
        let end = utf16_prefix_len(body, units)?;
        rest = &body[end..];
        // Zero-length records carry nothing and are skipped, as the reference does.
        if end > 0 {
            return Ok(Some((&body[..end], rest)));
        }
    }
}

/// Byte length of the prefix of `text` that is `units` UTF-16 code units long.
fn utf16_prefix_len(text: &str, units: usize) -> Result<usize, DecodeError> {
    let bytes = text.as_bytes();
    let (mut pos, mut counted) = (0, 0);
    while counted < units {
        let &b = bytes.get(pos).ok_or(DecodeError::Truncated)?;
        counted += utf16_units_of_lead_byte(b);
        pos += 1;
    }
    if counted > units {
        return Err(DecodeError::SplitSurrogatePair);
    }
    // Step over the continuation bytes of the last character.
    while bytes.get(pos).is_some_and(|&b| b & 0xc0 == 0x80) {
        pos += 1;
    }
    Ok(pos)
}

/// UTF-16 code units of the character a UTF-8 byte starts (0 for a continuation byte).
fn utf16_units_of_lead_byte(b: u8) -> usize {
    match b {
        0x00..=0x7f | 0xc0..=0xef => 1,
        0x80..=0xbf => 0,
        _ => 2,
    }
}

/// Length of `text` in UTF-16 code units (JavaScript's `String.length`).
pub fn utf16_len(text: &str) -> usize {
    text.bytes().map(utf16_units_of_lead_byte).sum()
}

/// The next record of a v3 binary body: `Ok(None)` at the end.
fn next_v3_binary(
    rest: &[u8],
    max_digits: usize,
) -> Result<Option<(PacketRef<'_>, &[u8])>, DecodeError> {
    let Some((&kind, tail)) = rest.split_first() else {
        return Ok(None);
    };
    if kind > 1 {
        return Err(DecodeError::InvalidRecordKind);
    }
    let (len, header) = parse_length(tail, 0xff, max_digits, |b| (b <= 9).then_some(b))?;
    let tail = &tail[header..];
    let body = tail.get(..len).ok_or(DecodeError::Truncated)?;
    let packet = if kind == 0 {
        let text = core::str::from_utf8(body).map_err(|_| DecodeError::InvalidUtf8)?;
        PacketRef::decode_text(ProtocolVersion::V3, text)?
    } else {
        PacketRef::decode_binary(ProtocolVersion::V3, body)?
    };
    Ok(Some((packet, &tail[len..])))
}

/// Appends the polling body for `packets` to `out`, packing as many whole packets as fit in
/// `max_payload` bytes, and returns how many it wrote. The caller keeps the rest for the next
/// body. A packet is never split; a first packet that alone exceeds `max_payload` is still
/// written on its own, so that a queue always drains (the JS client does the same; the
/// session layer refuses to queue such packets in the first place).
///
/// An empty v3 text body is `0:`, as the reference writes it; an empty v4 body is empty.
/// On error `out` is left as it was.
///
/// ```
/// use engineio_proto::{encode_payload, Packet, PayloadFormat};
/// let queue = [Packet::message("hello"), Packet::binary(vec![1, 2, 3, 4])];
/// let mut body = Vec::new();
/// let n = encode_payload(PayloadFormat::V4, queue.iter().map(Packet::as_packet_ref), usize::MAX, &mut body)?;
/// assert_eq!((n, &body[..]), (2, &b"4hello\x1ebAQIDBA=="[..]));
/// # Ok::<(), engineio_proto::EncodeError>(())
/// ```
pub fn encode_payload<'p>(
    format: PayloadFormat,
    packets: impl IntoIterator<Item = PacketRef<'p>>,
    max_payload: usize,
    out: &mut Vec<u8>,
) -> Result<usize, EncodeError> {
    let start = out.len();
    let mut count = 0;
    for packet in packets {
        let before = out.len();
        if let Err(e) = encode_record(format, &packet, count == 0, out) {
            out.truncate(start);
            return Err(e);
        }
        if count > 0 && out.len() - start > max_payload {
            out.truncate(before);
            break;
        }
        count += 1;
    }
    if count == 0 && format == PayloadFormat::V3Text {
        out.extend_from_slice(b"0:");
    }
    Ok(count)
}

fn encode_record(
    format: PayloadFormat,
    packet: &PacketRef<'_>,
    first: bool,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    match format {
        PayloadFormat::V4 => {
            if let DataRef::Text(t) = packet.data {
                if t.as_bytes().contains(&RECORD_SEPARATOR) {
                    return Err(EncodeError::RecordSeparatorInText);
                }
            }
            if !first {
                out.push(RECORD_SEPARATOR);
            }
            packet.encode_text(ProtocolVersion::V4, out)
        }
        PayloadFormat::V3Text => {
            let units = match packet.data {
                DataRef::Text(t) => 1 + utf16_len(t),
                // Everything else is ASCII: one unit per byte.
                _ => packet.text_len(ProtocolVersion::V3),
            };
            push_decimal(units, out);
            out.push(b':');
            packet.encode_text(ProtocolVersion::V3, out)
        }
        PayloadFormat::V3Binary => {
            if packet.data.is_binary() {
                out.push(1);
                push_digit_bytes(1 + packet.data.len(), out);
                out.push(0xff);
                out.push(packet.packet_type.number());
                packet.data.decode_base64_into(out);
            } else {
                out.push(0);
                push_digit_bytes(packet.text_len(ProtocolVersion::V3), out);
                out.push(0xff);
                packet.encode_text(ProtocolVersion::V3, out)?;
            }
            Ok(())
        }
    }
}

fn push_decimal(n: usize, out: &mut Vec<u8>) {
    let start = out.len();
    push_digit_bytes(n, out);
    for d in &mut out[start..] {
        *d += b'0';
    }
}

/// Writes `n` in decimal, each digit as a raw byte value 0..=9 (the v3 binary record form).
fn push_digit_bytes(n: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}
