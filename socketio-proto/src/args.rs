//! serde integration: building packets from any `Serialize` value and reading payloads into
//! any `Deserialize` type, with binary values carried as attachments.
//!
//! Byte values are whatever serializes through `serialize_bytes`: [`bytes::Bytes`],
//! `serde_bytes` types, `&[u8]` fields marked `#[serde(with = "serde_bytes")]`. (A plain
//! `Vec<u8>` serializes as an array of numbers, as in serde_json.) When reading, a placeholder
//! is handed to the target type as borrowed bytes, so `&[u8]` fields borrow the attachment
//! without a copy, `bytes::Bytes` and `Vec<u8>` fields copy it; strings of a binary packet are
//! not borrowable (they come from a parsed tree), those of a plain packet are.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::Utf8Bytes;
use crate::attachment;
use crate::error::EncodeError;
use crate::packet::{AckId, Namespace, Packet, PacketType};
use crate::placeholder::{BinarySink, JsFormatter, PlaceholderDeserializer};
use crate::validate::{EventNameKind, classify_event_name};

/// The name of an event, as the listeners it reaches know it: the string (unescaped), or, for
/// a numeric name (protocol v5 allows it), the number as JavaScript prints it, since
/// JavaScript's listeners are keyed by strings (`socket.on("1", …)` receives `emit(1)`).
/// Borrowed from the packet unless it had to be unescaped or printed.
///
/// ```
/// # use socketio_proto::{Namespace, Packet};
/// let packet = Packet::event(Namespace::main(), "chat", &("hi",), None)?;
/// assert_eq!(packet.event_name().as_deref(), Some("chat"));
/// match packet.event_name().as_deref() {
///     Some("chat") => { /* … */ }
///     _ => unreachable!(),
/// }
/// # Ok::<(), socketio_proto::EncodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventName<'a> {
    text: Cow<'a, str>,
    number: bool,
}

impl EventName<'_> {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the name was a number on the wire.
    pub fn is_number(&self) -> bool {
        self.number
    }

    /// The name, owned.
    pub fn into_owned(self) -> String {
        self.text.into_owned()
    }
}

impl std::ops::Deref for EventName<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for EventName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq<str> for EventName<'_> {
    fn eq(&self, other: &str) -> bool {
        *self.text == *other
    }
}

impl PartialEq<&str> for EventName<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self.text == **other
    }
}

impl Packet {
    /// CONNECT without payload (a client joining without auth, or a v4 server's reply).
    pub fn connect(namespace: Namespace) -> Self {
        Self::without_data(PacketType::Connect, namespace)
    }

    /// CONNECT with a payload: the client's auth object, or the v5 server's `{"sid":…}`.
    pub fn connect_with<T: Serialize + ?Sized>(
        namespace: Namespace,
        data: &T,
    ) -> Result<Self, EncodeError> {
        let json = serialize(data, &mut sink(false))?;
        Ok(Self::with_json(
            PacketType::Connect,
            namespace,
            None,
            json,
            Vec::new(),
        ))
    }

    /// DISCONNECT.
    pub fn disconnect(namespace: Namespace) -> Self {
        Self::without_data(PacketType::Disconnect, namespace)
    }

    /// CONNECT_ERROR (v4: ERROR) with a payload, e.g. `{"message":"Invalid namespace"}`.
    pub fn connect_error<T: Serialize + ?Sized>(
        namespace: Namespace,
        data: &T,
    ) -> Result<Self, EncodeError> {
        let json = serialize(data, &mut sink(false))?;
        Ok(Self::with_json(
            PacketType::ConnectError,
            namespace,
            None,
            json,
            Vec::new(),
        ))
    }

    /// EVENT `[event, ...args]`, where `args` serializes to a JSON array (a tuple, slice,
    /// `Vec`…; `()` for none) whose elements become the arguments.
    ///
    /// Byte values anywhere in `args` become placeholders numbered in argument order and the
    /// attachments of the packet, in the same pass that writes the JSON; the packet is then
    /// sent as BINARY_EVENT. The JSON is byte-identical to the reference encoder's for the
    /// same values, numbers included: they are written as JavaScript writes them (`1.0` as
    /// `1`, `1e21` as `1e+21`, shortest digits with ties to even). Reserved event names are
    /// not refused here (the reference encoder does not either), but v5 peers reject them.
    pub fn event<T: Serialize + ?Sized>(
        namespace: Namespace,
        event: &str,
        args: &T,
        ack_id: Option<AckId>,
    ) -> Result<Self, EncodeError> {
        let mut sink = sink(true);
        let mut json = Vec::with_capacity(JSON_CAPACITY);
        json.push(b'[');
        append(&mut json, event, &mut sink)?;
        let start = json.len();
        append(&mut json, args, &mut sink)?;
        match &json[start..] {
            b"null" | b"[]" => {
                json.truncate(start);
                json.push(b']');
            }
            [b'[', ..] => json[start] = b',',
            _ => return Err(EncodeError::ArgumentsNotASequence),
        }
        let attachments = sink.attachments.unwrap_or_default();
        Ok(Self::with_json(
            PacketType::Event,
            namespace,
            ack_id,
            json,
            attachments,
        ))
    }

