//! The PostgreSQL adapter's wire against a capture of two Node.js nodes
//! (`@socket.io/postgres-adapter` 0.5.0, socket.io 4.8.1, `@socket.io/postgres-emitter` 0.1.1)
//! on a PostgreSQL 15 cluster: every notification they published and every attachment row,
//! in `vectors/postgres-capture.jsonl` (one object per notification: channel, sender,
//! payload, and the row it announces). Each message is read as we read it and written again
//! byte for byte (JSON notifications, msgpack rows); the emitter's messages, which carry no
//! `nsp`, are applied to their channel's namespace; and the heartbeats count the servers on a
//! virtual clock.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use socketio_cluster_proto::envelope::Envelope;
use socketio_cluster_proto::postgres::{
    PostgresCommand, PostgresInput, PostgresOptions, PostgresWire,
};
use socketio_cluster_proto::{ClusterAdapter, ClusterMessage, Decoded, Member, Wire};
use socketio_proto::server::{Endpoint, EndpointConfig, IdSource};
use socketio_proto::{Limits, Namespace};
use support::bytes;

/// One captured notification.
#[derive(serde::Deserialize)]
struct Captured {
    channel: String,
    from: String,
    payload: String,
    attachment: Option<Row>,
}

#[derive(serde::Deserialize)]
struct Row {
    hex: String,
}

fn captured() -> Vec<Captured> {
    include_str!("vectors/postgres-capture.jsonl")
        .lines()
        .filter(|line| !line.contains("\"marker\""))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The notification's JSON (`null` for the stand-in's `not json`).
fn header(payload: &str) -> serde_json::Value {
    serde_json::from_str(payload).unwrap_or_default()
}

/// The only row we do not write again as it came: a `Date`, which a Node.js node encodes as
/// msgpack's timestamp extension and which we read as the ISO string its clients get (the
/// JSON path sends that string too).
const DATE_ROW: &str = "d7ff1d5353006553f100";

/// A `fetchSockets` answer's row whose `socket.data` holds a `Buffer`: we keep `socket.data`
/// as JSON, where a Node.js node's `Buffer` is `{"type":"Buffer","data":[…]}` (what its
/// JSON notifications carry, and what a Node.js requester gets from them), and write it so.
const FETCHED_BINARY_DATA: u64 = 8;

/// `serverSideEmit` (9) and its answers (10): their arguments are JSON here, a binary one as
/// the JSON of a Node.js `Buffer` (the classic adapter's model, which has no binary there),
/// so a row with binary ones is written again as a notification.
const SERVER_SIDE_EMIT: [u64; 2] = [9, 10];

