// The held-seat countdown: when another player of the room drops, the
// server says until when their seat is held (RoomEvent.held_until_ms); this
// line counts it down until they are back or the seat is given up.
import type { Room } from "../../src/index.js";
import { RoomEventKind } from "../../src/gen/tickroom/v1/state_pb.js";

/** HeldSeats shows the countdown of the dropped players' held seats in one room. */
export class HeldSeats {
  private room: Room | undefined;
  private off: (() => void) | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  /**
   * HeldSeats' constructor takes the line to write in and the server's clock
   * offset (server Unix ms minus performance.now(), from the heartbeat), if
   * known; without it the page's own clock is used.
   */
  constructor(
    private readonly line: HTMLElement,
    private readonly clockOffset: () => number | undefined,
  ) {}

  /** watch follows a room's drops and resumes (undefined: none). */
  watch(room: Room | undefined): void {
    this.off?.();
    this.off = undefined;
    this.room = room;
    if (room) {
      this.off = room.on("event", (ev) => {
        if (ev.kind === RoomEventKind.PLAYER_DROPPED || ev.kind === RoomEventKind.PLAYER_RESUMED || ev.kind === RoomEventKind.PLAYER_LEFT) this.render();
      });
    }
    this.render();
  }

  private serverNow(): number {
    const offset = this.clockOffset();
    return offset === undefined ? Date.now() : performance.now() + offset;
  }

  private render(): void {
    const room = this.room;
    const parts: string[] = [];
    let soonest = Infinity;
    if (room) {
      const now = this.serverNow();
      for (const p of room.players.values()) {
        if (p.connected || (!room.spectator && p.seat === room.seat)) continue;
        const until = room.heldUntil(p.seat);
        if (until === undefined) {
          parts.push(`${p.name} lost their connection; their seat is held.`);
          continue;
        }
        const s = Math.max(0, Math.ceil((until - now) / 1000));
        soonest = Math.min(soonest, s);
        parts.push(`${p.name} lost their connection. Their seat is held for ${s} s.`);
      }
    }
    this.line.textContent = parts.join(" ");
    this.line.hidden = parts.length === 0;
    if (soonest === Infinity) delete this.line.dataset["seconds"];
    else this.line.dataset["seconds"] = String(soonest);
    if (parts.length > 0 && this.timer === undefined) this.timer = setInterval(() => this.render(), 250);
    if (parts.length === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
