// tickroom monitor: polls /v1/admin/overview with the admin token (kept in
// sessionStorage for this tab only), charts the last polls with uPlot,
// lists the cluster's nodes, lists rooms and players of every node a page
// at a time with a search and a node filter, and shows a room's state in
// the inspector, wherever the room runs. No inline script or style: the page's
// CSP forbids them.
import uPlot from "uplot";
import { InspectorView } from "../../src/inspector-view.js";
import { fromAdminState, inspectState, type AdminRoomState } from "../../src/inspector.js";
import { formatByteRate, formatBytes, formatCount, formatMs, formatRate, formatUptime } from "./format.js";
import { History, counterRate, type Overview, type Series } from "./history.js";

const params = new URLSearchParams(location.search);
/** POLL_MS is the poll period; ?poll= (250..60000 ms) changes it. */
const POLL_MS = clamp(Number(params.get("poll") ?? 2000), 250, 60_000, 2000);
/** PAGE is the rows a list shows; ?page= (1..500) changes it. */
const PAGE = clamp(Number(params.get("page") ?? 20), 1, 500, 20);
const TOKEN_KEY = "tickroom-admin-token";

function clamp(v: number, lo: number, hi: number, dflt: number): number {
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.round(v))) : dflt;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let token = sessionStorage.getItem(TOKEN_KEY) ?? "";
let timer: ReturnType<typeof setInterval> | undefined;
let previous: Overview | undefined;
let polls = 0;
let history = new History();

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function api<T>(method: string, path: string, body?: unknown): Promise<{ data: T; res: Response }> {
  const res = await fetch(path, {
    method,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const msg = res.status === 401 ? "wrong or missing admin token" : (data as { error?: string }).error || res.statusText;
    throw new HttpError(res.status, msg);
  }
  return { data: data as T, res };
}

function setStatus(text: string, bad: boolean): void {
  const s = $("status");
  s.textContent = text;
  s.className = bad ? "status bad" : "status";
}

function showError(err: unknown): void {
  setStatus(err instanceof Error ? err.message : String(err), true);
}

function cell(row: HTMLTableRowElement, text: string | number, cls?: string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function actionButton(row: HTMLTableRowElement, label: string, onClick: () => void): void {
  const td = document.createElement("td");
  const b = document.createElement("button");
  b.className = "act";
  b.type = "button";
  b.textContent = label;
  b.dataset["action"] = label;
  b.addEventListener("click", onClick);
  td.appendChild(b);
  row.appendChild(td);
}

// ---- cards --------------------------------------------------------------

function card(box: HTMLElement, name: string, value: string, sub = ""): void {
  const c = document.createElement("div");
  c.className = "card";
  c.dataset["card"] = name;
  const b = document.createElement("b");
  b.textContent = value;
  c.append(b, name);
  if (sub) {
    const s = document.createElement("small");
    s.textContent = " " + sub;
    c.append(s);
  }
  box.appendChild(c);
}

function renderCards(o: Overview): void {
  const box = $("cards");
  box.replaceChildren();
  card(box, "connections", formatCount(o.gauges["tcp_connections"] ?? 0));
  card(box, "sessions", formatCount(o.gauges["sessions"] ?? 0));
  card(box, "rooms", formatCount(o.gauges["rooms"] ?? 0));
  const r = (k: string) => counterRate(previous, o, k);
  card(box, "bytes in", formatByteRate(r("bytes_in") ?? NaN), formatBytes(o.counters["bytes_in"] ?? 0) + " in all");
  card(box, "bytes out", formatByteRate(r("bytes_out") ?? NaN), formatBytes(o.counters["bytes_out"] ?? 0) + " in all");
  for (const k of Object.keys(o.counters).sort()) {
    if (k === "bytes_in" || k === "bytes_out") continue;
    card(box, k.replaceAll("_", " "), formatRate(r(k) ?? NaN), formatCount(o.counters[k] ?? 0) + " in all");
  }
}

// ---- nodes ---------------------------------------------------------------

interface NodeRow {
  id: string;
  ws_url: string;
  http_url?: string;
  conns: number;
  sessions: number;
  rooms: number;
  draining: boolean;
  started: string;
  last_heartbeat: string;
  self: boolean;
}

type Poll = Overview & {
  node: string;
  nodes: NodeRow[];
  nodes_error?: string;
  games: { game: string; rooms: number; ticks: TickJSON }[];
};

/** nodeIds are the nodes of the last poll, for the lists' node filters. */
let nodeIds: string[] = [];

function renderNodes(o: Poll): void {
  const body = $("nodes");
  body.replaceChildren();
  const now = Date.parse(o.time);
  for (const n of o.nodes) {
    const r = document.createElement("tr");
    r.dataset["node"] = n.id;
    if (n.self) r.className = "self";
    cell(r, n.self ? `${n.id} (this node)` : n.id);
    cell(r, n.ws_url);
    cell(r, n.http_url ?? "");
    cell(r, formatCount(n.conns));
    cell(r, formatCount(n.sessions));
    cell(r, formatCount(n.rooms));
    cell(r, n.draining ? "draining" : "up", n.draining ? "warn" : "");
    cell(r, formatMs(Math.max(0, now - Date.parse(n.last_heartbeat))) + " ago");
    cell(r, formatUptime(Math.max(0, (now - Date.parse(n.started)) / 1000)));
    if (n.draining) {
      cell(r, "");
    } else {
      actionButton(r, "drain", () => {
        if (confirm(`Drain node ${n.id}? It takes no new rooms and stops once its matches end.`)) {
          api("POST", `/v1/admin/nodes/${encodeURIComponent(n.id)}/drain`, {}).then(() => poll(), showError);
        }
      });
    }
    body.appendChild(r);
  }
  const note = $("nodes-note");
  note.textContent = o.nodes_error ? `registry unreachable: ${o.nodes_error}` : o.nodes.length === 1 ? "(a single node)" : `(${o.nodes.length} in the cluster)`;
  note.className = o.nodes_error ? "unreachable" : "";
  $("charts-node").textContent = `of node ${o.node}`;
  const ids = o.nodes.map((n) => n.id);
  if (ids.join("\n") !== nodeIds.join("\n")) {
    nodeIds = ids;
    for (const sel of [$<HTMLSelectElement>("room-node"), $<HTMLSelectElement>("player-node")]) {
      const keep = sel.value;
      sel.replaceChildren(new Option("every node", ""), ...ids.map((id) => new Option(id, id)));
      sel.value = ids.includes(keep) ? keep : "";
      // A node that left: its list shows every node again.
      if (sel.value !== keep) sel.dispatchEvent(new Event("change"));
    }
  }
}

// ---- charts -------------------------------------------------------------

interface ChartSpec {
  id: string;
  title: string;
  format: (v: number) => string;
  lines: { label: string; key: keyof Series; color: string }[];
}

const CHARTS: ChartSpec[] = [
  {
    id: "connections",
    title: "Connections",
    format: formatCount,
    lines: [
      { label: "TCP connections", key: "connections", color: "#0b5394" },
      { label: "sessions", key: "sessions", color: "#1a7f37" },
    ],
  },
  { id: "rooms", title: "Rooms", format: formatCount, lines: [{ label: "rooms", key: "rooms", color: "#8250df" }] },
  {
    id: "frames",
    title: "Frames per second",
    format: formatRate,
    lines: [
      { label: "in", key: "framesIn", color: "#0b5394" },
      { label: "out", key: "framesOut", color: "#cf222e" },
    ],
  },
  {
    id: "bytes",
    title: "Bytes per second",
    format: formatByteRate,
    lines: [
      { label: "in", key: "bytesIn", color: "#0b5394" },
      { label: "out", key: "bytesOut", color: "#cf222e" },
    ],
  },
  {
    id: "lateness",
    title: "Tick lateness and send wait p99 (each poll's window)",
    format: formatMs,
    lines: [
      { label: "tick lateness p99", key: "latenessP99", color: "#b35900" },
      { label: "send wait p99", key: "sendWaitP99", color: "#8250df" },
    ],
  },
];

const charts = new Map<string, { plot: uPlot; el: HTMLElement; spec: ChartSpec }>();

function chartData(spec: ChartSpec, s: Readonly<Series>): uPlot.AlignedData {
  return [s.time, ...spec.lines.map((l) => s[l.key] as (number | null)[])];
}

function chartWidth(el: HTMLElement): number {
  return Math.max(240, el.clientWidth - 8);
}

function ensureCharts(): void {
  if (charts.size > 0) return;
  const box = $("charts");
  for (const spec of CHARTS) {
    const el = document.createElement("div");
    el.className = "chart";
    el.dataset["chart"] = spec.id;
    box.appendChild(el);
    const opts: uPlot.Options = {
      title: spec.title,
      width: chartWidth(el),
      height: 170,
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1, max ?? 1) * 1.1] } },
      series: [{}, ...spec.lines.map((l) => ({ label: l.label, stroke: l.color, width: 2, spanGaps: false, value: (_u: uPlot, v: number | null) => (v == null ? "–" : spec.format(v)) }))],
      axes: [{}, { size: 84, values: (_u, splits) => splits.map((v) => spec.format(v)) }],
      legend: { live: true },
    };
    charts.set(spec.id, { plot: new uPlot(opts, chartData(spec, history.series()), el), el, spec });
  }
  window.addEventListener("resize", () => {
    for (const c of charts.values()) c.plot.setSize({ width: chartWidth(c.el), height: 170 });
  });
}

