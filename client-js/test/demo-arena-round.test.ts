import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { ARENA_ROUND_SECONDS, arenaRoundSeconds, roundOver } from "../demo/src/arena.js";
import { PlayerSchema, ResultSchema } from "../src/gen/tickroom/arena/v1/arena_pb.js";
import { MatchResultSchema } from "../src/gen/tickroom/v1/state_pb.js";

// result is an arena round's MatchResult with these players' points, as
// the server sends it: the highest score wins, and when every player has
// it (all tied) the round is a draw, with no winner; a player alone wins
// nothing and scores nothing for the standings.
function result(players: [seat: number, name: string, score: number][]): ReturnType<typeof create<typeof MatchResultSchema>> {
  const best = Math.max(...players.map(([, , s]) => s));
  const winners = players.filter(([, , s]) => s === best).map(([seat]) => seat);
  const alone = players.length === 1;
  return create(MatchResultSchema, {
    winnerSeats: winners.length === players.length ? [] : winners,
    reason: "time_up",
    data: toBinary(ResultSchema, create(ResultSchema, { players: players.map(([seat, name, score]) => create(PlayerSchema, { seat, name, score })) })),
    scores: alone ? [] : players.map(([seat, , score]) => ({ seat, score: BigInt(score) })),
  });
}

describe("demo arena rounds", () => {
  it("last ARENA_ROUND_SECONDS unless the page's query asks for 1 to 3600 seconds", () => {
    for (const [search, want] of [
      ["", ARENA_ROUND_SECONDS],
      ["?arena_seconds=5", 5],
      ["?x=1&arena_seconds=3600", 3600],
      ["?arena_seconds=0", ARENA_ROUND_SECONDS],
      ["?arena_seconds=3601", ARENA_ROUND_SECONDS],
      ["?arena_seconds=-5", ARENA_ROUND_SECONDS],
      ["?arena_seconds=2.5", ARENA_ROUND_SECONDS],
      ["?arena_seconds=abc", ARENA_ROUND_SECONDS],
    ] as const) {
      assert.equal(arenaRoundSeconds(search), want, search);
    }
  });

  it("end with the winner and each player's points", () => {
    const r = result([
      [1, "ann", 7],
      [2, "bob", 3],
    ]);
    assert.equal(roundOver(r, 1), "Round over: you win with 7 points!");
    assert.equal(roundOver(r, 2), "Round over: ann wins with 7 points; you have 3 points.");
    assert.equal(roundOver(r, 0), "Round over: ann wins with 7 points.");
    const tie = result([
      [1, "ann", 1],
      [2, "bob", 1],
      [3, "cy", 0],
    ]);
    assert.equal(roundOver(tie, 2), "Round over: you share the win with 1 point.");
    assert.equal(roundOver(tie, 0), "Round over: ann, bob win with 1 point.");
    const draw = result([
      [1, "ann", 0],
      [2, "bob", 0],
    ]);
    assert.equal(roundOver(draw, 1), "Round over: a draw, everyone with 0 points.");
    assert.equal(roundOver(draw, 0), "Round over: a draw, everyone with 0 points.");
    assert.equal(roundOver(create(MatchResultSchema, { reason: "closed" }), 1), "Round over.");
    const alone = result([[1, "ann", 4]]);
    assert.equal(roundOver(alone, 1), "Round over: 4 points, played alone (a round alone does not count).");
  });
});
