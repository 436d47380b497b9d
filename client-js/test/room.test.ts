import { create } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { ErrorCode } from "../src/gen/tickroom/v1/codes_pb.js";
import { InputDroppedSchema, JoinedSchema, LeftSchema, LeaveReason } from "../src/gen/tickroom/v1/room_pb.js";
import { StateSchema, RoomEventSchema, RoomEventKind } from "../src/gen/tickroom/v1/state_pb.js";
import { lerpNumber } from "../src/interpolation.js";
import { Room, type RoomHost } from "../src/room.js";
import { interpolateRoom } from "../src/room-interpolation.js";
import { assertCloseTo } from "./helpers.js";
import { ServerSim } from "./patch.js";

// hostStub records what a room sends; up says whether the socket is open.
function hostStub() {
  const sent: { seq: number; data: number[] }[] = [];
  const host: RoomHost & { up: boolean } = {
    up: true,
    checkInput() {},
    sendInput(_roomId, seq, data) {
      if (!host.up) return false;
      sent.push({ seq, data: [...data] });
      return true;
    },
    leaveRoom: async (roomId) => create(LeftSchema, { roomId, reason: LeaveReason.REQUESTED }),
    sendChat: async () => {},
  };
  return { host, sent };
}

function joined(extra: Record<string, unknown> = {}) {
  return create(JoinedSchema, { roomId: "r", game: "g", seat: 1, tickRate: 10, players: [{ seat: 1, userId: "me", name: "me", connected: true }], ...extra });
}

let sim = new ServerSim();

// st builds a State; pos encodes a 1-D position as one byte, like a tiny game schema.
function st(tick: number, base: number, key: boolean, up: Record<number, number>, rm: number[] = [], acks: [number, number][] = []) {
  const ups: Record<number, Uint8Array> = {};
  for (const [id, x] of Object.entries(up)) ups[Number(id)] = new Uint8Array([x]);
  return sim.state({ tick, base, key, up: ups, rm, acks, roomId: "r" });
}

