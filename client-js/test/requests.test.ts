import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { TickroomError } from "../src/errors.js";
import { RequestTracker } from "../src/requests.js";
import { assertRejects } from "./helpers.js";

describe("RequestTracker", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"], now: 0 }));
  afterEach(() => mock.timers.reset());

  it("settles each request with the reply that names its id", async () => {
    const t = new RequestTracker<string>(1000);
    const a = t.start("a");
    const b = t.start("b");
    assert.notEqual(a.id, b.id);
    assert.equal(t.resolve(b.id, "B"), true);
    assert.equal(t.resolve(a.id, "A"), true);
    assert.equal(t.resolve(a.id, "again"), false);
    await assert.equal(await a.reply, "A");
    await assert.equal(await b.reply, "B");
    assert.equal(t.inFlight, 0);
  });

  it("rejects with a timeout error when no reply comes", async () => {
    const t = new RequestTracker<string>(500);
    const a = t.start("listRooms");
    const check = assertRejects(a.reply, { code: "timeout" });
    mock.timers.tick(499);
    assert.equal(t.inFlight, 1);
    mock.timers.tick(1);
    await check;
    assert.equal(t.inFlight, 0);
    assert.equal(t.resolve(a.id, "late"), false);
  });

  it("rejects everything when the connection drops", async () => {
    const t = new RequestTracker<string>(1000);
    const rs = [t.start("a"), t.start("b")];
    t.failAll(new TickroomError("connection-lost", "gone"));
    for (const r of rs) await assertRejects(r.reply, { code: "connection-lost" });
    assert.equal(t.inFlight, 0);
  });

  it("bounds requests in flight", async () => {
    const t = new RequestTracker<string>(1000, 2);
    const a = t.start("a");
    t.start("b");
    const c = t.start("c");
    assert.equal(c.id, 0);
    await assertRejects(c.reply, { code: "too-many-requests" });
    // A reply frees a slot.
    t.resolve(a.id, "A");
    const d = t.start("d");
    assert.notEqual(d.id, 0);
    t.resolve(d.id, "D");
    await assert.equal(await d.reply, "D");
  });
});
