//! Server session behaviour beyond the official suites: server-side close, limits, JSONP,
//! failed upgrades, undelivered messages.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::session::server::{
    Handshake, HttpResponse, InitialTransport, Method, Route, ServerConfig, ServerSession,
    SessionEvent, Transmit, route,
};
use engineio_proto::session::{CloseReason, RequestId, SessionError, SocketId};
use engineio_proto::{Data, ErrorCode, Frame, Packet, ProtocolVersion, Transport};

/// A v4 session with `config`, on polling or a WebSocket, its open packet already taken.
fn v4_session(now: Instant, transport: Transport, config: ServerConfig) -> ServerSession {
    let handshake = Handshake {
        version: ProtocolVersion::V4,
        transport,
        b64: false,
        jsonp_index: None,
    };
    let initial = match transport {
        Transport::Websocket => InitialTransport::WebSocket(SocketId(7)),
        _ => InitialTransport::Polling(RequestId(0)),
    };
    let mut s = ServerSession::new(now, "abc", &handshake, config, initial);
    assert!(matches!(
        s.poll_transmit(),
        Some(
            Transmit::Response {
                request: RequestId(0),
                ..
            } | Transmit::Frame { .. }
        )
    ));
    s
}

fn v4_polling(now: Instant) -> ServerSession {
    v4_session(now, Transport::Polling, ServerConfig::default())
}

fn responses(s: &mut ServerSession) -> Vec<(RequestId, HttpResponse)> {
    let mut out = Vec::new();
    while let Some(t) = s.poll_transmit() {
        if let Transmit::Response { request, response } = t {
            out.push((request, response));
        }
    }
    out
}

fn events(s: &mut ServerSession) -> Vec<SessionEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn msg(s: &'static str) -> Data {
    Data::Text(s.into())
}

#[test]
fn server_close_on_polling_waits_for_a_get_and_flushes_first() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    s.send(msg("bye")).unwrap();
    s.close(now);
    assert_eq!(s.send(msg("late")), Err(SessionError::Closed));
    assert!(
        events(&mut s).is_empty(),
        "not closed until the 1 is delivered"
    );
    s.handle_get(now, RequestId(1));
    let out = responses(&mut s);
    assert_eq!(out[0].1.body, &b"4bye\x1e1"[..]);
    assert_eq!(
        events(&mut s),
        [SessionEvent::Closed {
            reason: CloseReason::ForcedClose,
            undelivered: vec![]
        }]
    );
}

#[test]
fn server_close_on_polling_gives_up_after_the_close_timeout() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    s.send(msg("never read")).unwrap();
    s.close(now);
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(30)));
    s.handle_timeout(now + Duration::from_secs(30));
    assert_eq!(
        events(&mut s),
        [SessionEvent::Closed {
            reason: CloseReason::ForcedClose,
            undelivered: vec![Packet::message("never read")]
        }]
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn ping_timeout_hands_back_undelivered_messages_once() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    s.send(msg("a")).unwrap();
    s.handle_timeout(now + Duration::from_secs(25));
    s.handle_timeout(now + Duration::from_secs(45));
    s.handle_timeout(now + Duration::from_secs(99));
    assert_eq!(
        events(&mut s),
        [SessionEvent::Closed {
            reason: CloseReason::PingTimeout,
            undelivered: vec![Packet::message("a")]
        }]
    );
}

#[test]
fn oversized_post_is_413_and_the_session_stays() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    assert!(s.handle_post(now, RequestId(1)));
    s.handle_post_too_large(now, RequestId(1));
    assert!(s.handle_post(now, RequestId(2)));
    s.handle_post_body(now, RequestId(2), None, Bytes::from(vec![b'4'; 1_000_001]));
    let out = responses(&mut s);
    assert_eq!(
        out.iter().map(|(_, r)| r.status).collect::<Vec<_>>(),
        [413, 413]
    );
    assert!(!s.is_closed());
}

