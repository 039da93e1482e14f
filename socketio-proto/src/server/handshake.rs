//! What a server knows of the HTTP request that opened a client's Engine.IO session: the
//! reference's `socket.handshake` (headers, time, address, xdomain, secure, issued, url, query),
//! less the `auth` of each namespace's CONNECT.
//!
//! The driver builds a [`Handshake`] from the request that opened the session (the polling
//! handshake GET, or the WebSocket upgrade of a WebSocket-only client) and hands it over with
//! that request ([`Endpoint::handle_handshake`](super::endpoint::Endpoint::handle_handshake)).
//! The endpoint keeps it while the session lives; the application reads it with
//! [`Endpoint::handshake`](super::endpoint::Endpoint::handshake) and a cluster's
//! `fetchSockets` sends it to other nodes.
//!
//! It is kept compact (one allocation for every header, one for the URL and address) since
//! every connection holds one.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// The HTTP request that opened a session, as the reference's `socket.handshake` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// `name\nvalue\n` for each header, names lowercase, in arrival order.
    headers: Box<str>,
    /// The address, then the URL: `address\nurl`.
    address_url: Box<str>,
    address_len: usize,
    secure: bool,
    issued: u64,
}

impl Handshake {
    /// The request at `url` (path and query, as on the request line) from `address` (the
    /// peer's IP as text), over TLS when `secure`, received `issued` milliseconds after the
    /// Unix epoch, with its `headers` (names in any case; values as raw bytes, read as Latin-1
    /// as Node.js reads them).
    pub fn new<'a>(
        url: &str,
        address: &str,
        secure: bool,
        issued: u64,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Handshake {
        let mut text = String::new();
        for (name, value) in headers {
            for c in name.chars() {
                text.push(if c == '\n' {
                    ' '
                } else {
                    c.to_ascii_lowercase()
                });
            }
            text.push('\n');
            // Latin-1: every byte is the code point of the same value. HTTP parsers refuse line
            // breaks in values; a driver that lets one through gets a space.
            text.extend(
                value
                    .iter()
                    .map(|&b| if b == b'\n' { ' ' } else { char::from(b) }),
            );
            text.push('\n');
        }
        let address = address.replace('\n', " ");
        Handshake {
            headers: text.into_boxed_str(),
            address_len: address.len(),
            address_url: format!("{address}\n{url}").into_boxed_str(),
            secure,
            issued,
        }
    }

    /// Every header, name (lowercase) and value, in arrival order, repeats included.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut lines = self.headers.split('\n');
        std::iter::from_fn(move || Some((lines.next()?, lines.next()?)))
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The peer's address.
    pub fn address(&self) -> &str {
        &self.address_url[..self.address_len]
    }

    /// The request's path and query.
    pub fn url(&self) -> &str {
        &self.address_url[self.address_len + 1..]
    }

    /// Whether the request came over TLS.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Whether the request came from a page of another origin (it has an `Origin` header).
    pub fn xdomain(&self) -> bool {
        self.header("origin").is_some()
    }

    /// When the request arrived, in milliseconds since the Unix epoch.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// The query string's fields, percent-decoded (`+` is a space), as `URLSearchParams`
    /// reads them, in their order, repeats included.
    pub fn query(&self) -> impl Iterator<Item = (String, String)> + '_ {
        let query = self.url().split_once('?').map_or("", |(_, q)| q);
        let query = query.split_once('#').map_or(query, |(q, _)| q);
        query_fields(query)
    }

    /// The reference's `socket.handshake` object, with `auth` (the CONNECT payload, `{}`
    /// when it had none): headers as Node.js's `req.headers` merges repeats (`cookie` joined by
    /// `; `, `set-cookie` as an array, single-valued headers keep their first value, the others
    /// are joined by `, `), `time` as JavaScript's `Date.toString()` in UTC, and `query` with
    /// the last value of a repeated field, as the reference's `Object.fromEntries` keeps.
    pub fn to_json(&self, auth: Value) -> Value {
        let mut headers = Map::new();
        for (name, value) in self.headers() {
            match headers.get_mut(name) {
                None if name == "set-cookie" => {
                    headers.insert(name.to_owned(), Value::Array(vec![value.into()]));
                }
                None => {
                    headers.insert(name.to_owned(), value.into());
                }
                Some(Value::Array(values)) => values.push(value.into()),
                Some(_) if SINGLE_VALUED.contains(&name) => {}
                Some(Value::String(joined)) => {
                    joined.push_str(if name == "cookie" { "; " } else { ", " });
                    joined.push_str(value);
                }
                Some(_) => {}
            }
        }
        let query: Map<String, Value> = self.query().map(|(k, v)| (k, v.into())).collect();
        let mut out = Map::new();
        out.insert("headers".into(), headers.into());
        out.insert("time".into(), js_date_string(self.issued).into());
        out.insert("address".into(), self.address().into());
        out.insert("xdomain".into(), self.xdomain().into());
        out.insert("secure".into(), self.secure.into());
        out.insert("issued".into(), self.issued.into());
        out.insert("url".into(), self.url().into());
        out.insert("query".into(), query.into());
        out.insert("auth".into(), auth);
        Value::Object(out)
    }
}

