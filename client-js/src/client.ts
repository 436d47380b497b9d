import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Connection, PROTOCOL_VERSION, type CloseDetails, type ConnectionState } from "./connection.js";
import { rateLimitedRetryMs } from "./backoff.js";
import { Emitter } from "./emitter.js";
import { TickroomError } from "./errors.js";
import { ErrorCode } from "./gen/tickroom/v1/codes_pb.js";
import { CLIENT_FIELD_LIMITS } from "./gen/limits_table.js";
import { ClientMessageSchema, ServerMessageSchema, type ClientMessage, type ServerMessage } from "./gen/tickroom/v1/envelope_pb.js";
import { CreateRoomSchema, ListRoomsSchema, QuickMatchSchema, UnwatchRoomsSchema, WatchRoomsSchema, type RoomList } from "./gen/tickroom/v1/lobby_pb.js";
import {
  GetWatchPassSchema,
  InputSchema,
  JoinRoomSchema,
  LeaveReason,
  LeaveRoomSchema,
  LeftSchema,
  type Joined,
  type Left,
  type Redirect,
  type WatchPass,
} from "./gen/tickroom/v1/room_pb.js";
import { PingSchema, type Welcome } from "./gen/tickroom/v1/session_pb.js";
import {
  AddFriendSchema,
  AnswerFriendSchema,
  BlockUserSchema,
  GetChannelHistorySchema,
  JoinChannelSchema,
  LeaveChannelSchema,
  QueryPresenceSchema,
  SendChatSchema,
  SendDirectSchema,
  SendSignalSchema,
  type ChannelHistoryPage,
  type ChatHistory,
  type Presence,
  type SignalKind,
} from "./gen/tickroom/v1/social_pb.js";
import { GetLeaderboardSchema, GetMatchHistorySchema, type Leaderboard, type MatchHistory } from "./gen/tickroom/v1/records_pb.js";
import { checkSession, redirectError } from "./refusal.js";
import { RequestTracker } from "./requests.js";
import { Resumer } from "./resume.js";
import { Room, type RoomHost } from "./room.js";
import { RoomWatch, type RoomWatchFilter } from "./room-watch.js";
import { RttEstimator } from "./rtt.js";
import type { ChannelHistoryOptions, CreateRoomOptions, ListRoomsFilter, MatchHistoryOptions } from "./request-options.js";
import { expectBody, inputEnvelopeSize, serverError, withReservation, type Body } from "./wire.js";
import type { ClientEvents, ClientOptions } from "./client-options.js";

export type { ClientEvents, ClientOptions } from "./client-options.js";

/** MAX_REDIRECTS bounds the redirects one join follows. */
const MAX_REDIRECTS = 3;

/** MAX_INPUT_BYTES is the protocol's bound on an Input's data (Input.data in CLIENT_FIELD_LIMITS). */
const MAX_INPUT_BYTES = CLIENT_FIELD_LIMITS.find((l) => l.path === "input.data")?.maxBytes ?? 4096;

interface JoinContext {
  password: string;
  resume?: Room;
}

/**
 * Client is a logged-in user's connection to a tickroom server: the lobby
 * (list, create, join, spectate, quick match), the rooms joined, chat,
 * direct messages, presence and notifications, and the heartbeat. Get one
 * with `connect` (connect.ts).
 *
 * After a dropped socket it reconnects with backoff and, on the new Welcome,
 * resumes every room with the last tick seen (same seat, never a second
 * player); inputs sent meanwhile wait in each room's bounded buffer and go
 * out after the resume. Requests in flight when a socket drops reject with
 * "connection-lost"; requests made while it is down reject with
 * "not-connected".
 */
export class Client extends Emitter<ClientEvents> {
  /** connection is the underlying reconnecting socket. */
  readonly connection: Connection;
  /** rtt estimates the round-trip time and server clock from heartbeats. */
  readonly rtt = new RttEstimator();
  private readonly opts: ClientOptions;
  private readonly tracker: RequestTracker<ServerMessage>;
  private readonly joins = new Map<number, JoinContext>();
  private readonly roomMap = new Map<string, Room>();
  /** roomRefs maps State.room_ref to its room, learned from keyframes. */
  private readonly roomRefs = new Map<number, Room>();
  private readonly watches = new Map<number, RoomWatch>();
  private nextWatchId = 1;
  private readonly now: () => number;
  private welcomeMsg: Welcome | undefined;
  /** resumer resumes the rooms after a reconnect and gives up the seats this client drops (resume.ts). */
  private readonly resumer: Resumer;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private desyncTimer: ReturnType<typeof setTimeout> | undefined;
  private lastHeard = 0;
  /** probeSentAt is when the first ping after lastHeard went out, 0 if none has. */
  private probeSentAt = 0;

