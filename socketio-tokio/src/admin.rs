//! The server side of the official Socket.IO Admin UI (`@socket.io/admin-ui` 0.5.1): what
//! its `instrument(io, options)` does, for this server.
//!
//! ```no_run
//! use socketio_tokio::SocketIo;
//! use socketio_tokio::admin::{AdminAuth, AdminUi};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let (layer, io) = SocketIo::new_layer();
//! // `changeit`, hashed with bcrypt (`htpasswd -bnBC 10 "" changeit`, or any bcrypt tool).
//! let hash = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS";
//! io.instrument(AdminUi::new(AdminAuth::basic("admin", hash)))?;
//! # let _ = layer; Ok(()) }
//! ```
//!
//! Then point the UI (<https://admin.socket.io>, or its files served by this server, see
//! [`ui_file`]) at the server's URL. What the admin namespace (`/admin` by default) gets:
//!
//! * `config` on connection (the features: the commands unless [`readonly`](AdminUi::readonly),
//!   `AGGREGATED_EVENTS`, and `ALL_EVENTS` in [development](AdminMode::Development) mode);
//! * `server_stats` every 2 s, broadcast (so an admin connected to any node of a cluster
//!   hears every instrumented node): server id, host name, pid, uptime, Engine.IO clients and
//!   polling clients, the namespaces with their local socket counts, and the aggregated
//!   events since the last one (connections, disconnections by reason, messages and bytes each
//!   way, in 1 s buckets; counted by the sans-IO endpoint at no cost per message);
//! * in development mode, `all_sockets` on connection (`fetchSockets` of every namespace,
//!   cluster-wide) and, broadcast as they happen, `socket_connected`, `socket_disconnected`,
//!   `room_joined`, `room_left` and `event_received`; every socket's `socket.data` carries
//!   `_admin: {clientId, transport}` first, as the package writes it, so that Node.js nodes
//!   show ours; on a server that is not clustered, these reports are made only while an admin
//!   is connected (nobody else could receive them), so an instrumented server costs nothing
//!   more per event until somebody watches;
//! * the commands `emit`, `join`, `leave` and `_disconnect` (with their room filter), applied
//!   cluster-wide through the adapter, unless read-only.
//!
//! In a cluster, the admin namespace must be one of the namespaces the adapter serves
//! (`RedisOptions::namespaces`, `PostgresAdapterOptions::namespaces`), so that this node's
//! events reach the admins connected to the others and their commands reach this node.
//!
//! Authentication: none, or a user name and a bcrypt hash; a successful login gets a session
//! id (`session` event) that logs in again without the password. Refusals are the package's
//! `invalid credentials`.
//!
//! Where this differs from the package, on purpose: the `session` event comes right after the
//! CONNECT (the package emits it before, where the UI drops it, so its sessions never work);
//! a login with a password that is not a string is refused (the package's process dies);
//! sessions are bounded ([`MAX_SESSIONS`], the oldest forgotten) and kept per process;
//! `uptime` counts from instrumentation, not from the process start. Not reported (yet):
//! `event_sent` (one per recipient of every emit and broadcast) and `socket_updated` (each
//! change of `socket.data`, and the upgrade of a polling client's transport: a socket's
//! transport is read when it is listed).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use socketio_proto::server::{Counters, DisconnectReason, Membership, RemoteSocket};

use crate::args::Event;
use crate::server::{Connecting, Refusal, Socket, SocketIo};

/// Admin sessions kept by a server, at most (the package keeps every one, forever).
pub const MAX_SESSIONS: usize = 1024;

/// How often `server_stats` goes out.
pub const STATS_INTERVAL: Duration = Duration::from_secs(2);

/// How an admin logs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminAuth {
    /// Anybody (the package's `auth: false`).
    None,
    /// A user name and a bcrypt hash of the password (`$2a$`, `$2b$` or `$2y$`).
    Basic {
        /// The user name.
        username: String,
        /// The bcrypt hash.
        password_hash: String,
    },
}

impl AdminAuth {
    /// [`AdminAuth::Basic`].
    pub fn basic(username: &str, password_hash: &str) -> AdminAuth {
        AdminAuth::Basic {
            username: username.to_owned(),
            password_hash: password_hash.to_owned(),
        }
    }
}