function renderCharts(): void {
  ensureCharts();
  const s = history.series();
  for (const c of charts.values()) {
    c.plot.setData(chartData(c.spec, s));
    c.el.dataset["points"] = String(s.time.length);
    const last = s[c.spec.lines[0]!.key].at(-1) as number | null | undefined;
    c.el.dataset["last"] = last == null ? "" : String(last);
  }
  const t = s.time;
  $("window").textContent = t.length > 1 ? `(last ${formatUptime(t.at(-1)! - t[0]!)}, a point every ${formatMs(POLL_MS)})` : "";
}

// ---- games --------------------------------------------------------------

interface TickJSON {
  ticks: number;
  lateness_p50_ms: number;
  lateness_p99_ms: number;
  duration_p50_ms: number;
  duration_p99_ms: number;
  overruns: number;
  inbox_drops: number;
  state_skipped: number;
}

function renderGames(o: Poll): void {
  const body = $("games");
  body.replaceChildren();
  for (const g of o.games) {
    const r = document.createElement("tr");
    const t = g.ticks;
    cell(r, g.game);
    cell(r, formatCount(g.rooms));
    cell(r, formatCount(t.ticks));
    cell(r, formatMs(t.lateness_p50_ms));
    cell(r, formatMs(t.lateness_p99_ms));
    cell(r, formatMs(t.duration_p50_ms));
    cell(r, formatMs(t.duration_p99_ms));
    cell(r, formatCount(t.overruns), t.overruns > 0 ? "warn" : "");
    cell(r, formatCount(t.inbox_drops), t.inbox_drops > 0 ? "warn" : "");
    cell(r, formatCount(t.state_skipped));
    body.appendChild(r);
  }
}