  /** Client's constructor does not connect; use {@link connect}, or call open. */
  constructor(options: ClientOptions) {
    super(options.onListenerError);
    this.opts = options;
    const perf = (globalThis as { performance?: { now(): number } }).performance;
    this.now = options.now ?? (perf ? () => perf.now() : () => Date.now());
    const requestTimeoutMs = options.requestTimeoutMs || 10_000;
    this.tracker = new RequestTracker<ServerMessage>(requestTimeoutMs, options.maxRequestsInFlight || 64);
    this.resumer = new Resumer(
      {
        rooms: this.roomMap,
        now: () => this.now(),
        isOpen: () => this.connection.state === "open",
        request: (body) => this.request(body),
        requestResume: (room, value, timeoutMs) => this.requestWith({ case: "joinRoom", value }, { password: value.password, resume: room }, timeoutMs),
        roomLeft: (left) => this.roomLeft(left),
        moveTo: (r) => this.moveTo(r),
        resumeFailed: (room, error) => {
          this.forgetRefs(room);
          this.emit("resumeFailed", { room, error });
        },
      },
      requestTimeoutMs,
    );
    const connOpts: ConstructorParameters<typeof Connection>[0] = { url: options.url, token: options.token };
    if (options.WebSocket) connOpts.WebSocket = options.WebSocket;
    if (options.protocols) connOpts.protocols = options.protocols;
    if (options.backoff) connOpts.backoff = options.backoff;
    if (options.reconnect !== undefined) connOpts.reconnect = options.reconnect;
    if (options.maxReconnectAttempts) connOpts.maxReconnectAttempts = options.maxReconnectAttempts;
    if (options.slowDelayMs) connOpts.slowDelayMs = options.slowDelayMs;
    if (options.connectTimeoutMs) connOpts.connectTimeoutMs = options.connectTimeoutMs;
    if (options.onListenerError) connOpts.onListenerError = options.onListenerError;
    connOpts.maxDelayMs = () => this.resumer.maxDelayMs();
    const loc = (globalThis as { location?: { origin?: string; protocol?: string } }).location;
    const httpUrl = options.httpUrl ?? (loc?.protocol === "http:" || loc?.protocol === "https:" ? loc.origin : undefined);
    if (httpUrl) {
      const check = { httpUrl, ...(options.fetch ? { fetch: options.fetch } : {}) };
      connOpts.diagnose = (failure) => checkSession(failure, check);
    }
    this.connection = new Connection(connOpts);
    this.connection.on("state", (s) => this.emit("state", s));
    this.connection.on("message", (bytes) => this.onMessage(bytes));
    this.connection.on("close", (c) => this.onClose(c));
  }

  /**
   * open starts connecting; connect() calls it. After a terminal close it
   * starts over: after TOKEN_EXPIRED, log in again, setToken, then open.
   */
  open(): void {
    this.connection.connect();
  }

  /** welcome is the latest Welcome, undefined before the first. */
  get welcome(): Welcome | undefined {
    return this.welcomeMsg;
  }

  /** rooms maps room id to the rooms this user is in. */
  get rooms(): ReadonlyMap<string, Room> {
    return this.roomMap;
  }

  /**
   * listenerErrorHandler is ClientOptions.onListenerError; a VoiceCall made
   * with this client hands it the errors of its listeners too.
   */
  get listenerErrorHandler(): ((err: unknown) => void) | undefined {
    return this.opts.onListenerError;
  }

  /** state is the connection's state. */
  get state(): ConnectionState {
    return this.connection.state;
  }

  /** setToken replaces the session token for the next reconnect (after logging in again). */
  setToken(token: string): void {
    this.connection.setToken(token);
  }

  /** close closes the connection for good; rooms are left on the client side and the server keeps seats for its resume window. */
  close(): void {
    this.resumer.stop();
    this.connection.close();
  }

  /** listRooms lists the rooms matching the filter. */
  async listRooms(filter: ListRoomsFilter = {}): Promise<RoomList> {
    const reply = await this.request({ case: "listRooms", value: create(ListRoomsSchema, filter) });
    return expectBody(reply, "roomList");
  }

