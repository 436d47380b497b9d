import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { Connection, PROTOCOL_VERSION, STABLE_MS, type CloseDetails, type ConnectionState } from "../src/connection.js";
import { FakeWebSocket } from "./fake-websocket.js";
import { assertPartial } from "./helpers.js";

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
    mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"], now: 0 });
    FakeWebSocket.reset();
  });
  afterEach(() => mock.timers.reset());

  it("opens a binary socket with the token and subprotocol", () => {
    const { conn, messages } = newConn();
    conn.connect();
    const s = FakeWebSocket.last();
    assert.equal(s.url, "ws://127.0.0.1:1/v1/ws?token=t%201&protocol_version=2");
    assert.deepEqual(s.protocols, ["tickroom.v1"]);
    assert.equal(s.binaryType, "arraybuffer");
    assert.equal(conn.send(new Uint8Array([1])), false);
    s.serverOpen();
    assert.equal(conn.state, "open");
    assert.equal(conn.send(new Uint8Array([1, 2])), true);
    assert.deepEqual(s.sent.map((b) => [...b]), [[1, 2]]);
    s.serverSend(new Uint8Array([9, 8]));
    s.serverSendText("not protocol");
    assert.deepEqual(messages, [[9, 8]]);
  });

  // The server refuses a version it does not serve with 4507, which a
  // browser can read; one that declares none is served whatever it speaks.
  it("declares the protocol version it speaks on every socket, with a token or without", () => {
    assert.equal(PROTOCOL_VERSION, 2);
    const { conn } = newConn({ url: "ws://127.0.0.1:1/v1/ws?x=1", token: undefined });
    conn.connect();
    assert.equal(FakeWebSocket.last().url, "ws://127.0.0.1:1/v1/ws?x=1&protocol_version=2");
    const { conn: withToken } = newConn();
    withToken.connect();
    FakeWebSocket.last().serverOpen();
    withToken.moveTo("ws://node2.example:2/v1/ws");
    assert.equal(FakeWebSocket.last().url, "ws://node2.example:2/v1/ws?token=t%201&protocol_version=2");
  });

  const resumable = [1001, 1006, 1011, 1012, 4000, 4001, 4003, 4005, 4321];
  for (const code of resumable) {
    it(`reconnects after resumable close ${code}`, () => {
      const { conn, closes, states } = newConn();
      conn.connect();
      FakeWebSocket.last().serverOpen();
      FakeWebSocket.last().serverClose(code, "bye");
      assert.equal((closes).length, 1);
      assertPartial(closes[0], { code, reason: "bye", willReconnect: true, delayMs: 50 });
      assert.equal(conn.state, "reconnecting");
      assert.equal((FakeWebSocket.instances).length, 1);
      mock.timers.tick(50);
      assert.equal((FakeWebSocket.instances).length, 2);
      FakeWebSocket.last().serverOpen();
      assert.deepEqual(states, ["connecting", "open", "reconnecting", "open"]);
    });
  }

  const terminal = [1000, 1002, 1008, 1009, 4500, 4501, 4502, 4505, 4999];
  for (const code of terminal) {
    it(`stays closed after terminal close ${code}`, () => {
      const { conn, closes } = newConn();
      conn.connect();
      FakeWebSocket.last().serverOpen();
      FakeWebSocket.last().serverClose(code, "no");
      assertPartial(closes[0], { code, willReconnect: false });
      assert.equal(conn.state, "closed");
      mock.timers.tick(60_000);
      assert.equal((FakeWebSocket.instances).length, 1);
    });
  }

  it("backs off exponentially while the server stays away, and resets once it answers", () => {
    const { conn, closes } = newConn();
    conn.connect();
    for (let i = 0; i < 6; i++) {
      FakeWebSocket.last().serverClose(1006);
      mock.timers.tick(closes[closes.length - 1]!.delayMs);
    }
    // random 0.5 of caps 100, 200, 400, 800, 1000, 1000
    assert.deepEqual(closes.map((c) => c.delayMs), [50, 100, 200, 400, 500, 500]);
    assert.equal(conn.attempts, 6);
    const s = FakeWebSocket.last();
    s.serverOpen();
    // Opening alone does not prove health, nor does the first message: a
    // socket proves healthy once it has stayed up STABLE_MS after it.
    assert.equal(conn.attempts, 6);
    s.serverSend(new Uint8Array([1]));
    assert.equal(conn.attempts, 6);
    mock.timers.tick(STABLE_MS - 1);
    assert.equal(conn.attempts, 6);
    mock.timers.tick(1);
    assert.equal(conn.attempts, 0);
    s.serverClose(1006);
    assert.equal(closes[closes.length - 1]!.delayMs, 50);
  });

  // A server that crashes right after its Welcome (or closes with a
  // resumable code at once) must not be hammered every few hundred ms.
  it("keeps backing off when each socket closes right after its first message", () => {
    const { conn, closes } = newConn();
    conn.connect();
    for (let i = 0; i < 6; i++) {
      const s = FakeWebSocket.last();
      s.serverOpen();
      s.serverSend(new Uint8Array([1])); // the Welcome
      mock.timers.tick(100);
      s.serverClose(4000, "shutting down");
      mock.timers.tick(closes[closes.length - 1]!.delayMs);
    }
    assert.deepEqual(closes.map((c) => c.delayMs), [50, 100, 200, 400, 500, 500]);
    assert.equal(conn.attempts, 6);
    // One that stays up STABLE_MS starts the sequence over.
    const s = FakeWebSocket.last();
    s.serverOpen();
    s.serverSend(new Uint8Array([1]));
    mock.timers.tick(STABLE_MS);
    s.serverClose(4000);
    assert.equal(closes[closes.length - 1]!.delayMs, 50);
    assert.equal(conn.attempts, 1);
  });

  it("gives up after maxReconnectAttempts sockets that each close right after their first message", () => {
    const { conn, closes } = newConn({ maxReconnectAttempts: 2 });
    conn.connect();
    for (let i = 0; i < 3; i++) {
      const s = FakeWebSocket.last();
      s.serverOpen();
      s.serverSend(new Uint8Array([1]));
      s.serverClose(1011);
      if (closes[closes.length - 1]!.willReconnect) mock.timers.tick(closes[closes.length - 1]!.delayMs);
    }
    assert.deepEqual(closes.map((c) => c.willReconnect), [true, true, false]);
    assert.equal(conn.state, "closed");
  });

  // A redirect's node is for the connection it was given to: a connection
  // closed and opened again starts at the configured endpoint.
  it("opens at the configured url after close(), not at the node a redirect named", () => {
    const { conn } = newConn();
    conn.connect();
    FakeWebSocket.last().serverOpen();
    conn.moveTo("ws://node2.example:2/v1/ws");
    assert.equal(conn.currentUrl, "ws://node2.example:2/v1/ws");
    FakeWebSocket.last().serverOpen();
    conn.close();
    assert.equal(conn.currentUrl, "ws://127.0.0.1:1/v1/ws");
    conn.connect();
    assert.equal(FakeWebSocket.last().url, "ws://127.0.0.1:1/v1/ws?token=t%201&protocol_version=2");
  });

  it("opens at the configured url after the redirect's node refused the upgrade", () => {
    const { conn, closes } = newConn();
    conn.connect();
    FakeWebSocket.last().serverOpen();
    conn.moveTo("ws://node2.example:2/v1/ws");
    const s = FakeWebSocket.last();
    s.onerror?.({ message: "Unexpected server response: 403" });
    s.serverClose(1006);
    assertPartial(closes[closes.length - 1], { willReconnect: false, error: { code: "misconfigured" } });
    assert.equal(conn.state, "closed");
    conn.connect();
    assert.equal(FakeWebSocket.last().url, "ws://127.0.0.1:1/v1/ws?token=t%201&protocol_version=2");
  });

  it("waits longer after rate limiting", () => {
    const { conn, closes } = newConn({ slowDelayMs: 3000 });
    conn.connect();
    FakeWebSocket.last().serverOpen();
    FakeWebSocket.last().serverClose(4002);
    assertPartial(closes[0], { willReconnect: true, delayMs: 3050 });
    assert.equal(closes[0]!.info.name, "RATE_LIMITED");
  });

  it("gives up after maxReconnectAttempts", () => {
    const { conn, closes } = newConn({ maxReconnectAttempts: 2 });
    conn.connect();
    for (let i = 0; i < 3; i++) {
      FakeWebSocket.last().serverClose(1006);
      mock.timers.tick(1000);
    }
    assert.deepEqual(closes.map((c) => c.willReconnect), [true, true, false]);
    assert.equal(conn.state, "closed");
    assert.equal((FakeWebSocket.instances).length, 3);
  });

  it("drops a socket that does not open in time and retries", () => {
    const { conn, closes } = newConn({ connectTimeoutMs: 2000 });
    conn.connect();
    const first = FakeWebSocket.last();
    mock.timers.tick(2000);
    assert.notEqual(first.closedWith, undefined);
    assertPartial(closes[0], { code: 1006, willReconnect: true });
    mock.timers.tick(closes[0]!.delayMs);
    assert.equal((FakeWebSocket.instances).length, 2);
    // The old socket opening late is ignored.
    first.serverOpen();
    assert.equal(conn.state, "reconnecting");
  });

  it("closes for good on close() and ignores the old socket", () => {
    const { conn, closes } = newConn();
    conn.connect();
    const s = FakeWebSocket.last();
    s.serverOpen();
    conn.close();
    assert.deepEqual(s.closedWith, { code: 1000, reason: "client closed" });
    assertPartial(closes, [{ code: 1000, willReconnect: false }]);
    s.serverClose(1006);
    mock.timers.tick(60_000);
    assert.equal((FakeWebSocket.instances).length, 1);
    assert.equal(conn.state, "closed");
  });

  // A browser's WebSocket refuses to close with a code other than 1000 and
  // 3000-4999 (1001, say, for a page going away) or a reason over 123
  // bytes, and closes nothing then: the socket, detached, stayed open, its
  // user connected to the server and its seats taken, not held for a
  // resume, for as long as the page lived.
  it("closes the socket even with a code or reason the WebSocket refuses", () => {
    const { conn, closes } = newConn();
    conn.connect();
    const s = FakeWebSocket.last();
    s.serverOpen();
    conn.reconnectNow(1001, "going away");
    assert.equal(s.readyState, 3);
    const s2 = FakeWebSocket.last();
    assert.notEqual(s2, s);
    s2.serverOpen();
    conn.close(1000, "x".repeat(200));
    assert.equal(s2.readyState, 3);
    assert.deepEqual(closes.map((c) => [c.code, c.willReconnect]), [[1001, true], [1000, false]]);
  });

  it("close() during a pending reconnect cancels it", () => {
    const { conn } = newConn();
    conn.connect();
    FakeWebSocket.last().serverClose(1006);
    conn.close();
    mock.timers.tick(60_000);
    assert.equal((FakeWebSocket.instances).length, 1);
  });

  it("reconnectNow swaps the socket at once with a new token", () => {
    const { conn, closes } = newConn();
    conn.connect();
    const s = FakeWebSocket.last();
    s.serverOpen();
    conn.setToken("fresh");
    conn.reconnectNow(4003, "heartbeat");
    assert.deepEqual(s.closedWith, { code: 4003, reason: "heartbeat" });
    assertPartial(closes[0], { code: 4003, willReconnect: true });
    assert.equal((FakeWebSocket.instances).length, 2);
    assert.ok((FakeWebSocket.last().url).includes("token=fresh"));
    // A late close of the old socket changes nothing.
    s.serverClose(1006);
    assert.equal((closes).length, 1);
  });

  // A page that gives up on the first drop calls close() from its close or
  // state listener; a swap (heartbeat timeout, desync recovery, redirect)
  // must not open a socket after that.
  for (const on of ["close", "state"] as const) {
    it(`stays closed when a ${on} listener closes it during reconnectNow`, () => {
      const { conn, closes } = newConn();
      conn.connect();
      const s = FakeWebSocket.last();
      s.serverOpen();
      if (on === "close") conn.on("close", (c) => c.willReconnect && conn.close());
      else conn.on("state", (st) => st.state === "reconnecting" && conn.close());
      conn.reconnectNow(4003, "heartbeat timeout");
      mock.timers.tick(60_000);
      assert.equal(FakeWebSocket.instances.length, 1, "a socket was opened after close()");
      assert.equal(conn.state, "closed");
      assert.equal(closes[closes.length - 1]!.willReconnect, false);
    });
  }

  it("stays closed, and says so last, when a state listener closes it after a drop", () => {
    const { conn, closes } = newConn();
    conn.connect();
    FakeWebSocket.last().serverOpen();
    conn.on("state", (st) => st.state === "reconnecting" && conn.close());
    FakeWebSocket.last().serverClose(1006);
    mock.timers.tick(60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.equal(conn.state, "closed");
    assertPartial(closes, [{ code: 1000, willReconnect: false }]);
  });

  it("cuts the reconnect wait short when the network comes back", () => {
    const target = new EventTarget();
    const { conn, closes } = newConn({ onlineEvents: target, connectTimeoutMs: 60_000, backoff: { initialMs: 10_000, maxMs: 10_000, random: () => 0.9 } });
    conn.connect();
    FakeWebSocket.last().serverClose(1006);
    assert.equal(closes[0]!.delayMs, 9000);
    target.dispatchEvent(new Event("online"));
    assert.equal((FakeWebSocket.instances).length, 2);
    // The cancelled timer does not open a third socket.
    mock.timers.tick(10_000);
    assert.equal((FakeWebSocket.instances).length, 2);
    // Once open, or after close(), online events change nothing.
    FakeWebSocket.last().serverOpen();
    assert.equal(conn.state, "open");
    target.dispatchEvent(new Event("online"));
    conn.close();
    target.dispatchEvent(new Event("online"));
    assert.equal((FakeWebSocket.instances).length, 2);
  });

  it("requires a WebSocket class", () => {
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    g.WebSocket = undefined;
    try {
      assert.throws(() => new Connection({ url: "ws://x" }), TypeError);
    } finally {
      g.WebSocket = saved;
    }
  });
});
