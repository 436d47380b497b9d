// Voice between the two players of a gomoku room, end to end: Chromium
// with fake media devices, two pages of the demo against the tickroom
// binary; one clicks Voice, the other answers, the offer, answer and ICE
// candidates go through the server's signaling relay, and both peer
// connections reach "connected" over loopback host candidates. A third
// party who shares the room (a spectator, whom the server lets signal the
// players) cannot hang up the call or add candidates to it, even knowing
// the call's id: the server names the sender, and a call takes signals
// only from its peer. (Someone who shares no room and is no friend is
// refused by the server itself: server/hub's TestSignalingRefusals.)
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "./harness.mjs";
import { startServer } from "./tickroom-server.mjs";
import { WebSocket } from "ws";

const lib = await import("../../dist/browser/tickroom.js");

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

  test("a spectator who knows the call's id cannot hang it up or add candidates", async () => {
    const ann = await player("cat");
    const bob = await player("dan");
    await ann.page.waitForSelector("#players li:nth-child(2)", wait);
    await ann.page.waitForSelector("#voice:not([hidden])", wait);
    await ann.page.click("#voice");
    await ann.page.waitForSelector('#voice[data-voice="connected"]', wait);
    await bob.page.waitForSelector('#voice[data-voice="connected"]', wait);
    const roomId = await bob.page.getAttribute("#game-view", "data-room");
    const callId = await bob.page.getAttribute("#voice", "data-call");
    assert.ok(roomId && callId, "the room and the call are named on the page");

    // Eve watches the room from Node with client-js, so the server relays
    // her signals to its players.
    const session = await lib.login("eve", { baseUrl: server.httpUrl });
    const eve = await lib.connect({ url: await lib.webSocketUrl(server.httpUrl), token: session.token, WebSocket });
    try {
      const room = await eve.spectate(roomId);
      const players = [...room.players.values()];
      assert.equal(players.length, 2);
      const { SignalKind } = lib.pb;
      for (const p of players) {
        // Each is relayed (the server answers Ok): only the call ignores it.
        await eve.sendSignal(p.userId, callId, SignalKind.CANDIDATE, JSON.stringify({ candidate: "candidate:1 1 udp 1 203.0.113.9 9 typ host", sdpMid: "0", sdpMLineIndex: 0 }));
        await eve.sendSignal(p.userId, callId, SignalKind.HANGUP, "");
      }
      // Her chat line reaches the players after her signals (one sender,
      // one order), so once they show it they have handled the signals.
      await room.sendChat("still talking?");
      for (const p of [ann, bob]) {
        await p.page.waitForFunction(() => document.getElementById("chat-log")?.textContent?.includes("still talking?"), null, wait);
        assert.equal(await p.page.getAttribute("#voice", "data-voice"), "connected");
      }
    } finally {
      eve.close();
    }
    // The real peer still can.
    await ann.page.click("#voice");
    await bob.page.waitForSelector('#voice[data-voice="closed"]', wait);
    assert.deepEqual([...ann.errors, ...bob.errors], []);
    await ann.context.close();
    await bob.context.close();
  });
});
