//! The seam between the cluster logic, written once ([`ClusterAdapter`](crate::ClusterAdapter)),
//! and each adapter's wire: how a message leaves this node, how what arrives becomes a
//! message, how the other servers are counted, and the optional parts (rooms followed one by
//! one, a durable log that gives offsets, a session store).
//!
//! A new adapter is one [`Wire`] (its channels and bytes) and its driver half (the I/O that
//! carries out its commands and hands it what arrives); nothing else changes.

use std::fmt;
use std::time::{Duration, Instant};

use socketio_proto::server::{
    KeptSession, Local, QueryError, QueryId, Recovered, RecoveryRequest, RoomChange,
};
use socketio_proto::{Namespace, Packet};

use crate::{BroadcastOptions, ClusterMessage};

/// One namespace of this node in the cluster: the reference runs one adapter per namespace,
/// each with its own uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its position among the node's members.
    pub index: usize,
    /// The namespace.
    pub namespace: Namespace,
    /// This node's uid in that namespace (drawn at random by the caller).
    pub uid: String,
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination<'a> {
    /// Every server of the namespace (broadcasts, requests).
    All,
    /// The server whose uid this is (a response to its request).
    Requester(&'a str),
}

/// What a wire made of what its driver half handed in.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A message of another server (or, for a wire that [`loops back`](Wire::loops_back), of
    /// this one).
    Message {
        /// The namespace it is about.
        namespace: Namespace,
        /// The sender's uid.
        from: String,
        /// The message.
        message: ClusterMessage,
        /// Its offset in the wire's durable log (connection state recovery), if it has one.
        offset: Option<String>,
    },
    /// The wire counted the servers listening for `query` (this one included).
    Counted {
        /// The query.
        query: QueryId,
        /// The servers.
        count: usize,
    },
    /// A durable message of this server got its offset (see [`Wire::send_durable`]).
    Appended {
        /// The token given to [`Wire::send_durable`].
        token: u64,
        /// The offset.
        offset: String,
    },
    /// What the wire's store had for a recovery (see [`Wire::restore_session`]).
    Restored {
        /// The token given to [`Wire::restore_session`].
        token: u64,
        /// The session, when the store had it and the client's offset.
        session: Option<KeptSession>,
        /// The broadcasts after the client's offset, oldest first: (offset, packet, opts).
        missed: Vec<(String, Packet, BroadcastOptions)>,
    },
    /// A server joined the cluster (wires that count servers by heartbeats).
    ServerUp {
        /// The namespace.
        namespace: Namespace,
        /// Its uid.
        uid: String,
    },
    /// A server left the cluster, or was not heard from in time.
    ServerDown {
        /// The namespace.
        namespace: Namespace,
        /// Its uid.
        uid: String,
    },
}

/// What [`Wire::restore_session`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restoring {
    /// The store cannot have the session (the offset is not one of its): a fresh start.
    Fresh,
    /// Asked: the answer comes as [`Decoded::Restored`] with the token.
    Later,
    /// Found now, with the events missed (filtered by the session's rooms, with offsets).
    Found(Recovered),
}

/// One adapter's wire. Its commands wait in the wire until its driver half takes them
/// ([`poll_command`](Self::poll_command)); what arrives is decoded into [`Decoded`]s.
pub trait Wire: Send + fmt::Debug + 'static {
    /// What the driver half hands in: a Pub/Sub message, a stream entry, a notification, the
    /// answer to a command.
    type Input;
    /// What the driver half carries out, in order.
    type Command: fmt::Debug;

    /// Sets the wire up for a new member (its channels, its subscriptions): every member is
    /// added before its first message.
    fn add_member(&mut self, member: &Member);

    /// Sends `message` from `member` to `to`. Only a message that does not encode fails.
    fn send(
        &mut self,
        member: &Member,
        message: &ClusterMessage,
        to: Destination<'_>,
    ) -> Result<(), QueryError>;

    /// Counts the servers of `member`'s namespace for `query`, this one included: `Some`
    /// when known now, else `None` and a [`Decoded::Counted`] comes later.
    fn count_servers(&mut self, member: &Member, query: QueryId) -> Option<usize>;

    /// Decodes what the driver half handed in; `None` for what is not for this node.
    fn decode(&mut self, members: &[Member], local: &Local, input: Self::Input) -> Option<Decoded>;

    /// The next command for the driver half.
    fn poll_command(&mut self) -> Option<Self::Command>;

    /// This server's own room operations (`socketsJoin`, `socketsLeave`,
    /// `disconnectSockets`) come back to it and are applied then (the classic Redis
    /// adapter), instead of at once.
    fn loops_back(&self) -> bool {
        false
    }

    /// The wire has `allRooms`.
    fn has_all_rooms(&self) -> bool {
        false
    }

    /// The wire follows the rooms of this server one by one ([`room_changed`](Self::room_changed)).
    fn follows_rooms(&self) -> bool {
        false
    }

    /// A room of `member` appeared here or emptied.
    fn room_changed(&mut self, member: &Member, change: &RoomChange) {
        let _ = (member, change);
    }

    /// Connection state recovery through the wire's store: how long it keeps a session
    /// (`None`: the wire has no store; sessions stay on the server that kept them).
    fn recovery(&self) -> Option<Duration> {
        None
    }

    /// Sends a broadcast as a durable message (only with [`recovery`](Self::recovery)): its
    /// offset now (`Some`), or later, as [`Decoded::Appended`] with `token`.
    fn send_durable(
        &mut self,
        member: &Member,
        message: &ClusterMessage,
        token: u64,
    ) -> Result<Option<String>, QueryError> {
        let _ = token;
        self.send(member, message, Destination::All).map(|()| None)
    }

    /// Keeps a session in the store for the recovery duration.
    fn keep_session(&mut self, member: &Member, session: &KeptSession) {
        let _ = (member, session);
    }

    /// Looks a session up for a recovering client.
    fn restore_session(
        &mut self,
        member: &Member,
        wanted: &RecoveryRequest,
        token: u64,
    ) -> Restoring {
        let _ = (member, wanted, token);
        Restoring::Fresh
    }

    /// Runs the wire's deadlines (heartbeats); what they find comes back as [`Decoded`]s.
    fn handle_timeout(&mut self, now: Instant, members: &[Member]) -> Vec<Decoded> {
        let _ = (now, members);
        Vec::new()
    }

    /// The wire's next deadline.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}