/// What the UI is told of the server's sockets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AdminMode {
    /// Every socket, room and event (the package's default, `NODE_ENV` unset).
    #[default]
    Development,
    /// Server statistics only.
    Production,
}

/// The Admin UI's options (the package's, with its defaults).
#[derive(Clone, Debug)]
pub struct AdminUi {
    namespace: String,
    auth: AdminAuth,
    readonly: bool,
    server_id: Option<String>,
    mode: AdminMode,
}

impl AdminUi {
    /// The admin namespace `/admin`, in development mode, with commands.
    pub fn new(auth: AdminAuth) -> AdminUi {
        AdminUi {
            namespace: "/admin".to_owned(),
            auth,
            readonly: false,
            server_id: None,
            mode: AdminMode::Development,
        }
    }

    /// The admin namespace (`namespaceName`).
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.to_owned();
        self
    }

    /// No commands (`readonly`): the UI can look, not act.
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// The id the UI lists this server under (`serverId`; the host name by default). Give
    /// each node of a cluster its own.
    pub fn server_id(mut self, id: &str) -> Self {
        self.server_id = Some(id.to_owned());
        self
    }

    /// The mode (`mode`).
    pub fn mode(mut self, mode: AdminMode) -> Self {
        self.mode = mode;
        self
    }
}

/// Why the server cannot be instrumented.
#[derive(Debug)]
#[non_exhaustive]
pub enum AdminError {
    /// The admin namespace is not one.
    Namespace(String),
    /// The password hash is not a bcrypt hash.
    Hash,
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::Namespace(name) => write!(f, "{name:?} is not a namespace"),
            AdminError::Hash => f.write_str("the `password` field must be a valid bcrypt hash"),
        }
    }
}

impl std::error::Error for AdminError {}

impl SocketIo {
    /// Serves the Admin UI's namespace on this server (the package's `instrument(io, opts)`):
    /// see the [`admin`](crate::admin) module. Call it once, before serving.
    pub fn instrument(&self, admin: AdminUi) -> Result<(), AdminError> {
        socketio_proto::Namespace::new(&admin.namespace)
            .map_err(|_| AdminError::Namespace(admin.namespace.clone()))?;
        if let AdminAuth::Basic { password_hash, .. } = &admin.auth {
            password_hash
                .parse::<bcrypt::HashParts>()
                .map_err(|_| AdminError::Hash)?;
        }
        let admin = Arc::new(Admin::new(self.clone(), admin));
        if admin.options.mode == AdminMode::Development {
            self.set_monitor(admin.clone());
        }
        let on_connection = admin.clone();
        let namespace = self.ns(&admin.options.namespace, move |socket: Socket| {
            on_connection.connected(&socket);
        });
        if let AdminAuth::Basic { .. } = admin.options.auth {
            let auth = admin.clone();
            namespace.with_async(move |connecting: Connecting| {
                let auth = auth.clone();
                async move { auth.login(&connecting).await }
            });
        }
        let stats = Arc::downgrade(&admin);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(STATS_INTERVAL);
            loop {
                ticks.tick().await;
                let Some(admin) = stats.upgrade() else {
                    return;
                };
                admin.emit_stats();
            }
        });
        Ok(())
    }
}

/// An instrumented server.
struct Admin {
    io: SocketIo,
    options: AdminUi,
    started: Instant,
    /// Session ids of logged-in admins, oldest first.
    sessions: Mutex<VecDeque<String>>,
    /// The counters at the last `server_stats`.
    last: Mutex<Counters>,
    /// Admins connected to this server (any shard).
    watchers: AtomicUsize,
    /// The server is a node of a cluster.
    clustered: bool,
}

impl Admin {
    fn new(io: SocketIo, options: AdminUi) -> Admin {
        Admin {
            clustered: io.is_clustered(),
            io,
            options,
            started: Instant::now(),
            sessions: Mutex::new(VecDeque::new()),
            last: Mutex::new(Counters::default()),
            watchers: AtomicUsize::new(0),
        }
    }

