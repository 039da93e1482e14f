//! The server connection beyond the v5 suite: protocol v4 clients, acks with deadlines,
//! server-side disconnects, engine closes.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::Data;
use engineio_proto::session::CloseReason;
use socketio_proto::server::{
    Connection, ConnectionCloseReason, ConnectionConfig, ConnectionEvent, DisconnectReason, Output,
};
use socketio_proto::{AckId, Namespace, Packet, PacketType, ProtocolVersion};

fn outputs(c: &mut Connection) -> Vec<String> {
    std::iter::from_fn(|| c.poll_transmit())
        .map(|o| match o {
            Output::TextFrame(frame) => frame[1..].to_string(),
            Output::Binary(b) => format!("<{b:?}>"),
            other => format!("{other:?}"),
        })
        .collect()
}

fn events(c: &mut Connection) -> Vec<ConnectionEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn text(c: &mut Connection, now: Instant, t: &str) {
    c.handle_message(now, Data::Text(t.to_owned().into()));
}

fn v5_joined(now: Instant) -> Connection {
    let mut c = Connection::new(now, ProtocolVersion::V5, ConnectionConfig::default());
    text(&mut c, now, "0");
    c.accept(&Namespace::main(), "abc", None).unwrap();
    assert_eq!(outputs(&mut c), [r#"0{"sid":"abc"}"#]);
    events(&mut c);
    c
}

#[test]
fn v4_client_is_joined_to_main_automatically_and_gets_bare_replies() {
    let now = Instant::now();
    let mut c = Connection::new(now, ProtocolVersion::V4, ConnectionConfig::default());
    let [ConnectionEvent::ConnectRequest { namespace, .. }] = &events(&mut c)[..] else {
        panic!()
    };
    c.accept(namespace, "eio-sid", None).unwrap();
    assert_eq!(outputs(&mut c), ["0"]);
    assert_eq!(c.poll_timeout(), None, "no connectTimeout for v4");

    text(&mut c, now, "0/admin?token=1234&uid=abcd,");
    let evs = events(&mut c);
    let ConnectionEvent::ConnectRequest {
        namespace, query, ..
    } = &evs[1]
    else {
        panic!("{evs:?}")
    };
    assert_eq!(
        (namespace.as_str(), query.as_deref()),
        ("/admin", Some("token=1234&uid=abcd"))
    );
    c.accept(namespace, "/admin#eio-sid", None).unwrap();
    assert_eq!(outputs(&mut c), ["0/admin,"]);

    text(&mut c, now, "0/secret,");
    let Some(ConnectionEvent::ConnectRequest { namespace, .. }) = events(&mut c).pop() else {
        panic!()
    };
    c.refuse::<()>(&namespace, "Not authorized", None).unwrap();
    assert_eq!(outputs(&mut c), [r#"4/secret,"Not authorized""#]);

    text(&mut c, now, "0/nope,");
    let Some(ConnectionEvent::ConnectRequest { namespace, .. }) = events(&mut c).pop() else {
        panic!()
    };
    c.refuse_invalid_namespace(&namespace).unwrap();
    assert_eq!(
        outputs(&mut c),
        [r#"4/nope,{"message":"Invalid namespace"}"#]
    );
}

#[test]
fn v4_binary_events_keep_their_type_and_unknown_types_are_ignored() {
    let now = Instant::now();
    let mut c = Connection::new(now, ProtocolVersion::V4, ConnectionConfig::default());
    c.accept(&Namespace::main(), "s", None).unwrap();
    events(&mut c);
    outputs(&mut c);
    text(&mut c, now, "9");
    assert!(!c.is_closed(), "socket.io 2.x ignores unknown types");
    text(&mut c, now, r#"51-["up",{"_placeholder":true,"num":0}]"#);
    c.handle_message(now, Data::Binary(Bytes::from_static(b"\x01")));
    let [ConnectionEvent::Event(packet)] = &events(&mut c)[..] else {
        panic!()
    };
    assert_eq!(packet.packet_type(), PacketType::BinaryEvent);
}

#[test]
fn v5_refusal_carries_message_and_data() {
    let now = Instant::now();
    let mut c = Connection::new(now, ProtocolVersion::V5, ConnectionConfig::default());
    text(&mut c, now, r#"0{"deny":true}"#);
    let [
        ConnectionEvent::ConnectRequest {
            namespace, auth, ..
        },
    ] = &events(&mut c)[..]
    else {
        panic!()
    };
    assert_eq!(auth.as_deref(), Some(r#"{"deny":true}"#));
    c.refuse(
        namespace,
        "not authorized",
        Some(&serde_json::json!({"content": "Please retry later"})),
    )
    .unwrap();
    assert_eq!(
        outputs(&mut c),
        [r#"4{"message":"not authorized","data":{"content":"Please retry later"}}"#]
    );
    assert!(!c.is_closed(), "a refusal keeps the connection");
}

#[test]
fn acks_resolve_once_and_time_out_at_their_deadline() {
    let now = Instant::now();
    let mut c = v5_joined(now);
    let ask = |name| Packet::event(Namespace::main(), name, &(), None).unwrap();
    let first = c
        .emit(now, ask("a"), Some(Duration::from_secs(5)))
        .unwrap()
        .unwrap();
    let second = c
        .emit(now, ask("b"), Some(Duration::from_secs(10)))
        .unwrap()
        .unwrap();
    assert_eq!(outputs(&mut c), [r#"20["a"]"#, r#"21["b"]"#]);
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(5)));

    text(&mut c, now, r#"30["ok"]"#);
    text(&mut c, now, r#"30["again"]"#); // duplicate: ignored
    text(&mut c, now, r#"37["who"]"#); // unknown: ignored
    let evs = events(&mut c);
    assert_eq!(evs.len(), 1);
    assert!(matches!(&evs[0], ConnectionEvent::Ack(p) if p.ack_id() == Some(first)));
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(10)));

    c.handle_timeout(now + Duration::from_millis(9_999));
    assert!(events(&mut c).is_empty());
    c.handle_timeout(now + Duration::from_secs(10));
    assert_eq!(
        events(&mut c),
        [ConnectionEvent::AckTimeout {
            namespace: Namespace::main(),
            ack_id: second
        }]
    );
    text(&mut c, now, r#"31["late"]"#);
    assert!(events(&mut c).is_empty(), "a late ack is ignored");
}

#[test]
fn received_events_are_acked_at_most_once() {
    let now = Instant::now();
    let mut c = v5_joined(now);
    text(&mut c, now, r#"212["q"]"#);
    let [ConnectionEvent::Event(packet)] = &events(&mut c)[..] else {
        panic!()
    };
    let id = packet.ack_id().unwrap();
    let reply = Packet::ack(Namespace::main(), id, &("answer",)).unwrap();
    c.ack(reply.clone()).unwrap();
    assert!(c.ack(reply).is_err());
    assert!(
        c.ack(Packet::ack(Namespace::main(), AckId::new(99).unwrap(), &()).unwrap())
            .is_err()
    );
    assert_eq!(outputs(&mut c), [r#"312["answer"]"#]);
}

#[test]
fn server_disconnects_a_namespace_then_closes() {
    let now = Instant::now();
    let mut c = v5_joined(now);
    text(&mut c, now, "0/admin,");
    c.accept(&Namespace::new("/admin").unwrap(), "x", None)
        .unwrap();
    outputs(&mut c);
    events(&mut c);
    c.disconnect(&Namespace::new("/admin").unwrap()).unwrap();
    assert_eq!(outputs(&mut c), ["1/admin,"]);
    assert_eq!(
        events(&mut c),
        [ConnectionEvent::Disconnected {
            namespace: Namespace::new("/admin").unwrap(),
            reason: DisconnectReason::ServerNamespaceDisconnect
        }]
    );
    c.close();
    assert_eq!(outputs(&mut c), ["1", "CloseEngine"]);
    assert_eq!(
        events(&mut c),
        [
            ConnectionEvent::Disconnected {
                namespace: Namespace::main(),
                reason: DisconnectReason::ServerClose
            },
            ConnectionEvent::Closed(ConnectionCloseReason::ServerClose)
        ]
    );
}

#[test]
fn engine_close_disconnects_every_namespace_with_its_reason() {
    let now = Instant::now();
    let mut c = v5_joined(now);
    c.handle_engine_closed(CloseReason::PingTimeout);
    let evs = events(&mut c);
    assert_eq!(
        evs,
        [
            ConnectionEvent::Disconnected {
                namespace: Namespace::main(),
                reason: DisconnectReason::Engine(CloseReason::PingTimeout)
            },
            ConnectionEvent::Closed(ConnectionCloseReason::Engine(CloseReason::PingTimeout))
        ]
    );
    assert_eq!(
        DisconnectReason::Engine(CloseReason::PingTimeout).as_str(),
        "ping timeout"
    );
    assert!(outputs(&mut c).is_empty());
}

#[test]
fn a_client_connect_error_closes_everything() {
    let now = Instant::now();
    let mut c = v5_joined(now);
    text(&mut c, now, r#"4{"message":"x"}"#);
    assert_eq!(outputs(&mut c), ["CloseEngine"]);
    assert!(matches!(
        events(&mut c).last(),
        Some(ConnectionEvent::Closed(
            ConnectionCloseReason::ProtocolViolation
        ))
    ));
}
