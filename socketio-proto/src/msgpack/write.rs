//! Writing msgpack exactly as `notepack.io` 2.2 writes JavaScript values, and the packet
//! model's JSON (with placeholders) transcoded into it.

use std::fmt;

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// notepack's `undefined`: `fixext 1` of type 0.
pub(crate) const UNDEFINED: [u8; 3] = [0xd4, 0, 0];

/// A length that notepack refuses (2^32 or more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLong;

fn header(
    out: &mut Vec<u8>,
    length: usize,
    fix: Option<(u8, usize)>,
    wide: [u8; 3],
) -> Result<(), TooLong> {
    match fix {
        Some((base, limit)) if length < limit => out.push(base | length as u8),
        _ if length < 0x100 && wide[0] != 0 => out.extend_from_slice(&[wide[0], length as u8]),
        _ if length < 0x1_0000 => {
            out.push(wide[1]);
            out.extend_from_slice(&(length as u16).to_be_bytes());
        }
        _ => {
            let length = u32::try_from(length).map_err(|_| TooLong)?;
            out.push(wide[2]);
            out.extend_from_slice(&length.to_be_bytes());
        }
    }
    Ok(())
}

/// A string: fixstr below 32 bytes, then str 8/16/32.
pub(crate) fn str(out: &mut Vec<u8>, text: &str) -> Result<(), TooLong> {
    header(out, text.len(), Some((0xa0, 0x20)), [0xd9, 0xda, 0xdb])?;
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// A `Buffer`: bin 8/16/32.
pub(crate) fn bin(out: &mut Vec<u8>, data: &[u8]) -> Result<(), TooLong> {
    header(out, data.len(), None, [0xc4, 0xc5, 0xc6])?;
    out.extend_from_slice(data);
    Ok(())
}

/// An array header: fixarray below 16 entries, then array 16/32.
pub(crate) fn array_header(out: &mut Vec<u8>, length: usize) -> Result<(), TooLong> {
    header(out, length, Some((0x90, 0x10)), [0, 0xdc, 0xdd])
}

/// A map header: fixmap below 16 entries, then map 16/32.
pub(crate) fn map_header(out: &mut Vec<u8>, length: usize) -> Result<(), TooLong> {
    header(out, length, Some((0x80, 0x10)), [0, 0xde, 0xdf])
}

/// A JavaScript number: float 64 unless integral and finite, else the smallest integer form.
/// Integers beyond 32 bits are written as notepack does, modulo 2^64 (exact below 2^53).
pub(crate) fn number(out: &mut Vec<u8>, value: f64) {
    if value.floor() != value || !value.is_finite() {
        out.push(0xcb);
        out.extend_from_slice(&value.to_be_bytes());
    } else if value >= 0.0 {
        if value < 128.0 {
            out.push(value as u8);
        } else if value < 256.0 {
            out.extend_from_slice(&[0xcc, value as u8]);
        } else if value < 65_536.0 {
            out.push(0xcd);
            out.extend_from_slice(&(value as u16).to_be_bytes());
        } else if value < 4_294_967_296.0 {
            out.push(0xce);
            out.extend_from_slice(&(value as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&modulo_2_64(value).to_be_bytes());
        }
    } else if value >= -32.0 {
        out.push(value as i8 as u8);
    } else if value >= -128.0 {
        out.extend_from_slice(&[0xd0, value as i8 as u8]);
    } else if value >= -32_768.0 {
        out.push(0xd1);
        out.extend_from_slice(&(value as i16).to_be_bytes());
    } else if value >= -2_147_483_648.0 {
        out.push(0xd2);
        out.extend_from_slice(&(value as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&modulo_2_64(value).to_be_bytes());
    }
}

/// An integral double modulo 2^64, two's complement for negatives: the 8 bytes notepack's
/// high/low word arithmetic produces.
fn modulo_2_64(value: f64) -> u64 {
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    // `%` on doubles is exact; the remainder's magnitude is below 2^64, so it converts to an
    // i128 exactly.
    let rest = (value % TWO_64) as i128;
    rest.rem_euclid(1 << 64) as u64
}

/// What one transcoded JSON value was, for the placeholder check of the object around it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Written {
    True,
    Number(f64),
    Other,
}

/// Transcodes one JSON value into msgpack: a `DeserializeSeed` driven by `serde_json`.
///
/// With `attachments`, an object whose `_placeholder` is `true` and whose `num` indexes an
/// attachment becomes that attachment's `bin`, as the reference's `reconstructPacket` reads
/// it. `undefined_key` (top level only) appends `key: undefined` to an object lacking it.
pub(crate) struct Transcode<'o> {
    pub(crate) out: &'o mut Vec<u8>,
    pub(crate) attachments: &'o [Bytes],
    pub(crate) undefined_key: Option<&'static str>,
}

impl Transcode<'_> {
    fn nested(&mut self) -> Transcode<'_> {
        Transcode {
            out: self.out,
            attachments: self.attachments,
            undefined_key: None,
        }
    }

    /// Rewrites the provisional one-byte header at `start` for `count` entries, moving the
    /// entries to make room when the header is wider (no allocation beyond the buffer's).
    fn fix_header<E: de::Error>(&mut self, start: usize, count: usize, map: bool) -> Result<(), E> {
        let (header, len) = match (u16::try_from(count), u32::try_from(count)) {
            (Ok(n), _) => {
                let [hi, lo] = n.to_be_bytes();
                ([if map { 0xde } else { 0xdc }, hi, lo, 0, 0], 3)
            }
            (_, Ok(n)) => {
                let [a, b, c, d] = n.to_be_bytes();
                ([if map { 0xdf } else { 0xdd }, a, b, c, d], 5)
            }
            _ => return Err(E::custom("more than 2^32 - 1 entries")),
        };
        let end = self.out.len();
        self.out.resize(end + len - 1, 0);
        self.out.copy_within(start + 1..end, start + len);
        self.out[start..start + len].copy_from_slice(&header[..len]);
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Transcode<'_> {
    type Value = Written;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Written, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Writes a map key and says whether it is one the placeholder check looks at.
struct Key<'o> {
    out: &'o mut Vec<u8>,
    undefined_key: Option<&'static str>,
}

