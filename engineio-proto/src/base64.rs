//! Base64 as Engine.IO uses it: the standard alphabet, padded on encode, padding optional on
//! decode (the reference decoder is lenient; we accept what it produces and unpadded text).

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const ENCODER: GeneralPurpose = base64::engine::general_purpose::STANDARD;
const DECODER: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Number of characters before the `=` padding, if `text` is valid base64.
///
/// Checking without decoding keeps the borrowed decode layer allocation-free; once this passes,
/// [`decode_into`] cannot fail.
pub(crate) fn validate(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let unpadded = bytes.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let padding = bytes.len() - unpadded;
    if padding > 2 || unpadded % 4 == 1 || (padding > 0 && bytes.len() % 4 != 0) {
        return None;
    }
    let alphabet_ok = bytes[..unpadded]
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    alphabet_ok.then_some(unpadded)
}

/// Exact decoded length of base64 text that passed [`validate`] with `unpadded` characters.
pub(crate) fn decoded_len(unpadded: usize) -> usize {
    unpadded / 4 * 3 + (unpadded % 4).saturating_sub(1)
}

/// Appends the decoded bytes of already validated base64 text to `out`.
pub(crate) fn decode_into(text: &str, out: &mut Vec<u8>) {
    let unpadded = validate(text).unwrap_or(0);
    let start = out.len();
    out.resize(start + decoded_len(unpadded), 0);
    // Validation ran above; a failure here is a bug in `validate`, so it must not be hidden, but
    // it must not panic on peer input either: leave the buffer as it was.
    if DECODER
        .decode_slice(&text.as_bytes()[..unpadded], &mut out[start..])
        .is_err()
    {
        debug_assert!(false, "validated base64 failed to decode");
        out.truncate(start);
    }
}

/// Length of the padded encoding of `len` bytes.
pub(crate) fn encoded_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// Appends the padded base64 encoding of `data` to `out`.
pub(crate) fn encode_into(data: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + encoded_len(data.len()), 0);
    let written = ENCODER
        .encode_slice(data, &mut out[start..])
        .expect("buffer sized with encoded_len");
    debug_assert_eq!(written, out.len() - start);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_a_lenient_decoder() {
        for ok in ["", "AQIDBA==", "AQIDBA", "AQID", "AQ", "AQI=", "+/+/"] {
            assert!(validate(ok).is_some(), "{ok}");
        }
        for bad in [
            "A", "AQIDB", "AQ===", "A=QI", "AQIDBA=", "AQ-_", "AQ ID", "é",
        ] {
            assert!(validate(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn decodes_padded_and_unpadded() {
        for text in ["AQIDBA==", "AQIDBA"] {
            let mut out = vec![9];
            decode_into(text, &mut out);
            assert_eq!(out, [9, 1, 2, 3, 4]);
        }
    }
}
