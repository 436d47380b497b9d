// Package protocol holds tickroom's wire contract: the protobuf sources of
// package tickroom.v1 (under tickroom/), the generated Go code (tickroomv1),
// and the close and error codes that the server and client-js share.
//
// It imports nothing else of tickroom's.
package protocol
