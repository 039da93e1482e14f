//! A msgpack value into the packet model: JSON text as `JSON.stringify` writes the value the
//! JavaScript decoder builds, with binaries as placeholders and attachments.
//!
//! A map is written entry by entry, duplicate keys included: a reader that keeps the last
//! value at the first position (`JSON.parse`, serde_json with `preserve_order`) gets the
//! JavaScript object. Two things that reader cannot settle are settled when the map ends:
//! `undefined` has no JSON form, so an `undefined` value is written `null` for the moment (it
//! holds its key's place should a later entry set it again) and every entry of a key whose
//! last value is `undefined` is then blanked out with spaces, as `JSON.stringify` leaves the
//! key out; and an overridden value that holds binaries is blanked to `null`, as the
//! JavaScript object no longer holds them. A last pass over the value removes the spaces
//! and renumbers the placeholders that remain, dropping the attachments of the ones that
//! went: linear in the output, and run only when something was blanked.

use std::io::Write;
use std::ops::Range;

use bytes::Bytes;

use super::error::MsgpackError;
use super::key::{Name, ShortName};
use super::read::{Conversion, Reader, Token, levels};

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
pub enum Dialect {
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
    ///
    /// `depth` bounds the nesting as [`Reader::skip`] counts it, the JSON view's levels: a
    /// `ClusterJson` binary (an object holding an array) takes two.
    pub(crate) fn value(
        &mut self,
        reader: &mut Reader<'_>,
        depth: usize,
    ) -> Result<bool, MsgpackError> {
        let (start, first_attachment) = (self.out.len(), self.attachments.len());
        let mut writer = Writer {
            sink: self,
            entries: Vec::new(),
            blanked: false,
        };
        let written = writer.value(reader, depth)?;
        if writer.blanked {
            compact(self.out, start, self.attachments, first_attachment);
        }
        Ok(written)
    }

    fn cluster(&self) -> bool {
        self.dialect != Dialect::Parser
    }

    /// The levels of the JSON view a binary takes.
    fn binary_levels(&self) -> usize {
        if self.dialect == Dialect::ClusterJson {
            2
        } else {
            1
        }
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
        self.out.extend_from_slice(PLACEHOLDER);
        push_decimal(self.out, num);
        self.out.push(b'}');
    }
}

/// How every placeholder this module writes starts (a payload key `_placeholder` is
/// refused, so no other text in the output looks like it).
const PLACEHOLDER: &[u8] = br#"{"_placeholder":true,"num":"#;

/// One value's transcoding, with what the maps being written remember.
struct Writer<'s, 'o> {
    sink: &'s mut JsonSink<'o>,
    /// The entries of the open maps of two or more entries, innermost last.
    entries: Vec<Entry>,
    /// Whether an entry was blanked out, which leaves spaces for [`compact`].
    blanked: bool,
}

/// One written entry of a map, kept until the map ends: a later entry of the same key
/// overrides its value, and removes it when that value is `undefined`.
struct Entry {
    /// The entry's bytes in the output, its leading comma included.
    bytes: Range<usize>,
    /// The key's JSON string in the output.
    key: Range<usize>,
    /// Where the value starts in the output.
    value: usize,
    /// The value is `undefined`, written `null` for the moment.
    undefined: bool,
    /// The value holds binaries (placeholders, each with its attachment).
    binaries: bool,
}

/// What a payload key is to the object it sets.
#[derive(Clone, Copy, PartialEq)]
enum KeyKind {
    /// `__proto__`: sets the prototype, never an own property.
    Proto,
    Own,
}

impl Writer<'_, '_> {
    fn value(&mut self, reader: &mut Reader<'_>, depth: usize) -> Result<bool, MsgpackError> {
        match reader.next()? {
            Token::Undefined => return Ok(false),
            Token::Nil => self.sink.out.extend_from_slice(b"null"),
            Token::Bool(b) => self
                .sink
                .out
                .extend_from_slice(if b { b"true" } else { b"false" }),
            token @ (Token::Number(_) | Token::U64(_) | Token::I64(_)) => {
                write_number(self.sink.out, token.number().unwrap_or(f64::NAN))
            }
            Token::Str(bytes) => write_string(self.sink.out, bytes),
            Token::Bin(bytes) | Token::ArrayBuffer(bytes) => {
                levels(depth, self.sink.binary_levels())?;
                self.sink.binary(bytes);
            }
            Token::Ext(kind, bytes) => {
                if let Some(ms) = timestamp(bytes).filter(|_| kind == -1 && self.sink.cluster()) {
                    write_date(self.sink.out, ms);
                    return Ok(true);
                }
                // JavaScript: `[type, Buffer]`.
                levels(depth, 1 + self.sink.binary_levels())?;
                let out = &mut *self.sink.out;
                out.push(b'[');
                if kind < 0 {
                    out.push(b'-');
                }
                push_decimal(out, usize::from(kind.unsigned_abs()));
                out.push(b',');
                self.sink.binary(bytes);
                self.sink.out.push(b']');
            }
            Token::Date(ms) => write_date(self.sink.out, ms),
            Token::Array(n) => {
                let depth = depth.checked_sub(1).ok_or(MsgpackError::TooDeep)?;
                self.sink.out.push(b'[');
                for i in 0..n {
                    if i > 0 {
                        self.sink.out.push(b',');
                    }
                    if !self.value(reader, depth)? {
                        self.sink.out.extend_from_slice(b"null");
                    }
                }
                self.sink.out.push(b']');
            }
            Token::Map(n) => self.map(reader, n, depth)?,
        }
        Ok(true)
    }

