//! The adapter seam: where an endpoint's broadcasts, room changes, remote operations, queries,
//! kept sessions and deferred CONNECTs go, so that one server can be one node of many.
//!
//! The [`Endpoint`](super::Endpoint) owns one [`Adapter`]: the application's commands that
//! reach beyond one socket go through it, and it works on the endpoint's [`Local`] side (this
//! server's sockets, rooms, recovery store and queries). Every method has the behaviour of the
//! reference's in-memory adapter (`socket.io-adapter`) as its default, so [`MemoryAdapter`]
//! implements none; a cluster adapter (the Redis and Postgres adapters of the
//! `socketio-cluster-proto` crate, or the threads of one process) overrides what must also
//! reach the other servers: it publishes, and applies what the others publish through
//! [`Endpoint::with_adapter`](super::Endpoint::with_adapter).
//!
//! The models are the reference's `Adapter` class (`broadcast`, `addSockets`, `fetchSockets`,
//! `serverSideEmit`, `persistSession`, `restoreSession`…) and socketioxide's `CoreAdapter`.
//! Like the rest of this crate, an adapter does no I/O: it queues what it wants sent (a Redis
//! command, a PostgreSQL notification) for its driver half to carry out, and takes what
//! arrives as plain calls.

use std::any::Any;
use std::fmt;
use std::time::{Duration, Instant};

use super::events::{ConnectRequest, ReplyTo, SocketRef};
use super::local::{Local, Notice};
use super::query::{Answers, QueryError, QueryId, REQUESTS_TIMEOUT};
use super::recovery::{Recovered, RecoveryRequest};
use super::rooms::BroadcastTarget;
use crate::session::SessionError;
use crate::{Namespace, Packet};

/// What [`Adapter::restore_session`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// Decided now: the session to hand back, or `None` for a fresh start.
    Now(Option<Recovered>),
    /// The adapter asked its store; it completes the CONNECT later with
    /// [`Local::connect`], and must do so, fresh if need be, within a bounded time.
    Later,
}

/// The seam between one server's sockets and everything beyond them. See the
/// [module docs](crate::server); every method has the in-memory adapter's behaviour as its default.
pub trait Adapter: Any + Send + fmt::Debug {
    /// The endpoint takes the adapter (before any input): set `local` up, e.g.
    /// [`Local::track_room_changes`] or [`Local::use_external_recovery`].
    fn attach(&mut self, local: &mut Local) {
        let _ = local;
    }

    /// A broadcast of this server (`io.to(…).emit(…)`): delivered to the local sockets
    /// `target` selects, and, in a cluster, to every other server's.
    fn broadcast(
        &mut self,
        now: Instant,
        local: &mut Local,
        packet: Packet,
        target: &BroadcastTarget,
    ) -> Result<(), SessionError> {
        local.broadcast(now, packet, target)
    }

    /// An event to one of this server's sockets (`socket.emit(…)`, without an ack).
    fn emit(
        &mut self,
        now: Instant,
        local: &mut Local,
        socket: &SocketRef,
        packet: Packet,
    ) -> Result<(), SessionError> {
        local.emit(now, socket, packet)
    }

    /// A broadcast with acknowledgements (`io.timeout(…).emit(…, callback)`): the local
    /// sockets' ACKs are collected in a query ([`Local::broadcast_with_ack`]); a cluster
    /// adapter adds the other servers' clients.
    fn broadcast_with_ack(
        &mut self,
        now: Instant,
        local: &mut Local,
        packet: Packet,
        target: &BroadcastTarget,
        timeout: Duration,
    ) -> Result<QueryId, QueryError> {
        let query = local.broadcast_with_ack(now, packet, target, timeout)?;
        local.expect_answers(query, 0);
        Ok(query)
    }

    /// `socketsJoin`: the sockets `target` selects join `rooms`, on every server.
    fn sockets_join(
        &mut self,
        now: Instant,
        local: &mut Local,
        namespace: &Namespace,
        target: &BroadcastTarget,
        rooms: &[String],
    ) -> Result<(), QueryError> {
        let _ = now;
        local.sockets_join(namespace, target, rooms);
        Ok(())
    }

    /// `socketsLeave`: the sockets `target` selects leave `rooms`, on every server.
    fn sockets_leave(
        &mut self,
        now: Instant,
        local: &mut Local,
        namespace: &Namespace,
        target: &BroadcastTarget,
        rooms: &[String],
    ) -> Result<(), QueryError> {
        let _ = now;
        local.sockets_leave(namespace, target, rooms);
        Ok(())
    }

