import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { TickroomError, type Client } from "../src/index.js";
import { ErrorCode } from "../src/gen/tickroom/v1/codes_pb.js";
import { MatchOutcome } from "../src/gen/tickroom/v1/records_pb.js";
import { ProfilePanel } from "../demo/src/profile.js";
import { fakeNode, flush, useFakeDom, type FakeNode } from "./fake-dom.js";

// The demo's profile reads a match history and a leaderboard for each
// game, which the server answers within one budget per user (10 at once,
// then one a second). A profile refused RATE_LIMITED showed the error,
// and a refused leaderboard left the player's standing out, until the
// user came back to the lobby: it is now asked again after the server's
// hint. The hint says only when the next read is answered, so a retry asks
// for the reads refused alone, and meanwhile the parts still missing show
// "loading…", not the refusal.

// shownText is the text of a node and its children, as the page shows it.
function shownText(node: HTMLElement): string {
  const walk = (n: FakeNode): string => [n.textContent ?? "", ...n.children.map(walk)].filter(Boolean).join(" ");
  return walk(node as unknown as FakeNode).replace(/\s+/g, " ");
}

const refusal = () => new TickroomError("server", "history and leaderboard pages asked too fast", { serverCode: ErrorCode.RATE_LIMITED, retryAfterMs: 1000 });

// fakeClient refuses the first `histories` match histories and the first
// `boards` leaderboards RATE_LIMITED, and answers the rest: no matches,
// and a standing of one game played.
// boardsOf counts the leaderboards asked for by game.
function fakeClient(histories: number, boards: number): { client: Client; asked: () => { histories: number; boards: number; boardsOf: Record<string, number> } } {
  let h = 0;
  let b = 0;
  const boardsOf: Record<string, number> = {};
  const client = {
    matchHistory: () => (++h <= histories ? Promise.reject(refusal()) : Promise.resolve({ matches: [] })),
    leaderboard: (game: string) => {
      boardsOf[game] = (boardsOf[game] ?? 0) + 1;
      return ++b <= boards ? Promise.reject(refusal()) : Promise.resolve({ game, top: [], own: { rank: 1, played: 1, wins: 1, losses: 0, draws: 0, score: 0n } });
    },
  } as unknown as Client;
  return { client, asked: () => ({ histories: h, boards: b, boardsOf: { ...boardsOf } }) };
}

