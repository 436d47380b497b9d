/**
 * Lerp blends two values: t = 0 gives a, t = 1 gives b.
 */
export type Lerp<T> = (a: T, b: T, t: number) => T;

/** InterpolationOptions configures an {@link InterpolationBuffer}. */
export interface InterpolationOptions {
  /**
   * delayMs is how far behind "now" the buffer renders, so that a snapshot on
   * each side of the render time is usually at hand. Absent means 100 ms (a
   * little over two server ticks at 20 Hz plus jitter); zero renders at now.
   */
  delayMs?: number;
  /**
   * maxSnapshots bounds the snapshots kept per entity; the oldest go first.
   * Zero or absent means 32.
   */
  maxSnapshots?: number;
}

/** Snapshot is one timed value of an entity. */
export interface Snapshot<T> {
  time: number;
  value: T;
}

/** InterpolationSample is what {@link InterpolationBuffer.sample} returns. */
export interface InterpolationSample<T> {
  value: T;
  /**
   * clamped is true when the render time fell outside the snapshots held and
   * the nearest one was returned as is (no extrapolation).
   */
  clamped: boolean;
}

/**
 * InterpolationBuffer smooths remote entities: it keeps time-stamped
 * snapshots per entity and renders each at now - delayMs by linear
 * interpolation between the snapshots on either side. Before the first
 * snapshot or after the last it clamps to the nearest one.
 *
 * Times are plain numbers in milliseconds on any monotonic clock the caller
 * picks (arrival time from performance.now(), or tick × tick length for
 * jitter-free motion); they only have to agree between push and sample.
 *
 * Deltas carry only entities that changed, so an entity idle for a while and
 * then moving would glide across the whole idle span. Pass holdSince (the
 * time of the previous state) to push: when the last snapshot is older, the
 * buffer first repeats the last value at holdSince, and the motion starts
 * where it really did.
 */
export class InterpolationBuffer<K, T> {
  readonly delayMs: number;
  readonly maxSnapshots: number;
  private readonly lerp: Lerp<T>;
  private readonly tracks = new Map<K, Snapshot<T>[]>();

  /** InterpolationBuffer's constructor takes the function that blends two values. */
  constructor(lerp: Lerp<T>, options: InterpolationOptions = {}) {
    this.lerp = lerp;
    this.delayMs = options.delayMs ?? 100;
    this.maxSnapshots = Math.max(2, Math.floor(options.maxSnapshots || 32));
    if (!(this.delayMs >= 0) || !Number.isFinite(this.delayMs)) {
      throw new RangeError(`tickroom: interpolation delayMs must be a finite number >= 0, got ${this.delayMs}`);
    }
  }

  /** size is the number of entities with snapshots. */
  get size(): number {
    return this.tracks.size;
  }

  /** snapshots returns an entity's snapshots, oldest first; treat them as read-only. */
  snapshots(id: K): readonly Snapshot<T>[] {
    return this.tracks.get(id) ?? [];
  }

  /**
   * push records the entity's value at time. A snapshot older than the
   * newest held is dropped (it arrived out of order); one at the same time
   * replaces it. It returns false when the snapshot was dropped.
   */
  push(id: K, time: number, value: T, holdSince?: number): boolean {
    let track = this.tracks.get(id);
    if (!track) {
      track = [];
      this.tracks.set(id, track);
    }
    const last = track[track.length - 1];
    if (last) {
      if (time < last.time) return false;
      if (time === last.time) {
        last.value = value;
        return true;
      }
      if (holdSince !== undefined && last.time < holdSince && holdSince < time) {
        track.push({ time: holdSince, value: last.value });
      }
    }
    track.push({ time, value });
    if (track.length > this.maxSnapshots) track.splice(0, track.length - this.maxSnapshots);
    return true;
  }

  /** remove forgets an entity, as when it leaves the state. */
  remove(id: K): void {
    this.tracks.delete(id);
  }

  /** clear forgets every entity. */
  clear(): void {
    this.tracks.clear();
  }

  /**
   * sample returns the entity's value at render time now - delayMs, or
   * undefined when the entity has no snapshot. Snapshots older than the one
   * just before the render time are discarded, since render time only moves
   * forward.
   */
  sample(id: K, now: number): InterpolationSample<T> | undefined {
    const track = this.tracks.get(id);
    if (!track || track.length === 0) return undefined;
    const renderTime = now - this.delayMs;
    const first = track[0]!;
    if (renderTime <= first.time) return { value: first.value, clamped: renderTime < first.time };
    const last = track[track.length - 1]!;
    if (renderTime >= last.time) {
      if (track.length > 1) track.splice(0, track.length - 1);
      return { value: last.value, clamped: renderTime > last.time };
    }
    // Find the last snapshot at or before renderTime; tracks are short.
    let i = 0;
    while (track[i + 1]!.time <= renderTime) i++;
    if (i > 0) {
      track.splice(0, i);
      i = 0;
    }
    const a = track[i]!;
    const b = track[i + 1]!;
    const t = (renderTime - a.time) / (b.time - a.time);
    return { value: this.lerp(a.value, b.value, t), clamped: false };
  }
}

/** lerpNumber blends two numbers linearly. */
export function lerpNumber(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}

/** lerpAngle blends two angles in radians along the shorter way round. */
export function lerpAngle(a: number, b: number, t: number): number {
  const twoPi = Math.PI * 2;
  let d = (b - a) % twoPi;
  if (d > Math.PI) d -= twoPi;
  if (d < -Math.PI) d += twoPi;
  return a + d * t;
}

/**
 * lerpFields returns a Lerp for objects whose listed keys are numbers: those
 * keys are blended, every other property is taken from b (the newer value).
 */
export function lerpFields<T extends object>(keys: readonly (keyof T)[]): Lerp<T> {
  return (a, b, t) => {
    const out = { ...b };
    for (const k of keys) {
      (out as Record<keyof T, unknown>)[k] = lerpNumber(a[k] as number, b[k] as number, t);
    }
    return out;
  };
}
