import { BoundedQueue, type BoundedQueueOptions } from "./bounded-queue.js";
import { Emitter } from "./emitter.js";
import type { Chat, ChatHistory } from "./gen/tickroom/v1/social_pb.js";
import { create } from "@bufbuild/protobuf";
import type { ErrorCode } from "./gen/tickroom/v1/codes_pb.js";
import { PlayerSchema, type InputDropped, type Joined, type Left, type Player } from "./gen/tickroom/v1/room_pb.js";
import { RoomEventKind, type GameMessage, type RoomEvent, type State } from "./gen/tickroom/v1/state_pb.js";
import { InputPredictor, MAX_SEQ, seqAfter, type PendingInput } from "./prediction.js";
import { StateStore, type ApplyRejection, type ApplyResult } from "./state-store.js";

/** RoomEvents are the events a {@link Room} emits. */
export interface RoomEvents {
  /** state follows every applied keyframe or delta; the room's entities are already updated. */
  state: { state: State; result: Extract<ApplyResult, { ok: true }> };
  /**
   * desync reports a refused delta: the room waits for a keyframe, which the
   * server sends to a client that fell behind, or on the next resume.
   */
  desync: { reason: ApplyRejection; tick: bigint | undefined };
  /** reconcile follows each state, for a player, and an inputDropped that took inputs from those pending: the last input applied and those still pending. */
  reconcile: { acked: number; pending: readonly PendingInput<unknown>[] };
  /**
   * inputDropped reports inputs of this player that the room dropped before
   * applying them, at its next tick and ahead of that tick's state: reason
   * is ErrorCode.RATE_LIMITED (sent faster than the seat's input rate) or
   * ErrorCode.INPUT_DROPPED (the room's inbox was full); seqs are their
   * sequence numbers, oldest first: those of the runs the server lists (its
   * newest 8), 4,096 at most, the newest; count is how many the room
   * dropped for that reason since its previous tick. The predictor no longer holds
   * them as pending (a reconcile event comes first when it did) and they are
   * not sent again after a resume.
   */
  inputDropped: { reason: ErrorCode; seqs: number[]; count: number };
  /** event is a reliable notice about members or the room's phase. */
  event: RoomEvent;
  /** message is a game's own reliable message. */
  message: GameMessage;
  /** chat is a chat line posted in the room. */
  chat: Chat;
  /** chatHistory carries the room's recent lines, sent after joining. */
  chatHistory: ChatHistory;
  /** resumed reports that the seat was resumed after a reconnect. */
  resumed: Joined;
  /** left reports that the user no longer has a seat here; the room object is finished. */
  left: Left;
}

/** RoomHost is what a Room needs from the client that owns it. */
export interface RoomHost {
  /** checkInput throws a TickroomError when an input of that size would be over the server's message limit or the protocol's bound on input data. */
  checkInput(roomId: string, data: Uint8Array): void;
  /** sendInput writes one Input now; it returns false when it cannot (socket down). */
  sendInput(roomId: string, seq: number, data: Uint8Array): boolean;
  /** leaveRoom asks the server to leave the room. */
  leaveRoom(roomId: string): Promise<Left>;
  /** sendChat posts a line to the room. */
  sendChat(roomId: string, text: string): Promise<void>;
}

/** RoomOptions configures the rooms a client joins. */
export interface RoomOptions {
  /**
   * inputBuffer bounds the inputs kept for the next resume: those sent while
   * reconnecting, and those sent on a socket that then dropped before the
   * server acknowledged them. Absent means 64 inputs or 64 KiB.
   */
  inputBuffer?: Omit<BoundedQueueOptions<unknown>, "sizeOf">;
  /** maxPendingInputs bounds inputs kept for prediction replay. Zero or absent means 256. */
  maxPendingInputs?: number;
}

/** latest are the room's events about its newest state, which are never held back (see Room.early). */
const latest = new Set<keyof RoomEvents>(["state", "desync", "reconcile"]);

/** MAX_DROPPED_SEQS bounds the seqs one inputDropped event lists: the newest are kept. */
const MAX_DROPPED_SEQS = 4096;

/**
 * droppedSeqs expands an InputDropped's runs (first and last seq of each,
 * numbering wrapping from MAX_SEQ to 1) into their seqs, oldest first, the
 * newest MAX_DROPPED_SEQS at most; a run that is not one (a 0, or a last
 * before its first) is skipped.
 */
function droppedSeqs(runs: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = runs.length - 2; i >= 0 && out.length < MAX_DROPPED_SEQS; i -= 2) {
    const first = runs[i]!;
    const last = runs[i + 1]!;
    if (first === 0 || last === 0 || seqAfter(first, last)) continue;
    for (let s = last; out.length < MAX_DROPPED_SEQS; s = s === 1 ? MAX_SEQ : s - 1) {
      out.push(s);
      if (s === first) break;
    }
  }
  return out.reverse();
}

