//! Binary placeholders `{"_placeholder":true,"num":N}`: the check run when a binary packet
//! completes, the JSON formatter that writes them while serializing (numbers laid out by
//! [`js_number`](crate::js_number)), and the deserializer that turns them back into bytes.

use std::io;

use bytes::Bytes;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::Value;

use crate::error::DecodeError;
use crate::js_number;

/// Checks the placeholders of a completed binary packet.
///
/// The reference replaces every object whose `_placeholder` is literally `true` (later
/// duplicate keys win, as in `JSON.parse`) by `buffers[num]`, with `num` a number in
/// `0..attachments`. House rules on top: `num` must be an integer (the reference silently
/// yields `undefined` for `0.5`), and every attachment is referenced exactly once (the
/// reference allows unused and repeated attachments). Nesting beyond `max_depth` is refused
/// because the walk recurses.
///
/// `json` has passed payload validation, so it is well-formed JSON; the walk still fails
/// cleanly (never panics) on anything else.
pub(crate) fn check(
    json: Option<&[u8]>,
    attachments: usize,
    max_depth: usize,
) -> Result<(), DecodeError> {
    let mut walk = Walk {
        json: json.unwrap_or_default(),
        at: 0,
        max_depth,
        used: Used::new(attachments),
    };
    if json.is_some() {
        walk.value(0)?;
        walk.skip_whitespace();
        if walk.at != walk.json.len() {
            return Err(DecodeError::InvalidPayload);
        }
    }
    if walk.used.marked == attachments {
        Ok(())
    } else {
        Err(DecodeError::IllegalPlaceholder)
    }
}

struct Walk<'a> {
    json: &'a [u8],
    at: usize,
    max_depth: usize,
    used: Used,
}

/// Which attachments a placeholder has named: a bit set that lives in two words for the
/// first 128 attachments (the default limit is 10) and spills to the heap only beyond.
struct Used {
    len: usize,
    marked: usize,
    low: u128,
    high: Vec<u64>,
}

impl Used {
    fn new(len: usize) -> Self {
        Self {
            len,
            marked: 0,
            low: 0,
            high: vec![0; len.saturating_sub(128).div_ceil(64)],
        }
    }

    /// Marks `index` (below `len`); `false` if it was marked already.
    fn mark(&mut self, index: usize) -> bool {
        let fresh = if index < 128 {
            let bit = 1u128 << index;
            let fresh = self.low & bit == 0;
            self.low |= bit;
            fresh
        } else {
            let bit = 1u64 << ((index - 128) % 64);
            let word = &mut self.high[(index - 128) / 64];
            let fresh = *word & bit == 0;
            *word |= bit;
            fresh
        };
        self.marked += usize::from(fresh);
        fresh
    }
}

enum Key {
    Placeholder,
    Num,
    Other,
}

impl<'a> Walk<'a> {
    fn peek(&self) -> Option<u8> {
        self.json.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(crate::json::is_whitespace) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), DecodeError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(drop),
            Some(_) => {
                self.scalar();
                Ok(())
            }
            None => Err(DecodeError::InvalidPayload),
        }
    }

    fn enter(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth > self.max_depth {
            return Err(DecodeError::PayloadTooDeep);
        }
        self.at += 1;
        self.skip_whitespace();
        Ok(())
    }

    /// After a member: `,` continues (true), `close` ends (false).
    fn next_member(&mut self, close: u8) -> Result<bool, DecodeError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.at += 1;
                Ok(false)
            }
            _ => Err(DecodeError::InvalidPayload),
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), DecodeError> {
        self.enter(depth)?;
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.value(depth)?;
            if !self.next_member(b']')? {
                return Ok(());
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), DecodeError> {
        self.enter(depth)?;
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        let mut is_placeholder = false;
        let mut num = None;
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(DecodeError::InvalidPayload);
            }
            let key = key_kind(self.string()?);
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(DecodeError::InvalidPayload);
            }
            self.at += 1;
            self.skip_whitespace();
            match (key, self.peek()) {
                (Key::Placeholder, Some(b't')) => is_placeholder = self.scalar() == b"true",
                (Key::Num, Some(b'-' | b'0'..=b'9')) => num = Some(self.scalar()),
                (key, _) => {
                    match key {
                        Key::Placeholder => is_placeholder = false,
                        Key::Num => num = None,
                        Key::Other => {}
                    }
                    self.value(depth)?;
                }
            }
            if !self.next_member(b'}')? {
                break;
            }
        }
        if is_placeholder {
            let index = placeholder_index(num, self.used.len)?;
            if !self.used.mark(index) {
                return Err(DecodeError::IllegalPlaceholder);
            }
        }
        Ok(())
    }

    /// A string token, quotes included.
    fn string(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.at;
        self.at += 1;
        loop {
            let rest = self.json.get(self.at..).unwrap_or_default();
            match rest.iter().position(|&b| b == b'"' || b == b'\\') {
                Some(i) if rest[i] == b'"' => {
                    self.at += i + 1;
                    return Ok(&self.json[start..self.at]);
                }
                // A backslash and the byte it escapes.
                Some(i) => self.at += i + 2,
                None => return Err(DecodeError::InvalidPayload),
            }
        }
    }

    /// A number or literal token.
    fn scalar(&mut self) -> &'a [u8] {
        let start = self.at;
        while let Some(b) = self.peek() {
            if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.at += 1;
        }
        &self.json[start..self.at]
    }
}

