//! [`Builder`]: socket.io-client's `io(url, options)`.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engineio_proto::Transport;
use hyper::header::{HeaderName, HeaderValue};
use socketio_proto::client::{Auth, Manager, ManagerConfig, SocketOptions};
use socketio_proto::{Namespace, Parser, ProtocolVersion};
use tokio::sync::Notify;

use super::driver::Driver;
use super::{AuthFn, Client, Error, Life, NsState, Shared, State};

/// Which transports the client uses (socket.io-client's `transports` and `upgrade`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transports {
    /// HTTP long-polling only.
    Polling,
    /// WebSocket only.
    WebSocket,
    /// Long-polling first, upgraded to WebSocket when the server offers it (the default).
    #[default]
    Upgrade,
}

impl std::str::FromStr for Transports {
    type Err = Error;

    /// `polling`, `websocket` or `upgrade`.
    fn from_str(name: &str) -> Result<Transports, Error> {
        match name {
            "polling" => Ok(Transports::Polling),
            "websocket" => Ok(Transports::WebSocket),
            "upgrade" => Ok(Transports::Upgrade),
            other => Err(Error::Url(format!(
                "unknown transports {other:?} (polling, websocket or upgrade)"
            ))),
        }
    }
}

/// The settings of a client, named as socket.io-client's options; [`build`](Self::build)
/// starts it.
#[must_use = "build the client"]
pub struct Builder {
    url: Result<(String, Namespace), Error>,
    path: String,
    config: ManagerConfig,
    options: SocketOptions,
    auth: Option<Result<Auth, Error>>,
    auth_fn: Option<AuthFn>,
    query: Vec<(String, String)>,
    headers: Vec<(HeaderName, HeaderValue)>,
    header_error: Option<Error>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("url", &self.url)
            .field("path", &self.path)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A URL read: `http://host:port`, the namespace, the query pairs.
type Parsed = (String, Namespace, Vec<(String, String)>);

/// `http://host:port/namespace?query` ⇒ its parts.
fn parse_url(url: &str) -> Result<Parsed, Error> {
    let uri: hyper::Uri = url.parse().map_err(|e| Error::Url(format!("{url}: {e}")))?;
    let scheme = match uri.scheme_str() {
        Some("http" | "ws") => "http",
        Some("https" | "wss") => {
            return Err(Error::Url(format!(
                "{url}: TLS (https, wss) is not built in; put a TLS-terminating proxy in front"
            )));
        }
        _ => return Err(Error::Url(format!("{url}: not an http:// or ws:// URL"))),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| Error::Url(format!("{url}: no host")))?;
    let namespace = match uri.path() {
        "" | "/" => Namespace::main(),
        path => Namespace::new(path).map_err(|e| Error::Url(format!("{url}: {e}")))?,
    };
    let query = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_owned(), value.to_owned())
        })
        .collect();
    Ok((format!("{scheme}://{authority}"), namespace, query))
}

/// `application/x-www-form-urlencoded` escaping, as `encodeURIComponent` leaves letters,
/// digits and `-_.!~*'()` alone.
fn encode_component(text: &str, out: &mut String) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
}

impl Builder {
    /// A client for `url`: `http://host:port` joins `/`, `http://host:port/admin` joins
    /// `/admin`; a query string goes with every request (as socket.io-client's `query`, it
    /// is passed on as given). `ws://` is read as `http://`; `https://` and `wss://` need a
    /// TLS-terminating proxy (building fails with [`Error::Url`]).
    pub fn new(url: &str) -> Builder {
        let parsed = parse_url(url);
        let mut query = Vec::new();
        let url = parsed.map(|(base, namespace, pairs)| {
            query = pairs;
            (base, namespace)
        });
        let mut builder = Builder {
            url,
            path: "/socket.io/".to_owned(),
            config: ManagerConfig::default(),
            options: SocketOptions::default(),
            auth: None,
            auth_fn: None,
            query: Vec::new(),
            headers: Vec::new(),
            header_error: None,
        };
        // Already encoded in the URL: kept verbatim.
        builder.query = query;
        builder
    }

    /// The server's Socket.IO path (`path`, `/socket.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Which transports to use (`transports`, `upgrade`): polling upgraded to WebSocket by
    /// default.
    pub fn transports(mut self, transports: Transports) -> Self {
        let (transport, upgrade) = match transports {
            Transports::Polling => (Transport::Polling, false),
            Transports::WebSocket => (Transport::Websocket, false),
            Transports::Upgrade => (Transport::Polling, true),
        };
        self.config.engine.transport = transport;
        self.config.engine.upgrade = upgrade;
        self
    }

    /// The wire format (`parser`): [`Parser::Msgpack`] for servers using
    /// `socket.io-msgpack-parser`.
    pub fn parser(mut self, parser: Parser) -> Self {
        self.config.parser = parser;
        self
    }

