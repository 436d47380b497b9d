// The tickroom demo page: log in with a name, a lobby with the room list and
// quick match, a chat panel with direct messages, and the built-in games
// (gomoku on a board, the arena on a canvas). It reads GET /v1/config for
// the WebSocket port (or URL, behind a proxy) and keeps its session in sessionStorage, so a reload
// resumes the seats the user holds.
import { closeMessage, connect, errorMessage, leaveMessage, login, TickroomError, type Client, type Room } from "../../src/index.js";
import { RoomEventKind } from "../../src/gen/tickroom/v1/state_pb.js";
import { ArenaView, arenaRoundSeconds } from "./arena.js";
import { ChatPanel } from "./chat.js";
import { byId, el, shortId, show } from "./dom.js";
import { GomokuView } from "./gomoku.js";
import { HeldSeats } from "./held.js";
import { InspectView } from "./inspect.js";
import { LobbyView } from "./lobby.js";
import { PeoplePanel } from "./people.js";
import { ProfilePanel } from "./profile.js";
import { Rematch } from "./rematch.js";
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

// deviceKey is where the tab keeps the device secret a login returns, so a
// login after its session ended comes back as the same account. The tab's
// sessionStorage, not the browser's localStorage: each tab is its own user,
// and a second tab's guest login must not come back as the first tab's.
const deviceKey = "tickroom.demo.device";

// MAX_NAME_CHARS is the longest name the server takes (auth.MaxNameRunes),
// in characters as it counts them: code points once composed (PRECIS
// applies NFKC), so a Hangul syllable a keyboard typed as three jamo is
// one. The box's maxlength counts UTF-16 units, two for an emoji, and
// would cut a name of emoji in half.
const MAX_NAME_CHARS = 32;

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
  watchPass: byId<HTMLButtonElement>("watch-pass"),
  watchLink: byId<HTMLAnchorElement>("watch-link"),
  notice: byId("notice"),
  gomoku: byId("gomoku"),
  board: byId("gomoku-board"),
  clock: byId("clock"),
  result: byId("result"),
  resultText: byId("result-text"),
  rematch: byId<HTMLButtonElement>("rematch"),
  rematchStatus: byId("rematch-status"),
  resultLobby: byId<HTMLButtonElement>("result-lobby"),
  held: byId("held"),
  arena: byId("arena"),
  canvas: byId<HTMLCanvasElement>("arena-canvas"),
  scores: byId<HTMLOListElement>("scores"),
  inspector: byId("inspector"),
};

const voice = new Voice(byId<HTMLButtonElement>("voice"), byId<HTMLAudioElement>("voice-audio"), (text) => (ui.gameStatus.textContent = text));

const people = new PeoplePanel(
  {
    card: byId("user-card"),
    requestsBox: byId("requests-box"),
    requests: byId<HTMLUListElement>("friend-requests"),
    friends: byId<HTMLUListElement>("friends"),
    blockedBox: byId("blocked-box"),
    blocked: byId<HTMLUListElement>("blocked"),
    status: byId("people-status"),
  },
  (userId, name) => chat.messageUser(userId, name),
  (userId, name) => void profile?.show(userId, name),
);

const chat = new ChatPanel(byId("chat-log"), byId("chat-to"), byId("chat-form"), byId("chat-input"), byId("chat-left"), (userId, name) => people.showUser(userId, name));

const held = new HeldSeats(ui.held, () => client?.rtt.clockOffset);

