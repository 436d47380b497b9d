import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CLOSE_CODES, closeCodeInfo, isTerminal } from "../src/close-codes.js";
import { CloseCode, ErrorCode } from "../src/gen/tickroom/v1/codes_pb.js";

// protocol/codes.json is written by the Go side from its code table, which
// is generated from codes.proto like this client's; both must agree on every
// code, and on the standard codes each side classifies by hand.
const jsonPath = fileURLToPath(new URL("../../protocol/codes.json", import.meta.url));

interface CodesJSON {
  close_codes: { code: number; name: string; resumable?: boolean; description: string }[];
  resumable_standard_codes: number[];
  error_codes: { code: number; name: string }[];
}

function codesJSON(): CodesJSON {
  return JSON.parse(readFileSync(jsonPath, "utf8")) as CodesJSON;
}

describe("close codes", () => {
  it("match the generated CloseCode enum one for one", () => {
    const gen = new Map<string, number>();
    for (const [name, value] of Object.entries(CloseCode)) {
      if (typeof value === "number" && value !== 0) gen.set(name, value);
    }
    assert.ok((gen.size) > 0);
    const ours = new Map(CLOSE_CODES.map((c) => [c.name, c.code]));
    assert.deepEqual(Object.fromEntries(ours), Object.fromEntries(gen));
  });

  it("match the server's table in protocol/codes.json", () => {
    const json = codesJSON();
    assert.equal(json.close_codes.length, CLOSE_CODES.length);
    for (const c of json.close_codes) {
      const ours = closeCodeInfo(c.code);
      assert.equal(`CLOSE_CODE_${ours.name}`, c.name, String(c.code));
      assert.equal(ours.kind, c.resumable ? "resumable" : "terminal", c.name);
      // One source: the server's close reason and ours say the same.
      assert.equal(ours.description, c.description, c.name);
    }
    for (const code of json.resumable_standard_codes) {
      assert.equal(closeCodeInfo(code).kind, "resumable", String(code));
    }
    // Standard codes the server does not list as resumable are not retried.
    for (const code of [1002, 1003, 1007, 1008, 1009]) {
      assert.ok(!json.resumable_standard_codes.includes(code), String(code));
      assert.equal(closeCodeInfo(code).kind, "terminal", String(code));
    }
  });

  it("name the server's error codes the way the generated ErrorCode enum does", () => {
    const json = codesJSON();
    const gen = Object.entries(ErrorCode).filter(([, v]) => typeof v === "number" && v !== 0);
    assert.equal(json.error_codes.length, gen.length);
    for (const e of json.error_codes) {
      // TickroomError messages use ErrorCode[code], the name without its prefix.
      assert.equal(`ERROR_CODE_${ErrorCode[e.code]}`, e.name, String(e.code));
    }
  });

  it("classify by the protocol's ranges", () => {
    for (const c of CLOSE_CODES) {
      const want = c.code >= 4000 && c.code <= 4499 ? "resumable" : c.code >= 4500 && c.code <= 4999 ? "terminal" : "bad";
      assert.equal(c.kind, want, c.name);
      assert.equal(closeCodeInfo(c.code), c, c.name);
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
      assert.deepEqual([info.kind, info.name], [c.kind, c.name], String(c.code));
      assert.equal(isTerminal(c.code), c.kind === "terminal", String(c.code));
    }
  });

  it("ask for a longer pause after rate limiting and overload", () => {
    const slow = CLOSE_CODES.filter((c) => c.slow).map((c) => c.name);
    assert.deepEqual(slow.sort(), ["RATE_LIMITED", "SERVER_OVERLOADED"]);
    assert.equal(closeCodeInfo(1013).slow, true);
  });
});
