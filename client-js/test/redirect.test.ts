import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { Client, type ClientOptions } from "../src/client.js";
import { connect } from "../src/connect.js";
import type { Redirect } from "../src/gen/tickroom/v1/room_pb.js";
import { FakeWebSocket } from "./fake-websocket.js";
import { lastReceived, reply, welcome } from "./fake-server.js";
import { flush } from "./helpers.js";
import { opts as setupOpts } from "./client-setup.js";

/** opts are client-setup's, on the load balancer's address. */
const opts = (extra: Partial<ClientOptions> = {}): ClientOptions => setupOpts({ url: "ws://lb.example:1/v1/ws", ...extra });

async function connected(): Promise<{ client: Client; sock: FakeWebSocket }> {
  const p = connect(opts());
  const sock = FakeWebSocket.last();
  welcome(sock);
  return { client: await p, sock };
}

const redirect = { url: "ws://node2.example:2/v1/ws", reservation: "resv-1", roomId: "r9", nodeId: "n2", expiresInMs: 60000 };

type JoinedRoom = Awaited<ReturnType<Client["joinRoom"]>>;

// joinedThroughRedirect joins room r9 through the configured endpoint,
// which redirects to node2; the join is sent again there with the
// reservation and answered. It returns node2's socket and the room.
async function joinedThroughRedirect(): Promise<{ client: Client; node: FakeWebSocket; room: JoinedRoom }> {
  const { client, sock } = await connected();
  const p = client.joinRoom("r9");
  reply(sock, { requestId: lastReceived(sock).requestId, body: { case: "redirect", value: redirect } });
  await flush();
  const node = FakeWebSocket.last();
  welcome(node);
  await flush();
  const again = lastReceived(node);
  assert.equal(again.body.case, "joinRoom");
  if (again.body.case === "joinRoom") assert.equal(again.body.value.reservation, "resv-1");
  reply(node, { requestId: again.requestId, body: { case: "joined", value: { roomId: "r9", game: "gomoku", seat: 1, tickRate: 1, maxPlayers: 2 } } });
  return { client, node, room: await p };
}

