//! serde over the msgpack data model, as notepack writes and reads it: [`to_vec`] /
//! [`to_writer`] and [`from_slice`].
//!
//! Byte values (`serde_bytes`, [`bytes::Bytes`], `serialize_bytes`) are `bin`; strings,
//! bytes and map keys are borrowed from the input when the target type allows it (`&str`,
//! `&[u8]`); notepack's `undefined` (`d4 00 00`) reads as an absent value (`None`, or a
//! missing field with `#[serde(default)]`), and `nil` as `()` or `None`. Integers are written
//! in their smallest form, exactly (so an `u64` above 2^53 keeps its value, where a
//! JavaScript peer would round it); floats as notepack writes JavaScript numbers (integral
//! ones as integers, others as float 64). Extensions other than `undefined` read as
//! JavaScript sees them: `[type, bytes]`, an `ArrayBuffer` (type 0) as bytes, a `Date` as its
//! milliseconds. Nesting is limited to [`Limits::max_json_depth`](crate::Limits) levels.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize};

use super::error::MsgpackError;
use super::read::{Reader, Token};
use super::write;

/// Why a value does not serialize to, or deserialize from, msgpack.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The input is not one msgpack value (notepack's verdicts).
    Msgpack(MsgpackError),
    /// A string, binary or container longer than msgpack's 2^32−1.
    TooLong,
    /// The `Serialize` or `Deserialize` implementation refused (wrong type, missing field…).
    Custom(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Msgpack(err) => fmt::Display::fmt(err, f),
            Self::TooLong => f.write_str("longer than msgpack's 2^32 - 1"),
            Self::Custom(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::Custom(msg.to_string())
    }
}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::Custom(msg.to_string())
    }
}

impl From<MsgpackError> for Error {
    fn from(err: MsgpackError) -> Self {
        Self::Msgpack(err)
    }
}

impl From<write::TooLong> for Error {
    fn from(_: write::TooLong) -> Self {
        Self::TooLong
    }
}

/// Serializes `value` as msgpack into a new buffer.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    to_writer(&mut out, value)?;
    Ok(out)
}

/// Appends `value` as msgpack to `out`: with a reused buffer, nothing is allocated when the
/// serializer announces every length (as derived types, slices and maps do).
pub fn to_writer<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    value.serialize(&mut Serializer { out })
}

/// Deserializes one msgpack value that fills `input` exactly, borrowing strings and bytes
/// from it where the target allows.
pub fn from_slice<'de, T: de::Deserialize<'de>>(input: &'de [u8]) -> Result<T, Error> {
    let mut deserializer = Deserializer {
        reader: Reader::new(input),
        depth: crate::Limits::default().max_json_depth,
        peeked: None,
    };
    let value = T::deserialize(&mut deserializer)?;
    deserializer.reader.finish()?;
    Ok(value)
}

