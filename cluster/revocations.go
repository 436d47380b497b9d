package cluster

import (
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/server/hub"
)

// Bus message kinds of revocations.
const (
	kindRevoke = "revoke" // Body: a hub.Revocation, a kick or a ban
	kindLift   = "lift"   // User: whose revocations are lifted
	// kindSignOut: Body: a hub.Revocation with SignOut (a new password).
	// A kind of its own: a node of a version from before sign-outs drops
	// it (Bus.dispatch), where under kindRevoke it would take it for a
	// kick, close all the user's sessions and store a kick.
	kindSignOut = "signout"
)

// Revocations is the hub's Revocations in a cluster: kicks, bans and
// session revocations are kept by this node's own Revocations (memory, or
// the store) and told to every other node, which records them the same
// way and closes the user's sessions there (hub.Expel; for a sign-out,
// those of the tokens it refuses: hub.CloseSignedOut). A revocation made
// while Redis is down holds on this node and in the store; the other
// nodes read it from the store when they start. Its methods are safe from
// any goroutine; Check answers from memory.
type Revocations struct {
	inner hub.Revocations
	bus   *Bus
	log   *slog.Logger
	hub   atomic.Pointer[hub.Hub]
}

var _ hub.Revocations = (*Revocations)(nil)

// NewRevocations wraps inner (nil means a hub.MemoryRevocations) and
// registers its handlers on bus; call it before bus.Start, and Bind
// before serving.
func NewRevocations(inner hub.Revocations, bus *Bus, log *slog.Logger) *Revocations {
	if inner == nil {
		inner = hub.NewMemoryRevocations()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Revocations{inner: inner, bus: bus, log: log}
	bus.Handle(kindRevoke, r.serveRevoke)
	bus.Handle(kindLift, r.serveLift)
	bus.Handle(kindSignOut, r.serveSignOut)
	return r
}

// Bind sets the hub whose sessions other nodes' revocations close.
func (r *Revocations) Bind(h *hub.Hub) { r.hub.Store(h) }

// revocation is a hub.Revocation on the bus.
type revocation struct {
	UserID       string    `json:"u"`
	Ban          bool      `json:"b,omitempty"`
	SignOut      bool      `json:"so,omitempty"`
	IssuedBefore time.Time `json:"i"`
	Until        time.Time `json:"until"`
	Kept         time.Time `json:"k"`
	Reason       string    `json:"r,omitempty"`
}

// Revoke records v here and tells the other nodes.
func (r *Revocations) Revoke(v hub.Revocation) {
	r.inner.Revoke(v)
	body, _ := json.Marshal(revocation(v))
	kind := kindRevoke
	if v.SignOut {
		kind = kindSignOut
	}
	if err := r.bus.ToAll(&Envelope{Kind: kind, User: v.UserID, Body: body}); err != nil {
		r.log.Error("cluster: a kick or ban could not be told to the other nodes; it holds here and in the store", "user", v.UserID, "err", err)
	}
}

// Check answers from this node's memory.
func (r *Revocations) Check(userID string, issuedAt, now time.Time) (hub.Revocation, bool) {
	return r.inner.Check(userID, issuedAt, now)
}

// CheckSignOut answers from this node's memory.
func (r *Revocations) CheckSignOut(userID string, issuedAt, now time.Time) (hub.Revocation, bool) {
	return r.inner.CheckSignOut(userID, issuedAt, now)
}

// Lift forgets userID's revocations here and on the other nodes.
func (r *Revocations) Lift(userID string) bool {
	ok := r.inner.Lift(userID)
	if err := r.bus.ToAll(&Envelope{Kind: kindLift, User: userID}); err != nil {
		r.log.Error("cluster: an unban could not be told to the other nodes", "user", userID, "err", err)
	}
	return ok
}

func (r *Revocations) serveRevoke(e *Envelope) { r.serve(e, false) }

func (r *Revocations) serveSignOut(e *Envelope) { r.serve(e, true) }

// serve records the revocation e carries, a sign-out when signOut, and
// closes the user's sessions it ends on this node.
func (r *Revocations) serve(e *Envelope, signOut bool) {
	var v revocation
	if err := json.Unmarshal(e.Body, &v); err != nil || v.UserID == "" {
		r.log.Warn("cluster: undecodable revocation dropped", "node", e.Node)
		return
	}
	v.SignOut = v.SignOut || signOut // a "revoke" that says "so" is a sign-out too
	r.inner.Revoke(hub.Revocation(v))
	if h := r.hub.Load(); h != nil {
		// Off the bus's goroutine: closing frees seats in rooms. A
		// sign-out closes only the sessions of the tokens it refuses.
		if v.SignOut {
			go h.CloseSignedOut(v.UserID, v.IssuedBefore, v.Kept)
		} else {
			go h.Expel(v.UserID, v.Ban, v.Reason)
		}
	}
}

func (r *Revocations) serveLift(e *Envelope) { r.inner.Lift(e.User) }