  /**
   * watchRooms subscribes to a live room list: the RoomWatch holds the
   * rooms that match now and follows every change the server pushes (at
   * most a few a second), re-subscribing after a reconnect. Close it when
   * the list is no longer shown; a connection holds a few watches at most
   * (ERROR_CODE_LIST_FULL past them).
   */
  async watchRooms(filter: RoomWatchFilter = {}): Promise<RoomWatch> {
    const watch = new RoomWatch({ unwatch: (w) => this.unwatch(w) }, this.nextWatchId++, filter, this.opts.onListenerError);
    this.watches.set(watch.id, watch);
    try {
      await this.subscribe(watch);
    } catch (err) {
      this.watches.delete(watch.id);
      throw err;
    }
    return watch;
  }

  private async subscribe(watch: RoomWatch): Promise<void> {
    const value = create(WatchRoomsSchema, { ...watch.filter, watchId: watch.id });
    const list = expectBody(await this.request({ case: "watchRooms", value }), "roomList");
    if (this.watches.get(watch.id) === watch) watch.handleList(list);
  }

  private async unwatch(watch: RoomWatch): Promise<void> {
    if (this.watches.get(watch.id) !== watch) return;
    this.watches.delete(watch.id);
    if (this.connection.state !== "open") return; // the server forgets watches with the connection
    try {
      await this.request({ case: "unwatchRooms", value: create(UnwatchRoomsSchema, { watchId: watch.id }) });
    } catch {
      // The connection dropped meanwhile, which ends the watch as well.
    }
  }

  /** createRoom creates a room and joins it (as a player unless spectate). */
  createRoom(options: CreateRoomOptions): Promise<Room> {
    return this.join({ case: "createRoom", value: create(CreateRoomSchema, options) }, { password: options.password ?? "" });
  }

  /** joinRoom takes a seat in a room (or spectates with spectate: true). */
  joinRoom(roomId: string, options: { password?: string; spectate?: boolean } = {}): Promise<Room> {
    this.resumer.wanted(roomId);
    const value = create(JoinRoomSchema, { roomId, password: options.password ?? "", spectate: options.spectate ?? false });
    return this.join({ case: "joinRoom", value }, { password: options.password ?? "" });
  }

  /** spectate watches a room without a seat. */
  spectate(roomId: string, options: { password?: string } = {}): Promise<Room> {
    return this.joinRoom(roomId, { ...options, spectate: true });
  }

  /** quickMatch joins the fullest open room of the game with these options, or creates one. */
  quickMatch(game: string, options: Record<string, string> = {}): Promise<Room> {
    return this.join({ case: "quickMatch", value: create(QuickMatchSchema, { game, options }) }, { password: "" });
  }

  /**
   * leaveRoom gives up this user's seat in roomId: the Room's own leave
   * when the client has one, and otherwise a seat the server holds from an
   * earlier connection (welcome.seats lists them), without resuming it
   * first, so that the room frees it at once rather than after its resume
   * window. It rejects with ERROR_CODE_NOT_IN_ROOM when no seat is held.
   */
  async leaveRoom(roomId: string): Promise<void> {
    const room = this.roomMap.get(roomId);
    if (room) return room.leave();
    const left = expectBody(await this.request({ case: "leaveRoom", value: create(LeaveRoomSchema, { roomId }) }), "left");
    this.roomLeft(left);
  }

  /** sendChat posts a line to a room this user is in or a lobby channel it joined. */
  async sendChat(to: { roomId?: string; channel?: string }, text: string, excludeSender = false): Promise<void> {
    const value = create(SendChatSchema, { roomId: to.roomId ?? "", channel: to.channel ?? "", text, excludeSender });
    expectBody(await this.request({ case: "sendChat", value }), "ok");
  }

  /** sendSignal relays a WebRTC signaling message to a user who plays in a room with this one (spectators do not count) or is a friend. */
  async sendSignal(toUserId: string, callId: string, kind: SignalKind, data: string): Promise<void> {
    expectBody(await this.request({ case: "sendSignal", value: create(SendSignalSchema, { toUserId, callId, kind, data }) }), "ok");
  }

  /** sendDirect sends a direct message to a connected user. */
  async sendDirect(toUserId: string, text: string): Promise<void> {
    expectBody(await this.request({ case: "sendDirect", value: create(SendDirectSchema, { toUserId, text }) }), "ok");
  }

  /** joinChannel subscribes to a lobby channel and returns its recent lines. */
  async joinChannel(channel: string): Promise<ChatHistory> {
    return expectBody(await this.request({ case: "joinChannel", value: create(JoinChannelSchema, { channel }) }), "chatHistory");
  }

