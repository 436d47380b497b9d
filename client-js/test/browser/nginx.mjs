// Runs Debian's nginx (scripts/install-nginx.sh installs it) with the
// repository's deploy/nginx.conf in front of a tickroom server, for the TLS
// tests: a self-signed certificate made with openssl for 127.0.0.1, free
// loopback ports (ports.mjs) in place of 80 and 443, and a prefix, temp
// folders and logs in a temporary folder. The shipped site file is used as
// it is but for those addresses; nginx connects upstream from 127.0.0.2 so
// the test can tell the proxy's address (the TCP peer tickroom sees) from
// the browser's (127.0.0.1, which only X-Forwarded-For carries).
import { execFile, spawn } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { endProcess, heldBy, presentsCert, waitServing, withFreePorts } from "./ports.mjs";
import { REPO } from "./tickroom-server.mjs";

const run = promisify(execFile);

/** NGINX is the nginx binary (NGINX_PATH overrides it). */
export const NGINX = process.env.NGINX_PATH || "/usr/sbin/nginx";

/** PROXY_SOURCE is the address nginx connects to tickroom from. */
export const PROXY_SOURCE = "127.0.0.2";

/**
 * makeCert writes a self-signed certificate for 127.0.0.1 and localhost to
 * dir and resolves with its paths, its PEM and the base64 SHA-256 of its
 * public key (what Chromium's --ignore-certificate-errors-spki-list takes).
 */
export async function makeCert(dir) {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=tickroom test",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ]);
  const pem = await readFile(cert, "utf8");
  const spki = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  return { cert, key, pem, spki: createHash("sha256").update(spki).digest("base64") };
}

/**
 * siteConfig returns deploy/nginx.conf with the upstream addresses of the
 * server, the given listen ports and certificate in place of the example's,
 * and the WebSocket access log in dir.
 */
export async function siteConfig({ httpAddr, wsAddr, adminAddr, ports, cert, dir }) {
  let conf = await readFile(join(REPO, "deploy/nginx.conf"), "utf8");
  const swap = (from, to) => {
    if (!conf.includes(from)) throw new Error(`deploy/nginx.conf no longer has ${from}`);
    conf = conf.split(from).join(to);
  };
  swap("server 127.0.0.1:8080;", `server ${httpAddr};`);
  swap("server 127.0.0.1:8081;", `server ${wsAddr};`);
  swap("server 127.0.0.1:9090;", `server ${adminAddr};`);
  swap("/etc/ssl/tickroom/fullchain.pem", cert.cert);
  swap("/etc/ssl/tickroom/privkey.pem", cert.key);
  swap("/var/log/nginx/access.log", join(dir, "access.log"));
  conf = conf.replace(/^\s*listen \[::\].*$/gm, "");
  swap("listen 80;", `listen 127.0.0.1:${ports.http};`);
  // The first TLS server is the players' site, the second the admin's.
  const tls = [ports.play, ports.admin];
  conf = conf.replace(/listen 443 ssl http2;/g, () => `listen 127.0.0.1:${tls.shift()} ssl http2;`);
  if (tls.length !== 0) throw new Error("deploy/nginx.conf: expected two TLS servers");
  return conf;
}

/**
 * startNginx runs nginx with the site in front of server (startServer's
 * result plus adminAddr) on free loopback ports, again on fresh ones when
 * one was taken before nginx bound it, and resolves with the play and
 * admin base URLs, the certificate, and stop().
 */
