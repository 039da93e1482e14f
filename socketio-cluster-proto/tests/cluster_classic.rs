//! The classic Redis adapter's messages against the captures of ADAPTERS.md §2.5 (node A uid
//! `JATxCS`, socket.io 4.8.4, @socket.io/redis-adapter 8.3.0): broadcasts byte for byte both
//! ways, requests and responses as the JSON lines Node.js published.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod support;

use bytes::Bytes;
use socketio_cluster_proto::classic::{self, Broadcast, Channels, Request, Response};
use socketio_cluster_proto::{BroadcastOptions, Flags};
use socketio_proto::{Limits, Namespace, Packet};
use support::bytes;

fn to(rooms: &[&str]) -> BroadcastOptions {
    BroadcastOptions {
        rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
        ..Default::default()
    }
}

fn published(packet: &Packet, opts: &BroadcastOptions) -> Vec<u8> {
    let mut out = Vec::new();
    classic::broadcast(&mut out, "JATxCS", packet, opts).unwrap();
    out
}

#[test]
fn c1_a_room_broadcast() {
    let hex = "93 a6 4a 41 54 78 43 53 83 a4 74 79 70 65 02 a4 64 61 74 61 92 a2 65 32
               a2 72 31 a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 91 a5 72 6f 6f 6d 31 a6
               65 78 63 65 70 74 90 a5 66 6c 61 67 73 80";
    let packet = Packet::event(Namespace::main(), "e2", &("r1",), None).unwrap();
    let opts = to(&["room1"]);
    assert_eq!(published(&packet, &opts), bytes(hex));
    let channels = Channels::new("socket.io", "/", "JATxCS");
    assert_eq!(channels.broadcast_channel(&opts), "socket.io#/#room1#");

    let received = Broadcast::decode(Bytes::from(bytes(hex)), &Limits::default()).unwrap();
    assert_eq!(received.uid, "JATxCS");
    assert_eq!(received.opts, opts);
    assert_eq!(received.packet, packet);
}

#[test]
fn c2_binary_values_travel_as_bin() {
    let hex = "93 a6 4a 41 54 78 43 53 83 a4 74 79 70 65 02 a4 64 61 74 61 93 a2 65 38
               c4 03 01 02 03 81 a1 62 c4 01 ff a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73
               90 a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 80";
    #[derive(serde::Serialize)]
    struct B {
        b: Bytes,
    }
    let args = (
        Bytes::from_static(&[1, 2, 3]),
        B {
            b: Bytes::from_static(&[0xff]),
        },
    );
    let packet = Packet::event(Namespace::main(), "e8", &args, None).unwrap();
    assert_eq!(published(&packet, &BroadcastOptions::default()), bytes(hex));

    let received = Broadcast::decode(Bytes::from(bytes(hex)), &Limits::default()).unwrap();
    assert_eq!(received.packet.attachments(), packet.attachments());
    assert_eq!(received.packet.raw_json(), packet.raw_json());
}

/// The value-mapping probe: `undefined`, `null`, `{u: undefined, n: null}`, numbers of every
/// width, `new Date(0)` (notepack 3's timestamp extension) and `"é"`, as a Node.js node's
/// clients see them: the Date as its ISO string.
#[test]
fn c5_values_of_every_kind_as_node_clients_see_them() {
    let hex = "93 a6 4a 41 54 78 43 53 83 a4 74 79 70 65 02 a4 64 61 74 61 9e a2 65 39
               c0 c0 81 a1 6e c0 cb 3f f8 00 00 00 00 00 00 ff cc ff cd 01 00 ce 00 01
               00 00 cf 00 00 00 01 00 00 00 00 cf 00 1f ff ff ff ff ff ff d3 ff ff ff
               ff 7f ff ff ff d6 ff 00 00 00 00 a2 c3 a9 a3 6e 73 70 a1 2f 83 a5 72 6f
               6f 6d 73 90 a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 80";
    let received = Broadcast::decode(Bytes::from(bytes(hex)), &Limits::default()).unwrap();
    assert_eq!(
        received.packet.raw_json().unwrap().as_str(),
        r#"["e9",null,null,{"n":null},1.5,-1,255,256,65536,4294967296,9007199254740991,-2147483649,"1970-01-01T00:00:00.000Z","é"]"#
    );
}

