import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InputPredictor, MAX_SEQ, seqAfter, type PendingInput } from "../src/prediction.js";

describe("InputPredictor", () => {
  it("numbers inputs from 1 and reconciles with what the server has not applied", () => {
    const calls: { acked: number; pending: string[] }[] = [];
    const p = new InputPredictor<string>({
      onReconcile: (acked, pending) => calls.push({ acked, pending: pending.map((x) => x.input) }),
    });
    assert.deepEqual(["a", "b", "c", "d"].map((x) => p.next(x).seq), [1, 2, 3, 4]);
    const steps = [
      { name: "nothing applied yet", ack: 0, ok: true, want: ["a", "b", "c", "d"] },
      { name: "two applied", ack: 2, ok: true, want: ["c", "d"] },
      { name: "same ack again still reconciles", ack: 2, ok: true, want: ["c", "d"] },
      { name: "stale ack ignored", ack: 1, ok: false, want: ["c", "d"] },
      { name: "all applied", ack: 4, ok: true, want: [] },
    ];
    for (const s of steps) {
      const before = calls.length;
      assert.equal(p.ack(s.ack), s.ok, s.name);
      assert.equal(calls.length - before, s.ok ? 1 : 0, s.name);
      assert.deepEqual(p.pending.map((x) => x.input), s.want, s.name);
      if (s.ok) assert.deepEqual(calls[calls.length - 1], { acked: s.ack, pending: s.want }, s.name);
    }
    assert.equal(p.lastAcked, 4);
  });

  it("supports rewind and replay for prediction", () => {
    // A 1-D player: the server applies +dx inputs; the client predicts ahead.
    let predicted = 0;
    let serverX = 0;
    const p = new InputPredictor<number>({
      onReconcile: (_acked, pending: readonly PendingInput<number>[]) => {
        predicted = serverX + pending.reduce((s, x) => s + x.input, 0);
      },
    });
    const sent: PendingInput<number>[] = [];
    for (const dx of [1, 2, 3]) {
      sent.push(p.next(dx));
      predicted += dx;
    }
    // The server applied the first two inputs.
    serverX = sent[0]!.input + sent[1]!.input;
    p.ack(sent[1]!.seq);
    assert.equal(predicted, 6);
    // The server corrected the player (a wall): its x is 1 after both inputs.
    serverX = 1;
    p.ack(sent[1]!.seq);
    assert.equal(predicted, 4);
  });

  it("forgets the inputs the server dropped and replays the rest", () => {
    const calls: { acked: number; pending: number[] }[] = [];
    const p = new InputPredictor<number>({ onReconcile: (acked, pending) => calls.push({ acked, pending: pending.map((x) => x.seq) }) });
    for (let i = 1; i <= 5; i++) p.next(i);
    p.ack(1);
    assert.equal(p.forget(new Set([2, 4, 9])), 2);
    assert.deepEqual(p.pending.map((x) => x.seq), [3, 5]);
    assert.deepEqual(calls[calls.length - 1], { acked: 1, pending: [3, 5] });
    // None of them pending (acked already, or forgotten): no replay.
    const before = calls.length;
    assert.equal(p.forget(new Set([1, 2])), 0);
    assert.equal(calls.length, before);
    // Numbering goes on: a dropped seq is not reused.
    assert.equal(p.next(6).seq, 6);
  });

  it("bounds pending inputs, dropping the oldest", () => {
    const p = new InputPredictor<number>({ maxPending: 3 });
    for (let i = 0; i < 10; i++) p.next(i);
    assert.deepEqual(p.pending.map((x) => x.seq), [8, 9, 10]);
    assert.equal(p.dropped, 7);
  });

  it("numbers past an ack above its own inputs", () => {
    const p = new InputPredictor<string>();
    p.ack(41); // a resumed seat whose inputs the server remembers
    assert.equal(p.next("x").seq, 42);
  });

  it("wraps from the largest seq to 1 and compares across the wrap", () => {
    const p = new InputPredictor<string>();
    p.startAfter(MAX_SEQ - 1);
    assert.deepEqual([p.next("a").seq, p.next("b").seq, p.next("c").seq], [MAX_SEQ, 1, 2]);
    assert.equal(p.ack(MAX_SEQ), true);
    assert.deepEqual(p.pending.map((x) => x.seq), [1, 2]);
    assert.equal(p.ack(1), true);
    assert.deepEqual(p.pending.map((x) => x.seq), [2]);
    assert.equal(p.ack(MAX_SEQ), false, "an ack from before the wrap is stale");
    assert.equal(p.lastAcked, 1);
    assert.equal(seqAfter(1, MAX_SEQ), true);
    assert.equal(seqAfter(MAX_SEQ, 1), false);
    assert.equal(seqAfter(5, 0), true);
    assert.equal(seqAfter(0x8000_0001, 0), true, "anything comes after none");
  });

  it("starts over on reset", () => {
    const p = new InputPredictor<string>();
    p.next("a");
    p.ack(1);
    p.next("b");
    p.reset();
    assert.deepEqual([p.lastSeq, p.lastAcked, p.pending.length], [0, 0, 0]);
    assert.equal(p.next("c").seq, 1);
  });
});
