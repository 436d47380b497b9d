// End-to-end tests of the demo page in headless Chromium against the real
// server binary: two pages play gomoku to a win, chat (markup in a message
// shows as text) and send direct messages, a page whose network drops
// resumes its seat, and the arena is drawn and steered (a screenshot is
// saved to test-artifacts/arena.png). Each page reaches the server through
// its own cuttable network path (net-path.mjs).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdir, stat } from "node:fs/promises";
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

// IDENTITY_KEY is the server's identity token key (HS256).
const IDENTITY_KEY = "demo-test-identity-key-0123456789abcdef";

/** identityToken is an HS256 identity token for sub named name, valid for an hour. */
function identityToken(sub, name) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub, name, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${body}.${createHmac("sha256", IDENTITY_KEY).update(body).digest("base64url")}`;
}

describe("demo page against the tickroom binary", { timeout: 180_000 }, () => {
  let server;
  let browser;
  const cleanups = [];

  before(async () => {
    // Every page and client logs in from 127.0.0.1, more than the guest
    // login limit's burst (10) together.
    // The identity key lets a test log in users whose ids are an identity
    // provider's subjects.
    server = await startServer(["-drop-grace", "60s", "-guest-login-rate", "inf"], { env: { TICKROOM_IDENTITY_KEY: IDENTITY_KEY } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  });

  after(async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  // player opens a fresh browser context (its own storage) on its own
  // network path and logs in with name.
  async function player(name) {
    const path = await startNetPath(server.httpUrl, server.wsAddr);
    const context = await browser.newContext({ viewport: { width: 1200, height: 860 } });
    cleanups.push(() => context.close(), () => path.close());
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    page.on("console", (msg) => {
      // A cut network shows up as a failed WebSocket in the console; that is the point.
      if (msg.type() === "error" && !/WebSocket/.test(msg.text())) errors.push(msg.text());
    });
    await page.goto(`${path.url}/`);
    await page.waitForSelector("body[data-ready=true]", wait);
    await page.fill("#login-name", name);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("body[data-connection=open]", wait);
    assert.equal(await page.textContent("#me"), `${name} (guest)`);
    const userId = await page.getAttribute("body", "data-user");
    return { name, page, path, errors, userId };
  }

  async function quickMatch(p, game) {
    await p.page.click(`[data-quick=${game}]`);
    await p.page.waitForSelector(`#game-view[data-game=${game}][data-seat]`, wait);
    return {
      room: await p.page.getAttribute("#game-view", "data-room"),
      seat: await p.page.getAttribute("#game-view", "data-seat"),
    };
  }

  // stonesOn waits until every page shows n stones.
  async function stonesOn(pages, n) {
    for (const p of pages) await p.page.waitForSelector(`#gomoku-board[data-stones="${n}"]`, wait);
  }

  // play clicks a cell on p's board once it is p's turn.
  async function play(p, seat, x, y) {
    await p.page.waitForSelector(`#gomoku-board[data-turn="${seat}"]`, wait);
    await p.page.click(`#gomoku-board [data-x="${x}"][data-y="${y}"]`);
  }

  async function stoneAt(p, x, y) {
    const cls = await p.page.getAttribute(`#gomoku-board [data-x="${x}"][data-y="${y}"]`, "class");
    return cls.includes("black") ? "black" : cls.includes("white") ? "white" : "";
  }

  test("a saved session the server refuses returns to login with a clear message", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    cleanups.push(() => context.close());
    // A session from before a server restart with a new key: the token is refused (401 on the upgrade).
    await context.addInitScript(() => {
      sessionStorage.setItem("tickroom.demo.session", JSON.stringify({ token: "k1.e30.forged", name: "ghost", expiresAtMs: 0 }));
    });
    const page = await context.newPage();
    await page.goto(`${server.httpUrl}/`);
    await page.waitForFunction(() => document.querySelector("#login-status")?.textContent?.includes("Your session ended, please log in again."), null, wait);
    assert.equal(await page.isVisible("#login-form"), true);
    assert.equal(await page.evaluate(() => sessionStorage.getItem("tickroom.demo.session")), null);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "demo-session-ended.png") });
  });

  // loginPage opens the demo in a fresh browser context, on the server's
  // own address, and waits for its login form.
  async function loginPage() {
    const context = await browser.newContext({ viewport: { width: 1200, height: 860 } });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    await page.goto(`${server.httpUrl}/`);
    await page.waitForSelector("body[data-ready=true]", wait);
    return page;
  }

  // The server takes names of up to 32 characters (runes); the box counts
  // UTF-16 units, two for an emoji, so a box that stopped at 32 of them cut
  // a name of 17 to 32 emoji the server would take.
  test("a name of 32 emoji can be typed and logs in; one of 33 is told the limit", async () => {
    const page = await loginPage();
    const long = "🎲".repeat(33);
    await page.locator("#login-name").pressSequentially(long);
    assert.equal([...(await page.inputValue("#login-name"))].length, 33, "the box kept every emoji typed");
    await page.click("#login-form button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#login-status")?.textContent?.includes("at most 32 characters; this one has 33"), null, wait);
    const name = "🎲".repeat(32);
    await page.fill("#login-name", "");
    await page.locator("#login-name").pressSequentially(name);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("body[data-connection=open]", wait);
    assert.equal(await page.textContent("#me"), `${name} (guest)`);
  });

  // A macOS or iOS keyboard may hand the page a Hangul syllable as its
  // three jamo; the server counts a name after composing it (PRECIS, NFKC),
  // so 32 syllables are 32 characters, not 96.
  // storeReads counts the match history and the leaderboard requests
  // among frames, the ClientMessages a page sent: their body fields are
  // 18 and 19 (tickroom/v1/envelope.proto), after request_id, field 1.
  function storeReads(frames) {
    const n = { histories: 0, boards: 0 };
    for (const b of frames) {
      let i = 0;
      const varint = () => {
        let v = 0;
        for (let shift = 0; i < b.length; shift += 7) {
          const c = b[i++];
          v += (c & 0x7f) * 2 ** shift;
          if (c < 0x80) break;
        }
        return v;
      };
      let tag = varint();
      if (tag === 1 << 3) {
        varint();
        tag = varint();
      }
      if (tag === ((18 << 3) | 2)) n.histories++;
      if (tag === ((19 << 3) | 2)) n.boards++;
    }
    return n;
  }

  // The server answers a user's match histories and leaderboards within
  // one budget (10 at once, then one a second): the profile shown at
  // login is loaded once, a match history and a leaderboard for each
  // game, not twice.
  test("logging in loads the profile once", async () => {
    const page = await loginPage();
    const frames = [];
    page.on("websocket", (ws) => ws.on("framesent", (f) => typeof f.payload !== "string" && frames.push(f.payload)));
    await page.fill("#login-name", "reader");
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("body[data-connection=open]", wait);
    await page.waitForSelector("#profile[data-matches]", wait);
    // The frames of a second load would go out with the first's.
    await page.waitForTimeout(1000);
    const games = (await page.$$eval("#games [data-quick]", (bs) => bs.map((b) => b.getAttribute("data-quick")))).filter((g) => g !== "lobbychat");
    assert.ok(games.length > 0, "no game offered in the lobby");
    assert.deepEqual(storeReads(frames), { histories: 1, boards: games.length }, `store reads at login: a match history and a leaderboard for each of ${games.join(", ")}, once`);
  });

  test("a name of 32 Hangul syllables typed decomposed logs in", async () => {
    const page = await loginPage();
    const composed = "한".repeat(32);
    await page.fill("#login-name", composed.normalize("NFD"));
    assert.equal([...(await page.inputValue("#login-name"))].length, 96, "the box holds the jamo as typed");
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("body[data-connection=open]", wait);
    assert.equal(await page.textContent("#me"), `${composed} (guest)`);
  });

  // Two windows of one browser share its localStorage: the device secret
  // of the first login must not turn the second tab's new name into the
  // first tab's account (which also logged the first tab out).
  test("two tabs of one browser log in as two users and both stay connected", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    cleanups.push(() => context.close());
    const tab = async (name) => {
      const page = await context.newPage();
      await page.goto(`${server.httpUrl}/`);
      await page.waitForSelector("body[data-ready=true]", wait);
      await page.fill("#login-name", name);
      await page.click("#login-form button[type=submit]");
      await page.waitForSelector("body[data-connection=open]", wait);
      return page;
    };
    const one = await tab("tabone");
    const two = await tab("tabtwo");
    assert.equal(await two.textContent("#me"), "tabtwo (guest)");
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await one.getAttribute("body", "data-connection"), "open", await one.textContent("#login-status"));
    assert.equal(await one.textContent("#me"), "tabone (guest)");
    assert.notEqual(await one.getAttribute("body", "data-user"), await two.getAttribute("body", "data-user"));
    // A reload keeps each tab's user; logging out and in with a new name gives a new user.
    await two.reload();
    await two.waitForSelector("body[data-connection=open]", wait);
    assert.equal(await two.textContent("#me"), "tabtwo (guest)");
    await one.click("#logout");
    // Logged out, the top bar no longer says connected.
    assert.equal(await one.textContent("#conn-status"), "offline");
    assert.equal(await one.getAttribute("body", "data-connection"), "closed");
    await one.fill("#login-name", "tabthree");
    await one.click("#login-form button[type=submit]");
    await one.waitForFunction(() => document.querySelector("#me")?.textContent !== "", null, wait);
    assert.equal(await one.textContent("#me"), "tabthree (guest)");
  });

  test("two pages join one gomoku room and play to a win", async () => {
    const ann = await player("ann");
    const bob = await player("bob");
    const a = await quickMatch(ann, "gomoku");
    const b = await quickMatch(bob, "gomoku");
    assert.equal(b.room, a.room, "quick match put both pages in one room");
    assert.deepEqual([a.seat, b.seat], ["1", "2"]);
    await ann.page.waitForSelector("#players li:nth-child(2)", wait);
    assert.deepEqual(await ann.page.$$eval("#players li", (ls) => ls.map((l) => l.textContent)), ["1. ann", "2. bob"]);

    // Bob may not move first: the page says so and sends nothing. He is
    // seated before the tick that starts the game reaches his page, and
    // until then a click is told the match is not running: his page is
    // waited for until it shows ann to move.
    await bob.page.waitForSelector('#gomoku-board[data-turn="1"]', wait);
    await bob.page.click('#gomoku-board [data-x="7"][data-y="7"]');
    assert.match(await bob.page.textContent("#game-status"), /Not your turn|ann \(black\) to move/);

    let n = 0;
    for (let i = 0; i < 4; i++) {
      await play(ann, 1, i, 0);
      await stonesOn([ann, bob], ++n);
      await play(bob, 2, i, 1);
      await stonesOn([ann, bob], ++n);
    }
    // Each page notes the stones its board shows as its status changes.
    for (const p of [ann, bob]) {
      await p.page.evaluate(() => {
        const status = document.getElementById("game-status");
        window.stonesAt = [];
        new MutationObserver(() => window.stonesAt.push([status.textContent, document.getElementById("gomoku-board")?.dataset.stones])).observe(status, { childList: true, characterData: true, subtree: true });
      });
    }
    await play(ann, 1, 4, 0);
    await stonesOn([ann, bob], 9);
    await ann.page.waitForFunction(() => document.getElementById("game-status")?.textContent?.startsWith("You win"), null, wait);
    await bob.page.waitForFunction(() => document.getElementById("game-status")?.textContent?.startsWith("ann wins"), null, wait);
    // The result comes after the state of the tick that ended the match:
    // a page tells the win with the fifth stone on its board.
    for (const p of [ann, bob]) {
      const at = await p.page.evaluate(() => window.stonesAt.find(([s]) => /^(You win|ann wins)/.test(s ?? "")));
      assert.equal(at?.[1], "9", `${p.name}'s page told the result (${at?.[0]}) over a board without the winning stone`);
    }
    for (const p of [ann, bob]) {
      assert.equal(await p.page.$$eval("#gomoku-board .win", (cs) => cs.length), 5, `${p.name} sees the winning five`);
      assert.equal(await stoneAt(p, 4, 0), "black");
      assert.equal(await stoneAt(p, 3, 1), "white");
      assert.equal(await p.page.getAttribute("#gomoku-board", "data-turn"), "0", "no one moves after the end");
    }

    // In a room, the chat goes to the room by default.
    assert.equal(await bob.page.inputValue("#chat-to"), "room");
    await bob.page.fill("#chat-input", "gg");
    await bob.page.click("#chat-form button[type=submit]");
    await ann.page.waitForSelector("#chat-log li[data-from=bob]", wait);
    assert.equal(await ann.page.textContent("#chat-log li[data-from=bob] .where"), "[room]");
    assert.equal(await ann.page.textContent("#chat-log li[data-from=bob] .text"), "gg");
    await mkdir(ARTIFACTS, { recursive: true });
    await ann.page.screenshot({ path: join(ARTIFACTS, "gomoku.png") });
    assert.deepEqual([...ann.errors, ...bob.errors], []);
  });

  test("a page whose network drops reconnects and resumes the same seat", async () => {
    const cam = await player("cam");
    const dee = await player("dee");
    const c = await quickMatch(cam, "gomoku");
    const d = await quickMatch(dee, "gomoku");
    assert.equal(d.room, c.room);
    await play(cam, 1, 7, 7);
    await stonesOn([cam, dee], 1);
    await play(dee, 2, 8, 8);
    await stonesOn([cam, dee], 2);

    assert.equal(dee.path.cut(1500), 1, "one WebSocket ran over dee's path");
    // The other player is told, and the page comes back on its own.
    await cam.page.waitForSelector("#players li.away", wait);
    await dee.page.waitForSelector("#game-view[data-resumed='1']", wait);
    await dee.page.waitForSelector("body[data-connection=open]", wait);
    assert.equal(await dee.page.getAttribute("#game-view", "data-seat"), "2", "same seat after the resume");
    assert.equal(await dee.page.getAttribute("#game-view", "data-room"), d.room);
    await stonesOn([dee], 2);
    assert.equal(await stoneAt(dee, 7, 7), "black");
    assert.equal(await stoneAt(dee, 8, 8), "white");
    await cam.page.waitForFunction(() => document.querySelectorAll("#players li.away").length === 0, null, wait);

    // The resumed seat plays on.
    await play(cam, 1, 6, 6);
    await stonesOn([cam, dee], 3);
    await play(dee, 2, 9, 9);
    await stonesOn([cam, dee], 4);
    assert.equal(await stoneAt(cam, 9, 9), "white");

    // A reload starts a new socket with the token the tab kept; the page
    // takes the held seat back from the Welcome.
    await dee.page.reload();
    await dee.page.waitForSelector("body[data-connection=open]", wait);
    await dee.page.waitForSelector("#game-view[data-seat]", wait);
    assert.equal(await dee.page.getAttribute("#game-view", "data-seat"), "2");
    assert.equal(await dee.page.getAttribute("#game-view", "data-room"), d.room);
    await stonesOn([dee], 4);
    await play(cam, 1, 5, 5);
    await stonesOn([cam, dee], 5);
    assert.deepEqual([...cam.errors, ...dee.errors], []);
  });

  test("chat and direct messages show markup as text", async () => {
    const eve = await player("eve");
    const fay = await player("fay");
    const lines = ["hello from eve", "<script>window.__xss = 1</script>", '<img src=x onerror="window.__xss = 2">'];
    for (const text of lines) {
      await eve.page.fill("#chat-input", text);
      await eve.page.click("#chat-form button[type=submit]");
      await eve.page.waitForFunction(() => document.getElementById("chat-input")?.value === "", null, wait);
    }
    for (const p of [eve, fay]) {
      await p.page.waitForFunction((n) => document.querySelectorAll("#chat-log li[data-from=eve] .text").length >= n, lines.length, wait);
      const shown = await p.page.$$eval("#chat-log li[data-from=eve] .text", (ts) => ts.map((t) => t.textContent));
      assert.deepEqual(shown.slice(-lines.length), lines, `${p.name} sees eve's lines as typed`);
      assert.equal(await p.page.$$eval("#chat-log img, #chat-log script", (es) => es.length), 0);
      assert.equal(await p.page.evaluate(() => window.__xss), undefined);
    }

    // fay answers eve privately by clicking her name.
    await fay.page.click("#chat-log li[data-from=eve] .from");
    assert.equal(await fay.page.inputValue("#chat-to"), `dm:${eve.userId}`);
    const secret = "psst <b>not bold</b>";
    await fay.page.fill("#chat-input", secret);
    await fay.page.click("#chat-form button[type=submit]");
    await eve.page.waitForSelector("#chat-log li.dm[data-from=fay]", wait);
    assert.equal(await eve.page.textContent("#chat-log li.dm[data-from=fay] .text"), secret);
    assert.equal(await eve.page.$$eval("#chat-log b", (es) => es.length), 0);
    await mkdir(ARTIFACTS, { recursive: true });
    await eve.page.screenshot({ path: join(ARTIFACTS, "lobby.png") });
    assert.deepEqual([...eve.errors, ...fay.errors], []);
  });

  // A line another client sends may hold line breaks (the demo's box takes
  // none, client-js and others send any text). Shown with its breaks, one
  // line read as two, the second as if someone else said it:
  // "gg\n[#general] admin: ..." under eve's name. Each line is shown on one
  // line, its breaks as spaces.
  test("a chat line's line breaks do not show as lines of their own", async () => {
    const ida = await player("ida");
    const { connect, login } = await import("../../dist/browser/tickroom.js");
    const { WebSocket } = await import("ws");
    const session = await login("mal", { baseUrl: server.httpUrl });
    const mal = await connect({ url: `ws://${server.wsAddr}/v1/ws`, token: session.token, WebSocket });
    cleanups.push(async () => mal.close());
    await mal.joinChannel("general");
    const forged = ["gg\n[#general] admin: hi", "a\r\nb", "c\u2028d", "e\u2029f", "g\u000bh\u000ci\u0085j"];
    for (const text of forged) await mal.sendChat({ channel: "general" }, text);
    await ida.page.waitForFunction((n) => document.querySelectorAll("#chat-log li[data-from=mal]").length >= n, forged.length, wait);
    const shown = await ida.page.$$eval("#chat-log li[data-from=mal]", (lis) =>
      lis.map((li) => {
        const from = li.querySelector(".from").getBoundingClientRect();
        const rects = [...li.querySelector(".text").getClientRects()];
        return { text: li.querySelector(".text").textContent, lines: new Set(rects.map((r) => Math.round(r.top))).size, top: Math.round(rects[0].top), fromTop: Math.round(from.top) };
      }),
    );
    assert.equal(shown.length, forged.length);
    const broken = shown.filter((l) => l.lines !== 1).map((l) => l.text);
    assert.deepEqual(broken, [], "lines shown on more than one line");
    for (const [i, line] of shown.entries()) {
      assert.equal(line.lines, 1, `mal's line ${JSON.stringify(forged[i])} shows on ${line.lines} lines: ${JSON.stringify(line.text)}`);
      assert.equal(line.top, line.fromTop, `mal's line ${JSON.stringify(forged[i])} starts beside the name`);
    }
    assert.equal(shown[0].text, "gg [#general] admin: hi");
    assert.deepEqual(ida.errors, []);
  });

  // Display names are not unique (a guest may take any name, a claimed one
  // too), so two users of one name in the direct-message picker are told
  // apart by their ids: a message goes to the one picked.
  test("two users of one name are told apart in the direct-message picker", async () => {
    const kim = await player("kim");
    const { connect, login } = await import("../../dist/browser/tickroom.js");
    const { WebSocket } = await import("ws");
    const adas = [];
    for (const i of [1, 2]) {
      const session = await login("ada", { baseUrl: server.httpUrl });
      const c = await connect({ url: `ws://${server.wsAddr}/v1/ws`, token: session.token, WebSocket });
      cleanups.push(async () => c.close());
      await c.joinChannel("general");
      await c.sendChat({ channel: "general" }, `ada number ${i}`);
      adas.push(session.userId);
    }
    await kim.page.waitForFunction(() => document.querySelectorAll("#chat-log li[data-from=ada]").length >= 2, null, wait);
    const labels = await kim.page.$$eval("#chat-to option", (os) => Object.fromEntries(os.map((o) => [o.value, o.textContent])));
    const [one, two] = adas.map((id) => labels[`dm:${id}`]);
    assert.ok(one?.startsWith("@ada") && two?.startsWith("@ada"), `labels ${JSON.stringify(labels)}`);
    assert.notEqual(one, two, "the two adas look the same in the picker");
    assert.deepEqual(kim.errors, []);
  });

  // The short forms of ids are told apart whatever the ids: those of an
  // identity provider share a prefix ("oidc|user-…"), and a claimed
  // account keeps the id it had as a guest ("guest-…"), so its label must
  // not call it a guest.
  test("users of one name whose ids share a prefix are told apart, and no account is called a guest", async () => {
    const lea = await player("lea");
    const { connect, login } = await import("../../dist/browser/tickroom.js");
    const { WebSocket } = await import("ws");
    const ids = [];
    const say = async (session, text) => {
      const c = await connect({ url: `ws://${server.wsAddr}/v1/ws`, token: session.token, WebSocket });
      cleanups.push(async () => c.close());
      await c.joinChannel("general");
      await c.sendChat({ channel: "general" }, text);
      ids.push(session.userId);
    };
    for (const sub of ["oidc|user-0001", "oidc|user-0002"]) {
      await say(await login({ identityToken: identityToken(sub, "zoe") }, { baseUrl: server.httpUrl, storage: null }), `zoe ${sub}`);
    }
    // A guest claims zoe; another guest shows the same name.
    const owner = await login("zoe", { baseUrl: server.httpUrl, storage: null });
    const claim = await fetch(`${server.httpUrl}/v1/account/claim`, {
      method: "POST",
      headers: { authorization: `Bearer ${owner.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "zoe", password: "correct horse battery", device_secret: owner.deviceSecret }),
    });
    const reply = await claim.text();
    assert.equal(claim.status, 200, reply);
    const claimed = JSON.parse(reply);
    await say(claimed.token ? { ...owner, token: claimed.token } : owner, "zoe, the account");
    await say(await login("zoe", { baseUrl: server.httpUrl, storage: null }), "zoe, a guest");
    await lea.page.waitForFunction(() => document.querySelectorAll("#chat-log li[data-from=zoe]").length >= 4, null, wait);
    const labels = await lea.page.$$eval("#chat-to option", (os) => Object.fromEntries(os.map((o) => [o.value, o.textContent])));
    const shown = ids.map((id) => labels[`dm:${id}`]);
    assert.equal(new Set(shown).size, 4, `the four zoes' labels ${JSON.stringify(shown)}`);
    assert.ok(!/guest/.test(shown[2]), `the claimed account is labelled ${JSON.stringify(shown[2])}`);
    assert.deepEqual(lea.errors, []);
  });

  test("the arena is drawn on a canvas and steered with the keyboard", async () => {
    const gus = await player("gus");
    const hal = await player("hal");
    const g = await quickMatch(gus, "arena");
    const h = await quickMatch(hal, "arena");
    assert.equal(h.room, g.room);
    await gus.page.waitForSelector("#scores[data-players='2']", wait);
    await gus.page.waitForSelector("#arena-canvas[data-me]", wait);

    // Hold each arrow key in turn until the avatar moves (a wall may block one way).
    const start = await gus.page.getAttribute("#arena-canvas", "data-me");
    let moved = false;
    for (const key of ["ArrowRight", "ArrowLeft", "ArrowDown", "ArrowUp"]) {
      await gus.page.keyboard.down(key);
      moved = await gus.page
        .waitForFunction((s) => document.getElementById("arena-canvas")?.dataset.me !== s, start, { timeout: 3000 })
        .then(() => true, () => false);
      await gus.page.keyboard.up(key);
      if (moved) break;
    }
    assert.ok(moved, `gus's avatar never left ${start}`);

    // Something besides the background was drawn.
    const drawn = await gus.page.evaluate(() => {
      const c = document.getElementById("arena-canvas");
      const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i] !== 0x0c || px[i + 1] !== 0x0f || px[i + 2] !== 0x16) n++;
      return n;
    });
    assert.ok(drawn > 1000, `only ${drawn} pixels drawn`);
    await mkdir(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, "arena.png");
    await gus.page.screenshot({ path: shot });
    assert.ok((await stat(shot)).size > 0);
    assert.deepEqual([...gus.errors, ...hal.errors], []);
  });
});
