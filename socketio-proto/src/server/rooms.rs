//! Rooms and broadcast: which sockets of a namespace receive a packet.
//!
//! [`Rooms`] is the room index of the reference's in-memory adapter (`socket.io-adapter`), which
//! every endpoint keeps for its own sockets whatever its [`Adapter`](super::Adapter): per namespace,
//! every socket is in the room named by its own id plus the rooms it joined. A broadcast
//! selects sockets by rooms and `except` rooms; the caller encodes the packet once
//! ([`Packet::encode`](crate::Packet::encode)) and hands the same [`EncodedPacket`](crate::EncodedPacket)
//! to each recipient's [`Connection::send_encoded`](super::Connection::send_encoded),
//! which shares the bytes: each extra recipient costs a reference-count increment and a queue
//! entry.
//!
//! ```
//! use socketio_proto::server::{BroadcastTarget, Rooms};
//! let mut rooms = Rooms::default();
//! rooms.add_socket("/", "alice");
//! rooms.add_socket("/", "bob");
//! rooms.add_socket("/", "carol");
//! rooms.join("/", "alice", "lobby");
//! rooms.join("/", "bob", "lobby");
//! // To the lobby, but not from alice to herself.
//! let target = BroadcastTarget::to(["lobby"]).except(["alice"]);
//! assert_eq!(rooms.recipients("/", &target), ["bob"]);
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Which sockets a broadcast goes to: the union of `rooms` (every socket of the namespace when
/// empty), minus the sockets in any `except` room. The fields mirror the reference adapter's
/// broadcast options (`rooms`, `except`, `flags.volatile`), which the Redis adapter puts on the
/// wire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BroadcastTarget {
    /// Rooms to send to; empty means the whole namespace.
    pub rooms: Vec<String>,
    /// Rooms whose sockets are skipped (a socket id is a room, so this excludes sockets too).
    pub except: Vec<String>,
    /// Skip recipients that cannot take the packet right now (Engine.IO's
    /// `ServerSession::is_writable` is false) instead of queueing it; volatile packets are not
    /// stored for connection state recovery either.
    pub volatile: bool,
}

impl BroadcastTarget {
    /// Every socket of the namespace.
    pub fn all() -> Self {
        BroadcastTarget::default()
    }

    /// The sockets in any of `rooms`.
    pub fn to<I: IntoIterator<Item = S>, S: Into<String>>(rooms: I) -> Self {
        BroadcastTarget {
            rooms: rooms.into_iter().map(Into::into).collect(),
            ..BroadcastTarget::default()
        }
    }

    /// Also skip the sockets in any of `rooms` (pass a socket's own id to broadcast "from" it).
    pub fn except<I: IntoIterator<Item = S>, S: Into<String>>(mut self, rooms: I) -> Self {
        self.except.extend(rooms.into_iter().map(Into::into));
        self
    }

    /// Makes the broadcast volatile.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }
}

#[derive(Debug, Default)]
struct NamespaceRooms {
    /// Room name ⇒ socket ids, sorted so that recipients come out in a stable order. A
    /// socket's own room (its id) is not stored here: it is implicit (see [`Member`]).
    rooms: HashMap<String, BTreeSet<String>>,
    /// Socket id ⇒ its rooms; ordered, so a broadcast to the whole namespace walks it in id
    /// order without sorting.
    sockets: BTreeMap<String, Member>,
}

/// One socket's rooms. Its own room is a flag rather than a set entry and a map entry: most
/// sockets are in no other room, and then they cost no allocation here.
#[derive(Debug)]
struct Member {
    /// In the room named by its own id (until it leaves it, which the reference allows).
    own: bool,
    /// The other rooms, sorted.
    joined: Vec<String>,
}

impl Default for Member {
    fn default() -> Self {
        Member {
            own: true,
            joined: Vec::new(),
        }
    }
}

impl NamespaceRooms {
    /// Whether `sid` is in `room`.
    fn is_in(&self, sid: &str, room: &str) -> bool {
        if room == sid {
            return self.sockets.get(sid).is_some_and(|m| m.own);
        }
        self.rooms
            .get(room)
            .is_some_and(|members| members.contains(sid))
    }
}

