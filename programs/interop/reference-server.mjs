// Reference implementation of "the interop app contract" on top of the
// official socket.io 4.8.4 server.
//
// The Rust server (socketio-tokio) implements exactly the same contract; the
// client scripts in this directory (client-v4.mjs, client-v2.mjs) are first
// validated against this file, which proves the scripts themselves are right.
//
// Usage: node reference-server.mjs --port N [--recovery] [--ping-interval MS] [--ping-timeout MS]
//        [--parser text|msgpack] [--redis redis://HOST:PORT [--adapter classic|sharded|streams]
//        [--requests-timeout MS]]
//   --port 0     lets the OS pick a free port.
//   --recovery   enables connection state recovery.
//   --parser     the wire format: socket.io's default parser (text, the default) or
//                socket.io-msgpack-parser 3.0.2 (msgpack; Engine.IO v3 clients cannot use it).
//   --postgres   joins a cluster through PostgreSQL with @socket.io/postgres-adapter 0.5.0
//                (pg 8.16.3 pool; the attachments table is created if missing; the pool's
//                clients get an error listener, without which the package's listening
//                client kills the process when its connection drops);
//                --heartbeat-interval / --heartbeat-timeout set its heartbeats (ms).
//   --admin-ui ID  instruments the server with @socket.io/admin-ui 0.5.1 (auth: false,
//                development mode, serverId ID).
//   --redis      joins a cluster through Redis with @socket.io/redis-adapter 8.3.0
//                (node-redis 5.10.0 clients): createAdapter, the classic Pub/Sub adapter,
//                or with `--adapter sharded` createShardedAdapter, or with `--adapter streams`
//                @socket.io/redis-streams-adapter 0.3.1 (default options but
//                --requests-timeout, the adapters' `requestsTimeout`).
// Once listening, exactly one line `LISTENING <port>` is written to stdout.
// SIGTERM (or SIGINT) closes the server and exits with code 0.
//
// Notes on socket.io 4.8.4 behaviour that matters for the contract (read from
// node_modules/socket.io/dist and node_modules/socket.io-adapter/dist):
//  * With `connectionStateRecovery`, the namespace adapter is a
//    SessionAwareAdapter. Its broadcast() appends a fresh offset string
//    (a `yeast()` id such as "PQx3a1b") as an extra LAST element of the
//    event's data for every EVENT packet that has no ack id and is not
//    volatile. Socket#emit() also goes through adapter.broadcast() when
//    recovery is on, so even a plain `socket.emit("auth", {...})` reaches the
//    client as ["auth", {...}, "<offset>"]. Acks (ACK packets) and emits that
//    carry an ack callback never get an offset.
//  * The CONNECT reply to an Engine.IO v4 client is {sid, pid} (pid only when
//    recovery is on). An Engine.IO v3 (socket.io-client 2.x) client gets a bare
//    CONNECT packet, the main namespace "/" is joined implicitly on
//    connection, and the handshake `auth` of a v3 client is built from the
//    query string of its namespace CONNECT packet (`0/custom?token=x,`),
//    so it is `{}` for "/".
//  * Disconnect reasons considered recoverable (session kept for
//    maxDisconnectionDuration): "transport error", "transport close",
//    "forced close", "ping timeout", "server shutting down",
//    "forced server close".
//  * Missed packets of a recovered session are written to the client BEFORE
//    the CONNECT packet; the client buffers them and emits them right after
//    "connect" processing (socket.recovered === true).

import { createServer } from "node:http";
import { Server } from "socket.io";
import msgpackParser from "socket.io-msgpack-parser";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import pg from "pg";
import { createAdapter as createPostgresAdapter } from "@socket.io/postgres-adapter";
import { instrument } from "@socket.io/admin-ui";

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

/** Minimal argument parser: `--port N`, `--parser P`, the `--recovery` flag, the heartbeat. */
function parseArgs(argv) {
  const opts = { port: 0, recovery: false, pingInterval: 300, pingTimeout: 200, parser: "text", redis: null, adapter: "classic" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--port") {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 0 || value > 65535) {
        throw new Error(`invalid --port value: ${argv[i]}`);
      }
      opts.port = value;
    } else if (arg === "--parser") {
      opts.parser = argv[++i];
      if (opts.parser !== "text" && opts.parser !== "msgpack") {
        throw new Error(`invalid --parser value: ${opts.parser}`);
      }
    } else if (arg === "--redis") {
      opts.redis = argv[++i];
    } else if (arg === "--admin-ui") {
      opts.adminUi = argv[++i];
    } else if (arg === "--postgres") {
      opts.postgres = argv[++i];
    } else if (arg === "--heartbeat-interval" || arg === "--heartbeat-timeout") {
      opts[arg === "--heartbeat-interval" ? "heartbeatInterval" : "heartbeatTimeout"] = Number(argv[++i]);
    } else if (arg === "--adapter") {
      opts.adapter = argv[++i];
      if (!["classic", "sharded", "streams"].includes(opts.adapter)) {
        throw new Error(`invalid --adapter value: ${opts.adapter}`);
      }
    } else if (arg === "--requests-timeout") {
      opts.requestsTimeout = Number(argv[++i]);
      if (!Number.isInteger(opts.requestsTimeout) || opts.requestsTimeout <= 0) {
        throw new Error(`invalid --requests-timeout value: ${argv[i]}`);
      }
    } else if (arg === "--recovery") {
      opts.recovery = true;
    } else if (arg === "--ping-interval" || arg === "--ping-timeout") {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value <= 0) {
        throw new Error(`invalid ${arg} value: ${argv[i]}`);
      }
      opts[arg === "--ping-interval" ? "pingInterval" : "pingTimeout"] = value;
    } else {
      throw new Error(`unknown argument: ${arg}`);
    }
  }
  return opts;
}