// ---- paged lists ----------------------------------------------------------

/** PagedList fetches one page of an admin list with its search text. */
class PagedList<T> {
  offset = 0;
  total = 0;
  q = "";
  node = "";
  private seq = 0;
  private debounce: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly name: string,
    readonly path: string,
    readonly render: (items: T[]) => void,
  ) {
    const prefix = name === "rooms" ? "room" : "player";
    const input = $<HTMLInputElement>(`${prefix}-q`);
    const nodeSel = $<HTMLSelectElement>(`${prefix}-node`);
    nodeSel.addEventListener("change", () => {
      this.node = nodeSel.value;
      this.offset = 0;
      void this.load();
    });
    input.addEventListener("input", () => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => {
        this.q = input.value.trim();
        this.offset = 0;
        void this.load();
      }, 250);
    });
    $(`${name}-prev`).addEventListener("click", () => {
      this.offset = Math.max(0, this.offset - PAGE);
      void this.load();
    });
    $(`${name}-next`).addEventListener("click", () => {
      if (this.offset + PAGE < this.total) {
        this.offset += PAGE;
        void this.load();
      }
    });
  }

  async load(): Promise<void> {
    const seq = ++this.seq;
    const qs = new URLSearchParams({ offset: String(this.offset), limit: String(PAGE) });
    if (this.q) qs.set("q", this.q);
    if (this.node) qs.set("node", this.node);
    try {
      const { data, res } = await api<T[]>("GET", `${this.path}?${qs}`);
      if (seq !== this.seq) return; // a newer request is on its way
      this.total = Number(res.headers.get("X-Total-Count") ?? data.length);
      if (this.offset > 0 && this.offset >= this.total) {
        this.offset = Math.max(0, Math.floor((this.total - 1) / PAGE) * PAGE);
        return this.load();
      }
      this.render(data);
      const pageEl = $(`${this.name}-page`);
      const unreachable = res.headers.get("X-Unreachable-Nodes") ?? "";
      pageEl.textContent =
        (this.total === 0 ? (this.q ? `nothing matches “${this.q}”` : "none") : `${this.offset + 1}–${this.offset + data.length} of ${this.total}`) +
        (unreachable ? ` · no answer from ${unreachable.split(",").join(", ")}` : "");
      pageEl.className = unreachable ? "page unreachable" : "page";
      pageEl.dataset["unreachable"] = unreachable;
      pageEl.dataset["total"] = String(this.total);
      pageEl.dataset["offset"] = String(this.offset);
      $<HTMLButtonElement>(`${this.name}-prev`).disabled = this.offset === 0;
      $<HTMLButtonElement>(`${this.name}-next`).disabled = this.offset + PAGE >= this.total;
    } catch (err) {
      showError(err);
    }
  }
}