describe("cluster redirects", () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"], now: 0 });
    FakeWebSocket.reset();
  });
  afterEach(() => mock.timers.reset());

  it("follow a Redirect to the room's node with the same token and the reservation", async () => {
    const { client, sock } = await connected();
    const seen: Redirect[] = [];
    client.on("redirect", (r) => seen.push(r));
    const p = client.quickMatch("gomoku", { size: "15" });
    const first = lastReceived(sock);
    assert.equal(first.body.case, "quickMatch");
    reply(sock, { requestId: first.requestId, body: { case: "redirect", value: redirect } });
    await flush();
    // The first socket is closed normally and the node named is dialled.
    assert.equal(sock.closedWith?.code, 1000);
    const node = FakeWebSocket.last();
    assert.notEqual(node, sock);
    assert.equal(node.url, "ws://node2.example:2/v1/ws?token=tok&protocol_version=2");
    welcome(node);
    await flush();
    const again = lastReceived(node);
    assert.equal(again.body.case, "quickMatch");
    if (again.body.case !== "quickMatch") return;
    assert.equal(again.body.value.reservation, "resv-1");
    assert.equal(again.body.value.game, "gomoku");
    assert.deepEqual(again.body.value.options, { size: "15" });
    reply(node, { requestId: again.requestId, body: { case: "joined", value: { roomId: "r9", game: "gomoku", seat: 2, tickRate: 1, maxPlayers: 2 } } });
    const room = await p;
    assert.equal(room.id, "r9");
    assert.equal(client.rooms.get("r9"), room);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.nodeId, "n2");
    assert.equal(client.connection.currentUrl, "ws://node2.example:2/v1/ws");
  });

  // The app closes the client after the join's Redirect came and before
  // the client follows it (in a listener of a message read in the same
  // task, or of the redirect event): the join settles, with "closed",
  // rather than waiting for ever for a node's Welcome.
  for (const when of ["before", "redirect event"] as const) {
    it(`a join whose Redirect the client cannot follow, closed ${when === "before" ? "before following it" : "in its redirect event"}, rejects with "closed"`, async () => {
      const { client, sock } = await connected();
      if (when === "redirect event") client.on("redirect", () => client.close());
      const p = client.joinRoom("r9");
      let settled: unknown = "pending";
      p.then(
        () => (settled = "resolved"),
        (e: unknown) => (settled = e),
      );
      reply(sock, { requestId: lastReceived(sock).requestId, body: { case: "redirect", value: redirect } });
      if (when === "before") client.close();
      await flush();
      mock.timers.tick(60_000);
      await flush();
      assert.ok(settled instanceof Error, `the join is ${String(settled)}`);
      assert.equal((settled as { code?: string }).code, "closed");
      assert.equal(client.state, "closed");
      assert.equal(FakeWebSocket.instances.length, 1, "a socket was opened after the client was closed");
    });
  }

  it("resume after a drop through the configured endpoint, which redirects to the room's node: same room handle", async () => {
    const { client, node, room } = await joinedThroughRedirect();

    // The node's connection drops: the client goes back to the
    // configured endpoint (the node may be gone), not to the node.
    node.serverClose(1006, "");
    mock.timers.tick(1000);
    await flush();
    const back = FakeWebSocket.last();
    assert.equal(back.url, "ws://lb.example:1/v1/ws?token=tok&protocol_version=2");
    welcome(back);
    await flush();
    const resume = lastReceived(back);
    assert.equal(resume.body.case, "joinRoom");
    reply(back, { requestId: resume.requestId, body: { case: "redirect", value: { ...redirect, reservation: "resv-2" } } });
    await flush();
    const node2 = FakeWebSocket.last();
    assert.equal(node2.url, "ws://node2.example:2/v1/ws?token=tok&protocol_version=2");
    welcome(node2);
    await flush();
    const resume2 = lastReceived(node2);
    assert.equal(resume2.body.case, "joinRoom");
    if (resume2.body.case !== "joinRoom") return;
    assert.equal(resume2.body.value.roomId, "r9");
    reply(node2, { requestId: resume2.requestId, body: { case: "joined", value: { roomId: "r9", game: "gomoku", seat: 1, tickRate: 1, maxPlayers: 2, resumed: true } } });
    await flush();
    assert.equal(client.rooms.get("r9"), room, "the app keeps the same room handle");
    assert.equal(room.live, true);
  });

  it("follow an unprompted Redirect when the room moves off a draining node: resume there, same room handle", async () => {
    const { client, sock } = await connected();
    const p = client.joinRoom("r9");
    const req = lastReceived(sock);
    reply(sock, { requestId: req.requestId, body: { case: "joined", value: { roomId: "r9", game: "gomoku", seat: 2, tickRate: 10, maxPlayers: 2 } } });
    const room = await p;
    const seen: Redirect[] = [];
    client.on("redirect", (r) => seen.push(r));
    const left: unknown[] = [];
    room.on("left", (l) => left.push(l));

    // A Redirect for a room this client is not in changes nothing.
    reply(sock, { requestId: 0, body: { case: "redirect", value: { ...redirect, roomId: "other" } } });
    await flush();
    assert.equal(FakeWebSocket.last(), sock);

    reply(sock, { requestId: 0, body: { case: "redirect", value: redirect } });
    await flush();
    assert.equal(sock.closedWith?.code, 1000);
    const node = FakeWebSocket.last();
    assert.equal(node.url, "ws://node2.example:2/v1/ws?token=tok&protocol_version=2");
    welcome(node);
    await flush();
    const resume = lastReceived(node);
    assert.equal(resume.body.case, "joinRoom");
    if (resume.body.case !== "joinRoom") return;
    assert.equal(resume.body.value.roomId, "r9");
    reply(node, { requestId: resume.requestId, body: { case: "joined", value: { roomId: "r9", game: "gomoku", seat: 2, tickRate: 10, maxPlayers: 2, resumed: true } } });
    await flush();
    assert.equal(seen.length, 1);
    assert.equal(client.rooms.get("r9"), room, "the app keeps the same room handle");
    assert.equal(room.live, true);
    assert.deepEqual(left, []);
    assert.equal(client.connection.currentUrl, "ws://node2.example:2/v1/ws");
  });

  it("a heartbeat timeout on the room's node reconnects through the configured endpoint, which redirects again", async () => {
    const { client, node, room } = await joinedThroughRedirect();

    // The node goes silent (hung, or its machine gone without a reset):
    // after three heartbeat intervals the client drops the socket and
    // dials the configured endpoint, not the silent node. (One interval
    // at a time: a late timer pings before it judges the silence.)
    for (let i = 0; i < 4; i++) mock.timers.tick(1000);
    await flush();
    assert.equal(node.closedWith?.code, 4003);
    const back = FakeWebSocket.last();
    assert.notEqual(back, node);
    assert.equal(back.url, "ws://lb.example:1/v1/ws?token=tok&protocol_version=2");
    assert.equal(client.connection.currentUrl, "ws://lb.example:1/v1/ws");
    welcome(back);
    await flush();
    const resume = lastReceived(back);
    assert.equal(resume.body.case, "joinRoom");
    if (resume.body.case !== "joinRoom") return;
    assert.equal(resume.body.value.roomId, "r9");
    assert.equal(client.rooms.get("r9"), room);
  });

  it("a Redirect whose url is not a WebSocket URL is an error event, thrown nowhere: unprompted, in a resume and in a join", async () => {
    const thrown: unknown[] = [];
    const onThrow = (err: unknown) => thrown.push(err);
    process.on("uncaughtException", onThrow);
    process.on("unhandledRejection", onThrow);
    try {
      const { client, sock } = await connected();
      const errors: string[] = [];
      client.on("error", (e) => errors.push(e.code));
      const p = client.joinRoom("r9");
      reply(sock, { requestId: lastReceived(sock).requestId, body: { case: "joined", value: { roomId: "r9", game: "gomoku", seat: 2, tickRate: 10, maxPlayers: 2 } } });
      const room = await p;

      // Unprompted: the client stays where it is and says why.
      reply(sock, { requestId: 0, body: { case: "redirect", value: { ...redirect, url: "ftp://node2.example/" } } });
      await flush();
      mock.timers.tick(1);
      await flush();
      assert.equal(FakeWebSocket.last(), sock);
      assert.deepEqual(errors, ["protocol"]);

      // In a join: the join fails with that error, leaving no listener behind.
      const welcomes = client.listenerCount("welcome");
      const j = client.joinRoom("r10");
      reply(sock, { requestId: lastReceived(sock).requestId, body: { case: "redirect", value: { ...redirect, roomId: "r10", url: "" } } });
      await assert.rejects(j, (e: { code?: string }) => e.code === "protocol");
      assert.equal(client.listenerCount("welcome"), welcomes);
      assert.equal(client.listenerCount("close"), 0);

      // In a resume: the seat is given up with resumeFailed.
      const failed: string[] = [];
      client.on("resumeFailed", (f) => failed.push(f.error.code));
      sock.serverClose(1006, "");
      mock.timers.tick(200);
      await flush();
      const back = FakeWebSocket.last();
      welcome(back);
      await flush();
      const resume = lastReceived(back);
      assert.equal(resume.body.case, "joinRoom");
      reply(back, { requestId: resume.requestId, body: { case: "redirect", value: { ...redirect, url: "node2.example/v1/ws" } } });
      await flush();
      mock.timers.tick(1);
      await flush();
      assert.equal(FakeWebSocket.last(), back);
      assert.deepEqual(failed, ["protocol"]);
      assert.equal(room.live, false);
      assert.equal(client.rooms.has("r9"), false);
    } finally {
      process.off("uncaughtException", onThrow);
      process.off("unhandledRejection", onThrow);
    }
    assert.deepEqual(thrown, []);
  });

  it("a Redirect from wss to ws is refused: the session token never leaves TLS", async () => {
    const p = connect(opts({ url: "wss://lb.example:1/v1/ws" }));
    const sock = FakeWebSocket.last();
    welcome(sock);
    const client = await p;
    const errors: string[] = [];
    client.on("error", (e) => errors.push(e.code));
    const j = client.joinRoom("r9");
    reply(sock, { requestId: lastReceived(sock).requestId, body: { case: "redirect", value: redirect } });
    await assert.rejects(j, (e: { code?: string; message?: string }) => e.code === "protocol" && /TLS/.test(e.message ?? ""));
    await flush();
    mock.timers.tick(1);
    await flush();
    assert.equal(FakeWebSocket.last(), sock, "no socket was opened to the ws:// URL");
    assert.ok(FakeWebSocket.instances.every((s) => !s.url.startsWith("ws:")), "the token went to no ws:// URL");

    // Unprompted (a draining node moves its rooms): an error event, and the client stays.
    const k = client.joinRoom("r10");
    reply(sock, { requestId: lastReceived(sock).requestId, body: { case: "joined", value: { roomId: "r10", game: "gomoku", seat: 1, tickRate: 10, maxPlayers: 2 } } });
    await k;
    reply(sock, { requestId: 0, body: { case: "redirect", value: { ...redirect, roomId: "r10" } } });
    await flush();
    mock.timers.tick(1);
    await flush();
    assert.equal(FakeWebSocket.last(), sock);
    assert.deepEqual(errors, ["protocol"]);

    // A wss redirect is followed as before.
    const m = client.joinRoom("r11");
    reply(sock, { requestId: lastReceived(sock).requestId, body: { case: "redirect", value: { ...redirect, roomId: "r11", url: "wss://node2.example:2/v1/ws" } } });
    await flush();
    assert.equal(FakeWebSocket.last().url, "wss://node2.example:2/v1/ws?token=tok&protocol_version=2");
    void m.catch(() => {});
    client.close();
  });
});
