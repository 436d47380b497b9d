import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StateSchema, type State } from "../src/gen/tickroom/v1/state_pb.js";
import { StateStore } from "../src/state-store.js";
import { assertPartial } from "./helpers.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Spec {
  tick: number;
  base?: number;
  key?: boolean;
  up?: Record<number, string>;
  rm?: number[];
  globals?: string;
  // clearGlobals sends globals_set with empty globals.
  clearGlobals?: boolean;
  acks?: [number, number][];
}

// st builds a State the way the server sends it: encoded and decoded again,
// so entity bytes are views into a frame buffer.
function st(s: Spec): State {
  const msg = create(StateSchema, {
    roomId: "r1",
    tick: BigInt(s.tick),
    baseTick: BigInt(s.base ?? 0),
    keyframe: s.key ?? false,
    upserts: Object.entries(s.up ?? {}).map(([id, v]) => ({ id: BigInt(id), data: enc.encode(v) })),
    removed: (s.rm ?? []).map(BigInt),
    globals: s.globals ? enc.encode(s.globals) : new Uint8Array(0),
    globalsSet: (s.key ?? false) || s.globals !== undefined || (s.clearGlobals ?? false),
    acks: (s.acks ?? []).map(([seat, seq]) => ({ seat, seq })),
  });
  return fromBinary(StateSchema, toBinary(StateSchema, msg));
}

function view(store: StateStore): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, b] of store.entities) out[String(id)] = dec.decode(b);
  return out;
}

describe("StateStore", () => {
  it("applies a sequence of keyframes and deltas", () => {
    const steps: { name: string; in: Spec; ok: boolean; reason?: string; want: Record<string, string>; tick?: number; globals?: string }[] = [
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
    const d = store.apply(st({ tick: 2, base: 1, up: { 2: "bb" }, rm: [1, 7] }));
    // 7 never existed, so it is not reported as removed.
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
    store.apply(st({ tick: 1, key: true, acks: [[0, 3], [1, 7]] }));
    store.apply(st({ tick: 2, base: 1, acks: [[1, 9]] }));
    const cases = [
      { seat: 0, want: 3 },
      { seat: 1, want: 9 },
      { seat: 2, want: undefined },
    ];
    for (const c of cases) assert.equal(store.ackFor(c.seat), c.want, `seat ${c.seat}`);
    // A refused delta does not touch acks.
    store.apply(st({ tick: 9, base: 8, acks: [[0, 100]] }));
    assert.equal(store.ackFor(0), 3);
  });

  it("copies entity bytes out of the frame", () => {
    const store = new StateStore();
    const frame = toBinary(StateSchema, create(StateSchema, { tick: 1n, keyframe: true, upserts: [{ id: 1n, data: enc.encode("hello") }] }));
    store.apply(fromBinary(StateSchema, frame));
    frame.fill(0);
    assert.equal(dec.decode(store.get(1n)!), "hello");
  });

  it("forgets everything on reset", () => {
    const store = new StateStore();
    store.apply(st({ tick: 3, key: true, up: { 1: "a" }, globals: "g", acks: [[0, 1]] }));
    store.reset();
    assert.equal(store.hasState, false);
    assert.equal(store.tick, undefined);
    assert.equal(store.size, 0);
    assert.equal(store.globals.length, 0);
    assert.equal(store.ackFor(0), undefined);
    assertPartial(store.apply(st({ tick: 4, base: 3 })), { ok: false, reason: "no-keyframe" });
  });
});
