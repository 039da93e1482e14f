//! The load benchmark: our server, socketioxide and the official Node.js server, side by side
//! under one load generator that speaks the raw Engine.IO/Socket.IO protocol over WebSocket
//! and long-polling on loopback.
//!
//! ```sh
//! cargo build --release -p socketio-programs --bin conformance-server
//! npm ci --prefix programs/interop          # the Node.js server (socket.io 4.8.4)
//! cargo run --release -p socketio-sansio-benches --example load | tee target/load.txt
//! cargo run -p socketio-sansio-benches --example report -- target/load.txt   # the README table
//! ```
//!
//! Every server runs the interop app (`programs/src/apps/interop.rs`; the same contract in
//! `interop/reference-server.mjs` and, for the rows measured here, in [`serve_socketioxide`]),
//! with pingInterval 25 s, pingTimeout 20 s and recovery off. Scenarios, each bounded in time:
//!
//! * **echo**: 100 WebSocket clients, each with one `message-with-ack` in flight at a time;
//!   acks per second, p50/p99 round trip, server CPU per 1 000 acks.
//! * **fan-out**: 1 000 clients; one of them sends 1 000 `to-all` broadcasts, at most 10 in
//!   flight (it waits for its own copy); deliveries per second and server CPU per delivery.
//! * **burst**: the same 1 000 broadcasts sent at once; deliveries missing 10 s after the last
//!   one arrived.
//! * **heartbeat**: 1 000 clients answering pings on a server with the conformance suites'
//!   heartbeat (300/200 ms), and a burst of 100 broadcasts at once (100 000 deliveries): how
//!   many healthy clients were dropped. (With 1 000 broadcasts this load generator, on the
//!   same two cores, cannot answer its own pings in 200 ms, whichever the server.)
//! * **idle memory**: the server's RSS growth per idle WebSocket client (joined to `/`) and per
//!   idle long-polling client (joined, a GET parked), over 2 000 clients, each on a fresh
//!   server process.
//! * **connections per second**: 50 workers that each open a WebSocket, join `/` and close,
//!   again and again, each connection from another of 250 loopback source addresses; and the
//!   server's CPU per connection.
//! * **cluster** (ours and node only; needs `redis-server`): two nodes of the same server on one
//!   Redis (the classic adapter; `cluster-sharded` and `cluster-streams` run the same with the
//!   sharded and the streams adapter), 500 clients on each. Latency: a client of node A sends 200
//!   `to-all` broadcasts one at a time, each when the last reached a client of node B (p50/p99
//!   of send to arrival there). Throughput: it then sends 1 000, at most 10 in flight;
//!   deliveries per second over both nodes, and node B's CPU per broadcast it received from
//!   Redis. `cluster-postgres` runs the same through PostgreSQL (`@socket.io/postgres-adapter`
//!   0.5 on the Node.js nodes), on the database of `--postgres URL` (skipped without).
//!
//! Rounds are interleaved (server A, B, C, then again) and the median is reported. Options:
//! `--rounds N` (3), `--seconds N` (5, per timed scenario), `--servers ours,ours-1,ours-admin,ours-admin-watched,ours-axum,socketioxide,socketioxide-axum,node`
//! (`ours` runs on 2 shards, `--threads 2`; `ours-1` on one, for the scaling row;
//! `ours-axum` and `socketioxide-axum` are each server's tower layer inside an axum 0.8
//! router, the way an application mounts it, served by this program; `ours-admin` is `ours-1`
//! instrumented for the Admin UI in development mode, with nobody watching;
//! `ours-admin-watched` the same with an admin connected to `/admin` all along, reading
//! every report, for the cost of watching), `--only
//! idle,echo,fanout,burst,heartbeat,connect,cluster,cluster-sharded,cluster-streams,cluster-postgres`
//! (a subset
//! of the scenarios), `--ours PATH` (the
//! `conformance-server` binary, `target/release/conformance-server`), `--idle N` (2 000; with a
//! raised file-descriptor limit, 100 000 works: the benchmark raises its own soft limit to the
//! hard one and spreads clients over several loopback source addresses).
//!
//! Output: one `load <scenario> <server> <value>` line per measurement (for the report
//! example), then a Markdown table.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{WebSocketStream, client_async};

type Ws = WebSocketStream<TcpStream>;

