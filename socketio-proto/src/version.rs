//! [`ProtocolVersion`]: which Socket.IO protocol a connection speaks, and the Engine.IO
//! version under it.

/// Socket.IO protocol revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ProtocolVersion {
    /// Protocol v4: socket.io 1.x and 2.x, over Engine.IO v3 (`EIO=3`).
    V4,
    /// Protocol v5: socket.io 3.x and 4.x, over Engine.IO v4 (`EIO=4`).
    V5,
}

impl From<engineio_proto::ProtocolVersion> for ProtocolVersion {
    /// The Socket.IO protocol that runs over an Engine.IO version: v4 over Engine.IO v3, v5
    /// over Engine.IO v4.
    fn from(version: engineio_proto::ProtocolVersion) -> Self {
        match version {
            engineio_proto::ProtocolVersion::V3 => ProtocolVersion::V4,
            _ => ProtocolVersion::V5,
        }
    }
}

impl From<ProtocolVersion> for engineio_proto::ProtocolVersion {
    /// The Engine.IO version a Socket.IO protocol runs over.
    fn from(version: ProtocolVersion) -> Self {
        match version {
            ProtocolVersion::V4 => engineio_proto::ProtocolVersion::V3,
            ProtocolVersion::V5 => engineio_proto::ProtocolVersion::V4,
        }
    }
}
