//! [`Socket`]: one client in one namespace, as the application holds it.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_proto::server::{DisconnectReason, Handshake, SocketRef};
use socketio_proto::{AckId, Namespace};

use super::error::Error;
use super::io::SocketIo;
use super::machine::Server;
use super::operators::Operators;
use crate::args::{ArgsError, Event, IntoArgs, read_args};
use crate::driver::Shard;
use crate::handler::{
    AsyncEventHandler, AsyncHandler, ErasedEventHandler, EventHandler, EventHandlers, Listener,
    Responder, SyncHandler, Target,
};

/// One client in one namespace (the reference's `socket`): cheap to clone, `Send + Sync`, usable
/// from any task. Its commands act at once; those of a socket that has left do nothing (or
/// fail with [`Error::Closed`] where they answer).
#[derive(Clone)]
pub struct Socket {
    inner: Arc<SocketInner>,
}

pub(crate) struct SocketInner {
    pub(crate) sref: SocketRef,
    pub(crate) shard: Shard<Server>,
    pub(crate) io: SocketIo,
    pub(crate) recovered: bool,
    pub(crate) handlers: Mutex<Handlers>,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

/// A socket's handlers.
#[derive(Default)]
pub(crate) struct Handlers {
    pub(crate) events: Vec<(Box<str>, Arc<dyn ErasedEventHandler<Socket>>)>,
    pub(crate) fallback: Option<Arc<dyn ErasedEventHandler<Socket>>>,
    pub(crate) any: Option<Listener<Socket>>,
    pub(crate) disconnect: Option<DisconnectHandler>,
}

impl Handlers {
    /// What an event named `name` runs: the [`on_any`](Socket::on_any) listener, and the
    /// event's handler or else the fallback.
    pub(crate) fn for_event(&self, name: Option<&str>) -> EventHandlers<Socket> {
        let handler = name
            .and_then(|name| self.events.iter().find(|(event, _)| **event == *name))
            .map(|(_, handler)| handler.clone())
            .or_else(|| self.fallback.clone());
        (self.any.clone(), handler)
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id())
            .field("namespace", &self.namespace().as_str())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        self.inner.sref == other.inner.sref
    }
}

impl Eq for Socket {}

impl Socket {
    pub(crate) fn new(
        sref: SocketRef,
        shard: Shard<Server>,
        io: SocketIo,
        recovered: bool,
    ) -> Self {
        #[cfg(feature = "tracing")]
        let span = tracing::info_span!(
            parent: None,
            "socket",
            ns = sref.namespace.as_str(),
            id = &*sref.id
        );
        Socket {
            inner: Arc::new(SocketInner {
                sref,
                shard,
                io,
                recovered,
                handlers: Mutex::new(Handlers::default()),
                #[cfg(feature = "tracing")]
                span,
            }),
        }
    }

    pub(crate) fn handlers(&self) -> std::sync::MutexGuard<'_, Handlers> {
        self.inner
            .handlers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The socket's id (`socket.id`).
    pub fn id(&self) -> &str {
        &self.inner.sref.id
    }

