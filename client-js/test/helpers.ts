import assert from "node:assert/strict";

// Assertion helpers the unit tests share, on top of node:assert.

/**
 * assertPartial checks that actual has every property of expected, compared
 * recursively; properties expected does not name are ignored. Arrays must
 * match element for element.
 */
export function assertPartial(actual: unknown, expected: unknown, label?: string): void {
  const mismatch = partialMismatch(actual, expected, "$");
  if (mismatch) assert.fail(`${label ? label + ": " : ""}${mismatch}\nactual: ${show(actual)}`);
}

function partialMismatch(actual: unknown, expected: unknown, path: string): string | undefined {
  if (expected === null || typeof expected !== "object" || expected instanceof Uint8Array) {
    try {
      assert.deepEqual(actual, expected);
      return undefined;
    } catch {
      return `${path}: got ${show(actual)}, want ${show(expected)}`;
    }
  }
  if (actual === null || typeof actual !== "object") return `${path}: got ${show(actual)}, want an object`;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return `${path}: got ${show(actual)}, want ${show(expected)}`;
    for (let i = 0; i < expected.length; i++) {
      const m = partialMismatch(actual[i], expected[i], `${path}[${i}]`);
      if (m) return m;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(expected)) {
    const m = partialMismatch((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
    if (m) return m;
  }
  return undefined;
}

function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? [...x] : x));
}

/** assertCloseTo checks |actual - expected| < 10^-digits / 2. */
export function assertCloseTo(actual: number | undefined, expected: number, digits = 2, label?: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 10 ** -digits / 2, `${label ? label + ": " : ""}got ${actual}, want ${expected} to ${digits} digits`);
}

/** assertRejects checks that the promise rejects with an error having every property of expected. */
export async function assertRejects(p: Promise<unknown>, expected: Record<string, unknown>, label?: string): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `${label ? label + ": " : ""}promise resolved, want a rejection`);
  assertPartial(err, expected, label);
}

/** flush lets every pending promise callback run (setImmediate is never faked by the tests). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
