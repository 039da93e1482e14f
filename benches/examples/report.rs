//! Prints the README's benchmark tables from one bench run: criterion's medians (read from
//! `target/criterion/<group>/<function>/<case>/new/estimates.json`), the allocation counts
//! the bench binaries print (`allocs <id> <n>` lines in their saved output) and the load
//! benchmarks' measurements (`load <scenario> <server> <value>` lines of `examples/load.rs`
//! and `examples/client_load.rs`).
//!
//! ```text
//! cargo bench -p socketio-sansio-benches -- --warm-up-time 0.5 --measurement-time 1 | tee target/bench.txt
//! cargo run --release -p socketio-sansio-benches --example load | tee target/load.txt
//! cargo run --release -p socketio-sansio-benches --example client_load | tee target/client.txt
//! cargo run -p socketio-sansio-benches --example report -- target/bench.txt target/load.txt \
//!     target/client.txt --write benches/README.md --write README.md
//! ```
//!
//! Cells are "median (allocations)"; "–" marks a benchmark missing from the run. Each table
//! is a section (`engineio`, `socketio`, `msgpack`, `sweeps`, `broadcast`, `load`,
//! `headline`: the load benchmark's main rows, and `client`: the client benchmark). Without `--write` they are printed; with it,
//! each named file gets every section between its markers, `<!-- report:NAME -->` …
//! `<!-- /report:NAME -->`, so the tables in the documents are a run's output, never copied
//! by hand. A section the run did not measure is left as it was.
#![allow(missing_docs)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

struct Run {
    criterion: PathBuf,
    allocs: HashMap<String, u64>,
    /// Nanoseconds per operation measured by a JavaScript script (`js <id> <ns>` lines).
    js: HashMap<String, f64>,
    /// (scenario, server) ⇒ the values of every round.
    load: BTreeMap<(String, String), Vec<f64>>,
    /// The servers of the load benchmark, in the order they ran.
    load_servers: Vec<String>,
    /// The client benchmark (`examples/client_load.rs`): (metric, client@server) ⇒ rounds.
    client: BTreeMap<(String, String), Vec<f64>>,
}

impl Run {
    /// The median in nanoseconds of `group/function/case`.
    fn median(&self, id: &str) -> Option<f64> {
        if let Some(&ns) = self.js.get(id) {
            return Some(ns);
        }
        let path = self.criterion.join(id).join("new/estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json["median"]["point_estimate"].as_f64()
    }

    /// "median (allocations)".
    fn cell(&self, id: &str) -> String {
        let time = self.median(id).map_or("–".to_owned(), time);
        match self.allocs.get(id) {
            Some(n) => format!("{time} ({n})"),
            None => time,
        }
    }

    /// How many times faster `fast` is than `slow`.
    fn ratio(&self, slow: &str, fast: &str) -> String {
        match (self.median(slow), self.median(fast)) {
            (Some(slow), Some(fast)) => factor(slow / fast),
            _ => "–".to_owned(),
        }
    }
}

fn time(ns: f64) -> String {
    let (value, unit) = match ns {
        ns if ns < 1e3 => (ns, "ns"),
        ns if ns < 1e6 => (ns / 1e3, "µs"),
        ns => (ns / 1e6, "ms"),
    };
    match value {
        v if v < 10.0 => format!("{v:.2} {unit}"),
        v if v < 100.0 => format!("{v:.1} {unit}"),
        v => format!("{v:.0} {unit}"),
    }
}

fn factor(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}×")
    } else {
        format!("{x:.0}×")
    }
}

fn table(out: &mut String, head: &[&str], rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}

const SIO_CASES: [(&str, &str); 9] = [
    ("connect_main", "CONNECT `/`"),
    ("connect_custom_nsp", "CONNECT `/custom_nsp` + auth"),
    ("event", "EVENT"),
    ("event_with_ack", "EVENT with ack"),
    ("ack", "ACK"),
    ("binary_event_1", "BINARY_EVENT, 1 attachment"),
    ("binary_event_10", "BINARY_EVENT, 10 attachments"),
    ("binary_ack", "BINARY_ACK"),
    ("event_14kb", "EVENT, 14 KB JSON (250 objects)"),
];

