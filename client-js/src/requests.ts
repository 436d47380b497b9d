import { TickroomError } from "./errors.js";

/**
 * MAX_DELAY_MS is the longest timer delay: a longer one runs at once (after
 * 1 ms), in browsers and Node alike, so a wait past it (a resume's, as long
 * as the server's resume window, which may be days) waits this long.
 */
const MAX_DELAY_MS = 0x7fff_ffff;

interface Pending<R> {
  resolve: (value: R) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  kind: string;
}

/**
 * RequestTracker matches replies to requests by request id: each request
 * gets a fresh id and a Promise that settles with the reply, or rejects with
 * a TickroomError on timeout, on too many requests in flight, or when the
 * connection drops (a reply can never come on a new socket).
 */
export class RequestTracker<R> {
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  private readonly pending = new Map<number, Pending<R>>();
  private nextId = 1;

  /** RequestTracker's constructor takes the per-request timeout and the in-flight bound. */
  constructor(timeoutMs = 10_000, maxInFlight = 64) {
    this.timeoutMs = timeoutMs;
    this.maxInFlight = maxInFlight;
  }

  /** inFlight is the number of requests awaiting a reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * start reserves a request id and returns it with the reply's Promise. The
   * caller sends the request with that id; if sending fails it calls fail.
   */
  start(kind: string, timeoutMs = this.timeoutMs): { id: number; reply: Promise<R> } {
    if (this.pending.size >= this.maxInFlight) {
      return {
        id: 0,
        reply: Promise.reject(new TickroomError("too-many-requests", `tickroom: ${this.pending.size} requests already awaiting a reply`)),
      };
    }
    const id = this.nextId;
    // Request ids are uint32 on the wire and 0 means "not a reply".
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const reply = new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TickroomError("timeout", `tickroom: ${kind} got no reply within ${timeoutMs} ms`));
      }, Math.min(timeoutMs, MAX_DELAY_MS));
      this.pending.set(id, { resolve, reject, timer, kind });
    });
    return { id, reply };
  }

  /** resolve settles the request with the reply; it returns false for an id not awaiting one. */
  resolve(id: number, value: R): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(value);
    return true;
  }

  /** fail rejects one request; it returns false for an id not awaiting a reply. */
  fail(id: number, err: Error): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.reject(err);
    return true;
  }

  /** failAll rejects every request awaiting a reply, as when the socket closes. */
  failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}
