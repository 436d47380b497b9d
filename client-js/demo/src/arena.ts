// The arena on a canvas: walls and pickups from the room's entities, the
// user's own avatar at its latest server position, every other player
// interpolated between states (rendered 100 ms in the past), and the arrow
// keys or WASD sent as arena Input whenever the direction changes. The
// user's own avatar is extrapolated along its server velocity for at most
// one tick, so it moves smoothly between the 20 Hz states.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { interpolateRoom, lerpFields, type Room, type RoomInterpolation } from "../../src/index.js";
import { GlobalsSchema, InputSchema, PickupSchema, PlayerSchema, ResultSchema, WallSchema, type Globals } from "../../src/gen/tickroom/arena/v1/arena_pb.js";
import { RoomEventKind, type MatchResult } from "../../src/gen/tickroom/v1/state_pb.js";
import { el } from "./dom.js";
import type { GameView, ViewHost } from "./view.js";

/** ARENA_ROUND_SECONDS is how long the demo's arena rounds last: a round ends with every player's score in their match history. */
export const ARENA_ROUND_SECONDS = 180;

/**
 * arenaRoundSeconds is the round length the page asks for: ?arena_seconds=N in its
 * query (1 to 3600, for a shorter or longer round), else ARENA_ROUND_SECONDS.
 */
export function arenaRoundSeconds(search: string): number {
  const v = new URLSearchParams(search).get("arena_seconds");
  const n = v === null || !/^\d+$/.test(v) ? NaN : Number(v);
  return n >= 1 && n <= 3600 ? n : ARENA_ROUND_SECONDS;
}

/**
 * roundOver says how an arena round ended, from its MatchResult: who won with how many
 * points, or a draw, from the point of view of the player in seat (0: a spectator).
 */
export function roundOver(r: MatchResult, seat: number): string {
  const players = r.data.length > 0 ? fromBinary(ResultSchema, r.data).players : [];
  const winners = players.filter((p) => r.winnerSeats.includes(p.seat));
  const points = (n: number) => `${n} point${n === 1 ? "" : "s"}`;
  // A round whose time ran out with every player on the same score is a draw: no winner.
  if (winners.length === 0 && r.reason === "time_up" && players.length > 1) return `Round over: a draw, everyone with ${points(players[0]!.score)}.`;
  // A round played alone names no winner either: it beat nobody, and counts for nothing.
  if (winners.length === 0 && r.reason === "time_up" && players.length === 1) return `Round over: ${points(players[0]!.score)}, played alone (a round alone does not count).`;
  if (winners.length === 0) return "Round over.";
  const best = points(winners[0]!.score);
  const mine = players.find((p) => p.seat === seat);
  if (mine && winners.includes(mine)) return winners.length === 1 ? `Round over: you win with ${best}!` : `Round over: you share the win with ${best}.`;
  const names = winners.map((p) => p.name).join(", ");
  return `Round over: ${names} ${winners.length === 1 ? "wins" : "win"} with ${best}${mine ? `; you have ${points(mine.score)}` : ""}.`;
}

// Entity id bases, as the arena assigns them: a player's id is its seat
// (a Player), walls from wallBase (a Wall), pickups from pickupBase (a Pickup).
const wallBase = 1n << 20n;
const pickupBase = 2n << 20n;
// Velocities arrive in quarter units per second, positions in centi-units.
const centiPerVelocityUnit = 25;

// Avatar is what is drawn of a player.
interface Avatar {
  x: number;
  y: number;
  vx: number;
  vy: number;
  seat: number;
  name: string;
  score: number;
}

const keys: Record<string, [number, number]> = {
  ArrowUp: [0, -1], KeyW: [0, -1],
  ArrowDown: [0, 1], KeyS: [0, 1],
  ArrowLeft: [-1, 0], KeyA: [-1, 0],
  ArrowRight: [1, 0], KeyD: [1, 0],
};

/**
 * nameLabel places a player's name (text centred at x, baseline at y) above
 * its avatar at (ax, ay) of radius r, or below it at the top edge, and
 * pushes it inside a field of fieldW × fieldH at the side edges, so a name
 * is never clipped. width and height are the text's.
 */
export function nameLabel(ax: number, ay: number, r: number, width: number, height: number, fieldW: number, fieldH: number): { x: number; y: number } {
  const x = Math.min(Math.max(ax, width / 2 + 2), fieldW - width / 2 - 2);
  let y = ay - r - 4;
  if (y - height < 0) y = ay + r + 4 + height;
  y = Math.min(y, fieldH - 2);
  return { x, y };
}

