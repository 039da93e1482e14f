//! Hostile clients against `conformance-server --mode sio` (the interop app on `/socket.io/`,
//! pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1 000 000), shared by
//! `tests/hostile_clients.rs` (small sizes, asserted) and `examples/hostile_table.rs` (the full
//! sizes, printed as a table). Each attack returns what it measured; the callers judge.
//!
//! Everything is on 127.0.0.1 and every wait is bounded. The server runs as a child process so
//! that its memory (`VmRSS`), CPU time (`utime + stime`) and open descriptors can be read from
//! `/proc/<pid>/` (Linux only). A [`GoodClient`] — a Socket.IO v5 client over WebSocket on its
//! own thread and runtime, acking `message-with-ack` every [`GOOD_EVERY`] and answering pings —
//! shows whether the server keeps serving well-behaved clients during an attack.
#![allow(dead_code, unreachable_pub)] // each user takes a part; `pub` for the users

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, sleep, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The longest one expected thing (a connect, a response, a frame) may take.
pub const WAIT: Duration = Duration::from_secs(5);
/// How often the good client asks for an ack.
pub const GOOD_EVERY: Duration = Duration::from_millis(25);
/// An ack the good client waits for longer than this is a failure.
pub const GOOD_ACK_DEADLINE: Duration = Duration::from_secs(3);
/// The polling handshake's query.
pub const HANDSHAKE: &str = "EIO=4&transport=polling";

// ---------------------------------------------------------------------------------------------
// The server process and /proc
// ---------------------------------------------------------------------------------------------

/// `conformance-server --mode sio --port 0 ARGS`, killed when dropped.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `binary` with `args` after `--mode sio --port 0`. With `fd_limit`, through
    /// `sh -c 'ulimit -n N; exec …'` (`exec`: the pid is the server's); a limit above the hard
    /// one falls back to the hard one.
    pub fn start(binary: &Path, fd_limit: Option<u64>, args: &[&str]) -> Server {
        let mut command = match fd_limit {
            Some(limit) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!(
                        "ulimit -n {limit} 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"; \
                         exec \"$0\" \"$@\""
                    ))
                    .arg(binary);
                c
            }
            None => Command::new(binary),
        };
        command
            .args(["--mode", "sio", "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(rest.split_whitespace().next().map(str::to_owned));
                }
            }
            let _ = tx.send(None);
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(addr)) => addr.parse().expect("socket address"),
            other => {
                let _ = child.kill();
                panic!("{command:?} did not print its address: {other:?}");
            }
        };
        Server { child, addr }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// CPU time used so far (user + system).
    pub fn cpu(&self) -> Duration {
        cpu_time(self.pid())
    }

    /// Open file descriptors.
    pub fn fds(&self) -> usize {
        open_fds(self.pid())
    }
}

/// `VmRSS` of `/proc/<pid>/status`, KiB (0 when the process is gone).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `utime + stime` of `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces), from field 3 (state) on:
    // utime is field 14, stime field 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_secs_f64(ticks as f64 / clock_ticks())
}

/// `getconf CLK_TCK` (100 on every Linux this runs on), once.
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The machine's busy and total CPU time so far, in ticks of all CPUs (`/proc/stat`).
pub fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// The share of the machine's CPUs busy between two [`machine_ticks`].
pub fn machine_busy(before: (u64, u64), after: (u64, u64)) -> f64 {
    let total = after.1.saturating_sub(before.1).max(1);
    after.0.saturating_sub(before.0) as f64 / total as f64
}

/// Entries of `/proc/<pid>/fd`.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The soft limit on open files of this process (`/proc/self/limits`).
pub fn own_fd_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1
// ---------------------------------------------------------------------------------------------

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A request for `/socket.io/?query` (Host added; `Content-Length` when there is a body).
pub fn request(method: &str, query: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} /socket.io/?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    if !body.is_empty() {
        head += &format!("Content-Length: {}\r\n", body.len());
    }
    head += "\r\n";
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The session id of a v4 handshake answer `0{"sid":…}`.
pub fn sid_of(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body.strip_prefix(b"0")?).ok()?;
    Some(json.get("sid")?.as_str()?.to_owned())
}

