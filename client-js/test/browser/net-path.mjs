// A network path between one browser page and the tickroom server that a
// test can cut: an HTTP forwarder for the page and its API (rewriting GET
// /v1/config so the page's WebSocket goes through the path too) and a TCP
// relay for the WebSocket port. cut() resets every relayed connection at
// the TCP level, as a network failure would: the page sees its socket die
// (close 1006) and the server sees the connection drop, with nothing said
// by either side.
import { request, createServer } from "node:http";
import { createServer as createTcpServer, connect } from "node:net";

/**
 * startNetPath opens a path to the server whose HTTP base URL is httpUrl
 * and whose WebSocket address is wsAddr (host:port). It resolves with the
 * URL the page should load, cut() and close().
 */
export async function startNetPath(httpUrl, wsAddr) {
  const target = new URL(httpUrl);
  const [wsHost, wsPort] = splitHostPort(wsAddr);
  const live = new Set();
  let downUntil = 0; // while the path is down, new connections are reset
  const relay = createTcpServer((down) => {
    if (Date.now() < downUntil) {
      down.resetAndDestroy();
      return;
    }
    const up = connect(wsPort, wsHost);
    const pair = { down, up };
    live.add(pair);
    const end = () => {
      live.delete(pair);
      down.destroy();
      up.destroy();
    };
    down.on("error", end).on("close", end);
    up.on("error", end).on("close", end);
    down.pipe(up);
    up.pipe(down);
  });
  await listen(relay);
  const relayPort = relay.address().port;

  const web = createServer((req, res) => {
    const fwd = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (up) => {
        if (req.url === "/v1/config" && up.statusCode === 200) {
          const chunks = [];
          up.on("data", (c) => chunks.push(c));
          up.on("end", () => {
            const cfg = JSON.parse(Buffer.concat(chunks).toString("utf8"));
            cfg.ws_port = relayPort;
            res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
            res.end(JSON.stringify(cfg));
          });
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    fwd.on("error", () => res.writeHead(502).end());
    req.pipe(fwd);
  });
  await listen(web);

  return {
    url: `http://127.0.0.1:${web.address().port}`,
    /** connections is the number of WebSocket connections relayed now. */
    get connections() {
      return live.size;
    },
    /**
     * cut resets every relayed WebSocket connection and returns how many it
     * cut. For downMs after it, new connections are reset too, as during a
     * real outage: the server has time to see the drop before the page can
     * come back (without it, a reconnect may take the seat over before the
     * server has even noticed the old socket died). Infinity keeps the path
     * down until restore().
     */
    cut(downMs = 0) {
      downUntil = Date.now() + downMs;
      const n = live.size;
      for (const { down, up } of [...live]) {
        down.resetAndDestroy();
        up.resetAndDestroy();
      }
      live.clear();
      return n;
    },
    /** restore ends a cut's outage: new connections are relayed again. */
    restore() {
      downUntil = 0;
    },
    async close() {
      for (const { down, up } of live) {
        down.destroy();
        up.destroy();
      }
      web.closeAllConnections();
      await Promise.all([new Promise((r) => relay.close(r)), new Promise((r) => web.close(r))]);
    },
  };
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
}

function splitHostPort(addr) {
  const i = addr.lastIndexOf(":");
  return [addr.slice(0, i).replace(/^\[|\]$/g, ""), Number(addr.slice(i + 1))];
}