describe("Room", () => {
  beforeEach(() => {
    sim = new ServerSim();
  });

  it("numbers a freshly resumed seat's inputs above the last one the room applied", () => {
    // A page reload resumes a seat this client never held: the Joined says
    // the seat's last applied input, and the first input goes above it
    // (numbered from 1, it would be dropped as a resend).
    const { host, sent } = hostStub();
    const room = new Room(host, joined({ resumed: true, lastInputSeq: 41 }), "");
    room.sendInput(new Uint8Array([1]));
    assert.deepEqual(sent.map((s) => s.seq), [42]);
    assert.equal(room.predictor.lastAcked, 41);
    // A fresh join starts from 1.
    const fresh = hostStub();
    new Room(fresh.host, joined(), "").sendInput(new Uint8Array([1]));
    assert.deepEqual(fresh.sent.map((s) => s.seq), [1]);
  });

  it("numbers a seat resumed at the largest seq from 1 again, as the server does", () => {
    // Input.seq is a uint32: above 2^32 - 1 comes 1 (4294967296 cannot be
    // encoded, and every sendInput threw).
    const { host, sent } = hostStub();
    const room = new Room(host, joined({ resumed: true, lastInputSeq: 0xffff_ffff }), "");
    room.sendInput(new Uint8Array([1]));
    room.sendInput(new Uint8Array([2]));
    assert.deepEqual(sent.map((s) => s.seq), [1, 2]);
    // Acked by the server: pending drains, and the older ack is stale.
    assert.equal(room.predictor.ack(1), true);
    assert.deepEqual(room.predictor.pending.map((p) => p.seq), [2]);
    assert.equal(room.predictor.ack(0xffff_ffff), false);
    assert.equal(room.predictor.ack(2), true);
    assert.equal(room.predictor.pending.length, 0);
  });

  it("buffers inputs while resuming, bounded, and skips those already acked", () => {
    const { host, sent } = hostStub();
    const room = new Room(host, joined(), "", { inputBuffer: { maxItems: 3 } });
    room.sendInput(new Uint8Array([1]));
    host.up = false;
    room.markResuming();
    for (let i = 2; i <= 6; i++) room.sendInput(new Uint8Array([i]));
    // Input 1, sent and not acked when the socket dropped, is kept with them.
    assert.deepEqual([room.bufferedInputs, room.droppedInputs], [3, 3]);
    assert.deepEqual(room.resumeRequest(), { roomId: "r", password: "", spectate: false, resumeTick: 0xffff_ffff_ffff_ffffn });
    host.up = true;
    // The server applied input 5 before the drop.
    room.handleState(st(7, 0, true, {}, [], [[1, 5]]));
    const flushed: number[] = [];
    assert.equal(room.handleResumed(joined({ resumed: true }), (seq) => flushed.push(seq) > 0), 1);
    assert.deepEqual(flushed, [6]);
    assert.deepEqual(sent.map((s) => s.seq), [1]);
    assert.equal(room.resuming, false);
  });

  it("keeps the inputs a failed post-resume flush did not send, in order", () => {
    const { host, sent } = hostStub();
    const room = new Room(host, joined(), "");
    host.up = false;
    room.markResuming();
    for (let i = 1; i <= 4; i++) room.sendInput(new Uint8Array([i]));
    room.resumeRequest();
    // The socket drops again after two inputs went out.
    const flushed: number[] = [];
    const n = room.handleResumed(joined({ resumed: true }), (seq) => flushed.length < 2 && flushed.push(seq) > 0);
    assert.equal(n, 2);
    assert.deepEqual(flushed, [1, 2]);
    assert.equal(room.bufferedInputs, 2);
    assert.equal(room.resuming, true);
    // An input made now waits behind them; the next resume sends all three,
    // after the two the room applied.
    room.sendInput(new Uint8Array([5]));
    assert.deepEqual(sent, []);
    room.markResuming();
    room.resumeRequest();
    const again: number[] = [];
    assert.equal(room.handleResumed(joined({ resumed: true, lastInputSeq: 2 }), (seq) => again.push(seq) > 0), 3);
    assert.deepEqual(again, [3, 4, 5]);
    assert.equal(room.bufferedInputs, 0);
  });

  it("sends again after a resume the inputs a dropped socket took without an ack, but for those the room applied", () => {
    const { host, sent } = hostStub();
    const room = new Room(host, joined(), "");
    for (let i = 1; i <= 3; i++) room.sendInput(new Uint8Array([i]));
    room.handleState(st(5, 0, true, {}, [], [[1, 1]]));
    const reused = new Uint8Array([4]);
    room.sendInput(reused);
    reused[0] = 99; // a game encoding its next input into the same buffer
    assert.deepEqual(sent.map((s) => s.seq), [1, 2, 3, 4]);
    // The network is gone: 2, 3 and 4 went into a socket that dropped.
    host.up = false;
    room.markResuming();
    room.sendInput(new Uint8Array([5]));
    assert.equal(room.bufferedInputs, 4);
    host.up = true;
    room.resumeRequest();
    // The room applied 2 before the drop; 3, 4 and 5 go, in order.
    const flushed: number[][] = [];
    assert.equal(room.handleResumed(joined({ resumed: true, lastInputSeq: 2 }), (seq, data) => flushed.push([seq, ...data]) > 0), 3);
    assert.deepEqual(flushed, [[3, 3], [4, 4], [5, 5]]);
    assert.equal(room.bufferedInputs, 0);
    // Acknowledged on the new socket, they are not sent a third time after another drop.
    room.handleState(st(6, 5, false, {}, [], [[1, 4]]));
    room.markResuming();
    room.resumeRequest();
    const last: number[] = [];
    assert.equal(room.handleResumed(joined({ resumed: true, lastInputSeq: 4 }), (seq) => last.push(seq) > 0), 1);
    assert.deepEqual(last, [5]);
  });

  it("numbers inputs above a resumed seat's last applied one that another connection sent", () => {
    // While this socket was down, another connection of the user resumed
    // the seat and the room applied its inputs up to 50; this Room resumes
    // the seat back. An input sent once resumed, before the first state,
    // must go above 50, or the room drops it as a resend and the next
    // state's ack takes it for applied.
    const { host, sent } = hostStub();
    const room = new Room(host, joined(), "");
    for (let i = 1; i <= 20; i++) room.sendInput(new Uint8Array([i]));
    room.handleState(st(5, 0, true, {}, [], [[1, 20]]));
    host.up = false;
    room.markResuming();
    room.resumeRequest();
    host.up = true;
    room.handleResumed(joined({ resumed: true, lastInputSeq: 50 }), () => true);
    room.sendInput(new Uint8Array([99]));
    assert.deepEqual(sent.slice(20).map((s) => s.seq), [51]);
    // The next state acks 50: the input stays pending, for the reconcile replay.
    room.handleState(st(6, 5, false, {}, [], [[1, 50]]));
    assert.deepEqual(room.predictor.pending.map((p) => p.seq), [51]);
  });

  it("does not send again after a resume the inputs the server said it dropped", () => {
    const { host, sent } = hostStub();
    const room = new Room(host, joined(), "");
    for (let i = 1; i <= 4; i++) room.sendInput(new Uint8Array([i]));
    room.handleInputDropped(create(InputDroppedSchema, { roomId: "r", reason: ErrorCode.INPUT_DROPPED, runs: [2, 3], count: 2 }));
    host.up = false;
    room.markResuming();
    room.resumeRequest();
    host.up = true;
    const again: number[] = [];
    room.handleResumed(joined({ resumed: true }), (seq) => again.push(seq) > 0);
    assert.deepEqual(again, [1, 4]);
    assert.deepEqual(sent.map((s) => s.seq), [1, 2, 3, 4]);
  });

  it("reads the dropped runs across the wrap, and skips a malformed one", async () => {
    const { host } = hostStub();
    const room = new Room(host, joined({ resumed: true, lastInputSeq: 0xffff_fffe }), "");
    await Promise.resolve(); // the room's first task is over: events go to the listeners at once
    for (let i = 0; i < 4; i++) room.sendInput(new Uint8Array([i])); // 0xffffffff, 1, 2, 3
    const got: number[][] = [];
    room.on("inputDropped", (d) => got.push(d.seqs));
    room.handleInputDropped(create(InputDroppedSchema, { roomId: "r", reason: ErrorCode.RATE_LIMITED, runs: [0xffff_ffff, 1, 3, 2, 0, 5], count: 2 }));
    assert.deepEqual(room.predictor.pending.map((p) => p.seq), [2, 3]);
    assert.deepEqual(got, [[0xffff_ffff, 1]]);
  });

  it("tracks players from room events", () => {
    const { host } = hostStub();
    const room = new Room(host, joined(), "");
    const ev = (kind: RoomEventKind, seat: number, spectator = false, heldUntilMs = 0n) =>
      room.handleEvent(create(RoomEventSchema, { roomId: "r", kind, seat, userId: `u${seat}`, name: `n${seat}`, spectator, heldUntilMs }));
    ev(RoomEventKind.PLAYER_JOINED, 2);
    ev(RoomEventKind.PLAYER_JOINED, 9, true);
    ev(RoomEventKind.PLAYER_DROPPED, 2, false, 1_700_000_030_000n);
    assert.equal(room.players.get(2)?.connected, false);
    assert.equal(room.heldUntil(2), 1_700_000_030_000);
    ev(RoomEventKind.PLAYER_RESUMED, 2);
    assert.equal(room.players.get(2)?.connected, true);
    assert.equal(room.heldUntil(2), undefined);
    ev(RoomEventKind.PLAYER_LEFT, 1);
    assert.deepEqual([...room.players.keys()], [2]);
  });

  it("takes the held seats' deadlines from the roster of a join or a resume", () => {
    const { host } = hostStub();
    // The opponent dropped before this client joined: only the roster says so.
    const roster = (connected: boolean, heldUntilMs: bigint) =>
      joined({ players: [{ seat: 1, userId: "me", name: "me", connected: true }, { seat: 2, userId: "u2", name: "n2", connected, heldUntilMs }] });
    const room = new Room(host, roster(false, 1_700_000_030_000n), "");
    assert.equal(room.players.get(2)?.connected, false);
    assert.equal(room.heldUntil(2), 1_700_000_030_000);
    // A resume whose roster has the opponent back clears it.
    room.markResuming();
    room.handleResumed(roster(true, 0n), () => true);
    assert.equal(room.heldUntil(2), undefined);
    // A drop the room has not processed yet has no deadline.
    room.markResuming();
    room.handleResumed(roster(false, 0n), () => true);
    assert.equal(room.heldUntil(2), undefined);
  });

  it("stops after left", () => {
    const { host } = hostStub();
    const room = new Room(host, joined(), "");
    const states: bigint[] = [];
    room.on("state", (s) => states.push(s.state.tick));
    room.handleLeft(create(LeftSchema, { roomId: "r", reason: LeaveReason.KICKED }));
    room.handleState(st(1, 0, true, { 1: 1 }));
    assert.deepEqual(states, []);
    assert.throws(() => room.sendInput(new Uint8Array([1])), /left/);
  });
});

