// The Admin UI's protocol (`@socket.io/admin-ui` 0.5.1) against a server: an admin client
// configured as the UI configures socket.io-client 4.8.4, and ordinary clients on `/`.
//
// Usage: node admin-clients.mjs --url URL [--auth USER:PASSWORD] [--readonly]
//   --auth: the server checks logins (the password in clear; the server has its hash);
//   --readonly: the server has no commands.
// One JSON line per case on stdout; exit code 0 only if every case passed.

import { io } from "socket.io-client";
import { runCases, assert, assertDeepEqual, EventQueue, sleep } from "./common.mjs";

const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const URL = option("--url");
const AUTH = option("--auth");
const READONLY = args.includes("--readonly");
const [USER, PASSWORD] = AUTH ? AUTH.split(":") : [undefined, undefined];

const ADMIN_EVENTS = [
  "session",
  "config",
  "server_stats",
  "all_sockets",
  "socket_connected",
  "socket_disconnected",
  "room_joined",
  "room_left",
  "event_received",
];

/** An admin client as the UI makes it (`auth` as the login form sends it). */
async function admin(ctx, auth = AUTH ? { username: USER, password: PASSWORD } : {}) {
  const socket = io(`${URL}/admin`, { forceNew: true, reconnection: false, transports: ["websocket"], auth });
  ctx.track(socket);
  const q = {};
  for (const event of ADMIN_EVENTS) q[event] = new EventQueue(socket, event);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return { socket, q };
}

/** Whether logging in with `auth` is refused as the package refuses it. */
async function refused(ctx, auth) {
  const socket = io(`${URL}/admin`, { forceNew: true, reconnection: false, transports: ["websocket"], auth });
  ctx.track(socket);
  const error = await new Promise((resolve) => {
    socket.once("connect", () => resolve(null));
    socket.once("connect_error", resolve);
  });
  assert(error && error.message === "invalid credentials", `not refused: ${JSON.stringify(auth)} (${error && error.message})`);
}

async function client(ctx, query = {}) {
  const socket = io(URL, { forceNew: true, reconnection: false, transports: ["websocket"], query });
  ctx.track(socket);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return socket;
}

/** The next `event` on `queue` whose arguments satisfy `pick`. */
async function next(queue, pick, ms = 4000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const args = await queue.next(Math.max(1, deadline - Date.now()));
    if (pick(args)) return args;
  }
}

const FEATURES = READONLY
  ? ["AGGREGATED_EVENTS", "ALL_EVENTS"]
  : ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"];

