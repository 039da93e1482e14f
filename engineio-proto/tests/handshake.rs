//! Request queries, open packets and error responses (PROTOCOL.md A.4, A.5).
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use engineio_proto::{
    ErrorCode, ErrorResponse, OpenPacket, ProtocolVersion, RequestQuery, Transport,
};
use std::time::Duration;

#[test]
fn parses_a_handshake_query() {
    let q = RequestQuery::parse("EIO=4&transport=polling&t=N8hyd6w").unwrap();
    assert_eq!(q.version, Some(ProtocolVersion::V4));
    assert_eq!(q.transport, Transport::Polling);
    assert_eq!(q.sid, None);
    assert!(!q.b64);
    assert_eq!(q.jsonp_index, None);
    assert_eq!(q.extra().count(), 0);
}

#[test]
fn parses_session_and_flags() {
    let q = RequestQuery::parse("EIO=3&transport=websocket&sid=lv_VI97HAXpY6yYWAAAC&b64=1&j=0")
        .unwrap();
    assert_eq!(q.version, Some(ProtocolVersion::V3));
    assert_eq!(q.transport, Transport::Websocket);
    assert_eq!(q.sid.as_deref(), Some("lv_VI97HAXpY6yYWAAAC"));
    assert!(q.b64);
    assert_eq!(q.jsonp_index.as_deref(), Some("0"));
}

#[test]
fn b64_is_truthiness() {
    assert!(RequestQuery::parse("transport=polling&b64=0").unwrap().b64);
    assert!(!RequestQuery::parse("transport=polling&b64=").unwrap().b64);
}

#[test]
fn empty_sid_is_a_handshake() {
    assert_eq!(
        RequestQuery::parse("EIO=4&transport=polling&sid=")
            .unwrap()
            .sid,
        None
    );
}

#[test]
fn values_are_percent_decoded() {
    let q = RequestQuery::parse("EIO=%34&transport=pol%6Cing&name=a+b%20c&bad=%zz%4").unwrap();
    assert_eq!(q.version, Some(ProtocolVersion::V4));
    assert_eq!(q.transport, Transport::Polling);
    let extra: Vec<_> = q
        .extra()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        extra,
        [
            ("name".to_owned(), "a b c".to_owned()),
            ("bad".to_owned(), "%zz%4".to_owned())
        ]
    );
}

#[test]
fn application_parameters_pass_through_in_order() {
    let q = RequestQuery::parse("token=abc&EIO=4&transport=polling&t=x&uid=7&flag").unwrap();
    let extra: Vec<_> = q
        .extra()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        extra,
        [
            ("token".into(), "abc".into()),
            ("uid".into(), "7".into()),
            ("flag".into(), String::new())
        ]
    );
}

#[test]
fn transport_whitelist_is_exact() {
    for query in [
        "EIO=4",
        "EIO=4&transport=",
        "EIO=4&transport=__proto__",
        "EIO=4&transport=constructor",
        "EIO=4&transport=toString",
        "EIO=4&transport=Polling",
        "EIO=4&transport=polling&transport=polling",
    ] {
        assert_eq!(
            RequestQuery::parse(query),
            Err(ErrorCode::TransportUnknown),
            "{query}"
        );
    }
}

#[test]
fn version_whitelist_is_exact() {
    for query in [
        "transport=polling",
        "EIO=5&transport=polling",
        "EIO=abc&transport=polling",
        "EIO=4&EIO=4&transport=polling",
        "EIO=04&transport=polling",
    ] {
        assert_eq!(RequestQuery::parse(query).unwrap().version, None, "{query}");
    }
}

#[test]
fn repeated_sid_is_unknown() {
    assert_eq!(
        RequestQuery::parse("EIO=4&transport=polling&sid=a&sid=b"),
        Err(ErrorCode::UnknownSid)
    );
}

#[test]
fn error_bodies_are_byte_exact() {
    let cases = [
        (
            ErrorCode::TransportUnknown,
            400,
            r#"{"code":0,"message":"Transport unknown"}"#,
        ),
        (
            ErrorCode::UnknownSid,
            400,
            r#"{"code":1,"message":"Session ID unknown"}"#,
        ),
        (
            ErrorCode::BadHandshakeMethod,
            400,
            r#"{"code":2,"message":"Bad handshake method"}"#,
        ),
        (
            ErrorCode::BadRequest,
            400,
            r#"{"code":3,"message":"Bad request"}"#,
        ),
        (
            ErrorCode::Forbidden,
            403,
            r#"{"code":4,"message":"Forbidden"}"#,
        ),
        (
            ErrorCode::UnsupportedProtocolVersion,
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#,
        ),
    ];
    for (code, status, body) in cases {
        let response = ErrorResponse::new(code);
        assert_eq!(response.status(), status);
        assert_eq!(response.content_type(), "application/json");
        assert_eq!(String::from_utf8(response.body()).unwrap(), body);
    }
}

#[test]
fn custom_forbidden_message() {
    let response = ErrorResponse::with_message(ErrorCode::Forbidden, "custom deny message");
    assert_eq!(
        response.body(),
        br#"{"code":4,"message":"custom deny message"}"#
    );
    assert_eq!(
        response.upgrade_response(),
        b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\nContent-Length: 19\r\n\r\ncustom deny message"
    );
    let quoted = ErrorResponse::with_message(ErrorCode::BadRequest, "say \"no\"\n");
    assert_eq!(quoted.body(), br#"{"code":3,"message":"say \"no\"\n"}"#);
}

#[test]
fn open_packet_round_trips_and_tolerates_unknown_upgrades() {
    let json = r#"{"sid":"abc","upgrades":["websocket","webtransport","carrier-pigeon"],"pingInterval":300000,"pingTimeout":200000}"#;
    let open = OpenPacket::decode(json).unwrap();
    assert_eq!(
        open.upgrades,
        [Transport::Websocket, Transport::Webtransport]
    );
    assert_eq!(open.ping_interval, Duration::from_secs(300));
    assert_eq!(open.max_payload, None);
    let mut out = Vec::new();
    open.encode(&mut out);
    assert_eq!(
        out,
        br#"0{"sid":"abc","upgrades":["websocket","webtransport"],"pingInterval":300000,"pingTimeout":200000}"#
    );
    assert!(OpenPacket::decode(r#"{"sid":1}"#).is_err());
}
