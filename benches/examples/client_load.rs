//! The client benchmark: our client (`socketio_tokio::client`) and the official Node.js
//! `socket.io-client` 4.8.4 (`programs/interop/bench-client.mjs`), each against our server
//! and against the Node.js server, in one run.
//!
//! ```sh
//! cargo build --release -p socketio-programs --bin conformance-server
//! npm ci --prefix programs/interop
//! cargo run --release -p socketio-sansio-benches --example client_load | tee target/client.txt
//! ```
//!
//! Both servers run the interop app with pingInterval 25 s and recovery off; every client is
//! on WebSocket only. Measured, per client and server:
//!
//! * **emits/s**: 100 000 `noop` events emitted at once, then one `message-with-ack`; the
//!   count over the time until that ack came (the server takes a connection's events in
//!   order, so all had arrived).
//! * **acks/s**: `message-with-ack` round trips for 3 s, 100 in flight, then one at a time.
//! * **memory per idle client**: the client process's RSS growth per connected, idle client,
//!   over 500 clients, measured in a fresh process (after one client, for our client; with
//!   a garbage collection before and after, for the JavaScript one).
//!
//! Rounds are interleaved and the median reported (`--rounds N`, 3). Output: one
//! `load <metric> <client>@<server> <value>` line per measurement, for the report example.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use socketio_tokio::client::{Client, Transports};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const EMITS: usize = 100_000;
const SECONDS: u64 = 3;
const WINDOW: usize = 100;
const IDLE: usize = 500;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--idle-only") {
        // A fresh process, so that what the other measurements left in the allocator does
        // not hide the growth.
        let addr: SocketAddr = args[i + 1].parse().expect("an address");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        match runtime.block_on(idle(addr)) {
            Ok(kib) => println!("{kib}"),
            Err(e) => eprintln!("{e}"),
        }
        return;
    }
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut results: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    runtime.block_on(async {
        for round in 1..=rounds {
            for server in ["ours", "node"] {
                for client in ["ours-client", "js-client"] {
                    eprintln!("round {round} of {rounds}: {client} against {server}");
                    let (child, addr) = match start(server).await {
                        Ok(started) => started,
                        Err(e) => {
                            eprintln!("  {server}: {e}");
                            continue;
                        }
                    };
                    let measured = match client {
                        "ours-client" => ours(addr).await,
                        _ => js(addr).await,
                    };
                    drop(child);
                    match measured {
                        Ok(measured) => {
                            for (metric, value) in measured {
                                let who = format!("{client}@{server}");
                                println!("load {metric} {who} {value}");
                                results.entry((metric, who)).or_default().push(value);
                            }
                        }
                        Err(e) => eprintln!("  {client}@{server}: {e}"),
                    }
                }
            }
        }
    });
    println!();
    for ((metric, who), mut values) in results {
        values.sort_by(f64::total_cmp);
        println!("{metric} {who} {:.1}", values[values.len() / 2]);
    }
}

/// A server on a free port: ours (`conformance-server --mode sio`) or Node.js.
async fn start(server: &str) -> Result<(Child, SocketAddr), String> {
    let mut command = if server == "ours" {
        let mut c = Command::new("target/release/conformance-server");
        c.args(["--mode", "sio", "--port", "0", "--threads", "1"]);
        c.args(["--ping-interval-ms", "25000", "--ping-timeout-ms", "20000"]);
        c
    } else {
        let mut c = Command::new("node");
        c.arg("programs/interop/reference-server.mjs");
        c.args([
            "--port",
            "0",
            "--ping-interval",
            "25000",
            "--ping-timeout",
            "20000",
        ]);
        c
    };
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| format!("cannot start: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .map_err(|_| "did not start")?
        .map_err(|e| e.to_string())?
        .ok_or("exited")?;
    let addr = if let Some(port) = line.strip_prefix("LISTENING ") {
        let port: u16 = port.trim().parse().map_err(|e| format!("{e}"))?;
        SocketAddr::from(([127, 0, 0, 1], port))
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
    Ok((child, addr))
}

async fn connect(addr: SocketAddr) -> Result<Client, String> {
    let client = Client::builder(&format!("http://{addr}"))
        .transports(Transports::WebSocket)
        .reconnection(false)
        .build()
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(Duration::from_secs(10), client.connect())
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(client)
}

/// Round trips for [`SECONDS`], `window` in flight; per second.
async fn acks(client: &Client, window: usize) -> Result<f64, String> {
    let start = Instant::now();
    let until = start + Duration::from_secs(SECONDS);
    let mut workers = Vec::new();
    for _ in 0..window {
        let client = client.clone();
        workers.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < until {
                let answer: Result<u64, _> = client.emit_with_ack("message-with-ack", &done).await;
                answer.map_err(|e| e.to_string())?;
                done += 1;
            }
            Ok::<u64, String>(done)
        }));
    }
    let mut done = 0;
    for worker in workers {
        done += worker.await.map_err(|e| e.to_string())??;
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// `VmRSS` of this process, in KiB.
fn rss_kib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(f64::NAN)
}

async fn ours(addr: SocketAddr) -> Result<Vec<(String, f64)>, String> {
    let client = connect(addr).await?;
    let start = Instant::now();
    for n in 0..EMITS {
        client.emit("noop", &n).map_err(|e| e.to_string())?;
    }
    let _: String = client
        .emit_with_ack("message-with-ack", "done")
        .await
        .map_err(|e| e.to_string())?;
    let emits = EMITS as f64 / start.elapsed().as_secs_f64();
    let windowed = acks(&client, WINDOW).await?;
    let one = acks(&client, 1).await?;
    client.close();
    let output = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .args(["--idle-only", &addr.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .await
        .map_err(|e| e.to_string())?;
    let per_client: f64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("the idle measurement: {e}"))?;
    Ok(vec![
        ("client_emits_per_s".into(), emits),
        (format!("client_acks_per_s_w{WINDOW}"), windowed),
        ("client_acks_per_s_w1".into(), one),
        ("client_idle_kib".into(), per_client),
    ])
}

/// RSS growth per idle connected client, over [`IDLE`] clients in this process.
async fn idle(addr: SocketAddr) -> Result<f64, String> {
    // One client first: the runtime, the HTTP client and the first buffers are not per client.
    let first = connect(addr).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(connect(addr).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let per_client = (rss_kib() - before) / IDLE as f64;
    drop((first, idle));
    Ok(per_client)
}

async fn js(addr: SocketAddr) -> Result<Vec<(String, f64)>, String> {
    let output = Command::new("node")
        .arg("--expose-gc")
        .arg("programs/interop/bench-client.mjs")
        .args(["--url", &format!("http://{addr}")])
        .args([
            "--emits",
            &EMITS.to_string(),
            "--seconds",
            &SECONDS.to_string(),
        ])
        .args(["--window", &WINDOW.to_string(), "--idle", &IDLE.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .await
        .map_err(|e| format!("node: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let measured: Vec<(String, f64)> = text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (Some("client"), Some(metric), Some(value)) =
                (words.next(), words.next(), words.next())
            else {
                return None;
            };
            Some((format!("client_{metric}"), value.parse().ok()?))
        })
        .collect();
    if measured.len() < 4 {
        return Err(format!("bench-client.mjs: {text}"));
    }
    Ok(measured)
}