interface RoomRow {
  id: string;
  node?: string;
  game: string;
  phase: string;
  players: number;
  max_players: number;
  spectators: number;
  tick: number;
  ticks?: TickJSON;
}

interface PlayerRow {
  user_id: string;
  node?: string;
  name: string;
  rooms: string[] | null;
  connections: unknown[] | null;
}

const rooms = new PagedList<RoomRow>("rooms", "/v1/admin/rooms", (items) => {
  const body = $("rooms");
  body.replaceChildren();
  for (const room of items) {
    const r = document.createElement("tr");
    r.dataset["room"] = room.id;
    if (room.id === inspected) r.className = "selected";
    r.dataset["node"] = room.node ?? "";
    cell(r, room.id);
    cell(r, room.node ?? "");
    cell(r, room.game);
    cell(r, room.phase);
    cell(r, `${room.players}/${room.max_players}`);
    cell(r, room.spectators);
    cell(r, formatCount(room.tick));
    cell(r, room.ticks ? formatMs(room.ticks.duration_p99_ms) : "");
    cell(r, room.ticks?.overruns ?? "", (room.ticks?.overruns ?? 0) > 0 ? "warn" : "");
    actionButton(r, "state", () => inspect(room.id));
    actionButton(r, "close", () => {
      if (confirm(`Close room ${room.id}?`)) {
        api("POST", `/v1/admin/rooms/${encodeURIComponent(room.id)}/close`, {}).then(() => rooms.load(), showError);
      }
    });
    body.appendChild(r);
  }
});