const cases = [
  {
    name: "login-and-config",
    timeout: 8000,
    run: async (ctx) => {
      const a = await admin(ctx);
      assertDeepEqual((await a.q.config.next())[0], { supportedFeatures: FEATURES }, "config");
      if (AUTH) {
        const [session] = await a.q.session.next();
        assert(/^[0-9a-f]{16}$/.test(session), `session id ${session}`);
        // The UI's page reload: the session logs in again, without a password.
        const again = await admin(ctx, { sessionId: session });
        assertDeepEqual((await again.q.config.next())[0], { supportedFeatures: FEATURES }, "config again");
      }
    },
  },
  {
    name: "server-stats",
    timeout: 8000,
    run: async (ctx) => {
      const a = await admin(ctx);
      const [stats] = await a.q.server_stats.next(3000);
      assertDeepEqual(
        Object.keys(stats),
        ["serverId", "hostname", "pid", "uptime", "clientsCount", "pollingClientsCount", "aggregatedEvents", "namespaces"],
        "keys",
      );
      assert(stats.clientsCount >= 1, `clientsCount ${stats.clientsCount}`);
      const names = stats.namespaces.map((n) => n.name);
      assert(names[0] === "/" && names.includes("/admin"), `namespaces ${JSON.stringify(names)}`);
      const mine = stats.namespaces.find((n) => n.name === "/admin");
      assert(mine.socketsCount >= 1, "the admin socket counted");
    },
  },
  {
    name: "counts-match-what-was-sent",
    timeout: 15000,
    run: async (ctx) => {
      const a = await admin(ctx);
      const c = await client(ctx);
      // A tick after everything settled, then 100 known messages, then two more ticks.
      await a.q.server_stats.next(3000);
      await a.q.server_stats.next(3000);
      const sent = 100;
      for (let i = 0; i < sent; i++) c.emit("noop", "x".repeat(10));
      const size = Buffer.byteLength(`2["noop","${"x".repeat(10)}"]`);
      let packets = 0;
      let bytes = 0;
      for (let tick = 0; tick < 2; tick++) {
        const [stats] = await a.q.server_stats.next(3000);
        for (const e of stats.aggregatedEvents) {
          if (e.type === "packetsIn") packets += e.count;
          if (e.type === "bytesIn") bytes += e.count;
        }
      }
      assert(packets === sent && bytes === sent * size, `counted ${packets} packets, ${bytes} bytes; sent ${sent} of ${size}`);
    },
  },
  {
    name: "all-sockets",
    timeout: 8000,
    run: async (ctx) => {
      const c = await client(ctx, { user: "alice" });
      const a = await admin(ctx);
      const [sockets] = await a.q.all_sockets.next();
      const mine = sockets.find((s) => s.id === c.id);
      assert(mine, `${c.id} not in ${JSON.stringify(sockets.map((s) => s.id))}`);
      assertDeepEqual(Object.keys(mine), ["id", "clientId", "transport", "nsp", "data", "handshake", "rooms"], "keys");
      assert(mine.clientId === c.io.engine.id.slice(0, 12), `clientId ${mine.clientId}`);
      assert(mine.transport === "websocket" && mine.nsp === "/", "transport and nsp");
      assert(mine.handshake.query.user === "alice", "the handshake's query");
      assertDeepEqual(mine.rooms, [c.id], "rooms");
      assert(sockets.some((s) => s.id === a.socket.id && s.nsp === "/admin"), "the admin socket itself");
    },
  },
  {
    name: "live-events",
    timeout: 10000,
    run: async (ctx) => {
      const a = await admin(ctx);
      await a.q.config.next();
      const c = await client(ctx);
      const [connected] = await next(a.q.socket_connected, ([s]) => s.id === c.id);
      assert(connected.nsp === "/" && connected.clientId, "socket_connected");
      await next(a.q.room_joined, ([nsp, room, id]) => nsp === "/" && room === c.id && id === c.id);
      c.emit("message", "hi", { n: 1 });
      const received = await next(a.q.event_received, ([, id]) => id === c.id);
      assertDeepEqual(received.slice(0, 3), ["/", c.id, ["message", "hi", { n: 1 }]], "event_received");
      assert(!Number.isNaN(Date.parse(received[3])), "a timestamp");
      c.emit("message", Buffer.from([1, 2]));
      const binary = await next(a.q.event_received, ([, id, [, arg]]) => id === c.id && Buffer.isBuffer(arg));
      assertDeepEqual(binary[2], ["message", Buffer.from([1, 2])], "binary passed on");
      const id = c.id;
      c.disconnect();
      const gone = await next(a.q.socket_disconnected, ([, sid]) => sid === id);
      assertDeepEqual(gone.slice(0, 3), ["/", id, "client namespace disconnect"], "socket_disconnected");
      await next(a.q.room_left, ([nsp, room, sid]) => nsp === "/" && room === id && sid === id);
    },
  },
  {
    name: "commands",
    timeout: 10000,
    run: async (ctx) => {
      const a = await admin(ctx);
      await a.q.config.next();
      const c = await client(ctx);
      const greet = new EventQueue(c, "greet");
      const ended = new Promise((resolve) => c.once("disconnect", resolve));
      a.socket.emit("join", "/", "r1", c.id);
      if (READONLY) {
        // No command: nothing happens, nothing comes back.
        a.socket.emit("emit", "/", c.id, "greet", "x");
        await sleep(500);
        assert(greet.count === 0, "a read-only server ran a command");
        return;
      }
      await next(a.q.room_joined, ([, room, id]) => room === "r1" && id === c.id);
      a.socket.emit("emit", "/", "r1", "greet", "x", { y: [1] });
      assertDeepEqual(await greet.next(), ["x", { y: [1] }], "emit to the room");
      a.socket.emit("emit", "/", null, "greet", "all");
      assertDeepEqual(await greet.next(), ["all"], "emit to everyone");
      a.socket.emit("leave", "/", "r1", c.id);
      await next(a.q.room_left, ([, room, id]) => room === "r1" && id === c.id);
      a.socket.emit("_disconnect", "/", false, c.id);
      assert((await ended) === "io server disconnect", "disconnected by the admin");
    },
  },
  {
    name: "malformed-commands",
    timeout: 8000,
    run: async (ctx) => {
      const a = await admin(ctx);
      await a.q.config.next();
      for (const args of [[], [1, 2, 3], ["/", {}], [null], ["", "", ""], ["/", "r", { deep: [[[]]] }], ["nonamespace", "r"]]) {
        for (const command of ["emit", "join", "leave", "_disconnect"]) a.socket.emit(command, ...args);
      }
      // Still served: a new admin gets its config and the server its stats.
      const b = await admin(ctx);
      await b.q.config.next();
      await b.q.server_stats.next(3000);
    },
  },
];

if (AUTH) {
  cases.unshift({
    name: "refusals",
    timeout: 10000,
    run: async (ctx) => {
      await refused(ctx, { username: USER, password: "wrong" });
      await refused(ctx, { username: "root", password: PASSWORD });
      await refused(ctx, { sessionId: "0123456789abcdef" });
      await refused(ctx, { sessionId: null });
      await refused(ctx, {});
      await refused(ctx, { username: USER, password: 42 });
    },
  });
}

await runCases(cases, { closeClient: (socket) => socket.close() });