    /// ACK `[...args]` for the event that carried `ack_id`; `args` as for
    /// [`Packet::event`].
    pub fn ack<T: Serialize + ?Sized>(
        namespace: Namespace,
        ack_id: AckId,
        args: &T,
    ) -> Result<Self, EncodeError> {
        let mut sink = sink(true);
        let mut json = serialize(args, &mut sink)?;
        match json.first() {
            Some(b'[') => {}
            Some(b'n') => json = b"[]".to_vec(),
            _ => return Err(EncodeError::ArgumentsNotASequence),
        }
        let attachments = sink.attachments.unwrap_or_default();
        Ok(Self::with_json(
            PacketType::Ack,
            namespace,
            Some(ack_id),
            json,
            attachments,
        ))
    }

    /// The elements of an EVENT's or ACK's JSON array, each as raw JSON text borrowed from the
    /// packet (for an EVENT the first is the name). Nothing is parsed into a tree and nothing
    /// is copied, so a handler can forward, rename or echo arguments byte for byte, binary
    /// placeholders included; rebuild with [`Packet::event_raw`] or [`Packet::ack_raw`].
    /// Empty when the packet has no array payload.
    ///
    /// ```
    /// use socketio_proto::{Namespace, Packet};
    /// let packet = Packet::event(Namespace::main(), "chat", &("hi", 3), None).unwrap();
    /// let args: Vec<&str> = packet.raw_args().iter().map(|a| a.get()).collect();
    /// assert_eq!(args, [r#""chat""#, r#""hi""#, "3"]);
    /// let renamed = Packet::event_raw(Namespace::main(), "chat-back", &packet.raw_args()[1..], vec![]).unwrap();
    /// assert_eq!(renamed.raw_json().unwrap().as_str(), r#"["chat-back","hi",3]"#);
    /// ```
    pub fn raw_args(&self) -> Vec<&RawValue> {
        self.data
            .as_ref()
            .and_then(|json| serde_json::from_str(json.as_str()).ok())
            .unwrap_or_default()
    }

    /// An EVENT named `name` with raw JSON arguments (from [`Packet::raw_args`], or
    /// [`RawValue`]s you built) and the attachments their placeholders point at; a
    /// BINARY_EVENT when there are attachments. Fails, as [`Packet::from_parts`] does, when the
    /// placeholders and the attachments do not match.
    pub fn event_raw(
        namespace: Namespace,
        name: &str,
        args: &[&RawValue],
        attachments: Vec<bytes::Bytes>,
    ) -> Result<Self, EncodeError> {
        let name = serde_json::to_string(name).map_err(EncodeError::Serialize)?;
        Self::from_raw(
            PacketType::Event,
            namespace,
            None,
            Some(&name),
            args,
            attachments,
        )
    }

    /// An ACK for `ack_id` with raw JSON arguments and their attachments, as
    /// [`Packet::event_raw`].
    pub fn ack_raw(
        namespace: Namespace,
        ack_id: AckId,
        args: &[&RawValue],
        attachments: Vec<bytes::Bytes>,
    ) -> Result<Self, EncodeError> {
        Self::from_raw(
            PacketType::Ack,
            namespace,
            Some(ack_id),
            None,
            args,
            attachments,
        )
    }

    fn from_raw(
        packet_type: PacketType,
        namespace: Namespace,
        ack_id: Option<AckId>,
        first: Option<&str>,
        args: &[&RawValue],
        attachments: Vec<bytes::Bytes>,
    ) -> Result<Self, EncodeError> {
        let len = args.iter().map(|a| a.get().len() + 1).sum::<usize>();
        let mut json = String::with_capacity(len + first.map_or(0, str::len) + 2);
        json.push('[');
        for arg in first.into_iter().chain(args.iter().map(|a| a.get())) {
            if json.len() > 1 {
                json.push(',');
            }
            json.push_str(arg);
        }
        json.push(']');
        Packet::from_parts(
            packet_type,
            namespace,
            ack_id,
            Some(json.into()),
            attachments,
        )
    }

    fn without_data(packet_type: PacketType, namespace: Namespace) -> Self {
        Self {
            packet_type,
            namespace,
            ack_id: None,
            data: None,
            attachments: Vec::new(),
        }
    }

    fn with_json(
        packet_type: PacketType,
        namespace: Namespace,
        ack_id: Option<AckId>,
        json: Vec<u8>,
        attachments: Vec<bytes::Bytes>,
    ) -> Self {
        // serde_json writes UTF-8, so the fallback is never taken.
        let data = Utf8Bytes::try_from_bytes(json.into()).unwrap_or_default();
        Self {
            packet_type,
            namespace,
            ack_id,
            data: Some(data),
            attachments,
        }
    }

