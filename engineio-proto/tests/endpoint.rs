//! The endpoint's own duties: routing by the real method, deadlines applied before input,
//! requests that end with their session, ids that never collide, handles that never alias.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::session::endpoint::{Endpoint, Input};
use engineio_proto::session::server::{Method, ServerConfig, SessionEvent, Transmit};
use engineio_proto::session::{CloseReason, RequestId};

fn endpoint() -> Endpoint {
    let config = ServerConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let mut n = 0;
    Endpoint::new(
        config,
        Box::new(move || {
            n += 1;
            format!("s{n}")
        }),
    )
}

fn request(e: &mut Endpoint, now: Instant, id: u64, method: Method, query: &str) {
    e.handle(
        now,
        Input::Request {
            request: RequestId(id),
            method,
            query,
            websocket_upgrade: false,
        },
    );
}

fn transmits(e: &mut Endpoint) -> Vec<Transmit> {
    std::iter::from_fn(|| e.poll_transmit()).collect()
}

fn status_of(transmits: &[Transmit], id: u64) -> Option<u16> {
    transmits.iter().find_map(|t| match t {
        Transmit::Response { request, response } if *request == RequestId(id) => {
            Some(response.status)
        }
        _ => None,
    })
}

fn handshake(e: &mut Endpoint, now: Instant) -> String {
    request(e, now, 1, Method::Get, "EIO=4&transport=polling");
    let _ = transmits(e);
    let (key, event) = e.poll_event().unwrap();
    assert_eq!(event, SessionEvent::Opened);
    e.session(key).unwrap().sid().to_owned()
}

#[test]
fn handshakes_with_other_methods_are_refused_with_code_2() {
    let mut e = endpoint();
    let now = Instant::now();
    for (id, method) in [(1, Method::Other), (2, Method::Post)] {
        request(&mut e, now, id, method, "EIO=4&transport=polling");
        let sent = transmits(&mut e);
        let Some(Transmit::Response { response, .. }) = sent.first() else {
            panic!("{sent:?}")
        };
        assert_eq!(response.status, 400);
        assert_eq!(
            &response.body[..],
            br#"{"code":2,"message":"Bad handshake method"}"#
        );
    }
    assert!(e.is_empty());
}

#[test]
fn other_methods_on_a_session_get_500_and_leave_it_open() {
    let mut e = endpoint();
    let now = Instant::now();
    let sid = handshake(&mut e, now);
    request(
        &mut e,
        now,
        2,
        Method::Other,
        &format!("EIO=4&transport=polling&sid={sid}"),
    );
    assert_eq!(status_of(&transmits(&mut e), 2), Some(500));
    assert_eq!(e.len(), 1);
}

/// The race of "closes the session upon ping timeout": a poll that arrives after the
/// deadline, before the driver woke up for it, must find the session gone.
#[test]
fn a_request_after_the_ping_timeout_finds_the_session_closed() {
    let mut e = endpoint();
    let start = Instant::now();
    let sid = handshake(&mut e, start);
    // The ping goes out on time; then the driver oversleeps past the pong deadline.
    e.handle_timeout(start + Duration::from_millis(300));
    let _ = transmits(&mut e);
    let late = start + Duration::from_millis(501);
    request(
        &mut e,
        late,
        2,
        Method::Get,
        &format!("EIO=4&transport=polling&sid={sid}"),
    );
    assert_eq!(status_of(&transmits(&mut e), 2), Some(400));
    let events: Vec<_> = std::iter::from_fn(|| e.poll_event()).collect();
    assert!(
        matches!(
            events.as_slice(),
            [(
                _,
                SessionEvent::Closed {
                    reason: CloseReason::PingTimeout,
                    ..
                }
            )]
        ),
        "{events:?}"
    );
}

/// A ping that falls due while the driver was away goes out when the driver comes back, and
/// the client has the whole ping timeout from then to answer (a reference timer that fires
/// late does the same); a pong in time keeps the session.
#[test]
fn a_late_ping_gives_the_client_its_whole_timeout() {
    let mut e = endpoint();
    let start = Instant::now();
    let sid = handshake(&mut e, start);
    let poll = format!("EIO=4&transport=polling&sid={sid}");
    // The ping is due at 300 ms; the driver only wakes at 450 ms, with a GET: it carries the
    // ping. Counting from 300 ms, the client would have had 50 ms left.
    request(
        &mut e,
        start + Duration::from_millis(450),
        2,
        Method::Get,
        &poll,
    );
    let sent = transmits(&mut e);
    assert!(
        sent.iter().any(
            |t| matches!(t, Transmit::Response { response, .. } if &response.body[..] == b"2")
        )
    );
    request(
        &mut e,
        start + Duration::from_millis(640),
        3,
        Method::Post,
        &poll,
    );
    assert!(matches!(
        transmits(&mut e).as_slice(),
        [Transmit::ReadBody { .. }]
    ));
    e.handle(
        start + Duration::from_millis(640),
        Input::PostBody {
            request: RequestId(3),
            content_type: None,
            body: Bytes::from_static(b"3"),
        },
    );
    assert_eq!(status_of(&transmits(&mut e), 3), Some(200));
    assert_eq!(e.len(), 1);
}

