import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TickroomError } from "../src/errors.js";
import { RequestTracker } from "../src/requests.js";

describe("RequestTracker", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("settles each request with the reply that names its id", async () => {
    const t = new RequestTracker<string>(1000);
    const a = t.start("a");
    const b = t.start("b");
    expect(a.id).not.toBe(b.id);
    expect(t.resolve(b.id, "B")).toBe(true);
    expect(t.resolve(a.id, "A")).toBe(true);
    expect(t.resolve(a.id, "again")).toBe(false);
    await expect(a.reply).resolves.toBe("A");
    await expect(b.reply).resolves.toBe("B");
    expect(t.inFlight).toBe(0);
  });

  it("rejects with a timeout error when no reply comes", async () => {
    const t = new RequestTracker<string>(500);
    const a = t.start("listRooms");
    const check = expect(a.reply).rejects.toMatchObject({ code: "timeout" });
    vi.advanceTimersByTime(499);
    expect(t.inFlight).toBe(1);
    vi.advanceTimersByTime(1);
    await check;
    expect(t.inFlight).toBe(0);
    expect(t.resolve(a.id, "late")).toBe(false);
  });

  it("rejects everything when the connection drops", async () => {
    const t = new RequestTracker<string>(1000);
    const rs = [t.start("a"), t.start("b")];
    t.failAll(new TickroomError("connection-lost", "gone"));
    for (const r of rs) await expect(r.reply).rejects.toMatchObject({ code: "connection-lost" });
    expect(t.inFlight).toBe(0);
  });

  it("bounds requests in flight", async () => {
    const t = new RequestTracker<string>(1000, 2);
    const a = t.start("a");
    t.start("b");
    const c = t.start("c");
    expect(c.id).toBe(0);
    await expect(c.reply).rejects.toMatchObject({ code: "too-many-requests" });
    // A reply frees a slot.
    t.resolve(a.id, "A");
    const d = t.start("d");
    expect(d.id).not.toBe(0);
    t.resolve(d.id, "D");
    await expect(d.reply).resolves.toBe("D");
  });
});