fn key_kind(token: &[u8]) -> Key {
    let inner = token.get(1..token.len() - 1).unwrap_or_default();
    let decoded;
    let name = if inner.contains(&b'\\') {
        // `JSON.parse` unescapes keys, so `"_place\u0068older"` counts.
        match serde_json::from_slice::<String>(token) {
            Ok(text) => {
                decoded = text;
                decoded.as_bytes()
            }
            Err(_) => return Key::Other,
        }
    } else {
        inner
    };
    match name {
        b"_placeholder" => Key::Placeholder,
        b"num" => Key::Num,
        _ => Key::Other,
    }
}

/// `num` must be an integer-valued JSON number in `0..attachments`; `1.0` and `-0` pass, as
/// they index the same buffer in JavaScript.
fn placeholder_index(num: Option<&[u8]>, attachments: usize) -> Result<usize, DecodeError> {
    let raw = num.ok_or(DecodeError::IllegalPlaceholder)?;
    // Plain digits, as every encoder writes them: no float parse. (The JSON grammar has been
    // checked, so there are no leading zeros; 15 digits cannot overflow.)
    if (1..=15).contains(&raw.len()) && raw.iter().all(u8::is_ascii_digit) {
        let value = raw
            .iter()
            .fold(0u64, |value, &digit| value * 10 + u64::from(digit - b'0'));
        return usize::try_from(value)
            .ok()
            .filter(|&index| index < attachments)
            .ok_or(DecodeError::IllegalPlaceholder);
    }
    let value: f64 = std::str::from_utf8(raw)
        .ok()
        .and_then(|raw| raw.parse().ok())
        .ok_or(DecodeError::IllegalPlaceholder)?;
    if value >= 0.0 && value.fract() == 0.0 && value < attachments as f64 {
        Ok(value as usize)
    } else {
        Err(DecodeError::IllegalPlaceholder)
    }
}

/// Where binary values go while serializing.
pub(crate) struct BinarySink {
    /// `None` when the packet type cannot carry attachments.
    pub(crate) attachments: Option<Vec<Bytes>>,
    pub(crate) refused: bool,
}

/// A serde_json formatter that writes exactly what `JSON.stringify` writes for the same
/// values and turns byte values (`serialize_bytes`) into placeholders and attachments in the
/// same pass.
///
/// serde_json already escapes strings as `JSON.stringify` does (`\b \t \n \f \r`, other
/// control characters as lower-case `\u00XX`, U+2028/U+2029 and non-ASCII raw). Numbers need
/// JavaScript's `Number.prototype.toString` layout: `1` not `1.0`, `1e+21`, `1e-7`.
pub(crate) struct JsFormatter<'a> {
    pub(crate) sink: &'a mut BinarySink,
}

impl serde_json::ser::Formatter for JsFormatter<'_> {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        js_number::write(
            writer,
            value < 0.0,
            zmij::Buffer::new().format_finite(value.abs()),
        )
    }

    /// An `f32` is written with its own shortest digits (`0.1`, not the `f64` widening
    /// `0.10000000149011612`).
    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        js_number::write(
            writer,
            value < 0.0,
            zmij::Buffer::new().format_finite(value.abs()),
        )
    }

    fn write_byte_array<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        value: &[u8],
    ) -> io::Result<()> {
        let Some(num) = crate::attachment::push(Bytes::copy_from_slice(value)) else {
            self.sink.refused = true;
            return Err(io::Error::other(
                "binary value in a packet without attachments",
            ));
        };
        write!(writer, "{{\"_placeholder\":true,\"num\":{num}}}")
    }
}

