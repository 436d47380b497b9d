/**
 * The monitor's memory of recent polls: each overview becomes one point of
 * every chart — gauges as they are, counters as rates over the time since
 * the previous poll, and tick lateness and send wait p99 over that same
 * window, from the growth of the server's cumulative histograms.
 */

/** Overview is the part of GET /v1/admin/overview the charts read. */
export interface Overview {
  time: string;
  uptime_sec: number;
  ready: boolean;
  /** not_ready says why /readyz answers 503 (draining, shutting down, a failed check). */
  not_ready?: string;
  counters: Record<string, number>;
  gauges: Record<string, number>;
  ticks?: { bounds_ms: number[]; lateness: number[]; duration: number[] };
  /** send_wait is how long rooms' frames waited from their tick to their write. */
  send_wait?: { bounds_ms: number[]; counts: number[] };
}

/** Series are the charts' columns, oldest first; null marks a gap. */
export interface Series {
  /** time is each point's time in Unix seconds. */
  time: number[];
  connections: (number | null)[];
  sessions: (number | null)[];
  rooms: (number | null)[];
  framesIn: (number | null)[];
  framesOut: (number | null)[];
  bytesIn: (number | null)[];
  bytesOut: (number | null)[];
  latenessP99: (number | null)[];
  sendWaitP99: (number | null)[];
}

/**
 * windowQuantile estimates the q-quantile (0..1) of the observations that
 * arrived between two snapshots of a cumulative histogram, interpolating
 * inside the bucket as the server does (game.Histogram.Quantile); the
 * overflow bucket reports the largest bound. null when nothing arrived, or
 * the counts went down (the server restarted).
 */
export function windowQuantile(boundsMs: readonly number[], prev: readonly number[], cur: readonly number[], q: number): number | null {
  if (cur.length !== boundsMs.length + 1 || prev.length !== cur.length) return null;
  const d = cur.map((c, i) => c - prev[i]!);
  if (d.some((x) => x < 0)) return null;
  const total = d.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < d.length; i++) {
    const c = d[i]!;
    if (c === 0) continue;
    if (seen + c >= rank) {
      if (i === boundsMs.length) return boundsMs[boundsMs.length - 1]!;
      const lo = i > 0 ? boundsMs[i - 1]! : 0;
      return lo + ((rank - seen) / c) * (boundsMs[i]! - lo);
    }
    seen += c;
  }
  return boundsMs[boundsMs.length - 1]!;
}

/** rate is (cur - prev) / dt, or null when there is no window or a counter went down. */
function rate(prev: number | undefined, cur: number | undefined, dt: number): number | null {
  if (prev === undefined || cur === undefined || dt <= 0 || cur < prev) return null;
  return (cur - prev) / dt;
}

/** counterRate is counter k's rate per second from poll before to poll o, or null. */
export function counterRate(before: Overview | undefined, o: Overview, k: string): number | null {
  if (!before) return null;
  return rate(before.counters[k], o.counters[k], (Date.parse(o.time) - Date.parse(before.time)) / 1000);
}

/** History keeps the last maxPoints polls as chart series. */
export class History {
  private readonly points: Series = {
    time: [],
    connections: [],
    sessions: [],
    rooms: [],
    framesIn: [],
    framesOut: [],
    bytesIn: [],
    bytesOut: [],
    latenessP99: [],
    sendWaitP99: [],
  };
  private prev: Overview | undefined;

  constructor(readonly maxPoints = 300) {}

  /** length is the number of points kept. */
  get length(): number {
    return this.points.time.length;
  }

  /** push adds o as the newest point, dropping the oldest past maxPoints. A poll older than the last is ignored. */
  push(o: Overview): void {
    const t = Date.parse(o.time) / 1000;
    const p = this.prev;
    const pt = p ? Date.parse(p.time) / 1000 : NaN;
    if (p && !(t > pt)) return;
    const dt = p ? t - pt : 0;
    const c = (k: string) => o.counters[k];
    const pc = (k: string) => p?.counters[k];
    const s = this.points;
    s.time.push(t);
    s.connections.push(o.gauges["tcp_connections"] ?? null);
    s.sessions.push(o.gauges["sessions"] ?? null);
    s.rooms.push(o.gauges["rooms"] ?? null);
    s.framesIn.push(rate(pc("frames_in"), c("frames_in"), dt));
    s.framesOut.push(rate(pc("frames_out"), c("frames_out"), dt));
    s.bytesIn.push(rate(pc("bytes_in"), c("bytes_in"), dt));
    s.bytesOut.push(rate(pc("bytes_out"), c("bytes_out"), dt));
    s.latenessP99.push(p?.ticks && o.ticks ? windowQuantile(o.ticks.bounds_ms, p.ticks.lateness, o.ticks.lateness, 0.99) : null);
    s.sendWaitP99.push(p?.send_wait && o.send_wait ? windowQuantile(o.send_wait.bounds_ms, p.send_wait.counts, o.send_wait.counts, 0.99) : null);
    if (s.time.length > this.maxPoints) {
      for (const col of Object.values(s)) (col as unknown[]).shift();
    }
    this.prev = o;
  }

  /** series returns the columns; they stay the History's and change on push. */
  series(): Readonly<Series> {
    return this.points;
  }
}
