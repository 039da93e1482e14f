// Interop test client: official socket.io-client 4.8.4 (Engine.IO protocol v4,
// Socket.IO protocol v5) against a server implementing the interop app
// contract (see reference-server.mjs).
//
// Usage:
//   node client-v4.mjs --url http://127.0.0.1:PORT \
//        --transport polling|websocket|upgrade [--parser text|msgpack]
//        [--cases name1,name2]
//
// `--parser msgpack` gives every Manager the socket.io-msgpack-parser 3.0.2
// module as its `parser` (the server must use it too); text is socket.io's
// default parser. The cases and their assertions are the same for both.
//
// The server is expected to run with connection state recovery ON and
// pingInterval 300 / pingTimeout 200. One JSON line per case is printed on
// stdout; the `restart` case additionally prints the plain line `RESTART`,
// upon which the harness must stop the server and start it again on the same
// port. Exit code 0 only if every case passed.

import { io, Manager } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import {
  EventQueue,
  assert,
  assertDeepEqual,
  assertEventArgs,
  firstEvent,
  parseClientArgs,
  pollUntil,
  runCases,
  show,
  sleep,
  transportOptions,
  writeLine,
} from "./common.mjs";

const CASE_NAMES = [
  "namespaces",
  "auth",
  "events-and-acks",
  "binary",
  "rooms",
  "server-disconnect",
  "ping-timeout",
  "restart",
  "recovery",
];

const options = parseClientArgs(process.argv.slice(2), CASE_NAMES);
const BASE_URL = options.url;
const TRANSPORT = options.transport;

/**
 * Options of every Manager the cases create: the transports, and the parser
 * (socket.io-client's default when text).
 */
function managerOptions() {
  return {
    ...transportOptions(TRANSPORT),
    ...(options.parser === "msgpack" ? { parser: msgpackParser } : {}),
  };
}

/** Disconnect reasons for which socket.io keeps a session for recovery. */
const RECOVERABLE_REASONS = [
  "transport error",
  "transport close",
  "forced close",
  "ping timeout",
  "server shutting down",
  "forced server close",
];

// Events the contract's server may emit; each client gets an EventQueue per
// event as soon as it is created, so no event can be missed.
const SERVER_EVENTS = [
  "auth",
  "message-back",
  "room-message",
  "all-message",
  "answer",
  "answer-timeout",
  "disconnect",
];

// ---------------------------------------------------------------------------
// Client helpers
// ---------------------------------------------------------------------------

/**
 * Creates a socket for namespace `nsp` (own Manager unless `manager` is
 * given, in which case the namespace is multiplexed on that Manager's
 * Engine.IO connection), registers it for cleanup and attaches event queues.
 * Reconnection is off unless the caller enables it.
 */
function createClient(ctx, nsp, socketOptions = {}, manager = null) {
  const socket = manager
    ? manager.socket(nsp, socketOptions)
    : io(`${BASE_URL}${nsp}`, {
        forceNew: true,
        reconnection: false,
        ...managerOptions(),
        ...socketOptions,
      });
  ctx.track(socket);
  const q = {};
  for (const event of SERVER_EVENTS) q[event] = new EventQueue(socket, event);
  return { socket, q };
}

/** Closes a socket and its Manager without any further reconnection. */
function closeClient(socket) {
  socket.io.reconnection(false);
  socket.disconnect(); // also closes the Manager once no socket is active
}

/** Resolves once `socket` is connected; rejects on `connect_error`. */
async function waitConnected(socket, ms = 3000) {
  if (socket.connected) return;
  const { event, args } = await firstEvent(socket, ["connect", "connect_error"], ms);
  if (event === "connect_error") {
    throw new Error(`unexpected connect_error: ${args[0] && args[0].message}`);
  }
}

/** Resolves with the `connect_error` Error; rejects if the socket connects. */
async function waitConnectError(socket, ms = 3000) {
  assert(!socket.connected, "socket unexpectedly connected");
  const { event, args } = await firstEvent(socket, ["connect", "connect_error"], ms);
  if (event === "connect") throw new Error("socket connected although it should be refused");
  return args[0];
}

