// The official socket.io-client 4.8 against `socketio-tokio/examples/axum_chat.rs` (the
// README's quick start), over one transport setting.
//
// Usage: node axum-chat.mjs --url http://127.0.0.1:PORT --transport polling|websocket|upgrade
//
// The example's contract: `join`(room) joins and acks `true`; `chat`(any arguments) goes to
// every socket in the sender's rooms, the sender included; `echo`(any arguments) acks them
// unchanged; `/` is an HTML page. One JSON line per case; exit code 0 only if all passed.

import { io } from "socket.io-client";
import {
  EventQueue,
  assert,
  assertDeepEqual,
  parseClientArgs,
  runCases,
  sleep,
  transportOptions,
} from "./common.mjs";

const CASE_NAMES = ["page", "join", "chat-to-rooms", "chat-binary", "echo"];
const options = parseClientArgs(process.argv.slice(2), CASE_NAMES, { parsers: ["text"] });

/** A connected client, tracked for cleanup, with queues for `chat` recording from the start. */
async function client(ctx) {
  const socket = ctx.track(
    io(options.url, { ...transportOptions(options.transport), reconnection: false, forceNew: true }),
  );
  const chats = new EventQueue(socket, "chat");
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  if (options.transport === "upgrade") {
    // The upgrade may be over before the Socket.IO CONNECT is answered.
    if (socket.io.engine.transport.name !== "websocket") {
      await new Promise((resolve) => socket.io.engine.once("upgrade", resolve));
    }
    assert(socket.io.engine.transport.name === "websocket", "not upgraded");
  }
  return { socket, chats };
}

const join = async ({ socket }, room) =>
  assertDeepEqual(await socket.timeout(2000).emitWithAck("join", room), true, `join ${room}`);

/** No `chat` arrives on `chats` within a moment. */
async function quiet(chats, who) {
  await sleep(200);
  assert(chats.items.length === 0, `${who} got an unexpected chat: ${JSON.stringify(chats.items)}`);
}

const cases = [
  {
    name: "page",
    timeout: 5000,
    async run() {
      const response = await fetch(`${options.url}/`);
      assert(response.status === 200, `GET / answered ${response.status}`);
      assert((await response.text()).includes("<script"), "GET / is not the page");
      const other = await fetch(`${options.url}/nothing-here`);
      assert(other.status === 404, `GET /nothing-here answered ${other.status}`);
    },
  },
  {
    name: "join",
    timeout: 8000,
    async run(ctx) {
      ctx.step = "connect";
      const a = await client(ctx);
      ctx.step = "join";
      await join(a, "lobby");
      await join(a, "lobby"); // twice is fine
      await join(a, "rust");
    },
  },
  {
    name: "chat-to-rooms",
    timeout: 10000,
    async run(ctx) {
      ctx.step = "connect";
      const [a, b, c, d] = [await client(ctx), await client(ctx), await client(ctx), await client(ctx)];
      ctx.step = "join";
      await join(a, "r1");
      await join(b, "r1");
      await join(c, "r2");
      await join(a, "r2");
      ctx.step = "a to r1 and r2";
      a.socket.emit("chat", "hello", 1, { x: [null, true] });
      for (const [who, q] of [["a", a.chats], ["b", b.chats], ["c", c.chats]]) {
        assertDeepEqual(await q.next(), ["hello", 1, { x: [null, true] }], `${who}'s chat`);
      }
      await quiet(d.chats, "d (no room)");
      for (const [who, q] of [["a", a.chats], ["b", b.chats], ["c", c.chats]]) {
        await quiet(q, `${who} (once only)`);
      }
      ctx.step = "b to r1";
      b.socket.emit("chat", "from b");
      assertDeepEqual(await a.chats.next(), ["from b"], "a gets b's chat");
      assertDeepEqual(await b.chats.next(), ["from b"], "b gets its own chat");
      await quiet(c.chats, "c (not in r1)");
      ctx.step = "d without rooms";
      d.socket.emit("chat", "alone");
      assertDeepEqual(await d.chats.next(), ["alone"], "d gets its own chat");
      for (const [who, q] of [["a", a.chats], ["b", b.chats], ["c", c.chats]]) {
        await quiet(q, `${who} (d has no room)`);
      }
    },
  },
  {
    name: "chat-binary",
    timeout: 8000,
    async run(ctx) {
      ctx.step = "connect";
      const [a, b] = [await client(ctx), await client(ctx)];
      await join(a, "pics");
      await join(b, "pics");
      ctx.step = "binary chat";
      const image = Buffer.from([0, 1, 2, 255, 254]);
      a.socket.emit("chat", { name: "x.png", data: image }, Buffer.from("second"));
      const expected = [{ name: "x.png", data: image }, Buffer.from("second")];
      assertDeepEqual(await b.chats.next(), expected, "b's binary chat");
      assertDeepEqual(await a.chats.next(), expected, "a's own binary chat");
    },
  },
  {
    name: "echo",
    timeout: 8000,
    async run(ctx) {
      ctx.step = "connect";
      const { socket } = await client(ctx);
      for (const args of [
        [],
        ["text"],
        [1, 2.5, -3, null, true, "é∑😀"],
        [{ nested: { deep: [1, [2, [3]]] } }],
        [Buffer.from([1, 2, 3])],
        [{ a: Buffer.from("x"), b: [Buffer.alloc(0), "y"] }, Buffer.from("z")],
      ]) {
        ctx.step = `echo ${JSON.stringify(args)}`;
        const answer = await socket.timeout(2000).emitWithAck("echo", ...args);
        // emitWithAck resolves with the first argument; check all of them with a callback too.
        assertDeepEqual(answer, args[0] ?? undefined, "first acked argument");
        const all = await new Promise((resolve, reject) =>
          socket.timeout(2000).emit("echo", ...args, (err, ...acked) => (err ? reject(err) : resolve(acked))),
        );
        assertDeepEqual(all, args, "acked arguments");
      }
    },
  },
];

await runCases(cases, { selected: options.cases, closeClient: (s) => s.disconnect() });