    /// The package's middleware: a known session id, or the user name and password.
    async fn login(&self, connecting: &Connecting) -> Result<(), Refusal> {
        let refused = || Refusal::new("invalid credentials");
        let AdminAuth::Basic {
            username,
            password_hash,
        } = &self.options.auth
        else {
            return Ok(());
        };
        let auth: Value = connecting.auth().unwrap_or(Value::Null);
        if let Some(session) = auth.get("sessionId").and_then(Value::as_str) {
            let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
            if sessions.iter().any(|s| s == session) {
                return Ok(());
            }
        }
        let (Some(user), Some(password)) = (
            auth.get("username").and_then(Value::as_str),
            auth.get("password").and_then(Value::as_str),
        ) else {
            return Err(refused());
        };
        if user != username {
            return Err(refused());
        }
        // bcrypt is slow on purpose: off the runtime's threads.
        let (password, hash) = (password.to_owned(), password_hash.clone());
        let verified = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if !verified {
            return Err(refused());
        }
        let session = session_id().ok_or_else(refused)?;
        {
            let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
            if sessions.len() >= MAX_SESSIONS {
                sessions.pop_front();
            }
            sessions.push_back(session.clone());
        }
        // Told once the socket exists (the UI listens for it after CONNECT).
        connecting
            .set_data(&json!({ "_adminSession": session }))
            .map_err(|_| refused())
    }

    fn features(&self) -> Vec<&'static str> {
        let mut features = Vec::new();
        if !self.options.readonly {
            features.extend([
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
            ]);
        }
        features.push("AGGREGATED_EVENTS");
        if self.options.mode == AdminMode::Development {
            features.push("ALL_EVENTS");
        }
        features
    }

    /// An admin connected: its session, the configuration, every socket, the commands.
    fn connected(self: &Arc<Self>, socket: &Socket) {
        self.watchers.fetch_add(1, Ordering::Relaxed);
        let admin = Arc::downgrade(self);
        socket.on_disconnect(move |_, _| {
            if let Some(admin) = admin.upgrade() {
                admin.watchers.fetch_sub(1, Ordering::Relaxed);
            }
        });
        let data: Option<Value> = socket.data();
        if let Some(session) = data
            .as_ref()
            .and_then(|d| d.get("_adminSession"))
            .and_then(Value::as_str)
        {
            let _ = socket.emit("session", session);
            // The admin socket's own data, as the package leaves it.
            let mut data = data.clone().unwrap_or_default();
            if let Some(fields) = data.as_object_mut() {
                fields.remove("_adminSession");
            }
            let _ = socket.set_data(&data);
        }
        let _ = socket.emit("config", &json!({ "supportedFeatures": self.features() }));
        if self.options.mode == AdminMode::Development {
            let admin = self.clone();
            let socket = socket.clone();
            tokio::spawn(async move {
                let sockets = admin.all_sockets().await;
                let _ = socket.emit("all_sockets", &sockets);
            });
        }
        if !self.options.readonly {
            let io = self.io.clone();
            socket.on("emit", move |_: Socket, event: Event| {
                command_emit(&io, &event)
            });
            let io = self.io.clone();
            socket.on("join", move |_: Socket, event: Event| {
                command_rooms(&io, &event, true);
            });
            let io = self.io.clone();
            socket.on("leave", move |_: Socket, event: Event| {
                command_rooms(&io, &event, false);
            });
            let io = self.io.clone();
            socket.on("_disconnect", move |_: Socket, event: Event| {
                command_disconnect(&io, &event);
            });
        }
    }

    /// Every socket of every namespace, cluster-wide, as the UI lists them.
    async fn all_sockets(&self) -> Vec<Value> {
        let mut all = Vec::new();
        for namespace in self.namespaces() {
            let Ok(operators) = self.io.of(&namespace) else {
                continue;
            };
            // A node that does not answer in time leaves its sockets out.
            if let Ok(sockets) = operators.fetch_sockets().await {
                all.extend(sockets.iter().map(|s| serialize_remote(s, &namespace)));
            }
        }
        all
    }

    /// The namespaces this server serves by name, `/` first.
    fn namespaces(&self) -> Vec<String> {
        let mut names = self.io.namespace_names();
        names.retain(|n| n != "/");
        names.insert(0, "/".to_owned());
        names
    }

    /// Broadcasts `args` to every admin (every node's).
    fn tell(&self, event: &str, args: &Value) {
        if let Ok(admins) = self.io.of(&self.options.namespace) {
            let _ = admins.emit(event, args);
        }
    }

    /// `server_stats`, to every admin.
    fn emit_stats(&self) {
        let mut counters = Counters::default();
        let mut clients = 0u64;
        let mut sockets: Vec<(String, u64)> =
            self.namespaces().into_iter().map(|n| (n, 0)).collect();
        for shard in self.io.shards() {
            let machine = shard.lock();
            let local = machine.endpoint().local();
            let engine = local.engine();
            counters.add(engine.counters());
            clients += engine.len() as u64;
            for socket in machine.sockets() {
                let name = socket.namespace().as_str();
                match sockets.iter_mut().find(|(n, _)| n == name) {
                    Some((_, count)) => *count += 1,
                    None => sockets.push((name.to_owned(), 1)),
                }
            }
        }
        let last = {
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *last, counters)
        };
        let second = now_ms() / 1000 * 1000;
        let mut events = Vec::new();
        let mut push = |kind: &str, sub: Option<&str>, count: u64| {
            if count > 0 {
                let mut event = Map::new();
                event.insert("timestamp".into(), second.into());
                event.insert("type".into(), kind.into());
                if let Some(sub) = sub {
                    event.insert("subType".into(), sub.into());
                }
                event.insert("count".into(), count.into());
                events.push(Value::Object(event));
            }
        };
        push("rawConnection", None, counters.opened - last.opened);
        push("packetsIn", None, counters.messages_in - last.messages_in);
        push("bytesIn", None, counters.bytes_in - last.bytes_in);
        push(
            "packetsOut",
            None,
            counters.messages_out - last.messages_out,
        );
        push("bytesOut", None, counters.bytes_out - last.bytes_out);
        for (reason, count) in counters.closed() {
            let count = count - last.closed_by(reason);
            push("rawDisconnection", Some(reason.as_str()), count);
        }
        let namespaces: Vec<Value> = sockets
            .into_iter()
            .map(|(name, count)| json!({ "name": name, "socketsCount": count }))
            .collect();
        let host = hostname();
        let stats = json!({
            "serverId": self.options.server_id.clone().unwrap_or_else(|| host.clone()),
            "hostname": host,
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": clients,
            "pollingClientsCount": counters.polling,
            "aggregatedEvents": events,
            "namespaces": namespaces,
        });
        self.tell("server_stats", &stats);
    }
}

