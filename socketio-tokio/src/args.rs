//! Arguments in and out: what an emit sends ([`IntoArgs`]), what a handler reads
//! ([`FromEvent`]: [`Data`] for typed values, [`Event`] for the packet as received).
//!
//! The convention is socketioxide's, and JavaScript's in Rust clothes: a **tuple** is the
//! argument list (`&("a", 1)` sends two arguments, `()` none); any other value is **one**
//! argument (`&"hello"`, `&vec![1, 2]`, a struct). The same holds when reading: `Data<(String,
//! u32)>` reads the first two arguments, `Data<Message>` the first. Binary values
//! ([`bytes::Bytes`], [`Attachment`](socketio_proto::Attachment), `serde_bytes`) travel as
//! attachments, by reference count, never copied.

use std::fmt;

use serde::de::{self, DeserializeOwned, Visitor};
use serde::ser::{self, Serialize};
use serde_json::value::RawValue;
use socketio_proto::{AckId, EncodeError, EventName, Namespace, Packet, PacketType};

/// What an emit sends: typed values, or a received [`Event`]'s arguments forwarded as they
/// came.
pub trait IntoArgs {
    /// The EVENT `event` with these arguments.
    fn into_event(self, namespace: Namespace, event: &str) -> Result<Packet, EncodeError>;
    /// The ACK `ack_id` with these arguments.
    fn into_ack(self, namespace: Namespace, ack_id: AckId) -> Result<Packet, EncodeError>;
}

impl<T: Serialize + ?Sized> IntoArgs for &T {
    fn into_event(self, namespace: Namespace, event: &str) -> Result<Packet, EncodeError> {
        if is_tuple(self) {
            Packet::event(namespace, event, self, None)
        } else {
            Packet::event(namespace, event, &(self,), None)
        }
    }

    fn into_ack(self, namespace: Namespace, ack_id: AckId) -> Result<Packet, EncodeError> {
        if is_tuple(self) {
            Packet::ack(namespace, ack_id, self)
        } else {
            Packet::ack(namespace, ack_id, &(self,))
        }
    }
}

/// No arguments (as `&()`).
impl IntoArgs for () {
    fn into_event(self, namespace: Namespace, event: &str) -> Result<Packet, EncodeError> {
        Packet::event(namespace, event, &(), None)
    }

    fn into_ack(self, namespace: Namespace, ack_id: AckId) -> Result<Packet, EncodeError> {
        Packet::ack(namespace, ack_id, &())
    }
}

impl IntoArgs for &Event {
    fn into_event(self, namespace: Namespace, event: &str) -> Result<Packet, EncodeError> {
        let packet = &self.packet;
        if packet.event_name().is_some_and(|name| name == event)
            && packet.namespace() == namespace.as_str()
        {
            // The same name: the packet goes out as it came, less its ack id. No copy.
            let (kind, namespace, _, data, attachments) = packet.clone().into_parts();
            return Packet::from_parts(kind, namespace, None, data, attachments);
        }
        let attachments = packet.attachments().to_vec();
        Packet::event_raw(namespace, event, &self.raw_args(), attachments)
    }

    fn into_ack(self, namespace: Namespace, ack_id: AckId) -> Result<Packet, EncodeError> {
        let packet = &self.packet;
        let args = packet.raw_args();
        let skip = usize::from(matches!(
            packet.packet_type(),
            PacketType::Event | PacketType::BinaryEvent
        ));
        let attachments = packet.attachments().to_vec();
        Packet::ack_raw(
            namespace,
            ack_id,
            args.get(skip..).unwrap_or_default(),
            attachments,
        )
    }
}

/// An event (or an acknowledgement) as it arrived: its name and arguments, read without a
/// copy. Cheap to clone (its bytes are shared).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    packet: Packet,
}

impl Event {
    pub(crate) fn new(packet: Packet) -> Event {
        Event { packet }
    }

    /// The event's name (`None` for an acknowledgement).
    pub fn name(&self) -> Option<EventName<'_>> {
        self.packet.event_name()
    }

    /// The arguments read into `T`, by the [module](self)'s convention (a tuple for several).
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, ArgsError> {
        read_args(&self.packet)
    }

    /// The arguments as raw JSON text, borrowed (binary values are placeholders; see
    /// [`attachments`](Self::attachments)).
    pub fn raw_args(&self) -> Vec<&RawValue> {
        let all = self.packet.raw_args();
        let skip = usize::from(self.packet.event_name().is_some());
        all.into_iter().skip(skip).collect()
    }

    /// The same event without its first `n` arguments (for a handler that reads a room name
    /// first and forwards the rest, binaries included). Fails when a dropped argument held
    /// a binary value.
    pub fn skip_args(&self, n: usize) -> Result<Event, EncodeError> {
        let args = self.raw_args();
        let name = self.name().map(|n| n.into_owned()).unwrap_or_default();
        let attachments = self.packet.attachments().to_vec();
        let namespace = self.packet.full_namespace().clone();
        let rest = args.get(n..).unwrap_or_default();
        Packet::event_raw(namespace, &name, rest, attachments).map(Event::new)
    }

    /// The binary attachments, in placeholder order.
    pub fn attachments(&self) -> &[bytes::Bytes] {
        self.packet.attachments()
    }

    /// The packet.
    pub fn packet(&self) -> &Packet {
        &self.packet
    }

    /// The packet, owned.
    pub fn into_packet(self) -> Packet {
        self.packet
    }
}

/// A handler's arguments that did not have the expected shape.
#[derive(Debug)]
pub struct ArgsError(serde_json::Error);

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unexpected arguments: {}", self.0)
    }
}

