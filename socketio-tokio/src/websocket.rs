//! One WebSocket's task, shared by the server and the client driver: frames from the sans-IO
//! side are written in batches (everything queued, then one flush), frames read go back to it,
//! and the outgoing backlog is bounded in bytes. A server socket also stops reading while its
//! shard's input [`Gate`](crate::driver::gate::Gate) is closed.
//!
//! Backpressure: while more than [`Backlog::pause_reading_above`] bytes wait to be written,
//! the task stops reading from the peer, so a client that floods requests whose answers it does
//! not read slows itself down instead of filling the server's memory. Its pongs wait too: a
//! client that leaves that much unread for longer than the ping timeout is dropped by it. Over
//! [`Backlog::limit`] the socket is closed with code 1008 and a reason: a recipient that cannot
//! keep up with what is sent to it is disconnected explicitly, never silently skipped.
//!
//! Protocol errors close with the code the reference (`ws`) sends: invalid UTF-8 1007, a
//! message over `maxPayload` 1009, any other violation (fragmented control frame, unmasked
//! client frame…) 1002.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use engineio_proto::{Frame, Utf8Bytes};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Notify;
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
    /// Frames waiting for the task, and whether the sending side is gone.
    queue: Mutex<Queue>,
    /// Bytes handed to the task and not yet written.
    queued: AtomicUsize,
    /// Wakes the task: frames arrived, the sender closed, or the socket must die.
    wake: Notify,
    /// Set when the socket must close at once, dropping what is queued (1008).
    killed: AtomicBool,
}

#[derive(Debug, Default)]
struct Queue {
    frames: Vec<Frame>,
    closed: bool,
}

/// The sending end: where the driver's core puts frames for one socket. Dropping it closes
/// the socket once what is queued is written.
#[derive(Debug)]
pub(crate) struct Outbox {
    shared: Arc<Shared>,
    limit: usize,
}

/// The socket's backlog is over its limit: it was closed.
#[derive(Debug)]
pub(crate) struct Overflow;

impl Outbox {
    /// Queues a frame without waking the socket's task: call [`Outbox::wake`] once after a
    /// batch, so a burst of frames costs one wake-up and one write. Over the backlog limit the
    /// socket is closed (1008) and nothing more is sent; the caller reports the socket closed.
    pub(crate) fn push(&self, frame: Frame) -> Result<(), Overflow> {
        let size = frame_len(&frame);
        let queued = self.shared.queued.fetch_add(size, Ordering::Relaxed) + size;
        if queued > self.limit {
            self.shared.killed.store(true, Ordering::Relaxed);
            self.shared.wake.notify_one();
            return Err(Overflow);
        }
        let mut queue = lock(&self.shared.queue);
        if is_heartbeat(&frame) {
            // A heartbeat jumps the data queued before it, so a burst of data cannot make a
            // healthy client miss its ping (and the server its pong deadline).
            queue.frames.insert(0, frame);
        } else {
            queue.frames.push(frame);
        }
        Ok(())
    }

    /// Wakes the socket's task to write what was pushed.
    pub(crate) fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// [`Outbox::push`] and [`Outbox::wake`].
    pub(crate) fn send(&self, frame: Frame) -> Result<(), Overflow> {
        self.push(frame)?;
        self.wake();
        Ok(())
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        lock(&self.shared.queue).closed = true;
        self.shared.wake.notify_one();
    }
}

/// The queue's lock; a panic while holding it cannot leave it inconsistent (pushes and swaps).
fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The receiving end, for the socket's task.
#[derive(Debug)]
pub(crate) struct Inbox {
    shared: Arc<Shared>,
    /// The batch being written (kept to reuse its allocation).
    batch: Vec<Frame>,
}

impl Inbox {
    /// Takes what is queued into `self.batch`; false once the sender is gone and nothing is
    /// left.
    fn take(&mut self) -> bool {
        let mut queue = lock(&self.shared.queue);
        std::mem::swap(&mut queue.frames, &mut self.batch);
        !(queue.closed && self.batch.is_empty())
    }
}

/// A connected pair.
pub(crate) fn channel(backlog: &Backlog) -> (Outbox, Inbox) {
    let shared = Arc::new(Shared::default());
    let outbox = Outbox {
        shared: shared.clone(),
        limit: backlog.limit,
    };
    let inbox = Inbox {
        shared,
        batch: Vec::new(),
    };
    (outbox, inbox)
}

/// An Engine.IO heartbeat frame: a v4 ping (`2`, from the server) or a v3 pong (`3`, the
/// server's answer to a v3 client's ping). Their order against messages carries no meaning.
fn is_heartbeat(frame: &Frame) -> bool {
    matches!(frame, Frame::Text(text) if matches!(text.as_bytes(), b"2" | b"3"))
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
    gate: Option<&crate::driver::gate::Gate>,
    mut incoming: impl FnMut(Frame) -> bool,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let shared = inbox.shared.clone();
    loop {
        if shared.killed.load(Ordering::Relaxed) {
            let close = CloseFrame {
                code: CloseCode::Policy,
                reason: "too slow: outgoing backlog over its limit".into(),
            };
            let _ = tokio::time::timeout(backlog.write_timeout, ws.close(Some(close))).await;
            return;
        }
        if !inbox.take() {
            // The sans-IO side closed the socket, and what it queued is written.
            let _ = tokio::time::timeout(backlog.write_timeout, ws.close(None)).await;
            return;
        }
        if !inbox.batch.is_empty() {
            if !write_batch(&mut ws, &mut inbox, &backlog).await {
                return;
            }
            continue;
        }
        let gated = gate.is_some_and(crate::driver::gate::Gate::is_closed);
        let reading =
            !gated && shared.queued.load(Ordering::Relaxed) <= backlog.pause_reading_above;
        tokio::select! {
            biased;
            () = shared.wake.notified() => {}
            () = wait_gate(gate), if gated => {}
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

/// Writes the taken batch, then flushes once. False when the socket broke, timed out or was
/// killed meanwhile.
async fn write_batch<S>(ws: &mut WebSocketStream<S>, inbox: &mut Inbox, backlog: &Backlog) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let shared = inbox.shared.clone();
    let batch = &mut inbox.batch;
    let write = async {
        let mut written = 0;
        for frame in batch.drain(..) {
            written += frame_len(&frame);
            ws.feed(to_message(frame)).await?;
        }
        ws.flush().await?;
        shared.queued.fetch_sub(written, Ordering::Relaxed);
        Ok::<(), Error>(())
    };
    tokio::select! {
        biased;
        // Killed while stuck writing: the loop sends the 1008 close (or gives up on it).
        () = wait_killed(&shared) => true,
        result = tokio::time::timeout(backlog.write_timeout, write) => matches!(result, Ok(Ok(()))),
    }
}

async fn wait_gate(gate: Option<&crate::driver::gate::Gate>) {
    if let Some(gate) = gate {
        gate.wait_open().await;
    }
}

async fn wait_killed(shared: &Shared) {
    loop {
        let notified = shared.wake.notified();
        if shared.killed.load(Ordering::Relaxed) {
            return;
        }
        notified.await;
    }
}
