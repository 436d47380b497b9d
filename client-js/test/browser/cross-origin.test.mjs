// A page served from another origin than the server's HTTP side (a CDN, a
// game portal, a bundler's dev server on its own port), as docs/games.md
// describes it: the page passes the server's origin to login, webSocketUrl
// and connect's httpUrl, and the server lists the page's origin in
// -origins. Chromium enforces CORS, so this runs there against the binary.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { launchBrowser, startStaticServer } from "./harness.mjs";
import { startServer } from "./tickroom-server.mjs";

describe("a page on another origin", { timeout: 120_000 }, () => {
  let listed, unlisted, srv, browser;
  before(async () => {
    listed = await startStaticServer();
    unlisted = await startStaticServer();
    srv = await startServer(["-origins", listed.url]);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
    await listed?.close();
    await unlisted?.close();
  });

  async function page(base) {
    const p = await browser.context.newPage();
    await p.goto(`${base}/test/browser/pages/smoke.html`);
    await p.waitForFunction(() => document.getElementById("status")?.textContent === "ready", null, { timeout: 30_000 });
    return p;
  }

  it("logs in, connects and plays when the server lists it", async () => {
    const p = await page(listed.url);
    const got = await p.evaluate(async (origin) => {
      const { login, webSocketUrl, connect } = window.tickroom;
      const session = await login("ann", { baseUrl: origin });
      const client = await connect({ url: await webSocketUrl(origin), token: session.token, httpUrl: origin });
      const room = await client.quickMatch("gomoku");
      const out = { name: client.welcome.name, game: room.game, seat: room.seat };
      client.close();
      return out;
    }, srv.httpUrl);
    assert.deepEqual(got, { name: "ann", game: "gomoku", seat: 1 });
  });

  it("learns that a refused token is refused, through the session check", async () => {
    const p = await page(listed.url);
    const got = await p.evaluate(async (origin) => {
      const { webSocketUrl, connect } = window.tickroom;
      try {
        await connect({ url: await webSocketUrl(origin), token: "forged", httpUrl: origin, connectTimeoutMs: 5000 });
        return "connected";
      } catch (e) {
        return e.code;
      }
    }, srv.httpUrl);
    assert.equal(got, "unauthorized");
  });

  it("cannot read the server's answers when the server does not list it", async () => {
    const p = await page(unlisted.url);
    const got = await p.evaluate(async (origin) => {
      try {
        await window.tickroom.login("eve", { baseUrl: origin });
        return "logged in";
      } catch (e) {
        return e.name;
      }
    }, srv.httpUrl);
    assert.equal(got, "TypeError");
  });
});
