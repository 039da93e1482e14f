//! The server's counters in the Prometheus text format ([`SocketIo::metrics`]).
//!
//! Everything comes from counters the sans-IO endpoints keep anyway (sessions, messages and
//! bytes each way, closes by reason), read when scraped: nothing is added per message.

use std::fmt::Write as _;

use socketio_proto::server::Counters;

use crate::server::SocketIo;

impl SocketIo {
    /// The server's counters and gauges in the Prometheus text exposition format, for a
    /// `/metrics` endpoint: Engine.IO sessions opened, closed (by reason) and open (and of
    /// them, on long-polling), messages and bytes received and sent, and the sockets of each
    /// namespace, summed over the shards.
    pub fn metrics(&self) -> String {
        let mut counters = Counters::default();
        let (mut sessions, mut sockets) = (0usize, Vec::<(String, u64)>::new());
        for shard in self.shards() {
            let machine = shard.lock();
            let engine = machine.endpoint().local().engine();
            counters.add(engine.counters());
            sessions += engine.len();
            for socket in machine.sockets() {
                let name = socket.namespace().as_str();
                match sockets.iter_mut().find(|(n, _)| n == name) {
                    Some((_, count)) => *count += 1,
                    None => sockets.push((name.to_owned(), 1)),
                }
            }
        }
        sockets.sort();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP socketio_{name} {help}");
            let _ = writeln!(out, "# TYPE socketio_{name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "socketio_{name}{labels} {value}");
            }
        };
        let plain = |value: u64| vec![(String::new(), value)];
        let label = |key: &str, value: &str| format!("{{{key}=\"{}\"}}", escape(value));
        metric(
            "sessions_opened_total",
            "counter",
            "Engine.IO sessions opened.",
            &plain(counters.opened),
        );
        let closed: Vec<(String, u64)> = counters
            .closed()
            .map(|(reason, n)| (label("reason", reason.as_str()), n))
            .collect();
        metric(
            "sessions_closed_total",
            "counter",
            "Engine.IO sessions closed, by reason.",
            &closed,
        );
        metric(
            "sessions",
            "gauge",
            "Engine.IO sessions open.",
            &plain(sessions as u64),
        );
        metric(
            "polling_sessions",
            "gauge",
            "Engine.IO sessions open on long-polling (not upgraded).",
            &plain(counters.polling),
        );
        let direction = |inward: u64, outward: u64| {
            vec![
                (label("direction", "in"), inward),
                (label("direction", "out"), outward),
            ]
        };
        metric(
            "messages_total",
            "counter",
            "Engine.IO messages, by direction.",
            &direction(counters.messages_in, counters.messages_out),
        );
        metric(
            "message_bytes_total",
            "counter",
            "Bytes of Engine.IO messages, by direction.",
            &direction(counters.bytes_in, counters.bytes_out),
        );
        let sockets: Vec<(String, u64)> = sockets
            .iter()
            .map(|(namespace, n)| (label("namespace", namespace), *n))
            .collect();
        metric(
            "sockets",
            "gauge",
            "Sockets connected, by namespace.",
            &sockets,
        );
        out
    }
}

/// A label value with `\`, `"` and new lines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
