// Interop test client: socket.io-client 2.5.0 (Engine.IO protocol v3,
// Socket.IO protocol v4), installed as the npm alias "socket.io-client-v2",
// against a server implementing the interop app contract (see
// reference-server.mjs; the server must accept EIO3, i.e. `allowEIO3`).
//
// Usage:
//   node client-v2.mjs --url http://127.0.0.1:PORT \
//        --transport polling|websocket|upgrade [--cases name1,name2]
//
// One JSON line per case on stdout; exit code 0 only if every case passed.
//
// What a 2.x client sees from a socket.io 4.8.4 server (verified against
// reference-server.mjs):
//  * the main namespace "/" is joined implicitly when the Engine.IO
//    connection opens (the client sends no CONNECT for "/"); the server
//    answers with a bare CONNECT packet ("40", no {sid} payload);
//  * other namespaces are joined with "0/nsp," or "0/nsp?query," and the
//    server uses that query string as the handshake `auth` object;
//    the handshake auth of "/" is always `{}`;
//  * a refused namespace yields an ERROR packet
//    `4/random,{"message":"Invalid namespace"}`, surfaced by the client as an
//    `error` event whose argument is the object {message: "Invalid namespace"};
//  * a middleware refusal yields `4/private,"not authorized"` (err.data ||
//    err.message, i.e. a plain string), surfaced as `error` "not authorized";
//  * with connection state recovery on, events without ack carry the offset
//    string as an extra last argument here too (the 2.x client passes it to
//    the listener like any other argument).

import { createRequire } from "node:module";
import {
  EventQueue,
  assert,
  assertDeepEqual,
  assertEventArgs,
  firstEvent,
  parseClientArgs,
  runCases,
  show,
  transportOptions,
} from "./common.mjs";

// socket.io-client 2.x is CommonJS; the alias resolves through node_modules.
const require = createRequire(import.meta.url);
const io = require("socket.io-client-v2");

const CASE_NAMES = ["connect", "namespaces", "events", "acks", "binary", "query-auth"];

// socket.io-msgpack-parser speaks Socket.IO v5 only: text is the one format here.
const options = parseClientArgs(process.argv.slice(2), CASE_NAMES, { parsers: ["text"] });
const BASE_URL = options.url;
const TRANSPORT = options.transport;

const SERVER_EVENTS = ["auth", "message-back", "answer", "answer-timeout", "error", "disconnect"];

// ---------------------------------------------------------------------------
// Client helpers
// ---------------------------------------------------------------------------

/** Common Manager options: no reconnection, selected transports. */
function managerOptions(extra = {}) {
  return { forceNew: true, reconnection: false, ...transportOptions(TRANSPORT), ...extra };
}

/**
 * Creates a socket for `nsp` (own Manager unless `manager` is given),
 * registers it for cleanup and attaches an EventQueue per server event.
 */
function createClient(ctx, nsp, extraOptions = {}, manager = null) {
  const socket = manager
    ? manager.socket(nsp, extraOptions)
    : io(`${BASE_URL}${nsp}`, managerOptions(extraOptions));
  ctx.track(socket);
  const q = {};
  for (const event of SERVER_EVENTS) q[event] = new EventQueue(socket, event);
  return { socket, q };
}

/** Closes a socket (DISCONNECT packet if connected) and its Manager. */
function closeClient(socket) {
  socket.io.reconnection(false);
  socket.close();
  socket.io.close();
}

/**
 * Resolves once `socket` is connected. A 2.x client reports Engine.IO level
 * failures as `connect_error` and namespace refusals as `error`.
 */
async function waitConnected(socket, ms = 3000) {
  if (socket.connected) return;
  const { event, args } = await firstEvent(socket, ["connect", "connect_error", "error"], ms);
  if (event !== "connect") {
    throw new Error(`unexpected ${event}: ${show(args[0] && args[0].message ? args[0].message : args[0])}`);
  }
}

/** Resolves with the argument of the namespace `error` event. */
async function waitRefused(socket, ms = 3000) {
  assert(!socket.connected, "socket unexpectedly connected");
  const { event, args } = await firstEvent(socket, ["connect", "connect_error", "error"], ms);
  if (event === "connect") throw new Error("socket connected although it should be refused");
  if (event === "connect_error") {
    throw new Error(`expected an "error" event, got connect_error ${show(args[0] && args[0].message)}`);
  }
  return args[0];
}

/**
 * Checks the Engine.IO transport; in `upgrade` mode waits for the engine's
 * "upgrade" event and verifies the transport is then "websocket".
 */
