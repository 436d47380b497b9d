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

// MemoryRegistry is the in-process Registry.
type MemoryRegistry struct {
	mu    sync.Mutex
	users map[string][]*Session
}

var _ Registry = (*MemoryRegistry)(nil)

// NewMemoryRegistry returns an empty registry.
func NewMemoryRegistry() *MemoryRegistry {
	return &MemoryRegistry{users: make(map[string][]*Session)}
}

// Add registers s; with exclusive, it replaces the user's other sessions.
func (r *MemoryRegistry) Add(s *Session, exclusive bool) []*Session {
	uid := s.UserID()
	r.mu.Lock()
	defer r.mu.Unlock()
	var replaced []*Session
	if exclusive {
		replaced = r.users[uid]
		r.users[uid] = nil
	}
	r.users[uid] = append(r.users[uid], s)
	return replaced
}

// Remove unregisters s.
func (r *MemoryRegistry) Remove(s *Session) {
	uid := s.UserID()
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.users[uid]
	for i, x := range list {
		if x == s {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.users, uid)
	} else {
		r.users[uid] = list
	}
}

// Sessions returns userID's sessions.
func (r *MemoryRegistry) Sessions(userID string) []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Session(nil), r.users[userID]...)
}

// All returns every session.
func (r *MemoryRegistry) All() []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Session
	for _, ss := range r.users {
		out = append(out, ss...)
	}
	return out
}
