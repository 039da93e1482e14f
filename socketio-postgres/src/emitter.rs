//! [`Emitter`]: emits to a PostgreSQL cluster from a process without a server.

use socketio_cluster_proto::postgres::{EMITTER_UID, PostgresCommand, PostgresOptions};
use socketio_cluster_proto::{BroadcastOptions, ClusterMessage};
use socketio_proto::Packet;
use socketio_proto::server::QueryError;
use tokio_postgres::NoTls;

/// Why an emit failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum EmitterError {
    /// PostgreSQL refused or the connection failed.
    Postgres(tokio_postgres::Error),
    /// The message does not encode.
    Encode(QueryError),
}

impl std::fmt::Display for EmitterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Postgres(err) => write!(f, "PostgreSQL: {err}"),
            Self::Encode(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for EmitterError {}

impl From<tokio_postgres::Error> for EmitterError {
    fn from(err: tokio_postgres::Error) -> Self {
        Self::Postgres(err)
    }
}

/// A publish-only member of a PostgreSQL cluster, as `@socket.io/postgres-emitter`: it emits to
/// the sockets of every node (Rust or Node.js) and asks them to join, leave or disconnect
/// sockets. It listens to nothing and is never counted as a server.
///
/// Its messages carry their namespace (`nsp`), which `@socket.io/postgres-emitter` 0.1.1's do
/// not: the Node.js adapter 0.5.0 drops those, so that emitter reaches only Rust nodes, and
/// this one reaches both.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use socketio_postgres::Emitter;
/// use socketio_postgres::socketio_cluster_proto::BroadcastOptions;
/// use socketio_proto::{Namespace, Packet};
///
/// let emitter = Emitter::connect("postgres://postgres@127.0.0.1/sio", Default::default()).await?;
/// let packet = Packet::event(Namespace::main(), "news", &("hello",), None)?;
/// emitter.emit(&packet, &BroadcastOptions::default()).await?;
/// # Ok(())
/// # }
/// ```
pub struct Emitter {
    client: tokio_postgres::Client,
    options: PostgresOptions,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Emitter {
    /// Connects to PostgreSQL (the cluster's channel prefix and table in `options`).
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Emitter, EmitterError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Emitter { client, options })
    }

    async fn publish(&self, namespace: &str, message: ClusterMessage) -> Result<(), EmitterError> {
        let command = self
            .options
            .publish(EMITTER_UID, namespace, &message)
            .map_err(EmitterError::Encode)?;
        match command {
            PostgresCommand::Notify { channel, payload } => {
                self.client
                    .execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
                    .await?;
            }
            PostgresCommand::Attach {
                channel,
                uid,
                kind,
                payload,
            } => {
                let insert = self.options.insert_sql();
                let statements = (insert.as_str(), "SELECT pg_notify($1, $2)");
                crate::tasks::attach(&self.client, statements, &channel, &uid, kind, &payload)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Emits `packet` (an EVENT, to its namespace) to the sockets `opts` selects on every
    /// node.
    pub async fn emit(&self, packet: &Packet, opts: &BroadcastOptions) -> Result<(), EmitterError> {
        let message = ClusterMessage::Broadcast {
            packet: packet.clone(),
            opts: opts.clone(),
            request_id: None,
        };
        self.publish(packet.namespace(), message).await
    }

    /// Makes the sockets `opts` selects in `namespace` join `rooms`, on every node.
    pub async fn sockets_join(
        &self,
        namespace: &str,
        opts: &BroadcastOptions,
        rooms: &[String],
    ) -> Result<(), EmitterError> {
        let message = ClusterMessage::SocketsJoin {
            opts: opts.clone(),
            rooms: rooms.to_vec(),
        };
        self.publish(namespace, message).await
    }

    /// Makes the sockets `opts` selects in `namespace` leave `rooms`, on every node.
    pub async fn sockets_leave(
        &self,
        namespace: &str,
        opts: &BroadcastOptions,
        rooms: &[String],
    ) -> Result<(), EmitterError> {
        let message = ClusterMessage::SocketsLeave {
            opts: opts.clone(),
            rooms: rooms.to_vec(),
        };
        self.publish(namespace, message).await
    }

    /// Disconnects the sockets `opts` selects in `namespace` (with `close`, their whole
    /// connections), on every node.
    pub async fn disconnect_sockets(
        &self,
        namespace: &str,
        opts: &BroadcastOptions,
        close: bool,
    ) -> Result<(), EmitterError> {
        let message = ClusterMessage::DisconnectSockets {
            opts: opts.clone(),
            close,
        };
        self.publish(namespace, message).await
    }

    /// `serverSideEmit`: `data` (the JSON array `[event, ...args]`) to the servers' own
    /// listeners, without acknowledgements.
    pub async fn server_side_emit(&self, namespace: &str, data: &str) -> Result<(), EmitterError> {
        let message = ClusterMessage::ServerSideEmit {
            request_id: None,
            data: data.to_owned(),
        };
        self.publish(namespace, message).await
    }
}
