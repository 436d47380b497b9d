// People: friends with their presence (online, in a room, offline),
// friend requests to accept or decline, requests sent, blocked users, and
// a card for any user met in chat or in a room with its actions (message,
// add or remove as a friend, block or unblock). The server keeps friend
// and block lists while the user is connected; this panel shows what it
// told this page.
import { errorMessage, type Client } from "../../src/index.js";
import { PresenceStatus, type Presence } from "../../src/gen/tickroom/v1/social_pb.js";
import { el } from "./dom.js";

/** PeopleElements are the panel's parts in the page. */
export interface PeopleElements {
  card: HTMLElement;
  requestsBox: HTMLElement;
  requests: HTMLUListElement;
  friends: HTMLUListElement;
  blockedBox: HTMLElement;
  blocked: HTMLUListElement;
  status: HTMLElement;
}

// Friend is a friend, or a user this one asked, as the panel shows it.
interface Friend {
  userId: string;
  name: string;
  /** pending is true while the request waits for an answer. */
  pending: boolean;
  presence: Presence | undefined;
}

/** PeoplePanel shows friends, requests and blocks, and a card for one user. */
export class PeoplePanel {
  private client: Client | undefined;
  private selfId = "";
  private readonly friends = new Map<string, Friend>();
  private readonly incoming = new Map<string, string>(); // user id → name
  private readonly blockedUsers = new Map<string, string>();
  private readonly names = new Map<string, string>();
  private cardUser: string | undefined;

  /** PeoplePanel's constructor takes the page's parts and what "Message" does. */
  constructor(
    private readonly ui: PeopleElements,
    private readonly message: (userId: string, name: string) => void,
    private readonly profile: (userId: string, name: string) => void = () => {},
  ) {
    this.render();
  }

  /** attach follows a client's presence and friend events; it returns a function that stops. */
  attach(client: Client, selfId: string): () => void {
    this.client = client;
    this.selfId = selfId;
    const offs = [
      client.on("presence", (p) => this.onPresence(p)),
      client.on("friendRequest", (r) => {
        this.learn(r.fromUserId, r.fromName);
        this.incoming.set(r.fromUserId, r.fromName);
        this.render();
      }),
      client.on("friendAnswer", (a) => {
        this.learn(a.userId, a.name);
        const f = this.friends.get(a.userId);
        if (a.accepted) this.friends.set(a.userId, { userId: a.userId, name: a.name, pending: false, presence: f?.presence });
        else {
          this.friends.delete(a.userId);
          this.say(`${a.name} declined your friend request.`);
        }
        this.render();
      }),
      // After a reconnect, ask again how the friends are.
      client.on("welcome", () => void this.refreshPresence()),
    ];
    return () => {
      for (const off of offs) off();
      this.client = undefined;
      this.friends.clear();
      this.incoming.clear();
      this.blockedUsers.clear();
      this.cardUser = undefined;
      this.render();
    };
  }

  /** learn records a user's name (from chat or a room) for cards and lists. */
  learn(userId: string, name: string): void {
    if (userId && name) this.names.set(userId, name);
  }

  /** showUser opens the card of a user with its actions. */
  showUser(userId: string, name: string): void {
    if (!userId || userId === this.selfId) return;
    this.learn(userId, name);
    this.cardUser = userId;
    this.render();
  }

  private name(userId: string): string {
    return this.names.get(userId) ?? this.friends.get(userId)?.name ?? userId.slice(0, 8);
  }

  private onPresence(p: Presence): void {
    this.learn(p.userId, p.name);
    const f = this.friends.get(p.userId);
    this.friends.set(p.userId, { userId: p.userId, name: p.name || f?.name || this.name(p.userId), pending: false, presence: p });
    this.render();
  }

  private async refreshPresence(): Promise<void> {
    const client = this.client;
    const ids = [...this.friends.values()].filter((f) => !f.pending).map((f) => f.userId);
    if (!client || ids.length === 0) return;
    try {
      for (const p of await client.queryPresence(ids)) {
        const f = this.friends.get(p.userId);
        if (f) f.presence = p;
      }
      this.render();
    } catch {
      // Presence follows with the next change anyway.
    }
  }

