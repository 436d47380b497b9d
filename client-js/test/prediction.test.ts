import { describe, expect, it } from "vitest";
import { InputPredictor, type PendingInput } from "../src/prediction.js";

describe("InputPredictor", () => {
  it("numbers inputs from 1 and reconciles with what the server has not applied", () => {
    const calls: { acked: number; pending: string[] }[] = [];
    const p = new InputPredictor<string>({
      onReconcile: (acked, pending) => calls.push({ acked, pending: pending.map((x) => x.input) }),
    });
    expect(["a", "b", "c", "d"].map((x) => p.next(x).seq)).toEqual([1, 2, 3, 4]);
    const steps = [
      { name: "nothing applied yet", ack: 0, ok: true, want: ["a", "b", "c", "d"] },
      { name: "two applied", ack: 2, ok: true, want: ["c", "d"] },
      { name: "same ack again still reconciles", ack: 2, ok: true, want: ["c", "d"] },
      { name: "stale ack ignored", ack: 1, ok: false, want: ["c", "d"] },
      { name: "all applied", ack: 4, ok: true, want: [] },
    ];
    for (const s of steps) {
      const before = calls.length;
      expect(p.ack(s.ack), s.name).toBe(s.ok);
      expect(calls.length - before, s.name).toBe(s.ok ? 1 : 0);
      expect(p.pending.map((x) => x.input), s.name).toEqual(s.want);
      if (s.ok) expect(calls[calls.length - 1], s.name).toEqual({ acked: s.ack, pending: s.want });
    }
    expect(p.lastAcked).toBe(4);
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
    expect(predicted).toBe(6);
    // The server corrected the player (a wall): its x is 1 after both inputs.
    serverX = 1;
    p.ack(sent[1]!.seq);
    expect(predicted).toBe(4);
  });

  it("bounds pending inputs, dropping the oldest", () => {
    const p = new InputPredictor<number>({ maxPending: 3 });
    for (let i = 0; i < 10; i++) p.next(i);
    expect(p.pending.map((x) => x.seq)).toEqual([8, 9, 10]);
    expect(p.dropped).toBe(7);
  });

  it("numbers past an ack above its own inputs", () => {
    const p = new InputPredictor<string>();
    p.ack(41); // a resumed seat whose inputs the server remembers
    expect(p.next("x").seq).toBe(42);
  });

  it("starts over on reset", () => {
    const p = new InputPredictor<string>();
    p.next("a");
    p.ack(1);
    p.next("b");
    p.reset();
    expect([p.lastSeq, p.lastAcked, p.pending.length]).toEqual([0, 0, 0]);
    expect(p.next("c").seq).toBe(1);
  });
});