impl crate::server::Monitor for Admin {
    /// Alone (no cluster adapter) with no admin connected, nobody could receive a report:
    /// none is made. In a cluster, admins of other nodes may be listening.
    fn watched(&self) -> bool {
        self.clustered || self.watchers.load(Ordering::Relaxed) > 0
    }

    fn connected(&self, socket: &Socket) {
        let serialized = serialize_local(socket);
        let args = json!([serialized, iso_now()]);
        self.tell_args("socket_connected", &args);
    }

    fn disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        let args = json!([
            socket.namespace().as_str(),
            socket.id(),
            reason.as_str(),
            iso_now()
        ]);
        self.tell_args("socket_disconnected", &args);
    }

    fn received(&self, socket: &Socket, event: &Event) {
        let namespace = socket.namespace().as_str();
        if namespace == self.options.namespace {
            return;
        }
        // `[name, ...args]` as the client sent it, attachments included.
        let Some(array) = event.packet().raw_json() else {
            return;
        };
        let head = serde_json::to_string(&(namespace, socket.id())).unwrap_or_default();
        let time = Value::from(iso_now()).to_string();
        let args = format!("[{},{},{}]", &head[1..head.len() - 1], array.as_str(), time);
        let Ok(raw) = serde_json::value::RawValue::from_string(args) else {
            return;
        };
        let Ok(admins) = self.io.of(&self.options.namespace) else {
            return;
        };
        let packet = socketio_proto::Packet::event_raw(
            socketio_proto::Namespace::new(&self.options.namespace)
                .unwrap_or_else(|_| socketio_proto::Namespace::main()),
            "event_received",
            &raw_items(&raw),
            event.attachments().to_vec(),
        );
        if let Ok(packet) = packet {
            let _ = admins.emit("event_received", &Event::new(packet));
        }
    }

    fn membership(&self, membership: Membership) {
        let kind = if membership.joined {
            "room_joined"
        } else {
            "room_left"
        };
        let args = json!([
            membership.namespace,
            membership.room,
            membership.socket,
            iso_now()
        ]);
        self.tell_args(kind, &args);
    }
}