/// An integer in its smallest msgpack form, exactly.
fn integer(out: &mut Vec<u8>, value: i128) {
    match value {
        0..=0x7f => out.push(value as u8),
        -32..=-1 => out.push(value as i8 as u8),
        0x80..=0xff => out.extend_from_slice(&[0xcc, value as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(value as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(value as u32).to_be_bytes());
        }
        0x1_0000_0000.. => {
            out.push(0xcf);
            out.extend_from_slice(&(value as u64).to_be_bytes());
        }
        -0x80..=-33 => out.extend_from_slice(&[0xd0, value as i8 as u8]),
        -0x8000..=-0x81 => {
            out.push(0xd1);
            out.extend_from_slice(&(value as i16).to_be_bytes());
        }
        -0x8000_0000..=-0x8001 => {
            out.push(0xd2);
            out.extend_from_slice(&(value as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend_from_slice(&(value as i64).to_be_bytes());
        }
    }
}

struct Serializer<'o> {
    out: &'o mut Vec<u8>,
}

/// A sequence or map being written: its header is fixed once its length is known.
struct Compound<'a, 'o> {
    ser: &'a mut Serializer<'o>,
    /// Where a provisional header sits when the length was not announced.
    provisional: Option<usize>,
    count: usize,
    map: bool,
}

impl<'a, 'o> Compound<'a, 'o> {
    fn start(ser: &'a mut Serializer<'o>, len: Option<usize>, map: bool) -> Result<Self, Error> {
        let provisional = match len {
            Some(len) if map => {
                write::map_header(ser.out, len)?;
                None
            }
            Some(len) => {
                write::array_header(ser.out, len)?;
                None
            }
            None => {
                ser.out.push(0);
                Some(ser.out.len() - 1)
            }
        };
        Ok(Self {
            ser,
            provisional,
            count: 0,
            map,
        })
    }

    fn end(self) -> Result<(), Error> {
        if let Some(start) = self.provisional {
            let mut header = Vec::new();
            if self.map {
                write::map_header(&mut header, self.count)?;
            } else {
                write::array_header(&mut header, self.count)?;
            }
            self.ser.out.splice(start..start + 1, header);
        }
        Ok(())
    }
}

impl<'a, 'o> ser::Serializer for &'a mut Serializer<'o> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'o>;
    type SerializeTuple = Compound<'a, 'o>;
    type SerializeTupleStruct = Compound<'a, 'o>;
    type SerializeTupleVariant = Compound<'a, 'o>;
    type SerializeMap = Compound<'a, 'o>;
    type SerializeStruct = Compound<'a, 'o>;
    type SerializeStructVariant = Compound<'a, 'o>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push(if v { 0xc3 } else { 0xc2 });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        integer(self.out, v.into());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        integer(self.out, v.into());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        write::number(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        Ok(write::str(self.out, v)?)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        Ok(write::bin(self.out, v)?)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.push(0xc0);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.push(0x81);
        write::str(self.out, variant)?;
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, 'o>, Error> {
        Compound::start(self, len, false)
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'o>, Error> {
        Compound::start(self, Some(len), false)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'o>, Error> {
        Compound::start(self, Some(len), false)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'o>, Error> {
        self.out.push(0x81);
        write::str(self.out, variant)?;
        Compound::start(self, Some(len), false)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a, 'o>, Error> {
        Compound::start(self, len, true)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'a, 'o>, Error> {
        Compound::start(self, Some(len), true)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'o>, Error> {
        self.out.push(0x81);
        write::str(self.out, variant)?;
        Compound::start(self, Some(len), true)
    }
}

impl Compound<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.count += 1;
        value.serialize(&mut *self.ser)
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        Compound::end(self)
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        Compound::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        Compound::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        Compound::end(self)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.element(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), Error> {
        Compound::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.element(key)?;
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), Error> {
        Compound::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.element(key)?;
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), Error> {
        Compound::end(self)
    }
}

struct Deserializer<'de> {
    reader: Reader<'de>,
    depth: usize,
    /// A token read ahead by `deserialize_option`.
    peeked: Option<Token<'de>>,
}

impl<'de> Deserializer<'de> {
    fn token(&mut self) -> Result<Token<'de>, Error> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => Ok(self.reader.next()?),
        }
    }

    fn visit<V: Visitor<'de>>(&mut self, token: Token<'de>, visitor: V) -> Result<V::Value, Error> {
        match token {
            Token::Nil => visitor.visit_unit(),
            Token::Undefined => visitor.visit_none(),
            Token::Bool(b) => visitor.visit_bool(b),
            Token::Number(n) if n.fract() == 0.0 && (0.0..1.8e19).contains(&n) => {
                visitor.visit_u64(n as u64)
            }
            Token::Number(n) if n.fract() == 0.0 && (-9.2e18..0.0).contains(&n) => {
                visitor.visit_i64(n as i64)
            }
            Token::Number(n) => visitor.visit_f64(n),
            Token::U64(n) => visitor.visit_u64(n),
            Token::I64(n) => visitor.visit_i64(n),
            Token::Str(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => visitor.visit_borrowed_str(text),
                Err(_) => visitor.visit_string(String::from_utf8_lossy(bytes).into_owned()),
            },
            Token::Bin(bytes) | Token::ArrayBuffer(bytes) => visitor.visit_borrowed_bytes(bytes),
            Token::Ext(kind, bytes) => visitor.visit_seq(ExtAccess {
                kind: Some(kind),
                bytes: Some(bytes),
            }),
            Token::Date(ms) => visitor.visit_f64(ms),
            Token::Array(n) | Token::Map(n) => {
                self.depth = self.depth.checked_sub(1).ok_or(MsgpackError::TooDeep)?;
                let value = if matches!(token, Token::Array(_)) {
                    visitor.visit_seq(Entries { de: self, left: n })
                } else {
                    visitor.visit_map(Entries { de: self, left: n })
                };
                self.depth += 1;
                value
            }
        }
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let token = self.token()?;
        self.visit(token, visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.token()? {
            Token::Nil | Token::Undefined => visitor.visit_none(),
            token => {
                self.peeked = Some(token);
                visitor.visit_some(self)
            }
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.token()? {
            Token::Str(bytes) => {
                let variant = std::str::from_utf8(bytes).map_err(<Error as de::Error>::custom)?;
                visitor.visit_enum(variant.into_deserializer())
            }
            Token::Map(1) => visitor.visit_enum(Variant { de: self }),
            _ => Err(de::Error::custom(
                "an enum is a string or a map of one entry",
            )),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

/// The entries of an array or map.
struct Entries<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: u32,
}

impl<'de> SeqAccess<'de> for Entries<'_, 'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        // Not the announced count: it is the peer's word, and callers reserve from it.
        None
    }
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(&mut *self.de)
    }
}

