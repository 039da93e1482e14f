//! A msgpack value into the packet model: JSON text as `JSON.stringify` writes the value the
//! JavaScript decoder builds, with binaries as placeholders and attachments.

use std::io::Write;

use bytes::Bytes;

use super::MsgpackError;
use super::read::{Reader, Token};

/// Where the transcoded JSON and the binaries' positions go.
pub(crate) struct JsonSink<'o> {
    pub(crate) out: &'o mut Vec<u8>,
    /// Each binary, in placeholder order: a slice of the frame.
    pub(crate) attachments: &'o mut Vec<Bytes>,
    /// The received frame the reader walks (or a part of).
    pub(crate) frame: &'o Bytes,
    /// How the sender's JavaScript decoder reads what the packet parser's notepack 2.2 does
    /// not: see [`Dialect`].
    pub(crate) dialect: Dialect,
}

/// Which JavaScript msgpack decoder the values are read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `socket.io-msgpack-parser` (notepack 2.2): extension −1 is `[-1, Buffer]`; binaries
    /// become attachments.
    Parser,
    /// The cluster adapters (notepack 3, `@msgpack/msgpack`): extension −1 is a timestamp,
    /// a `Date` (its ISO string in JSON); binaries become attachments.
    Cluster,
    /// As `Cluster`, for values that reach the application as JSON only (`serverSideEmit`
    /// arguments, fetched sockets): a binary becomes what `JSON.stringify` makes of a
    /// Node.js `Buffer`, `{"type":"Buffer","data":[…]}`.
    ClusterJson,
}

impl JsonSink<'_> {
    /// Writes the next value; `false` when it is `undefined`, which writes nothing (the
    /// caller decides: `null` in an array, no entry in an object, no payload at the top).
    pub(crate) fn value(
        &mut self,
        reader: &mut Reader<'_>,
        depth: usize,
    ) -> Result<bool, MsgpackError> {
        match reader.next()? {
            Token::Undefined => return Ok(false),
            Token::Nil => self.out.extend_from_slice(b"null"),
            Token::Bool(b) => self
                .out
                .extend_from_slice(if b { b"true" } else { b"false" }),
            token @ (Token::Number(_) | Token::U64(_) | Token::I64(_)) => {
                write_number(self.out, token.number().unwrap_or(f64::NAN))
            }
            Token::Str(bytes) => write_string(self.out, bytes),
            Token::Bin(bytes) | Token::ArrayBuffer(bytes) => self.binary(bytes),
            Token::Ext(kind, bytes) => {
                if let Some(ms) = timestamp(bytes).filter(|_| kind == -1 && self.cluster()) {
                    write_date(self.out, ms);
                    return Ok(true);
                }
                // JavaScript: `[type, Buffer]`.
                self.out.push(b'[');
                if kind < 0 {
                    self.out.push(b'-');
                }
                push_decimal(self.out, usize::from(kind.unsigned_abs()));
                self.out.push(b',');
                self.binary(bytes);
                self.out.push(b']');
            }
            Token::Date(ms) => write_date(self.out, ms),
            Token::Array(n) => {
                let depth = depth.checked_sub(1).ok_or(MsgpackError::TooDeep)?;
                self.out.push(b'[');
                for i in 0..n {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    if !self.value(reader, depth)? {
                        self.out.extend_from_slice(b"null");
                    }
                }
                self.out.push(b']');
            }
            Token::Map(n) => {
                let depth = depth.checked_sub(1).ok_or(MsgpackError::TooDeep)?;
                self.out.push(b'{');
                let mut first = true;
                for _ in 0..n {
                    let (entry, binaries) = (self.out.len(), self.attachments.len());
                    if !first {
                        self.out.push(b',');
                    }
                    let dropped = self.key(reader)?;
                    self.out.push(b':');
                    if self.value(reader, depth)? && !dropped {
                        first = false;
                    } else {
                        // `undefined` values and `__proto__` are no own properties.
                        self.out.truncate(entry);
                        self.attachments.truncate(binaries);
                    }
                }
                self.out.push(b'}');
            }
        }
        Ok(true)
    }

    /// Writes a map key as the property name JavaScript makes of it; `true` when the key is
    /// `__proto__`, which never becomes an own property.
    fn key(&mut self, reader: &mut Reader<'_>) -> Result<bool, MsgpackError> {
        match reader.next()? {
            Token::Str(bytes) => {
                if bytes == b"_placeholder" {
                    return Err(MsgpackError::PlaceholderKey);
                }
                write_string(self.out, bytes);
                Ok(bytes == b"__proto__")
            }
            token @ (Token::Number(_) | Token::U64(_) | Token::I64(_)) => {
                let n = token.number().unwrap_or(f64::NAN);
                self.out.push(b'"');
                if n.is_nan() {
                    self.out.extend_from_slice(b"NaN");
                } else if n.is_infinite() {
                    self.out
                        .extend_from_slice(if n > 0.0 { b"Infinity" } else { b"-Infinity" });
                } else {
                    write_number(self.out, n);
                }
                self.out.push(b'"');
                Ok(false)
            }
            Token::Nil => self.literal_key(b"\"null\""),
            Token::Undefined => self.literal_key(b"\"undefined\""),
            Token::Bool(b) => self.literal_key(if b { b"\"true\"" } else { b"\"false\"" }),
            _ => Err(MsgpackError::UnsupportedKey),
        }
    }

    fn literal_key(&mut self, quoted: &[u8]) -> Result<bool, MsgpackError> {
        self.out.extend_from_slice(quoted);
        Ok(false)
    }

    fn cluster(&self) -> bool {
        self.dialect != Dialect::Parser
    }

    fn binary(&mut self, bytes: &[u8]) {
        if self.dialect == Dialect::ClusterJson {
            self.out.extend_from_slice(br#"{"type":"Buffer","data":["#);
            for (i, byte) in bytes.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                push_decimal(self.out, usize::from(*byte));
            }
            self.out.extend_from_slice(b"]}");
            return;
        }
        let num = self.attachments.len();
        self.attachments.push(self.frame.slice_ref(bytes));
        self.out
            .extend_from_slice(br#"{"_placeholder":true,"num":"#);
        push_decimal(self.out, num);
        self.out.push(b'}');
    }
}

