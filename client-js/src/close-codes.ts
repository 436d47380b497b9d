import { CLOSE_CODE_ROWS } from "./gen/codes_table.js";

/**
 * CloseKind tells a client what to do after the socket closed:
 *   - "resumable": reconnect with backoff and resume the seat;
 *   - "terminal": do not reconnect; the user has to act;
 *   - "normal": the client itself closed the socket.
 */
export type CloseKind = "resumable" | "terminal" | "normal";

/** CloseCodeInfo describes one close code the tickroom server sends. */
export interface CloseCodeInfo {
  code: number;
  /** name is the protocol's CloseCode enum name without its CLOSE_CODE_ prefix. */
  name: string;
  kind: CloseKind;
  /**
   * slow is true for codes after which the server wants a longer pause
   * before the next attempt (it is overloaded or rate-limiting this client).
   */
  slow: boolean;
  /** description says what happened, for logs and UIs. */
  description: string;
}

/** RESUMABLE_MIN..RESUMABLE_MAX is the range of application close codes after which a client reconnects and resumes. */
export const RESUMABLE_MIN = 4000;
/** RESUMABLE_MAX is the last resumable application close code. */
export const RESUMABLE_MAX = 4499;
/** TERMINAL_MIN..TERMINAL_MAX is the range of application close codes after which a client must not reconnect on its own. */
export const TERMINAL_MIN = 4500;
/** TERMINAL_MAX is the last terminal application close code. */
export const TERMINAL_MAX = 4999;

/**
 * CLOSE_CODES is the table of the server's close codes, built from the rows
 * generated from the CloseCode enum in protocol/tickroom/v1/codes.proto
 * (gen/codes_table.ts), the same source as the server's table; a unit test
 * checks it against protocol/codes.json, which the server writes.
 */
export const CLOSE_CODES: readonly CloseCodeInfo[] = Object.freeze(
  CLOSE_CODE_ROWS.map((r): CloseCodeInfo => ({
    code: r.code,
    name: r.name.replace(/^CLOSE_CODE_/, ""),
    kind: r.code >= TERMINAL_MIN ? "terminal" : "resumable",
    slow: r.longerBackoff,
    description: r.description,
  })),
);

const byCode = new Map(CLOSE_CODES.map((c) => [c.code, c]));

// Standard WebSocket codes (RFC 6455 section 7.4.1) that a browser can
// report. Network trouble and server restarts are worth a retry; a peer
// that says our data is unacceptable will say so again.
const standard: Record<number, [string, CloseKind, string]> = {
  1000: ["NORMAL", "normal", "closed normally"],
  1001: ["GOING_AWAY", "resumable", "the server is going away"],
  1002: ["WS_PROTOCOL_ERROR", "terminal", "WebSocket protocol error"],
  1003: ["UNSUPPORTED_DATA", "terminal", "the server cannot accept this data type"],
  1005: ["NO_STATUS", "resumable", "closed without a status code"],
  1006: ["ABNORMAL", "resumable", "the connection dropped"],
  1007: ["INVALID_PAYLOAD", "terminal", "invalid frame payload data"],
  1008: ["POLICY_VIOLATION", "terminal", "policy violation"],
  1009: ["MESSAGE_TOO_BIG", "terminal", "a message was over the server's size limit"],
  1011: ["SERVER_ERROR", "resumable", "the server hit an unexpected condition"],
  1012: ["SERVICE_RESTART", "resumable", "the server is restarting"],
  1013: ["TRY_AGAIN_LATER", "resumable", "the server is overloaded; try again later"],
  1015: ["TLS_HANDSHAKE", "terminal", "the TLS handshake failed"],
};

/**
 * closeCodeInfo describes any close code: the server's own from the table,
 * the standard WebSocket ones, and unknown codes by their range (4000-4499
 * resumable, 4500-4999 terminal, anything else resumable, since a dropped
 * network is the usual cause).
 */
export function closeCodeInfo(code: number): CloseCodeInfo {
  const known = byCode.get(code);
  if (known) return known;
  const std = standard[code];
  if (std) return { code, name: std[0], kind: std[1], slow: code === 1013, description: std[2] };
  if (code >= TERMINAL_MIN && code <= TERMINAL_MAX) {
    return { code, name: "UNKNOWN_TERMINAL", kind: "terminal", slow: false, description: "terminal close code unknown to this client" };
  }
  if (code >= RESUMABLE_MIN && code <= RESUMABLE_MAX) {
    return { code, name: "UNKNOWN_RESUMABLE", kind: "resumable", slow: false, description: "resumable close code unknown to this client" };
  }
  return { code, name: "UNKNOWN", kind: "resumable", slow: false, description: "unknown close code" };
}

/** isTerminal reports whether a close code forbids reconnecting on its own. */
export function isTerminal(code: number): boolean {
  return closeCodeInfo(code).kind === "terminal";
}
