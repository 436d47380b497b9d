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
  /**
   * storage keeps the device secret a guest login returns, so the next
   * guest login on this device comes back as the same account. Absent
   * means globalThis.localStorage when the page has one; null keeps none.
   */
  storage?: DeviceStorage | null;
  /** storageKey is the storage key of the device secret. Absent means "tickroom.device". */
  storageKey?: string;
}

/** DeviceStorage is the part of the Web Storage API login uses. */
export type DeviceStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

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
  /** deviceSecret logs this account in again (a server that keeps accounts returns one); absent otherwise. */
  deviceSecret?: string;
}

/**
 * LoginRequest is a guest's display name; or an identity token from the
 * game's own sign-in (with an optional name); or a claimed name with its
 * password; or a device secret from an earlier login.
 */
export type LoginRequest = string | { name?: string; identityToken?: string; password?: string; deviceSecret?: string };

const defaultStorageKey = "tickroom.device";

function defaultStorage(): DeviceStorage | null {
  try {
    return (globalThis as { localStorage?: DeviceStorage }).localStorage ?? null;
  } catch {
    // Storage that is blocked (a sandboxed frame) throws on access.
    return null;
  }
}

/**
 * login signs in (POST /v1/login with JSON {"name"} for a guest,
 * {"identity_token", "name"}, {"name", "password"} or {"device_secret"})
 * and returns the session. The device secret a server that keeps accounts
 * returns is kept in options.storage (localStorage by default), and a
 * later guest login presents it to come back as the same account; a
 * password login's is returned in the session but not kept; when
 * the server no longer knows it (401), login forgets it and logs in as a
 * new guest. It rejects with a
 * TickroomError: "http" for an error status (the server's message in the
 * error's message), "protocol" for a reply that is not the expected JSON.
 */
export async function login(request: LoginRequest, options: LoginOptions = {}): Promise<Session> {
  const req = typeof request === "string" ? { name: request } : request;
  const storage = options.storage === undefined ? defaultStorage() : options.storage;
  const key = options.storageKey ?? defaultStorageKey;
  // A guest login (a name alone) on a device that has logged in before
  // comes back as the same account.
  const guest = req.identityToken === undefined && req.password === undefined && req.deviceSecret === undefined;
  const kept = guest ? readSecret(storage, key) : "";
  // A password login's secret is not kept: a later guest login on this
  // browser (another person at a shared computer) would present it and
  // come back as the password's account without the password.
  const keep = req.password === undefined ? storage : null;
  if (kept) {
    try {
      return await postLogin({ ...req, deviceSecret: kept }, options, keep, key);
    } catch (err) {
      // The server no longer knows the secret (a new database): forget
      // it and log in as a new guest.
      if (!(err instanceof TickroomError) || err.status !== 401) throw err;
      forgetSecret(storage, key);
    }
  }
  return postLogin(req, options, keep, key);
}

function readSecret(storage: DeviceStorage | null, key: string): string {
  try {
    return storage?.getItem(key) ?? "";
  } catch {
    return "";
  }
}

function forgetSecret(storage: DeviceStorage | null, key: string): void {
  try {
    storage?.removeItem(key);
  } catch {
    // Nothing kept, nothing to forget.
  }
}

async function postLogin(
  req: { name?: string; identityToken?: string; password?: string; deviceSecret?: string },
  options: LoginOptions,
  storage: DeviceStorage | null,
  key: string,
): Promise<Session> {
  const payload: Record<string, string> = {};
  if (req.name !== undefined) payload["name"] = req.name;
  if (req.identityToken !== undefined) payload["identity_token"] = req.identityToken;
  if (req.password !== undefined) payload["password"] = req.password;
  if (req.deviceSecret !== undefined) payload["device_secret"] = req.deviceSecret;
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
  // A JSON null (or any other non-object) has no token either.
  const token = body !== null && typeof body === "object" ? body["token"] : undefined;
  if (typeof token !== "string" || token === "") throw new TickroomError("protocol", "tickroom: login reply has no token");
  const session: Session = {
    token,
    userId: String(body["user_id"] ?? ""),
    name: String(body["name"] ?? req.name ?? ""),
    guest: body["guest"] === true,
    expiresAtMs: parseTime(body["expires_at"]),
  };
  const secret = body["device_secret"];
  if (typeof secret === "string" && secret !== "") {
    session.deviceSecret = secret;
    try {
      storage?.setItem(key, secret);
    } catch {
      // Full or blocked storage: the next login is a new guest.
    }
  }
  return session;
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