/// A room that appeared on this server or emptied, for an adapter that follows rooms
/// ([`Notice::Room`](super::Notice::Room)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomChange {
    /// The namespace.
    pub namespace: String,
    /// The room.
    pub room: String,
    /// The room is a socket's own (named by its id).
    pub socket_room: bool,
    /// It appeared (`true`) or emptied (`false`).
    pub created: bool,
}

/// A socket of this server joined or left a room (its own room included): what the Admin
/// UI's `room_joined` and `room_left` report. Recorded once
/// [`Local::track_memberships`](super::Local::track_memberships) was called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The namespace.
    pub namespace: String,
    /// The room.
    pub room: String,
    /// The socket's id.
    pub socket: String,
    /// Joined (`true`) or left (`false`).
    pub joined: bool,
}

/// Membership changes kept for a driver that does not take them, at most (the oldest go).
pub const MAX_MEMBERSHIPS: usize = 65_536;

/// The room index: the rooms of every namespace of one server's sockets.
#[derive(Debug, Default)]
pub struct Rooms {
    namespaces: HashMap<String, NamespaceRooms>,
    /// Rooms that appeared or emptied and were not taken yet, when tracked.
    changes: Option<VecDeque<RoomChange>>,
    /// Sockets that joined or left a room, not taken yet, when tracked.
    memberships: Option<VecDeque<Membership>>,
}

impl Rooms {
    /// From now on, records every room that appears or empties, for a cluster node that
    /// subscribes to a channel per room (the sharded adapter). Off by default: then nothing
    /// is recorded.
    pub(crate) fn track_changes(&mut self) {
        self.changes.get_or_insert_with(VecDeque::new);
    }

    /// The oldest room change not taken yet.
    pub(crate) fn take_change(&mut self) -> Option<RoomChange> {
        self.changes.as_mut()?.pop_front()
    }

    /// From now on, records every socket that joins or leaves a room
    /// ([`take_membership`](Self::take_membership)).
    pub(crate) fn track_memberships(&mut self) {
        self.memberships.get_or_insert_with(VecDeque::new);
    }

    /// Whether membership changes wait to be taken.
    pub(crate) fn has_memberships(&self) -> bool {
        self.memberships.as_ref().is_some_and(|m| !m.is_empty())
    }

    /// The oldest membership change not taken yet.
    pub(crate) fn take_membership(&mut self) -> Option<Membership> {
        self.memberships.as_mut()?.pop_front()
    }

    fn member(&mut self, namespace: &str, room: &str, socket: &str, joined: bool) {
        if let Some(memberships) = &mut self.memberships {
            if memberships.len() >= MAX_MEMBERSHIPS {
                memberships.pop_front();
            }
            memberships.push_back(Membership {
                namespace: namespace.to_owned(),
                room: room.to_owned(),
                socket: socket.to_owned(),
                joined,
            });
        }
    }

    fn record(&mut self, namespace: &str, room: &str, socket_room: bool, created: bool) {
        if let Some(changes) = &mut self.changes {
            changes.push_back(RoomChange {
                namespace: namespace.to_owned(),
                room: room.to_owned(),
                socket_room,
                created,
            });
        }
    }

    /// Every room of `namespace` that has a socket here: the sockets' own rooms (their ids)
    /// and the rooms they joined, each once, sorted. What a node answers to a cluster's
    /// `allRooms` request.
    pub fn all_rooms(&self, namespace: &str) -> Vec<&str> {
        let Some(ns) = self.namespaces.get(namespace) else {
            return Vec::new();
        };
        let own = ns
            .sockets
            .iter()
            .filter(|(_, member)| member.own)
            .map(|(sid, _)| sid.as_str());
        let rooms: BTreeSet<&str> = own.chain(ns.rooms.keys().map(String::as_str)).collect();
        rooms.into_iter().collect()
    }

    /// Whether `room` of `namespace` has a socket here (a socket id counts as its own room).
    pub fn has_room(&self, namespace: &str, room: &str) -> bool {
        self.namespaces.get(namespace).is_some_and(|ns| {
            ns.rooms.contains_key(room) || ns.sockets.get(room).is_some_and(|m| m.own)
        })
    }

