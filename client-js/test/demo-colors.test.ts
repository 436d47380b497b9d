import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seatColor } from "../demo/src/arena.js";

// hue reads the hue out of an hsl() colour.
function hue(c: string): number {
  const m = /^hsl\(([\d.]+), /.exec(c);
  assert.ok(m, c);
  return Number(m[1]);
}

describe("arena seat colours", () => {
  it("give every seat of a full arena its own colour, far apart among the first twelve", () => {
    const colors = Array.from({ length: 32 }, (_, i) => seatColor(i + 1));
    assert.equal(new Set(colors).size, 32, "two seats share a colour");
    const first = colors.slice(0, 12).map(hue);
    let closest = 360;
    for (let i = 0; i < first.length; i++) {
      for (let j = i + 1; j < first.length; j++) {
        const d = Math.abs(first[i]! - first[j]!);
        closest = Math.min(closest, d, 360 - d);
      }
    }
    // Twelve hues spread evenly would be 30 degrees apart.
    assert.ok(closest >= 15, `two of the first twelve seats are ${closest.toFixed(1)} degrees apart`);
  });
});
