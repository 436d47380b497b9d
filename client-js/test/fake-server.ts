import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ClientMessageSchema, ServerMessageSchema, type ClientMessage } from "../src/gen/tickroom/v1/envelope_pb.js";
import { FakeWebSocket } from "./fake-websocket.js";

/** ServerInit is what a test passes to send one ServerMessage. */
export type ServerInit = MessageInitShape<typeof ServerMessageSchema>;

/** received decodes every ClientMessage the socket was sent. */
export function received(s: FakeWebSocket): ClientMessage[] {
  return s.sent.map((b) => fromBinary(ClientMessageSchema, b));
}

/** lastReceived decodes the newest ClientMessage on the socket. */
export function lastReceived(s: FakeWebSocket): ClientMessage {
  const all = received(s);
  const m = all[all.length - 1];
  if (!m) throw new Error("nothing was sent");
  return m;
}

/** reply sends one ServerMessage on the socket. */
export function reply(s: FakeWebSocket, init: ServerInit): void {
  s.serverSend(toBinary(ServerMessageSchema, create(ServerMessageSchema, init)));
}

/** welcome opens the socket and sends a Welcome. */
export function welcome(s: FakeWebSocket, extra: Record<string, unknown> = {}): void {
  s.serverOpen();
  reply(s, { body: { case: "welcome", value: { userId: "u1", name: "ann", heartbeatIntervalMs: 1000, maxMessageBytes: 4096, protocolVersion: 2, ...extra } } });
}
