import { create, toBinary } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GlobalsSchema, PlayerSchema, WallSchema } from "../src/gen/tickroom/arena/v1/arena_pb.js";
import { fromAdminState, inspectState, type InspectNode, type StateSchema } from "../src/inspector.js";
import { StateStore } from "../src/state-store.js";
import { ServerSim } from "./patch.js";

// arena mirrors the arena's own Schema: seats are players, 2^20 + i walls.
const arena: StateSchema = {
  globals: GlobalsSchema,
  entity: (id) => (id < 1n << 20n ? PlayerSchema : id < 1n << 21n ? WallSchema : undefined),
};

const player = (seat: number, name: string, x: number, y: number) =>
  toBinary(PlayerSchema, create(PlayerSchema, { seat, name, x, y, score: 0 }));

// child finds the child of a group by key, failing the test when absent.
function child(n: InspectNode, key: string): InspectNode {
  assert.equal(n.kind, "group", `${n.path} is a group`);
  const c = n.children.find((x) => x.key === key);
  assert.ok(c, `${n.path || "root"} has ${key}; it has ${n.children.map((x) => x.key).join(", ")}`);
  return c;
}

// flat renders a tree as "path = text" lines, the way a reader sees it.
function flat(n: InspectNode, out: string[] = []): string[] {
  if (n.kind === "group") {
    out.push(`${n.path || "/"} (${n.summary})`);
    for (const c of n.children) flat(c, out);
  } else if (n.kind === "value") out.push(`${n.path} = ${n.text}`);
  else out.push(`${n.path} = ${n.length} bytes ${n.hex}${n.truncated ? " …" : ""} [${n.note}]`);
  return out;
}