    /// Its namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.inner.sref.namespace
    }

    /// The endpoint's handle on it.
    pub fn socket_ref(&self) -> &SocketRef {
        &self.inner.sref
    }

    /// The server (`socket.nsp.server`, or `io`).
    pub fn io(&self) -> &SocketIo {
        &self.inner.io
    }

    /// Whether its state was recovered when it connected (`socket.recovered`).
    pub fn recovered(&self) -> bool {
        self.inner.recovered
    }

    /// Its `tracing` span (feature `tracing`), `socket{ns, id}`: its handlers run in it, and
    /// its connection, events and disconnection are debug events in it. Instrument the
    /// application's own tasks for this socket with it.
    #[cfg(feature = "tracing")]
    pub fn span(&self) -> &tracing::Span {
        &self.inner.span
    }

    /// Whether it is still connected.
    pub fn connected(&self) -> bool {
        self.inner.shard.lock().is_live(&self.inner.sref)
    }

    /// Calls `handler` for every event named `event` (replacing an earlier handler of that
    /// name): sync, run inline in arrival order. See [`handler`](crate::handler).
    pub fn on<H: EventHandler<Socket, M>, M: 'static>(&self, event: &str, handler: H) {
        let handler = Arc::new(SyncHandler(handler, PhantomData));
        self.set_handler(event, handler);
    }

    /// Calls `handler` for every event named `event`: async.
    pub fn on_async<H: AsyncEventHandler<Socket, M>, M: 'static>(&self, event: &str, handler: H) {
        let handler = Arc::new(AsyncHandler(handler, PhantomData));
        self.set_handler(event, handler);
    }

    /// Calls `listener` for every event the socket receives, before the event's handler
    /// (`socket.onAny`): to log or count them. It only looks; answering an acknowledgement is
    /// the handler's ([`on`](Self::on), [`on_fallback`](Self::on_fallback)). One listener: a
    /// later one replaces it.
    pub fn on_any(&self, listener: impl Fn(&Socket, &Event) + Send + Sync + 'static) {
        self.handlers().any = Some(Arc::new(listener));
    }

    /// Calls `handler` for the events no [`on`](Self::on) handler takes (socketioxide's
    /// `on_fallback`; [`Event::name`] tells them apart). Without one, such an event is
    /// dropped, and an acknowledgement it asks for never comes, as in the reference.
    pub fn on_fallback<H: EventHandler<Socket, M>, M: 'static>(&self, handler: H) {
        self.handlers().fallback = Some(Arc::new(SyncHandler(handler, PhantomData)));
    }

    /// Calls `handler` when the socket leaves, with the reason (its rooms are already gone).
    pub fn on_disconnect(
        &self,
        handler: impl Fn(Socket, DisconnectReason) + Send + Sync + 'static,
    ) {
        self.handlers().disconnect = Some(Arc::new(handler));
    }

    fn set_handler(&self, event: &str, handler: Arc<dyn ErasedEventHandler<Socket>>) {
        let mut handlers = self.handlers();
        match handlers
            .events
            .iter_mut()
            .find(|(name, _)| **name == *event)
        {
            Some(slot) => slot.1 = handler,
            None => handlers.events.push((event.into(), handler)),
        }
    }

    /// Emits `event` to this socket (`socket.emit`). `args` as in [`args`](crate::args): a
    /// tuple for several arguments, an [`Event`] to forward one. Fails when the arguments do
    /// not encode or the name is reserved; a socket that left is not an error (nobody
    /// receives it), as in the reference.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), Error> {
        let packet = args
            .into_event(self.namespace().clone(), check_name(event)?)
            .map_err(Error::Encode)?;
        let mut machine = self.inner.shard.lock();
        machine
            .endpoint_mut()
            .emit(Instant::now(), &self.inner.sref, packet)
            .map_err(Error::from)
    }

    /// Emits `event` and waits for the client's acknowledgement, read into `R` (a tuple for
    /// several arguments), for at most `timeout` (`socket.timeout(ms).emitWithAck`).
    pub async fn emit_with_ack<R: DeserializeOwned>(
        &self,
        event: &str,
        args: impl IntoArgs,
        timeout: Duration,
    ) -> Result<R, Error> {
        let packet = args
            .into_event(self.namespace().clone(), check_name(event)?)
            .map_err(Error::Encode)?;
        let ack = self.emit_with_ack_packet(packet, timeout).await?;
        read_args(ack.packet()).map_err(Error::Args)
    }

    /// [`emit_with_ack`](Self::emit_with_ack), the acknowledgement as it came (binary
    /// arguments included), to read or forward.
    pub async fn emit_with_ack_event(
        &self,
        event: &str,
        args: impl IntoArgs,
        timeout: Duration,
    ) -> Result<Event, Error> {
        let packet = args
            .into_event(self.namespace().clone(), check_name(event)?)
            .map_err(Error::Encode)?;
        self.emit_with_ack_packet(packet, timeout).await
    }

    async fn emit_with_ack_packet(
        &self,
        packet: socketio_proto::Packet,
        timeout: Duration,
    ) -> Result<Event, Error> {
        let answer = {
            let mut machine = self.inner.shard.lock();
            machine.emit_with_ack(&self.inner.sref, packet, timeout)?
        };
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Its Engine.IO client id (the first 12 characters of the session id) and transport now.
    #[cfg(feature = "admin-ui")]
    pub(crate) fn client_info(&self) -> Option<(String, &'static str)> {
        let machine = self.inner.shard.lock();
        super::machine::engine_info(machine.endpoint(), &self.inner.sref)
    }

    /// Joins `room` (`socket.join`).
    pub fn join(&self, room: &str) {
        self.inner
            .shard
            .lock()
            .endpoint_mut()
            .join(&self.inner.sref, room);
    }

    /// Leaves `room` (`socket.leave`).
    pub fn leave(&self, room: &str) {
        self.inner
            .shard
            .lock()
            .endpoint_mut()
            .leave(&self.inner.sref, room);
    }

    /// The rooms it joined, sorted, without the room named by its own id (which it is in
    /// unless it left it).
    pub fn rooms(&self) -> Vec<String> {
        self.inner
            .shard
            .lock()
            .endpoint()
            .rooms_of(&self.inner.sref)
            .to_vec()
    }

    /// A broadcast to `room`, excepting this socket (`socket.to(room)`).
    pub fn to(&self, room: impl Into<String>) -> Operators {
        self.broadcast().to(room)
    }

    /// A broadcast to every other socket of the namespace (`socket.broadcast`).
    pub fn broadcast(&self) -> Operators {
        Operators::new(self.inner.io.clone(), self.namespace().clone()).except(self.id().to_owned())
    }

    /// Every socket of this namespace, this one included (`socket.nsp`): broadcasts and
    /// cluster-wide operations in it.
    pub fn nsp(&self) -> Operators {
        Operators::new(self.inner.io.clone(), self.namespace().clone())
    }

    /// The sockets of this namespace in `room`, this one included (`io.in(room)` from a
    /// handler).
    pub fn within(&self, room: impl Into<String>) -> Operators {
        Operators::new(self.inner.io.clone(), self.namespace().clone()).to(room)
    }

    /// The HTTP request that opened its connection (`socket.handshake`, less the `auth`,
    /// which [`auth`](Self::auth) has).
    pub fn handshake(&self) -> Option<Handshake> {
        let machine = self.inner.shard.lock();
        machine
            .endpoint()
            .handshake(self.inner.sref.session)
            .cloned()
    }

    /// The CONNECT payload it joined with, read into `T`.
    pub fn auth<T: DeserializeOwned>(&self) -> Option<T> {
        let machine = self.inner.shard.lock();
        let auth = machine.endpoint().auth(&self.inner.sref)?;
        serde_json::from_str(auth).ok()
    }

    /// `socket.data`, read into `T` (`None` when unset or of another shape).
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        let machine = self.inner.shard.lock();
        let data = machine.endpoint().data(&self.inner.sref)?;
        T::deserialize(data).ok()
    }

    /// Sets `socket.data`: other servers see it in `fetchSockets`, and connection state
    /// recovery gives it back. Fails when it does not serialize to JSON.
    pub fn set_data<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), Error> {
        let value = serde_json::to_value(data)
            .map_err(|e| Error::Encode(socketio_proto::EncodeError::Serialize(e)))?;
        let mut machine = self.inner.shard.lock();
        machine.endpoint_mut().set_data(&self.inner.sref, value);
        Ok(())
    }

    /// Disconnects it from its namespace (`socket.disconnect()`: the client sees `io server
    /// disconnect`); its connection stays for its other namespaces.
    pub fn disconnect(&self) {
        let mut machine = self.inner.shard.lock();
        let _ = machine.endpoint_mut().disconnect(&self.inner.sref);
    }

    /// Closes its whole connection (`socket.disconnect(true)`).
    pub fn close(&self) {
        let mut machine = self.inner.shard.lock();
        machine.endpoint_mut().close(self.inner.sref.session);
    }
}

