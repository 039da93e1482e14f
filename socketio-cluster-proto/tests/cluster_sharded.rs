//! The sharded adapter's messages (`ClusterAdapter` envelopes) against the captures of
//! ADAPTERS.md §3.2 and §3.4 (node A uid `d68fee24e727e0fb`, node B `83fac4a2631c0e77`,
//! socket.io 4.8.4, @socket.io/redis-adapter 8.3.0 `createShardedAdapter`): the JSON lines
//! and the msgpack dumps byte for byte both ways; the Redis-streams adapter's entries and
//! channel messages (§4), which share the envelope.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use bytes::Bytes;
use socketio_cluster_proto::ClusterMessage as Message;
use socketio_cluster_proto::envelope::Envelope;
use socketio_cluster_proto::{BroadcastOptions, Flags};
use socketio_proto::{AckId, Limits, Namespace, Packet};
use support::bytes;

const A: &str = "d68fee24e727e0fb";
const B: &str = "83fac4a2631c0e77";

fn to(rooms: &[&str]) -> BroadcastOptions {
    BroadcastOptions {
        rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
        ..Default::default()
    }
}

fn decode(message: impl Into<Bytes>) -> Envelope {
    Envelope::decode(message.into(), &Limits::default())
        .unwrap()
        .unwrap()
}

/// Encodes like the reference and decodes back to the same message.
fn round_trip(uid: &str, message: Message, wire: &[u8]) {
    let envelope = Envelope::new(uid, "/", message);
    let encoded = envelope.encode().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&encoded),
        String::from_utf8_lossy(wire)
    );
    assert_eq!(decode(encoded), envelope);
}

fn event(name: &str, args: &impl serde::Serialize) -> Packet {
    Packet::event(Namespace::main(), name, args, None).unwrap()
}

