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
// ValidateClientMessage checks every string, bytes, map and repeated field
// of a client message against the maximum its .proto field declares with
// the (tickroom.v1.limit) option; it is generated, like limits.md, by
// cmd/protoc-gen-tickroom-codes. The options are the project's own rather
// than buf's protovalidate: protovalidate's validate.proto is a remote buf
// module that the offline build cannot fetch, and its CEL runtime is a large
// dependency for what are length checks.
//
// It imports nothing else of tickroom's.
package protocol
