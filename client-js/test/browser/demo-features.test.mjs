// End-to-end tests of the demo's lobby, people, gomoku and layout features
// in headless Chromium against the real server binary: a room list the
// server keeps live, friends with requests, presence and blocks, a refused
// direct message in words, the move clock, the last move, the held-seat
// countdown (also for a spectator who came after the drop), the result
// banner and a rematch, a profile with match history, an arena round with
// everyone's points, the state inspector for a room with no view and an
// operator closing it, and the page at 1280x720 and at a phone's 390x844
// with no horizontal overflow. Screenshots go to test-artifacts/
// (git-ignored).
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, ROOT } from "./harness.mjs";
import { startNetPath } from "./net-path.mjs";
import { startServer } from "./tickroom-server.mjs";

/** ARTIFACTS is where screenshots go (git-ignored). */
const ARTIFACTS = join(ROOT, "test-artifacts");

// wait bounds every wait on the page; generous for a busy shared machine,
// and never part of what is asserted.
const wait = { timeout: 20_000 };

const DESKTOP = { width: 1280, height: 720 };
const ADMIN_TOKEN = "demo-features-admin-token";
const PHONE = { width: 390, height: 844 };

describe("demo features against the tickroom binary", { timeout: 300_000 }, () => {
  let server;
  let browser;
  const cleanups = [];

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    server = await startServer(["-drop-grace", "30s", "-admin-token", ADMIN_TOKEN]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  });

  after(async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  // player opens a fresh browser context of the given size on its own
  // network path and logs in with name.
  async function player(name, viewport = DESKTOP, query = "") {
    const path = await startNetPath(server.httpUrl, server.wsAddr);
    const context = await browser.newContext({ viewport });
    cleanups.push(() => context.close(), () => path.close());
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    page.on("console", (msg) => {
      // A cut network shows up as a failed WebSocket in the console; that is the point.
      if (msg.type() === "error" && !/WebSocket/.test(msg.text())) errors.push(msg.text());
    });
    await page.goto(`${path.url}/${query}`);
    await page.waitForSelector("body[data-ready=true]", wait);
    await page.fill("#login-name", name);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("body[data-connection=open]", wait);
    const userId = await page.getAttribute("body", "data-user");
    return { name, page, path, errors, userId };
  }

  async function play(p, seat, x, y) {
    await p.page.waitForSelector(`#gomoku-board[data-turn="${seat}"]`, wait);
    await p.page.click(`#gomoku-board [data-x="${x}"][data-y="${y}"]`);
  }

  async function stonesOn(pages, n) {
    for (const p of pages) await p.page.waitForSelector(`#gomoku-board[data-stones="${n}"]`, wait);
  }

  // fits checks that nothing on the page is wider than the screen and that
  // each selector is shown inside it (side to side; top to bottom too when
  // onScreen, for the controls a first look must find).
  async function fits(p, selectors, onScreen = []) {
    const r = await p.page.evaluate(
      ([sel, must]) => {
        const w = window.innerWidth;
        const h = window.innerHeight;
        const out = { overflow: document.documentElement.scrollWidth - w, bad: [] };
        for (const s of sel) {
          const e = document.querySelector(s);
          const b = e?.getBoundingClientRect();
          if (!e || !b || b.width === 0 || b.height === 0) out.bad.push(`${s}: not shown`);
          else if (b.left < -0.5 || b.right > w + 0.5) out.bad.push(`${s}: ${b.left}..${b.right} outside 0..${w}`);
          else if (must.includes(s) && (b.top < 0 || b.bottom > h + 0.5)) out.bad.push(`${s}: ${b.top}..${b.bottom} below the ${h} px screen`);
        }
        return out;
      },
      [selectors, onScreen],
    );
    assert.ok(r.overflow <= 0, `${p.name}: the page is ${r.overflow} px wider than the screen`);
    assert.deepEqual(r.bad, [], `${p.name}: controls out of place`);
  }

  test("the lobby lists rooms live with names and counts; friends, presence, blocks and profiles", async () => {
    const ann = await player("ann");
    const bob = await player("bob");
    await bob.page.waitForSelector("#rooms-live[data-state=live]", wait);
    await bob.page.waitForSelector("#rooms li.empty", wait);

    // ann opens a room: bob's list shows it without asking, with its name,
    // its player's name and count.
    await ann.page.click("[data-create=gomoku]");
    await ann.page.waitForSelector("#game-view[data-game=gomoku][data-seat='1']", wait);
    const room = await ann.page.getAttribute("#game-view", "data-room");
    const row = `#rooms li[data-room="${room}"]`;
    await bob.page.waitForSelector(`${row}[data-players="1"]`, wait);
    assert.equal(await bob.page.textContent(`${row} .room-name`), "ann's gomoku");
    assert.equal(await bob.page.textContent(`${row} .room-names`), "ann");
    assert.equal(await bob.page.textContent(`${row} .room-seats`), "1/2 players");

    // bob joins from the list; a third page sees the count change.
    const cyd = await player("cyd");
    await cyd.page.waitForSelector(`${row}[data-players="1"]`, wait);
    await bob.page.click(`[data-join="${room}"]`);
    await bob.page.waitForSelector(`#game-view[data-room="${room}"][data-seat='2']`, wait);
    await cyd.page.waitForSelector(`${row}[data-players="2"]`, wait);
    assert.equal(await cyd.page.textContent(`${row} .room-names`), "ann, bob");
    assert.equal(await cyd.page.isDisabled(`[data-join="${room}"]`), true, "a full room cannot be joined");
    await cyd.page.screenshot({ path: join(ARTIFACTS, "demo-lobby-live.png") });

    // ann asks bob to be friends from the players list; bob accepts.
    await ann.page.click("#players li:nth-child(2)");
    await ann.page.waitForSelector(`#user-card[data-user="${bob.userId}"]`, wait);
    await ann.page.click(`#user-card [data-add-friend="${bob.userId}"]`);
    await ann.page.waitForSelector(`#friends li[data-user="${bob.userId}"][data-presence=pending]`, wait);
    await bob.page.waitForSelector(`#friend-requests li[data-user="${ann.userId}"]`, wait);
    assert.match(await bob.page.textContent("#friend-requests"), /ann wants to be friends/);
    await bob.page.click(`#friend-requests [data-accept="${ann.userId}"]`);
    // Each sees the other in a room, playing gomoku.
    await ann.page.waitForSelector(`#friends li[data-user="${bob.userId}"][data-presence=in-room]`, wait);
    await bob.page.waitForSelector(`#friends li[data-user="${ann.userId}"][data-presence=in-room]`, wait);
    assert.match(await ann.page.textContent(`#friends li[data-user="${bob.userId}"] .presence`), /playing gomoku/);

    // cyd, a stranger, is blocked by bob from the chat: bob no longer hears cyd.
    await cyd.page.fill("#chat-input", "hello all");
    await cyd.page.click("#chat-form button[type=submit]");
    await bob.page.waitForSelector("#chat-log li[data-from=cyd]", wait);
    await bob.page.click("#chat-log li[data-from=cyd] .from");
    await bob.page.click(`#user-card [data-block="${cyd.userId}"]`);
    await bob.page.waitForSelector(`#blocked li[data-user="${cyd.userId}"]`, wait);
    await cyd.page.fill("#chat-input", "still there?");
    await cyd.page.click("#chat-form button[type=submit]");
    await ann.page.waitForFunction(() => [...document.querySelectorAll("#chat-log li[data-from=cyd] .text")].some((t) => t.textContent === "still there?"), null, wait);
    assert.equal(await bob.page.$$eval("#chat-log li[data-from=cyd]", (ls) => ls.length), 1, "bob still got cyd's line after blocking");
    // cyd still hears bob, and a direct message to him is refused in words
    // a person reads, not the protocol's code name.
    await bob.page.fill("#chat-input", "bye");
    await bob.page.click("#chat-form button[type=submit]");
    await cyd.page.waitForSelector("#chat-log li[data-from=bob]", wait);
    await cyd.page.click("#chat-log li[data-from=bob] .from");
    await cyd.page.click(`#user-card [data-message="${bob.userId}"]`);
    await cyd.page.fill("#chat-input", "why?");
    await cyd.page.click("#chat-form button[type=submit]");
    await cyd.page.waitForFunction(() => [...document.querySelectorAll("#chat-log li.system")].some((l) => l.textContent?.startsWith("not sent:")), null, wait);
    assert.deepEqual(
      await cyd.page.$$eval("#chat-log li.system", (ls) => ls.map((l) => l.textContent).filter((t) => t?.startsWith("not sent:"))),
      ["not sent: This player does not take messages from you."],
    );
    await bob.page.screenshot({ path: join(ARTIFACTS, "demo-people.png") });

    // The profile: nothing played yet, then bob's from the card.
    await ann.page.waitForSelector(`#profile[data-user="${ann.userId}"][data-matches="0"]`, wait);
    await ann.page.click(`#user-card [data-profile="${bob.userId}"]`);
    await ann.page.waitForSelector(`#profile[data-user="${bob.userId}"]`, wait);
    assert.match(await ann.page.textContent("#profile h2"), /bob's profile/);
    assert.deepEqual([...ann.errors, ...bob.errors, ...cyd.errors], []);
  });

  // A display name may hold markup (the server takes "<" and ">"): every
  // place that shows another player's name, the lobby's room list and
  // players, the user card, a friend request, the friends list and the
  // operator's monitor, shows it as text and runs nothing.
  test("a name that is markup is shown as text everywhere, in the demo and the monitor", async () => {
    const evil = "<img src=x onerror=__xss=1>";
    const mal = await player(evil);
    const ivy = await player("ivy");
    await mal.page.click("[data-create=gomoku]");
    await mal.page.waitForSelector("#game-view[data-game=gomoku][data-seat='1']", wait);
    const room = await mal.page.getAttribute("#game-view", "data-room");
    const row = `#rooms li[data-room="${room}"]`;
    await ivy.page.waitForSelector(`${row}[data-players="1"]`, wait);
    // The room's name, made of the player's, is cut to its length limit.
    assert.ok(`${evil}'s gomoku`.startsWith(await ivy.page.textContent(`${row} .room-name`)));
    assert.equal(await ivy.page.textContent(`${row} .room-names`), evil);
    await ivy.page.click(`[data-join="${room}"]`);
    await ivy.page.waitForSelector(`#game-view[data-room="${room}"][data-seat='2']`, wait);
    await ivy.page.waitForFunction((n) => [...document.querySelectorAll("#players li")].some((l) => l.textContent === `1. ${n}`), evil, wait);
    await ivy.page.click("#players li:not(.self)");
    await ivy.page.waitForSelector(`#user-card[data-user="${mal.userId}"]`, wait);
    assert.match(await ivy.page.textContent("#user-card"), /<img src=x/);
    await mal.page.waitForSelector("#players li:not(.self)", wait);
    await mal.page.click("#players li:not(.self)");
    await mal.page.waitForSelector(`#user-card[data-user="${ivy.userId}"]`, wait);
    await mal.page.click(`#user-card [data-add-friend="${ivy.userId}"]`);
    await ivy.page.waitForSelector(`#friend-requests li[data-user="${mal.userId}"]`, wait);
    assert.match(await ivy.page.textContent("#friend-requests"), /<img src=x onerror=/);
    await ivy.page.click(`#friend-requests [data-accept="${mal.userId}"]`);
    await ivy.page.waitForSelector(`#friends li[data-user="${mal.userId}"]`, wait);
    assert.match(await ivy.page.textContent(`#friends li[data-user="${mal.userId}"]`), /<img src=x onerror=/);

    const context = await browser.newContext({ viewport: DESKTOP });
    cleanups.push(() => context.close());
    const monitor = await context.newPage();
    await monitor.goto(`${await server.adminUrl}/monitor/?poll=300`);
    await monitor.fill("#token", ADMIN_TOKEN);
    await monitor.click("#login button[type=submit]");
    await monitor.waitForSelector(`#players tr[data-user="${mal.userId}"]`, wait);
    assert.equal(await monitor.textContent(`#players tr[data-user="${mal.userId}"] td:nth-child(2)`), evil);

    for (const page of [mal.page, ivy.page, monitor]) {
      assert.equal(await page.$$eval("img[src=x]", (es) => es.length), 0);
      assert.equal(await page.evaluate(() => window.__xss), undefined);
    }
    assert.deepEqual([...mal.errors, ...ivy.errors], []);
  });

  test("gomoku: the move clock, the last move, the held seat, the result, a rematch and the history", async () => {
    const dan = await player("dan");
    const eve = await player("eve");
    await dan.page.click("[data-create=gomoku]");
    await dan.page.waitForSelector("#game-view[data-game=gomoku][data-seat='1']", wait);
    const room = await dan.page.getAttribute("#game-view", "data-room");
    await eve.page.waitForSelector(`[data-join="${room}"]`, wait);
    await eve.page.click(`[data-join="${room}"]`);
    await eve.page.waitForSelector("#game-view[data-seat='2']", wait);

    // The clock counts down the 30 s a move has, for both players. eve is
    // seated before the tick that starts the game reaches her, so each page
    // is waited for: until then hers says "waiting".
    await dan.page.waitForSelector("#clock[data-seconds]", wait);
    await eve.page.waitForSelector("#clock[data-seconds]", wait);
    const secs = Number(await dan.page.getAttribute("#clock", "data-seconds"));
    assert.ok(secs > 0 && secs <= 30, `clock shows ${secs} s`);
    assert.match(await dan.page.textContent("#clock"), /s for your move/);
    assert.match(await eve.page.textContent("#clock"), /s for dan/);

    // The last stone carries the mark, and only it.
    await play(dan, 1, 7, 7);
    await stonesOn([dan, eve], 1);
    await play(eve, 2, 0, 1);
    await stonesOn([dan, eve], 2);
    assert.deepEqual(await dan.page.$$eval("#gomoku-board .last", (cs) => cs.map((c) => `${c.dataset.x},${c.dataset.y}`)), ["0,1"]);

    // eve's network goes away: dan sees how long her seat is held.
    const kit = await player("kit");
    await kit.page.waitForSelector(`[data-watch="${room}"]`, wait);
    // Her path stays down until kit has seen the countdown too.
    eve.path.cut(Infinity);
    await dan.page.waitForSelector("#held:not([hidden])[data-seconds]", wait);
    const held = Number(await dan.page.getAttribute("#held", "data-seconds"));
    assert.ok(held > 0 && held <= 30, `held for ${held} s`);
    assert.match(await dan.page.textContent("#held"), /eve lost their connection\. Their seat is held for \d+ s\./);
    await dan.page.screenshot({ path: join(ARTIFACTS, "demo-held-seat.png") });
    // kit, who comes to watch after the drop, sees the same countdown (from
    // the room's roster, since kit missed the drop event).
    await kit.page.click(`[data-watch="${room}"]`);
    await kit.page.waitForSelector("#game-view[data-seat=spectator]", wait);
    await kit.page.waitForSelector("#held:not([hidden])[data-seconds]", wait);
    assert.match(await kit.page.textContent("#held"), /eve lost their connection\. Their seat is held for \d+ s\./);
    // She comes back and the line goes. Her reconnects back off (250 ms
    // doubling, full jitter), but while her seat is held no delay passes an
    // eighth of the 30 s resume window: the attempt after her path is back
    // comes within ~4 s, well inside the window.
    eve.path.restore();
    await eve.page.waitForSelector("#game-view[data-resumed='1']", { timeout: 60_000 });
    await dan.page.waitForSelector("#held[hidden]", { ...wait, state: "attached" });
    await kit.page.waitForSelector("#held[hidden]", { ...wait, state: "attached" });

    // dan makes five in a row: the banner tells each how it ended.
    const moves = [
      [dan, 1, 8, 7],
      [eve, 2, 1, 1],
      [dan, 1, 9, 7],
      [eve, 2, 2, 1],
      [dan, 1, 10, 7],
      [eve, 2, 3, 1],
      [dan, 1, 11, 7],
    ];
    let n = 2;
    for (const [p, seat, x, y] of moves) {
      await play(p, seat, x, y);
      await stonesOn([dan, eve], ++n);
    }
    await dan.page.waitForSelector("#result:not([hidden])[data-outcome=won]", wait);
    await eve.page.waitForSelector("#result:not([hidden])[data-outcome=lost]", wait);
    assert.equal(await dan.page.textContent("#result-text"), "You win, five in a row!");
    assert.equal(await eve.page.textContent("#result-text"), "dan wins, five in a row.");
    await eve.page.screenshot({ path: join(ARTIFACTS, "demo-gomoku-result.png") });

    // eve asks for a rematch; dan's banner offers it, and both land in a new room.
    await eve.page.click("#rematch");
    // Until eve is seated in the new room, her view is the old room's, then
    // the lobby's: wait for a room that is not the old one.
    await eve.page.waitForSelector(`#game-view[data-game=gomoku][data-seat][data-room]:not([data-room="${room}"])`, wait);
    await dan.page.waitForSelector("#rematch[data-offer]", wait);
    assert.equal(await dan.page.textContent("#rematch-status"), "eve wants a rematch.");
    const rematch = await eve.page.getAttribute("#game-view", "data-room");
    assert.notEqual(rematch, room);
    await dan.page.click("#rematch");
    await dan.page.waitForSelector(`#game-view[data-room="${rematch}"][data-seat]`, wait);
    await eve.page.waitForSelector("#players li:nth-child(2)", wait);

    // Back in the lobby, dan's profile has the win. Leaving the rematch
    // while it runs forfeits it, and the store records that loss shortly
    // after: the profile, loaded again once it has, lists the loss first,
    // so the win's own line is read.
    await dan.page.click("#leave-room");
    await dan.page.waitForSelector("#lobby-view:not([hidden])", wait);
    await dan.page.waitForSelector('#profile .history li[data-outcome="won"]', wait);
    assert.match(await dan.page.textContent('#profile .history li[data-outcome="won"]'), /won gomoku vs eve/);
    await dan.page.screenshot({ path: join(ARTIFACTS, "demo-profile.png") });
    assert.deepEqual([...dan.errors, ...eve.errors, ...kit.errors], []);
  });

  test("arena: a round ends with everyone's points, and the profile keeps them", async () => {
    // Rounds of 8 s instead of the demo's 3 minutes (?arena_seconds=): long enough for jon to join the round ida started.
    const ida = await player("ida", DESKTOP, "?arena_seconds=8");
    const jon = await player("jon", DESKTOP, "?arena_seconds=8");
    await ida.page.click("[data-quick=arena]");
    await ida.page.waitForSelector("#game-view[data-game=arena][data-seat]", wait);
    const room = await ida.page.getAttribute("#game-view", "data-room");
    await jon.page.click("[data-quick=arena]");
    await jon.page.waitForSelector(`#game-view[data-room="${room}"][data-seat]`, wait);
    // ida walks right the whole round, into pickups or not.
    await ida.page.keyboard.down("ArrowRight");
    for (const p of [ida, jon]) await p.page.waitForSelector("#scores[data-ended=true]", wait);
    await ida.page.keyboard.up("ArrowRight");
    // A round where neither scored, or both the same, is a draw.
    for (const p of [ida, jon]) assert.match(await p.page.textContent("#game-status"), /^Round over: (.+ with \d+ points?|a draw, everyone with \d+ points?)/);

    // In the lobby, each profile lists the round with the player's points, and the arena standing their total.
    for (const p of [ida, jon]) {
      await p.page.click("#leave-room");
      await p.page.waitForSelector("#lobby-view:not([hidden])", wait);
      await p.page.waitForSelector("#profile .history li .points", wait);
      assert.match(await p.page.textContent("#profile .history li"), new RegExp(`^(won|lost|drew) arena vs ${p === ida ? "jon" : "ida"} · \\d+ points? · time up`));
      await p.page.waitForSelector('#profile .standings li[data-game="arena"]', wait);
      assert.match(await p.page.textContent('#profile .standings li[data-game="arena"]'), /^arena #\d+ · [01] won, [01] lost, [01] drawn, \d+ points? in all$/);
    }
    await ida.page.screenshot({ path: join(ARTIFACTS, "demo-arena-round.png") });
    assert.deepEqual([...ida.errors, ...jon.errors], []);
  });

  test("a room with no view of its own shows its state in the inspector; its closing is said in words", async () => {
    const fay = await player("fay");
    await fay.page.click("[data-quick=lobbychat]");
    await fay.page.waitForSelector("#game-view[data-game=lobbychat]", wait);
    await fay.page.waitForSelector("#inspector:not([hidden]) .tr-group", wait);
    assert.match(await fay.page.textContent("#inspector"), /tick/);

    // An operator closes the room: fay is back in the lobby and told why.
    const room = await fay.page.getAttribute("#game-view", "data-room");
    const res = await fetch(`${await server.adminUrl}/v1/admin/rooms/${room}/close`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 200);
    await fay.page.waitForSelector("#lobby-view:not([hidden])", wait);
    assert.equal(await fay.page.textContent("#lobby-status"), "The room closed.");
    assert.deepEqual(fay.errors, []);
  });

  for (const [label, viewport] of [
    ["1280x720", DESKTOP],
    ["390x844", PHONE],
  ]) {
    test(`the page fits a ${label} screen`, async () => {
      const gus = await player(`gus${viewport.width}`, viewport);
      const name = `gus${viewport.width}`;
      // The room list is empty, and takes no room, until its first update.
      await gus.page.waitForSelector("#rooms[data-rooms]", wait);
      await fits(gus, ["#games [data-quick=gomoku]", "#rooms", "#chat-input", "#people", "#logout"], viewport === DESKTOP ? ["#games [data-quick=gomoku]", "#chat-input", "#logout"] : ["#games [data-quick=gomoku]", "#logout"]);
      await gus.page.screenshot({ path: join(ARTIFACTS, `layout-${label}-lobby.png`), fullPage: true });

      await gus.page.click("[data-quick=gomoku]");
      await gus.page.waitForSelector("#game-view[data-game=gomoku][data-seat]", wait);
      await fits(gus, ["#gomoku-board", "#gomoku-board [data-x='14'][data-y='0']", "#clock", "#leave-room"], ["#gomoku-board [data-x='14'][data-y='0']", "#leave-room"]);
      await gus.page.screenshot({ path: join(ARTIFACTS, `layout-${label}-gomoku.png`), fullPage: true });
      await gus.page.click("#leave-room");
      await gus.page.waitForSelector("#lobby-view:not([hidden])", wait);

      await gus.page.click("[data-quick=arena]");
      await gus.page.waitForSelector("#scores li.self", wait);
      await fits(gus, ["#arena-canvas", ".scoreboard", "#leave-room"], ["#arena-canvas", "#leave-room"]);
      if (viewport === DESKTOP) {
        // The scoreboard stands beside the canvas, not under it.
        const [canvas, board] = await gus.page.$$eval(["#arena-canvas", ".scoreboard"].join(","), (es) => es.map((e) => e.getBoundingClientRect().toJSON()));
        assert.ok(board.left >= canvas.right, `scoreboard at x=${board.left}, canvas ends at ${canvas.right}`);
        assert.ok(board.top < canvas.bottom, "scoreboard below the canvas");
      }
      assert.equal(await gus.page.textContent("#scores li.self .score-name"), name);
      await gus.page.screenshot({ path: join(ARTIFACTS, `layout-${label}-arena.png`), fullPage: true });
      assert.deepEqual(gus.errors, []);
    });
  }
});