/// One client connection, read through a buffer (keep-alive: responses one after another).
pub struct Http {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    pub async fn connect(addr: SocketAddr) -> io::Result<Http> {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .map_err(|_| timed_out("connect"))??;
        stream.set_nodelay(true)?;
        Ok(Http {
            stream,
            buf: Vec::new(),
        })
    }

    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        timeout(WAIT, self.stream.write_all(bytes))
            .await
            .map_err(|_| timed_out("write"))?
    }

    /// Reads more into the buffer; 0 at the end of the stream.
    async fn fill(&mut self, deadline: Instant) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = timeout_at(deadline, self.stream.read(&mut chunk))
            .await
            .map_err(|_| timed_out("read"))??;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next response (by `Content-Length`, none for 101/204/304, else to the end of the
    /// stream). What follows it stays buffered (the frames after a 101).
    pub async fn response(&mut self, wait: Duration) -> io::Result<Response> {
        let deadline = Instant::now() + wait;
        let mut ended = false;
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let status: u16 = lines
                    .next()
                    .and_then(|l| l.split(' ').nth(1))
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| io::Error::other(format!("bad status line in {head:?}")))?;
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                let length = if matches!(status, 101 | 204 | 304) {
                    Some(0)
                } else {
                    headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse::<usize>().ok())
                };
                let body_at = end + 4;
                let complete = match length {
                    Some(length) => (self.buf.len() >= body_at + length).then_some(length),
                    None => ended.then_some(self.buf.len() - body_at),
                };
                if let Some(length) = complete {
                    let body = self.buf[body_at..body_at + length].to_vec();
                    self.buf.drain(..body_at + length);
                    return Ok(Response {
                        status,
                        headers,
                        body,
                    });
                }
            }
            if ended {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            ended = self.fill(deadline).await? == 0;
        }
    }

    /// One request and its response.
    pub async fn exchange(&mut self, request: &[u8]) -> io::Result<Response> {
        self.send(request).await?;
        self.response(WAIT).await
    }

    /// Waits for the server to end the connection (end of stream or reset), discarding what
    /// arrives: how long it took, or `None` if still open after `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> Option<Duration> {
        let start = Instant::now();
        let deadline = start + wait;
        let mut chunk = [0u8; 4096];
        loop {
            match timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return None,
                Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// The next WebSocket frame from the server (unmasked, as servers send them), or `None` at
    /// the end of the stream.
    pub async fn ws_frame(&mut self, deadline: Instant) -> io::Result<Option<WireFrame>> {
        loop {
            if let Some((frame, used)) = parse_server_frame(&self.buf) {
                self.buf.drain(..used);
                return Ok(Some(frame));
            }
            if self.fill(deadline).await? == 0 {
                return Ok(None);
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A WebSocket frame as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// The first frame in `buf` and the bytes it takes, once all of it is there.
fn parse_server_frame(buf: &[u8]) -> Option<(WireFrame, usize)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let (len, mut at) = match b1 & 0x7f {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let mask = if b1 & 0x80 != 0 {
        let m: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(m)
    } else {
        None
    };
    let mut payload = buf.get(at..at + len)?.to_vec();
    if let Some(m) = mask {
        payload
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b ^= m[i % 4]);
    }
    let frame = WireFrame {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0f,
        payload,
    };
    Some((frame, at + len))
}

/// A client frame: `fin`, `opcode`, masked (with a fixed key) unless `unmasked`. `declared`
/// overrides the length in the header (the payload written may then be shorter).
pub fn client_frame(
    fin: bool,
    opcode: u8,
    unmasked: bool,
    payload: &[u8],
    declared: Option<u64>,
) -> Vec<u8> {
    let len = declared.unwrap_or(payload.len() as u64);
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    let mask_bit = if unmasked { 0 } else { 0x80 };
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= u64::from(u16::MAX) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    let key = [0x37, 0xfa, 0x21, 0x3d];
    if unmasked {
        out.extend_from_slice(payload);
    } else {
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Socket.IO over WebSocket
// ---------------------------------------------------------------------------------------------

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket to the Engine.IO endpoint (a 4 KiB read buffer: thousands of them may be open).
pub async fn ws_connect(addr: SocketAddr) -> Result<Ws, String> {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let config = WebSocketConfig::default().read_buffer_size(4096);
    match timeout(
        WAIT,
        tokio_tungstenite::connect_async_with_config(url, Some(config), true),
    )
    .await
    {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(format!("WebSocket handshake: {e}")),
        Err(_) => Err("WebSocket handshake timed out".into()),
    }
}

/// The next text message, pings answered; an error on anything else, or after `deadline`.
pub async fn next_text(ws: &mut Ws, deadline: Instant) -> Result<String, String> {
    loop {
        match timeout_at(deadline, ws.next()).await {
            Err(_) => return Err("no message in time".into()),
            Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "2" => {
                ws.send(Message::text("3"))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(Some(Ok(Message::Text(t)))) => return Ok(t.as_str().to_owned()),
            Ok(Some(Ok(Message::Close(f)))) => return Err(format!("closed: {f:?}")),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(format!("error: {e}")),
            Ok(None) => return Err("ended".into()),
        }
    }
}

/// Waits for the server's next ping (at most pingInterval + margin) and answers it.
pub async fn wait_for_ping(ws: &mut Ws) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match timeout_at(deadline, ws.next()).await {
            Err(_) => return Err("no ping in time".into()),
            Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "2" => {
                return ws.send(Message::text("3")).await.map_err(|e| e.to_string());
            }
            Ok(Some(Ok(Message::Close(f)))) => return Err(format!("closed: {f:?}")),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(format!("error: {e}")),
            Ok(None) => return Err("ended".into()),
        }
    }
}

/// Opens a Socket.IO v5 session on `/` over WebSocket: the open packet, then `40` answered by
/// `40{"sid":…}`.
pub async fn sio_open(addr: SocketAddr) -> Result<Ws, String> {
    let mut ws = ws_connect(addr).await?;
    let deadline = Instant::now() + WAIT;
    let open = next_text(&mut ws, deadline).await?;
    if !open.starts_with("0{") {
        return Err(format!("open packet expected, got {open:?}"));
    }
    ws.send(Message::text("40"))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let packet = next_text(&mut ws, deadline).await?;
        if packet.starts_with("40{") {
            return Ok(ws);
        }
        if packet.starts_with("44") {
            return Err(format!("CONNECT refused: {packet}"));
        }
    }
}

/// `42<id>["message-with-ack",<id>]`.
pub fn ack_request(id: u64) -> String {
    format!("42{id}[\"message-with-ack\",{id}]")
}

/// `42<id>["message-with-ack",<id>,"<padding>"]` (no string when `padding` is empty).
pub fn padded_ack_request(id: u64, padding: &str) -> String {
    if padding.is_empty() {
        return ack_request(id);
    }
    format!("42{id}[\"message-with-ack\",{id},\"{padding}\"]")
}

/// The id of an ACK `43<id>[…]`.
pub fn ack_id(packet: &str) -> Option<u64> {
    let rest = packet.strip_prefix("43")?;
    let digits = rest.find('[')?;
    rest[..digits].parse().ok()
}

/// A new client connects and gets `acks` acks in a row: the server serves newcomers.
pub async fn served(addr: SocketAddr, acks: u64) -> Result<Duration, String> {
    let start = Instant::now();
    let mut ws = sio_open(addr).await?;
    for id in 0..acks {
        ws.send(Message::text(ack_request(id)))
            .await
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + WAIT;
        loop {
            let packet = next_text(&mut ws, deadline).await?;
            if ack_id(&packet) == Some(id) {
                if packet != format!("43{id}[{id}]") {
                    return Err(format!("wrong ack {packet:?}"));
                }
                break;
            }
        }
    }
    let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
    Ok(start.elapsed())
}

/// What a [`GoodClient`] saw.
#[derive(Debug, Clone, Default)]
pub struct GoodReport {
    /// Acks received, each with the right arguments.
    pub acked: u64,
    /// The slowest ack.
    pub max_latency: Duration,
    /// Why it stopped before being told to (closed, an ack late or wrong…).
    pub failure: Option<String>,
}

/// A well-behaved Socket.IO client on its own thread and runtime (so that attackers in the
/// same process do not delay it): `42<id>["message-with-ack",<id>]` every [`GOOD_EVERY`],
/// each `43<id>[<id>]` checked, pings answered.
pub struct GoodClient {
    acked: Arc<AtomicU64>,
    stop: oneshot::Sender<()>,
    report: oneshot::Receiver<GoodReport>,
}

impl GoodClient {
    /// Starts one and waits for its first acks.
    pub async fn start(addr: SocketAddr) -> GoodClient {
        let (stop, stopped) = oneshot::channel();
        let (done, report) = oneshot::channel();
        let acked = Arc::new(AtomicU64::new(0));
        let counter = acked.clone();
        std::thread::Builder::new()
            .name("good-client".into())
            .spawn(move || {
                let report = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(good_client(addr, counter, stopped)),
                    Err(e) => GoodReport {
                        failure: Some(format!("runtime: {e}")),
                        ..GoodReport::default()
                    },
                };
                let _ = done.send(report);
            })
            .expect("a thread for the good client");
        let client = GoodClient {
            acked,
            stop,
            report,
        };
        assert!(
            client.acks_more(3, WAIT).await,
            "the good client could not connect and ack before the attack"
        );
        client
    }

    /// Acks so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Whether `n` more acks arrive within `within`.
    pub async fn acks_more(&self, n: u64, within: Duration) -> bool {
        let target = self.acked() + n;
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.acked() >= target {
                return true;
            }
            sleep(Duration::from_millis(10)).await;
        }
        self.acked() >= target
    }

    /// Stops it; what it saw.
    pub async fn finish(self) -> GoodReport {
        let _ = self.stop.send(());
        match timeout(Duration::from_secs(10), self.report).await {
            Ok(Ok(report)) => report,
            _ => GoodReport {
                failure: Some("the good client did not stop".into()),
                ..GoodReport::default()
            },
        }
    }
}

async fn good_client(
    addr: SocketAddr,
    acked: Arc<AtomicU64>,
    mut stop: oneshot::Receiver<()>,
) -> GoodReport {
    let mut report = GoodReport::default();
    let mut ws = match sio_open(addr).await {
        Ok(ws) => ws,
        Err(e) => {
            report.failure = Some(format!("connect: {e}"));
            return report;
        }
    };
    let mut ticker = tokio::time::interval(GOOD_EVERY);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut pending: VecDeque<(u64, Instant)> = VecDeque::new();
    let mut next = 0u64;
    let mut last_ping = None::<Instant>;
    let failure = loop {
        tokio::select! {
            _ = &mut stop => break None,
            _ = ticker.tick() => {
                if let Some((id, at)) = pending.front() {
                    if at.elapsed() > GOOD_ACK_DEADLINE {
                        break Some(format!("ack {id} not answered in {GOOD_ACK_DEADLINE:?}"));
                    }
                }
                if pending.len() < 64 {
                    if let Err(e) = ws.send(Message::text(ack_request(next))).await {
                        break Some(format!("send: {e}"));
                    }
                    pending.push_back((next, Instant::now()));
                    next += 1;
                }
            }
            message = ws.next() => match message {
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    last_ping = Some(Instant::now());
                    if let Err(e) = ws.send(Message::text("3")).await {
                        break Some(format!("pong: {e}"));
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    let Some(id) = ack_id(t.as_str()) else { continue };
                    let Some(at) = pending.iter().position(|(p, _)| *p == id) else {
                        break Some(format!("unexpected ack {t}"));
                    };
                    if t.as_str() != format!("43{id}[{id}]") {
                        break Some(format!("wrong ack {t}"));
                    }
                    if let Some((_, sent)) = pending.remove(at) {
                        report.max_latency = report.max_latency.max(sent.elapsed());
                    }
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                Some(Ok(Message::Close(frame))) => break Some(format!(
                    "closed by the server ({frame:?}) {:?} after its last ping",
                    last_ping.map(|p| p.elapsed())
                )),
                Some(Ok(_)) => {}
                Some(Err(e)) => break Some(format!("error: {e}")),
                None => break Some("connection ended".into()),
            },
        }
    };
    report.failure = failure;
    report.acked = acked.load(Ordering::Relaxed);
    let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
    report
}

// ---------------------------------------------------------------------------------------------
// Attacks
// ---------------------------------------------------------------------------------------------

/// [`idle_keep_alive`]'s findings.
#[derive(Debug, Clone, Default)]
pub struct IdleReport {
    pub opened: usize,
    /// Handshakes answered 200.
    pub answered: usize,
    /// Connections the server ended within the wait.
    pub closed: usize,
    /// The longest time from an answer to the server's close.
    pub slowest_close: Duration,
    pub fastest_close: Option<Duration>,
    /// The server's open descriptors: before, most seen, after.
    pub fds_before: usize,
    pub fds_peak: usize,
    pub fds_after: usize,
    pub errors: Vec<String>,
}

/// `n` connections each send one keep-alive polling handshake, read the answer, then idle
/// until the server closes them (at most `wait` after the answer).
pub async fn idle_keep_alive(server: &Server, n: usize, wait: Duration) -> IdleReport {
    let addr = server.addr;
    let mut report = IdleReport {
        fds_before: server.fds(),
        ..IdleReport::default()
    };
    let opening = Arc::new(Semaphore::new(100));
    let mut tasks = JoinSet::new();
    for _ in 0..n {
        let opening = opening.clone();
        tasks.spawn(async move {
            let permit = opening.acquire_owned().await;
            let mut http = Http::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let response = http
                .exchange(&request("GET", HANDSHAKE, &[], b""))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            drop(permit);
            if response.status != 200 {
                return Err(format!("handshake answered {}", response.status));
            }
            Ok(http.closed_within(wait).await)
        });
    }
    report.opened = n;
    let sampling = AtomicBool::new(true);
    let sample = async {
        let mut peak = 0;
        while sampling.load(Ordering::Relaxed) {
            peak = peak.max(server.fds());
            sleep(Duration::from_millis(20)).await;
        }
        peak
    };
    let collect = async {
        while let Some(result) = tasks.join_next().await {
            match result {
                Ok(Ok(closed)) => {
                    report.answered += 1;
                    if let Some(after) = closed {
                        report.closed += 1;
                        report.slowest_close = report.slowest_close.max(after);
                        report.fastest_close =
                            Some(report.fastest_close.map_or(after, |f| f.min(after)));
                    }
                }
                Ok(Err(e)) => report.errors.push(e),
                Err(e) => report.errors.push(e.to_string()),
            }
        }
        sampling.store(false, Ordering::Relaxed);
    };
    let (peak, ()) = tokio::join!(sample, collect);
    report.fds_peak = peak;
    sleep(Duration::from_millis(100)).await;
    report.fds_after = server.fds();
    report
}

/// [`descriptor_exhaustion`]'s findings.
#[derive(Debug, Clone)]
pub struct ExhaustionReport {
    pub opened: usize,
    /// The server's CPU time over `window`, as a fraction of one core.
    pub cpu_fraction: f64,
    pub window: Duration,
    /// Connections the server closed, and when the last of them closed.
    pub shed: usize,
    pub all_shed_after: Option<Duration>,
    /// The server's most open descriptors.
    pub fds_peak: usize,
    /// A new client after the shedding: connected and acked (in this time), or why not.
    pub served_after: Result<Duration, String>,
}

/// `n` TCP connections that send the first bytes of a request line and nothing more, against
/// a server with few descriptors: the server's CPU over `window` from the first connect, how
/// long until all are shed (at most `shed_wait` from the first connect), then a new client.
pub async fn descriptor_exhaustion(
    server: &Server,
    n: usize,
    window: Duration,
    shed_wait: Duration,
) -> ExhaustionReport {
    let addr = server.addr;
    let start = Instant::now();
    let cpu_before = server.cpu();
    // All at once: past the server's descriptors and its listen backlog (128), a connect waits
    // for the kernel to retry its SYN (1 s), and must not hold up the others.
    let mut attackers = JoinSet::new();
    for _ in 0..n {
        attackers.spawn(async move {
            // Past the backlog, the kernel retries a SYN after 1 s, then 3 s and 7 s.
            let connect = TcpStream::connect(addr);
            let Ok(Ok(mut stream)) = timeout(Duration::from_secs(10), connect).await else {
                return Err(());
            };
            // The start of a request line, never finished: without a byte sent, a connection
            // the kernel completed with a SYN cookie while the accept queue was full exists
            // only on this side (never accepted, never shed); the byte makes the kernel retry
            // it until it is accepted. The server sees the same idle client either way.
            let _ = stream.write_all(b"GET /socket.io/?EIO=4").await;
            let mut chunk = [0u8; 512];
            let deadline = start + shed_wait;
            loop {
                match timeout_at(deadline, stream.read(&mut chunk)).await {
                    Err(_) => return Ok(None),
                    Ok(Ok(0) | Err(_)) => return Ok(Some(start.elapsed())),
                    Ok(Ok(_)) => {}
                }
            }
        });
    }
    let mut fds_peak = 0;
    let window_end = start + window;
    while Instant::now() < window_end {
        fds_peak = fds_peak.max(server.fds());
        sleep(Duration::from_millis(10)).await;
    }
    let cpu = server.cpu().saturating_sub(cpu_before);
    let (mut opened, mut shed) = (0, 0);
    let mut last = None::<Duration>;
    while let Some(result) = attackers.join_next().await {
        match result {
            Ok(Ok(Some(at))) => {
                opened += 1;
                shed += 1;
                last = Some(last.map_or(at, |l| l.max(at)));
            }
            Ok(Ok(None)) => opened += 1,
            _ => {}
        }
    }
    ExhaustionReport {
        opened,
        cpu_fraction: cpu.as_secs_f64() / window.as_secs_f64(),
        window,
        shed,
        all_shed_after: if shed == opened { last } else { None },
        fds_peak,
        served_after: served(addr, 3).await,
    }
}

/// [`stalled_posts`]' findings.
#[derive(Debug, Clone, Default)]
pub struct StalledReport {
    pub posts: usize,
    /// Bodies written in full (`sent` bytes each).
    pub bodies_sent: usize,
    /// POSTs answered while the attacker still held them open, by status.
    pub answers: BTreeMap<u16, usize>,
    /// The server's RSS (KiB) before, at its highest, once back within the tolerance (or at
    /// the end of the wait), and after the attacker left.
    pub baseline_kib: u64,
    pub peak_kib: u64,
    pub after_kib: u64,
    /// From the last answer to `after_kib`.
    pub after_delay: Duration,
    pub left_kib: u64,
    pub errors: Vec<String>,
}

/// `n` polling sessions each POST `sent` bytes of a body declared `declared` bytes long, then
/// stall, holding the connection open; the sessions time out (nobody answers their pings).
/// Waits until every POST is answered, then up to `settle` for the RSS to come within
/// `tolerance_kib` of the baseline, then lets the attacker go.
pub async fn stalled_posts(
    server: &Server,
    n: usize,
    sent: usize,
    declared: usize,
    tolerance_kib: u64,
    settle: Duration,
) -> StalledReport {
    let addr = server.addr;
    let pid = server.pid();
    let mut report = StalledReport {
        posts: n,
        baseline_kib: server.rss_kib(),
        ..StalledReport::default()
    };
    let release = Arc::new(Notify::new());
    let released = Arc::new(AtomicBool::new(false));
    let bodies = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut body = vec![b'a'; sent];
    body[0] = b'4';
    let body = Arc::new(body);
    let mut tasks = JoinSet::new();
    for _ in 0..n {
        let (release, released) = (release.clone(), released.clone());
        let (bodies, answered, body) = (bodies.clone(), answered.clone(), body.clone());
        tasks.spawn(async move {
            let mut http = Http::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let handshake = http
                .exchange(&request("GET", HANDSHAKE, &[], b""))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            let sid = sid_of(&handshake.body).ok_or("no sid")?;
            let head = format!(
                "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n\
                 Host: 127.0.0.1\r\nContent-Type: text/plain;charset=UTF-8\r\n\
                 Content-Length: {declared}\r\n\r\n"
            );
            http.send(head.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            // The server stops reading when the session ends: what is not taken by then stays
            // unsent.
            if http.send(&body).await.is_ok() {
                bodies.fetch_add(1, Ordering::Relaxed);
            }
            let status = match http.response(WAIT).await {
                Ok(response) => Some(response.status),
                Err(_) => None,
            };
            answered.fetch_add(1, Ordering::Relaxed);
            // Hold the connection open until released.
            let notified = release.notified();
            if !released.load(Ordering::Relaxed) {
                let _ = timeout(Duration::from_secs(30), notified).await;
            }
            drop(http);
            Ok::<_, String>(status)
        });
    }
    // The peak, sampled until every POST is answered (or the wait ends).
    let mut peak = report.baseline_kib;
    let deadline = Instant::now() + WAIT;
    while answered.load(Ordering::Relaxed) < n && Instant::now() < deadline {
        peak = peak.max(rss_kib(pid));
        sleep(Duration::from_millis(5)).await;
    }
    peak = peak.max(rss_kib(pid));
    let answered_at = Instant::now();
    let settle_end = answered_at + settle;
    let mut after = rss_kib(pid);
    while after > report.baseline_kib + tolerance_kib && Instant::now() < settle_end {
        sleep(Duration::from_millis(20)).await;
        after = rss_kib(pid);
    }
    report.peak_kib = peak;
    report.after_kib = after;
    report.after_delay = answered_at.elapsed();
    report.bodies_sent = bodies.load(Ordering::Relaxed);
    released.store(true, Ordering::Relaxed);
    release.notify_waiters();
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(Ok(Some(status))) => *report.answers.entry(status).or_default() += 1,
            Ok(Ok(None)) => {}
            Ok(Err(e)) => report.errors.push(e),
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    sleep(Duration::from_millis(200)).await;
    report.left_kib = server.rss_kib();
    report
}

/// [`endless_chunked_post`]'s findings.
#[derive(Debug, Clone, Default)]
pub struct ChunkedReport {
    /// From the handshake to the POST's answer (or the server closing the connection).
    pub answered_after: Option<Duration>,
    /// The answer's status line, when one came.
    pub status: Option<u16>,
    /// Chunks written, and whether the attacker could still write when it stopped.
    pub chunks: usize,
    pub still_writable: bool,
}

/// A polling session POSTs a chunked body that never ends (one byte every 100 ms, the
/// terminating chunk never sent), keeping its connection open; the session times out.
pub async fn endless_chunked_post(addr: SocketAddr, wait: Duration) -> ChunkedReport {
    let mut report = ChunkedReport::default();
    let Ok(mut http) = Http::connect(addr).await else {
        return report;
    };
    let Ok(handshake) = http.exchange(&request("GET", HANDSHAKE, &[], b"")).await else {
        return report;
    };
    let start = Instant::now();
    let Some(sid) = sid_of(&handshake.body) else {
        return report;
    };
    let head = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n4\r\n"
    );
    if http.send(head.as_bytes()).await.is_err() {
        return report;
    }
    let (mut reader, mut writer) = http.stream.into_split();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let trickle = tokio::spawn(async move {
        let mut chunks = 1;
        let mut writable = true;
        while !stopping.load(Ordering::Relaxed) {
            sleep(Duration::from_millis(100)).await;
            match timeout(Duration::from_millis(500), writer.write_all(b"1\r\na\r\n")).await {
                Ok(Ok(())) => chunks += 1,
                _ => {
                    writable = false;
                    break;
                }
            }
        }
        (chunks, writable, writer)
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let deadline = start + wait;
    loop {
        match timeout_at(deadline, reader.read(&mut chunk)).await {
            Err(_) => break,
            Ok(Ok(0) | Err(_)) => {
                report.answered_after = Some(start.elapsed());
                break;
            }
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                if find(&buf, b"\r\n\r\n").is_some() {
                    report.answered_after = Some(start.elapsed());
                    let head = String::from_utf8_lossy(&buf);
                    report.status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
                    break;
                }
            }
        }
    }
    // Keep the connection open a little longer, then stop.
    sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    if let Ok(Ok((chunks, writable, _writer))) = timeout(WAIT, trickle).await {
        report.chunks = chunks;
        report.still_writable = writable;
    }
    report
}

/// [`ack_flood`]'s findings.
#[derive(Debug, Clone, Default)]
pub struct FloodReport {
    /// `message-with-ack` events sent, and acks received for them (each id once, with the
    /// right arguments).
    pub sent: u64,
    pub acked: u64,
    /// Acks unexpected (unknown or repeated id, wrong arguments).
    pub wrong: u64,
    /// A last ack asked for after all the others came back.
    pub probe_acked: bool,
    /// How the connection ended, if it did.
    pub closed: Option<String>,
    pub send_time: Duration,
    pub total_time: Duration,
    /// The server's CPU time over the whole flood.
    pub server_cpu: Duration,
}

/// Sends up to `total` `message-with-ack` events (each with a string of `pad` bytes after its
/// id, echoed in its ack), `per_tick` every `tick` (all at once when
/// `per_tick >= total`), for at most `send_for`, while reading everything and answering
/// pings; waits (at most `wait` in all) for every ack, then for one more.
pub async fn ack_flood(
    server: &Server,
    total: u64,
    pad: usize,
    per_tick: u64,
    tick: Duration,
    send_for: Duration,
    wait: Duration,
) -> Result<FloodReport, String> {
    let start = Instant::now();
    let mut ws = sio_open(server.addr).await?;
    // Start right after a heartbeat: the server's next ping is then 300 ms away and its
    // deadline 500 ms, the most time it has to digest the flood before it must read a pong.
    wait_for_ping(&mut ws).await?;
    let cpu_before = server.cpu();
    let (mut sink, mut stream) = ws.split();
    let (pong, mut pongs) = mpsc::unbounded_channel::<()>();
    let (probe, probe_wanted) = oneshot::channel::<()>();
    let sent = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (sent_w, done_w) = (sent.clone(), done.clone());
    let padding = "x".repeat(pad);
    let suffix = if pad == 0 {
        String::new()
    } else {
        format!(",\"{padding}\"")
    };
    let writer = tokio::spawn(async move {
        let begin = Instant::now();
        let mut ticker = tokio::time::interval(tick);
        let mut next = 0u64;
        while next < total && begin.elapsed() < send_for {
            ticker.tick().await;
            let end = (next + per_tick).min(total);
            while next < end {
                while pongs.try_recv().is_ok() {
                    sink.feed(Message::text("3")).await?;
                }
                sink.feed(Message::text(padded_ack_request(next, &padding)))
                    .await?;
                next += 1;
                sent_w.store(next, Ordering::Relaxed);
            }
            sink.flush().await?;
        }
        let send_time = begin.elapsed();
        done_w.store(true, Ordering::Relaxed);
        let mut probe_wanted = probe_wanted;
        let mut probed = false;
        loop {
            tokio::select! {
                p = pongs.recv() => match p {
                    Some(()) => sink.send(Message::text("3")).await?,
                    None => break,
                },
                wanted = &mut probe_wanted, if !probed => {
                    probed = true;
                    if wanted.is_ok() {
                        sink.send(Message::text(ack_request(total))).await?;
                    }
                }
            }
        }
        Ok::<_, tokio_tungstenite::tungstenite::Error>(send_time)
    });
    let mut report = FloodReport::default();
    let mut seen = vec![false; total as usize];
    let mut probe = Some(probe);
    let mut last_ping = None::<Instant>;
    let deadline = start + wait;
    loop {
        if done.load(Ordering::Relaxed) && report.acked == sent.load(Ordering::Relaxed) {
            if let Some(probe) = probe.take() {
                let _ = probe.send(());
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let step = deadline.min(now + Duration::from_millis(50));
        let message = match timeout_at(step, stream.next()).await {
            Err(_) => continue,
            Ok(message) => message,
        };
        match message {
            Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                last_ping = Some(Instant::now());
                let _ = pong.send(());
            }
            Some(Ok(Message::Text(t))) => {
                let Some(id) = ack_id(t.as_str()) else {
                    continue;
                };
                if id == total {
                    report.probe_acked = true;
                    break;
                }
                let fresh = seen.get(id as usize).is_some_and(|s| !s);
                if fresh && t.as_str() == format!("43{id}[{id}{suffix}]") {
                    seen[id as usize] = true;
                    report.acked += 1;
                } else {
                    report.wrong += 1;
                }
            }
            Some(Ok(Message::Close(frame))) => {
                report.closed = Some(format!(
                    "close frame {frame:?}, {:?} after the last ping",
                    last_ping.map(|p| p.elapsed())
                ));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                report.closed = Some(format!("error {e}"));
                break;
            }
            None => {
                report.closed = Some("ended without a close frame".into());
                break;
            }
        }
    }
    report.sent = sent.load(Ordering::Relaxed);
    drop(pong);
    match timeout(WAIT, writer).await {
        Ok(Ok(Ok(send_time))) => report.send_time = send_time,
        Ok(Ok(Err(e))) => {
            report
                .closed
                .get_or_insert_with(|| format!("write error {e}"));
        }
        _ => {
            report.closed.get_or_insert_with(|| "writer stuck".into());
        }
    }
    report.total_time = start.elapsed();
    report.server_cpu = server.cpu().saturating_sub(cpu_before);
    Ok(report)
}

/// Opens an Engine.IO WebSocket by hand (raw frames, see [`client_frame`]): the connection,
/// past the 101 and the open packet.
pub async fn raw_websocket(addr: SocketAddr) -> Result<Http, String> {
    let mut http = Http::connect(addr).await.map_err(|e| e.to_string())?;
    let upgrade = request(
        "GET",
        "EIO=4&transport=websocket",
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ],
        b"",
    );
    let response = http.exchange(&upgrade).await.map_err(|e| e.to_string())?;
    if response.status != 101 {
        return Err(format!("upgrade answered {}", response.status));
    }
    match http.ws_frame(Instant::now() + WAIT).await {
        Ok(Some(WireFrame {
            fin: true,
            opcode: 1,
            payload,
        })) if payload.starts_with(b"0{") => Ok(http),
        other => Err(format!("open packet expected, got {other:?}")),
    }
}

/// A masked text frame.
fn text_frame(text: &str) -> Vec<u8> {
    client_frame(true, 1, false, text.as_bytes(), None)
}

/// Reads raw frames until a text frame `until` accepts, answering pings; its text.
async fn raw_wait_for(http: &mut Http, until: impl Fn(&str) -> bool) -> Result<String, String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let frame = http.ws_frame(deadline).await.map_err(|e| e.to_string())?;
        let Some(frame) = frame else {
            return Err("ended".into());
        };
        if frame.opcode == 8 {
            return Err(format!("closed: {:?}", frame.payload));
        }
        let text = String::from_utf8_lossy(&frame.payload).into_owned();
        if text == "2" {
            http.send(&text_frame("3"))
                .await
                .map_err(|e| e.to_string())?;
            if until(&text) {
                return Ok(text);
            }
        } else if until(&text) {
            return Ok(text);
        }
    }
}

/// Like [`ack_flood`] with everything at once, but the `n` frames are built (and masked)
/// beforehand and written in one go on a raw socket: the burst reaches the server as fast as
/// the kernel carries it, whatever this process's build. The answers are read from
/// `read_after` after the burst is written (meanwhile they pile up in the server), then as fast
/// as they come.
pub async fn raw_ack_burst(
    server: &Server,
    n: u64,
    pad: usize,
    read_after: Duration,
    wait: Duration,
) -> Result<FloodReport, String> {
    let start = Instant::now();
    let mut http = raw_websocket(server.addr).await?;
    http.send(&text_frame("40"))
        .await
        .map_err(|e| e.to_string())?;
    raw_wait_for(&mut http, |t| t.starts_with("40{")).await?;
    // Right after a heartbeat, as [`ack_flood`].
    raw_wait_for(&mut http, |t| t == "2").await?;
    let padding = "x".repeat(pad);
    let suffix = if pad == 0 {
        String::new()
    } else {
        format!(",\"{padding}\"")
    };
    let mut burst = Vec::new();
    for id in 0..n {
        burst.extend(text_frame(&padded_ack_request(id, &padding)));
    }
    let cpu_before = server.cpu();
    let Http { stream, mut buf } = http;
    let (mut reader, mut writer) = stream.into_split();
    let (pong, mut pongs) = mpsc::unbounded_channel::<Vec<u8>>();
    let writing = tokio::spawn(async move {
        let begin = Instant::now();
        let written = timeout(Duration::from_secs(10), writer.write_all(&burst)).await;
        let send_time = begin.elapsed();
        if !matches!(written, Ok(Ok(()))) {
            return Err(format!("burst not written: {written:?}"));
        }
        while let Some(frame) = pongs.recv().await {
            if writer.write_all(&frame).await.is_err() {
                break;
            }
        }
        Ok(send_time)
    });
    let mut report = FloodReport {
        sent: n,
        ..FloodReport::default()
    };
    let mut seen = vec![false; n as usize];
    let mut last_ping = None::<Instant>;
    let mut probed = false;
    let deadline = start + wait;
    let mut chunk = vec![0u8; 64 * 1024];
    sleep(read_after).await;
    'read: loop {
        while let Some((frame, used)) = parse_server_frame(&buf) {
            buf.drain(..used);
            if frame.opcode == 8 {
                report.closed = Some(format!(
                    "close frame {:?}, {:?} after the last ping",
                    frame.payload,
                    last_ping.map(|p| p.elapsed())
                ));
                break 'read;
            }
            let text = String::from_utf8_lossy(&frame.payload);
            if text == "2" {
                last_ping = Some(Instant::now());
                let _ = pong.send(text_frame("3"));
                continue;
            }
            let Some(id) = ack_id(&text) else { continue };
            if id == n {
                report.probe_acked = true;
                break 'read;
            }
            let fresh = seen.get(id as usize).is_some_and(|s| !s);
            if fresh && text == format!("43{id}[{id}{suffix}]") {
                seen[id as usize] = true;
                report.acked += 1;
            } else {
                report.wrong += 1;
            }
            if report.acked == n && !probed {
                probed = true;
                let _ = pong.send(text_frame(&ack_request(n)));
            }
        }
        match timeout_at(deadline, reader.read(&mut chunk)).await {
            Err(_) => break,
            Ok(Ok(0)) => {
                report.closed = Some("ended without a close frame".into());
                break;
            }
            Ok(Err(e)) => {
                report.closed = Some(format!("error {e}"));
                break;
            }
            Ok(Ok(read)) => buf.extend_from_slice(&chunk[..read]),
        }
    }
    drop(pong);
    match timeout(WAIT, writing).await {
        Ok(Ok(Ok(send_time))) => report.send_time = send_time,
        Ok(Ok(Err(e))) => {
            report.closed.get_or_insert(e);
        }
        _ => {
            report.closed.get_or_insert_with(|| "writer stuck".into());
        }
    }
    report.total_time = start.elapsed();
    report.server_cpu = server.cpu().saturating_sub(cpu_before);
    Ok(report)
}