    /// The event name of an EVENT/BINARY_EVENT, read without parsing the arguments.
    pub fn event_name(&self) -> Option<EventName<'_>> {
        if !matches!(
            self.packet_type,
            PacketType::Event | PacketType::BinaryEvent
        ) {
            return None;
        }
        let json = self.data.as_ref()?.as_str();
        let (open, b'[') = crate::json::first_significant(json)? else {
            return None;
        };
        // Read as `str` (already UTF-8): serde_json then skips its own UTF-8 checks. `open` is
        // an ASCII byte, so `open + 1` is a character boundary.
        let raw = serde_json::Deserializer::from_str(&json[open + 1..])
            .into_iter::<&RawValue>()
            .next()?
            .ok()?;
        match classify_event_name(raw.get()) {
            EventNameKind::String(text) => Some(EventName {
                text,
                number: false,
            }),
            EventNameKind::Number => {
                let number: f64 = serde_json::from_str(raw.get()).ok()?;
                let mut text = Vec::new();
                crate::msgpack::to_json::write_number(&mut text, number);
                Some(EventName {
                    text: Cow::Owned(String::from_utf8(text).ok()?),
                    number: true,
                })
            }
            EventNameKind::Other => None,
        }
    }

    /// The arguments: for EVENT the payload array without the event name, for ACK the whole
    /// array, deserialized as a sequence into `T` (a tuple, a `Vec`, a tuple struct…) with
    /// placeholders turned back into the attachments' bytes. Arguments beyond those `T` reads
    /// are ignored, as a JavaScript handler ignores extra arguments. A packet without payload
    /// has no arguments.
    pub fn args<'de, T: Deserialize<'de>>(&'de self) -> Result<T, serde_json::Error> {
        let skip_event_name = matches!(
            self.packet_type,
            PacketType::Event | PacketType::BinaryEvent
        );
        self.read(Args {
            skip_event_name,
            target: PhantomData,
        })
    }

    /// The whole payload deserialized into `T` (a CONNECT auth object, a CONNECT_ERROR
    /// message…), placeholders turned back into bytes. A packet without payload reads as
    /// unit, so `Option<T>` gives `None`.
    pub fn data<'de, T: Deserialize<'de>>(&'de self) -> Result<T, serde_json::Error> {
        self.read(PhantomData)
    }

    fn read<'de, S: DeserializeSeed<'de>>(
        &'de self,
        seed: S,
    ) -> Result<S::Value, serde_json::Error> {
        let Some(json) = &self.data else {
            return seed.deserialize(de::value::UnitDeserializer::new());
        };
        if self.attachments.is_empty() {
            let mut de = serde_json::Deserializer::from_str(json.as_str());
            let value = seed.deserialize(&mut de)?;
            de.end()?;
            return Ok(value);
        }
        let tree: Value = serde_json::from_str(json.as_str())?;
        attachment::reading(&self.attachments, || {
            seed.deserialize(PlaceholderDeserializer {
                value: &tree,
                attachments: &self.attachments,
            })
        })
    }
}

/// Room for a typical small payload, so that serializing one grows the buffer once at most.
const JSON_CAPACITY: usize = 128;

fn sink(allow_binary: bool) -> BinarySink {
    BinarySink {
        attachments: allow_binary.then(Vec::new),
        refused: false,
    }
}

fn serialize<T: Serialize + ?Sized>(
    value: &T,
    sink: &mut BinarySink,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(JSON_CAPACITY);
    append(&mut out, value, sink)?;
    Ok(out)
}

fn append<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
    sink: &mut BinarySink,
) -> Result<(), EncodeError> {
    // The attachment list lives in a thread-local while serializing, so that `Attachment`
    // values reach it by reference count.
    let (result, attachments) = attachment::writing(sink.attachments.take(), || {
        let mut ser =
            serde_json::Serializer::with_formatter(&mut *out, JsFormatter { sink: &mut *sink });
        value.serialize(&mut ser)
    });
    sink.attachments = attachments;
    match result {
        Ok(()) => Ok(()),
        Err(_) if sink.refused => Err(EncodeError::BinaryNotAllowed),
        Err(err) => Err(EncodeError::Serialize(err)),
    }
}

/// Reads a payload array as the argument sequence, skipping the event name.
struct Args<T> {
    skip_event_name: bool,
    target: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Args<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<T, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Args<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of arguments")
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        T::deserialize(de::value::SeqDeserializer::new(std::iter::empty::<()>()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        if self.skip_event_name {
            seq.next_element::<IgnoredAny>()?;
        }
        let args = T::deserialize(de::value::SeqAccessDeserializer::new(&mut seq))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(args)
    }
}
