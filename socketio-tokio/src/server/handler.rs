//! Handlers: the functions the application hands the server, sync or async.
//!
//! A **sync** handler runs on the shard's core task, inline, in the order the events arrived:
//! no task, no boxed future, no allocation beyond the packet. An **async** handler's future is
//! polled once inline, and spawned on the runtime only if it is not done then (it awaited
//! something); handlers of one socket that do await may then finish out of order, as
//! socketioxide's and Node.js's async listeners do.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use socketio_proto::server::DisconnectReason;

use super::args::{Event, FromEvent};
use super::socket::{Ack, Socket};

/// Polls `future` once here; spawns it if it is not done.
pub(crate) fn run_future<F: Future<Output = ()> + Send + 'static>(future: F) {
    let mut future = Box::pin(future);
    let mut cx = Context::from_waker(Waker::noop());
    if future.as_mut().poll(&mut cx) == Poll::Pending {
        tokio::spawn(future);
    }
}

/// What a handler returns: nothing, or the answer to the event's acknowledgement.
pub trait IntoReply {
    /// Answers `ack` (when the handler returns an answer).
    fn reply(self, ack: Ack);
}

impl IntoReply for () {
    fn reply(self, _ack: Ack) {}
}

/// An answer to the acknowledgement, by the argument convention (a tuple for several): a
/// handler that returns `Reply(value)` acknowledges with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply<T>(pub T);

impl<T: serde::Serialize> IntoReply for Reply<T> {
    fn reply(self, ack: Ack) {
        // Fails when the client asked for no ack or left: nobody to answer.
        let _ = ack.send(&self.0);
    }
}

impl<R: IntoReply> IntoReply for Option<R> {
    fn reply(self, ack: Ack) {
        if let Some(reply) = self {
            reply.reply(ack);
        }
    }
}

/// An event handler, erased.
pub(crate) trait ErasedEventHandler: Send + Sync {
    fn call(&self, socket: Socket, event: Event, ack: Ack);
}

/// A sync event handler: `Fn(Socket, A)` or `Fn(Socket, A, Ack)`, where `A` is
/// [`Data<T>`](super::Data) or [`Event`], returning `()` or a [`Reply`].
pub trait EventHandler<M>: Send + Sync + 'static {
    #[doc(hidden)]
    fn call(&self, socket: Socket, event: Event, ack: Ack);
}

/// Marker of the handler forms, for type inference.
#[doc(hidden)]
#[derive(Debug)]
pub struct WithoutAck<A>(std::marker::PhantomData<A>);

#[doc(hidden)]
#[derive(Debug)]
pub struct WithAck<A>(std::marker::PhantomData<A>);

impl<F, A, R> EventHandler<WithoutAck<(A, R)>> for F
where
    F: Fn(Socket, A) -> R + Send + Sync + 'static,
    A: FromEvent,
    R: IntoReply,
{
    fn call(&self, socket: Socket, event: Event, ack: Ack) {
        match A::from_event(&event) {
            Ok(args) => self(socket, args).reply(ack),
            Err(err) => super::socket::unexpected(&socket, &event, &err),
        }
    }
}

impl<F, A, R> EventHandler<WithAck<(A, R)>> for F
where
    F: Fn(Socket, A, Ack) -> R + Send + Sync + 'static,
    A: FromEvent,
    R: IntoReply,
{
    fn call(&self, socket: Socket, event: Event, ack: Ack) {
        match A::from_event(&event) {
            Ok(args) => self(socket, args, ack).reply(Ack::none()),
            Err(err) => super::socket::unexpected(&socket, &event, &err),
        }
    }
}

/// An async event handler: `Fn(Socket, A) -> impl Future` or `Fn(Socket, A, Ack) -> impl
/// Future`, whose output is `()` or a [`Reply`].
pub trait AsyncEventHandler<M>: Send + Sync + 'static {
    #[doc(hidden)]
    fn call(&self, socket: Socket, event: Event, ack: Ack);
}

impl<F, A, Fut> AsyncEventHandler<WithoutAck<(A, Fut)>> for F
where
    F: Fn(Socket, A) -> Fut + Send + Sync + 'static,
    A: FromEvent,
    Fut: Future + Send + 'static,
    Fut::Output: IntoReply,
{
    fn call(&self, socket: Socket, event: Event, ack: Ack) {
        match A::from_event(&event) {
            Ok(args) => {
                let future = self(socket, args);
                run_future(async move { future.await.reply(ack) });
            }
            Err(err) => super::socket::unexpected(&socket, &event, &err),
        }
    }
}

impl<F, A, Fut> AsyncEventHandler<WithAck<(A, Fut)>> for F
where
    F: Fn(Socket, A, Ack) -> Fut + Send + Sync + 'static,
    A: FromEvent,
    Fut: Future + Send + 'static,
    Fut::Output: IntoReply,
{
    fn call(&self, socket: Socket, event: Event, ack: Ack) {
        match A::from_event(&event) {
            Ok(args) => {
                let future = self(socket, args, ack);
                run_future(async move { future.await.reply(Ack::none()) });
            }
            Err(err) => super::socket::unexpected(&socket, &event, &err),
        }
    }
}

/// A sync handler behind the erased interface.
pub(crate) struct SyncHandler<H, M>(pub(crate) H, pub(crate) std::marker::PhantomData<fn(M)>);

impl<H: EventHandler<M>, M> ErasedEventHandler for SyncHandler<H, M> {
    fn call(&self, socket: Socket, event: Event, ack: Ack) {
        self.0.call(socket, event, ack);
    }
}

/// An async handler behind the erased interface.
pub(crate) struct AsyncHandler<H, M>(pub(crate) H, pub(crate) std::marker::PhantomData<fn(M)>);

impl<H: AsyncEventHandler<M>, M> ErasedEventHandler for AsyncHandler<H, M> {
    fn call(&self, socket: Socket, event: Event, ack: Ack) {
        self.0.call(socket, event, ack);
    }
}

/// What runs when a socket leaves: sync `Fn(Socket, DisconnectReason)`.
pub(crate) type DisconnectHandler = Arc<dyn Fn(Socket, DisconnectReason) + Send + Sync>;

/// What runs when a socket joins a namespace (its handlers are set here): sync, so that no
/// event can arrive before them.
pub(crate) type ConnectionHandler = Arc<dyn Fn(Socket) + Send + Sync>;

/// A boxed future, for the async middlewares.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
