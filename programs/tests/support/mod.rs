//! Shared by the interop tests: the pinned npm packages, our programs and node scripts as
//! child processes, and the scripts' JSON-line reports.
#![allow(dead_code, unreachable_pub)] // each test binary uses a part; `pub` for the test modules

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// `programs/interop`: package.json, the lockfile, the scripts.
pub fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Whether a missing tool fails the test (`SOCKETIO_REQUIRE_INTEROP=1`, set by `.ci/run`)
/// instead of skipping it.
pub fn interop_required() -> bool {
    std::env::var("SOCKETIO_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// A test cannot run because `what` is missing: prints `skipped: <what>` and returns false,
/// or panics when [`interop_required`].
fn missing(what: &str) -> bool {
    assert!(
        !interop_required(),
        "{what} (required: SOCKETIO_REQUIRE_INTEROP=1)"
    );
    // Straight to the process's stderr: the test harness captures `println!`/`eprintln!`
    // of passing tests, and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "skipped: {what}");
    false
}

fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether Node.js and npm are here (the official Socket.IO packages run on them); installs the
/// pinned packages when they are. Call first in a test that needs them and return when false.
pub fn node_available() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| runs("node") && runs("npm"));
    if !found {
        return missing("Node.js and npm not found on PATH");
    }
    npm_packages();
    true
}

/// The Chromium binary (`CHROMIUM`, or Debian's `/usr/bin/chromium`), if there is one;
/// otherwise prints `skipped: …` (or fails, see [`interop_required`]).
pub fn chromium_available() -> bool {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if std::path::Path::new(&path).exists() {
        return true;
    }
    missing("Chromium not found (Debian's `chromium` package, or CHROMIUM=path)")
}

/// Whether Debian's `redis-server` is on PATH; otherwise prints `skipped: …` (or fails, see
/// [`interop_required`]).
pub fn redis_available() -> bool {
    runs("redis-server") || missing("redis-server not found")
}

/// A `redis-server` of our own on a free loopback port, without persistence; stopped when
/// dropped. Returns it with its `redis://` URL.
pub fn redis_server() -> (Process, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    redis_server_on(port)
}

/// [`redis_server`] on a given port (to restart one where it was).
pub fn redis_server_on(port: u16) -> (Process, String) {
    let mut command = Command::new("redis-server");
    command.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    let mut process = Process::spawn(command);
    process.wait_for_text("Ready to accept connections");
    (process, format!("redis://127.0.0.1:{port}"))
}

/// Where Debian's PostgreSQL server binaries are (`/usr/lib/postgresql/<version>/bin`, the
/// newest), or `POSTGRES_BIN`.
fn postgres_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("POSTGRES_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// Whether PostgreSQL's server binaries are here (Debian's `postgresql`); otherwise prints
/// `skipped: …` (or fails, see [`interop_required`]).
pub fn postgres_available() -> bool {
    postgres_bin().is_some()
        || missing("PostgreSQL not found (Debian's `postgresql` package, or POSTGRES_BIN=dir)")
}

/// A throw-away PostgreSQL cluster: a data directory of its own in a temporary directory,
/// listening on a loopback port (no Unix socket but in that directory), fsync off; stopped
/// and removed when dropped. PostgreSQL refuses to run as root: as root, the cluster runs as
/// the `postgres` user.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    /// `(uid, gid)` to run the server as, when this process is root.
    user: Option<(u32, u32)>,
    pub port: u16,
}