/// A non-negative integer in decimal, without the formatting machinery.
fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// The milliseconds of a msgpack timestamp (extension −1 of 4, 8 or 12 bytes), as
/// `new Date(sec * 1e3 + nsec / 1e6)` makes them.
fn timestamp(bytes: &[u8]) -> Option<f64> {
    let (sec, nsec) = match bytes.len() {
        4 => (f64::from(u32::from_be_bytes(bytes.try_into().ok()?)), 0.0),
        8 => {
            let both = u64::from_be_bytes(bytes.try_into().ok()?);
            ((both & 0x3_ffff_ffff) as f64, (both >> 34) as f64)
        }
        12 => {
            let nsec = u32::from_be_bytes(bytes[..4].try_into().ok()?);
            let sec = i64::from_be_bytes(bytes[4..].try_into().ok()?);
            (sec as f64, f64::from(nsec))
        }
        _ => return None,
    };
    Some(sec * 1e3 + nsec / 1e6)
}

/// A number as `JSON.stringify` writes it: `null` unless finite.
pub(crate) fn write_number(out: &mut Vec<u8>, n: f64) {
    if n.is_finite() {
        crate::js_number::write(out, n < 0.0, zmij::Buffer::new().format_finite(n.abs())).ok();
    } else {
        out.extend_from_slice(b"null");
    }
}

/// A string as JSON, its bytes read as `Buffer.toString('utf8')` does (invalid sequences
/// become U+FFFD).
fn write_string(out: &mut Vec<u8>, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    serde_json::to_writer(&mut *out, text.as_ref()).ok();
}

/// `Date.prototype.toJSON`: the ISO 8601 form, or `null` outside the valid time range.
fn write_date(out: &mut Vec<u8>, ms: f64) {
    const MAX_TIME: f64 = 8.64e15;
    if ms.abs() > MAX_TIME {
        out.extend_from_slice(b"null");
        return;
    }
    // |ms| <= 8.64e15 is an exact integer in an i64.
    let ms = ms as i64;
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    out.push(b'"');
    if (0..=9999).contains(&year) {
        write!(out, "{year:04}").ok();
    } else {
        write!(
            out,
            "{}{:06}",
            if year < 0 { '-' } else { '+' },
            year.unsigned_abs()
        )
        .ok();
    }
    write!(
        out,
        "-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z\"",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
    .ok();
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(ms: f64) -> String {
        let mut out = Vec::new();
        write_date(&mut out, ms);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn dates_as_to_json_writes_them() {
        assert_eq!(date(0.0), r#""1970-01-01T00:00:00.000Z""#);
        assert_eq!(date(1_700_000_000_123.0), r#""2023-11-14T22:13:20.123Z""#);
        assert_eq!(date(-1.0), r#""1969-12-31T23:59:59.999Z""#);
        assert_eq!(date(8.64e15), r#""+275760-09-13T00:00:00.000Z""#);
        assert_eq!(date(-8.64e15), r#""-271821-04-20T00:00:00.000Z""#);
        assert_eq!(
            date(-62_198_755_200_000.0),
            r#""-000001-01-01T00:00:00.000Z""#
        );
        assert_eq!(date(8.64e15 + 1.0), "null");
    }

    #[test]
    fn timestamps_in_every_width() {
        // ADAPTERS.md §1.4: new Date(0) and new Date(1700000000123).
        assert_eq!(timestamp(&[0, 0, 0, 0]), Some(0.0));
        let t64 = [0x1d, 0x53, 0x53, 0x00, 0x65, 0x53, 0xf1, 0x00];
        assert_eq!(timestamp(&t64), Some(1_700_000_000_123.0));
        let mut t96 = vec![0x07, 0x54, 0xd4, 0xc0]; // 123 000 000 ns
        t96.extend_from_slice(&(-1i64).to_be_bytes());
        assert_eq!(timestamp(&t96), Some(-1000.0 + 123.0));
        assert_eq!(timestamp(&[1, 2, 3]), None);
    }
}
