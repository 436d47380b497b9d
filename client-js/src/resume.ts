// The seats a Client takes back after a reconnect, and those it gives up.
//
// On each Welcome the client resumes every room it holds a Room of (a
// JoinRoom with the last tick seen). A resume the server was too busy to
// take, or refused for the user's joins (RATE_LIMITED: with -multi-sockets
// a resume that moves the seat from another open socket of the user is
// charged as a join), is asked again, on that socket only; one that fails
// otherwise, or stays refused, or has no answer while the server could
// hold the seat, drops the Room (resumeFailed). A seat the client drops without the server
// saying it is gone is given up: its LeaveRoom goes at once, again on this
// socket when refused for the rate, and again on each later Welcome that
// lists the seat, until its Left, until the server could no longer hold it,
// or until the app joins that room again (the seat is the app's then).
//
// The Client drives a Resumer through a few calls:
//   - welcome(w), then, once the app heard of the Welcome, resumeAll();
//   - socketClosed() on every close, and stop() when the app closes the
//     client: a retry (retryLater, which the client's room list watches
//     use too) belongs to the socket it was set on, and a Welcome or a
//     close ends it;
//   - wanted(roomId) when the app joins a room, left(roomId) on every Left,
//     leaveLater(roomId) when the app leaves a room while the socket is
//     down, dropRetry(room) then giveUp(roomId) when it leaves one whose
//     resume waits to be asked again, and joinedMakesRoom for a Joined
//     that does not resume its Room;
//   - maxDelayMs, the Connection's cap on its reconnect backoff.
// It reaches the client only through a ResumeHost.
import { create } from "@bufbuild/protobuf";
import { TickroomError } from "./errors.js";
import { ErrorCode } from "./gen/tickroom/v1/codes_pb.js";
import type { ServerMessage } from "./gen/tickroom/v1/envelope_pb.js";
import { JoinRoomSchema, LeaveReason, LeaveRoomSchema, LeftSchema, type JoinRoom, type Left, type Redirect } from "./gen/tickroom/v1/room_pb.js";
import type { Welcome } from "./gen/tickroom/v1/session_pb.js";
import type { Room } from "./room.js";
import type { Body } from "./wire.js";

/**
 * RESUME_TRIES is how many reconnect attempts, at least, a Client makes
 * within the server's resume window while it holds seats.
 */
const RESUME_TRIES = 8;

/**
 * RESUME_BUSY_TRIES is how many times a resume refused
 * TOO_MANY_REQUESTS_IN_FLIGHT or RATE_LIMITED is asked again (after
 * 100 ms, doubling up to 30 s: about 50 s in all, a resume window's
 * worth; or after the server's retry_after_ms when longer) before the
 * seat is given up.
 */
const RESUME_BUSY_TRIES = 9;

/** ResumeHost is what a Resumer needs from the client that owns it. */
export interface ResumeHost {
  /** rooms is the client's own map of its Rooms by id; a resume that fails takes its Room out. */
  readonly rooms: Map<string, Room>;
  /** now is the client's clock, in ms. */
  now(): number;
  /** isOpen tells whether the socket is open. */
  isOpen(): boolean;
  /** request sends one request on the socket and resolves with its reply. */
  request(body: Body): Promise<ServerMessage>;
  /** requestResume sends room's resume, a JoinRoom whose Joined resumes that Room, and waits timeoutMs for its answer. */
  requestResume(room: Room, value: JoinRoom, timeoutMs: number): Promise<ServerMessage>;
  /** roomLeft ends the client's Room of a Left, when it has one. */
  roomLeft(left: Left): void;
  /** moveTo moves the connection to the node a Redirect names, or returns the error that refuses the redirect. */
  moveTo(r: Redirect): TickroomError | undefined;
  /** resumeFailed tells the app that room lost its seat (the Room has had its Left). */
  resumeFailed(room: Room, error: TickroomError): void;
}

/** Resumer resumes a Client's seats after a reconnect and gives up those it drops. */
export class Resumer {
  private readonly host: ResumeHost;
  /** requestTimeoutMs is how long the client's requests wait for an answer; a resume waits longer. */
  private readonly requestTimeoutMs: number;
  /** windowMs is how long the server holds a seat after a drop: the latest Welcome's resume window, 0 before one. */
  private windowMs = 0;
  // epoch counts Welcomes and closes: a retry timer set under one epoch
  // does nothing under another (the socket it was meant for is gone, or a
  // Welcome asks again itself).
  private epoch = 0;
  private readonly retryTimers = new Set<ReturnType<typeof setTimeout>>();
  // Rooms whose seat this client gave up on its own (see abandon), until
  // when the server could still hold it: their LeaveRoom is sent again on
  // each Welcome that lists the seat, and a late Joined of one makes no
  // Room.
  private readonly abandoned = new Map<string, number>();
  // Rooms whose resume, refused as busy or for the user's joins, waits
  // to be asked again on this socket; the app's leave of one drops it
  // (dropRetry).
  private readonly retrying = new Set<Room>();

