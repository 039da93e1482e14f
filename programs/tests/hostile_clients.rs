//! Hostile clients against `conformance-server --mode sio` (pingInterval 300 ms, pingTimeout
//! 200 ms, maxPayload 1 000 000), one test per attack, each at a bounded size (the full sizes
//! are `examples/hostile_table.rs`'s). In every test a well-behaved Socket.IO client
//! ([`GoodClient`]: `message-with-ack` every 25 ms, pings answered) must keep getting its acks
//! during and after the attack, and a new client must be served afterwards. Memory (`VmRSS`),
//! CPU (`utime + stime`) and descriptors are the server process's, read from `/proc` (Linux).
//!
//! Each test states the behaviour before the driver's hardening (OLD) that its assertions
//! reject, and where it was checked against old builds (`HOSTILE_SERVER=path` runs the tests
//! against any binary: release builds of commits e11a7e9 and 35608f3^ were used; the tests
//! that need the new flags cannot start those). CPU and memory bounds have wide margins (2
//! cores, tests in parallel, a debug build) and are still far from what the old behaviour
//! measured.
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

mod hostile;

use std::time::Duration;

use hostile::{Ending, GoodClient, Server, Violation};

/// The server binary: this profile's, or `HOSTILE_SERVER=path` (e.g. the release build).
fn binary() -> std::path::PathBuf {
    std::env::var_os("HOSTILE_SERVER")
        .filter(|path| !path.is_empty())
        .map_or_else(
            || env!("CARGO_BIN_EXE_conformance-server").into(),
            Into::into,
        )
}

/// Whether the server is an optimized build (not under a `debug` directory:
/// `HOSTILE_SERVER=target/release/conformance-server`, or `cargo test --release`). A debug
/// build reads ~85 000 small events a second, a release build ~500 000. A client whose flood
/// outruns the server's reading has its own pong stuck behind the flood in its stream, and is
/// (rightly) dropped by its ping timeout: against a debug build the floods are sized so that the
/// server keeps up.
fn optimized() -> bool {
    !binary().components().any(|c| c.as_os_str() == "debug")
}

fn server(args: &[&str]) -> Server {
    Server::start(&binary(), None, args)
}

/// The acks the good client had when an attack started, to judge it after.
struct Attack {
    start: tokio::time::Instant,
    acked: u64,
}

impl Attack {
    fn starts(good: &GoodClient) -> Attack {
        Attack {
            start: tokio::time::Instant::now(),
            acked: good.acked(),
        }
    }

    /// The attack is over: the good client got acks during it (when it lasted long enough for
    /// a few of its requests), saw no failure, and keeps getting acks; a new client is served.
    async fn ends(self, server: &Server, good: GoodClient, what: &str) {
        let lasted = self.start.elapsed();
        let during = good.acked() - self.acked;
        if lasted >= hostile::GOOD_EVERY * 8 {
            assert!(
                during > 0,
                "{what}: the good client got no ack during the attack ({lasted:?})"
            );
        }
        assert!(
            good.acks_more(5, hostile::WAIT).await,
            "{what}: the good client gets no acks after the attack"
        );
        let report = good.finish().await;
        eprintln!(
            "{what}: good client {} acks ({during} during the {lasted:?} of the attack), \
             slowest {:?}",
            report.acked, report.max_latency
        );
        assert_eq!(report.failure, None, "{what}: the good client failed");
        if let Err(e) = hostile::served(server.addr, 3).await {
            panic!("{what}: a new client is not served after the attack: {e}");
        }
    }
}

/// 500 connections (2 000 in the table) each send one keep-alive polling handshake, read the
/// answer and idle. OLD: none was ever closed (no idle timeout), each holding a descriptor.
/// NOW: the server closes each one the header timeout (500 ms here) after its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed_after_the_header_timeout() {
    let s = server(&["--header-timeout-ms", "500"]);
    let good = GoodClient::start(s.addr).await;
    let attack = Attack::starts(&good);
    let report = hostile::idle_keep_alive(&s, 500, Duration::from_secs(3)).await;
    eprintln!("idle keep-alive: {report:?}");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.answered, 500, "every handshake answered");
    assert_eq!(
        report.closed, 500,
        "every idle connection closed by the server"
    );
    // 500 ms of timeout, plus margin for a loaded machine; OLD: never.
    assert!(
        report.slowest_close < Duration::from_millis(2000),
        "slowest close {:?} after the answer",
        report.slowest_close
    );
    assert!(
        // Not at once: it is the timeout that closes them (the margin is for a client slow to
        // read its answer).
        report.fastest_close.unwrap() >= Duration::from_millis(250),
        "closed before the timeout: {:?}",
        report.fastest_close
    );
    assert!(
        report.fds_peak >= report.fds_before + 400,
        "the idle connections were never open together (descriptors peak {})",
        report.fds_peak
    );
    assert!(
        report.fds_after <= report.fds_before + 10,
        "descriptors not released: {} before, {} after",
        report.fds_before,
        report.fds_after
    );
    attack.ends(&s, good, "idle keep-alive").await;
}

