import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff, rateLimitedRetryMs } from "../src/backoff.js";

// seq returns a random source that yields the given values in turn.
function seq(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe("Backoff", () => {
  it("grows the cap exponentially up to maxMs", () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, random: () => 0.999999 });
    const delays = Array.from({ length: 7 }, () => b.next());
    // Just under each cap: 100, 200, 400, 800, then capped at 1000.
    assert.deepEqual(delays, [99, 199, 399, 799, 999, 999, 999]);
    assert.equal(b.attempt, 7);
  });

  it("draws each delay uniformly below the cap (full jitter)", () => {
    const cases = [
      { name: "zero", r: 0, want: 0 },
      { name: "half", r: 0.5, want: 200 },
      { name: "quarter", r: 0.25, want: 100 },
    ];
    for (const c of cases) {
      const b = new Backoff({ initialMs: 100, maxMs: 10_000, random: () => c.r });
      b.next();
      b.next();
      // Third attempt: cap = 400.
      assert.equal(b.next(), c.want, c.name);
    }
  });

  it("keeps every delay within [0, cap) over many draws", () => {
    const b = new Backoff({ initialMs: 50, maxMs: 5000 });
    let sawLow = false;
    let sawHigh = false;
    for (let i = 0; i < 2000; i++) {
      if (i % 20 === 0) b.reset();
      const cap = b.cap();
      const d = b.next();
      assert.ok((d) >= 0);
      assert.ok((d) < cap);
      if (d < cap * 0.25) sawLow = true;
      if (d > cap * 0.75) sawHigh = true;
    }
    assert.equal(sawLow && sawHigh, true);
  });

  it("starts over after reset", () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, random: seq(0.5) });
    for (let i = 0; i < 5; i++) b.next();
    assert.equal(b.cap(), 1000);
    b.reset();
    assert.equal(b.attempt, 0);
    assert.equal(b.cap(), 100);
    assert.equal(b.next(), 50);
  });

  it("never overflows during a long outage", () => {
    const b = new Backoff({ initialMs: 1, maxMs: 60_000, factor: 10, random: () => 0.5 });
    for (let i = 0; i < 5000; i++) b.next();
    assert.equal(b.cap(), 60_000);
    assert.equal(b.next(), 30_000);
  });

  it("uses defaults at zero value", () => {
    const b = new Backoff();
    assert.deepEqual([b.initialMs, b.maxMs, b.factor], [250, 30_000, 2]);
    const z = new Backoff({ initialMs: 0, maxMs: 0, factor: 0 });
    assert.deepEqual([z.initialMs, z.maxMs, z.factor], [250, 30_000, 2]);
  });

  it("clamps a misbehaving random source into range", () => {
    for (const r of [-1, 1, 2, Number.NaN]) {
      const b = new Backoff({ initialMs: 100, random: () => r });
      const d = b.next();
      assert.ok((d) >= 0, String(r));
      assert.ok((d) < 100, String(r));
    }
  });

  it("rejects nonsensical options", () => {
    const bad = [
      { name: "negative initial", opts: { initialMs: -5 } },
      { name: "max below initial", opts: { initialMs: 1000, maxMs: 10 } },
      { name: "shrinking factor", opts: { factor: 0.5 } },
      { name: "infinite max", opts: { maxMs: Infinity } },
    ];
    for (const c of bad) assert.throws(() => new Backoff(c.opts), RangeError, c.name);
  });
});

describe("rateLimitedRetryMs", () => {
  it("waits no less than the hint, spread above it, whatever the hint", () => {
    for (const hint of [1000, 20_000, 60_000, 3_600_000]) {
      for (const attempt of [0, 3, 20]) {
        const waits = [0, 0.5, 0.999].map((r) => rateLimitedRetryMs(hint, attempt, () => r));
        for (const w of waits) assert.ok(w >= hint && w <= Math.max(hint * 1.5, 30_000), `hint ${hint}, attempt ${attempt}: ${waits}`);
        assert.ok(waits[1]! > waits[0]! && waits[2]! > waits[1]!, `hint ${hint}, attempt ${attempt}: waits ${waits} not spread by the random draw`);
      }
    }
  });

  it("heeds no hint longer than an hour", () => {
    assert.equal(rateLimitedRetryMs(10 * 3_600_000, 0, () => 0), 3_600_000);
  });
});
