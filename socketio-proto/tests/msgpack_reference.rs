//! Replays `reference/msgpack-vectors.json`, written by the official packages
//! (`socket.io-msgpack-parser` 3.0.2 with `notepack.io` 2.2.0, see
//! `reference/generate-msgpack.js`): random packets as each side's package builds and encodes
//! them, mutated and hand-written messages with the reference decoder's verdict, and the D.11
//! table of PROTOCOL.md. We must write the same bytes, read the same packets, and fail with the
//! same message; where we refuse what the reference accepts, the error must be one of the
//! documented strictness rules (`socketio_proto::msgpack`, "stricter than the reference").
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use bytes::Bytes;
use serde_json::Value;
use socketio_proto::msgpack::{MsgpackError, Side};
use socketio_proto::{AckId, DecodeError, Limits, Namespace, Packet, PacketType, Utf8Bytes};

fn vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/msgpack-vectors.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attachments(v: &Value) -> Vec<Bytes> {
    v["attachments"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| Bytes::from(unhex(h.as_str().unwrap())))
                .collect()
        })
        .unwrap_or_default()
}

/// What the packet reads as, in the vectors' terms: type, namespace, id, payload as a JSON
/// value (key order and duplicate keys as a JavaScript object has them) and attachments.
fn describe(packet: &Packet) -> Value {
    let mut out = serde_json::json!({
        "type": packet.packet_type().digit(),
        "nsp": packet.full_namespace().wire().as_str(),
        "attachments": packet.attachments().iter().map(|a| hex(a)).collect::<Vec<_>>(),
    });
    if let Some(id) = packet.ack_id() {
        out["id"] = id.get().into();
    }
    if let Some(json) = packet.raw_json() {
        out["json"] = serde_json::from_str::<Value>(json.as_str()).unwrap();
    }
    out
}

fn expected(reference: &Value) -> Value {
    let mut out = serde_json::json!({
        "type": reference["type"],
        "nsp": reference["nsp"],
        "attachments": reference["attachments"],
    });
    if !reference["id"].is_null() {
        out["id"] = reference["id"].clone();
    }
    if let Some(json) = reference["json"].as_str() {
        out["json"] = serde_json::from_str::<Value>(json).unwrap();
    }
    out
}

/// The refusals this crate documents where the reference accepts.
fn documented_strictness(err: &DecodeError) -> bool {
    matches!(
        err,
        DecodeError::InvalidAckId
            | DecodeError::Msgpack(
                MsgpackError::UnsupportedKey | MsgpackError::PlaceholderKey | MsgpackError::TooDeep
            )
    )
}

#[test]
fn we_write_the_bytes_the_packages_write() {
    let (mut checked, mut skipped) = (0, 0);
    let all = vectors();
    for v in all.iter().filter(|v| v["kind"] == "encode") {
        // Neither a broadcast with acks (the server's only other key order) nor a client's
        // `compress(false)` flag exists here.
        // A refusal from middleware whose message is "Invalid namespace" and has no data is
        // written as the invalid-namespace refusal (the documented ambiguity of `Side`).
        let looks_invalid_namespace =
            v["error_data_undefined"] == true && v["json"] == r#"{"message":"Invalid namespace"}"#;
        if v["order"] == "broadcast_ack" || v["compress"] == false || looks_invalid_namespace {
            skipped += 1;
            continue;
        }
        let side = if v["side"] == "server" {
            Side::Server
        } else {
            Side::Client
        };
        let packet_type = PacketType::from_digit(v["type"].as_u64().unwrap() as u8).unwrap();
        let namespace = Namespace::new(v["nsp"].as_str().unwrap()).unwrap();
        let id = v["id"].as_u64().map(|id| AckId::new(id).unwrap());
        let json = v["json"].as_str().map(Utf8Bytes::copy_from_str);
        let packet = Packet::from_parts(packet_type, namespace, id, json, attachments(v)).unwrap();
        let mut out = Vec::new();
        packet.write_msgpack(side, &mut out).unwrap();
        assert_eq!(hex(&out), v["hex"].as_str().unwrap(), "{v}");
        checked += 1;
    }
    assert!(
        checked >= 1000,
        "only {checked} encode vectors ({skipped} skipped)"
    );
}

#[test]
fn we_read_and_refuse_what_the_reference_decoder_does() {
    let (mut accepted, mut refused, mut stricter) = (0, 0, 0);
    for v in vectors() {
        let (bytes, result) = match v["kind"].as_str().unwrap() {
            "decode" | "d11" => (unhex(v["hex"].as_str().unwrap()), v["result"].clone()),
            // An encoding the reference reads back: as `decoded` when that differs.
            "encode" => {
                let read = v.get("decoded").cloned().unwrap_or_else(|| v.clone());
                if read.get("proto").is_some() || v["json"].is_null() {
                    continue;
                }
                (
                    unhex(v["hex"].as_str().unwrap()),
                    serde_json::json!({ "packet": read }),
                )
            }
            _ => continue,
        };
        let ours = Packet::decode_msgpack(Bytes::from(bytes), &Limits::default());
        match (&result["packet"], ours) {
            (Value::Null, Ok(packet)) => panic!("accepted {v}: {packet:?}"),
            (Value::Null, Err(err)) => {
                assert_eq!(err.to_string(), result["error"].as_str().unwrap(), "{v}");
                refused += 1;
            }
            (reference, Err(err)) => {
                let flagged = ["proto", "lossy"]
                    .iter()
                    .any(|f| reference.get(f).is_some() || result.get(f).is_some());
                assert!(flagged || documented_strictness(&err), "refused {v}: {err}");
                stricter += 1;
            }
            (reference, Ok(packet)) => {
                if reference["id"].is_string() {
                    panic!("accepted an id JavaScript cannot hold exactly: {v}");
                }
                assert_eq!(describe(&packet), expected(reference), "{v}");
                accepted += 1;
            }
        }
    }
    println!(
        "{accepted} accepted, {refused} refused with the same message, {stricter} refused by our stricter rules"
    );
    assert!(accepted >= 300 && refused >= 1500);
}
