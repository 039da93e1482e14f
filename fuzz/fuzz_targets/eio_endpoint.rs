//! The Engine.IO endpoint fed an arbitrary sequence of its public inputs (requests with any
//! method and query, bodies, aborts, upgrades, frames, closes), application sends and closes,
//! and clock jumps. It never panics, answers each request at most once (a body is asked for at
//! most once, and only before the answer), sends nothing on a socket it closed, reports
//! `Opened` first and `Closed` last for every session and nothing after, never asks to be woken
//! in the past, and its session count is what its events say.
#![no_main]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use engineio_proto::session::endpoint::{Endpoint, Input, SessionKey};
use engineio_proto::session::server::{Method, ServerConfig, SessionEvent, Transmit};
use engineio_proto::session::{RequestId, SocketId};
use engineio_proto::{Data, Frame};

/// A query string: mostly well-formed, sometimes anything.
#[derive(Arbitrary, Debug)]
struct Query {
    eio: u8,
    websocket: bool,
    /// Which known session to name (modulo their count), if any.
    sid: Option<u8>,
    b64: bool,
    jsonp: bool,
    raw: Option<String>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Request {
        method: Method,
        query: Query,
        upgrade: bool,
    },
    /// The body of the oldest request that asked for one.
    Body {
        binary_content_type: bool,
        body: Vec<u8>,
    },
    TooLarge,
    Abort(u8),
    /// Opens the oldest accepted upgrade (or reports it failed).
    Open {
        fail: bool,
    },
    Text {
        socket: u8,
        text: String,
    },
    Binary {
        socket: u8,
        data: Vec<u8>,
    },
    SocketClosed(u8),
    Advance(u16),
    Send {
        session: u8,
        text: Option<String>,
        binary: Vec<u8>,
    },
    Close(u8),
}

fn query_string(query: &Query, sids: &[String]) -> String {
    if let Some(raw) = &query.raw {
        return raw.clone();
    }
    let eio = match query.eio % 4 {
        0 => "3",
        1 | 2 => "4",
        _ => "x",
    };
    let transport = if query.websocket {
        "websocket"
    } else {
        "polling"
    };
    let mut q = format!("EIO={eio}&transport={transport}");
    if let (Some(pick), false) = (query.sid, sids.is_empty()) {
        q.push_str("&sid=");
        q.push_str(&sids[usize::from(pick) % sids.len()]);
    }
    if query.b64 {
        q.push_str("&b64=1");
    }
    if query.jsonp {
        q.push_str("&j=0");
    }
    q
}

