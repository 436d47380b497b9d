/**
 * Human units for the monitor page: bytes in IEC units (KiB, MiB, …),
 * counts and rates with SI prefixes (k, M, G), durations in ms or s, each
 * with three significant digits. A value that is not a finite number (a
 * rate with no previous sample) shows as "–".
 */

const DASH = "–";

/** sig3 writes v (≥ 0) with three significant digits: 1.23, 12.3, 123. */
function sig3(v: number): string {
  if (v === 0) return "0";
  if (v >= 100) return Math.round(v).toString();
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function scaled(v: number, step: number, units: readonly string[], first: (v: number) => string): string {
  if (!Number.isFinite(v)) return DASH;
  const sign = v < 0 ? "-" : "";
  let a = Math.abs(v);
  if (a < step) return sign + first(a) + (units[0] ? " " + units[0] : "");
  let i = 0;
  while (a >= step && i < units.length - 1) {
    a /= step;
    i++;
  }
  // 1023.9 KiB would round to "1024 KiB", four digits: move up a unit.
  if (Number(sig3(a)) >= 1000 && i < units.length - 1) {
    a /= step;
    i++;
  }
  return `${sign}${sig3(a)} ${units[i]}`;
}

const bytesUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;
const siUnits = ["", "k", "M", "G", "T"] as const;

/** formatBytes writes a byte count: "512 B", "1.50 KiB", "12.3 MiB". */
export function formatBytes(n: number): string {
  return scaled(n, 1024, bytesUnits, (v) => Math.round(v).toString());
}

/** formatByteRate writes bytes per second: "1.50 KiB/s". */
export function formatByteRate(n: number): string {
  const s = formatBytes(n);
  return s === DASH ? s : s + "/s";
}

/** formatCount writes a count with an SI prefix past 1000: "999", "1.23 k", "4.50 M". */
export function formatCount(n: number): string {
  return scaled(n, 1000, siUnits, (v) => (Number.isInteger(v) ? v.toString() : sig3(v))).trimEnd();
}

/** formatRate writes events per second: "0/s", "12.3/s", "1.23 k/s". */
export function formatRate(n: number): string {
  if (!Number.isFinite(n)) return DASH;
  return scaled(n, 1000, siUnits, sig3) + "/s";
}

/** formatMs writes milliseconds: "0.25 ms", "12.0 ms", "1.50 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return DASH;
  const sign = ms < 0 ? "-" : "";
  const a = Math.abs(ms);
  if (a >= 999.5) return `${sign}${sig3(a / 1000)} s`;
  return `${sign}${sig3(a)} ms`;
}

/** formatUptime writes seconds as "42 s", "5 min 3 s", "2 h 7 min", "3 d 4 h". */
export function formatUptime(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return DASH;
  const s = Math.floor(sec);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
