//! Queries: this server's operations that wait for answers, from its own sockets and, through
//! a cluster adapter, from every other server (`fetchSockets`, `allRooms`,
//! `serverSideEmitWithAck`, `serverCount`, broadcasts with acknowledgements).
//!
//! A query is opened with what this server answers itself; the adapter then says how many
//! other servers will answer ([`Local::expect_answers`](super::Local::expect_answers)) and
//! adds each answer as it arrives ([`Local::answer`](super::Local::answer)). It ends, exactly
//! once, as a [`QueryReply`] (the application's
//! [`ServerEvent::Reply`](super::ServerEvent::Reply)) when every server answered (and, for a
//! broadcast with acknowledgements, every client it reached), or at its deadline with what
//! arrived. With the in-memory adapter there is no other server: a query ends at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{EncodeError, Packet};

/// How long a query waits for the other servers by default: the reference's
/// `requestsTimeout`, 5 s.
pub const REQUESTS_TIMEOUT: Duration = Duration::from_secs(5);

/// Queries of one endpoint waiting for answers, at most; more are refused
/// ([`QueryError::TooManyPending`]).
pub const MAX_PENDING_QUERIES: usize = 256;

/// Answers one query keeps before it knows how many servers answer, at most (then exactly
/// as many as there are); extra answers are dropped.
const MAX_EARLY_ANSWERS: usize = 1024;

/// One of this server's queries, as the endpoint hands them out. Its number is unique for the
/// endpoint's lifetime, so a cluster adapter can name the query on the wire with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(u64);

impl QueryId {
    /// The query's number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for QueryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A socket as `fetchSockets` describes it: `{id, handshake, rooms, data}`, the reference's
/// descriptor, whichever server it lives on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: String,
    /// The handshake as its server describes it (headers, time, address, url, query, auth…):
    /// for this crate's sockets, [`Handshake::to_json`](super::Handshake::to_json).
    #[serde(default)]
    pub handshake: serde_json::Value,
    /// Its rooms, its own id included (the reference's `socket.rooms`).
    #[serde(default)]
    pub rooms: Vec<String>,
    /// `socket.data` (the reference's default is `{}`).
    #[serde(default)]
    pub data: serde_json::Value,
}

/// What a query collected: this server's answer first, then each other server's.
#[derive(Debug, Clone, PartialEq)]
pub enum Answers {
    /// `fetchSockets`: the matching sockets of every server.
    Sockets(Vec<RemoteSocket>),
    /// `allRooms`: the rooms of every server, socket-id rooms included.
    Rooms(BTreeSet<String>),
    /// `serverSideEmitWithAck`: each other server's answer (its first ack argument), JSON text.
    ServerSideEmit(Vec<String>),
    /// `serverCount`: the servers of the namespace, this one included.
    ServerCount(usize),
    /// A broadcast with acknowledgements: each client's ACK, in arrival order (across
    /// servers only the first argument travels, as in the reference).
    Acks(Vec<Packet>),
}

/// One server's answer to a query (or, for a broadcast with acknowledgements, one client's
/// acknowledgement, or a server's count of the clients it reached).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Its sockets (`fetchSockets`).
    Sockets(Vec<RemoteSocket>),
    /// Its rooms (`allRooms`).
    Rooms(Vec<String>),
    /// Its application's answer to a `serverSideEmitWithAck`, JSON text.
    ServerSideEmit(String),
    /// How many of its clients a broadcast with acknowledgements reached.
    ClientCount(u64),
    /// One client's acknowledgement of a broadcast with acknowledgements.
    Ack(Packet),
}

/// The end of a query: what it collected and whether every server answered in time.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryReply {
    /// The query.
    pub query: QueryId,
    /// What it collected.
    pub answers: Answers,
    /// The deadline passed first: `answers` is partial. (The reference rejects
    /// `fetchSockets` and `allRooms` then, and hands `serverSideEmitWithAck` and broadcasts
    /// with acknowledgements their partial answers with an error; the caller chooses here.)
    pub timed_out: bool,
}

/// Why a query, or a cluster-wide command, cannot be sent.
#[derive(Debug)]
#[non_exhaustive]
pub enum QueryError {
    /// [`MAX_PENDING_QUERIES`] queries already wait for answers.
    TooManyPending,
    /// The adapter has no such operation (`allRooms` in the sharded Redis adapter).
    Unsupported,
    /// The namespace is not one the adapter serves.
    UnknownNamespace,
    /// The packet or the request does not encode (its arguments are not JSON text, or the
    /// msgpack payload is too deep).
    Encode(EncodeError),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyPending => {
                write!(f, "{MAX_PENDING_QUERIES} queries already wait for answers")
            }
            Self::Unsupported => f.write_str("the adapter has no such operation"),
            Self::UnknownNamespace => f.write_str("the adapter does not serve this namespace"),
            Self::Encode(err) => write!(f, "does not encode: {err}"),
        }
    }
}

