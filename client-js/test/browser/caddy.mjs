// Runs Debian's caddy (scripts/install-caddy.sh installs it) with the
// repository's deploy/Caddyfile, unedited, in front of a tickroom server:
// the file reads its site addresses, upstreams, TLS line and extra global
// options from the environment ({$NAME:default}), which this sets to free
// loopback ports, the server's addresses and a self-signed certificate
// for 127.0.0.1. Caddy's admin endpoint is off, it binds loopback only,
// and its data, config and storage live in a temporary folder removed by
// stop().
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCert } from "./nginx.mjs";
import { endProcess, heldBy, presentsCert, waitServing, withFreePorts } from "./ports.mjs";
import { REPO } from "./tickroom-server.mjs";

/** CADDY is the caddy binary (CADDY_PATH overrides it). */
export const CADDY = process.env.CADDY_PATH || "/usr/bin/caddy";

/**
 * startCaddy runs caddy with deploy/Caddyfile in front of server
 * (startServer's result plus adminAddr) on free loopback ports, again on
 * fresh ones when one was taken before caddy bound it, and resolves with
 * the play and admin base URLs, the HTTP port Caddy redirects from, the
 * certificate, its log and stop().
 */
export async function startCaddy(server) {
  if (!existsSync(CADDY)) throw new Error(`${CADDY} is missing: run scripts/install-caddy.sh`);
  return withFreePorts(["http", "play", "admin"], (ports) => startCaddyOn(server, ports));
}

// startCaddyOn is one try of startCaddy on the given ports.
async function startCaddyOn(server, ports) {
  const dir = await mkdtemp(join(tmpdir(), "tickroom-caddy-"));
  const cert = await makeCert(dir);
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    XDG_DATA_HOME: join(dir, "data"),
    XDG_CONFIG_HOME: join(dir, "config"),
    TICKROOM_PLAY_SITE: `https://127.0.0.1:${ports.play}`,
    TICKROOM_ADMIN_SITE: `https://127.0.0.1:${ports.admin}`,
    TICKROOM_HTTP: new URL(server.httpUrl).host,
    TICKROOM_ADDR: server.wsAddr,
    TICKROOM_ADMIN: server.adminAddr,
    TICKROOM_CADDY_TLS: `tls ${cert.cert} ${cert.key}`,
    TICKROOM_CADDY_GLOBAL: [
      "admin off",
      "default_bind 127.0.0.1",
      `http_port ${ports.http}`,
      `https_port ${ports.play}`,
      `storage file_system ${join(dir, "storage")}`,
      "skip_install_trust",
      "ocsp_stapling off",
    ].join("\n"),
  };
  const proc = spawn(CADDY, ["run", "--config", join(REPO, "deploy/Caddyfile"), "--adapter", "caddyfile"], {
    cwd: dir, env, stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  proc.stderr.on("data", (b) => {
    log += b;
    if (log.length > 1 << 20) log = log.slice(-(1 << 19));
  });
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  // Caddy binds its ports one after another, serving each at once, and
  // exits when one fails: it is up once it holds the last.
  await waitServing({
    what: "caddy", exited, log: () => log,
    checks: [heldBy(proc.pid, ports.http), presentsCert(ports.play, cert.pem), presentsCert(ports.admin, cert.pem)],
  }).catch(async (err) => {
    await endProcess(proc, exited);
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    playUrl: `https://127.0.0.1:${ports.play}`,
    adminUrl: `https://127.0.0.1:${ports.admin}`,
    redirectUrl: `http://127.0.0.1:${ports.http}`,
    cert,
    log: () => log,
    async stop() {
      await endProcess(proc, exited);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