const args = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

const httpServer = createServer();

// The Redis adapter: a publishing and a subscribing connection.
let adapter = {};
if (args.postgres) {
  const pool = new pg.Pool({ connectionString: args.postgres });
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  await pool.query(
    "CREATE TABLE IF NOT EXISTS socket_io_attachments (id bigserial UNIQUE, " +
      "created_at timestamptz DEFAULT NOW(), payload bytea)",
  );
  const options = {};
  if (args.heartbeatInterval) options.heartbeatInterval = args.heartbeatInterval;
  if (args.heartbeatTimeout) options.heartbeatTimeout = args.heartbeatTimeout;
  adapter = { adapter: createPostgresAdapter(pool, options) };
}
if (args.redis) {
  const pubClient = createClient({ url: args.redis });
  const subClient = pubClient.duplicate();
  pubClient.on("error", () => {});
  subClient.on("error", () => {});
  await Promise.all([pubClient.connect(), subClient.connect()]);
  const options = args.requestsTimeout ? { requestsTimeout: args.requestsTimeout } : {};
  if (args.adapter === "streams") {
    adapter = { adapter: createStreamsAdapter(pubClient, options) };
  } else {
    const create = args.adapter === "sharded" ? createShardedAdapter : createAdapter;
    adapter = { adapter: create(pubClient, subClient, options) };
  }
}

const io = new Server(httpServer, {
  pingInterval: args.pingInterval,
  pingTimeout: args.pingTimeout,
  connectTimeout: 1000,
  maxHttpBufferSize: 1e6,
  allowEIO3: true, // accept socket.io-client 2.x (Engine.IO protocol v3)
  cors: { origin: "*" },
  ...(args.parser === "msgpack" ? { parser: msgpackParser } : {}),
  ...adapter,
  ...(args.recovery
    ? {
        connectionStateRecovery: {
          maxDisconnectionDuration: 120000,
          skipMiddlewares: true,
        },
      }
    : {}),
});

/**
 * Reason string of the most recent server-side `disconnect` event, across
 * every namespace. `null` until the first disconnection. Exposed to clients
 * through the `last-disconnect-reason` event so tests can check what the
 * server observed (e.g. "ping timeout").
 */
let lastDisconnectReason = null;

/**
 * Installs the contract's event handlers on a freshly connected socket.
 * `nsp` is the namespace the socket belongs to (used by `to-all`).
 */
