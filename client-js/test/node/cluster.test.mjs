// client-js against a real cluster: a private redis-server and two real
// tickroom nodes sharing it (-redis), each with a store of its own and the
// same session key, so that a token from one node is valid on the other.
// A player connected to one node joins (or quick-matches) a room living on
// the other: the client follows the typed Redirect by itself, the app gets
// the Room it awaited and the room's state; after a drop it resumes through
// the node it was configured with, which redirects it again, same seat; and
// when the room's node is killed the app gets the typed ROOM_LOST, never a
// hang. A lobby's room watch on one node follows the rooms of the other. A
// room on a node that drains moves to another node, and the client follows
// it there by itself.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { redisSkip, startRedis } from "../browser/redis-server.mjs";
import { startServer } from "../browser/tickroom-server.mjs";

const lib = await import("../../dist/browser/tickroom.js");
const { connect, login, errorMessage, pb } = lib;

// gomokuMove encodes tickroom.gomoku.v1.Move{x, y} (fields 1 and 2, varints
// under 128); the stone it places is entity y*15 + x + 1.
const gomokuMove = (x, y) => Uint8Array.of(0x08, x, 0x10, y);
const stoneId = (x, y) => BigInt(y * 15 + x + 1);

// until resolves once cond() holds, checking it after each emitter event
// named, and rejects after ms.
function until(emitter, event, what, cond, ms = 10_000) {
  return new Promise((resolve, reject) => {
    if (cond()) return resolve();
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${what} within ${ms} ms`));
    }, ms);
    const off = emitter.on(event, () => {
      if (!cond()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

// poll resolves once fn() resolves truthy, trying every 50 ms for ms.
async function poll(what, fn, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`not ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// gauge reads an unlabelled series from a node's /metrics.
async function gauge(node, name) {
  const text = await (await fetch(`${await node.adminUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : undefined;
}

describe("client-js across a cluster", { skip: redisSkip() }, () => {
  let redis;
  let env;
  const nodes = {};
  const clients = [];
  const wsUrl = (n) => `ws://${nodes[n].wsAddr}/v1/ws`;

  before(async () => {
    redis = await startRedis();
    env = { TICKROOM_REDIS: redis.url, TICKROOM_TOKEN_KEY: randomBytes(32).toString("hex") };
    const [n1, n2] = await Promise.all(["n1", "n2"].map((id) => startServer(["-node-id", id, "-guest-login-rate", "inf"], { env })));
    Object.assign(nodes, { n1, n2 });
    // Each node's registration is its heartbeat's first write.
    await poll("both nodes registered", async () => (await gauge(n1, "tickroom_cluster_nodes")) === 2 && (await gauge(n2, "tickroom_cluster_nodes")) === 2);
  });
  after(async () => {
    for (const c of clients) c.close();
    // Killed rather than drained: nothing of theirs outlives the test.
    await Promise.all(Object.values(nodes).map((n) => n.kill()));
    await redis?.stop();
  });

  // player logs name in on the node given and connects there: that node's
  // URL is the one the client is configured with, as a load balancer's
  // would be. Its redirects are recorded, and drop() cuts its current
  // socket's TCP connection the way a network failure would.
  async function player(node, name) {
    const session = await login(name, { baseUrl: nodes[node].httpUrl });
    const sockets = [];
    class Tracked extends WebSocket {
      constructor(...args) {
        super(...args);
        sockets.push(this);
      }
    }
    const client = await connect({ url: wsUrl(node), token: session.token, WebSocket: Tracked, backoff: { initialMs: 50, maxMs: 200 } });
    clients.push(client);
    const redirects = [];
    client.on("redirect", (r) => redirects.push(r));
    return { client, redirects, drop: () => sockets.at(-1).terminate() };
  }

  it("joins a room on the other node through a redirect, and resumes its seat there through the first after a drop", async () => {
    const alice = await player("n1", "alice");
    const bob = await player("n2", "bob");
    // A lobby on n2 watches the cluster's gomoku rooms.
    const lobby = await player("n2", "lobby");
    const watch = await lobby.client.watchRooms({ game: "gomoku" });
    const listed = (id, players) => () => watch.rooms.some((r) => r.roomId === id && r.players === players);
    // A created room lives on the node that made it.
    const black = await alice.client.createRoom({ game: "gomoku" });
    assert.equal(black.seat, 1);
    await until(watch, "change", "alice's room on n1 in the watched list on n2", listed(black.id, 1));

    const white = await bob.client.joinRoom(black.id);
    assert.equal(bob.redirects.length, 1, "one redirect");
    assert.equal(bob.redirects[0].nodeId, "n1");
    assert.equal(bob.redirects[0].url, wsUrl("n1"));
    assert.equal(bob.redirects[0].roomId, black.id);
    assert.equal(bob.client.connection.currentUrl, wsUrl("n1"));
    assert.equal(white.id, black.id);
    assert.equal(white.seat, 2);
    assert.equal(bob.client.rooms.get(white.id), white);
    await until(watch, "change", "bob seen in the watched list", listed(black.id, 2));
    await watch.close();
    lobby.client.close();

    // The room's state reaches the player who came through the redirect.
    black.sendInput(gomokuMove(7, 7));
    await until(white, "state", "black's stone at bob", () => white.entities.has(stoneId(7, 7)));

    // Bob's connection to n1 drops. The client reconnects to n2, the URL
    // it was given, whose answer to the resume is a redirect to n1; the
    // seat is resumed there, in the same Room object.
    const resumed = new Promise((resolve) => white.once("resumed", resolve));
    const closed = new Promise((resolve) => bob.client.once("close", resolve));
    bob.drop();
    const close = await closed;
    assert.equal(close.willReconnect, true);
    const joined = await resumed;
    assert.equal(joined.resumed, true);
    assert.equal(joined.seat, 2);
    assert.equal(bob.redirects.length, 2, "the resume went through n2 and was redirected");
    assert.equal(bob.redirects[1].nodeId, "n1");
    assert.equal(bob.redirects[1].roomId, black.id);
    assert.equal(bob.client.connection.currentUrl, wsUrl("n1"));
    assert.equal(bob.client.rooms.get(black.id), white, "the app keeps the same room handle");
    assert.equal(white.live, true);
    // The resumed seat plays: white's move reaches black.
    white.sendInput(gomokuMove(8, 8));
    await until(black, "state", "white's stone at alice", () => black.entities.has(stoneId(8, 8)));
    assert.ok(white.entities.has(stoneId(7, 7)), "the resumed room kept the board");
    alice.client.close();
    bob.client.close();
  });

  it("follows its room when the room's node drains: the same Room plays on, with its board, on another node", async () => {
    // A third node, drained on SIGTERM, hosts the match.
    nodes.n3 = await startServer(["-node-id", "n3", "-guest-login-rate", "inf", "-drain-timeout", "20s"], { env });
    await poll("n3 registered", async () => (await gauge(nodes.n1, "tickroom_cluster_nodes")) === 3);
    const erin = await player("n3", "erin");
    const fred = await player("n3", "fred");
    const black = await erin.client.createRoom({ game: "gomoku", options: { move_seconds: "0" } });
    const white = await fred.client.joinRoom(black.id);
    black.sendInput(gomokuMove(2, 2));
    await until(white, "state", "black's stone at fred", () => white.entities.has(stoneId(2, 2)));

    const resumed = [black, white].map((r) => new Promise((resolve) => r.once("resumed", resolve)));
    const left = [];
    for (const r of [black, white]) r.on("left", (l) => left.push(l));
    const stopped = nodes.n3.stop();
    const joined = await Promise.all(resumed);
    assert.deepEqual(joined.map((j) => [j.seat, j.resumed]), [[1, true], [2, true]]);
    for (const p of [erin, fred]) {
      assert.equal(p.redirects.length, 1, "one unprompted redirect");
      const r = p.redirects[0];
      assert.equal(r.roomId, black.id);
      assert.ok(r.nodeId === "n1" || r.nodeId === "n2", `moved to ${r.nodeId}`);
      assert.equal(p.client.connection.currentUrl, wsUrl(r.nodeId));
    }
    assert.equal(erin.client.rooms.get(black.id), black, "the app keeps the same room handle");
    assert.equal(fred.client.rooms.get(black.id), white);
    assert.deepEqual(left, [], "a move is not a leave");
    // The board came along, and the match goes on.
    assert.ok(white.entities.has(stoneId(2, 2)) && black.entities.has(stoneId(2, 2)));
    white.sendInput(gomokuMove(3, 3));
    await until(black, "state", "white's stone at erin", () => black.entities.has(stoneId(3, 3)));
    await stopped;
    erin.client.close();
    fred.client.close();
  });

  it("quick-matches into a room on the other node, and gets the typed ROOM_LOST when that node is killed", async () => {
    const dave = await player("n1", "dave");
    const carol = await player("n2", "carol");
    const first = await dave.client.createRoom({ game: "gomoku" });
    // The only gomoku room with a free seat in the cluster is dave's, on n1.
    const room = await carol.client.quickMatch("gomoku");
    assert.equal(room.id, first.id);
    assert.equal(room.seat, 2);
    assert.equal(carol.redirects.length, 1);
    assert.equal(carol.redirects[0].nodeId, "n1");
    assert.equal(carol.redirects[0].url, wsUrl("n1"));
    assert.equal(carol.client.connection.currentUrl, wsUrl("n1"));
    first.sendInput(gomokuMove(3, 4));
    await until(room, "state", "dave's stone at carol", () => room.entities.has(stoneId(3, 4)));
    dave.client.close();

    // n1 crashes. Carol reconnects to n2, whose answer to her resume is
    // ROOM_LOST: the room is left with a typed error, and she is back in
    // the lobby on a live node.
    const failed = new Promise((resolve) => carol.client.once("resumeFailed", resolve));
    const left = new Promise((resolve) => room.once("left", resolve));
    await nodes.n1.kill();
    // A bound on the wait, not on speed: a hang fails here.
    let timer;
    const { room: lost, error } = await Promise.race([
      failed,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no resumeFailed within 15 s of the crash")), 15_000))),
    ]).finally(() => clearTimeout(timer));
    assert.equal(lost, room);
    assert.equal(error.code, "server");
    assert.equal(error.serverCode, pb.ErrorCode.ROOM_LOST, `got ${error.message}`);
    assert.match(errorMessage(error), /lost/i);
    assert.equal((await left).roomId, room.id);
    assert.equal(carol.client.rooms.has(room.id), false);
    assert.equal(room.live, false);
    assert.equal(carol.redirects.length, 1, "never redirected to the dead node");
    assert.equal(carol.client.connection.currentUrl, wsUrl("n2"));
    // The lobby works: a new quick-match makes a room on the live node.
    const next = await carol.client.quickMatch("gomoku");
    assert.notEqual(next.id, room.id);
    assert.equal(carol.redirects.length, 1);
    assert.equal(carol.client.connection.currentUrl, wsUrl("n2"));
  });
});
