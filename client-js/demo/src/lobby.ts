// The lobby: quick match and new-room buttons per game, and the room list
// with join and watch buttons and a link to the room's event stream, refreshed while the lobby is shown.
import type { Client, Room } from "../../src/index.js";
import type { RoomInfo } from "../../src/gen/tickroom/v1/lobby_pb.js";
import { el, errorText, shortId } from "./dom.js";

// refreshMs is how often the room list is fetched while the lobby shows.
const refreshMs = 3000;

/** Enter hands a pending join to the page, which shows the room once joined. */
export type Enter = (join: () => Promise<Room>, what: string) => void;

/** LobbyView lists rooms and starts joins. */
export class LobbyView {
  private client: Client | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private loading = false;

  /** LobbyView's constructor builds the game buttons. */
  constructor(
    games: readonly string[],
    private readonly rows: HTMLTableSectionElement,
    private readonly status: HTMLElement,
    buttons: HTMLElement,
    refresh: HTMLButtonElement,
    private readonly enter: Enter,
  ) {
    const parts: HTMLElement[] = [];
    for (const game of games) {
      const quick = el("button", { text: `Quick match: ${game}`, attrs: { type: "button", "data-quick": game } });
      quick.addEventListener("click", () => this.join(() => this.need().quickMatch(game), `quick match ${game}`));
      const create = el("button", { text: `New ${game} room`, attrs: { type: "button", "data-create": game } });
      create.addEventListener("click", () => this.join(() => this.need().createRoom({ game }), `new ${game} room`));
      parts.push(quick, create);
    }
    buttons.replaceChildren(...parts);
    refresh.addEventListener("click", () => void this.refresh());
  }

  /** attach sets the client the lobby uses. */
  attach(client: Client | undefined): void {
    this.client = client;
  }

  /** start shows fresh listings now and every few seconds. */
  start(): void {
    this.stop();
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), refreshMs);
  }

  /** stop ends the periodic refresh. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** setStatus shows a lobby message. */
  setStatus(text: string): void {
    this.status.textContent = text;
  }

  /** refresh fetches the room list once. */
  async refresh(): Promise<void> {
    const client = this.client;
    if (!client || client.state !== "open" || this.loading) return;
    this.loading = true;
    try {
      const list = await client.listRooms({ limit: 50 });
      this.render(list.rooms);
    } catch (err) {
      this.setStatus(`room list: ${errorText(err)}`);
    } finally {
      this.loading = false;
    }
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
    if (rooms.length === 0) {
      this.rows.replaceChildren(el("tr", {}, el("td", { text: "No rooms yet: start one above.", attrs: { colspan: "5" } })));
      return;
    }
    this.rows.replaceChildren(
      ...rooms.map((r) => {
        const join = el("button", { text: "Join", attrs: { type: "button", "data-join": r.roomId } });
        join.disabled = r.maxPlayers > 0 && r.players >= r.maxPlayers;
        join.addEventListener("click", () => this.join(() => this.need().joinRoom(r.roomId), `join ${shortId(r.roomId)}`));
        const watch = el("button", { text: "Watch", attrs: { type: "button", "data-watch": r.roomId } });
        watch.addEventListener("click", () => this.join(() => this.need().spectate(r.roomId), `watch ${shortId(r.roomId)}`));
        // Stream opens the room's Server-Sent Events feed in a page of its
        // own: no login, no WebSocket, as an overlay would embed it.
        const stream = el("a", {
          text: "Stream",
          attrs: { href: `watch.html?room=${encodeURIComponent(r.roomId)}&game=${encodeURIComponent(r.game)}`, target: "_blank", rel: "noopener", "data-stream": r.roomId },
        });
        const seats = r.maxPlayers > 0 ? `${r.players}/${r.maxPlayers}` : String(r.players);
        const tr = el(
          "tr",
          {},
          el("td", { text: r.game }),
          el("td", { text: shortId(r.roomId), attrs: { title: r.roomId } }),
          el("td", { text: seats }),
          el("td", { text: String(r.spectators) }),
          el("td", {}, join, watch, stream),
        );
        tr.dataset["room"] = r.roomId;
        return tr;
      }),
    );
  }
}
