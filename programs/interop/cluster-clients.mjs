// Two socket.io-client 4.8.4 clients on two nodes of one Redis cluster (the classic adapter):
// `cA` on node A, `cB` on node B. Node A's cluster-* events drive the adapter's requests
// (allRooms, fetchSockets, socketsJoin/Leave, serverSideEmit, serverCount,
// disconnectSockets) towards node B. Run it with A and B swapped too.
//
// Usage: node cluster-clients.mjs --a URL --b URL [--requests | --our-requests]
//        [--adapter classic|sharded|streams|postgres] [--silent-peer] [--big]
// --requests: A is the official server; --our-requests: A is ours. One JSON line per case on stdout; exit code 0 only if every
// case passed. --silent-peer: a third subscriber that never answers listens to the requests
// channel; the only case is then a request of A that must end at its timeout. --big: a
// broadcast of 20 000 characters both ways too (PostgreSQL carries it through its table).

import { io } from "socket.io-client";
import { runCases, assert, assertDeepEqual, EventQueue, pollUntil } from "./common.mjs";

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const A = option("--a");
const B = option("--b");
const REQUESTS = args.includes("--requests");
const OUR_REQUESTS = args.includes("--our-requests");
const SILENT_PEER = args.includes("--silent-peer");
const BIG = args.includes("--big");
// Only the classic adapter has allRooms.
const ALL_ROOMS = (option("--adapter") ?? "classic") === "classic";
// @socket.io/postgres-adapter publishes through a pool of connections, so two requests of a
// Node.js node A may reach node B in either order (ours publishes in order on one connection).
const A_REORDERS = (option("--adapter") ?? "classic") === "postgres" && REQUESTS;
// What node B's application answers to serverSideEmitWithAck("who").
const B_ANSWERS = OUR_REQUESTS ? "node" : "rust";

async function connect(ctx, url) {
  const auth = { token: "t-cluster" };
  // A header `fetchSockets` must show on the other node.
  const extraHeaders = { "x-cluster-test": url === B ? "on-b" : "on-a" };
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, auth, extraHeaders });
  ctx.track(socket);
  const queues = {};
  for (const event of ["all-message", "room-message", "auth"]) queues[event] = new EventQueue(socket, event);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return { socket, queues };
}
const bin = (...bytes) => Buffer.from(bytes);

/** The note travels through Redis: asks `socket`'s node until its latest note is `first`'s. */
function lastNote(socket, first) {
  return pollUntil(
    async () => {
      const value = await socket.emitWithAck("last-server-side-emit");
      return { ok: Array.isArray(value) && value[1] === first, value };
    },
    { message: `no note ${first} on the other node` },
  );
}

async function pair(ctx) {
  return [await connect(ctx, A), await connect(ctx, B)];
}

/** A asks its node to disconnect B's socket, wherever it is in the cluster. */
async function disconnectB(ctx) {
  const [a, b] = await pair(ctx);
  const reason = new Promise((resolve) => b.socket.once("disconnect", resolve));
  await a.socket.emitWithAck("cluster-disconnect", b.socket.id);
  assert((await reason) === "io server disconnect", "B's client disconnected by the server");
}

