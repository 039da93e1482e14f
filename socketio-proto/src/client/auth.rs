//! [`Auth`]: the CONNECT payload, key order kept.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::*;

/// The auth object sent in CONNECT (socket.io-client's `auth` option), key order kept.
#[derive(Clone, Debug)]
pub struct Auth {
    pub(super) fields: Vec<(String, Box<RawValue>)>,
}

impl PartialEq for Auth {
    fn eq(&self, other: &Auth) -> bool {
        self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .zip(&other.fields)
                .all(|((k1, v1), (k2, v2))| k1 == k2 && v1.get() == v2.get())
    }
}

impl Auth {
    /// Serializes `value`, which must serialize to a JSON object, as the JS client would
    /// (compact, fields in declaration order).
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<Auth, SessionError> {
        let packet = Packet::connect_with(Namespace::main(), value).map_err(SessionError::from)?;
        let json = packet.raw_json().map_or("null", Utf8Bytes::as_str);
        Auth::from_json(json)
    }

    /// Takes JSON text of an object; values are kept verbatim. A key given twice keeps its
    /// first position and its last value, as `JSON.parse` does.
    pub fn from_json(json: &str) -> Result<Auth, SessionError> {
        let object: OrderedObject =
            serde_json::from_str(json).map_err(|_| SessionError::AuthNotAnObject)?;
        Ok(Auth { fields: object.0 })
    }

    /// The object's JSON text.
    pub fn to_json(&self) -> String {
        write_object(self.fields.iter().map(|(k, v)| (k.as_str(), v.get())))
    }
}

struct OrderedObject(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut fields: Vec<(String, Box<RawValue>)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    match fields.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = value,
                        None => fields.push((key, value)),
                    }
                }
                Ok(OrderedObject(fields))
            }
        }
        de.deserialize_map(V)
    }
}

pub(super) fn write_object<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(key).unwrap_or_else(|_| String::from("\"\"")));
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    out
}
