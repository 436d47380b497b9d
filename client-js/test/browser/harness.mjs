// Browser test harness: a static file server on 127.0.0.1:0 over the
// client-js folder and Debian's Chromium driven by playwright-core. No
// browser is downloaded: scripts/install-chromium.sh installs
// /usr/bin/chromium (CHROMIUM_PATH overrides it).
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

/** ROOT is the client-js folder, the static server's document root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** CHROMIUM is the browser binary the tests drive. */
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** CHROMIUM_ARGS keep the browser quiet, offline and headless. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".css": "text/css",
};

/**
 * startStaticServer serves files under root on 127.0.0.1 at a free port and
 * resolves with its base URL and a close function. Paths outside root are 403.
 */
export async function startStaticServer(root = ROOT) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = normalize(join(root, path));
    if (!file.startsWith(normalize(root + sep)) && file !== normalize(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * launchBrowser starts Chromium with a fresh profile and resolves with the
 * browser context and a close function that also removes the profile.
 */
export async function launchBrowser() {
  const profile = await mkdtemp(join(tmpdir(), "tickroom-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * withPage runs fn with a fresh page and the static server's base URL, and
 * tears everything down afterwards. Console errors and uncaught page
 * exceptions are collected in errors for the test to assert on.
 */
export async function withPage(fn) {
  const server = await startStaticServer();
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(msg.text());
    });
    return await fn({ page, baseUrl: server.url, errors });
  } finally {
    await browser.close();
    await server.close();
  }
}

/**
 * stateEvents opens a room's event stream over https, trusting only the
 * certificate ca, and resolves with its headers and its text up to its
 * count-th "state" event (the keyframe, then deltas the stream wrote).
 */
export function stateEvents(url, ca, count) {
  return new Promise((resolve, reject) => {
    const req = get(url, { ca }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events: ${res.statusCode}`));
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => {
        text += d;
        if ((text.match(/event: state\ndata: .*\n\n/g) ?? []).length >= count) {
          req.destroy();
          resolve({ headers: res.headers, text });
        }
      });
    });
    req.on("error", (err) => (err.code === "ECONNRESET" ? undefined : reject(err)));
    req.setTimeout(20_000, () => reject(new Error(`no ${count} state events in 20 s`)));
  });
}
