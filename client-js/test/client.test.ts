// The Client's requests, its rooms and what the server pushes to them.
// Connecting is tested in client-connect.test.ts, resumes in
// resume.test.ts; the shared setup is client-setup.ts.
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { TickroomError } from "../src/errors.js";
import { ErrorCode } from "../src/gen/tickroom/v1/codes_pb.js";
import { LeaveReason } from "../src/gen/tickroom/v1/room_pb.js";
import { MatchOutcome } from "../src/gen/tickroom/v1/records_pb.js";
import { RoomEventKind } from "../src/gen/tickroom/v1/state_pb.js";
import type { Client } from "../src/client.js";
import type { Room } from "../src/room.js";
import type { RoomWatch } from "../src/room-watch.js";
import { FakeWebSocket } from "./fake-websocket.js";
import { lastReceived, received, reply, welcome } from "./fake-server.js";
import { assertPartial, assertRejects, flush } from "./helpers.js";
import { connect } from "../src/connect.js";
import { connected, dec, enc, entities, joinedRoom, opts, sendState, sim, useFakes } from "./client-setup.js";

describe("Client", () => {
  useFakes();

  // watchingThenReconnected opens a watch of the arena's rooms, served
  // with an empty list, then drops the socket (4003) and returns the one
  // the client reconnected on, welcomed: its re-subscription is there.
  async function watchingThenReconnected(heartbeatIntervalMs: number): Promise<{ client: Client; watch: RoomWatch; sock2: FakeWebSocket }> {
    const { client, sock } = await connected({ heartbeatIntervalMs });
    const p = client.watchRooms({ game: "arena" });
    reply(sock, { requestId: lastReceived(sock).requestId, body: { case: "roomList", value: { rooms: [] } } });
    const watch = await p;
    sock.serverClose(4003, "idle");
    mock.timers.tick(50);
    const sock2 = FakeWebSocket.last();
    welcome(sock2);
    return { client, watch, sock2 };
  }

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

  // A node's restart brings every player behind one address (a NAT) back at
  // once, and the server may refuse some of their watches for the
  // address's room lists, RATE_LIMITED with retry_after_ms: such a watch is
  // asked again after that, as often as the server refuses it, rather
  // than left frozen until the next reconnect.
  it("asks again after retry_after_ms for a room list watch the server refused RATE_LIMITED after a reconnect", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const p = client.watchRooms({ game: "arena" });
    const req = lastReceived(sock);
    reply(sock, { requestId: req.requestId, body: { case: "roomList", value: { rooms: [{ roomId: "a1", game: "arena" }] } } });
    const watch = await p;
    const errors: (ErrorCode | undefined)[] = [];
    watch.on("error", (err) => errors.push(err.serverCode));
    sock.serverClose(4003, "idle");
    mock.timers.tick(50);
    const sock2 = FakeWebSocket.last();
    welcome(sock2);
    const lastWatch = () => received(sock2).filter((m) => m.body.case === "watchRooms").at(-1)!;
    let last = lastWatch();
    for (const retryAfterMs of [2000, 5000]) {
      reply(sock2, { requestId: last.requestId, body: { case: "error", value: { code: ErrorCode.RATE_LIMITED, message: "room lists asked too fast from this address", retryAfterMs } } });
      await flush();
      mock.timers.tick(retryAfterMs - 1);
      await flush();
      assert.equal(lastWatch().requestId, last.requestId, `the watch was asked for again before the ${retryAfterMs} ms the server said`);
      mock.timers.tick(30_000);
      await flush();
      const again = lastWatch();
      assert.notEqual(again.requestId, last.requestId, `the watch refused RATE_LIMITED (retry_after_ms ${retryAfterMs}) was not asked for again within 30 s`);
      assert.equal(again.body.case === "watchRooms" && again.body.value.game, "arena");
      last = again;
    }
    assert.deepEqual(errors, [ErrorCode.RATE_LIMITED, ErrorCode.RATE_LIMITED]);
    reply(sock2, { requestId: last.requestId, body: { case: "roomList", value: { rooms: [{ roomId: "b2", game: "arena" }] } } });
    await flush();
    assert.deepEqual(watch.rooms.map((r) => r.roomId), ["b2"]);
    client.close();
  });

  // A NAT's players may be refused again and again while their address's
  // room lists refill: the watch is asked again as long as the server
  // refuses it (it stopped after 10 refusals, frozen until the next
  // reconnect), and the waits stop growing at 30 s, spread below it at
  // random so that the players of one address do not come back together.
  it("asks again for a room list watch however often the server refuses it RATE_LIMITED, waits at the cap spread", async (t) => {
    const { client, watch, sock2 } = await watchingThenReconnected(60_000);
    let errors = 0;
    watch.on("error", () => errors++);
    const lastWatch = () => received(sock2).filter((m) => m.body.case === "watchRooms").at(-1)!;
    t.mock.method(Math, "random", () => 0); // the shortest wait the jitter gives
    let last = lastWatch();
    for (let refusal = 1; refusal <= 20; refusal++) {
      reply(sock2, { requestId: last.requestId, body: { case: "error", value: { code: ErrorCode.RATE_LIMITED, message: "room lists asked too fast from this address", retryAfterMs: 1000 } } });
      await flush();
      mock.timers.tick(999);
      await flush();
      assert.equal(lastWatch().requestId, last.requestId, `refusal ${refusal}: the watch was asked for again before the 1000 ms the server said`);
      mock.timers.tick(15_000); // half the 30 s cap: the shortest wait at it
      await flush();
      const again = lastWatch();
      assert.notEqual(again.requestId, last.requestId, `refusal ${refusal}: the watch refused RATE_LIMITED (retry_after_ms 1000) was not asked for again within 16 s`);
      last = again;
    }
    assert.equal(errors, 20);
    reply(sock2, { requestId: last.requestId, body: { case: "roomList", value: { rooms: [{ roomId: "b2", game: "arena" }] } } });
    await flush();
    assert.deepEqual(watch.rooms.map((r) => r.roomId), ["b2"]);
    client.close();
  });

  // A server may hint longer than the 30 s the client's waits grow to (up
  // to an hour, for an address's room lists at a low -room-list-rate-per-ip):
  // the watch was asked again at 30 s, before the hint, and the players of
  // one address all at the moment the hint named. It is now asked again
  // after the hint, spread above it at random (up to half as long again).
  it("asks again for a room list watch refused RATE_LIMITED with a hint over 30 s no sooner than the hint, spread above it", async (t) => {
    const { client, sock2 } = await watchingThenReconnected(3_600_000);
    const lastWatch = () => received(sock2).filter((m) => m.body.case === "watchRooms").at(-1)!;
    const refused = lastWatch();
    t.mock.method(Math, "random", () => 0.5);
    reply(sock2, { requestId: refused.requestId, body: { case: "error", value: { code: ErrorCode.RATE_LIMITED, message: "room lists asked too fast from this address", retryAfterMs: 120_000 } } });
    await flush();
    mock.timers.tick(120_000 - 1);
    await flush();
    assert.equal(lastWatch().requestId, refused.requestId, "the watch refused RATE_LIMITED with retry_after_ms 120000 was asked for again before it");
    mock.timers.tick(120_000 * 0.25 - 1); // the hint × 1.25 at random 0.5
    await flush();
    assert.equal(lastWatch().requestId, refused.requestId, "the watch was asked for again at the very hint, whatever the jitter");
    mock.timers.tick(2);
    await flush();
    assert.notEqual(lastWatch().requestId, refused.requestId, "the watch refused RATE_LIMITED (retry_after_ms 120000) was not asked for again after 150 s");
    client.close();
  });

  // A retry waits as long as the server's hint, up to an hour and a half:
  // one left set when the connection ended for good (here a ban, 4504)
  // would have done nothing when it fired, but held a Node process (a bot,
  // a test) open until then. A socket's close ends its retries.
  it("leaves no retry waiting once the connection ends for good", async () => {
    const { client, sock2 } = await watchingThenReconnected(3_600_000);
    const refused = received(sock2).filter((m) => m.body.case === "watchRooms").at(-1)!;
    reply(sock2, { requestId: refused.requestId, body: { case: "error", value: { code: ErrorCode.RATE_LIMITED, message: "room lists asked too fast from this address", retryAfterMs: 3_600_000 } } });
    await flush();
    const timers = (client as unknown as { resumer: { retryTimers: Set<unknown> } }).resumer.retryTimers;
    assert.equal(timers.size, 1, "the refused watch waits to be asked again");
    sock2.serverClose(4504, "banned");
    await flush();
    assert.equal(client.state, "closed");
    assert.equal(timers.size, 0, "a retry of the closed connection still waits, holding the process open for up to 1.5 h");
  });

  // A watch the app closes while its re-subscription waits to be asked
  // again stays closed.
  it("does not ask again for a watch closed while its RATE_LIMITED re-subscription waits", async () => {
    const { client, watch, sock2 } = await watchingThenReconnected(60_000);
    const watchesSent = () => received(sock2).filter((m) => m.body.case === "watchRooms").length;
    const refused = received(sock2).filter((m) => m.body.case === "watchRooms").at(-1)!;
    reply(sock2, { requestId: refused.requestId, body: { case: "error", value: { code: ErrorCode.RATE_LIMITED, message: "room lists asked too fast from this address", retryAfterMs: 1000 } } });
    await flush();
    const closed = watch.close();
    const unwatch = lastReceived(sock2);
    if (unwatch.body.case === "unwatchRooms") reply(sock2, { requestId: unwatch.requestId, body: { case: "ok", value: {} } });
    await closed;
    const sent = watchesSent();
    mock.timers.tick(120_000);
    await flush();
    assert.equal(watchesSent(), sent, "a closed watch was asked for again");
    client.close();
  });

  // On a Welcome the resumes go out before the watches: past the client's
  // own maxRequestsInFlight, the watch is refused here, "too-many-requests",
  // a refusal that passes as the server's busy one does.
  it("asks again for a room list watch its own maxRequestsInFlight refused after a reconnect", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000, maxRequestsInFlight: 1 });
    await joinedRoom(client, sock);
    sendState(sock, { tick: 40, key: true, up: { 1: "a" } });
    const p = client.watchRooms();
    const req = lastReceived(sock);
    reply(sock, { requestId: req.requestId, body: { case: "roomList", value: { rooms: [{ roomId: "a1", game: "arena" }] } } });
    const watch = await p;
    sock.serverClose(4003, "idle");
    mock.timers.tick(50);
    const sock2 = FakeWebSocket.last();
    welcome(sock2);
    const resume = lastReceived(sock2);
    assert.equal(resume.body.case, "joinRoom");
    await flush();
    reply(sock2, { requestId: resume.requestId, body: { case: "joined", value: { roomId: "r1", game: "arena", seat: 2, tickRate: 20, resumed: true, tick: 41n } } });
    await flush();
    mock.timers.tick(5000);
    await flush();
    const again = lastReceived(sock2);
    assert.equal(again.body.case, "watchRooms", "the watch refused by maxRequestsInFlight was not asked for again within 5 s");
    reply(sock2, { requestId: again.requestId, body: { case: "roomList", value: { rooms: [{ roomId: "b2", game: "arena" }] } } });
    await flush();
    assert.deepEqual(watch.rooms.map((r) => r.roomId), ["b2"]);
    client.close();
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

  it("tells a room which inputs the server dropped, and stops predicting with them", async () => {
    // Inputs go with request id 0: before InputDropped, one the room
    // dropped over the seat's rate had no answer, and the next state's ack
    // (4, past it) made it look applied.
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    await flush();
    mock.timers.tick(1);
    for (let i = 1; i <= 4; i++) room.sendInput(new Uint8Array([i]));
    assert.deepEqual(received(sock).filter((m) => m.body.case === "input").map((m) => [m.requestId, m.body.case === "input" && m.body.value.seq]), [[0, 1], [0, 2], [0, 3], [0, 4]]);
    const got: { reason: ErrorCode; seqs: number[]; count: number }[] = [];
    const replays: number[][] = [];
    room.on("inputDropped", (d) => got.push(d));
    room.on("reconcile", ({ pending }) => replays.push(pending.map((p) => p.seq)));
    reply(sock, { body: { case: "inputDropped", value: { roomId: "r1", reason: ErrorCode.RATE_LIMITED, runs: [2, 3], count: 2 } } });
    assert.deepEqual(got, [{ reason: ErrorCode.RATE_LIMITED, seqs: [2, 3], count: 2 }]);
    // The game replays what is left at once: 2 and 3 never will be applied.
    assert.deepEqual(replays, [[1, 4]]);
    assert.deepEqual(room.predictor.pending.map((p) => p.seq), [1, 4]);
    sendState(sock, { tick: 1, key: true, acks: [[2, 1]] });
    assert.deepEqual(room.predictor.pending.map((p) => p.seq), [4]);
    // Another room's notice is not this one's.
    reply(sock, { body: { case: "inputDropped", value: { roomId: "r2", reason: ErrorCode.INPUT_DROPPED, runs: [4, 4], count: 1 } } });
    assert.equal(got.length, 1);
    assert.deepEqual(room.predictor.pending.map((p) => p.seq), [4]);
    client.close();
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

  // A room left, by the player or by the server's Left, and a connection
  // closed for good let go of their Rooms (entities, the app's listeners):
  // a long session of many matches does not keep every one of them.
  it("lets go of the rooms it left", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    // play joins a room, gets its keyframe and ends it as how says; it
    // returns a weak reference, and nothing of the test holds the Room.
    const play = async (i: number, how: string): Promise<WeakRef<Room>> => {
      const roomId = `r${i + 1}`;
      const p = client.joinRoom(roomId);
      const join = lastReceived(sock);
      reply(sock, { requestId: join.requestId, body: { case: "joined", value: { roomId, game: "arena", seat: 1, tickRate: 20 } } });
      const room = await p;
      // Each room its own ref, as the server numbers the rooms of a connection.
      reply(sock, { body: { case: "state", value: sim.state({ tick: 1, key: true, up: { 1: "a".repeat(1000) }, roomId, roomRef: 7 + i }) } });
      assert.equal(room.entities.size, 1);
      room.on("state", () => {});
      if (how === "leave") {
        const leave = room.leave();
        const req = lastReceived(sock);
        reply(sock, { requestId: req.requestId, body: { case: "left", value: { roomId, reason: LeaveReason.REQUESTED } } });
        await leave;
      } else if (how === "left") {
        reply(sock, { body: { case: "left", value: { roomId, reason: LeaveReason.ROOM_CLOSED } } });
      } else {
        sock.serverClose(4502, "replaced");
      }
      assert.equal(room.live, false);
      return new WeakRef(room);
    };
    const rooms = [await play(0, "leave"), await play(1, "left"), await play(2, "closed")];
    await flush();
    gc();
    assert.deepEqual(
      rooms.map((r) => r.deref() === undefined),
      [true, true, true],
      "a room left is still held",
    );
    client.close();
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

  // In Node an error thrown on a fresh task ends the process: an app that
  // passes onListenerError counts on it for every listener of the client,
  // those of its rooms and of its connection too.
  it("hands the errors of room and connection listeners to onListenerError", async () => {
    const caught: string[] = [];
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000, onListenerError: (e) => caught.push(String(e)) });
    const room = await joinedRoom(client, sock);
    room.on("state", () => {
      throw new Error("room listener");
    });
    client.connection.on("message", () => {
      throw new Error("connection listener");
    });
    sendState(sock, { tick: 1, key: true, up: { 5: "e" } });
    assert.deepEqual(caught, ["Error: room listener", "Error: connection listener"]);
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

  // The server refuses an Input whose data is over the protocol's 4096
  // bytes (ERROR_CODE_INPUT_TOO_LARGE), with no answer to an input, which
  // has no request id: under its message limit (64 KiB by default) such an
  // input went and vanished, never acknowledged, and the predictor replayed
  // it on every state.
  it("refuses an input whose data is over the protocol's limit, under a larger message limit", async () => {
    const p = connect(opts({ heartbeatIntervalMs: 60_000 }));
    const sock = FakeWebSocket.last();
    welcome(sock, { maxMessageBytes: 65536 });
    const room = await joinedRoom(await p, sock);
    assert.throws(() => room.sendInput(new Uint8Array(4097)), /4096/);
    assert.deepEqual(room.predictor.pending, []);
    assert.equal(room.sendInput(new Uint8Array(4096)), 1);
    const sent = received(sock).filter((m) => m.body.case === "input");
    assert.deepEqual(sent.map((m) => (m.body.case === "input" ? [m.body.value.seq, m.body.value.data.length] : [])), [[1, 4096]]);
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
