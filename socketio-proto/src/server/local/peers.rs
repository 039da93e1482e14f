//! The peers (one per Engine.IO session) and how a broadcast reaches one.

use std::time::Instant;

use engineio_proto::Data;
use engineio_proto::session::endpoint::{self as engine, SessionKey};

use crate::server::connection::Connection;
use crate::server::handshake::Handshake;
use crate::server::rooms::BroadcastTarget;
use crate::session::NamespaceMap;
use crate::{EncodedPacket, Message, Utf8Bytes};

/// One client: its connection and its sockets.
#[derive(Debug)]
pub(super) struct Peer {
    pub(super) connection: Connection,
    /// Namespace ⇒ its socket.
    pub(super) sockets: NamespaceMap<Member>,
    /// Namespace ⇒ auth of a CONNECT waiting for an answer.
    pub(super) pending: NamespaceMap<Option<Utf8Bytes>>,
    pub(super) dirty: bool,
    /// The deadline scheduled in the timer table.
    pub(super) deadline: Option<Instant>,
    /// The Engine.IO session, to tell this peer from a later one in the same slot.
    pub(super) key: SessionKey,
    /// The HTTP request that opened the session, when the driver described it.
    pub(super) handshake: Option<Box<Handshake>>,
}

/// One namespace socket of a peer.
#[derive(Debug)]
pub(super) struct Member {
    pub(super) id: String,
    /// The recovery pid.
    pub(super) pid: Option<String>,
    /// The CONNECT payload.
    pub(super) auth: Option<Utf8Bytes>,
    /// `socket.data`; `None` is the reference's `{}`.
    pub(super) data: Option<Box<serde_json::Value>>,
}

/// The peers, indexed by their session key's index: found without hashing.
#[derive(Debug, Default)]
pub(super) struct Peers(pub(super) Vec<Option<Peer>>);

impl Peers {
    pub(super) fn get(&self, key: SessionKey) -> Option<&Peer> {
        self.0.get(key.index())?.as_ref().filter(|p| p.key == key)
    }

    pub(super) fn get_mut(&mut self, key: SessionKey) -> Option<&mut Peer> {
        self.0
            .get_mut(key.index())?
            .as_mut()
            .filter(|p| p.key == key)
    }

    pub(super) fn insert(&mut self, peer: Peer) {
        let index = peer.key.index();
        if self.0.len() <= index {
            self.0.resize_with(index + 1, || None);
        }
        self.0[index] = Some(peer);
    }

    pub(super) fn remove(&mut self, key: SessionKey) -> Option<Peer> {
        let slot = self.0.get_mut(key.index())?;
        if slot.as_ref().is_some_and(|p| p.key == key) {
            slot.take()
        } else {
            None
        }
    }
}

/// One recipient of a broadcast: straight to its Engine.IO session when nothing of its
/// connection waits before the packet, else behind what waits; a volatile packet is dropped
/// for a session that cannot send it now.
pub(super) fn deliver(
    engine: &mut engine::Endpoint,
    dirty: &mut Vec<SessionKey>,
    peer: &mut Peer,
    namespace: &str,
    packet: &EncodedPacket,
    target: &BroadcastTarget,
) {
    if target.volatile && !engine.is_writable(peer.key) {
        return;
    }
    match peer.connection.send_encoded_direct(namespace, packet) {
        Ok(true) => {
            // Fails only when the Engine.IO session is closing: nobody to send to.
            for message in packet.messages() {
                let _ = match message {
                    Message::TextFrame(frame) => engine.send_text_frame(peer.key, frame.clone()),
                    Message::Binary(data) => engine.send(peer.key, Data::Binary(data.clone())),
                };
            }
        }
        Ok(false) => mark(dirty, peer.key, peer),
        // Not joined to the namespace (or closed): not a recipient.
        Err(_) => {}
    }
}

pub(super) fn mark(dirty: &mut Vec<SessionKey>, key: SessionKey, peer: &mut Peer) {
    if !peer.dirty {
        peer.dirty = true;
        dirty.push(key);
    }
}