const cases = [
  {
    name: "broadcast-a-to-b",
    timeout: 5000,
    run: async (ctx) => {
      const [a, b] = await pair(ctx);
      a.socket.emit("to-all", "from-a", bin(1, 2, 3), { nested: bin(255) });
      assertDeepEqual(await b.queues["all-message"].next(), ["from-a", bin(1, 2, 3), { nested: bin(255) }], "B's client");
      assertDeepEqual(await a.queues["all-message"].next(), ["from-a", bin(1, 2, 3), { nested: bin(255) }], "A's client");
    },
  },
  {
    name: "broadcast-b-to-a",
    timeout: 5000,
    run: async (ctx) => {
      const [a, b] = await pair(ctx);
      b.socket.emit("to-all", "from-b", bin(9), 1.5, null, "é");
      assertDeepEqual(await a.queues["all-message"].next(), ["from-b", bin(9), 1.5, null, "é"], "A's client");
    },
  },
  {
    name: "rooms-both-ways",
    timeout: 5000,
    run: async (ctx) => {
      const [a, b] = await pair(ctx);
      assert((await b.socket.emitWithAck("join", "room-b")) === "room-b", "join ack");
      assert((await a.socket.emitWithAck("join", "room-a")) === "room-a", "join ack");
      a.socket.emit("to-room", "room-b", "a-to-room-b");
      assertDeepEqual(await b.queues["room-message"].next(), ["a-to-room-b"], "room message on B");
      b.socket.emit("to-room", "room-a", "b-to-room-a");
      assertDeepEqual(await a.queues["room-message"].next(), ["b-to-room-a"], "room message on A");
      // A room nobody joined reaches nobody; the next message proves nothing came before.
      a.socket.emit("to-room", "room-nobody", "lost");
      a.socket.emit("to-room", "room-b", "second");
      assertDeepEqual(await b.queues["room-message"].next(), ["second"], "only the room's message");
    },
  },
];

if (BIG) {
  cases.push({
    name: "big-broadcast-both-ways",
    timeout: 8000,
    run: async (ctx) => {
      const [a, b] = await pair(ctx);
      const big = "x".repeat(20000);
      a.socket.emit("to-all", "big-from-a", big);
      assertDeepEqual(await b.queues["all-message"].next(), ["big-from-a", big], "B's client");
      b.socket.emit("to-all", "big-from-b", big, bin(7));
      assertDeepEqual(await a.queues["all-message"].next(), ["big-from-a", big], "A's own");
      assertDeepEqual(await a.queues["all-message"].next(), ["big-from-b", big, bin(7)], "A's client");
    },
  });
}

if ((REQUESTS || OUR_REQUESTS) && ALL_ROOMS) {
  cases.push({
    name: "all-rooms",
    timeout: 8000,
    run: async (ctx) => {
      const [a, b] = await pair(ctx);
      await b.socket.emitWithAck("join", "remote-room");
      const rooms = await a.socket.emitWithAck("cluster-all-rooms");
      assert(rooms.includes(b.socket.id), `B's socket room missing from ${JSON.stringify(rooms)}`);
      assert(rooms.includes("remote-room"), `remote-room missing from ${JSON.stringify(rooms)}`);
    },
  });
}

