import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatByteRate, formatBytes, formatCount, formatMs, formatRate, formatUptime } from "../monitor/src/format.js";

describe("monitor units", () => {
  const cases: [string, (v: number) => string, number, string][] = [
    ["bytes", formatBytes, 0, "0 B"],
    ["bytes", formatBytes, 1023, "1023 B"],
    ["bytes", formatBytes, 1024, "1.00 KiB"],
    ["bytes", formatBytes, 1536, "1.50 KiB"],
    ["bytes", formatBytes, 15 * 1024 + 300, "15.3 KiB"],
    ["bytes", formatBytes, 1023.9 * 1024, "1.00 MiB"],
    ["bytes", formatBytes, 5 * 1024 ** 3, "5.00 GiB"],
    ["bytes", formatBytes, 1000 * 1024, "0.98 MiB"],
    ["bytes", formatBytes, 2 ** 60, "1024 PiB"],
    ["byte rate", formatByteRate, 8500, "8.30 KiB/s"],
    ["byte rate", formatByteRate, NaN, "–"],
    ["count", formatCount, 0, "0"],
    ["count", formatCount, 999, "999"],
    ["count", formatCount, 1000, "1.00 k"],
    ["count", formatCount, 12_345, "12.3 k"],
    ["count", formatCount, 4_500_000, "4.50 M"],
    ["count", formatCount, 999_999, "1.00 M"],
    ["rate", formatRate, 0, "0/s"],
    ["rate", formatRate, 0.5, "0.50/s"],
    ["rate", formatRate, 12.34, "12.3/s"],
    ["rate", formatRate, 20_000, "20.0 k/s"],
    ["rate", formatRate, Infinity, "–"],
    ["ms", formatMs, 0, "0 ms"],
    ["ms", formatMs, 0.25, "0.25 ms"],
    ["ms", formatMs, 12.04, "12.0 ms"],
    ["ms", formatMs, 999.6, "1.00 s"],
    ["ms", formatMs, 1500, "1.50 s"],
    ["uptime", formatUptime, 42.9, "42 s"],
    ["uptime", formatUptime, 303, "5 min 3 s"],
    ["uptime", formatUptime, 2 * 3600 + 7 * 60, "2 h 7 min"],
    ["uptime", formatUptime, 3 * 86400 + 4 * 3600, "3 d 4 h"],
    ["uptime", formatUptime, -1, "–"],
  ];
  for (const [kind, f, v, want] of cases) {
    it(`${kind} ${v} → ${want}`, () => assert.equal(f(v), want));
  }
});