describe("interpolateRoom", () => {
  it("smooths remote entities between states and forgets removed ones", () => {
    const { host } = hostStub();
    const room = new Room(host, joined(), "");
    let clock = 0;
    const interp = interpolateRoom(room, { decode: (b) => b[0]!, lerp: lerpNumber, delayMs: 100, clock: () => clock, include: (id) => id !== 1n });
    clock = 1000;
    room.handleState(st(1, 0, true, { 1: 0, 2: 0, 3: 50 }));
    clock = 1100;
    room.handleState(st(2, 1, false, { 2: 10 }));
    clock = 1200;
    room.handleState(st(3, 2, false, { 2: 20, 3: 60 }));
    const cases = [
      { now: 1150, id: 2n, want: 5 },
      { now: 1250, id: 2n, want: 15 },
      // 3 was idle in tick 2, so it holds 50 until 1100 and then moves.
      { now: 1250, id: 3n, want: 55 },
    ];
    for (const c of cases) assertCloseTo(interp.sample(c.id, c.now)?.value, c.want, 9, `${c.id}@${c.now}`);
    assert.equal(interp.sample(1n, 1300), undefined);
    clock = 1300;
    room.handleState(st(4, 3, false, {}, [3]));
    assert.deepEqual([...interp.sampleAll(1400).entries()], [[2n, 20]]);
    interp.dispose();
    room.handleState(st(5, 4, false, { 2: 99 }));
    assert.equal(interp.buffer.size, 0);
  });
});