    fn map(&mut self, reader: &mut Reader<'_>, n: u32, depth: usize) -> Result<(), MsgpackError> {
        let depth = depth.checked_sub(1).ok_or(MsgpackError::TooDeep)?;
        self.sink.out.push(b'{');
        // A key can repeat only in a map of two or more entries, and a repeat matters only
        // when a value is `undefined` or holds binaries (other overridden values stay in the
        // text, for the reader to override).
        let tracked = n >= 2;
        let base = self.entries.len();
        let (mut first, mut resolve) = (true, false);
        for _ in 0..n {
            let (start, binaries) = (self.sink.out.len(), self.sink.attachments.len());
            if !first {
                self.sink.out.push(b',');
            }
            let key_start = self.sink.out.len();
            let (kind, conversion) = self.key(reader, depth)?;
            let key = key_start..self.sink.out.len();
            self.sink.out.push(b':');
            let value = self.sink.out.len();
            let defined = self.value(reader, depth)?;
            conversion?;
            if kind == KeyKind::Proto || !(defined || tracked) {
                self.sink.out.truncate(start);
                self.sink.attachments.truncate(binaries);
                continue;
            }
            if !defined {
                self.sink.out.extend_from_slice(b"null");
            }
            first = false;
            if tracked {
                let binaries = self.sink.attachments.len() > binaries;
                resolve |= binaries || !defined;
                self.entries.push(Entry {
                    bytes: start..self.sink.out.len(),
                    key,
                    value,
                    undefined: !defined,
                    binaries,
                });
            }
        }
        self.sink.out.push(b'}');
        if resolve {
            self.resolve_repeated_keys(base);
        }
        self.entries.truncate(base);
        Ok(())
    }

    /// Settles the repeated keys among the map's `entries[base..]` as the JavaScript object
    /// holds them: a key whose last value is `undefined` goes with all its entries; an
    /// overridden value that holds binaries becomes `null`, so its attachments go too. The
    /// first entry of a key stays where it is: it gives the key its place.
    fn resolve_repeated_keys(&mut self, base: usize) {
        let out = &mut *self.sink.out;
        let entries = self.entries.get(base..).unwrap_or_default();
        let key = |i: usize| entries.get(i).and_then(|e| out.get(e.key.clone()));
        // The index of the last entry of each entry's key.
        let (mut inline, mut spilled) = ([0usize; 16], Vec::new());
        let last: &mut [usize] = if entries.len() <= inline.len() {
            for (i, slot) in inline.iter_mut().enumerate().take(entries.len()) {
                *slot = (i..entries.len())
                    .rev()
                    .find(|&j| key(j) == key(i))
                    .unwrap_or(i);
            }
            &mut inline[..entries.len()]
        } else {
            // Sorted by key, then position: each key's entries in one run, its last one last.
            // No hashing: the keys are the peer's.
            let mut order: Vec<usize> = (0..entries.len()).collect();
            order.sort_by(|&a, &b| key(a).cmp(&key(b)).then(a.cmp(&b)));
            spilled.resize(entries.len(), 0);
            for run in order.chunk_by(|&a, &b| key(a) == key(b)) {
                let end = run.last().copied().unwrap_or_default();
                for &i in run {
                    spilled[i] = end;
                }
            }
            &mut spilled
        };
        let mut blanks = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let last = &entries[last[i]];
            if last.undefined {
                blanks.push((entry.bytes.clone(), false));
            } else if last.bytes != entry.bytes && entry.binaries {
                blanks.push((entry.value..entry.bytes.end, true));
            }
        }
        for (range, null) in blanks {
            if let Some(bytes) = out.get_mut(range) {
                bytes.fill(b' ');
                if null {
                    // A value holding a binary is longer than `null`.
                    if let Some(head) = bytes.get_mut(..4) {
                        head.copy_from_slice(b"null");
                    }
                }
                self.blanked = true;
            }
        }
    }

    /// Writes a map key as the JSON string of the property name JavaScript makes of it.
    /// What the conversion does comes back for the caller to raise after the value.
    fn key(
        &mut self,
        reader: &mut Reader<'_>,
        depth: usize,
    ) -> Result<(KeyKind, Conversion), MsgpackError> {
        let token = reader.next()?;
        if let Token::Str(bytes) = token {
            if bytes == b"_placeholder" {
                return Err(MsgpackError::PlaceholderKey);
            }
            write_string(self.sink.out, bytes);
            let kind = if bytes == b"__proto__" {
                KeyKind::Proto
            } else {
                KeyKind::Own
            };
            return Ok((kind, Ok(())));
        }
        self.sink.out.push(b'"');
        let mut name = JsonName {
            out: self.sink.out,
            short: ShortName::new(),
            date: false,
        };
        let conversion = reader.key(token, depth, &mut name)?;
        let (short, date) = (name.short, name.date);
        self.sink.out.push(b'"');
        let conversion = conversion
            .and(if date {
                Err(MsgpackError::UnsupportedKey)
            } else {
                Ok(())
            })
            .and(if short.is(b"_placeholder") {
                Err(MsgpackError::PlaceholderKey)
            } else {
                Ok(())
            });
        let kind = if short.is(b"__proto__") {
            KeyKind::Proto
        } else {
            KeyKind::Own
        };
        Ok((kind, conversion))
    }
}

