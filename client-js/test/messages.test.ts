import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TickroomError, type TickroomErrorCode } from "../src/errors.js";
import { CLOSE_CODE_ROWS, ERROR_CODE_ROWS } from "../src/gen/codes_table.js";
import { CloseCode, ErrorCode } from "../src/gen/tickroom/v1/codes_pb.js";
import { LeaveReason } from "../src/gen/tickroom/v1/room_pb.js";
import { CLIENT_ERROR_MESSAGES, closeMessage, errorMessage, leaveMessage } from "../src/messages.js";
import { closeCodeInfo } from "../src/close-codes.js";

// enumValues lists a generated enum's numbers, UNSPECIFIED (0) aside.
function enumValues(e: object): number[] {
  return Object.values(e).filter((v): v is number => typeof v === "number" && v !== 0);
}

// human fails unless text reads as a sentence for people: no enum name,
// no SHOUTY_SNAKE_CASE, starts with a capital, ends with punctuation.
function human(what: string, text: string | undefined): void {
  assert.ok(text, `${what} has no message: add one to client-js/src/messages.ts`);
  assert.doesNotMatch(text, /[A-Z]{2,}_[A-Z]/, `${what}: "${text}" shows an enum name`);
  assert.match(text, /^[A-Z]/, `${what}: "${text}" does not start a sentence`);
  assert.match(text, /[.!?…]$/, `${what}: "${text}" does not end a sentence`);
}

describe("messages", () => {
  it("has a message for every close code of the protocol", () => {
    const codes = new Set([...enumValues(CloseCode), ...CLOSE_CODE_ROWS.map((r) => r.code)]);
    assert.ok(codes.size >= 14);
    for (const code of codes) {
      const text = closeMessage(code);
      human(`close code ${code} (${CloseCode[code]})`, text);
      // A generic fallback does not count: each code says what happened.
      assert.notEqual(text, closeMessage(4999), `close code ${code} falls back to the generic message`);
      assert.ok(!text.includes(closeCodeInfo(code).name), `close code ${code} shows its name`);
    }
  });

  it("has a message for every error code of the protocol", () => {
    const codes = new Set([...enumValues(ErrorCode), ...ERROR_CODE_ROWS.map((r) => r.code)]);
    assert.ok(codes.size >= 26);
    const fallback = errorMessage(new TickroomError("server", "x", { serverCode: 65000 }));
    for (const code of codes) {
      const text = errorMessage(new TickroomError("server", `tickroom: ${ErrorCode[code]}: detail`, { serverCode: code }));
      human(`error code ${code} (${ErrorCode[code]})`, text);
      assert.notEqual(text, fallback, `error code ${code} (${ErrorCode[code]}) falls back to the generic message`);
    }
  });

  it("has a message for every leave reason and client error", () => {
    for (const reason of [0, ...enumValues(LeaveReason)]) human(`leave reason ${LeaveReason[reason]}`, leaveMessage(reason));
    const kinds = Object.keys(CLIENT_ERROR_MESSAGES) as Exclude<TickroomErrorCode, "server">[];
    for (const kind of kinds) human(`client error ${kind}`, errorMessage(new TickroomError(kind, "tickroom: detail")));
    human("a foreign error", errorMessage(new Error("boom")));
    for (const status of [400, 401, 403, 404, 409, 429, 500, 503]) human(`HTTP ${status}`, errorMessage(new TickroomError("http", "tickroom: login failed", { status })));
    human("a standard close", closeMessage(1006));
  });

  it("says the session ended and the room closed in plain words", () => {
    assert.equal(closeMessage(CloseCode.TOKEN_EXPIRED), "Your session ended, please log in again.");
    assert.equal(errorMessage(new TickroomError("unauthorized", "tickroom: refused")), "Your session ended, please log in again.");
    assert.equal(closeMessage(CloseCode.ROOM_CLOSED), "The room closed.");
    assert.equal(leaveMessage(LeaveReason.ROOM_CLOSED), "The room closed.");
  });
});
