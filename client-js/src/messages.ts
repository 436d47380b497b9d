// Messages for people: what a page shows for each close code, error code,
// leave reason and client error, never an enum name. The tables are typed
// over the generated enums, so a code added to codes.proto without a
// message here fails to compile (and test/messages.test.ts checks every
// value at run time).
import { closeCodeInfo } from "./close-codes.js";
import { TickroomError, type TickroomErrorCode } from "./errors.js";
import { CloseCode, ErrorCode } from "./gen/tickroom/v1/codes_pb.js";
import { LeaveReason } from "./gen/tickroom/v1/room_pb.js";

/** CLOSE_MESSAGES says, for each close code of the protocol, what happened and what to do. */
export const CLOSE_MESSAGES: Readonly<Record<Exclude<CloseCode, CloseCode.UNSPECIFIED>, string>> = {
  [CloseCode.SERVER_SHUTDOWN]: "The server is restarting. Reconnecting…",
  [CloseCode.SLOW_CLIENT]: "Your connection fell behind. Reconnecting…",
  [CloseCode.RATE_LIMITED]: "Too many messages were sent too quickly. Reconnecting in a moment…",
  [CloseCode.HEARTBEAT_TIMEOUT]: "The connection went quiet. Reconnecting…",
  [CloseCode.SERVER_OVERLOADED]: "The server is busy. Reconnecting in a moment…",
  [CloseCode.INTERNAL_ERROR]: "The server ran into a problem. Reconnecting…",
  [CloseCode.TOKEN_EXPIRED]: "Your session ended, please log in again.",
  [CloseCode.UNAUTHORIZED]: "Your session ended, please log in again.",
  [CloseCode.DUPLICATE_LOGIN]: "You logged in somewhere else, so this window was disconnected.",
  [CloseCode.KICKED]: "An operator removed you from the server.",
  [CloseCode.BANNED]: "This account may not play on this server.",
  [CloseCode.PROTOCOL_ERROR]: "This page sent something the server could not understand. Reload the page.",
  [CloseCode.ROOM_CLOSED]: "The room closed.",
  [CloseCode.UNSUPPORTED_VERSION]: "This page is out of date. Reload it to get the new version.",
};

/** ERROR_MESSAGES says, for each error code of the protocol, why a request was refused. */
export const ERROR_MESSAGES: Readonly<Record<Exclude<ErrorCode, ErrorCode.UNSPECIFIED>, string>> = {
  [ErrorCode.INTERNAL]: "The server ran into a problem. Try again.",
  [ErrorCode.BAD_REQUEST]: "The server could not accept that request.",
  [ErrorCode.UNSUPPORTED]: "The server does not support that yet.",
  [ErrorCode.RATE_LIMITED]: "That was too quick. Wait a moment and try again.",
  [ErrorCode.FORBIDDEN]: "You are not allowed to do that.",
  [ErrorCode.TOO_MANY_REQUESTS_IN_FLIGHT]: "Too many requests are waiting for the server. Try again in a moment.",
  [ErrorCode.UNAVAILABLE]: "The game service is briefly unavailable. Try again in a few seconds.",
  [ErrorCode.ROOM_NOT_FOUND]: "That room no longer exists.",
  [ErrorCode.ROOM_FULL]: "The room is full. You can still watch.",
  [ErrorCode.WRONG_PASSWORD]: "Wrong room password.",
  [ErrorCode.ALREADY_IN_ROOM]: "You are already in that room, or in as many rooms as you may be.",
  [ErrorCode.NOT_IN_ROOM]: "You are not in that room.",
  [ErrorCode.UNKNOWN_GAME]: "This server does not have that game.",
  [ErrorCode.BAD_OPTIONS]: "The game did not accept those room settings.",
  [ErrorCode.ROOM_LIMIT]: "The server cannot open more rooms right now.",
  [ErrorCode.RESUME_UNAVAILABLE]: "Your seat was given up. Join the room again.",
  [ErrorCode.ROOM_CLOSING]: "The room is closing.",
  [ErrorCode.ROOM_LOST]: "The room was lost when its server went down. Back to the lobby.",
  [ErrorCode.DRAINING]: "This server is about to restart and starts no new games. Try again: another server takes it.",
  [ErrorCode.INPUT_TOO_LARGE]: "That move was too large to send.",
  [ErrorCode.INPUT_REJECTED]: "The game did not accept that move.",
  [ErrorCode.NOT_A_PLAYER]: "You are watching this room, so you cannot play.",
  [ErrorCode.INPUT_DROPPED]: "The room was busy and missed your move. Try again.",
  [ErrorCode.MESSAGE_TOO_LONG]: "That message is too long.",
  [ErrorCode.BLOCKED]: "This player does not take messages from you.",
  [ErrorCode.USER_OFFLINE]: "This player is offline.",
  [ErrorCode.USER_NOT_FOUND]: "There is no such player.",
  [ErrorCode.CHANNEL_NOT_FOUND]: "That chat channel is not available.",
  [ErrorCode.LIST_FULL]: "Your list is full. Remove someone first.",
};