fn engineio(run: &Run, out: &mut String) {
    out.push_str("Engine.IO packets (`eio_packet`):\n\n");
    let rows = [
        ("message", "`4Hello`"),
        ("ping", "`2`"),
        ("probe", "`2probe`"),
        ("binary_b64", "`bAQIDBAUG` (6 bytes, base64, decoded)"),
    ]
    .iter()
    .map(|(case, label)| {
        let id = |f: &str| format!("eio_packet/{f}/{case}");
        vec![
            (*label).to_owned(),
            run.cell(&id("decode")),
            run.cell(&id("socketioxide_decode")),
            run.ratio(&id("socketioxide_decode"), &id("decode")),
            run.cell(&id("encode")),
            run.cell(&id("socketioxide_encode")),
            run.ratio(&id("socketioxide_encode"), &id("encode")),
        ]
    })
    .collect();
    let head = [
        "case",
        "ours decode",
        "socketioxide decode",
        "ratio",
        "ours encode (reused buffer)",
        "socketioxide encode",
        "ratio",
    ];
    table(out, &head, rows);

    out.push_str("Engine.IO polling bodies (`eio_payload`):\n\n");
    let mut rows = Vec::new();
    for (format, label) in [
        ("v4", "v4"),
        ("v3_text", "v3 text"),
        ("v3_binary", "v3 binary"),
    ] {
        for n in [1, 10, 100] {
            let id = |f: &str| format!("eio_payload/{f}_{format}/{n}");
            rows.push(vec![
                format!("{label}, {n} packet{}", if n == 1 { "" } else { "s" }),
                run.cell(&id("decode")),
                run.cell(&id("decode_owned")),
                run.cell(&id("socketioxide_decode")),
                run.ratio(&id("socketioxide_decode"), &id("decode_owned")),
                run.cell(&id("encode")),
                run.cell(&id("socketioxide_encode")),
                run.ratio(&id("socketioxide_encode"), &id("encode")),
            ]);
        }
    }
    let head = [
        "body",
        "ours decode (borrowed)",
        "ours decode (owned)",
        "socketioxide decode",
        "owned ratio",
        "ours encode (reused buffer)",
        "socketioxide encode",
        "ratio",
    ];
    table(out, &head, rows);
}

fn decode_row(run: &Run, group: &str, case: &str, label: String) -> Vec<String> {
    let id = |f: &str| format!("{group}/{f}/{case}");
    vec![
        label,
        run.cell(&id("header")),
        run.cell(&id("validated_borrowed")),
        run.cell(&id("validated")),
        run.cell(&id("socketioxide_decode")),
        run.ratio(&id("socketioxide_decode"), &id("header")),
        run.cell(&id("serde_json_floor")),
        run.ratio(&id("validated_borrowed"), &id("serde_json_floor")),
        run.ratio(&id("validated"), &id("serde_json_floor")),
    ]
}

const DECODE_HEAD: [&str; 9] = [
    "case",
    "header",
    "validated, borrowed",
    "validated, `Decoder`",
    "socketioxide decode",
    "header vs socketioxide",
    "`serde_json` floor",
    "borrowed / floor",
    "`Decoder` / floor",
];

fn encode_row(run: &Run, group: &str, case: &str, label: String) -> Vec<String> {
    let id = |f: &str| format!("{group}/{f}/{case}");
    vec![
        label,
        run.cell(&id("write_text_into_buffer")),
        run.cell(&id("encode")),
        run.cell(&id("into_encoded")),
        run.cell(&id("socketioxide_encode")),
        run.ratio(&id("socketioxide_encode"), &id("write_text_into_buffer")),
        run.ratio(&id("socketioxide_encode"), &id("into_encoded")),
    ]
}

const ENCODE_HEAD: [&str; 7] = [
    "case",
    "`write_text` (reused buffer)",
    "`encode()`",
    "`into_encoded()`",
    "socketioxide encode",
    "buffer vs socketioxide",
    "`into_encoded` vs socketioxide",
];

