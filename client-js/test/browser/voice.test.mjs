// Voice between the two players of a gomoku room, end to end: Chromium
// with fake media devices, two pages of the demo against the tickroom
// binary; one clicks Voice, the other answers, the offer, answer and ICE
// candidates go through the server's signaling relay, and both peer
// connections reach "connected" over loopback host candidates. A third
// party cannot get into the call: a spectator of the room is refused by
// the server (anyone may watch a public room, so watching does not let a
// stranger signal its players; someone who shares no room and is no
// friend is refused too: server/hub's TestSignalingRefusals), and a friend
// of a player, whose signals the server does relay, can neither hang up
// the call nor add candidates to it knowing the call's id (the server
// names the sender, and a call takes signals only from its peer), nor get
// its own offer answered: the demo answers only its opponent.
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

  async function player(name, init) {
    const context = await browser.newContext();
    const page = await context.newPage();
    if (init) await page.addInitScript(init);
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

  test("a third party cannot signal into the call or get its own call answered", async () => {
    const ann = await player("cat");
    const bob = await player("dan");
    await ann.page.waitForSelector("#players li:nth-child(2)", wait);
    await ann.page.waitForSelector("#voice:not([hidden])", wait);
    await ann.page.click("#voice");
    await ann.page.waitForSelector('#voice[data-voice="connected"]', wait);
    await bob.page.waitForSelector('#voice[data-voice="connected"]', wait);
    const roomId = await bob.page.getAttribute("#game-view", "data-room");
    const callId = await bob.page.getAttribute("#voice", "data-call");
    const danId = await bob.page.getAttribute("body", "data-user");
    assert.ok(roomId && callId && danId, "the room, the call and the user are named on the page");

    // Eve watches the room from Node with client-js.
    const session = await lib.login("eve", { baseUrl: server.httpUrl });
    const eve = await lib.connect({ url: await lib.webSocketUrl(server.httpUrl), token: session.token, WebSocket });
    const { ErrorCode, SignalKind } = lib.pb;
    const heard = [];
    eve.on("signal", (s) => heard.push(s));
    // allHandled resolves once both players show a chat line of Eve's
    // sent after her signals (one sender, one order): by then they have
    // handled the signals.
    let lines = 0;
    async function allHandled(room) {
      const line = `still talking? ${++lines}`;
      await room.sendChat(line);
      for (const p of [ann, bob]) await p.page.waitForFunction((l) => document.getElementById("chat-log")?.textContent?.includes(l), line, wait);
    }
    try {
      const room = await eve.spectate(roomId);
      const players = [...room.players.values()];
      assert.equal(players.length, 2);
      // A spectator is no player: the server refuses her signals.
      for (const p of players) {
        await assert.rejects(eve.sendSignal(p.userId, callId, SignalKind.HANGUP, ""), (err) => err.serverCode === ErrorCode.FORBIDDEN, `a spectator's hang-up to ${p.name}`);
      }

      // Dan takes Eve as a friend, so the server relays her signals to
      // him (it answers Ok); the call ignores them.
      await eve.addFriend(danId);
      await bob.page.click(`#friend-requests [data-accept="${session.userId}"]`);
      await bob.page.waitForSelector(`#friends li[data-user="${session.userId}"]:not([data-presence=pending])`, wait);
      await eve.sendSignal(danId, callId, SignalKind.CANDIDATE, JSON.stringify({ candidate: "candidate:1 1 udp 1 203.0.113.9 9 typ host", sdpMid: "0", sdpMLineIndex: 0 }));
      await eve.sendSignal(danId, callId, SignalKind.HANGUP, "");
      await allHandled(room);
      for (const p of [ann, bob]) assert.equal(await p.page.getAttribute("#voice", "data-voice"), "connected");

      // The real peer still can hang up.
      await ann.page.click("#voice");
      await bob.page.waitForSelector('#voice[data-voice="closed"]', wait);

      // Eve's own call to Dan is not picked up: the demo answers only
      // the opponent it plays.
      await eve.sendSignal(danId, "eve-call", SignalKind.OFFER, "v=0\r\n");
      await allHandled(room);
      assert.equal(await bob.page.getAttribute("#voice", "data-voice"), "closed", "Dan's page answered a call that was not his opponent's");
      assert.deepEqual(heard.filter((s) => s.callId === "eve-call"), []);
    } finally {
      eve.close();
    }
    assert.deepEqual([...ann.errors, ...bob.errors], []);
    await ann.context.close();
    await bob.context.close();
  });

  // A callee's microphone can take seconds to start (a permission prompt,
  // a slow device) while the caller's ICE candidates, sent right after its
  // offer, arrive: the call must keep them, or a callee the caller cannot
  // reach first (behind NAT) never connects. Here the callee's
  // getUserMedia takes 1.5 s and counts the candidates its peer connection
  // is given; the demo answers with client-js's answerCall.
  test("the callee keeps the caller's candidates that arrive while its microphone starts", async () => {
    const slowMic = () => {
      const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = (c) => new Promise((r) => setTimeout(r, 1500)).then(() => gum(c));
      window.candidatesAdded = 0;
      const add = RTCPeerConnection.prototype.addIceCandidate;
      RTCPeerConnection.prototype.addIceCandidate = function (c, ...rest) {
        if (c && c.candidate) window.candidatesAdded++;
        return add.call(this, c, ...rest);
      };
    };
    const ann = await player("eli");
    const bob = await player("fay", slowMic);
    await ann.page.waitForSelector("#players li:nth-child(2)", wait);
    await ann.page.waitForSelector("#voice:not([hidden])", wait);
    await ann.page.click("#voice");
    await ann.page.waitForSelector('#voice[data-voice="connected"]', wait);
    await bob.page.waitForSelector('#voice[data-voice="connected"]', wait);
    assert.ok(await bob.page.evaluate(() => window.candidatesAdded) > 0, "the callee was given none of the caller's candidates");
    assert.deepEqual([...ann.errors, ...bob.errors], []);
    await ann.context.close();
    await bob.context.close();
  });
});
