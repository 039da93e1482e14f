//! Handlers: the functions the application hands the server or the client, sync or async.
//!
//! A handler is called with its *target* (the server's [`Socket`](crate::Socket) or the
//! client's [`Client`](crate::client::Client)), the event's arguments ([`Data<T>`](crate::Data)
//! for typed values, [`Event`] for the packet as it came) and, in the forms that take one,
//! the target's acknowledgement handle; it returns `()` or a [`Reply`] that answers the
//! acknowledgement.
//!
//! A **sync** handler runs inline, in the order the events arrived: no task, no boxed
//! future, no allocation beyond the packet. An **async** handler's future is polled once
//! inline, and spawned on the runtime only if it is not done then (it awaited something);
//! handlers of one socket that do await may then finish out of order, as socketioxide's and
//! Node.js's async listeners do.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::args::{ArgsError, Event, FromEvent};

/// Polls `future` once here; spawns it if it is not done (with the `tracing` feature, in the
/// span it was started in: the socket's, or the client's).
pub(crate) fn run_future<F: Future<Output = ()> + Send + 'static>(future: F) {
    #[cfg(feature = "tracing")]
    let future = tracing::Instrument::in_current_span(future);
    let mut future = Box::pin(future);
    let mut cx = Context::from_waker(Waker::noop());
    if future.as_mut().poll(&mut cx) == Poll::Pending {
        tokio::spawn(future);
    }
}

/// What handlers are called with: the server's socket or the client's namespace handle.
pub trait Target: Clone + Send + Sync + 'static {
    /// The acknowledgement handle handed with each event.
    type Ack: Responder;

    /// An event whose arguments did not fit the handler, which is not called.
    #[doc(hidden)]
    fn unexpected(&self, event: &Event, err: &ArgsError);
}

/// An acknowledgement handle, as [`Reply`] uses it.
pub trait Responder: Send + 'static {
    /// A handle that answers nothing (the event asked for no acknowledgement).
    #[doc(hidden)]
    fn none() -> Self;
    /// Answers with `value` by the argument convention (a tuple for several). Nobody to
    /// answer (no acknowledgement asked, or the peer left) is not an error here.
    #[doc(hidden)]
    fn respond<T: serde::Serialize + ?Sized>(self, value: &T);
}

/// What a handler returns: nothing, or the answer to the event's acknowledgement.
pub trait IntoReply {
    /// Answers `ack` (when the handler returns an answer).
    fn reply<A: Responder>(self, ack: A);
}

impl IntoReply for () {
    fn reply<A: Responder>(self, _ack: A) {}
}

/// An answer to the acknowledgement, by the argument convention (a tuple for several): a
/// handler that returns `Reply(value)` acknowledges with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply<T>(pub T);

impl<T: serde::Serialize> IntoReply for Reply<T> {
    fn reply<A: Responder>(self, ack: A) {
        ack.respond(&self.0);
    }
}

impl<R: IntoReply> IntoReply for Option<R> {
    fn reply<A: Responder>(self, ack: A) {
        if let Some(reply) = self {
            reply.reply(ack);
        }
    }
}

/// An event handler, erased.
pub(crate) trait ErasedEventHandler<S: Target>: Send + Sync {
    fn call(&self, target: S, event: Event, ack: S::Ack);
}

/// A sync event handler: `Fn(S, A)` or `Fn(S, A, S::Ack)`, where `A` is
/// [`Data<T>`](crate::Data) or [`Event`], returning `()` or a [`Reply`].
pub trait EventHandler<S: Target, M>: Send + Sync + 'static {
    #[doc(hidden)]
    fn call(&self, target: S, event: Event, ack: S::Ack);
}

/// Marker of the handler forms, for type inference.
#[doc(hidden)]
#[derive(Debug)]
pub struct WithoutAck<A>(PhantomData<A>);