/** NO_TICK is the resume tick of a room with no state yet: the largest uint64, a tick no room reaches. */
const NO_TICK = 0xffff_ffff_ffff_ffffn;

interface QueuedInput {
  seq: number;
  data: Uint8Array;
}

/**
 * Room is the client's view of one room it joined or spectates: the local
 * entity map kept by applying keyframes and deltas, the players, and
 * sendInput for a seated player. Inputs sent while the connection is down,
 * and those sent on a socket that dropped before the server acknowledged
 * them, are kept (bounded, oldest dropped) and sent once the seat is
 * resumed, except those the resumed seat's Joined says the room applied.
 *
 * Entities are the game's own messages, still encoded: decode them with the
 * game's generated schema, e.g. fromBinary(PieceSchema, room.entities.get(id)).
 */
export class Room extends Emitter<RoomEvents> {
  /** id is the room's id. */
  readonly id: string;
  /** store holds the room's entities, globals and acks. */
  readonly store = new StateStore();
  /** predictor numbers this player's inputs and drives the reconcile event. */
  readonly predictor: InputPredictor<unknown>;
  private readonly host: RoomHost;
  private readonly outbox: BoundedQueue<QueuedInput>;
  // unacked are the inputs written to the current socket that no state has
  // acknowledged yet: a socket whose network is gone takes them until the
  // heartbeat notices, and they go again after the resume.
  private readonly unacked: BoundedQueue<QueuedInput>;
  private joinedMsg: Joined;
  private readonly seats = new Map<number, Player>();
  private readonly held = new Map<number, number>();
  private isLive = true;
  private isResuming = false;
  private password: string;
  // early holds the room events, game messages, chat and leave the room
  // emits in the task that made it, until the code awaiting the join has run
  // and added its listeners; undefined after. States are not held: the store
  // has them, and interpolation stamps them as they come.
  private early: [keyof RoomEvents, unknown][] | undefined = [];

  /**
   * Room's constructor is called by the client when a join succeeds;
   * onListenerError receives errors thrown by the room's listeners (the
   * client's ClientOptions.onListenerError), absent means rethrow on a
   * fresh task.
   */
  constructor(host: RoomHost, joined: Joined, password = "", options: RoomOptions = {}, onListenerError?: (err: unknown) => void) {
    super(onListenerError);
    this.host = host;
    this.id = joined.roomId;
    this.joinedMsg = joined;
    this.password = password;
    this.outbox = new BoundedQueue<QueuedInput>({ ...options.inputBuffer, sizeOf: (q) => q.data.length + 16 });
    this.unacked = new BoundedQueue<QueuedInput>({ ...options.inputBuffer, sizeOf: (q) => q.data.length + 16 });
    this.predictor = new InputPredictor<unknown>({
      maxPending: options.maxPendingInputs ?? 0,
      onReconcile: (acked, pending) => this.emit("reconcile", { acked, pending }),
    });
    // A seat resumed by this client for the first time (a page reload):
    // number inputs above those the room applied, or they look like resends.
    if (joined.resumed) this.predictor.startAfter(joined.lastInputSeq);
    this.setPlayers(joined.players);
    // A socket that delivers several messages in one task (Node's ws) gives
    // the room its first events and a game's message at join in the task of
    // its Joined, before the code awaiting joinRoom can add listeners; in a
    // browser each message is a task of its own. Those of this task wait for
    // the next one.
    queueMicrotask(() => {
      if (this.early?.length === 0) this.early = undefined;
      else setTimeout(() => this.flushEarly(), 0);
    });
  }

  /** emit calls the event's listeners, or keeps it while the room is being made (see the constructor). */
  override emit<K extends keyof RoomEvents>(type: K, payload: RoomEvents[K]): void {
    if (this.early && !latest.has(type)) this.early.push([type, payload]);
    else super.emit(type, payload);
  }

  private flushEarly(): void {
    const early = this.early ?? [];
    this.early = undefined;
    for (const [type, payload] of early) super.emit(type, payload as never);
  }

  /** joined is the server's latest Joined for this room (updated on resume). */
  get joined(): Joined {
    return this.joinedMsg;
  }

  /** game is the name of the game the room runs. */
  get game(): string {
    return this.joinedMsg.game;
  }

  /** seat is this user's seat; meaningless for a spectator. */
  get seat(): number {
    return this.joinedMsg.seat;
  }

  /** spectator is true when this user watches without a seat. */
  get spectator(): boolean {
    return this.joinedMsg.spectator;
  }

  /** tickRate is the room's ticks per second. */
  get tickRate(): number {
    return this.joinedMsg.tickRate;
  }

  /** tick is the tick of the state held, undefined before the first keyframe. */
  get tick(): bigint | undefined {
    return this.store.tick;
  }

