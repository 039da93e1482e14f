//! The server's settings.

use engineio_proto::session::server::ServerConfig as EngineConfig;

use super::connection::ConnectionConfig;
use super::recovery::RecoveryConfig;

/// Server-wide settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointConfig {
    /// The Engine.IO sessions' settings (heartbeats, `maxPayload`, transports, v3).
    pub engine: EngineConfig,
    /// Each connection's settings (`connectTimeout`, decoder limits, the wire format).
    pub connection: ConnectionConfig,
    /// Connection state recovery; off when `None`.
    pub recovery: Option<RecoveryConfig>,
}
