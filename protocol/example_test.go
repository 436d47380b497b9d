package protocol_test

import (
	"fmt"

	"github.com/tickroom/tickroom/protocol"
	v1 "github.com/tickroom/tickroom/protocol/tickroomv1"
)

// A reply is encoded after the transport's headroom, so the WebSocket header
// can go directly in front of it and header and payload leave in one write.
func ExampleServerMessage_encode() {
	reply := &v1.ServerMessage{RequestId: 3, Body: &v1.ServerMessage_Pong{Pong: &v1.Pong{ClientTimeMs: 812.5, ServerTimeMs: 1_700_000_000_000}}}
	const headroom = 14
	buf := make([]byte, headroom+reply.SizeVT())
	n, err := reply.MarshalToSizedBufferVT(buf[headroom:])
	fmt.Println(n == len(buf)-headroom, err)
	// Output: true <nil>
}

// A client picks its reconnect policy from the close code alone.
func ExampleResumable() {
	for _, code := range []protocol.CloseCode{protocol.CloseSlowClient, protocol.CloseDuplicateLogin, protocol.CloseAbnormal} {
		fmt.Println(code, protocol.Resumable(code))
	}
	// Output:
	// CLOSE_CODE_SLOW_CLIENT true
	// CLOSE_CODE_DUPLICATE_LOGIN false
	// CLOSE_CODE_1006 true
}
