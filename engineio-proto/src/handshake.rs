//! The handshake: the open packet, the request query, and the HTTP error responses.

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::json;
use crate::packet::{PacketType, ProtocolVersion};

/// An Engine.IO transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    Websocket,
    /// WebTransport over HTTP/3 (Engine.IO v4.1).
    Webtransport,
}

impl Transport {
    /// The name used in the `transport` query parameter and in `upgrades`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::Websocket => "websocket",
            Transport::Webtransport => "webtransport",
        }
    }

    /// The transport with exactly this name. Anything else (`__proto__`, `Polling`, an empty
    /// string, …) is `None`: the whitelist is exact.
    pub fn from_name(name: &str) -> Option<Transport> {
        match name {
            "polling" => Some(Transport::Polling),
            "websocket" => Some(Transport::Websocket),
            "webtransport" => Some(Transport::Webtransport),
            _ => None,
        }
    }
}

impl Serialize for Transport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The handshake a server sends as the data of the `open` packet.
///
/// Serialises with the keys in the reference order (`sid, upgrades, pingInterval,
/// pingTimeout, maxPayload`) and the durations in milliseconds.
///
/// ```
/// use std::time::Duration;
/// use engineio_proto::{OpenPacket, Transport};
/// let open = OpenPacket {
///     sid: "lv_VI97HAXpY6yYWAAAC".into(),
///     upgrades: vec![Transport::Websocket],
///     ping_interval: Duration::from_millis(25_000),
///     ping_timeout: Duration::from_millis(20_000),
///     max_payload: Some(1_000_000),
/// };
/// let mut out = Vec::new();
/// open.encode(&mut out);
/// assert_eq!(
///     out,
///     br#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenPacket {
    /// The session id, chosen by the server (opaque to the client).
    pub sid: String,
    /// Transports the session may upgrade to. On decode, names this crate does not know are
    /// skipped, so a client keeps working against a server that offers more.
    #[serde(deserialize_with = "known_transports")]
    pub upgrades: Vec<Transport>,
    /// How often the v4 server pings (v3: how often the client pings).
    #[serde(with = "millis")]
    pub ping_interval: Duration,
    /// How long a heartbeat may stay unanswered.
    #[serde(with = "millis")]
    pub ping_timeout: Duration,
    /// The largest polling body the server accepts, in bytes (engine.io ≥ 6.2; older servers
    /// omit it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payload: Option<u64>,
}

impl OpenPacket {
    /// Appends the open packet in text form (`0{…}`) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(PacketType::Open.digit());
        // Writing strings, integers and a list into a Vec cannot fail.
        serde_json::to_writer(out, self).expect("OpenPacket serialises infallibly");
    }

    /// Parses the data of an open packet (the JSON after the `0`).
    pub fn decode(data: &str) -> Result<OpenPacket, serde_json::Error> {
        serde_json::from_str(data)
    }
}

fn known_transports<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Transport>, D::Error> {
    let names = Vec::<Cow<'de, str>>::deserialize(d)?;
    Ok(names
        .iter()
        .filter_map(|n| Transport::from_name(n))
        .collect())
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// The Engine.IO parameters of a request's query string, checked against exact whitelists.
///
/// Percent-escapes and `+` are decoded as Node's `querystring` does. Parameters other than
/// `EIO`, `transport`, `sid`, `b64`, `j` and `t` belong to the application: see
/// [`RequestQuery::extra`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestQuery<'a> {
    /// `EIO`: `Some` only for exactly `3` or `4` given once. The reference treats every value
    /// but `4` as v3; we refuse the others (`EIO=5`, `EIO=abc`, a missing or repeated `EIO`)
    /// with [`ErrorCode::UnsupportedProtocolVersion`] at the handshake.
    pub version: Option<ProtocolVersion>,
    /// `transport`, present exactly once with a known name.
    pub transport: Transport,
    /// `sid`; an empty `sid=` counts as absent (a handshake), as in the reference.
    pub sid: Option<Cow<'a, str>>,
    /// `b64`: the client cannot take binary. Any non-empty value turns it on (the reference
    /// tests truthiness, so even `b64=0` does).
    pub b64: bool,
    /// `j`: the JSONP callback index; its presence (even empty) selects JSONP polling.
    pub jsonp_index: Option<Cow<'a, str>>,
    raw: &'a str,
}