#[test]
fn c6_flags_as_node_writes_them() {
    let packet = Packet::event(Namespace::main(), "e15", &("to-remote",), None).unwrap();
    for (flags, hex) in [
        (
            Flags {
                expect_single_response: true,
                ..Flags::default()
            },
            "81 b4 65 78 70 65 63 74 53 69 6e 67 6c 65 52 65 73 70 6f 6e 73 65 c3",
        ),
        (
            Flags {
                volatile: true,
                ..Flags::default()
            },
            "81 a8 76 6f 6c 61 74 69 6c 65 c3",
        ),
        (
            Flags {
                compress: Some(false),
                ..Flags::default()
            },
            "81 a8 63 6f 6d 70 72 65 73 73 c2",
        ),
    ] {
        let opts = BroadcastOptions {
            rooms: vec!["TLX3mAEo6ntZJP2dAAAC".into()],
            flags,
            ..Default::default()
        };
        let message = published(&packet, &opts);
        assert!(message.ends_with(&bytes(hex)), "{flags:?}");
        let received = Broadcast::decode(Bytes::from(message), &Limits::default()).unwrap();
        assert_eq!(received.opts, opts);
    }
}

#[test]
fn emitter_broadcasts_decode_whatever_the_key_order() {
    // The emitter writes opts as {rooms, flags, except} and legacy rooms may be numbers.
    let mut message = bytes(
        "93 a7 65 6d 69 74 74 65 72 83 a4 74 79 70 65 02 a4 64 61 74 61 91 a1 78 a3 6e 73 70 a1 2f",
    );
    message.extend(bytes(
        "83 a5 72 6f 6f 6d 73 92 a1 61 2a a5 66 6c 61 67 73 81 a8 76 6f 6c 61 74 69 6c 65 c3 a6 65 78 63 65 70 74 90",
    ));
    let received = Broadcast::decode(Bytes::from(message), &Limits::default()).unwrap();
    assert_eq!(received.uid, "emitter");
    assert_eq!(received.opts.rooms, ["a", "42"]);
    assert!(received.opts.flags.volatile);
}

#[test]
fn a_packet_without_nsp_is_for_the_main_namespace() {
    let message = bytes("93 a1 58 82 a4 74 79 70 65 02 a4 64 61 74 61 91 a1 78 80");
    let received = Broadcast::decode(Bytes::from(message), &Limits::default()).unwrap();
    assert_eq!(received.packet.namespace(), "/");
    assert_eq!(received.opts, BroadcastOptions::default());
}

#[test]
fn malformed_broadcasts_fail_typed() {
    for hex in [
        "",
        "c0",
        "92 a1 58 80",
        "93 a1 58 80 80",
        "93 a1 58 83 a4 74 79 70 65 09 a4 64 61 74 61 90 a3 6e 73 70 a1 2f 80",
        "93 a1 58 82 a4 74 79 70 65 02 a4 64 61 74 61 90 80 00",
    ] {
        assert!(
            Broadcast::decode(Bytes::from(bytes(hex)), &Limits::default()).is_err(),
            "{hex}"
        );
    }
}