/// An extension as JavaScript sees it: `[type, bytes]`.
struct ExtAccess<'de> {
    kind: Option<i8>,
    bytes: Option<&'de [u8]>,
}

impl<'de> SeqAccess<'de> for ExtAccess<'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if let Some(kind) = self.kind.take() {
            return seed.deserialize(kind.into_deserializer()).map(Some);
        }
        match self.bytes.take() {
            Some(bytes) => seed
                .deserialize(de::value::BorrowedBytesDeserializer::new(bytes))
                .map(Some),
            None => Ok(None),
        }
    }
}

/// `{variant: value}`.
struct Variant<'a, 'de> {
    de: &'a mut Deserializer<'de>,
}

impl<'de> de::EnumAccess<'de> for Variant<'_, 'de> {
    type Error = Error;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let value = seed.deserialize(&mut *self.de)?;
        Ok((value, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_, 'de> {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(&mut *self.de)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(&mut *self.de)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(&mut *self.de, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(&mut *self.de, visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Message<'a> {
        uid: &'a str,
        #[serde(with = "serde_bytes_like")]
        data: &'a [u8],
        count: u64,
        ratio: f64,
        #[serde(default)]
        missing: Option<u8>,
        tags: Vec<String>,
        kind: Kind,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Kind {
        Plain,
        Sized(u32),
    }

    mod serde_bytes_like {
        pub(super) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
        pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
            d: D,
        ) -> Result<&'de [u8], D::Error> {
            <&[u8] as serde::Deserialize>::deserialize(d)
        }
    }

    #[test]
    fn a_struct_round_trips_borrowing_its_strings_and_bytes() {
        let message = Message {
            uid: "ABCDEF",
            data: &[1, 2, 3],
            count: (1 << 60) + 1,
            ratio: 1.5,
            missing: None,
            tags: vec!["a".into(); 20],
            kind: Kind::Sized(7),
        };
        let bytes = to_vec(&message).unwrap_or_default();
        assert_eq!(&bytes[..5], b"\x87\xa3uid");
        let back: Message<'_> = from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, message);
        assert_eq!(back.uid.as_ptr(), bytes[6..].as_ptr(), "borrowed");
    }

    #[test]
    fn undefined_is_absent_and_nil_is_unit() {
        // {"a": undefined, "b": nil}
        let bytes = b"\x82\xa1a\xd4\x00\x00\xa1b\xc0";
        let map: BTreeMap<&str, Option<u8>> = from_slice(bytes).unwrap_or_default();
        assert_eq!(map.get("a"), Some(&None));
        assert_eq!(map.get("b"), Some(&None));
        assert_eq!(from_slice::<()>(b"\xc0"), Ok(()));
    }

    #[test]
    fn writes_match_notepack_for_javascript_numbers() {
        assert_eq!(
            to_vec(&(-33i32, 300u16, 1.0f64, 0.5f64)).unwrap_or_default(),
            b"\x94\xd0\xdf\xcd\x01\x2c\x01\xcb\x3f\xe0\0\0\0\0\0\0"
        );
    }

    #[test]
    fn hostile_input_fails_typed() {
        assert_eq!(
            from_slice::<Vec<u8>>(b"\xdd\xff\xff\xff\xff"),
            Err(Error::Msgpack(MsgpackError::CouldNotParse))
        );
        assert_eq!(
            from_slice::<u8>(b"\x01\x02"),
            Err(Error::Msgpack(MsgpackError::TrailingBytes(1)))
        );
        let deep = [vec![0x91u8; 200], vec![0xc0]].concat();
        assert_eq!(
            from_slice::<serde::de::IgnoredAny>(&deep).map(|_| ()),
            Err(Error::Msgpack(MsgpackError::TooDeep))
        );
    }
}