/// A WebSocket protocol violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// A text frame `ff fe`.
    InvalidUtf8,
    /// A text frame whose header declares 1 000 001 bytes (a few written).
    OversizedFrame,
    /// A text message of two fragments, 600 000 bytes each, all written.
    OversizedMessage,
    /// A ping with FIN=0.
    FragmentedPing,
    /// A text frame `40` without a mask.
    UnmaskedFrame,
}

impl Violation {
    pub const ALL: [Violation; 5] = [
        Violation::InvalidUtf8,
        Violation::OversizedFrame,
        Violation::OversizedMessage,
        Violation::FragmentedPing,
        Violation::UnmaskedFrame,
    ];

    /// The close code the reference (`ws`) sends for it.
    pub fn expected_code(self) -> u16 {
        match self {
            Violation::InvalidUtf8 => 1007,
            Violation::OversizedFrame | Violation::OversizedMessage => 1009,
            Violation::FragmentedPing | Violation::UnmaskedFrame => 1002,
        }
    }

    fn bytes(self) -> Vec<u8> {
        match self {
            Violation::InvalidUtf8 => client_frame(true, 1, false, &[0xff, 0xfe], None),
            Violation::OversizedFrame => {
                client_frame(true, 1, false, &[b'4'; 1000], Some(1_000_001))
            }
            Violation::OversizedMessage => {
                let mut bytes = client_frame(false, 1, false, &vec![b'4'; 600_000], None);
                bytes.extend(client_frame(true, 0, false, &vec![b'a'; 600_000], None));
                bytes
            }
            Violation::FragmentedPing => client_frame(false, 9, false, b"x", None),
            Violation::UnmaskedFrame => client_frame(true, 1, true, b"40", None),
        }
    }
}

