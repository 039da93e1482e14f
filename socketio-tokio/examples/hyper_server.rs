//! Socket.IO on plain hyper 1.x, without a framework: the server as a hyper service, each
//! connection served with upgrades on (WebSocket), the peer address handed to the server.
//!
//! ```text
//! cargo run -p socketio-tokio --example hyper_server
//! ```
//!
//! Every other path answers 404; to serve your own routes beside Socket.IO, wrap your tower
//! service with [`SocketIoLayer`](socketio_tokio::driver::SocketIoLayer) instead.

use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::TokioIo;
use socketio_tokio::driver::RemoteAddr;
use socketio_tokio::{Event, Socket, SocketIo};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (service, io) = SocketIo::builder().build_service();
    io.ns("/", |socket: Socket| {
        let address = socket.handshake().map(|h| h.address().to_owned());
        println!("{} connected from {address:?}", socket.id());
        // Every event goes back to the sender, acknowledgement included.
        socket.on_fallback(|socket: Socket, event: Event, ack: socketio_tokio::Ack| {
            if ack.is_requested() {
                let _ = ack.send(&event);
            } else if let Some(name) = event.name() {
                let _ = socket.emit(&name, &event);
            }
        });
    });

    let listener = TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}/", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        let service = service.clone();
        // The address the server reports in `socket.handshake().address` and gives to its
        // request policy: hyper does not know it, the accept loop does.
        let with_peer = hyper::service::service_fn(move |mut request| {
            request.extensions_mut().insert(RemoteAddr(peer));
            service.call(request)
        });
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), with_peer)
                .with_upgrades();
            if let Err(err) = connection.await {
                eprintln!("{peer}: {err}");
            }
        });
    }
}
