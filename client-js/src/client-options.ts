import type { BackoffOptions } from "./backoff.js";
import type { CloseDetails, ConnectionState, WebSocketConstructor } from "./connection.js";
import type { TickroomError } from "./errors.js";
import type { Redirect } from "./gen/tickroom/v1/room_pb.js";
import type { Notification, Welcome } from "./gen/tickroom/v1/session_pb.js";
import type { Chat, ChatHistory, DirectMessage, FriendAnswer, FriendRequest, Presence, Signal } from "./gen/tickroom/v1/social_pb.js";
import type { Room, RoomOptions } from "./room.js";

// What a Client is configured with and what it emits; the Client itself is
// in client.ts.

/** ClientOptions configures {@link connect}. */
export interface ClientOptions {
  /**
   * url is the WebSocket endpoint, such as "wss://host/v1/ws" (webSocketUrl
   * reads it from the server). A malformed URL makes connect reject at once
   * with a "misconfigured" TickroomError.
   */
  url: string;
  /** token is the session token from login. */
  token: string;
  /**
   * WebSocket is the socket class. Absent means globalThis.WebSocket (every
   * browser, Node 22 and later). In Node 20, pass the `ws` package's class.
   */
  WebSocket?: WebSocketConstructor;
  /**
   * httpUrl is the server's public HTTP origin (where login is), asked why
   * a WebSocket upgrade failed (POST /v1/session), since browsers hide the
   * refused upgrade's status; see refusal.ts. Absent means the page's origin
   * in a browser, none elsewhere (the `ws` package reports the status
   * itself). Without either, a refused upgrade is retried like a network
   * error.
   */
  httpUrl?: string;
  /** fetch is the fetch function for the session check. Absent means globalThis.fetch. */
  fetch?: typeof fetch;
  /** protocols are the subprotocols offered. Absent means ["tickroom.v1"]. */
  protocols?: string[];
  /** backoff shapes reconnect delays; absent means 250 ms doubling up to 30 s, full jitter. */
  backoff?: BackoffOptions;
  /**
   * reconnect turns automatic reconnection off when false: a socket that
   * drops, and one the client drops itself (a heartbeat timeout, a desync
   * recovery), ends the connection (a close event with willReconnect
   * false) and every room with it, and the app calls open() to start over.
   * A cluster's redirect is the exception: the client still follows one
   * (a join, create, quick match or resume answered with a Redirect, a
   * room moved off a draining node) by opening a socket to the node it
   * names at once, a close event with willReconnect true, as
   * connection.reconnectNow() does. With reconnect off, one room's refused
   * delta ends the whole connection after desyncRecoveryMs; a negative
   * desyncRecoveryMs avoids it (the room waits for a keyframe, and the app
   * may call connection.reconnectNow() on its desync event to resume every
   * room). Absent means on.
   */
  reconnect?: boolean;
  /** maxReconnectAttempts gives up after that many failed attempts in a row. Zero or absent means never. */
  maxReconnectAttempts?: number;
  /** slowDelayMs is the extra pause after a rate-limited or overloaded close. Zero or absent means 5000 ms. */
  slowDelayMs?: number;
  /** connectTimeoutMs drops a socket that has not opened, or not sent its Welcome, in that time. Zero or absent means 10 000 ms. */
  connectTimeoutMs?: number;
  /** requestTimeoutMs rejects a request with no reply in that time. Zero or absent means 10 000 ms. */
  requestTimeoutMs?: number;
  /** maxRequestsInFlight bounds requests awaiting replies. Zero or absent means 64. */
  maxRequestsInFlight?: number;
  /** heartbeatIntervalMs is how often to ping. Zero or absent means the server's Welcome value, else 10 000 ms. */
  heartbeatIntervalMs?: number;
  /**
   * heartbeatTimeoutMs drops and reconnects a socket silent for that long
   * while a ping of the client's has gone unanswered for that long less
   * one interval (so a background tab, whose timers the browser runs
   * late, pings before it judges). The heartbeat looks once an interval,
   * so a silence is noticed up to one interval after that long: with the
   * server's 10 s interval, 30 to 40 s after the last message. In a tab
   * whose timers the browser runs late, the run that finds the silence
   * pings and the run after it drops the socket: up to two of those runs
   * (2 minutes under Chrome's once-a-minute throttling). Zero or absent
   * means three heartbeat intervals.
   */
  heartbeatTimeoutMs?: number;
  /** room configures every room joined. */
  room?: RoomOptions;
  /**
   * desyncRecoveryMs is how long a room may wait for a keyframe after a
   * refused delta before the client reconnects and resumes it from its last
   * tick (the protocol has no other way to ask for a keyframe; with
   * reconnect off, the connection ends instead, every room with it). Zero or
   * absent means 3000 ms; a negative value turns recovery off.
   */
  desyncRecoveryMs?: number;
  /** now is the clock for RTT samples, in ms. Absent means performance.now (or Date.now). */
  now?: () => number;
  /**
   * onListenerError receives errors thrown by event listeners: the
   * client's, its rooms', its connection's, its room watches' and its
   * voice calls'. Absent means rethrow on a fresh task.
   */
  onListenerError?: (err: unknown) => void;
}

/** ClientEvents are the events a {@link Client} emits. */
export interface ClientEvents {
  /** welcome follows every successful (re)connection. */
  welcome: Welcome;
  /** state reports the connection's state changes. */
  state: { state: ConnectionState; previous: ConnectionState };
  /** close reports each closed socket with its typed close code and whether a reconnect follows. */
  close: CloseDetails;
  /** chat is a chat line in a room or a lobby channel joined. */
  chat: Chat;
  /** chatHistory carries recent lines of a room or channel. */
  chatHistory: ChatHistory;
  /** direct is a direct message to this user. */
  direct: DirectMessage;
  /** signal is a relayed WebRTC signaling message (see voice.ts). */
  signal: Signal;
  /** presence is a friend's status change. */
  presence: Presence;
  /** friendRequest is a user asking this one for friendship; answer with answerFriend. */
  friendRequest: FriendRequest;
  /** friendAnswer is the answer to this user's friend request. */
  friendAnswer: FriendAnswer;
  /** notification is an operator's message. */
  notification: Notification;
  /** rtt follows each pong with the smoothed and the last round-trip time in ms. */
  rtt: { rtt: number; last: number };
  /** error reports an error with no request to reject: an unsolicited server Error, an undecodable message. */
  error: TickroomError;
  /**
   * lateJoin hands over a room whose Joined came after its request had
   * rejected (a join, create or quick match that timed out; a resume that
   * times out reconnects instead): the server seated this user anyway, and
   * the room is in client.rooms. Show it, or room.leave() to give the seat
   * up at once; ignored, the seat stays this user's while the connection
   * lasts.
   */
  lateJoin: { room: Room };
  /** resumeFailed reports a room whose seat could not be resumed after a reconnect; the room was left. */
  resumeFailed: { room: Room; error: TickroomError };
  /**
   * redirect reports that the server sent this connection to another node
   * of its cluster (the room lives there); the client follows it by itself.
   */
  redirect: Redirect;
}
