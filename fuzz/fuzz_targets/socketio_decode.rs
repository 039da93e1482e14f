//! Full decode with validation of one text packet: never panics, and whatever decodes
//! re-encodes to a text that decodes to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socketio_proto::{DecodeStatus, Decoder, Limits, ProtocolVersion};

fuzz_target!(|data: &[u8]| {
    for version in [ProtocolVersion::V4, ProtocolVersion::V5] {
        let mut decoder = Decoder::new(version, Limits::default());
        match decoder.feed_text(data.to_vec()) {
            Ok(DecodeStatus::Complete(packet)) => {
                let again = decoder.feed_text(packet.encode().to_text().unwrap_or_default());
                assert_eq!(again, Ok(DecodeStatus::Complete(packet)));
            }
            Ok(DecodeStatus::NeedAttachments { remaining }) => {
                assert!((1..=Limits::default().max_attachments).contains(&remaining));
                assert_eq!(decoder.remaining_attachments(), remaining);
            }
            Err(_) => assert!(decoder.is_idle()),
        }
    }
});
