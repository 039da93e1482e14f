//! Any bytes as a message from another node of a Redis cluster: the classic adapter's
//! broadcast, request and response decoders and the sharded adapter's envelope decoder
//! never panic, and what they accept is written back to bytes that decode to the same
//! message; a node of either adapter with requests of its own waiting takes the bytes on
//! every channel it listens to, and each request still ends exactly once. The bytes are also
//! read as a recovery session from Redis and as the HTTP request of a socket's handshake.
#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use socketio_proto::cluster::classic::{self, Broadcast, BroadcastWithAck, Request, Response};
use socketio_proto::cluster::envelope::{Envelope, Message};
use socketio_proto::cluster::sharded::SubscriptionMode;
use socketio_proto::cluster::{BroadcastOptions, ClusterNode, Mode};
use socketio_proto::session::endpoint::{Endpoint, EndpointConfig};
use socketio_proto::session::handshake::Handshake;
use socketio_proto::session::rooms::BroadcastTarget;
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
    let _ = socketio_proto::cluster::streams::decode_session(data);
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
    for mode in [
        Mode::Classic,
        Mode::Sharded(SubscriptionMode::Dynamic),
        Mode::Streams,
    ] {
        node_with_pending_requests(data, mode);
    }
});

/// Node `uid` waits for the answers of 3 other nodes to each of its requests `uid0`
/// (fetchSockets), `uid1` (serverSideEmitWithAck), `uid2` (a broadcast with acks) and,
/// classic, `uid3` (allRooms), and gets `data` on every channel.
fn node_with_pending_requests(data: &[u8], mode: Mode) {
    let now = Instant::now();
    let mut endpoint = Endpoint::new(EndpointConfig::default(), Box::new(|| "sid".to_owned()));
    let main = Namespace::main();
    let namespaces = [(main.clone(), "uid".to_owned())];
    let mut node = match mode {
        Mode::Classic => ClusterNode::classic("socket.io", &namespaces),
        Mode::Sharded(subscription) => ClusterNode::sharded("socket.io", &namespaces, subscription),
        _ => ClusterNode::streams("socket.io", &namespaces, Default::default()),
    };
    node.attach(&mut endpoint);
    let question = Packet::event(main.clone(), "q", &(), None).expect("an event builds");
    let all = BroadcastTarget::all();
    let timeout = Duration::from_secs(5);
    let mut requests = vec![
        node.fetch_sockets(now, &endpoint, &main, &BroadcastOptions::default()),
        node.server_side_emit_with_ack(now, &main, "[\"who\"]"),
        node.broadcast_with_ack(now, &mut endpoint, question, &all, timeout),
    ];
    if mode == Mode::Classic {
        requests.push(node.all_rooms(now, &endpoint, &main));
    }
    let sent = requests.len();
    for request in requests {
        node.servers_counted(request.expect("a request is sent"), 4);
    }
    for channel in [
        "socket.io-response#/#",
        "socket.io-response#/#uid#",
        "socket.io-request#/#",
        "socket.io#/#",
        "socket.io#/#uid#",
        "socket.io#/#room#",
    ] {
        let _ = node.handle(now, &mut endpoint, channel, Bytes::copy_from_slice(data));
        node.sync_rooms(&mut endpoint);
    }
    if mode == Mode::Streams {
        let kind = data.first().map_or(3, |b| 3 + b % 10).to_string();
        let field = |k: &'static str, v: &[u8]| {
            (Bytes::from_static(k.as_bytes()), Bytes::copy_from_slice(v))
        };
        let fields = [
            field("uid", b"x"),
            field("nsp", b"/"),
            field("type", kind.as_bytes()),
            field("data", data.get(1..).unwrap_or_default()),
        ];
        let _ = node.handle_entry(now, &mut endpoint, b"1-0", &fields);
    }
    while node.poll_command().is_some() {}
    node.handle_timeout(now + Duration::from_secs(5), &mut endpoint);
    let mut ended = Vec::new();
    while let Some(reply) = node.poll_reply() {
        ended.push(reply.request);
    }
    ended.sort();
    let total = ended.len();
    ended.dedup();
    assert_eq!((total, ended.len()), (sent, sent), "each request ends once");
    assert_eq!(node.poll_timeout(), None);
}
