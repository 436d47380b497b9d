package server

import "sync"

// Recipients is a pooled list of connections for one fan-out (a room's
// state, a chat line, a direct message), so that building the list on a hot
// path allocates nothing.
type Recipients struct {
	// Conns are the recipients.
	Conns []*Conn
}

var recipientLists = sync.Pool{New: func() any { return &Recipients{Conns: make([]*Conn, 0, 64)} }}

// GetRecipients returns an empty list from the pool. Release it when the
// fan-out is queued.
func GetRecipients() *Recipients { return recipientLists.Get().(*Recipients) }

// Release empties the list, dropping its references, and pools it; the
// list must not be used after.
func (r *Recipients) Release() {
	clear(r.Conns)
	r.Conns = r.Conns[:0]
	recipientLists.Put(r)
}
