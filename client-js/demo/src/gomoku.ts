// The gomoku board: 15×15 cells as buttons, stones decoded from the room's
// entities, the turn from its globals, moves sent as gomoku Move inputs.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Room } from "../../src/index.js";
import { RoomEventKind } from "../../src/gen/tickroom/v1/state_pb.js";
import { GlobalsSchema, MoveSchema, ResultSchema, StoneSchema } from "../../src/gen/tickroom/gomoku/v1/gomoku_pb.js";
import { el } from "./dom.js";
import { seatName, type GameView, type ViewHost } from "./view.js";

/** SIZE is the board's side. */
export const SIZE = 15;

/** GomokuView renders a gomoku room and sends the user's moves. */
export class GomokuView implements GameView {
  private readonly cells: HTMLButtonElement[] = [];
  private readonly offs: (() => void)[] = [];
  private turnSeat = 0;
  private ended = "";
  private winLine = new Set<number>();

  /** GomokuView's constructor fills the board element and draws the room's current state. */
  constructor(
    private readonly room: Room,
    private readonly board: HTMLElement,
    private readonly host: ViewHost,
  ) {
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const cell = el("button", { cls: "cell", attrs: { type: "button", "data-x": String(x), "data-y": String(y), "aria-label": `${x},${y}` } });
        cell.addEventListener("click", () => this.play(x, y));
        this.cells.push(cell);
      }
    }
    board.replaceChildren(...this.cells);
    this.offs.push(
      room.on("state", () => this.render()),
      room.on("message", (m) => this.host.status(`Move refused: ${m.text || `code ${m.code}`}`)),
      room.on("event", (ev) => {
        if (ev.kind === RoomEventKind.MATCH_ENDED && ev.result) {
          const r = ev.result;
          const line = r.data.length > 0 ? fromBinary(ResultSchema, r.data).line : [];
          this.winLine = new Set(line.map((s) => s.y * SIZE + s.x));
          const winner = r.winnerSeats[0];
          if (winner === undefined) this.ended = `Draw (${r.reason}).`;
          else if (!room.spectator && winner === room.seat) this.ended = `You win (${r.reason.replaceAll("_", " ")})!`;
          else this.ended = `${seatName(room, winner)} wins (${r.reason.replaceAll("_", " ")}).`;
        }
        this.render();
      }),
    );
    this.render();
  }

  /** dispose stops listening and empties the board. */
  dispose(): void {
    for (const off of this.offs) off();
    this.board.replaceChildren();
  }

  private play(x: number, y: number): void {
    if (this.room.spectator || !this.room.live) return;
    if (this.turnSeat !== this.room.seat) {
      this.host.status(this.turnSeat === 0 ? "The match is not running." : "Not your turn.");
      return;
    }
    this.room.sendInput(toBinary(MoveSchema, create(MoveSchema, { x, y })));
  }

  private render(): void {
    const room = this.room;
    for (const c of this.cells) c.classList.remove("black", "white", "last", "win");
    let last = 0n;
    if (room.globals.length > 0 || room.tick !== undefined) {
      const g = fromBinary(GlobalsSchema, room.globals);
      this.turnSeat = g.turnSeat;
      last = g.lastMove;
    }
    for (const [id, bytes] of room.entities) {
      const s = fromBinary(StoneSchema, bytes);
      const cell = this.cells[s.y * SIZE + s.x];
      if (!cell) continue;
      cell.classList.add(s.seat === 1 ? "black" : "white");
      if (id === last) cell.classList.add("last");
      if (this.winLine.has(s.y * SIZE + s.x)) cell.classList.add("win");
    }
    this.board.dataset["turn"] = String(this.turnSeat);
    this.board.dataset["stones"] = String(room.entities.size);
    this.host.status(this.describe());
  }

  private describe(): string {
    const room = this.room;
    if (this.ended) return this.ended;
    const color = (seat: number) => (seat === 1 ? "black" : "white");
    const you = room.spectator ? "You are watching." : `You play ${color(room.seat)}.`;
    if (this.turnSeat === 0) return `${you} Waiting for an opponent…`;
    if (!room.spectator && this.turnSeat === room.seat) return `${you} Your turn.`;
    return `${you} ${seatName(room, this.turnSeat)} (${color(this.turnSeat)}) to move.`;
  }
}
