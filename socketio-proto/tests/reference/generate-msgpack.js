// Writes msgpack-vectors.json: reference vectors for the Socket.IO msgpack parser
// (socket.io-msgpack-parser 3.0.2, which encodes and decodes with notepack.io 2.2.x), for a Rust
// test to check that our encoder is byte-exact and our decoder accepts and rejects the same
// inputs. Deterministic: same seed, same file. Run: npm ci && node generate-msgpack.js
// (`node generate-msgpack.js --probe HEX...` prints the reference decoder's verdict on each
// frame, in the form of "result" below, and writes nothing.)
//
// The file is a JSON array, one vector a line:
//
// {"kind":"encode", "side":"server"|"client", "type", "nsp", "id"?, "json"?, "attachments", "hex", ...}
//   A random packet built with the key order socket.io 4.8.4 (side "server") or
//   socket.io-client 4.8.4 (side "client") gives it, encoded by notepack.encode. "json" is the data
//   as JSON text with every Buffer replaced, depth-first in JSON.stringify order, by
//   {"_placeholder":true,"num":N}; "attachments" holds those Buffers in hex, in that order.
//   Key orders:  server EVENT {type,data,id?,nsp} ("order":"emit" when there is an id) or
//   {type,data,nsp,id} ("order":"broadcast_ack"); ACK {id,type,data,nsp}; CONNECT
//   {type,data:{sid,pid},nsp} ("pid_undefined":true: pid is written as undefined, d4 00 00, and
//   left out of "json"); CONNECT_ERROR {type,data:{message,data},nsp} ("error_data_undefined":true:
//   the inner data is undefined, d4 00 00, and left out of "json") or {type,nsp,data:{message}}
//   ("order":"invalid_namespace"); DISCONNECT {type,nsp}.
//   client EVENT {type,data,options:{compress},id?,nsp} ("compress":false when so, else true);
//   ACK {type,id,data,nsp}; CONNECT {type,data,nsp} ("data_undefined":true: data is undefined,
//   d4 00 00, and there is no "json"); DISCONNECT {type,nsp}.
//   "decoded" (the reference decoder's reading of "hex", in the form of "result.packet" below) is
//   present only when it differs from type/nsp/id/json/attachments or carries a flag.
//
// {"kind":"decode", "hex", "case"?, "result"}
//   Mutated encodings and hand-written inputs ("case" names the latter), fed to
//   new Decoder().add(buffer). "result" is {"error": message, "error_class", "error_code"?} when it
//   throws, else {"packet": {"type", "nsp", "id"?, "json"?, "attachments", "data_kind", flags}}:
//   fields are read as socket.io reads them (property access, so inherited through a __proto__
//   key too); "id" is a number, or a string when not a safe integer; "json" is JSON.stringify of
//   the data with every Buffer/ArrayBuffer/typed array replaced as above (absent when the data is
//   undefined); object keys come in JavaScript order (integer-like keys first, ascending; a
//   duplicated key keeps its first place and its last value). Flags: "lossy" (NaN, ±Infinity or
//   -0 in the data, written as JSON.stringify does: null, null, 0), "undefined" (undefined in the
//   data: null in arrays, key left out in objects), "date" (a Date, written as its ISO string, or
//   null when invalid), "arraybuffer" (an ext type 0 decoded as ArrayBuffer), "proto" (an object
//   whose prototype is not Object.prototype, from a "__proto__" key).
//
// {"kind":"d11", "id":"MP-..", "hex", "expected_hex"?, "match"?, "result"}
//   The fixed examples of the design table, with the decoder's verdict on them.
"use strict";
// A Date used as a map key is named by Date.prototype.toString, in the local time zone: fix it.
process.env.TZ = "UTC";
const fs = require("fs");
const path = require("path");
const util = require("util");

const parserDir = path.dirname(require.resolve("socket.io-msgpack-parser/package.json"));
const notepack = require(require.resolve("notepack.io", { paths: [parserDir] }));
const notepackVersion = require(require.resolve("notepack.io/package.json", { paths: [parserDir] })).version;
const parser = require("socket.io-msgpack-parser");
const parserVersion = require("socket.io-msgpack-parser/package.json").version;
console.log(`socket.io-msgpack-parser ${parserVersion}, notepack.io ${notepackVersion} (${path.relative(__dirname, require.resolve("notepack.io", { paths: [parserDir] }))})`);

let state = 0x3d9a11;
function rand() {
  // mulberry32
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const int = (n) => Math.floor(rand() * n);

const NAMESPACES = ["/", "/", "/admin", "/a/b", "/é"];
const ACK_IDS = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
const NUMBERS = [
  0, -0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129,
  -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53 - 1), 1.5, -2.25, 0.1, 1e21, -1e21, 2 ** 64, 1e300, 5e-324,
];
const KEYS = ["a", "b", "token", "x y", "é", "num", "", "0", "1", "10", "-1", "01", "4294967294", "4294967295", "type", "nsp", "data", "id"];

function randChar() {
  switch (int(8)) {
    case 0: return pick(["€", "α", "é", "中", "\u2028", "\u2029", "\u00a0", "\uffff", "\ufeff", "\u0000"]);
    case 1: return String.fromCodePoint(0x10000 + int(0x100000)); // astral: 2 UTF-16 units, 4 bytes
    case 2: return String.fromCharCode(int(0x20)); // control characters
    case 3: return pick(["\"", "\\", "/", ",", "-", "[", "{", "_placeholder", "0", "9"]);
    default: return String.fromCharCode(0x20 + int(0x5f));
  }
}
function randString() {
  let s = "";
  for (let n = int(12); n > 0; n--) s += randChar();
  return s;
}
// A string of exactly `bytes` UTF-8 bytes: ASCII, or multi-byte characters padded with ASCII.
function sizedString(bytes, multi) {
  let s = "";
  let left = bytes;
  while (multi && left >= 4) {
    const c = pick(["é", "€", "中", "\u{1F600}", String.fromCodePoint(0x10000 + int(0x100000))]);
    s += c;
    left -= Buffer.byteLength(c);
  }
  while (left-- > 0) s += String.fromCharCode(0x21 + int(0x5e));
  return s;
}
// Strings around the fixstr/str8/str16/str32 limits, and around notepack's 32-UTF-16-unit switch.
function boundaryString() {
  if (int(12) === 0 && big("string")) return sizedString(pick([65535, 65536]), int(2) === 0);
  switch (int(4)) {
    case 0: return "é".repeat(pick([16, 17, 32, 33])); // 32/34/64/66 bytes, 16..33 units
    case 1: return "\u{1F600}".repeat(pick([8, 16, 17])); // 16..34 units
    default: return sizedString(pick([0, 31, 32, 33, 255, 256, 300]), int(2) === 0);
  }
}