const PING_INTERVAL_MS: &str = "25000";
const PING_TIMEOUT_MS: &str = "20000";
/// Broadcasts timed one at a time in the cluster scenario.
const LATENCY_SAMPLES: usize = 200;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-socketioxide") {
        let arg = |k: usize, default: u64| {
            args.get(i + k)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let heartbeat = (
            Duration::from_millis(arg(2, 25_000)),
            Duration::from_millis(arg(3, 20_000)),
        );
        return serve_socketioxide(arg(1, 0) as u16, heartbeat);
    }
    if let Some(i) = args.iter().position(|a| a == "--serve-axum") {
        let arg = |k: usize, default: u64| {
            args.get(i + k)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let heartbeat = (
            Duration::from_millis(arg(3, 25_000)),
            Duration::from_millis(arg(4, 20_000)),
        );
        let which = args.get(i + 1).cloned().unwrap_or_default();
        return serve_axum(&which, arg(2, 0) as u16, heartbeat);
    }
    let rounds: usize = flag(&args, "--rounds").map_or(3, |v| v.parse().unwrap_or(3));
    let seconds: u64 = flag(&args, "--seconds").map_or(5, |v| v.parse().unwrap_or(5));
    let idle: usize = flag(&args, "--idle").map_or(2000, |v| v.parse().unwrap_or(2000));
    let servers: Vec<String> = flag(&args, "--servers")
        .unwrap_or_else(|| {
            "ours,ours-1,ours-admin,ours-admin-watched,ours-axum,socketioxide,socketioxide-axum,node"
                .into()
        })
        .split(',')
        .map(str::to_owned)
        .collect();
    let ours = flag(&args, "--ours").unwrap_or_else(|| "target/release/conformance-server".into());
    let only: Option<Vec<String>> =
        flag(&args, "--only").map(|v| v.split(',').map(str::to_owned).collect());
    raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let config = Config {
        seconds: Duration::from_secs(seconds),
        idle,
        ours,
        only,
        postgres: flag(&args, "--postgres"),
    };
    let mut results: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    runtime.block_on(async {
        for round in 0..rounds {
            for server in &servers {
                eprintln!("round {} of {rounds}: {server}", round + 1);
                match run_server(server, &config).await {
                    Ok(measured) => {
                        for (scenario, value) in measured {
                            println!("load {scenario} {server} {value}");
                            results
                                .entry((scenario, server.clone()))
                                .or_default()
                                .push(value);
                        }
                    }
                    Err(e) => eprintln!("  {server}: {e}"),
                }
            }
        }
    });
    print_table(&results, &servers);
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

struct Config {
    seconds: Duration,
    idle: usize,
    ours: String,
    /// Run only these scenarios (`idle`, `echo`, `fanout`, `burst`, `connect`).
    only: Option<Vec<String>>,
    /// A PostgreSQL database for the `cluster-postgres` scenario (`--postgres URL`).
    postgres: Option<String>,
}

impl Config {
    fn runs(&self, scenario: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|s| s == scenario))
    }
}

/// A server process under test.
struct Server {
    child: Child,
    addr: SocketAddr,
    pid: u32,
    /// The admin of `ours-admin-watched`, reading every report while the server runs.
    watcher: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(watcher) = &self.watcher {
            watcher.abort();
        }
        let _ = self.child.start_kill();
    }
}

async fn start(name: &str, config: &Config) -> Result<Server, String> {
    start_with(name, config, (PING_INTERVAL_MS, PING_TIMEOUT_MS), None).await
}

