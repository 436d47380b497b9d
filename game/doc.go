// Package game runs tickroom's authoritative rooms: the tick scheduler, the
// room inbox for inputs, the Game interface that a game implements, and the
// entity snapshots and deltas sent to clients.
//
// It knows nothing of sockets: it never imports gnet, gobwas/ws or the server.
package game
