//! JSON string literals exactly as JavaScript's `JSON.stringify` writes them.

/// Appends `text` as a JSON string literal: `"` and `\` escaped, control characters as
/// `\b \t \n \f \r` or `\u00xx` (lower-case hex), everything else raw (non-ASCII and
/// U+2028/U+2029 included), as `JSON.stringify` does.
pub(crate) fn push_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut clean_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[clean_from..i]);
        clean_from = i + 1;
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(escape);
        }
    }
    out.extend_from_slice(&bytes[clean_from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::push_string;

    #[test]
    fn escapes_like_json_stringify() {
        let mut out = Vec::new();
        push_string("a\"b\\c\u{8}\t\n\u{c}\r\u{1e}\u{7f}é\u{2028}", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\b\\t\\n\\f\\r\\u001e\u{7f}é\u{2028}\""
        );
    }
}