    /// Registers a socket that joined `namespace`; it is put in the room named by its id.
    pub fn add_socket(&mut self, namespace: &str, sid: &str) {
        let ns = self.namespaces.entry(namespace.to_owned()).or_default();
        let member = ns.sockets.entry(sid.to_owned()).or_insert(Member {
            own: false,
            joined: Vec::new(),
        });
        if !std::mem::replace(&mut member.own, true) {
            self.record(namespace, sid, true, true);
            self.member(namespace, sid, sid, true);
        }
    }

    /// Removes a socket from every room of `namespace` (on disconnect).
    pub fn remove_socket(&mut self, namespace: &str, sid: &str) {
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            return;
        };
        let Some(member) = ns.sockets.remove(sid) else {
            return;
        };
        let mut emptied = Vec::new();
        for room in &member.joined {
            if let Some(members) = ns.rooms.get_mut(room) {
                members.remove(sid);
                if members.is_empty() {
                    ns.rooms.remove(room);
                    emptied.push(room.clone());
                }
            }
        }
        if ns.sockets.is_empty() {
            self.namespaces.remove(namespace);
        }
        if member.own {
            self.record(namespace, sid, true, false);
            self.member(namespace, sid, sid, false);
        }
        for room in &member.joined {
            self.member(namespace, room, sid, false);
        }
        for room in emptied {
            self.record(namespace, &room, false, false);
        }
    }

    /// Puts a socket in a room (its own id names its own room).
    pub fn join(&mut self, namespace: &str, sid: &str, room: &str) {
        let ns = self.namespaces.entry(namespace.to_owned()).or_default();
        let member = ns.sockets.entry(sid.to_owned()).or_default();
        if room == sid {
            if !std::mem::replace(&mut member.own, true) {
                self.record(namespace, sid, true, true);
                self.member(namespace, sid, sid, true);
            }
            return;
        }
        if let Err(at) = member.joined.binary_search_by(|r| r.as_str().cmp(room)) {
            member.joined.insert(at, room.to_owned());
            let members = ns.rooms.entry(room.to_owned()).or_default();
            let created = members.is_empty();
            members.insert(sid.to_owned());
            if created {
                self.record(namespace, room, false, true);
            }
            self.member(namespace, room, sid, true);
        }
    }

    /// Takes a socket out of a room.
    pub fn leave(&mut self, namespace: &str, sid: &str, room: &str) {
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            return;
        };
        let Some(member) = ns.sockets.get_mut(sid) else {
            return;
        };
        if room == sid {
            if std::mem::replace(&mut member.own, false) {
                self.record(namespace, sid, true, false);
                self.member(namespace, sid, sid, false);
            }
            return;
        }
        if let Ok(at) = member.joined.binary_search_by(|r| r.as_str().cmp(room)) {
            member.joined.remove(at);
            if let Some(members) = ns.rooms.get_mut(room) {
                members.remove(sid);
                if members.is_empty() {
                    ns.rooms.remove(room);
                    self.record(namespace, room, false, false);
                }
            }
            self.member(namespace, room, sid, false);
        }
    }

    /// The rooms a socket joined, sorted, without the room named by its own id (see
    /// [`socket_rooms`](Self::socket_rooms) for the reference's `socket.rooms`).
    pub fn rooms_of(&self, namespace: &str, sid: &str) -> &[String] {
        self.namespaces
            .get(namespace)
            .and_then(|ns| ns.sockets.get(sid))
            .map_or(&[], |member| member.joined.as_slice())
    }

    /// The reference's `socket.rooms`: the socket's own room (its id, unless it left it)
    /// first, then the rooms it joined, sorted.
    pub fn socket_rooms(&self, namespace: &str, sid: &str) -> Vec<String> {
        let Some(member) = self
            .namespaces
            .get(namespace)
            .and_then(|ns| ns.sockets.get(sid))
        else {
            return Vec::new();
        };
        let own = member.own.then(|| sid.to_owned());
        own.into_iter()
            .chain(member.joined.iter().cloned())
            .collect()
    }

    /// The sockets in a room, sorted.
    pub fn sockets_in(&self, namespace: &str, room: &str) -> Vec<&str> {
        let Some(ns) = self.namespaces.get(namespace) else {
            return Vec::new();
        };
        let mut sockets: BTreeSet<&str> = ns
            .rooms
            .get(room)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if let Some((id, member)) = ns.sockets.get_key_value(room) {
            if member.own {
                sockets.insert(id);
            }
        }
        sockets.into_iter().collect()
    }

    /// The sockets a broadcast reaches, each once, sorted by id.
    pub fn recipients(&self, namespace: &str, target: &BroadcastTarget) -> Vec<&str> {
        let Some(ns) = self.namespaces.get(namespace) else {
            return Vec::new();
        };
        let excluded = |sid: &str| target.except.iter().any(|room| ns.is_in(sid, room));
        // Both ways come out sorted by id: the socket map and the set are ordered.
        if target.rooms.is_empty() {
            ns.sockets
                .keys()
                .map(String::as_str)
                .filter(|sid| target.except.is_empty() || !excluded(sid))
                .collect()
        } else {
            let mut chosen = BTreeSet::new();
            for room in &target.rooms {
                if let Some((id, member)) = ns.sockets.get_key_value(room.as_str()) {
                    if member.own && !excluded(id) {
                        chosen.insert(id.as_str());
                    }
                }
                for sid in ns.rooms.get(room).into_iter().flatten() {
                    if !excluded(sid) {
                        chosen.insert(sid.as_str());
                    }
                }
            }
            chosen.into_iter().collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Rooms {
        fn take_changes_for_test(&mut self) -> Vec<RoomChange> {
            std::iter::from_fn(|| self.take_change()).collect()
        }
    }

    fn change(room: &str, socket_room: bool, created: bool) -> RoomChange {
        RoomChange {
            namespace: "/".into(),
            room: room.into(),
            socket_room,
            created,
        }
    }

    #[test]
    fn room_changes_are_recorded_only_when_tracked_and_once_per_room() {
        let mut rooms = Rooms::default();
        rooms.add_socket("/", "a");
        rooms.join("/", "a", "r");
        assert_eq!(rooms.take_changes_for_test(), [], "not tracked yet");
        rooms.track_changes();
        rooms.add_socket("/", "b");
        rooms.join("/", "b", "r"); // `r` exists already.
        rooms.join("/", "b", "s");
        rooms.join("/", "b", "s"); // Twice: one change.
        assert_eq!(
            rooms.take_changes_for_test(),
            [change("b", true, true), change("s", false, true)]
        );
        rooms.leave("/", "a", "r"); // `b` is still in `r`.
        rooms.leave("/", "b", "b"); // Its own room.
        assert_eq!(rooms.take_changes_for_test(), [change("b", true, false)]);
        rooms.remove_socket("/", "b");
        assert_eq!(
            rooms.take_changes_for_test(),
            [change("r", false, false), change("s", false, false)]
        );
        rooms.remove_socket("/", "a");
        assert_eq!(rooms.take_changes_for_test(), [change("a", true, false)]);
        assert_eq!(rooms.take_changes_for_test(), [], "taken");
    }

    #[test]
    fn memberships_are_recorded_once_per_change_when_tracked() {
        let mut rooms = Rooms::default();
        rooms.add_socket("/", "a");
        assert_eq!(rooms.take_membership(), None, "not tracked yet");
        rooms.track_memberships();
        rooms.add_socket("/", "b");
        rooms.join("/", "b", "r");
        rooms.join("/", "b", "r"); // Twice: once.
        rooms.leave("/", "b", "nowhere"); // Not in it: nothing.
        rooms.leave("/", "b", "r");
        rooms.join("/", "b", "s");
        rooms.remove_socket("/", "b");
        let taken: Vec<(String, String, bool)> = std::iter::from_fn(|| rooms.take_membership())
            .map(|m| (m.room, m.socket, m.joined))
            .collect();
        let m = |room: &str, joined| (room.to_owned(), "b".to_owned(), joined);
        assert_eq!(
            taken,
            [
                m("b", true),
                m("r", true),
                m("r", false),
                m("s", true),
                m("b", false),
                m("s", false)
            ]
        );
    }
}