impl Postgres {
    /// Creates and starts a cluster; its URL is [`url`](Self::url).
    pub fn start() -> Postgres {
        use std::os::unix::fs::PermissionsExt;
        let bin = postgres_bin().expect("PostgreSQL binaries (check postgres_available first)");
        let root = running_as_root();
        let user = root.then(|| postgres_user().expect("a `postgres` user in /etc/passwd"));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("pgtest-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("its permissions");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown to postgres");
        }
        let pg = Postgres {
            bin,
            dir,
            user,
            port: 0,
        };
        let status = pg
            .command("initdb")
            .args(["-D", "data", "-U", "postgres", "-A", "trust", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .expect("initdb");
        assert!(status.success(), "initdb failed");
        pg.start_on_free_port()
    }

    fn command(&self, program: &str) -> Command {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(self.bin.join(program));
        command
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LC_ALL", "C");
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        command
    }

    /// Appends the port (and the rest) to the configuration (later lines win) and starts;
    /// another port when the one picked was taken meanwhile.
    fn start_on_free_port(mut self) -> Postgres {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let config = format!(
                "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = \
                 '{}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
                self.dir.display()
            );
            let conf = self.dir.join("data/postgresql.conf");
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&conf)
                .expect("postgresql.conf");
            file.write_all(config.as_bytes()).expect("postgresql.conf");
            self.port = port;
            if self.pg_ctl_start() {
                return self;
            }
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            assert!(
                log.contains("could not bind"),
                "PostgreSQL did not start:\n{log}"
            );
        }
        panic!("PostgreSQL found no free port");
    }

    fn pg_ctl_start(&self) -> bool {
        self.command("pg_ctl")
            .args(["-D", "data", "-l", "server.log", "-w", "-t", "30", "start"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (clients are cut off), as a database restart's first half.
    pub fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", "data", "-m", "fast", "-w", "-t", "30", "stop"])
            .stdout(Stdio::null())
            .status();
    }

    /// Starts it again on the same port.
    pub fn restart(&self) {
        assert!(self.pg_ctl_start(), "PostgreSQL did not start again");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether this process runs as root (its effective uid, from `/proc/self/status`).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// The `postgres` user's uid and gid.
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let mut fields = line.split(':').skip(2);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// Installs the pinned npm packages (`npm ci`) once per test binary, when missing.
pub fn npm_packages() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let dir = interop_dir();
        let marker = dir.join("node_modules/.package-lock.json");
        let fresh = std::fs::metadata(&marker)
            .and_then(|m| m.modified())
            .ok()
            .zip(
                std::fs::metadata(dir.join("package-lock.json"))
                    .and_then(|m| m.modified())
                    .ok(),
            )
            .is_some_and(|(installed, lock)| installed >= lock);
        if !fresh {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .expect("npm is required by the interop tests and was not found on PATH");
            assert!(status.success(), "`npm ci` failed in {}", dir.display());
        }
    });
}

/// A child process killed when dropped, its stdout read line by line on a thread.
pub struct Process {
    pub child: Child,
    lines: Receiver<String>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long any expected line may take.
const LINE_TIMEOUT: Duration = Duration::from_secs(30);

impl Process {
    /// Starts `command` with piped stdout (stderr inherited, so failures show in the test log).
    pub fn spawn(mut command: Command) -> Process {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Process { child, lines }
    }

    /// The next line; `None` at the end of the output. Panics after `timeout`.
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!("no output for {timeout:?}"),
        }
    }

    /// Waits for a line containing `needle` (log lines with a prefix of their own).
    pub fn wait_for_text(&mut self, needle: &str) {
        let deadline = Instant::now() + LINE_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = self.next_line(left) else {
                let status = self.child.wait();
                panic!("process ended ({status:?}) before printing {needle:?}");
            };
            if line.contains(needle) {
                return;
            }
        }
    }

    /// Reads lines until one starts with `prefix`; returns the rest of it. The lines skipped
    /// go to stderr, for the test log.
    pub fn wait_for_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + LINE_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = self.next_line(left) else {
                let status = self.child.wait();
                panic!("process ended ({status:?}) before printing {prefix:?}");
            };
            if let Some(rest) = line.trim_end().strip_prefix(prefix) {
                return rest.to_owned();
            }
            eprintln!("  | {line}");
        }
    }
}

/// Our conformance server in `mode` on `port` (0: any); returns it and its address.
pub fn our_server(mode: &str, port: u16) -> (Process, SocketAddr) {
    our_server_with(mode, port, &[])
}

