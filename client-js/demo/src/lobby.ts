// The lobby: quick match and new-room buttons per game, and the room list,
// kept live by the server's pushes (Client.watchRooms): each room shows its
// name, its players' names and its seat count, with join and watch buttons
// and a link to the room's event stream.
import { errorMessage, TickroomError, type Client, type Room, type RoomWatch } from "../../src/index.js";
import { rateLimitedRetryMs } from "../../src/backoff.js";
import { ErrorCode } from "../../src/gen/tickroom/v1/codes_pb.js";
import type { RoomInfo } from "../../src/gen/tickroom/v1/lobby_pb.js";
import { el, shortId } from "./dom.js";

/** Enter hands a pending join to the page, which shows the room once joined. */
export type Enter = (join: () => Promise<Room>, what: string) => void;

/** ROOM_NAME_KEY is the room metadata key the demo names its rooms with. */
export const ROOM_NAME_KEY = "name";

// listLimit caps the rooms the lobby shows.
const listLimit = 50;
// pollMs is how often the list is fetched from a server that pushes no changes.
const pollMs = 3000;

/** roomName is a room's display name: its "name" metadata, else the game and a short id. */
export function roomName(r: RoomInfo): string {
  return r.metadata[ROOM_NAME_KEY] || `${r.game} ${shortId(r.roomId)}`;
}

/** LobbyView lists rooms and starts joins. */
export class LobbyView {
  private client: Client | undefined;
  private watch: RoomWatch | undefined;
  private starting: Promise<void> | undefined;
  private selfName = "";
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  // retryTimer asks for the live list again after a refusal that passes
  // (RATE_LIMITED), the retries-th in a row.
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  // offWelcome stops waiting for the client's next Welcome, which a
  // start refused while the client was reconnecting waits for.
  private offWelcome: (() => void) | undefined;
  // listStatus is what the lobby last said of its list on the status
  // line, taken off once the list is live (unless said over since).
  private listStatus = "";
  // shown is true from start to stop: a retry runs only while it holds.
  private shown = false;

  /** LobbyView's constructor builds the game buttons; roomOptions are the options of the rooms each game's buttons match or create. */
  constructor(
    games: readonly string[],
    private readonly list: HTMLUListElement,
    private readonly status: HTMLElement,
    buttons: HTMLElement,
    private readonly live: HTMLElement,
    private readonly enter: Enter,
    roomOptions: Readonly<Record<string, Record<string, string>>> = {},
  ) {
    const parts: HTMLElement[] = [];
    for (const game of games) {
      const options = roomOptions[game] ?? {};
      const quick = el("button", { text: `Quick match: ${game}`, attrs: { type: "button", "data-quick": game } });
      quick.addEventListener("click", () => this.join(() => this.need().quickMatch(game, options), `Quick match ${game}`));
      const create = el("button", { text: `New ${game} room`, attrs: { type: "button", "data-create": game } });
      create.addEventListener("click", () =>
        this.join(() => this.need().createRoom({ game, options, metadata: { [ROOM_NAME_KEY]: `${this.selfName}'s ${game}` } }), `New ${game} room`),
      );
      parts.push(quick, create);
    }
    buttons.replaceChildren(...parts);
  }

  /** attach sets the client the lobby uses and the user's name for new rooms. */
  attach(client: Client | undefined, selfName = ""): void {
    this.client = client;
    this.selfName = selfName;
  }

  /** start shows the live room list; the server pushes every change. */
  start(): void {
    const client = this.client;
    this.shown = true;
    if (!client || this.watch || this.starting || this.pollTimer !== undefined) return;
    this.cancelRetry();
    this.setLive("connecting", "connecting…");
    this.starting = client.watchRooms({ limit: listLimit }).then(
      (w) => {
        this.starting = undefined;
        if (this.client !== client || !this.shown) {
          // The lobby was left meanwhile (a room shown, or logged out):
          // its next start asks again.
          void w.close();
          return;
        }
        this.watch = w;
        this.retries = 0;
        w.on("change", ({ rooms }) => {
          this.render(rooms);
          this.goLive(); // again, after a refusal the client asked past
        });
        w.on("error", (err) => this.setLive("off", `not live: ${errorMessage(err)}`));
        this.render(w.rooms);
        this.goLive();
      },
      (err: unknown) => {
        this.starting = undefined;
        if (this.client !== client || !this.shown) return; // its next start asks again
        if (err instanceof TickroomError && err.serverCode === ErrorCode.UNSUPPORTED) {
          // A server older than WatchRooms pushes no changes: ask again
          // every few seconds.
          this.poll(client);
          return;
        }
        if (err instanceof TickroomError && err.serverCode === ErrorCode.RATE_LIMITED) {
          // The server's room lists of this address (or this connection's
          // watches) are spent for now, as when every player behind one
          // NAT comes back at once: ask again after the server's hint,
          // spread at random, as the client does for its own watches.
          this.setLive("off", "not live: too many room lists asked for; trying again…");
          this.retryLater(client, rateLimitedRetryMs(err.retryAfterMs, this.retries++));
          return;
        }
        if (
          err instanceof TickroomError &&
          (err.code === "timeout" || err.serverCode === ErrorCode.UNAVAILABLE || err.serverCode === ErrorCode.TOO_MANY_REQUESTS_IN_FLIGHT)
        ) {
          // The server could not list the rooms now (its room directory
          // out of reach on a node of a cluster, too many requests in
          // flight) or did not answer in time: ask again after a wait
          // that grows from half a second to 30 s, spread at random.
          this.setLive("off", `not live: ${errorMessage(err)}; trying again…`);
          this.retryLater(client, rateLimitedRetryMs(err.retryAfterMs, this.retries++));
          return;
        }
        if (err instanceof TickroomError && (err.code === "not-connected" || err.code === "connection-lost")) {
          // Asked (a retry, or the lobby shown again) while the client
          // reconnects: ask again once it is back.
          this.setLive("off", "not live: offline; waiting for the connection…");
          this.offWelcome = client.on("welcome", () => {
            this.cancelRetry();
            if (this.client === client && this.shown) this.start();
          });
          return;
        }
        this.setLive("off", "not live");
        this.listStatus = `Room list: ${errorMessage(err)}`;
        this.setStatus(this.listStatus);
      },
    );
  }

