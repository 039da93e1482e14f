//! The emitter: a publish-only member of a classic cluster.

use socketio_cluster_proto::BroadcastOptions;
use socketio_cluster_proto::classic::{self, Channels, Request};
use socketio_proto::Packet;

/// Why the [`Emitter`] could not publish.
#[derive(Debug)]
#[non_exhaustive]
pub enum EmitterError {
    /// The packet or the request does not encode.
    Encode(socketio_proto::EncodeError),
    /// Redis refused or is unreachable.
    Redis(redis::RedisError),
}

impl std::fmt::Display for EmitterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Encode(err) => write!(f, "encode: {err}"),
            Self::Redis(err) => write!(f, "redis: {err}"),
        }
    }
}

impl std::error::Error for EmitterError {}

impl From<redis::RedisError> for EmitterError {
    fn from(err: redis::RedisError) -> Self {
        Self::Redis(err)
    }
}

impl From<socketio_proto::EncodeError> for EmitterError {
    fn from(err: socketio_proto::EncodeError) -> Self {
        Self::Encode(err)
    }
}

/// A publish-only member of a classic cluster, as `@socket.io/redis-emitter` 5.1: it emits
/// to the sockets of every node (Rust or Node.js) and asks them to join, leave or disconnect
/// sockets, from any process that reaches Redis. It subscribes to nothing, so it never
/// counts as a server.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use socketio_proto::{Namespace, Packet};
/// use socketio_redis::Emitter;
/// use socketio_redis::socketio_cluster_proto::BroadcastOptions;
///
/// let mut emitter = Emitter::connect("redis://127.0.0.1:6379", "socket.io").await?;
/// let packet = Packet::event(Namespace::main(), "news", &("hello",), None)?;
/// emitter.emit(&packet, &BroadcastOptions::default()).await?;
/// # Ok(())
/// # }
/// ```
pub struct Emitter {
    connection: redis::aio::MultiplexedConnection,
    key: String,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Emitter {
    /// Connects to Redis; `key` is the cluster's channel prefix (`socket.io` by default).
    pub async fn connect(url: &str, key: &str) -> Result<Emitter, EmitterError> {
        let client = redis::Client::open(url)?;
        let connection = client.get_multiplexed_async_connection().await?;
        Ok(Emitter {
            connection,
            key: key.to_owned(),
        })
    }

    fn channels(&self, namespace: &str) -> Channels {
        Channels::new(&self.key, namespace, "emitter")
    }

    async fn publish(&mut self, channel: &str, message: &[u8]) -> Result<(), EmitterError> {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(message)
            .query_async(&mut self.connection)
            .await?;
        Ok(())
    }

    /// Emits `packet` (an EVENT, to its namespace) to the sockets `opts` selects on every
    /// node.
    pub async fn emit(
        &mut self,
        packet: &Packet,
        opts: &BroadcastOptions,
    ) -> Result<(), EmitterError> {
        let mut message = Vec::new();
        classic::emitter_broadcast(&mut message, packet, opts)?;
        let channel = self.channels(packet.namespace()).broadcast_channel(opts);
        self.publish(&channel, &message).await
    }

    /// Makes the sockets `opts` selects in `namespace` join `rooms`, on every node.
    pub async fn sockets_join(
        &mut self,
        namespace: &str,
        opts: &BroadcastOptions,
        rooms: &[String],
    ) -> Result<(), EmitterError> {
        let request = Request::Join {
            uid: None,
            opts: opts.clone(),
            rooms: rooms.to_vec(),
        };
        self.request(namespace, &request).await
    }

    /// Makes the sockets `opts` selects in `namespace` leave `rooms`, on every node.
    pub async fn sockets_leave(
        &mut self,
        namespace: &str,
        opts: &BroadcastOptions,
        rooms: &[String],
    ) -> Result<(), EmitterError> {
        let request = Request::Leave {
            uid: None,
            opts: opts.clone(),
            rooms: rooms.to_vec(),
        };
        self.request(namespace, &request).await
    }

    /// Disconnects the sockets `opts` selects in `namespace` (with `close`, their whole
    /// connections), on every node.
    pub async fn disconnect_sockets(
        &mut self,
        namespace: &str,
        opts: &BroadcastOptions,
        close: bool,
    ) -> Result<(), EmitterError> {
        let request = Request::Disconnect {
            uid: None,
            opts: opts.clone(),
            close,
        };
        self.request(namespace, &request).await
    }

    /// `serverSideEmit`: `data` (the JSON array `[event, ...args]`) to the servers' own
    /// listeners, without acknowledgements.
    pub async fn server_side_emit(
        &mut self,
        namespace: &str,
        data: &str,
    ) -> Result<(), EmitterError> {
        let request = Request::ServerSideEmit {
            uid: "emitter".to_owned(),
            request_id: None,
            data: data.to_owned(),
        };
        self.request(namespace, &request).await
    }

    async fn request(&mut self, namespace: &str, request: &Request) -> Result<(), EmitterError> {
        let message = request.encode()?;
        let channel = self.channels(namespace).request().to_owned();
        self.publish(&channel, &message).await
    }
}