/// A property name written as the contents of a JSON string.
struct JsonName<'o> {
    out: &'o mut Vec<u8>,
    /// The name again, to tell `_placeholder` and `__proto__`.
    short: ShortName,
    /// A date is part of the name, which then depends on the server's time zone.
    date: bool,
}

impl Name for JsonName<'_> {
    fn text(&mut self, bytes: &[u8]) {
        self.short.text(bytes);
        escape(self.out, &String::from_utf8_lossy(bytes));
    }

    fn ascii(&mut self, text: &str) {
        self.short.ascii(text);
        self.out.extend_from_slice(text.as_bytes());
    }

    fn number(&mut self, n: f64) {
        self.short.number(n);
        if n.is_nan() {
            self.out.extend_from_slice(b"NaN");
        } else if n.is_infinite() {
            self.out
                .extend_from_slice(if n > 0.0 { b"Infinity" } else { b"-Infinity" });
        } else {
            write_number(self.out, n);
        }
    }

    fn date(&mut self) {
        self.short.date();
        self.date = true;
    }
}

/// Removes from `out[start..]` the spaces blanked entries left (the JSON written here has
/// no whitespace outside strings) and the comma a blanked first entry leaves after `{`,
/// and renumbers the placeholders that remain in order, keeping only their attachments.
fn compact(out: &mut Vec<u8>, start: usize, attachments: &mut Vec<Bytes>, first: usize) {
    let (mut read, mut write, mut kept) = (start, start, first);
    while let Some(&byte) = out.get(read) {
        let end = match byte {
            b' ' => {
                read += 1;
                continue;
            }
            b',' if write > start && out.get(write - 1) == Some(&b'{') => {
                read += 1;
                continue;
            }
            b'"' => string_end(out, read),
            b'{' if out
                .get(read..)
                .is_some_and(|rest| rest.starts_with(PLACEHOLDER)) =>
            {
                let digits = read + PLACEHOLDER.len();
                let count = out
                    .get(digits..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let old = out
                    .get(digits..digits + count)
                    .unwrap_or_default()
                    .iter()
                    .fold(0usize, |n, &d| {
                        n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
                    });
                out.copy_within(read..digits, write);
                write += PLACEHOLDER.len();
                // The placeholders that remain come in their attachments' order, so each
                // moves its attachment down to the next kept slot (`kept <= old`), and its
                // number has no more digits than before: the write stays behind the read.
                if kept <= old && old < attachments.len() {
                    attachments.swap(kept, old);
                }
                let (number, at) = decimal(kept);
                let number = &number[at..];
                kept += 1;
                if let Some(slot) = out.get_mut(write..write + number.len()) {
                    slot.copy_from_slice(number);
                }
                write += number.len();
                read = digits + count;
                continue;
            }
            _ => read + 1,
        };
        out.copy_within(read..end, write);
        write += end - read;
        read = end;
    }
    out.truncate(write);
    attachments.truncate(kept);
}

/// The index just past the JSON string that starts at `at`.
fn string_end(out: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    while let Some(&byte) = out.get(i) {
        match byte {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    out.len()
}

/// A non-negative integer in decimal, without the formatting machinery.
fn push_decimal(out: &mut Vec<u8>, n: usize) {
    let (digits, at) = decimal(n);
    out.extend_from_slice(&digits[at..]);
}

/// The decimal digits of `n`: `digits[at..]`.
fn decimal(mut n: usize) -> ([u8; 20], usize) {
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
    (digits, at)
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
    out.push(b'"');
    escape(out, &String::from_utf8_lossy(bytes));
    out.push(b'"');
}

/// `text` as the contents of a JSON string, escaped as `JSON.stringify` escapes it: `"`,
/// `\`, the short forms `\b \f \n \r \t`, and `\u00xx` for the other control characters.
fn escape(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let mut plain = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let short: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0x0f)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain..i]);
        out.extend_from_slice(short);
        plain = i + 1;
    }
    out.extend_from_slice(&bytes[plain..]);
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
