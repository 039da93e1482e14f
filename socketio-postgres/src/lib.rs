//! Multi-node Socket.IO through PostgreSQL, for `socketio-tokio`: this server joins a
//! cluster of Node.js (or Rust) Socket.IO servers sharing a database, with the adapter of
//! `@socket.io/postgres-adapter` 0.5, byte for byte.
//!
//! ```text
//!   socketio-cluster-proto   the cluster logic and the PostgreSQL wire, sans-IO
//! → socketio-postgres        this crate: its driver half (two connections and their tasks)
//!   socketio-tokio           the server it plugs into (`Builder::cluster`)
//! ```
//!
//! ```no_run
//! use socketio_postgres::{PostgresAdapter, PostgresAdapterOptions};
//! use socketio_tokio::SocketIo;
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let options = PostgresAdapterOptions::new("postgres://postgres@127.0.0.1/sio");
//! let (layer, io) = SocketIo::builder().cluster(PostgresAdapter::new(options)?).build_layer();
//! // Broadcasts, `fetch_sockets`, `sockets_join`, `server_side_emit`… now reach every node.
//! # let _ = (layer, io);
//! # Ok(()) }
//! ```
//!
//! What runs, per server (per shard of a sharded one): a **listener**, one connection that
//! `LISTEN`s on `‹prefix›#‹namespace›` for each namespace and hands every notification to
//! the adapter, and a **commander**, one connection that carries out the adapter's commands
//! in order: `SELECT pg_notify(…)`, the attachment rows (`INSERT … RETURNING id` then the
//! notification of its id; `SELECT payload` for the rows others announce) and, every 30 s,
//! the cleanup of old rows. At start the commander creates the attachments table if it is
//! missing. Each connection is made again after 1 to 3 s when it fails (the reference's
//! delay), the listener `LISTEN`s again; notifications sent while it was away are lost, as
//! with the reference.
//!
//! The reference pools its connections for publishing, so its notifications can overtake
//! each other; publishing on one connection keeps this server's in order.
//!
//! **Backpressure:** commands wait in a queue of [`COMMAND_QUEUE`] while the database is
//! slow or away; beyond, a broadcast still reaches the local sockets but not the other nodes,
//! and the drop is counted and logged on stderr (never silent). A command that fails because
//! the connection broke is tried once more on the next connection, then counted as dropped.
//! What arrives is applied as it is read.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod emitter;
mod tasks;

use std::fmt;
use std::time::{Duration, Instant};

use socketio_cluster_proto::ClusterAdapter;
use socketio_cluster_proto::postgres::{PostgresInput, PostgresWire};
use socketio_proto::Namespace;
use socketio_proto::server::{Adapter, Endpoint, REQUESTS_TIMEOUT};
use socketio_tokio::server::{ClusterDriver, Node};

pub use emitter::{Emitter, EmitterError};
/// The sans-IO cluster crate underneath (broadcast options, the wire).
pub use socketio_cluster_proto;
pub use socketio_cluster_proto::postgres::PostgresOptions;

/// Commands waiting to be carried out by the commander, at most.
pub const COMMAND_QUEUE: usize = 4096;

/// How to join the cluster.
#[derive(Debug, Clone)]
pub struct PostgresAdapterOptions {
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (or the key-value form).
    pub url: String,
    /// The namespaces this server serves in the cluster (each gets its uid and its channel);
    /// `/` by default.
    pub namespaces: Vec<String>,
    /// The adapter's options: channel prefix, table, threshold, intervals (the reference's
    /// defaults).
    pub options: PostgresOptions,
    /// How long a query of this server waits for the other nodes' answers, 5 s by default
    /// (the reference's fixed `requestsTimeout`).
    pub requests_timeout: Duration,
}

impl PostgresAdapterOptions {
    /// The defaults for `url`: namespace `/`, prefix `socket.io`, table
    /// `socket_io_attachments`.
    pub fn new(url: &str) -> Self {
        PostgresAdapterOptions {
            url: url.to_owned(),
            namespaces: vec!["/".to_owned()],
            options: PostgresOptions::default(),
            requests_timeout: REQUESTS_TIMEOUT,
        }
    }
}

/// Why the adapter cannot start.
#[derive(Debug)]
#[non_exhaustive]
pub enum PostgresAdapterError {
    /// The URL is not a PostgreSQL connection string.
    Url(tokio_postgres::Error),
    /// A namespace is not one, or its channel is too long for PostgreSQL (63 bytes with the
    /// prefix).
    Namespace(String),
    /// The table name is not a plain SQL identifier (`[A-Za-z_][A-Za-z0-9_]*`, optionally
    /// schema-qualified).
    Table(String),
    /// The operating system's random number generator failed (the nodes' uids come from it).
    Random(getrandom::Error),
}

impl fmt::Display for PostgresAdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(err) => write!(f, "bad PostgreSQL URL: {err}"),
            Self::Namespace(name) => write!(
                f,
                "{name:?} is not a namespace, or its channel is over 63 bytes"
            ),
            Self::Table(name) => write!(f, "{name:?} is not a plain table name"),
            Self::Random(err) => write!(f, "no randomness for the node's uid: {err}"),
        }
    }
}

