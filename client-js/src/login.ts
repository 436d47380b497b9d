import { TickroomError } from "./errors.js";

/** LoginOptions configures {@link login}. */
export interface LoginOptions {
  /**
   * baseUrl is the server's HTTP origin, such as "https://play.example.com".
   * Absent means the page's own origin (relative request).
   */
  baseUrl?: string;
  /** path is the login endpoint. Absent means "/v1/login". */
  path?: string;
  /** fetch is the fetch function. Absent means globalThis.fetch. */
  fetch?: typeof fetch;
  /** signal aborts the request. */
  signal?: AbortSignal;
}

/** Session is what a successful login returns. */
export interface Session {
  /** token is the signed session token for connect. */
  token: string;
  /** userId is the user's stable id. */
  userId: string;
  /** name is the display name the server accepted. */
  name: string;
  /** expiresAt is when the token expires, as the server wrote it (Unix ms or an RFC 3339 string). */
  expiresAt: number | string;
}

/**
 * login signs in as a guest with a display name (POST /v1/login with JSON
 * {"name"}) and returns the session. It rejects with a TickroomError: "http"
 * for an error status (the server's message in the error's message),
 * "protocol" for a reply that is not the expected JSON.
 */
export async function login(name: string, options: LoginOptions = {}): Promise<Session> {
  const f = options.fetch ?? globalThis.fetch;
  const url = `${(options.baseUrl ?? "").replace(/\/+$/, "")}${options.path ?? "/v1/login"}`;
  const init: RequestInit = {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  };
  if (options.signal) init.signal = options.signal;
  const res = await f(url, init);
  const text = await res.text();
  if (!res.ok) {
    let message = text.trim();
    try {
      const j = JSON.parse(text) as { error?: unknown; message?: unknown };
      const m = j.message ?? j.error;
      if (typeof m === "string") message = m;
    } catch {
      // A plain-text error body is used as is.
    }
    throw new TickroomError("http", `tickroom: login failed (${res.status}): ${message || res.statusText}`, { status: res.status });
  }
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new TickroomError("protocol", "tickroom: login reply is not JSON");
  }
  const token = body["token"];
  if (typeof token !== "string" || token === "") throw new TickroomError("protocol", "tickroom: login reply has no token");
  const expires = body["expires_at"];
  return {
    token,
    userId: String(body["user_id"] ?? ""),
    name: String(body["name"] ?? name),
    expiresAt: typeof expires === "number" || typeof expires === "string" ? expires : 0,
  };
}

/**
 * webSocketUrl turns an HTTP origin into the WebSocket endpoint: http becomes
 * ws, https becomes wss, and path (absent: "/v1/ws") is appended.
 */
export function webSocketUrl(baseUrl: string, path = "/v1/ws"): string {
  const u = new URL(path, baseUrl);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  return u.toString();
}