    /// `disconnectSockets`: the sockets `target` selects leave (with `close`, their whole
    /// connections close), on every server.
    fn disconnect_sockets(
        &mut self,
        now: Instant,
        local: &mut Local,
        namespace: &Namespace,
        target: &BroadcastTarget,
        close: bool,
    ) -> Result<(), QueryError> {
        let _ = now;
        local.disconnect_sockets(namespace, target, close);
        Ok(())
    }

    /// `serverSideEmit`: `data` (the JSON array `[event, ...args]`) to the other servers'
    /// applications. Alone, there is nobody to tell.
    fn server_side_emit(
        &mut self,
        now: Instant,
        local: &mut Local,
        namespace: &Namespace,
        data: &str,
    ) -> Result<(), QueryError> {
        let _ = (now, local, namespace, data);
        Ok(())
    }

    /// `serverSideEmitWithAck`: as [`server_side_emit`](Self::server_side_emit), each
    /// other server answering once ([`Answers::ServerSideEmit`]) within the adapter's
    /// requests timeout. Alone, the query ends at
    /// once with no answer, as the reference's does.
    fn server_side_emit_with_ack(
        &mut self,
        now: Instant,
        local: &mut Local,
        namespace: &Namespace,
        data: &str,
    ) -> Result<QueryId, QueryError> {
        let _ = (namespace, data);
        let answers = Answers::ServerSideEmit(Vec::new());
        let query = local.open_query(now, answers, REQUESTS_TIMEOUT)?;
        local.expect_answers(query, 0);
        Ok(query)
    }

    /// This server's answer to another server's `serverSideEmitWithAck`
    /// ([`ServerEvent::ServerSideEmit`](super::ServerEvent::ServerSideEmit)'s `reply`).
    fn answer_server_side_emit(
        &mut self,
        now: Instant,
        local: &mut Local,
        reply: &ReplyTo,
        answer: &str,
    ) {
        let _ = (now, local, reply, answer);
    }

    /// `fetchSockets`: the sockets `target` selects on every server ([`Answers::Sockets`]).
    fn fetch_sockets(
        &mut self,
        now: Instant,
        local: &mut Local,
        namespace: &Namespace,
        target: &BroadcastTarget,
    ) -> Result<QueryId, QueryError> {
        let sockets = local.sockets(namespace, target);
        let mine = sockets.iter().map(|s| local.describe(s)).collect();
        let query = local.open_query(now, Answers::Sockets(mine), REQUESTS_TIMEOUT)?;
        local.expect_answers(query, 0);
        Ok(query)
    }

    /// `allRooms`: the rooms of `namespace` on every server ([`Answers::Rooms`]).
    fn all_rooms(
        &mut self,
        now: Instant,
        local: &mut Local,
        namespace: &Namespace,
    ) -> Result<QueryId, QueryError> {
        let rooms = local.rooms().all_rooms(namespace.as_str());
        let mine = rooms.into_iter().map(str::to_owned).collect();
        let query = local.open_query(now, Answers::Rooms(mine), REQUESTS_TIMEOUT)?;
        local.expect_answers(query, 0);
        Ok(query)
    }

    /// `serverCount`: how many servers serve `namespace`, this one included
    /// ([`Answers::ServerCount`]).
    fn server_count(
        &mut self,
        now: Instant,
        local: &mut Local,
        namespace: &Namespace,
    ) -> Result<QueryId, QueryError> {
        let _ = namespace;
        let query = local.open_query(now, Answers::ServerCount(1), REQUESTS_TIMEOUT)?;
        local.expect_answers(query, 0);
        Ok(query)
    }

    /// What the local side has to tell: a room change (when tracked), a session to keep,
    /// an acknowledgement the adapter waited for. By default a session is kept in the
    /// endpoint's store.
    fn notice(&mut self, now: Instant, local: &mut Local, notice: Notice) {
        if let Notice::SessionKept { namespace, session } = notice {
            local.keep_session(now, &namespace, session);
        }
    }

    /// A CONNECT the application accepted asks to recover the session `wanted` names
    /// (`persistSession`'s counterpart, `restoreSession`). By default the endpoint's store
    /// answers at once.
    fn restore_session(
        &mut self,
        now: Instant,
        local: &mut Local,
        request: &ConnectRequest,
        wanted: &RecoveryRequest,
    ) -> Restore {
        Restore::Now(local.take_session(now, &request.namespace, wanted))
    }

    /// Runs the adapter's deadlines that are due (the endpoint calls it from
    /// [`Endpoint::handle_timeout`](super::Endpoint::handle_timeout)).
    fn handle_timeout(&mut self, now: Instant, local: &mut Local) {
        let _ = (now, local);
    }

    /// The adapter's next deadline.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// The reference's in-memory adapter: one server alone, every default of [`Adapter`].
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryAdapter;

impl Adapter for MemoryAdapter {}