// The 64 KiB strings, buffers, arrays and maps are rationed to keep the file small.
const bigLeft = { string: 5, buffer: 4, array: 2, map: 1 };
const big = (kind) => bigLeft[kind] > 0 && (bigLeft[kind]--, true);

function randBuffer() {
  const r = int(20);
  if (r === 0 && int(8) === 0 && big("buffer")) return Buffer.from(Array.from({ length: 65536 }, () => int(256)));
  const len = r < 6 ? pick([0, 1, 255, 256, 32, 33]) : int(10);
  return Buffer.from(Array.from({ length: len }, () => int(256)));
}
function randNumber() {
  switch (int(4)) {
    case 0: case 1: return pick(NUMBERS);
    case 2: return (int(2) ? 1 : -1) * Math.floor(rand() * 2 ** int(54));
    default: return rand() * 1000 - 500;
  }
}
function randArray(depth, binary) {
  const r = int(16);
  if (r === 0 && int(6) === 0 && big("array")) return Array.from({ length: 65536 }, () => int(10));
  const len = r < 3 ? pick([15, 16]) : int(4);
  return Array.from({ length: len }, () => randValue(depth + 1, binary));
}
function setKey(o, k, v) {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}
function randObject(depth, binary) {
  const o = {};
  const r = int(16);
  if (r === 0 && int(10) === 0 && big("map")) {
    for (let i = 0; i < 65536; i++) o[String.fromCharCode(0x21 + (i % 94)) + (i >= 94 ? (i / 94 | 0).toString(36) : "")] = i & 1 ? null : 0;
    return o;
  }
  const n = r < 2 ? pick([15, 16]) : int(5);
  for (let tries = 0; Object.keys(o).length < n && tries < 100; tries++) {
    const k = int(40) === 0 ? "__proto__" : int(3) ? pick(KEYS) : int(4) ? randString() : boundaryString();
    setKey(o, k, randValue(depth + 1, binary));
  }
  return o;
}
// A random JSON value of depth at most 4 (counting the packet's data as 1); with `binary`,
// Buffers may appear anywhere.
function randValue(depth, binary) {
  const r = int(depth >= 4 ? 7 : 10);
  switch (r) {
    case 0: case 1: return int(6) ? randString() : boundaryString();
    case 2: case 3: return randNumber();
    case 4: return pick([true, false, null]);
    case 5: return binary && int(3) ? randBuffer() : randString();
    case 6: return int(1000000) - 500000;
    case 7: case 8: return randArray(depth, binary);
    default: return randObject(depth, binary);
  }
}

// Kinds, as the decoder's output can hold them.
function kindOf(v) {
  if (v === undefined) return "undefined";
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  if (Array.isArray(v)) return "array";
  if (util.types.isArrayBufferView(v)) return "buffer";
  if (util.types.isArrayBuffer(v)) return "arraybuffer";
  if (util.types.isDate(v)) return "date";
  return "object";
}
// The data with binaries replaced by placeholders (depth-first, JSON.stringify order), and flags.
function deconstruct(data) {
  const attachments = [];
  const flags = {};
  const walk = (v, inArray) => {
    switch (kindOf(v)) {
      case "number":
        if (!Number.isFinite(v) || Object.is(v, -0)) flags.lossy = true;
        return v;
      case "undefined": flags.undefined = true; return inArray ? null : undefined;
      case "date": flags.date = true; return v;
      case "arraybuffer": flags.arraybuffer = true; // fallthrough
      case "buffer": {
        const buf = util.types.isArrayBuffer(v) ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        attachments.push(buf.toString("hex"));
        return { _placeholder: true, num: attachments.length - 1 };
      }
      case "array": return v.map((x) => walk(x, true));
      case "object": {
        if (Object.getPrototypeOf(v) !== Object.prototype) flags.proto = true;
        if (Object.prototype.hasOwnProperty.call(v, "_placeholder") && v._placeholder === true) flags.fake_placeholder = true;
        const o = {};
        for (const k of Object.keys(v)) {
          const x = walk(v[k], false);
          if (x !== undefined) setKey(o, k, x);
        }
        return o;
      }
      default: return v;
    }
  };
  if (data === undefined) return { json: undefined, attachments, flags };
  return { json: JSON.stringify(walk(data, false)), attachments, flags };
}
function packetJson(p) {
  const out = { type: p.type, nsp: p.nsp };
  if (Object.getPrototypeOf(p) !== Object.prototype) out.proto = true;
  if (p.id !== undefined) out.id = Number.isSafeInteger(p.id) ? p.id : String(p.id);
  const { json, attachments, flags } = deconstruct(p.data);
  if (json !== undefined) out.json = json;
  out.attachments = attachments;
  out.data_kind = kindOf(p.data);
  Object.assign(out, flags);
  return out;
}

const LONE_SURROGATE = /[\ud800-\udfff]/;
const hasLoneSurrogate = (s) => LONE_SURROGATE.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""));

// Feeds `buf` to a fresh reference decoder. An ext 32 of type 0 may announce gigabytes, which
// notepack would allocate and fill: such inputs give HUGE, and are left out.
const HUGE = new Error("huge ArrayBuffer");
const RealArrayBuffer = ArrayBuffer;
const GuardedArrayBuffer = new Proxy(RealArrayBuffer, {
  construct(target, args) {
    if (args[0] > 1 << 20) throw HUGE;
    return new target(...args);
  },
});
function decodeReference(buf) {
  const decoder = new parser.Decoder();
  let packet;
  let count = 0;
  decoder.on("decoded", (p) => { packet = p; count++; });
  try {
    globalThis.ArrayBuffer = GuardedArrayBuffer;
    decoder.add(buf);
  } catch (e) {
    if (e === HUGE) return HUGE;
    const r = { error: e.message, error_class: e.constructor.name };
    if (e.code) r.error_code = e.code;
    return r;
  } finally {
    globalThis.ArrayBuffer = RealArrayBuffer;
  }
  if (count !== 1) throw new Error(`decoded ${count} packets`);
  return { packet: packetJson(packet) };
}
const outcome = (r) => (r.packet ? "accepted" : `${r.error_class}: ${r.error.replace(/\d+/g, "N")}`);

