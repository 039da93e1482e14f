//! The hostile-client attacks of `tests/hostile_clients.rs` at their full sizes, against a
//! `conformance-server --mode sio` binary, printed as a Markdown table `| attack | result |`.
//!
//! ```text
//! cargo build --release -p socketio-programs --bin conformance-server --example hostile_table
//! ulimit -n 65536   # or as high as the hard limit allows: 10 000 WebSockets need as many files
//! target/release/examples/hostile_table [SERVER] [--only ROW,ROW…] [--SIZE N]…
//! ```
//!
//! `SERVER` defaults to `target/release/conformance-server`. Rows: `idle` (2 000 idle
//! keep-alive connections), `fds` (400 idle connections, server at `ulimit -n 256`), `posts`
//! (200 stalled 990 KB POSTs, twice), `chunked`, `burst` (3 000 acks of 4 KB), `flood`
//! (100 000 frames/s for 1 s), `protocol`, `acks` (20 000 server acks), `methods`, `origin`,
//! `ids` (1 000), `limit` (`--max-connections 50`), `ws` (5 000 then 10 000 idle WebSockets
//! answering pings for 5 s).
//!
//! Sizes: `--idle N`, `--fd-attackers N`, `--posts N`, `--post-rounds N` (the stalled POSTs
//! again on the same server: memory kept by the allocator or leaked), `--burst N`,
//! `--burst-pad N` (bytes of argument per burst event, 4 000), `--burst-read-after-ms N` (the
//! burst's client starts reading its answers that late, 0), `--flood-frames N`,
//! `--flood-secs S`, `--acks N`, `--answer-batch N` (acks answered that many at a time, each
//! batch once the previous one's answers are back; default: all at once), `--websockets N,N`,
//! `--ws-hold-secs S`.
//!
//! The machine matters: the server and this process share its cores, and another busy process
//! delays heartbeats (the `ws` rows report how busy the machine was).
//!
//! Each row starts its own server (the server raises its descriptor limit itself, through
//! `sh -c 'ulimit -n 65536 …'`; this process cannot, so raise it in the shell) and runs a
//! well-behaved client (acks every 25 ms, pings answered) through the attack; the result says
//! whether it kept being served. Every wait is bounded; a full run takes about 40 s.

use std::path::{Path, PathBuf};
use std::time::Duration;

#[path = "../tests/hostile/mod.rs"]
mod hostile;

use hostile::{GoodClient, Server, Violation};

/// The attacks' sizes.
#[derive(Debug, Clone)]
struct Sizes {
    idle: usize,
    fd_attackers: usize,
    posts: usize,
    post_rounds: usize,
    burst: u64,
    burst_pad: usize,
    burst_read_after_ms: u64,
    flood_frames: u64,
    flood_secs: f64,
    acks: u64,
    answer_batch: Option<u64>,
    websockets: Vec<usize>,
    ws_hold_secs: f64,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            idle: 2000,
            fd_attackers: 400,
            posts: 200,
            post_rounds: 2,
            burst: 3000,
            burst_pad: 4000,
            burst_read_after_ms: 0,
            flood_frames: 100_000,
            flood_secs: 1.0,
            acks: 20_000,
            answer_batch: None,
            websockets: vec![5000, 10_000],
            ws_hold_secs: 5.0,
        }
    }
}

const ROWS: [&str; 13] = [
    "idle", "fds", "posts", "chunked", "burst", "flood", "protocol", "acks", "methods", "origin",
    "ids", "limit", "ws",
];