  // goLive shows the list live, and takes off what the lobby said of it.
  private goLive(): void {
    this.setLive("live", "live");
    if (this.listStatus !== "" && this.status.textContent === this.listStatus) this.setStatus("");
    this.listStatus = "";
  }

  // retryLater starts the list again after ms, unless the lobby was left
  // or its client changed meanwhile.
  private retryLater(client: Client, ms: number): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.client === client && this.shown) this.start();
    }, ms);
  }

  private cancelRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.offWelcome?.();
    this.offWelcome = undefined;
  }

  private poll(client: Client): void {
    this.setLive("polling", "refreshed every few seconds");
    const once = () =>
      client.listRooms({ limit: listLimit }).then(
        (l) => this.render(l.rooms),
        () => {},
      );
    void once();
    this.pollTimer = setInterval(() => void once(), pollMs);
  }

  /** stop ends the live list (while a room is shown, or after logging out). */
  stop(): void {
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.shown = false;
    this.cancelRetry();
    this.retries = 0;
    const w = this.watch;
    this.watch = undefined;
    if (w) void w.close();
    this.setLive("off", "paused");
  }

  /** setStatus shows a lobby message. */
  setStatus(text: string): void {
    this.status.textContent = text;
  }

  private setLive(state: string, text: string): void {
    this.live.dataset["state"] = state;
    this.live.textContent = text;
  }

  private need(): Client {
    if (!this.client) throw new Error("not connected");
    return this.client;
  }

  private join(fn: () => Promise<Room>, what: string): void {
    this.setStatus(`${what}…`);
    this.enter(fn, what);
  }

  private render(rooms: RoomInfo[]): void {
    this.list.dataset["rooms"] = String(rooms.length);
    if (rooms.length === 0) {
      this.list.replaceChildren(el("li", { cls: "empty", text: "No rooms yet: start one above." }));
      return;
    }
    this.list.replaceChildren(...rooms.map((r) => this.row(r)));
  }

  private row(r: RoomInfo): HTMLLIElement {
    const full = r.maxPlayers > 0 && r.players >= r.maxPlayers;
    const join = el("button", { text: "Join", attrs: { type: "button", "data-join": r.roomId } });
    // A room with a password (a rematch) is for the players who know it.
    join.disabled = full || r.hasPassword;
    join.addEventListener("click", () => this.join(() => this.need().joinRoom(r.roomId), `Join ${roomName(r)}`));
    const watch = el("button", { text: "Watch", attrs: { type: "button", "data-watch": r.roomId } });
    watch.addEventListener("click", () => this.join(() => this.need().spectate(r.roomId), `Watch ${roomName(r)}`));
    // Stream opens the room's Server-Sent Events feed in a page of its
    // own: no login, no WebSocket, as an overlay would embed it.
    const stream = el("a", {
      text: "Stream",
      attrs: { href: `watch.html?room=${encodeURIComponent(r.roomId)}&game=${encodeURIComponent(r.game)}`, target: "_blank", rel: "noopener", "data-stream": r.roomId },
    });
    const seats = r.maxPlayers > 0 ? `${r.players}/${r.maxPlayers}` : String(r.players);
    const names = r.playerNames.length > 0 ? r.playerNames.join(", ") + (r.players > r.playerNames.length ? ", …" : "") : "nobody yet";
    const li = el(
      "li",
      { cls: "room" },
      el(
        "div",
        { cls: "room-main" },
        el("span", { cls: "room-name", text: roomName(r), attrs: { title: r.roomId } }),
        el("span", { cls: "room-game", text: r.game }),
        el("span", { cls: "room-seats", text: `${seats} players`, attrs: { "data-seats": seats } }),
        r.spectators > 0 ? el("span", { cls: "room-watching", text: `${r.spectators} watching` }) : el("span"),
        r.hasPassword ? el("span", { cls: "room-watching", text: "private" }) : el("span"),
      ),
      el("div", { cls: "room-names", text: names }),
      el("div", { cls: "room-actions" }, join, watch, stream),
    );
    li.dataset["room"] = r.roomId;
    li.dataset["players"] = String(r.players);
    return li;
  }
}