function attachHandlers(nsp, socket) {
  // Announce the handshake auth payload (`{}` when the client sent none).
  socket.emit("auth", socket.handshake.auth ?? {});

  // Echo: every argument (binary attachments included) is sent back.
  socket.on("message", (...eventArgs) => {
    socket.emit("message-back", ...eventArgs);
  });

  // Echo through the acknowledgement callback.
  socket.on("message-with-ack", (...eventArgs) => {
    const ack = eventArgs.pop();
    if (typeof ack === "function") ack(...eventArgs);
  });

  // Join a room and confirm with its name.
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(room);
  });

  // Everyone in `room` except the sender.
  socket.on("to-room", (room, ...eventArgs) => {
    socket.to(room).emit("room-message", ...eventArgs);
  });

  // Everyone in the namespace, sender included.
  socket.on("to-all", (...eventArgs) => {
    nsp.emit("all-message", ...eventArgs);
  });

  // The same on this node only (`local`: never published to the cluster).
  socket.on("to-all-local", (...eventArgs) => {
    nsp.local.emit("all-message", ...eventArgs);
  });

  // Server -> client acknowledgement: ask the client a question and report
  // its answer (or the timeout) back with a plain event.
  socket.on("ask-client", (...eventArgs) => {
    socket.timeout(5000).emit("question", ...eventArgs, (err, ...answer) => {
      if (err) {
        socket.emit("answer-timeout");
      } else {
        socket.emit("answer", ...answer);
      }
    });
  });

  // Server-initiated namespace disconnection (client reason
  // "io server disconnect", server reason "server namespace disconnect").
  socket.on("disconnect-me", () => {
    socket.disconnect();
  });

  // A server-side cut: the Engine.IO connection is closed under the socket, without a
  // DISCONNECT ("forced close", which recovery forgives); then the namespace gets
  // `all-message`("missed-by-cut"), which the cut client misses and, recovered, gets back.
  socket.on("cut-transport", () => {
    socket.conn.close();
    nsp.emit("all-message", "missed-by-cut");
  });

  // `socket.data`, which fetchSockets shows other nodes and recovery gives back.
  socket.on("set-data", (value, ack) => {
    socket.data = value;
    ack();
  });
  socket.on("get-data", (ack) => ack(socket.data));

  // Cluster operations (meaningful with --redis): they reach the other nodes' sockets.
  socket.on("cluster-all-rooms", async (ack) => {
    ack([...(await nsp.adapter.allRooms())].sort());
  });
  socket.on("cluster-fetch", async (room, ack) => {
    const sockets = await nsp.in(room).fetchSockets();
    ack(
      sockets.map((s) => {
        const h = s.handshake;
        return {
          id: s.id, rooms: [...s.rooms].sort(), data: s.data, auth: h.auth,
          address: h.address, url: h.url, query: h.query, time: h.time, issued: h.issued,
          xdomain: h.xdomain, secure: h.secure, header: h.headers["x-cluster-test"] ?? null,
        };
      }),
    );
  });
  socket.on("cluster-sockets-join", (room, newRoom, ack) => {
    nsp.in(room).socketsJoin(newRoom);
    ack();
  });
  socket.on("cluster-sockets-leave", (room, oldRoom, ack) => {
    nsp.in(room).socketsLeave(oldRoom);
    ack();
  });
  socket.on("cluster-broadcast-with-ack", (room, ack) => {
    nsp.to(room).timeout(3000).emit("question-all", "q", (err, answers) => {
      ack({ error: err ? err.message : null, answers });
    });
  });
  socket.on("cluster-server-side-emit", async (ack) => {
    try {
      ack({ error: null, answers: await nsp.serverSideEmitWithAck("who") });
    } catch (err) {
      ack({ error: err.message, answers: null });
    }
  });
  socket.on("cluster-server-count", async (ack) => {
    ack(await nsp.adapter.serverCount());
  });
  socket.on("cluster-server-side-note", (...noteArgs) => {
    const ack = noteArgs.pop();
    nsp.serverSideEmit("note", ...noteArgs);
    ack();
  });
  socket.on("last-server-side-emit", (ack) => {
    ack(lastServerSideEmit);
  });
  socket.on("cluster-disconnect", (room, ack) => {
    nsp.in(room).disconnectSockets();
    ack();
  });

  socket.on("last-disconnect-reason", (ack) => {
    if (typeof ack === "function") ack(lastDisconnectReason);
  });

  socket.on("disconnect", (reason) => {
    lastDisconnectReason = reason;
  });
}

// The latest serverSideEmit("note", …) from another node of the cluster.
let lastServerSideEmit = null;

if (args.adminUi) {
  instrument(io, { auth: false, mode: "development", serverId: args.adminUi });
}

// "/" and "/custom" accept everybody.
for (const name of ["/", "/custom"]) {
  const nsp = io.of(name);
  nsp.on("connection", (socket) => attachHandlers(nsp, socket));
  // serverSideEmit from another node of the cluster (--redis).
  nsp.on("note", (...noteArgs) => {
    lastServerSideEmit = ["note", ...noteArgs];
  });
  // serverSideEmitWithAck("who") from another node.
  nsp.on("who", (ack) => ack("node"));
}

// "/private" requires auth.token === "secret".
const privateNsp = io.of("/private");
privateNsp.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") {
    next();
  } else {
    next(new Error("not authorized"));
  }
});
privateNsp.on("connection", (socket) => attachHandlers(privateNsp, socket));

// Any other namespace is refused by socket.io itself: no dynamic namespace
// is registered, so the client receives CONNECT_ERROR "Invalid namespace".

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

httpServer.on("error", (err) => {
  console.error(`reference-server: ${err.message}`);
  process.exit(1);
});

httpServer.listen(args.port, "127.0.0.1", () => {
  const { port } = httpServer.address();
  process.stdout.write(`LISTENING ${port}\n`);
});

let shuttingDown = false;

/**
 * Closes every Socket.IO connection (server reason "server shutting down")
 * and exits. A short hard deadline makes sure lingering HTTP keep-alive
 * connections never keep the process alive.
 */
function shutdown() {
  if (shuttingDown) return;
  shuttingDown = true;
  setTimeout(() => process.exit(0), 500).unref();
  io.close(() => process.exit(0));
}

process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
