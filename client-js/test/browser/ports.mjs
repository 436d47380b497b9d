// Listen ports for the proxies the TLS tests run (nginx, caddy), which
// cannot be told to pick a port themselves and report it. A port probed
// free can be taken by another process (a test running alongside) before
// the proxy binds it, so: the proxy's start is tried again on fresh ports
// when it fails to bind (withFreePorts), and it counts as up only once its
// ports are its own (waitServing: the process holds the listening socket,
// and a TLS port shows the run's certificate, made afresh for each start),
// never on a connect alone, which a stranger on the port would accept as
// well.
import { X509Certificate } from "node:crypto";
import { readFile, readdir, readlink } from "node:fs/promises";
import { createServer } from "node:net";
import { connect as tlsConnect } from "node:tls";

/** PortTakenError says that a proxy could not bind a port probed free a moment before. */
export class PortTakenError extends Error {
  constructor(message) {
    super(message);
    this.name = "PortTakenError";
  }
}

// portTaken matches what nginx and caddy log when a port is in use.
const portTaken = /address already in use/i;

/**
 * freePorts resolves with an object of loopback TCP ports free a moment
 * ago, one for each of names; all are held at once while probed, so no
 * two are the same.
 */
export async function freePorts(names) {
  const servers = names.map(() => createServer());
  try {
    await Promise.all(servers.map((s) => new Promise((resolve, reject) => {
      s.once("error", reject);
      s.listen(0, "127.0.0.1", resolve);
    })));
    return Object.fromEntries(names.map((n, i) => [n, servers[i].address().port]));
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => (s.listening ? s.close(resolve) : resolve()))));
  }
}

/**
 * withFreePorts resolves with what start(ports) resolves with, ports being
 * freePorts(names); while start rejects with a PortTakenError it is called
 * again with fresh ports, up to tries times in all.
 */
export async function withFreePorts(names, start, tries = 5) {
  for (let i = 1; ; i++) {
    try {
      return await start(await freePorts(names));
    } catch (err) {
      if (!(err instanceof PortTakenError) || i >= tries) throw err;
    }
  }
}

/**
 * waitServing resolves once every check resolves true, trying them again
 * every 50 ms. It rejects with a PortTakenError when the process exits
 * having logged that a port is in use, with an Error for any other exit or
 * after 30 s. what names the process, exited is a promise of its exit and
 * log returns (or resolves with) what it logged.
 */
export async function waitServing({ what, exited, log, checks }) {
  let dead = false;
  exited.then(() => (dead = true));
  const deadline = Date.now() + 30_000;
  const pending = [...checks];
  while (Date.now() < deadline) {
    if (dead) {
      const text = await log();
      if (portTaken.test(text)) throw new PortTakenError(`${what} could not bind a port: ${text}`);
      throw new Error(`${what} exited: ${text}`);
    }
    for (let i = pending.length - 1; i >= 0; i--) if (await pending[i]()) pending.splice(i, 1);
    if (pending.length === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not serve on its ports in 30 s: ${await log()}`);
}

/**
 * presentsCert returns a check that 127.0.0.1:port completes a TLS
 * handshake with the certificate whose PEM is pem.
 */
export function presentsCert(port, pem) {
  const want = new X509Certificate(pem).fingerprint256;
  return () => new Promise((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false, timeout: 2_000 });
    const done = (ok) => (s.destroy(), resolve(ok));
    s.once("secureConnect", () => done(s.getPeerX509Certificate()?.fingerprint256 === want));
    s.once("timeout", () => done(false));
    s.once("error", () => done(false));
  });
}

/**
 * heldBy returns a check that the process pid holds the socket listening
 * on 127.0.0.1:port (Linux: /proc/net/tcp and the process's descriptors).
 */
export function heldBy(pid, port) {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return async () => {
    const table = await readFile("/proc/net/tcp", "utf8");
    // Fields: sl, local address, remote address, state (0A: listening), ..., inode.
    const row = table.split("\n").map((l) => l.trim().split(/\s+/)).find((f) => f[1] === local && f[3] === "0A");
    if (!row) return false;
    const socket = `socket:[${row[9]}]`;
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
    for (const fd of fds) if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "")) === socket) return true;
    return false;
  };
}

// endProcess stops proc (SIGTERM, which stops nginx's workers with its
// master; SIGKILL after 5 s) unless it has exited, and resolves once it
// has (exited: the promise of its exit).
export async function endProcess(proc, exited) {
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
