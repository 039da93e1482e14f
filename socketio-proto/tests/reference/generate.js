// Writes vectors.json: random packets encoded by the official Socket.IO parsers
// (socket.io-parser 4.2.7 for protocol v5, 3.4.5 for v4), and mutated text packets with the
// reference decoder's verdict. The Rust test `reference.rs` replays them. Deterministic: same
// seed, same file. Run: npm ci && node generate.js
"use strict";
const fs = require("fs");
const v5 = require("socket.io-parser");
const v5binary = require(require("path").join(__dirname, "node_modules/socket.io-parser/build/cjs/binary.js")) // not exported;
const v4 = require("socket.io-parser-v4");
const v4binary = require("socket.io-parser-v4/binary.js");

let state = 0x50c1e7;
function rand() {
  // mulberry32
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const int = (n) => Math.floor(rand() * n);

const RESERVED = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];
const NAMESPACES = ["/", "/", "/admin", "/a/b", "/admin?token=1"];
const ACK_IDS = [0, 1, 7, 42, 99, 1000, 123456, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1];
const NUMBERS = [0, 1, -1, 42, -7, 1.5, -2.25, 0.1, 1e21, -1e21, -0, 1e-7, 2 ** 53 - 1, 123456789, 3.14159];

function randChar() {
  switch (int(8)) {
    case 0: return pick(["€", "α", "é", "中", "\u2028", "\u2029", "\u00a0", "\uffff", "\ufeff"]);
    case 1: return String.fromCodePoint(0x10000 + int(0x100000)); // astral: 2 UTF-16 units
    case 2: return String.fromCharCode(int(0x20)); // control characters, escaped by JSON
    case 3: return pick(["\"", "\\", "/", ",", "-", "[", "{", "_placeholder", "0", "9"]);
    default: return String.fromCharCode(0x20 + int(0x5f));
  }
}
function randString() {
  let s = "";
  for (let n = int(10); n > 0; n--) s += randChar();
  return s;
}
function randBytes() {
  return Buffer.from(Array.from({ length: int(10) }, () => int(256)));
}
// A random JSON value; with `binary`, Buffers may appear anywhere below the top.
function randValue(depth, binary) {
  const r = int(depth > 2 ? 6 : 9);
  switch (r) {
    case 0: return randString();
    case 1: return pick(NUMBERS);
    case 2: return int(100000) - 50000;
    case 3: return pick([true, false, null]);
    case 4: return binary && int(2) ? randBytes() : randString();
    case 5: return rand() * 1000 - 500;
    case 6: case 7: return Array.from({ length: int(4) }, () => randValue(depth + 1, binary));
    default: return randObject(depth + 1, binary);
  }
}
function randObject(depth, binary) {
  const o = {};
  for (let n = int(4); n > 0; n--) o[pick(["a", "b", "token", "x y", "é", "_placeholder", "num", randString()])] = randValue(depth, binary);
  return o;
}
function hasBuffer(v) {
  if (Buffer.isBuffer(v)) return true;
  if (Array.isArray(v)) return v.some(hasBuffer);
  if (v && typeof v === "object") return Object.values(v).some(hasBuffer);
  return false;
}
function clone(v) {
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (Array.isArray(v)) return v.map(clone);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  return v;
}

// A packet the reference decoder of `version` accepts.
function randPacket(version) {
  const type = int(5); // 5/6 arise from EVENT/ACK with binary
  const p = { type, nsp: pick(NAMESPACES) };
  const binary = (type === 2 || type === 3) && int(2) === 0;
  switch (type) {
    case 0:
      if (int(3)) p.data = randObject(1, false);
      else if (version === 4 && int(2)) p.data = [randValue(1, false)];
      break;
    case 1: break;
    case 2: {
      const name = int(6) === 0 ? int(1000) : version === 4 && int(8) === 0 ? pick(RESERVED) : randString();
      p.data = [RESERVED.includes(name) && version === 5 ? name + "!" : name];
      for (let n = int(4); n > 0; n--) p.data.push(randValue(1, binary));
      if (binary && !hasBuffer(p.data)) p.data.splice(1 + int(p.data.length), 0, randBytes());
      if (int(2)) p.id = pick(ACK_IDS);
      break;
    }
    case 3:
      p.data = Array.from({ length: int(4) }, () => randValue(1, binary));
      if (binary && !hasBuffer(p.data)) p.data.push(randBytes());
      p.id = int(3) ? pick(ACK_IDS) : int(10000);
      break;
    default:
      p.data = int(2) ? randString() : randObject(1, false);
  }
  if (version === 4 && hasBuffer(p.data)) p.type += 3; // 3.x: the caller picks BINARY_*
  return p;
}

// JSON form of a decoded packet: Buffers become {"$bin": [...]}; a non-safe-integer id a string.
function binToJson(v) {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return { $bin: Array.from(Buffer.from(v)) };
  if (Array.isArray(v)) return v.map(binToJson);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = binToJson(v[k]);
    return o;
  }
  return v;
}
function packetJson(p) {
  const out = { type: p.type, nsp: p.nsp };
  if (p.id !== undefined) out.id = Number.isSafeInteger(p.id) ? p.id : String(p.id);
  if (p.data !== undefined) out.data = binToJson(p.data);
  return out;
}

