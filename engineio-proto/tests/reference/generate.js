// Writes vectors.json: random packets and bodies encoded by the official Engine.IO parsers
// (engine.io-parser 5.2.3 for v4, 2.2.1 for v3), and mutated bodies with the reference's
// decode result. The Rust test `reference.rs` replays them. Deterministic: same seed, same file.
"use strict";
const fs = require("fs");
const v4 = require("engine.io-parser");
const v3 = require("engine.io-parser-v3");

let state = 0x5eed1e;
function rand() {
  // mulberry32
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const int = (n) => Math.floor(rand() * n);

const TYPES = ["open", "close", "ping", "pong", "message", "upgrade", "noop"];

function randChar(allowSeparator) {
  switch (int(8)) {
    case 0: return pick(["€", "α", "é", "中", "\u2028", "\u00a0", "\uffff"]);
    case 1: return String.fromCodePoint(0x10000 + int(0x100000)); // astral: 2 UTF-16 units
    case 2: {
      const c = int(0x20);
      return c === 0x1e && !allowSeparator ? "x" : String.fromCharCode(c);
    }
    case 3: return pick(["b", "4", ":", "\"", "\\", "0", "9"]);
    default: return String.fromCharCode(0x20 + int(0x5f));
  }
}
function randString(allowSeparator) {
  let s = "";
  for (let n = int(12); n > 0; n--) s += randChar(allowSeparator);
  return s;
}
function randBytes() {
  return Buffer.from(Array.from({ length: int(12) }, () => int(256)));
}
function randPacket(version) {
  const type = pick(TYPES);
  switch (int(3)) {
    case 0: return { type };
    case 1: return { type, data: randString(version === 3) };
    default: return { type: version === 4 ? "message" : type, data: randBytes() };
  }
}
function toJson(packet) {
  const out = { type: packet.type };
  if (Buffer.isBuffer(packet.data) || packet.data instanceof ArrayBuffer) out.bin = Array.from(Buffer.from(packet.data));
  else if (packet.data !== undefined && packet.data !== "") out.text = packet.data;
  return out;
}
const bytes = (x) => Array.from(typeof x === "string" ? Buffer.from(x, "utf8") : Buffer.from(x));
const sync = (f) => { let out; f((x) => { out = x; }); return out; };

const vectors = [];

for (let i = 0; i < 300; i++) {
  const version = i % 2 ? 3 : 4;
  const packet = randPacket(version);
  if (version === 4) {
    vectors.push({ kind: "text", version, packet: toJson(packet), wire: bytes(sync((cb) => v4.encodePacket(packet, false, cb))) });
    const frame = sync((cb) => v4.encodePacket(packet, true, cb));
    vectors.push({ kind: typeof frame === "string" ? "text_frame" : "binary_frame", version, packet: toJson(packet), wire: bytes(frame) });
  } else {
    vectors.push({ kind: "text", version, packet: toJson(packet), wire: bytes(sync((cb) => v3.encodePacket(packet, false, false, cb))) });
    const frame = sync((cb) => v3.encodePacket(packet, true, false, cb));
    vectors.push({ kind: typeof frame === "string" ? "text_frame" : "binary_frame", version, packet: toJson(packet), wire: bytes(frame) });
  }
}

const bodies = [];
for (let i = 0; i < 300; i++) {
  const format = pick(["v4", "v3text", "v3binary"]);
  const version = format === "v4" ? 4 : 3;
  const packets = Array.from({ length: 1 + int(6) }, () => randPacket(version));
  let wire;
  if (format === "v4") wire = sync((cb) => v4.encodePayload(packets, cb));
  else if (format === "v3text") wire = sync((cb) => v3.encodePayload(packets, false, cb));
  else {
    if (!packets.some((p) => Buffer.isBuffer(p.data))) packets.push({ type: "message", data: randBytes() });
    wire = sync((cb) => v3.encodePayloadAsBinary(packets, cb));
  }
  vectors.push({ kind: "payload", format, packets: packets.map(toJson), wire: bytes(wire) });
  bodies.push({ format, wire });
}

// Mutated bodies: what the reference makes of them (packets, then whether it reported an error).
function decodeReference(format, wire) {
  const packets = [];
  let error = false;
  const take = (p) => {
    if (p.type === "error") { error = true; return false; }
    packets.push(p);
  };
  if (format === "v4") v4.decodePayload(wire).forEach((p) => { if (!error) take(p); });
  else if (format === "v3text") v3.decodePayload(wire, take);
  else v3.decodePayload(Buffer.from(wire), take);
  return { packets, error };
}
function mutate(wire) {
  if (typeof wire === "string") {
    const chars = Array.from(wire);
    const at = int(chars.length + 1);
    switch (int(3)) {
      case 0: chars.splice(at, 1); break;
      case 1: chars.splice(at, 0, pick(["\x1e", ":", "1", "b", "4", "9", "é", "😀", "="])); break;
      default: return chars.slice(0, at).join("");
    }
    return chars.join("");
  }
  const b = Array.from(wire);
  const at = int(b.length + 1);
  switch (int(3)) {
    case 0: b.splice(at, 1); break;
    case 1: b.splice(at, 0, pick([0, 1, 2, 9, 10, 0xff, 0x34])); break;
    default: b.length = at;
  }
  return Buffer.from(b);
}
for (let i = 0; i < 600; i++) {
  const { format, wire } = pick(bodies);
  const mutated = mutate(wire);
  const ref = decodeReference(format, mutated);
  // Lone surrogates have no Rust string form; the Rust side refuses such bodies anyway.
  if (ref.packets.some((p) => typeof p.data === "string" && /[\ud800-\udfff]/u.test(p.data.replace(/[\ud800-\udbff][\udc00-\udfff]/g, "")))) continue;
  if (ref.packets.some((p) => !TYPES.includes(p.type))) continue; // v3 'undefined' types: refused by us, documented
  vectors.push({ kind: "decode", format, wire: bytes(mutated), packets: ref.packets.map(toJson), error: ref.error });
}

fs.writeFileSync(__dirname + "/vectors.json", JSON.stringify(vectors) + "\n");
console.log(`wrote ${vectors.length} vectors`);