/// 400 idle connections (each sends `GET /socket.io/?EIO=4` and nothing more, see
/// [`hostile::descriptor_exhaustion`]) against a server limited to 256 descriptors (`ulimit -n
/// 256`). OLD: the accept loop spun on EMFILE (a full core) and nobody new was answered until
/// the attacker left. NOW: the loop backs off (5 ms doubling to 1 s), the idle connections are
/// shed by the header timeout (500 ms), the good client keeps acking on its connection, and a
/// new client is served once they are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_past_the_descriptor_limit_leave_the_server_responsive() {
    let s = Server::start(&binary(), Some(256), &["--header-timeout-ms", "500"]);
    let good = GoodClient::start(s.addr).await;
    let attack = Attack::starts(&good);
    let report =
        hostile::descriptor_exhaustion(&s, 400, Duration::from_secs(2), Duration::from_secs(12))
            .await;
    eprintln!(
        "descriptor exhaustion: server CPU {:.1} % of a core over {:?}, {report:?}",
        report.cpu_fraction * 100.0,
        report.window
    );
    assert_eq!(report.opened, 400);
    assert!(
        report.fds_peak >= 240,
        "the server never ran out of descriptors (peak {}), the attack did not bite",
        report.fds_peak
    );
    // OLD: ~100 % (spinning on EMFILE). Measured now: a few %. Loose for a loaded machine.
    assert!(
        report.cpu_fraction < 0.5,
        "server CPU {:.0} % of a core while out of descriptors",
        report.cpu_fraction * 100.0
    );
    assert_eq!(report.shed, 400, "every idle connection shed");
    if let Err(e) = &report.served_after {
        panic!("a new client is not served after the shedding: {e}");
    }
    attack.ends(&s, good, "descriptor exhaustion").await;
}

/// 50 polling sessions (200 in the table) each POST 990 000 bytes of a body declared 1 000 000
/// bytes long, then stall with the connection open; nobody answers the sessions' pings, so they
/// end after 500 ms. OLD: each ~1 MB buffer was held until the attacker left (35608f3^: RSS
/// 4.3 MB, peak 54.3 MB, still 54.3 MB 2 s later, no POST answered). NOW: when a session ends
/// its in-flight POST is answered and its buffer freed, so the RSS comes back near the baseline
/// within ~2 s while the attacker still holds every connection. (Only the first round is
/// checked: on the same server a second round leaves the RSS high, glibc keeping the freed
/// memory; see the table's `posts` row.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_post_bodies_are_freed_when_their_sessions_end() {
    let s = server(&[]);
    let good = GoodClient::start(s.addr).await;
    let attack = Attack::starts(&good);
    let posts = 50;
    // Back within 12 MB of the baseline; OLD kept the ~49.5 MB of bodies.
    let tolerance_kib = 12 * 1024;
    let report = hostile::stalled_posts(
        &s,
        posts,
        990_000,
        1_000_000,
        tolerance_kib,
        Duration::from_secs(2),
    )
    .await;
    eprintln!(
        "stalled POSTs: RSS baseline {} KiB, peak {} KiB, after {} KiB ({:?} after the last \
         answer, attacker still connected), after the attacker left {} KiB; {report:?}",
        report.baseline_kib, report.peak_kib, report.after_kib, report.after_delay, report.left_kib
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        report.answers.values().sum::<usize>(),
        posts,
        "every stalled POST answered while its connection was held"
    );
    assert!(
        report.peak_kib >= report.baseline_kib + 25 * 1024,
        "the bodies never were in memory together (peak {} KiB, baseline {} KiB): the attack \
         did not bite",
        report.peak_kib,
        report.baseline_kib
    );
    assert!(
        report.after_kib <= report.baseline_kib + tolerance_kib,
        "RSS {} KiB stays {} KiB above the baseline while the attacker holds its connections",
        report.after_kib,
        report.after_kib.saturating_sub(report.baseline_kib)
    );
    attack.ends(&s, good, "stalled POSTs").await;
}

