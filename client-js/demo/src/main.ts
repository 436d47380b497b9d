// The tickroom demo page: log in with a name, a lobby with the room list and
// quick match, a chat panel with direct messages, and the built-in games
// (gomoku on a board, the arena on a canvas). It reads GET /v1/config for
// the WebSocket port (or URL, behind a proxy) and keeps its session in sessionStorage, so a reload
// resumes the seats the user holds.
import { connect, login, TickroomError, type Client, type Room } from "../../src/index.js";
import { RoomEventKind } from "../../src/gen/tickroom/v1/state_pb.js";
import { ArenaView } from "./arena.js";
import { ChatPanel } from "./chat.js";
import { byId, el, errorText, shortId, show } from "./dom.js";
import { GomokuView } from "./gomoku.js";
import { LobbyView } from "./lobby.js";
import type { GameView } from "./view.js";
import { Voice } from "./voice.js";

// ServerConfig is GET /v1/config's body.
interface ServerConfig {
  ws_port: number;
  ws_path: string;
  /** ws_url, when set, is where to connect instead: a path on this origin or a full URL. */
  ws_url?: string;
  subprotocol: string;
  games: string[];
}

// SavedSession is what sessionStorage keeps between reloads of a tab.
interface SavedSession {
  token: string;
  name: string;
  expiresAtMs: number;
}

const sessionKey = "tickroom.demo.session";

const ui = {
  me: byId("me"),
  conn: byId("conn-status"),
  logout: byId<HTMLButtonElement>("logout"),
  loginView: byId("login-view"),
  loginForm: byId<HTMLFormElement>("login-form"),
  loginName: byId<HTMLInputElement>("login-name"),
  loginStatus: byId("login-status"),
  app: byId("app"),
  lobbyView: byId("lobby-view"),
  gameView: byId("game-view"),
  gameTitle: byId("game-title"),
  gameStatus: byId("game-status"),
  players: byId<HTMLUListElement>("players"),
  leave: byId<HTMLButtonElement>("leave-room"),
  board: byId("gomoku-board"),
  arena: byId("arena"),
  canvas: byId<HTMLCanvasElement>("arena-canvas"),
  scores: byId<HTMLOListElement>("scores"),
};

const voice = new Voice(byId<HTMLButtonElement>("voice"), byId<HTMLAudioElement>("voice-audio"), (text) => (ui.gameStatus.textContent = text));

const chat = new ChatPanel(byId("chat-log"), byId("chat-to"), byId("chat-form"), byId("chat-input"));

let config: ServerConfig | undefined;
let client: Client | undefined;
let lobby: LobbyView | undefined;
let room: Room | undefined;
let view: GameView | undefined;
let detach: (() => void)[] = [];

async function loadConfig(): Promise<ServerConfig> {
  const res = await fetch("/v1/config", { cache: "no-store" });
  if (!res.ok) throw new Error(`GET /v1/config: ${res.status}`);
  return (await res.json()) as ServerConfig;
}

