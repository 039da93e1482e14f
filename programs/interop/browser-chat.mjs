// Headless-browser test for the chat example page.
//
//   node browser-chat.mjs --url http://127.0.0.1:PORT
//
// Drives two real Chromium pages (separate browser contexts, so separate
// cookies and connections) against a running chat server and checks that
// nicknames, rooms, text messages, the typing indicator and binary image
// messages work end to end through the served page and client bundle.
//
// Prints one JSON line per case, e.g. {"case":"text-message","ok":true},
// and exits 0 only if every case passed (1 on failure, 2 on usage or
// environment problems). Page console errors are logged to stderr.

import { existsSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { chromium } from "playwright-core";

const OVERALL_TIMEOUT_MS = 30_000;
const STEP_TIMEOUT_MS = 8_000;
const ROOM = "test-room";
const TEXT = 'hello bob <b>not bold</b> & "quoted"';

// ---------------------------------------------------------------------------
// Command line and environment
// ---------------------------------------------------------------------------

function parseUrl(argv) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--url") return argv[i + 1];
    if (argv[i].startsWith("--url=")) return argv[i].slice("--url=".length);
  }
  return undefined;
}

const url = parseUrl(process.argv.slice(2));
if (!url) {
  console.error("usage: node browser-chat.mjs --url http://127.0.0.1:PORT");
  process.exit(2);
}

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!existsSync(executablePath)) {
  console.error(
    `Chromium not found at ${executablePath}; install Debian's chromium package ` +
      "(apt-get install chromium) or set CHROMIUM to the browser executable.",
  );
  process.exit(2);
}

// ---------------------------------------------------------------------------
// A tiny PNG, built from scratch so the test needs no fixture files
// ---------------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data, CRC over type + data. */
function pngChunk(type, data) {
  const typeAndData = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

/** Encode RGBA pixel rows (arrays of [r, g, b, a]) as a PNG file. */
function encodePng(rows) {
  const height = rows.length;
  const width = rows[0].length;
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // colour type: RGBA
  // compression, filter and interlace methods are all 0
  // Each scanline starts with filter type 0 ("None").
  const raw = Buffer.from(rows.flatMap((row) => [0, ...row.flat()]));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", deflateSync(raw)),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

const PNG = encodePng([
  [[230, 57, 70, 255], [69, 123, 157, 255]],
  [[42, 157, 143, 255], [244, 162, 97, 255]],
]);

// ---------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------

let failures = 0;

function report(name, ok, detail) {
  if (!ok) failures++;
  const line = { case: name, ok };
  if (detail !== undefined) line.detail = detail;
  console.log(JSON.stringify(line));
}

/** Run one case; report it and return whether it passed. */
async function runCase(name, fn) {
  try {
    const detail = await fn();
    report(name, true, detail);
    return true;
  } catch (err) {
    report(name, false, String((err && err.message) || err).split("\n")[0]);
    return false;
  }
}

function skip(names, reason) {
  for (const name of names) report(name, false, `skipped: ${reason}`);
}

// ---------------------------------------------------------------------------
// Page helpers
// ---------------------------------------------------------------------------

/** Forward console errors and uncaught exceptions from a page to stderr. */
function watchConsole(page, label) {
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const where = msg.location()?.url;
    console.error(`[${label}] console error: ${msg.text()}${where ? ` (${where})` : ""}`);
  });
  page.on("pageerror", (err) => console.error(`[${label}] page error: ${err.message}`));
}

const waitFor = (page, fn, arg) =>
  page.waitForFunction(fn, arg, { timeout: STEP_TIMEOUT_MS, polling: 50 });

function waitConnected(page) {
  return waitFor(page, () => document.querySelector("#status")?.textContent === "connected");
}

/** Names listed in #members (without the "you" tag). */
function waitMembers(page, expected) {
  return waitFor(
    page,
    (names) => {
      const listed = [...document.querySelectorAll("#members li")].map((li) => li.dataset.nickname);
      return names.every((n) => listed.includes(n));
    },
    expected,
  );
}

async function setNickname(page, name) {
  await page.fill("#nickname", name);
  await page.click("#set-nickname");
  await waitFor(page, (n) => document.querySelector("#me")?.textContent === n, name);
}

