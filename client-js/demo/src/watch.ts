// The watch page: a room's live state through its Server-Sent Events feed
// (GET /v1/rooms/{id}/events), with no login and no WebSocket, as a web
// page or stream overlay would embed a match. watch.html?room=ID[&pass=P]:
// a private room's feed takes a watch pass, which a member gets with
// Client.watchPass and which opens that feed alone for an hour (an old
// link's &token=T, a member's whole session, still works but is not to be
// shared). The feed's JSON format decodes the
// game's entities; this page keeps the state by applying each keyframe and
// delta, and the browser's EventSource reconnects with Last-Event-ID by
// itself, which resumes from the last tick it saw. A feed the server
// refuses is asked for once more with fetch, which reads why (probeFeed):
// a refusal that passes is waited out, any other shown.
import { byId } from "./dom.js";
import { feedEndMessage } from "./feedend.js";

// StateEvent is a "state" event's data.
interface StateEvent {
  room: string;
  tick: number;
  base_tick?: number;
  keyframe: boolean;
  upserts: { id: number; value?: unknown; bytes?: string }[];
  removed?: number[];
  globals?: unknown;
}

const SIZE = 15;
const params = new URLSearchParams(location.search);
const roomId = params.get("room") ?? "";
const ui = {
  title: byId("watch-title"),
  status: byId("watch-status"),
  info: byId("watch-info"),
  board: byId("watch-board"),
  arena: byId<HTMLCanvasElement>("watch-arena"),
  raw: byId("watch-raw"),
};

const entities = new Map<number, unknown>();
let globals: unknown = undefined;
let tick = 0;
let game = "";
let keyframes = 0;
let deltas = 0;

function setStatus(state: string, text: string): void {
  ui.status.dataset["state"] = state;
  ui.status.textContent = text;
  document.body.dataset["stream"] = state;
}

function apply(st: StateEvent): void {
  if (st.keyframe) {
    entities.clear();
    keyframes++;
  } else {
    deltas++;
  }
  for (const id of st.removed ?? []) entities.delete(id);
  for (const u of st.upserts) entities.set(u.id, u.value ?? u.bytes);
  if (st.globals !== undefined) globals = st.globals;
  tick = st.tick;
  document.body.dataset["tick"] = String(tick);
  document.body.dataset["keyframes"] = String(keyframes);
  document.body.dataset["deltas"] = String(deltas);
  render();
}

function render(): void {
  const g = globals as Record<string, unknown> | undefined;
  if (game === "gomoku") return renderGomoku(g);
  if (game === "arena") return renderArena(g);
  ui.raw.hidden = false;
  ui.raw.textContent = JSON.stringify({ tick, globals, entities: Object.fromEntries(entities) }, null, 2);
}

function renderGomoku(g: Record<string, unknown> | undefined): void {
  ui.board.hidden = false;
  if (ui.board.childElementCount !== SIZE * SIZE) {
    const cells: HTMLElement[] = [];
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const c = document.createElement("span");
        c.className = "cell";
        c.dataset["x"] = String(x);
        c.dataset["y"] = String(y);
        cells.push(c);
      }
    }
    ui.board.replaceChildren(...cells);
  }
  const cells = ui.board.children;
  for (let i = 0; i < cells.length; i++) cells[i]?.classList.remove("black", "white");
  for (const v of entities.values()) {
    const s = v as { x?: number; y?: number; seat?: number };
    cells[(s.y ?? 0) * SIZE + (s.x ?? 0)]?.classList.add(s.seat === 1 ? "black" : "white");
  }
  const turn = Number(g?.["turn_seat"] ?? 0);
  ui.board.dataset["stones"] = String(entities.size);
  ui.board.dataset["turn"] = String(turn);
  ui.info.textContent = turn === 0 ? `${entities.size} stones` : `${entities.size} stones, ${turn === 1 ? "black" : "white"} to move`;
}

// The arena's entity ids say what they are: seats are players, 2^20 + i
// walls, 2^21 + i pickups; positions are in centi-units.
const WALL_BASE = 1 << 20;
const PICKUP_BASE = 2 << 20;