impl Admin {
    /// Broadcasts an event whose arguments are the items of `args` (a JSON array).
    fn tell_args(&self, event: &str, args: &Value) {
        let Ok(admins) = self.io.of(&self.options.namespace) else {
            return;
        };
        let Some(items) = args.as_array() else {
            return;
        };
        let raw: Vec<Box<serde_json::value::RawValue>> = items
            .iter()
            .filter_map(|item| serde_json::value::to_raw_value(item).ok())
            .collect();
        let borrowed: Vec<&serde_json::value::RawValue> = raw.iter().map(AsRef::as_ref).collect();
        let namespace = socketio_proto::Namespace::new(&self.options.namespace)
            .unwrap_or_else(|_| socketio_proto::Namespace::main());
        if let Ok(packet) =
            socketio_proto::Packet::event_raw(namespace, event, &borrowed, Vec::new())
        {
            let _ = admins.emit(event, &Event::new(packet));
        }
    }
}

/// The items of a JSON array, borrowed.
fn raw_items(array: &serde_json::value::RawValue) -> Vec<&serde_json::value::RawValue> {
    serde_json::from_str::<Vec<&serde_json::value::RawValue>>(array.get()).unwrap_or_default()
}

/// `emit`: `[nsp, filter, event, ...args]`.
fn command_emit(io: &SocketIo, event: &Event) {
    let raw = event.raw_args();
    let (Some(operators), Some(name)) = (target(io, &raw, 1), raw.get(2).and_then(|v| text(v)))
    else {
        return;
    };
    if let Ok(rest) = event.skip_args(3) {
        let _ = operators.emit(&name, &rest);
    }
}

/// `join` and `leave`: `[nsp, room, filter?]`.
fn command_rooms(io: &SocketIo, event: &Event, join: bool) {
    let raw = event.raw_args();
    let (Some(operators), Some(room)) = (target(io, &raw, 2), raw.get(1).and_then(|v| text(v)))
    else {
        return;
    };
    let _ = if join {
        operators.sockets_join([room])
    } else {
        operators.sockets_leave([room])
    };
}

/// `_disconnect`: `[nsp, close, filter?]`.
fn command_disconnect(io: &SocketIo, event: &Event) {
    let raw = event.raw_args();
    let Some(operators) = target(io, &raw, 2) else {
        return;
    };
    let close = raw
        .get(1)
        .and_then(|v| serde_json::from_str::<bool>(v.get()).ok())
        .unwrap_or(false);
    let _ = operators.disconnect_sockets(close);
}

/// The sockets a command is for: its namespace (the first argument) and, when the argument
/// at `filter` is a room name, that room of it.
fn target(
    io: &SocketIo,
    raw: &[&serde_json::value::RawValue],
    filter_at: usize,
) -> Option<crate::server::Operators> {
    let operators = io.of(&text(raw.first()?)?).ok()?;
    Some(match raw.get(filter_at).and_then(|v| filter(v)) {
        Some(room) => operators.to(room),
        None => operators,
    })
}

/// A JSON string argument.
fn text(value: &serde_json::value::RawValue) -> Option<String> {
    serde_json::from_str(value.get()).ok()
}

/// A room filter: a non-empty string; anything falsy means every socket.
fn filter(value: &serde_json::value::RawValue) -> Option<String> {
    text(value).filter(|room| !room.is_empty())
}

