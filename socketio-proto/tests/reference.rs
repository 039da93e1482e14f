//! Replays `reference/vectors.json`: random packets encoded by the official parsers
//! (socket.io-parser 4.2.7 for v5 and 3.4.5 for v4, see `reference/generate.js`), mutated
//! text packets with the reference decoder's verdict, and numbers as `JSON.stringify` writes
//! them. We must write the same bytes, read back
//! the same packets, and reject everything the reference rejects. Where we reject what the
//! reference accepts, the case must be one of the documented strictness rules (see the crate
//! docs, "Where this crate is stricter than the reference").
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::Value;
use socketio_proto::{
    AckId, DecodeError, DecodeStatus, Decoder, Limits, Namespace, Packet, PacketType,
    ProtocolVersion, WireAction,
};

fn vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/vectors.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn bytes_of(v: &Value) -> Vec<u8> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| u8::try_from(b.as_u64().unwrap()).unwrap())
        .collect()
}

fn attachments_of(v: &Value) -> Vec<Bytes> {
    v.get("attachments")
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |a| {
            a.iter().map(|b| Bytes::from(bytes_of(b))).collect()
        })
}

fn version_of(v: &Value) -> ProtocolVersion {
    if v["version"] == 4 {
        ProtocolVersion::V4
    } else {
        ProtocolVersion::V5
    }
}

#[derive(Debug)]
enum Outcome {
    Packet(Packet),
    Incomplete,
    Error(DecodeError),
}

/// Feeds the text, then attachments for as long as the decoder asks for them (as the generator
/// does with the reference decoder).
fn decode(version: ProtocolVersion, text: &str, attachments: &[Bytes]) -> Outcome {
    let mut decoder = Decoder::new(version, Limits::default());
    let mut status = decoder.feed_text(text.to_owned());
    let mut next = attachments.iter();
    loop {
        match status {
            Ok(DecodeStatus::Complete(packet)) => return Outcome::Packet(packet),
            Ok(DecodeStatus::NeedAttachments { .. }) => match next.next() {
                Some(a) => status = decoder.feed_binary(a.clone()),
                None => return Outcome::Incomplete,
            },
            Err(e) => return Outcome::Error(e),
        }
    }
}

/// Replaces placeholders by `{"$bin": [...]}`, the generator's form of a Buffer. Only for
/// binary packets: elsewhere `{"_placeholder":true}` is plain data.
fn substitute(value: Value, attachments: &[Bytes]) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|x| substitute(x, attachments))
                .collect(),
        ),
        Value::Object(map) => {
            let num = map.get("num").and_then(Value::as_u64);
            let bin = num.and_then(|n| attachments.get(usize::try_from(n).ok()?));
            if let (Some(true), Some(bin)) = (map.get("_placeholder").map(|p| p == true), bin) {
                return serde_json::json!({ "$bin": bin.to_vec() });
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, x)| (k, substitute(x, attachments)))
                    .collect(),
            )
        }
        other => other,
    }
}

/// The generator's JSON form of a decoded packet.
fn packet_json(packet: &Packet) -> Value {
    let mut out = serde_json::json!({
        "type": packet.packet_type().digit(),
        "nsp": packet.full_namespace().wire().as_str(),
    });
    if let Some(id) = packet.ack_id() {
        out["id"] = id.get().into();
    }
    if let Some(json) = packet.raw_json() {
        let data: Value = serde_json::from_str(json.as_str()).unwrap();
        out["data"] = if packet.is_binary() {
            substitute(data, packet.attachments())
        } else {
            data
        };
    }
    out
}

/// JSON equality as JavaScript sees it: numbers compare as doubles (`-0 == 0`, and integers
/// beyond 2^53 round as `JSON.parse` rounds them), objects ignore key order.
///
/// Doubles may differ by one ulp: without its `float_roundtrip` feature, serde_json (which
/// reads both our payload and vectors.json here) does not always round to nearest, e.g. it
/// reads `-380.87118417024691` one ulp away from `-380.8711841702469`, the same double for
/// `JSON.parse` and for `str::parse::<f64>`.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x.signum() == y.signum() && x.to_bits().abs_diff(y.to_bits()) <= 1)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, xv)| y.get(k).is_some_and(|yv| same_json(xv, yv)))
        }
        _ => a == b,
    }
}

fn namespace_of(wire: &str, version: ProtocolVersion) -> Namespace {
    match wire.split_once('?') {
        _ if wire == "/" => Namespace::main(),
        Some((name, query)) if version == ProtocolVersion::V4 => {
            Namespace::with_query(name, query).unwrap()
        }
        _ => Namespace::new(wire).unwrap(),
    }
}

