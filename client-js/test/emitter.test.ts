import assert from "node:assert/strict";
import { describe, it } from "node:test";
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
    assert.deepEqual(got, ["a1", "b1", "b2", "x"]);
    assert.equal(e.listenerCount("count"), 1);
  });

  it("calls a once listener a single time", () => {
    const e = new Emitter<Events>();
    let calls = 0;
    e.once("count", () => calls++);
    e.emit("count", 1);
    e.emit("count", 2);
    assert.equal(calls, 1);
    assert.equal(e.listenerCount("count"), 0);
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
    assert.deepEqual(got, [7]);
    assert.equal((errors).length, 1);
    assert.equal((errors[0] as Error).message, "boom");
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
    assert.deepEqual(got, ["a", "b", "a"]);
  });

  it("removes everything with removeAllListeners", () => {
    const e = new Emitter<Events>();
    e.on("count", () => {});
    e.on("name", () => {});
    e.removeAllListeners();
    assert.equal(e.listenerCount("count") + e.listenerCount("name"), 0);
  });
});
