// The pong page: log in as a guest, quick-match a pong room, draw the
// court from the room's entities (decoded with the generated types) and
// send an Input whenever the paddle's direction changes.
import { connect, login, webSocketUrl, TickroomError, type Room } from "@tickroom/client";
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { BallSchema, GlobalsSchema, InputSchema, PaddleSchema, ResultSchema } from "./gen/pong/v1/pong_pb.js";

const BALL = 100n;
const form = document.querySelector<HTMLFormElement>("#login")!;
const nameInput = document.querySelector<HTMLInputElement>("#name")!;
const status = document.querySelector<HTMLParagraphElement>("#status")!;
const canvas = document.querySelector<HTMLCanvasElement>("#court")!;
const ctx = canvas.getContext("2d")!;

form.addEventListener("submit", (e) => {
  e.preventDefault();
  play(nameInput.value.trim()).catch((err: unknown) => {
    status.textContent = err instanceof TickroomError && err.code === "unauthorized" ? "Your session ended, please log in again." : String(err);
    form.hidden = false;
  });
});

async function play(name: string): Promise<void> {
  form.hidden = true;
  status.textContent = "connecting…";
  const session = await login(name, { baseUrl: location.origin });
  const client = await connect({ url: await webSocketUrl(location.origin), token: session.token });
  client.on("close", (c) => {
    if (!c.willReconnect) status.textContent = `Disconnected: ${c.error?.message ?? c.info.description}`;
  });
  status.textContent = "waiting for an opponent…";
  const room = await client.quickMatch("pong");
  canvas.hidden = false;
  room.on("event", (ev) => {
    if (ev.result) {
      const r = ev.result.data.length ? fromBinary(ResultSchema, ev.result.data) : undefined;
      const won = ev.result.winnerSeats.includes(room.seat);
      status.textContent = `${won ? "You won" : "You lost"} (${ev.result.reason}${r ? ` ${r.scores.join(":")}` : ""})`;
    }
  });
  room.on("state", () => draw(room));
  steer(room);
}

// steer sends the paddle's direction when it changes: keys, or a touch
// above or below the paddle.
function steer(room: Room): void {
  let dir = 0;
  const held = new Set<string>();
  const send = (d: number) => {
    if (d === dir || !room.live) return;
    dir = d;
    room.sendInput(toBinary(InputSchema, create(InputSchema, { dir })));
  };
  const fromKeys = () => send((held.has("down") ? 1 : 0) - (held.has("up") ? 1 : 0));
  const key = (e: KeyboardEvent, down: boolean) => {
    const k = { ArrowUp: "up", w: "up", ArrowDown: "down", s: "down" }[e.key];
    if (!k) return;
    e.preventDefault();
    if (down) held.add(k);
    else held.delete(k);
    fromKeys();
  };
  addEventListener("keydown", (e) => key(e, true));
  addEventListener("keyup", (e) => key(e, false));
  canvas.addEventListener("pointerdown", (e) => {
    const me = paddle(room, room.seat);
    const y = e.offsetY / canvas.clientHeight;
    send(me && y < me.y ? -1 : 1);
  });
  canvas.addEventListener("pointerup", () => send(0));
}

function paddle(room: Room, seat: number) {
  const b = room.entities.get(BigInt(seat));
  return b ? fromBinary(PaddleSchema, b) : undefined;
}

function draw(room: Room): void {
  const w = canvas.width;
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, w, w);
  ctx.fillStyle = "#333";
  for (let y = 0; y < w; y += 24) ctx.fillRect(w / 2 - 1, y, 2, 12);
  ctx.font = "32px system-ui";
  ctx.textAlign = "center";
  for (const seat of [1, 2]) {
    const p = paddle(room, seat);
    if (!p) continue;
    const x = seat === 1 ? 0.04 : 0.96;
    ctx.fillStyle = seat === room.seat ? "#6cf" : "#eee";
    ctx.fillRect(x * w - 5, (p.y - 0.1) * w, 10, 0.2 * w);
    ctx.fillText(`${p.name} ${p.score}`, (seat === 1 ? 0.25 : 0.75) * w, 40);
  }
  const b = room.entities.get(BALL);
  const g = room.globals.length ? fromBinary(GlobalsSchema, room.globals) : undefined;
  if (b && !g?.serveTick) {
    const ball = fromBinary(BallSchema, b);
    ctx.fillStyle = "#fff";
    ctx.beginPath();
    ctx.arc(ball.x * w, ball.y * w, 0.015 * w, 0, Math.PI * 2);
    ctx.fill();
  }
  if (!status.textContent?.startsWith("You")) status.textContent = g ? `first to ${g.target}` : "";
}