fn socketio(run: &Run, out: &mut String) {
    out.push_str("Socket.IO decode (`sio_decode`):\n\n");
    let rows = SIO_CASES
        .iter()
        .map(|(case, label)| decode_row(run, "sio_decode", case, (*label).to_owned()))
        .collect();
    table(out, &DECODE_HEAD, rows);
    let typed = "sio_decode/typed/event_14kb";
    let oxide_typed = "sio_decode/socketioxide_typed/event_14kb";
    let _ = writeln!(
        out,
        "Typed decode of the 14 KB event into `Vec<User>`: ours {}, socketioxide {} ({}).\n",
        run.cell(typed),
        run.cell(oxide_typed),
        run.ratio(oxide_typed, typed)
    );

    out.push_str("Socket.IO encode (`sio_encode`):\n\n");
    let mut rows: Vec<_> = SIO_CASES
        .iter()
        .map(|(case, label)| encode_row(run, "sio_encode", case, (*label).to_owned()))
        .collect();
    for (case, label) in [
        ("small", "serde arguments, small"),
        ("14kb", "serde arguments, 14 KB"),
    ] {
        let ours = format!("sio_encode/serde/{case}");
        let oxide = format!("sio_encode/socketioxide_serde/{case}");
        let mut row = vec![String::new(); ENCODE_HEAD.len()];
        row[0] = label.to_owned();
        row[3] = run.cell(&ours);
        row[4] = run.cell(&oxide);
        row[6] = run.ratio(&oxide, &ours);
        rows.push(row);
    }
    table(out, &ENCODE_HEAD, rows);
}

/// The msgpack parser beside its Rust floor, our text parser and the JavaScript parsers.
fn msgpack(run: &Run, out: &mut String) {
    const CASES: [(&str, &str); 4] = [
        ("event_small", "EVENT `[\"message\",\"hello\",42]`"),
        ("event_14kb", "EVENT, 14 KB (100 objects)"),
        ("binary_1x64kb", "EVENT, one 64 KB binary"),
        ("binary_10x1kb", "EVENT, ten 1 KB binaries"),
    ];
    out.push_str("msgpack parser decode (`sio_msgpack`):\n\n");
    let rows = CASES
        .iter()
        .map(|(case, label)| {
            let id = |f: &str| format!("sio_msgpack/{f}/{case}");
            vec![
                (*label).to_owned(),
                run.cell(&id("validate")),
                run.cell(&id("rmp_validate_floor")),
                run.ratio(&id("validate"), &id("rmp_validate_floor")),
                run.cell(&id("decode")),
                run.cell(&id("rmpv_floor")),
                run.cell(&id("text_decode")),
                run.ratio(&id("text_decode"), &id("decode")),
                run.cell(&id("js_decode")),
                run.cell(&id("js_text_decode")),
            ]
        })
        .collect();
    let head = [
        "case",
        "ours, borrowed check",
        "rmp-serde, `IgnoredAny`",
        "ours / floor (target ≤ 1.30×)",
        "ours, owned `Packet`",
        "rmp-serde → `rmpv::Value`",
        "our text parser",
        "text / ours (target > 1× from 1 KB of binary)",
        "JS msgpack parser",
        "JS text parser",
    ];
    table(out, &head, rows);

    out.push_str("msgpack parser encode, into a reused buffer (`sio_msgpack`):\n\n");
    let rows = CASES
        .iter()
        .map(|(case, label)| {
            let id = |f: &str| format!("sio_msgpack/{f}/{case}");
            vec![
                (*label).to_owned(),
                run.cell(&id("encode")),
                run.cell(&id("text_encode")),
                run.cell(&id("js_encode")),
                run.cell(&id("js_text_encode")),
                run.ratio(&id("js_encode"), &id("encode")),
            ]
        })
        .collect();
    let head = [
        "case",
        "ours msgpack",
        "our text parser",
        "JS msgpack parser",
        "JS text parser",
        "JS / ours (msgpack)",
    ];
    table(out, &head, rows);
}

