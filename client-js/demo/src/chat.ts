// The chat panel: the lobby channel, the current room's chat and direct
// messages in one log, with a target picker. Every line is built with
// textContent, so markup in a message is shown, never run. The box counts
// what it holds in bytes of UTF-8, as the server does, with the platform's
// TextEncoder (the one protobuf-es encodes strings with, so the count is
// what goes on the wire); an input's maxlength counts UTF-16 units, which
// let through text of emoji or CJK the server refuses.
import { TickroomError, type Client, type Room } from "../../src/index.js";
import { ErrorCode } from "../../src/gen/tickroom/v1/codes_pb.js";
import type { Chat, ChatHistory, DirectMessage } from "../../src/gen/tickroom/v1/social_pb.js";
import { el, errorText, shortId } from "./dom.js";

/** LOBBY_CHANNEL is the lobby channel every user joins. */
export const LOBBY_CHANNEL = "general";

/**
 * MAX_TEXT_BYTES is the longest chat line or direct message the server
 * takes at its default (social.Config.MaxTextBytes; docs/limits.md), in
 * bytes of UTF-8: 500 Latin letters, about 166 CJK, 125 emoji.
 */
export const MAX_TEXT_BYTES = 500;

const encoder = new TextEncoder();

/** textBytes is the length of text in bytes of UTF-8, as the server counts it. */
export function textBytes(text: string): number {
  return encoder.encode(text).length;
}

// maxLines bounds the log; the oldest lines go first.
const maxLines = 300;

// lineBreaks are the characters a browser may break a line at on their own
// (CR, LF, VT, FF, NEL, the line and paragraph separators). Another client
// can send them in a line (the box here takes none), and shown as breaks
// one line would read as two, the second as if someone else said it.
const lineBreaks = /[\r\n\v\f\u0085\u2028\u2029]+/g;

/** oneLine is text with each run of line breaks shown as a space. */
function oneLine(text: string): string {
  return text.replace(lineBreaks, " ");
}

/**
 * idTag is a short form of a user id: past "guest-" for an id the server
 * made (which a guest that claimed a name keeps, so it does not say
 * "guest"), else the id's start.
 */
function idTag(id: string): string {
  return id.startsWith("guest-") ? id.slice(6, 12) : shortId(id);
}

/**
 * idTags labels users who share a display name: each by idTag, or by its
 * whole id where that is not unique among them (an identity provider's
 * ids may share their start, "oidc|user-...").
 */
function idTags(ids: string[]): Map<string, string> {
  const tags = new Map(ids.map((id) => [id, idTag(id)]));
  const count = new Map<string, number>();
  for (const t of tags.values()) count.set(t, (count.get(t) ?? 0) + 1);
  for (const [id, t] of tags) if ((count.get(t) ?? 0) > 1) tags.set(id, id);
  return tags;
}

/** ChatPanel renders chat lines and sends what the user types. */
export class ChatPanel {
  private readonly seen = new Set<string>();
  private readonly users = new Map<string, string>();
  private client: Client | undefined;
  private room: Room | undefined;
  private selfId = "";
  // maxBytes is the longest text the server is believed to take: the
  // default, lowered when a server configured tighter refuses a line.
  private maxBytes = MAX_TEXT_BYTES;
  private readonly submit: HTMLButtonElement | null;