/// How the server ended a WebSocket after a [`Violation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// A close frame with this code.
    Close(u16),
    /// The connection ended without a close frame (what a client sees as 1006).
    Dropped,
    /// Still open after the wait.
    Open,
}

/// Opens an Engine.IO WebSocket by hand, reads the open packet, writes the violation, then
/// reads until the server's close frame.
pub async fn violate(addr: SocketAddr, violation: Violation) -> Result<Ending, String> {
    let mut http = raw_websocket(addr).await?;
    let deadline = Instant::now() + WAIT;
    // Written whole even if the server stops reading midway (then the rest is dropped).
    let bytes = violation.bytes();
    let _ = timeout(WAIT, http.stream.write_all(&bytes)).await;
    loop {
        match http.ws_frame(deadline).await {
            Ok(Some(WireFrame {
                opcode: 8, payload, ..
            })) => {
                let code = payload
                    .get(..2)
                    .map_or(1005, |c| u16::from_be_bytes([c[0], c[1]]));
                return Ok(Ending::Close(code));
            }
            Ok(Some(_)) => {}
            Ok(None) => return Ok(Ending::Dropped),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(Ending::Open),
            Err(_) => return Ok(Ending::Dropped),
        }
    }
}

/// [`server_acks`]' findings.
#[derive(Debug, Clone, Default)]
pub struct ServerAckReport {
    /// `question`s received, each with the server's ack id.
    pub questions: u64,
    /// `answer`s and `answer-timeout`s after the acks went back.
    pub answers: u64,
    pub timeouts: u64,
    /// The server's CPU time, and the wall time, from the last question to the last answer.
    pub answering_cpu: Duration,
    pub answering_time: Duration,
    pub closed: Option<String>,
}