/// Starts a server with this heartbeat (interval, timeout in ms).
async fn start_with(
    name: &str,
    config: &Config,
    (interval, timeout): (&str, &str),
    redis: Option<(&str, &str)>,
) -> Result<Server, String> {
    let mut command = match name {
        "ours" | "ours-1" | "ours-admin" | "ours-admin-watched" => {
            let mut c = Command::new(&config.ours);
            let threads = if name == "ours" { "2" } else { "1" };
            c.args(["--mode", "sio", "--port", "0", "--threads", threads]);
            c.args(["--ping-interval-ms", interval, "--ping-timeout-ms", timeout]);
            if name.starts_with("ours-admin") {
                // The Admin UI in development mode: every socket, room and event reported.
                c.arg("--admin-ui");
            }
            c
        }
        "socketioxide" => {
            let mut c = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
            c.args(["--serve-socketioxide", "0", interval, timeout]);
            c
        }
        "ours-axum" | "socketioxide-axum" => {
            let mut c = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
            let which = name.trim_end_matches("-axum");
            c.args(["--serve-axum", which, "0", interval, timeout]);
            c
        }
        "node" => {
            let mut c = Command::new("node");
            c.arg("programs/interop/reference-server.mjs");
            c.args(["--port", "0", "--ping-interval", interval]);
            c.args(["--ping-timeout", timeout]);
            c
        }
        other => return Err(format!("unknown server {other}")),
    };
    match redis {
        Some((url, "postgres")) => {
            command.args(["--postgres", url]);
        }
        Some((url, adapter)) => {
            command.args(["--redis", url, "--adapter", adapter]);
        }
        None => {}
    }
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let pid = child.id().ok_or("no pid")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .map_err(|_| format!("{name} did not start"))?
        .map_err(|e| e.to_string())?
        .ok_or(format!("{name} exited"))?;
    // `listening on http://ADDR …` (ours, socketioxide) or `LISTENING <port>` (node).
    let addr = if let Some(rest) = line.strip_prefix("LISTENING ") {
        SocketAddr::from((
            [127, 0, 0, 1],
            rest.trim().parse::<u16>().map_err(|e| e.to_string())?,
        ))
    } else {
        line.split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .ok_or(format!("unexpected line {line:?}"))?
            .trim_end_matches('/')
            .parse()
            .map_err(|e| format!("{e}: {line:?}"))?
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let watcher = if name == "ours-admin-watched" {
        // As the Admin UI does: joins `/admin` (no auth configured) and reads what comes.
        let mut admin = join_namespace(addr, 1, "/admin").await?;
        Some(tokio::spawn(async move {
            while next_text(&mut admin).await.is_ok() {}
        }))
    } else {
        None
    };
    Ok(Server {
        child,
        addr,
        pid,
        watcher,
    })
}

/// Runs every scenario; each memory reading on a fresh server process, so that what earlier
/// scenarios left in the allocator does not hide the growth.
async fn run_server(name: &str, config: &Config) -> Result<Vec<(String, f64)>, String> {
    let mut out = Vec::new();
    if config.runs("idle") {
        let server = start(name, config).await?;
        out.push((
            "idle_ws_kib".into(),
            idle_websockets(&server, config.idle).await?,
        ));
        drop(server);
        let server = start(name, config).await?;
        let per_poll = idle_polling(&server, config.idle.min(2000)).await?;
        out.push(("idle_polling_kib".into(), per_poll));
    }
    let server = start(name, config).await?;
    if config.runs("echo") {
        let echo = echo(&server, config.seconds).await?;
        out.extend([
            ("echo_acks_per_s".into(), echo.per_second),
            ("echo_cpu_ms_per_1000".into(), echo.cpu_per_1000_ms),
            ("echo_p50_us".into(), echo.p50_us),
            ("echo_p99_us".into(), echo.p99_us),
        ]);
    }
    if config.runs("fanout") {
        let fanout = fan_out(&server, 1000, 1000, 10).await?;
        out.extend([
            ("fanout_deliveries_per_s".into(), fanout.per_second),
            (
                "fanout_cpu_us_per_delivery".into(),
                fanout.cpu_per_delivery_us,
            ),
        ]);
    }
    if config.runs("burst") {
        out.push((
            "burst_lost_percent".into(),
            burst(&server, 1000, 1000).await?.lost_percent,
        ));
    }
    if config.runs("heartbeat") {
        let server = start_with(name, config, ("300", "200"), None).await?;
        let burst = burst(&server, 1000, 100).await?;
        out.push(("heartbeat_burst_dropped".into(), burst.dropped as f64));
    }
    if config.runs("connect") {
        let cpu0 = cpu_time(server.pid);
        let (cps, opened) = connections_per_second(&server, config.seconds).await?;
        let cpu = cpu_time(server.pid).saturating_sub(cpu0);
        out.push(("connections_per_s".into(), cps));
        let per_connection = cpu.as_secs_f64() * 1e6 / opened.max(1) as f64;
        out.push(("connect_cpu_us".into(), per_connection));
    }
    for (scenario, adapter, prefix) in [
        ("cluster", "classic", "cluster"),
        ("cluster-sharded", "sharded", "cluster_sharded"),
        ("cluster-streams", "streams", "cluster_streams"),
        ("cluster-postgres", "postgres", "cluster_postgres"),
    ] {
        if adapter == "postgres" && config.postgres.is_none() {
            continue;
        }
        if config.runs(scenario) && matches!(name, "ours" | "node") {
            let cluster = cluster(name, config, adapter, 500, 1000, 10).await?;
            out.extend([
                (format!("{prefix}_p50_us"), cluster.p50_us),
                (format!("{prefix}_p99_us"), cluster.p99_us),
                (format!("{prefix}_deliveries_per_s"), cluster.per_second),
                (
                    format!("{prefix}_cpu_us_per_broadcast"),
                    cluster.cpu_per_broadcast_us,
                ),
            ]);
        }
    }
    out.push(("rss_end_mib".into(), rss_kib(server.pid) as f64 / 1024.0));
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The raw client
// ---------------------------------------------------------------------------------------------

/// Opens a WebSocket session, joins `/`, and returns it. `source` picks a loopback source
/// address (127.0.0.x), so that more than one port range of clients fits.
async fn join(addr: SocketAddr, source: u8) -> Result<Ws, String> {
    join_namespace(addr, source, "/").await
}

/// [`join`] for any namespace.
async fn join_namespace(addr: SocketAddr, source: u8, namespace: &str) -> Result<Ws, String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::from(([127, 0, 0, source.max(1)], 0)))
        .map_err(|e| e.to_string())?;
    let stream = socket.connect(addr).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = client_async(url, stream).await.map_err(|e| e.to_string())?;
    let open = next_text(&mut ws).await?;
    if !open.starts_with('0') {
        return Err(format!("no open packet: {open}"));
    }
    let connect = if namespace == "/" {
        "40".to_owned()
    } else {
        format!("40{namespace},")
    };
    ws.send(Message::text(connect.as_str()))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let reply = next_text(&mut ws).await?;
        if reply.starts_with(&connect) {
            return Ok(ws);
        }
        if reply.starts_with("44") {
            return Err(format!("refused by {namespace}: {reply}"));
        }
    }
}

