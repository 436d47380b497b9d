// Package protocol holds tickroom's wire contract: the protobuf sources of
// package tickroom.v1 (under tickroom/), the generated Go code (tickroomv1),
// and the close and error codes that the server and client-js share.
//
// CloseCode and ErrorCode carry the enums of tickroom/v1/codes.proto with
// names, descriptions and Resumable, the rule a client follows after a
// close; their constants and tables are generated from codes.proto (see
// cmd/protoc-gen-tickroom-codes). README.md describes every flow of the
// protocol.
//
// It imports nothing else of tickroom's.
package protocol