#[test]
fn binary_post_on_v4_is_refused_and_closes() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    assert!(s.handle_post(now, RequestId(1)));
    s.handle_post_body(
        now,
        RequestId(1),
        Some("application/octet-stream"),
        Bytes::from_static(b"\x00\x01\xff4"),
    );
    assert_eq!(responses(&mut s)[0].1.status, 400);
    assert!(matches!(
        events(&mut s)[..],
        [SessionEvent::Closed {
            reason: CloseReason::TransportError,
            ..
        }]
    ));
}

#[test]
fn overlapping_posts_close_the_session() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    assert!(s.handle_post(now, RequestId(1)));
    assert!(!s.handle_post(now, RequestId(2)));
    assert_eq!(
        responses(&mut s),
        [(
            RequestId(2),
            HttpResponse {
                status: 400,
                content_type: None,
                body: Bytes::new()
            }
        )]
    );
    assert!(s.is_closed());
}

#[test]
fn good_packets_before_a_bad_one_are_delivered() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    assert!(s.handle_post(now, RequestId(1)));
    s.handle_post_body(
        now,
        RequestId(1),
        None,
        Bytes::from_static(b"4a\x1e4b\x1ex"),
    );
    assert_eq!(
        events(&mut s),
        [
            SessionEvent::Message(msg("a")),
            SessionEvent::Message(msg("b")),
            SessionEvent::Closed {
                reason: CloseReason::ParseError,
                undelivered: vec![]
            }
        ]
    );
}

#[test]
fn wrong_heartbeat_direction_closes() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    assert!(s.handle_post(now, RequestId(1)));
    s.handle_post_body(now, RequestId(1), None, Bytes::from_static(b"2"));
    assert!(matches!(
        events(&mut s)[..],
        [SessionEvent::Closed {
            reason: CloseReason::TransportError,
            ..
        }]
    ));
}

#[test]
fn record_separator_in_v4_text_is_refused() {
    let mut s = v4_polling(Instant::now());
    assert!(matches!(
        s.send(msg("a\u{1e}b")),
        Err(SessionError::Encode(_))
    ));
}

#[test]
fn jsonp_polling_wraps_responses_and_reads_form_posts() {
    let now = Instant::now();
    let Route::Handshake(handshake) = route(
        &ServerConfig {
            allow_eio3: true,
            ..Default::default()
        },
        Method::Get,
        "EIO=3&transport=polling&j=0",
        false,
    ) else {
        panic!("handshake expected")
    };
    let mut s = ServerSession::new(
        now,
        "abc",
        &handshake,
        ServerConfig {
            allow_eio3: true,
            ..Default::default()
        },
        InitialTransport::Polling(RequestId(0)),
    );
    let open = responses(&mut s).remove(0).1;
    assert!(
        open.body
            .starts_with(b"___eio[0](\"101:0{\\\"sid\\\":\\\"abc\\\""),
        "{:?}",
        open.body
    );
    assert!(s.handle_post(now, RequestId(1)));
    s.handle_post_body(
        now,
        RequestId(1),
        Some("application/x-www-form-urlencoded"),
        Bytes::from_static(b"d=6%3A4hello"),
    );
    assert_eq!(responses(&mut s)[0].1.body, &b"ok"[..]);
    assert_eq!(events(&mut s), [SessionEvent::Message(msg("hello"))]);
    s.send(Data::Binary(Bytes::from_static(&[1, 2, 3, 4])))
        .unwrap();
    s.handle_get(now, RequestId(2));
    assert_eq!(
        responses(&mut s)[0].1.body,
        &br#"___eio[0]("10:b4AQIDBA==");"#[..]
    );
}

