import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { Client, connect, type ClientOptions } from "../src/client.js";
import type { CloseDetails } from "../src/connection.js";
import { TickroomError } from "../src/errors.js";
import { errorMessage } from "../src/messages.js";
import { ErrorCode } from "../src/gen/tickroom/v1/codes_pb.js";
import { LeaveReason } from "../src/gen/tickroom/v1/room_pb.js";
import { MatchOutcome } from "../src/gen/tickroom/v1/records_pb.js";
import { RoomEventKind } from "../src/gen/tickroom/v1/state_pb.js";
import type { Room } from "../src/room.js";
import { FakeWebSocket } from "./fake-websocket.js";
import { lastReceived, received, reply, welcome } from "./fake-server.js";
import { assertPartial, assertRejects, flush } from "./helpers.js";
import { ServerSim } from "./patch.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

function opts(extra: Partial<ClientOptions> = {}): ClientOptions {
  return {
    url: "ws://127.0.0.1:1/v1/ws",
    token: "tok",
    WebSocket: FakeWebSocket,
    backoff: { initialMs: 100, maxMs: 1000, random: () => 0.5 },
    now: () => Date.now(),
    requestTimeoutMs: 5000,
    ...extra,
  };
}

async function connected(extra: Partial<ClientOptions> = {}): Promise<{ client: Client; sock: FakeWebSocket }> {
  const p = connect(opts(extra));
  const sock = FakeWebSocket.last();
  welcome(sock);
  const client = await p;
  return { client, sock };
}

// joined runs a join request through the fake server and returns the room.
async function joinedRoom(client: Client, sock: FakeWebSocket, spectate = false): Promise<Room> {
  const p = spectate ? client.spectate("r1") : client.joinRoom("r1", { password: "pw" });
  const req = lastReceived(sock);
  assert.equal(req.body.case, "joinRoom");
  reply(sock, {
    requestId: req.requestId,
    body: { case: "joined", value: { roomId: "r1", game: "arena", seat: spectate ? 0 : 2, spectator: spectate, tickRate: 20, players: [{ seat: 2, userId: "u1", name: "ann", connected: true }] } },
  });
  return p;
}

let sim = new ServerSim();

function sendState(sock: FakeWebSocket, s: { tick: number; base?: number; key?: boolean; up?: Record<number, string>; rm?: number[]; acks?: [number, number][] }): void {
  reply(sock, { body: { case: "state", value: sim.state({ ...s, roomId: "r1", roomRef: 7 }) } });
}

function entities(room: Room): Record<string, string> {
  return Object.fromEntries([...room.entities].map(([id, b]) => [String(id), dec.decode(b)]));
}

