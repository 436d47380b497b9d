// The deployment in deploy/nginx-stream.conf, end to end: Debian's nginx
// as a TCP proxy terminates TLS and sends the PROXY protocol to both of
// the binary's ports (-proxy-protocol); two Chromium pages that trust the
// test certificate load the demo over https:// and play gomoku over
// wss://. nginx connects from PROXY_SOURCE, the only trusted proxy, so
// the server knows the players' own address only from the PROXY headers.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "./harness.mjs";
import { PROXY_SOURCE, startNginxStream } from "./nginx.mjs";
import { withFreePorts } from "./ports.mjs";
import { startServer } from "./tickroom-server.mjs";

const wait = { timeout: 20_000 };
const ADMIN_TOKEN = "proxy-protocol-test-admin-token";

describe("demo behind an nginx stream proxy with the PROXY protocol", { timeout: 180_000 }, () => {
  let server;
  let proxy;
  let browser;

  before(async () => {
    // The server is told nginx's WebSocket port: both start again on
    // fresh ports when one was taken before nginx bound it.
    ({ server, proxy } = await withFreePorts(["play", "ws"], async (ports) => {
      const server = await startServer([
        "-trusted-proxies", PROXY_SOURCE, "-proxy-protocol",
        "-public-ws-url", `wss://127.0.0.1:${ports.ws}/v1/ws`, "-admin-token", ADMIN_TOKEN,
      ]);
      server.adminAddr = new URL(await server.adminUrl).host;
      try {
        return { server, proxy: await startNginxStream(server, ports) };
      } catch (err) {
        await server.stop();
        throw err;
      }
    }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${proxy.cert.spki}`],
      headless: true,
      timeout: 60_000,
    });
  });

  after(async () => {
    await browser?.close();
    await proxy?.stop();
    await server?.stop();
  });

  async function player(name) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    const sockets = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
    page.on("websocket", (ws) => sockets.push(ws.url()));
    const res = await page.goto(`${proxy.playUrl}/`);
    assert.equal(res.status(), 200);
    assert.equal((await res.securityDetails())?.subjectName, "tickroom test", "the page came over TLS with the test certificate");
    await page.waitForSelector("body[data-ready=true]", wait);
    await page.fill("#login-name", name);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("body[data-connection=open]", wait);
    return { name, page, errors, sockets, context };
  }

  async function play(p, seat, x, y) {
    await p.page.waitForSelector(`#gomoku-board[data-turn="${seat}"]`, wait);
    await p.page.click(`#gomoku-board [data-x="${x}"][data-y="${y}"]`);
  }

  async function stonesOn(ps, n) {
    for (const p of ps) await p.page.waitForSelector(`#gomoku-board[data-stones="${n}"]`, wait);
  }

  test("two pages play gomoku to a win, known by their own address", async () => {
    const ann = await player("ann");
    const bob = await player("bob");
    for (const p of [ann, bob]) {
      assert.deepEqual(p.sockets.map((u) => u.replace(/\?.*/, "")), [proxy.wsUrl], `${p.name}'s WebSocket goes through the stream proxy`);
    }
    await ann.page.click("[data-quick=gomoku]");
    await ann.page.waitForSelector("#game-view[data-game=gomoku][data-seat]", wait);
    await bob.page.click("[data-quick=gomoku]");
    await bob.page.waitForSelector("#game-view[data-game=gomoku][data-seat]", wait);
    let n = 0;
    for (let i = 0; i < 4; i++) {
      await play(ann, 1, i, 0);
      await stonesOn([ann, bob], ++n);
      await play(bob, 2, i, 1);
      await stonesOn([ann, bob], ++n);
    }
    await play(ann, 1, 4, 0);
    await ann.page.waitForFunction(() => document.getElementById("game-status")?.textContent?.startsWith("You win"), null, wait);
    await bob.page.waitForFunction(() => document.getElementById("game-status")?.textContent?.startsWith("ann wins"), null, wait);

    // Every connection's TCP peer is PROXY_SOURCE; the players' address
    // (127.0.0.1) reached the server only in the PROXY headers.
    const res = await fetch(`http://${server.adminAddr}/v1/admin/players`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 200);
    const remotes = (await res.json()).flatMap((p) => p.connections.map((c) => c.remote));
    assert.deepEqual(remotes, ["127.0.0.1", "127.0.0.1"]);
    assert.deepEqual([...ann.errors, ...bob.errors], []);
    await ann.context.close();
    await bob.context.close();
  });
});
