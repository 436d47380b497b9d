// Voice between the two players of a gomoku room, end to end: Chromium
// with fake media devices, two pages of the demo against the tickroom
// binary; one clicks Voice, the other answers, the offer, answer and ICE
// candidates go through the server's signaling relay, and both peer
// connections reach "connected" over loopback host candidates. (That a
// third party cannot inject signaling is server/hub's
// TestSignalingRefusals.)
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "./harness.mjs";
import { startServer } from "./tickroom-server.mjs";

const wait = { timeout: 30_000 };

describe("voice in a gomoku room", { timeout: 180_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        ...CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
      ],
      headless: true,
      timeout: 60_000,
    });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function player(name) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    await page.goto(`${server.httpUrl}/`);
    await page.waitForSelector("body[data-ready=true]", wait);
    await page.fill("#login-name", name);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("body[data-connection=open]", wait);
    await page.click("[data-quick=gomoku]");
    await page.waitForSelector("#game-view[data-game=gomoku][data-seat]", wait);
    return { page, errors, context };
  }

  test("two players set up a call and reach connected", async () => {
    const ann = await player("ann");
    const bob = await player("bob");
    await ann.page.waitForSelector("#players li:nth-child(2)", wait);
    await ann.page.waitForSelector("#voice:not([hidden])", wait);
    await ann.page.click("#voice");
    await ann.page.waitForSelector('#voice[data-voice="connected"]', wait);
    await bob.page.waitForSelector('#voice[data-voice="connected"]', wait);
    // The callee hears something: the caller's fake microphone arrives.
    await bob.page.waitForFunction(() => {
      const a = document.getElementById("voice-audio");
      return a instanceof HTMLAudioElement && a.srcObject instanceof MediaStream && a.srcObject.getAudioTracks().length === 1;
    }, null, wait);
    await ann.page.click("#voice"); // hang up
    await bob.page.waitForSelector('#voice[data-voice="closed"]', wait);
    assert.deepEqual([...ann.errors, ...bob.errors], []);
    await ann.context.close();
    await bob.context.close();
  });
});