  /** leaveChannel unsubscribes from a lobby channel. */
  async leaveChannel(channel: string): Promise<void> {
    expectBody(await this.request({ case: "leaveChannel", value: create(LeaveChannelSchema, { channel }) }), "ok");
  }

  /** blockUser blocks (or with unblock, unblocks) a user's chat and direct messages. */
  async blockUser(userId: string, unblock = false): Promise<void> {
    expectBody(await this.request({ case: "blockUser", value: create(BlockUserSchema, { userId, unblock }) }), "ok");
  }

  /**
   * addFriend asks a user for friendship, or accepts its standing request; with remove, ends the
   * friendship or withdraws the request. Presence flows once the other user accepts (friendAnswer).
   */
  async addFriend(userId: string, remove = false): Promise<void> {
    expectBody(await this.request({ case: "addFriend", value: create(AddFriendSchema, { userId, remove }) }), "ok");
  }

  /** answerFriend accepts or declines the friend request of a user (a friendRequest event). */
  async answerFriend(userId: string, accept: boolean): Promise<void> {
    expectBody(await this.request({ case: "answerFriend", value: create(AnswerFriendSchema, { userId, accept }) }), "ok");
  }

  /** queryPresence returns the users' statuses, in the order asked. */
  async queryPresence(userIds: string[]): Promise<Presence[]> {
    const reply = expectBody(await this.request({ case: "queryPresence", value: create(QueryPresenceSchema, { userIds }) }), "presenceList");
    return reply.users;
  }

  /**
   * matchHistory returns one page of a player's finished matches, newest first: the caller's own
   * (no userId) or an accepted friend's (anyone else's is refused with ERROR_CODE_FORBIDDEN). Pass
   * the page's nextBeforeId as before for the next, older page; it is 0 on the last page. The
   * server caps limit at 50 (0 means 20). A server without a store refuses with
   * ERROR_CODE_UNSUPPORTED.
   */
  async matchHistory(opts: MatchHistoryOptions = {}): Promise<MatchHistory> {
    const value = create(GetMatchHistorySchema, { userId: opts.userId ?? "", beforeId: BigInt(opts.before ?? 0), limit: opts.limit ?? 0 });
    return expectBody(await this.request({ case: "getMatchHistory", value }), "matchHistory");
  }

  /**
   * leaderboard returns a game's top players (ranked by wins, then total score; the server caps
   * limit at 100, 0 means 10) and the caller's own standing, unset when it never finished a match
   * of the game.
   */
  async leaderboard(game: string, limit = 0): Promise<Leaderboard> {
    return expectBody(await this.request({ case: "getLeaderboard", value: create(GetLeaderboardSchema, { game, limit }) }), "leaderboard");
  }

  /**
   * channelHistory returns one page of a lobby channel's kept lines, the newest page first and
   * oldest line first within it; each line carries its store id. Pass the page's nextBefore as
   * before for the next, older page; it is 0 on the last page. Only a member of the channel (after
   * joinChannel) may read it (else ERROR_CODE_CHANNEL_NOT_FOUND); a limit over 500 is refused with
   * ERROR_CODE_BAD_REQUEST, and a server without a store refuses with ERROR_CODE_UNSUPPORTED.
   */
  async channelHistory(channel: string, opts: ChannelHistoryOptions = {}): Promise<ChannelHistoryPage> {
    const value = create(GetChannelHistorySchema, { channel, before: BigInt(opts.before ?? 0), limit: opts.limit ?? 0 });
    return expectBody(await this.request({ case: "getChannelHistory", value }), "channelHistoryPage");
  }

  /**
   * watchPass asks for a watch pass for a room this client has a seat in (player or spectator):
   * a token that opens that room's spectator feed, GET /v1/rooms/{id}/events?pass=, and nothing
   * else, for an hour by default (expiresAtMs). Share it in a watch link (watch.html?room=ID&pass=P)
   * instead of the session token, which is the user's whole session. A room without this client's
   * seat is refused with ERROR_CODE_NOT_IN_ROOM; asking too often, with ERROR_CODE_RATE_LIMITED.
   */
  async watchPass(roomId: string): Promise<WatchPass> {
    return expectBody(await this.request({ case: "getWatchPass", value: create(GetWatchPassSchema, { roomId }) }), "watchPass");
  }

  /** ping sends one heartbeat now and resolves with its round-trip time in ms. */
  async ping(): Promise<number> {
    const sentAt = this.now();
    const reply = await this.request({ case: "ping", value: create(PingSchema, { clientTimeMs: sentAt, rttMs: Math.round(this.rtt.rtt ?? 0) }) });
    const pong = expectBody(reply, "pong");
    const at = this.now();
    if (this.rtt.sample(pong.clientTimeMs, at, Number(pong.serverTimeMs))) {
      this.emit("rtt", { rtt: this.rtt.rtt!, last: this.rtt.lastRtt! });
    }
    return at - pong.clientTimeMs;
  }

