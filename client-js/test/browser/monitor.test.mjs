// The admin monitor page in headless Chromium against the real server
// binary, players made by client-js in Node: the charts appear and move as
// players connect, rooms and players are searched and paged, and a live
// room's state shows in the inspector, its tick advancing. The page runs
// under its strict CSP, so any violation would show as a console error.
// Screenshots go to test-artifacts/monitor-*.png (git-ignored).
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { WebSocket } from "ws";
import { CHROMIUM, CHROMIUM_ARGS, ROOT } from "./harness.mjs";
import { startServer } from "./tickroom-server.mjs";

const lib = await import("../../dist/browser/tickroom.js");
const { connect, login, webSocketUrl } = lib;

/** ARTIFACTS is where screenshots go (git-ignored). */
const ARTIFACTS = join(ROOT, "test-artifacts");
const ADMIN_TOKEN = "monitor-test-admin-token";
// wait bounds every wait on the page; generous for a busy shared machine,
// and never part of what is asserted.
const wait = { timeout: 20_000 };

describe("monitor page against the tickroom binary", { timeout: 180_000 }, () => {
  let server;
  let browser;
  let adminUrl;
  const clients = [];

  before(async () => {
    server = await startServer(["-admin-token", ADMIN_TOKEN]);
    adminUrl = await server.adminUrl;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
    await mkdir(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    for (const c of clients) c.close();
    await browser?.close();
    await server?.stop();
  });

  // player logs name in from Node and connects.
  // userIds keeps each player's user id by name.
  const userIds = {};
  async function player(name) {
    const session = await login(name, { baseUrl: server.httpUrl });
    userIds[name] = session.userId;
    const client = await connect({ url: await webSocketUrl(server.httpUrl), token: session.token, WebSocket });
    clients.push(client);
    return client;
  }

  async function openMonitor() {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(msg.text());
    });
    // Short polls and pages of two, so that a few rooms need paging.
    await page.goto(`${adminUrl}/monitor/?poll=300&page=2`);
    await page.waitForSelector("body[data-ready=true]", wait);
    return { context, page, errors };
  }

  const pageText = (page, id) => page.textContent(`#${id}`);

  test("charts appear and move, lists search and page, the inspector shows a live room", async () => {
    const { context, page, errors } = await openMonitor();
    // Before the token: the note says where it comes from.
    const note = await pageText(page, "token-note");
    assert.match(note, /-admin-token-file/);
    assert.match(note, /admin-token\.key/);

    // A wrong token says so and draws nothing.
    await page.fill("#token", "guess");
    await page.click("#login button[type=submit]");
    await page.waitForFunction(() => document.getElementById("status")?.textContent === "wrong or missing admin token", null, wait);
    assert.equal(await page.locator(".chart").count(), 0);

    await page.fill("#token", ADMIN_TOKEN);
    await page.click("#login button[type=submit]");
    await page.waitForSelector("body[data-polls]", wait);
    for (const id of ["connections", "rooms", "frames", "bytes", "lateness"]) {
      await page.waitForSelector(`.chart[data-chart=${id}] canvas`, wait);
    }
    const points = () => page.$eval(".chart[data-chart=connections]", (el) => Number(el.dataset.points));
    const before = await points();

    // Players arrive and play: the charts move with them.
    const names = ["alice", "albert", "bob", "carol", "dave"];
    const games = ["arena", "arena", "gomoku", "arena", "gomoku"];
    const rooms = {};
    for (const [i, name] of names.entries()) {
      const c = await player(name);
      rooms[name] = await c.createRoom({ game: games[i] });
    }
    await page.waitForFunction(
      () => Number(document.querySelector(".chart[data-chart=connections]")?.dataset.last) >= 5,
      null,
      wait,
    );
    await page.waitForFunction(() => Number(document.querySelector(".chart[data-chart=rooms]")?.dataset.last) >= 5, null, wait);
    await page.waitForFunction(() => Number(document.querySelector(".chart[data-chart=frames]")?.dataset.last) > 0, null, wait);
    await page.waitForFunction(() => Number(document.querySelector(".chart[data-chart=bytes]")?.dataset.last) > 0, null, wait);
    await page.waitForFunction(() => document.querySelector(".chart[data-chart=lateness]")?.dataset.last !== "", null, wait);
    // Polls go on: the charts keep gaining points (waited for, since on a
    // fast machine everything above can land within one or two polls).
    await page.waitForFunction(
      (n) => Number(document.querySelector(".chart[data-chart=connections]")?.dataset.points) > n,
      before + 2,
      wait,
    );
    assert.ok((await points()) > before + 2, "the charts gained points");
    // Rates are in human units.
    assert.match(await page.textContent("[data-card='bytes out'] b"), /^\d[\d.]* (B|KiB|MiB)\/s$/);
    await page.screenshot({ path: join(ARTIFACTS, "monitor-charts.png"), fullPage: true });

    // Rooms, two a page: five in all, paged forward to the last.
    await page.waitForSelector("#rooms-page[data-total='5']", wait);
    assert.equal(await pageText(page, "rooms-page"), "1–2 of 5");
    assert.equal(await page.locator("#rooms tr").count(), 2);
    await page.click("#rooms-next");
    await page.waitForSelector("#rooms-page[data-offset='2']", wait);
    assert.equal(await pageText(page, "rooms-page"), "3–4 of 5");
    await page.click("#rooms-next");
    await page.waitForSelector("#rooms-page[data-offset='4']", wait);
    assert.equal(await page.locator("#rooms tr").count(), 1);
    assert.ok(await page.isDisabled("#rooms-next"));
    // A search starts at its first page.
    await page.fill("#room-q", "GOMOKU");
    await page.waitForSelector("#rooms-page[data-total='2'][data-offset='0']", wait);
    const gomokuIds = await page.$$eval("#rooms tr", (rows) => rows.map((r) => r.dataset.room).sort());
    assert.deepEqual(gomokuIds, [rooms.bob.id, rooms.dave.id].sort());
    await page.fill("#room-q", "no-such-room");
    await page.waitForSelector("#rooms-page[data-total='0']", wait);
    assert.equal(await pageText(page, "rooms-page"), "nothing matches “no-such-room”");

    // Players: searched by name and id, in any case. A guest's id is
    // random, so another player's may hold "al" too: they count as well.
    await page.waitForSelector("#players-page[data-total='5']", wait);
    await page.fill("#player-q", "AL");
    const matching = names.filter((n) => n.includes("al") || userIds[n].toLowerCase().includes("al")).sort();
    await page.waitForSelector(`#players-page[data-total='${matching.length}']`, wait);
    const found = await page.$$eval("#players tr td:nth-child(2)", (tds) => tds.map((td) => td.textContent).sort());
    if (matching.length === 2) {
      assert.deepEqual(found, ["albert", "alice"]);
    } else {
      // Two a page: the first page holds two of those that match.
      assert.equal(found.length, 2);
      assert.ok(found.every((n) => matching.includes(n)), `found ${found}, matching ${matching}`);
    }

    // The inspector: alice's arena room, decoded by the arena's schema.
    await page.fill("#room-q", rooms.alice.id);
    await page.waitForSelector(`#rooms tr[data-room="${rooms.alice.id}"]`, wait);
    await page.click(`#rooms tr[data-room="${rooms.alice.id}"] [data-action=state]`);
    await page.waitForSelector("#inspector[data-tick]:not([data-tick=''])", wait);
    assert.match(await pageText(page, "inspector-status"), /^arena · tick \d+ · \d+ entities$/);
    assert.match(await page.textContent("#inspector details[data-path=globals] > summary"), /tickroom\.arena\.v1\.Globals/);
    // The player entity (id = seat 1): open it and read alice's name.
    await page.click("#inspector details[data-path='entities/1'] > summary");
    await page.waitForSelector("#inspector [data-path='entities/1/name']", wait);
    assert.equal(await page.textContent("#inspector [data-path='entities/1/name'] .tr-text"), '"alice"');
    // Live: the tick moves on, and the opened entity stays open.
    const tick = Number(await page.getAttribute("#inspector", "data-tick"));
    await page.waitForFunction((t) => Number(document.getElementById("inspector")?.dataset.tick) > t, tick, wait);
    assert.ok(await page.$eval("#inspector details[data-path='entities/1']", (d) => d.open));
    await page.screenshot({ path: join(ARTIFACTS, "monitor-inspector.png"), fullPage: true });

    // No errors so far but the wrong token's 401s (CSP violations would show here).
    assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);

    // A room that ends says so (its state request is then a 404).
    const res = await fetch(`${adminUrl}/v1/admin/rooms/${rooms.alice.id}/close`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 200);
    await page.waitForFunction(() => document.getElementById("inspector-status")?.textContent === "the room has ended", null, wait);

    assert.deepEqual(errors.filter((e) => !/status of (401|404)/.test(e)), []);
    await context.close();
  });

  // An admin API slower than the poll (a loaded node, a far one through a
  // cluster's merge): each poll's list answer was thrown away once the
  // next poll had asked again, so the lists never showed.
  test("lists show when the admin API answers slower than the poll", async () => {
    const c = await player("slowlist");
    await c.createRoom({ game: "gomoku" });
    const { context, page, errors } = await openMonitor();
    await page.route("**/v1/admin/rooms?*", async (route) => {
      await new Promise((r) => setTimeout(r, 1000));
      await route.continue();
    });
    await page.fill("#token", ADMIN_TOKEN);
    await page.click("#login button[type=submit]");
    await page.waitForFunction(() => Number(document.getElementById("rooms-page")?.dataset.total) >= 1 && document.querySelectorAll("#rooms tr").length >= 1, null, wait);
    assert.deepEqual(errors, []);
    await context.close();
  });
});