export async function startNginx(server) {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: run scripts/install-nginx.sh`);
  return withFreePorts(["http", "play", "admin"], (ports) => startNginxOn(server, ports));
}

// startNginxOn is one try of startNginx on the given ports.
async function startNginxOn(server, ports) {
  const dir = await mkdtemp(join(tmpdir(), "tickroom-nginx-"));
  const cert = await makeCert(dir);
  const site = await siteConfig({
    httpAddr: new URL(server.httpUrl).host, wsAddr: server.wsAddr, adminAddr: server.adminAddr, ports, cert, dir,
  });
  await writeFile(join(dir, "site.conf"), site);
  const root = process.getuid?.() === 0;
  await writeFile(join(dir, "nginx.conf"), [
    "daemon off;",
    root ? "user root;" : "",
    "worker_processes 1;",
    `pid ${join(dir, "nginx.pid")};`,
    `error_log ${join(dir, "error.log")} warn;`,
    "events { worker_connections 256; }",
    "http {",
    // Debian's nginx.conf logs every request of the http context in the
    // combined format (request line with its query, and the Referer), so
    // a location the site file does not log otherwise lands there.
    `  access_log ${join(dir, "access.log")};`,
    ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${join(dir, t)};`),
    "  types { text/html html; text/javascript js; text/css css; }",
    `  proxy_bind ${PROXY_SOURCE};`,
    `  include ${join(dir, "site.conf")};`,
    "}",
    "",
  ].join("\n"));
  const args = ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")];
  await run(NGINX, ["-t", ...args]).catch(async (err) => {
    throw new Error(`nginx -t refused the configuration: ${err.stderr}\n${site}`);
  });
  const proc = spawn(NGINX, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (b) => (stderr += b));
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  await waitServing({
    what: "nginx", exited, log: () => nginxLog(dir, stderr),
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
    async errorLog() {
      return readFile(join(dir, "error.log"), "utf8").catch(() => "");
    },
    async accessLog() {
      return readFile(join(dir, "access.log"), "utf8").catch(() => "");
    },
    async stop() {
      await endProcess(proc, exited);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// nginxLog is what nginx wrote to stderr and to its error log in dir.
async function nginxLog(dir, stderr) {
  return stderr + (await readFile(join(dir, "error.log"), "utf8").catch(() => ""));
}

/** STREAM_MODULE is nginx's stream module (Debian: libnginx-mod-stream). */
export const STREAM_MODULE = process.env.NGINX_STREAM_MODULE || "/usr/lib/nginx/modules/ngx_stream_module.so";

/**
 * streamConfig returns deploy/nginx-stream.conf with the server's
 * addresses, the given listen ports and certificate in place of the
 * example's, connecting upstream from PROXY_SOURCE.
 */
export async function streamConfig({ httpAddr, wsAddr, ports, cert }) {
  let conf = await readFile(join(REPO, "deploy/nginx-stream.conf"), "utf8");
  const swap = (from, to) => {
    if (!conf.includes(from)) throw new Error(`deploy/nginx-stream.conf no longer has ${from}`);
    conf = conf.split(from).join(to);
  };
  swap("proxy_pass 127.0.0.1:8081;", `proxy_pass ${wsAddr};\n        proxy_bind ${PROXY_SOURCE};`);
  swap("proxy_pass 127.0.0.1:8080;", `proxy_pass ${httpAddr};\n        proxy_bind ${PROXY_SOURCE};`);
  swap("/etc/ssl/tickroom/fullchain.pem", cert.cert);
  swap("/etc/ssl/tickroom/privkey.pem", cert.key);
  conf = conf.replace(/^\s*listen \[::\].*$/gm, "");
  swap("listen 8443 ssl;", `listen 127.0.0.1:${ports.ws} ssl;`);
  swap("listen 443 ssl;", `listen 127.0.0.1:${ports.play} ssl;`);
  return conf;
}

/**
 * startNginxStream runs nginx with deploy/nginx-stream.conf (TLS and the
 * PROXY protocol) in front of server on ports ({play, ws}: the server must
 * be told the WebSocket URL before nginx starts) and resolves with the play
 * URL, the WebSocket URL, the certificate and stop(). It rejects with a
 * PortTakenError when a port was taken before nginx bound it: start the
 * server and this under withFreePorts to try fresh ones.
 */
export async function startNginxStream(server, ports) {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: run scripts/install-nginx.sh`);
  if (!existsSync(STREAM_MODULE)) throw new Error(`${STREAM_MODULE} is missing: run scripts/install-nginx.sh`);
  const dir = await mkdtemp(join(tmpdir(), "tickroom-nginx-stream-"));
  const cert = await makeCert(dir);
  const conf = await streamConfig({ httpAddr: new URL(server.httpUrl).host, wsAddr: server.wsAddr, ports, cert });
  await writeFile(join(dir, "stream.conf"), conf);
  const root = process.getuid?.() === 0;
  await writeFile(join(dir, "nginx.conf"), [
    `load_module ${STREAM_MODULE};`,
    "daemon off;",
    root ? "user root;" : "",
    "worker_processes 1;",
    `pid ${join(dir, "nginx.pid")};`,
    `error_log ${join(dir, "error.log")} warn;`,
    "events { worker_connections 256; }",
    `include ${join(dir, "stream.conf")};`,
    "",
  ].join("\n"));
  const args = ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")];
  await run(NGINX, ["-t", ...args]).catch(async (err) => {
    throw new Error(`nginx -t refused the configuration: ${err.stderr}\n${conf}`);
  });
  const proc = spawn(NGINX, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (b) => (stderr += b));
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  await waitServing({
    what: "nginx", exited, log: () => nginxLog(dir, stderr),
    checks: [presentsCert(ports.play, cert.pem), presentsCert(ports.ws, cert.pem)],
  }).catch(async (err) => {
    await endProcess(proc, exited);
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    playUrl: `https://127.0.0.1:${ports.play}`,
    wsUrl: `wss://127.0.0.1:${ports.ws}/v1/ws`,
    cert,
    async errorLog() {
      return readFile(join(dir, "error.log"), "utf8").catch(() => "");
    },
    async stop() {
      await endProcess(proc, exited);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
