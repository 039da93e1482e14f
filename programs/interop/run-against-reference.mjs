// Runs the interop client scripts against the official socket.io server
// (reference-server.mjs, connection state recovery on), in every transport
// mode. This is how the scripts themselves are validated before they are
// used against the Rust server.
//
// Usage:
//   node run-against-reference.mjs [--scripts client-v4.mjs,client-v2.mjs]
//        [--transports polling,websocket,upgrade] [--parsers text,msgpack]
//        [--restart-signal SIGTERM]
//
// Parsers: every script runs with the text parser against a text server; the
// scripts that take `--parser msgpack` (client-v4.mjs: socket.io-msgpack-parser
// is Socket.IO v5 only) run once more with it against a second server started
// with `--parser msgpack` (restarted with it too).
//
// RESTART handshake (same protocol the Rust integration test implements):
//   when a client script prints the plain line `RESTART` on stdout, the
//   harness stops the server (signal, default SIGTERM; SIGKILL simulates a
//   crash), waits for the process to exit, starts a new server on the SAME
//   port and waits for its `LISTENING <port>` line. The client meanwhile
//   waits for its disconnection and automatic reconnection.
//
// Prints every JSON result line prefixed with the script and transport, then a
// summary. Exit code 0 only if every script exited 0 in every transport.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const CLIENT_TIMEOUT_MS = 120_000;
/** The scripts that accept `--parser msgpack`. */
const MSGPACK_SCRIPTS = ["client-v4.mjs"];

function parseArgs(argv) {
  const opts = {
    scripts: ["client-v4.mjs", "client-v2.mjs"],
    transports: ["polling", "websocket", "upgrade"],
    parsers: ["text", "msgpack"],
    restartSignal: "SIGTERM",
  };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case "--scripts":
        opts.scripts = value.split(",").filter(Boolean);
        i++;
        break;
      case "--transports":
        opts.transports = value.split(",").filter(Boolean);
        i++;
        break;
      case "--parsers":
        opts.parsers = value.split(",").filter(Boolean);
        for (const parser of opts.parsers) {
          if (parser !== "text" && parser !== "msgpack") throw new Error(`unknown parser: ${parser}`);
        }
        i++;
        break;
      case "--restart-signal":
        opts.restartSignal = value;
        i++;
        break;
      default:
        throw new Error(`unknown argument: ${argv[i]}`);
    }
  }
  return opts;
}

const options = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------
// Reference server process management
// ---------------------------------------------------------------------------

/**
 * Starts reference-server.mjs with `parser` on `port` (0 = any) and resolves
 * with `{ child, port }` once it printed `LISTENING <port>`.
 */
function startServer(port, parser) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(HERE, "reference-server.mjs"),
        "--port",
        String(port),
        "--recovery",
        "--parser",
        parser,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const lines = createInterface({ input: child.stdout });
    const onExit = (code) => reject(new Error(`reference server exited early (code ${code})`));
    child.once("exit", onExit);
    lines.on("line", (line) => {
      const match = /^LISTENING (\d+)$/.exec(line);
      if (match) {
        child.off("exit", onExit);
        resolve({ child, port: Number(match[1]) });
      }
    });
  });
}

/** Stops a server process with `signal` and resolves once it has exited. */
function stopServer(child, signal) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}

/** Starts a server on a fixed port, retrying briefly if it is still busy. */
async function restartOnPort(port, parser) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServer(port, parser);
    } catch (err) {
      if (attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// ---------------------------------------------------------------------------
// Client runs
// ---------------------------------------------------------------------------

/** The running reference server: `{ child, port }`, with `parser`. */
let server = null;
let parser = null;

/**
 * Runs one client script in one transport mode against `server`, handling
 * `RESTART` lines. Resolves with { exitCode, results }.
 */
function runClient(script, transport) {
  return new Promise((resolve) => {
    const label = `${script.replace(/\.mjs$/, "")} ${transport} ${parser}`;
    const port = server.port;
    const child = spawn(
      process.execPath,
      [
        join(HERE, script),
        "--url",
        `http://127.0.0.1:${port}`,
        "--transport",
        transport,
        ...(parser === "text" ? [] : ["--parser", parser]),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const results = [];
    const killer = setTimeout(() => child.kill("SIGKILL"), CLIENT_TIMEOUT_MS);

    createInterface({ input: child.stderr }).on("line", (line) => {
      process.stderr.write(`  [${label}] (stderr) ${line}\n`);
    });

    createInterface({ input: child.stdout }).on("line", async (line) => {
      if (line === "RESTART") {
        console.log(`  [${label}] RESTART requested: stopping the server (${options.restartSignal})`);
        const started = Date.now();
        await stopServer(server.child, options.restartSignal);
        server = await restartOnPort(port, parser);
        console.log(`  [${label}] server restarted on port ${port} in ${Date.now() - started} ms`);
        return;
      }
      try {
        const result = JSON.parse(line);
        results.push(result);
        console.log(`  [${label}] ${line}`);
      } catch {
        console.log(`  [${label}] (unexpected stdout) ${line}`);
      }
    });

    child.on("exit", (code, signal) => {
      clearTimeout(killer);
      resolve({ exitCode: code ?? signal, results });
    });
  });
}

// A script that fails against the reference is run once more before it counts as failed:
// the calibration checks what the scripts assert, and a rare timing miss of the official
// server under a loaded CI machine (seen once in client-v2 polling) is not that. The failed
// run's cases stay printed above the retry.
const summary = [];
for (parser of options.parsers) {
  const scripts = options.scripts.filter((s) => parser === "text" || MSGPACK_SCRIPTS.includes(s));
  if (scripts.length === 0) continue;
  server = await startServer(0, parser);
  console.log(`reference server (${parser} parser) listening on 127.0.0.1:${server.port}`);
  for (const script of scripts) {
    for (const transport of options.transports) {
      let row;
      for (let attempt = 1; attempt <= 2; attempt++) {
        console.log(
          `== ${script} --transport ${transport} --parser ${parser}${attempt > 1 ? " (retry)" : ""}`,
        );
        const { exitCode, results } = await runClient(script, transport);
        const passed = results.filter((r) => r.ok).length;
        row = { script, transport, parser, exitCode, passed, total: results.length, attempt };
        if (exitCode === 0 && passed === results.length && passed > 0) break;
        for (const r of results.filter((r) => !r.ok)) console.log(`FAILED CASE ${JSON.stringify(r)}`);
      }
      summary.push(row);
    }
  }
  await stopServer(server.child, "SIGTERM");
}

console.log("== summary");
let allOk = summary.length > 0;
for (const row of summary) {
  const ok = row.exitCode === 0 && row.passed === row.total && row.total > 0;
  allOk &&= ok;
  console.log(
    `${ok ? "PASS" : "FAIL"} ${row.script} ${row.transport} ${row.parser}: ${row.passed}/${row.total} cases, exit ${row.exitCode}${row.attempt > 1 ? " (after a retry)" : ""}`,
  );
}
process.exit(allOk ? 0 : 1);
