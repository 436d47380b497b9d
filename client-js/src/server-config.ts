/** ServerConfig is what a tickroom server's GET /v1/config tells a client. */
export interface ServerConfig {
  /** wsPort is the WebSocket server's port on the page's host. */
  wsPort: number;
  /** wsPath is the tickroom.v1 endpoint's path. */
  wsPath: string;
  /** wsUrl, when not empty, is where to connect instead: a path on the page's origin or a full wss:// URL (behind a TLS proxy). */
  wsUrl: string;
  /** subprotocol is the WebSocket subprotocol to offer. */
  subprotocol: string;
  /** games are the names of the games the server runs. */
  games: string[];
}

/** ServerConfigOptions configures {@link fetchServerConfig}. */
export interface ServerConfigOptions {
  /** fetch is the fetch function. Absent means globalThis.fetch. */
  fetch?: typeof fetch;
  /** signal aborts the request. */
  signal?: AbortSignal;
}

/**
 * fetchServerConfig reads GET /v1/config from the server's public HTTP
 * origin (the one login is on). It rejects with a TypeError for a network
 * error, and an Error naming the URL for an error status or a body that is
 * not the server's config.
 */
export async function fetchServerConfig(baseUrl: string, options: ServerConfigOptions = {}): Promise<ServerConfig> {
  const f = options.fetch ?? globalThis.fetch;
  const url = new URL("/v1/config", baseUrl).toString();
  const init: RequestInit = options.signal ? { signal: options.signal } : {};
  const res = await f(url, init);
  if (!res.ok) throw new Error(`tickroom: GET ${url}: ${res.status} ${res.statusText}`);
  const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
  if (!body || typeof body["ws_port"] !== "number" || typeof body["ws_path"] !== "string") {
    throw new Error(`tickroom: GET ${url} is not a tickroom server's config`);
  }
  return {
    wsPort: body["ws_port"],
    wsPath: body["ws_path"],
    wsUrl: typeof body["ws_url"] === "string" ? body["ws_url"] : "",
    subprotocol: typeof body["subprotocol"] === "string" ? body["subprotocol"] : "tickroom.v1",
    games: Array.isArray(body["games"]) ? body["games"].filter((g): g is string => typeof g === "string") : [],
  };
}

/**
 * resolveWebSocketUrl turns a server config into the WebSocket endpoint for
 * a page (or program) talking to the HTTP origin baseUrl: config.wsUrl
 * resolved against baseUrl when set, else baseUrl's host with config's
 * port and path; http becomes ws, https becomes wss.
 */
export function resolveWebSocketUrl(config: Pick<ServerConfig, "wsPort" | "wsPath" | "wsUrl">, baseUrl: string): string {
  let u: URL;
  if (config.wsUrl) {
    u = new URL(config.wsUrl, baseUrl);
  } else {
    u = new URL(config.wsPath, baseUrl);
    u.port = String(config.wsPort);
  }
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  return u.toString();
}

/**
 * webSocketUrl asks the server at the HTTP origin baseUrl (where login is,
 * such as "http://127.0.0.1:8080" under `make run`) for its config and
 * returns its WebSocket endpoint ("ws://127.0.0.1:8081/v1/ws").
 */
export async function webSocketUrl(baseUrl: string, options: ServerConfigOptions = {}): Promise<string> {
  return resolveWebSocketUrl(await fetchServerConfig(baseUrl, options), baseUrl);
}
