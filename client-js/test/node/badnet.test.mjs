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
// hold() keeps what the server sends on the connections relayed so far
// (what the client sends still passes), and release() delivers it late.
async function startRelay(addr) {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(":")), Number(addr.slice(addr.lastIndexOf(":") + 1))];
  const live = new Set();
  const relay = createServer((down) => {
    const up = tcpConnect(port, host);
    const pair = { down, up, gone: false, held: undefined };
    live.add(pair);
    const end = () => {
      live.delete(pair);
      down.destroy();
      up.destroy();
    };
    down.on("error", end).on("close", end);
    up.on("error", end).on("close", end);
    down.on("data", (b) => pair.gone || up.write(b));
    up.on("data", (b) => pair.gone || (pair.held ? pair.held.push(b) : down.write(b)));
  });
  await new Promise((r) => relay.listen(0, "127.0.0.1", r));
  return {
    url: `ws://127.0.0.1:${relay.address().port}/v1/ws`,
    vanish() {
      for (const p of live) p.gone = true;
    },
    hold() {
      for (const p of live) p.held ??= [];
    },
    release() {
      for (const p of live) {
        for (const b of p.held ?? []) p.down.write(b);
        p.held = undefined;
      }
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
      const start = Date.now();
      relay.vanish();
      await Promise.race([resumed, sleep(5000).then(() => assert.fail(`not resumed after 5 s; closes ${closes}`))]);
      const took = Date.now() - start;
      assert.deepEqual(closes, [4003]);
      assert.equal(room.seat, seat);
      // Silent for the timeout (3 intervals, 600 ms), noticed at the next run of the timer.
      assert.ok(took < 1500, `resumed after ${took} ms`);
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

  // A join whose Joined never reached the client before its promise
  // rejected: the server seated the user all the same. The client gives
  // that seat up, so that in a two-player room the other seat is free for
  // someone else rather than held for a player who is not there.
  for (const how of ["the socket dropped", "the request timed out"]) {
    it(`frees the seat of a join whose reply came too late (${how})`, async () => {
      const relay = await startRelay(srv.wsAddr);
      const tag = how === "the socket dropped" ? "drop" : "late";
      const [owner, late, third] = await Promise.all(["owner", "late", "third"].map((n) => login(`${tag}-${n}`, { baseUrl: srv.httpUrl })));
      const url = `ws://${srv.wsAddr}/v1/ws`;
      const a = await connect({ url, token: owner.token, WebSocket });
      const opts = how === "the socket dropped" ? { heartbeatIntervalMs: 200 } : { requestTimeoutMs: 500 };
      const b = await connect({ url: relay.url, token: late.token, WebSocket, ...opts });
      const c = await connect({ url, token: third.token, WebSocket });
      try {
        const room = await a.createRoom({ game: "arena", maxPlayers: 2 });
        relay.hold();
        const err = await b.joinRoom(room.id).then(
          () => assert.fail("joined while the reply was held"),
          (e) => e,
        );
        assert.equal(err.code, how === "the socket dropped" ? "connection-lost" : "timeout");
        if (how === "the request timed out") relay.release();
        // The seat comes free: the third player takes it.
        let seat;
        for (const start = Date.now(); seat === undefined; await sleep(100)) {
          try {
            seat = (await c.joinRoom(room.id)).seat;
          } catch (e) {
            if (e.serverCode !== lib.pb.ErrorCode.ROOM_FULL) throw e;
            if (Date.now() - start > 3000) assert.fail(`the seat the late join took is still held after 3 s: ${lib.errorMessage(e)}; the late client's rooms: ${[...b.rooms.keys()]}`);
          }
        }
        assert.equal(seat, 2);
        assert.deepEqual([...b.rooms.keys()], []);
      } finally {
        a.close();
        b.close();
        c.close();
        relay.close();
      }
    });
  }
});