/// The next text frame that is not a ping (pings are answered).
async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .map_err(|_| "no frame in 30 s".to_owned())?
            .ok_or("closed")?
            .map_err(|e| e.to_string())?;
        if let Message::Text(text) = message {
            if text.as_str() == "2" {
                ws.send(Message::text("3"))
                    .await
                    .map_err(|e| e.to_string())?;
                continue;
            }
            return Ok(text.as_str().to_owned());
        }
    }
}

/// Server CPU time so far (user + system), from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Resident memory in KiB, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

struct Echo {
    per_second: f64,
    cpu_per_1000_ms: f64,
    p50_us: f64,
    p99_us: f64,
}

async fn echo(server: &Server, duration: Duration) -> Result<Echo, String> {
    let mut clients = Vec::new();
    for i in 0..100 {
        clients.push(join(server.addr, 1 + (i % 4) as u8).await?);
    }
    // One second of warm-up, then the measured run.
    let warm = Instant::now() + Duration::from_secs(1);
    let end = warm + duration;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut id = 0u64;
                while Instant::now() < end {
                    id += 1;
                    let sent = Instant::now();
                    let text = format!("42{id}[\"message-with-ack\",\"hello\"]");
                    if ws.send(Message::text(text)).await.is_err() {
                        break;
                    }
                    let want = format!("43{id}[");
                    loop {
                        match next_text(&mut ws).await {
                            Ok(t) if t.starts_with(&want) => break,
                            Ok(_) => continue,
                            Err(_) => return latencies,
                        }
                    }
                    if sent >= warm {
                        latencies.push(sent.elapsed().as_micros() as u32);
                    }
                }
                let _ = ws.close(None).await;
                latencies
            })
        })
        .collect();
    tokio::time::sleep_until(warm.into()).await;
    let cpu0 = cpu_time(server.pid);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap_or_default());
    }
    let cpu = cpu_time(server.pid).saturating_sub(cpu0);
    latencies.sort_unstable();
    let n = latencies.len().max(1);
    let pick = |q: f64| {
        f64::from(
            latencies
                .get(((n as f64 * q) as usize).min(n - 1))
                .copied()
                .unwrap_or(0),
        )
    };
    Ok(Echo {
        per_second: latencies.len() as f64 / duration.as_secs_f64(),
        cpu_per_1000_ms: cpu.as_secs_f64() * 1000.0 / (n as f64 / 1000.0),
        p50_us: pick(0.5),
        p99_us: pick(0.99),
    })
}

struct FanOut {
    per_second: f64,
    cpu_per_delivery_us: f64,
}

/// `clients` joined; the first sends `broadcasts` `to-all` events, `window` in flight.
async fn fan_out(
    server: &Server,
    clients: usize,
    broadcasts: usize,
    window: usize,
) -> Result<FanOut, String> {
    let (sockets, received) = receivers(server, clients).await?;
    let mut sockets = sockets.into_iter();
    let mut sender = sockets.next().ok_or("no client")?;
    let others: Vec<_> = sockets
        .map(|ws| count_deliveries(ws, received.clone(), None))
        .collect();
    let cpu0 = cpu_time(server.pid);
    let start = Instant::now();
    let own = send_to_all(&mut sender, broadcasts, window).await?;
    let expected = ((clients - 1) * broadcasts) as u64;
    wait_for(&received, expected, Duration::from_secs(30)).await;
    let elapsed = start.elapsed();
    let cpu = cpu_time(server.pid).saturating_sub(cpu0);
    let delivered = received.load(Ordering::Relaxed) + own as u64;
    for task in others {
        task.abort();
    }
    Ok(FanOut {
        per_second: delivered as f64 / elapsed.as_secs_f64(),
        cpu_per_delivery_us: cpu.as_secs_f64() * 1e6 / delivered.max(1) as f64,
    })
}

