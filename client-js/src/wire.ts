// Helpers between Client and the tickroom.v1 messages it sends and reads.

import { ErrorCode } from "./gen/tickroom/v1/codes_pb.js";
import type { ClientMessage, ServerMessage } from "./gen/tickroom/v1/envelope_pb.js";
import type { Error as ServerError } from "./gen/tickroom/v1/session_pb.js";
import { TickroomError } from "./errors.js";

/** Body is the body of a ClientMessage. */
export type Body = ClientMessage["body"];

// withReservation returns a JoinRoom or QuickMatch body carrying a
// Redirect's reservation token.
export function withReservation(body: Body, reservation: string): Body {
  switch (body.case) {
    case "joinRoom":
      return { case: "joinRoom", value: { ...body.value, reservation } };
    case "quickMatch":
      return { case: "quickMatch", value: { ...body.value, reservation } };
    default:
      return body;
  }
}

// serverError turns a server Error message into the TickroomError that
// rejects a request or is emitted.
export function serverError(e: ServerError): TickroomError {
  const name = ErrorCode[e.code] ?? String(e.code);
  return new TickroomError("server", `tickroom: ${name}: ${e.message}`, { serverCode: e.code, retryAfterMs: e.retryAfterMs });
}

const utf8 = new TextEncoder();

// inputEnvelopeSize bounds the encoded size of a ClientMessage carrying an
// Input: tag and length of the input field, then room_id, seq and data.
export function inputEnvelopeSize(roomId: string, dataLen: number): number {
  const varint = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
  const idLen = utf8.encode(roomId).length;
  const inner = (idLen > 0 ? 1 + varint(idLen) + idLen : 0) + 1 + 5 + (dataLen > 0 ? 1 + varint(dataLen) + dataLen : 0);
  return 1 + varint(inner) + inner;
}

type Case = NonNullable<ServerMessage["body"]["case"]>;
type BodyOf<C extends Case> = Extract<ServerMessage["body"], { case: C }>["value"];

export function expectBody<C extends Case>(msg: ServerMessage, c: C): BodyOf<C> {
  if (msg.body.case !== c) {
    throw new TickroomError("protocol", `tickroom: expected ${c} reply, got ${msg.body.case ?? "an empty body"}`);
  }
  return msg.body.value as BodyOf<C>;
}
