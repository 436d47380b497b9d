// Starts a private redis-server for the cluster tests, as the Go tests'
// internal/redistest does: a free loopback port, a temporary working
// directory, no persistence, nothing shared with a system service. The
// binary is $TICKROOM_REDIS_SERVER, else redis-server on $PATH
// (scripts/install-redis.sh installs Debian's package; `make jstest` runs
// it). When it is missing the tests fail, unless TICKROOM_REDIS_SKIP=1
// skips them on a developer's machine.
import { spawn, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** REDIS_BIN is the redis-server binary the tests run. */
export const REDIS_BIN = process.env.TICKROOM_REDIS_SERVER || "redis-server";

/**
 * redisSkip is false when the tests can run, else why they are skipped
 * (the binary is missing and TICKROOM_REDIS_SKIP=1), for describe's skip
 * option. A missing binary without the variable is left to startRedis,
 * which fails.
 */
export function redisSkip() {
  if (spawnSync(REDIS_BIN, ["--version"]).status === 0) return false;
  if (process.env.TICKROOM_REDIS_SKIP === "1") return `${REDIS_BIN} not installed; TICKROOM_REDIS_SKIP=1 skips`;
  return false;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ping resolves with true when a Redis server answers PING on port.
function ping(port) {
  return new Promise((resolve) => {
    const sock = createConnection({ host: "127.0.0.1", port });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once("error", () => done(false));
    sock.once("connect", () => sock.write("PING\r\n"));
    sock.once("data", (b) => done(b.toString().startsWith("+PONG")));
  });
}

/**
 * startRedis starts a server and resolves with its port, its redis:// URL,
 * what it printed (log) and stop(), which kills it; what it held is gone.
 */
export async function startRedis() {
  const dir = await mkdtemp(join(tmpdir(), "tickroom-redis-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  let lastErr;
  // A free port can be taken between the probe and the start by another
  // test process; try a few.
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = await freePort();
    const log = [];
    let proc;
    try {
      proc = spawn(REDIS_BIN, [
        "--port", String(port), "--bind", "127.0.0.1", "--dir", dir,
        "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
        "--logfile", "", "--pidfile", join(dir, "redis.pid"),
      ], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      throw new Error(`starting ${REDIS_BIN}: ${err}; run scripts/install-redis.sh (or set TICKROOM_REDIS_SKIP=1 to skip locally)`);
    }
    for (const s of [proc.stdout, proc.stderr]) s.on("data", (b) => log.push(b.toString()));
    const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
    const spawnErr = new Promise((resolve) => proc.once("error", resolve));
    let gone = false;
    exited.then(() => (gone = true));
    const deadline = Date.now() + 30_000;
    let up = false;
    while (!gone && Date.now() < deadline) {
      const err = await Promise.race([spawnErr, new Promise((r) => setTimeout(r, 20, null))]);
      if (err) throw new Error(`starting ${REDIS_BIN}: ${err.message}; run scripts/install-redis.sh (or set TICKROOM_REDIS_SKIP=1 to skip locally)`);
      if (await ping(port)) {
        up = true;
        break;
      }
    }
    if (!up) {
      proc.kill("SIGKILL");
      lastErr = new Error(`redis-server did not answer PING on port ${port}:\n${log.join("")}`);
      continue;
    }
    return {
      port,
      url: `redis://127.0.0.1:${port}/0`,
      log,
      async stop() {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.kill("SIGKILL");
        await exited;
      },
    };
  }
  throw lastErr;
}
