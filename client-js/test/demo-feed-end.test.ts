import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { feedEndMessage } from "../demo/src/feedend.js";

describe("the watch page's end of a feed", () => {
  it("says why the feed ended, for each reason the server gives", () => {
    const reasons = ["room_closed", "server_shutdown", "kicked", "banned", "signed_out", "token_expired"];
    const messages = reasons.map(feedEndMessage);
    assert.equal(new Set(messages).size, reasons.length, `two reasons share a message: ${JSON.stringify(messages)}`);
    for (const [i, m] of messages.entries()) {
      assert.notEqual(m, feedEndMessage("some_future_reason"), `${reasons[i]} shows the message of an unknown reason, ${JSON.stringify(m)}`);
    }
    assert.match(feedEndMessage("kicked"), /kicked/);
    assert.match(feedEndMessage("banned"), /banned/);
    assert.match(feedEndMessage("signed_out"), /signed out/);
    assert.match(feedEndMessage("token_expired"), /expired/);
  });
});
