import { describe, expect, it } from "vitest";
import { Emitter } from "../src/emitter.js";

interface Events {
  count: number;
  name: string;
}

describe("Emitter", () => {
  it("delivers payloads to listeners in order and stops after off", () => {
    const e = new Emitter<Events>();
    const got: string[] = [];
    const off1 = e.on("count", (n) => got.push(`a${n}`));
    e.on("count", (n) => got.push(`b${n}`));
    e.on("name", (s) => got.push(s));
    e.emit("count", 1);
    off1();
    e.emit("count", 2);
    e.emit("name", "x");
    expect(got).toEqual(["a1", "b1", "b2", "x"]);
    expect(e.listenerCount("count")).toBe(1);
  });

  it("calls a once listener a single time", () => {
    const e = new Emitter<Events>();
    let calls = 0;
    e.once("count", () => calls++);
    e.emit("count", 1);
    e.emit("count", 2);
    expect(calls).toBe(1);
    expect(e.listenerCount("count")).toBe(0);
  });

  it("keeps calling other listeners when one throws", () => {
    const errors: unknown[] = [];
    const e = new Emitter<Events>((err) => errors.push(err));
    const got: number[] = [];
    e.on("count", () => {
      throw new Error("boom");
    });
    e.on("count", (n) => got.push(n));
    e.emit("count", 7);
    expect(got).toEqual([7]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe("boom");
  });

  it("lets a listener remove itself or others while emitting", () => {
    const e = new Emitter<Events>();
    const got: string[] = [];
    let offB: () => void = () => {};
    e.on("count", () => {
      got.push("a");
      offB();
    });
    offB = e.on("count", () => got.push("b"));
    e.emit("count", 0); // b was copied before a removed it
    e.emit("count", 0);
    expect(got).toEqual(["a", "b", "a"]);
  });

  it("removes everything with removeAllListeners", () => {
    const e = new Emitter<Events>();
    e.on("count", () => {});
    e.on("name", () => {});
    e.removeAllListeners();
    expect(e.listenerCount("count") + e.listenerCount("name")).toBe(0);
  });
});