/// Sends `n` `ask-client` events (each makes the server emit `question` with an ack), collects
/// the `n` questions, then answers the `n` acks, `answer_batch` at a time (each batch once the
/// previous one's `answer`s are back; `n`: all at once), and waits for the `n` `answer`s.
pub async fn server_acks(
    server: &Server,
    n: u64,
    answer_batch: u64,
    wait: Duration,
) -> Result<ServerAckReport, String> {
    let pid = server.pid();
    let start = Instant::now();
    let ws = sio_open(server.addr).await?;
    let (mut sink, mut stream) = ws.split();
    let (pong, mut pongs) = mpsc::unbounded_channel::<()>();
    let (ids_tx, ids_rx) = oneshot::channel::<Vec<u64>>();
    // How many questions, then answers, arrived: the asks go in batches of `ASK_BATCH`, each
    // once the previous one is answered, so that the server never lags far behind its input (a
    // pong stuck behind thousands of unread events would time the session out on a slow build).
    let (asked_tx, mut asked) = watch::channel(0u64);
    let writer = tokio::spawn(async move {
        let mut next = 0;
        while next < n {
            let end = (next + ASK_BATCH).min(n);
            for i in next..end {
                while pongs.try_recv().is_ok() {
                    sink.feed(Message::text("3")).await?;
                }
                sink.feed(Message::text(format!("42[\"ask-client\",{i}]")))
                    .await?;
            }
            sink.flush().await?;
            next = end;
            loop {
                if *asked.borrow_and_update() >= next {
                    break;
                }
                tokio::select! {
                    p = pongs.recv() => match p {
                        Some(()) => sink.send(Message::text("3")).await?,
                        None => return Ok(()),
                    },
                    changed = asked.changed() => if changed.is_err() {
                        return Ok(());
                    },
                }
            }
        }
        let mut ids_rx = ids_rx;
        let ids = loop {
            tokio::select! {
                p = pongs.recv() => match p {
                    Some(()) => sink.send(Message::text("3")).await?,
                    None => return Ok(()),
                },
                ids = &mut ids_rx => match ids {
                    Ok(ids) => break ids,
                    Err(_) => return Ok(()),
                },
            }
        };
        let answer_batch = answer_batch.max(1);
        for (batch, ids) in ids.chunks(answer_batch as usize).enumerate() {
            let first = batch as u64 * answer_batch;
            loop {
                if *asked.borrow_and_update() >= n + first {
                    break;
                }
                tokio::select! {
                    p = pongs.recv() => match p {
                        Some(()) => sink.send(Message::text("3")).await?,
                        None => return Ok(()),
                    },
                    changed = asked.changed() => if changed.is_err() {
                        return Ok(());
                    },
                }
            }
            for (k, id) in ids.iter().enumerate() {
                while pongs.try_recv().is_ok() {
                    sink.feed(Message::text("3")).await?;
                }
                sink.feed(Message::text(format!("43{id}[{}]", first + k as u64)))
                    .await?;
            }
            sink.flush().await?;
        }
        while let Some(()) = pongs.recv().await {
            sink.send(Message::text("3")).await?;
        }
        Ok::<(), tokio_tungstenite::tungstenite::Error>(())
    });
    let mut report = ServerAckReport::default();
    let mut ids = Vec::with_capacity(n as usize);
    let mut ids_tx = Some(ids_tx);
    let mut answering_start = None;
    let mut last_ping = None::<Instant>;
    let deadline = start + wait;
    loop {
        let message = match timeout_at(deadline, stream.next()).await {
            Err(_) => break,
            Ok(message) => message,
        };
        match message {
            Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                last_ping = Some(Instant::now());
                let _ = pong.send(());
            }
            Some(Ok(Message::Text(t))) => {
                let t = t.as_str();
                if t.starts_with("42[\"answer-timeout\"") {
                    report.timeouts += 1;
                    let _ = asked_tx.send(n + report.answers + report.timeouts);
                } else if t.starts_with("42[\"answer\",") {
                    report.answers += 1;
                    let _ = asked_tx.send(n + report.answers + report.timeouts);
                } else if let Some(id) = question_ack_id(t) {
                    ids.push(id);
                    report.questions += 1;
                    let _ = asked_tx.send(report.questions);
                    if ids.len() as u64 == n {
                        answering_start = Some((Instant::now(), cpu_time(pid)));
                        if let Some(tx) = ids_tx.take() {
                            let _ = tx.send(std::mem::take(&mut ids));
                        }
                    }
                }
                if report.answers + report.timeouts == n {
                    if let Some((at, cpu)) = answering_start {
                        report.answering_cpu = cpu_time(pid).saturating_sub(cpu);
                        report.answering_time = at.elapsed();
                    }
                    break;
                }
            }
            Some(Ok(Message::Close(frame))) => {
                report.closed = Some(format!(
                    "close frame {frame:?}, {:?} after the last ping",
                    last_ping.map(|p| p.elapsed())
                ));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                report.closed = Some(format!("error {e}"));
                break;
            }
            None => {
                report.closed = Some("ended".into());
                break;
            }
        }
    }
    drop(pong);
    drop(ids_tx);
    drop(asked_tx);
    let _ = timeout(WAIT, writer).await;
    Ok(report)
}