async function ensureTransport(socket, ms = 3000) {
  const engine = socket.io.engine;
  assert(engine, "no Engine.IO socket");
  if (TRANSPORT === "upgrade") {
    if (engine.transport.name !== "websocket") {
      const { event, args } = await firstEvent(engine, ["upgrade", "upgradeError"], ms);
      if (event === "upgradeError") throw new Error(`upgrade failed: ${show(args[0] && args[0].message)}`);
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

async function connectClient(ctx, nsp, extraOptions = {}) {
  const client = createClient(ctx, nsp, extraOptions);
  await waitConnected(client.socket);
  await ensureTransport(client.socket);
  return client;
}

/** Emits with an ack callback and resolves with every ack argument. */
function emitWithAck(socket, event, ...args) {
  return new Promise((resolve) => socket.emit(event, ...args, (...ackArgs) => resolve(ackArgs)));
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/** Main namespace: implicit connection, `auth` is `{}`. */
async function caseConnect(ctx) {
  const { socket, q } = await connectClient(ctx, "/");
  assert(typeof socket.id === "string" && socket.id.length > 0, `bad socket.id ${show(socket.id)}`);
  ctx.step = "auth event";
  assertEventArgs(await q.auth.next(), [{}], "auth on /");
}

/** `/custom` multiplexed with `/`; `/random` refused with an `error` event. */
async function caseNamespaces(ctx) {
  const manager = new io.Manager(BASE_URL, managerOptions());
  const root = createClient(ctx, "/", {}, manager);
  const custom = createClient(ctx, "/custom", {}, manager);
  const random = createClient(ctx, "/random", {}, manager);
  const randomRefused = waitRefused(random.socket); // may come first: listen now
  randomRefused.catch(() => {});

  ctx.step = "connect / and /custom";
  await waitConnected(root.socket);
  await waitConnected(custom.socket);
  await ensureTransport(custom.socket);
  assertEventArgs(await custom.q.auth.next(), [{}], "auth on /custom");

  ctx.step = "error on /random";
  const data = await randomRefused;
  assertDeepEqual(data, { message: "Invalid namespace" }, "error event data for /random");
  assert(root.socket.connected && custom.socket.connected, "/ or /custom lost its connection");
}

/** Plain events in both directions with various JSON types. */
async function caseEvents(ctx) {
  const { socket, q } = await connectClient(ctx, "/");
  const cases = [
    [1, "2", { 3: [true] }],
    ["unicode: été ✓ 🚀", null, false, 0, -1.5, [], {}],
    [{ nested: { deep: [1, [2, [3]]] } }],
    [], // no argument at all
  ];
  for (const args of cases) {
    ctx.step = `message ${show(args)}`;
    socket.emit("message", ...args);
    assertEventArgs(await q["message-back"].next(), args, "message-back");
  }
}

/** Client->server acks and server->client acks (ask-client). */
async function caseAcks(ctx) {
  const { socket, q } = await connectClient(ctx, "/");

  ctx.step = "message-with-ack";
  assertDeepEqual(
    await emitWithAck(socket, "message-with-ack", 1, "2", { 3: [false] }),
    [1, "2", { 3: [false] }],
    "ack arguments",
  );

  ctx.step = "join ack";
  assertDeepEqual(await emitWithAck(socket, "join", "room-v2"), ["room-v2"], "join ack");

  ctx.step = "server -> client ack (ask-client)";
  const questions = [];
  socket.on("question", (...args) => {
    const ack = args.pop();
    assert(typeof ack === "function", "question event carries no ack callback");
    questions.push(args);
    ack("yes", ...args);
  });
  socket.emit("ask-client", "q1", 2);
  assertEventArgs(await q.answer.next(), ["yes", "q1", 2], "answer");
  assertDeepEqual(questions, [["q1", 2]], "question arguments");
  assert(q["answer-timeout"].count === 0, "server reported answer-timeout");
}

/** Nested Buffers in events, acks and server->client acks. */
async function caseBinary(ctx) {
  const { socket, q } = await connectClient(ctx, "/");
  const payload = () => [
    Buffer.from([1, 2, 3]),
    { a: Buffer.from([4, 5, 6]), b: [Buffer.from([]), { c: Buffer.from([7]) }] },
    "plain",
  ];

  ctx.step = "binary message -> message-back";
  socket.emit("message", ...payload());
  assertEventArgs(await q["message-back"].next(), payload(), "binary message-back");

  ctx.step = "binary message-with-ack";
  assertDeepEqual(await emitWithAck(socket, "message-with-ack", ...payload()), payload(), "binary ack");

  ctx.step = "binary server -> client ack";
  socket.on("question", (...args) => {
    const ack = args.pop();
    ack("yes", ...args);
  });
  socket.emit("ask-client", ...payload());
  assertEventArgs(await q.answer.next(), ["yes", ...payload()], "binary answer");
}

/**
 * The 2.x client has no `auth` option: socket.io 4.x builds the handshake
 * auth of an EIO3 client from the query string of the namespace CONNECT
 * packet (`0/private?token=secret,`), so `/private` accepts `query.token`.
 * A middleware refusal arrives as an `error` event with the plain string.
 */
async function caseQueryAuth(ctx) {
  ctx.step = "/private with query token=secret";
  const allowed = await connectClient(ctx, "/private", { query: { token: "secret" } });
  assertEventArgs(await allowed.q.auth.next(), [{ token: "secret" }], "auth on /private");

  ctx.step = "/private with query token=nope";
  const refused = createClient(ctx, "/private", { query: { token: "nope" } });
  assertDeepEqual(await waitRefused(refused.socket), "not authorized", "error event data for /private");
}

// ---------------------------------------------------------------------------

await runCases(
  [
    { name: "connect", timeout: 5000, run: caseConnect },
    { name: "namespaces", timeout: 5000, run: caseNamespaces },
    { name: "events", timeout: 5000, run: caseEvents },
    { name: "acks", timeout: 5000, run: caseAcks },
    { name: "binary", timeout: 5000, run: caseBinary },
    { name: "query-auth", timeout: 5000, run: caseQueryAuth },
  ],
  { selected: options.cases, closeClient },
);