const players = new PagedList<PlayerRow>("players", "/v1/admin/players", (items) => {
  const body = $("players");
  body.replaceChildren();
  for (const p of items) {
    const r = document.createElement("tr");
    r.dataset["user"] = p.user_id;
    const conns = (p.connections ?? []) as { congested?: boolean }[];
    const congested = conns.some((c) => c.congested);
    r.dataset["node"] = p.node ?? "";
    cell(r, p.user_id);
    cell(r, p.name);
    cell(r, p.node ?? "");
    cell(r, (p.rooms ?? []).join(", "));
    cell(r, conns.length);
    cell(r, congested ? "yes" : "", congested ? "warn" : "");
    actionButton(r, "kick", () => {
      if (confirm(`Kick ${p.user_id}?`)) {
        api("POST", `/v1/admin/players/${encodeURIComponent(p.user_id)}/kick`, {}).then(() => players.load(), showError);
      }
    });
    body.appendChild(r);
  }
});

// ---- inspector ------------------------------------------------------------

let inspected: string | undefined;
let inspecting = false;
const view = new InspectorView($("inspector"));

function inspect(roomId: string): void {
  inspected = roomId;
  $("inspector-section").hidden = false;
  $("inspector-room").textContent = roomId;
  $("inspector").dataset["room"] = roomId;
  $("rooms").querySelectorAll("tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset["room"] === roomId));
  void refreshInspector();
}

async function refreshInspector(): Promise<void> {
  if (!inspected || inspecting) return;
  const id = inspected;
  inspecting = true;
  try {
    const { data } = await api<AdminRoomState & { entity_count: number }>("GET", `/v1/admin/rooms/${encodeURIComponent(id)}/state`);
    if (id !== inspected) return;
    view.update(inspectState(fromAdminState(data)));
    const more = data.entity_count > data.entities.length ? `, ${data.entities.length} listed` : "";
    $("inspector-status").textContent = `${data.game} · tick ${data.tick} · ${data.entity_count} entities${more}`;
    $("inspector").dataset["tick"] = String(data.tick);
  } catch (err) {
    if (id !== inspected) return;
    $("inspector-status").textContent = err instanceof HttpError && err.status === 404 ? "the room has ended" : String((err as Error).message ?? err);
    $("inspector").dataset["tick"] = "";
  } finally {
    inspecting = false;
  }
}

$("inspector-close").addEventListener("click", () => {
  inspected = undefined;
  $("inspector-section").hidden = true;
  view.clear();
  $("rooms").querySelectorAll("tr.selected").forEach((tr) => tr.classList.remove("selected"));
});

// ---- polling --------------------------------------------------------------

/** polling is whether a poll is still waiting on its answers. */
let polling = false;

// poll asks for the overview, then the lists and the inspector. A poll
// that comes while the last one still waits is skipped: an admin API slower
// than the poll would otherwise have each list's answer thrown away for
// the next poll's request, and the lists never shown.
async function poll(): Promise<void> {
  if (polling) return;
  polling = true;
  try {
    await pollOnce();
  } finally {
    polling = false;
  }
}

async function pollOnce(): Promise<void> {
  try {
    const { data: o } = await api<Poll>("GET", "/v1/admin/overview");
    history.push(o);
    renderCards(o);
    renderNodes(o);
    renderCharts();
    renderGames(o);
    previous = o;
    polls++;
    document.body.dataset["polls"] = String(polls);
    setStatus(`${o.ready ? "ready" : (o.not_ready ?? "not ready")} · up ${formatUptime(o.uptime_sec)} · ${new Date(o.time).toLocaleTimeString()}`, !o.ready);
  } catch (err) {
    showError(err);
    return;
  }
  await Promise.all([rooms.load(), players.load(), refreshInspector()]);
}

function start(): void {
  if (timer) clearInterval(timer);
  previous = undefined;
  history = new History();
  void poll();
  timer = setInterval(() => void poll(), POLL_MS);
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = $<HTMLInputElement>("token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  start();
});

document.body.dataset["ready"] = "true";
if (token) start();
