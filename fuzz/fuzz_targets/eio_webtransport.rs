//! A WebTransport stream cut into chunks (the first input byte sets their size): frames never
//! exceed the limit, errors are final, and every decoded packet re-frames into a frame that
//! decodes to it.
#![no_main]

use bytes::Bytes;
use engineio_proto::webtransport::{self, Deframer};

const MAX_PAYLOAD: usize = 4096;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&chunk_size, stream)) = data.split_first() else {
        return;
    };
    let mut deframer = Deframer::new(MAX_PAYLOAD);
    let mut failed = None;
    for chunk in stream.chunks(usize::from(chunk_size).max(1)) {
        let mut chunk = Bytes::copy_from_slice(chunk);
        loop {
            match deframer.decode_packet(&mut chunk) {
                Ok(Some(packet)) => {
                    assert!(failed.is_none(), "no packet after an error");
                    assert!(packet.data.as_data_ref().len() <= MAX_PAYLOAD);
                    let mut framed = Vec::new();
                    webtransport::encode_packet(&packet.as_packet_ref(), &mut framed)
                        .expect("decoded packets re-frame");
                    let mut again = Deframer::new(MAX_PAYLOAD);
                    let back = again
                        .decode_packet(&mut Bytes::from(framed))
                        .expect("re-framed packet decodes");
                    assert_eq!(back.as_ref(), Some(&packet));
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(failed.is_none_or(|f| f == e), "errors are sticky");
                    failed = Some(e);
                    break;
                }
            }
        }
    }
});
