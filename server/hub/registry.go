package hub

import "sync"

// Registry tracks who is online and on which connection: the live sessions
// of each user. The hub asks it whom to replace on a new login, whom to
// close on a kick or a shutdown, and where a user's messages go. The
// default, NewMemoryRegistry, knows this process's sessions; a cluster
// registry records the node of each user beside it. Its methods are safe
// from any goroutine and never call back into the hub.
type Registry interface {
	// Add registers s as a session of its user. With exclusive, the user's
	// other sessions are unregistered and returned.
	Add(s *Session, exclusive bool) (replaced []*Session)
	// Remove unregisters s; it does nothing when s is not registered.
	Remove(s *Session)
	// Sessions returns userID's sessions, oldest first.
	Sessions(userID string) []*Session
	// All returns every registered session.
	All() []*Session
}

// MemoryRegistry is the in-process Registry. A user's sessions are a list
// linked through Session.regNext, oldest first, its head in users: one map
// slot of a pointer a user rather than of a slice and its array (~40 B a
// player less; BenchmarkSeatedMemory).
type MemoryRegistry struct {
	mu    sync.Mutex
	users map[string]*Session
}

var _ Registry = (*MemoryRegistry)(nil)

// NewMemoryRegistry returns an empty registry.
func NewMemoryRegistry() *MemoryRegistry {
	return &MemoryRegistry{users: make(map[string]*Session)}
}

// Add registers s; with exclusive, it replaces the user's other sessions.
// A session registered already stays where it is (without exclusive).
func (r *MemoryRegistry) Add(s *Session, exclusive bool) []*Session {
	uid := s.UserID()
	r.mu.Lock()
	defer r.mu.Unlock()
	var replaced []*Session
	head := r.users[uid]
	if exclusive {
		for x := head; x != nil; {
			replaced = append(replaced, x)
			x, x.regNext = x.regNext, nil
		}
		head = nil
	}
	if head == nil {
		s.regNext = nil
		r.users[uid] = s
		return replaced
	}
	last := head
	for ; ; last = last.regNext {
		if last == s {
			return nil // registered already
		}
		if last.regNext == nil {
			break
		}
	}
	s.regNext = nil
	last.regNext = s
	return replaced
}

// Remove unregisters s.
func (r *MemoryRegistry) Remove(s *Session) {
	uid := s.UserID()
	r.mu.Lock()
	defer r.mu.Unlock()
	head := r.users[uid]
	if head == s {
		if s.regNext == nil {
			delete(r.users, uid)
		} else {
			r.users[uid] = s.regNext
		}
		s.regNext = nil
		return
	}
	for x := head; x != nil; x = x.regNext {
		if x.regNext == s {
			x.regNext, s.regNext = s.regNext, nil
			return
		}
	}
}

// Sessions returns userID's sessions.
func (r *MemoryRegistry) Sessions(userID string) []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Session
	for x := r.users[userID]; x != nil; x = x.regNext {
		out = append(out, x)
	}
	return out
}

// All returns every session.
func (r *MemoryRegistry) All() []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Session, 0, len(r.users))
	for _, head := range r.users {
		for x := head; x != nil; x = x.regNext {
			out = append(out, x)
		}
	}
	return out
}
