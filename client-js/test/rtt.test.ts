import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RttEstimator } from "../src/rtt.js";
import { assertCloseTo } from "./helpers.js";

describe("RttEstimator", () => {
  it("takes the first sample as is, then smooths (RFC 6298)", () => {
    const r = new RttEstimator();
    assert.equal(r.rtt, undefined);
    r.sample(0, 100);
    assert.deepEqual([r.rtt, r.rttVariation], [100, 50]);
    r.sample(1000, 1200);
    // rttvar = 0.75*50 + 0.25*|100-200| = 62.5; srtt = 0.875*100 + 0.125*200 = 112.5
    assert.deepEqual([r.rtt, r.rttVariation, r.lastRtt, r.samples], [112.5, 62.5, 200, 2]);
  });

  it("converges on a steady RTT", () => {
    const r = new RttEstimator();
    r.sample(0, 500);
    for (let i = 0; i < 100; i++) r.sample(i * 1000, i * 1000 + 40);
    assertCloseTo(r.rtt!, 40, 2);
    assert.ok((r.rttVariation) < 1);
  });

  it("estimates the server clock offset", () => {
    const r = new RttEstimator();
    // Server clock is 5000 ms ahead; 100 ms RTT, stamped at the midpoint.
    r.sample(1000, 1100, 6050);
    assert.equal(r.clockOffset, 5000);
  });

  it("ignores impossible samples and resets", () => {
    const r = new RttEstimator();
    const bad = [
      { sent: 100, got: 50 },
      { sent: Number.NaN, got: 50 },
      { sent: 0, got: Infinity },
    ];
    for (const b of bad) assert.equal(r.sample(b.sent, b.got), false);
    assert.equal(r.samples, 0);
    r.sample(0, 10, 20);
    r.reset();
    assert.deepEqual([r.rtt, r.clockOffset, r.samples], [undefined, undefined, 0]);
  });
});
