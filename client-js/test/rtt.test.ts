import { describe, expect, it } from "vitest";
import { RttEstimator } from "../src/rtt.js";

describe("RttEstimator", () => {
  it("takes the first sample as is, then smooths (RFC 6298)", () => {
    const r = new RttEstimator();
    expect(r.rtt).toBeUndefined();
    r.sample(0, 100);
    expect([r.rtt, r.rttVariation]).toEqual([100, 50]);
    r.sample(1000, 1200);
    // rttvar = 0.75*50 + 0.25*|100-200| = 62.5; srtt = 0.875*100 + 0.125*200 = 112.5
    expect([r.rtt, r.rttVariation, r.lastRtt, r.samples]).toEqual([112.5, 62.5, 200, 2]);
  });

  it("converges on a steady RTT", () => {
    const r = new RttEstimator();
    r.sample(0, 500);
    for (let i = 0; i < 100; i++) r.sample(i * 1000, i * 1000 + 40);
    expect(r.rtt!).toBeCloseTo(40, 2);
    expect(r.rttVariation).toBeLessThan(1);
  });

  it("estimates the server clock offset", () => {
    const r = new RttEstimator();
    // Server clock is 5000 ms ahead; 100 ms RTT, stamped at the midpoint.
    r.sample(1000, 1100, 6050);
    expect(r.clockOffset).toBe(5000);
  });

  it("ignores impossible samples and resets", () => {
    const r = new RttEstimator();
    const bad = [
      { sent: 100, got: 50 },
      { sent: Number.NaN, got: 50 },
      { sent: 0, got: Infinity },
    ];
    for (const b of bad) expect(r.sample(b.sent, b.got)).toBe(false);
    expect(r.samples).toBe(0);
    r.sample(0, 10, 20);
    r.reset();
    expect([r.rtt, r.clockOffset, r.samples]).toEqual([undefined, undefined, 0]);
  });
});