impl std::error::Error for PostgresAdapterError {}

/// The PostgreSQL adapter's driver half: give it to
/// [`Builder::cluster`](socketio_tokio::Builder::cluster).
pub struct PostgresAdapter {
    options: PostgresAdapterOptions,
    config: tokio_postgres::Config,
    namespaces: Vec<Namespace>,
}

impl fmt::Debug for PostgresAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresAdapter")
            .field("namespaces", &self.namespaces)
            .field("options", &self.options.options)
            .finish_non_exhaustive()
    }
}

/// Whether `name` is a table name that can go into SQL as it is.
fn plain_table(name: &str) -> bool {
    name.split('.').count() <= 2
        && name.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

impl PostgresAdapter {
    /// An adapter with these options (nothing connects before the server runs).
    pub fn new(options: PostgresAdapterOptions) -> Result<PostgresAdapter, PostgresAdapterError> {
        let config: tokio_postgres::Config =
            options.url.parse().map_err(PostgresAdapterError::Url)?;
        if !plain_table(&options.options.table_name) {
            return Err(PostgresAdapterError::Table(
                options.options.table_name.clone(),
            ));
        }
        let namespaces = options
            .namespaces
            .iter()
            .map(|name| {
                let channel = options.options.channel(name);
                match Namespace::new(name) {
                    Ok(ns) if PostgresOptions::listen_sql(&channel).is_some() => Ok(ns),
                    _ => Err(PostgresAdapterError::Namespace(name.clone())),
                }
            })
            .collect::<Result<_, _>>()?;
        // A uid can be drawn: checked now, not at the first shard.
        uid()?;
        Ok(PostgresAdapter {
            options,
            config,
            namespaces,
        })
    }
}

impl ClusterDriver for PostgresAdapter {
    fn adapter(&self, _shard: usize) -> Box<dyn Adapter> {
        // Checked in `new`: the generator works.
        let members: Vec<(Namespace, String)> = self
            .namespaces
            .iter()
            .map(|ns| (ns.clone(), uid().unwrap_or_default()))
            .collect();
        let wire = PostgresWire::new(self.options.options.clone(), Instant::now());
        Box::new(
            ClusterAdapter::new(wire, &members)
                .with_requests_timeout(self.options.requests_timeout),
        )
    }

    fn start(&self, node: Node) {
        let channels = {
            let guard = node.lock();
            guard
                .endpoint()
                .adapter::<ClusterAdapter<PostgresWire>>()
                .map(|adapter| adapter.wire().channels())
        };
        let Some(channels) = channels else {
            return; // Not this driver's adapter.
        };
        tasks::start(
            node,
            self.config.clone(),
            self.options.options.clone(),
            channels,
        );
    }
}

/// How the tasks hand their node what arrived.
#[derive(Clone)]
pub(crate) struct Feed {
    node: Node,
}

impl Feed {
    /// Applies `input`; `false` once the server stopped.
    pub(crate) fn send(&self, input: PostgresInput) -> bool {
        if self.node.is_stopped() {
            return false;
        }
        let mut guard = self.node.lock();
        let now = Instant::now();
        let endpoint: &mut Endpoint = guard.endpoint_mut();
        endpoint.with_adapter_mut(now, |adapter: &mut ClusterAdapter<PostgresWire>, local| {
            adapter.handle(now, local, input)
        });
        true
    }

    /// Whether the server stopped.
    pub(crate) fn is_closed(&self) -> bool {
        self.node.is_stopped()
    }
}

/// A uid as the reference draws it: 16 lowercase hexadecimal characters from the OS's
/// CSPRNG.
fn uid() -> Result<String, PostgresAdapterError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(PostgresAdapterError::Random)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_before_anything_connects() {
        let ok = PostgresAdapter::new(PostgresAdapterOptions::new("postgres://u@127.0.0.1/db"));
        assert!(ok.is_ok());
        let mut long = PostgresAdapterOptions::new("postgres://u@127.0.0.1/db");
        long.namespaces = vec![format!("/{}", "n".repeat(60))];
        assert!(matches!(
            PostgresAdapter::new(long),
            Err(PostgresAdapterError::Namespace(_))
        ));
        let mut table = PostgresAdapterOptions::new("postgres://u@127.0.0.1/db");
        table.options.table_name = "x; DROP TABLE y".into();
        assert!(matches!(
            PostgresAdapter::new(table),
            Err(PostgresAdapterError::Table(_))
        ));
        assert!(plain_table("public.socket_io_attachments"));
        assert!(!plain_table("1table"));
        let bad = PostgresAdapter::new(PostgresAdapterOptions::new("postgres://u@h:notaport/db"));
        assert!(matches!(bad, Err(PostgresAdapterError::Url(_))));
        let uid = uid().unwrap();
        assert_eq!(uid.len(), 16);
        assert!(
            uid.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
