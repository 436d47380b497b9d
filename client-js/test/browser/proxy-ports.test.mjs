// The nginx and caddy helpers (and the stream proxy's callers) choose
// their listen ports by asking the kernel for free ones, which another process (a test running alongside)
// can take before the proxy binds them. Here the first port the probe
// returns is one a stranger listens on, as if taken in that moment: each
// helper must still resolve with a proxy of its own, on ports the stranger
// does not hold, that serves this server's page.
import assert from "node:assert/strict";
import { get } from "node:https";
import { Server, createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { startCaddy } from "./caddy.mjs";
import { PROXY_SOURCE, startNginx, startNginxStream } from "./nginx.mjs";
import { withFreePorts } from "./ports.mjs";
import { startServer } from "./tickroom-server.mjs";

// getPage fetches url over https trusting only the test certificate ca.
function getPage(url, ca) {
  return new Promise((resolve, reject) => {
    const req = get(url, { ca, timeout: 20_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer in 20 s`)));
    req.on("error", reject);
  });
}

// takenFirst makes the next port probe (a net.Server's address() read)
// report port, a port another process holds, and returns a function that
// undoes it.
function takenFirst(port) {
  const address = Server.prototype.address;
  let left = 1;
  Server.prototype.address = function () {
    const a = address.call(this);
    if (left > 0 && a && typeof a === "object") {
      left--;
      return { ...a, port };
    }
    return a;
  };
  return () => (Server.prototype.address = address);
}

describe("proxy helpers when a probed port is taken before the proxy binds it", { timeout: 180_000 }, () => {
  let server;
  let stranger;
  const stops = [];

  before(async () => {
    server = await startServer();
    server.adminAddr = new URL(await server.adminUrl).host;
    // The stranger accepts connections and says nothing, as a port held
    // by another test's server would look to a connect probe.
    stranger = createServer((s) => s.on("error", () => {}));
    await new Promise((resolve) => stranger.listen(0, "127.0.0.1", resolve));
  });

  after(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    stranger?.close();
    await server?.stop();
  });

  // The stream proxy's ports are chosen by its caller, which must tell the
  // server its WebSocket URL first, and tries again through withFreePorts.
  // It speaks the PROXY protocol upstream, to a server of its own.
  const startStream = () => withFreePorts(["play", "ws"], async (ports) => {
    const srv = await startServer(["-trusted-proxies", PROXY_SOURCE, "-proxy-protocol", "-public-ws-url", `wss://127.0.0.1:${ports.ws}/v1/ws`]);
    try {
      const proxy = await startNginxStream(srv, ports);
      return { ...proxy, adminUrl: proxy.playUrl, redirectUrl: proxy.wsUrl, stop: () => proxy.stop().finally(() => srv.stop()) };
    } catch (err) {
      await srv.stop();
      throw err;
    }
  });

  for (const [name, start] of [["nginx", startNginx], ["caddy", startCaddy], ["nginx stream", startStream]]) {
    test(`${name} comes up on ports of its own`, async () => {
      const taken = stranger.address().port;
      const undo = takenFirst(taken);
      let proxy;
      try {
        proxy = await start(server);
      } finally {
        undo();
      }
      stops.push(() => proxy.stop());
      const ports = [proxy.playUrl, proxy.adminUrl, proxy.redirectUrl].map((u) => Number(new URL(u).port));
      assert.ok(!ports.includes(taken), `${name} was handed port ${taken}, which another process holds: ${ports.join(", ")}`);
      const page = await getPage(`${proxy.playUrl}/`, proxy.cert.pem);
      assert.equal(page.status, 200);
      assert.match(page.body, /<title>/);
    });
  }
});
