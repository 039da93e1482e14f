// The real Admin UI (`@socket.io/admin-ui` 0.5.1's ui/dist, served by our server under
// /admin-ui/) in headless Chromium, against our server, with an official socket.io-client
// 4.8.4 client connected beside it.
//
//   node admin-ui-browser.mjs --url http://127.0.0.1:PORT --login USER:PASSWORD
//        --server-id ID --screenshot PATH
//
// Logs in through the connection form, finds the server (by its id) and the client's socket
// in the UI, joins the socket to a room from the socket's page (the client then gets that
// room's broadcasts), disconnects it from there (the client is told "io server disconnect"),
// and keeps a screenshot of the dashboard. One JSON line per case; exit code 0 only if all
// passed.

import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";
import { runCases, assert } from "./common.mjs";

const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const URL = option("--url");
const [USER, PASSWORD] = (option("--login") ?? ":").split(":");
const SERVER_ID = option("--server-id");
const SCREENSHOT = option("--screenshot");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!URL || !SERVER_ID || !existsSync(executablePath)) {
  console.error("usage: node admin-ui-browser.mjs --url URL --login USER:PASSWORD --server-id ID (and Chromium)");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
page.on("console", (m) => m.type() === "error" && process.stderr.write(`[page] ${m.text()}\n`));

const client = io(URL, { transports: ["websocket"], forceNew: true, reconnection: false });
await new Promise((resolve, reject) => {
  client.once("connect", resolve);
  client.once("connect_error", reject);
});
const clientId = client.id;
const roomMessages = [];
client.on("room-message", (...a) => roomMessages.push(a));
const disconnected = new Promise((resolve) => client.once("disconnect", resolve));

/** Moves the single-page UI to `hash` without reloading it. */
async function go(hash) {
  await page.evaluate((h) => {
    window.location.hash = h;
  }, hash);
}

await runCases(
  [
    {
      name: "log-in",
      timeout: 20000,
      run: async () => {
        await page.goto(`${URL}/admin-ui/`);
        await page.getByLabel("Server URL").fill(URL);
        await page.getByLabel("Username").fill(USER);
        await page.getByLabel("Password").fill(PASSWORD);
        await page.getByRole("button", { name: "Connect" }).click();
        await page.getByLabel("Server URL").waitFor({ state: "hidden", timeout: 10000 });
      },
    },
    {
      name: "server-listed",
      timeout: 15000,
      run: async () => {
        await go("#/servers/");
        await page.getByText(SERVER_ID).first().waitFor({ timeout: 10000 });
      },
    },
    {
      name: "socket-listed",
      timeout: 15000,
      run: async () => {
        await go("#/sockets/");
        await page.getByText(clientId).first().waitFor({ timeout: 10000 });
      },
    },
    {
      name: "join-from-the-socket-page",
      timeout: 20000,
      run: async () => {
        await go(`#/n/${encodeURIComponent("/")}/sockets/${clientId}`);
        const field = page.getByLabel("Join a room");
        await field.fill("from-the-ui");
        await page.locator("button:has(.mdi-tag-plus-outline)").first().click();
        // The room appears in the socket's table once the server reports the join.
        await page.getByRole("cell", { name: "from-the-ui" }).first().waitFor({ timeout: 10000 });
        // The client is in the room now: a broadcast to it arrives.
        const other = io(URL, { transports: ["websocket"], forceNew: true, reconnection: false });
        await new Promise((resolve) => other.once("connect", resolve));
        other.emit("to-room", "from-the-ui", "hello room");
        const deadline = Date.now() + 5000;
        while (!roomMessages.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        other.close();
        assert(roomMessages.length && roomMessages[0][0] === "hello room", "the room's broadcast did not arrive");
      },
    },
    {
      name: "dashboard-screenshot",
      timeout: 15000,
      run: async () => {
        await go("#/");
        await page.waitForTimeout(2500);
        if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true });
      },
    },
    {
      name: "disconnect-from-the-socket-page",
      timeout: 20000,
      run: async () => {
        await go(`#/n/${encodeURIComponent("/")}/sockets/${clientId}`);
        await page.getByText(clientId).first().waitFor({ timeout: 10000 });
        await page.locator("button:has(.mdi-logout)").first().click();
        const reason = await Promise.race([
          disconnected,
          new Promise((resolve) => setTimeout(() => resolve("not disconnected"), 8000)),
        ]);
        assert(reason === "io server disconnect", `the client: ${reason}`);
      },
    },
  ],
  {
    closeClient: () => {},
  },
);
