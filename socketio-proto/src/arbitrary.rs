//! `Arbitrary` packets for the fuzz targets: valid v5 packets built through the serde
//! builders, with arbitrarily nested arguments and binary values.

use arbitrary::{Arbitrary, Result, Unstructured};
use bytes::Bytes;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::packet::{AckId, Namespace, Packet};
use crate::validate::RESERVED_EVENT_NAMES;

/// Nesting of generated arguments, far below the decoder's depth limit.
const MAX_DEPTH: usize = 6;
/// Attachments per generated packet, the decoder's default limit.
const MAX_BINARIES: usize = 10;

/// A JSON value whose leaves may be binary.
enum Arg {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Binary(Bytes),
    List(Vec<Arg>),
    Object(Vec<(String, Arg)>),
}

impl Serialize for Arg {
    fn serialize<S: Serializer>(&self, ser: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Null => ser.serialize_unit(),
            Self::Bool(b) => ser.serialize_bool(*b),
            Self::Int(n) => ser.serialize_i64(*n),
            Self::Float(x) => ser.serialize_f64(*x),
            Self::Text(s) => ser.serialize_str(s),
            Self::Binary(bytes) => ser.serialize_bytes(bytes),
            Self::List(items) => {
                let mut seq = ser.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(members) => {
                let mut map = ser.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

struct Generator<'u, 'a> {
    u: &'u mut Unstructured<'a>,
    binaries_left: usize,
}

impl Generator<'_, '_> {
    fn arg(&mut self, depth: usize) -> Result<Arg> {
        let kinds = if depth >= MAX_DEPTH { 6 } else { 8 };
        Ok(match self.u.int_in_range(0..=kinds - 1)? {
            0 => Arg::Null,
            1 => Arg::Bool(self.u.arbitrary()?),
            2 => Arg::Int(self.u.arbitrary()?),
            3 => Arg::Float(self.u.arbitrary()?),
            4 => Arg::Text(self.u.arbitrary()?),
            5 if self.binaries_left > 0 => {
                self.binaries_left -= 1;
                Arg::Binary(Bytes::from(Vec::<u8>::arbitrary(self.u)?))
            }
            5 => Arg::Null,
            6 => Arg::List(self.list(depth + 1)?),
            _ => self.object(depth + 1)?,
        })
    }

    fn list(&mut self, depth: usize) -> Result<Vec<Arg>> {
        let mut items = Vec::new();
        while items.len() < 8 && self.u.arbitrary()? {
            items.push(self.arg(depth)?);
        }
        Ok(items)
    }

    fn object(&mut self, depth: usize) -> Result<Arg> {
        let mut members = Vec::new();
        while members.len() < 8 && self.u.arbitrary()? {
            let mut key: String = self.u.arbitrary()?;
            // A generated `{"_placeholder":true,"num":0}` would be read as a real placeholder.
            if key == "_placeholder" {
                key.push('_');
            }
            let value = self.arg(depth)?;
            // A JavaScript object holds each key once; with a duplicate key, the overridden
            // value and the binaries in it are not part of the object (the decode targets
            // and the msgpack vectors cover duplicate keys in received JSON).
            if members.iter().all(|(k, _)| *k != key) {
                members.push((key, value));
            }
        }
        Ok(Arg::Object(members))
    }
}

fn namespace(u: &mut Unstructured<'_>) -> Result<Namespace> {
    let name: String = u.arbitrary()?;
    // `?` would be split off as a query by a v4 decoder.
    let name: String = name.chars().filter(|c| !matches!(c, ',' | '?')).collect();
    Ok(Namespace::new(&format!("/{name}"))
        .ok()
        .filter(|ns| ns.as_str() != "/")
        .unwrap_or_default())
}

fn ack_id(u: &mut Unstructured<'_>) -> Result<AckId> {
    Ok(AckId::new(u.arbitrary::<u64>()? & AckId::MAX.get()).unwrap_or(AckId::MAX))
}

impl<'a> Arbitrary<'a> for Packet {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let namespace = namespace(u)?;
        let mut binary = Generator {
            u,
            binaries_left: MAX_BINARIES,
        };
        let built = match binary.u.int_in_range(0..=5)? {
            0 => return Ok(Packet::connect(namespace)),
            1 => return Ok(Packet::disconnect(namespace)),
            2 => {
                let mut plain = Generator {
                    u: binary.u,
                    binaries_left: 0,
                };
                let auth = plain.object(1)?;
                Packet::connect_with(namespace, &auth)
            }
            3 => {
                let message: String = binary.u.arbitrary()?;
                Packet::connect_error(namespace, &message)
            }
            4 => {
                let mut event: String = binary.u.arbitrary()?;
                if RESERVED_EVENT_NAMES.contains(&event.as_str()) {
                    event.push('_');
                }
                let args = binary.list(1)?;
                let id = if binary.u.arbitrary()? {
                    Some(ack_id(binary.u)?)
                } else {
                    None
                };
                Packet::event(namespace, &event, &args, id)
            }
            _ => {
                let args = binary.list(1)?;
                let id = ack_id(binary.u)?;
                Packet::ack(namespace, id, &args)
            }
        };
        built.map_err(|_| arbitrary::Error::IncorrectFormat)
    }
}