impl std::error::Error for QueryError {}

impl From<EncodeError> for QueryError {
    fn from(err: EncodeError) -> Self {
        Self::Encode(err)
    }
}

#[derive(Debug)]
struct Pending {
    deadline: Instant,
    /// How many other servers answer, once the adapter knows.
    expected: Option<usize>,
    /// Other servers that answered.
    answered: usize,
    /// A broadcast with acknowledgements: the clients it reached, on the servers that
    /// answered (this one included).
    clients: u64,
    answers: Answers,
}

/// The pending queries of one endpoint.
#[derive(Debug, Default)]
pub(crate) struct Queries {
    next: u64,
    pending: BTreeMap<QueryId, Pending>,
    done: Vec<QueryReply>,
}

impl Queries {
    pub(crate) fn open(
        &mut self,
        deadline: Instant,
        answers: Answers,
    ) -> Result<QueryId, QueryError> {
        if self.pending.len() >= MAX_PENDING_QUERIES {
            return Err(QueryError::TooManyPending);
        }
        let query = QueryId(self.next);
        self.next += 1;
        let pending = Pending {
            deadline,
            expected: None,
            answered: 0,
            clients: 0,
            answers,
        };
        self.pending.insert(query, pending);
        Ok(query)
    }

    pub(crate) fn cancel(&mut self, query: QueryId) {
        self.pending.remove(&query);
    }

    pub(crate) fn is_pending(&self, query: QueryId) -> bool {
        self.pending.contains_key(&query)
    }

    /// `others` servers besides this one will answer (a `serverCount` takes the count
    /// as its answer: `others + 1`).
    pub(crate) fn expect(&mut self, query: QueryId, others: usize) {
        let Some(pending) = self.pending.get_mut(&query) else {
            return; // Ended already.
        };
        if let Answers::ServerCount(count) = &mut pending.answers {
            *count = others + 1;
            pending.expected = Some(0);
        } else {
            pending.expected = Some(others);
        }
        self.complete_if_done(query);
    }

    /// Adds an answer to a pending query of the same kind; others are dropped.
    pub(crate) fn answer(&mut self, query: QueryId, answer: Answer) {
        let Some(pending) = self.pending.get_mut(&query) else {
            return;
        };
        let full = pending.answered >= pending.expected.unwrap_or(MAX_EARLY_ANSWERS);
        match (&mut pending.answers, answer) {
            (Answers::Acks(acks), Answer::Ack(ack)) => {
                if (acks.len() as u64) < pending.clients {
                    acks.push(ack);
                }
                return self.complete_if_done(query);
            }
            (_, Answer::Ack(_)) => return,
            _ if full => return,
            (Answers::Rooms(all), Answer::Rooms(rooms)) => all.extend(rooms),
            (Answers::Sockets(all), Answer::Sockets(sockets)) => all.extend(sockets),
            (Answers::ServerSideEmit(all), Answer::ServerSideEmit(data)) => all.push(data),
            (Answers::Acks(_), Answer::ClientCount(count)) => {
                pending.clients = pending.clients.saturating_add(count);
            }
            _ => return, // Not an answer to this kind of query.
        }
        pending.answered += 1;
        self.complete_if_done(query);
    }

    /// This server's own broadcast with acknowledgements reached `clients` of its sockets.
    pub(crate) fn answer_clients(&mut self, query: QueryId, clients: u64) {
        if let Some(pending) = self.pending.get_mut(&query) {
            pending.clients = pending.clients.saturating_add(clients);
        }
    }

    fn complete_if_done(&mut self, query: QueryId) {
        let done = self.pending.get(&query).is_some_and(|p| {
            let acks = match &p.answers {
                Answers::Acks(acks) => acks.len() as u64 >= p.clients,
                _ => true,
            };
            acks && p.expected.is_some_and(|expected| p.answered >= expected)
        });
        if done {
            self.finish(query, false);
        }
    }

    fn finish(&mut self, query: QueryId, timed_out: bool) {
        if let Some(pending) = self.pending.remove(&query) {
            self.done.push(QueryReply {
                query,
                answers: pending.answers,
                timed_out,
            });
        }
    }

    /// Ends the queries whose deadline passed.
    pub(crate) fn expire(&mut self, now: Instant) {
        let due: Vec<QueryId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for query in due {
            self.finish(query, true);
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// The queries that ended since the last call, in order.
    pub(crate) fn take_done(&mut self) -> impl Iterator<Item = QueryReply> + '_ {
        self.done.drain(..)
    }
}
