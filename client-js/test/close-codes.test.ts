import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CLOSE_CODES, closeCodeInfo, isTerminal } from "../src/close-codes.js";

const protoPath = fileURLToPath(new URL("../../protocol/tickroom/v1/codes.proto", import.meta.url));
const jsonPath = fileURLToPath(new URL("../../protocol/codes.json", import.meta.url));

// protoCloseCodes reads the CloseCode enum from the protocol's .proto source,
// the one table the Go server and this client both follow.
function protoCloseCodes(): Map<string, number> {
  const src = readFileSync(protoPath, "utf8");
  const body = /enum\s+CloseCode\s*\{([\s\S]*?)\n\}/.exec(src);
  if (!body) throw new Error(`no CloseCode enum in ${protoPath}`);
  const out = new Map<string, number>();
  for (const m of body[1]!.matchAll(/^\s*CLOSE_CODE_([A-Z0-9_]+)\s*=\s*(\d+)\s*;/gm)) {
    if (m[1] !== "UNSPECIFIED") out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe("close codes", () => {
  it("match the protocol's CloseCode enum one for one", () => {
    const proto = protoCloseCodes();
    expect(proto.size).toBeGreaterThan(0);
    const ours = new Map(CLOSE_CODES.map((c) => [c.name, c.code]));
    expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(proto));
  });

  it("classify by the protocol's ranges", () => {
    for (const c of CLOSE_CODES) {
      const want = c.code >= 4000 && c.code <= 4499 ? "resumable" : c.code >= 4500 && c.code <= 4999 ? "terminal" : "bad";
      expect(c.kind, c.name).toBe(want);
      expect(closeCodeInfo(c.code), c.name).toBe(c);
    }
  });

  it.runIf(existsSync(jsonPath))("match protocol/codes.json", () => {
    const json = JSON.parse(readFileSync(jsonPath, "utf8")) as unknown;
    const text = JSON.stringify(json);
    // The JSON copy is written by the Go side; every code of ours must appear in it with its number.
    for (const c of CLOSE_CODES) {
      expect(text, c.name).toContain(c.name);
      expect(text, c.name).toContain(String(c.code));
    }
  });

  it("describe standard and unknown codes", () => {
    const cases = [
      { code: 1000, kind: "normal", name: "NORMAL" },
      { code: 1001, kind: "resumable", name: "GOING_AWAY" },
      { code: 1006, kind: "resumable", name: "ABNORMAL" },
      { code: 1008, kind: "terminal", name: "POLICY_VIOLATION" },
      { code: 1009, kind: "terminal", name: "MESSAGE_TOO_BIG" },
      { code: 1012, kind: "resumable", name: "SERVICE_RESTART" },
      { code: 4002, kind: "resumable", name: "RATE_LIMITED" },
      { code: 4123, kind: "resumable", name: "UNKNOWN_RESUMABLE" },
      { code: 4502, kind: "terminal", name: "DUPLICATE_LOGIN" },
      { code: 4998, kind: "terminal", name: "UNKNOWN_TERMINAL" },
      { code: 3000, kind: "resumable", name: "UNKNOWN" },
    ];
    for (const c of cases) {
      const info = closeCodeInfo(c.code);
      expect([info.kind, info.name], String(c.code)).toEqual([c.kind, c.name]);
      expect(isTerminal(c.code), String(c.code)).toBe(c.kind === "terminal");
    }
  });

  it("ask for a longer pause after rate limiting and overload", () => {
    const slow = CLOSE_CODES.filter((c) => c.slow).map((c) => c.name);
    expect(slow.sort()).toEqual(["RATE_LIMITED", "SERVER_OVERLOADED"]);
    expect(closeCodeInfo(1013).slow).toBe(true);
  });
});