/**
 * Checks the Engine.IO transport in use. In `upgrade` mode, waits for the
 * engine's "upgrade" event (unless it already happened) and verifies that
 * `socket.io.engine.transport.name` is then "websocket".
 */
async function ensureTransport(socket, ms = 3000) {
  const engine = socket.io.engine;
  assert(engine, "no Engine.IO socket");
  if (TRANSPORT === "upgrade") {
    if (engine.transport.name !== "websocket") {
      const { event, args } = await firstEvent(engine, ["upgrade", "upgradeError"], ms);
      if (event === "upgradeError") {
        throw new Error(`upgrade failed: ${args[0] && args[0].message}`);
      }
    }
    assert(
      engine.transport.name === "websocket",
      `expected the engine to be upgraded to websocket, transport is ${engine.transport.name}`,
    );
  } else {
    assert(
      engine.transport.name === TRANSPORT,
      `expected transport ${TRANSPORT}, got ${engine.transport.name}`,
    );
  }
}

/** Creates a client, waits for the connection and checks the transport. */
async function connectClient(ctx, nsp, socketOptions = {}) {
  const client = createClient(ctx, nsp, socketOptions);
  await waitConnected(client.socket);
  await ensureTransport(client.socket);
  return client;
}

/** Asks the server for the reason of its most recent `disconnect` event. */
function lastDisconnectReason(socket) {
  return socket.timeout(2000).emitWithAck("last-disconnect-reason");
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/** `/` and `/custom` multiplexed on one Manager; `/random` is refused. */
async function caseNamespaces(ctx) {
  const manager = new Manager(BASE_URL, { reconnection: false, ...managerOptions() });
  const root = createClient(ctx, "/", {}, manager);
  const custom = createClient(ctx, "/custom", {}, manager);
  const random = createClient(ctx, "/random", {}, manager);
  // the refusal may arrive before / and /custom are connected: listen now
  const randomRefused = waitConnectError(random.socket);
  randomRefused.catch(() => {}); // awaited below; avoid an unhandled rejection

  ctx.step = "connect / and /custom";
  await waitConnected(root.socket);
  await waitConnected(custom.socket);
  await ensureTransport(root.socket);
  assert(root.socket.io === custom.socket.io, "namespaces should share one Manager");

  ctx.step = "auth events";
  assertEventArgs(await root.q.auth.next(), [{}], "auth on /");
  assertEventArgs(await custom.q.auth.next(), [{}], "auth on /custom");

  ctx.step = "connect_error on /random";
  const err = await randomRefused;
  assert(
    err.message === "Invalid namespace",
    `expected connect_error "Invalid namespace", got ${show(err.message)}`,
  );
  // the refusal of one namespace must not affect the others on the connection
  assert(root.socket.connected && custom.socket.connected, "/ or /custom lost its connection");
}

/** Handshake auth payload is visible to the server; `/private` middleware. */
async function caseAuth(ctx) {
  ctx.step = "auth {token:123} on /";
  const withToken = await connectClient(ctx, "/", { auth: { token: "123" } });
  assertEventArgs(await withToken.q.auth.next(), [{ token: "123" }], "auth on /");

  ctx.step = "/private with the right token";
  const allowed = await connectClient(ctx, "/private", { auth: { token: "secret" } });
  assertEventArgs(await allowed.q.auth.next(), [{ token: "secret" }], "auth on /private");

  ctx.step = "/private with a wrong token";
  const refused = createClient(ctx, "/private", { auth: { token: "nope" } });
  const err = await waitConnectError(refused.socket);
  assert(
    err.message === "not authorized",
    `expected connect_error "not authorized", got ${show(err.message)}`,
  );
}

/** Plain events, client->server acks and server->client acks. */
async function caseEventsAndAcks(ctx) {
  const { socket, q } = await connectClient(ctx, "/");

  ctx.step = "message -> message-back";
  socket.emit("message", 1, "2", { 3: [true] });
  assertEventArgs(await q["message-back"].next(), [1, "2", { 3: [true] }], "message-back");

  ctx.step = "message-with-ack (callback, every argument)";
  const ackArgs = await new Promise((resolve) => {
    socket.emit("message-with-ack", 1, "2", { 3: [false] }, (...args) => resolve(args));
  });
  // acks never carry a recovery offset: the arguments must match exactly
  assertDeepEqual(ackArgs, [1, "2", { 3: [false] }], "message-with-ack ack arguments");

  ctx.step = "message-with-ack (emitWithAck)";
  const first = await socket.emitWithAck("message-with-ack", 1, "2", { 3: [false] });
  assertDeepEqual(first, 1, "emitWithAck result");

  ctx.step = "server -> client ack (ask-client)";
  const questions = [];
  socket.on("question", (...args) => {
    const ack = args.pop();
    assert(typeof ack === "function", "question event carries no ack callback");
    questions.push(args);
    ack("yes", ...args);
  });
  socket.emit("ask-client", "q1");
  assertEventArgs(await q.answer.next(), ["yes", "q1"], "answer");
  // an event emitted with an ack is never stored for recovery, so no offset
  assertDeepEqual(questions, [["q1"]], "question arguments");
  assert(q["answer-timeout"].count === 0, "server reported answer-timeout");
}

/** Nested binary attachments in events, acks and server->client acks. */
async function caseBinary(ctx) {
  const { socket, q } = await connectClient(ctx, "/");
  const payload = () => [
    Buffer.from([1, 2, 3]),
    { a: Buffer.from([4, 5, 6]), b: [Buffer.from([]), { c: Buffer.from([7]) }] },
    "plain",
    new Uint8Array([255, 0, 128]),
  ];

  ctx.step = "binary message -> message-back";
  socket.emit("message", ...payload());
  assertEventArgs(await q["message-back"].next(), payload(), "binary message-back");

  ctx.step = "binary message-with-ack";
  const ackArgs = await new Promise((resolve) => {
    socket.emit("message-with-ack", ...payload(), (...args) => resolve(args));
  });
  assertDeepEqual(ackArgs, payload(), "binary ack arguments");

  ctx.step = "binary server -> client ack";
  socket.on("question", (...args) => {
    const ack = args.pop();
    ack("yes", ...args); // BINARY_ACK from the client
  });
  socket.emit("ask-client", ...payload());
  assertEventArgs(await q.answer.next(), ["yes", ...payload()], "binary answer");
}

/** socket.to(room) reaches the other room members only. */
async function caseRooms(ctx) {
  ctx.step = "connect A, B, C";
  const a = await connectClient(ctx, "/");
  const b = await connectClient(ctx, "/");
  const c = await connectClient(ctx, "/");

  ctx.step = "join rooms";
  assertDeepEqual(await a.socket.emitWithAck("join", "r1"), "r1", "A join ack");
  assertDeepEqual(await b.socket.emitWithAck("join", "r1"), "r1", "B join ack");
  assertDeepEqual(await c.socket.emitWithAck("join", "r2"), "r2", "C join ack");

  ctx.step = "to-room r1";
  a.socket.emit("to-room", "r1", "hi");
  assertEventArgs(await b.q["room-message"].next(), ["hi"], "B room-message");
  await sleep(300); // leave time for any unexpected delivery
  assert(a.q["room-message"].count === 0, `sender A got ${show(a.q["room-message"].all)}`);
  assert(c.q["room-message"].count === 0, `C (room r2) got ${show(c.q["room-message"].all)}`);
  assert(b.q["room-message"].count === 1, `B got ${b.q["room-message"].count} room-messages`);
}

/** socket.disconnect() on the server: "io server disconnect", no reconnect. */
async function caseServerDisconnect(ctx) {
  const { socket, q } = await connectClient(ctx, "/", {
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
  });
  const connects = new EventQueue(socket, "connect");
  const attempts = new EventQueue(socket.io, "reconnect_attempt");

  ctx.step = "disconnect-me";
  socket.emit("disconnect-me");
  const [reason] = await q.disconnect.next(3000);
  assert(reason === "io server disconnect", `disconnect reason: ${show(reason)}`);

  ctx.step = "no reconnection";
  await sleep(600); // several reconnectionDelay periods
  assert(!socket.connected, "socket is connected again");
  assert(!socket.active, "socket is still active (would reconnect)");
  assert(connects.count === 0, "socket reconnected");
  assert(attempts.count === 0, `${attempts.count} reconnection attempts`);

  ctx.step = "server-side reason";
  const probe = await connectClient(ctx, "/");
  const serverReason = await lastDisconnectReason(probe.socket);
  assert(
    serverReason === "server namespace disconnect",
    `server-side disconnect reason: ${show(serverReason)}`,
  );
}

/**
 * The client stops answering heartbeats; the server must close the session
 * with reason "ping timeout".
 *
 * Hook (engine.io-client 6.x): the Engine.IO socket subscribes to its
 * transport's "packet" event with a listener bound once in setTransport(),
 * so replacing `engine._onPacket` afterwards has no effect. Every transport
 * (polling and websocket) however delivers decoded packets by calling
 * `this.onPacket(packet)` (Transport#onData / Polling#onData), so an
 * instance-level override of `engine.transport.onPacket` sees every packet
 * before the engine does: dropping "ping" there means no "pong" is sent.
 *
 * The client's own heartbeat timer must be disarmed too: the engine arms
 * `_pingTimeoutTimer` (pingInterval + pingTimeout = 500 ms) on each ping it
 * receives, while the server's deadline is pong-received + 300 + 200 ms, so
 * both sides time out at about the same moment (without the disarm the
 * client was seen reporting "ping timeout" itself in some runs). If the
 * client wins, it closes the transport and the server records
 * "transport close" instead of detecting the "ping timeout"; a frozen client
 * would not do that, hence `clearTimeoutFn(engine._pingTimeoutTimer)`.
 */
async function casePingTimeout(ctx) {
  const { socket, q } = await connectClient(ctx, "/");
  const engine = socket.io.engine;
  const transport = engine.transport; // final transport (upgrade is done)

  ctx.step = "drop pings";
  let droppedPings = 0;
  const originalOnPacket = transport.onPacket;
  transport.onPacket = function onPacketWithoutPings(packet) {
    if (packet.type === "ping") {
      droppedPings++;
      return;
    }
    return originalOnPacket.call(this, packet);
  };
  engine.clearTimeoutFn(engine._pingTimeoutTimer);

  ctx.step = "wait for disconnect";
  const [reason] = await q.disconnect.next(2500);
  assert(
    ["ping timeout", "transport close", "transport error"].includes(reason),
    `client disconnect reason: ${show(reason)}`,
  );
  assert(droppedPings >= 1, "no ping was received (and dropped) before the disconnection");
  process.stderr.write(`[ping-timeout] client disconnect reason: ${reason}, dropped pings: ${droppedPings}\n`);

  ctx.step = "server-side reason";
  // immediately, before anything else can disconnect
  const probe = await connectClient(ctx, "/");
  const serverReason = await lastDisconnectReason(probe.socket);
  assert(serverReason === "ping timeout", `server-side disconnect reason: ${show(serverReason)}`);
}

/**
 * The harness restarts the server (same port) after the `RESTART` line; the
 * client must notice, reconnect by itself and work again.
 */
async function caseRestart(ctx) {
  const { socket, q } = await connectClient(ctx, "/", {
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0,
  });
  const connects = new EventQueue(socket, "connect");
  const reconnects = new EventQueue(socket.io, "reconnect");

  ctx.step = "waiting for the server to go away";
  await writeLine("RESTART");
  const [reason] = await q.disconnect.next(5000);
  process.stderr.write(`[restart] client disconnect reason: ${reason}\n`);

  ctx.step = "waiting for the reconnection";
  await reconnects.next(9000);
  await connects.next(2000);
  assert(socket.connected, "socket not connected after reconnect");
  await ensureTransport(socket);

  ctx.step = "message round trip after restart";
  socket.emit("message", "after-restart", Buffer.from([42]));
  // skip anything emitted by the previous server instance
  for (;;) {
    const args = await q["message-back"].next(3000);
    if (args[0] === "after-restart") {
      assertEventArgs(args, ["after-restart", Buffer.from([42])], "message-back");
      break;
    }
  }
}

/**
 * Connection state recovery. socket.io-client 4.8.4 (build/esm-debug/socket.js):
 *  - onconnect(id, pid) stores `_pid` (from the CONNECT payload {sid, pid});
 *  - emitEvent() stores the last string argument of every received event in
 *    `_lastOffset` when `_pid` is set;
 *  - on reconnection _sendConnectPacket() sends {pid, offset, ...auth};
 *  - `recovered = pid && this._pid === pid` on the next CONNECT.
 * `socket.io.engine.close()` closes only the Engine.IO connection (client
 * reason "forced close", the Manager reconnects after reconnectionDelay); the
 * server sees "transport close", a recoverable reason, and keeps the session.
 * The missed event is sent by the server before the CONNECT packet; the
 * client buffers it and emits it when the CONNECT arrives.
 */
async function caseRecovery(ctx) {
  const a = await connectClient(ctx, "/", {
    reconnection: true,
    reconnectionDelay: 2000, // A stays away long enough for B to emit
    reconnectionDelayMax: 2000,
    randomizationFactor: 0,
  });
  ctx.step = "A receives auth (gives it an offset)";
  await a.q.auth.next();
  assert(typeof a.socket._pid === "string", "no pid: connection state recovery is off on the server");
  assert(typeof a.socket._lastOffset === "string", "no offset received by A");
  const idBefore = a.socket.id;

  const b = await connectClient(ctx, "/");
  const aConnects = new EventQueue(a.socket, "connect");

  ctx.step = "cut A's transport";
  a.socket.io.engine.close();
  const [clientReason] = await a.q.disconnect.next(2000);
  const cutAt = Date.now();
  process.stderr.write(`[recovery] A client-side disconnect reason: ${clientReason}\n`);

  ctx.step = "wait until the server noticed A is gone";
  await pollUntil(
    async () => {
      const reason = await lastDisconnectReason(b.socket);
      return { ok: RECOVERABLE_REASONS.includes(reason) && Date.now() - cutAt >= 200, value: reason };
    },
    { ms: 1500, message: "the server did not report a recoverable disconnection of A" },
  );

  ctx.step = "B emits to-all while A is away";
  b.socket.emit("to-all", "missed-1");
  assertEventArgs(await b.q["all-message"].next(), ["missed-1"], "B all-message");
  assert(!a.socket.connected, "A reconnected before the event was emitted (timing)");

  ctx.step = "A reconnects";
  await aConnects.next(5000);
  assert(a.socket.recovered === true, `socket.recovered is ${show(a.socket.recovered)}`);
  assert(a.socket.id === idBefore, `socket.id changed: ${idBefore} -> ${a.socket.id}`);

  ctx.step = "A receives the missed event";
  assertEventArgs(await a.q["all-message"].next(1000), ["missed-1"], "A all-message");

  ctx.step = "A works after recovery";
  await ensureTransport(a.socket);
  assertDeepEqual(
    await a.socket.emitWithAck("message-with-ack", "still-here"),
    "still-here",
    "ack after recovery",
  );
}

// ---------------------------------------------------------------------------

await runCases(
  [
    { name: "namespaces", timeout: 5000, run: caseNamespaces },
    { name: "auth", timeout: 5000, run: caseAuth },
    { name: "events-and-acks", timeout: 5000, run: caseEventsAndAcks },
    { name: "binary", timeout: 5000, run: caseBinary },
    { name: "rooms", timeout: 5000, run: caseRooms },
    { name: "server-disconnect", timeout: 5000, run: caseServerDisconnect },
    { name: "ping-timeout", timeout: 5000, run: casePingTimeout },
    { name: "restart", timeout: 10000, run: caseRestart },
    { name: "recovery", timeout: 10000, run: caseRecovery },
  ],
  { selected: options.cases, closeClient },
);