fn sweeps(run: &Run, out: &mut String) {
    out.push_str("Payload size sweep (`sio_sweep_payload`), per byte in brackets:\n\n");
    let mut rows = Vec::new();
    for size in [100u32, 1_000, 10_000, 100_000, 1_000_000] {
        let id = |f: &str| format!("sio_sweep_payload/{f}/{size}");
        let per_byte = |f: &str| {
            run.median(&id(f)).map_or("–".to_owned(), |ns| {
                format!("{} [{:.2} ns/B]", run.cell(&id(f)), ns / f64::from(size))
            })
        };
        rows.push(vec![
            format!("{size} B"),
            run.cell(&id("header")),
            per_byte("validated_borrowed"),
            per_byte("validated"),
            per_byte("serde_json_floor"),
            per_byte("write_text_into_buffer"),
            run.cell(&id("socketioxide_encode")),
        ]);
    }
    let head = [
        "event size",
        "header",
        "validated, borrowed",
        "validated, `Decoder`",
        "`serde_json` floor",
        "`write_text`",
        "socketioxide encode",
    ];
    table(out, &head, rows);

    out.push_str("Attachment count sweep (`sio_sweep_attachments`, 1 KB each):\n\n");
    let mut rows = Vec::new();
    for n in [1u32, 10, 100] {
        let id = |f: &str| format!("sio_sweep_attachments/{f}/{n}");
        let per = |f: &str| {
            run.median(&id(f)).map_or("–".to_owned(), |ns| {
                format!("{} [{} each]", run.cell(&id(f)), time(ns / f64::from(n)))
            })
        };
        rows.push(vec![
            n.to_string(),
            run.cell(&id("header")),
            per("validated"),
            per("socketioxide_decode"),
            per("into_encoded"),
            per("socketioxide_encode"),
        ]);
    }
    let head = [
        "attachments",
        "header",
        "validated, `Decoder`",
        "socketioxide decode",
        "`into_encoded()`",
        "socketioxide encode",
    ];
    table(out, &head, rows);
}

fn broadcast_and_session(run: &Run, out: &mut String) {
    let one = "sio_broadcast/sockets/1";
    let many = "sio_broadcast/sockets/10000";
    let per = match (run.median(one), run.median(many)) {
        (Some(one), Some(many)) => time((many - one) / 9_999.0),
        _ => "–".to_owned(),
    };
    let _ = writeln!(
        out,
        "Broadcast (`sio_broadcast`): 1 socket {}, 10 000 sockets {}: {per} per extra recipient.\n",
        run.cell(one),
        run.cell(many)
    );
    for (what, prefix) in [
        ("the server `Endpoint` (rooms, connections, sessions)", ""),
        (
            "the session layers alone (`Connection` + `ServerSession`)",
            "layers_",
        ),
    ] {
        for size in ["100B", "14KB"] {
            let one = format!("sio_broadcast_frame/{prefix}{size}/1");
            let many = format!("sio_broadcast_frame/{prefix}{size}/10000");
            let per = match (run.median(&one), run.median(&many)) {
                (Some(one), Some(many)) => time((many - one) / 9_999.0),
                _ => "–".to_owned(),
            };
            let _ = writeln!(
                out,
                "Broadcast of a {size} event down to the WebSocket frames through {what} \
                 (`sio_broadcast_frame`): 1 client {}, 10 000 clients {}: {per} per extra \
                 recipient.\n",
                run.cell(&one),
                run.cell(&many)
            );
        }
    }
    let session = "session/handshake_upgrade_1000_acked_events";
    let _ = writeln!(
        out,
        "Session round trip (`session`): {} for the handshake, the upgrade and 1 000 acked events.",
        run.cell(session)
    );
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), PathBuf::from);
    let mut allocs = HashMap::new();
    let mut js = HashMap::new();
    let mut load = BTreeMap::new();
    let mut load_servers: Vec<String> = Vec::new();
    let mut client = BTreeMap::new();
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--write" {
            outputs.push(args.next().expect("--write FILE"));
        } else {
            inputs.push(arg);
        }
    }
    for file in inputs {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next(), words.next()) {
                (Some("allocs"), Some(id), Some(n), None) => {
                    if let Ok(n) = n.parse() {
                        allocs.insert(id.to_owned(), n);
                    }
                }
                (Some("js"), Some(id), Some(ns), None) => {
                    if let Ok(ns) = ns.parse() {
                        js.insert(id.to_owned(), ns);
                    }
                }
                (Some("load"), Some(scenario), Some(who), Some(value))
                    if scenario.starts_with("client_") =>
                {
                    if let Ok(value) = value.parse() {
                        client
                            .entry((scenario.to_owned(), who.to_owned()))
                            .or_insert_with(Vec::new)
                            .push(value);
                    }
                }
                (Some("load"), Some(scenario), Some(server), Some(value)) => {
                    if let Ok(value) = value.parse() {
                        if !load_servers.iter().any(|s| s == server) {
                            load_servers.push(server.to_owned());
                        }
                        load.entry((scenario.to_owned(), server.to_owned()))
                            .or_insert_with(Vec::new)
                            .push(value);
                    }
                }
                _ => {}
            }
        }
    }
    let run = Run {
        criterion: target.join("criterion"),
        allocs,
        js,
        load,
        load_servers,
        client,
    };
    let sections: [(&str, Section); 8] = [
        ("engineio", engineio),
        ("socketio", socketio),
        ("msgpack", msgpack),
        ("sweeps", sweeps),
        ("broadcast", broadcast_and_session),
        ("load", load_table),
        ("headline", headline_table),
        ("client", client_table),
    ];
    let generated: Vec<(&str, String)> = sections
        .iter()
        .map(|(name, write)| {
            let mut text = String::new();
            write(&run, &mut text);
            (*name, text)
        })
        .collect();
    if outputs.is_empty() {
        for (name, text) in &generated {
            println!(
                "<!-- report:{name} -->\n{}\n<!-- /report:{name} -->\n",
                text.trim()
            );
        }
        return;
    }
    for file in outputs {
        let mut text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut written = 0;
        for (name, content) in &generated {
            if content.is_empty() {
                continue; // not in this run: the document keeps its last tables
            }
            if let Some(replaced) = replace_section(&text, name, content) {
                text = replaced;
                written += 1;
            }
        }
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("{file}: {e}"));
        eprintln!("{file}: {written} section(s) written");
    }
}

