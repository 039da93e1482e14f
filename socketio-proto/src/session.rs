//! What the server and the client sessions share: the per-namespace map and the error of a
//! local command.

use core::fmt;

/// Per-namespace state of one connection: a sorted `Vec`, as a connection joins a handful of
/// namespaces. A `BTreeMap` node holds eleven entries, so one namespace cost a whole node per
/// connection; a `Vec` holds what is there, and a lookup compares one or two short names.
#[derive(Clone, Debug)]
pub(crate) struct NamespaceMap<V>(Vec<(String, V)>);

impl<V> Default for NamespaceMap<V> {
    fn default() -> Self {
        NamespaceMap(Vec::new())
    }
}

impl<V> NamespaceMap<V> {
    fn find(&self, namespace: &str) -> Result<usize, usize> {
        self.0
            .binary_search_by(|(name, _)| name.as_str().cmp(namespace))
    }

    pub(crate) fn get(&self, namespace: &str) -> Option<&V> {
        self.find(namespace).ok().map(|i| &self.0[i].1)
    }

    pub(crate) fn get_mut(&mut self, namespace: &str) -> Option<&mut V> {
        self.find(namespace).ok().map(|i| &mut self.0[i].1)
    }

    pub(crate) fn contains_key(&self, namespace: &str) -> bool {
        self.find(namespace).is_ok()
    }

    /// Inserts or replaces; returns the value replaced.
    pub(crate) fn insert(&mut self, namespace: String, value: V) -> Option<V> {
        match self.find(&namespace) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                // Most connections use one namespace: room for one, not the four a `Vec`'s
                // first growth makes (every idle connection holds a few of these maps).
                if self.0.capacity() == 0 {
                    self.0.reserve_exact(1);
                }
                self.0.insert(i, (namespace, value));
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, namespace: &str) -> Option<V> {
        let i = self.find(namespace).ok()?;
        let (_, value) = self.0.remove(i);
        if self.0.is_empty() {
            // Give the allocation back: an idle connection keeps nothing here.
            self.0 = Vec::new();
        }
        Some(value)
    }

    /// The namespaces, in byte order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(name, _)| name.as_str())
    }

    pub(crate) fn clear(&mut self) {
        self.0 = Vec::new();
    }
}

/// A local command that cannot be carried out: the one error of this crate's sessions (the
/// server [`Connection`](crate::server::Connection) and [`Endpoint`](crate::server::Endpoint), the client
/// [`Manager`](crate::client::Manager)). Never caused by the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionError {
    /// The connection (or the client) is closed.
    Closed,
    /// The namespace is not joined (or has no pending CONNECT, for accept and refusals; no
    /// socket was created for it, on the client).
    NotConnected,
    /// The ack id is not one the peer is waiting for (unknown, or already answered).
    UnknownAck,
    /// The event name is reserved (`connect`, `disconnect`, …).
    ReservedEventName,
    /// The namespace used up the 2^53 ack ids JavaScript can represent.
    AckIdsExhausted,
    /// An auth payload must be a JSON object.
    AuthNotAnObject,
    /// The packet cannot be encoded: an invalid namespace, or arguments that do not serialize
    /// to a JSON array (build it with [`Packet::event`](crate::Packet::event) to see the
    /// [`EncodeError`](crate::EncodeError)).
    Encode,
    /// The Engine.IO session refused the message (closed, or larger than `maxPayload`).
    Engine(engineio_proto::session::SessionError),
    /// The client's send buffer (emits waiting for their namespace to connect) is full.
    BufferFull,
    /// The packet is not of the kind the call sends (an EVENT for an emit, an ACK with its id
    /// for an acknowledgement).
    WrongPacket,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Closed => f.write_str("the connection is closed"),
            SessionError::NotConnected => f.write_str("the namespace is not connected"),
            SessionError::UnknownAck => f.write_str("no event is waiting for this ack id"),
            SessionError::ReservedEventName => f.write_str("the event name is reserved"),
            SessionError::AckIdsExhausted => f.write_str("no ack id left"),
            SessionError::AuthNotAnObject => f.write_str("the auth payload must be a JSON object"),
            SessionError::Encode => f.write_str("the packet cannot be encoded"),
            SessionError::Engine(e) => write!(f, "{e}"),
            SessionError::BufferFull => f.write_str("the send buffer is full"),
            SessionError::WrongPacket => {
                f.write_str("the packet is not of the kind this call sends")
            }
        }
    }
}

impl std::error::Error for SessionError {}

impl From<crate::EncodeError> for SessionError {
    fn from(_: crate::EncodeError) -> Self {
        SessionError::Encode
    }
}

impl From<engineio_proto::session::SessionError> for SessionError {
    fn from(e: engineio_proto::session::SessionError) -> Self {
        SessionError::Engine(e)
    }
}