/// The acknowledgement a client asked for with an event: answer it once with
/// [`send`](Self::send) (a handler may also return a [`Reply`](super::Reply)). Dropping it
/// answers nothing, as a JavaScript listener that never calls its callback.
#[derive(Debug)]
pub struct Ack {
    target: Option<(Socket, AckId)>,
}

impl Ack {
    pub(crate) fn new(socket: Socket, id: Option<AckId>) -> Ack {
        Ack {
            target: id.map(|id| (socket, id)),
        }
    }

    /// Whether the client asked for an acknowledgement.
    pub fn is_requested(&self) -> bool {
        self.target.is_some()
    }

    /// Answers with `args` (a tuple for several arguments, an [`Event`] to echo one's
    /// arguments, binary included). Fails when the client asked for no acknowledgement
    /// ([`Error::NoAck`]), has left, or the arguments do not encode.
    pub fn send(self, args: impl IntoArgs) -> Result<(), Error> {
        let (socket, id) = self.target.ok_or(Error::NoAck)?;
        let packet = args
            .into_ack(socket.namespace().clone(), id)
            .map_err(Error::Encode)?;
        let mut machine = socket.inner.shard.lock();
        machine
            .endpoint_mut()
            .ack(&socket.inner.sref, packet)
            .map_err(Error::from)
    }
}

impl Responder for Ack {
    fn none() -> Ack {
        Ack { target: None }
    }

    fn respond<T: serde::Serialize + ?Sized>(self, value: &T) {
        // Fails when the client asked for no ack or left: nobody to answer.
        let _ = self.send(value);
    }
}

impl Target for Socket {
    type Ack = Ack;

    /// The handler is not called; with the `tracing` feature, a debug event says so.
    fn unexpected(&self, event: &Event, err: &ArgsError) {
        #[cfg(feature = "tracing")]
        tracing::debug!(
            parent: self.span(),
            event = event.name().as_deref().unwrap_or(""),
            error = %err,
            "event not handled: unexpected arguments"
        );
        let _ = (event, err);
    }
}

/// What runs when a socket leaves: sync `Fn(Socket, DisconnectReason)`.
pub(crate) type DisconnectHandler = Arc<dyn Fn(Socket, DisconnectReason) + Send + Sync>;

/// What runs when a socket joins a namespace (its handlers are set here): sync, so that no
/// event can arrive before them.
pub(crate) type ConnectionHandler = Arc<dyn Fn(Socket) + Send + Sync>;

/// `event`, unless the name is reserved.
pub(crate) fn check_name(event: &str) -> Result<&str, Error> {
    if socketio_proto::RESERVED_EVENT_NAMES.contains(&event) {
        Err(Error::ReservedEventName)
    } else {
        Ok(event)
    }
}