    /// The protocol: v5 (socket.io 3 and 4) by default, [`ProtocolVersion::V4`] for
    /// socket.io 2.x servers.
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.config.version = version;
        self
    }

    /// The `auth` payload of CONNECT (a JSON object).
    pub fn auth<T: serde::Serialize + ?Sized>(mut self, auth: &T) -> Self {
        self.auth = Some(Auth::new(auth).map_err(Error::from));
        self.auth_fn = None;
        self
    }

    /// `auth` computed before each connection attempt (socket.io-client's `auth` as a
    /// function), e.g. a fresh token; it must return a JSON object.
    pub fn auth_with(
        mut self,
        auth: impl Fn() -> serde_json::Value + Send + Sync + 'static,
    ) -> Self {
        self.auth_fn = Some(Arc::new(auth));
        self.auth = None;
        self
    }

    /// A query parameter sent with every request (`query`), encoded here.
    pub fn query(mut self, key: &str, value: &str) -> Self {
        let (mut k, mut v) = (String::new(), String::new());
        encode_component(key, &mut k);
        encode_component(value, &mut v);
        self.query.push((k, v));
        self
    }

    /// A header sent with every HTTP request and the WebSocket handshake (`extraHeaders`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => self.headers.push((name, value)),
            _ => self.header_error = Some(Error::Url(format!("invalid header {name:?}"))),
        }
        self
    }

    /// Reconnect after the connection is lost (`reconnection`, on).
    pub fn reconnection(mut self, reconnect: bool) -> Self {
        self.config.reconnection = reconnect;
        self
    }

    /// Attempts before giving up (`reconnectionAttempts`, no limit).
    pub fn reconnection_attempts(mut self, attempts: u32) -> Self {
        self.config.reconnection_attempts = Some(attempts);
        self
    }

    /// The first reconnection delay (`reconnectionDelay`, 1 s), doubled at each attempt.
    pub fn reconnection_delay(mut self, delay: Duration) -> Self {
        self.config.reconnection_delay = delay;
        self
    }

    /// The longest reconnection delay (`reconnectionDelayMax`, 5 s).
    pub fn reconnection_delay_max(mut self, delay: Duration) -> Self {
        self.config.reconnection_delay_max = delay;
        self
    }

    /// The reconnection delays' jitter (`randomizationFactor`, 0.5).
    pub fn randomization_factor(mut self, factor: f64) -> Self {
        self.config.randomization_factor = factor;
        self
    }

    /// How long a connection may take to open (`timeout`, 20 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = Some(timeout);
        self
    }

    /// Resend unacknowledged emits this many times (`retries`): every non-volatile emit then
    /// waits for an acknowledgement, one at a time, in order.
    pub fn retries(mut self, retries: u32) -> Self {
        self.options.retries = retries;
        self
    }

    /// The default acknowledgement timeout (`ackTimeout`).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.options.ack_timeout = Some(timeout);
        self
    }

    /// Everything else of the manager (decoder limits, buffer bounds…), replacing what the
    /// other settings set.
    pub fn config(mut self, config: ManagerConfig) -> Self {
        self.config = config;
        self
    }

    /// Starts the client (its connection opens at once) and returns the handle of the URL's
    /// namespace, not joined yet: set its handlers, then [`Client::connect`]. Call it inside
    /// a tokio runtime.
    pub fn build(mut self) -> Result<Client, Error> {
        let (base, namespace) = self.url?;
        if let Some(error) = self.header_error {
            return Err(error);
        }
        if let Some(auth) = self.auth {
            self.options.auth = Some(auth?);
        }
        let mut query = self.config.engine.query.clone();
        for (key, value) in &self.query {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(key);
            query.push('=');
            query.push_str(value);
        }
        self.config.engine.query = query;
        let mut ns = NsState::new(namespace.clone());
        ns.options = self.options;
        ns.auth_fn = self.auth_fn;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                manager: Manager::new(Instant::now(), self.config, jitter()),
                namespaces: vec![ns],
                reconnect_attempt: Vec::new(),
                reconnect: Vec::new(),
                reconnect_failed: Vec::new(),
                closed: false,
            }),
            wake: Notify::new(),
            cut: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        });
        let life = Arc::new(Life {
            shared: shared.clone(),
        });
        Driver::spawn(shared, Arc::downgrade(&life), base, self.path, self.headers);
        Ok(Client { life, namespace })
    }
}

/// Backoff jitter: uniform draws in [0, 1) from the standard library's random SipHash keys
/// (the jitter spreads reconnections; it needs no cryptographic strength).
fn jitter() -> Box<dyn FnMut() -> f64 + Send> {
    use std::hash::{BuildHasher, Hasher};
    let keys = std::collections::hash_map::RandomState::new();
    let mut draws = 0u64;
    Box::new(move || {
        draws += 1;
        let mut hasher = keys.build_hasher();
        hasher.write_u64(draws);
        (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_the_base_the_namespace_and_the_query() {
        let (base, ns, query) = parse_url("http://127.0.0.1:3000/admin?token=a%20b&x").unwrap();
        assert_eq!(base, "http://127.0.0.1:3000");
        assert_eq!(ns.as_str(), "/admin");
        assert_eq!(
            query,
            [
                ("token".into(), "a%20b".into()),
                ("x".into(), String::new())
            ]
        );
        let (base, ns, _) = parse_url("ws://localhost:80").unwrap();
        assert_eq!((base.as_str(), ns.as_str()), ("http://localhost:80", "/"));
        assert!(matches!(parse_url("https://x"), Err(Error::Url(_))));
        assert!(matches!(parse_url("ftp://x"), Err(Error::Url(_))));
        assert!(matches!(parse_url("not a url"), Err(Error::Url(_))));
    }

    #[test]
    fn query_values_are_encoded_as_encode_uri_component_does() {
        let mut out = String::new();
        encode_component("a b&c=d/é~*", &mut out);
        assert_eq!(out, "a%20b%26c%3Dd%2F%C3%A9~*");
    }
}
