import assert from "node:assert/strict";
import { describe, it } from "node:test";
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
      assert.equal(q.length, c.want.length);
      assert.ok((q.bytes) <= c.maxBytes);
      assert.equal(q.dropped, c.dropped);
      assert.deepEqual(q.drain().map((x) => x.i), c.want);
      assert.deepEqual([q.length, q.bytes], [0, 0]);
    });
  }

  it("uses its defaults at zero value and clears without counting", () => {
    const q = new BoundedQueue<number>();
    assert.deepEqual([q.maxItems, q.maxBytes], [64, 65536]);
    for (let i = 0; i < 100; i++) q.push(i);
    assert.equal(q.length, 64);
    assert.equal(q.dropped, 36);
    q.clear();
    assert.deepEqual([q.length, q.dropped], [0, 36]);
  });

  it("shifts the oldest items while a predicate holds, without counting them as dropped", () => {
    const q = new BoundedQueue<number>({ sizeOf: (n) => n });
    for (const n of [1, 2, 3, 1]) q.push(n);
    assert.equal(q.shiftWhile((n) => n < 3), 2);
    assert.deepEqual([q.length, q.bytes, q.dropped], [2, 4, 0]);
    assert.equal(q.shiftWhile((n) => n < 3), 0);
    assert.deepEqual(q.drain(), [3, 1]);
  });
});
