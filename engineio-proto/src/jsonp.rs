//! JSONP polling (the `j` query parameter): a legacy variant of polling for browsers without
//! CORS, still served by the reference server for both protocol versions.
//!
//! A GET response wraps the payload in a script, `___eio[<j>]("<payload>");`; a POST carries
//! it in a form field `d`. Binary data always travels in base64 form.

use crate::error::DecodeError;
use crate::handshake::decode_component;
use crate::json;

/// Appends the JSONP response body `___eio[<j>]("<payload>");` to `out`.
///
/// `<j>` is `jsonp_index` with every non-digit removed; the payload is a JSON string literal with
/// U+2028 and U+2029 also escaped (they end a line in JavaScript source), as the reference
/// writes it.
///
/// ```
/// let mut out = Vec::new();
/// engineio_proto::jsonp::encode_response("0", "1:6", &mut out);
/// assert_eq!(out, br#"___eio[0]("1:6");"#);
/// ```
pub fn encode_response(jsonp_index: &str, payload: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"___eio[");
    out.extend(jsonp_index.bytes().filter(u8::is_ascii_digit));
    out.extend_from_slice(b"](");
    let start = out.len();
    json::push_string(payload, out);
    if payload.contains(['\u{2028}', '\u{2029}']) {
        let escaped = String::from_utf8_lossy(&out[start..])
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029");
        out.truncate(start);
        out.extend_from_slice(escaped.as_bytes());
    }
    out.extend_from_slice(b");");
}

/// Extracts the payload from a JSONP POST body (`application/x-www-form-urlencoded` with one
/// field `d`), undoing the client's newline escaping: `\n` (backslash, `n`) becomes a newline
/// and `\\n` becomes `\n`, as the reference does. Decode the result with
/// [`decode_payload`](crate::decode_payload).
///
/// Fails when there is no `d` field, or more than one (the reference then ignores the body).
///
/// ```
/// let payload = engineio_proto::jsonp::decode_request(b"d=6%3A4a%5Cnb").unwrap();
/// assert_eq!(payload, "6:4a\nb");
/// ```
pub fn decode_request(body: &[u8]) -> Result<String, DecodeError> {
    let body = core::str::from_utf8(body).map_err(|_| DecodeError::InvalidUtf8)?;
    let mut fields = body.split('&').filter_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_component(k) == "d").then(|| decode_component(v))
    });
    let data = match (fields.next(), fields.next()) {
        (Some(d), None) => d,
        _ => return Err(DecodeError::InvalidJsonpBody),
    };
    Ok(unescape_newlines(&data))
}

/// The reference's two regular-expression passes: `/(\\)?\\n/g` (a lone `\n` becomes a newline,
/// `\\n` is kept), then `/\\\\n/g` (`\\n` becomes `\n`).
fn unescape_newlines(data: &str) -> String {
    let mut first = String::with_capacity(data.len());
    let mut rest = data;
    while let Some(i) = rest.find('\\') {
        first.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("\\\\n") {
            first.push_str("\\\\n");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("\\n") {
            first.push('\n');
            rest = after;
        } else {
            first.push('\\');
            rest = &tail[1..];
        }
    }
    first.push_str(rest);
    first.replace("\\\\n", "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newline_escapes_follow_the_reference_regexes() {
        assert_eq!(unescape_newlines(r"a\nb"), "a\nb");
        assert_eq!(unescape_newlines(r"a\\nb"), r"a\nb");
        assert_eq!(unescape_newlines(r"\\\n"), r"\\n");
        assert_eq!(unescape_newlines(r"a\\xb\"), r"a\\xb\");
    }

    #[test]
    fn jsonp_response_escapes_line_separators() {
        let mut out = Vec::new();
        encode_response("1a2", "4\u{2028}\"", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "___eio[12](\"4\\u2028\\\"\");"
        );
    }

    #[test]
    fn jsonp_request_needs_exactly_one_d() {
        assert_eq!(decode_request(b"x=1"), Err(DecodeError::InvalidJsonpBody));
        assert_eq!(
            decode_request(b"d=1&d=2"),
            Err(DecodeError::InvalidJsonpBody)
        );
        assert_eq!(decode_request(b"d=1%3A1+x").unwrap(), "1:1 x");
    }
}
