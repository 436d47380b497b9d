import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connect } from "../src/connect.js";
import { SignalKind } from "../src/gen/tickroom/v1/social_pb.js";
import { answerCall, type VoiceCall } from "../src/voice.js";
import { FakeWebSocket } from "./fake-websocket.js";
import { lastReceived, reply, welcome } from "./fake-server.js";
import { flush } from "./helpers.js";
import { create } from "@bufbuild/protobuf";
import { SignalSchema } from "../src/gen/tickroom/v1/social_pb.js";

// refused is what FakePeerConnection's addIceCandidate rejects a "bad" candidate with.
const refused = new Error("OperationError: bad candidate");

// FakePeerConnection stands for the browser's RTCPeerConnection, which Node lacks.
class FakePeerConnection {
  remoteDescription: unknown = null;
  signalingState = "stable";
  connectionState = "new";
  onicecandidate: unknown = null;
  onconnectionstatechange: unknown = null;
  ontrack: unknown = null;
  addTrack(): void {}
  setRemoteDescription(d: unknown): Promise<void> {
    this.remoteDescription = d;
    return Promise.resolve();
  }
  addIceCandidate(c: { candidate?: string }): Promise<void> {
    return c.candidate === "bad" ? Promise.reject(refused) : Promise.resolve();
  }
  createAnswer(): Promise<{ type: string; sdp: string }> {
    return Promise.resolve({ type: "answer", sdp: "v=0\r\n" });
  }
  setLocalDescription(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.signalingState = "closed";
  }
}

// withPeerConnection runs fn with FakePeerConnection as the global RTCPeerConnection.
async function withPeerConnection(fn: () => Promise<void>): Promise<void> {
  const g = globalThis as { RTCPeerConnection?: unknown };
  const saved = g.RTCPeerConnection;
  g.RTCPeerConnection = FakePeerConnection;
  try {
    await fn();
  } finally {
    g.RTCPeerConnection = saved;
  }
}

describe("answerCall", () => {
  // A callee that declines (or whose microphone is refused) tells the
  // caller, whose call would otherwise wait for ICE to time out.
  it("sends the caller a hang-up and rejects when its options reject", async () => {
    const p = connect({ url: "ws://127.0.0.1:1/v1/ws", token: "tok", WebSocket: FakeWebSocket, requestTimeoutMs: 5000 });
    const sock = FakeWebSocket.last();
    welcome(sock);
    const client = await p;
    const offer = create(SignalSchema, { fromUserId: "u2", callId: "call-1", kind: SignalKind.OFFER, data: "v=0\r\n" });
    const declined = new Error("declined");
    await assert.rejects(answerCall(client, offer, Promise.reject(declined)), (err) => err === declined);
    const m = lastReceived(sock);
    assert.equal(m.body.case, "sendSignal");
    assert.equal(m.body.case === "sendSignal" && m.body.value.kind, SignalKind.HANGUP);
    assert.equal(m.body.case === "sendSignal" && m.body.value.callId, "call-1");
    assert.equal(m.body.case === "sendSignal" && m.body.value.toUserId, "u2");
    client.close();
  });

  // A peer's signal the call cannot take (a malformed candidate, one the
  // peer connection refuses, an answer it refuses) is the call's error
  // event, not a rejection nobody handles.
  it("reports the signals it cannot take as the call's error event", async () => {
    const g = globalThis as { RTCPeerConnection?: unknown };
    const saved = g.RTCPeerConnection;
    g.RTCPeerConnection = FakePeerConnection;
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on("unhandledRejection", onUnhandled);
    let close = () => {};
    try {
      const p = connect({ url: "ws://127.0.0.1:1/v1/ws", token: "tok", WebSocket: FakeWebSocket, requestTimeoutMs: 5000 });
      const sock = FakeWebSocket.last();
      welcome(sock);
      const client = await p;
      close = () => client.close();
      const offer = create(SignalSchema, { fromUserId: "u2", callId: "call-2", kind: SignalKind.OFFER, data: "v=0\r\n" });
      const answering = answerCall(client, offer, { stream: { getTracks: () => [] } as unknown as MediaStream });
      await flush();
      const m = lastReceived(sock);
      assert.equal(m.body.case === "sendSignal" && m.body.value.kind, SignalKind.ANSWER);
      reply(sock, { requestId: m.requestId, body: { case: "ok", value: {} } });
      const call: VoiceCall = await answering;
      const errors: string[] = [];
      call.on("error", (err) => errors.push(err.message));
      const signal = (data: string) =>
        reply(sock, { body: { case: "signal", value: { fromUserId: "u2", callId: "call-2", kind: SignalKind.CANDIDATE, data } } });
      signal(JSON.stringify({ candidate: "bad" }));
      signal("{not json");
      signal(JSON.stringify({ candidate: "good" }));
      await flush();
      await flush();
      assert.equal(errors.length, 2, `errors ${JSON.stringify(errors)}, unhandled ${String(unhandled)}`);
      assert.ok(errors.includes(refused.message), `errors ${JSON.stringify(errors)}`);
      assert.deepEqual(unhandled, []);
      call.hangup();
    } finally {
      close();
      process.off("unhandledRejection", onUnhandled);
      g.RTCPeerConnection = saved;
    }
  });
});

describe("VoiceCall", () => {
  // In Node an error thrown on a fresh task ends the process: an app that
  // passes onListenerError counts on it for a call's listeners too.
  it("hands the errors of its listeners to the client's onListenerError", async () => {
    await withPeerConnection(async () => {
      const caught: string[] = [];
      const p = connect({
        url: "ws://127.0.0.1:1/v1/ws",
        token: "tok",
        WebSocket: FakeWebSocket,
        requestTimeoutMs: 5000,
        onListenerError: (e) => caught.push(String(e)),
      });
      const sock = FakeWebSocket.last();
      welcome(sock);
      const client = await p;
      try {
        const offer = create(SignalSchema, { fromUserId: "u2", callId: "call-3", kind: SignalKind.OFFER, data: "v=0\r\n" });
        const answering = answerCall(client, offer, { stream: { getTracks: () => [] } as unknown as MediaStream });
        await flush();
        reply(sock, { requestId: lastReceived(sock).requestId, body: { case: "ok", value: {} } });
        const call: VoiceCall = await answering;
        for (const type of ["track", "error", "state"] as const) {
          call.on(type, () => {
            throw new Error(`${type} listener`);
          });
        }
        const stream = {} as MediaStream;
        (call.pc as unknown as { ontrack: (ev: { streams: MediaStream[] }) => void }).ontrack({ streams: [stream] });
        reply(sock, { body: { case: "signal", value: { fromUserId: "u2", callId: "call-3", kind: SignalKind.CANDIDATE, data: "{not json" } } });
        await flush();
        call.hangup();
        assert.deepEqual(caught, ["Error: track listener", "Error: error listener", "Error: state listener"]);
        assert.equal(call.remote, stream);
      } finally {
        client.close();
      }
    });
  });
});