/// A polling session POSTs a chunked body that never ends (a byte every 100 ms, never the last
/// chunk) and keeps its connection open; its session times out 500 ms after the handshake.
/// OLD: the POST stayed open 20 s past its session's death (35608f3^: no answer in 6 s). NOW:
/// it is answered within ~1 s of the session's death (asserted: 2 s after the handshake).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_chunked_post_is_answered_when_its_session_dies() {
    let s = server(&[]);
    let good = GoodClient::start(s.addr).await;
    let attack = Attack::starts(&good);
    let report = hostile::endless_chunked_post(s.addr, Duration::from_secs(6)).await;
    eprintln!("endless chunked POST: {report:?}");
    let answered = report.answered_after.expect("the POST answered or closed");
    // The session dies at ~500 ms; 1 s after that, plus margin. OLD: > 20 s.
    assert!(
        answered < Duration::from_millis(2000),
        "answered {answered:?} after the handshake"
    );
    assert!(
        answered >= Duration::from_millis(400),
        "answered {answered:?} after the handshake, before the session could end"
    );
    assert!(report.status.is_some(), "an HTTP answer, not only a close");
    attack.ends(&s, good, "endless chunked POST").await;
}

/// A client that reads everything sends 3 000 `message-with-ack` events in one burst (frames
/// built beforehand, written in one go), each with a 4 000-byte string the ack echoes (12 MB of
/// answers). OLD: the server cut it off after ~2 100 acks (its outgoing queue was 1 024 frames:
/// release builds of e11a7e9 and 35608f3^ closed this client after 1 165–1 359 acks, every
/// run; their debug builds are too slow to overflow). NOW: all 3 000 acks arrive (the server
/// pauses reading while over 1 MiB of answers wait), and the connection stays open (one more
/// ack after them).
///
/// The attacker's own pongs wait behind its 12 MB upload; on a loaded CI machine (a debug
/// build, the other attacks running beside it) that once took longer than the suite's 200 ms
/// ping timeout, and the server rightly closed it. The heartbeat is not what this test
/// measures, so its server gives 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_3000_acks_is_all_delivered() {
    let s = server(&["--ping-timeout-ms", "2000"]);
    let good = GoodClient::start(s.addr).await;
    let attack = Attack::starts(&good);
    let report = hostile::raw_ack_burst(&s, 3000, 4000, Duration::ZERO, Duration::from_secs(15))
        .await
        .unwrap();
    eprintln!("ack burst: {report:?}");
    assert_eq!(report.sent, 3000);
    assert_eq!(report.acked, 3000, "every ack delivered");
    assert_eq!(report.wrong, 0);
    assert_eq!(report.closed, None, "the connection stays open");
    assert!(report.probe_acked, "an ack after the burst");
    attack.ends(&s, good, "ack burst").await;
}

/// A reading client sends `message-with-ack` at 100 000 frames per second (1 000 every 10 ms)
/// right after a heartbeat: for 0.5 s (50 000 frames; 1 s and 100 000 in the table) against an
/// optimized server, for 0.1 s (10 000 frames) against a debug build, which reads ~85 000 a
/// second and much less on a busy machine (see [`optimized`]: at 50 000, or 20 000 with a
/// CPU hog running, its pong sometimes reaches the debug server after its ping timeout). OLD:
/// cut off after 0.2 s (release builds of e11a7e9 and 35608f3^ cut this client off in about
/// half of the runs at full size, after 6 000–24 000 frames: the burst test below is the
/// deterministic one). NOW: every frame acked, the connection still open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_100000_frames_per_second_is_all_echoed() {
    let s = server(&[]);
    let good = GoodClient::start(s.addr).await;
    let attack = Attack::starts(&good);
    let frames = if optimized() { 50_000 } else { 10_000 };
    let report = hostile::ack_flood(
        &s,
        frames,
        0,
        1000,
        Duration::from_millis(10),
        // Every frame is sent: late ticks catch up at once.
        Duration::from_secs(10),
        Duration::from_secs(25),
    )
    .await
    .unwrap();
    eprintln!(
        "frame flood: {} frames sent in {:?}, {} acked in {:?}; {report:?}",
        report.sent, report.send_time, report.acked, report.total_time
    );
    assert_eq!(report.sent, frames, "the flood was sent");
    assert_eq!(report.acked, report.sent, "every frame acked");
    assert_eq!(report.wrong, 0);
    assert_eq!(report.closed, None, "the connection stays open");
    assert!(report.probe_acked, "an ack after the flood");
    attack.ends(&s, good, "frame flood").await;
}