/// Writes one table of the report.
type Section = fn(&Run, &mut String);

/// `text` with what lies between `<!-- report:NAME -->` and `<!-- /report:NAME -->` replaced
/// by `content`; `None` without those markers.
fn replace_section(text: &str, name: &str, content: &str) -> Option<String> {
    let open = format!("<!-- report:{name} -->");
    let close = format!("<!-- /report:{name} -->");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    Some(format!(
        "{}\n{}\n{}",
        &text[..start],
        content.trim(),
        &text[end..]
    ))
}

/// The median of the load rounds of `scenario` on `server`.
fn load_median(run: &Run, scenario: &str, server: &str) -> Option<f64> {
    let mut values = run
        .load
        .get(&(scenario.to_owned(), server.to_owned()))?
        .clone();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

/// The client benchmark: our client and the JavaScript one, against our server and the
/// Node.js one, and the ratios.
fn client_table(run: &Run, out: &mut String) {
    if run.client.is_empty() {
        return;
    }
    let median = |metric: &str, who: &str| {
        let mut values = run
            .client
            .get(&(metric.to_owned(), who.to_owned()))?
            .clone();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    };
    let columns = [
        ("ours-client@ours", "our client → our server"),
        ("js-client@ours", "JS client → our server"),
        ("ours-client@node", "our client → Node.js server"),
        ("js-client@node", "JS client → Node.js server"),
    ];
    let rows = [
        (
            "client_emits_per_s",
            "emits/s (100 000 at once, then one ack)",
            0,
        ),
        ("client_acks_per_s_w100", "acks/s, 100 in flight", 0),
        ("client_acks_per_s_w1", "acks/s, one at a time", 0),
        ("client_idle_kib", "memory per idle client (KiB)", 1),
    ];
    let heads: Vec<&str> = columns.iter().map(|(_, head)| *head).collect();
    let _ = writeln!(out, "| | {} |", heads.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(columns.len()));
    for (metric, label, digits) in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|(who, _)| median(metric, who).map_or("–".into(), |v| format!("{v:.digits$}")))
            .collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    }
    let ratio = |metric: &str, server: &str| match (
        median(metric, &format!("ours-client@{server}")),
        median(metric, &format!("js-client@{server}")),
    ) {
        (Some(ours), Some(js)) if js != 0.0 => factor(ours / js),
        _ => "–".to_owned(),
    };
    let _ = writeln!(
        out,
        "\nOur client against the JavaScript one, on our server: emits/s {}, acks/s {} (one at a \
         time {}), memory per idle client {}; on the Node.js server: emits/s {}, acks/s {}, \
         memory {}.",
        ratio("client_emits_per_s", "ours"),
        ratio("client_acks_per_s_w100", "ours"),
        ratio("client_acks_per_s_w1", "ours"),
        ratio("client_idle_kib", "ours"),
        ratio("client_emits_per_s", "node"),
        ratio("client_acks_per_s_w100", "node"),
        ratio("client_idle_kib", "node"),
    );
}

