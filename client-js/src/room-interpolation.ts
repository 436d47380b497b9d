import { InterpolationBuffer, type InterpolationOptions, type InterpolationSample, type Lerp } from "./interpolation.js";
import type { Room } from "./room.js";

/** RoomInterpolationOptions configures {@link interpolateRoom}. */
export interface RoomInterpolationOptions<T> extends InterpolationOptions {
  /** decode turns an entity's bytes into the value to blend (the game's message, or just its position). */
  decode: (bytes: Uint8Array, id: bigint) => T;
  /** lerp blends two decoded values. */
  lerp: Lerp<T>;
  /** include picks the entities to smooth (absent: all); leave out the locally predicted player. */
  include?: (id: bigint) => boolean;
  /** clock gives the arrival time of each state in ms. Absent means performance.now (or Date.now). */
  clock?: () => number;
}

/** RoomInterpolation is what {@link interpolateRoom} returns. */
export interface RoomInterpolation<T> {
  /** buffer holds the snapshots, keyed by entity id. */
  readonly buffer: InterpolationBuffer<bigint, T>;
  /** sample returns one entity's value to render at now (on the same clock). */
  sample(id: bigint, now: number): InterpolationSample<T> | undefined;
  /** sampleAll returns every tracked entity's value to render at now. */
  sampleAll(now: number): Map<bigint, T>;
  /** dispose stops listening to the room. */
  dispose(): void;
}

/**
 * interpolateRoom feeds a room's states into an InterpolationBuffer: each
 * upserted entity is decoded and pushed at the state's arrival time (holding
 * its previous value until the previous state, since deltas skip idle
 * entities), removed entities are dropped, and a keyframe drops those it
 * no longer lists.
 */
export function interpolateRoom<T>(room: Room, options: RoomInterpolationOptions<T>): RoomInterpolation<T> {
  const buffer = new InterpolationBuffer<bigint, T>(options.lerp, options);
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  const clock = options.clock ?? (perf ? () => perf.now() : () => Date.now());
  let previous: number | undefined;
  const off = room.on("state", ({ result }) => {
    const at = clock();
    for (const id of result.removed) buffer.remove(id);
    for (const id of result.upserted) {
      if (options.include && !options.include(id)) continue;
      const bytes = room.entities.get(id);
      if (!bytes) continue;
      buffer.push(id, at, options.decode(bytes, id), previous);
    }
    previous = at;
  });
  const offLeft = room.on("left", () => buffer.clear());
  return {
    buffer,
    sample: (id, now) => buffer.sample(id, now),
    sampleAll(now) {
      const out = new Map<bigint, T>();
      for (const id of room.entities.keys()) {
        const s = buffer.sample(id, now);
        if (s) out.set(id, s.value);
      }
      return out;
    },
    dispose() {
      off();
      offLeft();
      buffer.clear();
    },
  };
}
