//! Bounded memory under a flood of binary frames after bad (and good) headers.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use socketio_proto::{DecodeError, DecodeStatus, Decoder, Limits, ProtocolVersion};

const FRAMES: usize = 100_000;
/// Binary frames fed after each header: more than any header here can use.
const FRAMES_PER_HEADER: usize = 11;

fn placeholders(n: usize) -> String {
    (0..n)
        .map(|num| format!(r#"{{"_placeholder":true,"num":{num}}}"#))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn hundred_thousand_binary_frames_after_bad_headers_stay_bounded() {
    let headers = [
        String::new(),
        "999".into(),
        "5".into(),
        "45".into(),
        r#"50-["e"]"#.into(),
        r#"5999999-["a"]"#.into(),
        format!(r#"5{}-["a"]"#, "9".repeat(10_000)),
        r#"511-["a"]"#.into(),
        r#"2["a""#.into(),
        r#"2["connect"]"#.into(),
        // Valid headers whose placeholders fail at completion.
        r#"51-["a",{"_placeholder":true,"num":5}]"#.into(),
        r#"52-["a",{"_placeholder":true,"num":0}]"#.into(),
        // Valid headers that complete, then see stray frames.
        format!(r#"51-["a",{}]"#, placeholders(1)),
        // Ten attachments whose total exceeds the byte limit.
        format!(r#"510-["a",{}]"#, placeholders(10)),
    ];
    let limits = Limits {
        max_attachment_bytes: 300_000,
        ..Limits::default()
    };
    // One shared buffer: the test measures what the decoder retains, not frame churn.
    let frame = Bytes::from(vec![0xab; 64 * 1024]);
    let mut decoder = Decoder::new(ProtocolVersion::V5, limits);
    let (mut fed, mut completed, mut errors, mut peak) = (0, 0, 0, 0);
    for header in headers.iter().cycle() {
        if fed >= FRAMES {
            break;
        }
        let _ = decoder.feed_text(header.clone());
        for _ in 0..FRAMES_PER_HEADER {
            match decoder.feed_binary(frame.clone()) {
                Ok(DecodeStatus::Complete(_)) => completed += 1,
                Ok(_) => {}
                Err(err) => {
                    errors += 1;
                    assert!(decoder.is_idle(), "{err}");
                }
            }
            fed += 1;
            peak = peak.max(decoder.buffered_bytes());
            assert!(decoder.buffered_bytes() <= limits.max_attachment_bytes);
            assert!(decoder.remaining_attachments() <= limits.max_attachments);
        }
        assert!(decoder.is_idle(), "after {header:?}");
    }
    assert!(decoder.is_idle());
    assert!(completed > 0 && errors > FRAMES / 2);
    assert!(peak > 0 && peak <= limits.max_attachment_bytes);
}

#[test]
fn limit_error_frees_everything_before_buffering_the_frame() {
    let limits = Limits {
        max_attachment_bytes: 10,
        ..Limits::default()
    };
    let mut decoder = Decoder::new(ProtocolVersion::V5, limits);
    decoder
        .feed_text(format!(r#"52-["a",{}]"#, placeholders(2)))
        .unwrap();
    decoder.feed_binary(vec![0; 10]).unwrap();
    assert_eq!(
        decoder.feed_binary(vec![0; 1]),
        Err(DecodeError::AttachmentsTooLarge)
    );
    assert_eq!(decoder.buffered_bytes(), 0);
    assert!(decoder.is_idle());
}
