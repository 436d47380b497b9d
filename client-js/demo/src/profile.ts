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

// History is a match history page, Board a leaderboard page.
type History = Awaited<ReturnType<Client["matchHistory"]>>;
type Board = Awaited<ReturnType<Client["leaderboard"]>>;

/**
 * Reads are the answered reads of one player's profile: the match history
 * and, for the user's own, the leaderboard of each game (null where the
 * server has none), the parts still missing absent.
 */
interface Reads {
  userId: string;
  history?: History;
  boards: Map<string, Board | null>;
}

/** ProfilePanel shows one player's standings and match history. */
export class ProfilePanel {
  private client: Client | undefined;
  private selfId = "";
  private selfName = "";
  private userId = "";
  private loading = 0;
  // retryTimer asks again for the reads of the profile refused
  // RATE_LIMITED: the server answers the history and leaderboards within
  // one budget per user (10 at once, then one a second), and its hint
  // says when the next read is answered, so the reads answered are kept.
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  // drawn is what the panel shows: a reload draws the parts it has not
  // read yet from it, rather than "loading…".
  private drawn: Reads | undefined;

  /** ProfilePanel's constructor takes its section and the games whose leaderboards it reads. */
  constructor(
    private readonly section: HTMLElement,
    private readonly games: readonly string[],
  ) {}

  /** attach sets the client and the user; it shows the user's own profile. */
  attach(client: Client | undefined, selfId = "", selfName = ""): void {
    this.cancelRetry();
    this.loading++;
    this.drawn = undefined;
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
   * show loads and draws a player's profile, all of it afresh; the reads
   * refused RATE_LIMITED are asked again after the server's hint, spread
   * at random and growing, those answered kept, and the parts still
   * missing show "loading…" meanwhile.
   */
  async show(userId: string, name: string): Promise<void> {
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
    await this.read(client, load, { userId, boards: new Map() }, head, 0);
  }

  /**
   * read asks for the parts of a profile not in reads yet, draws it, and
   * asks again for those refused RATE_LIMITED, the attempt-th time in a
   * row.
   */
  private async read(client: Client, load: number, reads: Reads, head: HTMLElement, attempt: number): Promise<void> {
    const mine = reads.userId === this.selfId;
    const refusals: TickroomError[] = [];
    let failed: { err: unknown } | undefined;
    await Promise.all([
      reads.history
        ? undefined
        : client.matchHistory({ userId: mine ? "" : reads.userId, limit: shown }).then(
            (h) => void (reads.history = h),
            (err: unknown) => void (rateLimited(err) ? refusals.push(err) : (failed = { err })),
          ),
      // A leaderboard tells the caller's own standing; another player's
      // standing is read from the matches. One the server has no board
      // for is left out.
      ...(mine ? this.games : [])
        .filter((g) => !reads.boards.has(g))
        .map((g) =>
          client.leaderboard(g, 1).then(
            (b) => void reads.boards.set(g, b),
            (err: unknown) => void (rateLimited(err) ? refusals.push(err) : reads.boards.set(g, null)),
          ),
        ),
    ]);
    if (load !== this.loading) return;
    if (failed) {
      this.drawn = undefined;
      this.section.replaceChildren(head, el("p", { cls: "status", text: `Match history: ${errorMessage(failed.err)}` }));
      return;
    }
    this.draw(reads, head, mine);
    if (refusals.length > 0) {
      const hint = Math.max(...refusals.map((err) => err.retryAfterMs));
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (load === this.loading) void this.read(client, load, reads, head, attempt + 1);
      }, rateLimitedRetryMs(hint, attempt));
    }
  }

  /** draw shows a profile: the parts not in reads as the panel shows them for the same player, or else "loading…". */
  private draw(reads: Reads, head: HTMLElement, mine: boolean): void {
    const before = this.drawn?.userId === reads.userId ? this.drawn : undefined;
    const history = reads.history ?? before?.history;
    const boards = new Map([...(before?.boards ?? []), ...reads.boards]);
    this.drawn = { userId: reads.userId, history, boards };
    const standings = this.games.flatMap((g) => {
      const b = boards.get(g);
      return b?.own && b.own.played > 0 ? [standing(b.game, b.own)] : [];
    });
    const boardsLoading = mine && this.games.some((g) => !boards.has(g));
    this.section.dataset["user"] = reads.userId;
    if (history) this.section.dataset["matches"] = String(history.matches.length);
    else delete this.section.dataset["matches"];
    this.section.replaceChildren(
      head,
      ...(standings.length > 0 ? [el("ul", { cls: "standings" }, ...standings)] : []),
      ...(boardsLoading ? [el("p", { cls: "status", text: "Standings loading…" })] : []),
      el("h3", { text: "Recent matches" }),
      !history
        ? el("p", { cls: "status", text: "loading…" })
        : history.matches.length === 0
          ? el("p", { cls: "status", text: mine ? "No finished matches yet: play one!" : "No finished matches yet." })
          : el("ol", { cls: "history" }, ...history.matches.map((m) => match(m, reads.userId))),
    );
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
