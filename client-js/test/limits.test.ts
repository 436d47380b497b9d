import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ScalarType } from "@bufbuild/protobuf";
import { CLIENT_FIELD_LIMITS } from "../src/gen/limits_table.js";
import { ClientMessageSchema } from "../src/gen/tickroom/v1/envelope_pb.js";

describe("client field limits", () => {
  it("cover every string, bytes, map and list field of every ClientMessage body", () => {
    const want: string[] = [];
    for (const body of ClientMessageSchema.oneofs[0]!.fields) {
      assert.equal(body.fieldKind, "message", body.name);
      if (body.fieldKind !== "message") continue;
      for (const f of body.message.fields) {
        const bounded =
          f.fieldKind === "list" ||
          f.fieldKind === "map" ||
          (f.fieldKind === "scalar" && (f.scalar === ScalarType.STRING || f.scalar === ScalarType.BYTES));
        if (bounded) want.push(`${body.localName}.${f.localName}`);
      }
    }
    const have = CLIENT_FIELD_LIMITS.map((l) => `${l.body}.${l.field}`);
    assert.deepEqual(have.sort(), want.sort());
  });

  it("say what the server allows", () => {
    const byPath = new Map(CLIENT_FIELD_LIMITS.map((l) => [l.path, l]));
    assert.equal(byPath.get("add_friend.user_id")?.maxBytes, 128);
    const meta = byPath.get("create_room.metadata");
    assert.deepEqual([meta?.maxEntries, meta?.maxKeyBytes, meta?.maxBytes], [16, 64, 256]);
    for (const l of CLIENT_FIELD_LIMITS) assert.ok(l.maxBytes > 0 && l.errorCode > 0, l.path);
  });
});