/**
 * seatColor is a seat's colour: hues a golden angle apart, so any number of
 * players (the arena seats 32) get colours that stay apart from each other,
 * with lightness alternating for neighbours on the wheel.
 */
export function seatColor(seat: number): string {
  const hue = (seat * 137.508) % 360;
  const light = seat % 2 === 0 ? 62 : 70;
  return `hsl(${hue.toFixed(1)}, 75%, ${light}%)`;
}

// labelFont is the avatars' name font; labelHeight its line height in pixels.
const labelFont = "12px system-ui, sans-serif";
const labelHeight = 12;

/** ArenaView renders an arena room and steers the user's avatar. */
export class ArenaView implements GameView {
  private readonly ctx: CanvasRenderingContext2D;
  private readonly smooth: RoomInterpolation<Avatar | undefined>;
  private readonly held = new Set<string>();
  private readonly offs: (() => void)[] = [];
  private globals: Globals | undefined;
  private frame = 0;
  private sent: [number, number] = [0, 0];
  private ownAt = 0;
  private ended = "";

  /** ArenaView's constructor starts drawing and listening to the keyboard. */
  constructor(
    private readonly room: Room,
    private readonly canvas: HTMLCanvasElement,
    private readonly scores: HTMLOListElement,
    private readonly host: ViewHost,
  ) {
    const ctx = canvas.getContext("2d");
    if (!ctx) throw new Error("demo: no 2d canvas");
    this.ctx = ctx;
    const lerp = lerpFields<Avatar>(["x", "y"]);
    this.smooth = interpolateRoom<Avatar | undefined>(room, {
      decode: (bytes) => avatar(bytes),
      lerp: (a, b, t) => (a && b ? lerp(a, b, t) : b),
      include: (id) => id < wallBase && id !== BigInt(room.seat),
    });
    const down = (e: KeyboardEvent) => this.key(e, true);
    const up = (e: KeyboardEvent) => this.key(e, false);
    const blur = () => {
      this.held.clear();
      this.steer();
    };
    window.addEventListener("keydown", down);
    window.addEventListener("keyup", up);
    window.addEventListener("blur", blur);
    this.offs.push(
      () => window.removeEventListener("keydown", down),
      () => window.removeEventListener("keyup", up),
      () => window.removeEventListener("blur", blur),
      room.on("state", ({ result }) => {
        if (result.upserted.includes(BigInt(room.seat))) this.ownAt = performance.now();
        if (result.globalsChanged) this.globals = fromBinary(GlobalsSchema, room.globals);
        this.renderScores();
      }),
      room.on("event", (ev) => {
        if (ev.kind !== RoomEventKind.MATCH_ENDED || !ev.result) return;
        this.ended = roundOver(ev.result, room.spectator ? 0 : room.seat);
        this.scores.dataset["ended"] = "true";
        host.status(this.ended);
      }),
    );
    if (room.globals.length > 0) this.globals = fromBinary(GlobalsSchema, room.globals);
    this.renderScores();
    host.status(room.spectator ? "You are watching." : "Arrow keys or WASD to move.");
    canvas.focus();
    const loop = () => {
      this.draw(performance.now());
      this.frame = requestAnimationFrame(loop);
    };
    this.frame = requestAnimationFrame(loop);
  }

  /** dispose stops drawing, listening and steering. */
  dispose(): void {
    cancelAnimationFrame(this.frame);
    for (const off of this.offs) off();
    this.smooth.dispose();
    this.scores.replaceChildren();
    delete this.scores.dataset["ended"];
  }

  private key(e: KeyboardEvent, down: boolean): void {
    if (!(e.code in keys)) return;
    const target = e.target as HTMLElement | null;
    if (target && (target.tagName === "INPUT" || target.tagName === "SELECT")) return;
    e.preventDefault();
    if (down) this.held.add(e.code);
    else this.held.delete(e.code);
    this.steer();
  }

  private steer(): void {
    if (this.room.spectator || !this.room.live) return;
    let dx = 0;
    let dy = 0;
    for (const code of this.held) {
      const k = keys[code]!;
      dx += k[0];
      dy += k[1];
    }
    dx = Math.sign(dx) * 1000;
    dy = Math.sign(dy) * 1000;
    if (dx !== 0 && dy !== 0) {
      dx = Math.round(dx * Math.SQRT1_2);
      dy = Math.round(dy * Math.SQRT1_2);
    }
    if (dx === this.sent[0] && dy === this.sent[1]) return;
    this.sent = [dx, dy];
    this.room.sendInput(toBinary(InputSchema, create(InputSchema, { dx, dy })));
  }

