//! [`Attachment`]: binary data that goes through serde as a Socket.IO attachment without
//! being copied.
//!
//! serde hands byte values over as `&[u8]`, so `bytes::Bytes` (or `Vec<u8>`) arguments are
//! copied into the packet, and read back as copies or borrowed slices. An [`Attachment`] holds
//! its [`Bytes`] and, while [`Packet::event`](crate::Packet::event) and its siblings serialize
//! the arguments, is put into the packet's attachment list by reference count, as a
//! placeholder; while [`Packet::args`](crate::Packet::args) reads them, it comes back as a
//! slice of the received frame. Elsewhere (plain `serde_json`) it is ordinary bytes.

use std::cell::RefCell;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Binary data sent and received as a Socket.IO attachment with no copy.
///
/// serde hands byte values over as `&[u8]`, so `Bytes` or `Vec<u8>` arguments are copied into
/// the packet. While [`Packet::event`](crate::Packet::event) and its siblings serialize the
/// arguments, an `Attachment` goes into the packet's attachment list by reference count, as a
/// placeholder; while [`Packet::args`](crate::Packet::args) reads them, it comes back as a
/// slice of the received frame. Elsewhere (plain `serde_json`) it is ordinary bytes.
///
/// ```
/// use bytes::Bytes;
/// use socketio_proto::{Attachment, Namespace, Packet};
/// let image = Bytes::from_static(b"\x89PNG...");
/// let packet = Packet::event(Namespace::main(), "image", &("a.png", Attachment(image.clone())), None).unwrap();
/// assert_eq!(packet.attachments()[0].as_ptr(), image.as_ptr(), "shared, not copied");
/// let (name, back): (String, Attachment) = packet.args().unwrap();
/// assert_eq!((name.as_str(), back.0.as_ptr()), ("a.png", image.as_ptr()));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attachment(pub Bytes);

impl From<Bytes> for Attachment {
    fn from(bytes: Bytes) -> Self {
        Attachment(bytes)
    }
}

impl From<Attachment> for Bytes {
    fn from(attachment: Attachment) -> Self {
        attachment.0
    }
}

thread_local! {
    /// The attachment list of the packet being serialized on this thread; `None` outside
    /// serialization, or for a packet type that carries no attachments.
    static WRITING: RefCell<Option<Vec<Bytes>>> = const { RefCell::new(None) };
    /// The attachments of the packet being read on this thread.
    static READING: RefCell<Vec<Bytes>> = const { RefCell::new(Vec::new()) };
}

/// Serializes with `attachments` as the packet's list (`None`: binary is refused), and returns
/// the list as `f` left it. Nested calls keep their own lists.
pub(crate) fn writing<R>(
    attachments: Option<Vec<Bytes>>,
    f: impl FnOnce() -> R,
) -> (R, Option<Vec<Bytes>>) {
    let outer = WRITING.with(|w| w.replace(attachments));
    let result = f();
    let list = WRITING.with(|w| w.replace(outer));
    (result, list)
}

/// Adds an attachment to the packet being serialized; its placeholder number, or `None` when
/// no packet is being serialized or its type refuses binary.
pub(crate) fn push(bytes: Bytes) -> Option<usize> {
    WRITING.with(|w| {
        let mut w = w.borrow_mut();
        let list = w.as_mut()?;
        list.push(bytes);
        Some(list.len() - 1)
    })
}

/// Reads with `attachments` known, so that [`Attachment`] values come back as slices of them.
pub(crate) fn reading<R>(attachments: &[Bytes], f: impl FnOnce() -> R) -> R {
    let outer = READING.with(|r| r.replace(attachments.to_vec()));
    let result = f();
    READING.with(|r| r.replace(outer));
    result
}

/// `slice` as a slice of the packet's attachment it points into, or a copy.
fn share(slice: &[u8]) -> Bytes {
    READING.with(|r| {
        let r = r.borrow();
        let range = slice.as_ptr_range();
        r.iter()
            .find(|b| {
                let owner = b.as_ptr_range();
                owner.start <= range.start && range.end <= owner.end
            })
            .map(|b| b.slice_ref(slice))
            .unwrap_or_else(|| Bytes::copy_from_slice(slice))
    })
}

impl Serialize for Attachment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match push(self.0.clone()) {
            // The placeholder `{"_placeholder":true,"num":N}`, as the reference writes it.
            Some(num) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("_placeholder", &true)?;
                map.serialize_entry("num", &num)?;
                map.end()
            }
            None => serializer.serialize_bytes(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Attachment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bin;
        impl<'de> Visitor<'de> for Bin {
            type Value = Attachment;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("binary data")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Attachment, E> {
                Ok(Attachment(share(v)))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Attachment, E> {
                Ok(Attachment(Bytes::copy_from_slice(v)))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Attachment, E> {
                Ok(Attachment(Bytes::from(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Attachment, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(byte) = seq.next_element::<u8>()? {
                    out.push(byte);
                }
                Ok(Attachment(Bytes::from(out)))
            }
        }
        deserializer.deserialize_bytes(Bin)
    }
}
