/** BoundedQueueOptions configures a {@link BoundedQueue}. */
export interface BoundedQueueOptions<T> {
  /** maxItems bounds the number of items. Zero or absent means 64. */
  maxItems?: number;
  /** maxBytes bounds the summed size of the items. Zero or absent means 64 KiB. */
  maxBytes?: number;
  /** sizeOf returns an item's size in bytes. Absent means every item counts as 0 bytes. */
  sizeOf?: (item: T) => number;
}

/**
 * BoundedQueue is a FIFO with a cap on both count and bytes. When a push
 * would exceed either cap the oldest items are dropped (and counted) to make
 * room: for game inputs buffered during a reconnect the newest matter most,
 * and the server's acks tell the predictor which were lost. An item larger
 * than maxBytes on its own is refused.
 */
export class BoundedQueue<T> {
  readonly maxItems: number;
  readonly maxBytes: number;
  private readonly sizeOf: (item: T) => number;
  private items: { item: T; size: number }[] = [];
  private byteCount = 0;
  private droppedCount = 0;

  /** BoundedQueue's constructor takes the caps; see BoundedQueueOptions for their defaults. */
  constructor(options: BoundedQueueOptions<T> = {}) {
    this.maxItems = Math.max(1, Math.floor(options.maxItems || 64));
    this.maxBytes = Math.max(1, Math.floor(options.maxBytes || 64 * 1024));
    this.sizeOf = options.sizeOf ?? (() => 0);
  }

  /** length is the number of items queued. */
  get length(): number {
    return this.items.length;
  }

  /** bytes is the summed size of the items queued. */
  get bytes(): number {
    return this.byteCount;
  }

  /** dropped counts items dropped or refused because a cap was reached. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** push appends an item, dropping the oldest to fit; it returns false when the item alone is over maxBytes. */
  push(item: T): boolean {
    const size = this.sizeOf(item);
    if (size > this.maxBytes) {
      this.droppedCount++;
      return false;
    }
    this.items.push({ item, size });
    this.byteCount += size;
    let drop = 0;
    while (this.items.length - drop > this.maxItems || this.byteCount > this.maxBytes) {
      this.byteCount -= this.items[drop]!.size;
      drop++;
    }
    if (drop > 0) {
      this.items.splice(0, drop);
      this.droppedCount += drop;
    }
    return true;
  }

  /** drain removes and returns every item, oldest first. */
  drain(): T[] {
    const out = this.items.map((e) => e.item);
    this.items = [];
    this.byteCount = 0;
    return out;
  }

  /** shiftWhile removes the oldest items as long as pred holds for them, without counting them as dropped; it returns how many it removed. */
  shiftWhile(pred: (item: T) => boolean): number {
    let n = 0;
    while (n < this.items.length && pred(this.items[n]!.item)) {
      this.byteCount -= this.items[n]!.size;
      n++;
    }
    if (n > 0) this.items.splice(0, n);
    return n;
  }

  /** removeWhere removes the items pred holds for, wherever they are, without counting them as dropped; it returns how many it removed. */
  removeWhere(pred: (item: T) => boolean): number {
    const kept = this.items.filter((e) => !pred(e.item));
    const n = this.items.length - kept.length;
    if (n > 0) {
      this.items = kept;
      this.byteCount = kept.reduce((sum, e) => sum + e.size, 0);
    }
    return n;
  }

  /** clear drops every item without counting them as dropped. */
  clear(): void {
    this.items = [];
    this.byteCount = 0;
  }
}