  private async act(what: string, fn: (c: Client) => Promise<void>, after: () => void): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      await fn(client);
      after();
      this.say("");
    } catch (err) {
      this.say(`${what}: ${errorMessage(err)}`);
    }
    this.render();
  }

  private say(text: string): void {
    this.ui.status.textContent = text;
  }

  private addFriend(userId: string): Promise<void> {
    return this.act("Friend request", (c) => c.addFriend(userId), () => {
      // AddFriend accepts a standing request from that user.
      const accepted = this.incoming.delete(userId);
      this.friends.set(userId, { userId, name: this.name(userId), pending: !accepted, presence: undefined });
    });
  }

  private removeFriend(userId: string): Promise<void> {
    return this.act("Remove friend", (c) => c.addFriend(userId, true), () => this.friends.delete(userId));
  }

  private answer(userId: string, accept: boolean): Promise<void> {
    return this.act(accept ? "Accept" : "Decline", (c) => c.answerFriend(userId, accept), () => {
      this.incoming.delete(userId);
      if (accept) this.friends.set(userId, { userId, name: this.name(userId), pending: false, presence: undefined });
    });
  }

  private block(userId: string, unblock: boolean): Promise<void> {
    return this.act(unblock ? "Unblock" : "Block", (c) => c.blockUser(userId, unblock), () => {
      if (unblock) this.blockedUsers.delete(userId);
      else {
        // A block ends a friendship or request both ways.
        this.blockedUsers.set(userId, this.name(userId));
        this.friends.delete(userId);
        this.incoming.delete(userId);
      }
    });
  }

  private button(text: string, attr: string, userId: string, fn: () => void): HTMLButtonElement {
    const b = el("button", { text, attrs: { type: "button", [attr]: userId } });
    b.addEventListener("click", fn);
    return b;
  }

  private render(): void {
    this.renderCard();
    const { ui } = this;
    ui.requestsBox.hidden = this.incoming.size === 0;
    ui.requests.replaceChildren(
      ...[...this.incoming].map(([id, name]) =>
        el(
          "li",
          { attrs: { "data-user": id } },
          el("span", { cls: "who", text: `${name} wants to be friends` }),
          this.button("Accept", "data-accept", id, () => void this.answer(id, true)),
          this.button("Decline", "data-decline", id, () => void this.answer(id, false)),
        ),
      ),
    );
    const friends = [...this.friends.values()].sort((a, b) => a.name.localeCompare(b.name));
    ui.friends.replaceChildren(
      ...(friends.length === 0
        ? [el("li", { cls: "empty", text: "No friends yet: click a name in the chat or a room." })]
        : friends.map((f) => {
            const state = f.pending ? "pending" : presenceState(f.presence);
            const li = el(
              "li",
              { attrs: { "data-user": f.userId, "data-presence": state } },
              el("span", { cls: `dot ${state}`, attrs: { "aria-hidden": "true" } }),
              this.nameButton(f.userId, f.name),
              el("span", { cls: "presence", text: f.pending ? "request sent" : presenceText(f.presence) }),
            );
            return li;
          })),
    );
    ui.blockedBox.hidden = this.blockedUsers.size === 0;
    ui.blocked.replaceChildren(
      ...[...this.blockedUsers].map(([id, name]) =>
        el("li", { attrs: { "data-user": id } }, el("span", { cls: "who", text: name }), this.button("Unblock", "data-unblock", id, () => void this.block(id, true))),
      ),
    );
  }

  private nameButton(userId: string, name: string): HTMLButtonElement {
    const b = el("button", { cls: "name", text: name, attrs: { type: "button", "data-card": userId } });
    b.addEventListener("click", () => this.showUser(userId, name));
    return b;
  }

  private renderCard(): void {
    const id = this.cardUser;
    const card = this.ui.card;
    if (!id || !this.client) {
      card.hidden = true;
      card.replaceChildren();
      delete card.dataset["user"];
      return;
    }
    const name = this.name(id);
    const f = this.friends.get(id);
    const blocked = this.blockedUsers.has(id);
    const actions: HTMLElement[] = [
      this.button("Message", "data-message", id, () => this.message(id, name)),
      this.button("Profile", "data-profile", id, () => this.profile(id, name)),
    ];
    if (!blocked) {
      if (this.incoming.has(id)) actions.push(this.button("Accept friend", "data-accept", id, () => void this.answer(id, true)));
      else if (!f) actions.push(this.button("Add friend", "data-add-friend", id, () => void this.addFriend(id)));
      else actions.push(this.button(f.pending ? "Cancel request" : "Remove friend", "data-remove-friend", id, () => void this.removeFriend(id)));
    }
    actions.push(this.button(blocked ? "Unblock" : "Block", blocked ? "data-unblock" : "data-block", id, () => void this.block(id, blocked)));
    const close = el("button", { cls: "close", text: "×", attrs: { type: "button", "aria-label": "Close" } });
    close.addEventListener("click", () => {
      this.cardUser = undefined;
      this.render();
    });
    card.dataset["user"] = id;
    card.replaceChildren(
      el("div", { cls: "card-head" }, el("strong", { text: name }), el("span", { cls: "presence", text: f && !f.pending ? presenceText(f.presence) : "" }), close),
      el("div", { cls: "card-actions" }, ...actions),
    );
    card.hidden = false;
  }
}

function presenceState(p: Presence | undefined): string {
  switch (p?.status) {
    case PresenceStatus.ONLINE:
      return "online";
    case PresenceStatus.IN_ROOM:
      return "in-room";
    case PresenceStatus.OFFLINE:
      return "offline";
    default:
      return "unknown";
  }
}

function presenceText(p: Presence | undefined): string {
  switch (p?.status) {
    case PresenceStatus.ONLINE:
      return "online";
    case PresenceStatus.IN_ROOM:
      return p.game ? `playing ${p.game}` : "in a room";
    case PresenceStatus.OFFLINE:
      return "offline";
    default:
      return "";
  }
}