async function joinRoom(page, room) {
  await page.fill("#room", room);
  await page.click("#join");
  await waitFor(page, (r) => document.querySelector("#current-room")?.textContent === `#${r}`, room);
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

let browser;

async function closeBrowser() {
  const b = browser;
  browser = undefined;
  if (b) await b.close().catch(() => {});
}

const overallTimer = setTimeout(async () => {
  report("overall", false, `timed out after ${OVERALL_TIMEOUT_MS / 1000} s`);
  await closeBrowser();
  process.exit(1);
}, OVERALL_TIMEOUT_MS);

async function main() {
  let alice;
  let bob;

  const connected = await runCase("browser-pages-connect", async () => {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    // Two contexts = two independent browser profiles (fresh, in memory).
    alice = await (await browser.newContext()).newPage();
    bob = await (await browser.newContext()).newPage();
    watchConsole(alice, "alice");
    watchConsole(bob, "bob");
    await Promise.all([alice.goto(url), bob.goto(url)]);
    await Promise.all([waitConnected(alice), waitConnected(bob)]);
    return `chromium ${browser.version()}`;
  });
  if (!connected) {
    return skip(["set-nickname", "join-room", "typing", "text-message", "image-message"], "pages did not connect");
  }

  const named = await runCase("set-nickname", async () => {
    await setNickname(alice, "alice");
    await setNickname(bob, "bob");
  });
  if (!named) return skip(["join-room", "typing", "text-message", "image-message"], "nicknames not set");

  const joined = await runCase("join-room", async () => {
    await joinRoom(alice, ROOM);
    await joinRoom(bob, ROOM);
    // Bob's join ack lists both; Alice learns about Bob from a "members" push.
    await Promise.all([waitMembers(alice, ["alice", "bob"]), waitMembers(bob, ["alice", "bob"])]);
  });
  if (!joined) return skip(["typing", "text-message", "image-message"], "could not join the room");

  // Typing: start watching Bob's indicator, then let Alice type key by key.
  let typingSeen = null;
  try {
    await Promise.all([
      waitFor(bob, () => document.querySelector("#typing")?.textContent.includes("alice is typing")),
      alice.locator("#message").pressSequentially(TEXT, { delay: 10 }),
    ]);
  } catch (err) {
    typingSeen = err;
  }

  await runCase("text-message", async () => {
    await alice.press("#message", "Enter"); // Enter submits the composer form
    const received = await waitFor(bob, () => {
      const rows = [...document.querySelectorAll("#messages li.chat")];
      const row = rows.find((li) => li.querySelector(".from")?.textContent === "alice");
      if (!row) return false;
      return {
        text: row.querySelector(".text")?.textContent,
        injectedMarkup: row.querySelector(".text b") !== null, // must stay plain text
      };
    });
    const got = await received.jsonValue();
    if (got.text !== TEXT) throw new Error(`bob saw text ${JSON.stringify(got.text)}`);
    if (got.injectedMarkup) throw new Error("message text was rendered as HTML");
    // The sender sees their own message immediately (the server does not echo it).
    await waitFor(alice, (t) =>
      [...document.querySelectorAll("#messages li.chat")].some(
        (li) => li.querySelector(".from")?.textContent === "alice" && li.querySelector(".text")?.textContent === t,
      ), TEXT);
    const composer = await alice.inputValue("#message");
    if (composer !== "") throw new Error("message field was not cleared after sending");
  });

  await runCase("typing", async () => {
    if (typingSeen) throw new Error(`bob never showed "alice is typing": ${typingSeen.message.split("\n")[0]}`);
    // Sending stops the typing state; the indicator must clear (typing:false or ~2 s timeout).
    await waitFor(bob, () => document.querySelector("#typing")?.textContent.trim() === "");
  });

  await runCase("image-message", async () => {
    await alice.setInputFiles("#image-input", { name: "dots.png", mimeType: "image/png", buffer: PNG });
    // Decoded means the Blob URL loaded and the PNG has real dimensions.
    const decoded = (page) =>
      waitFor(page, () => {
        for (const li of document.querySelectorAll("#messages li.image")) {
          const img = li.querySelector("img.chat-image");
          if (li.querySelector(".from")?.textContent === "alice" && img?.complete && img.naturalWidth > 0) {
            return { width: img.naturalWidth, height: img.naturalHeight, src: img.src.slice(0, 5) };
          }
        }
        return false;
      });
    const got = await (await decoded(bob)).jsonValue();
    if (got.width !== 2 || got.height !== 2) throw new Error(`bob decoded a ${got.width}x${got.height} image`);
    await decoded(alice); // the sender's local preview
    return `${got.width}x${got.height} png, ${PNG.length} bytes, via ${got.src} URL`;
  });
}

try {
  await main();
} catch (err) {
  report("unexpected-error", false, String((err && err.message) || err).split("\n")[0]);
} finally {
  clearTimeout(overallTimer);
  await closeBrowser();
}
process.exit(failures === 0 ? 0 : 1);