#[test]
fn the_captured_json_lines() {
    round_trip(
        A,
        Message::Broadcast {
            packet: event("e2", &("r1",)),
            opts: to(&["room1"]),
            request_id: None,
        },
        br#"{"type":3,"data":{"packet":{"type":2,"data":["e2","r1"]},"opts":{"rooms":["room1"],"except":[],"flags":{}}},"uid":"d68fee24e727e0fb","nsp":"/"}"#,
    );
    let timeout = BroadcastOptions {
        flags: Flags {
            timeout: Some(1000),
            ..Flags::default()
        },
        ..Default::default()
    };
    round_trip(
        A,
        Message::Broadcast {
            packet: event("e10", &("q",)),
            opts: timeout,
            request_id: Some("ff3c7e8562ff249d".into()),
        },
        br#"{"type":3,"data":{"packet":{"type":2,"data":["e10","q"]},"requestId":"ff3c7e8562ff249d","opts":{"rooms":[],"except":[],"flags":{"timeout":1000}}},"uid":"d68fee24e727e0fb","nsp":"/"}"#,
    );
    round_trip(
        B,
        Message::BroadcastClientCount {
            request_id: "ff3c7e8562ff249d".into(),
            client_count: 2,
        },
        br#"{"type":11,"data":{"requestId":"ff3c7e8562ff249d","clientCount":2},"uid":"83fac4a2631c0e77","nsp":"/"}"#,
    );
    let ack = Packet::ack(Namespace::main(), AckId::new(3).unwrap(), &("ack-cB1",)).unwrap();
    let wire = br#"{"type":12,"data":{"requestId":"ff3c7e8562ff249d","packet":"ack-cB1"},"uid":"83fac4a2631c0e77","nsp":"/"}"#;
    let message = Message::BroadcastAck {
        request_id: "ff3c7e8562ff249d".into(),
        ack,
    };
    let encoded = Envelope::new(B, "/", message).encode().unwrap();
    assert_eq!(encoded, wire);
    let Message::BroadcastAck { ack, .. } = decode(encoded).message else {
        panic!()
    };
    assert_eq!(ack.raw_json().unwrap().as_str(), r#"["ack-cB1"]"#);
    round_trip(
        A,
        Message::SocketsJoin {
            opts: to(&["room1"]),
            rooms: vec!["room3".into()],
        },
        br#"{"type":4,"data":{"opts":{"rooms":["room1"],"except":[],"flags":{}},"rooms":["room3"]},"uid":"d68fee24e727e0fb","nsp":"/"}"#,
    );
    round_trip(
        A,
        Message::DisconnectSockets {
            opts: to(&["room2"]),
            close: false,
        },
        br#"{"type":6,"data":{"opts":{"rooms":["room2"],"except":[],"flags":{}},"close":false},"uid":"d68fee24e727e0fb","nsp":"/"}"#,
    );
    round_trip(
        A,
        Message::FetchSockets {
            opts: to(&["room1"]),
            request_id: "f16f3342935bf807".into(),
        },
        br#"{"type":7,"data":{"opts":{"rooms":["room1"],"except":[],"flags":{}},"requestId":"f16f3342935bf807"},"uid":"d68fee24e727e0fb","nsp":"/"}"#,
    );
    round_trip(
        A,
        Message::ServerSideEmit {
            request_id: Some("db94b9613d9dc9de".into()),
            data: r#"["s2","y"]"#.into(),
        },
        br#"{"type":9,"data":{"requestId":"db94b9613d9dc9de","packet":["s2","y"]},"uid":"d68fee24e727e0fb","nsp":"/"}"#,
    );
}

#[test]
fn a_fetched_socket_keeps_its_handshake_and_data() {
    let wire = r#"{"type":8,"data":{"requestId":"f16f3342935bf807","sockets":[{"id":"TFvt5XeAZp6Rl1-UAAAC","handshake":{"address":"::ffff:127.0.0.1","issued":1796133313551,"auth":{"token":"t"}},"rooms":["TFvt5XeAZp6Rl1-UAAAC","room1"],"data":{"name":"cB1","n":1}}]},"uid":"83fac4a2631c0e77","nsp":"/"}"#;
    let Message::FetchSocketsResponse { sockets, .. } = decode(wire.as_bytes().to_vec()).message
    else {
        panic!()
    };
    assert_eq!(sockets[0].id, "TFvt5XeAZp6Rl1-UAAAC");
    assert_eq!(sockets[0].rooms, ["TFvt5XeAZp6Rl1-UAAAC", "room1"]);
    assert_eq!(sockets[0].handshake["issued"], 1796133313551u64);
    assert_eq!(sockets[0].data, serde_json::json!({"name": "cB1", "n": 1}));
}

#[test]
fn s1_a_binary_broadcast_is_msgpack() {
    let hex = "84 a4 74 79 70 65 03 a4 64 61 74 61 82 a6 70 61 63 6b 65 74 82 a4 74 79
               70 65 02 a4 64 61 74 61 93 a2 65 38 c4 03 01 02 03 81 a1 62 c4 01 ff a4
               6f 70 74 73 83 a5 72 6f 6f 6d 73 90 a6 65 78 63 65 70 74 90 a5 66 6c 61
               67 73 80 a3 75 69 64 b0 64 36 38 66 65 65 32 34 65 37 32 37 65 30 66 62
               a3 6e 73 70 a1 2f";
    #[derive(serde::Serialize)]
    struct Bin {
        b: Bytes,
    }
    let args = (
        Bytes::from_static(&[1, 2, 3]),
        Bin {
            b: Bytes::from_static(&[0xff]),
        },
    );
    let packet = event("e8", &args);
    let message = Message::Broadcast {
        packet: packet.clone(),
        opts: BroadcastOptions::default(),
        request_id: None,
    };
    let envelope = Envelope::new(A, "/", message);
    assert_eq!(envelope.encode().unwrap(), bytes(hex));
    let received = decode(bytes(hex));
    let Message::Broadcast { packet: got, .. } = &received.message else {
        panic!()
    };
    assert_eq!(got.attachments(), packet.attachments());
    assert_eq!(got.raw_json(), packet.raw_json());
    assert_eq!(got.namespace(), "/");
}

#[test]
fn s2_a_binary_ack_is_msgpack() {
    let hex = "84 a4 74 79 70 65 0c a4 64 61 74 61 82 a9 72 65 71 75 65 73 74 49 64 b0
               32 38 62 35 37 33 35 36 30 62 65 31 66 31 36 63 a6 70 61 63 6b 65 74 c4
               02 ca fe a3 75 69 64 b0 38 33 66 61 63 34 61 32 36 33 31 63 30 65 37 37
               a3 6e 73 70 a1 2f";
    let ack = Packet::ack(
        Namespace::main(),
        AckId::new(1).unwrap(),
        &(Bytes::from_static(&[0xca, 0xfe]),),
    )
    .unwrap();
    let message = Message::BroadcastAck {
        request_id: "28b573560be1f16c".into(),
        ack,
    };
    assert_eq!(Envelope::new(B, "/", message).encode().unwrap(), bytes(hex));
    let Message::BroadcastAck { ack, .. } = decode(bytes(hex)).message else {
        panic!()
    };
    assert_eq!(ack.attachments(), [Bytes::from_static(&[0xca, 0xfe])]);
}

#[test]
fn s3_binary_in_a_server_side_emit_answer_reaches_the_app_as_node_json() {
    let hex = "84 a4 74 79 70 65 0a a4 64 61 74 61 82 a9 72 65 71 75 65 73 74 49 64 b0
               64 62 39 34 62 39 36 31 33 64 39 64 63 39 64 65 a6 70 61 63 6b 65 74 82
               a4 66 72 6f 6d a1 42 a3 62 69 6e c4 02 09 08 a3 75 69 64 b0 38 33 66 61
               63 34 61 32 36 33 31 63 30 65 37 37 a3 6e 73 70 a1 2f";
    let received = decode(bytes(hex));
    assert_eq!(received.uid, B);
    assert_eq!(
        received.message,
        Message::ServerSideEmitResponse {
            request_id: "db94b9613d9dc9de".into(),
            data: r#"{"from":"B","bin":{"type":"Buffer","data":[9,8]}}"#.into(),
        }
    );
}

#[test]
fn other_families_and_malformed_messages() {
    let limits = Limits::default();
    // A heartbeat of the heartbeat-based adapters: not for this node.
    let heartbeat = br#"{"type":2,"uid":"x","nsp":"/"}"#.to_vec();
    assert_eq!(Envelope::decode(heartbeat.into(), &limits).unwrap(), None);
    for bad in [
        &br#"{"type":3,"uid":"x","nsp":"/"}"#[..],
        br#"{"type":3,"data":{"packet":{"type":2,"data":[]}},"uid":"x","nsp":"/"}"#,
        br#"{"type":4,"data":{},"uid":"x","nsp":"/"}"#,
        br#"{"type":8,"data":{"sockets":[]},"uid":"x","nsp":"/"}"#,
        br#"{"type":3,"data":{},"uid":1,"nsp":"/"}"#,
        b"\x84",
        b"\x91\x03",
    ] {
        assert!(
            Envelope::decode(Bytes::copy_from_slice(bad), &limits).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

// The Redis-streams adapter (ADAPTERS.md §4.2, §4.4): the same envelopes, as stream entries
// and as msgpack on the Pub/Sub channels (node A `afd71625045c9b41`, B `2486c147789cfdb5`).

const SA: &str = "afd71625045c9b41";
const SB: &str = "2486c147789cfdb5";

fn msgpack(envelope: &Envelope) -> Vec<u8> {
    let mut out = Vec::new();
    envelope.write_msgpack(&mut out).unwrap();
    out
}

#[test]
fn r1_a_binary_broadcast_entry_is_base64_of_msgpack() {
    let data =
        "gqZwYWNrZXSCpHR5cGUCpGRhdGGTomU4xAMBAgOBoWLEAf+kb3B0c4Olcm9vbXOQpmV4Y2VwdJClZmxhZ3OA";
    #[derive(serde::Serialize)]
    struct Bin {
        b: Bytes,
    }
    let args = (
        Bytes::from_static(&[1, 2, 3]),
        Bin {
            b: Bytes::from_static(&[0xff]),
        },
    );
    let packet = event("e8", &args);
    let envelope = Envelope::new(
        SA,
        "/",
        Message::Broadcast {
            packet: packet.clone(),
            opts: BroadcastOptions::default(),
            request_id: None,
        },
    );
    assert_eq!(envelope.kind(), Some(3));
    assert_eq!(envelope.entry_data().unwrap(), data.as_bytes());
    let read = Envelope::decode_entry(
        SA.as_bytes(),
        b"/",
        b"3",
        Some(data.as_bytes()),
        &Limits::default(),
    )
    .unwrap()
    .unwrap();
    let Message::Broadcast { packet: got, .. } = read.message else {
        panic!()
    };
    assert_eq!(got.attachments(), packet.attachments());
    assert_eq!(got.raw_json(), packet.raw_json());
}

#[test]
fn the_captured_xadd_entries() {
    for (message, data) in [
        (
            Message::Broadcast {
                packet: event("e2", &("r1",)),
                opts: to(&["room1"]),
                request_id: None,
            },
            r#"{"packet":{"type":2,"data":["e2","r1"]},"opts":{"rooms":["room1"],"except":[],"flags":{}}}"#,
        ),
        (
            Message::SocketsJoin {
                opts: to(&["room1"]),
                rooms: vec!["room3".into()],
            },
            r#"{"opts":{"rooms":["room1"],"except":[],"flags":{}},"rooms":["room3"]}"#,
        ),
        (
            Message::DisconnectSockets {
                opts: to(&["room1"]),
                close: true,
            },
            r#"{"opts":{"rooms":["room1"],"except":[],"flags":{}},"close":true}"#,
        ),
    ] {
        let envelope = Envelope::new(SA, "/", message);
        assert_eq!(
            String::from_utf8(envelope.entry_data().unwrap()).unwrap(),
            data
        );
        let kind = envelope.kind().unwrap().to_string();
        let read = Envelope::decode_entry(
            SA.as_bytes(),
            b"/",
            kind.as_bytes(),
            Some(data.as_bytes()),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(read, Some(envelope));
    }
    // Another namespace's entry, an unknown type, bad data.
    let limits = Limits::default();
    assert_eq!(
        Envelope::decode_entry(b"x", b"/", b"13", None, &limits).unwrap(),
        None
    );
    assert!(Envelope::decode_entry(b"x", b"/", b"3", Some(b"!!"), &limits).is_err());
}

#[test]
fn r2_to_r4_requests_and_answers_on_the_channels_are_msgpack() {
    let r2 = "84 a4 74 79 70 65 03 a4 64 61 74 61 83 a6 70 61 63 6b 65 74 82 a4 74 79
              70 65 02 a4 64 61 74 61 92 a3 65 31 30 a1 71 a9 72 65 71 75 65 73 74 49
              64 b0 65 38 38 61 64 65 30 32 61 31 63 39 66 38 66 65 a4 6f 70 74 73 83
              a5 72 6f 6f 6d 73 90 a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 81 a7 74
              69 6d 65 6f 75 74 cd 03 e8 a3 75 69 64 b0 61 66 64 37 31 36 32 35 30 34
              35 63 39 62 34 31 a3 6e 73 70 a1 2f";
    let timeout = BroadcastOptions {
        flags: Flags {
            timeout: Some(1000),
            ..Flags::default()
        },
        ..Default::default()
    };
    let request = Envelope::new(
        SA,
        "/",
        Message::Broadcast {
            packet: event("e10", &("q",)),
            opts: timeout,
            request_id: Some("e88ade02a1c9f8fe".into()),
        },
    );
    assert_eq!(msgpack(&request), bytes(r2));
    assert_eq!(decode(bytes(r2)), request);

    let count = "84 a4 74 79 70 65 0b a4 64 61 74 61 82 a9 72 65 71 75 65 73 74 49 64 b0
                 65 38 38 61 64 65 30 32 61 31 63 39 66 38 66 65 ab 63 6c 69 65 6e 74 43
                 6f 75 6e 74 02 a3 75 69 64 b0 32 34 38 36 63 31 34 37 37 38 39 63 66 64
                 62 35 a3 6e 73 70 a1 2f";
    let answer = Envelope::new(
        SB,
        "/",
        Message::BroadcastClientCount {
            request_id: "e88ade02a1c9f8fe".into(),
            client_count: 2,
        },
    );
    assert_eq!(msgpack(&answer), bytes(count));
    assert_eq!(decode(bytes(count)), answer);
    let ack = "84 a4 74 79 70 65 0c a4 64 61 74 61 82 a9 72 65 71 75 65 73 74 49 64 b0
               65 38 38 61 64 65 30 32 61 31 63 39 66 38 66 65 a6 70 61 63 6b 65 74 a7
               61 63 6b 2d 63 42 31 a3 75 69 64 b0 32 34 38 36 63 31 34 37 37 38 39 63
               66 64 62 35 a3 6e 73 70 a1 2f";
    let client_ack = Packet::ack(Namespace::main(), AckId::new(1).unwrap(), &("ack-cB1",)).unwrap();
    let answer = Envelope::new(
        SB,
        "/",
        Message::BroadcastAck {
            request_id: "e88ade02a1c9f8fe".into(),
            ack: client_ack,
        },
    );
    assert_eq!(msgpack(&answer), bytes(ack));

    let r4 = "84 a4 74 79 70 65 07 a4 64 61 74 61 82 a4 6f 70 74 73 83 a5 72 6f 6f 6d
              73 91 a5 72 6f 6f 6d 31 a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 80 a9
              72 65 71 75 65 73 74 49 64 b0 33 34 34 35 64 65 65 34 32 64 36 38 66 38
              35 35 a3 75 69 64 b0 61 66 64 37 31 36 32 35 30 34 35 63 39 62 34 31 a3
              6e 73 70 a1 2f";
    let fetch = Envelope::new(
        SA,
        "/",
        Message::FetchSockets {
            opts: to(&["room1"]),
            request_id: "3445dee42d68f855".into(),
        },
    );
    assert_eq!(msgpack(&fetch), bytes(r4));
    assert_eq!(decode(bytes(r4)), fetch);
}