struct Cluster {
    p50_us: f64,
    p99_us: f64,
    per_second: f64,
    cpu_per_broadcast_us: f64,
}

/// A `redis-server` on a free loopback port, stopped when dropped.
async fn redis() -> Result<(Child, String), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("redis-server: {e}"))?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("Ready to accept connections") {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((child, format!("redis://127.0.0.1:{port}")));
        }
    }
    Err("redis-server did not start".into())
}

/// Two nodes of `name` on one Redis with `adapter`, `per_node` clients each; a client of node
/// A sends `broadcasts` `to-all` events numbered from 0, `window` in flight.
async fn cluster(
    name: &str,
    config: &Config,
    adapter: &str,
    per_node: usize,
    broadcasts: usize,
    window: usize,
) -> Result<Cluster, String> {
    let heartbeat = (PING_INTERVAL_MS, PING_TIMEOUT_MS);
    let (_redis, a, b) = if adapter == "postgres" {
        let url = config
            .postgres
            .clone()
            .ok_or("the postgres scenario needs --postgres URL")?;
        let a = start_with(name, config, heartbeat, Some((&url, adapter))).await?;
        let b = start_with(name, config, heartbeat, Some((&url, adapter))).await?;
        (None, a, b)
    } else {
        let (redis, url) = redis().await?;
        let a = start_with(name, config, heartbeat, Some((&url, adapter))).await?;
        let b = start_with(name, config, heartbeat, Some((&url, adapter))).await?;
        (Some(redis), a, b)
    };
    let (on_a, received) = receivers(&a, per_node).await?;
    let mut on_b = Vec::with_capacity(per_node);
    for i in 0..per_node {
        on_b.push(join(b.addr, 1 + (i % 4) as u8).await?);
    }
    settle().await;
    let mut on_a = on_a.into_iter();
    let mut sender = on_a.next().ok_or("no client")?;
    let mut on_b = on_b.into_iter();
    // One client of B timestamps every arrival; the others count.
    let mut probe = on_b.next().ok_or("no client")?;
    let counters: Vec<_> = on_a
        .chain(on_b)
        .map(|ws| count_deliveries(ws, received.clone(), None))
        .collect();
    // Latency, one broadcast at a time: the next goes when the probe on B has the last.
    let mut latencies = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let sent = Instant::now();
        sender
            .send(Message::text(format!("42[\"to-all\",\"probe{i}\"]")))
            .await
            .map_err(|e| e.to_string())?;
        let expected = format!("42[\"all-message\",\"probe{i}\"]");
        loop {
            let text = tokio::time::timeout(Duration::from_secs(10), next_text(&mut probe))
                .await
                .map_err(|_| "a broadcast never reached node B")??;
            if text == expected {
                break;
            }
        }
        latencies.push(sent.elapsed().as_secs_f64() * 1e6);
    }
    let probe_task = tokio::spawn(async move {
        let mut got = 0usize;
        while got < broadcasts {
            let Ok(text) = next_text(&mut probe).await else {
                break;
            };
            if text.starts_with("42[\"all-message\",") && !text.contains("probe") {
                got += 1;
            }
        }
        got
    });
    // The latency phase's copies, and the sender's own, are not part of the throughput phase.
    let own_probes = LATENCY_SAMPLES;
    let mut skipped = 0;
    while skipped < own_probes {
        if next_text(&mut sender)
            .await?
            .starts_with("42[\"all-message\"")
        {
            skipped += 1;
        }
    }
    wait_for(
        &received,
        ((2 * per_node - 2) * LATENCY_SAMPLES) as u64,
        Duration::from_secs(30),
    )
    .await;
    received.store(0, Ordering::Relaxed);
    let cpu0 = cpu_time(b.pid);
    let start = Instant::now();
    let own = send_to_all(&mut sender, broadcasts, window).await?;
    let probed = tokio::time::timeout(Duration::from_secs(30), probe_task)
        .await
        .map_err(|_| "the probe client missed broadcasts")?
        .map_err(|e| e.to_string())?;
    // The probe is one of B's clients; the counters hold the others.
    let expected = ((2 * per_node - 2) * broadcasts) as u64;
    wait_for(&received, expected, Duration::from_secs(30)).await;
    let elapsed = start.elapsed();
    let cpu = cpu_time(b.pid).saturating_sub(cpu0);
    let delivered = received.load(Ordering::Relaxed) + (own + probed) as u64;
    for task in counters {
        task.abort();
    }
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok(Cluster {
        p50_us: percentile(0.5),
        p99_us: percentile(0.99),
        per_second: delivered as f64 / elapsed.as_secs_f64(),
        cpu_per_broadcast_us: cpu.as_secs_f64() * 1e6 / broadcasts as f64,
    })
}

