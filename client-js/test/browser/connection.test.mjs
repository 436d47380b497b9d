// The connection layer in Chromium against a real WebSocket server on
// 127.0.0.1: binary messages both ways, the token and subprotocol in the
// handshake, a reconnect after a resumable close code and none after a
// terminal one.
import assert from "node:assert/strict";
import { test } from "node:test";
import { withPage } from "./harness.mjs";
import { startWsServer } from "./ws-server.mjs";

test("Connection reconnects on resumable codes and stops on terminal ones in Chromium", { timeout: 120_000 }, async () => {
  const ws = await startWsServer();
  try {
    await withPage(async ({ page, baseUrl, errors }) => {
      await page.goto(`${baseUrl}/test/browser/pages/smoke.html`);
      await page.waitForFunction(() => document.getElementById("status")?.textContent === "ready", null, { timeout: 30_000 });
      await page.evaluate((url) => {
        const { Connection } = window.tickroom;
        const log = (window.connLog = { messages: [], closes: [], opens: [] });
        const conn = new Connection({ url: `${url}/v1/ws`, token: "tok 1", backoff: { initialMs: 20, maxMs: 100 } });
        conn.on("message", (m) => {
          log.messages.push([...m]);
          conn.send(new Uint8Array([...m].reverse()));
        });
        conn.on("open", (o) => log.opens.push(o.reconnect));
        conn.on("close", (c) => log.closes.push({ code: c.code, reason: c.reason, kind: c.info.kind, willReconnect: c.willReconnect }));
        window.conn = conn;
        conn.connect();
      }, ws.url);

      const first = await ws.waitFor(1);
      assert.equal(first.url, "/v1/ws?token=tok%201&protocol_version=2");
      assert.deepEqual(first.protocols, ["tickroom.v1"]);
      await page.waitForFunction(() => window.conn.state === "open");
      ws.send(first, [1, 2, 3]);
      await page.waitForFunction(() => window.connLog.messages.length === 1);
      // The page echoed the bytes reversed, as a binary message.
      while (first.received.length === 0) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(first.received, [[3, 2, 1]]);

      ws.close(first, 4001, "slow client");
      const second = await ws.waitFor(2);
      await page.waitForFunction(() => window.conn.state === "open" && window.connLog.opens.length === 2);
      ws.send(second, [9]);
      await page.waitForFunction(() => window.connLog.messages.length === 2);

      ws.close(second, 4501, "bad token");
      await page.waitForFunction(() => window.conn.state === "closed");
      const log = await page.evaluate(() => window.connLog);
      assert.deepEqual(log.opens, [false, true]);
      assert.deepEqual(log.messages, [[1, 2, 3], [9]]);
      assert.deepEqual(log.closes, [
        { code: 4001, reason: "slow client", kind: "resumable", willReconnect: true },
        { code: 4501, reason: "bad token", kind: "terminal", willReconnect: false },
      ]);
      assert.equal(ws.conns.length, 2);
      assert.deepEqual(errors, []);
    });
  } finally {
    await ws.stop();
  }
});
