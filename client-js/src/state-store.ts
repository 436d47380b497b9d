import type { State } from "./gen/tickroom/v1/state_pb.js";

/**
 * ApplyRejection says why {@link StateStore.apply} refused a State:
 *   - "no-keyframe": a delta arrived before any keyframe;
 *   - "base-mismatch": a delta's base_tick is not the store's tick, so
 *     applying it would corrupt the state; ask the server for a keyframe
 *     (resume with the store's tick);
 *   - "stale": a delta for a tick the store already has or has passed; it is
 *     ignored and needs no recovery.
 */
export type ApplyRejection = "no-keyframe" | "base-mismatch" | "stale";

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

/**
 * StateStore keeps a room's entities (id → encoded game message), its globals
 * and the per-seat input acks, by applying keyframes and deltas in order.
 *
 * A keyframe replaces everything. A delta applies only onto the tick it was
 * computed from (base_tick == the store's tick); any other delta is refused
 * and the store marks itself as needing a keyframe until one arrives. Entity
 * bytes are copied out of the frame they arrived in so that a long-lived
 * entity does not keep a whole old frame alive.
 *
 * Globals: a keyframe always sets them; a delta replaces them only when its
 * globals_set is true, so a change to empty globals is told apart from no
 * change.
 */
export class StateStore {
  private readonly map = new Map<bigint, Uint8Array>();
  private currentTick: bigint | undefined;
  private globalBytes: Uint8Array = new Uint8Array(0);
  private readonly acks = new Map<number, number>();
  private wantKeyframe = false;

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
    if (state.keyframe) return this.applyKeyframe(state);
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
    if (this.wantKeyframe) {
      // A delta that happens to fit is still fine: it proves the server and
      // the store agree on the base state.
      this.wantKeyframe = false;
    }
    const upserted: bigint[] = [];
    for (const e of state.upserts) {
      this.map.set(e.id, e.data.slice());
      upserted.push(e.id);
    }
    const removed: bigint[] = [];
    for (const id of state.removed) {
      if (this.map.delete(id)) removed.push(id);
    }
    const globalsChanged = state.globalsSet;
    if (globalsChanged) this.globalBytes = state.globals.slice();
    this.mergeAcks(state);
    this.currentTick = state.tick;
    return { ok: true, tick: state.tick, keyframe: false, upserted, removed, globalsChanged };
  }

  private applyKeyframe(state: State): ApplyResult {
    const listed = new Set<bigint>();
    const upserted: bigint[] = [];
    for (const e of state.upserts) {
      listed.add(e.id);
      this.map.set(e.id, e.data.slice());
      upserted.push(e.id);
    }
    const removed: bigint[] = [];
    for (const id of [...this.map.keys()]) {
      if (!listed.has(id)) {
        this.map.delete(id);
        removed.push(id);
      }
    }
    this.globalBytes = state.globals.slice();
    this.mergeAcks(state);
    this.currentTick = state.tick;
    this.wantKeyframe = false;
    return { ok: true, tick: state.tick, keyframe: true, upserted, removed, globalsChanged: true };
  }

  private mergeAcks(state: State): void {
    for (const a of state.acks) this.acks.set(a.seat, a.seq);
  }

  /** reset forgets everything, as when leaving a room or joining afresh. */
  reset(): void {
    this.map.clear();
    this.acks.clear();
    this.currentTick = undefined;
    this.globalBytes = new Uint8Array(0);
    this.wantKeyframe = false;
  }
}