  /**
   * request sends one ClientMessage body with a fresh request id and
   * resolves with the reply; a server Error rejects with a TickroomError
   * whose serverCode is the ErrorCode.
   */
  request(body: Body): Promise<ServerMessage> {
    return this.requestWith(body, undefined);
  }

  private requestWith(body: Body, join: JoinContext | undefined, timeoutMs?: number): Promise<ServerMessage> {
    if (this.connection.state !== "open") {
      return Promise.reject(new TickroomError("not-connected", `tickroom: cannot send ${body.case ?? "request"} while ${this.connection.state}`));
    }
    const { id, reply } = this.tracker.start(body.case ?? "request", timeoutMs);
    if (id === 0) return reply;
    const bytes = toBinary(ClientMessageSchema, create(ClientMessageSchema, { requestId: id, body }));
    const max = this.welcomeMsg?.maxMessageBytes ?? 0;
    if (max > 0 && bytes.length > max) {
      this.tracker.fail(id, new TickroomError("protocol", `tickroom: ${body.case} is ${bytes.length} bytes, over the server's ${max}`));
      return reply;
    }
    if (join) this.joins.set(id, join);
    if (!this.connection.send(bytes)) {
      this.joins.delete(id);
      this.tracker.fail(id, new TickroomError("not-connected", `tickroom: cannot send ${body.case}: socket not open`));
    }
    return reply.finally(() => this.joins.delete(id));
  }

  private async join(body: Body, ctx: JoinContext): Promise<Room> {
    let reply = await this.requestWith(body, ctx);
    // A cluster node answers with a Redirect when the room lives on
    // another node: move there, then ask again with the reservation. A
    // node never redirects a request that carries its own reservation.
    for (let hops = 0; reply.body.case === "redirect"; hops++) {
      if (hops === MAX_REDIRECTS) throw new TickroomError("protocol", `tickroom: more than ${MAX_REDIRECTS} redirects`);
      const r = reply.body.value;
      await this.follow(r);
      body = withReservation(body, r.reservation);
      reply = await this.requestWith(body, ctx);
    }
    const joined = expectBody(reply, "joined");
    const room = this.roomMap.get(joined.roomId);
    if (!room) throw new TickroomError("protocol", `tickroom: joined room ${joined.roomId} is unknown`);
    return room;
  }

  // follow moves the connection to the node a Redirect names and resolves
  // on its Welcome (after which the rooms already joined resume there).
  // A client closed before it follows (after the Redirect came, or by a
  // redirect listener) moves nowhere: the join rejects with "closed".
  private follow(r: Redirect): Promise<void> {
    const bad = redirectError(r.url, this.connection.currentUrl);
    if (bad) return Promise.reject(bad);
    const closedError = () => new TickroomError("closed", `tickroom: client closed before following a redirect to ${r.url}`, { url: r.url });
    if (this.connection.state === "closed") return Promise.reject(closedError());
    this.emit("redirect", r);
    return new Promise<void>((resolve, reject) => {
      const offWelcome = this.on("welcome", () => {
        offWelcome();
        offClose();
        resolve();
      });
      const offClose = this.on("close", (c) => {
        if (c.willReconnect) return;
        offWelcome();
        offClose();
        reject(new TickroomError("closed", `tickroom: connection closed while following a redirect to ${r.url}`, { close: c.info, url: r.url }));
      });
      this.connection.moveTo(r.url);
      if (this.connection.state === "closed") {
        offWelcome();
        offClose();
        reject(closedError());
      }
    });
  }

  // moveTo moves the connection to the node a Redirect names, unless the
  // redirect is refused: then it returns the error and stays.
  private moveTo(r: Redirect): TickroomError | undefined {
    const bad = redirectError(r.url, this.connection.currentUrl);
    if (bad) return bad;
    this.emit("redirect", r);
    this.connection.moveTo(r.url);
    return undefined;
  }

