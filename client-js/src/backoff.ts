/**
 * Backoff computes reconnect delays: exponential growth with "full jitter"
 * (each delay is drawn uniformly from zero up to the current cap), so that
 * many clients dropped at once by a restarting server do not all come back
 * in the same instant.
 *
 * The cap for attempt n (counting from 0) is min(maxMs, initialMs * factor^n).
 * Call {@link Backoff.next} before each reconnect attempt and
 * {@link Backoff.reset} once a connection has proved healthy.
 */
export interface BackoffOptions {
  /** initialMs is the cap of the first delay. Zero or absent means 250 ms. */
  initialMs?: number;
  /** maxMs is the largest cap any delay may reach. Zero or absent means 30 000 ms. */
  maxMs?: number;
  /** factor multiplies the cap after each attempt. Zero or absent means 2. */
  factor?: number;
  /**
   * random returns a number in [0, 1). Absent means Math.random; tests pass a
   * fixed source to get exact delays.
   */
  random?: () => number;
}

/** DEFAULT_BACKOFF holds the values used where BackoffOptions leaves a field unset. */
export const DEFAULT_BACKOFF = Object.freeze({
  initialMs: 250,
  maxMs: 30_000,
  factor: 2,
});

/** Backoff is the state of one reconnect sequence. It is not shared between connections. */
export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  private readonly random: () => number;
  private attempts = 0;

  /** Backoff's constructor validates options and throws a RangeError on a nonsensical one. */
  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs || DEFAULT_BACKOFF.initialMs;
    this.maxMs = options.maxMs || DEFAULT_BACKOFF.maxMs;
    this.factor = options.factor || DEFAULT_BACKOFF.factor;
    this.random = options.random ?? Math.random;
    if (!(this.initialMs > 0) || !Number.isFinite(this.initialMs)) {
      throw new RangeError(`tickroom: backoff initialMs must be a positive number, got ${this.initialMs}`);
    }
    if (!(this.maxMs >= this.initialMs) || !Number.isFinite(this.maxMs)) {
      throw new RangeError(`tickroom: backoff maxMs must be >= initialMs, got ${this.maxMs}`);
    }
    if (!(this.factor >= 1) || !Number.isFinite(this.factor)) {
      throw new RangeError(`tickroom: backoff factor must be >= 1, got ${this.factor}`);
    }
  }

  /** attempt is the number of delays handed out since the last reset. */
  get attempt(): number {
    return this.attempts;
  }

  /** cap is the upper bound of the delay the next call to next() returns. */
  cap(): number {
    // Computed by repeated multiplication with an early exit so a long
    // outage never overflows to Infinity or NaN.
    let c = this.initialMs;
    for (let i = 0; i < this.attempts && c < this.maxMs; i++) c *= this.factor;
    return Math.min(c, this.maxMs);
  }

  /**
   * next returns the delay in milliseconds before the next attempt and
   * advances the attempt count. limitMs, when positive, bounds this delay's
   * cap further (the jitter stays full below it).
   */
  next(limitMs = 0): number {
    const cap = limitMs > 0 ? Math.min(this.cap(), limitMs) : this.cap();
    this.attempts++;
    let r = this.random();
    if (!(r >= 0)) r = 0;
    if (r >= 1) r = 1 - Number.EPSILON;
    return Math.floor(r * cap);
  }

  /** reset starts the sequence over: the next delay is drawn from [0, initialMs) again. */
  reset(): void {
    this.attempts = 0;
  }
}

/**
 * RATE_LIMITED_MAX_MS caps {@link rateLimitedRetryMs}'s growing wait
 * before its jitter; a longer hint of the server's is waited whole.
 */
export const RATE_LIMITED_MAX_MS = 30_000;

/**
 * RATE_LIMITED_HINT_MAX_MS bounds the server's hint
 * {@link rateLimitedRetryMs} heeds: an hour, the longest a server sends.
 */
export const RATE_LIMITED_HINT_MAX_MS = 3_600_000;

/**
 * rateLimitedRetryMs is how long to wait before asking again for a room
 * list watch the server refused RATE_LIMITED with retryAfterMs, the
 * attempt-th time in a row (from 0): never less than retryAfterMs (up to
 * an hour), spread above it at random by up to half of it, and otherwise
 * from up to twice it, growing from 500 ms, to 30 s, spread down to half
 * (15 to 30 s at the cap), so that the clients of one address refused
 * together do not all come back at once, at the moment the server named
 * or at the cap. It is at most an hour and a half.
 */
export function rateLimitedRetryMs(retryAfterMs: number, attempt: number, random: () => number = Math.random): number {
  const hint = Math.min(Math.max(retryAfterMs, 0), RATE_LIMITED_HINT_MAX_MS);
  const r = random();
  const grown = Math.min(RATE_LIMITED_MAX_MS, 2 * Math.max(hint, 250 * 2 ** Math.min(attempt, 16)));
  return Math.max(hint * (1 + r / 2), grown * (0.5 + r / 2));
}