/// The headers whose repeats Node.js drops, keeping the first (`message.headers`).
const SINGLE_VALUED: &[&str] = &[
    "age",
    "authorization",
    "content-length",
    "content-type",
    "etag",
    "expires",
    "from",
    "host",
    "if-modified-since",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "proxy-authorization",
    "referer",
    "retry-after",
    "server",
    "user-agent",
];

/// `a=1&b=x+y` as its fields, percent-decoded as `URLSearchParams` and Node's
/// `querystring.parse` decode them (`+` is a space; a `%` not followed by two hex digits stays).
pub(crate) fn query_fields(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key), percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `Tue Dec 01 2026 22:44:11 GMT+0000 (Coordinated Universal Time)`: JavaScript's
/// `Date.prototype.toString()` of `ms` in a process whose time zone is UTC.
fn js_date_string(ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (ms / 86_400_000) as i64;
    let in_day = ms % 86_400_000;
    let (year, month, day) = crate::msgpack::to_json::civil_from_days(days);
    let mut out = String::with_capacity(64);
    let _ = write!(
        out,
        "{} {} {day:02} {year:04} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_javascript_writes_them_in_utc() {
        // new Date(1796165051000).toString() with TZ=UTC.
        assert_eq!(
            js_date_string(1_796_165_051_000),
            "Tue Dec 01 2026 22:44:11 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            js_date_string(0),
            "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        // A leap day.
        assert_eq!(
            js_date_string(951_782_400_000),
            "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
    }

    #[test]
    fn headers_merge_as_node_merges_them() {
        let h = Handshake::new(
            "/socket.io/?EIO=4&transport=polling&t=a+b&EIO=5",
            "127.0.0.1",
            false,
            1_000,
            [
                ("Host", &b"localhost"[..]),
                ("host", b"other"),
                ("X-Thing", b"1"),
                ("x-thing", b"2"),
                ("Cookie", b"a=1"),
                ("cookie", b"b=2"),
                ("Set-Cookie", b"c=3"),
                ("Origin", b"http://caf\xe9"),
            ],
        );
        assert_eq!(h.header("HOST"), Some("localhost"));
        assert_eq!(h.address(), "127.0.0.1");
        assert_eq!(h.url(), "/socket.io/?EIO=4&transport=polling&t=a+b&EIO=5");
        assert!(h.xdomain());
        let json = h.to_json(serde_json::json!({"token": "t"}));
        assert_eq!(
            json,
            serde_json::json!({
                "headers": {
                    "host": "localhost", "x-thing": "1, 2", "cookie": "a=1; b=2",
                    "set-cookie": ["c=3"], "origin": "http://café"
                },
                "time": "Thu Jan 01 1970 00:00:01 GMT+0000 (Coordinated Universal Time)",
                "address": "127.0.0.1", "xdomain": true, "secure": false, "issued": 1000,
                "url": "/socket.io/?EIO=4&transport=polling&t=a+b&EIO=5",
                "query": {"EIO": "5", "transport": "polling", "t": "a b"},
                "auth": {"token": "t"}
            })
        );
    }

    #[test]
    fn line_breaks_cannot_shift_the_fields() {
        let h = Handshake::new("/x?a=1", "a\nb", true, 0, [("n\name", &b"v\nw"[..])]);
        assert_eq!(h.headers().collect::<Vec<_>>(), [("n ame", "v w")]);
        assert_eq!((h.address(), h.url()), ("a b", "/x?a=1"));
        assert!(h.secure() && !h.xdomain());
    }
}
