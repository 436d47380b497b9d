// The demo's arena with more players than a palette of eight, in headless
// Chromium against the real server binary: a page and nine players made
// by this library in Node share one arena, and the page's scoreboard,
// beside the canvas, gives each of the ten a colour of its own (the
// canvas draws each avatar in its scoreboard colour). A screenshot goes to
// test-artifacts/demo-arena-ten.png (git-ignored).
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { WebSocket } from "ws";
import { CHROMIUM, CHROMIUM_ARGS, ROOT } from "./harness.mjs";
import { startServer } from "./tickroom-server.mjs";

const { connect, login, webSocketUrl } = await import("../../dist/browser/tickroom.js");

/** ARTIFACTS is where screenshots go (git-ignored). */
const ARTIFACTS = join(ROOT, "test-artifacts");

// wait bounds every wait on the page; generous for a busy shared machine,
// and never part of what is asserted.
const wait = { timeout: 20_000 };

describe("demo arena with ten players", { timeout: 180_000 }, () => {
  let server;
  let browser;
  const clients = [];

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    // Ten guests log in from one address: more than the default burst.
    server = await startServer(["-guest-login-burst", "50"]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  });

  after(async () => {
    for (const c of clients) c.close();
    await browser?.close();
    await server?.stop();
  });

  test("every player has a colour of its own past eight", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(msg.text());
    });
    await page.goto(`${server.httpUrl}/`);
    await page.waitForSelector("body[data-ready=true]", wait);
    await page.fill("#login-name", "lee");
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("body[data-connection=open]", wait);
    await page.click("[data-quick=arena]");
    await page.waitForSelector("#game-view[data-game=arena][data-seat]", wait);
    const room = await page.getAttribute("#game-view", "data-room");

    const names = ["lee"];
    for (let i = 1; i <= 9; i++) {
      const name = `bot${i}`;
      const session = await login(name, { baseUrl: server.httpUrl });
      const client = await connect({ url: await webSocketUrl(server.httpUrl), token: session.token, WebSocket });
      clients.push(client);
      await client.joinRoom(room);
      names.push(name);
    }

    await page.waitForSelector("#scores[data-players='10']", wait);
    // Queried and read in one task, once all ten rows show: the list is
    // redrawn as scores change, and a row taken out of the page has no
    // computed colour.
    const rows = await (
      await page.waitForFunction(() => {
        const read = [...document.querySelectorAll("#scores li")].map((li) => {
          const swatch = li.querySelector(".swatch");
          return { name: li.querySelector(".score-name")?.textContent, color: swatch?.isConnected ? getComputedStyle(swatch).backgroundColor : "" };
        });
        return read.length === 10 && read.every((r) => r.color) ? read : null;
      }, null, wait)
    ).jsonValue();
    assert.deepEqual(rows.map((r) => r.name).sort(), names.sort());
    const colors = new Set(rows.map((r) => r.color));
    assert.equal(colors.size, 10, `ten players share colours: ${rows.map((r) => `${r.name} ${r.color}`).join(", ")}`);
    await page.screenshot({ path: join(ARTIFACTS, "demo-arena-ten.png") });
    assert.deepEqual(errors, []);
    await context.close();
  });
});
