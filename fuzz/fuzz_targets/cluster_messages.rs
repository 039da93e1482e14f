//! Any bytes as a message from another node of a Redis cluster: the classic adapter's
//! broadcast, request and response decoders and the sharded adapter's envelope decoder
//! never panic, and what they accept is written back to bytes that decode to the same
//! message; a node of each adapter (a `ClusterAdapter` over the classic, sharded and streams
//! wires) with requests of its own waiting takes the bytes on every channel it listens to
//! (and, streams, as a stream entry), and each request still ends exactly once, with no more
//! answers than the servers counted. The same for a node of the PostgreSQL adapter, the
//! bytes as a notification and as an attachment row. The bytes are also read as a recovery
//! session from Redis and as the HTTP request of a socket's handshake.
#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use socketio_cluster_proto::classic::{
    self, Broadcast, BroadcastWithAck, ClassicWire, Request, Response,
};
use socketio_cluster_proto::envelope::Envelope;
use socketio_cluster_proto::postgres::{PostgresInput, PostgresOptions, PostgresWire};
use socketio_cluster_proto::redis::{RedisCommand, RedisInput};
use socketio_cluster_proto::sharded::{ShardedWire, SubscriptionMode};
use socketio_cluster_proto::streams::StreamsWire;
use socketio_cluster_proto::{ClusterAdapter, ClusterMessage as Message, Wire};
use socketio_proto::server::{
    Answers, BroadcastTarget, Endpoint, EndpointConfig, Handshake, ServerEvent,
};
use socketio_proto::{Limits, Namespace, Packet};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(broadcast) = Broadcast::decode(Bytes::copy_from_slice(data), &limits) {
        let mut out = Vec::new();
        // Encoding fails only for payloads at the depth limit (serde_json's recursion limit).
        if classic::broadcast(&mut out, &broadcast.uid, &broadcast.packet, &broadcast.opts).is_ok()
        {
            let again =
                Broadcast::decode(Bytes::from(out), &limits).expect("our broadcast decodes");
            assert_eq!(again.uid, broadcast.uid);
            assert_eq!(again.opts, broadcast.opts);
            assert_eq!(again.packet.namespace(), broadcast.packet.namespace());
            assert_eq!(again.packet.attachments(), broadcast.packet.attachments());
        }
    }
    if let Ok(Some(request)) = BroadcastWithAck::decode(Bytes::copy_from_slice(data), &limits) {
        // The ack of a client to it encodes whatever the packet held.
        let ack = socketio_proto::Packet::ack(
            request.packet.full_namespace().clone(),
            socketio_proto::AckId::MAX,
            &(),
        )
        .expect("an empty ack builds");
        let mut out = Vec::new();
        classic::broadcast_ack(&mut out, &request.request_id, &ack).expect("an ack encodes");
    }
    if let Ok(Some(request)) = Request::decode(data) {
        let out = request.encode().expect("a decoded request encodes");
        assert_eq!(
            Request::decode(&out).expect("our request decodes"),
            Some(request)
        );
    }
    if let Ok(Some(response)) = Response::decode(data) {
        let out = response.encode().expect("a decoded response encodes");
        assert_eq!(
            Response::decode(&out).expect("our response decodes"),
            Some(response)
        );
    }
    if let Ok(Some(envelope)) = Envelope::decode(Bytes::copy_from_slice(data), &limits) {
        // Encoding fails only for payloads at the depth limit (serde_json's recursion limit).
        if let Ok(out) = envelope.encode() {
            let again = Envelope::decode(Bytes::from(out), &limits)
                .expect("our envelope decodes")
                .expect("a known type");
            assert_eq!((&again.uid, &again.nsp), (&envelope.uid, &envelope.nsp));
            match (&again.message, &envelope.message) {
                (
                    Message::Broadcast {
                        packet: a,
                        opts: oa,
                        request_id: ra,
                    },
                    Message::Broadcast {
                        packet: b,
                        opts: ob,
                        request_id: rb,
                    },
                ) => {
                    assert_eq!((oa, ra), (ob, rb));
                    assert_eq!(a.attachments(), b.attachments());
                }
                (Message::BroadcastAck { ack: a, .. }, Message::BroadcastAck { ack: b, .. }) => {
                    assert_eq!(a.attachments(), b.attachments());
                }
                (a, b) => assert_eq!(a, b),
            }
        }
    }
    // The same bytes as a recovery session from Redis.
    let _ = socketio_cluster_proto::streams::decode_session(data);
    // The same bytes as the HTTP request a socket's handshake describes (header names and
    // values, URL, address), as `fetchSockets` sends it.
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let names: Vec<&str> = text.split('\n').collect();
    let headers = names
        .iter()
        .zip(&lines)
        .map(|(name, value)| (*name, *value));
    let handshake = Handshake::new(&text, &text, false, u64::MAX, headers);
    assert_eq!(handshake.headers().count(), lines.len().min(names.len()));
    let _ = handshake.to_json(Default::default());
    let _ = handshake.query().count();
    // The same bytes as a stream entry's data, for every type.
    for kind in 3..=12u8 {
        let kind = kind.to_string();
        let _ = Envelope::decode_entry(b"x", b"/", kind.as_bytes(), Some(data), &limits);
    }
    let namespaces = [(Namespace::main(), "uid".to_owned())];
    let classic = ClusterAdapter::new(ClassicWire::new("socket.io"), &namespaces);
    node_with_pending_requests(data, classic, true);
    let wire = ShardedWire::new("socket.io", SubscriptionMode::Dynamic);
    node_with_pending_requests(data, ClusterAdapter::new(wire, &namespaces), false);
    let wire = StreamsWire::new("socket.io", Default::default());
    node_with_pending_requests(data, ClusterAdapter::new(wire, &namespaces), false);
    postgres_node_with_pending_requests(data);
});

