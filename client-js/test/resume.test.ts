// The Client's resumes after a reconnect and the seats it gives up
// (src/resume.ts). Shared setup: client-setup.ts.
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { Client } from "../src/client.js";
import { connect } from "../src/connect.js";
import { ErrorCode } from "../src/gen/tickroom/v1/codes_pb.js";
import { LeaveReason } from "../src/gen/tickroom/v1/room_pb.js";
import type { Room } from "../src/room.js";
import { FakeWebSocket } from "./fake-websocket.js";
import { lastReceived, received, reply, welcome } from "./fake-server.js";
import { assertPartial, assertRejects, flush } from "./helpers.js";
import { connected, dec, enc, entities, joinedRoom, opts, sendState, sim, useFakes } from "./client-setup.js";

describe("Client resumes", () => {
  useFakes();

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

  // With -multi-sockets, a resume that moves the seat from another socket
  // of the user, still open (its network vanished), is charged as a join:
  // refused RATE_LIMITED, the seat is there still. The Room was dropped,
  // with resumeFailed, and the seat left to the old socket; the resume is
  // now asked again after retry_after_ms.
  it("asks again after retry_after_ms for a resume refused for the user's joins", async () => {
    const { client, sock, room } = await seatedAt40();
    const failed: string[] = [];
    client.on("resumeFailed", ({ error }) => failed.push(error.message));
    const sock2 = reconnected(sock);
    const first = lastReceived(sock2);
    reply(sock2, { requestId: first.requestId, body: { case: "error", value: { code: ErrorCode.RATE_LIMITED, message: "joining rooms too fast", retryAfterMs: 2000 } } });
    await flush();
    assert.deepEqual(failed, [], "a resume refused RATE_LIMITED dropped its room");
    assert.equal(client.rooms.get("r1"), room);
    mock.timers.tick(1900);
    assert.equal(lastReceived(sock2).requestId, first.requestId, "the resume was asked again before retry_after_ms");
    mock.timers.tick(100);
    const again = lastReceived(sock2);
    assert.notEqual(again.requestId, first.requestId, "the resume was not asked again");
    assert.equal(again.body.case === "joinRoom" && again.body.value.resumeTick, 40n);
    reply(sock2, { requestId: again.requestId, body: { case: "joined", value: { roomId: "r1", game: "arena", seat: 2, tickRate: 20, resumed: true, tick: 41n } } });
    reply(sock2, { body: { case: "state", value: sim.state({ tick: 42, base: 40, up: { 2: "b" }, roomId: "r1", roomRef: 7 }) } });
    assert.deepEqual(entities(room), { 1: "a", 2: "b" });
  });

  // While a resume refused RATE_LIMITED waits to be asked again, the seat
  // is another socket's of the user on the server: the app's leave() sent
  // a LeaveRoom, answered NOT_IN_ROOM, and rejected, the Room stayed, and
  // the retry then resumed the seat the app had left. The leave now ends
  // the Room, drops the retry and gives the seat up: its LeaveRoom goes
  // now and on the next Welcome that lists the seat.
  it("leaves a room whose resume waits to be asked again, and resumes it no more", async () => {
    const { client, sock, room } = await seatedAt40();
    const reasons: LeaveReason[] = [];
    room.on("left", (l) => reasons.push(l.reason));
    const sock2 = reconnected(sock);
    const first = lastReceived(sock2);
    reply(sock2, { requestId: first.requestId, body: { case: "error", value: { code: ErrorCode.RATE_LIMITED, message: "joining rooms too fast", retryAfterMs: 2000 } } });
    await flush();
    const leaving = room.leave().then(
      () => "resolved",
      (err: unknown) => `rejected: ${String(err)}`,
    );
    await flush();
    const leave = lastReceived(sock2);
    assert.equal(leave.body.case === "leaveRoom" && leave.body.value.roomId, "r1", "no LeaveRoom of the seat");
    // This socket is not in the room: the seat is the other socket's.
    reply(sock2, { requestId: leave.requestId, body: { case: "error", value: { code: ErrorCode.NOT_IN_ROOM, message: "not in room" } } });
    assert.equal(await leaving, "resolved", "leave() of a room whose resume waits");
    assert.equal(room.live, false);
    assert.equal(client.rooms.size, 0);
    assert.deepEqual(reasons, [LeaveReason.REQUESTED]);
    mock.timers.tick(30_000); // past every retry the resume could have had
    await flush();
    assert.deepEqual(received(sock2).map((m) => m.body.case), ["joinRoom", "leaveRoom"], "the resume was asked again after the app left the room");
    // The next Welcome that lists the seat has it left again.
    sock2.serverClose(1006);
    mock.timers.tick(2000);
    const sock3 = FakeWebSocket.last();
    welcome(sock3, { seats: [{ roomId: "r1" }] });
    await flush();
    assert.deepEqual(received(sock3).map((m) => m.body.case), ["leaveRoom"], "the seat given up was not left again, or was resumed");
  });

  // seatedAt40 seats a connected client in r1 and gives it the room's
  // state of tick 40, the tick its resumes ask from.
  async function seatedAt40(): Promise<{ client: Client; sock: FakeWebSocket; room: Room }> {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    sendState(sock, { tick: 40, key: true, up: { 1: "a" } });
    return { client, sock, room };
  }

  // reconnected drops sock as a lost connection and returns the socket the
  // client reconnects on, welcomed: the resumes are its first messages.
  function reconnected(sock: FakeWebSocket): FakeWebSocket {
    sock.serverClose(1006);
    mock.timers.tick(50);
    const next = FakeWebSocket.last();
    welcome(next);
    return next;
  }

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

  // A player who clicks Leave while the connection is down is out of the
  // match: the room ends at once, its seat is not resumed, and the
  // LeaveRoom goes on the next Welcome that lists it.
  it("honours a leave made while reconnecting: no resume, the seat left once connected", async () => {
    const { client, sock } = await connected({ heartbeatIntervalMs: 60_000 });
    const room = await joinedRoom(client, sock);
    sendState(sock, { tick: 40, key: true, up: { 1: "a" } });
    const left: LeaveReason[] = [];
    room.on("left", (l) => left.push(l.reason));
    sock.serverClose(1006);
    let settled: unknown = "pending";
    room.leave().then(
      () => (settled = "resolved"),
      (e: unknown) => (settled = e),
    );
    await flush();
    assert.equal(settled, "resolved", `leave while reconnecting: ${String(settled)}`);
    assert.equal(room.live, false);
    assert.deepEqual(left, [LeaveReason.REQUESTED]);
    assert.equal(client.rooms.size, 0);
    mock.timers.tick(50);
    const sock2 = FakeWebSocket.last();
    assert.notEqual(sock2, sock);
    welcome(sock2, { resumeWindowMs: 30_000, seats: [{ roomId: "r1" }] });
    await flush();
    const sent = received(sock2);
    assert.deepEqual(sent.map((m) => m.body.case), ["leaveRoom"], "the seat left was resumed");
    assert.equal(sent[0]!.body.case === "leaveRoom" && sent[0]!.body.value.roomId, "r1");
    reply(sock2, { requestId: sent[0]!.requestId, body: { case: "left", value: { roomId: "r1", reason: LeaveReason.REQUESTED } } });
    await flush();
    assert.deepEqual(left, [LeaveReason.REQUESTED]);
    client.close();
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
});

describe("resume window from the server", () => {
  // Real timers: a delay over 2^31 - 1 ms is taken as 1 ms by Node and
  // browsers alike, which mock timers do not copy. A server that holds
  // seats for 30 days (-drop-grace 720h, a turn-based game) says so in
  // Welcome.resume_window_ms, and a resume waits that long for its answer.
  it("a resume window past the longest timer delay (2^31 ms) does not give the seat up at once", async () => {
    FakeWebSocket.reset();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    const window = 720 * 3600 * 1000;
    const p = connect(opts({ heartbeatIntervalMs: 60_000, backoff: { initialMs: 1, maxMs: 1, random: () => 0 } }));
    const sock = FakeWebSocket.last();
    welcome(sock, { resumeWindowMs: window });
    const client = await p;
    try {
      const room = await joinedRoom(client, sock);
      const failed: string[] = [];
      client.on("resumeFailed", (f) => failed.push(f.error.message));
      sock.serverClose(1006);
      await new Promise((r) => setTimeout(r, 20));
      const sock2 = FakeWebSocket.last();
      assert.notEqual(sock2, sock);
      welcome(sock2, { resumeWindowMs: window });
      await new Promise((r) => setTimeout(r, 60));
      assert.deepEqual(failed, []);
      assert.deepEqual(received(sock2).map((m) => m.body.case), ["joinRoom"]);
      assert.equal(client.rooms.get("r1"), room);
      assert.equal(room.resuming, true);
      assert.deepEqual(warnings, []);
    } finally {
      client.close();
      process.off("warning", onWarning);
    }
  });
});
