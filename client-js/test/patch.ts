// A server's side of state sync for tests: it keeps the state of every tick
// it produced and encodes keyframes and deltas as State.patch
// (docs/state-sync.md), entities sent whole unless a test writes a field
// change by hand.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { StateSchema, type State } from "../src/gen/tickroom/v1/state_pb.js";

const enc = new TextEncoder();

/** StateSpec describes one State: entities upserted and removed, globals and absolute acks. */
export interface StateSpec {
  tick: number;
  base?: number;
  key?: boolean;
  up?: Record<number, string | Uint8Array>;
  rm?: number[];
  globals?: string;
  /** clearGlobals sets the globals to empty. */
  clearGlobals?: boolean;
  /** acks are [seat, seq] pairs, absolute; seq 0 drops the seat's ack. */
  acks?: [number, number][];
  roomId?: string;
  roomRef?: number;
}

interface Snap {
  ents: Map<bigint, Uint8Array>;
  acks: Map<number, number>;
  globals: Uint8Array;
}

/** Bytes is a growable byte buffer with varint writes. */
export class Bytes {
  private out: number[] = [];

  varint(v: number | bigint): this {
    let x = BigInt(v);
    while (x >= 0x80n) {
      this.out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.out.push(Number(x));
    return this;
  }

  raw(b: Uint8Array | number[]): this {
    for (const x of b) this.out.push(x);
    return this;
  }

  lenBytes(b: Uint8Array): this {
    return this.varint(b.length).raw(b);
  }

  bitset(bits: number[]): this {
    const set: number[] = [];
    for (const i of bits) {
      while (set.length <= i >> 3) set.push(0);
      set[i >> 3]! |= 1 << (i & 7);
    }
    return this.varint(set.length).raw(set);
  }

  get bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

const zigzag = (v: number): number => (v >= 0 ? 2 * v : -2 * v - 1);

/** ServerSim produces States as the server would, each against the state of its base tick. */
export class ServerSim {
  private readonly history = new Map<number, Snap>();

  state(s: StateSpec): State {
    const key = s.key ?? false;
    const base: Snap = (!key && this.history.get(s.base ?? -1)) || { ents: new Map(), acks: new Map(), globals: new Uint8Array(0) };
    const next: Snap = { ents: new Map(key ? [] : base.ents), acks: new Map(key ? [] : base.acks), globals: base.globals };
    for (const id of s.rm ?? []) next.ents.delete(BigInt(id));
    for (const [id, v] of Object.entries(s.up ?? {})) next.ents.set(BigInt(id), typeof v === "string" ? enc.encode(v) : v);
    if (key) next.globals = enc.encode(s.globals ?? "");
    else if (s.globals !== undefined) next.globals = enc.encode(s.globals);
    else if (s.clearGlobals) next.globals = new Uint8Array(0);
    for (const [seat, seq] of s.acks ?? []) {
      if (seq === 0) next.acks.delete(seat);
      else next.acks.set(seat, seq);
    }
    this.history.set(s.tick, next);
    // Keep the last ticks only, as the server's ring does.
    for (const t of this.history.keys()) if (t < s.tick - 32) this.history.delete(t);
    const globalsSet = key || s.globals !== undefined || (s.clearGlobals ?? false);
    const patch = encodePatch(key ? emptySnap() : base, next, globalsSet);
    const msg = create(StateSchema, {
      roomId: key ? (s.roomId ?? "r1") : "",
      roomRef: s.roomRef ?? 1,
      tick: BigInt(s.tick),
      baseTick: key ? 0n : BigInt(s.base ?? 0),
      keyframe: key,
      patch,
    });
    // Encoded and decoded again, so the patch is a view into a frame.
    return fromBinary(StateSchema, toBinary(StateSchema, msg));
  }
}

function emptySnap(): Snap {
  return { ents: new Map(), acks: new Map(), globals: new Uint8Array(0) };
}

const sorted = (ids: Iterable<bigint>): bigint[] => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** encodePatch encodes the patch from base to next; entities go whole. */
export function encodePatch(base: Snap, next: Snap, globalsSet: boolean): Uint8Array {
  const body = new Bytes();
  const seats = [...new Set([...base.acks.keys(), ...next.acks.keys()])].sort((a, b) => a - b);
  const up: number[] = [];
  const others: [number, number][] = [];
  for (const seat of seats) {
    const b = base.acks.get(seat) ?? 0;
    const n = next.acks.get(seat) ?? 0;
    if (b === n) continue;
    if (n === b + 1) up.push(seat - 1);
    else others.push([seat, n === 0 ? 0 : zigzag(n - b) + 1]);
  }
  const baseIds = sorted(base.ents.keys());
  const changed: [number, Uint8Array | undefined][] = [];
  baseIds.forEach((id, k) => {
    const n = next.ents.get(id);
    if (!n) changed.push([k, undefined]);
    else if (!same(n, base.ents.get(id)!)) changed.push([k, n]);
  });
  const added = sorted([...next.ents.keys()].filter((id) => !base.ents.has(id)));
  let flags = 0;
  if (globalsSet) flags |= 1;
  if (up.length + others.length > 0) flags |= 2;
  if (changed.length > 0) flags |= 4;
  if (added.length > 0) flags |= 8;
  body.varint(flags);
  if (globalsSet) body.lenBytes(next.globals);
  if (flags & 2) {
    body.bitset(up).varint(others.length);
    let prev = 0;
    for (const [seat, v] of others) {
      body.varint(seat - prev).varint(v);
      prev = seat;
    }
  }
  if (flags & 4) {
    body.bitset(changed.map(([k]) => k));
    for (const [, d] of changed) {
      if (d) body.varint(1).lenBytes(d);
      else body.varint(0);
    }
  }
  if (flags & 8) {
    body.varint(added.length);
    let prev = 0n;
    for (const id of added) {
      body.varint(id - prev).lenBytes(next.ents.get(id)!);
      prev = id;
    }
  }
  return body.bytes;
}
