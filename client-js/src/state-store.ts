import type { State } from "./gen/tickroom/v1/state_pb.js";

/**
 * ApplyRejection says why {@link StateStore.apply} refused a State:
 *   - "no-keyframe": a delta arrived before any keyframe;
 *   - "base-mismatch": a delta's base_tick is not the store's tick, so
 *     applying it would corrupt the state; ask the server for a keyframe
 *     (resume with the store's tick);
 *   - "stale": a delta for a tick the store already has or has passed; it is
 *     ignored and needs no recovery;
 *   - "malformed": the patch does not follow the layout (docs/state-sync.md);
 *     the store is unchanged and needs a keyframe.
 */
export type ApplyRejection = "no-keyframe" | "base-mismatch" | "stale" | "malformed";

/** ApplyResult reports what one State did to the store. */
export type ApplyResult =
  | {
      ok: true;
      /** tick is the store's tick after applying. */
      tick: bigint;
      /** keyframe is true when the State replaced the whole state. */
      keyframe: boolean;
      /** upserted lists the ids of entities that appeared or changed. */
      upserted: bigint[];
      /** removed lists the ids of entities that left (including, for a keyframe, those it did not list). */
      removed: bigint[];
      /** globalsChanged is true when the room globals were replaced. */
      globalsChanged: boolean;
    }
  | {
      ok: false;
      reason: ApplyRejection;
      /** tick is the store's tick, unchanged; undefined before the first keyframe. */
      tick: bigint | undefined;
    };

// Patch flags and change heads (docs/state-sync.md).
const flagGlobals = 1;
const flagAcks = 2;
const flagChanged = 4;
const flagAdded = 8;
const headRemoved = 0;
const headWhole = 1;
const maxFields = 63;

/** Malformed is thrown inside the decoder and turned into a "malformed" rejection. */
class Malformed extends Error {}

