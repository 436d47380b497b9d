// The spectator stream in a real browser: two demo pages play gomoku over
// WebSocket, and a third page, with no login, opens the lobby's Stream link
// and follows the match through the room's Server-Sent Events feed with
// the browser's own EventSource: a keyframe first, then deltas.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { WebSocket } from "ws";
import { CHROMIUM, CHROMIUM_ARGS } from "./harness.mjs";
import { startServer } from "./tickroom-server.mjs";

const wait = { timeout: 20_000 };

describe("watching a room through its event stream", { timeout: 180_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function page() {
    const context = await browser.newContext();
    const p = await context.newPage();
    const errors = [];
    p.on("pageerror", (err) => errors.push(String(err)));
    p.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
    return { page: p, errors, context };
  }

  async function player(name) {
    const p = await page();
    await p.page.goto(`${server.httpUrl}/`);
    await p.page.waitForSelector("body[data-ready=true]", wait);
    await p.page.fill("#login-name", name);
    await p.page.click("#login-form button[type=submit]");
    await p.page.waitForSelector("body[data-connection=open]", wait);
    return p;
  }

  async function move(p, seat, x, y) {
    await p.page.waitForSelector(`#gomoku-board[data-turn="${seat}"]`, wait);
    await p.page.click(`#gomoku-board [data-x="${x}"][data-y="${y}"]`);
  }

  test("a page without login follows a gomoku match with EventSource", async () => {
    const ann = await player("ann");
    const bob = await player("bob");
    await ann.page.click("[data-quick=gomoku]");
    await ann.page.waitForSelector("#game-view[data-seat]", wait);
    await bob.page.click("[data-quick=gomoku]");
    await bob.page.waitForSelector("#game-view[data-seat]", wait);
    const room = await ann.page.getAttribute("#game-view", "data-room");
    await move(ann, 1, 7, 7);

    // A third user in the lobby finds the room's Stream link.
    const cat = await player("cat");
    await cat.page.waitForSelector(`a[data-stream="${room}"]`, wait);
    const href = await cat.page.getAttribute(`a[data-stream="${room}"]`, "href");
    assert.equal(href, `watch.html?room=${room}&game=gomoku`);

    // The watcher needs no login: a fresh context opens the link.
    const viewer = await page();
    const streams = [];
    const sockets = [];
    viewer.page.on("request", (r) => r.url().includes("/events") && streams.push(r.url()));
    viewer.page.on("websocket", (ws) => sockets.push(ws.url()));
    await viewer.page.goto(`${server.httpUrl}/${href}`);
    await viewer.page.waitForSelector("body[data-stream=open]", wait);
    await viewer.page.waitForSelector('#watch-board[data-stones="1"]', wait);
    assert.equal(await viewer.page.getAttribute("body", "data-keyframes"), "1", "the stream starts with a keyframe");
    assert.match(await viewer.page.getAttribute("#watch-board [data-x='7'][data-y='7']", "class"), /black/);

    await move(bob, 2, 8, 8);
    await viewer.page.waitForSelector('#watch-board[data-stones="2"]', wait);
    await move(ann, 1, 6, 6);
    await viewer.page.waitForSelector('#watch-board[data-stones="3"]', wait);
    assert.match(await viewer.page.getAttribute("#watch-board [data-x='8'][data-y='8']", "class"), /white/);
    assert.equal(await viewer.page.getAttribute("body", "data-keyframes"), "1", "moves arrive as deltas, not keyframes");
    assert.ok(Number(await viewer.page.getAttribute("body", "data-deltas")) >= 2);
    assert.deepEqual(streams, [`${server.httpUrl}/v1/rooms/${room}/events`], "one EventSource request, no polling");
    assert.deepEqual(sockets, [], "the watcher opened no WebSocket");
    for (const p of [ann, bob, cat, viewer]) assert.deepEqual(p.errors, []);
    for (const p of [ann, bob, cat, viewer]) await p.context.close();
  });

  // A private room's watch link carries a watch pass (Client.watchPass),
  // not the member's session token: the page asks the feed with ?pass=.
  test("a private room's watch link opens with a watch pass", async () => {
    const lib = await import("../../dist/browser/tickroom.js");
    const session = await lib.login("host", { baseUrl: server.httpUrl });
    const client = await lib.connect({ url: `ws://${server.wsAddr}/v1/ws`, token: session.token, WebSocket });
    try {
      const room = await client.createRoom({ game: "gomoku", private: true });
      const { pass } = await client.watchPass(room.id);
      const viewer = await page();
      const streams = [];
      viewer.page.on("request", (r) => r.url().includes("/events") && streams.push(r.url()));
      await viewer.page.goto(`${server.httpUrl}/watch.html?room=${encodeURIComponent(room.id)}&pass=${encodeURIComponent(pass)}&game=gomoku`);
      await viewer.page.waitForSelector("body[data-stream=open]", wait);
      await viewer.page.waitForSelector("body[data-keyframes='1']", wait);
      assert.deepEqual(streams, [`${server.httpUrl}/v1/rooms/${room.id}/events?pass=${encodeURIComponent(pass)}`]);
      assert.deepEqual(viewer.errors, []);
      await viewer.context.close();
    } finally {
      client.close();
    }
  });

  // EventSource gives up on a refused feed without saying why; the page
  // asks once more with fetch, which reads it, so a link to a room that is
  // gone says so at once rather than "busy" for half a minute of retries.
  test("a watch link of a room that is gone says so at once", async () => {
    const viewer = await page();
    const streams = [];
    viewer.page.on("request", (r) => r.url().includes("/events") && streams.push(r.url()));
    await viewer.page.goto(`${server.httpUrl}/watch.html?room=no-such-room&game=gomoku`);
    await viewer.page.waitForFunction(() => document.body.dataset.stream && document.body.dataset.stream !== "connecting", null, wait);
    const status = await viewer.page.textContent("#watch-status");
    assert.equal(await viewer.page.getAttribute("body", "data-stream"), "error", `the page's status for a room that is gone: ${JSON.stringify(status)}`);
    assert.match(status, /no such room/);
    assert.equal(streams.length, 2, `the page asked for the feed ${streams.length} times: ${streams.join(", ")}`);
    await viewer.context.close();
  });

  // The room view's watch link carries a watch pass the page asked for,
  // never the session token, and opens the feed in a page with no login.
  test("the room view's watch link carries a watch pass", async () => {
    const dan = await player("dan");
    await dan.page.click("[data-quick=gomoku]");
    await dan.page.waitForSelector("#game-view[data-seat]", wait);
    const room = await dan.page.getAttribute("#game-view", "data-room");
    await dan.page.click("#watch-pass");
    await dan.page.waitForSelector("#watch-link[href]:not([hidden])", wait);
    const href = await dan.page.getAttribute("#watch-link", "href");
    const q = new URL(href, server.httpUrl).searchParams;
    assert.equal(q.get("room"), room);
    assert.equal(q.get("game"), "gomoku");
    assert.ok(q.get("pass"), href);
    assert.equal(q.get("token"), null, href);
    const viewer = await page();
    const streams = [];
    viewer.page.on("request", (r) => r.url().includes("/events") && streams.push(r.url()));
    await viewer.page.goto(new URL(href, `${server.httpUrl}/`).href);
    await viewer.page.waitForSelector("body[data-stream=open]", wait);
    await viewer.page.waitForSelector("body[data-keyframes='1']", wait);
    assert.deepEqual(streams, [`${server.httpUrl}/v1/rooms/${room}/events?pass=${encodeURIComponent(q.get("pass"))}`]);
    for (const p of [dan, viewer]) assert.deepEqual(p.errors, []);
    for (const p of [dan, viewer]) await p.context.close();
  });
});

