//! Connection state recovery on the server (PROTOCOL.md B.9): offsets appended, missed events
//! replayed before the CONNECT reply, rooms restored, bounded memory, expiry.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::time::{Duration, Instant};

use engineio_proto::Data;
use socketio_proto::server::{BroadcastTarget, Rooms};
use socketio_proto::server::{Connection, ConnectionConfig, ConnectionEvent, Output};
use socketio_proto::server::{KeptSession, RecoveryConfig, RecoveryRequest, RecoveryStore};
use socketio_proto::{Namespace, Packet, ProtocolVersion};

fn texts(c: &mut Connection) -> Vec<String> {
    std::iter::from_fn(|| c.poll_transmit())
        .map(|o| match o {
            Output::TextFrame(frame) => frame[1..].to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

fn event(name: &str) -> Packet {
    Packet::event(Namespace::main(), name, &("x",), None).unwrap()
}

#[test]
fn missed_events_are_replayed_before_the_connect_reply() {
    let t0 = Instant::now();
    let mut store = RecoveryStore::new(RecoveryConfig::default());
    let mut rooms = Rooms::default();
    rooms.add_socket("/", "s1");
    rooms.join("/", "s1", "r1");

    // Before the disconnect: the client saw o1 and o2.
    let e1 = store
        .store(t0, "o1", event("a"), &BroadcastTarget::all())
        .unwrap();
    assert_eq!(e1.to_text().unwrap(), r#"2["a","x","o1"]"#);
    store
        .store(t0, "o2", event("b"), &BroadcastTarget::all())
        .unwrap();
    // Acked events are never stored nor tagged.
    let acked = Packet::event(
        Namespace::main(),
        "c",
        &("x",),
        Some(socketio_proto::AckId::new(5).unwrap()),
    )
    .unwrap();
    assert_eq!(
        store
            .store(t0, "ignored", acked, &BroadcastTarget::all())
            .unwrap()
            .to_text()
            .unwrap(),
        r#"25["c","x"]"#
    );

    // The transport dies; the session is saved with its rooms.
    store.keep(t0, "/", kept("s1", "p1", rooms.socket_rooms("/", "s1")));
    rooms.remove_socket("/", "s1");

    // Missed while away: one for r1, one for another room, one for everyone, one except r1.
    store
        .store(t0, "o3", event("to-r1"), &BroadcastTarget::to(["r1"]))
        .unwrap();
    store
        .store(t0, "o4", event("to-r2"), &BroadcastTarget::to(["r2"]))
        .unwrap();
    store
        .store(t0, "o5", event("to-all"), &BroadcastTarget::all())
        .unwrap();
    store
        .store(
            t0,
            "o6",
            event("not-r1"),
            &BroadcastTarget::all().except(["r1"]),
        )
        .unwrap();

    // The client reconnects with pid and its last offset.
    let t1 = t0 + Duration::from_secs(30);
    let mut c = Connection::new(t1, ProtocolVersion::V5, ConnectionConfig::default());
    c.handle_message(
        t1,
        Data::Text(r#"0{"pid":"p1","offset":"o2","token":"abc"}"#.into()),
    );
    let Some(ConnectionEvent::ConnectRequest {
        namespace, auth, ..
    }) = c.poll_event()
    else {
        panic!()
    };
    let request = RecoveryRequest::from_auth(auth.as_deref().unwrap()).unwrap();
    let recovered = store.take(t1, namespace.as_str(), &request).unwrap();
    assert_eq!(recovered.session.sid, "s1");
    for room in &recovered.session.rooms {
        rooms.join("/", &recovered.session.sid, room);
    }
    c.accept_recovered(
        &namespace,
        &recovered.session.sid,
        Some("p1"),
        &recovered.missed,
    )
    .unwrap();
    assert_eq!(
        texts(&mut c),
        [
            r#"2["to-r1","x","o3"]"#,
            r#"2["to-all","x","o5"]"#,
            r#"0{"sid":"s1","pid":"p1"}"#
        ]
    );
    assert_eq!(
        c.poll_event(),
        Some(ConnectionEvent::Connected {
            namespace: Namespace::main(),
            recovered: true
        })
    );
    assert_eq!(rooms.rooms_of("/", "s1"), ["r1"]);
    assert_eq!(rooms.socket_rooms("/", "s1"), ["s1", "r1"]);
    // A session is recovered once.
    assert!(store.take(t1, "/", &request).is_none());
}

#[test]
fn recovery_fails_after_the_max_duration_or_for_an_unknown_offset() {
    let t0 = Instant::now();
    let mut store = RecoveryStore::new(RecoveryConfig::default());
    store
        .store(t0, "o1", event("a"), &BroadcastTarget::all())
        .unwrap();
    store.keep(t0, "/", kept("s1", "p1", vec!["s1".into()]));
    let request = |offset: &str| RecoveryRequest {
        pid: "p1".into(),
        offset: offset.into(),
    };
    assert!(store.take(t0, "/", &request("nope")).is_none());
    assert!(store.take(t0, "/admin", &request("o1")).is_none());
    assert_eq!(store.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    assert!(
        store
            .take(t0 + Duration::from_secs(120), "/", &request("o1"))
            .is_none()
    );
    assert_eq!(store.stored_packets(), 0);
    assert_eq!(store.poll_timeout(), None);
}

#[test]
fn stored_packets_are_capped() {
    let t0 = Instant::now();
    let mut store = RecoveryStore::new(RecoveryConfig {
        max_stored_packets: 3,
        ..Default::default()
    });
    for i in 0..10 {
        store
            .store(t0, &format!("o{i}"), event("e"), &BroadcastTarget::all())
            .unwrap();
    }
    assert_eq!(store.stored_packets(), 3);
    store.keep(t0, "/", kept("s1", "p1", vec!["s1".into()]));
    // o5 fell out: the client cannot be recovered exactly, so it is not recovered at all.
    assert!(
        store
            .take(
                t0,
                "/",
                &RecoveryRequest {
                    pid: "p1".into(),
                    offset: "o5".into()
                }
            )
            .is_none()
    );
}

#[test]
fn offsets_go_after_every_argument_and_into_empty_arrays() {
    let t0 = Instant::now();
    let mut store = RecoveryStore::new(RecoveryConfig::default());
    let packet = Packet::event(Namespace::new("/chat").unwrap(), "ping", &(), None).unwrap();
    assert_eq!(
        store
            .store(t0, "Q8JdRiF", packet, &BroadcastTarget::all())
            .unwrap()
            .to_text()
            .unwrap(),
        r#"2/chat,["ping","Q8JdRiF"]"#
    );
    let binary = Packet::event(
        Namespace::main(),
        "file",
        &(bytes::Bytes::from_static(b"\x01"),),
        None,
    )
    .unwrap();
    let encoded = store
        .store(t0, "x\"y", binary, &BroadcastTarget::all())
        .unwrap();
    assert_eq!(
        encoded.to_text().unwrap(),
        r#"51-["file",{"_placeholder":true,"num":0},"x\"y"]"#
    );
}

#[test]
fn volatile_broadcasts_are_neither_tagged_nor_stored() {
    let t0 = Instant::now();
    let mut store = RecoveryStore::new(RecoveryConfig::default());
    let encoded = store
        .store(t0, "o1", event("v"), &BroadcastTarget::all().volatile())
        .unwrap();
    assert_eq!(encoded.to_text().unwrap(), r#"2["v","x"]"#);
    assert_eq!(store.stored_packets(), 0);
}

fn kept(sid: &str, pid: &str, rooms: Vec<String>) -> KeptSession {
    KeptSession {
        sid: sid.into(),
        pid: pid.into(),
        rooms,
        data: None,
    }
}
