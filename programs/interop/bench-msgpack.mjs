// The JavaScript side of `benches/benches/msgpack.rs`: the official msgpack parser
// (socket.io-msgpack-parser 3.0.2) and text parser (socket.io-parser, as socket.io 4.8.4
// uses it) on the same four packets. Prints `js <criterion-like id> <ns per op>` lines (the
// median of 5 runs of at least 200 ms each) that `benches/examples/report.rs` reads beside
// criterion's medians.
//
// Usage: node programs/interop/bench-msgpack.mjs | tee -a target/bench.txt

import msgpackParser from "socket.io-msgpack-parser";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const textParser = require("socket.io-parser");

const users = (n) =>
  Array.from({ length: n }, (_, id) => ({
    id,
    name: `user ${id}`,
    email: `user${id}@example.com`,
    active: id % 3 !== 0,
    score: id * 1.25,
    tags: ["a", "bc"],
  }));

const event = (data) => ({ type: 2, data, nsp: "/" });
const cases = {
  event_small: () => event(["message", "hello", 42]),
  event_14kb: () => event(["snapshot", users(100)]),
  binary_1x64kb: () => event(["file", Buffer.alloc(65536, 7)]),
  binary_10x1kb: () => event(["files", Array.from({ length: 10 }, () => Buffer.alloc(1024, 7))]),
};

function nsPerOp(fn) {
  for (let i = 0; i < 2000; i++) fn();
  const runs = [];
  for (let r = 0; r < 5; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0n;
    while (elapsed < 200_000_000n) {
      for (let i = 0; i < 100; i++) fn();
      n += 100;
      elapsed = process.hrtime.bigint() - start;
    }
    runs.push(Number(elapsed) / n);
  }
  runs.sort((a, b) => a - b);
  return runs[2];
}

for (const [name, make] of Object.entries(cases)) {
  const msgpackEncoder = new msgpackParser.Encoder();
  const textEncoder = new textParser.Encoder();
  const [wire] = msgpackEncoder.encode(make());
  const textWire = textEncoder.encode(make());

  const decodeMsgpack = () => {
    const decoder = new msgpackParser.Decoder();
    let out;
    decoder.on("decoded", (p) => (out = p));
    decoder.add(wire);
    return out;
  };
  const decodeText = () => {
    const decoder = new textParser.Decoder();
    let out;
    decoder.on("decoded", (p) => (out = p));
    for (const part of textWire) decoder.add(part);
    return out;
  };
  const packet = make();
  const results = {
    js_decode: nsPerOp(decodeMsgpack),
    js_text_decode: nsPerOp(decodeText),
    js_encode: nsPerOp(() => msgpackEncoder.encode(packet)),
    js_text_encode: nsPerOp(() => textEncoder.encode(packet)),
  };
  for (const [fn, ns] of Object.entries(results)) {
    console.log(`js sio_msgpack/${fn}/${name} ${ns.toFixed(1)}`);
  }
}
