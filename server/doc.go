// Package server is tickroom's network side: the gnet v2 engine, the
// WebSocket handshake and framing, connections and their write path.
//
// It never knows a game's rules.
package server
