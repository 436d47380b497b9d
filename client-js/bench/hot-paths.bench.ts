// Benchmarks of the client's per-tick work: decoding a ServerMessage with a
// State, applying keyframes and deltas, and sampling interpolation for every
// remote entity. Run with `npm run bench`; figures go to stdout.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ServerMessageSchema } from "../src/gen/tickroom/v1/envelope_pb.js";
import { type State } from "../src/gen/tickroom/v1/state_pb.js";
import { InterpolationBuffer, lerpNumber } from "../src/interpolation.js";
import { StateStore } from "../src/state-store.js";
import { Bytes, ServerSim } from "../test/patch.js";

const ENTITIES = 1000;
const CHANGED = 50;
const DATA = 32;

function entity(id: number, tick: number) {
  const data = new Uint8Array(DATA);
  data.fill((id + tick) & 0xff);
  return { id: BigInt(id), data };
}

// The server's side: each State is encoded against the state at its base,
// as the runtime does (entities that changed go whole: these bytes are not
// protobuf).
const sim = new ServerSim();

function keyframe(tick: number): State {
  const up: Record<number, Uint8Array> = {};
  for (let i = 0; i < ENTITIES; i++) up[i] = entity(i, tick).data;
  return sim.state({ tick, key: true, up, roomId: "room-1" });
}

function delta(tick: number): State {
  const up: Record<number, Uint8Array> = {};
  for (let i = 0; i < CHANGED; i++) {
    const e = entity((i * 17 + tick) % ENTITIES, tick);
    up[Number(e.id)] = e.data;
  }
  return sim.state({ tick, base: tick - 1, up, acks: [[1, tick]] });
}

function bench(name: string, fn: (i: number) => void): void {
  // Warm up (the optimizing compiler's work, which process CPU time
  // counts, stays out of the figure), then run for about 300 ms of this
  // process's CPU time (user + system), which a busy shared machine
  // disturbs less than wall time; a wall-time budget ran only a few hundred
  // ops when the machine was busy, and the compiler's CPU then weighed on
  // each. The figure is CPU time per op.
  for (let i = 0; i < 2000; i++) fn(i);
  let n = 0;
  const cpu0 = process.cpuUsage();
  let cpu = cpu0;
  do {
    for (let k = 0; k < 100; k++) fn(n++);
    cpu = process.cpuUsage(cpu0);
  } while (cpu.user + cpu.system < 300_000);
  const us = (cpu.user + cpu.system) / n;
  console.log(`${name.padEnd(48)} ${String(n).padStart(8)} ops ${us.toFixed(2).padStart(10)} µs/op (CPU) ${allocated(fn, n).padStart(8)} B/op`);
}

// allocated is the heap that fn allocates per op, counted (not timed):
// heap used after a collection, then after ops that no collection
// interrupts (200 ops of up to 40 KB fit V8's 16 MB new space; node runs
// with --expose-gc from scripts/bench.mjs); "?" without it.
function allocated(fn: (i: number) => void, from: number): string {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return "?";
  const ops = 200;
  gc();
  const h0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < ops; i++) fn(from + i);
  const h1 = process.memoryUsage().heapUsed;
  return String(Math.round((h1 - h0) / ops));
}

// The arena's shape: 10 players (protobuf Player: seat, name, x, y, vx, vy,
// score), 6 walls and 20 pickups; each tick every player moves (x and y
// field deltas), half of them turn (vx, vy too), and half the acks rise.
const player = (seat: number) =>
  new Bytes().raw([0x08, seat, 0x12]).lenBytes(new TextEncoder().encode(`player${seat}`)).raw([0x18]).varint(1000 + seat * 100)
    .raw([0x20]).varint(800 + seat * 50).raw([0x28, 20, 0x30, 9, 0x38, 3]).bytes;
