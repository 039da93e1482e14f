//! An Engine.IO echo server, on the generic driver: every message goes back to its sender
//! (the server of the official Engine.IO test suites).

use std::time::Instant;

use engineio_proto::session::endpoint::{Endpoint, IdSource, Input, OsIds};
use engineio_proto::session::server::{ServerConfig, SessionEvent, Transmit};
use socketio_tokio::driver::Machine;

/// An Engine.IO echo server: every message goes back to its sender.
#[derive(Debug)]
pub struct Echo(Endpoint);

impl Echo {
    /// An echo server with these settings and ids from the operating system.
    pub fn new(config: ServerConfig) -> Echo {
        Self::with_ids(config, OsIds::new())
    }

    /// An echo server with these settings and ids.
    pub fn with_ids(config: ServerConfig, ids: impl IdSource + 'static) -> Echo {
        Echo(Endpoint::new(config, Box::new(ids)))
    }
}

impl Machine for Echo {
    fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.0.handle(now, input);
        while let Some((session, event)) = self.0.poll_event() {
            if let SessionEvent::Message(data) = event {
                // Fails only when the session is closing: nobody to echo to then.
                let _ = self.0.send(session, data);
            }
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.0.poll_transmit()
    }
    fn max_payload(&self) -> usize {
        self.0.config().max_payload
    }
    fn session_count(&self) -> usize {
        self.0.len()
    }
}