  private host(): RoomHost {
    return {
      checkInput: (roomId, data) => this.checkInput(roomId, data),
      sendInput: (roomId, seq, data) => this.sendInput(roomId, seq, data),
      leaveRoom: async (roomId) => {
        if (this.connection.state !== "open" && this.roomMap.has(roomId)) {
          // The socket is down and the client reconnects, which would
          // resume the seat: the room ends now, and its seat is given up
          // instead, its LeaveRoom sent on the next Welcome that lists it.
          const left = create(LeftSchema, { roomId, reason: LeaveReason.REQUESTED, message: "left while reconnecting; the seat is given up once connected" });
          this.roomLeft(left);
          this.resumer.leaveLater(roomId);
          return left;
        }
        const room = this.roomMap.get(roomId);
        if (room && this.resumer.dropRetry(room)) {
          // Its resume, refused (RATE_LIMITED with -multi-sockets: the seat
          // is another open socket's of the user), waits to be asked again;
          // a LeaveRoom on this socket would be refused NOT_IN_ROOM. The
          // room ends now, and its seat is given up as one dropped is.
          const left = create(LeftSchema, { roomId, reason: LeaveReason.REQUESTED, message: "left while its resume waited; the seat is given up" });
          this.roomLeft(left);
          this.resumer.giveUp(roomId);
          return left;
        }
        const left = expectBody(await this.request({ case: "leaveRoom", value: create(LeaveRoomSchema, { roomId }) }), "left");
        this.roomLeft(left);
        return left;
      },
      sendChat: (roomId, text) => this.sendChat({ roomId }, text),
    };
  }

  private checkInput(roomId: string, data: Uint8Array): void {
    // The server refuses an input's data past the protocol's limit
    // (INPUT_TOO_LARGE), unanswered since an input has no request id: it
    // would vanish and never be acknowledged.
    if (data.length > MAX_INPUT_BYTES) {
      throw new TickroomError("protocol", `tickroom: input data is ${data.length} bytes, over the protocol's ${MAX_INPUT_BYTES}`);
    }
    const max = this.welcomeMsg?.maxMessageBytes ?? 0;
    if (max === 0) return;
    // The largest encoding: a 5-byte seq varint and every length prefix.
    const size = inputEnvelopeSize(roomId, data.length);
    if (size > max) {
      // Sending it would get the socket closed with 1009; refuse it here.
      throw new TickroomError("protocol", `tickroom: input is ${size} bytes encoded, over the server's ${max}`);
    }
  }

  private sendInput(roomId: string, seq: number, data: Uint8Array): boolean {
    if (this.connection.state !== "open") return false;
    const msg = create(ClientMessageSchema, { requestId: 0, body: { case: "input", value: create(InputSchema, { roomId, seq, data }) } });
    return this.connection.send(toBinary(ClientMessageSchema, msg));
  }

  private onMessage(bytes: Uint8Array): void {
    this.lastHeard = this.now();
    let msg: ServerMessage;
    try {
      msg = fromBinary(ServerMessageSchema, bytes);
    } catch (err) {
      this.emit("error", new TickroomError("protocol", `tickroom: undecodable server message: ${String(err)}`));
      return;
    }
    const b = msg.body;
    if (msg.requestId !== 0 && b.case === "joined") {
      // Build the room before anything else runs: its first State may be the
      // very next message.
      this.roomJoined(b.value, this.joins.get(msg.requestId));
    }
    if (msg.requestId !== 0) {
      if (b.case === "error") {
        if (this.tracker.fail(msg.requestId, serverError(b.value))) return;
      } else if (this.tracker.resolve(msg.requestId, msg)) {
        return;
      } else if (b.case === "joined") {
        // The join's promise rejected already (it timed out): the server
        // seated the user all the same. The app decides what to do with it.
        const room = this.roomMap.get(b.value.roomId);
        if (room) this.emit("lateJoin", { room });
        return;
      }
    }
    this.dispatch(msg);
  }