impl<'a> RequestQuery<'a> {
    /// Parses a query string (without the leading `?`).
    ///
    /// Fails with [`ErrorCode::TransportUnknown`] when `transport` is missing, repeated or not
    /// a known name, and with [`ErrorCode::UnknownSid`] when `sid` is repeated (the reference
    /// then looks up a session named `a,b`, which does not exist).
    ///
    /// ```
    /// use engineio_proto::{ProtocolVersion, RequestQuery, Transport};
    /// let q = RequestQuery::parse("EIO=4&transport=polling&t=N8hyd6w&token=abc").unwrap();
    /// assert_eq!((q.version, q.transport, &q.sid), (Some(ProtocolVersion::V4), Transport::Polling, &None));
    /// assert_eq!(q.extra().collect::<Vec<_>>(), [("token".into(), "abc".into())]);
    /// ```
    pub fn parse(raw: &'a str) -> Result<RequestQuery<'a>, ErrorCode> {
        let (mut version, mut transport, mut sid, mut j) =
            (Seen::None, Seen::None, Seen::None, Seen::None);
        let mut b64 = false;
        for (key, value) in pairs(raw) {
            match &*key {
                "EIO" => version.see(value),
                "transport" => transport.see(value),
                "sid" => sid.see(value),
                "j" => j.see(value),
                "b64" => b64 |= !value.is_empty(),
                _ => {}
            }
        }
        let transport = match transport {
            Seen::Once(name) => Transport::from_name(&name).ok_or(ErrorCode::TransportUnknown)?,
            _ => return Err(ErrorCode::TransportUnknown),
        };
        let version = match version {
            Seen::Once(v) if v == "4" => Some(ProtocolVersion::V4),
            Seen::Once(v) if v == "3" => Some(ProtocolVersion::V3),
            _ => None,
        };
        let sid = match sid {
            Seen::Once(s) if s.is_empty() => None,
            Seen::Once(s) => Some(s),
            Seen::None => None,
            Seen::Repeated => return Err(ErrorCode::UnknownSid),
        };
        let jsonp_index = match j {
            Seen::Once(j) => Some(j),
            Seen::None | Seen::Repeated => None,
        };
        Ok(RequestQuery {
            version,
            transport,
            sid,
            b64,
            jsonp_index,
            raw,
        })
    }

    /// The application's parameters: every pair but `EIO`, `transport`, `sid`, `b64`, `j` and
    /// `t`, decoded, in order (Socket.IO exposes them as `handshake.query`).
    pub fn extra(&self) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a {
        pairs(self.raw)
            .filter(|(k, _)| !matches!(&**k, "EIO" | "transport" | "sid" | "b64" | "j" | "t"))
    }

    /// The query string as given.
    pub fn raw(&self) -> &'a str {
        self.raw
    }
}

enum Seen<'a> {
    None,
    Once(Cow<'a, str>),
    Repeated,
}

impl<'a> Seen<'a> {
    fn see(&mut self, value: Cow<'a, str>) {
        *self = match self {
            Seen::None => Seen::Once(value),
            _ => Seen::Repeated,
        };
    }
}

/// The `key=value` pairs of a query string, decoded; empty pieces are skipped.
fn pairs(raw: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    raw.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (decode_component(k), decode_component(v))
    })
}

/// Decodes `+` and `%XX` as Node's `querystring.unescape` does: invalid escapes stay as they
/// are; bytes that are not UTF-8 become U+FFFD.
pub(crate) fn decode_component(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    let h = core::str::from_utf8(h).ok()?;
                    u8::from_str_radix(h, 16)
                        .ok()
                        .filter(|_| h.bytes().all(|c| c.is_ascii_hexdigit()))
                });
                if let Some(b) = hex {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// The error codes a server answers a refused Engine.IO request with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ErrorCode {
    /// 0: `transport` missing, unknown, or not enabled.
    TransportUnknown,
    /// 1: `sid` not (or no longer) known.
    UnknownSid,
    /// 2: a handshake (no `sid`) with a method other than GET.
    BadHandshakeMethod,
    /// 3: anything else that is wrong with the request (a transport that does not match the
    /// session's, a WebSocket handshake without `Upgrade`, a bad `Origin` header, …).
    BadRequest,
    /// 4: the application refused the request.
    Forbidden,
    /// 5: an `EIO` version the server does not accept.
    UnsupportedProtocolVersion,
}

impl ErrorCode {
    /// The numeric code of the JSON body.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The reference's message for this code.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::TransportUnknown => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status of a polling response: 403 for [`ErrorCode::Forbidden`], 400 otherwise.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::Forbidden => 403,
            _ => 400,
        }
    }
}

/// A refused request, as the driver writes it out.
///
/// ```
/// use engineio_proto::{ErrorCode, ErrorResponse};
/// let refusal = ErrorResponse::new(ErrorCode::TransportUnknown);
/// assert_eq!(refusal.status(), 400);
/// assert_eq!(refusal.body(), br#"{"code":0,"message":"Transport unknown"}"#);
/// assert_eq!(
///     refusal.upgrade_response(),
///     &b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\nContent-Length: 17\r\n\r\nTransport unknown"[..]
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ErrorResponse<'m> {
    /// The error code.
    pub code: ErrorCode,
    /// A message replacing the reference's, as `allowRequest` or middleware may give.
    pub message: Option<&'m str>,
}

impl<'m> ErrorResponse<'m> {
    /// The response for `code` with the reference's message.
    pub fn new(code: ErrorCode) -> Self {
        ErrorResponse {
            code,
            message: None,
        }
    }

    /// The response for `code` with a custom message.
    pub fn with_message(code: ErrorCode, message: &'m str) -> Self {
        ErrorResponse {
            code,
            message: Some(message),
        }
    }

    /// The message sent.
    pub fn message(&self) -> &'m str {
        self.message.unwrap_or(self.code.message())
    }

    /// The HTTP status of the polling response.
    pub fn status(&self) -> u16 {
        self.code.http_status()
    }

    /// The `Content-Type` of the polling response.
    pub fn content_type(&self) -> &'static str {
        "application/json"
    }

    /// The polling response body: `{"code":<n>,"message":"<text>"}`.
    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.message().len());
        out.extend_from_slice(b"{\"code\":");
        out.push(b'0' + self.code.code());
        out.extend_from_slice(b",\"message\":");
        json::push_string(self.message(), &mut out);
        out.push(b'}');
        out
    }

    /// The raw HTTP response the reference writes on the socket of a refused WebSocket upgrade
    /// request: always `400 Bad Request` (even for [`ErrorCode::Forbidden`]) with the message
    /// as a `text/html` body. The driver then closes the TCP connection.
    pub fn upgrade_response(&self) -> Vec<u8> {
        let message = self.message();
        format!(
            "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\nContent-Length: {}\r\n\r\n{}",
            message.len(),
            message
        )
        .into_bytes()
    }
}