#[derive(Clone, Copy, PartialEq)]
enum KeyKind {
    Placeholder,
    Num,
    Undefined,
    Other,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = KeyKind;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<KeyKind, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Key<'_> {
    type Value = KeyKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<KeyKind, E> {
        str(self.out, key).map_err(|TooLong| E::custom("string longer than 2^32 - 1 bytes"))?;
        Ok(match key {
            "_placeholder" => KeyKind::Placeholder,
            "num" => KeyKind::Num,
            _ if Some(key) == self.undefined_key => KeyKind::Undefined,
            _ => KeyKind::Other,
        })
    }
}

impl<'de> Visitor<'de> for Transcode<'_> {
    type Value = Written;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Written, E> {
        self.out.push(if b { 0xc3 } else { 0xc2 });
        Ok(if b { Written::True } else { Written::Other })
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Written, E> {
        self.visit_f64(n as f64)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Written, E> {
        self.visit_f64(n as f64)
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Written, E> {
        number(self.out, n);
        Ok(Written::Number(n))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Written, E> {
        str(self.out, text).map_err(|TooLong| E::custom("string longer than 2^32 - 1 bytes"))?;
        Ok(Written::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Written, E> {
        self.out.push(0xc0);
        Ok(Written::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Written, A::Error> {
        let start = self.out.len();
        self.out.push(0x90);
        let mut count = 0;
        while seq.next_element_seed(self.nested())?.is_some() {
            count += 1;
        }
        if count >= 16 {
            self.fix_header(start, count, false)?;
        } else {
            self.out[start] = 0x90 | count as u8;
        }
        Ok(Written::Other)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Written, A::Error> {
        let start = self.out.len();
        self.out.push(0x80);
        let (mut count, mut placeholder, mut num, mut has_undefined_key) = (0, false, None, false);
        while let Some(kind) = map.next_key_seed(Key {
            out: self.out,
            undefined_key: self.undefined_key,
        })? {
            count += 1;
            let written = map.next_value_seed(self.nested())?;
            match kind {
                KeyKind::Placeholder => placeholder = written == Written::True,
                KeyKind::Num => {
                    num = match written {
                        Written::Number(n) => Some(n),
                        _ => None,
                    }
                }
                KeyKind::Undefined => has_undefined_key = true,
                KeyKind::Other => {}
            }
        }
        let attachment = num
            .filter(|&n| placeholder && n >= 0.0 && n.fract() == 0.0)
            .and_then(|n| self.attachments.get(n as usize));
        if let Some(attachment) = attachment {
            self.out.truncate(start);
            bin(self.out, attachment)
                .map_err(|TooLong| de::Error::custom("binary longer than 2^32 - 1 bytes"))?;
            return Ok(Written::Other);
        }
        if let Some(key) = self.undefined_key.filter(|_| !has_undefined_key) {
            str(self.out, key).map_err(|TooLong| de::Error::custom("key too long"))?;
            self.out.extend_from_slice(&UNDEFINED);
            count += 1;
        }
        if count >= 16 {
            self.fix_header(start, count, true)?;
        } else {
            self.out[start] = 0x80 | count as u8;
        }
        Ok(Written::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(value: f64) -> Vec<u8> {
        let mut out = Vec::new();
        number(&mut out, value);
        out
    }

    #[test]
    fn numbers_as_notepack_writes_them() {
        assert_eq!(num(0.0), [0x00]);
        assert_eq!(num(-0.0), [0x00]);
        assert_eq!(num(127.0), [0x7f]);
        assert_eq!(num(128.0), [0xcc, 0x80]);
        assert_eq!(num(300.0), [0xcd, 0x01, 0x2c]);
        assert_eq!(num(65_536.0), [0xce, 0, 1, 0, 0]);
        assert_eq!(num(4_294_967_296.0), [0xcf, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(num(-1.0), [0xff]);
        assert_eq!(num(-32.0), [0xe0]);
        assert_eq!(num(-33.0), [0xd0, 0xdf]);
        assert_eq!(num(-129.0), [0xd1, 0xff, 0x7f]);
        assert_eq!(
            num(-2_147_483_649.0),
            [0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]
        );
        assert_eq!(num(1.5), [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        // 2^64 wraps to 0, as notepack's word arithmetic does.
        assert_eq!(
            num(18_446_744_073_709_551_616.0),
            [0xcf, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }
}