function renderArena(g: Record<string, unknown> | undefined): void {
  const c = ui.arena;
  c.hidden = false;
  const ctx = c.getContext("2d");
  if (!ctx) return;
  const scale = c.width / Number(g?.["width"] ?? 4000);
  ctx.fillStyle = "#12151c";
  ctx.fillRect(0, 0, c.width, c.height);
  let players = 0;
  for (const [id, v] of entities) {
    const e = v as { x?: number; y?: number; w?: number; h?: number };
    const x = (e.x ?? 0) * scale;
    const y = (e.y ?? 0) * scale;
    if (id >= PICKUP_BASE) {
      ctx.fillStyle = "#ffd84a";
      ctx.beginPath();
      ctx.arc(x, y, 4, 0, Math.PI * 2);
      ctx.fill();
    } else if (id >= WALL_BASE) {
      ctx.fillStyle = "#2c3348";
      ctx.fillRect(x, y, (e.w ?? 0) * scale, (e.h ?? 0) * scale);
    } else {
      players++;
      ctx.fillStyle = "#5aa9ff";
      ctx.beginPath();
      ctx.arc(x, y, 8, 0, Math.PI * 2);
      ctx.fill();
    }
  }
  c.dataset["players"] = String(players);
  ui.info.textContent = `${players} players`;
}

function main(): void {
  if (!roomId) {
    setStatus("error", "no room");
    ui.info.textContent = "Open this page from the lobby's Stream link (watch.html?room=ID).";
    return;
  }
  ui.title.textContent = `watching ${roomId.slice(0, 8)}`;
  const q = new URLSearchParams();
  const pass = params.get("pass");
  const token = params.get("token");
  if (pass) q.set("pass", pass);
  else if (token) q.set("token", token);
  const url = `/v1/rooms/${encodeURIComponent(roomId)}/events${q.size > 0 ? `?${q}` : ""}`;
  openFeed(url, 0);
}

// RETRY_SECONDS are the waits before the page opens its feed again after
// the browser's EventSource gave up and a request of its own (probeFeed)
// found the refusal passing (429, 503) or could not reach the server; a
// Retry-After that asks for longer is waited instead. EventSource gives up
// on any status but 200 and reads neither the status nor Retry-After.
const RETRY_SECONDS = [2, 4, 8, 16];

function openFeed(url: string, failures: number): void {
  const es = new EventSource(url);
  es.addEventListener("open", () => {
    failures = 0;
    setStatus("open", "live");
  });
  es.addEventListener("error", () => {
    if (es.readyState !== EventSource.CLOSED) {
      setStatus("connecting", "reconnecting");
      return;
    }
    es.close();
    void probeFeed(url, failures);
  });
  es.addEventListener("room", (ev) => {
    const e = JSON.parse((ev as MessageEvent<string>).data) as { kind?: string; result?: { reason?: string } };
    if (e.kind === "ROOM_EVENT_KIND_MATCH_ENDED") ui.info.textContent = `Match over (${e.result?.reason ?? "ended"}).`;
  });
  es.addEventListener("state", (ev) => apply(JSON.parse((ev as MessageEvent<string>).data) as StateEvent));
  es.addEventListener("end", (ev) => {
    es.close();
    const reason = (JSON.parse((ev as MessageEvent<string>).data) as { reason?: string }).reason ?? "";
    setStatus("closed", feedEndMessage(reason));
  });
}

// probeFeed asks for the feed once with fetch, which can read what
// EventSource cannot: a refusal that passes (429 while this address opens
// streams too fast, 503 while the server is full or stopping) is waited
// out, for its Retry-After or the next of RETRY_SECONDS, and the feed
// opened again; any other refusal (no such room, a pass expired or
// refused, a room that takes no spectators) is shown at once, in the
// server's words. A feed the server would have served is let go and
// opened again as an EventSource.
async function probeFeed(url: string, failures: number): Promise<void> {
  let status = 0;
  let text = "";
  let after = 0;
  const ac = new AbortController();
  try {
    const res = await fetch(url, { signal: ac.signal, cache: "no-store" });
    status = res.status;
    after = Number(res.headers.get("Retry-After") ?? "") || 0;
    if (res.ok) ac.abort();
    else text = (await res.text()).trim();
  } catch {
    // Not reached: waited out below as a passing refusal.
  }
  if (status !== 0 && status !== 200 && status !== 429 && status !== 503) {
    setStatus("error", `the room cannot be watched: ${text || `HTTP ${status}`}`);
    return;
  }
  const wait = RETRY_SECONDS[failures];
  if (wait === undefined) {
    setStatus("error", "the room cannot be watched now: reload the page to try again");
    return;
  }
  if (status === 200) {
    openFeed(url, failures + 1);
    return;
  }
  const secs = Math.max(wait, Math.min(after, 60));
  const why = status === 0 ? "the server cannot be reached" : "the server is busy";
  setStatus("busy", `${why}: trying again in ${secs} s`);
  setTimeout(() => openFeed(url, failures + 1), secs * 1000);
}

// The lobby's link names the game, which decides the drawing.
game = params.get("game") ?? "";
void main();