  /**
   * ChatPanel's constructor wires the form; attach a client to use it. left
   * shows the bytes the box has left (or how far it is over), and the send
   * button is disabled while the text is too long to send.
   */
  constructor(
    private readonly log: HTMLUListElement,
    private readonly to: HTMLSelectElement,
    form: HTMLFormElement,
    private readonly input: HTMLInputElement,
    private readonly left: HTMLElement,
    private readonly onUser: (userId: string, name: string) => void = () => {},
  ) {
    this.submit = form.querySelector<HTMLButtonElement>("button[type=submit]");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.send();
    });
    input.addEventListener("input", () => this.measure());
    this.renderTargets();
    this.measure();
  }

  /** attach listens to a client's chat, history and direct messages; it returns a function that stops listening. */
  attach(client: Client, selfId: string): () => void {
    this.client = client;
    this.selfId = selfId;
    const offs = [
      client.on("chat", (c) => this.addChat(c)),
      client.on("chatHistory", (h) => this.addHistory(h)),
      client.on("direct", (d) => this.addDirect(d)),
    ];
    return () => {
      for (const off of offs) off();
      this.client = undefined;
    };
  }

  /** joinLobby subscribes to the lobby channel and shows its recent lines. */
  async joinLobby(): Promise<void> {
    if (!this.client) return;
    try {
      this.addHistory(await this.client.joinChannel(LOBBY_CHANNEL));
      this.log.dataset["channel"] = LOBBY_CHANNEL;
    } catch (err) {
      this.system(`lobby chat unavailable: ${errorText(err)}`);
    }
  }

  /** setRoom makes the room (or none) the target of room chat. */
  setRoom(room: Room | undefined): void {
    this.room = room;
    for (const p of room?.players.values() ?? []) this.learnUser(p.userId, p.name);
    this.renderTargets(room ? "room" : `channel:${LOBBY_CHANNEL}`);
  }

  /** learnUser adds a user to the direct-message targets. */
  learnUser(userId: string, name: string): void {
    if (!userId || userId === this.selfId || this.users.get(userId) === name) return;
    this.users.set(userId, name);
    this.renderTargets();
  }

  /** messageUser makes a user the target of the next line and focuses the input. */
  messageUser(userId: string, name: string): void {
    this.learnUser(userId, name);
    this.renderTargets(`dm:${userId}`);
    this.input.focus();
  }

  /** system adds a line from the page itself. */
  system(text: string): void {
    this.append(el("li", { cls: "system", text }));
  }

  private addHistory(h: ChatHistory): void {
    for (const line of h.lines) this.addChat(line);
  }

  private addChat(c: Chat): void {
    const key = `${c.roomId ? `room:${c.roomId}` : `channel:${c.channel}`}:${c.id}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.learnUser(c.fromUserId, c.fromName);
    const where = c.roomId ? "[room]" : `[#${c.channel}]`;
    this.append(this.line(where, c.fromUserId, c.fromName || "system", c.text, ""));
  }

  private addDirect(d: DirectMessage): void {
    const key = `dm:${d.fromUserId}:${d.id}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.learnUser(d.fromUserId, d.fromName);
    this.append(this.line("[dm]", d.fromUserId, d.fromName, d.text, "dm"));
  }

  private line(where: string, userId: string, name: string, text: string, cls: string): HTMLLIElement {
    const from = el("button", { cls: "from", text: name, attrs: { type: "button", title: "Send a direct message" } });
    from.addEventListener("click", () => {
      if (!userId || userId === this.selfId) return;
      this.messageUser(userId, name);
      this.onUser(userId, name);
    });
    const li = el("li", { cls }, el("span", { cls: "where", text: where }), from, el("span", { cls: "text", text: oneLine(text) }));
    li.dataset["from"] = name;
    return li;
  }

  private append(li: HTMLLIElement): void {
    const atBottom = this.log.scrollTop + this.log.clientHeight >= this.log.scrollHeight - 4;
    this.log.append(li);
    while (this.log.childElementCount > maxLines) this.log.firstElementChild?.remove();
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }

  private renderTargets(select?: string): void {
    const want = select ?? this.to.value;
    const opts: [string, string][] = [[`channel:${LOBBY_CHANNEL}`, `#${LOBBY_CHANNEL}`]];
    if (this.room) opts.push(["room", "room"]);
    // Display names are not unique (a guest may take any, a claimed one
    // too): users who share one are told apart by their ids.
    const named = new Map<string, string[]>();
    for (const [id, name] of this.users) named.set(name, [...(named.get(name) ?? []), id]);
    const tags = new Map<string, string>();
    for (const ids of named.values()) if (ids.length > 1) for (const [id, t] of idTags(ids)) tags.set(id, t);
    for (const [id, name] of this.users) {
      const tag = tags.get(id);
      opts.push([`dm:${id}`, tag === undefined ? `@${name}` : `@${name} (${tag})`]);
    }
    this.to.replaceChildren(...opts.map(([value, label]) => el("option", { text: label, attrs: { value } })));
    this.to.value = opts.some(([v]) => v === want) ? want : opts[0]![0];
  }

  /**
   * measure shows the bytes left in the box (hidden while it is empty),
   * or how many too many in red, and disables sending while it is over. It
   * returns the text's length in bytes.
   */
  private measure(): number {
    const used = textBytes(this.input.value.trim());
    const left = this.maxBytes - used;
    const over = left < 0;
    this.left.hidden = used === 0;
    this.left.textContent = over ? `${-left} too long` : String(left);
    this.left.classList.toggle("over", over);
    this.left.dataset["left"] = String(left);
    this.input.setAttribute("aria-invalid", String(over));
    if (this.submit) this.submit.disabled = over;
    return used;
  }

  private async send(): Promise<void> {
    const client = this.client;
    const text = this.input.value.trim();
    if (!client || !text) return;
    const bytes = this.measure();
    if (bytes > this.maxBytes) {
      this.system(`not sent: ${tooLong(bytes, this.maxBytes)}`);
      return;
    }
    const target = this.to.value;
    try {
      if (target === "room" && this.room) {
        await client.sendChat({ roomId: this.room.id }, text);
      } else if (target.startsWith("dm:")) {
        const id = target.slice(3);
        await client.sendDirect(id, text);
        // The server does not echo a direct message to its sender.
        this.append(this.line(`[dm to @${this.users.get(id) ?? id}]`, this.selfId, "you", text, "dm"));
      } else {
        await client.sendChat({ channel: target.slice("channel:".length) }, text);
      }
      this.input.value = "";
      this.measure();
    } catch (err) {
      if (err instanceof TickroomError && err.serverCode === ErrorCode.MESSAGE_TOO_LONG) {
        // A server configured below the default: it takes less than
        // this, so the box holds the player to that from now on. The
        // text stays in the box to be shortened.
        this.maxBytes = Math.min(this.maxBytes, bytes - 1);
        this.measure();
        this.system(`not sent: ${tooLong(bytes)}`);
        return;
      }
      this.system(`not sent: ${errorText(err)}`);
    }
  }
}

/**
 * tooLong says that text of bytes bytes is over the server's limit, max
 * when known, and why text that looks short can be.
 */
function tooLong(bytes: number, max?: number): string {
  const limit = max === undefined ? "more than the server takes" : `and the server takes at most ${max}`;
  return `That message is too long: ${bytes} bytes, ${limit}. Emoji and many scripts take 2 to 4 bytes a character; shorten it and send again.`;
}