if (process.argv[2] === "--probe") {
  for (const hex of process.argv.slice(3)) console.log(hex, JSON.stringify(decodeReference(Buffer.from(hex, "hex"))));
  process.exit(0);
}

const vectors = [];
const counts = { encode: { server: {}, client: {} }, decode: {}, decodeSkipped: {}, d11: 0 };
const bump = (o, k) => { o[k] = (o[k] || 0) + 1; };

// ---- (a) encode vectors ------------------------------------------------------------------------

const base64id = () => Buffer.from(Array.from({ length: 15 }, () => int(256))).toString("base64").replace(/\//g, "_").replace(/\+/g, "-");
function ackId() {
  switch (int(3)) {
    case 0: return int(100);
    case 1: return Math.floor(rand() * 2 ** int(54));
    default: return pick(ACK_IDS);
  }
}
function eventData(binary) {
  const data = [int(5) ? randString() : boundaryString()];
  for (let n = int(5); n > 0; n--) data.push(randValue(1, binary));
  if (binary && int(2)) data.splice(1 + int(data.length), 0, randBuffer());
  return data;
}
function ackData(binary) {
  const data = Array.from({ length: int(4) }, () => randValue(1, binary));
  if (binary && int(2)) data.push(randBuffer());
  return data;
}

// Returns [packet, extra fields of the vector].
function serverPacket() {
  const nsp = pick(NAMESPACES);
  const binary = int(3) === 0;
  switch (int(10)) {
    case 0: case 1: {
      const p = { type: 2, data: eventData(binary) };
      if (int(2)) p.id = ackId();
      p.nsp = nsp;
      return [p, p.id !== undefined ? { order: "emit" } : {}];
    }
    case 2:
      return [{ type: 2, data: eventData(binary), nsp }, {}];
    case 3:
      return [{ type: 2, data: eventData(binary), nsp, id: ackId() }, { order: "broadcast_ack" }];
    case 4: case 5:
      return [{ id: ackId(), type: 3, data: ackData(binary), nsp }, {}];
    case 6: {
      const pid = int(2) ? base64id() : undefined;
      return [{ type: 0, data: { sid: base64id(), pid }, nsp }, pid === undefined ? { pid_undefined: true } : {}];
    }
    case 7: {
      if (int(4) === 0) return [{ type: 4, nsp, data: { message: "Invalid namespace" } }, { order: "invalid_namespace" }];
      const inner = int(3) === 0 ? undefined : randValue(2, false);
      const message = int(2) ? pick(["not authorized", "Invalid namespace", "too many connections"]) : int(4) ? randString() : boundaryString();
      return [{ type: 4, data: { message, data: inner }, nsp }, inner === undefined ? { error_data_undefined: true } : {}];
    }
    default:
      return [{ type: 1, nsp }, {}];
  }
}
function clientPacket() {
  const nsp = pick(NAMESPACES);
  const binary = int(3) === 0;
  switch (int(10)) {
    case 0: case 1: case 2: {
      const compress = int(4) !== 0;
      const p = { type: 2, data: eventData(binary) };
      p.options = {};
      p.options.compress = compress;
      if (int(2)) p.id = ackId();
      p.nsp = nsp;
      return [p, compress ? {} : { compress: false }];
    }
    case 3: case 4:
      return [{ type: 3, id: ackId(), data: ackData(binary), nsp }, {}];
    case 5: case 6: case 7: {
      let data;
      switch (int(4)) {
        case 0: data = undefined; break;
        case 1: data = Object.assign({ pid: base64id(), offset: `${base64id().slice(0, 7)}-${int(100)}` }, int(2) ? randObject(2, false) : {}); break;
        default: data = randObject(1, false);
      }
      return [{ type: 0, data, nsp }, data === undefined ? { data_undefined: true } : {}];
    }
    default:
      return [{ type: 1, nsp }, {}];
  }
}

const encoder = new parser.Encoder();
const sources = [];
for (let i = 0; i < 1300; i++) {
  const side = i % 2 ? "client" : "server";
  const [packet, extra] = side === "server" ? serverPacket() : clientPacket();
  // The data as the vector gives it: the explicitly undefined parts left out.
  let data = packet.data;
  if (extra.pid_undefined) data = { sid: data.sid };
  if (extra.error_data_undefined) data = { message: data.message };
  const { json, attachments, flags } = deconstruct(data);
  if (flags.fake_placeholder) { i--; continue; }
  if (Object.keys(flags).some((f) => f !== "proto" && f !== "lossy")) throw new Error(`unexpected ${JSON.stringify(flags)}`);
  const buf = notepack.encode(packet);
  if (!encoder.encode(packet)[0].equals(buf)) throw new Error("the Encoder differs from notepack.encode");
  const hex = buf.toString("hex");
  const v = { kind: "encode", side, type: packet.type, nsp: packet.nsp };
  if (packet.id !== undefined) v.id = packet.id;
  if (json !== undefined) v.json = json;
  v.attachments = attachments;
  Object.assign(v, extra);
  v.hex = hex;
  const ref = decodeReference(buf);
  if (!ref.packet) throw new Error(`the reference rejects its own output ${hex}: ${JSON.stringify(ref)}`);
  const d = ref.packet;
  const same = d.type === v.type && d.nsp === v.nsp && d.id === v.id && d.json === v.json &&
    JSON.stringify(d.attachments) === JSON.stringify(v.attachments) &&
    Object.keys(d).every((k) => ["type", "nsp", "id", "json", "attachments", "data_kind"].includes(k));
  if (!same) v.decoded = d;
  vectors.push(v);
  bump(counts.encode[side], ["CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR"][packet.type]);
  sources.push(buf);
}
console.log(`64 KiB values left unused: ${JSON.stringify(bigLeft)}`);

// ---- (b) decode vectors ------------------------------------------------------------------------

const seen = new Set();
function pushDecode(buf, label) {
  const hex = buf.toString("hex");
  if (seen.has(hex)) { bump(counts.decodeSkipped, "duplicate"); return; }
  seen.add(hex);
  const result = decodeReference(buf);
  if (result === HUGE) { bump(counts.decodeSkipped, "huge ArrayBuffer"); return; }
  if (result.packet && (hasLoneSurrogate(JSON.stringify(result.packet)) || hasLoneSurrogate(result.error || ""))) { bump(counts.decodeSkipped, "lone surrogate"); return; }
  if (result.packet && result.packet.fake_placeholder) { bump(counts.decodeSkipped, "fake placeholder"); return; }
  const v = { kind: "decode", hex };
  if (label) v.case = label;
  v.result = result;
  vectors.push(v);
  bump(counts.decode, outcome(result));
}

const INTERESTING = [0xc0, 0xc1, 0xc4, 0xcb, 0xd4, 0xd7, 0xd9, 0xdc, 0xde, 0xdf, 0xa0, 0x80, 0x90, 0xff];
const randByte = () => (int(2) ? pick(INTERESTING) : int(256));
function mutate(buf, truncateOnly) {
  const b = Array.from(buf);
  for (let n = 1 + (int(3) === 0 ? 1 : 0); n > 0; n--) {
    switch (truncateOnly ? 4 : int(7)) {
      case 0: case 1: if (b.length) b[int(b.length)] = randByte(); break; // replace a byte
      case 2: b.splice(int(b.length + 1), 0, ...Array.from({ length: 1 + int(3) }, randByte)); break; // insert
      case 3: b.splice(int(b.length), 1 + int(3)); break; // delete
      case 4: b.length = int(b.length); break; // truncate
      default: b.push(...Array.from({ length: 1 + int(3) }, randByte)); // append
    }
  }
  return Buffer.from(b);
}

// Hand-written inputs.
const E = (v) => notepack.encode(v);
const H = (hex) => Buffer.from(hex.replace(/\s+/g, ""), "hex");
const cat = (...parts) => Buffer.concat(parts.map((p) => (typeof p === "string" ? H(p) : p)));
// A map from [key, value] entries: a string key is encoded, a Buffer is raw msgpack; a value that is
// a Buffer is raw msgpack, anything else is encoded.
function map(entries) {
  const n = entries.length;
  const head = n < 16 ? H((0x80 | n).toString(16)) : cat("de", H(n.toString(16).padStart(4, "0")));
  return Buffer.concat([head, ...entries.flatMap(([k, v]) => [typeof k === "string" ? E(k) : k, Buffer.isBuffer(v) ? v : E(v)])]);
}
const arr = (...items) => Buffer.concat([H((0x90 | items.length).toString(16)), ...items.map((x) => (Buffer.isBuffer(x) ? x : E(x)))]);
const f64 = (x) => { const b = Buffer.alloc(9); b[0] = 0xcb; b.writeDoubleBE(x, 1); return b; };
const f32 = (x) => { const b = Buffer.alloc(5); b[0] = 0xca; b.writeFloatBE(x, 1); return b; };
const ev = (data, more = []) => map([["type", 2], ["nsp", "/"], ["data", data], ...more]);
const evData = (...items) => ev(arr("x", ...items)); // an EVENT whose data is ["x", ...items]
const UNDEF = H("d400 00");

const HAND = [
  ["empty", ""],
  ["nil", "c0"],
  ["undefined", "d4 00 00"],
  ["top-level array", arr(2, "/")],
  ["top-level empty array", "90"],
  ["top-level string", E("abc")],
  ["top-level int", "02"],
  ["top-level true", "c3"],
  ["top-level bin", E(Buffer.from([2]))],
  ["top-level date", "d7 00 00 00 00 00 00 00 00 00"],
  ["empty map", "80"],
  ["missing type", map([["nsp", "/"], ["data", ["x"]]])],
  ["type 5", map([["type", 5], ["nsp", "/"], ["data", ["x"]]])],
  ["type 6", map([["type", 6], ["nsp", "/"], ["data", ["x"]]])],
  ["type -1", map([["type", -1], ["nsp", "/"], ["data", ["x"]]])],
  ["type 2.0 float64", map([["type", f64(2)], ["nsp", "/"], ["data", ["x"]]])],
  ["type 2.0 float32", map([["type", f32(2)], ["nsp", "/"], ["data", ["x"]]])],
  ["type -0.0 float64", map([["type", f64(-0)], ["nsp", "/"]])],
  ["type 1.5", map([["type", f64(1.5)], ["nsp", "/"]])],
  ["type NaN", map([["type", f64(NaN)], ["nsp", "/"]])],
  ["type uint8 form", map([["type", H("cc 02")], ["nsp", "/"], ["data", ["x"]]])],
  ["type uint64 form", map([["type", H("cf 00 00 00 00 00 00 00 02")], ["nsp", "/"], ["data", ["x"]]])],
  ["type int64 form", map([["type", H("d3 00 00 00 00 00 00 00 02")], ["nsp", "/"], ["data", ["x"]]])],
  ["type 2^32+2", map([["type", H("cf 00 00 00 01 00 00 00 02")], ["nsp", "/"], ["data", ["x"]]])],
  ["type string", map([["type", "2"], ["nsp", "/"], ["data", ["x"]]])],
  ["type nil", map([["type", null], ["nsp", "/"], ["data", ["x"]]])],
  ["type true", map([["type", true], ["nsp", "/"]])],
  ["type undefined", map([["type", UNDEF], ["nsp", "/"]])],
  ["nsp missing", map([["type", 2], ["data", ["x"]]])],
  ["nsp int", map([["type", 2], ["nsp", 1], ["data", ["x"]]])],
  ["nsp nil", map([["type", 2], ["nsp", null], ["data", ["x"]]])],
  ["nsp bin", map([["type", 2], ["nsp", E(Buffer.from("/"))], ["data", ["x"]]])],
  ["nsp array", map([["type", 2], ["nsp", ["/"]], ["data", ["x"]]])],
  ["nsp str8 form", map([["type", 2], ["nsp", H("d9 01 2f")], ["data", ["x"]]])],
  ["nsp str32 form", map([["type", 2], ["nsp", H("db 00 00 00 01 2f")], ["data", ["x"]]])],
  ["nsp empty", map([["type", 2], ["nsp", ""], ["data", ["x"]]])],
  ["nsp invalid utf-8", map([["type", 2], ["nsp", H("a2 2f ff")], ["data", ["x"]]])],
  ["CONNECT no data", map([["type", 0], ["nsp", "/"]])],
  ["CONNECT data undefined", map([["type", 0], ["nsp", "/"], ["data", UNDEF]])],
  ["CONNECT data {}", map([["type", 0], ["nsp", "/"], ["data", {}]])],
  ["CONNECT data array", map([["type", 0], ["nsp", "/"], ["data", ["a"]]])],
  ["CONNECT data string", map([["type", 0], ["nsp", "/"], ["data", "a"]])],
  ["CONNECT data nil", map([["type", 0], ["nsp", "/"], ["data", null]])],
  ["CONNECT data bin", map([["type", 0], ["nsp", "/"], ["data", E(Buffer.from([1]))]])],
  ["CONNECT data date", map([["type", 0], ["nsp", "/"], ["data", H("d7 00 00 00 00 00 00 00 00 00")]])],
  ["CONNECT with id", map([["type", 0], ["nsp", "/"], ["id", 3]])],
  ["DISCONNECT", map([["type", 1], ["nsp", "/a"]])],
  ["DISCONNECT data {}", map([["type", 1], ["nsp", "/"], ["data", {}]])],
  ["DISCONNECT data nil", map([["type", 1], ["nsp", "/"], ["data", null]])],
  ["DISCONNECT data undefined", map([["type", 1], ["nsp", "/"], ["data", UNDEF]])],
  ["DISCONNECT data array", map([["type", 1], ["nsp", "/"], ["data", []]])],
  ["DISCONNECT with id", map([["type", 1], ["nsp", "/"], ["id", 1]])],
  ["CONNECT_ERROR data array", map([["type", 4], ["nsp", "/"], ["data", ["a"]]])],
  ["CONNECT_ERROR data string", map([["type", 4], ["nsp", "/"], ["data", "not authorized"]])],
  ["CONNECT_ERROR data object", map([["type", 4], ["nsp", "/"], ["data", { message: "m", data: { a: 1 } }]])],
  ["CONNECT_ERROR data {}", map([["type", 4], ["nsp", "/"], ["data", {}]])],
  ["CONNECT_ERROR no data", map([["type", 4], ["nsp", "/"]])],
  ["CONNECT_ERROR data nil", map([["type", 4], ["nsp", "/"], ["data", null]])],
  ["CONNECT_ERROR data int", map([["type", 4], ["nsp", "/"], ["data", 1]])],
  ["CONNECT_ERROR inner data undefined", map([["type", 4], ["nsp", "/"], ["data", map([["message", "m"], ["data", UNDEF]])]])],
  ["EVENT data map", ev({ a: 1 })],
  ["EVENT data string", ev("x")],
  ["EVENT data empty array", ev([])],
  ["EVENT data nil", ev(null)],
  ["EVENT data undefined", ev(UNDEF)],
  ["EVENT no data", map([["type", 2], ["nsp", "/"]])],
  ["EVENT name int", ev([1, 2])],
  ["EVENT name nil", ev([null])],
  ["EVENT name bin", ev(arr(E(Buffer.from("x"))))],
  ["EVENT name connect", ev(["connect"])],
  ["ACK", map([["type", 3], ["nsp", "/"], ["data", []], ["id", 0]])],
  ["ACK no id", map([["type", 3], ["nsp", "/"], ["data", ["a"]]])],
  ["ACK data map", map([["type", 3], ["nsp", "/"], ["data", {}], ["id", 0]])],
  ["ACK data string", map([["type", 3], ["nsp", "/"], ["data", "a"], ["id", 0]])],
  ["id string", ev(["x"], [["id", "1"]])],
  ["id float 1.0", ev(["x"], [["id", f64(1)]])],
  ["id float32 1.0", ev(["x"], [["id", f32(1)]])],
  ["id -1", ev(["x"], [["id", -1]])],
  ["id -0.0", ev(["x"], [["id", f64(-0)]])],
  ["id 1.5", ev(["x"], [["id", f64(1.5)]])],
  ["id nil", ev(["x"], [["id", null]])],
  ["id undefined", ev(["x"], [["id", UNDEF]])],
  ["id true", ev(["x"], [["id", true]])],
  ["id NaN", ev(["x"], [["id", f64(NaN)]])],
  ["id Infinity", ev(["x"], [["id", f64(Infinity)]])],
  ["id 2^53", ev(["x"], [["id", H("cf 00 20 00 00 00 00 00 00")]])],
  ["id 2^53+1", ev(["x"], [["id", H("cf 00 20 00 00 00 00 00 01")]])],
  ["id uint64 max", ev(["x"], [["id", H("cf ff ff ff ff ff ff ff ff")]])],
  ["id int64 min", ev(["x"], [["id", H("d3 80 00 00 00 00 00 00 00")]])],
  ["id 1e300", ev(["x"], [["id", f64(1e300)]])],
  ["id 2^32-1 uint32 form", ev(["x"], [["id", H("ce ff ff ff ff")]])],
  ["id 1 uint64 form", ev(["x"], [["id", H("cf 00 00 00 00 00 00 00 01")]])],
  ["id array", ev(["x"], [["id", [1]]])],
  ["extra keys", ev(["x"], [["foo", 1], ["options", { compress: true }], ["attachments", 1]])],
  ["duplicate type", map([["type", 0], ["nsp", "/"], ["data", ["x"]], ["type", 2]])],
  ["duplicate nsp", map([["type", 2], ["nsp", 1], ["data", ["x"]], ["nsp", "/b"]])],
  ["duplicate data", map([["type", 2], ["nsp", "/"], ["data", {}], ["data", ["y"]]])],
  ["duplicate id", ev(["x"], [["id", 1], ["id", "a"]])],
  ["duplicate data key", ev(arr("x", map([["a", 1], ["b", 2], ["a", 3]])))],
  ["keys reversed", map([["id", 5], ["data", ["x"]], ["nsp", "/"], ["type", 2]])],
  ["keys as str8", map([[H("d9 04 74 79 70 65"), 2], [H("da 00 03 6e 73 70"), "/"], [H("db 00 00 00 04 64 61 74 61"), ["x"]]])],
  ["packet as map16", cat("de 00 03", E("type"), E(2), E("nsp"), E("/"), E("data"), E(["x"]))],
  ["packet as map32", cat("df 00 00 00 03", E("type"), E(2), E("nsp"), E("/"), E("data"), E(["x"]))],
  ["data as array16", ev(H("dc 00 01 a1 78"))],
  ["data as array32", ev(H("dd 00 00 00 01 a1 78"))],
  ["int keys in packet", map([[E(1), 1], ["type", 2], ["nsp", "/"], ["data", ["x"]]])],
  ["ext8 type 0 (ArrayBuffer)", evData(H("c7 03 00 01 02 03"))],
  ["ext8 type 0 empty", evData(H("c7 00 00"))],
  ["ext16 type 0", evData(H("c8 00 02 00 aa bb"))],
  ["ext32 type 0", evData(H("c9 00 00 00 02 00 aa bb"))],
  ["ext8 type 5", evData(H("c7 02 05 aa bb"))],
  ["ext8 type -1", evData(H("c7 01 ff aa"))],
  ["ext16 type 7", evData(H("c8 00 01 07 aa"))],
  ["ext32 type 7", evData(H("c9 00 00 00 01 07 aa"))],
  ["fixext1 type 1", evData(H("d4 01 aa"))],
  ["fixext1 type 0 value 5", evData(H("d4 00 05"))],
  ["fixext2 type -2", evData(H("d5 fe aa bb"))],
  ["fixext4 type 3", evData(H("d6 03 01 02 03 04"))],
  ["fixext4 type -1 (timestamp32)", evData(H("d6 ff 00 00 00 01"))],
  ["fixext8 type 0 (Date 0)", evData(H("d7 00 00 00 00 00 00 00 00 00"))],
  ["fixext8 type 0 (Date 2020)", evData(H("d7 00 00 00 01 6f 5e 66 e8 00"))],
  ["fixext8 type 0 (Date negative)", evData(H("d7 00 ff ff ff ff ff ff ff ff"))],
  ["fixext8 type 0 (invalid Date)", evData(H("d7 00 7f ff ff ff ff ff ff ff"))],
  ["fixext8 type 9", evData(H("d7 09 01 02 03 04 05 06 07 08"))],
  ["fixext16 type 4", evData(H("d8 04 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f"))],
  ["undefined in array", evData(UNDEF, 1)],
  ["undefined in map", evData(map([["a", UNDEF], ["b", 1]]))],
  ["undefined as map key", evData(map([[UNDEF, 1]]))],
  ["float32 1.5", evData(f32(1.5))],
  ["float32 0.1", evData(f32(0.1))],
  ["float32 NaN", evData(f32(NaN))],
  ["float32 Infinity", evData(f32(Infinity))],
  ["float64 NaN", evData(f64(NaN))],
  ["float64 -Infinity", evData(f64(-Infinity))],
  ["float64 -0", evData(f64(-0))],
  ["float64 integral 3.0", evData(f64(3))],
  ["uint64 2^32", evData(H("cf 00 00 00 01 00 00 00 00"))],
  ["uint64 2^53+1", evData(H("cf 00 20 00 00 00 00 00 01"))],
  ["uint64 max", evData(H("cf ff ff ff ff ff ff ff ff"))],
  ["int64 -1", evData(H("d3 ff ff ff ff ff ff ff ff"))],
  ["int64 min", evData(H("d3 80 00 00 00 00 00 00 00"))],
  ["int64 -2^53-1", evData(H("d3 ff df ff ff ff ff ff ff"))],
  ["int64 positive 5", evData(H("d3 00 00 00 00 00 00 00 05"))],
  ["int8 -128", evData(H("d0 80"))],
  ["int16 -1", evData(H("d1 ff ff"))],
  ["int32 min", evData(H("d2 80 00 00 00"))],
  ["uint8 5 (non-minimal)", evData(H("cc 05"))],
  ["map key int", evData(map([[E(1), "a"]]))],
  ["map key negative int", evData(map([[E(-5), "a"]]))],
  ["map key float", evData(map([[f64(1.5), "a"]]))],
  ["map key nil", evData(map([[E(null), "a"]]))],
  ["map key true", evData(map([[E(true), "a"]]))],
  ["map key array", evData(map([[E([1, 2]), "a"]]))],
  ["map key map", evData(map([[E({}), "a"]]))],
  ["map key bin", evData(map([[E(Buffer.from("k")), "a"]]))],
  ["map keys int and string collide", evData(map([[E(1), "a"], ["1", "b"]]))],
  ["map integer-like keys reordered", evData(map([["b", 1], ["2", 2], ["a", 3], ["1", 4]]))],
  ["__proto__ map in data", evData(map([["__proto__", { polluted: 1 }], ["a", 1]]))],
  ["__proto__ int in data", evData(map([["__proto__", 1], ["a", 1]]))],
  ["__proto__ nil in data", evData(map([["__proto__", null], ["a", 1]]))],
  ["__proto__ array in data", evData(map([["__proto__", [1]], ["a", 1]]))],
  ["__proto__ packet fields", map([["__proto__", { type: 2, nsp: "/", data: ["x"] }]])],
  ["__proto__ packet type only", map([["__proto__", { type: 3, id: 1 }], ["nsp", "/"], ["data", ["x"]]])],
  ["__proto__ shadowed", map([["__proto__", { type: 5 }], ["type", 2], ["nsp", "/"], ["data", ["x"]]])],
  ["__proto__ as CONNECT data", map([["type", 0], ["nsp", "/"], ["data", map([["__proto__", { a: 1 }]])]])],
  ["__proto__ array as CONNECT data", map([["type", 0], ["nsp", "/"], ["data", map([["__proto__", []]])]])],
  ["0xc1 top-level", "c1"],
  ["0xc1 in data", evData(H("c1"))],
  ["0xc1 as key", cat("81 c1 02")],
  ["trailing byte", cat(ev(["x"]), "00")],
  ["trailing bytes", cat(ev(["x"]), "c0 c0")],
  ["two packets", cat(ev(["x"]), ev(["y"]))],
  ["str invalid utf-8", evData(H("a2 ff fe"))],
  ["str overlong", evData(H("a2 c0 af"))],
  ["str encoded surrogate", evData(H("a3 ed a0 80"))],
  ["str truncated sequence", evData(H("a2 e2 82"))],
  ["str 5-byte sequence", evData(H("a5 f8 88 80 80 80"))],
  ["str above U+10FFFF", evData(H("a4 f4 90 80 80"))],
  ["str with NUL", evData(H("a3 61 00 62"))],
  ["str BOM", evData(H("a3 ef bb bf"))],
  ["event name invalid utf-8", ev(arr(H("a1 ff")))],
  ["key invalid utf-8", evData(map([[H("a1 ff"), 1]]))],
  ["deep nesting 32", evData(H("91".repeat(31) + "c0"))],
  ["deep nesting 100", evData(H("91".repeat(99) + "c0"))],
  ["deep maps 32", evData(H("81 a1 61".repeat(31) + "c0"))],
  // Found by a differential run. A key whose last value is undefined: JavaScript keeps it as
  // undefined, JSON.stringify leaves it out.
  ["duplicate key last value undefined", ev(arr("e", map([["a", 1], ["a", UNDEF]])))],
  ["duplicate key undefined then defined", evData(map([["a", 1], ["b", 2], ["a", UNDEF], ["a", 3]]))],
  ["duplicate key first undefined", evData(map([["a", UNDEF], ["b", 2], ["a", 3]]))],
  ["duplicate key binary then undefined", evData(map([["a", E(Buffer.from([1]))], ["b", E(Buffer.from([2]))], ["a", UNDEF]]))],
  ["duplicate int and string key last undefined", evData(map([[E(1), "x"], ["1", UNDEF]]))],
  ["duplicate key undefined in nested maps", evData(map([["a", map([["b", 1], ["b", UNDEF], ["c", E(Buffer.from([3]))]])], ["a", UNDEF], ["d", E(Buffer.from([4]))]]))],
  // An overridden value's binaries are gone from the object.
  ["duplicate key binary overridden", evData(map([["a", E(Buffer.from([1]))], ["b", E(Buffer.from([2]))], ["a", 3]]))],
  ["duplicate key binaries overridden by a map", evData(map([["a", arr(E(Buffer.from([1])), E(Buffer.from([5])))], ["a", map([["c", E(Buffer.from([6]))]])], ["b", E(Buffer.from([2]))]]))],
  // Keys that are not strings become String(key): a binary or an array may name a packet field.
  ["packet key bin type", map([[E(Buffer.from("type")), 2], ["nsp", "/"], ["data", ["e"]]])],
  ["packet key array type", map([[arr("type"), 2], ["nsp", "/"], ["data", ["e"]]])],
  ["packet key bin id", map([["type", 2], ["nsp", "/"], ["data", ["e"]], [E(Buffer.from("id")), 7]])],
  ["packet key nested array bin nsp", map([["type", 2], [arr(arr(E(Buffer.from("nsp")))), "/b"], ["data", ["e"]]])],
  ["packet key array data", map([["type", 2], ["nsp", "/"], [arr("data"), ["e"]]])],
  ["packet key array of two", map([[arr("ty", "pe"), 2], ["nsp", "/"], ["data", ["e"]]])],
  ["packet key bin type overrides", map([["type", 0], ["nsp", "/"], ["data", ["e"]], [E(Buffer.from("type")), 2]])],
  ["packet key bin invalid utf-8", map([[H("c4 05 74 79 70 ff 65"), 2], ["type", 2], ["nsp", "/"], ["data", ["e"]]])],
  ["packet key map", map([[E({}), 5], ["type", 2], ["nsp", "/"], ["data", ["e"]]])],
  ["packet key date", map([[H("d7 00 00 00 00 00 00 00 00 00"), 2], ["type", 2], ["nsp", "/"], ["data", ["e"]]])],
  ["packet key ext", map([[H("d4 01 aa"), 2], ["type", 2], ["nsp", "/"], ["data", ["e"]]])],
  ["packet key bin __proto__", map([[E(Buffer.from("__proto__")), { type: 2, nsp: "/", data: ["p"] }], ["type", 2], ["nsp", "/"], ["data", ["e"]]])],
  ["packet key map with toString", map([[E({ toString: 1 }), 5], ["type", 2], ["nsp", "/"], ["data", ["e"]]])],
  ["packet key map with null prototype", map([[map([["__proto__", null]]), 5], ["type", 2], ["nsp", "/"], ["data", ["e"]]])],
  ["packet key map with array prototype", map([[map([["__proto__", ["type"]]]), 2], ["nsp", "/"], ["data", ["e"]]])],
  ["packet key map with toString then short value", cat("81", E({ toString: 1 }), "d9")],
  ["map key map with bin toString", evData(map([[map([[E(Buffer.from("toString")), 1]]), 1]]))],
  ["map key array holding a map with toString", evData(map([[arr(1, map([["toString", 1]])), 1]]))],
  ["map key array of arrays", evData(map([[arr(arr(1, 2), arr(3)), 1]]))],
  ["map key array of nil undefined true", evData(map([[arr(null, UNDEF, true), 1]]))],
  ["map key array of floats", evData(map([[cat("93", f64(1.5), f64(NaN), f64(-0)), 1]]))],
  ["map key array holding a map", evData(map([[arr(E({})), 1]]))],
  ["map key map with valueOf", evData(map([[E({ valueOf: 1 }), 1]]))],
  ["map key ext8", evData(map([[H("c7 03 05 61 62 63"), 1]]))],
  ["map key ext -1", evData(map([[H("d4 ff 61"), 1]]))],
  ["map key arraybuffer", evData(map([[H("c7 01 00 aa"), 1]]))],
  ["map key bin with escapes", evData(map([[E(Buffer.from("a\"\\\n\u0001")), 1]]))],
  ["map key bin __proto__", evData(map([[E(Buffer.from("__proto__")), { a: 1 }], ["b", 1]]))],
  ["map key date", evData(map([[H("d7 00 00 00 00 00 00 00 00 00"), 1]]))],
  ["map key bin _placeholder", evData(map([[E(Buffer.from("_placeholder")), true], ["num", 0]]))],
  // The depth limit (127 levels of the JSON view here): at it, and one level more.
  ["deep nesting 127", evData(H("91".repeat(126) + "c0"))],
  ["deep nesting 128", evData(H("91".repeat(127) + "c0"))],
  ["deep binary 127", evData(H("91".repeat(125) + "c4 01 01"))],
  ["deep binary 128", evData(H("91".repeat(126) + "c4 01 01"))],
  ["deep ext 127", evData(H("91".repeat(124) + "d4 05 aa"))],
  ["deep ext 128", evData(H("91".repeat(125) + "d4 05 aa"))],
  ["deep key nesting 128", evData(H("91".repeat(125) + "81 91 c0 01"))],
];
// Lengths announced beyond the end, in every form, at the end of the input and inside a packet.
const SHORT = {
  "fixstr": "a5 61 62", "str8": "d9 05 61 62", "str16": "da 00 05 61 62", "str32": "db 00 00 00 05 61 62",
  "str32 huge": "db ff ff ff ff 61", "bin8": "c4 05 01 02", "bin16": "c5 00 05 01 02", "bin32": "c6 00 00 00 05 01 02",
  "bin32 huge": "c6 ff ff ff ff 01", "fixarray": "93 01", "array16": "dc 00 03 01", "array32": "dd 00 00 00 03 01",
  "array32 huge": "dd ff ff ff ff 01", "fixmap": "82 a1 61 01", "map16": "de 00 02 a1 61 01", "map32": "df 00 00 00 02 a1 61 01",
  "map32 huge": "df ff ff ff ff a1 61 01", "map key without value": "81 a1 61", "ext8": "c7 05 01 aa", "ext8 type 0": "c7 05 00 aa",
  "ext16": "c8 00 05 01 aa", "ext16 type 0": "c8 00 05 00 aa", "ext32": "c9 00 00 00 05 01 aa", "ext32 type 0": "c9 00 01 00 00 00 aa",
  "fixext1": "d4 01", "fixext1 type 0": "d4 00", "fixext2": "d5 01 aa", "fixext4": "d6 01 aa", "fixext8": "d7 01 aa",
  "fixext8 type 0": "d7 00 00 00", "fixext16": "d8 01 aa", "float32": "ca 3f c0", "float64": "cb 3f f8 00",
  "uint8": "cc", "uint16": "cd 01", "uint32": "ce 00 01", "uint64": "cf 00 00 00 01", "int8": "d0", "int16": "d1 ff",
  "int32": "d2 ff ff", "int64": "d3 ff ff ff ff", "str8 header": "d9", "str16 header": "da 00", "str32 header": "db 00 00 00",
  "bin8 header": "c4", "bin16 header": "c5 00", "array16 header": "dc 00", "array32 header": "dd 00 00", "map16 header": "de 00",
  "map32 header": "df 00 00", "ext8 header": "c7 01", "ext16 header": "c8 00 01", "ext32 header": "c9 00 00 00 01",
};
for (const [name, hex] of Object.entries(SHORT)) {
  HAND.push([`short ${name} top-level`, hex]);
  // At the end of the packet, and in the middle of it (before "nsp").
  HAND.push([`short ${name} at end`, cat(map([["type", 2], ["nsp", "/"], ["data", H(`92 a1 78 ${hex}`)]]))]);
  HAND.push([`short ${name} inside`, cat("83", E("type"), E(2), E("data"), H(`92 a1 78 ${hex}`), E("nsp"), E("/"))]);
}
HAND.push(["truncated packet key", cat("83", E("type"), E(2), "a3 6e 73")]);
HAND.push(["truncated after map header", "83"]);
for (const [label, bytes] of HAND) pushDecode(typeof bytes === "string" ? H(bytes) : bytes, label);

// Mutated encodings: 1 or 2 byte replacements, insertions, deletions, truncations or appends; the
// largest encodings only truncated.
const small = sources.filter((b) => b.length <= 2048);
const large = sources.filter((b) => b.length > 2048 && b.length < 200000);
for (let i = 0; i < 1700; i++) pushDecode(mutate(pick(small), false));
for (let i = 0; i < 8; i++) pushDecode(mutate(pick(large), true));

// ---- (c) the design table D.11 -----------------------------------------------------------------

const D11 = [
  ["MP-01", { type: 0, nsp: "/" }, "82 a4 74 79 70 65 00 a3 6e 73 70 a1 2f"],
  ["MP-02", { type: 0, data: { sid: "abc" }, nsp: "/" }, "83 a4 74 79 70 65 00 a4 64 61 74 61 81 a3 73 69 64 a3 61 62 63 a3 6e 73 70 a1 2f"],
  ["MP-03", { type: 2, data: ["hello", 1], nsp: "/" }, "83 a4 74 79 70 65 02 a4 64 61 74 61 92 a5 68 65 6c 6c 6f 01 a3 6e 73 70 a1 2f"],
  ["MP-04", { type: 2, nsp: "/", data: ["hello", "you"] }, "83 a4 74 79 70 65 02 a3 6e 73 70 a1 2f a4 64 61 74 61 92 a5 68 65 6c 6c 6f a3 79 6f 75"],
  ["MP-05", { type: 2, data: ["hello"], nsp: "/", id: 1 }, "84 a4 74 79 70 65 02 a4 64 61 74 61 91 a5 68 65 6c 6c 6f a3 6e 73 70 a1 2f a2 69 64 01"],
  ["MP-06", { type: 2, data: ["bin", Buffer.from([1, 2, 3])], nsp: "/admin" }, "83 a4 74 79 70 65 02 a4 64 61 74 61 92 a3 62 69 6e c4 03 01 02 03 a3 6e 73 70 a6 2f 61 64 6d 69 6e"],
  ["MP-07", { type: 3, data: [], nsp: "/", id: 0 }, "84 a4 74 79 70 65 03 a4 64 61 74 61 90 a3 6e 73 70 a1 2f a2 69 64 00"],
  ["MP-08", { type: 2, data: ["x", undefined], nsp: "/" }, "83 a4 74 79 70 65 02 a4 64 61 74 61 92 a1 78 d4 00 00 a3 6e 73 70 a1 2f"],
  ["MP-09", { type: 2, data: ["f", 1.5, -1, 300, true, null], nsp: "/" }, "83 a4 74 79 70 65 02 a4 64 61 74 61 96 a1 66 cb 3f f8 00 00 00 00 00 00 ff cd 01 2c c3 c0 a3 6e 73 70 a1 2f"],
  ["MP-E1", { type: 5, nsp: "/", data: ["x"] }, null, "invalid packet type"],
  ["MP-E2", { type: 2, nsp: 1, data: ["x"] }, null, "invalid namespace"],
  ["MP-E3", { type: 2, nsp: "/", data: {} }, null, "invalid payload"],
  ["MP-E4", { type: 2, nsp: "/", data: ["x"], id: "1" }, null, "invalid packet id"],
  ["MP-D1", { type: 2, nsp: "/", data: ["connect"] }, null, null],
];
for (const [id, object, expected, expectedError] of D11) {
  const buf = notepack.encode(object);
  const hex = buf.toString("hex");
  const result = decodeReference(buf);
  const v = { kind: "d11", id, hex };
  if (expected !== null) {
    v.expected_hex = expected.replace(/ /g, "");
    v.match = v.expected_hex === hex;
    console.log(`${id}: ${v.match ? "matches" : `DIFFERS: ${hex}`}`);
  } else {
    const ok = expectedError ? result.error === expectedError : !!result.packet;
    console.log(`${id}: ${hex} -> ${JSON.stringify(result)} ${ok ? "as expected" : "UNEXPECTED"}`);
  }
  v.result = result;
  vectors.push(v);
  counts.d11++;
}

const out = "[\n" + vectors.map((v) => JSON.stringify(v)).join(",\n") + "\n]\n";
fs.writeFileSync(path.join(__dirname, "msgpack-vectors.json"), out);
console.log(`wrote ${vectors.length} vectors, ${out.length} characters`);
console.log(JSON.stringify(counts, null, 1));
