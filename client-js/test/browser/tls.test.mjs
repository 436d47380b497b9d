// The deployment in deploy/nginx.conf, end to end: Debian's nginx
// terminates TLS with a self-signed certificate in front of the tickroom
// binary, and two Chromium pages that trust that one certificate (by its
// public key, --ignore-certificate-errors-spki-list) load the demo over
// https://, play gomoku over wss:// on the same origin, and are known to
// the server by their own address (X-Forwarded-For from the trusted proxy),
// not the proxy's. The room's spectator feed streams through the proxy's
// Server-Sent Events location as the server writes it.
import assert from "node:assert/strict";
import { get, request } from "node:https";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, stateEvents } from "./harness.mjs";
import { PROXY_SOURCE, startNginx } from "./nginx.mjs";
import { startServer } from "./tickroom-server.mjs";

const wait = { timeout: 20_000 };
const ADMIN_TOKEN = "tls-test-admin-token";

// getJSON fetches url over https, trusting only the test certificate.
function getJSON(url, ca, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

// postJSON posts body as JSON to url over https, trusting only the test
// certificate.
function postJSON(url, ca, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

describe("demo behind nginx over https and wss", { timeout: 180_000 }, () => {
  let server;
  let proxy;
  let browser;

  before(async () => {
    server = await startServer([
      "-trusted-proxies", PROXY_SOURCE, "-public-ws-url", "/v1/ws", "-admin-token", ADMIN_TOKEN,
    ]);
    server.adminAddr = new URL(await server.adminUrl).host;
    proxy = await startNginx(server);
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

  test("two pages play gomoku to a win through the proxy", async () => {
    const ann = await player("ann");
    const bob = await player("bob");
    for (const p of [ann, bob]) {
      const urls = p.sockets.map((u) => u.replace(/\?.*/, ""));
      assert.deepEqual(urls, [`wss://127.0.0.1:${new URL(proxy.playUrl).port}/v1/ws`], `${p.name}'s WebSocket is wss on the page's origin`);
    }
    await ann.page.click("[data-quick=gomoku]");
    await ann.page.waitForSelector("#game-view[data-game=gomoku][data-seat]", wait);
    await bob.page.click("[data-quick=gomoku]");
    await bob.page.waitForSelector("#game-view[data-game=gomoku][data-seat]", wait);
    const room = await ann.page.getAttribute("#game-view", "data-room");
    assert.equal(await bob.page.getAttribute("#game-view", "data-room"), room);

    // A spectator feed of the room through nginx: the keyframe, then the
    // delta of ann's first stone, each passed on as it is written.
    const feed = stateEvents(`${proxy.playUrl}/v1/rooms/${room}/events`, proxy.cert.pem, 2);
    let n = 0;
    for (let i = 0; i < 4; i++) {
      await play(ann, 1, i, 0);
      await stonesOn([ann, bob], ++n);
      await play(bob, 2, i, 1);
      await stonesOn([ann, bob], ++n);
    }
    const events = await feed;
    assert.equal(events.headers["content-type"], "text/event-stream");
    assert.match(events.text, /"keyframe":true/);
    assert.match(events.text, /"keyframe":false/);
    await play(ann, 1, 4, 0);
    await ann.page.waitForFunction(() => document.getElementById("game-status")?.textContent?.startsWith("You win"), null, wait);
    await bob.page.waitForFunction(() => document.getElementById("game-status")?.textContent?.startsWith("ann wins"), null, wait);

    // The server saw the players' own address, which only X-Forwarded-For
    // carried: the TCP peer of every proxied connection is PROXY_SOURCE.
    const players = await getJSON(`${proxy.adminUrl}/v1/admin/players`, proxy.cert.pem, { authorization: `Bearer ${ADMIN_TOKEN}` });
    assert.equal(players.status, 200, players.body);
    const remotes = JSON.parse(players.body).flatMap((p) => p.connections.map((c) => c.remote));
    assert.deepEqual(remotes, ["127.0.0.1", "127.0.0.1"]);
    assert.deepEqual([...ann.errors, ...bob.errors], []);
    await ann.context.close();
    await bob.context.close();

    // nginx logs a WebSocket when it ends; the lines leave out the query
    // with the session token.
    let access = "";
    for (let i = 0; i < 100 && (access.match(/"GET \/v1\/ws" 101 /g) ?? []).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      access = await proxy.accessLog();
    }
    assert.equal((access.match(/"GET \/v1\/ws" 101 /g) ?? []).length, 2, access);
    assert.doesNotMatch(access, /token=/);
  });

  // A private room's feed takes a member's session token (and a room's
  // password) in its query, since EventSource cannot send headers, and
  // the watch page is opened as watch.html?room=ID&token=T, which its
  // script and style then carry as Referer: none of it may reach the
  // access log, which the nginx example says the token stays out of.
  test("a spectator's token and room password stay out of the access log", async () => {
    const login = await postJSON(`${proxy.playUrl}/v1/login`, proxy.cert.pem, { name: "carol" });
    assert.equal(login.status, 200, login.body);
    const { token } = JSON.parse(login.body);
    const secrets = [token, token.split(".").at(-1), "hunter2pw"];
    const feed = await getJSON(`${proxy.playUrl}/v1/rooms/nosuchroom/events?token=${encodeURIComponent(token)}&password=hunter2pw`, proxy.cert.pem);
    assert.equal(feed.status, 404, feed.body);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${proxy.playUrl}/watch.html?room=nosuchroom&token=${encodeURIComponent(token)}`);
    await page.waitForSelector("body[data-stream=error]", wait);
    await context.close();
    let access = "";
    for (let i = 0; i < 100 && (access.match(/nosuchroom\/events/g) ?? []).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      access = await proxy.accessLog();
    }
    assert.ok((access.match(/nosuchroom\/events/g) ?? []).length >= 2, `both feed requests are logged:\n${access}`);
    assert.match(access, /watch\.js/, "the page's script is logged");
    for (const s of secrets) assert.ok(!access.includes(s), `the access log holds ${s}:\n${access}`);
  });

  test("the admin port answers over TLS and plain http is redirected", async () => {
    const health = await getJSON(`${proxy.adminUrl}/healthz`, proxy.cert.pem);
    assert.equal(health.status, 200);
    const denied = await getJSON(`${proxy.adminUrl}/v1/admin/overview`, proxy.cert.pem);
    assert.equal(denied.status, 401, "the admin API still wants its token behind the proxy");
    const redirect = await new Promise((resolve, reject) => {
      import("node:http").then(({ get }) => get(`${proxy.redirectUrl}/x?y=1`, (res) => resolve(res)).on("error", reject));
    });
    assert.equal(redirect.statusCode, 301);
    assert.equal(redirect.headers.location, `https://127.0.0.1/x?y=1`);
  });
});