/// Raw frames after a hand-made WebSocket handshake: invalid UTF-8, a frame and a message over
/// maxPayload (1 000 000), a ping with FIN=0, an unmasked client frame. OLD: the TCP connection
/// was dropped without a close frame (the client saw 1006; e11a7e9 and 35608f3^, all five).
/// NOW: a close frame with the reference's code: 1007, 1009, 1009, 1002, 1002.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_violations_close_with_the_reference_codes() {
    let s = server(&[]);
    let good = GoodClient::start(s.addr).await;
    let attack = Attack::starts(&good);
    let mut endings = Vec::new();
    for violation in Violation::ALL {
        let ending = hostile::violate(s.addr, violation).await.unwrap();
        endings.push((violation, ending));
    }
    eprintln!("protocol violations: {endings:?}");
    for (violation, ending) in endings {
        assert_eq!(
            ending,
            Ending::Close(violation.expected_code()),
            "{violation:?}"
        );
    }
    attack.ends(&s, good, "protocol violations").await;
}

/// 20 000 `ask-client` events make the server emit 20 000 `question`s with acks; the client
/// answers all 20 000 at once. OLD: 0.89 s of server CPU for the answers, growing with the
/// square of the pending acks (each answer scanned them all; measured here: 1.2 s for a release
/// build of e11a7e9 answering 1 000 at a time, 0.06 s for 5 000 acks; at once, its session
/// died of a ping timeout mid-way). NOW: O(log n) per answer; the server's CPU for the
/// answering phase stays below 0.5 s (the reference needs 0.14 s; measured: 0.02–0.05 s
/// release, 0.18–0.24 s debug).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_20000_server_acks_at_once_is_cheap() {
    let s = server(&[]);
    let good = GoodClient::start(s.addr).await;
    let attack = Attack::starts(&good);
    let n = 20_000;
    // All at once; 5 000 at a time against a debug build (see [`optimized`]), which still
    // leaves 20 000 acks pending when the answers start, the quadratic case of the old code.
    let batch = if optimized() { n } else { 5000 };
    let report = hostile::server_acks(&s, n, batch, Duration::from_secs(20))
        .await
        .unwrap();
    eprintln!(
        "20 000 server acks: answering took {:?} of server CPU ({:?} wall); {report:?}",
        report.answering_cpu, report.answering_time
    );
    assert_eq!(report.closed, None);
    assert_eq!(report.questions, n);
    assert_eq!(report.timeouts, 0, "no ack timed out");
    assert_eq!(report.answers, n, "every ack answered");
    assert!(
        report.answering_cpu < Duration::from_millis(500),
        "answering {n} acks took {:?} of server CPU",
        report.answering_cpu
    );
    attack.ends(&s, good, "server acks").await;
}