/// A socket of this server as the UI lists it: `{id, clientId, transport, nsp, data,
/// handshake, rooms}`.
fn serialize_local(socket: &Socket) -> Value {
    let handshake = socket.handshake().map(|h| h.to_json(Value::Null));
    let mut rooms = vec![socket.id().to_owned()];
    rooms.extend(socket.rooms());
    let remote = RemoteSocket {
        id: socket.id().to_owned(),
        handshake: handshake.unwrap_or_default(),
        rooms,
        data: socket.data().unwrap_or_else(|| json!({})),
    };
    let mut serialized = serialize_remote(&remote, socket.namespace().as_str());
    // The transport now, not the one the socket connected with.
    if let (Some((_, transport)), Some(fields)) = (socket.client_info(), serialized.as_object_mut())
    {
        fields.insert("transport".into(), transport.into());
    }
    serialized
}

/// A socket of any server (a `fetchSockets` answer) as the UI lists it.
fn serialize_remote(socket: &RemoteSocket, namespace: &str) -> Value {
    let mut data = socket.data.clone();
    let admin = data.as_object_mut().and_then(|d| d.remove("_admin"));
    let mut out = Map::new();
    out.insert("id".into(), socket.id.clone().into());
    if let Some(admin) = &admin {
        for key in ["clientId", "transport"] {
            if let Some(value) = admin.get(key) {
                out.insert(key.into(), value.clone());
            }
        }
    }
    out.insert("nsp".into(), namespace.into());
    out.insert("data".into(), data);
    let h = &socket.handshake;
    let header = |name: &str| h.get("headers").and_then(|hs| hs.get(name)).cloned();
    let address = header("cf-connecting-ip")
        .or_else(|| header("x-forwarded-for"))
        .or_else(|| h.get("address").cloned())
        .unwrap_or_default();
    let mut handshake = Map::new();
    handshake.insert("address".into(), address);
    for key in [
        "headers", "query", "issued", "secure", "time", "url", "xdomain",
    ] {
        handshake.insert(key.into(), h.get(key).cloned().unwrap_or_default());
    }
    out.insert("handshake".into(), Value::Object(handshake));
    out.insert("rooms".into(), socket.rooms.clone().into());
    Value::Object(out)
}

/// 16 lowercase hexadecimal characters from the OS's CSPRNG, as the package draws them.
fn session_id() -> Option<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The time as JavaScript's `Date.prototype.toJSON()` writes it.
fn iso_now() -> String {
    iso(now_ms())
}

/// `ms` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn iso(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let in_day = ms % 86_400_000;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The host name (Linux's `/proc/sys/kernel/hostname`, else `localhost`).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A file of the Admin UI's build (`@socket.io/admin-ui`'s `ui/dist`, or any copy of it)
/// under `dir`, for a request path relative to where the UI is served (`""` is
/// `index.html`): its content type and bytes. `None` for what is not a file of `dir`
/// (`..` and absolute paths included).
pub fn ui_file(dir: &std::path::Path, path: &str) -> Option<(&'static str, Vec<u8>)> {
    let path = path.trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let relative = std::path::Path::new(path);
    if relative
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    let content_type = match relative.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "application/javascript",
        Some("css") => "text/css",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("map") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    };
    let bytes = std::fs::read(dir.join(relative)).ok()?;
    Some((content_type, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_as_javascript_writes_dates() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_796_543_457_863), "2026-12-06T07:50:57.863Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn ui_files_stay_in_their_directory() {
        let dir = std::env::temp_dir();
        assert!(ui_file(&dir, "../etc/passwd").is_none());
        assert!(ui_file(&dir, "a/../../x").is_none());
        let file = dir.join(format!("admin-ui-test-{}.css", std::process::id()));
        std::fs::write(&file, "x").unwrap();
        let name = file.file_name().unwrap().to_str().unwrap();
        assert_eq!(ui_file(&dir, name), Some(("text/css", b"x".to_vec())));
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn features_follow_the_options() {
        let io = SocketIo::new_inner(Default::default());
        let admin = |options: AdminUi| Admin::new(io.clone(), options);
        assert_eq!(
            admin(AdminUi::new(AdminAuth::None)).features(),
            [
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
                "AGGREGATED_EVENTS",
                "ALL_EVENTS"
            ]
        );
        let readonly = AdminUi::new(AdminAuth::None)
            .readonly(true)
            .mode(AdminMode::Production);
        assert_eq!(admin(readonly).features(), ["AGGREGATED_EVENTS"]);
    }
}
