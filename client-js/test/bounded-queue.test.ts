import { describe, expect, it } from "vitest";
import { BoundedQueue } from "../src/bounded-queue.js";

describe("BoundedQueue", () => {
  const cases = [
    { name: "under both caps", maxItems: 5, maxBytes: 100, sizes: [10, 10, 10], want: [0, 1, 2], dropped: 0 },
    { name: "item cap drops oldest", maxItems: 2, maxBytes: 100, sizes: [1, 1, 1, 1], want: [2, 3], dropped: 2 },
    { name: "byte cap drops oldest", maxItems: 10, maxBytes: 25, sizes: [10, 10, 10], want: [1, 2], dropped: 1 },
    { name: "big item evicts several", maxItems: 10, maxBytes: 25, sizes: [5, 5, 5, 20], want: [2, 3], dropped: 2 },
    { name: "oversized item refused", maxItems: 10, maxBytes: 25, sizes: [5, 26, 5], want: [0, 2], dropped: 1 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const q = new BoundedQueue<{ i: number; size: number }>({ maxItems: c.maxItems, maxBytes: c.maxBytes, sizeOf: (x) => x.size });
      c.sizes.forEach((size, i) => q.push({ i, size }));
      expect(q.length).toBe(c.want.length);
      expect(q.bytes).toBeLessThanOrEqual(c.maxBytes);
      expect(q.dropped).toBe(c.dropped);
      expect(q.drain().map((x) => x.i)).toEqual(c.want);
      expect([q.length, q.bytes]).toEqual([0, 0]);
    });
  }

  it("uses its defaults at zero value and clears without counting", () => {
    const q = new BoundedQueue<number>();
    expect([q.maxItems, q.maxBytes]).toEqual([64, 65536]);
    for (let i = 0; i < 100; i++) q.push(i);
    expect(q.length).toBe(64);
    expect(q.dropped).toBe(36);
    q.clear();
    expect([q.length, q.dropped]).toEqual([0, 36]);
  });
});