  /** entities maps entity id to the game's encoded entity message; read-only. */
  get entities(): ReadonlyMap<bigint, Uint8Array> {
    return this.store.entities;
  }

  /** globals is the game's encoded room-wide message. */
  get globals(): Uint8Array {
    return this.store.globals;
  }

  /**
   * heldUntil is when the dropped player in seat stops being held (server
   * time, Unix ms), from its PLAYER_DROPPED event or, for a drop before this
   * client joined or resumed, from the Joined roster; undefined when the
   * seat is not held, or its drop is younger than a tick of the room.
   */
  heldUntil(seat: number): number | undefined {
    return this.held.get(seat);
  }

  /** players maps seat number to the player in it. */
  get players(): ReadonlyMap<number, Player> {
    return this.seats;
  }

  /** live is false once the user left the room (or was removed); a dead room sends nothing. */
  get live(): boolean {
    return this.isLive;
  }

  /** resuming is true while the seat is being resumed after a reconnect. */
  get resuming(): boolean {
    return this.isResuming;
  }

  /** bufferedInputs is the number of inputs waiting for the connection to come back. */
  get bufferedInputs(): number {
    return this.outbox.length;
  }

  /** droppedInputs counts inputs dropped from the reconnect buffer because it was full. */
  get droppedInputs(): number {
    return this.outbox.dropped;
  }

  /**
   * sendInput sends one input (the game's encoded input message) and returns
   * its sequence number. local is what the reconcile event hands back for
   * replay (absent: data itself). While the connection is down the input
   * waits in a bounded buffer. It throws for a spectator, a room left, an
   * input over the server's message limit (which would get the socket
   * closed), or data over the protocol's 4096 bytes (which the server
   * would drop unanswered), before numbering it.
   */
  sendInput(data: Uint8Array, local?: unknown): number {
    if (!this.isLive) throw new Error(`tickroom: room ${this.id} was left`);
    if (this.spectator) throw new Error(`tickroom: spectators cannot send input to room ${this.id}`);
    this.host.checkInput(this.id, data);
    const { seq } = this.predictor.next(local === undefined ? data : local);
    // Kept as a copy: a game may encode each input into the same buffer.
    if (this.isResuming || !this.host.sendInput(this.id, seq, data)) {
      this.outbox.push({ seq, data: data.slice() });
    } else {
      this.unacked.push({ seq, data: data.slice() });
    }
    return seq;
  }

  /**
   * leave gives up the seat; the left event follows. While the connection
   * is down the room ends at once and the seat is not resumed: the client
   * leaves it on the server once connected.
   */
  async leave(): Promise<void> {
    if (!this.isLive) return;
    await this.host.leaveRoom(this.id);
  }

  /** sendChat posts a chat line to the room's members. */
  sendChat(text: string): Promise<void> {
    return this.host.sendChat(this.id, text);
  }

  /** handleState applies a State from the server; the client calls it. */
  handleState(state: State): void {
    if (!this.isLive) return;
    const r = this.store.apply(state);
    if (!r.ok) {
      if (r.reason !== "stale") this.emit("desync", { reason: r.reason, tick: r.tick });
      return;
    }
    this.emit("state", { state, result: r });
    if (!this.spectator) {
      const ack = this.store.ackFor(this.seat);
      this.predictor.ack(ack ?? this.predictor.lastAcked);
      if (ack !== undefined) this.unacked.shiftWhile((q) => !seqAfter(q.seq, ack));
    }
  }

  /**
   * handleInputDropped takes an InputDropped: the dropped inputs leave the
   * predictor's pending ones and the inputs kept for a resume, and the
   * inputDropped event reports them; the client calls it.
   */
  handleInputDropped(msg: InputDropped): void {
    if (!this.isLive || this.spectator) return;
    const seqs = droppedSeqs(msg.runs);
    if (seqs.length > 0) {
      const gone = new Set(seqs);
      this.predictor.forget(gone);
      this.unacked.removeWhere((q) => gone.has(q.seq));
    }
    this.emit("inputDropped", { reason: msg.reason, seqs, count: msg.count });
  }

  /** handleEvent applies a RoomEvent (player joins, leaves, drops, resumes); the client calls it. */
  handleEvent(ev: RoomEvent): void {
    if (!this.isLive) return;
    if (!ev.spectator) {
      switch (ev.kind) {
        case RoomEventKind.PLAYER_JOINED:
        case RoomEventKind.PLAYER_RESUMED:
        case RoomEventKind.PLAYER_DROPPED: {
          const connected = ev.kind !== RoomEventKind.PLAYER_DROPPED;
          this.seats.set(ev.seat, create(PlayerSchema, { seat: ev.seat, userId: ev.userId, name: ev.name, connected, heldUntilMs: connected ? 0n : ev.heldUntilMs }));
          if (connected || !ev.heldUntilMs) this.held.delete(ev.seat);
          else this.held.set(ev.seat, Number(ev.heldUntilMs));
          break;
        }
        case RoomEventKind.PLAYER_LEFT:
          this.seats.delete(ev.seat);
          this.held.delete(ev.seat);
          break;
        default:
          break;
      }
    }
    this.emit("event", ev);
  }