/// A POST whose body is still being read ends with its session, so what it buffered is freed.
#[test]
fn a_body_still_being_read_is_answered_when_the_session_ends() {
    let mut e = endpoint();
    let start = Instant::now();
    let sid = handshake(&mut e, start);
    request(
        &mut e,
        start,
        2,
        Method::Post,
        &format!("EIO=4&transport=polling&sid={sid}"),
    );
    assert!(matches!(
        transmits(&mut e).as_slice(),
        [Transmit::ReadBody { .. }]
    ));
    // The ping at 300 ms goes unanswered: the session ends at 500 ms.
    e.handle_timeout(start + Duration::from_millis(300));
    e.handle_timeout(start + Duration::from_secs(1));
    assert_eq!(status_of(&transmits(&mut e), 2), Some(400));
    // The body that arrives later finds nothing.
    e.handle(
        start + Duration::from_secs(1),
        Input::PostBody {
            request: RequestId(2),
            content_type: None,
            body: Bytes::from_static(b"4late"),
        },
    );
    assert!(transmits(&mut e).is_empty());
    assert!(e.is_empty());
}

#[test]
fn colliding_ids_are_drawn_again() {
    let mut draws = ["same", "same", "other"].into_iter();
    let mut e = Endpoint::new(
        ServerConfig::default(),
        Box::new(move || draws.next().unwrap_or("spare").to_owned()),
    );
    let now = Instant::now();
    request(&mut e, now, 1, Method::Get, "EIO=4&transport=polling");
    request(&mut e, now, 2, Method::Get, "EIO=4&transport=polling");
    assert!(e.find("same").is_some());
    assert!(e.find("other").is_some());
    assert_eq!(e.len(), 2);
}

#[test]
fn a_closed_sessions_key_finds_nothing_even_when_its_slot_is_reused() {
    let mut e = endpoint();
    let now = Instant::now();
    handshake(&mut e, now);
    let old = e.find("s1").unwrap();
    e.close(now, old);
    let _ = transmits(&mut e);
    while e.poll_event().is_some() {}
    e.handle_timeout(now + Duration::from_secs(60));
    let _ = transmits(&mut e);
    while e.poll_event().is_some() {}
    assert!(e.session(old).is_none());
    request(
        &mut e,
        now + Duration::from_secs(60),
        3,
        Method::Get,
        "EIO=4&transport=polling",
    );
    let new = e.find("s2").unwrap();
    assert_ne!(old, new);
    assert!(e.send(old, engineio_proto::Data::Text("x".into())).is_err());
    assert!(e.session(new).is_some());
}

/// The counters the Admin UI and metrics read: sessions, messages and their bytes each way
/// (control packets not counted), the polling gauge, closes by reason.
#[test]
fn messages_sessions_and_closes_are_counted() {
    let mut e = endpoint();
    let start = Instant::now();
    let sid = handshake(&mut e, start);
    assert_eq!((e.counters().opened, e.counters().polling), (1, 1));
    let query = format!("EIO=4&transport=polling&sid={sid}");
    // Two messages and a pong in one body: the pong is not counted.
    request(&mut e, start, 2, Method::Post, &query);
    let _ = transmits(&mut e);
    e.handle(
        start,
        Input::PostBody {
            request: RequestId(2),
            content_type: None,
            body: Bytes::from_static(b"4hello\x1e3\x1e4\xc3\xa9"),
        },
    );
    let _ = transmits(&mut e);
    while e.poll_event().is_some() {}
    let counters = *e.counters();
    assert_eq!((counters.messages_in, counters.bytes_in), (2, 5 + 2));
    // Out: a message and a frame (`4` + text).
    let key = e.find(&sid).unwrap();
    e.send(key, engineio_proto::Data::Text("abc".into()))
        .unwrap();
    e.send_text_frame(key, "4de".into()).unwrap();
    assert_eq!((e.counters().messages_out, e.counters().bytes_out), (2, 5));
    // The session times out: one close, for that reason, and the gauge goes down.
    e.handle_timeout(start + Duration::from_millis(300));
    e.handle_timeout(start + Duration::from_secs(1));
    let _ = transmits(&mut e);
    while e.poll_event().is_some() {}
    let counters = e.counters();
    assert_eq!(counters.closed_by(CloseReason::PingTimeout), 1);
    assert_eq!(
        counters.closed().collect::<Vec<_>>(),
        [(CloseReason::PingTimeout, 1)]
    );
    assert_eq!(counters.polling, 0);
}
