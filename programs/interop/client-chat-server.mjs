// The official socket.io 4.8.4 server for `socketio-tokio/examples/client_chat.rs`: the
// axum example's contract (`join`(room) acks true; `chat`(…) goes to the sender's rooms,
// itself included), and a script around the client. Once the client has joined and said
// hello: the server emits `chat` with binary, asks `echo`("e", <bytes>, {n: 1}) for an
// ack and checks the answer is the same arguments, then says `bye`.
//
// Usage: node client-chat-server.mjs --port N
// Writes `LISTENING <port>`, then `RESULT ok` or `RESULT <what went wrong>`.

import { createServer } from "node:http";
import { isDeepStrictEqual } from "node:util";
import { Server } from "socket.io";

let port = 0;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--port") port = Number(argv[++i]);
  else throw new Error(`unknown argument: ${argv[i]}`);
}

const httpServer = createServer();
const io = new Server(httpServer, { pingInterval: 300, pingTimeout: 200 });
const result = (text) => process.stdout.write(`RESULT ${text}\n`);
const bytes = (value) => (Buffer.isBuffer(value) ? [...value] : value);

io.on("connection", (socket) => {
  let joined = null;
  socket.on("join", (room, ack) => {
    socket.join(room);
    joined = room;
    ack(true);
  });
  socket.on("chat", async (...args) => {
    io.to([...socket.rooms]).emit("chat", ...args);
    if (joined !== "a" || !isDeepStrictEqual(args, ["hello from rust"])) {
      return result(`unexpected chat ${JSON.stringify(args)} in room ${joined}`);
    }
    socket.emit("chat", "from node", Buffer.from([1, 2, 3]));
    const asked = ["e", Buffer.from([9, 8]), { n: 1, nested: [Buffer.from([7])] }];
    try {
      const answer = await new Promise((resolve, reject) =>
        socket.timeout(3000).emit("echo", ...asked, (err, ...back) => (err ? reject(err) : resolve(back))),
      );
      const same = JSON.stringify(answer, (_, v) => bytes(v)) === JSON.stringify(asked, (_, v) => bytes(v));
      result(same ? "ok" : `echo answered ${JSON.stringify(answer)}`);
    } catch (err) {
      result(`no echo: ${err.message}`);
    }
    socket.emit("bye");
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