/// The PostgreSQL adapter's node, which counts 3 other servers by their heartbeats, waits
/// for their answers to a `fetchSockets` and a `serverSideEmitWithAck`, and gets `data` as a
/// notification (with and without a namespace) and as an attachment row.
fn postgres_node_with_pending_requests(data: &[u8]) {
    let now = Instant::now();
    let wire = PostgresWire::new(PostgresOptions::default(), now);
    let adapter = ClusterAdapter::new(wire, &[(Namespace::main(), "uid".to_owned())]);
    let ids = Box::new(|| "sid".to_owned());
    let mut endpoint = Endpoint::with_adapter(EndpointConfig::default(), ids, Box::new(adapter));
    let feed = |endpoint: &mut Endpoint, input: PostgresInput| {
        endpoint
            .with_adapter_mut(now, |adapter: &mut ClusterAdapter<PostgresWire>, local| {
                adapter.handle(now, local, input)
            })
            .expect("the cluster adapter");
    };
    let notification = |payload: String| PostgresInput::Notification {
        channel: "socket.io#/".to_owned(),
        payload,
        at: now,
    };
    for peer in ["p1", "p2", "p3"] {
        let hello = format!(r#"{{"type":1,"uid":"{peer}","nsp":"/"}}"#);
        feed(&mut endpoint, notification(hello));
    }
    let main = Namespace::main();
    let all = BroadcastTarget::all();
    let queries = [
        endpoint.fetch_sockets(now, &main, &all),
        endpoint.server_side_emit_with_ack(now, &main, "[\"who\"]"),
    ]
    .map(|query| query.expect("a request is sent"));
    let text = String::from_utf8_lossy(data).into_owned();
    for _ in 0..2 {
        feed(&mut endpoint, notification(text.clone()));
        let row = PostgresInput::Attachment {
            channel: "socket.io#/".to_owned(),
            payload: Bytes::copy_from_slice(data),
            at: now,
        };
        feed(&mut endpoint, row);
    }
    endpoint.handle_timeout(now + Duration::from_secs(5));
    let mut ended = Vec::new();
    while let Some(event) = endpoint.poll_event() {
        if let ServerEvent::Reply(reply) = event {
            if let Answers::ServerSideEmit(answers) = &reply.answers {
                assert!(answers.len() <= 3, "one answer per server counted");
            }
            ended.push(reply.query);
        }
    }
    ended.sort();
    assert_eq!(ended.len(), queries.len(), "each request ends once");
    let adapter = endpoint
        .adapter_mut::<ClusterAdapter<PostgresWire>>()
        .expect("the cluster adapter");
    // Whatever came, the commands are bounded by what came.
    assert!(std::iter::from_fn(|| adapter.poll_command()).count() < 64);
}

/// Node `uid` waits for the answers of 3 other nodes to each of its requests `uid0`
/// (fetchSockets), `uid1` (serverSideEmitWithAck), `uid2` (a broadcast with acks) and,
/// with `all_rooms` (classic), `uid3` (allRooms), and gets `data` on every channel.
fn node_with_pending_requests<W>(data: &[u8], adapter: ClusterAdapter<W>, all_rooms: bool)
where
    W: Wire<Input = RedisInput, Command = RedisCommand>,
{
    let now = Instant::now();
    let ids = Box::new(|| "sid".to_owned());
    let config = EndpointConfig::default();
    let mut endpoint = Endpoint::with_adapter(config, ids, Box::new(adapter));
    let main = Namespace::main();
    let feed = |endpoint: &mut Endpoint, input: RedisInput| {
        endpoint
            .with_adapter_mut(now, |adapter: &mut ClusterAdapter<W>, local| {
                adapter.handle(now, local, input)
            })
            .expect("the cluster adapter");
    };
    let commands = |endpoint: &mut Endpoint| -> Vec<RedisCommand> {
        let adapter = endpoint
            .adapter_mut::<ClusterAdapter<W>>()
            .expect("the cluster adapter");
        std::iter::from_fn(|| adapter.poll_command()).collect()
    };
    let question = Packet::event(main.clone(), "q", &(), None).expect("an event builds");
    let all = BroadcastTarget::all();
    let timeout = Duration::from_secs(5);
    let mut queries = vec![
        endpoint.fetch_sockets(now, &main, &all),
        endpoint.server_side_emit_with_ack(now, &main, "[\"who\"]"),
        endpoint.broadcast_with_ack(now, question, &all, timeout),
    ];
    if all_rooms {
        queries.push(endpoint.all_rooms(now, &main));
    }
    let queries: Vec<_> = queries
        .into_iter()
        .map(|query| query.expect("a request is sent"))
        .collect();
    // Redis counts 4 servers for each: 3 others answer.
    let mut counted = 0;
    for command in commands(&mut endpoint) {
        if let RedisCommand::CountServers { query, .. } = command {
            counted += 1;
            feed(&mut endpoint, RedisInput::Counted { query, count: 4 });
        }
    }
    assert_eq!(counted, queries.len(), "each request counts the servers");
    for channel in [
        "socket.io-response#/#",
        "socket.io-response#/#uid#",
        "socket.io-request#/#",
        "socket.io#/#",
        "socket.io#/#uid#",
        "socket.io#/#room#",
    ] {
        // Twice: more copies of one answer than servers counted.
        for _ in 0..2 {
            let channel = channel.to_owned();
            let payload = Bytes::copy_from_slice(data);
            feed(&mut endpoint, RedisInput::Message { channel, payload });
        }
    }
    // The same bytes as an entry of the stream (which the classic and sharded wires do not
    // read).
    let kind = data.first().map_or(3, |b| 3 + b % 10).to_string();
    let field =
        |k: &'static str, v: &[u8]| (Bytes::from_static(k.as_bytes()), Bytes::copy_from_slice(v));
    let fields = vec![
        field("uid", b"x"),
        field("nsp", b"/"),
        field("type", kind.as_bytes()),
        field("data", data.get(1..).unwrap_or_default()),
    ];
    let id = Bytes::from_static(b"1-0");
    feed(&mut endpoint, RedisInput::Entry { id, fields });
    let _ = commands(&mut endpoint);
    endpoint.handle_timeout(now + timeout);
    let _ = commands(&mut endpoint);
    let mut ended = Vec::new();
    while let Some(event) = endpoint.poll_event() {
        if let ServerEvent::Reply(reply) = event {
            if let Answers::ServerSideEmit(answers) = &reply.answers {
                assert!(answers.len() <= 3, "one answer per server counted");
            }
            ended.push(reply.query);
        }
    }
    ended.sort();
    let total = ended.len();
    ended.dedup();
    let sent = queries.len();
    assert_eq!((total, ended.len()), (sent, sent), "each request ends once");
    assert!(
        queries
            .iter()
            .all(|query| !endpoint.local().is_query_pending(*query))
    );
    assert_eq!(endpoint.poll_timeout(), None, "nothing left pending");
}
