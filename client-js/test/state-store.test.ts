import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { StateSchema, type State } from "../src/gen/tickroom/v1/state_pb.js";
import { StateStore } from "../src/state-store.js";
import { assertPartial } from "./helpers.js";
import { Bytes, ServerSim, type StateSpec } from "./patch.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

// st builds each State the way the server sends it, against the state of
// its base tick, encoded and decoded again (the patch is a view into a frame).
let sim = new ServerSim();
function st(s: StateSpec): State {
  return sim.state(s);
}

function view(store: StateStore): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, b] of store.entities) out[String(id)] = dec.decode(b);
  return out;
}

describe("StateStore", () => {
  beforeEach(() => {
    sim = new ServerSim();
  });

  it("applies a sequence of keyframes and deltas", () => {
    const steps: { name: string; in: StateSpec; ok: boolean; reason?: string; want: Record<string, string>; tick?: number; globals?: string }[] = [
      { name: "delta before keyframe", in: { tick: 5, base: 4, up: { 1: "x" } }, ok: false, reason: "no-keyframe", want: {} },
      { name: "keyframe", in: { tick: 10, key: true, up: { 1: "a", 2: "b" }, globals: "g0" }, ok: true, want: { 1: "a", 2: "b" }, tick: 10, globals: "g0" },
      { name: "delta upsert and add", in: { tick: 11, base: 10, up: { 2: "b2", 3: "c" } }, ok: true, want: { 1: "a", 2: "b2", 3: "c" }, tick: 11, globals: "g0" },
      { name: "delta remove", in: { tick: 12, base: 11, rm: [1], globals: "g1" }, ok: true, want: { 2: "b2", 3: "c" }, tick: 12, globals: "g1" },
      { name: "stale delta ignored", in: { tick: 12, base: 11, up: { 9: "z" } }, ok: false, reason: "stale", want: { 2: "b2", 3: "c" }, tick: 12 },
      { name: "delta on wrong base", in: { tick: 14, base: 13, up: { 9: "z" } }, ok: false, reason: "base-mismatch", want: { 2: "b2", 3: "c" }, tick: 12 },
      { name: "skipping delta (base 10) refused", in: { tick: 15, base: 10, up: { 9: "z" } }, ok: false, reason: "base-mismatch", want: { 2: "b2", 3: "c" }, tick: 12 },
      { name: "keyframe replaces all", in: { tick: 20, key: true, up: { 3: "c3", 4: "d" } }, ok: true, want: { 3: "c3", 4: "d" }, tick: 20, globals: "" },
      { name: "remove and upsert same delta", in: { tick: 21, base: 20, up: { 5: "e" }, rm: [3, 99], globals: "g2" }, ok: true, want: { 4: "d", 5: "e" }, tick: 21, globals: "g2" },
      { name: "delta without globals keeps them", in: { tick: 22, base: 21 }, ok: true, want: { 4: "d", 5: "e" }, tick: 22, globals: "g2" },
      { name: "delta clearing globals", in: { tick: 23, base: 22, clearGlobals: true }, ok: true, want: { 4: "d", 5: "e" }, tick: 23, globals: "" },
    ];
    const store = new StateStore();
    for (const s of steps) {
      const r = store.apply(st(s.in));
      assert.equal(r.ok, s.ok, s.name);
      if (!r.ok) assert.equal(r.reason, s.reason, s.name);
      assert.deepEqual(view(store), s.want, s.name);
      if (s.tick !== undefined) assert.equal(store.tick, BigInt(s.tick), s.name);
      if (s.globals !== undefined) assert.equal(dec.decode(store.globals), s.globals, s.name);
    }
  });

  it("reports what changed", () => {
    const store = new StateStore();
    const k = store.apply(st({ tick: 1, key: true, up: { 1: "a", 2: "b" } }));
    assertPartial(k, { ok: true, keyframe: true, upserted: [1n, 2n], removed: [], globalsChanged: true });
    const d = store.apply(st({ tick: 2, base: 1, up: { 2: "bb" }, rm: [1] }));
    assertPartial(d, { ok: true, keyframe: false, tick: 2n, upserted: [2n], removed: [1n], globalsChanged: false });
    const k2 = store.apply(st({ tick: 9, key: true, up: { 3: "c" } }));
    assertPartial(k2, { ok: true, keyframe: true, upserted: [3n], removed: [2n] });
  });

  it("needs a keyframe after a refused delta until one arrives", () => {
    const store = new StateStore();
    store.apply(st({ tick: 1, key: true, up: { 1: "a" } }));
    assert.equal(store.needsKeyframe, false);
    store.apply(st({ tick: 5, base: 4 }));
    assert.equal(store.needsKeyframe, true);
    store.apply(st({ tick: 6, key: true, up: { 1: "b" } }));
    assert.equal(store.needsKeyframe, false);
    assert.deepEqual(view(store), { 1: "b" });
  });

  it("keeps per-seat acks across deltas", () => {
    const store = new StateStore();
    store.apply(st({ tick: 1, key: true, acks: [[1, 3], [2, 7], [4, 1]] }));
    // Seat 2 rises by one (a bit), seat 4 jumps, seat 5 appears.
    store.apply(st({ tick: 2, base: 1, acks: [[2, 8], [4, 9], [5, 1]] }));
    // Seat 4 leaves the room: its ack goes.
    store.apply(st({ tick: 3, base: 2, acks: [[4, 0], [2, 9]] }));
    const cases = [
      { seat: 1, want: 3 },
      { seat: 2, want: 9 },
      { seat: 3, want: undefined },
      { seat: 4, want: undefined },
      { seat: 5, want: 1 },
    ];
    for (const c of cases) assert.equal(store.ackFor(c.seat), c.want, `seat ${c.seat}`);
    // A refused delta does not touch acks.
    store.apply(st({ tick: 9, base: 8, acks: [[1, 100]] }));
    assert.equal(store.ackFor(1), 3);
  });

  it("copies entity bytes out of the frame", () => {
    const store = new StateStore();
    const patch = new Bytes().varint(8).varint(1).varint(1).lenBytes(enc.encode("hello")).bytes;
    const frame = toBinary(StateSchema, create(StateSchema, { tick: 1n, keyframe: true, patch }));
    store.apply(fromBinary(StateSchema, frame));
    frame.fill(0);
    assert.equal(dec.decode(store.get(1n)!), "hello");
  });

  it("forgets everything on reset", () => {
    const store = new StateStore();
    store.apply(st({ tick: 3, key: true, up: { 1: "a" }, globals: "g", acks: [[1, 1]] }));
    store.reset();
    assert.equal(store.hasState, false);
    assert.equal(store.tick, undefined);
    assert.equal(store.size, 0);
    assert.equal(store.globals.length, 0);
    assert.equal(store.ackFor(1), undefined);
    assertPartial(store.apply(st({ tick: 4, base: 3 })), { ok: false, reason: "no-keyframe" });
  });

  it("applies field changes to protobuf entities", () => {
    const store = new StateStore();
    // Like arena's Player: seat 1, name 2, x 3, y 4 (varints and a string).
    const player = (x: number, y: number) => new Bytes().raw([0x08, 3, 0x12, 2, 0x61, 0x6e, 0x18]).varint(x).raw([0x20]).varint(y).bytes;
    store.apply(st({ tick: 1, key: true, up: { 3: player(1000, 2000), 9: "wall" } }));
    // Entity index 0 changes fields 2 and 3 (x +40, y -25): head = mask + 1.
    const patch = new Bytes().varint(4).bitset([0]).varint((1 << 2 | 1 << 3) + 1).varint(80).varint(49).bytes;
    const r = store.apply(create(StateSchema, { tick: 2n, baseTick: 1n, patch }));
    assertPartial(r, { ok: true, upserted: [3n], removed: [] });
    assert.deepEqual(store.get(3n), player(1040, 1975));
    assert.equal(dec.decode(store.get(9n)!), "wall");
    // A 64-bit varint wraps as the server's does: seat 3 - 4 is 2^64 - 1.
    const big = store.apply(create(StateSchema, { tick: 3n, baseTick: 2n, patch: new Bytes().varint(4).bitset([0]).varint(2).varint(7).bytes }));
    assert.equal(big.ok, true);
    assert.deepEqual(store.get(3n), new Bytes().raw([0x08]).varint((1n << 64n) - 1n).raw([0x12, 2, 0x61, 0x6e, 0x18]).varint(1040).raw([0x20]).varint(1975).bytes);
  });

  it("refuses a malformed patch and changes nothing", () => {
    const cases: [string, Uint8Array][] = [
      ["unknown flag", new Bytes().varint(16).bytes],
      ["truncated globals", new Bytes().varint(1).varint(5).raw([0x61]).bytes],
      ["change past the entities", new Bytes().varint(4).bitset([3]).varint(0).bytes],
      ["field change to a non-protobuf entity", new Bytes().varint(4).bitset([0]).varint(2).varint(2).bytes],
      ["added id exists", new Bytes().varint(8).varint(1).varint(1).lenBytes(enc.encode("x")).bytes],
      ["ack seat listed twice", new Bytes().varint(2).bitset([0]).varint(1).varint(1).varint(3).bytes],
      ["trailing bytes", new Bytes().varint(0).varint(0).bytes],
    ];
    for (const [name, patch] of cases) {
      const store = new StateStore();
      store.apply(new ServerSim().state({ tick: 1, key: true, up: { 1: "\xff\xff" }, globals: "g", acks: [[1, 4]] }));
      const r = store.apply(create(StateSchema, { tick: 2n, baseTick: 1n, patch }));
      assertPartial(r, { ok: false, reason: "malformed" }, name);
      assert.equal(store.tick, 1n, name);
      assert.equal(store.needsKeyframe, true, name);
      assert.equal(store.size, 1, name);
      assert.equal(dec.decode(store.globals), "g", name);
      assert.equal(store.ackFor(1), 4, name);
    }
  });
});
