//! The borrowed header view on arbitrary text: never panics, and every accepted header keeps
//! the protocol's invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socketio_proto::{AckId, Limits, ProtocolVersion, RawHeader};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    for version in [ProtocolVersion::V4, ProtocolVersion::V5] {
        let Ok(header) = RawHeader::parse(text, version, &limits) else {
            continue;
        };
        let namespace = header.namespace();
        assert!(namespace.starts_with('/') && !namespace.contains(','));
        assert!(header.namespace_name().len() <= namespace.len());
        if header.packet_type().is_binary() {
            assert!((1..=limits.max_attachments).contains(&header.attachments()));
        } else {
            assert_eq!(header.attachments(), 0);
        }
        assert!(header.ack_id().is_none_or(|id| id <= AckId::MAX));
        if let Some(json) = header.json() {
            assert!(text.ends_with(json) && !json.is_empty());
        }
        let _ = header.validate();
    }
});