let config: ServerConfig | undefined;
let client: Client | undefined;
let lobby: LobbyView | undefined;
let room: Room | undefined;
let view: GameView | undefined;
let rematch: Rematch | undefined;
let profile: ProfilePanel | undefined;
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
  notice("");
  setConn("open", "connected");
  detach = [
    chat.attach(cl, w.userId),
    people.attach(cl, w.userId),
    voice.attach(cl, s.token),
    cl.on("state", ({ state }) => {
      if (state === "open") setConn("open", "connected");
      else if (state === "reconnecting" || state === "connecting") setConn("reconnecting", "reconnecting…");
    }),
    cl.on("welcome", () => void chat.joinLobby()),
    cl.on("close", (ev) => {
      if (ev.willReconnect) {
        setConn("reconnecting", "reconnecting…");
        notice(closeMessage(ev.code, true));
        return;
      }
      setConn("closed", "offline");
      if (ev.error || ev.code === 4500 || ev.code === 4501) {
        stop(refusedText(ev.error ?? new TickroomError("unauthorized", ev.info.description)), true);
        return;
      }
      stop(closeMessage(ev.code, false), ev.info.kind === "terminal");
    }),
    cl.on("welcome", () => notice("")),
    cl.on("resumeFailed", ({ error }) => lobby?.setStatus(`Seat lost: ${errorMessage(error)}`)),
    cl.on("notification", (n) => chat.system(`${n.title}: ${n.body}`)),
  ];
  lobby = new LobbyView(c.games, byId<HTMLUListElement>("rooms"), byId("lobby-status"), byId("games"), byId("rooms-live"), enter, {
    arena: { duration_seconds: String(arenaRoundSeconds(location.search)) },
  });
  lobby.attach(cl, w.name);
  // The lobby first, with no profile yet to refresh: attach loads the
  // profile, once (each load is a match history and a leaderboard a game,
  // which the server answers within a budget of the user's).
  showLobby();
  profile = new ProfilePanel(byId("profile"), c.games.filter((g) => g !== "lobbychat"));
  profile.attach(cl, w.userId, w.name);
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
  if (err instanceof TickroomError && err.code === "misconfigured") return `${errorMessage(err)} (${err.url})`;
  if (err instanceof TickroomError && (err.code === "unauthorized" || err.code === "closed")) return errorMessage(err);
  return `${errorMessage(err)} Log in again.`;
}

// notice shows (or with "" hides) a line about the connection above the page.
function notice(text: string): void {
  ui.notice.textContent = text;
  show(ui.notice, text !== "");
}

