// The Client connecting: the Welcome, refused upgrades and closes, protocol
// versions, a new token, and the heartbeat. Shared setup: client-setup.ts.
import assert from "node:assert/strict";
import { beforeEach, describe, it, mock } from "node:test";
import { Client } from "../src/client.js";
import { connect } from "../src/connect.js";
import type { CloseDetails } from "../src/connection.js";
import { TickroomError } from "../src/errors.js";
import { closeMessage, errorMessage } from "../src/messages.js";
import { FakeWebSocket } from "./fake-websocket.js";
import { lastReceived, received, reply, welcome } from "./fake-server.js";
import { assertPartial, flush } from "./helpers.js";
import { connected, enc, joinedRoom, opts, sendState, useFakes } from "./client-setup.js";

describe("Client connecting", () => {
  useFakes();

  it("connects once the server welcomes it", async () => {
    const { client, sock } = await connected();
    assert.equal(client.welcome?.userId, "u1");
    assert.equal(client.state, "open");
    assert.equal(sock.url, "ws://127.0.0.1:1/v1/ws?token=tok&protocol_version=2");
  });

  const refusals = [
    { code: 4501, name: "UNAUTHORIZED" },
    { code: 4500, name: "TOKEN_EXPIRED" },
    { code: 4507, name: "UNSUPPORTED_VERSION" },
  ];
  for (const url of ["not a url", "ftp://127.0.0.1/v1/ws", "ws://127.0.0.1:1/v1/ws#x"]) {
    it(`rejects a malformed URL at once: ${url}`, async () => {
      const err = await connect(opts({ url })).catch((e: unknown) => e);
      assert.ok(err instanceof TickroomError);
      assert.equal((err as TickroomError).code, "misconfigured");
      assert.ok((err as TickroomError).message.includes(JSON.stringify(url)), (err as TickroomError).message);
      assert.equal(FakeWebSocket.instances.length, 0);
    });
  }

  const upgrades = [
    { status: 401, code: "unauthorized", says: "log in again" },
    { status: 403, code: "misconfigured", says: "ws://127.0.0.1:1/v1/ws refused this client (403)" },
    { status: 404, code: "misconfigured", says: "no tickroom endpoint at ws://127.0.0.1:1/v1/ws (404)" },
  ];
  for (const u of upgrades) {
    it(`rejects connect when the upgrade is refused with ${u.status}, without retrying`, async () => {
      const p = connect(opts());
      const sock = FakeWebSocket.last();
      // Node's ws package reports the refused upgrade's status this way.
      sock.onerror?.({ type: "error", message: `Unexpected server response: ${u.status}` });
      sock.serverClose(1006);
      const err = await p.catch((e: unknown) => e);
      assert.ok(err instanceof TickroomError);
      assert.equal((err as TickroomError).code, u.code);
      assert.equal((err as TickroomError).status, u.status);
      assert.ok((err as TickroomError).message.includes(u.says), (err as TickroomError).message);
      assert.ok(!(err as TickroomError).message.includes("token="), "the token stays out of the message");
      mock.timers.tick(60_000);
      assert.equal(FakeWebSocket.instances.length, 1);
    });
  }

  it("retries an upgrade refused with 503", async () => {
    const p = connect(opts());
    const sock = FakeWebSocket.last();
    sock.onerror?.({ type: "error", message: "Unexpected server response: 503" });
    sock.serverClose(1006);
    mock.timers.tick(1000);
    assert.equal(FakeWebSocket.instances.length, 2);
    welcome(FakeWebSocket.last());
    await p;
  });

  it("asks diagnose after a failed upgrade and ends on its error", async () => {
    const failures: string[] = [];
    const client = new Client(opts());
    const closes: { willReconnect: boolean; code: number; error?: string }[] = [];
    client.on("close", (c) => closes.push({ willReconnect: c.willReconnect, code: c.code, ...(c.error ? { error: c.error.code } : {}) }));
    // diagnose is the Connection's hook; the client installs checkSession there when it knows the HTTP origin.
    (client.connection as unknown as { opts: { diagnose: unknown } }).opts.diagnose = async (f: { url: string; status: number }) => {
      failures.push(`${f.url} ${f.status}`);
      return failures.length === 1 ? undefined : new TickroomError("unauthorized", "session over");
    };
    client.open();
    FakeWebSocket.last().serverClose(1006);
    await flush();
    assert.deepEqual(closes, [{ willReconnect: true, code: 1006 }]);
    mock.timers.tick(1000);
    FakeWebSocket.last().serverClose(1006);
    await flush();
    assert.deepEqual(failures, ["ws://127.0.0.1:1/v1/ws 0", "ws://127.0.0.1:1/v1/ws 0"]);
    assert.deepEqual(closes[1], { willReconnect: false, code: 4501, error: "unauthorized" });
    assert.equal(client.state, "closed");
  });

  for (const r of refusals) {
    it(`rejects connect on terminal close ${r.code}`, async () => {
      const p = connect(opts());
      FakeWebSocket.last().serverOpen();
      FakeWebSocket.last().serverClose(r.code, "nope");
      const err = await p.catch((e: unknown) => e);
      assert.ok(err instanceof TickroomError);
      assert.equal((err as TickroomError).code, r.code === 4500 || r.code === 4501 ? "unauthorized" : "closed");
      assert.equal((err as TickroomError).close?.name, r.name);
      mock.timers.tick(60_000);
      assert.equal((FakeWebSocket.instances).length, 1);
    });
  }

  // A server newer than the page (one that does not check the version the
  // page declared) would be misread: its rooms stay empty. The client ends
  // for good with UNSUPPORTED_VERSION, so the page says to reload.
  it("ends for good with 4507 when the Welcome names a newer protocol version", async () => {
    const p = connect(opts());
    const sock = FakeWebSocket.last();
    welcome(sock, { protocolVersion: 3 });
    const err = await p.catch((e: unknown) => e);
    assert.ok(err instanceof TickroomError);
    assert.equal((err as TickroomError).code, "closed");
    assert.equal((err as TickroomError).close?.name, "UNSUPPORTED_VERSION");
    assert.equal(errorMessage(err), "This page is out of date. Reload it to get the new version.");
    assert.equal(sock.closedWith?.code, 4507);
    assert.ok(sock.closedWith?.reason?.includes("protocol version 3, this client 2"), sock.closedWith?.reason);
    mock.timers.tick(60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  it("ends for good with 4507 when a reconnect finds a newer server, leaving its rooms", async () => {
    const { client, sock } = await connected();
    const room = await joinedRoom(client, sock);
    const closes: CloseDetails[] = [];
    client.on("close", (c) => closes.push(c));
    const welcomes: unknown[] = [];
    client.on("welcome", (w) => welcomes.push(w));
    sock.serverClose(4000, "restart"); // the server is upgraded
    mock.timers.tick(1000);
    const next = FakeWebSocket.last();
    assert.notEqual(next, sock);
    welcome(next, { protocolVersion: 3 });
    assert.equal(next.closedWith?.code, 4507);
    assert.deepEqual(welcomes, [], "a Welcome it does not speak is not passed on");
    assert.equal(received(next).length, 0, "nothing is sent to a server it cannot speak to");
    assertPartial(closes[closes.length - 1], { code: 4507, willReconnect: false });
    assert.equal(closes[closes.length - 1]?.info.name, "UNSUPPORTED_VERSION");
    assert.equal(client.state, "closed");
    assert.equal(client.rooms.size, 0);
    assert.equal(room.live, false);
    mock.timers.tick(60_000);
    assert.equal(FakeWebSocket.instances.length, 2);
  });

  it("accepts a Welcome of its own version, an older one, or none (a server that does not say)", async () => {
    for (const v of [2, 1, 0]) {
      FakeWebSocket.reset();
      const p = connect(opts());
      welcome(FakeWebSocket.last(), { protocolVersion: v });
      const client = await p;
      assert.equal(client.state, "open");
      client.close();
    }
  });

  it("drops a socket that opens but never sends its Welcome, and connect gives up", async () => {
    const p = connect(opts({ connectTimeoutMs: 2000, maxReconnectAttempts: 1 }));
    let settled: unknown;
    p.then(
      () => (settled = "resolved"),
      (e: unknown) => (settled = e),
    );
    const first = FakeWebSocket.last();
    first.serverOpen();
    mock.timers.tick(2000);
    assert.notEqual(first.closedWith, undefined, "a silent socket was kept");
    mock.timers.tick(1000);
    assert.equal(FakeWebSocket.instances.length, 2);
    FakeWebSocket.last().serverOpen();
    mock.timers.tick(2000);
    await flush();
    assert.ok(settled instanceof TickroomError, `connect is ${String(settled)}`);
    assert.equal((settled as TickroomError).code, "closed");
  });

  // The sentence a page shows for a close says what the client does: no
  // "Reconnecting…" when it will not (reconnect off, attempts used up).
  it("says it reconnects only when the client will", async () => {
    const seen: string[] = [];
    const a = await connected({ heartbeatIntervalMs: 60_000 });
    a.client.on("close", (c) => seen.push(`${c.willReconnect}: ${closeMessage(c.code, c.willReconnect)}`));
    a.sock.serverClose(1006);
    assert.match(seen[0]!, /^true: .*Reconnecting/);
    a.client.close();
    seen.length = 0;

    const b = await connected({ heartbeatIntervalMs: 60_000, reconnect: false });
    b.client.on("close", (c) => seen.push(`${c.willReconnect}: ${closeMessage(c.code, c.willReconnect)}`));
    b.sock.serverClose(1012, "restart");
    assert.equal(seen.length, 1);
    assert.doesNotMatch(seen[0]!, /Reconnecting/, "reconnect off");
    assert.match(seen[0]!, /^false: The server is restarting\./);

    // connect gives up after its attempts: the error it rejects with says so.
    const p = connect(opts({ maxReconnectAttempts: 1 }));
    let err: unknown;
    p.catch((e: unknown) => (err = e));
    FakeWebSocket.last().serverClose(1006);
    mock.timers.tick(1000);
    FakeWebSocket.last().serverClose(1006);
    await flush();
    assert.ok(err instanceof TickroomError && err.code === "closed", `connect is ${String(err)}`);
    assert.doesNotMatch(errorMessage(err), /Reconnecting/, "attempts used up");
  });

  it("leaves rooms and does not reconnect after a terminal close", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    const left: string[] = [];
    room.on("left", (l) => left.push(l.message));
    const closes: number[] = [];
    client.on("close", (c) => closes.push(c.code));
    sock.serverClose(4502, "replaced");
    assert.deepEqual(closes, [4502]);
    assert.equal(client.state, "closed");
    assert.equal((left).length, 1);
    assert.equal(room.live, false);
    assert.throws(() => room.sendInput(enc.encode("x")));
    mock.timers.tick(120_000);
    assert.equal((FakeWebSocket.instances).length, 1);
  });

  it("starts over with a new token after TOKEN_EXPIRED", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    sock.serverClose(4500, "token expired");
    assert.equal(client.state, "closed");
    mock.timers.tick(60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
    client.setToken("renewed");
    client.open();
    const sock2 = FakeWebSocket.last();
    assert.equal(sock2.url, "ws://127.0.0.1:1/v1/ws?token=renewed&protocol_version=2");
    welcome(sock2);
    assert.equal(client.state, "open");
    const p = client.listRooms();
    reply(sock2, { requestId: lastReceived(sock2).requestId, body: { case: "roomList", value: {} } });
    assert.deepEqual((await p).rooms, []);
  });

  it("pings on the heartbeat, estimates RTT and reconnects when the server goes silent", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 1000 });
    const rtts: number[] = [];
    client.on("rtt", (r) => rtts.push(r.last));
    mock.timers.tick(1000);
    const ping = lastReceived(sock);
    assert.equal(ping.body.case, "ping");
    if (ping.body.case !== "ping") return;
    mock.timers.tick(40);
    reply(sock, { requestId: ping.requestId, body: { case: "pong", value: { clientTimeMs: ping.body.value.clientTimeMs, serverTimeMs: BigInt(Date.now()) } } });
    await flush();
    assert.deepEqual(rtts, [40]);
    assert.equal(client.rtt.rtt, 40);
    // Silence: pings go unanswered; the heartbeat check after three silent
    // intervals (last heard at t=1040, checks every 1000 ms) drops the socket.
    const closes: number[] = [];
    client.on("close", (c) => closes.push(c.code));
    // (One interval at a time: a mock tick runs every timer it passes at
    // its end time, as a browser runs a background tab's late timers.)
    for (const ms of [960, 1000, 1000]) mock.timers.tick(ms);
    assert.deepEqual(closes, []);
    assert.equal((received(sock).filter((m) => m.body.case === "ping")).length, 4);
    mock.timers.tick(1000);
    assert.deepEqual(closes, [4003]);
    assert.equal(sock.closedWith?.code, 4003);
    assert.equal((FakeWebSocket.instances).length, 2);
  });

  // reconnect: false leaves every reconnect to the app: a socket the
  // client drops itself, a silent one or one whose room waits in vain for
  // a keyframe, ends the connection as a drop would, rather than opening
  // a new one behind the app's back.
  for (const why of ["heartbeat", "desync"] as const) {
    it(`opens no new socket of its own with reconnect off: ${why}`, async () => {
      const { client, sock } = await connected({ heartbeatIntervalMs: why === "heartbeat" ? 1000 : 60_000, reconnect: false, desyncRecoveryMs: 2000 });
      const room = await joinedRoom(client, sock);
      const closes: { code: number; willReconnect: boolean }[] = [];
      client.on("close", (c) => closes.push({ code: c.code, willReconnect: c.willReconnect }));
      if (why === "desync") {
        sendState(sock, { tick: 10, key: true, up: { 1: "a" } });
        sendState(sock, { tick: 13, base: 12, up: { 2: "b" } });
      }
      mock.timers.tick(1000);
      mock.timers.tick(1000);
      mock.timers.tick(1000);
      mock.timers.tick(1000);
      assert.deepEqual(closes, [{ code: why === "heartbeat" ? 4003 : 1000, willReconnect: false }]);
      assert.equal(FakeWebSocket.instances.length, 1);
      assert.equal(client.state, "closed");
      assert.equal(room.live, false);
    });
  }

  it("pings before it judges a silence its own late timer made (a background tab)", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 1000 });
    const closes: number[] = [];
    client.on("close", (c) => closes.push(c.code));
    // The browser ran no timer of the hidden tab for 6 s: the first run
    // finds 6 s of silence, but no ping of its own went unanswered.
    mock.timers.tick(6000);
    assert.deepEqual(closes, []);
    const ping = lastReceived(sock);
    assert.equal(ping.body.case, "ping");
    if (ping.body.case !== "ping") return;
    reply(sock, { requestId: ping.requestId, body: { case: "pong", value: { clientTimeMs: ping.body.value.clientTimeMs, serverTimeMs: BigInt(Date.now()) } } });
    await flush();
    // Late again, now with the server gone: the ping of that run goes
    // unanswered, and the run after it drops the socket.
    mock.timers.tick(6000);
    assert.deepEqual(closes, []);
    mock.timers.tick(6000);
    assert.deepEqual(closes, [4003]);
  });
});

describe("heartbeat interval from the server", () => {
  beforeEach(() => FakeWebSocket.reset());

  it("a Welcome's interval past the longest timer delay (2^31 ms) does not ping every millisecond", async () => {
    // Real timers: a delay over 2^31 - 1 ms is taken as 1 ms by Node and
    // browsers alike, which mock timers do not copy.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    const p = connect(opts({ requestTimeoutMs: 60_000 }));
    const sock = FakeWebSocket.last();
    welcome(sock, { heartbeatIntervalMs: 3_000_000_000 });
    const client = await p;
    await new Promise((r) => setTimeout(r, 60));
    const pings = received(sock).filter((m) => m.body.case === "ping").length;
    client.close();
    process.off("warning", onWarning);
    assert.equal(pings, 0, `${pings} pings in 60 ms`);
    assert.deepEqual(warnings, []);
  });
});
