/**
 * pb re-exports the protobuf-es types and schemas generated from the
 * protocol's .proto files (package tickroom.v1), for games and tools that
 * build or read messages themselves with create, toBinary and fromBinary
 * from \@bufbuild/protobuf.
 */
export * from "./gen/tickroom/v1/codes_pb.js";
export * from "./gen/tickroom/v1/envelope_pb.js";
export * from "./gen/tickroom/v1/lobby_pb.js";
export * from "./gen/tickroom/v1/records_pb.js";
export * from "./gen/tickroom/v1/room_pb.js";
export * from "./gen/tickroom/v1/session_pb.js";
export * from "./gen/tickroom/v1/social_pb.js";
export * from "./gen/tickroom/v1/state_pb.js";

// The protobuf-es runtime functions, so a page that loads the bundled
// library without a bundler can still build and read messages.
export { create, fromBinary, toBinary } from "@bufbuild/protobuf";