impl std::error::Error for ArgsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl ArgsError {
    pub(crate) fn from_json(err: serde_json::Error) -> ArgsError {
        ArgsError(err)
    }
}

/// Reads a packet's arguments into `T` by the module's convention.
pub(crate) fn read_args<T: DeserializeOwned>(packet: &Packet) -> Result<T, ArgsError> {
    match T::deserialize(Probe) {
        // `()`: no arguments wanted; any that came are ignored, as in JavaScript.
        Err(Probed::Unit) => {
            T::deserialize(de::value::UnitDeserializer::<serde_json::Error>::new())
                .map_err(ArgsError)
        }
        Err(Probed::Tuple) => packet.args::<T>().map_err(ArgsError),
        _ => packet
            .args::<(T,)>()
            .map(|(value,)| value)
            .map_err(ArgsError),
    }
}

/// What a handler can take from an event.
pub trait FromEvent: Sized {
    /// Reads it; an error means the handler is not called.
    fn from_event(event: &Event) -> Result<Self, ArgsError>;
}

/// Typed arguments (a tuple for several), deserialized with serde.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Data<T>(pub T);

impl<T: DeserializeOwned> FromEvent for Data<T> {
    fn from_event(event: &Event) -> Result<Self, ArgsError> {
        event.args().map(Data)
    }
}

impl FromEvent for Event {
    fn from_event(event: &Event) -> Result<Self, ArgsError> {
        Ok(event.clone())
    }
}

/// Whether `value` serializes as a tuple (the argument list) rather than as one value.
fn is_tuple<T: Serialize + ?Sized>(value: &T) -> bool {
    matches!(value.serialize(Probe), Err(Probed::Tuple))
}

/// A serializer and deserializer that only tell whether a tuple is asked for: the first call
/// ends the pass with its verdict.
struct Probe;

#[derive(Debug)]
enum Probed {
    Tuple,
    /// `()` when deserializing (it serializes as the empty argument list, a tuple).
    Unit,
    Other,
}

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for Probed {}

impl ser::Error for Probed {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Probed::Other
    }
}

impl de::Error for Probed {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Probed::Other
    }
}

macro_rules! other {
    ($($name:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $name(self, $(_: $arg),*) -> Result<Self::Ok, Probed> { Err(Probed::Other) })*
    };
}

impl ser::Serializer for Probe {
    type Ok = ();
    type Error = Probed;
    type SerializeSeq = ser::Impossible<(), Probed>;
    type SerializeTuple = ser::Impossible<(), Probed>;
    type SerializeTupleStruct = ser::Impossible<(), Probed>;
    type SerializeTupleVariant = ser::Impossible<(), Probed>;
    type SerializeMap = ser::Impossible<(), Probed>;
    type SerializeStruct = ser::Impossible<(), Probed>;
    type SerializeStructVariant = ser::Impossible<(), Probed>;

    other!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    /// `()`: no argument at all, an empty list.
    fn serialize_unit(self) -> Result<(), Probed> {
        Err(Probed::Tuple)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Probed> {
        Err(Probed::Other)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Probed> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Probed> {
        Err(Probed::Other)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Probed> {
        Err(Probed::Other)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Probed> {
        Err(Probed::Tuple)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Probed> {
        Err(Probed::Other)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Probed> {
        Err(Probed::Other)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Probed> {
        Err(Probed::Other)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Probed> {
        Err(Probed::Other)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Probed> {
        Err(Probed::Other)
    }
}

impl<'de> de::Deserializer<'de> for Probe {
    type Error = Probed;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed::Other)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed::Unit)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Probed> {
        Err(Probed::Tuple)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Probed> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit_struct seq tuple_struct
        map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_tuple_type<T: DeserializeOwned>() -> bool {
        matches!(T::deserialize(Probe), Err(Probed::Tuple | Probed::Unit))
    }

    #[test]
    fn a_tuple_is_the_argument_list_and_anything_else_one_argument() {
        assert!(is_tuple(&("a", 1)));
        assert!(is_tuple(&("a",)));
        assert!(is_tuple(&()));
        assert!(!is_tuple(&"a"));
        assert!(!is_tuple(&vec![1, 2]));
        assert!(is_tuple_type::<(String, u32)>());
        assert!(is_tuple_type::<()>());
        assert!(!is_tuple_type::<String>());
        assert!(!is_tuple_type::<Vec<u32>>());
        let hello = (&"hello").into_event(Namespace::main(), "say").unwrap();
        assert_eq!(hello.raw_json().unwrap().as_str(), r#"["say","hello"]"#);
        let list = (&vec![1, 2]).into_event(Namespace::main(), "say").unwrap();
        assert_eq!(list.raw_json().unwrap().as_str(), r#"["say",[1,2]]"#);
        let two = (&("a", 2)).into_event(Namespace::main(), "say").unwrap();
        assert_eq!(two.raw_json().unwrap().as_str(), r#"["say","a",2]"#);
        let event = Event::new(two);
        assert_eq!(event.args::<String>().unwrap(), "a");
        assert_eq!(event.args::<(String, u32)>().unwrap(), ("a".to_owned(), 2));
        let echoed = (&event)
            .into_ack(Namespace::main(), AckId::new(3).unwrap())
            .unwrap();
        assert_eq!(echoed.raw_json().unwrap().as_str(), r#"["a",2]"#);
    }

    #[test]
    fn unit_reads_any_arguments_and_sends_none() {
        let none = (&()).into_event(Namespace::main(), "poke").unwrap();
        assert_eq!(none.raw_json().unwrap().as_str(), r#"["poke"]"#);
        Event::new(none).args::<()>().unwrap();
        let some = (&(1, 2)).into_event(Namespace::main(), "poke").unwrap();
        Event::new(some).args::<()>().unwrap();
    }
}