describe("Client", () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"], now: 0 });
    FakeWebSocket.reset();
    sim = new ServerSim();
  });
  afterEach(() => mock.timers.reset());

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

  it("reconnects often enough to resume its seats within the server's resume window", async () => {
    // drops closes the client's socket n times, each new attempt failing
    // before it opens, and returns the delays the client chose.
    const drops = async (client: Client, n: number): Promise<number[]> => {
      const delays: number[] = [];
      const off = client.on("close", (c) => delays.push(c.delayMs));
      for (let i = 0; i < n; i++) {
        FakeWebSocket.last().serverClose(1006);
        await flush();
        mock.timers.tick(delays[delays.length - 1]! + 1);
      }
      off();
      return delays;
    };
    const backoff = { initialMs: 100, maxMs: 60_000, random: () => 0.999 };
    const start = async (): Promise<{ client: Client; sock: FakeWebSocket }> => {
      const p = connect(opts({ backoff }));
      const sock = FakeWebSocket.last();
      welcome(sock, { resumeWindowMs: 8000 });
      return { client: await p, sock };
    };

    // No seat held: the delays grow as the backoff says, past the window.
    const idle = await start();
    const free = await drops(idle.client, 9);
    assert.ok(free[8]! > 8000, `delays without a seat ${free}`);
    idle.client.close();

    // A seat held: no delay's cap passes an eighth of the 8 s window.
    const seated = await start();
    await joinedRoom(seated.client, seated.sock);
    const held = await drops(seated.client, 9);
    assert.ok(held.every((d) => d <= 1000) && held[8]! > 900, `delays with a seat ${held}`);
    seated.client.close();
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

  it("matches replies to requests by request id", async () => {
    const { client, sock } = await connected();
    const a = client.listRooms({ game: "arena" });
    const reqA = lastReceived(sock);
    const b = client.listRooms({ game: "gomoku" });
    const reqB = lastReceived(sock);
    assert.notEqual(reqA.requestId, reqB.requestId);
    assert.equal(reqA.body.case === "listRooms" && reqA.body.value.game, "arena");
    reply(sock, { requestId: reqB.requestId, body: { case: "roomList", value: { rooms: [{ roomId: "g1", game: "gomoku" }] } } });
    reply(sock, { requestId: reqA.requestId, body: { case: "roomList", value: { rooms: [{ roomId: "a1", game: "arena" }] } } });
    assert.deepEqual((await a).rooms.map((r) => r.roomId), ["a1"]);
    assert.deepEqual((await b).rooms.map((r) => r.roomId), ["g1"]);
  });

  it("rejects with the server's typed error", async () => {
    const { client, sock } = await connected();
    const p = client.joinRoom("nope");
    reply(sock, { requestId: lastReceived(sock).requestId, body: { case: "error", value: { code: ErrorCode.ROOM_NOT_FOUND, message: "no room nope" } } });
    const err = (await p.catch((e: unknown) => e)) as TickroomError;
    assert.deepEqual([err.code, err.serverCode], ["server", ErrorCode.ROOM_NOT_FOUND]);
    assert.ok((err.message).includes("ROOM_NOT_FOUND"));
    assert.equal(client.rooms.size, 0);
  });

  it("times out a request with no reply", async () => {
    const { client } = await connected({ requestTimeoutMs: 300, heartbeatIntervalMs: 60_000 });
    const p = client.listRooms();
    const check = assertRejects(p, { code: "timeout" });
    mock.timers.tick(300);
    await check;
  });

  // A join can time out on the client while the server seats the user all
  // the same: the late Joined's room is handed to the app, which can give
  // the seat up, rather than kept where the app never looks.
  it("hands over the room of a Joined that came after its join timed out", async () => {
    const { client, sock } = await connected({ requestTimeoutMs: 300, heartbeatIntervalMs: 60_000 });
    const late: Room[] = [];
    client.on("lateJoin", ({ room }) => late.push(room));
    const p = client.joinRoom("r1");
    const req = lastReceived(sock);
    const check = assertRejects(p, { code: "timeout" });
    mock.timers.tick(300);
    await check;
    reply(sock, {
      requestId: req.requestId,
      body: { case: "joined", value: { roomId: "r1", game: "arena", seat: 3, tickRate: 20, players: [{ seat: 3, userId: "u1", name: "ann", connected: true }] } },
    });
    assert.equal(late.length, 1, "no lateJoin for the Joined that came after the timeout");
    assert.deepEqual([late[0].id, late[0].seat], ["r1", 3]);
    assert.equal(client.rooms.get("r1"), late[0]);
    const left = late[0].leave();
    const leave = lastReceived(sock);
    assert.equal(leave.body.case === "leaveRoom" && leave.body.value.roomId, "r1");
    reply(sock, { requestId: leave.requestId, body: { case: "left", value: { roomId: "r1", reason: LeaveReason.REQUESTED } } });
    await left;
    assert.equal(client.rooms.size, 0);
  });

  it("keeps a room's entity map from keyframes and deltas and reconciles inputs", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    assert.deepEqual([room.id, room.seat, room.tickRate, room.players.get(2)?.name], ["r1", 2, 20, "ann"]);
    const reconciles: { acked: number; pending: number[] }[] = [];
    room.on("reconcile", (r) => reconciles.push({ acked: r.acked, pending: r.pending.map((p) => p.seq) }));
    assert.equal(room.sendInput(enc.encode("L")), 1);
    assert.equal(room.sendInput(enc.encode("R")), 2);
    const inputs = received(sock).filter((m) => m.body.case === "input");
    assert.deepEqual(inputs.map((m) => (m.body.case === "input" ? [m.body.value.roomId, m.body.value.seq, dec.decode(m.body.value.data)] : [])), [
      ["r1", 1, "L"],
      ["r1", 2, "R"],
    ]);
    sendState(sock, { tick: 10, key: true, up: { 1: "a", 2: "b" }, acks: [[2, 1]] });
    sendState(sock, { tick: 11, base: 10, up: { 2: "b2" }, rm: [1], acks: [[2, 2], [1, 7]] });
    assert.deepEqual(entities(room), { 2: "b2" });
    assert.equal(room.tick, 11n);
    assert.deepEqual(reconciles, [
      { acked: 1, pending: [2] },
      { acked: 2, pending: [] },
    ]);
    const desyncs: string[] = [];
    room.on("desync", (d) => desyncs.push(d.reason));
    sendState(sock, { tick: 13, base: 12, up: { 9: "z" } });
    assert.deepEqual(desyncs, ["base-mismatch"]);
    assert.deepEqual(entities(room), { 2: "b2" });
  });

  // A resume with no answer is no refusal: a room slow to tick answers
  // late. Taken for a lost seat, its late Joined made a second, stateless
  // Room that the server's deltas from the old tick never reached; the
  // client waits for the answer while the server holds the seat.
  it("waits for a slow resume's answer while the server holds the seat, and resumes the same room", async () => {
    const { client, sock } = await connected({ requestTimeoutMs: 300, heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    sendState(sock, { tick: 40, key: true, up: { 1: "a" } });
    const events: string[] = [];
    client.on("resumeFailed", () => events.push("resumeFailed"));
    client.on("lateJoin", () => events.push("lateJoin"));
    sock.serverClose(1006);
    mock.timers.tick(50);
    const sock2 = FakeWebSocket.last();
    welcome(sock2, { resumeWindowMs: 30_000 });
    const resume = lastReceived(sock2);
    assert.equal(resume.body.case === "joinRoom" && resume.body.value.resumeTick, 40n);
    mock.timers.tick(20_000); // far past the request timeout, within the window
    await flush();
    assert.deepEqual(events, [], "a slow resume was taken for a lost seat");
    assert.equal(FakeWebSocket.last(), sock2, "the client started the connection over");
    assert.equal(room.resuming, true);
    reply(sock2, { requestId: resume.requestId, body: { case: "joined", value: { roomId: "r1", game: "arena", seat: 2, tickRate: 20, resumed: true, tick: 41n } } });
    reply(sock2, { body: { case: "state", value: sim.state({ tick: 42, base: 40, up: { 2: "b" }, roomId: "r1", roomRef: 7 }) } });
    assert.equal(client.rooms.get("r1"), room);
    assert.deepEqual(entities(room), { 1: "a", 2: "b" });
    assert.equal(room.live, true);
  });

  // A resume with no answer past the time the server holds the seat gives
  // the seat up, with a LeaveRoom, and the Joined that may still come
  // makes no Room; the connection is not started over.
  it("gives up the seat of a resume with no answer past the resume window", async () => {
    const { client, sock } = await connected({ requestTimeoutMs: 300, heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    sendState(sock, { tick: 40, key: true, up: { 1: "a" } });
    const failed: string[] = [];
    client.on("resumeFailed", ({ error }) => failed.push(error.code));
    const late: Room[] = [];
    client.on("lateJoin", ({ room: r }) => late.push(r));
    sock.serverClose(1006);
    mock.timers.tick(50);
    const sock2 = FakeWebSocket.last();
    welcome(sock2, { resumeWindowMs: 2000 });
    const resume = lastReceived(sock2);
    mock.timers.tick(2000);
    await flush();
    assert.deepEqual(failed, ["timeout"]);
    assert.equal(room.live, false);
    assert.equal(client.rooms.size, 0);
    const leave = lastReceived(sock2);
    assert.equal(leave.body.case === "leaveRoom" && leave.body.value.roomId, "r1", "the seat given up was not left on the server");
    reply(sock2, { requestId: resume.requestId, body: { case: "joined", value: { roomId: "r1", game: "arena", seat: 2, tickRate: 20, resumed: true, tick: 41n } } });
    assert.equal(client.rooms.size, 0, "the late Joined of the resume given up made a Room");
    assert.deepEqual(late, []);
    mock.timers.tick(60_000);
    assert.equal(FakeWebSocket.last(), sock2, "the client started the connection over");
  });

  // On a Welcome the client sends every resume and watch at once; a node
  // of a cluster takes two lobby requests of a connection at a time and
  // refuses the rest TOO_MANY_REQUESTS_IN_FLIGHT, which is no lost seat.
  it("asks again for a resume the server was too busy to take", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    sendState(sock, { tick: 40, key: true, up: { 1: "a" } });
    const failed: string[] = [];
    client.on("resumeFailed", ({ error }) => failed.push(error.message));
    sock.serverClose(4003, "idle");
    mock.timers.tick(50);
    const sock2 = FakeWebSocket.last();
    welcome(sock2);
    const first = lastReceived(sock2);
    reply(sock2, { requestId: first.requestId, body: { case: "error", value: { code: ErrorCode.TOO_MANY_REQUESTS_IN_FLIGHT, message: "too many lobby requests in flight" } } });
    await flush();
    assert.deepEqual(failed, [], "a resume refused as busy was taken for a lost seat");
    assert.equal(client.rooms.get("r1"), room);
    mock.timers.tick(100);
    const again = lastReceived(sock2);
    assert.notEqual(again.requestId, first.requestId, "the resume was not asked again");
    assert.equal(again.body.case === "joinRoom" && again.body.value.resumeTick, 40n);
    reply(sock2, { requestId: again.requestId, body: { case: "joined", value: { roomId: "r1", game: "arena", seat: 2, tickRate: 20, resumed: true, tick: 41n } } });
    reply(sock2, { body: { case: "state", value: sim.state({ tick: 42, base: 40, up: { 2: "b" }, roomId: "r1", roomRef: 7 }) } });
    assert.deepEqual(entities(room), { 1: "a", 2: "b" });
  });

  // joinAs seats the client in roomId through the fake server.
  async function joinAs(client: Client, sock: FakeWebSocket, roomId: string): Promise<Room> {
    const p = client.joinRoom(roomId);
    const req = lastReceived(sock);
    reply(sock, { requestId: req.requestId, body: { case: "joined", value: { roomId, game: "arena", seat: 2, tickRate: 20 } } });
    return p;
  }
  // seatGivenUp seats the client in r1, drops its socket, and lets the
  // resume on the next one go unanswered past the time the server could
  // hold the seat: the client gives it up and sends LeaveRoom, the last
  // message on that socket, which it returns.
  async function seatGivenUp(): Promise<{ client: Client; s: FakeWebSocket }> {
    const { client, sock } = await connected({ requestTimeoutMs: 300, heartbeatIntervalMs: 60_000 });
    await joinAs(client, sock, "r1");
    sock.serverClose(1006);
    mock.timers.tick(50);
    const s = FakeWebSocket.last();
    welcome(s);
    mock.timers.tick(300);
    await flush();
    assert.equal(lastReceived(s).body.case, "leaveRoom");
    return { client, s };
  }
  const resumesOn = (s: FakeWebSocket) => received(s).filter((m) => m.body.case === "joinRoom");
  const resumedOn = (s: FakeWebSocket, m: ReturnType<typeof lastReceived>) => {
    const roomId = m.body.case === "joinRoom" ? m.body.value.roomId : "";
    reply(s, { requestId: m.requestId, body: { case: "joined", value: { roomId, game: "arena", seat: 2, tickRate: 20, resumed: true } } });
  };

  // Two rooms whose resumes time out in turn (one answered, the other late,
  // then the other way round) must not cycle the connection: a resume with
  // no answer never starts the connection over.
  it("never starts the connection over for resumes with no answer", async () => {
    const { client, sock } = await connected({ requestTimeoutMs: 300, heartbeatIntervalMs: 60_000 });
    await joinAs(client, sock, "r1");
    await joinAs(client, sock, "r2");
    sock.serverClose(1006);
    mock.timers.tick(50);
    for (let i = 0; i < 10; i++) {
      const s = FakeWebSocket.last();
      if (resumesOn(s).length === 0) welcome(s);
      const rs = resumesOn(s).filter((m) => client.rooms.has(m.body.case === "joinRoom" ? m.body.value.roomId : ""));
      if (rs.length === 0) break;
      resumedOn(s, rs[i % rs.length]);
      mock.timers.tick(300);
      await flush();
      mock.timers.tick(1000);
    }
    assert.ok(FakeWebSocket.instances.length <= 3, `${FakeWebSocket.instances.length} sockets for resumes that time out in turn`);
  });

  // The LeaveRoom of a seat given up may be lost with its socket, on the
  // network that made the resume time out: the next Welcome that lists the
  // seat gets it again, so the others do not wait out the resume window.
  it("leaves again, on the next Welcome that lists it, a seat it gave up whose leave was lost", async () => {
    const { client, s: s3 } = await seatGivenUp();
    s3.serverClose(1006); // before the Left
    mock.timers.tick(2000);
    // A Welcome without the seat, from another node of a cluster, say,
    // does not make the client forget it.
    const other = FakeWebSocket.last();
    assert.notEqual(other, s3);
    welcome(other, { resumeWindowMs: 30_000 });
    await flush();
    assert.deepEqual(received(other).map((m) => m.body.case), []);
    other.serverClose(1006);
    mock.timers.tick(2000);
    const s4 = FakeWebSocket.last();
    assert.notEqual(s4, other);
    welcome(s4, { resumeWindowMs: 30_000, seats: [{ roomId: "r1" }] });
    await flush();
    const leave = lastReceived(s4);
    assert.equal(leave.body.case === "leaveRoom" && leave.body.value.roomId, "r1", "the seat given up was not left again");
    reply(s4, { requestId: leave.requestId, body: { case: "left", value: { roomId: "r1", reason: LeaveReason.REQUESTED } } });
    await flush();
    s4.serverClose(1006);
    mock.timers.tick(2000);
    const s5 = FakeWebSocket.last();
    welcome(s5, { resumeWindowMs: 30_000 });
    await flush();
    assert.deepEqual(received(s5).map((m) => m.body.case), [], "sent again after the Left");
  });

  // A resume refused as busy more times than it is asked again drops the
  // room, and its seat, which the server still holds, is left.
  it("leaves the seat of a resume refused as busy past its tries", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    await joinAs(client, sock, "r1");
    const failed: number[] = [];
    client.on("resumeFailed", ({ error }) => failed.push(error.serverCode ?? 0));
    sock.serverClose(1006);
    mock.timers.tick(50);
    const s2 = FakeWebSocket.last();
    welcome(s2);
    for (let i = 0; i < 12 && client.rooms.size > 0; i++) {
      const r = resumesOn(s2).at(-1)!;
      reply(s2, { requestId: r.requestId, body: { case: "error", value: { code: ErrorCode.TOO_MANY_REQUESTS_IN_FLIGHT, message: "busy" } } });
      await flush();
      mock.timers.tick(Math.min(100 * 2 ** i, 30_000));
    }
    assert.deepEqual(failed, [ErrorCode.TOO_MANY_REQUESTS_IN_FLIGHT]);
    const leaves = received(s2).filter((m) => m.body.case === "leaveRoom");
    assert.equal(leaves.length === 1 && leaves[0].body.case === "leaveRoom" && leaves[0].body.value.roomId, "r1", "the seat was not left");
  });

  // A busy retry set on one socket must not fire on the next one, before
  // its Welcome, which resumes every room itself: two resumes of one room
  // on one socket got the second refused ALREADY_IN_ROOM, a resumeFailed,
  // and the first one's Joined a second, hidden Room.
  it("sends a busy resume's retry on its own socket only", async () => {
    const { client, sock } = await connected({ requestTimeoutMs: 5000, heartbeatIntervalMs: 60_000 });
    const room = await joinAs(client, sock, "r1");
    sock.serverClose(1006);
    mock.timers.tick(1000);
    const s2 = FakeWebSocket.last();
    welcome(s2);
    const r0 = lastReceived(s2);
    reply(s2, { requestId: r0.requestId, body: { case: "error", value: { code: ErrorCode.TOO_MANY_REQUESTS_IN_FLIGHT, message: "busy", retryAfterMs: 2000 } } });
    await flush();
    s2.serverClose(1006); // dropped while the retry waits
    mock.timers.tick(1000);
    const s3 = FakeWebSocket.last();
    assert.notEqual(s3, s2);
    s3.serverOpen(); // upgraded; its Welcome is on the way
    mock.timers.tick(1000); // when the retry set on s2 was due
    welcome(s3);
    await flush();
    const rs = resumesOn(s3);
    assert.equal(rs.length, 1, "two resumes of one room on one socket");
    resumedOn(s3, rs[0]);
    assert.equal(client.rooms.get("r1"), room);
  });

  // A room the app joins again after its seat was given up is the app's:
  // a later Welcome that lists the seat resumes it, and leaves nothing.
  it("does not leave a seat given up once the app has joined that room again", async () => {
    const { client, s: s3 } = await seatGivenUp();
    const again = await joinAs(client, s3, "r1"); // the app joins it again
    s3.serverClose(1006); // and the abandon's Left is lost with the socket
    mock.timers.tick(2000);
    const s4 = FakeWebSocket.last();
    welcome(s4, { resumeWindowMs: 30_000, seats: [{ roomId: "r1" }] });
    await flush();
    const sent = received(s4);
    assert.deepEqual(sent.map((m) => m.body.case), ["joinRoom"], "the app's seat was left, or not resumed");
    assert.equal(client.rooms.get("r1"), again);
  });

  // The app that joins a room again after its seat was given up wants it:
  // a LeaveRoom of the seat given up, refused for the rate and due again,
  // is not sent, so the server does not leave the app's new seat.
  it("sends no more leaves of a seat given up once the app joins that room again", async () => {
    const { client, s: s2 } = await seatGivenUp();
    const leave = lastReceived(s2);
    reply(s2, { requestId: leave.requestId, body: { case: "error", value: { code: ErrorCode.RATE_LIMITED, message: "slow down", retryAfterMs: 500 } } });
    await flush();
    const p = client.joinRoom("r1"); // the app's own join, pending at a slow room
    const answered = p.catch((err: unknown) => err); // it times out here; its seat is the app's all the same
    mock.timers.tick(1000); // past when the refused leave was due again
    await flush();
    assert.deepEqual(received(s2).map((m) => m.body.case), ["joinRoom", "leaveRoom", "joinRoom"], "a leave of the seat given up went after the app joined again");
    await answered;
  });

  it("reconnects after a resumable close, resumes the seat and flushes buffered inputs", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    sendState(sock, { tick: 40, key: true, up: { 1: "a" } });
    room.sendInput(enc.encode("i1"));
    const pending = client.listRooms();
    const lost = assertRejects(pending, { code: "connection-lost" });
    sock.serverClose(4001, "slow");
    await lost;
    assert.equal(client.state, "reconnecting");
    // Inputs during the outage wait, behind i1, which the dropped socket
    // took without an ack; requests are refused at once.
    room.sendInput(enc.encode("i2"));
    room.sendInput(enc.encode("i3"));
    assert.equal(room.bufferedInputs, 3);
    await assertRejects(client.listRooms(), { code: "not-connected" });
    mock.timers.tick(50);
    assert.equal((FakeWebSocket.instances).length, 2);
    const sock2 = FakeWebSocket.last();
    welcome(sock2);
    // The resume is the first thing on the new socket: same room, last tick seen.
    const resume = lastReceived(sock2);
    assert.equal(resume.body.case, "joinRoom");
    if (resume.body.case !== "joinRoom") return;
    assertPartial(resume.body.value, { roomId: "r1", password: "pw", spectate: false, resumeTick: 40n });
    // Nothing else goes out until the seat is back.
    assert.equal((received(sock2)).length, 1);
    room.sendInput(enc.encode("i4"));
    assert.equal((received(sock2)).length, 1);
    const resumed: boolean[] = [];
    room.on("resumed", (j) => resumed.push(j.resumed));
    reply(sock2, { requestId: resume.requestId, body: { case: "joined", value: { roomId: "r1", game: "arena", seat: 2, tickRate: 20, resumed: true, tick: 41n } } });
    assert.deepEqual(resumed, [true]);
    assert.equal(client.rooms.get("r1"), room);
    const sent = received(sock2).slice(1).map((m) => (m.body.case === "input" ? `${m.body.value.seq}:${dec.decode(m.body.value.data)}` : m.body.case));
    // The seat's Joined says the room applied no input: i1 goes again.
    assert.deepEqual(sent, ["1:i1", "2:i2", "3:i3", "4:i4"]);
    assert.equal(room.bufferedInputs, 0);
    // A delta from the resume tick applies on top of the kept state.
    sendState(sock2, { tick: 42, base: 40, up: { 2: "b" } });
    assert.deepEqual(entities(room), { 1: "a", 2: "b" });
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

  // A watch the server refuses to follow again after a reconnect for a
  // reason that passes (a cluster's Redis out of reach) is asked again,
  // rather than left frozen until the next reconnect.
  it("asks again for a room list watch the server could not follow after a reconnect", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const p = client.watchRooms({ limit: 5 });
    const req = lastReceived(sock);
    assert.equal(req.body.case, "watchRooms");
    reply(sock, { requestId: req.requestId, body: { case: "roomList", value: { rooms: [{ roomId: "a1", game: "arena" }] } } });
    const watch = await p;
    const seen: string[][] = [];
    const errors: (ErrorCode | undefined)[] = [];
    watch.on("change", ({ rooms }) => seen.push(rooms.map((r) => r.roomId)));
    watch.on("error", (err) => errors.push(err.serverCode));
    sock.serverClose(4003, "idle");
    mock.timers.tick(50);
    const sock2 = FakeWebSocket.last();
    welcome(sock2);
    const again = lastReceived(sock2);
    assert.equal(again.body.case, "watchRooms");
    reply(sock2, { requestId: again.requestId, body: { case: "error", value: { code: ErrorCode.UNAVAILABLE, message: "the room directory is unreachable" } } });
    await flush();
    assert.deepEqual(errors, [ErrorCode.UNAVAILABLE]);
    mock.timers.tick(5000);
    await flush();
    const third = lastReceived(sock2);
    assert.notEqual(third.requestId, again.requestId, "the watch was not asked for again within 5 s");
    assert.equal(third.body.case, "watchRooms");
    reply(sock2, { requestId: third.requestId, body: { case: "roomList", value: { rooms: [{ roomId: "b2", game: "arena" }] } } });
    await flush();
    assert.deepEqual(seen.at(-1), ["b2"]);
    assert.deepEqual(watch.rooms.map((r) => r.roomId), ["b2"]);
    client.close();
  });

  it("leaves a room whose seat could not be resumed", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    const failed: number[] = [];
    client.on("resumeFailed", (f) => failed.push(f.error.serverCode));
    const reasons: LeaveReason[] = [];
    room.on("left", (l) => reasons.push(l.reason));
    sock.serverClose(1006);
    mock.timers.tick(50);
    const sock2 = FakeWebSocket.last();
    welcome(sock2);
    const req = lastReceived(sock2);
    assert.equal(req.body.case === "joinRoom" && req.body.value.resumeTick, 0xffff_ffff_ffff_ffffn);
    reply(sock2, { requestId: req.requestId, body: { case: "error", value: { code: ErrorCode.RESUME_UNAVAILABLE, message: "seat expired" } } });
    await flush();
    assert.deepEqual(failed, [ErrorCode.RESUME_UNAVAILABLE]);
    assert.deepEqual(reasons, [LeaveReason.SEAT_EXPIRED]);
    assert.equal(client.rooms.size, 0);
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

  it("gives a room's first messages, read with its Joined, to the listeners added once the join resolved", async () => {
    // Node's ws (and a server that writes Joined, the first events, a game's
    // welcome message and the keyframe in one go) delivers them in one task,
    // before the code awaiting joinRoom runs: the events and the message wait
    // for it, the state is in the store.
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const p = client.joinRoom("r1");
    const req = lastReceived(sock);
    reply(sock, {
      requestId: req.requestId,
      body: { case: "joined", value: { roomId: "r1", game: "arena", seat: 2, tickRate: 20, players: [{ seat: 2, userId: "u1", name: "ann", connected: true }] } },
    });
    reply(sock, { body: { case: "roomEvent", value: { roomId: "r1", kind: RoomEventKind.PLAYER_JOINED, seat: 2, userId: "u1", name: "ann" } } });
    reply(sock, { body: { case: "gameMessage", value: { roomId: "r1", code: 100, text: "welcome ann" } } });
    sendState(sock, { tick: 1, key: true, up: { 1: "a" } });
    const room = await p;
    const got: string[] = [];
    room.on("event", (e) => got.push(`event:${RoomEventKind[e.kind]}`));
    room.on("message", (m) => got.push(`game:${m.text}`));
    assert.deepEqual(entities(room), { 1: "a" });
    await flush();
    mock.timers.tick(1);
    assert.deepEqual(got, ["event:PLAYER_JOINED", "game:welcome ann"]);
    // Later ones go to the listeners at once, as ever.
    reply(sock, { body: { case: "gameMessage", value: { roomId: "r1", text: "go" } } });
    assert.deepEqual(got.slice(2), ["game:go"]);
  });

  it("routes chat, direct messages, presence, notifications and room events", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    const got: string[] = [];
    client.on("chat", (c) => got.push(`chat:${c.text}`));
    client.on("direct", (d) => got.push(`dm:${d.text}`));
    client.on("presence", (p) => got.push(`presence:${p.userId}`));
    client.on("notification", (n) => got.push(`note:${n.title}`));
    room.on("chat", (c) => got.push(`room-chat:${c.text}`));
    room.on("event", (e) => got.push(`event:${RoomEventKind[e.kind]}`));
    room.on("message", (m) => got.push(`game:${m.text}`));
    reply(sock, { body: { case: "chat", value: { roomId: "r1", text: "hi" } } });
    reply(sock, { body: { case: "chat", value: { channel: "general", text: "yo" } } });
    reply(sock, { body: { case: "directMessage", value: { fromUserId: "u2", text: "psst" } } });
    reply(sock, { body: { case: "presence", value: { userId: "u2" } } });
    reply(sock, { body: { case: "notification", value: { title: "maintenance" } } });
    reply(sock, { body: { case: "roomEvent", value: { roomId: "r1", kind: RoomEventKind.PLAYER_JOINED, seat: 3, userId: "u3", name: "bo" } } });
    reply(sock, { body: { case: "gameMessage", value: { roomId: "r1", text: "illegal move" } } });
    assert.deepEqual(got, ["room-chat:hi", "chat:hi", "chat:yo", "dm:psst", "presence:u2", "note:maintenance", "event:PLAYER_JOINED", "game:illegal move"]);
    assert.equal(room.players.get(3)?.name, "bo");
  });

  it("asks for a match history page and a leaderboard", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const hist = client.matchHistory({ userId: "u2", before: 41, limit: 5 });
    const req = lastReceived(sock);
    assertPartial(req.body.case === "getMatchHistory" && req.body.value, { userId: "u2", beforeId: 41n, limit: 5 });
    reply(sock, {
      requestId: req.requestId,
      body: {
        case: "matchHistory",
        value: {
          userId: "u2",
          nextBeforeId: 40n,
          matches: [{ id: 40n, game: "arena", reason: "time_up", players: [{ userId: "u2", seat: 1, outcome: MatchOutcome.WIN, score: 12n }] }],
        },
      },
    });
    const page = await hist;
    assert.equal(page.nextBeforeId, 40n);
    assert.equal(page.matches[0]?.players[0]?.score, 12n);
    assert.equal(page.matches[0]?.players[0]?.outcome, MatchOutcome.WIN);

    const own = client.matchHistory();
    const req2 = lastReceived(sock);
    assertPartial(req2.body.case === "getMatchHistory" && req2.body.value, { userId: "", beforeId: 0n, limit: 0 });
    reply(sock, { requestId: req2.requestId, body: { case: "error", value: { code: ErrorCode.FORBIDDEN, message: "no" } } });
    await assertRejects(own, { serverCode: ErrorCode.FORBIDDEN });

    const board = client.leaderboard("gomoku", 3);
    const req3 = lastReceived(sock);
    assertPartial(req3.body.case === "getLeaderboard" && req3.body.value, { game: "gomoku", limit: 3 });
    reply(sock, {
      requestId: req3.requestId,
      body: { case: "leaderboard", value: { game: "gomoku", top: [{ rank: 1, userId: "u9", wins: 4 }], own: { rank: 7, userId: "u1", losses: 2 } } },
    });
    const b = await board;
    assert.equal(b.top[0]?.wins, 4);
    assert.equal(b.own?.rank, 7);
  });

  it("asks for a page of a channel's history", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const hist = client.channelHistory("lobby", { before: 9, limit: 2 });
    const req = lastReceived(sock);
    assertPartial(req.body.case === "getChannelHistory" && req.body.value, { channel: "lobby", before: 9n, limit: 2 });
    reply(sock, {
      requestId: req.requestId,
      body: {
        case: "channelHistoryPage",
        value: {
          channel: "lobby",
          nextBefore: 7n,
          lines: [
            { id: 7n, channel: "lobby", fromUserId: "u2", text: "older" },
            { id: 8n, channel: "lobby", fromUserId: "u2", text: "newer" },
          ],
        },
      },
    });
    const page = await hist;
    assert.equal(page.nextBefore, 7n);
    assert.deepEqual(
      page.lines.map((l) => [l.id, l.text]),
      [
        [7n, "older"],
        [8n, "newer"],
      ],
    );

    const refused = client.channelHistory("other");
    const req2 = lastReceived(sock);
    assertPartial(req2.body.case === "getChannelHistory" && req2.body.value, { channel: "other", before: 0n, limit: 0 });
    reply(sock, { requestId: req2.requestId, body: { case: "error", value: { code: ErrorCode.CHANNEL_NOT_FOUND, message: "join first" } } });
    await assertRejects(refused, { serverCode: ErrorCode.CHANNEL_NOT_FOUND });
  });

  it("asks for a watch pass for a room", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const pass = client.watchPass("r1");
    const req = lastReceived(sock);
    assertPartial(req.body.case === "getWatchPass" && req.body.value, { roomId: "r1" });
    reply(sock, { requestId: req.requestId, body: { case: "watchPass", value: { roomId: "r1", pass: "k1.p.s", expiresAtMs: 1_700_000_000_000n } } });
    const got = await pass;
    assert.equal(got.pass, "k1.p.s");
    assert.equal(got.roomId, "r1");
    assert.equal(got.expiresAtMs, 1_700_000_000_000n);

    const refused = client.watchPass("r2");
    const req2 = lastReceived(sock);
    reply(sock, { requestId: req2.requestId, body: { case: "error", value: { code: ErrorCode.NOT_IN_ROOM, message: "" } } });
    await assertRejects(refused, { serverCode: ErrorCode.NOT_IN_ROOM });
  });

  it("sends chat and leaves a room by request", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    const chat = room.sendChat("gg");
    const req = lastReceived(sock);
    assertPartial(req.body.case === "sendChat" && req.body.value, { roomId: "r1", text: "gg" });
    reply(sock, { requestId: req.requestId, body: { case: "ok", value: {} } });
    await chat;
    const leave = room.leave();
    const lreq = lastReceived(sock);
    reply(sock, { requestId: lreq.requestId, body: { case: "left", value: { roomId: "r1", reason: LeaveReason.REQUESTED } } });
    await leave;
    assert.equal(room.live, false);
    assert.equal(client.rooms.size, 0);
  });

  it("survives undecodable messages and refuses spectator input", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const errors: string[] = [];
    client.on("error", (e) => errors.push(e.code));
    sock.serverSend(new Uint8Array([0xff, 0xff, 0xff]));
    assert.deepEqual(errors, ["protocol"]);
    const room = await joinedRoom(client, sock, true);
    assert.equal(room.spectator, true);
    assert.throws(() => room.sendInput(enc.encode("x")), /spectators/);
    sendState(sock, { tick: 1, key: true, up: { 5: "e" } });
    assert.deepEqual(entities(room), { 5: "e" });
  });

  const recoveries = [
    { name: "a keyframe arrives in time: no reconnect", keyframe: true, sockets: 1 },
    { name: "no keyframe: reconnect and resume from the last tick", keyframe: false, sockets: 2 },
  ];
  for (const r of recoveries) {
    it(`recovers from a desync: ${r.name}`, async () => {
      const { client, sock } = await connected({ heartbeatIntervalMs: 60_000, desyncRecoveryMs: 2000 });
      const room = await joinedRoom(client, sock);
      sendState(sock, { tick: 10, key: true, up: { 1: "a" } });
      sendState(sock, { tick: 13, base: 12, up: { 2: "b" } });
      assert.equal(room.store.needsKeyframe, true);
      mock.timers.tick(1000);
      if (r.keyframe) sendState(sock, { tick: 14, key: true, up: { 1: "a", 2: "b" } });
      mock.timers.tick(1000);
      assert.equal(FakeWebSocket.instances.length, r.sockets);
      if (r.keyframe) {
        assert.deepEqual(entities(room), { 1: "a", 2: "b" });
        return;
      }
      const sock2 = FakeWebSocket.last();
      welcome(sock2);
      const req = lastReceived(sock2);
      assert.equal(req.body.case === "joinRoom" && req.body.value.resumeTick, 10n);
    });
  }

  it("survives random and truncated frames (seeded fuzz)", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    sendState(sock, { tick: 1, key: true, up: { 1: "a" } });
    let errors = 0;
    client.on("error", () => errors++);
    // A fixed-seed generator keeps the inputs the same from run to run.
    let seed = 0x2545f491;
    const rand = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    const sentBefore = sock.sent.length;
    for (let i = 0; i < 2000; i++) {
      const bytes = new Uint8Array(Math.floor(rand() * 64));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256);
      sock.serverSend(bytes);
    }
    // Every prefix of a real frame, too.
    const frame = new Uint8Array([0x12, 0x0c, 0x0a, 0x02, 0x72, 0x31, 0x10, 0x02, 0x18, 0x01, 0x2a, 0x02, 0x08, 0x05]);
    for (let n = 0; n < frame.length; n++) sock.serverSend(frame.subarray(0, n));
    assert.ok(errors > 0);
    assert.equal(client.state, "open");
    // Garbage never makes the client send anything.
    assert.equal(sock.sent.length, sentBefore);
    // The client and the room still work afterwards.
    sendState(sock, { tick: 50, key: true, up: { 7: "g" } });
    assert.deepEqual(entities(room), { 7: "g" });
    const p = client.listRooms();
    reply(sock, { requestId: lastReceived(sock).requestId, body: { case: "roomList", value: {} } });
    assert.deepEqual((await p).rooms, []);
  });

  it("refuses an input over the server's message limit instead of getting closed", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    assert.throws(() => room.sendInput(new Uint8Array(5000)), TickroomError);
    assert.equal((received(sock).filter((m) => m.body.case === "input")).length, 0);
    // The refused input took no sequence number; the bound is exact enough
    // that an input just under the limit still goes.
    let size = 4096 - 20;
    while (size < 4096) {
      try {
        room.sendInput(new Uint8Array(size));
      } catch {
        break;
      }
      size++;
    }
    const sent = received(sock).filter((m) => m.body.case === "input");
    assert.ok((sent.length) > 0);
    assert.deepEqual(sent.map((m) => (m.body.case === "input" ? m.body.value.seq : 0)), sent.map((_, i) => i + 1));
    const sizes = sock.sent.slice(-sent.length).map((b) => b.length);
    assert.ok((Math.max(...sizes)) <= 4096);
    assert.ok((Math.max(...sizes)) > 4096 - 8);
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
