// The official socket.io-client 4.8.4 under the client benchmark
// (benches/examples/client_load.rs), against a server running the interop app.
//
// Usage: node bench-client.mjs --url URL --emits N --seconds S --window W --idle N
// Prints one line per measurement: `client <metric> <value>`:
//   emits_per_s      N `noop` emits, then one `message-with-ack`; N / time to its ack
//   acks_per_s_w<W>  `message-with-ack` round trips with W in flight, for S seconds
//   acks_per_s_w1    the same, one at a time
//   idle_kib         RSS growth per idle connected client (WebSocket), over N clients,
//                    measured first, in this fresh process
// All over WebSocket only.

import { io } from "socket.io-client";

const opts = { url: null, emits: 100000, seconds: 3, window: 100, idle: 500 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const key = argv[i].replace(/^--/, "");
  if (!(key in opts)) throw new Error(`unknown argument: ${argv[i]}`);
  opts[key] = key === "url" ? argv[++i] : Number(argv[++i]);
}
const options = { transports: ["websocket"], forceNew: true, reconnection: false };
const connected = (socket) =>
  new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });

// Idle clients: RSS growth per connected client, after a collection.
const settle = async () => {
  if (global.gc) global.gc();
  await new Promise((resolve) => setTimeout(resolve, 500));
  return process.memoryUsage().rss;
};
const before = await settle();
const clients = [];
for (let i = 0; i < opts.idle; i++) clients.push(io(opts.url, options));
await Promise.all(clients.map(connected));
const after = await settle();
console.log(`client idle_kib ${(after - before) / 1024 / opts.idle}`);
for (const client of clients) client.disconnect();

const socket = io(opts.url, options);
await connected(socket);

// Emits: the server takes them in order, so the last ack says all arrived.
let start = performance.now();
for (let i = 0; i < opts.emits; i++) socket.emit("noop", i);
await socket.emitWithAck("message-with-ack", "done");
console.log(`client emits_per_s ${(opts.emits / (performance.now() - start)) * 1000}`);

async function acks(window) {
  const until = performance.now() + opts.seconds * 1000;
  let done = 0;
  start = performance.now();
  const worker = async () => {
    while (performance.now() < until) {
      await socket.emitWithAck("message-with-ack", done);
      done++;
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return (done / (performance.now() - start)) * 1000;
}
console.log(`client acks_per_s_w${opts.window} ${await acks(opts.window)}`);
console.log(`client acks_per_s_w1 ${await acks(1)}`);
socket.disconnect();

process.exit(0);
