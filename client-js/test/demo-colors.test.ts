import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nameLabel, seatColor } from "../demo/src/arena.js";

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

describe("arena name labels", () => {
  it("stay inside the field at every edge and corner", () => {
    const [fieldW, fieldH, r, h] = [600, 400, 8, 12];
    for (const width of [20, 120]) {
      for (const ax of [0, 5, 300, 595, 600]) {
        for (const ay of [0, 5, 200, 395, 400]) {
          const { x, y } = nameLabel(ax, ay, r, width, h, fieldW, fieldH);
          const box = `name of width ${width} at (${ax}, ${ay}) drawn at (${x}, ${y})`;
          assert.ok(x - width / 2 >= 0 && x + width / 2 <= fieldW, `${box} is clipped at a side`);
          assert.ok(y - h >= 0 && y <= fieldH, `${box} is clipped at the top or bottom`);
        }
      }
    }
  });

  it("sit above the avatar away from the edges, below it at the top edge", () => {
    assert.deepEqual(nameLabel(300, 200, 8, 40, 12, 600, 400), { x: 300, y: 188 });
    assert.ok(nameLabel(300, 5, 8, 40, 12, 600, 400).y > 5 + 8);
  });
});