/// The attachment a JSON value stands for, if it is a placeholder.
fn as_placeholder<'de>(
    value: &Value,
    attachments: &'de [Bytes],
) -> Option<Result<&'de [u8], serde_json::Error>> {
    let Value::Object(map) = value else {
        return None;
    };
    if map.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    let index = map
        .get("num")
        .and_then(Value::as_f64)
        .filter(|num| *num >= 0.0 && num.fract() == 0.0 && *num < attachments.len() as f64)
        .and_then(|num| attachments.get(num as usize));
    Some(
        index
            .map(|bytes| &bytes[..])
            .ok_or_else(|| de::Error::custom("illegal attachments")),
    )
}

/// Deserializes from a parsed JSON tree, handing out each placeholder as the borrowed bytes
/// of its attachment (`visit_borrowed_bytes`; a `Vec<u8>` target gets a sequence of bytes).
pub(crate) struct PlaceholderDeserializer<'v, 'de> {
    pub(crate) value: &'v Value,
    pub(crate) attachments: &'de [Bytes],
}

impl<'v, 'de> PlaceholderDeserializer<'v, 'de> {
    fn child(&self, value: &'v Value) -> Self {
        Self {
            value,
            attachments: self.attachments,
        }
    }
}

impl<'de> Deserializer<'de> for PlaceholderDeserializer<'_, 'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if let Some(bytes) = as_placeholder(self.value, self.attachments) {
            return visitor.visit_borrowed_bytes(bytes?);
        }
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => n.clone().deserialize_any(visitor),
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(Seq {
                items: items.iter(),
                attachments: self.attachments,
            }),
            Value::Object(map) => visitor.visit_map(Members {
                members: map.iter(),
                value: None,
                attachments: self.attachments,
            }),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match as_placeholder(self.value, self.attachments) {
            Some(bytes) => {
                visitor.visit_seq(de::value::SeqDeserializer::new(bytes?.iter().copied()))
            }
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::String(variant) => visitor.visit_enum(variant.as_str().into_deserializer()),
            Value::Object(map) if map.len() == 1 => {
                let Some((variant, value)) = map.iter().next() else {
                    return Err(de::Error::custom("empty enum object"));
                };
                visitor.visit_enum(Enum {
                    variant,
                    value: self.child(value),
                })
            }
            _ => Err(de::Error::custom(
                "expected an enum: a string or a one-key object",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct map struct identifier
    }
}

struct Seq<'v, 'de> {
    items: std::slice::Iter<'v, Value>,
    attachments: &'de [Bytes],
}

impl<'de> SeqAccess<'de> for Seq<'_, 'de> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.items
            .next()
            .map(|value| {
                seed.deserialize(PlaceholderDeserializer {
                    value,
                    attachments: self.attachments,
                })
            })
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Members<'v, 'de> {
    members: serde_json::map::Iter<'v>,
    value: Option<&'v Value>,
    attachments: &'de [Bytes],
}

impl<'de> MapAccess<'de> for Members<'_, 'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.members.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        // Through a JSON value so that integer keys (`HashMap<u32, _>`) parse as serde_json's
        // own map keys do.
        seed.deserialize(MapKey(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("map value requested before its key"))?;
        seed.deserialize(PlaceholderDeserializer {
            value,
            attachments: self.attachments,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}

/// An object key: a string that integer targets parse, like serde_json's map keys.
struct MapKey<'v>(&'v str);

macro_rules! parse_key {
    ($($method:ident => $visit:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            match self.0.parse() {
                Ok(number) => visitor.$visit(number),
                Err(_) => visitor.visit_str(self.0),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for MapKey<'_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_str(self.0)
    }

    parse_key! {
        deserialize_i8 => visit_i8, deserialize_i16 => visit_i16, deserialize_i32 => visit_i32,
        deserialize_i64 => visit_i64, deserialize_u8 => visit_u8, deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32, deserialize_u64 => visit_u64,
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    forward_to_deserialize_any! {
        bool i128 u128 f32 f64 char str string bytes byte_buf option unit unit_struct seq
        tuple tuple_struct map struct identifier ignored_any
    }
}

struct Enum<'v, 'de> {
    variant: &'v str,
    value: PlaceholderDeserializer<'v, 'de>,
}

impl<'v, 'de> EnumAccess<'de> for Enum<'v, 'de> {
    type Error = serde_json::Error;
    type Variant = PlaceholderDeserializer<'v, 'de>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), Self::Error> {
        let variant = seed.deserialize(MapKey(self.variant))?;
        Ok((variant, self.value))
    }
}

impl<'de> VariantAccess<'de> for PlaceholderDeserializer<'_, 'de> {
    type Error = serde_json::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn js(value: f64) -> String {
        let mut out = Vec::new();
        let mut sink = BinarySink {
            attachments: None,
            refused: false,
        };
        let mut ser =
            serde_json::Serializer::with_formatter(&mut out, JsFormatter { sink: &mut sink });
        serde::Serialize::serialize(&value, &mut ser).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_print_as_javascript_does() {
        // Expected strings from `String(x)` in Node 20.
        let cases = [
            (1.0, "1"),
            (-1.0, "-1"),
            (-0.0, "0"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (123.456, "123.456"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e21, "1.5e+21"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000123, "0.000123"),
            (668_339_170_432_839.0 + 0.25, "668339170432839.2"), // a tie: the even digit
            (668_339_170_432_839.0 + 0.75, "668339170432839.8"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ];
        for (value, expected) in cases {
            assert_eq!(js(value), expected, "{value:e}");
        }
    }

    fn check_v(json: &str, attachments: usize) -> Result<(), DecodeError> {
        check(Some(json.as_bytes()), attachments, 128)
    }

    #[test]
    fn placeholder_rules() {
        let ph = |n: &str| format!(r#"{{"_placeholder":true,"num":{n}}}"#);
        assert_eq!(check_v(&format!("[{}]", ph("0")), 1), Ok(()));
        assert_eq!(
            check_v(&format!("[{}]", ph("1.0")), 2),
            Err(DecodeError::IllegalPlaceholder)
        );
        assert_eq!(check_v(&format!("[{},{}]", ph("1.0"), ph("-0")), 2), Ok(()));
        assert_eq!(
            check_v(&format!("[{}]", ph("0.5")), 1),
            Err(DecodeError::IllegalPlaceholder)
        );
        assert_eq!(
            check_v(&format!("[{},{}]", ph("0"), ph("0")), 1),
            Err(DecodeError::IllegalPlaceholder)
        );
        assert_eq!(
            check_v(r#"[{"num":0,"x":[1],"_placeholder":true}]"#, 1),
            Ok(())
        );
        assert_eq!(
            check_v(r#"[{"_placeholder":true,"_placeholder":false,"num":0}]"#, 1),
            Err(DecodeError::IllegalPlaceholder)
        );
        assert_eq!(
            check_v(r#"[{"_place\u0068older":true,"num":0}]"#, 1),
            Ok(())
        );
        assert_eq!(
            check_v(r#"[{"_placeholder":true}]"#, 1),
            Err(DecodeError::IllegalPlaceholder)
        );
        assert_eq!(check(None, 1, 128), Err(DecodeError::IllegalPlaceholder));
        // Escaped quotes and backslashes do not end a string early.
        assert_eq!(
            check_v(r#"[{"x":"a\"}\\","_placeholder":true,"num":0}]"#, 1),
            Ok(())
        );
        assert_eq!(
            check_v(r#"["{\"_placeholder\":true,\"num\":0}"]"#, 1),
            Err(DecodeError::IllegalPlaceholder)
        );
        // Exponents go through the number's value; long digit runs too.
        assert_eq!(check_v(&format!("[{},{}]", ph("1e0"), ph("0")), 2), Ok(()));
        for n in ["1000000000000000000000", "9007199254740993", "2", "-1"] {
            assert_eq!(
                check_v(&format!("[{}]", ph(n)), 2),
                Err(DecodeError::IllegalPlaceholder),
                "{n}"
            );
        }
        let deep = format!("{}{}{}", "[".repeat(129), ph("0"), "]".repeat(129));
        assert_eq!(check_v(&deep, 1), Err(DecodeError::PayloadTooDeep));
        let ok = format!("{}{}{}", "[".repeat(127), ph("0"), "]".repeat(127));
        assert_eq!(check_v(&ok, 1), Ok(()));
    }

    #[test]
    fn every_attachment_once_beyond_the_inline_bits() {
        let ph = |n: usize| format!(r#"{{"_placeholder":true,"num":{n}}}"#);
        let list = |nums: &[usize]| {
            let items: Vec<String> = nums.iter().map(|&n| ph(n)).collect();
            format!("[{}]", items.join(","))
        };
        let all: Vec<usize> = (0..300).rev().collect();
        assert_eq!(check_v(&list(&all), 300), Ok(()));
        let mut repeated = all.clone();
        repeated[0] = 250; // 299 is missing, 250 is named twice
        assert_eq!(
            check_v(&list(&repeated), 300),
            Err(DecodeError::IllegalPlaceholder)
        );
        assert_eq!(
            check_v(&list(&all[1..]), 300),
            Err(DecodeError::IllegalPlaceholder)
        );
        assert_eq!(
            check_v(&list(&[0, 1, 1]), 3),
            Err(DecodeError::IllegalPlaceholder)
        );
        assert_eq!(check_v(&list(&[0, 1, 2]), 3), Ok(()));
    }
}
