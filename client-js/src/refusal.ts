import { TickroomError } from "./errors.js";

/**
 * How the client learns why a WebSocket upgrade was refused.
 *
 * The server refuses a bad upgrade with an HTTP status before the 101: 401
 * for a missing, forged or expired session token, 403 for an origin not on
 * its allowlist, 404 for a path with no endpoint. Browsers hide that
 * status: the page sees close code 1006, exactly as when the network is
 * down. So after a socket closes before it opened, the client finds out:
 *
 *   1. when the WebSocket implementation reports the status (Node's `ws`
 *      package does, in its error event: "Unexpected server response: 401"),
 *      that status decides;
 *   2. otherwise it asks the server's HTTP side (POST /v1/session with the
 *      token as a bearer header; a POST, so browsers send the Origin): 401
 *      and 403 come back as they would have on the upgrade, and a 200 names
 *      the server's WebSocket path, which a 404 would have been about;
 *   3. anything else (no answer, another status, the same path) means the
 *      server or the network is down, and the client retries with backoff.
 *
 * 401 ends the connection with an "unauthorized" TickroomError (log in
 * again); 403 and 404 with a "misconfigured" one naming the URL.
 */

/** HandshakeFailure describes a socket that closed before it opened. */
export interface HandshakeFailure {
  /** url is the WebSocket endpoint, without the token. */
  url: string;
  /** token is the session token the socket offered. */
  token: string | undefined;
  /** status is the refused upgrade's HTTP status when the WebSocket implementation reported it, else 0. */
  status: number;
}

/** SessionCheckOptions configures {@link checkSession}. */
export interface SessionCheckOptions {
  /** httpUrl is the server's public HTTP origin, such as "https://play.example.com". */
  httpUrl: string;
  /** fetch is the fetch function. Absent means globalThis.fetch. */
  fetch?: typeof fetch;
  /** timeoutMs bounds the request. Zero or absent means 5000 ms. */
  timeoutMs?: number;
}

/** refusalError maps a refused upgrade's HTTP status to the error that ends the connection, or undefined when a retry may help. */
export function refusalError(status: number, url: string, detail = ""): TickroomError | undefined {
  const why = detail ? `: ${detail}` : "";
  switch (status) {
    case 401:
      return new TickroomError("unauthorized", `tickroom: the server refused the session token (401${why}); log in again`, { status, url });
    case 403:
      return new TickroomError("misconfigured", `tickroom: ${url} refused this client (403${why}); the server's -origins list must include this page's origin`, { status, url });
    case 404:
      return new TickroomError("misconfigured", `tickroom: no tickroom endpoint at ${url} (404${why}); check the WebSocket URL`, { status, url });
    default:
      return undefined;
  }
}

/** statusFromError reads the HTTP status out of a WebSocket error event, as Node's `ws` package reports it; 0 when there is none. */
export function statusFromError(ev: unknown): number {
  const e = ev as { message?: unknown; error?: { message?: unknown } } | null;
  const text = [e?.message, e?.error?.message].find((m) => typeof m === "string") as string | undefined;
  const m = text ? /Unexpected server response: (\d{3})/.exec(text) : null;
  return m ? Number(m[1]) : 0;
}

/**
 * checkSession asks the server's HTTP side why an upgrade to failure.url
 * failed (see the comment at the top of this module) and resolves with the
 * error that should end the connection, or undefined when a retry may help.
 * It never rejects.
 */
export async function checkSession(failure: HandshakeFailure, options: SessionCheckOptions): Promise<TickroomError | undefined> {
  const f = options.fetch ?? globalThis.fetch;
  if (!f) return undefined;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), options.timeoutMs || 5000);
  try {
    const res = await f(`${options.httpUrl.replace(/\/+$/, "")}/v1/session`, {
      method: "POST",
      headers: failure.token ? { authorization: `Bearer ${failure.token}` } : {},
      signal: ctl.signal,
    });
    const body = (await res.json().catch(() => ({}))) as { error?: unknown; ws_path?: unknown; ws_url?: unknown };
    const detail = typeof body.error === "string" ? body.error : "";
    if (res.status === 401 || res.status === 403) return refusalError(res.status, failure.url, detail);
    if (!res.ok) return undefined;
    const want = expectedPath(body, options.httpUrl);
    const have = new URL(failure.url).pathname;
    if (want && want !== have) return refusalError(404, failure.url, `the server's WebSocket path is ${want}`);
    return undefined;
  } catch {
    return undefined; // the HTTP side is unreachable too: the network or the server is down
  } finally {
    clearTimeout(timer);
  }
}

function expectedPath(body: { ws_path?: unknown; ws_url?: unknown }, base: string): string {
  if (typeof body.ws_url === "string" && body.ws_url !== "") {
    try {
      return new URL(body.ws_url, base).pathname;
    } catch {
      return "";
    }
  }
  return typeof body.ws_path === "string" ? body.ws_path : "";
}

/**
 * normalizeWebSocketUrl checks url at once: it must parse (a relative URL
 * resolves against the page's address in a browser) with a ws:, wss:,
 * http: or https: scheme; http(s) becomes ws(s). It throws a
 * "misconfigured" TickroomError otherwise.
 */
export function normalizeWebSocketUrl(url: string): string {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  let u: URL;
  try {
    u = base ? new URL(url, base) : new URL(url);
  } catch {
    throw new TickroomError("misconfigured", `tickroom: malformed WebSocket URL ${JSON.stringify(url)}`, { url });
  }
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new TickroomError("misconfigured", `tickroom: WebSocket URL ${JSON.stringify(url)} must start with ws:// or wss://`, { url });
  }
  if (u.hash) throw new TickroomError("misconfigured", `tickroom: WebSocket URL ${JSON.stringify(url)} must not have a #fragment`, { url });
  return u.toString();
}

// redirectError returns the protocol error of a Redirect whose url is no
// WebSocket URL (a buggy or hostile server), which the connection cannot
// move to, or a ws: URL while the connection, at from, is on wss: (a node
// whose -node-ws-url is its plain address), where the session token in
// the URL would travel unencrypted; undefined for a good one.
export function redirectError(url: string, from: string): TickroomError | undefined {
  let to: string;
  try {
    to = normalizeWebSocketUrl(url);
  } catch {
    return new TickroomError("protocol", `tickroom: redirect to ${JSON.stringify(url)}, not a WebSocket URL`, { url });
  }
  if (from.startsWith("wss:") && !to.startsWith("wss:")) {
    return new TickroomError("protocol", `tickroom: redirect to ${JSON.stringify(url)} refused: it would leave TLS (wss:) and send the session token unencrypted`, { url });
  }
  return undefined;
}