#[test]
fn failed_probe_keeps_the_session_on_polling() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    s.handle_websocket_open(now, SocketId(7), false);
    s.handle_websocket_frame(now, SocketId(7), Frame::Text("4early".into()));
    let closed: Vec<_> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(
        closed,
        [Transmit::CloseSocket {
            socket: SocketId(7)
        }]
    );
    assert_eq!(s.transport(), Transport::Polling);
    assert!(!s.is_closed());
}

#[test]
fn upgrade_timeout_drops_the_new_transport() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    s.handle_websocket_open(now, SocketId(7), false);
    s.handle_websocket_frame(now, SocketId(7), Frame::Text("2probe".into()));
    assert_eq!(
        s.poll_transmit(),
        Some(Transmit::Frame {
            socket: SocketId(7),
            frame: Frame::Text("3probe".into())
        })
    );
    s.handle_timeout(now + Duration::from_secs(10));
    assert_eq!(
        s.poll_transmit(),
        Some(Transmit::CloseSocket {
            socket: SocketId(7)
        })
    );
    assert_eq!(s.transport(), Transport::Polling);
    assert_eq!(events(&mut s), [SessionEvent::Upgrading]);
}

#[test]
fn messages_queued_during_the_upgrade_go_over_the_websocket() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    s.handle_websocket_open(now, SocketId(7), false);
    s.handle_websocket_frame(now, SocketId(7), Frame::Text("2probe".into()));
    s.send(msg("queued")).unwrap();
    s.handle_websocket_frame(now, SocketId(7), Frame::Text("5".into()));
    let frames: Vec<_> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(
        frames,
        [
            Transmit::Frame {
                socket: SocketId(7),
                frame: Frame::Text("3probe".into())
            },
            Transmit::Frame {
                socket: SocketId(7),
                frame: Frame::Text("4queued".into())
            }
        ]
    );
    assert_eq!(
        events(&mut s),
        [SessionEvent::Upgrading, SessionEvent::Upgraded]
    );
}

#[test]
fn routing_refusals() {
    let c = ServerConfig::default();
    assert_eq!(
        route(&c, Method::Get, "EIO=4&transport=websocket", false),
        Route::Refuse(ErrorCode::BadRequest)
    );
    assert_eq!(
        route(&c, Method::Get, "EIO=4&transport=webtransport", false),
        Route::Refuse(ErrorCode::TransportUnknown)
    );
    assert_eq!(
        route(&c, Method::Get, "EIO=4&transport=polling&sid=x", true),
        Route::Refuse(ErrorCode::BadRequest)
    );
    let no_ws = ServerConfig {
        websocket: false,
        ..Default::default()
    };
    assert_eq!(
        route(&no_ws, Method::Get, "EIO=4&transport=websocket", true),
        Route::Refuse(ErrorCode::TransportUnknown)
    );
}

#[test]
fn a_body_arriving_after_the_close_is_refused_without_events() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    assert!(s.handle_post(now, RequestId(1)));
    s.handle_timeout(now + Duration::from_secs(25));
    s.handle_timeout(now + Duration::from_secs(45));
    assert!(matches!(
        events(&mut s)[..],
        [SessionEvent::Closed {
            reason: CloseReason::PingTimeout,
            ..
        }]
    ));
    s.handle_post_body(now, RequestId(1), None, Bytes::from_static(b"4late"));
    assert_eq!(responses(&mut s)[0].1.status, 400);
    assert!(events(&mut s).is_empty());
}

#[test]
fn writable_only_with_a_parked_get_or_a_websocket() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    assert!(!s.is_writable());
    s.handle_get(now, RequestId(1));
    assert!(s.is_writable());
    s.send(msg("x")).unwrap();
    responses(&mut s);
    assert!(!s.is_writable(), "the GET was answered");
    s.handle_websocket_open(now, SocketId(7), false);
    s.handle_websocket_frame(now, SocketId(7), Frame::Text("2probe".into()));
    s.handle_websocket_frame(now, SocketId(7), Frame::Text("5".into()));
    assert!(s.is_writable());
    s.close(now);
    assert!(!s.is_writable());
}