  constructor(host: ResumeHost, requestTimeoutMs: number) {
    this.host = host;
    this.requestTimeoutMs = requestTimeoutMs;
  }

  /**
   * maxDelayMs caps the reconnect backoff: while seats are held for it,
   * reconnect at least RESUME_TRIES times within the server's resume
   * window, since a backoff grown to 30 s would let the window close on a
   * player whose network came back after 12. 0 means no cap.
   */
  maxDelayMs(): number {
    return this.host.rooms.size > 0 && this.windowMs > 0 ? Math.max(500, this.windowMs / RESUME_TRIES) : 0;
  }

  /**
   * welcome takes a new Welcome, the client's latest: it starts the epoch
   * of its socket, and leaves again the seats given up that w lists.
   */
  welcome(w: Welcome): void {
    this.windowMs = w.resumeWindowMs;
    this.epoch++;
    this.retrying.clear();
    // A seat given up whose leave was lost with a socket is left again;
    // one the server no longer holds is forgotten.
    const now = this.host.now();
    for (const [roomId, until] of [...this.abandoned]) {
      // A room the app joined again since is its, not one to leave; one
      // past the time the server could hold it is gone. A Welcome that
      // does not list the seat may come from another node of a cluster.
      if (this.host.rooms.has(roomId) || now > until) this.abandoned.delete(roomId);
      else if (w.seats.some((h) => h.roomId === roomId)) this.abandon(roomId);
    }
  }

  /** resumeAll resumes every live Room, after a Welcome. */
  resumeAll(): void {
    for (const room of [...this.host.rooms.values()]) {
      if (room.live) this.resume(room);
    }
  }

  /**
   * socketClosed ends the epoch of the socket that closed, and with it the
   * retries set on that socket: none would do anything past it, and one
   * set for a long hint would hold a Node process open for as long after
   * the client closed for good.
   */
  socketClosed(): void {
    this.epoch++;
    this.stop();
  }

  /** stop cancels every retry: the socket they were set on closed, or the client did for good. */
  stop(): void {
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.retrying.clear();
  }

  /**
   * dropRetry says the app leaves room: when its resume waits to be asked
   * again, it is asked no more, and dropRetry returns true. The seat is
   * then not this socket's on the server (with -multi-sockets, it may be
   * another open socket's of the user), whose LeaveRoom would be refused
   * NOT_IN_ROOM: the client ends the Room itself and gives the seat up
   * (giveUp).
   */
  dropRetry(room: Room): boolean {
    return this.retrying.delete(room);
  }

  /**
   * giveUp gives up the seat of roomId, a room the app left whose Room the
   * client has ended: its LeaveRoom goes now and again on each Welcome
   * that lists the seat, as for a seat given up (see abandon).
   */
  giveUp(roomId: string): void {
    this.abandon(roomId);
  }

  /** wanted says the app joins roomId: a seat given up there is no longer to leave. */
  wanted(roomId: string): void {
    this.abandoned.delete(roomId); // the app wants it again: leave it no more
  }

  /**
   * leaveLater gives up the seat of roomId, a room the app left while the
   * socket was down: no resume, and its LeaveRoom goes on each Welcome that
   * lists the seat, as for a seat given up (see abandon).
   */
  leaveLater(roomId: string): void {
    if (!this.abandoned.has(roomId)) this.abandoned.set(roomId, this.host.now() + this.windowMs + 60_000);
  }

  /** left says the server no longer holds this user's seat in roomId. */
  left(roomId: string): void {
    this.abandoned.delete(roomId);
  }

  /**
   * joinedMakesRoom says whether a Joined that resumes no Room of the client
   * makes a new one. The Joined of a resume whose Room was dropped
   * meanwhile does not (the app was told it is lost, so the seat is given
   * up rather than kept unseen), nor a late one of a seat given up; the
   * app's own join of a room does, and its seat is the app's now. join is
   * the client's join request the Joined answers, if one still waits (its
   * resume is the Room it was to resume).
   */
  joinedMakesRoom(roomId: string, join: { resume?: Room } | undefined): boolean {
    if (join?.resume) {
      if (!this.abandoned.has(roomId)) this.abandon(roomId);
      return false;
    }
    if (!join && this.abandoned.has(roomId)) return false; // a resume given up: its leave is on the way
    this.abandoned.delete(roomId); // the app's own join of it: the seat is the app's now
    return true;
  }