#[test]
fn every_message_of_the_node_js_nodes_is_written_again_byte_for_byte() {
    let options = PostgresOptions::default();
    let (mut notifications, mut rows) = (0, 0);
    for c in captured()
        .iter()
        .filter(|c| c.from == "nodeA" || c.from == "nodeB")
    {
        let head = header(&c.payload);
        let kind = head["type"].as_u64().unwrap();
        if matches!(kind, 1 | 2 | 13) {
            continue; // Heartbeats: below.
        }
        let (encoded, row) = match &c.attachment {
            Some(row)
                if row.hex.contains(DATE_ROW)
                    || kind == FETCHED_BINARY_DATA
                    || SERVER_SIDE_EMIT.contains(&kind) =>
            {
                continue;
            }
            Some(row) => (Bytes::from(bytes(&row.hex)), true),
            None => (Bytes::from(c.payload.clone()), false),
        };
        let envelope = Envelope::decode(encoded.clone(), &Limits::default())
            .unwrap()
            .unwrap_or_else(|| panic!("not read: {}", c.payload));
        let written = options
            .publish(&envelope.uid, &envelope.nsp, &envelope.message)
            .unwrap();
        match written {
            PostgresCommand::Notify { channel, payload } => {
                assert!(
                    !row,
                    "went by notification, not by the table: {}",
                    c.payload
                );
                assert_eq!(channel, c.channel);
                assert_eq!(payload, c.payload);
                notifications += 1;
            }
            PostgresCommand::Attach {
                channel,
                uid,
                kind: written_kind,
                payload,
            } => {
                assert!(row, "went by the table: {}", c.payload);
                assert_eq!(channel, c.channel);
                assert_eq!(
                    (uid.as_str(), u64::from(written_kind)),
                    (head["uid"].as_str().unwrap(), kind)
                );
                let first_difference = payload.iter().zip(&encoded[..]).position(|(a, b)| a != b);
                assert!(
                    payload.len() == encoded.len() && first_difference.is_none(),
                    "row of {} written differently (lengths {} and {}, first difference at {first_difference:?})",
                    c.payload,
                    payload.len(),
                    encoded.len()
                );
                rows += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        notifications >= 57 && rows >= 4,
        "{notifications} notifications, {rows} rows"
    );
}

#[test]
fn attachment_headers_are_written_as_the_reference_writes_them() {
    assert_eq!(
        PostgresCommand::attachment_header("3881832b26c62a02", 3, 1),
        r#"{"uid":"3881832b26c62a02","type":3,"attachmentId":"1"}"#
    );
    let options = PostgresOptions::default();
    assert_eq!(
        options.insert_sql(),
        "INSERT INTO socket_io_attachments (payload) VALUES ($1) RETURNING id;"
    );
    assert_eq!(
        options.select_sql(),
        "SELECT payload FROM socket_io_attachments WHERE id = $1"
    );
    assert_eq!(
        options.cleanup_sql(),
        "DELETE FROM socket_io_attachments WHERE created_at < now() - interval '30000 milliseconds'"
    );
}

/// A JSON message of exactly the threshold goes through the table (the reference sends it as
/// a notification, which PostgreSQL refuses); one byte less is a notification.
#[test]
fn the_threshold_is_the_limit_postgresql_has() {
    let options = PostgresOptions::default();
    let event = |n: usize| ClusterMessage::ServerSideEmit {
        data: format!(r#"["e","{}"]"#, "y".repeat(n)),
        request_id: None,
    };
    let size = |n: usize| match options.publish("3881832b26c62a02", "/", &event(n)).unwrap() {
        PostgresCommand::Notify { payload, .. } => Some(payload.len()),
        _ => None,
    };
    let base = size(0).unwrap();
    assert_eq!(size(7999 - base), Some(7999));
    assert_eq!(size(8000 - base), None);
}

/// A node with `/` and `/chat`, uid `u-…`, at `start`.
fn node(start: Instant) -> ClusterAdapter<PostgresWire> {
    let wire = PostgresWire::new(PostgresOptions::default(), start);
    ClusterAdapter::new(
        wire,
        &[
            (Namespace::main(), "aaaaaaaaaaaaaaaa".into()),
            (Namespace::new("/chat").unwrap(), "bbbbbbbbbbbbbbbb".into()),
        ],
    )
}

fn commands(adapter: &mut ClusterAdapter<PostgresWire>) -> Vec<PostgresCommand> {
    std::iter::from_fn(|| adapter.poll_command()).collect()
}

fn notify(channel: &str, payload: &str) -> PostgresCommand {
    PostgresCommand::Notify {
        channel: channel.into(),
        payload: payload.into(),
    }
}

fn notification(channel: &str, payload: &str, at: Instant) -> PostgresInput {
    PostgresInput::Notification {
        channel: channel.into(),
        payload: payload.into(),
        at,
    }
}

/// Ids for endpoints that never hand one out.
fn no_ids() -> Box<dyn IdSource> {
    Box::new(|| String::from("x"))
}

#[test]
fn heartbeats_count_the_servers() {
    let start = Instant::now();
    let mut endpoint =
        Endpoint::with_adapter(EndpointConfig::default(), no_ids(), Box::new(node(start)));
    fn adapter(endpoint: &mut Endpoint) -> &mut ClusterAdapter<PostgresWire> {
        endpoint.adapter_mut().unwrap()
    }
    assert_eq!(
        commands(adapter(&mut endpoint)),
        [
            PostgresCommand::Listen {
                channel: "socket.io#/".into()
            },
            notify(
                "socket.io#/",
                r#"{"type":1,"uid":"aaaaaaaaaaaaaaaa","nsp":"/"}"#
            ),
            PostgresCommand::Listen {
                channel: "socket.io#/chat".into()
            },
            notify(
                "socket.io#/chat",
                r#"{"type":1,"uid":"bbbbbbbbbbbbbbbb","nsp":"/chat"}"#
            ),
        ]
    );
    // A Node.js node announces itself: answered, counted.
    let hello = r#"{"type":1,"uid":"e88ba2d8e1bbf24b","nsp":"/"}"#;
    support::feed::<PostgresWire>(
        &mut endpoint,
        start,
        notification("socket.io#/", hello, start),
    );
    assert_eq!(
        commands(adapter(&mut endpoint)),
        [notify(
            "socket.io#/",
            r#"{"type":2,"uid":"aaaaaaaaaaaaaaaa","nsp":"/"}"#
        )]
    );
    assert_eq!(adapter(&mut endpoint).wire().peers("/"), 1);
    assert_eq!(adapter(&mut endpoint).wire().peers("/chat"), 0);

    // Idle: a heartbeat per namespace every 5 s (the first publications stood for the first).
    let t5 = start + Duration::from_secs(5);
    endpoint.handle_timeout(t5);
    assert_eq!(commands(adapter(&mut endpoint)), []);
    let t10 = start + Duration::from_secs(10);
    endpoint.handle_timeout(t10);
    assert_eq!(
        commands(adapter(&mut endpoint)),
        [
            notify(
                "socket.io#/",
                r#"{"type":2,"uid":"aaaaaaaaaaaaaaaa","nsp":"/"}"#
            ),
            notify(
                "socket.io#/chat",
                r#"{"type":2,"uid":"bbbbbbbbbbbbbbbb","nsp":"/chat"}"#
            ),
        ]
    );
    // Heard from at 0, silent for more than 10 s: gone at the next sweep.
    assert_eq!(adapter(&mut endpoint).wire().peers("/"), 1);
    endpoint.handle_timeout(start + Duration::from_millis(11_100));
    assert_eq!(adapter(&mut endpoint).wire().peers("/"), 0);

    // Back, then closing: gone at once.
    let t12 = start + Duration::from_secs(12);
    let beat = r#"{"type":2,"uid":"e88ba2d8e1bbf24b","nsp":"/"}"#;
    support::feed::<PostgresWire>(&mut endpoint, t12, notification("socket.io#/", beat, t12));
    assert_eq!(adapter(&mut endpoint).wire().peers("/"), 1);
    let close = r#"{"type":13,"uid":"e88ba2d8e1bbf24b","nsp":"/"}"#;
    support::feed::<PostgresWire>(&mut endpoint, t12, notification("socket.io#/", close, t12));
    assert_eq!(adapter(&mut endpoint).wire().peers("/"), 0);

    // The emitter is never counted.
    let emitted = r#"{"type":3,"data":{"packet":{"type":2,"data":["em1"],"nsp":"/"},"opts":{"rooms":[],"flags":{},"except":[]}},"uid":"emitter"}"#;
    support::feed::<PostgresWire>(
        &mut endpoint,
        t12,
        notification("socket.io#/", emitted, t12),
    );
    assert_eq!(adapter(&mut endpoint).wire().peers("/"), 0);

    // Leaving: an ADAPTER_CLOSE per namespace.
    adapter(&mut endpoint).wire_mut().close();
    assert_eq!(
        commands(adapter(&mut endpoint)),
        [
            notify(
                "socket.io#/",
                r#"{"type":13,"uid":"aaaaaaaaaaaaaaaa","nsp":"/"}"#
            ),
            notify(
                "socket.io#/chat",
                r#"{"type":13,"uid":"bbbbbbbbbbbbbbbb","nsp":"/chat"}"#
            ),
        ]
    );
}

/// Decodes `input` on a bare wire of `/` and `/chat`.
fn decode(wire: &mut PostgresWire, input: PostgresInput) -> Option<Decoded> {
    let members = [
        Member {
            index: 0,
            namespace: Namespace::main(),
            uid: "aaaaaaaaaaaaaaaa".into(),
        },
        Member {
            index: 1,
            namespace: Namespace::new("/chat").unwrap(),
            uid: "bbbbbbbbbbbbbbbb".into(),
        },
    ];
    if wire.channels().is_empty() {
        for member in &members {
            wire.add_member(member);
        }
        while wire.poll_command().is_some() {}
    }
    let endpoint = Endpoint::new(EndpointConfig::default(), no_ids());
    wire.decode(&members, endpoint.local(), input)
}

#[test]
fn attachments_are_fetched_then_read_and_the_emitters_messages_applied() {
    let now = Instant::now();
    let mut wire = PostgresWire::new(PostgresOptions::default(), now);
    for c in captured() {
        let input = notification(&c.channel, &c.payload, now);
        let decoded = decode(&mut wire, input);
        let head = header(&c.payload);
        if c.attachment.is_none() && !head["attachmentId"].is_null() {
            // A header whose row is gone: asked for, and nothing comes.
            assert_eq!(decoded, None);
            assert!(matches!(
                wire.poll_command(),
                Some(PostgresCommand::Fetch { .. })
            ));
            continue;
        }
        if let Some(row) = &c.attachment {
            // The header asks for the row; the row is the message.
            assert_eq!(decoded, None);
            let id = match &head["attachmentId"] {
                serde_json::Value::String(id) => id.parse().unwrap(),
                id => id.as_i64().unwrap(),
            };
            assert_eq!(
                wire.poll_command(),
                Some(PostgresCommand::Fetch {
                    id,
                    channel: c.channel.clone()
                })
            );
            let row = PostgresInput::Attachment {
                channel: c.channel.clone(),
                payload: Bytes::from(bytes(&row.hex)),
                at: now,
            };
            let decoded = decode(&mut wire, row);
            assert!(
                matches!(decoded, Some(Decoded::Message { .. })),
                "{} row: {decoded:?}",
                c.payload
            );
            continue;
        }
        match head["type"].as_u64() {
            Some(1 | 2 | 13) => while wire.poll_command().is_some() {},
            Some(_) => {
                let Some(Decoded::Message {
                    namespace, from, ..
                }) = decoded
                else {
                    panic!("not applied: {} {decoded:?}", c.payload)
                };
                let channel_nsp = c.channel.strip_prefix("socket.io#").unwrap();
                let nsp = head["nsp"].as_str().unwrap_or(channel_nsp);
                assert_eq!(namespace.as_str(), nsp);
                assert_eq!(from, head["uid"].as_str().unwrap());
            }
            None => assert_eq!(decoded, None, "{}", c.payload),
        }
    }
}

#[test]
fn own_messages_and_garbage_are_dropped() {
    let now = Instant::now();
    let mut wire = PostgresWire::new(PostgresOptions::default(), now);
    for payload in [
        "not json",
        "{}",
        r#"{"type":3,"uid":"aaaaaaaaaaaaaaaa","nsp":"/","data":{}}"#,
        r#"{"uid":"aaaaaaaaaaaaaaaa","type":3,"attachmentId":"5"}"#,
        r#"{"uid":"cccccccccccccccc","type":3,"attachmentId":"not a number"}"#,
        r#"{"type":3,"uid":"cccccccccccccccc","nsp":"/nowhere","data":{}}"#,
        r#"{"type":3,"uid":"cccccccccccccccc","nsp":"/","data":{"packet":7}}"#,
    ] {
        assert_eq!(
            decode(&mut wire, notification("socket.io#/", payload, now)),
            None,
            "{payload}"
        );
        assert_eq!(wire.poll_command(), None, "{payload}");
    }
    // A row that is not msgpack, or not a message.
    for row in [&b""[..], b"\xc1", b"\x81\xa1a\x01", b"\x8f"] {
        let input = PostgresInput::Attachment {
            channel: "socket.io#/".into(),
            payload: Bytes::copy_from_slice(row),
            at: now,
        };
        assert_eq!(decode(&mut wire, input), None);
    }
}
