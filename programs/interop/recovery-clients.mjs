// Connection state recovery across the nodes of a Redis-streams cluster, with
// socket.io-client 4.8.4: a client of one node loses its transport, broadcasts go on, and a
// new client to the *other* node sends the first one's pid and last offset. It must get the
// same socket id, its rooms, and exactly the broadcasts it missed (with their offsets),
// whichever node is ours. Both nodes run with recovery on and the streams adapter.
//
// Usage: node recovery-clients.mjs --a URL --b URL
// One JSON line per case on stdout; exit code 0 only if every case passed.

import { io } from "socket.io-client";
import { runCases, assert, assertDeepEqual, EventQueue } from "./common.mjs";

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const A = option("--a");
const B = option("--b");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const OFFSET = /^[0-9]+-[0-9]+$/;

async function connect(ctx, url, auth) {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, auth });
  ctx.track(socket);
  const queues = {};
  for (const event of ["all-message", "room-message", "message-back"]) queues[event] = new EventQueue(socket, event);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return { socket, queues };
}

/** The last argument is the offset the server appended: checks it, returns the others. */
function withoutOffset(received) {
  const offset = received[received.length - 1];
  assert(typeof offset === "string" && OFFSET.test(offset), `an offset ends ${JSON.stringify(received)}`);
  return received.slice(0, -1);
}

/** A client of `from` drops; broadcasts go on; a new client to `to` recovers its state. */
async function acrossNodes(ctx, from, to) {
  const first = await connect(ctx, from);
  const helper = await connect(ctx, to);
  assert((await first.socket.emitWithAck("join", "r7")) === "r7", "join ack");
  const data = { user: "u1", n: 2 };
  await first.socket.emitWithAck("set-data", data);
  // A direct emit goes through the stream too: it carries an offset.
  first.socket.emit("message", "direct");
  assertDeepEqual(withoutOffset(await first.queues["message-back"].next()), ["direct"], "direct emit");
  // One broadcast received gives the client an offset.
  helper.socket.emit("to-all", "before");
  assertDeepEqual(withoutOffset(await first.queues["all-message"].next()), ["before"], "before");
  const { id } = first.socket;
  const pid = first.socket._pid;
  const offset = first.socket._lastOffset;
  assert(typeof pid === "string" && OFFSET.test(offset), `pid ${pid}, offset ${offset}`);

  // The transport goes away: the server keeps the session (in Redis).
  first.socket.io.engine.close();
  await sleep(300);
  helper.socket.emit("to-room", "r7", "missed-room", 1);
  helper.socket.emit("to-all", "missed-all", Buffer.from([1, 2]));
  helper.socket.emit("to-room", "elsewhere", "not-for-r7");
  await sleep(300);

  const second = await connect(ctx, to, { pid, offset });
  assert(second.socket.id === id, `the same socket id: ${second.socket.id} vs ${id}`);
  assertDeepEqual(withoutOffset(await second.queues["room-message"].next()), ["missed-room", 1], "missed room message");
  const all = withoutOffset(await second.queues["all-message"].next());
  assert(all[0] === "missed-all" && Buffer.isBuffer(all[1]) && all[1].equals(Buffer.from([1, 2])), `missed binary ${JSON.stringify(all)}`);
  assertDeepEqual(await second.socket.emitWithAck("get-data"), data, "socket.data restored");
  // Still in its room.
  helper.socket.emit("to-room", "r7", "after");
  assertDeepEqual(withoutOffset(await second.queues["room-message"].next()), ["after"], "room kept");
}

const cases = [
  { name: "recover-from-a-on-b", timeout: 8000, run: (ctx) => acrossNodes(ctx, A, B) },
  { name: "recover-from-b-on-a", timeout: 8000, run: (ctx) => acrossNodes(ctx, B, A) },
  {
    name: "an-unknown-session-starts-fresh",
    timeout: 5000,
    run: async (ctx) => {
      for (const url of [A, B]) {
        const client = await connect(ctx, url, { pid: "nope", offset: "1-0" });
        assert(typeof client.socket.id === "string", "connected");
      }
    },
  },
];

await runCases(cases, { closeClient: (socket) => socket.close() });