if (REQUESTS || OUR_REQUESTS) {
  cases.push(
    {
      name: "local-broadcast-stays",
      timeout: 5000,
      run: async (ctx) => {
        const [a, b] = await pair(ctx);
        a.socket.emit("to-all-local", "local-only");
        assertDeepEqual(await a.queues["all-message"].next(), ["local-only"], "A's client");
        // Both would travel the same channel, in order: B's first is the global one.
        a.socket.emit("to-all", "everywhere");
        assertDeepEqual(await b.queues["all-message"].next(), ["everywhere"], "the local one stayed on A");
      },
    },
    {
      name: "fetch-sockets",
      timeout: 8000,
      run: async (ctx) => {
        const [a, b] = await pair(ctx);
        await b.socket.emitWithAck("join", "fetch-room");
        const data = { name: "b", n: 1, nested: [true, null] };
        await b.socket.emitWithAck("set-data", data);
        const sockets = await a.socket.emitWithAck("cluster-fetch", "fetch-room");
        assert(sockets.length === 1, `one socket, got ${JSON.stringify(sockets)}`);
        const [s] = sockets;
        const { time, issued, url, query, address } = s;
        const expected = {
          id: b.socket.id, rooms: [b.socket.id, "fetch-room"].sort(), data, auth: { token: "t-cluster" },
          header: "on-b", xdomain: false, secure: false,
        };
        for (const key of ["time", "issued", "url", "query", "address"]) delete s[key];
        assertDeepEqual(s, expected, "fetched: id, rooms, data, auth, headers");
        // The handshake of a WebSocket-only client: its upgrade request.
        assert(url.startsWith("/socket.io/?") && url.includes("transport=websocket"), `url ${url}`);
        assertDeepEqual([query.EIO, query.transport], ["4", "websocket"], "query");
        assert(/127\.0\.0\.1$/.test(address), `address ${address}`);
        assert(typeof issued === "number" && Math.abs(Date.now() - issued) < 60_000, `issued ${issued}`);
        assert(Math.abs(Date.parse(time) - issued) < 1000, `time ${time} against issued ${issued}`);
      },
    },
    {
      name: "sockets-join-and-leave",
      timeout: 8000,
      run: async (ctx) => {
        const [a, b] = await pair(ctx);
        // The join travels through the adapter; the fetch after it does too, in order (where
        // node A may reorder them, the fetch is repeated until it comes after the join).
        const fetchRoom = async (expected, message) => {
          const fetch = async () => {
            const value = (await a.socket.emitWithAck("cluster-fetch", "joined-remotely")).map((s) => s.id);
            return { ok: JSON.stringify(value) === JSON.stringify(expected), value };
          };
          const ids = A_REORDERS ? await pollUntil(fetch, { message }) : (await fetch()).value;
          assertDeepEqual(ids, expected, message);
        };
        await a.socket.emitWithAck("cluster-sockets-join", b.socket.id, "joined-remotely");
        await fetchRoom([b.socket.id], "B's socket joined");
        a.socket.emit("to-room", "joined-remotely", "hello");
        assertDeepEqual(await b.queues["room-message"].next(), ["hello"], "room message");
        await a.socket.emitWithAck("cluster-sockets-leave", b.socket.id, "joined-remotely");
        await fetchRoom([], "B's socket left");
      },
    },
    {
      name: "server-side-emit",
      timeout: 8000,
      run: async (ctx) => {
        const [a, b] = await pair(ctx);
        const { error, answers } = await a.socket.emitWithAck("cluster-server-side-emit");
        assert(error === null, `serverSideEmitWithAck failed: ${error}`);
        assertDeepEqual(answers, [B_ANSWERS], "node B's answer");
        await a.socket.emitWithAck("cluster-server-side-note", "x", 1);
        assertDeepEqual(await lastNote(b.socket, "x"), ["note", "x", 1], "the note reached node B's app");
      },
    },
    {
      name: "server-count",
      timeout: 8000,
      run: async (ctx) => {
        const [a] = await pair(ctx);
        assert((await a.socket.emitWithAck("cluster-server-count")) === 2, "two servers");
      },
    },
    { name: "disconnect-sockets", timeout: 8000, run: disconnectB },
  );
}

if (REQUESTS || OUR_REQUESTS) {
  cases.push(
    {
      name: "broadcast-with-ack",
      timeout: 8000,
      run: async (ctx) => {
        const [a, b] = await pair(ctx);
        a.socket.on("question-all", (q, cb) => cb("from-A"));
        b.socket.on("question-all", (q, cb) => cb(bin(0xca, 0xfe)));
        await a.socket.emitWithAck("join", "qa");
        await b.socket.emitWithAck("join", "qa");
        const { error, answers } = await a.socket.emitWithAck("cluster-broadcast-with-ack", "qa");
        assert(error === null, `broadcast with ack failed: ${error}`);
        const sorted = answers.map((x) => (Buffer.isBuffer(x) ? x.toString("hex") : x)).sort();
        assertDeepEqual(sorted, ["cafe", "from-A"], "the answers of both nodes' clients");
      },
    },
  );
}

if (SILENT_PEER) {
  cases.length = 0;
  cases.push({
    name: "request-times-out",
    timeout: 8000,
    run: async (ctx) => {
      const [a] = await pair(ctx);
      // Three servers listen; the silent one never answers: the request fails at the
      // requests timeout. The reference's promise rejects (no answers); ours hands over the
      // answer that came.
      const { error, answers } = await a.socket.emitWithAck("cluster-server-side-emit");
      assert(typeof error === "string", `timed out, got ${JSON.stringify({ error, answers })}`);
      if (answers !== null) assertDeepEqual(answers, [B_ANSWERS], "the answer that came");
    },
  });
}

await runCases(cases, { closeClient: (socket) => socket.close() });
