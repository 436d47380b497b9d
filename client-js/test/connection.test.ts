import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Connection, type CloseDetails, type ConnectionState } from "../src/connection.js";
import { FakeWebSocket } from "./fake-websocket.js";

function newConn(extra: Partial<ConstructorParameters<typeof Connection>[0]> = {}) {
  const conn = new Connection({
    url: "ws://127.0.0.1:1/v1/ws",
    token: "t 1",
    WebSocket: FakeWebSocket,
    backoff: { initialMs: 100, maxMs: 1000, random: () => 0.5 },
    ...extra,
  });
  const closes: CloseDetails[] = [];
  const states: ConnectionState[] = [];
  const messages: number[][] = [];
  conn.on("close", (c) => closes.push(c));
  conn.on("state", (s) => states.push(s.state));
  conn.on("message", (m) => messages.push([...m]));
  return { conn, closes, states, messages };
}

describe("Connection", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeWebSocket.reset();
  });
  afterEach(() => vi.useRealTimers());

  it("opens a binary socket with the token and subprotocol", () => {
    const { conn, messages } = newConn();
    conn.connect();
    const s = FakeWebSocket.last();
    expect(s.url).toBe("ws://127.0.0.1:1/v1/ws?token=t%201");
    expect(s.protocols).toEqual(["tickroom.v1"]);
    expect(s.binaryType).toBe("arraybuffer");
    expect(conn.send(new Uint8Array([1]))).toBe(false);
    s.serverOpen();
    expect(conn.state).toBe("open");
    expect(conn.send(new Uint8Array([1, 2]))).toBe(true);
    expect(s.sent.map((b) => [...b])).toEqual([[1, 2]]);
    s.serverSend(new Uint8Array([9, 8]));
    s.serverSendText("not protocol");
    expect(messages).toEqual([[9, 8]]);
  });

  const resumable = [1001, 1006, 1011, 1012, 4000, 4001, 4003, 4005, 4321];
  for (const code of resumable) {
    it(`reconnects after resumable close ${code}`, () => {
      const { conn, closes, states } = newConn();
      conn.connect();
      FakeWebSocket.last().serverOpen();
      FakeWebSocket.last().serverClose(code, "bye");
      expect(closes).toHaveLength(1);
      expect(closes[0]).toMatchObject({ code, reason: "bye", willReconnect: true, delayMs: 50 });
      expect(conn.state).toBe("reconnecting");
      expect(FakeWebSocket.instances).toHaveLength(1);
      vi.advanceTimersByTime(50);
      expect(FakeWebSocket.instances).toHaveLength(2);
      FakeWebSocket.last().serverOpen();
      expect(states).toEqual(["connecting", "open", "reconnecting", "open"]);
    });
  }

  const terminal = [1000, 1002, 1008, 1009, 4500, 4501, 4502, 4505, 4999];
  for (const code of terminal) {
    it(`stays closed after terminal close ${code}`, () => {
      const { conn, closes } = newConn();
      conn.connect();
      FakeWebSocket.last().serverOpen();
      FakeWebSocket.last().serverClose(code, "no");
      expect(closes[0]).toMatchObject({ code, willReconnect: false });
      expect(conn.state).toBe("closed");
      vi.advanceTimersByTime(60_000);
      expect(FakeWebSocket.instances).toHaveLength(1);
    });
  }

  it("backs off exponentially while the server stays away, and resets once it answers", () => {
    const { conn, closes } = newConn();
    conn.connect();
    for (let i = 0; i < 6; i++) {
      FakeWebSocket.last().serverClose(1006);
      vi.advanceTimersByTime(closes[closes.length - 1]!.delayMs);
    }
    // random 0.5 of caps 100, 200, 400, 800, 1000, 1000
    expect(closes.map((c) => c.delayMs)).toEqual([50, 100, 200, 400, 500, 500]);
    expect(conn.attempts).toBe(6);
    const s = FakeWebSocket.last();
    s.serverOpen();
    // Opening alone does not prove health; the first message does.
    expect(conn.attempts).toBe(6);
    s.serverSend(new Uint8Array([1]));
    expect(conn.attempts).toBe(0);
    s.serverClose(1006);
    expect(closes[closes.length - 1]!.delayMs).toBe(50);
  });

  it("waits longer after rate limiting", () => {
    const { conn, closes } = newConn({ slowDelayMs: 3000 });
    conn.connect();
    FakeWebSocket.last().serverOpen();
    FakeWebSocket.last().serverClose(4002);
    expect(closes[0]).toMatchObject({ willReconnect: true, delayMs: 3050 });
    expect(closes[0]!.info.name).toBe("RATE_LIMITED");
  });

  it("gives up after maxReconnectAttempts", () => {
    const { conn, closes } = newConn({ maxReconnectAttempts: 2 });
    conn.connect();
    for (let i = 0; i < 3; i++) {
      FakeWebSocket.last().serverClose(1006);
      vi.runOnlyPendingTimers();
    }
    expect(closes.map((c) => c.willReconnect)).toEqual([true, true, false]);
    expect(conn.state).toBe("closed");
    expect(FakeWebSocket.instances).toHaveLength(3);
  });

  it("drops a socket that does not open in time and retries", () => {
    const { conn, closes } = newConn({ connectTimeoutMs: 2000 });
    conn.connect();
    const first = FakeWebSocket.last();
    vi.advanceTimersByTime(2000);
    expect(first.closedWith).toBeDefined();
    expect(closes[0]).toMatchObject({ code: 1006, willReconnect: true });
    vi.advanceTimersByTime(closes[0]!.delayMs);
    expect(FakeWebSocket.instances).toHaveLength(2);
    // The old socket opening late is ignored.
    first.serverOpen();
    expect(conn.state).toBe("reconnecting");
  });

  it("closes for good on close() and ignores the old socket", () => {
    const { conn, closes } = newConn();
    conn.connect();
    const s = FakeWebSocket.last();
    s.serverOpen();
    conn.close();
    expect(s.closedWith).toEqual({ code: 1000, reason: "client closed" });
    expect(closes).toEqual([expect.objectContaining({ code: 1000, willReconnect: false })]);
    s.serverClose(1006);
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(conn.state).toBe("closed");
  });

  it("close() during a pending reconnect cancels it", () => {
    const { conn } = newConn();
    conn.connect();
    FakeWebSocket.last().serverClose(1006);
    conn.close();
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("reconnectNow swaps the socket at once with a new token", () => {
    const { conn, closes } = newConn();
    conn.connect();
    const s = FakeWebSocket.last();
    s.serverOpen();
    conn.setToken("fresh");
    conn.reconnectNow(4003, "heartbeat");
    expect(s.closedWith).toEqual({ code: 4003, reason: "heartbeat" });
    expect(closes[0]).toMatchObject({ code: 4003, willReconnect: true });
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(FakeWebSocket.last().url).toContain("token=fresh");
    // A late close of the old socket changes nothing.
    s.serverClose(1006);
    expect(closes).toHaveLength(1);
  });

  it("cuts the reconnect wait short when the network comes back", () => {
    const target = new EventTarget();
    const { conn, closes } = newConn({ onlineEvents: target, connectTimeoutMs: 60_000, backoff: { initialMs: 10_000, maxMs: 10_000, random: () => 0.9 } });
    conn.connect();
    FakeWebSocket.last().serverClose(1006);
    expect(closes[0]!.delayMs).toBe(9000);
    target.dispatchEvent(new Event("online"));
    expect(FakeWebSocket.instances).toHaveLength(2);
    // The cancelled timer does not open a third socket.
    vi.advanceTimersByTime(10_000);
    expect(FakeWebSocket.instances).toHaveLength(2);
    // Once open, or after close(), online events change nothing.
    FakeWebSocket.last().serverOpen();
    expect(conn.state).toBe("open");
    target.dispatchEvent(new Event("online"));
    conn.close();
    target.dispatchEvent(new Event("online"));
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it("requires a WebSocket class", () => {
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    g.WebSocket = undefined;
    try {
      expect(() => new Connection({ url: "ws://x" })).toThrow(TypeError);
    } finally {
      g.WebSocket = saved;
    }
  });
});