/// The README's first table: the load benchmark's main rows, and the mounted path's ratios.
fn headline_table(run: &Run, out: &mut String) {
    if run.load.is_empty() {
        return;
    }
    let rows = [
        ("echo_acks_per_s", "echo with acks, 100 clients: acks/s", 0),
        ("echo_cpu_ms_per_1000", "server CPU per 1 000 acks (ms)", 1),
        (
            "fanout_deliveries_per_s",
            "fan-out to 1 000 clients: deliveries/s",
            0,
        ),
        (
            "burst_lost_percent",
            "burst of 1 000 broadcasts: deliveries lost (%)",
            1,
        ),
        ("idle_ws_kib", "memory per idle WebSocket (KiB)", 1),
        (
            "idle_polling_kib",
            "memory per idle polling client (KiB)",
            1,
        ),
        ("connections_per_s", "connections opened per second", 0),
    ];
    let servers = &run.load_servers;
    let _ = writeln!(out, "| | {} |", servers.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(servers.len()));
    for (scenario, label, digits) in rows {
        let cells: Vec<String> = servers
            .iter()
            .map(|server| {
                load_median(run, scenario, server)
                    .map_or("–".to_owned(), |v| format!("{v:.digits$}"))
            })
            .collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    }
}

/// The load benchmark: the median of the rounds per scenario and server, and each target's
/// ratio against socketioxide.
fn load_table(run: &Run, out: &mut String) {
    if run.load.is_empty() {
        return;
    }
    let median = |scenario: &str, server: &str| load_median(run, scenario, server);
    let rounds = run.load.values().map(Vec::len).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "\n### Load (`examples/load.rs`, median of {rounds} interleaved rounds)\n"
    );
    let _ = writeln!(out, "| | {} |", run.load_servers.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(run.load_servers.len()));
    let rows = [
        ("echo_acks_per_s", "echo with acks, 100 clients: acks/s", 0),
        ("echo_cpu_ms_per_1000", "server CPU per 1 000 acks (ms)", 1),
        ("echo_p50_us", "ack round trip p50 (µs)", 0),
        ("echo_p99_us", "ack round trip p99 (µs)", 0),
        (
            "fanout_deliveries_per_s",
            "fan-out, 1 000 clients × 1 000 broadcasts: deliveries/s",
            0,
        ),
        (
            "fanout_cpu_us_per_delivery",
            "server CPU per delivery (µs)",
            2,
        ),
        (
            "burst_lost_percent",
            "burst of 1 000 broadcasts at once: deliveries lost (%)",
            1,
        ),
        (
            "heartbeat_burst_dropped",
            "burst of 100 broadcasts, 300/200 ms heartbeats: healthy clients dropped",
            0,
        ),
        (
            "idle_ws_kib",
            "memory per idle WebSocket connection (KiB)",
            1,
        ),
        (
            "idle_polling_kib",
            "memory per idle long-polling client (KiB)",
            1,
        ),
        ("connections_per_s", "connections opened per second", 0),
        ("connect_cpu_us", "server CPU per connection opened (µs)", 0),
        ("rss_end_mib", "server RSS at the end (MiB)", 1),
        (
            "cluster_p50_us",
            "cluster via Redis, 2 × 500 clients: cross-node latency p50 (µs)",
            0,
        ),
        ("cluster_p99_us", "cluster: cross-node latency p99 (µs)", 0),
        (
            "cluster_deliveries_per_s",
            "cluster: deliveries/s over both nodes",
            0,
        ),
        (
            "cluster_cpu_us_per_broadcast",
            "cluster: node B's CPU per broadcast from Redis (µs)",
            1,
        ),
        (
            "cluster_sharded_p50_us",
            "sharded adapter: latency p50 (µs)",
            0,
        ),
        (
            "cluster_sharded_p99_us",
            "sharded adapter: latency p99 (µs)",
            0,
        ),
        (
            "cluster_sharded_deliveries_per_s",
            "sharded adapter: deliveries/s",
            0,
        ),
        (
            "cluster_sharded_cpu_us_per_broadcast",
            "sharded adapter: node B's CPU per broadcast (µs)",
            1,
        ),
        (
            "cluster_streams_p50_us",
            "streams adapter: latency p50 (µs)",
            0,
        ),
        (
            "cluster_streams_p99_us",
            "streams adapter: latency p99 (µs)",
            0,
        ),
        (
            "cluster_streams_deliveries_per_s",
            "streams adapter: deliveries/s",
            0,
        ),
        (
            "cluster_streams_cpu_us_per_broadcast",
            "streams adapter: node B's CPU per broadcast (µs)",
            1,
        ),
        (
            "cluster_postgres_p50_us",
            "PostgreSQL adapter: latency p50 (µs)",
            0,
        ),
        (
            "cluster_postgres_p99_us",
            "PostgreSQL adapter: latency p99 (µs)",
            0,
        ),
        (
            "cluster_postgres_deliveries_per_s",
            "PostgreSQL adapter: deliveries/s",
            0,
        ),
        (
            "cluster_postgres_cpu_us_per_broadcast",
            "PostgreSQL adapter: node B's CPU per broadcast (µs)",
            1,
        ),
    ];
    for (scenario, label, digits) in rows {
        let cells: Vec<String> = run
            .load_servers
            .iter()
            .map(|server| {
                median(scenario, server).map_or("–".to_owned(), |v| format!("{v:.digits$}"))
            })
            .collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    }
    let ratio = |scenario: &str| match (median(scenario, "ours"), median(scenario, "socketioxide"))
    {
        (Some(ours), Some(peer)) if peer != 0.0 => factor(ours / peer),
        _ => "–".to_owned(),
    };
    let _ = writeln!(
        out,
        "\nAgainst socketioxide: echo acks/s {}, CPU per ack {}, fan-out deliveries/s {}, \
         connections/s {}, CPU per connection {}; our server on 2 shards against 1: echo {}, \
         fan-out {}.",
        ratio("echo_acks_per_s"),
        ratio("echo_cpu_ms_per_1000"),
        ratio("fanout_deliveries_per_s"),
        ratio("connections_per_s"),
        ratio("connect_cpu_us"),
        match (
            median("echo_acks_per_s", "ours"),
            median("echo_acks_per_s", "ours-1")
        ) {
            (Some(two), Some(one)) => factor(two / one),
            _ => "–".to_owned(),
        },
        match (
            median("fanout_deliveries_per_s", "ours"),
            median("fanout_deliveries_per_s", "ours-1")
        ) {
            (Some(two), Some(one)) => factor(two / one),
            _ => "–".to_owned(),
        },
    );
    let versus = |scenario: &str, ours: &str, peer: &str| match (
        median(scenario, ours),
        median(scenario, peer),
    ) {
        (Some(ours), Some(peer)) if peer != 0.0 => factor(ours / peer),
        _ => "–".to_owned(),
    };
    let mounted = [
        ("echo_acks_per_s", "echo acks/s"),
        ("echo_cpu_ms_per_1000", "CPU per ack"),
        ("fanout_deliveries_per_s", "fan-out deliveries/s"),
        ("burst_lost_percent", "burst loss"),
        ("idle_ws_kib", "KiB per idle WebSocket"),
        ("idle_polling_kib", "KiB per idle polling client"),
        ("connections_per_s", "connections/s"),
    ];
    let admin = [
        ("echo_cpu_ms_per_1000", "CPU per ack"),
        ("echo_acks_per_s", "echo acks/s"),
        ("fanout_deliveries_per_s", "fan-out deliveries/s"),
        ("fanout_cpu_us_per_delivery", "CPU per delivery"),
        ("connections_per_s", "connections/s"),
        ("connect_cpu_us", "CPU per connection"),
        ("idle_ws_kib", "KiB per idle WebSocket"),
    ];
    for (server, what) in [
        (
            "ours-admin",
            "Instrumented for the Admin UI in development mode, nobody watching",
        ),
        (
            "ours-admin-watched",
            "The same with an admin connected to `/admin` all along, reading every report",
        ),
    ] {
        if run.load_servers.iter().any(|s| s == server) {
            let costs: Vec<String> = admin
                .iter()
                .map(|(scenario, label)| format!("{label} {}", versus(scenario, server, "ours-1")))
                .collect();
            let _ = writeln!(
                out,
                "\n{what} (`{server}`), against the same server without (`ours-1`): {}.",
                costs.join(", ")
            );
        }
    }
    if run.load_servers.iter().any(|s| s == "ours-axum") {
        let line = |peer: &str| {
            mounted
                .iter()
                .map(|(scenario, label)| format!("{label} {}", versus(scenario, "ours-axum", peer)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "\nMounted in axum (`ours-axum`) against socketioxide mounted the same way: {}. \
             Against our standalone server on one shard (`ours-1`): {}.",
            line("socketioxide-axum"),
            line("ours-1"),
        );
    }
}
