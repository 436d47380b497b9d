// What the Client's unit tests share: a Client on a FakeWebSocket with mock
// timers, joined to room r1 through the fake server, and the states a
// ServerSim sends it. The tests are in client.test.ts (requests, rooms and
// what the server pushes), client-connect.test.ts (connecting, closes and
// the heartbeat) and resume.test.ts (resumes and seats given up).
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock } from "node:test";
import type { Client, ClientOptions } from "../src/client.js";
import { connect } from "../src/connect.js";
import type { Room } from "../src/room.js";
import { FakeWebSocket } from "./fake-websocket.js";
import { lastReceived, reply, welcome } from "./fake-server.js";
import { ServerSim } from "./patch.js";

export const enc = new TextEncoder();
export const dec = new TextDecoder();

/** sim is the ServerSim of the running test (useFakes makes a new one for each). */
export let sim = new ServerSim();

/**
 * useFakes, called in a describe, starts each of its tests on mock timers
 * at time 0, with no sockets and a new ServerSim.
 */
export function useFakes(): void {
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"], now: 0 });
    FakeWebSocket.reset();
    sim = new ServerSim();
  });
  afterEach(() => mock.timers.reset());
}

/** opts are the options of a Client on a FakeWebSocket, with extra on top. */
export function opts(extra: Partial<ClientOptions> = {}): ClientOptions {
  return {
    url: "ws://127.0.0.1:1/v1/ws",
    token: "tok",
    WebSocket: FakeWebSocket,
    backoff: { initialMs: 100, maxMs: 1000, random: () => 0.5 },
    now: () => Date.now(),
    requestTimeoutMs: 5000,
    ...extra,
  };
}

/** connected connects a Client and welcomes it on its socket. */
export async function connected(extra: Partial<ClientOptions> = {}): Promise<{ client: Client; sock: FakeWebSocket }> {
  const p = connect(opts(extra));
  const sock = FakeWebSocket.last();
  welcome(sock);
  const client = await p;
  return { client, sock };
}

/** joinedRoom joins room r1 through the fake server, with a seat or as a spectator, and returns the room. */
export async function joinedRoom(client: Client, sock: FakeWebSocket, spectate = false): Promise<Room> {
  const p = spectate ? client.spectate("r1") : client.joinRoom("r1", { password: "pw" });
  const req = lastReceived(sock);
  assert.equal(req.body.case, "joinRoom");
  reply(sock, {
    requestId: req.requestId,
    body: { case: "joined", value: { roomId: "r1", game: "arena", seat: spectate ? 0 : 2, spectator: spectate, tickRate: 20, players: [{ seat: 2, userId: "u1", name: "ann", connected: true }] } },
  });
  return p;
}

/** sendState sends room r1 (ref 7) a State that sim encodes. */
export function sendState(sock: FakeWebSocket, s: { tick: number; base?: number; key?: boolean; up?: Record<number, string>; rm?: number[]; acks?: [number, number][] }): void {
  reply(sock, { body: { case: "state", value: sim.state({ ...s, roomId: "r1", roomRef: 7 }) } });
}

/** entities is a room's entity map, its values decoded as text. */
export function entities(room: Room): Record<string, string> {
  return Object.fromEntries([...room.entities].map(([id, b]) => [String(id), dec.decode(b)]));
}