describe("the demo's profile refused RATE_LIMITED", () => {
  useFakeDom();

  it("asks again after retry_after_ms for a refused match history", async () => {
    const { client, asked } = fakeClient(2, 0);
    const section = fakeNode();
    new ProfilePanel(section, ["gomoku"]).attach(client, "ann", "Ann");
    for (let n = 1; n <= 2; n++) {
      await flush();
      assert.equal(asked().histories, n, `the profile's match history refused RATE_LIMITED ${n - 1} times was not asked for again`);
      assert.equal(section.dataset["matches"], undefined);
      mock.timers.tick(999);
      await flush();
      assert.equal(asked().histories, n, `refusal ${n}: asked again before the server's 1000 ms`);
      mock.timers.tick(30_000);
    }
    await flush();
    assert.equal(asked().histories, 3, "the profile's match history refused RATE_LIMITED was not asked for again");
    assert.equal(section.dataset["matches"], "0");
  });

  it("asks again for a refused leaderboard rather than leave the standing out", async () => {
    const { client, asked } = fakeClient(0, 1);
    const section = fakeNode();
    new ProfilePanel(section, ["gomoku"]).attach(client, "ann", "Ann");
    await flush();
    mock.timers.tick(30_000);
    await flush();
    assert.equal(asked().boards, 2, "the profile's leaderboard refused RATE_LIMITED was not asked for again");
  });

  // Each read costs a token of the budget, and retry_after_ms says only
  // when the next one comes: a retry asks for what was refused, not for
  // the reads already answered.
  it("asks again only for the refused match history, and shows it loading meanwhile", async () => {
    const { client, asked } = fakeClient(1, 0);
    const section = fakeNode();
    new ProfilePanel(section, ["gomoku", "arena"]).attach(client, "ann", "Ann");
    await flush();
    assert.deepEqual(asked(), { histories: 1, boards: 2, boardsOf: { gomoku: 1, arena: 1 } });
    assert.doesNotMatch(shownText(section), /too quick|Match history:/, "a profile asked again shows the refusal");
    assert.match(shownText(section), /Recent matches loading…/, "a profile asked again does not show its match history loading");
    assert.match(shownText(section), /gomoku #1 · 1 won/, "a profile asked again does not show the standings it has");
    mock.timers.tick(30_000);
    await flush();
    assert.deepEqual(asked(), { histories: 2, boards: 2, boardsOf: { gomoku: 1, arena: 1 } }, "the retry asked again for the leaderboards answered");
    assert.equal(section.dataset["matches"], "0");
    assert.doesNotMatch(shownText(section), /loading…/);
    assert.match(shownText(section), /No finished matches yet/);
  });

  it("asks again only for the refused leaderboard, and shows the standings loading meanwhile", async () => {
    const { client, asked } = fakeClient(0, 1);
    const section = fakeNode();
    new ProfilePanel(section, ["gomoku", "arena"]).attach(client, "ann", "Ann");
    await flush();
    assert.deepEqual(asked(), { histories: 1, boards: 2, boardsOf: { gomoku: 1, arena: 1 } });
    assert.equal(section.dataset["matches"], "0", "a profile asked again does not show the match history it has");
    assert.doesNotMatch(shownText(section), /too quick|Match history:/, "a profile asked again shows the refusal");
    assert.match(shownText(section), /Standings loading…/);
    mock.timers.tick(30_000);
    await flush();
    assert.deepEqual(asked(), { histories: 1, boards: 3, boardsOf: { gomoku: 2, arena: 1 } }, "the retry asked again for what was answered");
    assert.doesNotMatch(shownText(section), /loading…/);
    assert.match(shownText(section), /gomoku #1 · 1 won.*arena #1 · 1 won/);
  });

  it("starts afresh for another player's profile or a refresh", async () => {
    const { client, asked } = fakeClient(1, 0);
    const section = fakeNode();
    const panel = new ProfilePanel(section, ["gomoku"]);
    panel.attach(client, "ann", "Ann");
    await flush();
    // A refresh (after a match) asks for all again, the leaderboard answered too.
    panel.refresh();
    await flush();
    assert.deepEqual(asked(), { histories: 2, boards: 2, boardsOf: { gomoku: 2 } });
    assert.equal(section.dataset["matches"], "0");
    // Another player's profile is that player's match history alone.
    void panel.show("bob", "Bob");
    await flush();
    mock.timers.tick(60_000);
    await flush();
    assert.deepEqual(asked(), { histories: 3, boards: 2, boardsOf: { gomoku: 2 } });
    assert.equal(section.dataset["user"], "bob");
    assert.match(shownText(section), /Bob's profile/);
    assert.doesNotMatch(shownText(section), /gomoku #1/, "another player's profile shows the user's standings");
  });

  it("keeps the profile shown when its refresh is refused", async () => {
    let h = 0;
    const won = { game: "gomoku", reason: "five_in_a_row", endedAtMs: 0n, players: [{ userId: "ann", name: "Ann", outcome: MatchOutcome.WIN, score: 0n }] };
    const client = {
      matchHistory: () => (++h === 2 ? Promise.reject(refusal()) : Promise.resolve({ matches: [won] })),
      leaderboard: (game: string) => Promise.resolve({ game, top: [], own: { rank: 1, played: 1, wins: 1, losses: 0, draws: 0, score: 0n } }),
    } as unknown as Client;
    const section = fakeNode();
    const panel = new ProfilePanel(section, ["gomoku"]);
    panel.attach(client, "ann", "Ann");
    await flush();
    panel.refresh();
    await flush();
    assert.equal(h, 2);
    assert.equal(section.dataset["matches"], "1");
    assert.doesNotMatch(shownText(section), /loading…|too quick/);
    assert.match(shownText(section), /won gomoku/);
    mock.timers.tick(30_000);
    await flush();
    assert.equal(h, 3, "the refused refresh was not asked again");
    assert.match(shownText(section), /won gomoku/);
  });

  it("asks no more once detached", async () => {
    const { client, asked } = fakeClient(5, 0);
    const panel = new ProfilePanel(fakeNode(), ["gomoku"]);
    panel.attach(client, "ann", "Ann");
    await flush();
    panel.attach(undefined);
    mock.timers.tick(60_000);
    await flush();
    assert.equal(asked().histories, 1, "a detached profile asked again");
  });
});
