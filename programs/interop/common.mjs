// Shared helpers of the interop client scripts (client-v4.mjs, client-v2.mjs).
//
// Output protocol of every client script (consumed by the Rust integration
// test and by run-against-reference.mjs):
//   * one JSON line per case on stdout:
//       {"case":"<name>","ok":true}
//       {"case":"<name>","ok":false,"error":"..."}
//   * the plain line `RESTART` (only in client-v4's `restart` case) asking
//     the harness to stop the server and start it again on the same port;
//   * diagnostics go to stderr only;
//   * exit code 0 only when every selected case passed.

import { isDeepStrictEqual, inspect } from "node:util";

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

export const TRANSPORTS = ["polling", "websocket", "upgrade"];

/** Wire formats: socket.io-parser (the default) and socket.io-msgpack-parser. */
export const PARSERS = ["text", "msgpack"];

/**
 * Parses `--url URL --transport polling|websocket|upgrade [--parser text|msgpack]
 * [--cases a,b]`.
 * `--parser` is the wire format (text by default); a script that supports only
 * one passes `parsers: ["text"]`. `--cases` optionally restricts the run to a
 * comma separated subset of the case names (handy when debugging a single case
 * by hand).
 */
export function parseClientArgs(argv, knownCases, { parsers = PARSERS } = {}) {
  const opts = { url: null, transport: null, parser: "text", cases: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (arg === "--url") {
      opts.url = value;
      i++;
    } else if (arg === "--transport") {
      opts.transport = value;
      i++;
    } else if (arg === "--parser") {
      opts.parser = value;
      i++;
    } else if (arg === "--cases") {
      opts.cases = String(value).split(",").filter(Boolean);
      i++;
    } else {
      throw new Error(`unknown argument: ${arg}`);
    }
  }
  if (!opts.url) throw new Error("missing --url");
  if (!TRANSPORTS.includes(opts.transport)) {
    throw new Error(`--transport must be one of ${TRANSPORTS.join("|")}`);
  }
  if (!parsers.includes(opts.parser)) {
    throw new Error(`--parser must be one of ${parsers.join("|")}`);
  }
  opts.url = opts.url.replace(/\/+$/, ""); // namespaces are appended to it
  if (opts.cases) {
    for (const name of opts.cases) {
      if (!knownCases.includes(name)) throw new Error(`unknown case: ${name}`);
    }
  }
  return opts;
}

/**
 * Client options selecting the transports, identical for socket.io-client
 * 2.x and 4.x:
 *   polling   -> long-polling only, never upgrade
 *   websocket -> WebSocket from the start
 *   upgrade   -> start with polling, then upgrade to WebSocket
 */
export function transportOptions(transport) {
  switch (transport) {
    case "polling":
      return { transports: ["polling"], upgrade: false };
    case "websocket":
      return { transports: ["websocket"] };
    case "upgrade":
      return { transports: ["polling", "websocket"], upgrade: true };
    default:
      throw new Error(`unknown transport ${transport}`);
  }
}

// ---------------------------------------------------------------------------
// Small async utilities
// ---------------------------------------------------------------------------

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with `message` if `promise` is not settled within `ms`. */
export function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Records every occurrence of `event` on `emitter` from the moment it is
 * created, so a test can never miss an event that arrives before it starts
 * waiting for it. Works with both the 2.x (component-emitter) and the 4.x
 * (@socket.io/component-emitter) emitters.
 */
export class EventQueue {
  constructor(emitter, event) {
    this.event = event;
    this.items = []; // argument arrays not consumed yet
    this.all = []; // every argument array ever received
    this.waiters = [];
    emitter.on(event, (...args) => {
      this.all.push(args);
      const waiter = this.waiters.shift();
      if (waiter) waiter(args);
      else this.items.push(args);
    });
  }

  /** Resolves with the arguments of the next unconsumed occurrence. */
  next(ms = 3000) {
    if (this.items.length) return Promise.resolve(this.items.shift());
    let waiter;
    const promise = new Promise((resolve) => {
      waiter = resolve;
      this.waiters.push(resolve);
    });
    return withTimeout(promise, ms, `timed out waiting for "${this.event}"`).catch(
      (err) => {
        // a timed out waiter must not swallow a later event
        const index = this.waiters.indexOf(waiter);
        if (index !== -1) this.waiters.splice(index, 1);
        throw err;
      },
    );
  }

  /** Number of occurrences seen so far. */
  get count() {
    return this.all.length;
  }
}

/**
 * Waits for the first of several `events` on `emitter` and resolves with
 * `{ event, args }`. All temporary listeners are removed afterwards (both
 * emitter flavours implement `off`), so nothing leaks into later steps.
 */