// Feeds `text` then attachments (only as long as the decoder wants them) to a fresh decoder.
function decodeReference(version, text, attachments) {
  const decoder = version === 5 ? new v5.Decoder() : new v4.Decoder();
  let packet;
  decoder.on("decoded", (p) => { packet = p; });
  try {
    decoder.add(text);
    for (let i = 0; packet === undefined && i < attachments.length; i++) decoder.add(Buffer.from(attachments[i]));
  } catch (e) {
    return { error: e.message };
  }
  if (packet === undefined) return { incomplete: true };
  if (version === 4 && packet.type === 4 && packet.nsp === undefined && /^parser error/.test(packet.data)) return { ignored: packet.data };
  return { packet: packetJson(packet) };
}

const LONE_SURROGATE = /[\ud800-\udfff]/;
const hasLoneSurrogate = (s) => LONE_SURROGATE.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""));

const vectors = [];
const encoded = [];
const v5encoder = new v5.Encoder();
const v4encoder = new v4.Encoder();
for (let i = 0; i < 400; i++) {
  const version = i % 2 ? 4 : 5;
  const packet = randPacket(version);
  let out;
  if (version === 5) out = v5encoder.encode(clone(packet));
  else v4encoder.encode(clone(packet), (x) => { out = x; });
  const [text, ...buffers] = out;
  const attachments = buffers.map((b) => Array.from(Buffer.from(b)));
  // The JSON payload the reference wrote after the header.
  let json;
  if (packet.data !== undefined) {
    const bin = version === 5 ? v5binary : v4binary;
    json = JSON.stringify(bin.deconstructPacket({ data: clone(packet.data) }).packet.data);
    if (!text.endsWith(json)) throw new Error(`payload not at the end: ${text}`);
  }
  const ref = decodeReference(version, text, attachments);
  if (!ref.packet) throw new Error(`the reference rejects its own output ${text}: ${JSON.stringify(ref)}`);
  const v = { kind: "encode", version, type: packet.type, nsp: packet.nsp, text, attachments, decoded: ref.packet };
  if (packet.id !== undefined) v.id = packet.id;
  if (json !== undefined) v.json = json;
  vectors.push(v);
  encoded.push({ version, text, attachments });
}

const INSERTS = ["-", ",", "/", "0", "1", "5", "9", "[", "]", "\"", " ", "{", "}", "e", ".", "a", "\t", "\u00a0", "\u2028", "?", "_", "+"];
function mutate(text) {
  const chars = Array.from(text);
  for (let n = 1 + (int(4) === 0 ? 1 : 0); n > 0; n--) {
    const at = int(chars.length + 1);
    switch (int(4)) {
      case 0: chars.splice(at, 1); break;
      case 1: case 2: chars.splice(at, 0, pick(INSERTS)); break;
      default: chars.length = at;
    }
  }
  return chars.join("");
}
const counts = { error: 0, ignored: 0, packet: 0, incomplete: 0, skipped: 0 };
for (let i = 0; i < 1500; i++) {
  const { version, text, attachments } = pick(encoded);
  const mutated = mutate(text);
  const ref = decodeReference(version, mutated, attachments);
  if (ref.packet && JSON.stringify(ref.packet).includes("\\ud")) { counts.skipped++; continue; } // no Rust string form
  if (hasLoneSurrogate(mutated)) { counts.skipped++; continue; }
  counts[Object.keys(ref)[0]]++;
  const v = { kind: "decode", version, text: mutated, ...ref };
  if (attachments.length) v.attachments = attachments;
  vectors.push(v);
}

// Numbers as the encoders write them (`JSON.stringify`): random bit patterns, and exact ties
// between two shortest digit strings (n + 0.25 or n + 0.75 where doubles are 1/8 apart), which
// ECMA-262 settles towards the even digit. Generated last, so the vectors above keep their seed.
const view = new DataView(new ArrayBuffer(8));
let numbers = 0;
while (numbers < 3000) {
  let x;
  if (numbers % 4 === 0) {
    x = 2 ** 49 + Math.floor(rand() * 2 ** 49) + pick([0.25, 0.75]);
  } else {
    view.setUint32(0, Math.floor(rand() * 2 ** 32));
    view.setUint32(4, Math.floor(rand() * 2 ** 32));
    x = view.getFloat64(0);
    if (!Number.isFinite(x)) continue;
  }
  view.setFloat64(0, x);
  vectors.push({ kind: "number", hi: view.getUint32(0), lo: view.getUint32(4), json: JSON.stringify(x) });
  numbers++;
}

fs.writeFileSync(__dirname + "/vectors.json", JSON.stringify(vectors) + "\n");
console.log(`wrote ${vectors.length} vectors`, counts);
