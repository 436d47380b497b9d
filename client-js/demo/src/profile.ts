// A player's profile: their standing in each game (wins, losses, draws,
// rank, and the arena's total points) and their recent matches, newest
// first, each with the player's points in a scored game, from the server's match
// history and leaderboards. The user's own profile shows by default; the
// user card opens anyone's.
import { errorMessage, TickroomError, type Client } from "../../src/index.js";
import { rateLimitedRetryMs } from "../../src/backoff.js";
import { ErrorCode } from "../../src/gen/tickroom/v1/codes_pb.js";
import { MatchOutcome, type MatchRecord, type Standing } from "../../src/gen/tickroom/v1/records_pb.js";
import { el } from "./dom.js";

// shown is how many recent matches the profile lists.
const shown = 10;

// scored are the games that report a score per player with their result
// (the arena's points); gomoku reports only win, loss or draw.
const scored: ReadonlySet<string> = new Set(["arena"]);

// points writes a score.
const points = (n: number | bigint) => `${n} point${n === 1 || n === 1n ? "" : "s"}`;

const outcomes: Record<MatchOutcome, string> = {
  [MatchOutcome.UNSPECIFIED]: "played",
  [MatchOutcome.WIN]: "won",
  [MatchOutcome.LOSS]: "lost",
  [MatchOutcome.DRAW]: "drew",
};

/** ProfilePanel shows one player's standings and match history. */
export class ProfilePanel {
  private client: Client | undefined;
  private selfId = "";
  private selfName = "";
  private userId = "";
  private loading = 0;
  // retryTimer loads the profile again after a refusal RATE_LIMITED: the
  // server answers the history and leaderboards within one budget per
  // user (10 at once, then one a second).
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  /** ProfilePanel's constructor takes its section and the games whose leaderboards it reads. */
  constructor(
    private readonly section: HTMLElement,
    private readonly games: readonly string[],
  ) {}

  /** attach sets the client and the user; it shows the user's own profile. */
  attach(client: Client | undefined, selfId = "", selfName = ""): void {
    this.cancelRetry();
    this.loading++;
    this.client = client;
    this.selfId = selfId;
    this.selfName = selfName;
    this.section.hidden = !client;
    if (client) void this.show(selfId, selfName);
    else this.section.replaceChildren();
  }

  /** refresh reloads the profile shown (after a match, say). */
  refresh(): void {
    if (this.client && this.userId) void this.show(this.userId, "");
  }

  /**
   * show loads and draws a player's profile; one refused RATE_LIMITED is
   * loaded again after the server's hint, spread at random, the attempt-th
   * time in a row.
   */
  async show(userId: string, name: string, attempt = 0): Promise<void> {
    this.cancelRetry();
    const client = this.client;
    if (!client) return;
    this.userId = userId;
    const mine = userId === this.selfId;
    const load = ++this.loading;
    const head = el("div", { cls: "profile-head" }, el("h2", { text: mine ? "Your profile" : `${name || "Player"}'s profile` }));
    if (!mine) {
      const back = el("button", { text: "Mine", attrs: { type: "button", "data-profile-self": "" } });
      back.addEventListener("click", () => void this.show(this.selfId, this.selfName));
      head.append(back);
    }
    try {
      const [history, boards] = await Promise.all([
        client.matchHistory({ userId: mine ? "" : userId, limit: shown }),
        // A leaderboard tells the caller's own standing; another player's
        // standing is read from the matches.
        // One the server has no board for is left out; one refused
        // RATE_LIMITED is asked again with the rest.
        mine
          ? Promise.all(this.games.map((g) => client.leaderboard(g, 1).catch((err: unknown) => (rateLimited(err) ? Promise.reject(err) : undefined))))
          : Promise.resolve([]),
      ]);
      if (load !== this.loading) return;
      const standings = boards.filter((b) => b?.own && b.own.played > 0).map((b) => standing(b!.game, b!.own!));
      this.section.dataset["user"] = userId;
      this.section.dataset["matches"] = String(history.matches.length);
      this.section.replaceChildren(
        head,
        ...(standings.length > 0 ? [el("ul", { cls: "standings" }, ...standings)] : []),
        el("h3", { text: "Recent matches" }),
        history.matches.length === 0
          ? el("p", { cls: "status", text: mine ? "No finished matches yet: play one!" : "No finished matches yet." })
          : el("ol", { cls: "history" }, ...history.matches.map((m) => match(m, userId))),
      );
    } catch (err) {
      if (load !== this.loading) return;
      // A reload refused RATE_LIMITED leaves the profile shown as it was.
      if (!rateLimited(err) || this.section.dataset["user"] !== userId) {
        this.section.replaceChildren(head, el("p", { cls: "status", text: `Match history: ${errorMessage(err)}` }));
      }
      if (rateLimited(err)) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          if (load === this.loading) void this.show(userId, name, attempt + 1);
        }, rateLimitedRetryMs(err.retryAfterMs, attempt));
      }
    }
  }

  private cancelRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}

/** rateLimited reports whether err is the server's refusal RATE_LIMITED. */
function rateLimited(err: unknown): err is TickroomError {
  return err instanceof TickroomError && err.serverCode === ErrorCode.RATE_LIMITED;
}

/** standing is a game's line of the profile: rank, wins, losses and draws, and the total score of a scored game. */
export function standing(game: string, s: Standing): HTMLLIElement {
  const score = scored.has(game) ? `, ${points(s.score)} in all` : "";
  // Past the ranks the server counts, rank is the first uncounted one.
  const rank = s.rankBeyond ? `past #${(s.rank - 1).toLocaleString("en")}` : `#${s.rank}`;
  return el("li", { attrs: { "data-game": game } }, el("strong", { text: game }), el("span", { text: ` ${rank} · ${s.wins} won, ${s.losses} lost, ${s.draws} drawn${score}` }));
}

/** match is one finished match of the profile, as the user in it saw it: the outcome, the game, the others, the user's score in a scored game, how it ended and when. */
export function match(m: MatchRecord, userId: string): HTMLLIElement {
  const me = m.players.find((p) => p.userId === userId);
  const others = m.players.filter((p) => p.userId !== userId).map((p) => p.name);
  const outcome = me ? outcomes[me.outcome] : "played";
  const when = new Date(Number(m.endedAtMs)).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  const li = el(
    "li",
    { cls: `outcome-${outcome}` },
    el("span", { cls: "outcome", text: outcome }),
    el("span", { text: ` ${m.game}${others.length > 0 ? ` vs ${others.join(", ")}` : ""}` }),
    ...(me && scored.has(m.game) ? [el("span", { cls: "points", text: ` · ${points(me.score)}` })] : []),
    el("span", { cls: "when", text: ` · ${m.reason.replaceAll("_", " ")} · ${when}` }),
  );
  li.dataset["outcome"] = outcome;
  return li;
}