function wsUrl(c: ServerConfig): string {
  if (c.ws_url) {
    // Behind a TLS proxy the WebSocket shares the page's origin (wss on 443).
    const u = new URL(c.ws_url, location.href);
    if (u.protocol === "https:") u.protocol = "wss:";
    else if (u.protocol === "http:") u.protocol = "ws:";
    return u.toString();
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.hostname}:${c.ws_port}${c.ws_path}`;
}

function saved(): SavedSession | undefined {
  try {
    const s = JSON.parse(sessionStorage.getItem(sessionKey) ?? "null") as SavedSession | null;
    if (s && s.token && (s.expiresAtMs === 0 || s.expiresAtMs > Date.now() + 60_000)) return s;
  } catch {
    // A corrupt entry is ignored; the user logs in again.
  }
  return undefined;
}

function setConn(state: string, text: string): void {
  ui.conn.dataset["state"] = state;
  ui.conn.textContent = text;
  document.body.dataset["connection"] = state;
}

async function start(s: SavedSession, c: ServerConfig): Promise<void> {
  setConn("connecting", "connecting…");
  const cl = await connect({ url: wsUrl(c), token: s.token, protocols: [c.subprotocol] });
  client = cl;
  const w = cl.welcome!;
  ui.me.textContent = `${w.name}${w.guest ? " (guest)" : ""}`;
  document.body.dataset["user"] = w.userId;
  show(ui.loginView, false);
  show(ui.app, true);
  show(ui.logout, true);
  setConn("open", "connected");
  detach = [
    chat.attach(cl, w.userId),
    voice.attach(cl, s.token),
    cl.on("state", ({ state }) => {
      if (state === "open") setConn("open", "connected");
      else if (state === "reconnecting" || state === "connecting") setConn("reconnecting", "reconnecting…");
    }),
    cl.on("welcome", () => void chat.joinLobby()),
    cl.on("close", (ev) => {
      if (ev.willReconnect) {
        setConn("reconnecting", `reconnecting (${ev.info.name})…`);
        return;
      }
      setConn("closed", `closed: ${ev.info.description}`);
      if (ev.error || ev.code === 4500 || ev.code === 4501) {
        stop(refusedText(ev.error ?? new TickroomError("unauthorized", ev.info.description)), true);
        return;
      }
      stop(`Disconnected: ${ev.info.description} (${ev.code}).`, ev.info.kind === "terminal");
    }),
    cl.on("resumeFailed", ({ error }) => lobby?.setStatus(`Seat lost: ${errorText(error)}`)),
    cl.on("notification", (n) => chat.system(`${n.title}: ${n.body}`)),
  ];
  lobby = new LobbyView(c.games, byId("rooms"), byId("lobby-status"), byId("games"), byId("rooms-refresh"), enter);
  lobby.attach(cl);
  showLobby();
  void chat.joinLobby();
  // A seat held from before a reload: take it back (the server resumes it).
  for (const held of w.seats) {
    enter(() => cl.joinRoom(held.roomId, { spectate: held.spectator }), `resume ${held.game}`);
    break;
  }
}

// refusedText says why the server turned the connection away, for the
// login screen: a session that ended, or a page that points at the wrong
// place (the error names the URL).
function refusedText(err: unknown): string {
  if (err instanceof TickroomError && err.code === "unauthorized") return "Your session ended, please log in again.";
  if (err instanceof TickroomError && err.code === "misconfigured") return `This page cannot reach the game server: ${errorText(err)}`;
  return `Session ended: ${errorText(err)}. Log in again.`;
}

function stop(message: string, forget: boolean): void {
  for (const off of detach) off();
  detach = [];
  closeRoomView();
  lobby?.stop();
  client?.close();
  client = undefined;
  if (forget) sessionStorage.removeItem(sessionKey);
  show(ui.app, false);
  show(ui.logout, false);
  show(ui.loginView, true);
  ui.me.textContent = "";
  ui.loginStatus.textContent = message;
}

function showLobby(): void {
  show(ui.gameView, false);
  show(ui.lobbyView, true);
  lobby?.start();
}

function enter(join: () => Promise<Room>, what: string): void {
  if (room) {
    lobby?.setStatus("Leave the current room first.");
    return;
  }
  join().then(
    (r) => {
      lobby?.setStatus("");
      openRoomView(r);
    },
    (err: unknown) => lobby?.setStatus(`${what}: ${errorText(err)}`),
  );
}

function openRoomView(r: Room): void {
  closeRoomView();
  room = r;
  lobby?.stop();
  show(ui.lobbyView, false);
  show(ui.gameView, true);
  ui.gameTitle.textContent = `${r.game} · room ${shortId(r.id)}`;
  ui.gameView.dataset["room"] = r.id;
  ui.gameView.dataset["game"] = r.game;
  const host = { status: (text: string) => (ui.gameStatus.textContent = text) };
  host.status("");
  show(ui.board, r.game === "gomoku");
  show(ui.arena, r.game === "arena");
  if (r.game === "gomoku") view = new GomokuView(r, ui.board, host);
  else if (r.game === "arena") view = new ArenaView(r, ui.canvas, ui.scores, host);
  else if (r.game === "lobbychat") host.status("A chat room: talk in the chat panel.");
  else host.status(`This page has no view for ${r.game}; you are in the room.`);
  const offs = [
    r.on("event", (ev) => {
      renderPlayers(r);
      chat.setRoom(r);
      if (ev.kind === RoomEventKind.PLAYER_DROPPED) chat.system(`${ev.name} lost their connection; their seat is held.`);
      if (ev.kind === RoomEventKind.PLAYER_RESUMED) chat.system(`${ev.name} is back.`);
    }),
    r.on("resumed", (j) => {
      renderPlayers(r);
      ui.gameView.dataset["resumed"] = String(Number(ui.gameView.dataset["resumed"] ?? "0") + 1);
      chat.system(`Resumed seat ${j.seat} in room ${shortId(r.id)}.`);
    }),
    r.on("state", () => (ui.gameView.dataset["tick"] = String(r.tick ?? 0n))),
    r.on("left", (l) => {
      chat.system(`Left room ${shortId(r.id)}${l.message ? `: ${l.message}` : ""}.`);
      closeRoomView();
      showLobby();
    }),
  ];
  detachRoom = () => offs.forEach((off) => off());
  renderPlayers(r);
  chat.setRoom(r);
  voice.setRoom(r);
}

let detachRoom: () => void = () => {};

function closeRoomView(): void {
  detachRoom();
  detachRoom = () => {};
  view?.dispose();
  view = undefined;
  room = undefined;
  chat.setRoom(undefined);
  voice.setRoom(undefined);
  delete ui.gameView.dataset["room"];
  delete ui.gameView.dataset["seat"];
  delete ui.gameView.dataset["resumed"];
}

function renderPlayers(r: Room): void {
  ui.gameView.dataset["seat"] = r.spectator ? "spectator" : String(r.seat);
  const seats = [...r.players.values()].sort((a, b) => a.seat - b.seat);
  ui.players.replaceChildren(
    ...seats.map((p) => {
      const cls = [p.connected ? "" : "away", !r.spectator && p.seat === r.seat ? "self" : ""].join(" ").trim();
      return el("li", { cls, text: `${p.seat}. ${p.name}${p.connected ? "" : " (away)"}` });
    }),
  );
}

ui.leave.addEventListener("click", () => {
  const r = room;
  if (!r) return;
  r.leave().catch((err: unknown) => {
    // The server forgot the seat already: go back anyway.
    chat.system(`leave: ${errorText(err)}`);
    closeRoomView();
    showLobby();
  });
});

ui.logout.addEventListener("click", () => stop("Logged out.", true));

ui.loginForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const name = ui.loginName.value.trim();
  if (!name || !config) return;
  const c = config;
  ui.loginStatus.textContent = "logging in…";
  login(name, { baseUrl: location.origin })
    .then((s) => {
      const keep: SavedSession = { token: s.token, name: s.name, expiresAtMs: s.expiresAtMs };
      sessionStorage.setItem(sessionKey, JSON.stringify(keep));
      ui.loginStatus.textContent = "";
      return start(keep, c);
    })
    .catch((err: unknown) => {
      setConn("closed", "offline");
      ui.loginStatus.textContent = `Login failed: ${errorText(err)}`;
    });
});

async function boot(): Promise<void> {
  try {
    config = await loadConfig();
  } catch (err) {
    ui.loginStatus.textContent = `Server unreachable: ${errorText(err)}`;
    return;
  }
  document.body.dataset["ready"] = "true";
  const s = saved();
  if (s) {
    ui.loginName.value = s.name;
    await start(s, config).catch((err: unknown) => {
      sessionStorage.removeItem(sessionKey);
      setConn("closed", "offline");
      ui.loginStatus.textContent = refusedText(err);
    });
  }
}

void boot();