  private dispatch(msg: ServerMessage): void {
    const b = msg.body;
    switch (b.case) {
      case "state": {
        // A keyframe names its room and its ref; deltas name the ref alone.
        let room: Room | undefined;
        if (b.value.roomId) {
          room = this.roomMap.get(b.value.roomId);
          if (room) this.roomRefs.set(b.value.roomRef, room);
        } else {
          room = this.roomRefs.get(b.value.roomRef);
          if (room && this.roomMap.get(room.id) !== room) {
            this.roomRefs.delete(b.value.roomRef); // a room left since
            room = undefined;
          }
        }
        room?.handleState(b.value);
        break;
      }
      case "roomEvent":
        this.roomMap.get(b.value.roomId)?.handleEvent(b.value);
        break;
      case "gameMessage":
        this.roomMap.get(b.value.roomId)?.handleMessage(b.value);
        break;
      case "inputDropped":
        this.roomMap.get(b.value.roomId)?.handleInputDropped(b.value);
        break;
      case "welcome":
        this.onWelcome(b.value);
        break;
      case "left":
        this.roomLeft(b.value);
        break;
      case "chat":
        if (b.value.roomId) this.roomMap.get(b.value.roomId)?.handleChat(b.value);
        this.emit("chat", b.value);
        break;
      case "chatHistory":
        if (b.value.roomId) this.roomMap.get(b.value.roomId)?.handleChatHistory(b.value);
        this.emit("chatHistory", b.value);
        break;
      case "roomListUpdate":
        this.watches.get(b.value.watchId)?.handleUpdate(b.value);
        break;
      case "directMessage":
        this.emit("direct", b.value);
        break;
      case "signal":
        this.emit("signal", b.value);
        break;
      case "presence":
        this.emit("presence", b.value);
        break;
      case "friendRequest":
        this.emit("friendRequest", b.value);
        break;
      case "friendAnswer":
        this.emit("friendAnswer", b.value);
        break;
      case "notification":
        this.emit("notification", b.value);
        break;
      case "redirect":
        // Unprompted (request id 0): a room this connection plays in
        // moved to another node, whose node drains. Move there; its
        // Welcome resumes every room, on that node.
        if (msg.requestId === 0 && this.roomMap.has(b.value.roomId)) {
          const bad = this.moveTo(b.value);
          if (bad) this.emit("error", bad);
        }
        break;
      case "error":
        this.emit("error", serverError(b.value));
        break;
      default:
        // Late replies (after a timeout) and bodies this client does not know.
        break;
    }
  }

  private roomJoined(joined: Joined, ctx: JoinContext | undefined): void {
    const existing = this.roomMap.get(joined.roomId);
    if (ctx?.resume && existing === ctx.resume) {
      existing.handleResumed(joined, (seq, data) => this.sendInput(existing.id, seq, data));
      return;
    }
    if (!this.resumer.joinedMakesRoom(joined.roomId, ctx)) return;
    const room = new Room(this.host(), joined, ctx?.password ?? "", this.opts.room, this.opts.onListenerError);
    room.on("desync", () => this.scheduleDesyncRecovery());
    this.roomMap.set(room.id, room);
  }

  private roomLeft(left: Left): void {
    this.resumer.left(left.roomId);
    const room = this.roomMap.get(left.roomId);
    if (!room) return;
    this.roomMap.delete(left.roomId);
    this.forgetRefs(room);
    room.handleLeft(left);
  }

  // forgetRefs drops the refs of a room the client no longer has, so that
  // the Room (its entities, the app's listeners) is not kept until the
  // server numbers another room with its ref. A late delta of that ref
  // finds no room and is dropped, as it would be once the room is left.
  private forgetRefs(room: Room): void {
    for (const [ref, r] of this.roomRefs) {
      if (r === room) this.roomRefs.delete(ref);
    }
  }

  private onWelcome(w: Welcome): void {
    if (w.protocolVersion > PROTOCOL_VERSION) {
      // A newer server that did not refuse the version this client
      // declared (one that checks none) speaks what this client would
      // misread: end for good, with the code a server that checks sends.
      this.connection.close(4507, `server speaks protocol version ${w.protocolVersion}, this client ${PROTOCOL_VERSION}; reload`);
      return;
    }
    this.welcomeMsg = w;
    this.startHeartbeat(w);
    this.resumer.welcome(w);
    this.emit("welcome", w);
    this.resumer.resumeAll();
    // The server forgot the watches with the old connection. (A watch
    // whose first subscription was in flight failed with the socket and
    // is not in the map.)
    for (const watch of this.watches.values()) this.resubscribe(watch, 0);
  }