/// How many `ask-client` events [`server_acks`] sends before waiting for their questions.
pub const ASK_BATCH: u64 = 500;

/// The ack id of `42<id>["question",…]`.
fn question_ack_id(packet: &str) -> Option<u64> {
    let rest = packet.strip_prefix("42")?;
    let at = rest.find('[')?;
    if !rest[at..].starts_with("[\"question\"") {
        return None;
    }
    rest[..at].parse().ok()
}

/// One request on a new connection (`Connection: close`).
pub async fn one_request(
    addr: SocketAddr,
    method: &str,
    query: &str,
    headers: &[(&str, &str)],
) -> io::Result<Response> {
    let mut all = vec![("Connection", "close")];
    all.extend_from_slice(headers);
    let mut http = Http::connect(addr).await?;
    http.exchange(&request(method, query, &all, b"")).await
}

/// The status of a WebSocket handshake with these extra headers.
pub async fn ws_upgrade_status(addr: SocketAddr, headers: &[(&str, &str)]) -> io::Result<u16> {
    let mut all = vec![
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];
    all.extend_from_slice(headers);
    let mut http = Http::connect(addr).await?;
    let response = http
        .exchange(&request("GET", "EIO=4&transport=websocket", &all, b""))
        .await?;
    Ok(response.status)
}