fn v4_websocket(now: Instant) -> ServerSession {
    v4_session(now, Transport::Websocket, ServerConfig::default())
}

/// A broadcast's frame goes out on every WebSocket as the same buffer: no `4` prefix copied
/// per recipient.
#[test]
fn a_shared_text_frame_goes_out_without_a_copy() {
    let now = Instant::now();
    let frame = engineio_proto::Utf8Bytes::from(String::from("442[\"news\",1]"));
    let mut sessions = [v4_websocket(now), v4_websocket(now)];
    for s in &mut sessions {
        s.send_text_frame(frame.clone()).unwrap();
        let Some(Transmit::Frame {
            frame: Frame::Text(sent),
            ..
        }) = s.poll_transmit()
        else {
            panic!("no frame")
        };
        assert_eq!(sent, frame);
        assert_eq!(sent.as_ptr(), frame.as_ptr(), "shared, not copied");
    }
}

#[test]
fn a_shared_text_frame_is_written_into_a_polling_body() {
    let now = Instant::now();
    let mut s = v4_polling(now);
    s.send_text_frame(engineio_proto::Utf8Bytes::from_static("4hello"))
        .unwrap();
    s.send(msg("world")).unwrap();
    s.handle_get(now, RequestId(1));
    let answered = responses(&mut s);
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].0, RequestId(1));
    assert_eq!(&answered[0].1.body[..], b"4hello\x1e4world");
}

#[test]
fn a_frame_must_be_a_message_and_polling_text_must_not_hold_a_record_separator() {
    let now = Instant::now();
    let mut polling = v4_polling(now);
    assert_eq!(
        polling.send_text_frame(engineio_proto::Utf8Bytes::from_static("2probe")),
        Err(SessionError::Encode(
            engineio_proto::EncodeError::NotAMessageFrame
        ))
    );
    let separator = engineio_proto::Utf8Bytes::from_static("4a\x1eb");
    assert_eq!(
        polling.send_text_frame(separator.clone()),
        Err(SessionError::Encode(
            engineio_proto::EncodeError::RecordSeparatorInText
        ))
    );
    // A WebSocket session never polls: the separator is harmless there.
    let mut websocket = v4_websocket(now);
    assert_eq!(websocket.send_text_frame(separator), Ok(()));
    assert_eq!(websocket.send(msg("a\x1eb")), Ok(()));
}

/// A v4 polling session whose backlog may hold `max_queued_bytes`.
fn polling_with_backlog(now: Instant, max_queued_bytes: usize) -> ServerSession {
    let config = ServerConfig {
        max_queued_bytes,
        ..ServerConfig::default()
    };
    v4_session(now, Transport::Polling, config)
}

/// A polling client that does not come back for what is sent to it is disconnected once its
/// backlog passes the limit, with every queued message reported undelivered.
#[test]
fn a_polling_backlog_over_its_limit_closes_the_session() {
    let mut s = polling_with_backlog(Instant::now(), 10);
    s.send(msg("12345")).unwrap();
    s.send(msg("67890")).unwrap();
    assert!(!s.is_closed(), "exactly at the limit");
    s.send(msg("x")).unwrap();
    assert!(s.is_closed());
    let events = events(&mut s);
    let [
        SessionEvent::Closed {
            reason: CloseReason::BacklogFull,
            undelivered,
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(undelivered.len(), 3);
    assert_eq!(s.send(msg("y")), Err(SessionError::Closed));
}

/// What a GET takes away no longer counts.
#[test]
fn a_polled_backlog_starts_again_from_zero() {
    let now = Instant::now();
    let mut s = polling_with_backlog(now, 10);
    for i in 1..=5 {
        s.send(msg("12345678")).unwrap();
        s.handle_get(now, RequestId(i));
        assert_eq!(responses(&mut s).len(), 1);
    }
    assert!(!s.is_closed());
}
