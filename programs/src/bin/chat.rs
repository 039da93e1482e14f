//! The chat server: `cargo run --release -p socketio-programs --bin chat`, then open
//! <http://127.0.0.1:3000/> in two browser windows. An axum app with Socket.IO mounted as a
//! layer, as a user would write it.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use socketio_postgres::{PostgresAdapter, PostgresAdapterOptions};
use socketio_programs::apps::chat;
use socketio_programs::cli::Args;
use socketio_redis::{Mode, RedisAdapter, RedisOptions};
use socketio_tokio::{Parser, SocketIo};

const USAGE: &str = "usage: chat [--port N] [--host ADDR] [--parser text|msgpack] \
[--redis redis://HOST:PORT [--adapter classic|sharded|streams] | --postgres URL]

The chat server on http://127.0.0.1:3000/ (rooms, nicknames, typing notices, images as
binary), whose page runs the official Socket.IO browser client: served from the local npm
package when it is installed (`npm ci --prefix programs/interop`, or
SOCKET_IO_CLIENT_JS=/path/socket.io.min.js), otherwise loaded from the public CDN.

  --port N          the port (3000)
  --host ADDR       the address (127.0.0.1)
  --parser FORMAT   text (default) or msgpack (socket.io-msgpack-parser)
  --redis URL       join other chat servers, Rust or Node.js, through Redis
  --adapter NAME    classic (default), sharded or streams
  --postgres URL    join other chat servers through PostgreSQL (postgres://USER@HOST/DB;
                    @socket.io/postgres-adapter's wire)";

const CDN: &str = "https://cdn.socket.io/4.8.4/";
const INDEX: &str = include_str!("../../static/index.html");
const SCRIPT: &str = include_str!("../../static/chat.js");
const STYLE: &str = include_str!("../../static/chat.css");

/// Where the official client bundle `name` may be: the environment, then the interop npm
/// folder.
fn local_bundle(name: &str) -> Option<(PathBuf, Vec<u8>)> {
    let candidates = std::env::var_os("SOCKET_IO_CLIENT_JS")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("interop/node_modules/socket.io-client/dist")
                .join(name),
            PathBuf::from("node_modules/socket.io-client/dist").join(name),
        ]);
    candidates
        .into_iter()
        .find_map(|path| std::fs::read(&path).ok().map(|bytes| (path, bytes)))
}

fn file(content_type: &'static str, body: impl Into<axum::body::Body>) -> axum::response::Response {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body.into(),
    )
        .into_response()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = Args::new(USAGE);
    let (mut port, mut host) = (3000u16, "127.0.0.1".to_owned());
    let (mut parser, mut redis, mut mode) = (Parser::Text, None::<String>, Mode::Classic);
    let mut postgres = None::<String>;
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--port" => port = args.value("--port"),
            "--host" => host = args.value("--host"),
            "--redis" => redis = Some(args.value("--redis")),
            "--postgres" => postgres = Some(args.value("--postgres")),
            "--adapter" => mode = args.value("--adapter"),
            "--parser" => match args.value::<String>("--parser").as_str() {
                "text" => parser = Parser::Text,
                "msgpack" => parser = Parser::Msgpack,
                other => args.fail(&format!("unknown parser {other:?}")),
            },
            other => args.fail(&format!("unknown flag {other:?}")),
        }
    }
    let addr: SocketAddr = match format!("{host}:{port}").parse() {
        Ok(addr) => addr,
        Err(err) => args.fail(&format!("bad address {host}:{port}: {err}")),
    };

    let mut builder = SocketIo::builder().parser(parser);
    if let Some(url) = redis {
        let options = RedisOptions {
            mode,
            ..RedisOptions::new(&url)
        };
        builder = builder.cluster(RedisAdapter::new(options).map_err(std::io::Error::other)?);
    } else if let Some(url) = postgres {
        let options = PostgresAdapterOptions::new(&url);
        let adapter = PostgresAdapter::new(options).map_err(std::io::Error::other)?;
        builder = builder.cluster(adapter);
    }
    let (layer, io) = builder.build_layer();
    chat::install(&io);

    let bundle_name = match parser {
        Parser::Text => "socket.io.min.js",
        Parser::Msgpack => "socket.io.msgpack.min.js",
    };
    let bundle = local_bundle(bundle_name);
    let src = match bundle {
        Some(_) => "/socket.io.min.js".to_owned(),
        None => format!("{CDN}{bundle_name}"),
    };
    let index = INDEX.replace("{{SOCKET_IO_CLIENT_SRC}}", &src);
    let mut app = Router::new()
        .route(
            "/",
            get(move || async move { file("text/html; charset=utf-8", index) }),
        )
        .route(
            "/chat.js",
            get(|| async { file("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/chat.css",
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        );
    let client = match &bundle {
        Some((path, bytes)) => {
            let bytes = bytes.clone();
            app = app.route(
                "/socket.io.min.js",
                get(move || async move { file("text/javascript; charset=utf-8", bytes) }),
            );
            format!(
                "serving the local npm package {} (works offline)",
                path.display()
            )
        }
        None => format!(
            "no local npm package found; the page loads it from the CDN {src} (needs internet; \
             `npm ci --prefix programs/interop` makes it work offline)"
        ),
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "chat server listening on http://{}/",
        listener.local_addr()?
    );
    println!("socket.io-client: {client}");
    axum::serve(listener, app.layer(layer))
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            io.close().await;
        })
        .await
}