  private draw(now: number): void {
    const { ctx, canvas } = this;
    const g = this.globals;
    ctx.fillStyle = "#0c0f16";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!g || g.width <= 0 || g.height <= 0) return;
    const scale = Math.min(canvas.width / g.width, canvas.height / g.height);
    const px = (v: number) => v * scale;
    ctx.strokeStyle = "#2c3348";
    ctx.strokeRect(0, 0, px(g.width), px(g.height));

    const own = BigInt(this.room.seat);
    const players: Avatar[] = [];
    for (const [id, bytes] of this.room.entities) {
      if (id >= pickupBase) {
        const p = fromBinary(PickupSchema, bytes);
        ctx.fillStyle = "#ffd43b";
        circle(ctx, px(p.x), px(p.y), Math.max(2, px(g.pickupRadius)));
      } else if (id >= wallBase) {
        const w = fromBinary(WallSchema, bytes);
        ctx.fillStyle = "#3b4560";
        ctx.fillRect(px(w.x), px(w.y), px(w.w), px(w.h));
      } else {
        const a = id === own && !this.room.spectator ? this.extrapolate(bytes, now) : (this.smooth.sample(id, now)?.value ?? avatar(bytes));
        if (a) players.push(a);
      }
    }
    ctx.font = labelFont;
    ctx.textAlign = "center";
    ctx.textBaseline = "alphabetic";
    const fieldW = Math.min(canvas.width, px(g.width));
    const fieldH = Math.min(canvas.height, px(g.height));
    for (const p of players) {
      ctx.fillStyle = seatColor(p.seat);
      const r = Math.max(3, px(g.playerRadius));
      circle(ctx, px(p.x), px(p.y), r);
      if (BigInt(p.seat) === own && !this.room.spectator) {
        ctx.strokeStyle = "#ffffff";
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.arc(px(p.x), px(p.y), r + 2, 0, Math.PI * 2);
        ctx.stroke();
      }
      const at = nameLabel(px(p.x), px(p.y), r, ctx.measureText(p.name).width, labelHeight, fieldW, fieldH);
      ctx.fillStyle = "#e4e7ef";
      ctx.fillText(p.name, at.x, at.y);
    }
  }

  // extrapolate moves the own avatar along its velocity since its last
  // state, by at most one tick: a wall then costs at most a tick's error.
  private extrapolate(bytes: Uint8Array, now: number): Avatar | undefined {
    const a = avatar(bytes);
    if (!a || this.ownAt === 0) return a;
    const dt = Math.min(Math.max(0, now - this.ownAt), 1000 / Math.max(1, this.room.tickRate)) / 1000;
    return { ...a, x: a.x + a.vx * centiPerVelocityUnit * dt, y: a.y + a.vy * centiPerVelocityUnit * dt };
  }

  private renderScores(): void {
    const players: Avatar[] = [];
    for (const [id, bytes] of this.room.entities) {
      if (id >= wallBase) continue;
      const a = avatar(bytes);
      if (a) players.push(a);
    }
    players.sort((a, b) => b.score - a.score || a.seat - b.seat);
    const me = this.room.spectator ? undefined : players.find((p) => p.seat === this.room.seat);
    if (me) this.canvas.dataset["me"] = `${me.x},${me.y}`;
    const left = this.globals?.remainingTicks ? ` — ${Math.ceil(this.globals.remainingTicks / Math.max(1, this.room.tickRate))} s left` : "";
    this.scores.replaceChildren(
      ...players.map((p) => {
        const swatch = el("span", { cls: "swatch", attrs: { "aria-hidden": "true" } });
        swatch.style.background = seatColor(p.seat);
        const li = el("li", {}, swatch, el("span", { cls: "score-name", text: p.name, attrs: { title: p.name } }), el("span", { cls: "score", text: String(p.score) }));
        li.dataset["seat"] = String(p.seat);
        if (!this.room.spectator && p.seat === this.room.seat) li.classList.add("self");
        return li;
      }),
    );
    this.scores.dataset["players"] = String(players.length);
    if (left && !this.ended) this.host.status(`Arrow keys or WASD to move${left}.`);
  }
}

function avatar(bytes: Uint8Array): Avatar | undefined {
  const p = fromBinary(PlayerSchema, bytes);
  return { x: p.x, y: p.y, vx: p.vx, vy: p.vy, seat: p.seat, name: p.name, score: p.score };
}

function circle(ctx: CanvasRenderingContext2D, x: number, y: number, r: number): void {
  ctx.beginPath();
  ctx.arc(x, y, r, 0, Math.PI * 2);
  ctx.fill();
}