/** LEAVE_MESSAGES says why the user is no longer in a room. */
export const LEAVE_MESSAGES: Readonly<Record<LeaveReason, string>> = {
  [LeaveReason.UNSPECIFIED]: "You left the room.",
  [LeaveReason.REQUESTED]: "You left the room.",
  [LeaveReason.KICKED]: "You were removed from the room.",
  [LeaveReason.ROOM_CLOSED]: "The room closed.",
  [LeaveReason.SEAT_EXPIRED]: "You were away too long, so your seat was given up.",
  [LeaveReason.SERVER_SHUTDOWN]: "The server is shutting down.",
};

/** CLIENT_ERROR_MESSAGES says what each kind of client-side error means. */
export const CLIENT_ERROR_MESSAGES: Readonly<Record<Exclude<TickroomErrorCode, "server">, string>> = {
  timeout: "The server did not answer in time. Try again.",
  "not-connected": "You are offline right now. Wait for the connection to come back.",
  "connection-lost": "The connection dropped before the server answered. Try again.",
  closed: "The connection is closed.",
  "too-many-requests": "Too many requests are waiting for the server. Try again in a moment.",
  http: "The server refused the request.",
  protocol: "The server sent something this page does not understand. Reload the page.",
  unauthorized: "Your session ended, please log in again.",
  misconfigured: "This page cannot reach the game server.",
};

// Standard WebSocket close codes (RFC 6455 section 7.4.1) a browser reports.
const STANDARD_CLOSE_MESSAGES: Readonly<Record<number, string>> = {
  1000: "Disconnected.",
  1001: "The server is going away. Reconnecting…",
  1002: "The connection broke. Reload the page.",
  1003: "The server could not accept what this page sent. Reload the page.",
  1005: "The connection closed. Reconnecting…",
  1006: "The connection dropped. Reconnecting…",
  1007: "The server could not accept what this page sent. Reload the page.",
  1008: "The server closed the connection.",
  1009: "A message was too large for the server.",
  1011: "The server ran into a problem. Reconnecting…",
  1012: "The server is restarting. Reconnecting…",
  1013: "The server is busy. Reconnecting in a moment…",
  1015: "A secure connection could not be made.",
};

// RECONNECTING ends the sentences of a close the client reconnects after.
const RECONNECTING = / Reconnecting(?: in a moment)?…$/;

/**
 * closeMessage is what to tell the user about a closed connection. Pass the
 * close event's willReconnect: when false (reconnect off, the attempts used
 * up) the sentence does not say "Reconnecting…", but to reload the page.
 * Without it, a code the client reconnects after says it reconnects.
 */
export function closeMessage(code: number, willReconnect?: boolean): string {
  const text = closeText(code);
  return willReconnect === false ? text.replace(RECONNECTING, " Reload the page to try again.") : text;
}

function closeText(code: number): string {
  const own = (CLOSE_MESSAGES as Record<number, string>)[code];
  if (own) return own;
  const std = STANDARD_CLOSE_MESSAGES[code];
  if (std) return std;
  return closeCodeInfo(code).kind === "terminal" ? "The server closed the connection." : "The connection dropped. Reconnecting…";
}

/** errorMessage is what to tell the user about a refused request or a failed call. */
export function errorMessage(err: unknown): string {
  if (err instanceof TickroomError) {
    if (err.code === "server") {
      return (ERROR_MESSAGES as Record<number, string>)[err.serverCode] ?? "The server refused the request.";
    }
    // A "closed" error ends the connection: the client reconnects no more.
    if (err.code === "closed" && err.close) return closeMessage(err.close.code, false);
    if (err.code === "http" && err.status) return httpMessage(err.status);
    return CLIENT_ERROR_MESSAGES[err.code];
  }
  return "Something went wrong. Try again.";
}

// httpMessage is what a refused HTTP call (login) means for the user.
function httpMessage(status: number): string {
  if (status === 429) return "Too many attempts from here. Wait a minute and try again.";
  if (status === 400 || status === 409 || status === 422) return "The server did not accept that name. Try another one.";
  if (status === 401 || status === 403) return "The server refused this login.";
  if (status >= 500) return "The server ran into a problem. Try again.";
  return CLIENT_ERROR_MESSAGES.http;
}

/** leaveMessage is what to tell the user who lost a seat. */
export function leaveMessage(reason: LeaveReason): string {
  return LEAVE_MESSAGES[reason] ?? LEAVE_MESSAGES[LeaveReason.UNSPECIFIED];
}
