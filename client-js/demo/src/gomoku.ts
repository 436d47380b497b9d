// The gomoku board: 15×15 cells as buttons, stones decoded from the room's
// entities, the turn and the move clock from its globals, the last stone
// marked, moves sent as gomoku Move inputs, and a result banner with
// rematch when the match ends.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Room } from "../../src/index.js";
import { RoomEventKind } from "../../src/gen/tickroom/v1/state_pb.js";
import { ErrorCode, GlobalsSchema, MoveSchema, ResultSchema, StoneSchema } from "../../src/gen/tickroom/gomoku/v1/gomoku_pb.js";
import { el } from "./dom.js";
import { seatName, type GameView, type ViewHost } from "./view.js";

/** SIZE is the board's side. */
export const SIZE = 15;

/** MOVE_MESSAGES says why gomoku refused a move, for every code of its ErrorCode enum. */
export const MOVE_MESSAGES: Readonly<Record<Exclude<ErrorCode, ErrorCode.UNSPECIFIED>, string>> = {
  [ErrorCode.MALFORMED]: "That move could not be read.",
  [ErrorCode.NOT_RUNNING]: "The match is not running.",
  [ErrorCode.NOT_YOUR_TURN]: "Not your turn.",
  [ErrorCode.OUT_OF_BOARD]: "That point is off the board.",
  [ErrorCode.OCCUPIED]: "That point is taken.",
  [ErrorCode.SPECTATOR]: "You are watching, so you cannot play.",
};

// reasons are the MatchResult reasons gomoku reports, in words.
const reasons: Record<string, string> = {
  five_in_a_row: "five in a row",
  timeout: "on time",
  forfeit: "by forfeit",
  draw: "board full",
};

/** GomokuParts are the page elements the view draws in besides the board. */
export interface GomokuParts {
  board: HTMLElement;
  clock: HTMLElement;
  result: HTMLElement;
  resultText: HTMLElement;
}

/** GomokuView renders a gomoku room and sends the user's moves. */
export class GomokuView implements GameView {
  private readonly cells: HTMLButtonElement[] = [];
  private readonly offs: (() => void)[] = [];
  private readonly timer: ReturnType<typeof setInterval>;
  private turnSeat = 0;
  private deadlineTick = 0n;
  private stateTick = 0n;
  private stateAt = 0;
  private ended = "";
  private winLine = new Set<number>();

  /** GomokuView's constructor fills the board element and draws the room's current state. */
  constructor(
    private readonly room: Room,
    private readonly parts: GomokuParts,
    private readonly host: ViewHost,
  ) {
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const cell = el("button", { cls: "cell", attrs: { type: "button", "data-x": String(x), "data-y": String(y), "aria-label": `${x},${y}` } });
        cell.addEventListener("click", () => this.play(x, y));
        this.cells.push(cell);
      }
    }
    parts.board.replaceChildren(...this.cells);
    parts.result.hidden = true;
    delete parts.result.dataset["outcome"];
    this.offs.push(
      room.on("state", () => this.render()),
      room.on("message", (m) => this.host.status(MOVE_MESSAGES[m.code as Exclude<ErrorCode, ErrorCode.UNSPECIFIED>] ?? "The game refused that move.")),
      room.on("event", (ev) => {
        if (ev.kind === RoomEventKind.MATCH_ENDED && ev.result) {
          const r = ev.result;
          const line = r.data.length > 0 ? fromBinary(ResultSchema, r.data).line : [];
          this.winLine = new Set(line.map((s) => s.y * SIZE + s.x));
          const winner = r.winnerSeats[0];
          const how = reasons[r.reason] ?? r.reason.replaceAll("_", " ");
          let outcome = "lost";
          if (winner === undefined) {
            this.ended = `Draw (${how}).`;
            outcome = "draw";
          } else if (!room.spectator && winner === room.seat) {
            this.ended = `You win, ${how}!`;
            outcome = "won";
          } else {
            this.ended = `${seatName(room, winner)} wins, ${how}.`;
            if (room.spectator) outcome = "watched";
          }
          parts.resultText.textContent = this.ended;
          parts.result.dataset["outcome"] = outcome;
          parts.result.hidden = false;
        }
        this.render();
      }),
    );
    this.timer = setInterval(() => this.renderClock(), 250);
    this.render();
  }

  /** dispose stops listening and empties the board. */
  dispose(): void {
    clearInterval(this.timer);
    for (const off of this.offs) off();
    this.parts.board.replaceChildren();
    this.parts.result.hidden = true;
    this.parts.clock.textContent = "–";
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
      this.deadlineTick = g.turnDeadlineTick;
      last = g.lastMove;
    }
    if (room.tick !== undefined && room.tick !== this.stateTick) {
      this.stateTick = room.tick;
      this.stateAt = performance.now();
    }
    for (const [id, bytes] of room.entities) {
      const s = fromBinary(StoneSchema, bytes);
      const cell = this.cells[s.y * SIZE + s.x];
      if (!cell) continue;
      cell.classList.add(s.seat === 1 ? "black" : "white");
      if (id === last) cell.classList.add("last");
      if (this.winLine.has(s.y * SIZE + s.x)) cell.classList.add("win");
    }
    this.parts.board.dataset["turn"] = String(this.turnSeat);
    this.parts.board.dataset["stones"] = String(room.entities.size);
    this.parts.board.dataset["last"] = String(last);
    this.host.status(this.describe());
    this.renderClock();
  }

  // renderClock shows the seconds the player to move has left, counted
  // down between states from the last one's tick.
  private renderClock(): void {
    const clock = this.parts.clock;
    if (this.turnSeat === 0 || this.deadlineTick === 0n || this.ended) {
      clock.textContent = this.ended ? "–" : this.turnSeat === 0 ? "waiting" : "no limit";
      clock.classList.remove("low");
      delete clock.dataset["seconds"];
      return;
    }
    const rate = Math.max(1, this.room.tickRate);
    const left = Number(this.deadlineTick - this.stateTick) / rate - (performance.now() - this.stateAt) / 1000;
    const s = Math.max(0, Math.ceil(left));
    const mine = !this.room.spectator && this.turnSeat === this.room.seat;
    clock.textContent = `${s} s ${mine ? "for your move" : `for ${seatName(this.room, this.turnSeat)}`}`;
    clock.dataset["seconds"] = String(s);
    clock.classList.toggle("low", s <= 10);
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
