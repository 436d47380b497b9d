// End-to-end test of the demo's chat box in headless Chromium against the
// real server binary: it counts text in bytes of UTF-8 as the server does
// (docs/limits.md: 500 B, so 125 emoji or 166 CJK, where an input's
// maxlength counts UTF-16 units), shows what is left and refuses to send
// what the server would refuse; and when the server refuses a line all the
// same (here a route that lengthens the page's lines on their way, as a
// server configured below the default would), the player is told why in
// words and keeps the text to shorten.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "./harness.mjs";
import { startServer } from "./tickroom-server.mjs";

const lib = await import("../../dist/browser/tickroom.js");
const { pb } = lib;

// wait bounds every wait on the page; generous for a busy shared machine,
// and never part of what is asserted.
const wait = { timeout: 20_000 };

describe("demo chat box against the tickroom binary", { timeout: 120_000 }, () => {
  let server;
  let browser;
  const cleanups = [];

  before(async () => {
    server = await startServer(["-guest-login-rate", "inf"]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  });

  after(async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  // player opens a fresh browser context and logs in with name; route,
  // when given, sits between the page and the server's WebSocket.
  async function player(name, route) {
    const context = await browser.newContext({ viewport: { width: 1200, height: 860 } });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(msg.text());
    });
    if (route) await page.routeWebSocket(/\/v1\/ws/, route);
    await page.goto(`${server.httpUrl}/`);
    await page.waitForSelector("body[data-ready=true]", wait);
    await page.fill("#login-name", name);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("body[data-connection=open]", wait);
    return { name, page, errors };
  }

  // box fills the chat box with text and reads what the page shows of it.
  async function box(p, text) {
    await p.page.fill("#chat-input", text);
    return p.page.evaluate(() => {
      const left = document.getElementById("chat-left");
      return {
        left: left?.hidden ? "" : (left?.textContent ?? "(no counter)"),
        sendDisabled: document.querySelector("#chat-form button[type=submit]").disabled,
      };
    });
  }

  const lines = (p) => p.page.$$eval("#chat-log li", (ls) => ls.map((l) => l.textContent));

  test("counts bytes as the server does and tells the player before and after", async () => {
    // pad, when set, lengthens each chat line ann's page sends by that many
    // bytes, so that a line the page deems short enough is too long for the
    // server.
    let pad = 0;
    const ann = await player("ann", (ws) => {
      const srv = ws.connectToServer();
      ws.onMessage((data) => {
        if (pad > 0 && typeof data !== "string") {
          const msg = pb.fromBinary(pb.ClientMessageSchema, data);
          if (msg.body.case === "sendChat") {
            msg.body.value.text += "x".repeat(pad);
            data = Buffer.from(pb.toBinary(pb.ClientMessageSchema, msg));
          }
        }
        srv.send(data);
      });
    });
    const bob = await player("bob");

    // Over the limit in bytes, under it in UTF-16 units: refused before sending.
    for (const [what, text, left] of [
      ["126 emoji (504 B, 252 UTF-16 units)", "😀".repeat(126), "4 too long"],
      ["167 CJK (501 B, 167 UTF-16 units)", "漢".repeat(167), "1 too long"],
    ]) {
      assert.deepEqual(await box(ann, text), { left, sendDisabled: true }, what);
    }
    await ann.page.press("#chat-input", "Enter");

    // Both in the lobby channel, ann's line's target.
    for (const p of [ann, bob]) await p.page.waitForSelector("#chat-log[data-channel=general]", { ...wait, state: "attached" });

    // At the limit: shown as 0 left and sent.
    const most = "😀".repeat(125);
    assert.deepEqual(await box(ann, most), { left: "0", sendDisabled: false }, "125 emoji (500 B)");
    assert.deepEqual(await box(ann, "héllo"), { left: "494", sendDisabled: false }, "héllo (6 B)");
    await box(ann, most);
    await ann.page.click("#chat-form button[type=submit]");
    await ann.page.waitForFunction(() => document.getElementById("chat-input").value === "", null, wait);
    await bob.page.waitForSelector("#chat-log li[data-from=ann]", wait);
    assert.deepEqual(await bob.page.$$eval("#chat-log li[data-from=ann] .text", (ts) => ts.map((t) => t.textContent)), [most],
      "bob got exactly the line at the limit (none over it)");
    assert.deepEqual((await lines(ann)).filter((l) => l.startsWith("not sent")), [], "ann's page sent nothing the server refused");

    // The server refuses a line the page let through: the player reads why,
    // keeps the text, and the box now holds it to less.
    pad = 10;
    const text = "a".repeat(495);
    assert.deepEqual(await box(ann, text), { left: "5", sendDisabled: false });
    await ann.page.click("#chat-form button[type=submit]");
    await ann.page.waitForFunction(() => [...document.querySelectorAll("#chat-log li.system")].some((l) => l.textContent?.startsWith("not sent:")), null, wait);
    assert.deepEqual((await lines(ann)).filter((l) => l.startsWith("not sent")), [
      "not sent: That message is too long: 495 bytes, more than the server takes. Emoji and many scripts take 2 to 4 bytes a character; shorten it and send again.",
    ]);
    assert.equal(await ann.page.inputValue("#chat-input"), text, "the refused text stays in the box");
    assert.deepEqual(await box(ann, text), { left: "1 too long", sendDisabled: true }, "the box after the server's refusal");
    assert.deepEqual([...ann.errors, ...bob.errors], []);
  });
});