/// Each captured JSON line decodes and is written back byte for byte.
#[test]
fn requests_and_responses_round_trip_byte_for_byte() {
    for line in [
        r#"{"uid":"JATxCS","requestId":"Llq5Ne","type":5,"opts":{"rooms":["room1"],"except":[]}}"#,
        r#"{"uid":"JATxCS","requestId":"KfQ9a0","type":1}"#,
        r#"{"uid":"JATxCS","type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room3"]}"#,
        r#"{"uid":"JATxCS","type":3,"opts":{"rooms":["room1"],"except":[]},"rooms":["room3"]}"#,
        r#"{"uid":"JATxCS","type":4,"opts":{"rooms":["room1"],"except":[]},"close":true}"#,
        r#"{"uid":"JATxCS","type":6,"data":["s1","x",1]}"#,
        r#"{"uid":"JATxCS","requestId":"KaSVnH","type":6,"data":["s2","y"]}"#,
    ] {
        let request = Request::decode(line.as_bytes()).unwrap().unwrap();
        assert_eq!(String::from_utf8(request.encode().unwrap()).unwrap(), line);
    }
    for line in [
        r#"{"requestId":"KfQ9a0","rooms":["TLX3mAEo6ntZJP2dAAAC","room1","LFUV7OZJ-a1oPX_TAAAD","room2"]}"#,
        r#"{"type":6,"requestId":"KaSVnH","data":{"from":"B","bin":{"type":"Buffer","data":[9,8]}}}"#,
        r#"{"type":8,"requestId":"NHdlC0","clientCount":2}"#,
        r#"{"requestId":"Llq5Ne","sockets":[{"id":"TLX3mAEo6ntZJP2dAAAC","rooms":["TLX3mAEo6ntZJP2dAAAC","room1"],"data":{"name":"cB1","n":1}}]}"#,
    ] {
        let response = Response::decode(line.as_bytes()).unwrap().unwrap();
        assert_eq!(String::from_utf8(response.encode().unwrap()).unwrap(), line);
    }
}

#[test]
fn emitter_requests_have_no_uid() {
    let line = r#"{"type":4,"opts":{"rooms":["r"],"except":[]},"close":false}"#;
    let request = Request::decode(line.as_bytes()).unwrap().unwrap();
    assert!(matches!(
        request,
        Request::Disconnect {
            uid: None,
            close: false,
            ..
        }
    ));
    assert_eq!(String::from_utf8(request.encode().unwrap()).unwrap(), line);
}

