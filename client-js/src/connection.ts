import { Backoff, type BackoffOptions } from "./backoff.js";
import { closeCodeInfo, type CloseCodeInfo } from "./close-codes.js";
import { Emitter } from "./emitter.js";
import type { TickroomError } from "./errors.js";
import { normalizeWebSocketUrl, refusalError, statusFromError, type HandshakeFailure } from "./refusal.js";

/**
 * SocketHandler is the type of a WebSocketLike's event handler property.
 * It is a method's type, which TypeScript compares both ways, so that a
 * class whose handlers take a richer event (the DOM's Event and
 * MessageEvent, the ws package's) fits: the connection only reads the
 * fields named here.
 */
export type SocketHandler<E> = { handle(ev: E): void }["handle"];

/**
 * WebSocketLike is the part of the browser's WebSocket that the connection
 * uses, so tests and non-browser hosts can inject their own class (the ws
 * package's WebSocket in Node 20, as it is).
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount?: number;
  send(data: Uint8Array | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  onopen: SocketHandler<unknown> | null;
  onmessage: SocketHandler<{ data: unknown }> | null;
  onclose: SocketHandler<{ code: number; reason: string }> | null;
  onerror: SocketHandler<unknown> | null;
}

/** WebSocketConstructor builds a WebSocketLike, as `new WebSocket(url, protocols)` does. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** SUBPROTOCOL is the WebSocket subprotocol the tickroom server speaks. */
export const SUBPROTOCOL = "tickroom.v1";

/**
 * PROTOCOL_VERSION is the protocol version this client speaks. Every socket
 * declares it in the upgrade request's protocol_version query parameter; a
 * server that does not serve it closes with UNSUPPORTED_VERSION (4507), and
 * Client closes with that code itself when a Welcome names a newer version.
 */
export const PROTOCOL_VERSION = 2;

/**
 * ConnectionState is where a connection is in its life:
 *   - "idle": built, connect not called yet;
 *   - "connecting": the first socket is opening;
 *   - "open": a socket is open;
 *   - "reconnecting": the socket dropped and a new one is due or opening;
 *   - "closed": for good, by close() or a terminal close code.
 */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** ConnectionOptions configures a {@link Connection}. */
export interface ConnectionOptions {
  /**
   * url is the WebSocket endpoint, such as "wss://host/v1/ws". It is checked
   * by the constructor: a malformed URL throws a "misconfigured"
   * TickroomError at once.
   */
  url: string;
  /**
   * token is the session token from login, sent as the token query
   * parameter. Absent sends none. The protocol_version parameter
   * ({@link PROTOCOL_VERSION}) is sent either way.
   */
  token?: string;
  /** protocols are the subprotocols offered. Absent means ["tickroom.v1"]. */
  protocols?: string[];
  /** WebSocket is the socket class. Absent means globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** backoff shapes reconnect delays; see BackoffOptions for defaults. */
  backoff?: BackoffOptions;
  /** reconnect turns automatic reconnection off when false (moveTo and reconnectNow still open a socket at once). Absent means on. */
  reconnect?: boolean;
  /** maxReconnectAttempts gives up after that many failed attempts in a row. Zero or absent means never. */
  maxReconnectAttempts?: number;
  /**
   * slowDelayMs is added to the backoff delay after a close code that asks
   * for a longer pause (rate limited, overloaded). Zero or absent means 5000 ms.
   */
  slowDelayMs?: number;
  /**
   * connectTimeoutMs drops a socket that has not opened, or not delivered
   * its first message (the server's Welcome), in that time. Zero or absent
   * means 10 000 ms.
   */
  connectTimeoutMs?: number;
  /**
   * maxDelayMs is asked before each reconnect for a bound on that delay's
   * cap (zero: none); Client uses it to retry often enough to resume its
   * seats within the server's resume window.
   */
  maxDelayMs?: () => number;
  /**
   * onlineEvents is where "online" events come from: when one fires while a
   * reconnect is pending, the wait is cut short. Absent means globalThis
   * when it is an event target (a browser window), else none.
   */
  onlineEvents?: OnlineEventSource;
  /**
   * diagnose is asked why a socket closed before it opened when the
   * WebSocket implementation did not report the refused upgrade's status
   * (browsers never do; see refusal.ts). An error it resolves with ends the
   * connection for good; undefined means retry as usual. Absent means
   * retry.
   */
  diagnose?: (failure: HandshakeFailure) => Promise<TickroomError | undefined>;
  /** onListenerError receives errors thrown by the connection's event listeners. Absent means rethrow on a fresh task. */
  onListenerError?: (err: unknown) => void;
}

/** OnlineEventSource is the part of a window that reports the network coming back. */
export interface OnlineEventSource {
  addEventListener(type: "online", fn: () => void): void;
  removeEventListener(type: "online", fn: () => void): void;
}

