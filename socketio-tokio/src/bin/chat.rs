//! The chat server: `cargo run -p socketio-tokio --bin chat`, then open
//! <http://127.0.0.1:3000/> in two browser windows.
//!
//! Options: `--port N` (3000), `--host ADDR` (127.0.0.1), `--parser text|msgpack` (text; with
//! msgpack the page gets the client bundle built with `socket.io-msgpack-parser`),
//! `--redis redis://HOST:PORT [--adapter classic|sharded|streams]` (join other chat servers,
//! Rust or Node.js, through Redis with the classic, sharded or streams adapter: run two with
//! different ports on one Redis and their users meet). The page uses the official browser
//! client: served from the npm package when it is installed
//! (`npm ci --prefix socketio-tokio/interop`, or `SOCKET_IO_CLIENT_JS=/path/socket.io.min.js`),
//! otherwise loaded from the public CDN. The start-up message says which.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use socketio_proto::Parser;
use socketio_tokio::apps::chat::Chat;
use socketio_tokio::cluster::{self, RedisOptions};
use socketio_tokio::server::{self, Options};
use socketio_tokio::socketio::{EndpointConfig, SocketIo};

const CDN: &str = "https://cdn.socket.io/4.8.4/";
const INDEX: &str = include_str!("../../static/index.html");
const SCRIPT: &str = include_str!("../../static/chat.js");
const STYLE: &str = include_str!("../../static/chat.css");

/// Where the official client bundle `name` may be: the environment, then the interop npm
/// folder.
fn local_bundle(name: &str) -> Option<(PathBuf, Bytes)> {
    let candidates = std::env::var_os("SOCKET_IO_CLIENT_JS")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("interop/node_modules/socket.io-client/dist")
                .join(name),
            PathBuf::from("node_modules/socket.io-client/dist").join(name),
        ]);
    for path in candidates {
        if let Ok(bytes) = std::fs::read(&path) {
            return Some((path, bytes.into()));
        }
    }
    None
}

fn file(content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut port = 3000u16;
    let mut host = String::from("127.0.0.1");
    let mut config = EndpointConfig::default();
    let mut redis: Option<RedisOptions> = None;
    let mut adapter = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(value)) => port = value.parse().map_err(std::io::Error::other)?,
            ("--host", Some(value)) => host = value,
            ("--redis", Some(url)) => redis = Some(RedisOptions::new(&url)),
            ("--adapter", Some(name)) => {
                adapter = Some(cluster::parse_mode(&name).map_err(std::io::Error::other)?)
            }
            ("--parser", Some(value)) if value == "text" => config.connection.parser = Parser::Text,
            ("--parser", Some(value)) if value == "msgpack" => {
                config.connection.parser = Parser::Msgpack
            }
            _ => {
                return Err(std::io::Error::other(
                    "usage: chat [--port N] [--host ADDR] [--parser text|msgpack] \
                     [--redis redis://HOST:PORT [--adapter classic|sharded|streams]]",
                ));
            }
        }
    }
    if let (Some(redis), Some(adapter)) = (redis.as_mut(), adapter) {
        redis.mode = adapter;
    }
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(std::io::Error::other)?;

    let bundle_name = match config.connection.parser {
        Parser::Text => "socket.io.min.js",
        Parser::Msgpack => "socket.io.msgpack.min.js",
    };
    let bundle = local_bundle(bundle_name);
    let src = if bundle.is_some() {
        "/socket.io.min.js".to_owned()
    } else {
        format!("{CDN}{bundle_name}")
    };
    let index = Bytes::from(INDEX.replace("{{SOCKET_IO_CLIENT_SRC}}", &src));
    let bundle_bytes = bundle.as_ref().map(|(_, bytes)| bytes.clone());
    let fallback =
        Arc::new(
            move |req: &hyper::Request<hyper::body::Incoming>| match req.uri().path() {
                "/" | "/index.html" => file("text/html; charset=utf-8", index.clone()),
                "/chat.js" => file(
                    "text/javascript; charset=utf-8",
                    Bytes::from_static(SCRIPT.as_bytes()),
                ),
                "/chat.css" => file(
                    "text/css; charset=utf-8",
                    Bytes::from_static(STYLE.as_bytes()),
                ),
                "/socket.io.min.js" if bundle_bytes.is_some() => file(
                    "text/javascript; charset=utf-8",
                    bundle_bytes.clone().unwrap_or_default(),
                ),
                _ => {
                    let mut response = Response::new(Full::new(Bytes::from_static(b"not found")));
                    *response.status_mut() = StatusCode::NOT_FOUND;
                    response
                }
            },
        );
    let options = Options {
        fallback: Some(fallback),
        ..Options::new("/socket.io/")
    };
    let app = SocketIo::new(Chat::default(), config);
    let server = match &redis {
        Some(redis) => {
            let (cluster, messages) = cluster::start(redis).map_err(std::io::Error::other)?;
            server::serve_with_external(addr, options, app.with_cluster(cluster), Some(messages))
                .await?
        }
        None => server::serve(addr, options, app).await?,
    };
    println!("chat server listening on http://{}/", server.local_addr());
    match &bundle {
        Some((path, _)) => println!(
            "socket.io-client: serving the local npm package {} (works offline)",
            path.display()
        ),
        None => println!(
            "socket.io-client: no local npm package found; the page loads it from the CDN {src} \
             (needs internet; `npm ci --prefix socketio-tokio/interop` makes it work offline)"
        ),
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
