// A minimal RFC 6455 WebSocket server on 127.0.0.1:0 for the browser tests
// of the connection layer: it accepts the handshake (choosing the tickroom.v1
// subprotocol when offered), records what each client sent, and lets the
// test send binary messages and close with any code. It handles only what
// the tests need: unfragmented frames up to 64 KiB.
import { createHash } from "node:crypto";
import { createServer } from "node:http";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; // RFC 6455 section 1.3

/** startWsServer resolves with the server's URL, its connections and helpers. */
export async function startWsServer() {
  const conns = [];
  const waiters = [];
  const server = createServer((_req, res) => res.writeHead(426).end());
  server.on("upgrade", (req, socket) => {
    const key = req.headers["sec-websocket-key"];
    if (typeof key !== "string") {
      socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    }
    const accept = createHash("sha1").update(key + GUID).digest("base64");
    const offered = String(req.headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim());
    const lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Accept: ${accept}`];
    if (offered.includes("tickroom.v1")) lines.push("Sec-WebSocket-Protocol: tickroom.v1");
    socket.write(lines.join("\r\n") + "\r\n\r\n");
    const conn = { url: req.url, protocols: offered, received: [], closed: false, socket };
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const f = parseFrame(buf);
        if (!f) break;
        buf = buf.subarray(f.length);
        if (f.opcode === 0x2) conn.received.push([...f.payload]);
        if (f.opcode === 0x8) {
          if (!conn.closed) socket.end(frame(0x8, f.payload));
          conn.closed = true;
        }
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => (conn.closed = true));
    conns.push(conn);
    for (const w of waiters.splice(0)) w();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `ws://127.0.0.1:${port}`,
    conns,
    /** waitFor resolves once there are n connections. */
    async waitFor(n) {
      while (conns.length < n) await new Promise((r) => waiters.push(r));
      return conns[n - 1];
    },
    send(conn, bytes) {
      conn.socket.write(frame(0x2, Buffer.from(bytes)));
    },
    close(conn, code, reason = "") {
      const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
      payload.writeUInt16BE(code, 0);
      payload.write(reason, 2);
      conn.closed = true;
      conn.socket.end(frame(0x8, payload));
    },
    stop() {
      for (const c of conns) c.socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff]);
  return Buffer.concat([head, payload]);
}

function parseFrame(buf) {
  if (buf.length < 2) return undefined;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    throw new Error("test server: frames over 64 KiB are not supported");
  }
  const maskOff = off;
  if (masked) off += 4;
  if (buf.length < off + len) return undefined;
  const payload = Buffer.from(buf.subarray(off, off + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskOff + (i % 4)];
  return { opcode, payload, length: off + len };
}