fn usage() -> String {
    format!(
        "usage: hostile_table [SERVER] [--only {}] [--idle N] [--fd-attackers N] [--posts N] \
         [--post-rounds N] [--burst N] [--burst-pad N] [--burst-read-after-ms N] \
         [--flood-frames N] [--flood-secs S] \
         [--acks N] [--answer-batch N] [--websockets N,N] [--ws-hold-secs S]",
        ROWS.join(",")
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), String> {
    let mut binary = PathBuf::from("target/release/conformance-server");
    let mut only: Option<Vec<String>> = None;
    let mut sizes = Sizes::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(usage);
        match arg.as_str() {
            "--only" => only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--idle" => sizes.idle = number(&value()?)?,
            "--fd-attackers" => sizes.fd_attackers = number(&value()?)?,
            "--posts" => sizes.posts = number(&value()?)?,
            "--post-rounds" => sizes.post_rounds = number(&value()?)?,
            "--burst" => sizes.burst = number(&value()?)?,
            "--burst-pad" => sizes.burst_pad = number(&value()?)?,
            "--burst-read-after-ms" => sizes.burst_read_after_ms = number(&value()?)?,
            "--flood-frames" => sizes.flood_frames = number(&value()?)?,
            "--flood-secs" => sizes.flood_secs = number(&value()?)?,
            "--acks" => sizes.acks = number(&value()?)?,
            "--answer-batch" => sizes.answer_batch = Some(number(&value()?)?),
            "--ws-hold-secs" => sizes.ws_hold_secs = number(&value()?)?,
            "--websockets" => {
                sizes.websockets = value()?.split(',').map(number).collect::<Result<_, _>>()?
            }
            "-h" | "--help" => return Err(usage()),
            flag if flag.starts_with("--") => return Err(usage()),
            path => binary = PathBuf::from(path),
        }
    }
    if !binary.exists() {
        return Err(format!(
            "{} not found (cargo build --release -p socketio-programs --bin conformance-server)\n{}",
            binary.display(),
            usage()
        ));
    }
    let wanted = |row: &str| only.as_ref().is_none_or(|o| o.iter().any(|r| r == row));
    eprintln!(
        "server {}, this process's descriptor limit {}",
        binary.display(),
        hostile::own_fd_limit()
    );
    let mut table: Vec<(String, String)> = Vec::new();
    for row in ROWS.iter().copied().filter(|r| wanted(r)) {
        for (attack, result) in run_row(row, &binary, &sizes).await {
            eprintln!("| {attack} | {result} |");
            table.push((attack, result));
        }
    }
    println!("| attack | result |");
    println!("|---|---|");
    for (attack, result) in table {
        println!("| {attack} | {result} |");
    }
    Ok(())
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("not a number: {text}\n{}", usage()))
}

/// A server for one row: descriptors raised as far as allowed.
fn server(binary: &Path, args: &[&str]) -> Server {
    Server::start(binary, Some(65_536), args)
}

