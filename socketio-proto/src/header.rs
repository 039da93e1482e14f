//! [`RawHeader`]: the borrowed, allocation-free view of a text packet.

use crate::error::DecodeError;
use crate::limits::Limits;
use crate::packet::{AckId, PacketType, ProtocolVersion};
use crate::validate;

/// Significant digits (after leading zeros) above which an attachment count is certainly
/// larger than any limit; keeps the parse linear and overflow-free.
const MAX_COUNT_DIGITS: usize = 19;
/// 2^53−1 has 16 digits.
const MAX_ACK_ID_DIGITS: usize = 16;

/// The header of a Socket.IO text packet, borrowed from the input:
/// `type [attachments "-"] [nsp ","] [ack-id] [json]`.
///
/// Parsing allocates nothing and checks the header exactly as the reference decoders do
/// (type, attachment count, namespace, ack id) but leaves the JSON payload unparsed: this is
/// the path for proxies and routers. Call [`validate`](Self::validate) for the reference's
/// payload rules, or use the [`Decoder`](crate::Decoder), which always validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawHeader<'a> {
    version: ProtocolVersion,
    packet_type: PacketType,
    attachments: usize,
    namespace: &'a str,
    ack_id: Option<AckId>,
    json: Option<&'a str>,
}

impl<'a> RawHeader<'a> {
    /// Parses the header of `text`, one Socket.IO text packet (an Engine.IO message without
    /// its `4` prefix).
    ///
    /// The attachment count is checked against `limits.max_attachments`, as the reference
    /// does at this point. Runs in time linear in the input and never panics.
    #[inline]
    pub fn parse(
        text: &'a str,
        version: ProtocolVersion,
        limits: &Limits,
    ) -> Result<Self, DecodeError> {
        let bytes = text.as_bytes();
        let Some(&first) = bytes.first() else {
            return Err(DecodeError::EmptyPacket);
        };
        let packet_type = match first {
            b'0'..=b'9' => PacketType::from_digit(first - b'0'),
            _ => None,
        }
        .ok_or(DecodeError::UnknownPacketType {
            found: first.is_ascii_digit().then(|| first - b'0'),
            version,
        })?;

        let mut at = 1;
        let mut attachments = 0;
        if packet_type.is_binary() {
            let dash = bytes[at..]
                .iter()
                .position(|&b| b == b'-')
                .ok_or(DecodeError::IllegalAttachmentCount)?;
            attachments = parse_attachment_count(&bytes[at..at + dash], limits)?;
            at += dash + 1;
        }

        let mut namespace = "/";
        if bytes.get(at) == Some(&b'/') {
            let end = bytes[at..]
                .iter()
                .position(|&b| b == b',')
                .map_or(bytes.len(), |comma| at + comma);
            namespace = &text[at..end];
            at = (end + 1).min(bytes.len());
        }

        let mut ack_id = None;
        match bytes.get(at) {
            Some(b'0'..=b'9') => {
                let run = bytes[at..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .unwrap_or(bytes.len() - at);
                ack_id = Some(parse_ack_id(&bytes[at..at + run])?);
                at += run;
            }
            // JavaScript's `Number(" ") == " "` reads whitespace here as ack id digits.
            Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c') => {
                return Err(DecodeError::InvalidAckId);
            }
            _ => {}
        }

        let json = (at < bytes.len()).then(|| &text[at..]);
        Ok(Self {
            version,
            packet_type,
            attachments,
            namespace,
            ack_id,
            json,
        })
    }

    /// Checks the JSON payload against the reference decoder's rules for this packet type
    /// and protocol version (without building a JSON tree). A packet without payload is always
    /// valid, as in the reference.
    #[inline]
    pub fn validate(&self) -> Result<(), DecodeError> {
        match self.json {
            Some(json) => validate::payload(self.version, self.packet_type, json),
            None => Ok(()),
        }
    }

    /// The protocol version the header was parsed as.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The packet type as written on the wire (5/6 for binary packets in both versions).
    pub fn packet_type(&self) -> PacketType {
        self.packet_type
    }

    /// The number of binary attachments that follow (at least 1 for types 5/6, else 0).
    pub fn attachments(&self) -> usize {
        self.attachments
    }