const arenaUp: Record<number, Uint8Array> = {};
for (let s = 1; s <= 10; s++) arenaUp[s] = player(s);
for (let i = 0; i < 6; i++) arenaUp[(1 << 20) + i] = new Bytes().raw([0x08]).varint(400 * i).raw([0x10, 0x90, 0x03, 0x18, 0xc8, 0x01, 0x20, 0x64]).bytes;
for (let i = 0; i < 20; i++) arenaUp[(2 << 20) + i] = new Bytes().raw([0x08]).varint(100 * i).raw([0x10]).varint(150 * i).raw([0x18, 2]).bytes;
const arenaSim = new ServerSim();
const arenaKf = arenaSim.state({ tick: 1, key: true, up: arenaUp, globals: "g", roomId: "0123456789abcdef", roomRef: 3 });
function arenaPatch(sign: number): Uint8Array {
  const b = new Bytes().varint(6).bitset([0, 2, 4, 6, 8]).varint(0).bitset([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (let s = 1; s <= 10; s++) {
    const zz = sign > 0 ? 80 : 79; // x, y ±40
    if (s % 2 === 0) b.varint(61).varint(zz).varint(zz).varint(sign > 0 ? 6 : 5).varint(sign > 0 ? 6 : 5);
    else b.varint(13).varint(zz).varint(zz);
  }
  return b.bytes;
}
const arenaFrames = [arenaPatch(1), arenaPatch(-1)].map((patch, i) =>
  toBinary(ServerMessageSchema, create(ServerMessageSchema, { body: { case: "state", value: { tick: BigInt(i + 2), baseTick: BigInt(i + 1), roomRef: 3, patch } } })),
);
console.log(`arena delta frame: ${arenaFrames[0]!.length} bytes (10 players moving)`);
let arenaStore = new StateStore();
let arenaTick = 0;
bench("decode + apply arena delta (10 players)", () => {
  if (arenaTick === 0 || arenaTick > 1000) {
    arenaStore = new StateStore();
    arenaStore.apply(arenaKf);
    arenaTick = 1;
  }
  const m = fromBinary(ServerMessageSchema, arenaFrames[(arenaTick - 1) % 2]!);
  if (m.body.case !== "state") throw new Error("not a state");
  m.body.value.tick = BigInt(arenaTick + 1);
  m.body.value.baseTick = BigInt(arenaTick);
  const r = arenaStore.apply(m.body.value);
  if (!r.ok) throw new Error(`arena delta refused: ${r.reason}`);
  arenaTick++;
});



// The same delta, decoding apart from applying.
const arenaMsgs = arenaFrames.map((f) => fromBinary(ServerMessageSchema, f));
bench("decode arena delta ServerMessage", (i) => {
  fromBinary(ServerMessageSchema, arenaFrames[i % 2]!);
});
let applyStore = new StateStore();
let applyTick = 0;
bench("apply arena delta (10 players)", () => {
  if (applyTick === 0 || applyTick > 1000) {
    applyStore = new StateStore();
    applyStore.apply(arenaKf);
    applyTick = 1;
  }
  const m = arenaMsgs[(applyTick - 1) % 2]!;
  if (m.body.case !== "state") throw new Error("not a state");
  m.body.value.tick = BigInt(applyTick + 1);
  m.body.value.baseTick = BigInt(applyTick);
  const r = applyStore.apply(m.body.value);
  if (!r.ok) throw new Error(`arena delta refused: ${r.reason}`);
  applyTick++;
});

// Deltas chain tick by tick, so they are built up front; each time the
// chain runs out the store starts over from the keyframe (about 0.1 µs/op
// of the figure, amortised).
const CHAIN = 2048;
const kf = keyframe(1);
const deltas = Array.from({ length: CHAIN }, (_, i) => delta(i + 2));
const deltaFrames = deltas.slice(0, 64).map((d) => toBinary(ServerMessageSchema, create(ServerMessageSchema, { body: { case: "state", value: d } })));
console.log(`delta frame: ${deltaFrames[0]!.length} bytes (${CHANGED} of ${ENTITIES} entities, ${DATA} bytes each)`);
bench("decode ServerMessage(State delta)", (i) => {
  fromBinary(ServerMessageSchema, deltaFrames[i % deltaFrames.length]!);
});

bench(`StateStore.apply keyframe (${ENTITIES} entities)`, () => {
  new StateStore().apply(kf);
});

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
