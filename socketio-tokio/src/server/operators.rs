//! Broadcasts and cluster-wide operations (`io.to(room).except(room).emit(…)`,
//! `io.fetchSockets()`, `io.socketsJoin(…)`…), built like the reference's operators.

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use socketio_proto::Namespace;
use socketio_proto::server::{Answers, BroadcastTarget, QueryReply, RemoteSocket};

use super::error::Error;
use super::io::SocketIo;
use super::socket::check_name;
use crate::args::{ArgsError, Event, IntoArgs};

/// Who a broadcast or an operation reaches: the sockets of one namespace in any of its rooms
/// (all of them when none is named), but those in its exceptions; on every server unless
/// [`local`](Self::local). Build it from [`SocketIo::to`], [`Socket::to`](super::Socket::to)
/// and their siblings.
#[derive(Debug, Clone)]
#[must_use = "an operator does nothing until it emits or acts"]
pub struct Operators {
    io: SocketIo,
    namespace: Namespace,
    target: BroadcastTarget,
    local: bool,
    timeout: Option<Duration>,
}

impl Operators {
    pub(crate) fn new(io: SocketIo, namespace: Namespace) -> Operators {
        Operators {
            io,
            namespace,
            target: BroadcastTarget::all(),
            local: false,
            timeout: None,
        }
    }

    /// Also the sockets in `room` (`to`, `in`).
    pub fn to(mut self, room: impl Into<String>) -> Operators {
        self.target.rooms.push(room.into());
        self
    }

    /// Also the sockets in each of `rooms`.
    pub fn to_rooms<I: IntoIterator<Item = S>, S: Into<String>>(mut self, rooms: I) -> Operators {
        self.target.rooms.extend(rooms.into_iter().map(Into::into));
        self
    }

    /// But not the sockets in `room` (a socket id excepts that socket).
    pub fn except(mut self, room: impl Into<String>) -> Operators {
        self.target.except.push(room.into());
        self
    }

    /// Dropped for the clients that cannot take it right now (`volatile`).
    pub fn volatile(mut self) -> Operators {
        self.target.volatile = true;
        self
    }

    /// This server's sockets only, never the other servers' (`local`).
    pub fn local(mut self) -> Operators {
        self.local = true;
        self
    }

    /// How long [`emit_with_ack`](Self::emit_with_ack) waits (`timeout(ms)`); 5 s by default.
    pub fn timeout(mut self, timeout: Duration) -> Operators {
        self.timeout = Some(timeout);
        self
    }