/** CloseDetails describes a socket that closed. */
export interface CloseDetails {
  code: number;
  reason: string;
  info: CloseCodeInfo;
  /** willReconnect is true when a new socket is scheduled. */
  willReconnect: boolean;
  /** delayMs is the wait before the next attempt, when willReconnect. */
  delayMs: number;
  /**
   * error is set when the connection ended because the server refused the
   * upgrade: "unauthorized" (401: log in again) or "misconfigured" (403,
   * 404). code is then 4501 (UNAUTHORIZED) for a 401, else 1006.
   */
  error?: TickroomError;
}

/** ConnectionEvents are the events a {@link Connection} emits. */
export interface ConnectionEvents {
  /** state reports every state change. */
  state: { state: ConnectionState; previous: ConnectionState };
  /** open reports an open socket; reconnect is false for the first one. */
  open: { reconnect: boolean };
  /** message carries one binary message's bytes. */
  message: Uint8Array;
  /** close reports a socket that closed, and what happens next. */
  close: CloseDetails;
}

/**
 * STABLE_MS is how long a socket stays up after its first message (the
 * server's Welcome) before the connection counts it healthy and starts its
 * backoff over. A server that greets and then closes at once (a crash
 * loop, a node that restarts) gets growing pauses; a resume's round trips
 * take well under it, and a network that drops less often than every few
 * seconds still starts each reconnect from the shortest delay.
 */
export const STABLE_MS = 5000;

// WebSocket readyState OPEN, the same in every implementation.
const OPEN = 1;

// closeSocket closes s with code and reason, or without them when the
// WebSocket refuses them: a browser takes only 1000 and 3000-4999, and a
// reason of at most 123 bytes, and closes nothing when it throws, which
// would leave a detached socket open, its user connected to the server.
function closeSocket(s: WebSocketLike, code: number, reason: string): void {
  try {
    s.close(code, reason);
    return;
  } catch {
    // Refused: close it plainly below.
  }
  try {
    s.close();
  } catch {
    // Closing a socket that never opened may throw in some hosts; it is gone anyway.
  }
}

/**
 * Connection is one logical connection to the server that survives dropped
 * sockets: it opens a WebSocket with binaryType "arraybuffer" and the
 * tickroom.v1 subprotocol, delivers each binary message as bytes, and after
 * a resumable close opens a new socket after an exponential, jittered
 * backoff. A terminal close code (4500-4999, or a standard code meaning the
 * server refuses our data) closes it for good. It knows nothing of the
 * protocol's messages: the Client on top resumes rooms on each reconnect.
 *
 * The backoff resets once a socket has stayed up {@link STABLE_MS} after its
 * first message (the server's Welcome), not on open nor on that message, so
 * a server that accepts, or greets, and drops at once still gets growing
 * pauses.
 */
export class Connection extends Emitter<ConnectionEvents> {
  private readonly opts: ConnectionOptions;
  private readonly WS: WebSocketConstructor;
  private readonly backoff: Backoff;
  private socket: WebSocketLike | undefined;
  private current: ConnectionState = "idle";
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** stableTimer counts STABLE_MS from the socket's first message. */
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private opened = false;
  private gotMessage = false;
  private socketOpened = false;
  private lastStatus = 0;
  private diagnosis: object | undefined;
  private readonly endpoint: string;
  private tokenValue: string | undefined;
  /** target is the node a cluster redirect sent this connection to, until the next drop. */
  private target: string | undefined;
  private readonly online: OnlineEventSource | undefined;
  private readonly onOnline = (): void => {
    if (this.current === "reconnecting" && this.socket === undefined && this.diagnosis === undefined) {
      this.clearTimer();
      this.openSocket();
    }
  };