function stop(message: string, forget: boolean): void {
  for (const off of detach) off();
  detach = [];
  closeRoomView();
  lobby?.stop();
  profile?.attach(undefined);
  profile = undefined;
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
  profile?.refresh();
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
    (err: unknown) => lobby?.setStatus(`${what}: ${errorMessage(err)}`),
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
  show(ui.gomoku, r.game === "gomoku");
  show(ui.arena, r.game === "arena");
  show(ui.inspector, false);
  if (r.game === "gomoku") view = new GomokuView(r, { board: ui.board, clock: ui.clock, result: ui.result, resultText: ui.resultText }, host);
  else if (r.game === "arena") view = new ArenaView(r, ui.canvas, ui.scores, host);
  else if (r.game === "lobbychat") view = new InspectView(r, ui.inspector, host, "A chat room: talk in the chat panel. Its state:");
  else view = new InspectView(r, ui.inspector, host, `This page has no view for ${r.game}; here is the room's state as it changes.`);
  held.watch(r);
  const offs = [
    r.on("event", (ev) => {
      renderPlayers(r);
      chat.setRoom(r);
      if (ev.kind === RoomEventKind.PLAYER_DROPPED) chat.system(`${ev.name} lost their connection; their seat is held.`);
      if (ev.kind === RoomEventKind.PLAYER_RESUMED) chat.system(`${ev.name} is back.`);
      // The store records the result shortly after the match ends.
      if (ev.kind === RoomEventKind.MATCH_ENDED) setTimeout(() => profile?.refresh(), 1500);
      if (ev.kind === RoomEventKind.MATCH_ENDED && r.game === "gomoku" && client && !rematch) {
        rematch = new Rematch(client, r, { button: ui.rematch, status: ui.rematchStatus }, (join) => enter(join, "Rematch"));
      }
    }),
    r.on("resumed", (j) => {
      renderPlayers(r);
      ui.gameView.dataset["resumed"] = String(Number(ui.gameView.dataset["resumed"] ?? "0") + 1);
      chat.system(`Resumed seat ${j.seat} in room ${shortId(r.id)}.`);
    }),
    r.on("state", () => (ui.gameView.dataset["tick"] = String(r.tick ?? 0n))),
    r.on("left", (l) => {
      const why = leaveMessage(l.reason);
      chat.system(why);
      closeRoomView();
      showLobby();
      if (why !== leaveMessage(0)) lobby?.setStatus(why);
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
  rematch?.dispose();
  rematch = undefined;
  held.watch(undefined);
  room = undefined;
  chat.setRoom(undefined);
  voice.setRoom(undefined);
  show(ui.watchLink, false);
  ui.watchLink.removeAttribute("href");
  delete ui.gameView.dataset["room"];
  delete ui.gameView.dataset["seat"];
  delete ui.gameView.dataset["resumed"];
}

function renderPlayers(r: Room): void {
  ui.gameView.dataset["seat"] = r.spectator ? "spectator" : String(r.seat);
  const seats = [...r.players.values()].sort((a, b) => a.seat - b.seat);
  ui.players.replaceChildren(
    ...seats.map((p) => {
      const self = !r.spectator && p.seat === r.seat;
      const cls = [p.connected ? "" : "away", self ? "self" : ""].join(" ").trim();
      const li = el("li", { cls, text: `${p.seat}. ${p.name}${p.connected ? "" : " (away)"}` });
      if (!self) {
        li.tabIndex = 0;
        li.title = `${p.name}: message, add as a friend or block`;
        li.addEventListener("click", () => people.showUser(p.userId, p.name));
      }
      people.learn(p.userId, p.name);
      return li;
    }),
  );
}

ui.leave.addEventListener("click", () => {
  const r = room;
  if (!r) return;
  r.leave().catch((err: unknown) => {
    // The server forgot the seat already: go back anyway.
    chat.system(`Leave: ${errorMessage(err)}`);
    closeRoomView();
    showLobby();
  });
});

ui.resultLobby.addEventListener("click", () => ui.leave.click());

// The watch link opens the room's spectator feed on watch.html with a watch
// pass (Client.watchPass): it watches this room, a private one too, for an
// hour and does nothing else. Never the session token, which is this
// user's whole session: whoever got the link could play and chat as them.
ui.watchPass.addEventListener("click", () => {
  const r = room;
  if (!r || !client) return;
  client.watchPass(r.id).then(
    (wp) => {
      if (room !== r) return;
      ui.watchLink.href = `watch.html?${new URLSearchParams({ room: r.id, pass: wp.pass, game: r.game })}`;
      ui.watchLink.textContent = `watch link, until ${new Date(Number(wp.expiresAtMs)).toLocaleTimeString()}`;
      show(ui.watchLink, true);
    },
    (err: unknown) => (ui.gameStatus.textContent = `Watch link: ${errorMessage(err)}`),
  );
});

ui.logout.addEventListener("click", () => {
  // The next login in this tab, whatever its name, is a new user.
  sessionStorage.removeItem(deviceKey);
  stop("Logged out.", true);
  setConn("closed", "offline");
});

ui.loginForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const name = ui.loginName.value.trim();
  if (!name || !config) return;
  const chars = [...name.normalize("NFKC")].length;
  if (chars > MAX_NAME_CHARS) {
    ui.loginStatus.textContent = `A name is at most ${MAX_NAME_CHARS} characters; this one has ${chars}.`;
    return;
  }
  const c = config;
  ui.loginStatus.textContent = "logging in…";
  login(name, { baseUrl: location.origin, storage: sessionStorage, storageKey: deviceKey })
    .then((s) => {
      const keep: SavedSession = { token: s.token, name: s.name, expiresAtMs: s.expiresAtMs };
      sessionStorage.setItem(sessionKey, JSON.stringify(keep));
      ui.loginStatus.textContent = "";
      return start(keep, c);
    })
    .catch((err: unknown) => {
      setConn("closed", "offline");
      ui.loginStatus.textContent = `Login failed: ${errorMessage(err)}`;
    });
});

async function boot(): Promise<void> {
  try {
    config = await loadConfig();
  } catch (err) {
    ui.loginStatus.textContent = `The game server cannot be reached. Try again in a moment. (${String(err instanceof Error ? err.message : err)})`;
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
