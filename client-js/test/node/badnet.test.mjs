// client-js in Node against the real server binary on a bad network: a
// page whose timers the browser runs late (a background tab), and a server
// that vanishes behind a relay that stops forwarding without closing.
import assert from "node:assert/strict";
import { createServer, connect as tcpConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { startServer } from "../browser/tickroom-server.mjs";

const lib = await import("../../dist/browser/tickroom.js");
const { connect, login } = lib;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// startRelay relays TCP connections to host:port; vanish() makes the
// connections relayed so far stop forwarding either way without a FIN or
// a reset, as when the network under them is gone, while new ones pass.
async function startRelay(addr) {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(":")), Number(addr.slice(addr.lastIndexOf(":") + 1))];
  const live = new Set();
  const relay = createServer((down) => {
    const up = tcpConnect(port, host);
    const pair = { down, up, gone: false };
    live.add(pair);
    const end = () => {
      live.delete(pair);
      down.destroy();
      up.destroy();
    };
    down.on("error", end).on("close", end);
    up.on("error", end).on("close", end);
    down.on("data", (b) => pair.gone || up.write(b));
    up.on("data", (b) => pair.gone || down.write(b));
  });
  await new Promise((r) => relay.listen(0, "127.0.0.1", r));
  return {
    url: `ws://127.0.0.1:${relay.address().port}/v1/ws`,
    vanish() {
      for (const p of live) p.gone = true;
    },
    close() {
      for (const p of live) {
        p.down.destroy();
        p.up.destroy();
      }
      relay.close();
    },
  };
}

describe("client-js on a bad network", () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.stop());

  // A browser runs a background tab's timers late (Chrome's intensive
  // throttling: once a minute, where the heartbeat asks every 10 s). The
  // socket is healthy and the server, whose pings the browser answers
  // itself, keeps it; the client must not take its own late timer for a
  // silent server and drop the socket at each run.
  it("keeps the connection of a tab whose heartbeat timer runs late", async () => {
    const session = await login("sleepy", { baseUrl: srv.httpUrl });
    const realSetInterval = globalThis.setInterval;
    globalThis.setInterval = (fn, ms, ...args) => realSetInterval(fn, ms * 6, ...args);
    let client;
    try {
      client = await connect({ url: `ws://${srv.wsAddr}/v1/ws`, token: session.token, WebSocket, heartbeatIntervalMs: 200 });
    } finally {
      globalThis.setInterval = realSetInterval;
    }
    try {
      const closes = [];
      client.on("close", (c) => closes.push(c.code));
      await sleep(4000); // three runs of the late timer, each 1.2 s after the last
      assert.deepEqual(closes, [], "the client dropped a healthy socket");
    } finally {
      client.close();
    }
  });

  // A server gone silent behind a network that stopped forwarding (no FIN,
  // no reset): the heartbeat notices within its timeout, the client
  // reconnects and resumes its seat.
  it("notices a vanished server, reconnects and resumes its seat", async () => {
    const relay = await startRelay(srv.wsAddr);
    const session = await login("vanished", { baseUrl: srv.httpUrl });
    const client = await connect({ url: relay.url, token: session.token, WebSocket, heartbeatIntervalMs: 200 });
    try {
      const room = await client.quickMatch("gomoku");
      const seat = room.seat;
      const closes = [];
      client.on("close", (c) => closes.push(c.code));
      const resumed = new Promise((r) => room.on("resumed", r));
      relay.vanish();
      await Promise.race([resumed, sleep(15000).then(() => assert.fail(`not resumed after 15 s; closes ${closes}`))]);
      // Noticed by the heartbeat (silent for 3 intervals, 600 ms): the
      // close is its timeout's, not the socket's. How soon is not asserted:
      // the box's load moves timers.
      assert.deepEqual(closes, [4003]);
      assert.equal(room.seat, seat);
    } finally {
      client.close();
      relay.close();
    }
  });

  // An input sent while the network is already gone, but before the
  // heartbeat noticed (up to its timeout, 30 s at the server's 10 s), goes
  // into a socket that still says it is open and never reaches the server.
  // The resumed seat's Joined says which input the room applied last; the
  // ones after it go again.
  it("sends again, after the resume, the inputs a vanished socket swallowed", async () => {
    const relay = await startRelay(srv.wsAddr);
    const session = await login("swallowed", { baseUrl: srv.httpUrl });
    const client = await connect({ url: relay.url, token: session.token, WebSocket, heartbeatIntervalMs: 200 });
    const until = async (what, ok) => {
      for (const start = Date.now(); !ok(); await sleep(20)) {
        if (Date.now() - start > 3000) assert.fail(`${what} after 3 s: the room applied input ${room.predictor.lastAcked} last, pending ${room.predictor.pending.map((p) => p.seq)}`);
      }
    };
    let room;
    try {
      room = await client.quickMatch("gomoku");
      room.sendInput(new Uint8Array([1]));
      await until("input 1 not applied", () => room.predictor.lastAcked === 1);
      const resumed = new Promise((r) => room.on("resumed", r));
      relay.vanish();
      assert.equal(client.state, "open");
      const seq = room.sendInput(new Uint8Array([2]));
      await Promise.race([resumed, sleep(5000).then(() => assert.fail("not resumed after 5 s"))]);
      await until(`input ${seq} not applied`, () => room.predictor.lastAcked === seq);
      assert.deepEqual(room.predictor.pending, []);
    } finally {
      client.close();
      relay.close();
    }
  });
});
