import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { History, counterRate, windowQuantile, type Overview } from "../monitor/src/history.js";

const bounds = [1, 2, 4, 8];

function overview(sec: number, counters: Record<string, number>, gauges: Record<string, number>, lateness?: number[], sendWait?: number[]): Overview {
  return {
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, sec)).toISOString(),
    uptime_sec: sec,
    ready: true,
    counters,
    gauges,
    ticks: lateness ? { bounds_ms: bounds, lateness, duration: lateness } : undefined,
    send_wait: sendWait ? { bounds_ms: bounds, counts: sendWait } : undefined,
  };
}

describe("windowQuantile", () => {
  it("reads only what arrived between the two snapshots", () => {
    // Before: 1000 fast ticks. Since: 98 in (1, 2] ms and 2 in (4, 8] ms.
    const prev = [1000, 0, 0, 0, 0];
    const cur = [1000, 98, 0, 2, 0];
    assert.equal(windowQuantile(bounds, prev, cur, 0.5), 1 + 50 / 98);
    // The 99th of 100 falls in the (4, 8] bucket, halfway through its 2.
    assert.equal(windowQuantile(bounds, prev, cur, 0.99), 4 + 0.5 * 4);
  });
  it("reports the largest bound for the overflow bucket", () => {
    assert.equal(windowQuantile(bounds, [0, 0, 0, 0, 0], [0, 0, 0, 0, 3], 0.99), 8);
  });
  it("has no value without new ticks, after a restart, or for a wrong shape", () => {
    assert.equal(windowQuantile(bounds, [1, 2, 3, 4, 5], [1, 2, 3, 4, 5], 0.99), null);
    assert.equal(windowQuantile(bounds, [9, 0, 0, 0, 0], [1, 0, 0, 0, 0], 0.99), null);
    assert.equal(windowQuantile(bounds, [0, 0], [1, 0], 0.99), null);
  });
});

describe("History", () => {
  it("turns counters into rates over each poll's window and keeps gauges as they are", () => {
    const h = new History();
    h.push(overview(0, { bytes_in: 0, bytes_out: 0, frames_in: 0, frames_out: 0 }, { tcp_connections: 3, sessions: 2, rooms: 1 }, [0, 0, 0, 0, 0]));
    h.push(overview(2, { bytes_in: 2048, bytes_out: 4000, frames_in: 10, frames_out: 40 }, { tcp_connections: 5, sessions: 4, rooms: 2 }, [100, 0, 0, 0, 0]));
    // A restart: counters start over, so that window has no rate.
    h.push(overview(4, { bytes_in: 10, bytes_out: 10, frames_in: 1, frames_out: 1 }, { tcp_connections: 1, sessions: 1, rooms: 0 }, [5, 0, 0, 0, 0]));
    const s = h.series();
    assert.deepEqual(s.time, [1767225600, 1767225602, 1767225604]);
    assert.deepEqual(s.connections, [3, 5, 1]);
    assert.deepEqual(s.rooms, [1, 2, 0]);
    assert.deepEqual(s.bytesIn, [null, 1024, null]);
    assert.deepEqual(s.bytesOut, [null, 2000, null]);
    assert.deepEqual(s.framesOut, [null, 20, null]);
    assert.deepEqual(s.latenessP99, [null, 0.99, null]);
    assert.deepEqual(s.sendWaitP99, [null, null, null]); // a server without the send wait
  });
  it("gives the send wait's p99 over each poll's window", () => {
    const h = new History();
    h.push(overview(0, {}, {}, undefined, [50, 0, 0, 0, 0]));
    // Since: 100 frames, 10 of them waited past the largest bound.
    h.push(overview(2, {}, {}, undefined, [140, 0, 0, 0, 10]));
    h.push(overview(4, {}, {}, undefined, [240, 0, 0, 0, 10]));
    assert.deepEqual(h.series().sendWaitP99, [null, 8, 0.99]);
  });
  it("keeps the newest maxPoints and ignores a poll that is not newer", () => {
    const h = new History(3);
    for (let i = 0; i < 5; i++) h.push(overview(i, { frames_in: i * 10 }, { rooms: i }));
    h.push(overview(2, { frames_in: 0 }, { rooms: 99 }));
    assert.equal(h.length, 3);
    assert.deepEqual(h.series().rooms, [2, 3, 4]);
    assert.deepEqual(h.series().framesIn, [10, 10, 10]);
  });
  it("gives a counter's rate between two polls", () => {
    const a = overview(0, { inputs: 5 }, {});
    const b = overview(4, { inputs: 25 }, {});
    assert.equal(counterRate(a, b, "inputs"), 5);
    assert.equal(counterRate(undefined, b, "inputs"), null);
    assert.equal(counterRate(a, b, "missing"), null);
  });
});
