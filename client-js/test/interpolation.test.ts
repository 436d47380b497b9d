import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InterpolationBuffer, lerpAngle, lerpFields, lerpNumber } from "../src/interpolation.js";
import { assertCloseTo } from "./helpers.js";

describe("InterpolationBuffer", () => {
  it("renders at now - delay by linear interpolation, clamped at both ends", () => {
    const buf = new InterpolationBuffer<number, number>(lerpNumber, { delayMs: 100 });
    buf.push(1, 1000, 0);
    buf.push(1, 1100, 10);
    buf.push(1, 1200, 30);
    const cases = [
      { name: "before first", now: 1000, want: 0, clamped: true },
      { name: "at first", now: 1100, want: 0, clamped: false },
      { name: "quarter way", now: 1125, want: 2.5, clamped: false },
      { name: "midway second segment", now: 1250, want: 20, clamped: false },
      { name: "at last", now: 1300, want: 30, clamped: false },
      { name: "past last", now: 1500, want: 30, clamped: true },
    ];
    for (const c of cases) {
      const fresh = new InterpolationBuffer<number, number>(lerpNumber, { delayMs: 100 });
      for (const s of buf.snapshots(1)) fresh.push(1, s.time, s.value);
      const got = fresh.sample(1, c.now)!;
      assertCloseTo(got.value, c.want, 9, c.name);
      assert.equal(got.clamped, c.clamped, c.name);
    }
  });

  it("discards snapshots render time has passed, keeping one before it", () => {
    const buf = new InterpolationBuffer<string, number>(lerpNumber, { delayMs: 50 });
    for (let i = 0; i < 6; i++) buf.push("e", i * 100, i);
    assertCloseTo(buf.sample("e", 350)!.value, 3, 9); // render 300
    assert.deepEqual(buf.snapshots("e").map((s) => s.time), [300, 400, 500]);
    assert.equal(buf.sample("e", 9999)!.value, 5);
    assert.equal((buf.snapshots("e")).length, 1);
  });

  it("bounds the snapshots kept per entity", () => {
    const buf = new InterpolationBuffer<number, number>(lerpNumber, { maxSnapshots: 4 });
    for (let i = 0; i < 100; i++) buf.push(7, i, i);
    assert.deepEqual(buf.snapshots(7).map((s) => s.time), [96, 97, 98, 99]);
  });

  it("drops out-of-order snapshots and replaces same-time ones", () => {
    const buf = new InterpolationBuffer<number, number>(lerpNumber);
    assert.equal(buf.push(1, 100, 1), true);
    assert.equal(buf.push(1, 50, 2), false);
    assert.equal(buf.push(1, 100, 3), true);
    assert.deepEqual(buf.snapshots(1), [{ time: 100, value: 3 }]);
  });

  it("holds an idle entity still until its motion really started", () => {
    const buf = new InterpolationBuffer<number, number>(lerpNumber, { delayMs: 0 });
    buf.push(1, 0, 0);
    // Unchanged in ticks 100..400 (not in the deltas), moves at 500.
    buf.push(1, 500, 10, 400);
    assert.equal(buf.sample(1, 300)!.value, 0);
    assertCloseTo(buf.sample(1, 450)!.value, 5, 9);
  });

  it("returns undefined for unknown entities and forgets removed ones", () => {
    const buf = new InterpolationBuffer<number, number>(lerpNumber);
    assert.equal(buf.sample(1, 0), undefined);
    buf.push(1, 0, 1);
    buf.push(2, 0, 2);
    assert.equal(buf.size, 2);
    buf.remove(1);
    assert.equal(buf.sample(1, 1000), undefined);
    buf.clear();
    assert.equal(buf.size, 0);
  });

  it("rejects a negative delay", () => {
    assert.throws(() => new InterpolationBuffer(lerpNumber, { delayMs: -1 }), RangeError);
  });
});

describe("lerp helpers", () => {
  it("blends angles the short way round", () => {
    const cases = [
      { a: 0, b: Math.PI / 2, t: 0.5, want: Math.PI / 4 },
      { a: 0.1, b: 2 * Math.PI - 0.1, t: 0.5, want: 0 },
      { a: -3, b: 3, t: 1, want: -3 - (2 * Math.PI - 6) },
    ];
    for (const c of cases) assertCloseTo(lerpAngle(c.a, c.b, c.t), c.want, 9);
  });

  it("blends listed fields and takes the rest from the newer value", () => {
    const lerp = lerpFields<{ x: number; y: number; hp: number; name: string }>(["x", "y"]);
    assert.deepEqual(lerp({ x: 0, y: 10, hp: 5, name: "a" }, { x: 10, y: 20, hp: 3, name: "b" }, 0.5), { x: 5, y: 15, hp: 3, name: "b" });
  });
});
