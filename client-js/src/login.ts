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
  /** guest is true for a guest login (a name, no identity token). */
  guest: boolean;
  /** expiresAtMs is when the token expires, in Unix milliseconds; 0 when the server did not say. */
  expiresAtMs: number;
}

/** LoginRequest is a guest's display name, or an identity token from the game's own sign-in (with an optional name). */
export type LoginRequest = string | { name?: string; identityToken?: string };

/**
 * login signs in (POST /v1/login with JSON {"name"} for a guest, or
 * {"identity_token", "name"}) and returns the session. It rejects with a
 * TickroomError: "http" for an error status (the server's message in the
 * error's message), "protocol" for a reply that is not the expected JSON.
 */
export async function login(request: LoginRequest, options: LoginOptions = {}): Promise<Session> {
  const req = typeof request === "string" ? { name: request } : request;
  const payload: Record<string, string> = {};
  if (req.name !== undefined) payload["name"] = req.name;
  if (req.identityToken !== undefined) payload["identity_token"] = req.identityToken;
  const f = options.fetch ?? globalThis.fetch;
  const url = `${(options.baseUrl ?? "").replace(/\/+$/, "")}${options.path ?? "/v1/login"}`;
  const init: RequestInit = {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
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
  return {
    token,
    userId: String(body["user_id"] ?? ""),
    name: String(body["name"] ?? req.name ?? ""),
    guest: body["guest"] === true,
    expiresAtMs: parseTime(body["expires_at"]),
  };
}

// parseTime reads a time the server wrote as an RFC 3339 string or as Unix
// milliseconds; anything else is 0.
function parseTime(v: unknown): number {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string") {
    const t = Date.parse(v);
    return Number.isNaN(t) ? 0 : t;
  }
  return 0;
}
