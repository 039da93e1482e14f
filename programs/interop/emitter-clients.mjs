// Emitters driving a mixed cluster (one Node.js node, one Rust node): through Redis (the
// classic adapter), the official `@socket.io/redis-emitter` 5.1.0 and our `emit` program;
// through PostgreSQL, our `emit` program (`@socket.io/postgres-emitter` 0.1.1's messages lack
// their namespace, so the Node.js adapter drops them). Each towards a socket.io-client 4.8.4
// client on node A and one on node B.
//
// Usage: node emitter-clients.mjs --a URL --b URL (--redis URL | --postgres URL) --emit-bin PATH
// One JSON line per case on stdout; exit code 0 only if every case passed.

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { io } from "socket.io-client";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import { runCases, assert, assertDeepEqual, EventQueue } from "./common.mjs";

const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const [A, B, REDIS, POSTGRES, EMIT] = ["--a", "--b", "--redis", "--postgres", "--emit-bin"].map(option);
const run = promisify(execFile);
/** Runs our `emit` program with these arguments. */
const emit = (...emitArgs) =>
  run(EMIT, [...(POSTGRES ? ["--postgres", POSTGRES] : ["--redis", REDIS]), ...emitArgs]);

let emitter = null;
if (REDIS) {
  const redis = createClient({ url: REDIS });
  redis.on("error", () => {});
  await redis.connect();
  emitter = new Emitter(redis);
}

const EVENTS = ["em-official", "em-room", "em-joined", "em-rust", "em-rust-room", "em-rj"];
async function connect(ctx, url) {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  ctx.track(socket);
  const q = {};
  for (const event of EVENTS) q[event] = new EventQueue(socket, event);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return { socket, q };
}
const pair = async (ctx) => [await connect(ctx, A), await connect(ctx, B)];
const bin = (...bytes) => Buffer.from(bytes);

await runCases(
  [
    {
      name: "official-emitter",
      timeout: 8000,
      run: async (ctx) => {
        const [a, b] = await pair(ctx);
        emitter.emit("em-official", "hi", bin(1, 2));
        for (const c of [a, b]) assertDeepEqual(await c.q["em-official"].next(), ["hi", bin(1, 2)], "to all");
        await b.socket.emitWithAck("join", "er");
        emitter.to("er").emit("em-room", 1);
        assertDeepEqual(await b.q["em-room"].next(), [1], "to a room");
        emitter.in(a.socket.id).socketsJoin("joined-by-emitter");
        emitter.to("joined-by-emitter").emit("em-joined", "yes");
        assertDeepEqual(await a.q["em-joined"].next(), ["yes"], "after socketsJoin");
        assert(b.q["em-joined"].count === 0 && a.q["em-room"].count === 0, "only the rooms' sockets");
      },
    },
    {
      name: "our-emitter",
      timeout: 15000,
      run: async (ctx) => {
        const [a, b] = await pair(ctx);
        await emit("em-rust", '"hi"', "bin:0102", '{"n":[1.5,null]}');
        for (const c of [a, b]) {
          assertDeepEqual(await c.q["em-rust"].next(), ["hi", bin(1, 2), { n: [1.5, null] }], "to all");
        }
        await a.socket.emitWithAck("join", "room-x");
        await emit("--to", "room-x", "em-rust-room", "7");
        assertDeepEqual(await a.q["em-rust-room"].next(), [7], "to a room");
        await emit("--to", b.socket.id, "--sockets-join", "rj");
        await emit("--to", "rj", "em-rj", '"joined"');
        assertDeepEqual(await b.q["em-rj"].next(), ["joined"], "after socketsJoin");
        assert(a.q["em-rj"].count === 0 && b.q["em-rust-room"].count === 0, "only the rooms' sockets");
        const reasons = [a, b].map((c) => new Promise((resolve) => c.socket.once("disconnect", resolve)));
        await emit("--to", a.socket.id, "--disconnect");
        await emit("--to", b.socket.id, "--disconnect");
        for (const reason of reasons) assert((await reason) === "io server disconnect", "disconnected");
      },
    },
  ].filter((c) => emitter || c.name !== "official-emitter"),
  { closeClient: (socket) => socket.close() },
);
