//! What the server accepts and how long it waits: the [`Options`] of the driver.
//!
//! | limit | default | reference (Node.js `http` + engine.io) |
//! |---|---|---|
//! | reading a request's headers, and a keep-alive connection's idle time between requests | 5 s | `headersTimeout` 60 s, `keepAliveTimeout` 5 s |
//! | reading a POST body (then the request is aborted, which closes its session) | 30 s | `requestTimeout` 300 s |
//! | completing a WebSocket upgrade after the `101` | 10 s | none |
//! | open connections (more are answered `503` and closed) | 100 000 | none (`maxConnections` unset) |
//! | a WebSocket's outgoing backlog: reading pauses above, the socket closes (1008) above | 1 MiB / 16 MiB | unbounded |
//! | one WebSocket write waiting for the peer | 30 s | none |
//!
//! The Engine.IO limits (`maxPayload` for a POST body or a WebSocket message, heartbeats, a
//! polling session's backlog) are the endpoint's: see `engineio_proto`'s `ServerConfig`.
//! When the process runs out of file descriptors, the accept loop waits (5 ms, doubling to
//! 1 s) instead of spinning, and keeps serving the connections it has.
//!
//! Policy, as the reference's options: [`RequestPolicy::allow_request`] (`allowRequest`) and
//! [`RequestPolicy::allowed_origins`] refuse handshakes with `403 {"code":4,"message":"Forbidden"}`;
//! [`RequestPolicy::cors`] (`cors`) answers preflights and adds the CORS headers (without it,
//! other methods get the reference's `400` code 2, or `500` with a session id);
//! [`RequestPolicy::cookie`] (`cookie`) sets the sticky-session `io` cookie on the polling
//! handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};

use crate::websocket::Backlog;

/// Answers a request outside the Engine.IO path.
pub type Fallback = Arc<dyn Fn(&Request<Incoming>) -> Response<Full<Bytes>> + Send + Sync>;

/// Decides whether a handshake may open a session (`allowRequest`): `Err(message)` refuses it
/// with 403, code 4. Runs for handshakes only (no `sid`), after the reference's own checks;
/// requests of an existing session carry its id, which is the secret.
pub type AllowRequest = Arc<dyn Fn(&RequestInfo<'_>) -> Result<(), String> + Send + Sync>;

/// What [`AllowRequest`] sees of a handshake.
#[derive(Debug)]
pub struct RequestInfo<'a> {
    /// The request's method.
    pub method: &'a hyper::Method,
    /// The request's URI (path and query).
    pub uri: &'a hyper::Uri,
    /// The request's headers (`Origin`, `Cookie`, `Authorization`, …).
    pub headers: &'a HeaderMap,
    /// The peer's address, when the server knows it (see
    /// [`RemoteAddr`](crate::driver::RemoteAddr) for a mounted service).
    pub remote: Option<SocketAddr>,
}

/// Where and how to serve. Start from [`Options::new`] and change fields.
#[derive(Clone)]
pub struct Options {
    /// The Engine.IO path, with both slashes: `/engine.io/` or `/socket.io/`.
    pub path: String,
    /// Answers requests outside `path` (pages, scripts); 404 when `None`.
    pub fallback: Option<Fallback>,
    /// Timeouts and bounds on connections.
    pub limits: ConnectionLimits,
    /// Which requests are accepted, and the headers added to answers.
    pub policy: RequestPolicy,
}

impl Options {
    /// Serves `path` with the default limits and no policy.
    pub fn new(path: impl Into<String>) -> Options {
        Options {
            path: path.into(),
            fallback: None,
            limits: ConnectionLimits::default(),
            policy: RequestPolicy::default(),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("path", &self.path)
            .field("fallback", &self.fallback.is_some())
            .field("limits", &self.limits)
            .field("policy", &self.policy)
            .finish()
    }
}

/// Timeouts and bounds on connections; the defaults are in the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Reading a request's headers, and a keep-alive connection's idle time between requests
    /// (one timer in hyper). 5 s.
    pub header_read_timeout: Duration,
    /// Reading a POST body. 30 s.
    pub body_read_timeout: Duration,
    /// Completing a WebSocket upgrade after the `101`. 10 s.
    pub upgrade_timeout: Duration,
    /// Open connections; more are answered `503` and closed. 100 000.
    pub max_connections: usize,
    /// Each WebSocket's outgoing backlog.
    pub backlog: Backlog,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(5),
            body_read_timeout: Duration::from_secs(30),
            upgrade_timeout: Duration::from_secs(10),
            max_connections: 100_000,
            backlog: Backlog::default(),
        }
    }
}

/// Which requests are accepted, and what answers carry. Nothing is refused by default, as in
/// the reference.
#[derive(Clone, Default)]
pub struct RequestPolicy {
    /// The application's check of each handshake.
    pub allow_request: Option<AllowRequest>,
    /// Handshakes whose `Origin` is not in this list are refused (403, code 4); requests
    /// without `Origin` (not from a browser) pass. Entries are full origins:
    /// `https://example.com`.
    pub allowed_origins: Option<Vec<String>>,
    /// CORS headers for browsers on other origins, and answers to preflights.
    pub cors: Option<Cors>,
    /// The sticky-session cookie set on the polling handshake.
    pub cookie: Option<Cookie>,
}