/// Sends `broadcasts` `to-all` events numbered from 0, at most `window` in flight (the
/// sender's own copy ends a flight), and returns once every own copy arrived.
async fn send_to_all(sender: &mut Ws, broadcasts: usize, window: usize) -> Result<usize, String> {
    let mut own = 0usize;
    for i in 0..broadcasts {
        sender
            .send(Message::text(format!("42[\"to-all\",{i}]")))
            .await
            .map_err(|e| e.to_string())?;
        while i + 1 - own > window {
            if next_text(sender).await?.starts_with("42[\"all-message\"") {
                own += 1;
            }
        }
    }
    while own < broadcasts {
        if next_text(sender).await?.starts_with("42[\"all-message\"") {
            own += 1;
        }
    }
    Ok(own)
}

/// What a burst did: the deliveries that never arrived, and the clients the server dropped.
struct Burst {
    lost_percent: f64,
    dropped: u64,
}

/// `broadcasts` `to-all` events sent at once to `clients`, every client answering pings:
/// deliveries never made, and clients dropped (with a fast heartbeat, a ping waiting behind the
/// data, or a pong behind the burst, would time a healthy client out).
async fn burst(server: &Server, clients: usize, broadcasts: usize) -> Result<Burst, String> {
    let (sockets, received) = receivers(server, clients).await?;
    let dropped = Arc::new(AtomicU64::new(0));
    let mut sockets = sockets.into_iter();
    let mut sender = sockets.next().ok_or("no client")?;
    let others: Vec<_> = sockets
        .map(|ws| count_deliveries(ws, received.clone(), Some(dropped.clone())))
        .collect();
    for i in 0..broadcasts {
        sender
            .feed(Message::text(format!("42[\"to-all\",{i}]")))
            .await
            .map_err(|e| e.to_string())?;
    }
    sender.flush().await.map_err(|e| e.to_string())?;
    // The sender reads (and answers pings) while the others count.
    let mut own = 0u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while own < broadcasts as u64 && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(10), next_text(&mut sender)).await {
            Ok(Ok(t)) if t.starts_with("42[\"all-message\"") => own += 1,
            Ok(Ok(_)) => {}
            _ => break,
        }
    }
    let expected = ((clients - 1) * broadcasts) as u64;
    wait_for(&received, expected, Duration::from_secs(30)).await;
    // A few more heartbeats, so that a late drop shows too.
    let keep_alive = Instant::now() + Duration::from_secs(2);
    while Instant::now() < keep_alive {
        let read = tokio::time::timeout(Duration::from_millis(200), next_text(&mut sender)).await;
        if matches!(read, Ok(Err(_))) {
            dropped.fetch_add(1, Ordering::Relaxed);
            break;
        }
    }
    let delivered = received.load(Ordering::Relaxed) + own;
    for task in others {
        task.abort();
    }
    let total = (clients * broadcasts) as f64;
    Ok(Burst {
        lost_percent: 100.0 * (total - delivered as f64) / total,
        dropped: dropped.load(Ordering::Relaxed),
    })
}