  /** handleMessage delivers a GameMessage; the client calls it. */
  handleMessage(msg: GameMessage): void {
    if (this.isLive) this.emit("message", msg);
  }

  /** handleChat delivers a room chat line; the client calls it. */
  handleChat(chat: Chat): void {
    if (this.isLive) this.emit("chat", chat);
  }

  /** handleChatHistory delivers the room's recent lines; the client calls it. */
  handleChatHistory(h: ChatHistory): void {
    if (this.isLive) this.emit("chatHistory", h);
  }

  /** resumeRequest returns the JoinRoom fields that resume this seat; the client calls it after a reconnect. */
  resumeRequest(): { roomId: string; password: string; spectate: boolean; resumeTick: bigint } {
    this.isResuming = true;
    // A room whose first keyframe never arrived resumes from NO_TICK, a
    // tick no room reaches, which the server answers with a keyframe
    // (resume_tick 0 would not report a lost seat). Tick 1 would not do:
    // a room whose state has not changed since its first tick takes the
    // client as holding it and sends nothing.
    const tick = this.store.tick ?? 0n;
    return { roomId: this.id, password: this.password, spectate: this.spectator, resumeTick: tick > 0n ? tick : NO_TICK };
  }

  /**
   * handleResumed finishes a resume: it records the new Joined and sends
   * the buffered inputs with send, oldest first, but for those the room
   * applied (Joined.lastInputSeq, or a state's ack); the client calls it.
   * When a send fails (the socket dropped again), that input and the ones
   * after it stay buffered, in order, for the next resume, and new inputs
   * wait behind them. It returns the number of inputs sent.
   */
  handleResumed(joined: Joined, send: (seq: number, data: Uint8Array) => boolean): number {
    this.isResuming = false;
    this.joinedMsg = joined;
    // Another connection of the user held the seat while this socket was
    // down and the room applied its inputs, numbered past this client's:
    // number the next ones above them, as a fresh resume does, or the room
    // drops them as resends.
    if (joined.lastInputSeq !== 0 && seqAfter(joined.lastInputSeq, this.predictor.lastSeq)) this.predictor.startAfter(joined.lastInputSeq);
    this.setPlayers(joined.players);
    this.emit("resumed", joined);
    // Inputs the server already applied need not go again (it would drop
    // them as resends anyway).
    let acked = this.store.ackFor(this.seat) ?? 0;
    if (joined.lastInputSeq !== 0 && seqAfter(joined.lastInputSeq, acked)) acked = joined.lastInputSeq;
    this.keepUnacked(); // none, unless the seat resumed on the socket that took them
    const pending = this.outbox.drain().filter((q) => seqAfter(q.seq, acked));
    for (let i = 0; i < pending.length; i++) {
      const q = pending[i]!;
      if (!send(q.seq, q.data)) {
        for (const rest of pending.slice(i)) this.outbox.push(rest);
        this.isResuming = true;
        return i;
      }
      this.unacked.push(q);
    }
    return pending.length;
  }

  /** handleLeft ends the room: no more state, no more input; the client calls it. */
  handleLeft(left: Left): void {
    if (!this.isLive) return;
    this.isLive = false;
    this.isResuming = false;
    this.outbox.clear();
    this.unacked.clear();
    this.emit("left", left);
  }

  /**
   * markResuming makes new inputs wait in the buffer until the seat is
   * resumed, behind those the dropped socket took without an
   * acknowledgement; the client calls it on a dropped socket.
   */
  markResuming(): void {
    if (!this.isLive) return;
    this.isResuming = true;
    this.keepUnacked();
  }

  // keepUnacked moves the inputs sent and not acknowledged into the
  // buffer, ahead of those waiting there (numbered after them).
  private keepUnacked(): void {
    if (this.unacked.length === 0) return;
    const queued = this.outbox.drain();
    for (const q of this.unacked.drain()) this.outbox.push(q);
    for (const q of queued) this.outbox.push(q);
  }

  private setPlayers(players: Player[]): void {
    this.seats.clear();
    for (const p of players) this.seats.set(p.seat, p);
    for (const seat of [...this.held.keys()]) {
      if (this.seats.get(seat)?.connected !== false) this.held.delete(seat);
    }
    // The roster carries the deadlines of seats dropped before it was made.
    for (const p of players) {
      if (!p.connected && p.heldUntilMs > 0n) this.held.set(p.seat, Number(p.heldUntilMs));
    }
  }
}
