import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { TickroomError, type Client } from "../src/index.js";
import { ErrorCode } from "../src/gen/tickroom/v1/codes_pb.js";
import { ProfilePanel } from "../demo/src/profile.js";

// The demo's profile reads a match history and a leaderboard for each
// game, which the server answers within one budget per user (10 at once,
// then one a second). A profile refused RATE_LIMITED showed the error,
// and a refused leaderboard left the player's standing out, until the
// user came back to the lobby: it is now asked again after the server's
// hint.

// fakeNode stands for the few DOM calls the panel makes.
function fakeNode(): HTMLElement {
  const n = {
    dataset: {} as Record<string, string>,
    textContent: "" as string | null,
    className: "",
    hidden: false,
    setAttribute() {},
    append() {},
    replaceChildren() {},
    addEventListener() {},
    removeEventListener() {},
  };
  return n as unknown as HTMLElement;
}

const refusal = () => new TickroomError("server", "history and leaderboard pages asked too fast", { serverCode: ErrorCode.RATE_LIMITED, retryAfterMs: 1000 });

// fakeClient refuses the first `histories` match histories and the first
// `boards` leaderboards RATE_LIMITED, and answers the rest: no matches,
// and a standing of one game played.
function fakeClient(histories: number, boards: number): { client: Client; asked: () => { histories: number; boards: number } } {
  let h = 0;
  let b = 0;
  const client = {
    matchHistory: () => (++h <= histories ? Promise.reject(refusal()) : Promise.resolve({ matches: [] })),
    leaderboard: (game: string) =>
      ++b <= boards ? Promise.reject(refusal()) : Promise.resolve({ game, top: [], own: { rank: 1, played: 1, wins: 1, losses: 0, draws: 0, score: 0n } }),
  } as unknown as Client;
  return { client, asked: () => ({ histories: h, boards: b }) };
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe("the demo's profile refused RATE_LIMITED", () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"], now: 0 });
    (globalThis as { document?: unknown }).document = { createElement: fakeNode };
  });
  afterEach(() => {
    mock.timers.reset();
    delete (globalThis as { document?: unknown }).document;
  });

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