/// Waits until `counter` reaches `expected`, or no progress for 10 s, or `limit`.
async fn wait_for(counter: &AtomicU64, expected: u64, limit: Duration) {
    let end = Instant::now() + limit;
    let mut last = (counter.load(Ordering::Relaxed), Instant::now());
    while Instant::now() < end {
        let now = counter.load(Ordering::Relaxed);
        if now >= expected {
            return;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(10) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn receivers(server: &Server, n: usize) -> Result<(Vec<Ws>, Arc<AtomicU64>), String> {
    let mut sockets = Vec::with_capacity(n);
    for i in 0..n {
        sockets.push(join(server.addr, 1 + (i % 4) as u8).await?);
    }
    Ok((sockets, Arc::new(AtomicU64::new(0))))
}

fn count_deliveries(
    mut ws: Ws,
    received: Arc<AtomicU64>,
    dropped: Option<Arc<AtomicU64>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok(text) = next_text(&mut ws).await {
            if text.starts_with("42[\"all-message\"") {
                received.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(dropped) = dropped {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    })
}

/// The server's RSS growth per idle WebSocket client, in KiB.
async fn idle_websockets(server: &Server, n: usize) -> Result<f64, String> {
    settle().await;
    let before = rss_kib(server.pid);
    let mut sockets = Vec::with_capacity(n);
    for i in 0..n {
        // Spread over 127.0.0.1–.8: one source address has ~28 000 ephemeral ports.
        sockets.push(join(server.addr, 1 + (i % 8) as u8).await?);
    }
    settle().await;
    let after = rss_kib(server.pid);
    drop(sockets);
    Ok(after.saturating_sub(before) as f64 / n as f64)
}

/// The server's RSS growth per idle long-polling client (joined, a GET parked), in KiB.
async fn idle_polling(server: &Server, n: usize) -> Result<f64, String> {
    settle().await;
    let before = rss_kib(server.pid);
    let mut parked = Vec::with_capacity(n);
    for _ in 0..n {
        parked.push(polling_client(server.addr).await?);
    }
    settle().await;
    let after = rss_kib(server.pid);
    drop(parked);
    Ok(after.saturating_sub(before) as f64 / n as f64)
}

/// Handshake, join `/`, read the CONNECT reply, then park a GET; returns its connection.
async fn polling_client(addr: SocketAddr) -> Result<TcpStream, String> {
    let (_, body) = http(addr, "GET", "EIO=4&transport=polling", b"").await?;
    let sid = body
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .ok_or(format!("no sid in {body}"))?
        .to_owned();
    let query = format!("EIO=4&transport=polling&sid={sid}");
    let (status, _) = http(addr, "POST", &query, b"40").await?;
    if status != 200 {
        return Err(format!("POST 40: {status}"));
    }
    // The CONNECT reply may come after a ping or a noop.
    let mut joined = false;
    for _ in 0..5 {
        let (_, reply) = http(addr, "GET", &query, b"").await?;
        if reply.contains("40") {
            joined = true;
            break;
        }
        if reply.contains('2') {
            http(addr, "POST", &query, b"3").await?;
        }
    }
    if !joined {
        return Err("no CONNECT reply".into());
    }
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let request = format!("GET /socket.io/?{query} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// One request on its own connection: (status, body).
async fn http(
    addr: SocketAddr,
    method: &str,
    query: &str,
    body: &[u8],
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let head = format!(
        "{method} /socket.io/?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream.write_all(body).await.map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .map_err(|_| "no response in 10 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // Chunked bodies (Node) hold the payload between size lines; the sid search copes.
    Ok((status, body.to_owned()))
}

/// Workers that open a WebSocket, join `/` and close, for `duration`.
/// Connections opened per second, and how many.
async fn connections_per_second(server: &Server, duration: Duration) -> Result<(f64, u64), String> {
    let end = Instant::now() + duration;
    let done = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..50u64)
        .map(|w| {
            let done = done.clone();
            let addr = server.addr;
            tokio::spawn(async move {
                // Each connection from another of 250 loopback source addresses: the closed
                // ones' TIME_WAIT states would otherwise use up one address's ports within a
                // round, and slow down whichever server runs next.
                let mut n = w;
                while Instant::now() < end {
                    n += 50;
                    if let Ok(mut ws) = join(addr, 1 + (n % 250) as u8).await {
                        let _ = ws.close(None).await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    let opened = done.load(Ordering::Relaxed);
    Ok((opened as f64 / duration.as_secs_f64(), opened))
}

/// Lets closed connections finish and the allocator settle before a memory reading.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// Raises this process's soft file-descriptor limit to its hard limit (for `--idle 100000`;
/// the servers inherit it). Without libc bindings here: `prlimit` from util-linux.
fn raise_fd_limit() {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let hard = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4).map(str::to_owned));
    if let Some(hard) = hard {
        let _ = std::process::Command::new("prlimit")
            .args(["--pid", &std::process::id().to_string()])
            .arg(format!("--nofile={hard}:{hard}"))
            .status();
    }
}

// ---------------------------------------------------------------------------------------------
// socketioxide, serving the same app
// ---------------------------------------------------------------------------------------------

/// socketioxide 0.18.9 as a standalone hyper service (its own example's setup), default
/// settings but the heartbeat, running the part of the interop app the scenarios use.
fn serve_socketioxide(port: u16, (interval, timeout): (Duration, Duration)) {
    use serde_json::Value;
    use socketioxide::SocketIo;
    use socketioxide::extract::{AckSender, Data, SocketRef};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let (service, io) = SocketIo::builder()
            .ping_interval(interval)
            .ping_timeout(timeout)
            .build_svc();
        let all = io.clone();
        io.ns("/", async move |socket: SocketRef| {
            socket.on(
                "message-with-ack",
                async |Data::<Value>(data), ack: AckSender| {
                    let _ = ack.send(&data);
                },
            );
            let io = all.clone();
            socket.on("to-all", async move |Data::<Value>(data)| {
                let _ = io.emit("all-message", &data).await;
            });
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        println!(
            "listening on http://{}",
            listener.local_addr().expect("address")
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = service.clone();
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
}

/// The same app mounted in an axum 0.8 router as a user mounts it, with `which` server's
/// tower layer (`ours`: `socketio_tokio`, one shard; `socketioxide`), on a multi-threaded
/// runtime, TCP_NODELAY on every connection as in the standalone servers.
fn serve_axum(which: &str, port: u16, (interval, timeout): (Duration, Duration)) {
    use axum::serve::ListenerExt;
    use serde_json::Value;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let router = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
        let app = match which {
            "ours" => {
                use socketio_tokio::{Ack, Event, Socket, SocketIo};
                let (layer, io) = SocketIo::builder()
                    .ping_interval(interval)
                    .ping_timeout(timeout)
                    .build_layer();
                io.ns("/", |socket: Socket| {
                    socket.on("message-with-ack", |_: Socket, event: Event, ack: Ack| {
                        let _ = ack.send(&event);
                    });
                    socket.on("to-all", |socket: Socket, event: Event| {
                        let _ = socket.nsp().emit("all-message", &event);
                    });
                });
                router.layer(layer)
            }
            _ => {
                use socketioxide::SocketIo;
                use socketioxide::extract::{AckSender, Data, SocketRef};
                let (layer, io) = SocketIo::builder()
                    .ping_interval(interval)
                    .ping_timeout(timeout)
                    .build_layer();
                let all = io.clone();
                io.ns("/", async move |socket: SocketRef| {
                    socket.on(
                        "message-with-ack",
                        async |Data::<Value>(data), ack: AckSender| {
                            let _ = ack.send(&data);
                        },
                    );
                    let io = all.clone();
                    socket.on("to-all", async move |Data::<Value>(data)| {
                        let _ = io.emit("all-message", &data).await;
                    });
                });
                router.layer(layer)
            }
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        println!(
            "listening on http://{}",
            listener.local_addr().expect("address")
        );
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await.expect("serve");
    });
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

fn print_table(results: &BTreeMap<(String, String), Vec<f64>>, servers: &[String]) {
    println!();
    println!("| | {} |", servers.join(" | "));
    println!("|---|{}", "---|".repeat(servers.len()));
    for (scenario, label) in ROWS {
        let cells: Vec<String> = servers
            .iter()
            .map(|s| {
                results
                    .get(&(scenario.to_string(), s.clone()))
                    .map_or("–".into(), |v| format!("{:.1}", median(v)))
            })
            .collect();
        println!("| {label} | {} |", cells.join(" | "));
    }
}

/// The measurements, as the report names them.
const ROWS: [(&str, &str); 13] = [
    ("echo_acks_per_s", "echo with acks, 100 clients: acks/s"),
    ("echo_cpu_ms_per_1000", "server CPU per 1 000 acks (ms)"),
    ("echo_p50_us", "ack round trip p50 (µs)"),
    ("echo_p99_us", "ack round trip p99 (µs)"),
    (
        "fanout_deliveries_per_s",
        "fan-out, 1 000 clients × 1 000 broadcasts: deliveries/s",
    ),
    ("fanout_cpu_us_per_delivery", "server CPU per delivery (µs)"),
    (
        "burst_lost_percent",
        "burst of 1 000 broadcasts at once: deliveries lost (%)",
    ),
    (
        "heartbeat_burst_dropped",
        "burst of 100 broadcasts, 300/200 ms heartbeats: healthy clients dropped",
    ),
    ("idle_ws_kib", "memory per idle WebSocket connection (KiB)"),
    (
        "idle_polling_kib",
        "memory per idle long-polling client (KiB)",
    ),
    ("connections_per_s", "connections opened per second"),
    ("connect_cpu_us", "server CPU per connection opened (µs)"),
    ("rss_end_mib", "server RSS at the end (MiB)"),
];