/// [`our_server`] with more arguments (`--parser msgpack`, …).
pub fn our_server_with(mode: &str, port: u16, extra: &[&str]) -> (Process, SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_conformance-server"));
    command
        .args(["--mode", mode, "--port", &port.to_string()])
        .args(extra);
    let mut process = Process::spawn(command);
    let rest = process.wait_for_line("listening on http://");
    let addr = rest
        .split_whitespace()
        .next()
        .expect("address")
        .parse()
        .expect("socket address");
    (process, addr)
}

/// The official socket.io 4.8 server running the interop app without recovery, on a free
/// port, in the Redis cluster at `redis` with `adapter` (`classic` or `sharded`).
pub fn reference_cluster_node(redis: &str, adapter: &str) -> (Process, SocketAddr) {
    reference_cluster_node_with(redis, adapter, &[])
}

/// [`reference_cluster_node`] with more arguments (`--recovery`).
pub fn reference_cluster_node_with(
    redis: &str,
    adapter: &str,
    extra: &[&str],
) -> (Process, SocketAddr) {
    let cluster = ["--redis", redis, "--adapter", adapter];
    node_server("reference-server.mjs", 0, &[&cluster[..], extra].concat())
}

/// The official socket.io 4.8 server running the interop app (recovery on), on `port`.
pub fn reference_server(port: u16) -> (Process, SocketAddr) {
    reference_server_with(port, &[])
}

/// [`reference_server`] with more arguments (`--parser msgpack`, …).
pub fn reference_server_with(port: u16, extra: &[&str]) -> (Process, SocketAddr) {
    node_server(
        "reference-server.mjs",
        port,
        &[&["--recovery"], extra].concat(),
    )
}

/// `node interop/SCRIPT --port PORT ARGS…`, once it prints `LISTENING <port>`.
pub fn node_server(script: &str, port: u16, args: &[&str]) -> (Process, SocketAddr) {
    npm_packages();
    let mut command = Command::new("node");
    command
        .arg(interop_dir().join(script))
        .args(["--port", &port.to_string()])
        .args(args);
    let mut process = Process::spawn(command);
    let port: u16 = process
        .wait_for_line("LISTENING ")
        .trim()
        .parse()
        .expect("port");
    (process, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// One case reported by a script.
#[derive(Debug, serde::Deserialize)]
pub struct Report {
    #[serde(rename = "case")]
    pub name: String,
    pub ok: bool,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

/// Runs `node script args…` to its end; on a `RESTART` line calls `on_restart`. Returns
/// the reports and the exit status.
pub fn run_script(
    script: &str,
    args: &[&str],
    timeout: Duration,
    mut on_restart: impl FnMut(),
) -> (Vec<Report>, std::process::ExitStatus) {
    npm_packages();
    let mut command = Command::new("node");
    command.arg(interop_dir().join(script)).args(args);
    let mut process = Process::spawn(command);
    let deadline = Instant::now() + timeout;
    let mut reports = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(line) = process.next_line(left) else {
            break;
        };
        let text = line.trim();
        if text == "RESTART" {
            on_restart();
        } else if text.starts_with('{') {
            match serde_json::from_str::<Report>(text) {
                Ok(report) => reports.push(report),
                Err(_) => eprintln!("{script}: {text}"),
            }
        } else if !text.is_empty() {
            eprintln!("{script}: {text}");
        }
    }
    let status = process.child.wait().expect("wait for node");
    (reports, status)
}

/// Asserts that every expected case was reported, and passed.
pub fn assert_all_passed(label: &str, reports: &[Report], expected: &[&str]) {
    for report in reports {
        eprintln!(
            "{label}: {} {}",
            report.name,
            if report.ok { "ok" } else { "FAILED" }
        );
    }
    let failed: Vec<&Report> = reports.iter().filter(|r| !r.ok).collect();
    assert!(failed.is_empty(), "{label}: failed cases: {failed:#?}");
    for name in expected {
        assert!(
            reports.iter().any(|r| r.name == *name),
            "{label}: case {name} was not reported (got {:?})",
            reports.iter().map(|r| &r.name).collect::<Vec<_>>()
        );
    }
}
