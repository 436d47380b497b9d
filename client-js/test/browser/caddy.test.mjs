// The deployment in deploy/Caddyfile, end to end: Debian's caddy runs the
// shipped file unedited (its sites, upstreams and TLS line come from the
// environment) with a self-signed certificate in front of the tickroom
// binary; two Chromium pages that trust that one certificate load the demo
// over https://, play gomoku over wss:// on the same origin, a spectator
// feed streams through it, and an X-Forwarded-For a client forges does not
// reach the server.
import assert from "node:assert/strict";
import { get, request } from "node:https";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { startCaddy } from "./caddy.mjs";
import { CHROMIUM, CHROMIUM_ARGS, stateEvents } from "./harness.mjs";
import { startServer } from "./tickroom-server.mjs";

const wait = { timeout: 20_000 };
const ADMIN_TOKEN = "caddy-test-admin-token";

// fetchText requests url over https, trusting only the test certificate.
function fetchText(url, ca, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("demo behind caddy over https and wss", { timeout: 180_000 }, () => {
  let server;
  let proxy;
  let browser;

  before(async () => {
    server = await startServer([
      "-trusted-proxies", "127.0.0.1", "-public-ws-url", "/v1/ws", "-admin-token", ADMIN_TOKEN,
      // The two players' logins take the whole allowance of their address.
      "-guest-login-burst", "2", "-guest-login-rate", "0.001",
    ]);
    server.adminAddr = new URL(await server.adminUrl).host;
    proxy = await startCaddy(server);
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

  test("two pages play gomoku to a win through the proxy, watched by a feed", async () => {
    const ann = await player("ann");
    const bob = await player("bob");
    for (const p of [ann, bob]) {
      const urls = p.sockets.map((u) => u.replace(/\?.*/, ""));
      assert.deepEqual(urls, [`${proxy.playUrl.replace("https:", "wss:")}/v1/ws`], `${p.name}'s WebSocket is wss on the page's origin`);
    }
    await ann.page.click("[data-quick=gomoku]");
    await ann.page.waitForSelector("#game-view[data-game=gomoku][data-seat]", wait);
    await bob.page.click("[data-quick=gomoku]");
    await bob.page.waitForSelector("#game-view[data-game=gomoku][data-seat]", wait);
    const room = await ann.page.getAttribute("#game-view", "data-room");
    assert.equal(await bob.page.getAttribute("#game-view", "data-room"), room);

    // The room's spectator feed streams through the proxy as it is written.
    const feed = await stateEvents(`${proxy.playUrl}/v1/rooms/${room}/events`, proxy.cert.pem, 1);
    assert.equal(feed.headers["content-type"], "text/event-stream");
    assert.match(feed.text, /"keyframe":true/);

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

    const players = await fetchText(`${proxy.adminUrl}/v1/admin/players`, proxy.cert.pem, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(players.status, 200, players.body);
    const remotes = JSON.parse(players.body).flatMap((p) => p.connections.map((c) => c.remote));
    assert.deepEqual(remotes, ["127.0.0.1", "127.0.0.1"]);
    assert.deepEqual([...ann.errors, ...bob.errors], []);
    await ann.context.close();
    await bob.context.close();
  });

  test("a client cannot forge its address through the proxy", async () => {
    // Caddy replaces the X-Forwarded-For a client sends: had it passed
    // this one on, the server would have believed it (the proxy's address
    // is trusted) and given the forged address a fresh login allowance.
    const res = await fetchText(`${proxy.playUrl}/v1/login`, proxy.cert.pem, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.5" },
      body: JSON.stringify({ name: "eve" }),
    });
    assert.equal(res.status, 429, `login with a forged X-Forwarded-For: ${res.status} ${res.body}`);
    assert.ok(res.headers["retry-after"]);
  });

  test("the admin port answers over TLS and plain http is redirected", async () => {
    const health = await fetchText(`${proxy.adminUrl}/healthz`, proxy.cert.pem);
    assert.equal(health.status, 200);
    const denied = await fetchText(`${proxy.adminUrl}/v1/admin/overview`, proxy.cert.pem);
    assert.equal(denied.status, 401, "the admin API still wants its token behind the proxy");
    const redirect = await new Promise((resolve, reject) => {
      import("node:http").then(({ get }) => get(`${proxy.redirectUrl}/x?y=1`, (res) => resolve(res)).on("error", reject));
    });
    assert.equal(redirect.statusCode, 308);
    assert.match(redirect.headers.location, /^https:\/\/127\.0\.0\.1(:\d+)?\/x\?y=1$/);
  });
});
