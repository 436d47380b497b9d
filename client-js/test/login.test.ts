import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TickroomError } from "../src/errors.js";
import { login } from "../src/login.js";
import { resolveWebSocketUrl } from "../src/server-config.js";

// A stand-in login endpoint on 127.0.0.1:0 that answers like the server:
// names are required and at most 16 characters.
let server: Server;
let base = "";
const seen: { method: string; path: string; type: string; body: string }[] = [];

function handler(req: IncomingMessage, res: ServerResponse): void {
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString()));
  req.on("end", () => {
    seen.push({ method: req.method ?? "", path: req.url ?? "", type: req.headers["content-type"] ?? "", body });
    if (req.url === "/v1/broken") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{not json");
      return;
    }
    if (req.url === "/v1/null") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("null");
      return;
    }
    if (req.url === "/v1/plain") {
      res.writeHead(503, { "content-type": "text/plain" });
      res.end("down for maintenance");
      return;
    }
    const { name, identity_token: idToken, device_secret: device } = JSON.parse(body) as { name?: string; identity_token?: string; device_secret?: string };
    // Like a server that keeps accounts: the guest "dev" gets a device
    // secret, which logs the same account in again; any other secret is
    // unknown (401).
    if (device !== undefined) {
      const known = device === "sec-dev";
      res.writeHead(known ? 200 : 401, { "content-type": "application/json" });
      res.end(JSON.stringify(known ? { token: "tok-again", user_id: "u-dev", name: "dev", guest: true, device_secret: device } : { error: "device secret not recognized" }));
      return;
    }
    if (name === "dev") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ token: "tok-dev", user_id: "u-dev", name, guest: true, device_secret: "sec-dev" }));
      return;
    }
    if (idToken) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ token: "tok-id", user_id: "ext-7", name: name ?? "Ext", guest: false, expires_at: "2030-01-02T03:04:05Z" }));
      return;
    }
    if (!name || name.length > 16) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "name must be 1-16 characters" }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token: `tok-${name}`, user_id: "u-1", name, guest: true, expires_at: "2030-01-02T03:04:05.5Z" }));
  });
}

before(async () => {
  server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

describe("login", () => {
  it("posts the name as JSON and returns the session", async () => {
    const s = await login("ann", { baseUrl: `${base}/` });
    assert.deepEqual(s, { token: "tok-ann", userId: "u-1", name: "ann", guest: true, expiresAtMs: Date.UTC(2030, 0, 2, 3, 4, 5, 500) });
    assert.deepEqual(seen[seen.length - 1], { method: "POST", path: "/v1/login", type: "application/json", body: '{"name":"ann"}' });
  });

  it("signs in with an identity token", async () => {
    const s = await login({ identityToken: "idt", name: "Zed" }, { baseUrl: base });
    assert.deepEqual(s, { token: "tok-id", userId: "ext-7", name: "Zed", guest: false, expiresAtMs: Date.UTC(2030, 0, 2, 3, 4, 5) });
    assert.deepEqual(JSON.parse(seen[seen.length - 1]!.body), { name: "Zed", identity_token: "idt" });
  });

  it("keeps the device secret and comes back as the same guest", async () => {
    const kept = new Map<string, string>();
    const storage = {
      getItem: (k: string) => kept.get(k) ?? null,
      setItem: (k: string, v: string) => void kept.set(k, v),
      removeItem: (k: string) => void kept.delete(k),
    };
    const first = await login("dev", { baseUrl: base, storage });
    assert.equal(first.deviceSecret, "sec-dev");
    assert.equal(kept.get("tickroom.device"), "sec-dev");
    assert.deepEqual(JSON.parse(seen[seen.length - 1]!.body), { name: "dev" });

    const again = await login("someone else", { baseUrl: base, storage });
    assert.deepEqual([again.token, again.userId, again.name], ["tok-again", "u-dev", "dev"]);
    assert.deepEqual(JSON.parse(seen[seen.length - 1]!.body), { name: "someone else", device_secret: "sec-dev" });

    // A secret the server no longer knows is forgotten; the login goes on as a new guest.
    kept.set("tickroom.device", "sec-lost");
    const fresh = await login("ann", { baseUrl: base, storage });
    assert.deepEqual([fresh.token, fresh.deviceSecret], ["tok-ann", undefined]);
    assert.equal(kept.has("tickroom.device"), false);
    assert.deepEqual(JSON.parse(seen[seen.length - 2]!.body), { name: "ann", device_secret: "sec-lost" });
    assert.deepEqual(JSON.parse(seen[seen.length - 1]!.body), { name: "ann" });

    // An identity login neither sends nor needs the kept secret.
    kept.set("tickroom.device", "sec-dev");
    await login({ identityToken: "idt" }, { baseUrl: base, storage });
    assert.deepEqual(JSON.parse(seen[seen.length - 1]!.body), { identity_token: "idt" });
  });

  const failures = [
    { name: "refused name", args: { name: "", path: undefined }, code: "http", status: 400, text: "name must be 1-16 characters" },
    { name: "plain-text error", args: { name: "ann", path: "/v1/plain" }, code: "http", status: 503, text: "down for maintenance" },
    { name: "reply not JSON", args: { name: "ann", path: "/v1/broken" }, code: "protocol", status: 0, text: "not JSON" },
    { name: "reply JSON null", args: { name: "ann", path: "/v1/null" }, code: "protocol", status: 0, text: "no token" },
  ];
  for (const f of failures) {
    it(`rejects: ${f.name}`, async () => {
      const opts = f.args.path ? { baseUrl: base, path: f.args.path } : { baseUrl: base };
      const err = (await login(f.args.name, opts).catch((e: unknown) => e)) as TickroomError;
      assert.ok(err instanceof TickroomError);
      assert.deepEqual([err.code, err.status], [f.code, f.status]);
      assert.ok((err.message).includes(f.text));
    });
  }
});

describe("resolveWebSocketUrl", () => {
  const cases = [
    { base: "http://127.0.0.1:8080", c: { wsPort: 8081, wsPath: "/v1/ws", wsUrl: "" }, want: "ws://127.0.0.1:8081/v1/ws" },
    { base: "https://play.example.com/lobby/", c: { wsPort: 443, wsPath: "/v1/ws", wsUrl: "" }, want: "wss://play.example.com/v1/ws" },
    { base: "https://play.example.com", c: { wsPort: 8081, wsPath: "/v1/ws", wsUrl: "/v1/ws" }, want: "wss://play.example.com/v1/ws" },
    { base: "http://127.0.0.1:8080", c: { wsPort: 8081, wsPath: "/v1/ws", wsUrl: "wss://edge.example.com/ws" }, want: "wss://edge.example.com/ws" },
  ];
  for (const t of cases) {
    it(t.want, () => {
      assert.equal(resolveWebSocketUrl(t.c, t.base), t.want);
    });
  }
});
