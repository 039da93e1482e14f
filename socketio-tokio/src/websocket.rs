//! One WebSocket's task, shared by the server and the client driver: frames from the sans-IO
//! side are written in batches (everything queued, then one flush), frames read go back to it,
//! and the outgoing backlog is bounded in bytes.
//!
//! Backpressure: while more than [`Backlog::pause_reading_above`] bytes wait to be written,
//! the task stops reading from the peer, so a client that floods requests whose answers it does
//! not read slows itself down instead of filling the server's memory. Over
//! [`Backlog::limit`] the socket is closed with code 1008 and a reason: a recipient that cannot
//! keep up with what is sent to it is disconnected explicitly, never silently skipped.
//!
//! Protocol errors close with the code the reference (`ws`) sends: invalid UTF-8 1007, a
//! message over `maxPayload` 1009, any other violation (fragmented control frame, unmasked
//! client frame…) 1002.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use engineio_proto::{Frame, Utf8Bytes};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WireFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

/// Bounds on one socket's outgoing backlog, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backlog {
    /// Stop reading from the peer while more than this waits to be written. 1 MiB.
    pub pause_reading_above: usize,
    /// Close the socket (code 1008) when more than this would wait. 16 MiB.
    pub limit: usize,
    /// How long one write may wait for the peer to take data before the socket is dropped.
    /// 30 s.
    pub write_timeout: Duration,
}

impl Default for Backlog {
    fn default() -> Self {
        Backlog {
            pause_reading_above: 1 << 20,
            limit: 16 << 20,
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// What the sans-IO side and a socket's task share.
#[derive(Debug, Default)]
struct Shared {
    /// Bytes handed to the task and not yet written.
    queued: AtomicUsize,
    /// Set when the socket must close at once, dropping what is queued.
    kill: Notify,
}

/// The sending end: where the driver's core puts frames for one socket.
#[derive(Debug)]
pub(crate) struct Outbox {
    frames: mpsc::UnboundedSender<Frame>,
    shared: Arc<Shared>,
    limit: usize,
}

/// The socket's backlog is over its limit: it was closed.
#[derive(Debug)]
pub(crate) struct Overflow;

impl Outbox {
    /// Queues a frame. Over the backlog limit the socket is closed (1008) and nothing more is
    /// sent; the caller reports the socket closed.
    pub(crate) fn send(&self, frame: Frame) -> Result<(), Overflow> {
        let size = frame_len(&frame);
        let queued = self.shared.queued.fetch_add(size, Ordering::Relaxed) + size;
        if queued > self.limit {
            self.shared.kill.notify_one();
            return Err(Overflow);
        }
        self.frames.send(frame).map_err(|_| Overflow)
    }
}

/// The receiving end, for the socket's task.
#[derive(Debug)]
pub(crate) struct Inbox {
    frames: mpsc::UnboundedReceiver<Frame>,
    shared: Arc<Shared>,
}

/// A connected pair: dropping the [`Outbox`] closes the socket once what is queued is
/// written.
pub(crate) fn channel(backlog: &Backlog) -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    let outbox = Outbox {
        frames: tx,
        shared: shared.clone(),
        limit: backlog.limit,
    };
    (outbox, Inbox { frames: rx, shared })
}

fn frame_len(frame: &Frame) -> usize {
    match frame {
        Frame::Text(t) => t.len(),
        Frame::Binary(b) => b.len(),
    }
}

/// A frame as tungstenite sends it. Text goes as a raw data frame: it is UTF-8 already (an
/// [`Utf8Bytes`]), and checking it again per recipient would cost a pass over every broadcast.
fn to_message(frame: Frame) -> Message {
    match frame {
        Frame::Text(text) => Message::Frame(WireFrame::message(
            Bytes::from(text),
            OpCode::Data(Data::Text),
            true,
        )),
        Frame::Binary(bytes) => Message::Binary(bytes),
    }
}

/// Why reading stopped, and the close frame to send for it.
fn close_for(error: &Error) -> Option<CloseFrame> {
    let code = match error {
        Error::Utf8(_) => CloseCode::Invalid,
        Error::Capacity(CapacityError::MessageTooLong { .. }) => CloseCode::Size,
        Error::Capacity(_) | Error::Protocol(_) => CloseCode::Protocol,
        // The connection itself broke: nobody to tell.
        _ => return None,
    };
    Some(CloseFrame {
        code,
        reason: error
            .to_string()
            .chars()
            .take(100)
            .collect::<String>()
            .into(),
    })
}

/// Pumps a WebSocket until either side ends it: queued frames are written in batches (then one
/// flush), frames read are handed to `incoming` until it returns false. The socket closes when
/// the [`Outbox`] is dropped (after writing what is queued), when it overflows (at once, code
/// 1008), on a protocol error (with its code), or when the peer closes.
pub(crate) async fn pump<S>(
    mut ws: WebSocketStream<S>,
    mut inbox: Inbox,
    backlog: Backlog,
    mut incoming: impl FnMut(Frame) -> bool,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let shared = inbox.shared.clone();
    loop {
        let reading = shared.queued.load(Ordering::Relaxed) <= backlog.pause_reading_above;
        tokio::select! {
            biased;
            () = shared.kill.notified() => {
                let close = CloseFrame {
                    code: CloseCode::Policy,
                    reason: "too slow: outgoing backlog over its limit".into(),
                };
                let _ = tokio::time::timeout(backlog.write_timeout, ws.close(Some(close))).await;
                return;
            }
            frame = inbox.frames.recv() => {
                let Some(frame) = frame else {
                    // The sans-IO side closed the socket; what was queued is written.
                    let _ = tokio::time::timeout(backlog.write_timeout, ws.close(None)).await;
                    return;
                };
                if !write_batch(&mut ws, &mut inbox, frame, &backlog).await {
                    return;
                }
            }
            message = ws.next(), if reading => {
                let frame = match message {
                    Some(Ok(Message::Text(text))) => {
                        match Utf8Bytes::try_from_bytes(Bytes::from(text)) {
                            Ok(text) => Frame::Text(text),
                            Err(_) => return,
                        }
                    }
                    Some(Ok(Message::Binary(bytes))) => Frame::Binary(bytes),
                    Some(Ok(Message::Close(_))) | None => return,
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => {
                        if let Some(close) = close_for(&error) {
                            let _ = tokio::time::timeout(backlog.write_timeout, ws.close(Some(close))).await;
                        }
                        return;
                    }
                };
                if !incoming(frame) {
                    return;
                }
            }
        }
    }
}

/// Writes `first` and everything else already queued, then flushes once. False when the
/// socket broke, timed out or was killed meanwhile.
async fn write_batch<S>(
    ws: &mut WebSocketStream<S>,
    inbox: &mut Inbox,
    first: Frame,
    backlog: &Backlog,
) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let shared = inbox.shared.clone();
    let write = async {
        let mut written = frame_len(&first);
        ws.feed(to_message(first)).await?;
        while let Ok(frame) = inbox.frames.try_recv() {
            written += frame_len(&frame);
            ws.feed(to_message(frame)).await?;
        }
        ws.flush().await?;
        shared.queued.fetch_sub(written, Ordering::Relaxed);
        Ok::<(), Error>(())
    };
    tokio::select! {
        biased;
        () = shared.kill.notified() => {
            // Re-arm, so the loop sends the 1008 close.
            shared.kill.notify_one();
            true
        }
        result = tokio::time::timeout(backlog.write_timeout, write) => matches!(result, Ok(Ok(()))),
    }
}
