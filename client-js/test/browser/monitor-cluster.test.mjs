// The admin monitor page of one node of a two-node cluster (two tickroom
// binaries sharing a private redis-server), in headless Chromium: the
// nodes table lists both, the rooms list shows each room with its node and
// filters by node, the inspector shows the state of a room that runs on
// the other node, and a node that stops leaves the table.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { WebSocket } from "ws";
import { CHROMIUM, CHROMIUM_ARGS, ROOT } from "./harness.mjs";
import { redisSkip, startRedis } from "./redis-server.mjs";
import { startServer } from "./tickroom-server.mjs";

const lib = await import("../../dist/browser/tickroom.js");
const { connect, login, webSocketUrl } = lib;

const ARTIFACTS = join(ROOT, "test-artifacts");
const ADMIN_TOKEN = "monitor-cluster-test-admin-token";
// wait bounds every wait on the page; generous for a busy shared machine,
// and never part of what is asserted.
const wait = { timeout: 20_000 };

describe("monitor page of a two-node cluster", { timeout: 180_000, skip: redisSkip() }, () => {
  let redis;
  let browser;
  const nodes = {};
  const clients = [];

  // node starts a tickroom node named id on the shared Redis.
  async function node(id) {
    const server = await startServer(["-redis", redis.url, "-node-id", id, "-admin-token", ADMIN_TOKEN]);
    return { ...server, adminUrl: await server.adminUrl };
  }

  before(async () => {
    redis = await startRedis();
    nodes.n1 = await node("n1");
    nodes.n2 = await node("n2");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
    await mkdir(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    for (const c of clients) c.close();
    await browser?.close();
    for (const n of Object.values(nodes)) await n.stop();
    await redis?.stop();
  });

  // player logs name in on a node and connects there.
  async function player(n, name) {
    const session = await login(name, { baseUrl: n.httpUrl });
    const client = await connect({ url: await webSocketUrl(n.httpUrl), token: session.token, WebSocket });
    clients.push(client);
    return client;
  }

  test("lists both nodes and each room with its node, and inspects a room of the other node", async () => {
    const alice = await player(nodes.n1, "alice");
    const bob = await player(nodes.n2, "bob");
    const onN1 = await alice.createRoom({ game: "gomoku" });
    const onN2 = await bob.createRoom({ game: "arena" });

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(msg.text());
    });
    await page.goto(`${nodes.n1.adminUrl}/monitor/?poll=300`);
    await page.waitForSelector("body[data-ready=true]", wait);
    await page.fill("#token", ADMIN_TOKEN);
    await page.click("#login button[type=submit]");

    // The nodes table: both, this one marked, each with its session once
    // a heartbeat has carried it.
    await page.waitForSelector("#nodes tr[data-node=n1].self", wait);
    await page.waitForSelector("#nodes tr[data-node=n2]", wait);
    assert.equal(await page.locator("#nodes tr").count(), 2);
    assert.equal(await page.textContent("#nodes tr[data-node=n1] td:first-child"), "n1 (this node)");
    assert.equal(await page.textContent("#nodes-note"), "(2 in the cluster)");
    await page.waitForFunction(() => document.querySelector("#nodes tr[data-node=n2] td:nth-child(5)")?.textContent === "1", null, wait);
    assert.equal(await page.textContent("#nodes tr[data-node=n2] td:nth-child(7)"), "up");

    // Rooms of both nodes, each with its node.
    await page.waitForSelector("#rooms-page[data-total='2']", wait);
    assert.equal(await page.textContent(`#rooms tr[data-room="${onN1.id}"] td:nth-child(2)`), "n1");
    assert.equal(await page.textContent(`#rooms tr[data-room="${onN2.id}"] td:nth-child(2)`), "n2");
    // Filtered by node.
    await page.selectOption("#room-node", "n2");
    await page.waitForSelector("#rooms-page[data-total='1']", wait);
    assert.deepEqual(await page.$$eval("#rooms tr", (rows) => rows.map((r) => r.dataset.room)), [onN2.id]);
    // Players with their nodes.
    await page.waitForSelector("#players-page[data-total='2']", wait);
    assert.equal(await page.textContent("#players tr[data-node=n2] td:nth-child(2)"), "bob");

    // The inspector shows the state of bob's arena room on n2, live.
    await page.click(`#rooms tr[data-room="${onN2.id}"] [data-action=state]`);
    await page.waitForSelector("#inspector[data-tick]:not([data-tick=''])", wait);
    assert.match(await page.textContent("#inspector-status"), /^arena · tick \d+ · \d+ entities$/);
    const tick = Number(await page.getAttribute("#inspector", "data-tick"));
    await page.waitForFunction((t) => Number(document.getElementById("inspector")?.dataset.tick) > t, tick, wait);
    await page.screenshot({ path: join(ARTIFACTS, "monitor-cluster.png"), fullPage: true });

    // n2 stops: it leaves the nodes table, and its rooms the list.
    await nodes.n2.stop();
    await page.waitForFunction(() => document.querySelectorAll("#nodes tr").length === 1, null, wait);
    await page.selectOption("#room-node", "");
    // Until the list of every node comes back, the page shows the last
    // one of n2 alone, which counted one room too: n1's room is waited for.
    await page.waitForFunction((id) => document.getElementById("rooms-page")?.dataset.total === "1" && document.querySelector(`#rooms tr[data-room="${id}"]`) !== null, onN1.id, wait);
    assert.deepEqual(await page.$$eval("#rooms tr", (rows) => rows.map((r) => r.dataset.room)), [onN1.id]);

    // No page errors; the inspector's room ending is a 404 or a 503.
    assert.deepEqual(errors.filter((e) => !/status of (404|503)/.test(e)), []);
    await context.close();
  });
});