impl std::fmt::Debug for RequestPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestPolicy")
            .field("allow_request", &self.allow_request.is_some())
            .field("allowed_origins", &self.allowed_origins)
            .field("cors", &self.cors)
            .field("cookie", &self.cookie)
            .finish()
    }
}

/// CORS, as the `cors` package the reference uses: `Access-Control-Allow-Origin` (and
/// `-Credentials`) on every answer, and `204` with the allowed methods and headers for an
/// `OPTIONS` preflight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cors {
    /// `None`: any origin (`*`, or the request's origin with credentials); `Some(list)`: the
    /// request's origin when it is in the list, else no header (the browser then refuses).
    pub origins: Option<Vec<String>>,
    /// `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
    /// `Access-Control-Allow-Methods` of a preflight answer.
    pub methods: String,
}

impl Default for Cors {
    fn default() -> Self {
        Cors {
            origins: None,
            credentials: false,
            methods: "GET,HEAD,PUT,PATCH,POST,DELETE".into(),
        }
    }
}

/// The `io` cookie (engine.io's `cookie` option): the session id, for load balancers that
/// route by cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    /// The cookie's name. `io`.
    pub name: String,
    /// Its `Path`. `/`.
    pub path: String,
    /// `HttpOnly`. On.
    pub http_only: bool,
    /// `SameSite`. `Lax`.
    pub same_site: String,
}

impl Default for Cookie {
    fn default() -> Self {
        Cookie {
            name: "io".into(),
            path: "/".into(),
            http_only: true,
            same_site: "Lax".into(),
        }
    }
}

impl RequestPolicy {
    /// The refusal of a handshake, if the policy refuses it.
    pub(crate) fn refuses(&self, info: &RequestInfo<'_>) -> bool {
        if let (Some(allowed), Some(origin)) =
            (&self.allowed_origins, info.headers.get(header::ORIGIN))
        {
            let origin = origin.to_str().unwrap_or("");
            if !allowed.iter().any(|o| o == origin) {
                return true;
            }
        }
        self.allow_request
            .as_ref()
            .is_some_and(|allow| allow(info).is_err())
    }

    /// The answer to a CORS preflight, when CORS is on.
    pub(crate) fn preflight(&self, headers: &HeaderMap) -> Option<Response<Full<Bytes>>> {
        let cors = self.cors.as_ref()?;
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        self.add_cors(headers.get(header::ORIGIN), response.headers_mut());
        let out = response.headers_mut();
        if let Ok(methods) = HeaderValue::from_str(&cors.methods) {
            out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        if let Some(wanted) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, wanted.clone());
            out.append(
                header::VARY,
                HeaderValue::from_static("Access-Control-Request-Headers"),
            );
        }
        out.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        Some(response)
    }

    /// Adds the CORS headers of an answer to a request from `origin` (its `Origin` header).
    pub(crate) fn add_cors(&self, origin: Option<&HeaderValue>, out: &mut HeaderMap) {
        let Some(cors) = &self.cors else { return };
        let allowed = match (&cors.origins, origin) {
            (None, Some(origin)) if cors.credentials => Some(origin.clone()),
            (None, _) => Some(HeaderValue::from_static("*")),
            (Some(list), Some(origin)) => list
                .iter()
                .any(|o| o.as_bytes() == origin.as_bytes())
                .then(|| origin.clone()),
            (Some(_), None) => None,
        };
        if let Some(allowed) = allowed {
            let wildcard = allowed == "*";
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
            if !wildcard {
                out.append(header::VARY, HeaderValue::from_static("Origin"));
            }
        }
        if cors.credentials {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// Adds `Set-Cookie` to a polling handshake's answer, whose body holds the session id.
    pub(crate) fn add_cookie(&self, body: &[u8], out: &mut HeaderMap) {
        let (Some(cookie), Some(sid)) = (&self.cookie, handshake_sid(body)) else {
            return;
        };
        let mut value = format!("{}={sid}; Path={}", cookie.name, cookie.path);
        if cookie.http_only {
            value.push_str("; HttpOnly");
        }
        if !cookie.same_site.is_empty() {
            value.push_str("; SameSite=");
            value.push_str(&cookie.same_site);
        }
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.append(header::SET_COOKIE, value);
        }
    }
}

/// The session id in a handshake answer: the open packet's first field in every framing (v4
/// `0{"sid":"…"`, v3 `96:0{"sid":"…"`, JSONP with escaped quotes). Ids are URL-safe base64.
fn handshake_sid(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body.get(..body.len().min(256))?).ok()?;
    let start = text
        .find("sid\\\":\\\"")
        .map(|i| i + 8)
        .or_else(|| text.find("sid\":\"").map(|i| i + 6))?;
    let rest = &text[start..];
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))?;
    (end > 0).then(|| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::handshake_sid;

    #[test]
    fn the_session_id_is_found_in_every_handshake_framing() {
        let v4 = br#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"]}"#;
        assert_eq!(handshake_sid(v4), Some("lv_VI97HAXpY6yYWAAAC"));
        let v3 = br#"96:0{"sid":"abc-DEF_1","upgrades":[]}"#;
        assert_eq!(handshake_sid(v3), Some("abc-DEF_1"));
        let jsonp = br#"___eio[0]("0{\"sid\":\"xyz\",\"upgrades\":[]}");"#;
        assert_eq!(handshake_sid(jsonp), Some("xyz"));
        assert_eq!(handshake_sid(b"ok"), None);
    }
}