/// `n` polling handshakes one after the other on one keep-alive connection: the session ids,
/// in order.
pub async fn session_ids(addr: SocketAddr, n: usize) -> io::Result<Vec<String>> {
    let mut http = Http::connect(addr).await?;
    let mut ids = Vec::with_capacity(n);
    let handshake = request("GET", HANDSHAKE, &[], b"");
    for _ in 0..n {
        let response = http.exchange(&handshake).await?;
        let sid = sid_of(&response.body)
            .ok_or_else(|| io::Error::other(format!("no sid in {:?}", response.text())))?;
        ids.push(sid);
    }
    Ok(ids)
}

/// Checks session ids: distinct, 20 characters of `[A-Za-z0-9_-]`, no two consecutive ones
/// sharing a 10-character prefix.
pub fn check_ids(ids: &[String]) -> Result<(), String> {
    let distinct: HashSet<&String> = ids.iter().collect();
    if distinct.len() != ids.len() {
        return Err(format!("{} repeated ids", ids.len() - distinct.len()));
    }
    for id in ids {
        let shaped = id.len() == 20
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !shaped {
            return Err(format!("malformed id {id:?}"));
        }
    }
    for pair in ids.windows(2) {
        if pair[0][..10] == pair[1][..10] {
            return Err(format!(
                "consecutive ids {} and {} share a prefix",
                pair[0], pair[1]
            ));
        }
    }
    Ok(())
}

