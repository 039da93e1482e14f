//! The driver as a tower [`Layer`](tower_layer::Layer) and
//! [`Service`](tower_service::Service) (http 1.x types): it answers requests on the
//! Socket.IO path and passes every other request to the service it wraps, so Socket.IO
//! mounts in axum (`.layer(…)`), in plain hyper, or in any tower stack.
//!
//! What the host server owns: the listener, the connection limit, the header read and
//! keep-alive timeouts (axum's and hyper's defaults apply), TLS. What this service keeps: the
//! POST body read timeout, the WebSocket upgrade timeout, each WebSocket's backlog bound, and
//! the request policy (CORS, origins, `allowRequest`, the cookie). The host must enable HTTP
//! upgrades (axum's `serve` does; with hyper, `serve_connection(…).with_upgrades()`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, SizeHint};
use hyper::{Request, Response, StatusCode};

use super::http::{Shared, plain};
use super::shard::Machine;

/// A tower layer that serves Socket.IO on its path around any inner service.
pub struct SocketIoLayer<M> {
    shared: Arc<Shared<M>>,
}

impl<M> Clone for SocketIoLayer<M> {
    fn clone(&self) -> Self {
        SocketIoLayer {
            shared: self.shared.clone(),
        }
    }
}

impl<M> std::fmt::Debug for SocketIoLayer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIoLayer").finish_non_exhaustive()
    }
}

impl<M: Machine> SocketIoLayer<M> {
    pub(crate) fn new(shared: Arc<Shared<M>>) -> Self {
        SocketIoLayer { shared }
    }
}

impl<M: Machine, S> tower_layer::Layer<S> for SocketIoLayer<M> {
    type Service = SocketIoService<M, S>;

    fn layer(&self, inner: S) -> Self::Service {
        SocketIoService {
            shared: self.shared.clone(),
            inner,
        }
    }
}

/// The Socket.IO service around `S`: requests on the Socket.IO path are answered here, the
/// others by `S` (by a `404` with [`NotFound`]).
pub struct SocketIoService<M, S = NotFound> {
    shared: Arc<Shared<M>>,
    inner: S,
}

impl<M, S: Clone> Clone for SocketIoService<M, S> {
    fn clone(&self) -> Self {
        SocketIoService {
            shared: self.shared.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<M, S> std::fmt::Debug for SocketIoService<M, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIoService").finish_non_exhaustive()
    }
}

impl<M: Machine> SocketIoService<M, NotFound> {
    pub(crate) fn new(shared: Arc<Shared<M>>) -> Self {
        SocketIoService {
            shared,
            inner: NotFound,
        }
    }
}

/// The inner service of a standalone [`SocketIoService`]: `404` for everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotFound;

impl<B> tower_service::Service<Request<B>> for NotFound {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<B>) -> Self::Future {
        std::future::ready(Ok(plain(StatusCode::NOT_FOUND, "not found")))
    }
}

impl<M, S, B, R> tower_service::Service<Request<B>> for SocketIoService<M, S>
where
    M: Machine,
    S: tower_service::Service<Request<B>, Response = Response<R>>,
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    R: Body<Data = Bytes>,
{
    type Response = Response<ResponseBody<R>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if !self.shared.is_ours(req.uri().path()) {
            return ResponseFuture::inner(self.inner.call(req));
        }
        let shared = self.shared.clone();
        ResponseFuture::ours(Box::pin(
            async move { shared.handle(req, None, None, 0).await },
        ))
    }
}

impl<M, S, B, R> hyper::service::Service<Request<B>> for SocketIoService<M, S>
where
    M: Machine,
    S: tower_service::Service<Request<B>, Response = Response<R>> + Clone,
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    R: Body<Data = Bytes>,
{
    type Response = Response<ResponseBody<R>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn call(&self, req: Request<B>) -> Self::Future {
        let mut this = self.clone();
        tower_service::Service::call(&mut this, req)
    }
}

type OurFuture = Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>;

pin_project_lite::pin_project! {
    /// The future of a [`SocketIoService`] response.
    pub struct ResponseFuture<F> {
        #[pin]
        state: FutureState<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = FutureProjection]
    enum FutureState<F> {
        Inner { #[pin] future: F },
        Ours { future: OurFuture },
    }
}

impl<F> ResponseFuture<F> {
    fn inner(future: F) -> Self {
        ResponseFuture {
            state: FutureState::Inner { future },
        }
    }

    fn ours(future: OurFuture) -> Self {
        ResponseFuture {
            state: FutureState::Ours { future },
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.state {
            FutureState::Inner { .. } => "ResponseFuture::Inner",
            FutureState::Ours { .. } => "ResponseFuture::Ours",
        })
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<ResponseBody<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            FutureProjection::Inner { future } => future
                .poll(cx)
                .map(|r| r.map(|response| response.map(ResponseBody::inner))),
            FutureProjection::Ours { future } => future
                .as_mut()
                .poll(cx)
                .map(|response| Ok(response.map(ResponseBody::full))),
        }
    }
}

pin_project_lite::pin_project! {
    /// The body of a [`SocketIoService`] response: a Socket.IO answer, or the inner
    /// service's.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        state: BodyState<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = BodyProjection]
    #[derive(Debug)]
    enum BodyState<B> {
        Full { body: Full<Bytes> },
        Inner { #[pin] body: B },
    }
}

impl<B> ResponseBody<B> {
    fn full(body: Full<Bytes>) -> Self {
        ResponseBody {
            state: BodyState::Full { body },
        }
    }

    fn inner(body: B) -> Self {
        ResponseBody {
            state: BodyState::Inner { body },
        }
    }
}

impl<B: Body<Data = Bytes>> Body for ResponseBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project().state.project() {
            BodyProjection::Full { body } => Pin::new(body)
                .poll_frame(cx)
                .map(|frame| frame.map(|f| f.map_err(|never| match never {}))),
            BodyProjection::Inner { body } => body.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            BodyState::Full { body } => body.is_end_stream(),
            BodyState::Inner { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            BodyState::Full { body } => body.size_hint(),
            BodyState::Inner { body } => body.size_hint(),
        }
    }
}
