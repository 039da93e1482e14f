// The official socket.io 2.5.0 server (Engine.IO v3, Socket.IO protocol v4), running the part
// of the interop app contract (reference-server.mjs) that socket.io 2.x has: for the tests of
// our client's protocol v4 (`Builder::protocol(ProtocolVersion::V4)`).
//
// Usage: node reference-server-v2.mjs --port N
// Namespaces `/` and `/custom`; on connection each socket gets `auth`(its namespace query).
// Events: `message`(…) ⇒ `message-back`(…); `message-with-ack`(…, ack) ⇒ ack(…);
// `ask-client`(…) ⇒ `question`(…, ack) and the answer as `answer`(…); binary included.
// Once listening, one line `LISTENING <port>` is written to stdout.

import { createServer } from "node:http";
import ioV2 from "socket.io-v2";

let port = 0;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--port") port = Number(argv[++i]);
  else throw new Error(`unknown argument: ${argv[i]}`);
}

const httpServer = createServer();
const io = ioV2(httpServer, { pingInterval: 300, pingTimeout: 200 });

function attach(socket) {
  const { EIO, transport, t, sid, b64, ...query } = socket.handshake.query;
  socket.emit("auth", socket.nsp.name === "/" ? {} : query);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("ask-client", (...args) => {
    socket.emit("question", ...args, (...answer) => socket.emit("answer", ...answer));
  });
}

io.on("connection", attach);
io.of("/custom").on("connection", attach);

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