/// The well-behaved client's story, for the result column.
async fn good_story(good: GoodClient, acked_before: u64) -> String {
    let during = good.acked() - acked_before;
    let after = good.acks_more(5, hostile::WAIT).await;
    let report = good.finish().await;
    match (&report.failure, after) {
        (None, true) => format!(
            "good client served ({during} acks during, slowest {})",
            ms(report.max_latency)
        ),
        (Some(failure), _) => format!("**good client FAILED**: {failure} ({during} acks during)"),
        (None, false) => "**good client got no acks after the attack**".into(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}

fn served(result: &Result<Duration, String>) -> String {
    match result {
        Ok(took) => format!("a new client served ({})", ms(*took)),
        Err(e) => format!("**a new client NOT served**: {e}"),
    }
}

async fn run_row(row: &str, binary: &Path, sizes: &Sizes) -> Vec<(String, String)> {
    match row {
        "idle" => {
            let s = server(binary, &["--header-timeout-ms", "500"]);
            let good = GoodClient::start(s.addr).await;
            let before = good.acked();
            let n = sizes.idle;
            let r = hostile::idle_keep_alive(&s, n, Duration::from_secs(5)).await;
            let story = good_story(good, before).await;
            vec![(
                format!("{n} idle keep-alive connections (header timeout 500 ms)"),
                format!(
                    "{}/{} answered, {} closed by the server {}–{} after their answer; server \
                     descriptors {} → {} → {}; {} errors; {story}",
                    r.answered,
                    r.opened,
                    r.closed,
                    r.fastest_close.map_or("-".into(), ms),
                    ms(r.slowest_close),
                    r.fds_before,
                    r.fds_peak,
                    r.fds_after,
                    r.errors.len(),
                ),
            )]
        }
        "fds" => {
            let s = Server::start(binary, Some(256), &["--header-timeout-ms", "500"]);
            let good = GoodClient::start(s.addr).await;
            let before = good.acked();
            let n = sizes.fd_attackers;
            let r = hostile::descriptor_exhaustion(
                &s,
                n,
                Duration::from_secs(2),
                Duration::from_secs(10),
            )
            .await;
            let story = good_story(good, before).await;
            vec![(
                format!("{n} idle connections, server at `ulimit -n 256`"),
                format!(
                    "server CPU {:.1} % of a core over the first {:?} (descriptors peak {}); \
                     {}/{} shed, the last after {}; {}; {story}",
                    r.cpu_fraction * 100.0,
                    r.window,
                    r.fds_peak,
                    r.shed,
                    r.opened,
                    r.all_shed_after.map_or("-".into(), ms),
                    served(&r.served_after),
                ),
            )]
        }
        "posts" => {
            let s = server(binary, &[]);
            let good = GoodClient::start(s.addr).await;
            let before = good.acked();
            let n = sizes.posts;
            let mut rounds = Vec::new();
            for _ in 0..sizes.post_rounds.max(1) {
                let r = hostile::stalled_posts(
                    &s,
                    n,
                    990_000,
                    1_000_000,
                    10 * 1024,
                    Duration::from_secs(3),
                )
                .await;
                rounds.push(r);
            }
            let story = good_story(good, before).await;
            let described: Vec<String> = rounds
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let answers: Vec<String> = r
                        .answers
                        .iter()
                        .map(|(status, count)| format!("{count}× {status}"))
                        .collect();
                    format!(
                        "round {}: RSS {} → peak {} → {} {} after the last answer (attacker \
                         still connected) → {} once it left; answers {}; {} errors",
                        i + 1,
                        mb(r.baseline_kib),
                        mb(r.peak_kib),
                        mb(r.after_kib),
                        ms(r.after_delay),
                        mb(r.left_kib),
                        answers.join(", "),
                        r.errors.len(),
                    )
                })
                .collect();
            vec![(
                format!("{n} POSTs of 990 KB (1 MB declared) that stall"),
                format!("{}; {story}", described.join("; ")),
            )]
        }
        "chunked" => {
            let s = server(binary, &[]);
            let good = GoodClient::start(s.addr).await;
            let before = good.acked();
            let r = hostile::endless_chunked_post(s.addr, Duration::from_secs(25)).await;
            let story = good_story(good, before).await;
            vec![(
                "chunked POST that never ends (session dies at 500 ms)".into(),
                format!(
                    "answered {} after the handshake with {}, {} chunks written; {story}",
                    r.answered_after.map_or("never (25 s)".into(), ms),
                    r.status.map_or("no status".into(), |s| s.to_string()),
                    r.chunks,
                ),
            )]
        }
        "burst" | "flood" => {
            let s = server(binary, &[]);
            let good = GoodClient::start(s.addr).await;
            let before = good.acked();
            let (attack, r) = if row == "burst" {
                let n = sizes.burst;
                let r = hostile::raw_ack_burst(
                    &s,
                    n,
                    sizes.burst_pad,
                    Duration::from_millis(sizes.burst_read_after_ms),
                    Duration::from_secs(30),
                )
                .await;
                (
                    format!(
                        "burst of {n} `message-with-ack` ({} bytes of argument each), client \
                         reads{}",
                        sizes.burst_pad,
                        match sizes.burst_read_after_ms {
                            0 => String::new(),
                            after => format!(" from {after} ms after"),
                        }
                    ),
                    r,
                )
            } else {
                let (n, secs) = (sizes.flood_frames, sizes.flood_secs);
                let r = hostile::ack_flood(
                    &s,
                    n,
                    0,
                    1000,
                    Duration::from_millis(10),
                    Duration::from_secs_f64(secs),
                    Duration::from_secs(40),
                )
                .await;
                (
                    format!("100 000 frames/s for {secs} s (at most {n}), client reads"),
                    r,
                )
            };
            let story = good_story(good, before).await;
            let result = match r {
                Ok(r) => format!(
                    "{}/{} acked ({} wrong), sent in {}, all back after {}; connection {}; \
                     server CPU {}; {story}",
                    r.acked,
                    r.sent,
                    r.wrong,
                    ms(r.send_time),
                    ms(r.total_time),
                    match (&r.closed, r.probe_acked) {
                        (None, true) => "open (one more ack after)".to_owned(),
                        (None, false) => "open, the last ack missing".to_owned(),
                        (Some(how), _) => format!("**closed**: {how}"),
                    },
                    ms(r.server_cpu),
                ),
                Err(e) => format!("**failed**: {e}"),
            };
            vec![(attack, result)]
        }
        "protocol" => {
            let s = server(binary, &[]);
            let good = GoodClient::start(s.addr).await;
            let before = good.acked();
            let mut results = Vec::new();
            for violation in Violation::ALL {
                let ending = hostile::violate(s.addr, violation).await;
                results.push(format!(
                    "{violation:?}: {} (want {})",
                    match ending {
                        Ok(hostile::Ending::Close(code)) => format!("close {code}"),
                        Ok(other) => format!("{other:?}"),
                        Err(e) => format!("error {e}"),
                    },
                    violation.expected_code()
                ));
            }
            let story = good_story(good, before).await;
            vec![(
                "WebSocket protocol violations".into(),
                format!("{}; {story}", results.join(", ")),
            )]
        }
        "acks" => {
            let s = server(binary, &[]);
            let good = GoodClient::start(s.addr).await;
            let before = good.acked();
            let n = sizes.acks;
            let r = hostile::server_acks(
                &s,
                n,
                sizes.answer_batch.unwrap_or(n),
                Duration::from_secs(30),
            )
            .await;
            let story = good_story(good, before).await;
            let result = match r {
                Ok(r) => format!(
                    "answering phase: **{} of server CPU** ({} wall); {}/{} questions, {} \
                     answers, {} timeouts{}; {story}",
                    ms(r.answering_cpu),
                    ms(r.answering_time),
                    r.questions,
                    n,
                    r.answers,
                    r.timeouts,
                    r.closed
                        .map_or(String::new(), |c| format!(", **closed**: {c}")),
                ),
                Err(e) => format!("**failed**: {e}"),
            };
            let how = match sizes.answer_batch {
                Some(b) if b < n => format!("{b} at a time"),
                _ => "at once".into(),
            };
            vec![(format!("{n} server acks answered {how}"), result)]
        }
        "methods" => {
            let mut out = Vec::new();
            for cors in [false, true] {
                let s = server(binary, if cors { &["--cors"] } else { &[] });
                let mut answers = Vec::new();
                for method in ["OPTIONS", "PUT", "DELETE"] {
                    let origin = [("Origin", "http://app.example")];
                    let headers: &[(&str, &str)] = if cors { &origin } else { &[] };
                    answers.push(
                        match hostile::one_request(s.addr, method, hostile::HANDSHAKE, headers)
                            .await
                        {
                            Ok(r) => format!(
                                "{method} {} {}{}",
                                r.status,
                                r.text(),
                                r.header("Access-Control-Allow-Methods")
                                    .map_or(String::new(), |m| format!(" (allow {m})"))
                            ),
                            Err(e) => format!("{method} error {e}"),
                        },
                    );
                }
                out.push((
                    format!(
                        "OPTIONS/PUT/DELETE handshakes{}",
                        if cors { " with `--cors`" } else { "" }
                    ),
                    answers.join("; "),
                ));
            }
            out
        }
        "origin" => {
            let mut out = Vec::new();
            for allow in [false, true] {
                let args: &[&str] = if allow {
                    &["--allowed-origin", "http://good.example"]
                } else {
                    &[]
                };
                let s = server(binary, args);
                let mut answers = Vec::new();
                for origin in [
                    Some("http://evil.example"),
                    Some("http://good.example"),
                    None,
                ] {
                    let headers: Vec<(&str, &str)> =
                        origin.map(|o| ("Origin", o)).into_iter().collect();
                    let polling =
                        hostile::one_request(s.addr, "GET", hostile::HANDSHAKE, &headers).await;
                    let ws = hostile::ws_upgrade_status(s.addr, &headers).await;
                    answers.push(format!(
                        "{}: polling {}, WebSocket {}",
                        origin.unwrap_or("no Origin"),
                        polling.map_or_else(
                            |e| e.to_string(),
                            |r| if r.status == 200 {
                                "200".into()
                            } else {
                                format!("{} {}", r.status, r.text())
                            }
                        ),
                        ws.map_or_else(|e| e.to_string(), |s| s.to_string()),
                    ));
                }
                out.push((
                    if allow {
                        "Origin under `--allowed-origin http://good.example`".into()
                    } else {
                        "Origin, no allow-list".into()
                    },
                    answers.join("; "),
                ));
            }
            out
        }
        "ids" => {
            let s = server(binary, &[]);
            let result = match hostile::session_ids(s.addr, 1000).await {
                Ok(ids) => match hostile::check_ids(&ids) {
                    Ok(()) => format!(
                        "{} ids: distinct, 20 chars of [A-Za-z0-9_-], no shared 10-char prefix \
                         between consecutive ones (e.g. `{}`, `{}`)",
                        ids.len(),
                        ids[0],
                        ids[1]
                    ),
                    Err(e) => format!("**{e}**"),
                },
                Err(e) => format!("**failed**: {e}"),
            };
            vec![("1 000 session ids".into(), result)]
        }
        "limit" => {
            let s = server(binary, &["--max-connections", "50"]);
            let good = GoodClient::start(s.addr).await;
            let before = good.acked();
            let r = hostile::connection_limit(s.addr, 49).await;
            let story = good_story(good, before).await;
            vec![(
                "`--max-connections 50`, 51st connection".into(),
                format!(
                    "{} held + the good client; the 51st got {} and was {}; after the others \
                     closed: {}; {story}",
                    r.held,
                    r.refused_status.map_or("nothing".into(), |s| s.to_string()),
                    if r.refused_closed {
                        "closed"
                    } else {
                        "**left open**"
                    },
                    served(&r.served_after),
                ),
            )]
        }
        "ws" => {
            let mut out = Vec::new();
            let limit = hostile::own_fd_limit();
            for &n in &sizes.websockets {
                let attack = format!(
                    "{n} idle WebSockets answering pings (300/200 ms) for {} s",
                    sizes.ws_hold_secs
                );
                if (limit as usize) < n + 200 {
                    out.push((
                        attack,
                        format!("skipped: this process may open {limit} files (`ulimit -n`)"),
                    ));
                    continue;
                }
                let s = server(binary, &[]);
                let good = GoodClient::start(s.addr).await;
                let before = good.acked();
                let hold = Duration::from_secs_f64(sizes.ws_hold_secs);
                let r = hostile::idle_websockets(&s, n, hold).await;
                let story = good_story(good, before).await;
                out.push((
                    attack,
                    format!(
                        "{}/{} connected in {} ({} of server CPU); server CPU **{:.1} % of a \
                         core** over the hold (machine {:.0} % busy), RSS {}; **{} healthy \
                         clients dropped**{}, {} connect errors; longest time between two \
                         pings {}; {story}",
                        r.connected,
                        r.wanted,
                        ms(r.connect_time),
                        ms(r.connect_cpu),
                        r.cpu_fraction * 100.0,
                        r.machine_busy * 100.0,
                        mb(r.rss_kib),
                        r.dropped,
                        match (r.drops.first(), r.drops.last()) {
                            (Some(first), Some(last)) => format!(
                                " ({} to {} after the first connect, {} after their last \
                                 ping: {})",
                                ms(first.at),
                                ms(last.at),
                                ms(first.since_last_ping.unwrap_or_default()),
                                first.why
                            ),
                            _ => String::new(),
                        },
                        r.connect_errors,
                        ms(r.max_ping_gap),
                    ),
                ));
            }
            out
        }
        other => vec![(other.into(), format!("unknown row; {}", usage()))],
    }
}