  /**
   * Connection's constructor checks the options (a malformed url throws a
   * "misconfigured" TickroomError); call connect to open the first socket.
   */
  constructor(options: ConnectionOptions) {
    super(options.onListenerError);
    this.opts = options;
    this.endpoint = normalizeWebSocketUrl(options.url);
    this.tokenValue = options.token;
    const ws = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ws) throw new TypeError("tickroom: no WebSocket class; pass options.WebSocket");
    this.WS = ws;
    this.backoff = new Backoff(options.backoff);
    const g = globalThis as Partial<OnlineEventSource>;
    this.online = options.onlineEvents ?? (typeof g.addEventListener === "function" && typeof g.removeEventListener === "function" ? (g as OnlineEventSource) : undefined);
  }

  /** state is the connection's state. */
  get state(): ConnectionState {
    return this.current;
  }

  /** attempts counts failed connection attempts since the last healthy socket. */
  get attempts(): number {
    return this.failures;
  }

  /** setToken replaces the session token used by the next socket (after a new login). */
  setToken(token: string): void {
    this.tokenValue = token;
  }

  /** connect opens the first socket; calling it again while not idle or closed does nothing. */
  connect(): void {
    if (this.current !== "idle" && this.current !== "closed") return;
    this.target = undefined; // a new start is at the configured endpoint
    this.failures = 0;
    this.backoff.reset();
    this.opened = false;
    this.online?.addEventListener("online", this.onOnline);
    this.setState("connecting");
    this.openSocket();
  }

  /**
   * reconnectNow drops the current socket, if any, and opens a new one at
   * once; used when the page comes back online or the heartbeat failed.
   * code is reported in the close event. Like any drop, it goes back to
   * the configured endpoint (url), not to the node a redirect named: a
   * node that stopped answering may be gone, and the endpoint redirects
   * the client again to wherever its rooms are.
   */
  reconnectNow(code = 4003, reason = "reconnecting"): void {
    this.target = undefined;
    this.swapSocket(code, reason);
  }

  // swapSocket closes the current socket, if any, with code and opens a
  // new one at currentUrl at once.
  private swapSocket(code: number, reason: string): void {
    if (this.current === "closed" || this.current === "idle") return;
    this.clearTimer();
    this.diagnosis = undefined;
    const s = this.socket;
    if (s) {
      this.detach(s);
      this.socket = undefined;
      closeSocket(s, code, reason);
      this.emit("close", { code, reason, info: closeCodeInfo(code), willReconnect: true, delayMs: 0 });
      // A listener closed us (TypeScript does not see that emit can).
      if ((this.current as ConnectionState) === "closed") return;
    }
    this.setState("reconnecting");
    if ((this.current as ConnectionState) !== "reconnecting") return; // a state listener closed us
    this.openSocket();
  }

  /** send writes one binary message; it returns false when no socket is open. */
  send(data: Uint8Array): boolean {
    const s = this.socket;
    if (!s || this.current !== "open" || s.readyState !== OPEN) return false;
    s.send(data);
    return true;
  }

  /** bufferedAmount is the socket's bytes not yet handed to the network, 0 when none is open. */
  get bufferedAmount(): number {
    return this.socket?.bufferedAmount ?? 0;
  }

  /**
   * close closes the connection for good with a normal close code; no
   * reconnect follows. A code or reason the WebSocket refuses (a browser
   * takes 1000 and 3000-4999, and a reason of at most 123 bytes) closes the
   * socket without them; the close event still reports them.
   */
  close(code = 1000, reason = "client closed"): void {
    if (this.current === "closed") return;
    this.clearTimer();
    this.diagnosis = undefined;
    this.target = undefined; // open() starts at the configured endpoint again
    const s = this.socket;
    this.socket = undefined;
    if (s) {
      this.detach(s);
      closeSocket(s, code, reason);
    }
    this.setState("closed");
    this.emit("close", { code, reason, info: closeCodeInfo(code), willReconnect: false, delayMs: 0 });
  }

  /** url is the WebSocket endpoint, normalized (http(s) becomes ws(s)), without the token. */
  get url(): string {
    return this.endpoint;
  }

  /** currentUrl is where the socket connects now: the node a redirect named, else url. */
  get currentUrl(): string {
    return this.target ?? this.endpoint;
  }

  /**
   * moveTo drops the current socket and connects at once to another node
   * of a cluster (a Redirect's url), with the same token; the open event
   * follows as after any reconnect. A later drop reconnects to url, the
   * configured endpoint (a load balancer, or any node), which redirects
   * again to wherever the rooms are, so a node that died is never retried.
   */
  moveTo(url: string): void {
    this.target = normalizeWebSocketUrl(url);
    this.swapSocket(1000, "redirect");
  }

  private socketUrl(): string {
    const base = this.currentUrl;
    const sep = base.includes("?") ? "&" : "?";
    const version = `protocol_version=${PROTOCOL_VERSION}`;
    if (!this.tokenValue) return `${base}${sep}${version}`;
    return `${base}${sep}token=${encodeURIComponent(this.tokenValue)}&${version}`;
  }

  private openSocket(): void {
    this.gotMessage = false;
    this.socketOpened = false;
    this.lastStatus = 0;
    let s: WebSocketLike;
    try {
      s = new this.WS(this.socketUrl(), this.opts.protocols ?? [SUBPROTOCOL]);
    } catch {
      // A malformed URL throws at once; report it like a dropped socket.
      this.onSocketClose(undefined, 1006, "could not open socket");
      return;
    }
    s.binaryType = "arraybuffer";
    this.socket = s;
    const timeout = this.opts.connectTimeoutMs || 10_000;
    // The server speaks first (its Welcome): a socket that opened and then
    // stays silent (a network gone right after the upgrade, a stuck server)
    // is dropped like one that never opened; the heartbeat starts only
    // with the Welcome.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.socket === s && !this.gotMessage) {
        this.detach(s);
        try {
          s.close();
        } catch {
          // ignore: we are dropping it
        }
        this.onSocketClose(undefined, 1006, "connect timeout");
      }
    }, timeout);
    s.onopen = () => {
      if (this.socket !== s) return;
      this.socketOpened = true;
      const reconnect = this.opened;
      this.opened = true;
      this.setState("open");
      this.emit("open", { reconnect });
    };
    s.onmessage = (ev) => {
      if (this.socket !== s) return;
      const data = ev.data;
      if (!(data instanceof ArrayBuffer)) return; // text frames are not part of the protocol
      if (!this.gotMessage) {
        this.gotMessage = true;
        this.clearTimer();
        this.stableTimer = setTimeout(() => {
          this.stableTimer = undefined;
          if (this.socket !== s) return;
          this.failures = 0;
          this.backoff.reset();
        }, STABLE_MS);
      }
      this.emit("message", new Uint8Array(data));
    };
    s.onclose = (ev) => this.onSocketClose(s, ev.code, ev.reason);
    // Errors are always followed by close; the close event carries the
    // code. Node's ws package names a refused upgrade's status here.
    s.onerror = (ev) => {
      if (this.socket === s && !this.socketOpened) this.lastStatus = statusFromError(ev) || this.lastStatus;
    };
  }

  private onSocketClose(s: WebSocketLike | undefined, code: number, reason: string): void {
    if (s !== undefined && this.socket !== s) return;
    if (s) this.detach(s);
    this.socket = undefined;
    this.clearTimer();
    if (this.current === "closed") return;
    if (s !== undefined && !this.socketOpened) {
      // The upgrade failed: find out whether the server refused it for good.
      const failure: HandshakeFailure = { url: this.endpoint, token: this.tokenValue, status: this.lastStatus };
      const known = failure.status ? refusalError(failure.status, this.endpoint) : undefined;
      if (known) {
        this.refused(known, code, reason);
        return;
      }
      if (!failure.status && this.opts.diagnose) {
        const mine = {};
        this.diagnosis = mine;
        this.opts.diagnose(failure).then(
          (err) => this.diagnosed(mine, err, code, reason),
          () => this.diagnosed(mine, undefined, code, reason),
        );
        return;
      }
    }
    this.afterClose(code, reason);
  }

  // diagnosed continues after a failed upgrade was diagnosed, unless
  // something else (close, reconnectNow) happened meanwhile.
  private diagnosed(mine: object, err: TickroomError | undefined, code: number, reason: string): void {
    if (this.diagnosis !== mine) return;
    this.diagnosis = undefined;
    if (this.current === "closed" || this.socket !== undefined) return;
    if (err) this.refused(err, code, reason);
    else this.afterClose(code, reason);
  }

  // refused ends the connection for good because the server refused the
  // upgrade; a 401 is reported with the UNAUTHORIZED close code, so that
  // code written for the server's own close handles it too.
  private refused(error: TickroomError, code: number, reason: string): void {
    if (error.code === "unauthorized") {
      code = 4501;
      reason = error.message;
    }
    this.target = undefined; // open() starts at the configured endpoint again
    this.setState("closed");
    this.emit("close", { code, reason, info: closeCodeInfo(code), willReconnect: false, delayMs: 0, error });
  }

  private afterClose(code: number, reason: string): void {
    this.target = undefined; // back to the configured endpoint
    const info = closeCodeInfo(code);
    const max = this.opts.maxReconnectAttempts || 0;
    const retry = this.opts.reconnect !== false && info.kind === "resumable" && (max === 0 || this.failures < max);
    if (!retry) {
      this.setState("closed");
      this.emit("close", { code, reason, info, willReconnect: false, delayMs: 0 });
      return;
    }
    this.failures++;
    let delay = this.backoff.next(this.opts.maxDelayMs?.() || 0);
    if (info.slow) delay += this.opts.slowDelayMs || 5000;
    this.setState("reconnecting");
    if (this.current !== "reconnecting") return; // a state listener closed us
    this.emit("close", { code, reason, info, willReconnect: true, delayMs: delay });
    if (this.current !== "reconnecting") return; // a listener closed us
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.openSocket();
    }, delay);
  }

  private detach(s: WebSocketLike): void {
    s.onopen = null;
    s.onmessage = null;
    s.onclose = null;
    s.onerror = null;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.stableTimer !== undefined) {
      clearTimeout(this.stableTimer);
      this.stableTimer = undefined;
    }
  }

  private setState(state: ConnectionState): void {
    if (state === this.current) return;
    const previous = this.current;
    this.current = state;
    if (state === "closed") this.online?.removeEventListener("online", this.onOnline);
    this.emit("state", { state, previous });
  }
}