    /// Emits `event` to the sockets selected, encoded once for all of them.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), Error> {
        let packet = args
            .into_event(self.namespace.clone(), check_name(event)?)
            .map_err(Error::Encode)?;
        let shard = self.io.shard()?;
        let mut machine = shard.lock();
        let endpoint = machine.endpoint_mut();
        let now = Instant::now();
        if self.local {
            endpoint.broadcast_local(now, packet, &self.target)?;
        } else {
            endpoint.broadcast(now, packet, &self.target)?;
        }
        Ok(())
    }

    /// Emits `event` to the sockets selected, each with an ack id of its own, and collects
    /// every client's acknowledgement (read into `R`, a tuple for several arguments), on every
    /// server, until all came or the [`timeout`](Self::timeout) passed (the reference's
    /// `timeout(ms).emit(…, (err, answers) => …)`: [`Acks::timed_out`] is its `err`).
    pub async fn emit_with_ack<R: DeserializeOwned>(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Acks<R>, Error> {
        let acks = self.emit_with_ack_events(event, args).await?;
        let answers = acks
            .answers
            .iter()
            .map(|ack| ack.args().map_err(Error::Args))
            .collect::<Result<_, _>>()?;
        Ok(Acks {
            answers,
            timed_out: acks.timed_out,
        })
    }

    /// [`emit_with_ack`](Self::emit_with_ack), each acknowledgement as it came (binary
    /// arguments included), to read or forward.
    pub async fn emit_with_ack_events(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Acks<Event>, Error> {
        let packet = args
            .into_event(self.namespace.clone(), check_name(event)?)
            .map_err(Error::Encode)?;
        let timeout = self.timeout.unwrap_or(Duration::from_secs(5));
        let reply = self
            .query(|endpoint, now| endpoint.broadcast_with_ack(now, packet, &self.target, timeout))
            .await?;
        let Answers::Acks(acks) = reply.answers else {
            return Err(Error::Closed);
        };
        Ok(Acks {
            answers: acks.into_iter().map(Event::new).collect(),
            timed_out: reply.timed_out,
        })
    }

    /// The rooms of this namespace on every server, socket-id rooms included, sorted
    /// (`allRooms`, an operation of the classic Redis adapter; alone, this server's).
    pub async fn all_rooms(&self) -> Result<Vec<String>, Error> {
        let namespace = &self.namespace;
        let reply = self
            .query(|endpoint, now| endpoint.all_rooms(now, namespace))
            .await?;
        if reply.timed_out {
            return Err(Error::Timeout);
        }
        match reply.answers {
            Answers::Rooms(rooms) => Ok(rooms.into_iter().collect()),
            _ => Err(Error::Closed),
        }
    }

    /// The sockets selected, on every server (`fetchSockets`): their ids, handshakes, rooms
    /// and data. Fails when a server did not answer within the requests timeout, as the
    /// reference rejects.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, Error> {
        if self.local {
            let shards = self.io.shards();
            let mut sockets = Vec::new();
            for shard in shards {
                let machine = shard.lock();
                let local = machine.endpoint().local();
                for socket in local.sockets(&self.namespace, &self.target) {
                    sockets.push(local.describe(&socket));
                }
            }
            return Ok(sockets);
        }
        let target = &self.target;
        let namespace = &self.namespace;
        let reply = self
            .query(|endpoint, now| endpoint.fetch_sockets(now, namespace, target))
            .await?;
        if reply.timed_out {
            return Err(Error::Timeout);
        }
        match reply.answers {
            Answers::Sockets(sockets) => Ok(sockets),
            _ => Err(Error::Closed),
        }
    }

    /// `serverSideEmit`: `event` with `args` to the other servers'
    /// [`SocketIo::on_server_side_emit`] (alone, to nobody). Binary arguments are refused: they
    /// cross servers as JSON.
    pub fn server_side_emit(&self, event: &str, args: impl IntoArgs) -> Result<(), Error> {
        let data = server_side_data(&self.namespace, event, args)?;
        let shard = self.io.shard()?;
        let mut machine = shard.lock();
        let endpoint = machine.endpoint_mut();
        endpoint.server_side_emit(Instant::now(), &self.namespace, &data)?;
        Ok(())
    }

    /// `serverSideEmitWithAck`: as [`server_side_emit`](Self::server_side_emit), collecting
    /// each other server's answer (read into `R`) until all came or the requests timeout
    /// passed.
    pub async fn server_side_emit_with_ack<R: DeserializeOwned>(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Acks<R>, Error> {
        let data = server_side_data(&self.namespace, event, args)?;
        let namespace = &self.namespace;
        let reply = self
            .query(|endpoint, now| endpoint.server_side_emit_with_ack(now, namespace, &data))
            .await?;
        let Answers::ServerSideEmit(answers) = reply.answers else {
            return Err(Error::Closed);
        };
        let answers = answers
            .iter()
            .map(|json| {
                serde_json::from_str(json).map_err(|e| Error::Args(ArgsError::from_json(e)))
            })
            .collect::<Result<_, _>>()?;
        Ok(Acks {
            answers,
            timed_out: reply.timed_out,
        })
    }

    /// `serverCount`: how many servers serve this namespace, this one included.
    pub async fn server_count(&self) -> Result<usize, Error> {
        let namespace = &self.namespace;
        let reply = self
            .query(|endpoint, now| endpoint.server_count(now, namespace))
            .await?;
        match reply.answers {
            Answers::ServerCount(count) => Ok(count),
            _ => Err(Error::Closed),
        }
    }

    /// The selected sockets join `rooms`, on every server (`socketsJoin`).
    pub fn sockets_join<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        rooms: I,
    ) -> Result<(), Error> {
        let rooms: Vec<String> = rooms.into_iter().map(Into::into).collect();
        self.act(|endpoint, now, ns, target| endpoint.sockets_join(now, ns, target, &rooms))
    }

    /// The selected sockets leave `rooms`, on every server (`socketsLeave`).
    pub fn sockets_leave<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        rooms: I,
    ) -> Result<(), Error> {
        let rooms: Vec<String> = rooms.into_iter().map(Into::into).collect();
        self.act(|endpoint, now, ns, target| endpoint.sockets_leave(now, ns, target, &rooms))
    }

    /// The selected sockets are disconnected, on every server (`disconnectSockets`); with
    /// `close`, their whole connections close.
    pub fn disconnect_sockets(&self, close: bool) -> Result<(), Error> {
        self.act(|endpoint, now, ns, target| endpoint.disconnect_sockets(now, ns, target, close))
    }

    fn act(
        &self,
        action: impl FnOnce(
            &mut socketio_proto::server::Endpoint,
            Instant,
            &Namespace,
            &BroadcastTarget,
        ) -> Result<(), socketio_proto::server::QueryError>,
    ) -> Result<(), Error> {
        let shard = self.io.shard()?;
        let mut machine = shard.lock();
        action(
            machine.endpoint_mut(),
            Instant::now(),
            &self.namespace,
            &self.target,
        )?;
        Ok(())
    }

    /// Runs a query on the first shard (its adapter reaches the others) and waits for its
    /// reply.
    pub(crate) async fn query(
        &self,
        start: impl FnOnce(
            &mut socketio_proto::server::Endpoint,
            Instant,
        ) -> Result<
            socketio_proto::server::QueryId,
            socketio_proto::server::QueryError,
        >,
    ) -> Result<QueryReply, Error> {
        let reply = self.io.shard()?.lock().query(start)?;
        reply.await.map_err(|_| Error::Closed)
    }
}

/// What an operation that collects answers got: every answer that came, and whether one was
/// missing at the deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Acks<R> {
    /// The answers, in arrival order.
    pub answers: Vec<R>,
    /// The deadline passed before every answer came.
    pub timed_out: bool,
}

/// `[event, ...args]` as JSON text, for `serverSideEmit`.
fn server_side_data(
    namespace: &Namespace,
    event: &str,
    args: impl IntoArgs,
) -> Result<String, Error> {
    let packet = args
        .into_event(namespace.clone(), check_name(event)?)
        .map_err(Error::Encode)?;
    if !packet.attachments().is_empty() {
        return Err(Error::Encode(socketio_proto::EncodeError::BinaryNotAllowed));
    }
    let json = packet.raw_json().map(|json| json.as_str().to_owned());
    Ok(json.unwrap_or_else(|| format!("[{}]", serde_json::Value::from(event))))
}
