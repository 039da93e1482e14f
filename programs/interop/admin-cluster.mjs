// The Admin UI's protocol on a mixed Redis cluster: node A runs the official socket.io 4.8.4
// instrumented with @socket.io/admin-ui 0.5.1, node B ours with --admin-ui; an admin client
// (as the UI configures socket.io-client 4.8.4) connects to one of them.
//
// Usage: node admin-cluster.mjs --a URL --b URL --admin URL --ids ID_A,ID_B
// One JSON line per case on stdout; exit code 0 only if every case passed.

import { io } from "socket.io-client";
import { runCases, assert, assertDeepEqual, EventQueue } from "./common.mjs";

const args = process.argv.slice(2);
const option = (name) => args[args.indexOf(name) + 1];
const [A, B, ADMIN] = ["--a", "--b", "--admin"].map(option);
const IDS = option("--ids").split(",");

async function connect(ctx, url, events = []) {
  const socket = io(url, { forceNew: true, reconnection: false, transports: ["websocket"] });
  ctx.track(socket);
  const q = {};
  for (const event of events) q[event] = new EventQueue(socket, event);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return { socket, q };
}

const admin = (ctx) => connect(ctx, `${ADMIN}/admin`, ["server_stats", "all_sockets", "room_joined"]);

await runCases(
  [
    {
      name: "both-servers-listed",
      timeout: 10000,
      run: async (ctx) => {
        const a = await admin(ctx);
        const seen = new Set();
        while (IDS.some((id) => !seen.has(id))) seen.add((await a.q.server_stats.next(6000))[0].serverId);
      },
    },
    {
      name: "every-socket-listed",
      timeout: 10000,
      run: async (ctx) => {
        const [ca, cb] = [await connect(ctx, A), await connect(ctx, B)];
        const a = await admin(ctx);
        const [sockets] = await a.q.all_sockets.next(6000);
        for (const c of [ca, cb]) {
          const listed = sockets.find((s) => s.id === c.socket.id);
          assert(listed, `${c.socket.id} not listed`);
          assert(listed.clientId === c.socket.io.engine.id.slice(0, 12), `clientId of ${c.socket.id}: ${listed.clientId}`);
          assert(listed.transport === "websocket", "transport");
        }
      },
    },
    {
      name: "commands-reach-both-nodes",
      timeout: 15000,
      run: async (ctx) => {
        const [ca, cb] = [await connect(ctx, A, ["hello-adm"]), await connect(ctx, B, ["hello-adm"])];
        const a = await admin(ctx);
        for (const c of [ca, cb]) {
          a.socket.emit("join", "/", "adm-room", c.socket.id);
          // The node that has the socket reports the join, to every admin.
          const deadline = Date.now() + 5000;
          for (;;) {
            const [, room, id] = await a.q.room_joined.next(Math.max(1, deadline - Date.now()));
            if (room === "adm-room" && id === c.socket.id) break;
          }
        }
        a.socket.emit("emit", "/", "adm-room", "hello-adm", 1);
        for (const c of [ca, cb]) assertDeepEqual(await c.q["hello-adm"].next(), [1], `${c.socket.id}'s event`);
        const gone = new Promise((resolve) => cb.socket.once("disconnect", resolve));
        a.socket.emit("_disconnect", "/", false, cb.socket.id);
        assert((await gone) === "io server disconnect", "the other node's client disconnected");
      },
    },
  ],
  { closeClient: (socket) => socket.close() },
);
