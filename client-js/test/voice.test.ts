import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connect } from "../src/client.js";
import { SignalKind } from "../src/gen/tickroom/v1/social_pb.js";
import { answerCall } from "../src/voice.js";
import { FakeWebSocket } from "./fake-websocket.js";
import { lastReceived, welcome } from "./fake-server.js";
import { create } from "@bufbuild/protobuf";
import { SignalSchema } from "../src/gen/tickroom/v1/social_pb.js";

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
});