libfuzzer_sys::fuzz_target!(|ops: Vec<Op>| {
    let mut now = Instant::now();
    let config = ServerConfig {
        allow_eio3: true,
        max_payload: 4096,
        ..Default::default()
    };
    let mut n = 0u64;
    let mut endpoint = Endpoint::new(
        config,
        Box::new(move || {
            n += 1;
            format!("s{n}")
        }),
    );
    let mut next_request = 0u64;
    // What the driver would know.
    let mut sids: Vec<String> = Vec::new();
    let mut open: HashMap<SessionKey, String> = HashMap::new();
    let mut ended: HashSet<SessionKey> = HashSet::new();
    let mut answered: HashSet<RequestId> = HashSet::new();
    let mut reading: Vec<(RequestId, usize)> = Vec::new();
    let mut upgrades: Vec<SocketId> = Vec::new();
    let mut sockets: Vec<SocketId> = Vec::new();
    let mut closed_sockets: HashSet<SocketId> = HashSet::new();
    for op in ops {
        match op {
            Op::Request {
                method,
                query,
                upgrade,
            } => {
                next_request += 1;
                let query = query_string(&query, &sids);
                let input = Input::Request {
                    request: RequestId(next_request),
                    method,
                    query: &query,
                    websocket_upgrade: upgrade,
                };
                endpoint.handle(now, input);
            }
            Op::Body {
                binary_content_type,
                body,
            } => {
                if !reading.is_empty() {
                    let (request, limit) = reading.remove(0);
                    let content_type = binary_content_type.then_some("application/octet-stream");
                    let input = if body.len() > limit {
                        Input::PostTooLarge { request }
                    } else {
                        Input::PostBody {
                            request,
                            content_type,
                            body: Bytes::from(body),
                        }
                    };
                    endpoint.handle(now, input);
                }
            }
            Op::TooLarge => {
                if !reading.is_empty() {
                    let (request, _) = reading.remove(0);
                    endpoint.handle(now, Input::PostTooLarge { request });
                }
            }
            Op::Abort(back) => {
                let request = RequestId(next_request.saturating_sub(u64::from(back % 4)));
                reading.retain(|(r, _)| *r != request);
                endpoint.handle(now, Input::RequestAborted { request });
            }
            Op::Open { fail } => {
                if !upgrades.is_empty() {
                    let socket = upgrades.remove(0);
                    if fail {
                        closed_sockets.insert(socket);
                        endpoint.handle(now, Input::WebSocketClosed { socket });
                    } else {
                        sockets.push(socket);
                        endpoint.handle(now, Input::WebSocketOpen { socket });
                    }
                }
            }
            Op::Text { socket, text } => {
                if let Some(&socket) = sockets.get(usize::from(socket)) {
                    let frame = Frame::Text(text.into());
                    endpoint.handle(now, Input::WebSocketFrame { socket, frame });
                }
            }
            Op::Binary { socket, data } => {
                if let Some(&socket) = sockets.get(usize::from(socket)) {
                    let frame = Frame::Binary(Bytes::from(data));
                    endpoint.handle(now, Input::WebSocketFrame { socket, frame });
                }
            }
            Op::SocketClosed(socket) => {
                if let Some(&socket) = sockets.get(usize::from(socket)) {
                    closed_sockets.insert(socket);
                    endpoint.handle(now, Input::WebSocketClosed { socket });
                }
            }
            Op::Advance(ms) => {
                now += Duration::from_millis(u64::from(ms) * 16);
                endpoint.handle_timeout(now);
                assert!(
                    endpoint.poll_timeout().is_none_or(|at| at > now),
                    "a due timer survived handle_timeout"
                );
            }
            Op::Send {
                session,
                text,
                binary,
            } => {
                let keys: Vec<SessionKey> = open.keys().copied().collect();
                if let Some(&key) = keys.get(usize::from(session) % keys.len().max(1)) {
                    let data = match text {
                        Some(t) => Data::Text(t.into()),
                        None => Data::Binary(Bytes::from(binary)),
                    };
                    let _ = endpoint.send(key, data);
                }
            }
            Op::Close(session) => {
                let keys: Vec<SessionKey> = open.keys().copied().collect();
                if let Some(&key) = keys.get(usize::from(session) % keys.len().max(1)) {
                    endpoint.close(now, key);
                }
            }
        }
        loop {
            if let Some((key, event)) = endpoint.poll_event() {
                assert!(!ended.contains(&key), "an event after Closed");
                match event {
                    SessionEvent::Opened => {
                        let sid = endpoint.session(key).expect("an opened session").sid();
                        assert!(open.insert(key, sid.to_owned()).is_none(), "opened twice");
                        sids.push(sid.to_owned());
                    }
                    SessionEvent::Closed { .. } => {
                        assert!(open.remove(&key).is_some(), "closed before opened");
                        assert!(endpoint.session(key).is_none(), "a closed session is found");
                        ended.insert(key);
                    }
                    _ => assert!(open.contains_key(&key), "an event before Opened"),
                }
                continue;
            }
            let Some(transmit) = endpoint.poll_transmit() else {
                break;
            };
            match transmit {
                Transmit::Response { request, .. } => {
                    assert!(answered.insert(request), "request answered twice");
                    reading.retain(|(r, _)| *r != request);
                }
                Transmit::ReadBody { request, limit } => {
                    assert!(
                        !answered.contains(&request),
                        "a body asked after the answer"
                    );
                    assert!(
                        !reading.iter().any(|(r, _)| *r == request),
                        "a body asked twice"
                    );
                    reading.push((request, limit));
                }
                Transmit::AcceptWebSocket { request, socket } => {
                    assert!(answered.insert(request), "request answered twice");
                    upgrades.push(socket);
                }
                Transmit::Frame { socket, .. } => {
                    assert!(!closed_sockets.contains(&socket), "frame after close")
                }
                Transmit::CloseSocket { socket } => {
                    closed_sockets.insert(socket);
                }
            }
        }
        assert_eq!(
            endpoint.len(),
            open.len(),
            "the session count disagrees with the events"
        );
    }
});