/// `OPTIONS`, `PUT` and `DELETE` to the endpoint without a sid. OLD: 200 and a new session
/// each (35608f3^). NOW: the reference's 400 `{"code":2,"message":"Bad handshake method"}`;
/// with `--cors` an `OPTIONS` preflight gets 204 with the CORS headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_are_refused_as_bad_handshakes() {
    let s = server(&[]);
    let good = GoodClient::start(s.addr).await;
    let attack = Attack::starts(&good);
    for method in ["OPTIONS", "PUT", "DELETE"] {
        let response = hostile::one_request(s.addr, method, hostile::HANDSHAKE, &[])
            .await
            .unwrap();
        assert_eq!(
            (response.status, response.text().as_str()),
            (400, r#"{"code":2,"message":"Bad handshake method"}"#),
            "{method}"
        );
    }
    attack.ends(&s, good, "other methods").await;

    let cors = server(&["--cors"]);
    let preflight = hostile::one_request(
        cors.addr,
        "OPTIONS",
        hostile::HANDSHAKE,
        &[
            ("Origin", "http://app.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
    )
    .await
    .unwrap();
    eprintln!("preflight with --cors: {preflight:?}");
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("Access-Control-Allow-Origin"), Some("*"));
    assert!(
        preflight
            .header("Access-Control-Allow-Methods")
            .is_some_and(|m| m.contains("POST")),
        "{preflight:?}"
    );
    assert_eq!(
        preflight.header("Access-Control-Allow-Headers"),
        Some("content-type")
    );
    // PUT and DELETE stay bad handshakes with CORS on.
    for method in ["PUT", "DELETE"] {
        let response = hostile::one_request(cors.addr, method, hostile::HANDSHAKE, &[])
            .await
            .unwrap();
        assert_eq!(response.status, 400, "{method} with --cors");
    }
}

/// `Origin: http://evil.example`. OLD: accepted, with no way to refuse it. NOW: accepted by
/// default; under `--allowed-origin http://good.example` refused (403 `{"code":4,"message":
/// "Forbidden"}`, polling and WebSocket handshakes alike) while `http://good.example` and
/// requests without `Origin` are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_are_refused_only_when_an_allow_list_is_set() {
    let evil = [("Origin", "http://evil.example")];
    let good_origin = [("Origin", "http://good.example")];
    let open = server(&[]);
    let response = hostile::one_request(open.addr, "GET", hostile::HANDSHAKE, &evil)
        .await
        .unwrap();
    assert_eq!(response.status, 200, "evil origin, no allow-list");
    assert!(hostile::sid_of(&response.body).is_some());

    let s = server(&["--allowed-origin", "http://good.example"]);
    let good = GoodClient::start(s.addr).await;
    let attack = Attack::starts(&good);
    let refused = hostile::one_request(s.addr, "GET", hostile::HANDSHAKE, &evil)
        .await
        .unwrap();
    assert_eq!(
        (refused.status, refused.text().as_str()),
        (403, r#"{"code":4,"message":"Forbidden"}"#),
        "evil origin under the allow-list"
    );
    let ws = hostile::ws_upgrade_status(s.addr, &evil).await.unwrap();
    assert_eq!(ws, 403, "evil origin, WebSocket handshake");
    let allowed = hostile::one_request(s.addr, "GET", hostile::HANDSHAKE, &good_origin)
        .await
        .unwrap();
    assert_eq!(allowed.status, 200, "the allowed origin");
    assert!(hostile::sid_of(&allowed.body).is_some());
    let ws = hostile::ws_upgrade_status(s.addr, &good_origin)
        .await
        .unwrap();
    assert_eq!(ws, 101, "the allowed origin, WebSocket handshake");
    let none = hostile::one_request(s.addr, "GET", hostile::HANDSHAKE, &[])
        .await
        .unwrap();
    assert_eq!(none.status, 200, "no Origin");
    // The good client sends no Origin, as a non-browser client.
    attack.ends(&s, good, "origins").await;
}

/// 1 000 handshakes. OLD: ids were a SipHash (keyed per process) of a counter. NOW: 15 bytes of
/// the OS CSPRNG as URL-safe base64: all distinct, 20 characters of `[A-Za-z0-9_-]`, and no two
/// consecutive ids share a 10-character prefix. Seen from outside, a keyed hash of a counter
/// looks just as random and passes these checks too (the difference is where the randomness
/// comes from, not visible in 1 000 samples); they reject counters, truncated or low-entropy
/// ids and a wrong alphabet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_ids_are_random_and_well_formed() {
    let s = server(&[]);
    let good = GoodClient::start(s.addr).await;
    let attack = Attack::starts(&good);
    let ids = hostile::session_ids(s.addr, 1000).await.unwrap();
    eprintln!("session ids: {} … {}", ids[0], ids[ids.len() - 1]);
    assert_eq!(ids.len(), 1000);
    hostile::check_ids(&ids).unwrap();
    // Every position takes many values: nothing of a counter shows through.
    for position in 0..20 {
        let values: std::collections::HashSet<u8> =
            ids.iter().map(|id| id.as_bytes()[position]).collect();
        assert!(
            values.len() >= 40,
            "position {position} takes only {} values",
            values.len()
        );
    }
    attack.ends(&s, good, "session ids").await;
}

/// `--max-connections 50`: the good client's WebSocket and 49 keep-alive connections are open.
/// OLD: no limit. NOW: the 51st connection gets `503` and is closed; once the others close, new
/// clients are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_get_503() {
    let s = server(&["--max-connections", "50"]);
    let good = GoodClient::start(s.addr).await;
    let attack = Attack::starts(&good);
    let report = hostile::connection_limit(s.addr, 49).await;
    eprintln!("connection limit: {report:?}");
    assert_eq!(report.held, 49, "49 connections besides the good client's");
    assert_eq!(report.refused_status, Some(503), "the 51st connection");
    assert!(report.refused_closed, "the 51st connection closed");
    if let Err(e) = &report.served_after {
        panic!("a new client is not served after the others closed: {e}");
    }
    attack.ends(&s, good, "connection limit").await;
}
