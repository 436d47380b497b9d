// Rematch after a finished gomoku match. The first player to ask creates
// a new room tagged with the old room's id (metadata "rematch") and
// guarded by it as a password, so quick match never fills it with a
// stranger; the other player's page watches the room list for a room with
// that tag (a live watch, no polling) and offers to join it.
import { errorMessage, TickroomError, type Client, type Room, type RoomWatch } from "../../src/index.js";
import { rateLimitedRetryMs } from "../../src/backoff.js";
import { ErrorCode } from "../../src/gen/tickroom/v1/codes_pb.js";
import type { RoomInfo } from "../../src/gen/tickroom/v1/lobby_pb.js";
import { ROOM_NAME_KEY } from "./lobby.js";

/** REMATCH_KEY is the metadata key naming the room a rematch follows. */
export const REMATCH_KEY = "rematch";

/** RematchParts are the page elements of the offer. */
export interface RematchParts {
  button: HTMLButtonElement;
  status: HTMLElement;
}

/** Rematch offers and takes a rematch of one finished room. */
export class Rematch {
  private watch: RoomWatch | undefined;
  private offer: RoomInfo | undefined;
  private disposed = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onClick = () => void this.accept();

  /** Rematch's constructor starts watching for the other player's offer. */
  constructor(
    private readonly client: Client,
    private readonly old: Room,
    private readonly parts: RematchParts,
    private readonly enter: (join: () => Promise<Room>) => void,
  ) {
    parts.button.textContent = "Rematch";
    parts.button.disabled = old.spectator;
    parts.status.textContent = "";
    parts.button.addEventListener("click", this.onClick);
    this.follow(0);
  }

  // follow watches the room list for the other player's offer; a watch
  // refused RATE_LIMITED (this address's room lists spent for now) is
  // asked again after the server's hint, spread at random, as the client
  // does for its own watches.
  private follow(attempt: number): void {
    this.client.watchRooms({ game: this.old.game, metadata: { [REMATCH_KEY]: this.old.id } }).then(
      (w) => {
        if (this.disposed) {
          void w.close();
          return;
        }
        if (this.parts.status.textContent?.startsWith("Rematch offers:")) this.parts.status.textContent = "";
        this.watch = w;
        w.on("change", ({ rooms }) => this.seen(rooms));
        this.seen(w.rooms);
      },
      (err: unknown) => {
        if (this.disposed) return;
        this.parts.status.textContent = `Rematch offers: ${errorMessage(err)}`;
        if (err instanceof TickroomError && err.serverCode === ErrorCode.RATE_LIMITED) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            if (!this.disposed) this.follow(attempt + 1);
          }, rateLimitedRetryMs(err.retryAfterMs, attempt));
        }
      },
    );
  }

  /** dispose stops watching and forgets the button. */
  dispose(): void {
    this.disposed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.parts.button.removeEventListener("click", this.onClick);
    const w = this.watch;
    this.watch = undefined;
    if (w) void w.close();
  }

  private seen(rooms: RoomInfo[]): void {
    this.offer = rooms.find((r) => r.players > 0 && r.players < r.maxPlayers);
    if (this.old.spectator) return;
    if (this.offer) {
      const who = this.offer.playerNames[0] ?? "Your opponent";
      this.parts.status.textContent = `${who} wants a rematch.`;
      this.parts.button.textContent = "Accept rematch";
      this.parts.button.dataset["offer"] = this.offer.roomId;
    } else {
      this.parts.button.textContent = "Rematch";
      delete this.parts.button.dataset["offer"];
    }
  }

  private async accept(): Promise<void> {
    if (this.old.spectator) return;
    this.parts.button.disabled = true;
    const offer = this.offer;
    const password = this.old.id;
    const others = [...this.old.players.values()].filter((p) => p.seat !== this.old.seat).map((p) => p.name);
    const name = `Rematch: ${[this.old.players.get(this.old.seat)?.name ?? "", ...others].filter(Boolean).join(" vs ")}`;
    try {
      // The finished room is left first: the page shows one room at a time.
      if (this.old.live) await this.old.leave();
    } catch {
      // Gone already: nothing to leave.
    }
    this.enter(() =>
      offer
        ? this.client.joinRoom(offer.roomId, { password })
        : this.client.createRoom({ game: this.old.game, password, metadata: { [REMATCH_KEY]: this.old.id, [ROOM_NAME_KEY]: name } }),
    );
  }
}
