// Starts the real tickroom server binary for the demo's end-to-end tests:
// built once per test process with `go build ./cmd/tickroom` from the
// repository (TICKROOM_BIN names a prebuilt binary instead), run on
// 127.0.0.1 port 0 for both the WebSocket and the HTTP side, its addresses
// read from the first line it prints. Each server is killed by its stop().
import { spawn, execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/** REPO is the repository root, where the Go module lives. */
export const REPO = fileURLToPath(new URL("../../..", import.meta.url));

let built;

/**
 * buildServer resolves with the path of the server binary, building it on
 * the first call into a temporary folder removed when the process exits.
 */
export function buildServer() {
  if (process.env.TICKROOM_BIN) return Promise.resolve(process.env.TICKROOM_BIN);
  built ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "tickroom-e2e-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const bin = join(dir, "tickroom");
    await promisify(execFile)("go", ["build", "-o", bin, "./cmd/tickroom"], { cwd: REPO, timeout: 180_000 });
    return bin;
  })();
  return built;
}

/**
 * startServer runs the binary with extra flags and resolves with its HTTP
 * base URL, its WebSocket address, its admin base URL (once printed; see
 * adminUrl), the lines it wrote to stderr (its log), stop(), which sends
 * SIGTERM and, if it has not exited after 5 s, SIGKILL, and kill(), which
 * sends SIGKILL at once (a crash). Its store lives in a new temporary data
 * directory. options.env adds environment variables (after the harness's
 * own, so that it may set TICKROOM_TOKEN_KEY, e.g. for the nodes of a
 * cluster, which must accept each other's session tokens).
 */
export async function startServer(args = [], options = {}) {
  const bin = await buildServer();
  // Each server keeps its store in a data directory of its own.
  const dataDir = await mkdtemp(join(tmpdir(), "tickroom-e2e-data-"));
  process.once("exit", () => rmSync(dataDir, { recursive: true, force: true }));
  const proc = spawn(bin, ["-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-data-dir", dataDir, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TICKROOM_TOKEN_KEY: "", ...options.env },
  });
  const log = [];
  createInterface({ input: proc.stderr }).on("line", (l) => {
    log.push(l);
    if (log.length > 500) log.shift();
  });
  const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
  const lines = createInterface({ input: proc.stdout });
  // The summary's admin line follows the first line.
  const adminUrl = new Promise((resolve) => {
    const onLine = (line) => {
      const m = /^\s+admin\s+(http:\/\/[^/\s]+)\//.exec(line);
      if (!m) return;
      lines.off("line", onLine);
      resolve(m[1]);
    };
    lines.on("line", onLine);
  });
  const first = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tickroom did not start in 30 s:\n${log.join("\n")}`)), 30_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`tickroom exited with ${code}:\n${log.join("\n")}`));
    });
  });
  const m = /^tickroom listening ws=(\S+) http=(\S+)$/.exec(first);
  if (!m) {
    proc.kill("SIGKILL");
    throw new Error(`unexpected first line from tickroom: ${first}`);
  }
  return {
    httpUrl: `http://${m[2]}`,
    wsAddr: m[1],
    /** adminUrl resolves with the admin listener's base URL (-admin). */
    adminUrl,
    log,
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