  // resubscribe asks the server to follow watch again on this connection.
  // A refusal that passes (UNAVAILABLE: a cluster's Redis out of reach; a
  // timeout; too busy, the server's requests in flight or this client's own
  // maxRequestsInFlight, which the Welcome's resumes may fill) is asked
  // again after a wait that doubles from 1 s to 30 s, while the watch is
  // open and the connection lasts. RATE_LIMITED (the connection's own
  // WatchRooms, or the room lists of its address, which every player
  // behind a NAT reconnecting at once shares) is asked again too, as long,
  // never before the server's retry_after_ms, even past 30 s.
  private resubscribe(watch: RoomWatch, attempt: number): void {
    this.subscribe(watch).catch((err: unknown) => {
      const error = err instanceof TickroomError ? err : new TickroomError("protocol", String(err));
      if (error.code === "connection-lost" || error.code === "not-connected") return;
      watch.handleError(error);
      if (error.serverCode === ErrorCode.RATE_LIMITED) {
        // The players of one address were refused together: each waits
        // past the server's hint by a random part of it, and longer each
        // time, so that they do not all come back at the moment the server
        // named; waits at the 30 s cap are spread too, and a hint past the
        // cap is waited whole (rateLimitedRetryMs bounds it).
        this.resumer.retryLater(
          rateLimitedRetryMs(error.retryAfterMs, attempt),
          () => {
            if (this.watches.get(watch.id) === watch) this.resubscribe(watch, attempt + 1);
          },
          Infinity,
        );
        return;
      }
      const passes =
        error.serverCode === ErrorCode.UNAVAILABLE ||
        error.serverCode === ErrorCode.TOO_MANY_REQUESTS_IN_FLIGHT ||
        error.code === "too-many-requests" ||
        error.code === "timeout";
      if (!passes) return;
      this.resumer.retryLater(1000 * 2 ** Math.min(attempt, 16), () => {
        if (this.watches.get(watch.id) === watch) this.resubscribe(watch, attempt + 1);
      });
    });
  }

  // scheduleDesyncRecovery reconnects, so that every room resumes from its
  // last applied tick, when a room still waits for a keyframe after the
  // grace period; a keyframe arriving meanwhile cancels nothing but makes the
  // check find nothing to do.
  private scheduleDesyncRecovery(): void {
    const wait = this.opts.desyncRecoveryMs || 3000;
    if (wait < 0 || this.desyncTimer !== undefined) return;
    this.desyncTimer = setTimeout(() => {
      this.desyncTimer = undefined;
      if (this.connection.state !== "open") return;
      const stuck = [...this.roomMap.values()].some((r) => r.live && !r.resuming && r.store.needsKeyframe);
      if (stuck) this.dropSocket(1000, "state desync; resuming");
    }, wait);
  }

  // dropSocket drops a socket the client gave up on itself (a silent
  // server, a room waiting in vain for a keyframe) and opens a new one at
  // once; with reconnect off, which leaves reconnecting to the app, the
  // connection ends instead, as after a drop.
  private dropSocket(code: number, reason: string): void {
    if (this.opts.reconnect === false) this.connection.close(code, reason);
    else this.connection.reconnectNow(code, reason);
  }

  private onClose(c: CloseDetails): void {
    this.resumer.socketClosed();
    this.stopHeartbeat();
    if (this.desyncTimer !== undefined && !c.willReconnect) {
      clearTimeout(this.desyncTimer);
      this.desyncTimer = undefined;
    }
    this.tracker.failAll(new TickroomError("connection-lost", `tickroom: connection closed (${c.code} ${c.info.name})`, { close: c.info }));
    this.joins.clear();
    if (c.willReconnect) {
      for (const room of this.roomMap.values()) room.markResuming();
    } else {
      this.roomRefs.clear();
      for (const room of [...this.roomMap.values()]) {
        this.roomMap.delete(room.id);
        room.handleLeft(create(LeftSchema, { roomId: room.id, reason: LeaveReason.UNSPECIFIED, message: `connection closed: ${c.info.description}` }));
      }
    }
    this.emit("close", c);
  }

  private startHeartbeat(w: Welcome): void {
    this.stopHeartbeat();
    // A timer delay past 2^31 - 1 ms runs at once (1 ms), in browsers and
    // Node alike: a server's longer interval (its field is a uint32) would
    // ping every millisecond.
    const interval = Math.min(this.opts.heartbeatIntervalMs || w.heartbeatIntervalMs || 10_000, 0x7fff_ffff);
    const timeout = this.opts.heartbeatTimeoutMs || interval * 3;
    this.lastHeard = this.now();
    this.probeSentAt = 0;
    this.heartbeat = setInterval(() => {
      if (this.connection.state !== "open") return;
      // Silence alone is not enough: a browser runs a background tab's
      // timers late (once a minute in Chrome), so this run may be the
      // first since long before the silence began, on a healthy socket.
      // Drop it only when a ping sent since has also gone unanswered for
      // the timeout less one interval, as it would have on time.
      const now = this.now();
      const probing = this.probeSentAt > this.lastHeard;
      if (now - this.lastHeard >= timeout && probing && now - this.probeSentAt >= timeout - interval) {
        this.dropSocket(4003, "heartbeat timeout");
        return;
      }
      if (!probing) this.probeSentAt = now;
      this.ping().catch(() => {
        // A lost pong shows up as silence, which the check above handles.
      });
    }, interval);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }
}
