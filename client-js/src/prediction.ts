/** PendingInput is an input sent to the server and not yet acknowledged. */
export interface PendingInput<T> {
  /** seq is the input's sequence number, from 1 upwards. */
  seq: number;
  input: T;
}

/**
 * ReconcileHook is called with each authoritative state's ack: acked is the
 * last input the server applied and pending the inputs sent after it, oldest
 * first. A game resets its predicted player to the server's state and
 * replays pending on top of it.
 */
export type ReconcileHook<T> = (acked: number, pending: readonly PendingInput<T>[]) => void;

/** InputPredictorOptions configures an {@link InputPredictor}. */
export interface InputPredictorOptions<T> {
  /**
   * maxPending bounds the unacknowledged inputs kept for replay; past it the
   * oldest are dropped (and counted), since a server that far behind will
   * send a correction anyway. Zero or absent means 256.
   */
  maxPending?: number;
  /** onReconcile is the reconcile hook; absent means none (call ack and read pending instead). */
  onReconcile?: ReconcileHook<T>;
}

/** MAX_SEQ is the largest input sequence number (Input.seq is a uint32); the next is 1. */
export const MAX_SEQ = 0xffffffff;

/**
 * seqAfter reports whether input sequence number a comes after b, as the
 * server compares them: numbering wraps from MAX_SEQ to 1, so a comes after
 * b when it is 1 to 2^31 - 1 ahead of it modulo 2^32 (serial numbers,
 * RFC 1982); anything comes after 0 (none).
 */
export function seqAfter(a: number, b: number): boolean {
  if (b === 0) return a !== 0;
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}

/**
 * InputPredictor numbers a player's inputs and keeps those the server has
 * not acknowledged, for client-side prediction: the game applies each input
 * locally at once, sends it with its seq, and on every state calls ack with
 * the seat's ack so the hook can rewind to the server's state and replay the
 * rest.
 *
 * Sequence numbers start at 1 (0 means "nothing acknowledged"), wrap from
 * MAX_SEQ to 1 (compared with seqAfter), and keep counting across
 * reconnects: a resumed seat is the same player to the server. Stale acks
 * (before one seen) are ignored; an ack after the newest input (a seat
 * resumed after a reload) moves numbering past it.
 */
export class InputPredictor<T> {
  readonly maxPending: number;
  private readonly hook: ReconcileHook<T> | undefined;
  private queue: PendingInput<T>[] = [];
  private seq = 0;
  private acked = 0;
  private droppedCount = 0;

  /** InputPredictor's constructor takes the bound and the optional reconcile hook. */
  constructor(options: InputPredictorOptions<T> = {}) {
    this.maxPending = Math.max(1, Math.floor(options.maxPending || 256));
    this.hook = options.onReconcile;
  }

  /** lastSeq is the sequence number of the newest input, 0 before the first. */
  get lastSeq(): number {
    return this.seq;
  }

  /** lastAcked is the highest ack seen, 0 before the first. */
  get lastAcked(): number {
    return this.acked;
  }

  /** pending lists unacknowledged inputs, oldest first; treat it as read-only. */
  get pending(): readonly PendingInput<T>[] {
    return this.queue;
  }

  /** dropped counts inputs dropped from pending because maxPending was reached. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** next numbers a new input and keeps it as pending; send the returned seq with it. */
  next(input: T): PendingInput<T> {
    this.seq = this.seq >= MAX_SEQ ? 1 : this.seq + 1;
    const p: PendingInput<T> = { seq: this.seq, input };
    this.queue.push(p);
    if (this.queue.length > this.maxPending) {
      const over = this.queue.length - this.maxPending;
      this.queue.splice(0, over);
      this.droppedCount += over;
    }
    return p;
  }

  /**
   * ack records the server's last applied input, drops the pending inputs up
   * to it and calls the reconcile hook with the rest. It returns false, and
   * calls nothing, for an ack before one already seen.
   */
  ack(seq: number): boolean {
    if (this.acked !== 0 && seqAfter(this.acked, seq)) return false;
    this.acked = seq;
    // The server remembers the seat's inputs across a page reload; number
    // new inputs above what it has applied so none looks like a duplicate.
    if (seqAfter(seq, this.seq)) this.seq = seq;
    let n = 0;
    while (n < this.queue.length && !seqAfter(this.queue[n]!.seq, seq)) n++;
    if (n > 0) this.queue.splice(0, n);
    this.hook?.(seq, this.queue);
    return true;
  }

  /**
   * forget drops from pending the inputs the server says it dropped (an
   * InputDropped, which a Room hands it: never applied, they never will be,
   * though a later ack passes over them) and, when any was pending, calls
   * the reconcile hook with the last ack and the rest, so the game stops
   * predicting with them. It returns how many it dropped.
   */
  forget(seqs: ReadonlySet<number>): number {
    const before = this.queue.length;
    this.queue = this.queue.filter((p) => !seqs.has(p.seq));
    const n = before - this.queue.length;
    if (n > 0) this.hook?.(this.acked, this.queue);
    return n;
  }

  /**
   * startAfter numbers new inputs above seq, the server's last applied input
   * of a seat resumed by a fresh client (Joined.last_input_seq), and takes it
   * as acknowledged; it calls no hook.
   */
  startAfter(seq: number): void {
    if (seqAfter(seq, this.seq)) this.seq = seq;
    if (seqAfter(seq, this.acked)) this.acked = seq;
  }

  /** reset forgets pending inputs and starts numbering over, for a new seat. */
  reset(): void {
    this.queue = [];
    this.seq = 0;
    this.acked = 0;
  }
}
