import type { CloseCodeInfo } from "./close-codes.js";

/**
 * TickroomErrorCode says where a {@link TickroomError} came from:
 *   - "server": the server refused a request; serverCode holds its ErrorCode;
 *   - "timeout": a request got no reply in time;
 *   - "not-connected": a request was made while the socket was not open;
 *   - "connection-lost": the socket closed while a request awaited its reply;
 *   - "closed": the client was closed, or closed for good by a terminal code;
 *   - "too-many-requests": too many requests awaited replies at once;
 *   - "http": the login endpoint answered with an error status;
 *   - "protocol": the server sent something this client cannot understand;
 *   - "unauthorized": the server refused the session token (HTTP 401 on the
 *     WebSocket upgrade): the session is over, log in again;
 *   - "misconfigured": the WebSocket URL is malformed, has no tickroom
 *     endpoint (404), or the server refuses this page's origin (403); the
 *     message names the URL. Retrying does not help.
 */
export type TickroomErrorCode =
  | "server"
  | "timeout"
  | "not-connected"
  | "connection-lost"
  | "closed"
  | "too-many-requests"
  | "http"
  | "protocol"
  | "unauthorized"
  | "misconfigured";

/** TickroomErrorDetails carries the optional fields of a {@link TickroomError}. */
export interface TickroomErrorDetails {
  /** serverCode is the protocol's ErrorCode number for "server" errors. */
  serverCode?: number;
  /** retryAfterMs is the server's hint for rate-limited requests. */
  retryAfterMs?: number;
  /** status is the HTTP status for "http" errors. */
  status?: number;
  /** close describes the close code for "connection-lost" and "closed" errors. */
  close?: CloseCodeInfo;
  /** url is the WebSocket URL for "misconfigured" and "unauthorized" errors. */
  url?: string;
}

/** TickroomError is the one error type the library rejects and emits with. */
export class TickroomError extends Error {
  /** code is the error's kind; see TickroomErrorCode. */
  readonly code: TickroomErrorCode;
  /** serverCode is the server's ErrorCode for "server" errors, else 0. */
  readonly serverCode: number;
  /** retryAfterMs is the server's retry hint, else 0. */
  readonly retryAfterMs: number;
  /** status is the HTTP status for "http" errors, else 0. */
  readonly status: number;
  /** close describes the socket's close code when one caused the error. */
  readonly close: CloseCodeInfo | undefined;
  /** url is the WebSocket URL a "misconfigured" or "unauthorized" error is about, else "". */
  readonly url: string;

  /** TickroomError's constructor takes the kind, a message and optional details. */
  constructor(code: TickroomErrorCode, message: string, details: TickroomErrorDetails = {}) {
    super(message);
    this.name = "TickroomError";
    this.code = code;
    this.serverCode = details.serverCode ?? 0;
    this.retryAfterMs = details.retryAfterMs ?? 0;
    this.status = details.status ?? 0;
    this.close = details.close;
    this.url = details.url ?? "";
  }
}
