//! Rooms and broadcast over real server connections: one encoding shared by every recipient.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::time::Instant;

use engineio_proto::Data;
use socketio_proto::server::{BroadcastTarget, Rooms};
use socketio_proto::server::{Connection, ConnectionConfig, ConnectionEvent, Output};
use socketio_proto::{Namespace, Packet, ProtocolVersion};

fn connected(now: Instant, sid: &str) -> Connection {
    let mut c = Connection::new(now, ProtocolVersion::V5, ConnectionConfig::default());
    c.handle_message(now, Data::Text("0".into())); // the Engine.IO message `40`
    let Some(ConnectionEvent::ConnectRequest { namespace, .. }) = c.poll_event() else {
        panic!()
    };
    c.accept(&namespace, sid, None).unwrap();
    while c.poll_event().is_some() {}
    while c.poll_transmit().is_some() {}
    c
}

#[test]
fn broadcast_to_rooms_with_except_shares_one_encoding() {
    let now = Instant::now();
    let mut rooms = Rooms::default();
    let mut connections: Vec<(String, Connection)> = Vec::new();
    for i in 0..1000 {
        let sid = format!("s{i:04}");
        rooms.add_socket("/", &sid);
        rooms.join("/", &sid, if i % 2 == 0 { "even" } else { "odd" });
        if i % 3 == 0 {
            rooms.join("/", &sid, "three");
        }
        connections.push((sid.clone(), connected(now, &sid)));
    }
    let packet = Packet::event(
        Namespace::main(),
        "news",
        &("hello", bytes::Bytes::from_static(b"\x01\x02")),
        None,
    )
    .unwrap();
    let encoded = packet.encode();
    // Odd sockets, or multiples of three, but not from s0003.
    let target = BroadcastTarget::to(["odd", "three"]).except(["s0003"]);
    let recipients: Vec<String> = rooms
        .recipients("/", &target)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let expected = (0..1000)
        .filter(|i| (i % 2 == 1 || i % 3 == 0) && *i != 3)
        .count();
    assert_eq!(recipients.len(), expected);
    for (sid, connection) in &mut connections {
        if recipients.contains(sid) {
            connection.send_encoded("/", &encoded).unwrap();
        }
    }
    let text = encoded.frame().unwrap().clone();
    for (sid, connection) in &mut connections {
        let out: Vec<Output> = std::iter::from_fn(|| connection.poll_transmit()).collect();
        if recipients.contains(sid) {
            assert_eq!(out.len(), 2, "text + one attachment");
            let Output::TextFrame(t) = &out[0] else {
                panic!()
            };
            assert_eq!(t, &text);
            assert_eq!(
                t.as_bytes().as_ptr(),
                text.as_bytes().as_ptr(),
                "shared, not copied"
            );
            let Output::Binary(b) = &out[1] else { panic!() };
            assert_eq!(
                b.as_ptr(),
                encoded.attachments()[0].as_ptr(),
                "shared, not copied"
            );
        } else {
            assert!(out.is_empty());
        }
    }
    assert_eq!(
        text,
        r#"451-["news","hello",{"_placeholder":true,"num":0}]"#
    );
}

#[test]
fn rooms_follow_joins_leaves_and_disconnects() {
    let mut rooms = Rooms::default();
    rooms.add_socket("/chat", "a");
    rooms.add_socket("/chat", "b");
    rooms.join("/chat", "a", "r1");
    rooms.join("/chat", "b", "r1");
    rooms.join("/chat", "a", "r2");
    assert_eq!(rooms.rooms_of("/chat", "a"), ["r1", "r2"]);
    assert_eq!(rooms.socket_rooms("/chat", "a"), ["a", "r1", "r2"]);
    assert_eq!(rooms.sockets_in("/chat", "r1"), ["a", "b"]);
    rooms.leave("/chat", "a", "r1");
    assert_eq!(rooms.sockets_in("/chat", "r1"), ["b"]);
    rooms.remove_socket("/chat", "b");
    assert!(rooms.sockets_in("/chat", "r1").is_empty());
    assert_eq!(rooms.recipients("/chat", &BroadcastTarget::all()), ["a"]);
    // Namespaces are separate.
    assert!(rooms.recipients("/", &BroadcastTarget::all()).is_empty());
}

/// A socket's own room is implicit (no allocation for a socket in no other room) but behaves
/// as a room: it can be targeted, excluded, listed, and left, as in the reference.
#[test]
fn a_sockets_own_room_behaves_like_any_room() {
    let mut rooms = Rooms::default();
    rooms.add_socket("/", "a");
    rooms.add_socket("/", "b");
    rooms.join("/", "b", "team");
    assert_eq!(rooms.recipients("/", &BroadcastTarget::to(["a"])), ["a"]);
    assert_eq!(
        rooms.recipients("/", &BroadcastTarget::to(["a", "team"])),
        ["a", "b"]
    );
    assert_eq!(
        rooms.recipients("/", &BroadcastTarget::all().except(["a"])),
        ["b"]
    );
    assert_eq!(rooms.sockets_in("/", "b"), ["b"]);
    assert_eq!(rooms.rooms_of("/", "b"), ["team"]);
    assert_eq!(rooms.socket_rooms("/", "b"), ["b", "team"]);
    rooms.leave("/", "a", "a");
    assert!(
        rooms
            .recipients("/", &BroadcastTarget::to(["a"]))
            .is_empty()
    );
    assert!(rooms.socket_rooms("/", "a").is_empty());
    // Still a socket of the namespace: a broadcast to everyone reaches it.
    assert_eq!(rooms.recipients("/", &BroadcastTarget::all()), ["a", "b"]);
    rooms.join("/", "a", "a");
    assert_eq!(rooms.sockets_in("/", "a"), ["a"]);
    rooms.remove_socket("/", "b");
    assert!(rooms.sockets_in("/", "team").is_empty());
}
