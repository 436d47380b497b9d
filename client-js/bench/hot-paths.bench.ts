// Benchmarks of the client's per-tick work: decoding a ServerMessage with a
// State, applying keyframes and deltas, and sampling interpolation for every
// remote entity. Run with `npm run bench`; figures go to stdout.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ServerMessageSchema } from "../src/gen/tickroom/v1/envelope_pb.js";
import { StateSchema, type State } from "../src/gen/tickroom/v1/state_pb.js";
import { InterpolationBuffer, lerpNumber } from "../src/interpolation.js";
import { StateStore } from "../src/state-store.js";

const ENTITIES = 1000;
const CHANGED = 50;
const DATA = 32;

function entity(id: number, tick: number) {
  const data = new Uint8Array(DATA);
  data.fill((id + tick) & 0xff);
  return { id: BigInt(id), data };
}

function keyframe(tick: number): State {
  return create(StateSchema, {
    roomId: "room-1",
    tick: BigInt(tick),
    keyframe: true,
    globalsSet: true,
    upserts: Array.from({ length: ENTITIES }, (_, i) => entity(i, tick)),
  });
}

function delta(tick: number): State {
  return create(StateSchema, {
    roomId: "room-1",
    tick: BigInt(tick),
    baseTick: BigInt(tick - 1),
    upserts: Array.from({ length: CHANGED }, (_, i) => entity((i * 17 + tick) % ENTITIES, tick)),
    acks: [{ seat: 0, seq: tick }],
  });
}

function bench(name: string, fn: (i: number) => void): void {
  // Warm up, then run for about half a second.
  for (let i = 0; i < 200; i++) fn(i);
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < 500) {
    for (let k = 0; k < 100; k++) fn(n++);
    elapsed = performance.now() - start;
  }
  const us = (elapsed * 1000) / n;
  console.log(`${name.padEnd(48)} ${String(n).padStart(8)} ops ${us.toFixed(2).padStart(10)} µs/op`);
}

const deltaFrames = Array.from({ length: 64 }, (_, i) =>
  toBinary(ServerMessageSchema, create(ServerMessageSchema, { body: { case: "state", value: delta(i + 2) } })),
);
console.log(`delta frame: ${deltaFrames[0]!.length} bytes (${CHANGED} of ${ENTITIES} entities, ${DATA} bytes each)`);
bench("decode ServerMessage(State delta)", (i) => {
  fromBinary(ServerMessageSchema, deltaFrames[i % deltaFrames.length]!);
});

const kf = keyframe(1);
bench(`StateStore.apply keyframe (${ENTITIES} entities)`, () => {
  new StateStore().apply(kf);
});

// Deltas chain tick by tick, so they are built up front; each time the
// chain runs out the store starts over from the keyframe (about 0.1 µs/op
// of the figure, amortised).
const CHAIN = 2048;
const deltas = Array.from({ length: CHAIN }, (_, i) => delta(i + 2));
let store = new StateStore();
let next = CHAIN;
bench(`StateStore.apply delta (${CHANGED} upserts)`, () => {
  if (next === CHAIN) {
    store = new StateStore();
    store.apply(kf);
    next = 0;
  }
  const r = store.apply(deltas[next++]!);
  if (!r.ok) throw new Error(`delta refused: ${r.reason}`);
});

const buf = new InterpolationBuffer<number, number>(lerpNumber, { delayMs: 100 });
let t = 0;
bench("InterpolationBuffer push+sample (200 entities)", () => {
  t += 50;
  for (let id = 0; id < 200; id++) {
    buf.push(id, t, id + t);
    buf.sample(id, t - 25);
  }
});
