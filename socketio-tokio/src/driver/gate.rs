//! A shard's input gate.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A shard's input gate: while it is closed, its connections stop reading from their
/// clients (WebSocket frames, POST bodies), so that what the shard cannot pass on waits in
/// the clients and the kernel's buffers, not in the server's memory.
#[derive(Debug, Default)]
pub struct Gate {
    closed: AtomicBool,
    opened: Notify,
}

impl Gate {
    /// Stops the shard's connections from reading.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Lets them read again.
    pub fn open(&self) {
        if self.closed.swap(false, Ordering::Relaxed) {
            self.opened.notify_waiters();
        }
    }

    /// Whether the gate is closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Waits until the gate is open.
    pub async fn wait_open(&self) {
        loop {
            let opened = self.opened.notified();
            if !self.is_closed() {
                return;
            }
            opened.await;
        }
    }
}
