// Smoke test: the bundled library loads in Chromium and its pure modules
// (backoff, state store with real protobuf decoding, close codes,
// interpolation) behave there as they do in Node.
import assert from "node:assert/strict";
import { test } from "node:test";
import { withPage } from "./harness.mjs";

test("bundled library loads and works in Chromium", { timeout: 120_000 }, async () => {
  await withPage(async ({ page, baseUrl, errors }) => {
    await page.goto(`${baseUrl}/test/browser/pages/smoke.html`);
    await page.waitForFunction(() => document.getElementById("status")?.textContent === "ready", null, { timeout: 30_000 });

    const backoff = await page.evaluate(() => {
      const { Backoff } = window.tickroom;
      const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.5 });
      const delays = Array.from({ length: 6 }, () => b.next());
      b.reset();
      return { delays, afterReset: b.next() };
    });
    assert.deepEqual(backoff, { delays: [50, 100, 200, 400, 500, 500], afterReset: 50 });

    const state = await page.evaluate(() => {
      const { StateStore, pb } = window.tickroom;
      const dec = new TextDecoder();
      // Encode and decode like frames off the wire, with uint64 as bigint.
      const frame = (init) => pb.fromBinary(pb.StateSchema, pb.toBinary(pb.StateSchema, pb.create(pb.StateSchema, init)));
      const store = new StateStore();
      const results = [];
      // Patches (docs/state-sync.md): a keyframe with globals "g", seat 1's
      // ack 3 and entities 1 "a", 2 "b"; a delta removing entity 1 and adding 3 "c".
      const key = Uint8Array.of(11, 1, 0x67, 0, 1, 1, 7, 2, 1, 1, 0x61, 1, 1, 0x62);
      const delta = Uint8Array.of(12, 1, 1, 0, 1, 3, 1, 0x63);
      results.push(store.apply(frame({ tick: 5n, keyframe: true, roomId: "r", roomRef: 1, patch: key })).ok);
      results.push(store.apply(frame({ tick: 6n, baseTick: 5n, roomRef: 1, patch: delta })).ok);
      const refused = store.apply(frame({ tick: 9n, baseTick: 8n, patch: Uint8Array.of(0) }));
      return {
        results,
        refused: refused.ok ? "applied" : refused.reason,
        tick: String(store.tick),
        entities: [...store.entities].map(([id, b]) => `${id}=${dec.decode(b)}`),
        globals: dec.decode(store.globals),
        ack: store.ackFor(1),
        needsKeyframe: store.needsKeyframe,
      };
    });
    assert.deepEqual(state, {
      results: [true, true],
      refused: "base-mismatch",
      tick: "6",
      entities: ["2=b", "3=c"],
      globals: "g",
      ack: 3,
      needsKeyframe: true,
    });

    const misc = await page.evaluate(() => {
      const { closeCodeInfo, InterpolationBuffer, lerpNumber, SUBPROTOCOL } = window.tickroom;
      const buf = new InterpolationBuffer(lerpNumber, { delayMs: 100 });
      buf.push(1n, 1000, 0);
      buf.push(1n, 1100, 10);
      return {
        shutdown: closeCodeInfo(4000).kind,
        expired: closeCodeInfo(4500).kind,
        lerp: buf.sample(1n, 1150).value,
        subprotocol: SUBPROTOCOL,
        hasWebSocket: typeof WebSocket === "function",
      };
    });
    assert.deepEqual(misc, { shutdown: "resumable", expired: "terminal", lerp: 5, subprotocol: "tickroom.v1", hasWebSocket: true });

    assert.deepEqual(errors, []);
  });
});