#[doc(hidden)]
#[derive(Debug)]
pub struct WithAck<A>(PhantomData<A>);

impl<S, F, A, R> EventHandler<S, WithoutAck<(A, R)>> for F
where
    S: Target,
    F: Fn(S, A) -> R + Send + Sync + 'static,
    A: FromEvent,
    R: IntoReply,
{
    fn call(&self, target: S, event: Event, ack: S::Ack) {
        match A::from_event(&event) {
            Ok(args) => self(target, args).reply(ack),
            Err(err) => target.unexpected(&event, &err),
        }
    }
}

impl<S, F, A, R> EventHandler<S, WithAck<(A, R)>> for F
where
    S: Target,
    F: Fn(S, A, S::Ack) -> R + Send + Sync + 'static,
    A: FromEvent,
    R: IntoReply,
{
    fn call(&self, target: S, event: Event, ack: S::Ack) {
        match A::from_event(&event) {
            Ok(args) => self(target, args, ack).reply(S::Ack::none()),
            Err(err) => target.unexpected(&event, &err),
        }
    }
}

/// An async event handler: `Fn(S, A) -> impl Future` or `Fn(S, A, S::Ack) -> impl Future`,
/// whose output is `()` or a [`Reply`].
pub trait AsyncEventHandler<S: Target, M>: Send + Sync + 'static {
    #[doc(hidden)]
    fn call(&self, target: S, event: Event, ack: S::Ack);
}

impl<S, F, A, Fut> AsyncEventHandler<S, WithoutAck<(A, Fut)>> for F
where
    S: Target,
    F: Fn(S, A) -> Fut + Send + Sync + 'static,
    A: FromEvent,
    Fut: Future + Send + 'static,
    Fut::Output: IntoReply,
{
    fn call(&self, target: S, event: Event, ack: S::Ack) {
        match A::from_event(&event) {
            Ok(args) => {
                let future = self(target, args);
                run_future(async move { future.await.reply(ack) });
            }
            Err(err) => target.unexpected(&event, &err),
        }
    }
}

impl<S, F, A, Fut> AsyncEventHandler<S, WithAck<(A, Fut)>> for F
where
    S: Target,
    F: Fn(S, A, S::Ack) -> Fut + Send + Sync + 'static,
    A: FromEvent,
    Fut: Future + Send + 'static,
    Fut::Output: IntoReply,
{
    fn call(&self, target: S, event: Event, ack: S::Ack) {
        match A::from_event(&event) {
            Ok(args) => {
                let future = self(target, args, ack);
                run_future(async move { future.await.reply(S::Ack::none()) });
            }
            Err(err) => target.unexpected(&event, &err),
        }
    }
}

/// A sync handler behind the erased interface.
pub(crate) struct SyncHandler<H, M>(pub(crate) H, pub(crate) PhantomData<fn(M)>);

impl<S: Target, H: EventHandler<S, M>, M> ErasedEventHandler<S> for SyncHandler<H, M> {
    fn call(&self, target: S, event: Event, ack: S::Ack) {
        self.0.call(target, event, ack);
    }
}

/// An async handler behind the erased interface.
pub(crate) struct AsyncHandler<H, M>(pub(crate) H, pub(crate) PhantomData<fn(M)>);

impl<S: Target, H: AsyncEventHandler<S, M>, M> ErasedEventHandler<S> for AsyncHandler<H, M> {
    fn call(&self, target: S, event: Event, ack: S::Ack) {
        self.0.call(target, event, ack);
    }
}

/// A boxed future, for the async middlewares.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An `on_any` listener: sees every event before its handler.
pub(crate) type Listener<C> = Arc<dyn Fn(&C, &Event) + Send + Sync>;

/// What one received event runs: the `on_any` listener and the handler (the event's own, or
/// the fallback).
pub(crate) type EventHandlers<C> = (Option<Listener<C>>, Option<Arc<dyn ErasedEventHandler<C>>>);
