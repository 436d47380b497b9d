// What the page needs from a game's view.
import type { Room } from "../../src/index.js";

/** GameView draws one room's game; the page disposes of it when the room is left. */
export interface GameView {
  /** dispose stops listening to the room and clears the view. */
  dispose(): void;
}

/** ViewHost is what a game view may use of the page. */
export interface ViewHost {
  /** status shows a line about the game (turn, result, refused move). */
  status(text: string): void;
}

/** seatName names a seat for two-player games. */
export function seatName(room: Room, seat: number): string {
  return room.players.get(seat)?.name ?? `seat ${seat}`;
}
