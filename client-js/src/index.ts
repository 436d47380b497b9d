/**
 * \@tickroom/client is the browser client of tickroom, the authoritative
 * multiplayer game room server: login, a reconnecting WebSocket connection
 * speaking the tickroom.v1 protobuf protocol, a lobby, rooms that keep a
 * local entity map from keyframes and deltas, and game helpers for client
 * prediction and interpolation.
 *
 * @packageDocumentation
 */
export { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff.js";
export { BoundedQueue, type BoundedQueueOptions } from "./bounded-queue.js";
export {
  CLOSE_CODES,
  RESUMABLE_MAX,
  RESUMABLE_MIN,
  TERMINAL_MAX,
  TERMINAL_MIN,
  closeCodeInfo,
  isTerminal,
  type CloseCodeInfo,
  type CloseKind,
} from "./close-codes.js";
export { Client, type ClientEvents, type ClientOptions } from "./client.js";
export { connect } from "./connect.js";
export type { CreateRoomOptions, ListRoomsFilter, MatchHistoryOptions, ChannelHistoryOptions } from "./request-options.js";
export {
  Connection,
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  type CloseDetails,
  type ConnectionEvents,
  type ConnectionOptions,
  type ConnectionState,
  type WebSocketConstructor,
  type SocketHandler,
  type WebSocketLike,
} from "./connection.js";
export { Emitter, type Listener } from "./emitter.js";
export { login, type DeviceStorage, type LoginOptions, type LoginRequest, type Session } from "./login.js";
export { checkSession, normalizeWebSocketUrl, refusalError, type HandshakeFailure, type SessionCheckOptions } from "./refusal.js";
export { fetchServerConfig, resolveWebSocketUrl, webSocketUrl, type ServerConfig, type ServerConfigOptions } from "./server-config.js";
export { RoomWatch, type RoomWatchEvents, type RoomWatchFilter, type RoomWatchHost } from "./room-watch.js";
export {
  CLIENT_ERROR_MESSAGES,
  CLOSE_MESSAGES,
  ERROR_MESSAGES,
  LEAVE_MESSAGES,
  closeMessage,
  errorMessage,
  leaveMessage,
} from "./messages.js";
export { Room, type RoomEvents, type RoomHost, type RoomOptions } from "./room.js";
export { interpolateRoom, type RoomInterpolation, type RoomInterpolationOptions } from "./room-interpolation.js";
export { TickroomError, type TickroomErrorCode, type TickroomErrorDetails } from "./errors.js";
export {
  InterpolationBuffer,
  lerpAngle,
  lerpFields,
  lerpNumber,
  type InterpolationOptions,
  type InterpolationSample,
  type Lerp,
  type Snapshot,
} from "./interpolation.js";
export { InputPredictor, MAX_SEQ, seqAfter, type InputPredictorOptions, type PendingInput, type ReconcileHook } from "./prediction.js";
export { RequestTracker } from "./requests.js";
export { RttEstimator } from "./rtt.js";
export { StateStore, type ApplyRejection, type ApplyResult } from "./state-store.js";
export { CLIENT_FIELD_LIMITS, type FieldLimit } from "./gen/limits_table.js";
export * as pb from "./pb.js";
export { VoiceCall, answerCall, fetchIceServers, startCall, type VoiceCallEvents, type VoiceCallOptions } from "./voice.js";
export {
  fromAdminState,
  inspectState,
  type AdminRoomState,
  type Decoded,
  type InspectNode,
  type InspectOptions,
  type InspectableState,
  type StateSchema,
  type StateValue,
} from "./inspector.js";
export { InspectorView, type InspectorViewOptions } from "./inspector-view.js";