describe("inspectState", () => {
  it("decodes entities and globals with the game's schema, zero fields included", () => {
    const tree = inspectState(
      {
        tick: 42n,
        globals: toBinary(GlobalsSchema, create(GlobalsSchema, { width: 800, height: 600 })),
        entities: new Map([
          [2n, player(2, "bob", 10, 20)],
          [1n, player(1, "ann <b>", 0, 7)],
          [(1n << 20n) + 3n, toBinary(WallSchema, create(WallSchema, { x: -5, y: 1, w: 2, h: 3 }))],
        ]),
      },
      { schema: arena },
    );
    const lines = flat(tree);
    assert.equal(lines[0], "/ (tick 42)");
    assert.ok(lines.includes("tick = 42"));
    assert.ok(lines.includes("globals (tickroom.arena.v1.Globals)"), lines.join("\n"));
    assert.ok(lines.includes("globals/width = 800"));
    assert.ok(lines.includes("globals/remaining_ticks = 0"), "an implicit zero shows");
    assert.ok(lines.includes("entities (3 entities)"));
    // Entities come in ascending id order whatever the input's order.
    const ents = child(tree, "entities");
    assert.equal(ents.kind, "group");
    assert.deepEqual(ents.children.map((c) => c.key), ["1", "2", "1048579"]);
    assert.ok(lines.includes("entities/1 (tickroom.arena.v1.Player)"));
    assert.ok(lines.includes('entities/1/name = ann <b>'), "text stays text");
    assert.ok(lines.includes("entities/1/x = 0"));
    assert.ok(lines.includes("entities/2/y = 20"));
    assert.ok(lines.includes("entities/1048579 (tickroom.arena.v1.Wall)"));
    assert.ok(lines.includes("entities/1048579/x = -5"));
  });

  it("shows bytes as length and hex without a schema, or when they do not parse", () => {
    const tree = inspectState(
      {
        tick: 3,
        globals: new Uint8Array([0xde, 0xad]),
        entities: [
          [5, new Uint8Array([1, 2, 255])],
          // A Player field 2 (name) whose length runs past the end: not a Player.
          ["7", new Uint8Array([0x12, 0x09, 0x61])],
          [(2n << 20n) + 1n, new Uint8Array([8, 1])],
        ],
      },
      { schema: { entity: arena.entity } },
    );
    const g = child(tree, "globals");
    assert.deepEqual(g, { kind: "bytes", key: "globals", path: "globals", length: 2, hex: "de ad", truncated: false, note: "no schema for this value" });
    const ents = child(tree, "entities");
    const five = child(ents, "5");
    assert.equal(five.kind, "bytes");
    const seven = child(ents, "7");
    assert.equal(seven.kind, "bytes");
    assert.equal(seven.kind === "bytes" && seven.hex, "12 09 61");
    assert.match(seven.kind === "bytes" ? seven.note : "", /^not a tickroom\.arena\.v1\.Player: /);
    const pickup = child(ents, String((2n << 20n) + 1n));
    assert.equal(pickup.kind === "bytes" && pickup.note, "no schema for this value");
  });

  it("caps the hex shown and the entities listed, saying what it left out", () => {
    const big = new Uint8Array(100).map((_, i) => i);
    const entities = new Map<bigint, Uint8Array>();
    for (let i = 1n; i <= 10n; i++) entities.set(i, big);
    const tree = inspectState({ tick: 1n, entities }, { maxEntities: 4, maxHexBytes: 3 });
    const ents = child(tree, "entities");
    assert.equal(ents.kind === "group" && ents.summary, "10 entities");
    assert.deepEqual(flat(ents).slice(1), [
      "entities/1 = 100 bytes 00 01 02 … [no schema for this value]",
      "entities/2 = 100 bytes 00 01 02 … [no schema for this value]",
      "entities/3 = 100 bytes 00 01 02 … [no schema for this value]",
      "entities/4 = 100 bytes 00 01 02 … [no schema for this value]",
      "entities/… = 6 more not shown",
    ]);
  });

  it("reads a StateStore as clients keep it, before and after its first keyframe", () => {
    const store = new StateStore();
    assert.deepEqual(flat(inspectState(store)), ["/ (tick none)", "tick = none yet", "globals = none", "entities (0 entities)"]);
    const sim = new ServerSim();
    assert.ok(store.apply(sim.state({ tick: 1, key: true, up: { 1: player(1, "ann", 5, 6) } })).ok);
    assert.ok(store.apply(sim.state({ tick: 2, base: 1, up: { 1: player(1, "ann", 9, 6), 2: player(2, "cy", 1, 1) } })).ok);
    const lines = flat(inspectState(store, { schema: arena }));
    assert.ok(lines.includes("/ (tick 2)"));
    assert.ok(lines.includes("entities/1/x = 9"), lines.join("\n"));
    assert.ok(lines.includes("entities/2/name = cy"));
  });

  it("keeps node paths stable across states, so a view can keep them open", () => {
    const a = inspectState({ tick: 1n, entities: new Map([[1n, player(1, "a", 1, 1)]]) }, { schema: arena });
    const b = inspectState({ tick: 2n, entities: new Map([[1n, player(1, "a", 2, 1)]]) }, { schema: arena });
    const paths = (n: InspectNode): string[] => (n.kind === "group" ? [n.path, ...n.children.flatMap(paths)] : [n.path]);
    assert.deepEqual(paths(a), paths(b));
  });
});

describe("fromAdminState", () => {
  it("keeps the server's decoded values and turns base64 into bytes", () => {
    const tree = inspectState(
      fromAdminState({
        room: "r1",
        game: "arena",
        tick: "18446744073709551615",
        globals_bytes: "AQL/",
        entities: [
          { id: "1", type: "tickroom.arena.v1.Player", value: { seat: 1, name: "ann", x: 3, tags: ["a", "b"] } },
          { id: "18446744073709551614", bytes: "3q2+7w==" },
        ],
      }),
    );
    const lines = flat(tree);
    assert.ok(lines.includes("/ (tick 18446744073709551615)"), lines.join("\n"));
    assert.ok(lines.includes("globals = 3 bytes 01 02 ff [no schema for this value]"));
    assert.ok(lines.includes("entities/1 (tickroom.arena.v1.Player)"));
    assert.ok(lines.includes("entities/1/name = ann"));
    assert.ok(lines.includes("entities/1/tags (2 items)"));
    assert.ok(lines.includes("entities/1/tags/1 = b"));
    assert.ok(lines.includes("entities/18446744073709551614 = 4 bytes de ad be ef [no schema for this value]"));
  });
});