#[test]
fn msgpack_requests_and_unknown_types_are_not_taken_for_others() {
    // C3: a broadcast with acks (type 7, msgpack) is not decoded by this version.
    assert_eq!(Request::decode(&bytes("85 a3 75 69 64")).unwrap(), None);
    assert_eq!(
        Request::decode(br#"{"uid":"x","type":0,"requestId":"r"}"#).unwrap(),
        None
    );
    assert!(Request::decode(b"{").is_err());
    assert!(
        Request::decode(br#"{"type":1}"#).is_err(),
        "an all-rooms request needs uid and requestId"
    );
    let bad = Request::ServerSideEmit {
        uid: "x".into(),
        request_id: None,
        data: "not json".into(),
    };
    assert!(bad.encode().is_err());
}

/// ADAPTERS.md §5, E1–E4: what `@socket.io/redis-emitter` 5.1 publishes.
#[test]
fn emitter_broadcasts_byte_for_byte() {
    let emitted = |packet: Packet, opts: BroadcastOptions| {
        let mut out = Vec::new();
        classic::emitter_broadcast(&mut out, &packet, &opts).unwrap();
        out
    };
    let main = Namespace::main;
    let e1 = "93 a7 65 6d 69 74 74 65 72 83 a4 74 79 70 65 02 a4 64 61 74 61 93 a3 65
              6d 31 a2 68 69 01 a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 90 a5 66 6c 61
              67 73 80 a6 65 78 63 65 70 74 90";
    let packet = Packet::event(main(), "em1", &("hi", 1), None).unwrap();
    assert_eq!(emitted(packet, BroadcastOptions::default()), bytes(e1));

    let e2 = "93 a7 65 6d 69 74 74 65 72 83 a4 74 79 70 65 02 a4 64 61 74 61 92 a3 65
              6d 32 81 a1 61 01 a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 91 a5 72 6f 6f
              6d 31 a5 66 6c 61 67 73 80 a6 65 78 63 65 70 74 90";
    let packet = Packet::event(main(), "em2", &(serde_json::json!({"a": 1}),), None).unwrap();
    assert_eq!(emitted(packet, to(&["room1"])), bytes(e2));

    let e3 = "93 a7 65 6d 69 74 74 65 72 83 a4 74 79 70 65 02 a4 64 61 74 61 92 a3 65
              6d 34 c4 02 de ad a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 90 a5 66 6c 61
              67 73 80 a6 65 78 63 65 70 74 90";
    let packet = Packet::event(main(), "em4", &(Bytes::from_static(&[0xde, 0xad]),), None).unwrap();
    assert_eq!(emitted(packet, BroadcastOptions::default()), bytes(e3));

    let e4 = "93 a7 65 6d 69 74 74 65 72 83 a4 74 79 70 65 02 a4 64 61 74 61 91 a3 65
              6d 33 a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 92 a5 72 6f 6f 6d 31 a5 72
              6f 6f 6d 32 a5 66 6c 61 67 73 81 a8 76 6f 6c 61 74 69 6c 65 c3 a6 65 78
              63 65 70 74 91 a5 72 6f 6f 6d 32";
    let opts = BroadcastOptions {
        rooms: vec!["room1".into(), "room2".into()],
        except: vec!["room2".into()],
        flags: Flags {
            volatile: true,
            ..Flags::default()
        },
    };
    let packet = Packet::event(main(), "em3", &(), None).unwrap();
    let message = emitted(packet, opts.clone());
    assert_eq!(message, bytes(e4));
    assert_eq!(
        Broadcast::decode(Bytes::from(message), &Limits::default())
            .unwrap()
            .opts,
        opts
    );
}

#[test]
fn emitter_requests_as_captured() {
    for line in [
        r#"{"type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room9"]}"#,
        r#"{"uid":"emitter","type":6,"data":["hello-servers","x",2]}"#,
        r#"{"type":4,"opts":{"rooms":[],"except":["room1"]},"close":true}"#,
    ] {
        let request = Request::decode(line.as_bytes()).unwrap().unwrap();
        assert_eq!(String::from_utf8(request.encode().unwrap()).unwrap(), line);
    }
}

/// C3 and C4: a broadcast with acknowledgements, and a client's binary ack to it.
#[test]
fn c3_c4_broadcast_with_acks() {
    use socketio_cluster_proto::classic::BroadcastWithAck;
    let c3 = "85 a3 75 69 64 a6 4a 41 54 78 43 53 a9 72 65 71 75 65 73 74 49 64 a6 65
              7a 69 37 56 31 a4 74 79 70 65 07 a6 70 61 63 6b 65 74 83 a4 74 79 70 65
              02 a4 64 61 74 61 91 a3 65 31 31 a3 6e 73 70 a1 2f a4 6f 70 74 73 83 a5
              72 6f 6f 6d 73 91 a5 72 6f 6f 6d 31 a6 65 78 63 65 70 74 90 a5 66 6c 61
              67 73 81 a7 74 69 6d 65 6f 75 74 cd 03 e8";
    let request = BroadcastWithAck::decode(Bytes::from(bytes(c3)), &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        (request.uid.as_str(), request.request_id.as_str()),
        ("JATxCS", "ezi7V1")
    );
    assert_eq!(request.packet.raw_json().unwrap().as_str(), r#"["e11"]"#);
    assert_eq!(request.opts.rooms, ["room1"]);
    assert_eq!(request.opts.flags.timeout, Some(1000));
    // What our node publishes for the same broadcast.
    let mut out = Vec::new();
    classic::broadcast_with_ack(&mut out, "JATxCS", "ezi7V1", &request.packet, &request.opts)
        .unwrap();
    assert_eq!(out, bytes(c3));
    // JSON requests and other msgpack are not type 7.
    assert_eq!(
        BroadcastWithAck::decode(Bytes::from_static(b"{}"), &Limits::default()).unwrap(),
        None
    );
    assert_eq!(
        BroadcastWithAck::decode(
            Bytes::from(bytes("81 a4 74 79 70 65 06")),
            &Limits::default()
        )
        .unwrap(),
        None
    );

    let c4 = "83 a4 74 79 70 65 09 a9 72 65 71 75 65 73 74 49 64 a6 65 7a 69 37 56 31
              a6 70 61 63 6b 65 74 c4 02 ca fe";
    let ack = Packet::ack(
        Namespace::main(),
        socketio_proto::AckId::new(3).unwrap(),
        &(
            Bytes::from_static(&[0xca, 0xfe]),
            "ignored: only the first argument travels",
        ),
    )
    .unwrap();
    let mut out = Vec::new();
    classic::broadcast_ack(&mut out, "ezi7V1", &ack).unwrap();
    assert_eq!(out, bytes(c4));
}

/// The ack on the response channel as our node reads it (C4): the binary first argument.
#[test]
fn c4_an_ack_from_another_node_keeps_its_binary() {
    use socketio_cluster_proto::ClusterAdapter;
    use socketio_cluster_proto::classic::ClassicWire;
    use socketio_cluster_proto::redis::{RedisCommand, RedisInput};
    use socketio_proto::server::{Answers, BroadcastTarget, Endpoint, EndpointConfig, ServerEvent};
    type Classic = ClusterAdapter<ClassicWire>;
    let now = std::time::Instant::now();
    let adapter = Classic::new(
        ClassicWire::new("socket.io"),
        &[(Namespace::main(), "JATxCS".into())],
    );
    let ids = Box::new(|| "s".to_owned());
    let mut endpoint = Endpoint::with_adapter(EndpointConfig::default(), ids, Box::new(adapter));
    let packet = Packet::event(Namespace::main(), "e11", &(), None).unwrap();
    let timeout = std::time::Duration::from_secs(1);
    let all = BroadcastTarget::all();
    let request = endpoint
        .broadcast_with_ack(now, packet, &all, timeout)
        .unwrap();
    let feed = |endpoint: &mut Endpoint, input: RedisInput| {
        endpoint.with_adapter_mut(now, |a: &mut Classic, local| a.handle(now, local, input));
    };
    let commands: Vec<RedisCommand> = endpoint
        .with_adapter_mut(now, |a: &mut Classic, _| {
            std::iter::from_fn(|| a.poll_command()).collect()
        })
        .unwrap();
    for command in commands {
        if let RedisCommand::CountServers { query, .. } = command {
            feed(&mut endpoint, RedisInput::Counted { query, count: 2 });
        }
    }
    let channel = "socket.io-response#/#".to_owned();
    let count = br#"{"type":8,"requestId":"JATxCS0","clientCount":1}"#;
    let payload = Bytes::from_static(count);
    feed(
        &mut endpoint,
        RedisInput::Message {
            channel: channel.clone(),
            payload,
        },
    );
    let c4 = "83 a4 74 79 70 65 09 a9 72 65 71 75 65 73 74 49 64 a7 4a 41 54 78 43 53 30
              a6 70 61 63 6b 65 74 c4 02 ca fe";
    let payload = Bytes::from(bytes(c4));
    feed(&mut endpoint, RedisInput::Message { channel, payload });
    let Some(ServerEvent::Reply(reply)) = endpoint.poll_event() else {
        panic!("the query's reply")
    };
    assert_eq!((reply.query, reply.timed_out), (request, false));
    let Answers::Acks(acks) = reply.answers else {
        panic!()
    };
    let (first,): (Bytes,) = acks[0].args().unwrap();
    assert_eq!(first, Bytes::from_static(&[0xca, 0xfe]));
}