/// [`connection_limit`]'s findings.
#[derive(Debug, Clone)]
pub struct LimitReport {
    /// Connections held open (each answered its handshake).
    pub held: usize,
    /// The next connection: its status line, and whether the server then closed it.
    pub refused_status: Option<u16>,
    pub refused_closed: bool,
    /// A new client after the held ones closed.
    pub served_after: Result<Duration, String>,
}

/// Holds `hold` keep-alive connections open (each with a handshake answered), opens one more
/// (sending nothing) and reads what it gets, then closes the held ones and tries a new client.
pub async fn connection_limit(addr: SocketAddr, hold: usize) -> LimitReport {
    let mut held = Vec::new();
    for _ in 0..hold {
        let Ok(mut http) = Http::connect(addr).await else {
            break;
        };
        match http.exchange(&request("GET", HANDSHAKE, &[], b"")).await {
            Ok(r) if r.status == 200 => held.push(http),
            _ => break,
        }
    }
    let mut refused_status = None;
    let mut refused_closed = false;
    if let Ok(mut extra) = Http::connect(addr).await {
        if let Ok(response) = extra.response(WAIT).await {
            refused_status = Some(response.status);
        }
        refused_closed = extra.closed_within(WAIT).await.is_some();
    }
    let count = held.len();
    drop(held);
    sleep(Duration::from_millis(200)).await;
    LimitReport {
        held: count,
        refused_status,
        refused_closed,
        served_after: served(addr, 3).await,
    }
}

/// A client of [`idle_websockets`] the server dropped; times from the first connect.
#[derive(Debug, Clone)]
pub struct DroppedClient {
    pub opened_at: Duration,
    pub at: Duration,
    /// From its last ping to the drop.
    pub since_last_ping: Option<Duration>,
    /// The longest time between two of its pings.
    pub max_ping_gap: Duration,
    pub why: String,
}

/// [`idle_websockets`]' findings.
#[derive(Debug, Clone, Default)]
pub struct IdleWsReport {
    pub wanted: usize,
    pub connected: usize,
    pub connect_errors: usize,
    pub connect_time: Duration,
    /// The server's CPU time while they connected.
    pub connect_cpu: Duration,
    /// Clients the server dropped while they answered every ping (by time).
    pub dropped: usize,
    pub drops: Vec<DroppedClient>,
    /// The longest time between two pings any client saw.
    pub max_ping_gap: Duration,
    /// The server's CPU over `hold`, as a fraction of one core, and its RSS at the end.
    pub cpu_fraction: f64,
    pub hold: Duration,
    pub rss_kib: u64,
    /// The share of the machine's CPUs busy (all processes) over `hold`.
    pub machine_busy: f64,
}

/// `n` Socket.IO clients over WebSocket that only answer pings, held for `hold` once all are
/// connected.
pub async fn idle_websockets(server: &Server, n: usize, hold: Duration) -> IdleWsReport {
    let addr = server.addr;
    let (stop_tx, stop_rx) = watch::channel(false);
    let opening = Arc::new(Semaphore::new(64));
    let connected = Arc::new(AtomicUsize::new(0));
    let finished_opening = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..n {
        let (opening, connected, finished) =
            (opening.clone(), connected.clone(), finished_opening.clone());
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let permit = opening.acquire_owned().await;
            let opened = sio_open(addr).await;
            drop(permit);
            finished.fetch_add(1, Ordering::Relaxed);
            let Ok(mut ws) = opened else {
                return Err(None);
            };
            connected.fetch_add(1, Ordering::Relaxed);
            let opened_at = start.elapsed();
            let mut last_ping = None::<Duration>;
            let mut max_gap = Duration::ZERO;
            let dropped = |why: String, last_ping: Option<Duration>, max_gap| {
                let at = start.elapsed();
                Err(Some(DroppedClient {
                    opened_at,
                    at,
                    since_last_ping: last_ping.map(|p| at.saturating_sub(p)),
                    max_ping_gap: max_gap,
                    why,
                }))
            };
            loop {
                tokio::select! {
                    _ = stop.changed() => {
                        let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
                        return Ok(max_gap);
                    }
                    message = ws.next() => match message {
                        Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                            let now = start.elapsed();
                            if let Some(last) = last_ping {
                                max_gap = max_gap.max(now.saturating_sub(last));
                            }
                            last_ping = Some(now);
                            if let Err(e) = ws.send(Message::text("3")).await {
                                return dropped(format!("pong: {e}"), last_ping, max_gap);
                            }
                        }
                        Some(Ok(Message::Close(frame))) => {
                            return dropped(format!("close frame {frame:?}"), last_ping, max_gap);
                        }
                        Some(Err(e)) => return dropped(format!("error {e}"), last_ping, max_gap),
                        None => return dropped("ended".into(), last_ping, max_gap),
                        Some(Ok(_)) => {}
                    }
                }
            }
        });
    }
    let opening_deadline = Instant::now() + Duration::from_secs(120);
    while finished_opening.load(Ordering::Relaxed) < n && Instant::now() < opening_deadline {
        sleep(Duration::from_millis(50)).await;
    }
    let connect_time = start.elapsed();
    let connect_cpu = server.cpu();
    sleep(Duration::from_secs(1)).await;
    let cpu_before = server.cpu();
    let machine_before = machine_ticks();
    sleep(hold).await;
    let cpu = server.cpu().saturating_sub(cpu_before);
    let machine = machine_busy(machine_before, machine_ticks());
    let rss_kib = server.rss_kib();
    let _ = stop_tx.send(true);
    let mut report = IdleWsReport {
        wanted: n,
        connected: connected.load(Ordering::Relaxed),
        connect_time,
        connect_cpu,
        cpu_fraction: cpu.as_secs_f64() / hold.as_secs_f64(),
        hold,
        rss_kib,
        machine_busy: machine,
        ..IdleWsReport::default()
    };
    let drain = async {
        while let Some(result) = tasks.join_next().await {
            match result {
                Ok(Ok(gap)) => report.max_ping_gap = report.max_ping_gap.max(gap),
                Ok(Err(Some(client))) => {
                    report.dropped += 1;
                    report.max_ping_gap = report.max_ping_gap.max(client.max_ping_gap);
                    report.drops.push(client);
                }
                Ok(Err(None)) => report.connect_errors += 1,
                Err(_) => {}
            }
        }
    };
    let _ = timeout(Duration::from_secs(30), drain).await;
    report.drops.sort_by_key(|d| d.at);
    report
}