  /**
   * retryLater runs fn after ms (at most maxMs, 30 s unless given) unless
   * the epoch has moved on or the client was closed meanwhile. The
   * client's watches ask again through it too.
   */
  retryLater(ms: number, fn: () => void, maxMs = 30_000): void {
    const epoch = this.epoch;
    const t = setTimeout(() => {
      this.retryTimers.delete(t);
      if (this.epoch === epoch && this.host.isOpen()) fn();
    }, Math.min(ms, maxMs));
    this.retryTimers.add(t);
  }

  // abandon gives up the seat of roomId on the server, for a room this
  // client dropped without the server saying the seat was gone: its
  // LeaveRoom goes now and again on each Welcome that lists the seat.
  private abandon(roomId: string): void {
    if (!this.abandoned.has(roomId)) this.abandoned.set(roomId, this.host.now() + this.windowMs + 60_000);
    this.host.request({ case: "leaveRoom", value: create(LeaveRoomSchema, { roomId }) }).then(
      (reply) => {
        if (reply.body.case !== "left") return;
        this.abandoned.delete(roomId);
        // A Room the app made again meanwhile (a quick match into that
        // room) lost its seat with this leave: say so.
        this.host.roomLeft(reply.body.value);
      },
      (err: unknown) => {
        // Lost with its socket: the next Welcome that lists the seat sends
        // it again. Refused for the rate: again on this socket.
        const e = err instanceof TickroomError ? err : undefined;
        if (e?.serverCode === ErrorCode.RATE_LIMITED || e?.serverCode === ErrorCode.TOO_MANY_REQUESTS_IN_FLIGHT) {
          this.retryLater(Math.max(e.retryAfterMs, 500), () => {
            if (this.abandoned.has(roomId) && !this.host.rooms.has(roomId)) this.abandon(roomId);
          });
        }
      },
    );
  }

  private resume(room: Room, attempt = 0): void {
    const rooms = this.host.rooms;
    const value = create(JoinRoomSchema, room.resumeRequest());
    const failed = (err: unknown) => {
      const error = err instanceof TickroomError ? err : new TickroomError("protocol", String(err));
      // A dropped socket retries on the next Welcome; anything else loses the seat.
      if (error.code === "connection-lost" || error.code === "not-connected") return;
      if (rooms.get(room.id) !== room) return;
      // Too busy: the server's requests in flight, or this client's own;
      // or past the user's joins, which a resume that moves the seat from
      // another socket of the user, still open, takes from (-multi-sockets).
      const busy =
        error.serverCode === ErrorCode.TOO_MANY_REQUESTS_IN_FLIGHT ||
        error.serverCode === ErrorCode.RATE_LIMITED ||
        error.code === "too-many-requests";
      if (busy && attempt < RESUME_BUSY_TRIES) {
        // The Welcome's resumes and watches went out at once, past the
        // server's requests in flight (a node of a cluster takes two at
        // a time), or the user's joins were spent: the seat is there
        // still. Ask again shortly, or after retry_after_ms, on this
        // socket only.
        this.retrying.add(room);
        this.retryLater(Math.max(error.retryAfterMs, 100 * 2 ** attempt), () => {
          if (this.retrying.delete(room) && rooms.get(room.id) === room) this.resume(room, attempt + 1);
        });
        return;
      }
      // The seat is given up: the server did not say it is gone (no answer
      // while it could hold the seat, or too busy still), so leave it there
      // too, and the Joined that may still come makes no Room.
      if (error.code === "timeout" || busy) this.abandon(room.id);
      rooms.delete(room.id);
      const reason = error.serverCode === ErrorCode.RESUME_UNAVAILABLE ? LeaveReason.SEAT_EXPIRED : LeaveReason.UNSPECIFIED;
      room.handleLeft(create(LeftSchema, { roomId: room.id, reason, message: error.message }));
      this.host.resumeFailed(room, error);
    };
    // A resume waits for its answer as long as the server holds the seat:
    // a room slow to tick answers late, and a Joined after a timeout would
    // resume the seat from this room's tick with no Room to take it.
    const wait = Math.max(this.requestTimeoutMs, this.windowMs);
    this.host.requestResume(room, value, wait).then((reply) => {
      // The room lives on another node of the cluster: move there; its
      // Welcome resumes every room again, on that node.
      if (reply.body.case === "redirect" && rooms.get(room.id) === room) {
        const bad = this.host.moveTo(reply.body.value);
        if (bad) return failed(bad);
      }
    }, failed);
  }
}