#[test]
fn reference_encodings_decode_and_reencode_identically() {
    let mut checked = 0;
    for v in vectors().iter().filter(|v| v["kind"] == "encode") {
        let version = version_of(v);
        let text = v["text"].as_str().unwrap();
        let attachments = attachments_of(v);

        // Our decoder reads the reference's bytes as the reference decoder does…
        let Outcome::Packet(packet) = decode(version, text, &attachments) else {
            panic!("we do not decode the reference's own encoding: {v}");
        };
        assert!(
            same_json(&packet_json(&packet), &v["decoded"]),
            "{v}\nours: {}",
            packet_json(&packet)
        );
        // …and re-encodes it byte for byte.
        let encoded = packet.encode();
        assert_eq!(encoded.to_text().unwrap().as_str(), text, "{v}");
        assert_eq!(encoded.attachments(), attachments.as_slice(), "{v}");

        // Our encoder, given the reference encoder's input, writes the same bytes.
        let packet_type =
            PacketType::from_digit(u8::try_from(v["type"].as_u64().unwrap()).unwrap()).unwrap();
        let id = v
            .get("id")
            .map(|id| AckId::new(id.as_u64().unwrap()).unwrap());
        let json = v.get("json").map(|j| j.as_str().unwrap().to_owned().into());
        let built = Packet::from_parts(
            packet_type,
            namespace_of(v["nsp"].as_str().unwrap(), version),
            id,
            json,
            attachments.clone(),
        )
        .unwrap();
        let encoded = built.encode();
        assert_eq!(encoded.to_text().unwrap().as_str(), text, "{v}");
        assert_eq!(encoded.attachments(), attachments.as_slice(), "{v}");
        checked += 1;
    }
    assert_eq!(checked, 400);
}

#[test]
fn numbers_are_written_as_json_stringify_writes_them() {
    let mut checked = 0;
    for v in vectors().iter().filter(|v| v["kind"] == "number") {
        let bits = v["hi"].as_u64().unwrap() << 32 | v["lo"].as_u64().unwrap();
        let value = f64::from_bits(bits);
        let packet = Packet::event(Namespace::main(), "n", &(value,), None).unwrap();
        let expected = format!(r#"2["n",{}]"#, v["json"].as_str().unwrap());
        assert_eq!(
            packet.encode().to_text().unwrap().as_str(),
            expected,
            "{value:e}"
        );
        checked += 1;
    }
    assert_eq!(checked, 3000);
}

/// What JavaScript's `Number(c) == c` holds for a one-character string besides digits: the
/// characters `String.prototype.trim` strips (`Number(" ") === 0`).
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// The header spans the reference decoder reads (its `decodeString`, character by character):
/// the attachment count text and the ack id text.
fn js_header_spans(text: &str) -> (Option<String>, String) {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut count = None;
    if matches!(chars.first(), Some('5' | '6')) {
        let end = chars.iter().skip(1).position(|&c| c == '-').map(|p| p + 1);
        let end = end.unwrap_or(chars.len());
        count = Some(chars[1..end].iter().collect());
        i = end;
    }
    if chars.get(i + 1) == Some(&'/') {
        i += 1;
        while i < chars.len() && chars[i] != ',' {
            i += 1;
        }
    }
    let id = chars
        .iter()
        .skip(i + 1)
        .take_while(|&&c| c.is_ascii_digit() || is_js_whitespace(c))
        .collect();
    (count, id)
}

/// Whether every placeholder object (at any depth, including inside another placeholder) has
/// an integral `num` and the nums are exactly `0..n`, each once.
fn placeholders_are_exact(json: &str, n: usize) -> bool {
    fn walk(v: &Value, nums: &mut Vec<Option<u64>>) {
        match v {
            Value::Array(items) => items.iter().for_each(|x| walk(x, nums)),
            Value::Object(map) => {
                if map.get("_placeholder") == Some(&Value::Bool(true)) {
                    nums.push(map.get("num").and_then(Value::as_u64));
                }
                map.values().for_each(|x| walk(x, nums));
            }
            _ => {}
        }
    }
    let Ok(value) = serde_json::from_str::<Value>(json) else {
        return false;
    };
    let mut nums = Vec::new();
    walk(&value, &mut nums);
    let mut nums: Vec<u64> = nums.into_iter().collect::<Option<_>>().unwrap_or_default();
    nums.sort_unstable();
    nums.len() == n && nums.iter().enumerate().all(|(i, &x)| x == i as u64)
}

/// The documented rule under which we reject a text the reference accepts, if any.
fn strictness_rule(text: &str, error: DecodeError, reference: &Value) -> Option<&'static str> {
    let (count, id) = js_header_spans(text);
    match error {
        DecodeError::EmptyPacket if text.is_empty() => Some("empty packet"),
        DecodeError::UnknownPacketType { found: None, .. }
            if text.chars().next().is_some_and(is_js_whitespace) =>
        {
            Some("whitespace as packet type")
        }
        DecodeError::IllegalAttachmentCount
            if count
                .as_ref()
                .is_some_and(|c| !c.bytes().all(|b| b.is_ascii_digit())) =>
        {
            Some("attachment count not plain digits")
        }
        DecodeError::InvalidAckId if reference["id"].is_string() => Some("ack id above 2^53-1"),
        // JS reads whitespace inside the id span as part of the id (`Number(" ") == " "`,
        // `Number("1 2")` is NaN). We report ASCII whitespace where the id starts as an ack id
        // error; other whitespace (U+00A0, U+2028, U+FEFF…, or after a digit) is left to the
        // payload, which then fails to parse.
        DecodeError::InvalidAckId
            if id.starts_with(|c: char| c.is_ascii_whitespace() || c == '\u{b}') =>
        {
            Some("whitespace where the ack id starts")
        }
        DecodeError::InvalidPayload if id.chars().any(is_js_whitespace) => {
            Some("whitespace in or after the ack id (invalid payload)")
        }
        DecodeError::IllegalPlaceholder => {
            let json = text.find(['[', '{']).map_or("", |at| &text[at..]);
            let n = count.and_then(|c| c.parse().ok()).unwrap_or(0);
            (!placeholders_are_exact(json, n)).then_some("placeholder rules")
        }
        _ => None,
    }
}