// A server that lets an address open streams only slowly refuses a page's
// stream with 429 for a while; the browser's EventSource gives up on any
// status but 200 and cannot read which, and the page said "the room cannot
// be watched" for good. It now says the server may be busy, tries again a
// few times, further apart each time, and follows the room once let in.
describe("a watch page refused as opened too fast", { timeout: 120_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer(["-spectator-open-burst", "1", "-spectator-open-rate", "0.2"]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("says the server is busy, tries again, and opens", async () => {
    const lib = await import("../../dist/browser/tickroom.js");
    const session = await lib.login("host", { baseUrl: server.httpUrl });
    const client = await lib.connect({ url: `ws://${server.wsAddr}/v1/ws`, token: session.token, WebSocket });
    try {
      const room = await client.createRoom({ game: "gomoku" });
      const url = `${server.httpUrl}/v1/rooms/${room.id}/events`;
      // This address's one stream at once: the page's comes too fast.
      const first = new AbortController();
      const res = await fetch(url, { signal: first.signal });
      assert.equal(res.status, 200);
      first.abort();
      const context = await browser.newContext();
      const viewer = await context.newPage();
      await viewer.goto(`${server.httpUrl}/watch.html?room=${encodeURIComponent(room.id)}&game=gomoku`);
      await viewer.waitForFunction(() => document.body.dataset.stream && document.body.dataset.stream !== "connecting", null, wait);
      const status = await viewer.textContent("#watch-status");
      assert.equal(await viewer.getAttribute("body", "data-stream"), "busy", `the page's status after a 429: ${JSON.stringify(status)}`);
      assert.match(status, /busy/);
      await viewer.waitForSelector("body[data-stream=open]", wait);
      await viewer.waitForSelector("body[data-keyframes='1']", wait);
      await context.close();
    } finally {
      client.close();
    }
  });
});
