// The crazy eights page: log in as a guest, quick-match a table, and show
// what this player's view holds: the table, every seat's card count, and
// the player's own hand (the server never sends anyone else's cards).
import { connect, login, webSocketUrl, TickroomError, type Room } from "@tickroom/client";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { CardSchema, MoveSchema, ResultSchema, SeatSchema, Suit, TableSchema, type Card } from "./gen/cards/v1/cards_pb.js";

const SEAT_BASE = 100n;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $("status");
const suits: Record<number, string> = { [Suit.CLUBS]: "♣", [Suit.DIAMONDS]: "♦", [Suit.HEARTS]: "♥", [Suit.SPADES]: "♠" };
const ranks = ["", "A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K"];

function label(c: Card): string {
  return `${ranks[c.rank]}${suits[c.suit] ?? "?"}`;
}

$<HTMLFormElement>("login").addEventListener("submit", (e) => {
  e.preventDefault();
  sit($<HTMLInputElement>("name").value.trim()).catch((err: unknown) => {
    status.textContent = err instanceof TickroomError && err.code === "unauthorized" ? "Your session ended, please log in again." : String(err);
    $("login").hidden = false;
  });
});

async function sit(name: string): Promise<void> {
  $("login").hidden = true;
  status.textContent = "connecting…";
  const session = await login(name, { baseUrl: location.origin });
  const client = await connect({ url: await webSocketUrl(location.origin), token: session.token });
  const room = await client.quickMatch("eights");
  $("table").hidden = false;
  status.textContent = "waiting for players…";
  room.on("state", () => render(room));
  room.on("message", (m) => (status.textContent = m.text));
  room.on("event", (ev) => {
    if (!ev.result) return;
    const left = ev.result.data.length ? fromBinary(ResultSchema, ev.result.data).cardsLeft : [];
    const won = ev.result.winnerSeats.includes(room.seat);
    status.textContent = `${won ? "You win" : "Game over"} (${ev.result.reason}); cards left: ${left.filter((_, i) => room.players.has(i + 1)).join(", ")}`;
  });
  $("draw").addEventListener("click", () => send(room, { case: "draw", value: {} }));
}

function send(room: Room, action: NonNullable<Parameters<typeof create<typeof MoveSchema>>[1]>["action"]): void {
  room.sendInput(toBinary(MoveSchema, create(MoveSchema, { action })));
}

function render(room: Room): void {
  const table = room.globals.length ? fromBinary(TableSchema, room.globals) : undefined;
  const myTurn = table?.turn === room.seat;
  if (table?.top) $("top").textContent = label(table.top);
  $("suit").textContent = table?.suit ? `follow ${suits[table.suit]}` : "";
  $("deck").textContent = String(table?.deck ?? 0);
  const seats: HTMLElement[] = [];
  const hand: HTMLElement[] = [];
  for (const [id, bytes] of [...room.entities].sort((a, b) => Number(a[0] - b[0]))) {
    if (id > SEAT_BASE) {
      const s = fromBinary(SeatSchema, bytes);
      const li = document.createElement("li");
      li.textContent = `${s.name}${s.seat === room.seat ? " (you)" : ""}: ${s.cards} cards`;
      li.className = table?.turn === s.seat ? "turn" : "";
      seats.push(li);
      continue;
    }
    const card = fromBinary(CardSchema, bytes);
    const b = document.createElement("button");
    b.className = `card${card.suit === Suit.DIAMONDS || card.suit === Suit.HEARTS ? " red" : ""}`;
    b.textContent = label(card);
    b.disabled = !myTurn;
    b.addEventListener("click", () => send(room, { case: "play", value: { cardId: Number(id), suit: Number($<HTMLSelectElement>("name-suit").value) } }));
    hand.push(b);
  }
  $("seats").replaceChildren(...seats);
  $("hand").replaceChildren(...hand);
  $<HTMLButtonElement>("draw").disabled = !myTurn;
  if (table?.turn) status.textContent = myTurn ? "Your turn." : "";
}