/// Errors whose message has a reference counterpart.
fn has_reference_message(error: DecodeError) -> bool {
    !matches!(
        error,
        DecodeError::EmptyPacket
            | DecodeError::InvalidAckId
            | DecodeError::InvalidUtf8
            | DecodeError::PayloadTooDeep
            | DecodeError::AttachmentsTooLarge
    )
}

#[test]
fn mutated_packets_are_rejected_whenever_the_reference_rejects_them() {
    let (mut agree, mut message_checked) = (0, 0);
    let mut stricter: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for v in vectors().iter().filter(|v| v["kind"] == "decode") {
        let version = version_of(v);
        let text = v["text"].as_str().unwrap();
        let ours = decode(version, text, &attachments_of(v));
        if let Some(message) = v.get("error").and_then(Value::as_str) {
            match ours {
                Outcome::Error(e) => {
                    // A leading whitespace is type 0 for JS, which then fails later; we stop
                    // at the type (documented), so the messages differ.
                    let whitespace_type =
                        matches!(e, DecodeError::UnknownPacketType { found: None, .. })
                            && text.chars().next().is_some_and(is_js_whitespace);
                    if has_reference_message(e) && !whitespace_type && e.to_string() != message {
                        failures.push(format!("message {e:?} = {e} ≠ {message}: {v}"));
                    }
                    message_checked += usize::from(has_reference_message(e) && !whitespace_type);
                    agree += 1;
                }
                other => failures.push(format!("the reference rejects, we give {other:?}: {v}")),
            }
        } else if let Some(message) = v.get("ignored").and_then(Value::as_str) {
            match ours {
                Outcome::Error(e)
                    if e.action() == WireAction::IgnorePacket && e.to_string() == message =>
                {
                    message_checked += 1;
                    agree += 1;
                }
                other => failures.push(format!("the reference ignores, we give {other:?}: {v}")),
            }
        } else if v.get("incomplete").is_some() {
            match ours {
                Outcome::Incomplete => agree += 1,
                other => failures.push(format!("the reference waits, we give {other:?}: {v}")),
            }
        } else {
            let reference = &v["packet"];
            match ours {
                Outcome::Packet(p) if same_json(&packet_json(&p), reference) => agree += 1,
                Outcome::Error(e) => match strictness_rule(text, e, reference) {
                    Some(rule) => *stricter.entry(rule).or_default() += 1,
                    None => failures.push(format!("we reject ({e:?}), the reference accepts: {v}")),
                },
                other => failures.push(format!(
                    "the reference decodes {reference}, we give {other:?}: {v}"
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} discrepancies:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(agree > 1000, "{agree} agreeing cases");
    eprintln!(
        "{agree} cases agree ({message_checked} with the same error message), \
         rejected only by our stricter rules: {stricter:?}"
    );
}