/** Reader reads a patch; every read checks the bytes at hand. */
class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos === this.buf.length;
  }

  /** varint reads an unsigned varint as a number; values from 2^53 up are refused. */
  varint(): number {
    const b = this.buf;
    let p = this.pos;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (p >= b.length) throw new Malformed("truncated varint");
      const x = b[p++]!;
      v += (x & 0x7f) * mul;
      if (x < 0x80) {
        if (v > Number.MAX_SAFE_INTEGER) break;
        this.pos = p;
        return v;
      }
      mul *= 128;
    }
    throw new Malformed("varint too large");
  }

  /** varint64 reads an unsigned varint as a number when below 2^53, else as a bigint. */
  varint64(): number | bigint {
    const b = this.buf;
    let p = this.pos;
    // Fast path: up to 7 bytes (below 2^49) as a number.
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      if (p >= b.length) throw new Malformed("truncated varint");
      const x = b[p++]!;
      v += (x & 0x7f) * mul;
      if (x < 0x80) {
        this.pos = p;
        return v;
      }
      mul *= 128;
    }
    let big = BigInt(v);
    for (let i = 7; i < 10; i++) {
      if (p >= b.length) throw new Malformed("truncated varint");
      const x = b[p++]!;
      big |= BigInt(x & 0x7f) << BigInt(7 * i);
      if (x < 0x80) {
        this.pos = p;
        big &= 0xffff_ffff_ffff_ffffn;
        return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
      }
    }
    throw new Malformed("varint too long");
  }

  /** bytes reads a length-prefixed byte string (a view into the patch). */
  bytes(): Uint8Array {
    const n = this.varint();
    if (n > this.buf.length - this.pos) throw new Malformed("truncated bytes");
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  fixed(n: number): Uint8Array {
    if (n > this.buf.length - this.pos) throw new Malformed("truncated fixed");
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
}

/** Writer builds an entity's new bytes in a reused scratch buffer. */
class Writer {
  buf = new Uint8Array(256);
  pos = 0;

  reset(): void {
    this.pos = 0;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** copy appends src[from:to]; a loop for the few bytes a field has, cheaper than a subarray view. */
  copy(src: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n > 32) {
      this.bytes(src.subarray(from, to));
      return;
    }
    this.room(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = from; i < to; i++) buf[p++] = src[i]!;
    this.pos = p;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  varint(v: number | bigint): void {
    this.room(10);
    if (typeof v === "number") {
      while (v >= 0x80) {
        this.buf[this.pos++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      this.buf[this.pos++] = v;
      return;
    }
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  take(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

const writer = new Writer();
const twoTo64 = 1n << 64n;

/** addZigZag returns v + zigzag-decoded z, modulo 2^64 (a varint field's delta). */
function addZigZag(v: number | bigint, z: number | bigint): number | bigint {
  if (typeof v === "number" && typeof z === "number") {
    const d = z % 2 === 1 ? -(z + 1) / 2 : z / 2;
    const s = v + d;
    if (s >= 0 && s <= Number.MAX_SAFE_INTEGER) return s;
  }
  const zb = BigInt(z);
  const d = zb & 1n ? -((zb + 1n) >> 1n) : zb >> 1n;
  const s = (((BigInt(v) + d) % twoTo64) + twoTo64) % twoTo64;
  return s <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(s) : s;
}

/** skipVarint returns the offset after the varint at p in b, or -1 when it is truncated or longer than 10 bytes. */
function skipVarint(b: Uint8Array, p: number): number {
  for (let i = 0; i < 10; i++, p++) {
    if (p >= b.length) return -1;
    if (b[p]! < 0x80) return p + 1;
  }
  return -1;
}

/** readOldVarint reads the varint at p in b (known to be well formed) as a number below 2^53 or a bigint. */
function readOldVarint(b: Uint8Array, p: number, end: number): number | bigint {
  if (end - p <= 7) {
    let v = 0;
    let mul = 1;
    for (; p < end; p++, mul *= 128) v += (b[p]! & 0x7f) * mul;
    return v;
  }
  return new Reader(b.subarray(p, end)).varint64();
}

/**
 * applyFields rebuilds an entity from its old bytes and the changed field
 * values in r, per mask, in one pass over the old fields: every tag and
 * unchanged value is copied, changed ones are written anew.
 */
function applyFields(old: Uint8Array, mask: number | bigint, r: Reader): Uint8Array {
  const small = typeof mask === "number" && mask < 0x8000_0000;
  const m = small ? 0n : BigInt(mask);
  const w = writer;
  w.reset();
  let p = 0;
  let i = 0;
  while (p < old.length) {
    if (i === maxFields) throw new Malformed("field change to an entity with too many fields");
    const tag = p;
    p = skipVarint(old, p);
    if (p < 0 || p - tag > 5) throw new Malformed("field change to an entity that is not protobuf");
    const type = old[tag]! & 7;
    const val = p;
    switch (type) {
      case 0:
        p = skipVarint(old, p);
        break;
      case 1:
        p += 8;
        break;
      case 5:
        p += 4;
        break;
      case 2: {
        const q = skipVarint(old, p);
        if (q < 0) throw new Malformed("field change to an entity that is not protobuf");
        const n = Number(readOldVarint(old, p, q));
        p = q + n;
        break;
      }
      default:
        throw new Malformed("field change to an entity that is not protobuf");
    }
    if (p < 0 || p > old.length) throw new Malformed("field change to an entity that is not protobuf");
    const set = small ? (i < 31 ? ((mask as number) >>> i) & 1 : 0) : Number((m >> BigInt(i)) & 1n);
    w.copy(old, tag, val);
    if (!set) {
      w.copy(old, val, p);
    } else {
      switch (type) {
        case 0:
          w.varint(addZigZag(readOldVarint(old, val, p), r.varint64()));
          break;
        case 1:
          w.bytes(r.fixed(8));
          break;
        case 5:
          w.bytes(r.fixed(4));
          break;
        default: {
          const b = r.bytes();
          w.varint(b.length);
          w.bytes(b);
        }
      }
    }
    i++;
  }
  if (small ? i < 31 && (mask as number) >>> i !== 0 : m >> BigInt(i) !== 0n) {
    throw new Malformed("field mask past the entity's fields");
  }
  return w.take();
}

/** zigzag-decoded ack value: 0 means the seat has no ack any more. */
function applyAck(base: number, value: number): number {
  if (value === 0) return 0;
  const z = value - 1;
  const d = z % 2 === 1 ? -(z + 1) / 2 : z / 2;
  return (base + d) >>> 0;
}

/**
 * StateStore keeps a room's entities (id → encoded game message), its globals
 * and the per-seat input acks, by applying keyframes and deltas in order.
 *
 * A State carries its content in patch, in the layout of docs/state-sync.md:
 * a keyframe builds everything from nothing; a delta changes, removes or
 * adds entities against the state at base_tick (a moved entity as the
 * changed protobuf fields alone) and applies only onto that tick. Any other
 * delta is refused and the store marks itself as needing a keyframe until
 * one arrives; a malformed patch is refused the same way and changes
 * nothing. Entity bytes are the store's own copies, never views into a
 * frame, so a long-lived entity does not keep a whole old frame alive.
 */
export class StateStore {
  private readonly map = new Map<bigint, Uint8Array>();
  private ids: bigint[] = []; // sorted, the order deltas index entities in
  private currentTick: bigint | undefined;
  private globalBytes: Uint8Array = new Uint8Array(0);
  private readonly acks = new Map<number, number>();
  private wantKeyframe = false;
  // Scratch of applyPatch, reused so that a delta allocates little more
  // than its entities' new bytes and the result: the decoded ack changes
  // (seat, value; -1 for a +1 step) and entity changes (base index, new
  // bytes or undefined for removed), in pairs.
  private readonly ackScratch: number[] = [];
  private readonly changeIdx: number[] = [];
  private readonly changeBytes: (Uint8Array | undefined)[] = [];

  /** tick is the tick of the state held, or undefined before the first keyframe. */
  get tick(): bigint | undefined {
    return this.currentTick;
  }

  /** hasState is true once a keyframe has been applied. */
  get hasState(): boolean {
    return this.currentTick !== undefined;
  }

  /** needsKeyframe is true after a refused delta, until the next keyframe. */
  get needsKeyframe(): boolean {
    return this.wantKeyframe;
  }

  /** entities is the live entity map; treat it as read-only. */
  get entities(): ReadonlyMap<bigint, Uint8Array> {
    return this.map;
  }

  /** size is the number of entities held. */
  get size(): number {
    return this.map.size;
  }

  /** globals is the room-wide message of the game, encoded; empty when the game has none. */
  get globals(): Uint8Array {
    return this.globalBytes;
  }

  /** get returns one entity's encoded message, or undefined when it does not exist. */
  get(id: bigint): Uint8Array | undefined {
    return this.map.get(id);
  }

  /** ackFor returns the last input sequence number the server applied for the seat, or undefined. */
  ackFor(seat: number): number | undefined {
    return this.acks.get(seat);
  }

  /** apply applies one keyframe or delta and reports what changed, or why it was refused. */
  apply(state: State): ApplyResult {
    if (!state.keyframe) {
      if (this.currentTick === undefined) {
        this.wantKeyframe = true;
        return { ok: false, reason: "no-keyframe", tick: undefined };
      }
      if (state.tick <= this.currentTick) {
        return { ok: false, reason: "stale", tick: this.currentTick };
      }
      if (state.baseTick !== this.currentTick) {
        this.wantKeyframe = true;
        return { ok: false, reason: "base-mismatch", tick: this.currentTick };
      }
    }
    try {
      return this.applyPatch(state);
    } catch (e) {
      if (!(e instanceof Malformed)) throw e;
      this.wantKeyframe = true;
      return { ok: false, reason: "malformed", tick: this.currentTick };
    }
  }

  // applyPatch decodes the whole patch first and changes the store only
  // when it all decoded.
  private applyPatch(state: State): ApplyResult {
    const keyframe = state.keyframe;
    const r = new Reader(state.patch);
    const flags = r.varint();
    if (flags & ~(flagGlobals | flagAcks | flagChanged | flagAdded) || (keyframe && flags & flagChanged)) {
      throw new Malformed("unknown flags");
    }
    let globals: Uint8Array | undefined;
    if (flags & flagGlobals) globals = r.bytes().slice();

    const ackSets = this.ackScratch;
    ackSets.length = 0;
    if (flags & flagAcks) {
      const up = r.bytes();
      for (let i = 0; i < up.length; i++) {
        for (let by = up[i]!, bit = 0; by !== 0; by >>>= 1, bit++) {
          if (by & 1) ackSets.push(i * 8 + bit + 1, -1);
        }
      }
      const n = r.varint();
      if (n > state.patch.length) throw new Malformed("ack count");
      let seat = 0;
      for (let k = 0; k < n; k++) {
        const gap = r.varint();
        const v = r.varint();
        seat += gap;
        if (gap === 0 || seat > 0xffff_ffff) throw new Malformed("ack seat");
        const i = seat - 1;
        if (i >> 3 < up.length && (up[i >> 3]! >> (i & 7)) & 1) throw new Malformed("ack seat listed twice");
        ackSets.push(seat, v);
      }
    }

    const base = keyframe ? [] : this.ids;
    const changedIdx = this.changeIdx;
    const changed = this.changeBytes;
    changedIdx.length = 0;
    changed.length = 0;
    if (flags & flagChanged) {
      const set = r.bytes();
      if (set.length > (base.length + 7) >> 3) throw new Malformed("change bitset past the entities");
      for (let i = 0; i < set.length; i++) {
        for (let by = set[i]!, bit = 0; by !== 0; by >>>= 1, bit++) {
          if (!(by & 1)) continue;
          const k = i * 8 + bit;
          if (k >= base.length) throw new Malformed("change past the entities");
          const h = r.varint64();
          changedIdx.push(k);
          if (h === headRemoved) changed.push(undefined);
          else if (h === headWhole) changed.push(r.bytes().slice());
          else {
            const mask = typeof h === "number" ? h - 1 : h - 1n;
            changed.push(applyFields(this.map.get(base[k]!)!, mask, r));
          }
        }
      }
    }

    const added: [bigint, Uint8Array][] = [];
    if (flags & flagAdded) {
      const n = r.varint();
      if (n > state.patch.length) throw new Malformed("added count");
      let id = 0n;
      for (let k = 0; k < n; k++) {
        const gap = r.varint64();
        if (k > 0 && gap === 0) throw new Malformed("added ids not ascending");
        id += BigInt(gap);
        if (id >= twoTo64) throw new Malformed("added id");
        added.push([id, r.bytes().slice()]);
      }
    }
    if (!r.done) throw new Malformed("trailing bytes");

    // Everything decoded: check the added ids, then commit.
    let removedSet: Set<number> | undefined;
    for (let j = 0; j < changed.length; j++) if (!changed[j]) (removedSet ??= new Set()).add(changedIdx[j]!);
    const keep = keyframe ? new Set<bigint>() : undefined;
    for (const [id] of added) {
      if (keep) keep.add(id);
      else if (this.map.has(id) && !removedSet?.has(lowerBound(base, id))) throw new Malformed("added id exists");
    }

    const upserted: bigint[] = [];
    const removed: bigint[] = [];
    if (keyframe) {
      for (const id of this.ids) if (!keep!.has(id)) removed.push(id);
      this.map.clear();
      this.ids = [];
    }
    for (let j = 0; j < changed.length; j++) {
      const id = base[changedIdx[j]!]!;
      const d = changed[j];
      changed[j] = undefined; // the scratch keeps no entity alive
      if (d) {
        this.map.set(id, d);
        upserted.push(id);
      } else {
        this.map.delete(id);
        removed.push(id);
      }
    }
    if (removedSet) this.ids = this.ids.filter((_, k) => !removedSet.has(k));
    if (added.length > 0) {
      for (const [id, d] of added) {
        this.map.set(id, d);
        upserted.push(id);
      }
      const last = this.ids.length > 0 ? this.ids[this.ids.length - 1]! : -1n;
      if (added[0]![0] > last) for (const [id] of added) this.ids.push(id);
      else this.ids = [...this.map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    }

    if (keyframe) {
      this.globalBytes = globals ?? new Uint8Array(0);
      this.acks.clear();
    } else if (globals) {
      this.globalBytes = globals;
    }
    for (let j = 0; j < ackSets.length; j += 2) {
      const seat = ackSets[j]!;
      const v = ackSets[j + 1]!;
      const seq = v < 0 ? ((this.acks.get(seat) ?? 0) + 1) >>> 0 : applyAck(this.acks.get(seat) ?? 0, v);
      if (seq === 0) this.acks.delete(seat);
      else this.acks.set(seat, seq);
    }
    this.currentTick = state.tick;
    this.wantKeyframe = false;
    return { ok: true, tick: state.tick, keyframe, upserted, removed, globalsChanged: keyframe || globals !== undefined };
  }

  /** reset forgets everything, as when leaving a room or joining afresh. */
  reset(): void {
    this.map.clear();
    this.ids = [];
    this.acks.clear();
    this.currentTick = undefined;
    this.globalBytes = new Uint8Array(0);
    this.wantKeyframe = false;
  }
}

/** lowerBound returns the index of the first id in sorted ids not below id. */
function lowerBound(ids: bigint[], id: bigint): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ids[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