export function firstEvent(emitter, events, ms = 3000) {
  return new Promise((resolve, reject) => {
    const listeners = new Map();
    const done = () => {
      clearTimeout(timer);
      for (const [event, listener] of listeners) emitter.off(event, listener);
    };
    for (const event of events) {
      const listener = (...args) => {
        done();
        resolve({ event, args });
      };
      listeners.set(event, listener);
      emitter.on(event, listener);
    }
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out waiting for ${events.map((e) => `"${e}"`).join(" or ")}`));
    }, ms);
  });
}

/**
 * Calls the async `probe()` every `intervalMs` until it resolves with
 * `{ ok: true, value }` and returns that value; throws `message` (with the
 * last value seen) once `ms` have elapsed.
 */
export async function pollUntil(probe, { ms = 2000, intervalMs = 50, message }) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await probe();
    if (last.ok) return last.value;
    if (Date.now() >= deadline) throw new Error(`${message} (last value: ${show(last.value)})`);
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------

/** True for Buffer, ArrayBuffer and any typed array / DataView. */
function isBinary(value) {
  return (
    value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value) ||
    (typeof Buffer !== "undefined" && Buffer.isBuffer(value))
  );
}

/**
 * Deeply converts binary values into `{ $binary: "<hex>" }` so that a Buffer
 * sent by the test and the ArrayBuffer / Buffer / Uint8Array handed back by a
 * client library compare equal when their bytes are equal.
 */
export function normalize(value) {
  if (isBinary(value)) {
    const bytes =
      value instanceof ArrayBuffer
        ? Buffer.from(value)
        : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { $binary: bytes.toString("hex") };
  }
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) out[key] = normalize(value[key]);
    return out;
  }
  return value;
}

/** Human readable rendering used in error messages. */
export function show(value) {
  return inspect(normalize(value), { depth: 8, breakLength: Infinity });
}

/** Throws unless `actual` and `expected` are deep-equal (bytes for binary). */
export function assertDeepEqual(actual, expected, what) {
  if (!isDeepStrictEqual(normalize(actual), normalize(expected))) {
    throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

/** Throws with `message` unless `condition` is truthy. */
export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * Checks the arguments of an event that the server emitted WITHOUT an ack.
 *
 * With connection state recovery enabled, socket.io 4.8.4 appends the packet
 * offset (a short string produced by `yeast()`) as an extra last argument of
 * such events (SessionAwareAdapter#broadcast in socket.io-adapter). The
 * expected leading arguments must match exactly; at most one extra trailing
 * string argument (the offset) is tolerated, so the check passes whether the
 * server has recovery enabled or not. Returns the offset (or null).
 */
export function assertEventArgs(actual, expected, what) {
  const extra = actual.length - expected.length;
  const offsetOk = extra === 0 || (extra === 1 && typeof actual.at(-1) === "string");
  if (!offsetOk) {
    throw new Error(
      `${what}: expected ${show(expected)} (+ optional offset), got ${show(actual)}`,
    );
  }
  assertDeepEqual(actual.slice(0, expected.length), expected, what);
  return extra === 1 ? actual.at(-1) : null;
}

// ---------------------------------------------------------------------------
// Case runner
// ---------------------------------------------------------------------------

/**
 * Per-case context: tracks every client created by the case so that they are
 * all closed at the end (pass or fail) and cases cannot interfere, and keeps
 * a `step` label that makes timeout errors readable.
 */
export class CaseContext {
  constructor(name, closeClient) {
    this.name = name;
    this.step = "start";
    this.clients = [];
    this.closeClient = closeClient;
  }

  /** Registers a client (socket) for cleanup and returns it. */
  track(client) {
    this.clients.push(client);
    return client;
  }

  /** Closes every tracked client; never throws. */
  cleanup() {
    for (const client of this.clients.splice(0)) {
      try {
        this.closeClient(client);
      } catch (err) {
        process.stderr.write(`[${this.name}] cleanup error: ${err.stack}\n`);
      }
    }
  }
}

/** Writes one line to stdout and resolves once it has been flushed. */
export function writeLine(line) {
  return new Promise((resolve) => process.stdout.write(`${line}\n`, resolve));
}

/**
 * Runs `cases` (array of {name, timeout, run(ctx)}) sequentially. Each case
 * gets its own timeout, prints exactly one JSON result line, and is followed
 * by the cleanup of its clients plus a short settle delay (so that the
 * server has processed their disconnections before the next case starts).
 * Exits the process: 0 when every case passed, 1 otherwise.
 */
export async function runCases(cases, { selected, closeClient, settleMs = 150 }) {
  let failures = 0;
  for (const testCase of cases) {
    if (selected && !selected.includes(testCase.name)) continue;
    const ctx = new CaseContext(testCase.name, closeClient);
    let result;
    try {
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`case timed out after ${testCase.timeout} ms (step: ${ctx.step})`),
            ),
          testCase.timeout,
        );
      });
      try {
        await Promise.race([testCase.run(ctx), timeout]);
      } finally {
        clearTimeout(timer);
      }
      result = { case: testCase.name, ok: true };
    } catch (err) {
      failures++;
      let message = err && err.message ? err.message : String(err);
      if (!message.includes("(step: ")) message += ` (step: ${ctx.step})`;
      result = { case: testCase.name, ok: false, error: message };
      process.stderr.write(`[${testCase.name}] ${err && err.stack ? err.stack : message}\n`);
    }
    ctx.cleanup();
    await writeLine(JSON.stringify(result));
    await sleep(settleMs);
  }
  // The client libraries may keep timers (reconnection, heartbeats) alive;
  // exit explicitly once every result line is flushed.
  process.exit(failures === 0 ? 0 : 1);
}