    /// The namespace as written, `/` when absent (a v4 query included).
    pub fn namespace(&self) -> &'a str {
        self.namespace
    }

    /// The namespace name: for v4, without the `?query` suffix.
    pub fn namespace_name(&self) -> &'a str {
        match self.query_split() {
            Some(at) => &self.namespace[..at],
            None => self.namespace,
        }
    }

    /// The v4 query appended to the namespace, if any.
    pub fn namespace_query(&self) -> Option<&'a str> {
        self.query_split().map(|at| &self.namespace[at + 1..])
    }

    /// The acknowledgement id, if present.
    pub fn ack_id(&self) -> Option<AckId> {
        self.ack_id
    }

    /// The raw JSON payload (everything after the ack id), if present.
    pub fn json(&self) -> Option<&'a str> {
        self.json
    }

    fn query_split(&self) -> Option<usize> {
        match self.version {
            ProtocolVersion::V4 => self.namespace.find('?'),
            ProtocolVersion::V5 => None,
        }
    }
}

/// The count between the type and `-`: decimal digits only (the reference also takes
/// anything JavaScript's `Number()` reads as an integer, such as `1e1` or ` 1`).
fn parse_attachment_count(run: &[u8], limits: &Limits) -> Result<usize, DecodeError> {
    if run.is_empty() || !run.iter().all(u8::is_ascii_digit) {
        return Err(DecodeError::IllegalAttachmentCount);
    }
    let significant = trim_leading_zeros(run);
    if significant.is_empty() {
        return Err(DecodeError::IllegalAttachmentCount);
    }
    if significant.len() > MAX_COUNT_DIGITS {
        return Err(DecodeError::TooManyAttachments);
    }
    let count = decimal(significant);
    if count > limits.max_attachments as u64 {
        return Err(DecodeError::TooManyAttachments);
    }
    // Not above `max_attachments`, so it fits.
    Ok(count as usize)
}

fn parse_ack_id(run: &[u8]) -> Result<AckId, DecodeError> {
    let significant = trim_leading_zeros(run);
    if significant.len() > MAX_ACK_ID_DIGITS {
        return Err(DecodeError::InvalidAckId);
    }
    AckId::new(decimal(significant)).ok_or(DecodeError::InvalidAckId)
}

fn trim_leading_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&b| b == b'0').count();
    &digits[zeros..]
}

/// Value of at most 19 ASCII digits (below 10^19 < 2^64).
fn decimal(digits: &[u8]) -> u64 {
    digits.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<RawHeader<'_>, DecodeError> {
        RawHeader::parse(text, ProtocolVersion::V5, &Limits::default())
    }

    #[test]
    fn header_fields() {
        let h = parse("52-/admin,13[\"a\"]").unwrap();
        assert_eq!(h.packet_type(), PacketType::BinaryEvent);
        assert_eq!(h.attachments(), 2);
        assert_eq!(h.namespace(), "/admin");
        assert_eq!(h.ack_id(), AckId::new(13));
        assert_eq!(h.json(), Some("[\"a\"]"));
    }

    #[test]
    fn leading_zeros_are_linear_and_accepted() {
        let count = format!("5{}1-[\"a\"]", "0".repeat(100_000));
        assert_eq!(parse(&count).unwrap().attachments(), 1);
        let id = format!("2{}7[\"a\"]", "0".repeat(100_000));
        assert_eq!(parse(&id).unwrap().ack_id(), AckId::new(7));
    }

    #[test]
    fn digit_runs_are_capped() {
        assert_eq!(
            parse("29007199254740991").unwrap().ack_id(),
            Some(AckId::MAX)
        );
        assert_eq!(parse("29007199254740992"), Err(DecodeError::InvalidAckId));
        let long = format!("2{}", "4".repeat(100_000));
        assert_eq!(parse(&long), Err(DecodeError::InvalidAckId));
        let count = format!("5{}-[]", "9".repeat(100_000));
        assert_eq!(parse(&count), Err(DecodeError::TooManyAttachments));
    }

    #[test]
    fn multibyte_input_never_splits_a_character() {
        for text in ["é", "2/é", "2/é,é", "5é-", "51-/é", "2€[]", "0/😀,1😀"] {
            let _ = parse(text);
        }
        assert_eq!(parse("2/é,[1]").unwrap().namespace(), "/é");
    }

    #[test]
    fn v4_query_split() {
        let limits = Limits::default();
        let h = RawHeader::parse("0/admin?a=1,", ProtocolVersion::V4, &limits).unwrap();
        assert_eq!(h.namespace(), "/admin?a=1");
        assert_eq!(h.namespace_name(), "/admin");
        assert_eq!(h.namespace_query(), Some("a=1"));
        let h = RawHeader::parse("0/admin?a=1,", ProtocolVersion::V5, &limits).unwrap();
        assert_eq!(h.namespace_name(), "/admin?a=1");
        assert_eq!(h.namespace_query(), None);
    }
}
