package game

import (
	"crypto/subtle"
	"slices"
)

// ObserveRequest asks to watch a room without a seat.
//
// An observer gets what a spectator gets (state and room events, no game
// messages) but is not a member: it holds no seat, the game never hears of
// it (no Accept, no Notice, not in Context.Players), its arrival and
// departure send no room event, and it does not keep an empty room alive.
// It is how a server feeds a room to a transport that is not a player's
// connection (server/spectate's Server-Sent Events).
type ObserveRequest struct {
	// Client receives the room's frames. Required.
	Client Client
	// Password must match the room's password, if it has one.
	Password string
	// SkipPassword admits the observer to a room with a password without
	// one: the caller vouches for it (server/spectate does for a watch
	// pass, which only a member, who got in past the password, is given).
	// Zero value means Password is checked.
	SkipPassword bool
	// ResumeTick is the last tick the observer's client saw: when the room
	// still holds it, the first state is a delta from it. A tick the room
	// no longer holds, or has not run, gets a keyframe. Zero value means
	// none: a keyframe.
	ResumeTick uint64
	// ResumeBase asks, when the delta from ResumeTick is sent, for the
	// room's state at ResumeTick first, as a keyframe in a reliable frame
	// (so it arrives ahead of the delta), for an observer that keeps no
	// state of its own across connections and must still send its client
	// only what changed. Zero value means no base: the observer applies
	// the delta to state it kept. Games with per-member views (Viewer)
	// always start an observer with a keyframe.
	ResumeBase bool
}

// Observe adds an observer to the room. It returns at once: ErrNoClient
// without a Client, ErrFinished when the room has ended, ErrWrongPassword,
// ErrRoomFull when the room takes no spectators (MaxSpectators 0) or already
// has Config.MaxObservers observers, ErrControlFull when its control queue
// is full; or nil when the observer was queued. cb (may be nil) then runs
// on the tick worker with nil, or ErrFinished when the room ended first,
// before the observer's first frame. Safe from any goroutine.
func (r *Room) Observe(req ObserveRequest, cb func(error)) error {
	if req.Client == nil {
		return ErrNoClient
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Phase() >= PhaseFinished || r.closeReq {
		return ErrFinished
	}
	if r.password != "" && !req.SkipPassword && subtle.ConstantTimeCompare([]byte(r.password), []byte(req.Password)) != 1 {
		return ErrWrongPassword
	}
	if r.maxSpectators == 0 || r.observers >= r.rt.cfg.MaxObservers {
		return ErrRoomFull
	}
	if len(r.ctl) >= r.maxControl() {
		return ErrControlFull
	}
	r.observers++
	r.ctl = append(r.ctl, command{kind: cmdObserve, client: req.Client, obs: req, ocb: cb})
	r.rouse()
	return nil
}

// Unobserve removes the observer whose Client is c at the next tick; no
// Removal is reported for it. Removing an observer that is not (or no
// longer) there does nothing. It is never refused for a full control
// queue, which the number of observers bounds. Safe from any goroutine.
func (r *Room) Unobserve(c Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Phase() == PhaseDisposed {
		return
	}
	r.ctl = append(r.ctl, command{kind: cmdUnobserve, client: c})
	r.rouse()
}

// applyObserve runs a queued Observe or Unobserve on the tick worker.
func (r *Room) applyObserve(c *command) {
	w := &r.w
	if c.kind == cmdUnobserve {
		n := len(w.observers)
		w.observers = slices.DeleteFunc(w.observers, func(m *member) bool { return m.client == c.client })
		if gone := n - len(w.observers); gone > 0 {
			r.mu.Lock()
			r.observers -= gone
			r.mu.Unlock()
		}
		if len(w.observers) == 0 {
			w.observerView = nil
		}
		return
	}
	if r.Phase() >= PhaseFinished {
		r.mu.Lock()
		r.observers--
		r.mu.Unlock()
		if c.ocb != nil {
			c.ocb(ErrFinished)
		}
		return
	}
	m := &member{
		Player:   observerPlayer,
		client:   c.client,
		lastSent: c.obs.ResumeTick,
		wantBase: c.obs.ResumeBase,
	}
	if m.lastSent >= w.tickNo || w.viewer != nil {
		// A tick the room has not sent yet: start over. A Viewer game's
		// observer starts with a keyframe of the observers' view.
		m.lastSent, m.wantBase = 0, false
	}
	w.observers = append(w.observers, m)
	if c.ocb != nil {
		c.ocb(nil)
	}
}

// sendBases sends each observer that asked for it the state of the tick it
// resumes from, as a reliable keyframe, ahead of this tick's delta from
// that tick. An observer whose tick is gone gets the usual keyframe.
func (r *Room) sendBases() {
	w := &r.w
	for _, m := range w.observers {
		if !m.wantBase || m.client == nil || m.skip {
			continue
		}
		m.wantBase = false
		base := w.shared.at(m.lastSent)
		if base == nil {
			continue
		}
		w.d.keyframe(base)
		w.recips = append(w.recips[:0], m.client)
		r.deliver(encodeState(r.id, r.ref, nil, base, &w.d, &w.patch), true)
	}
}

// removeObservers reports every observer removed with reason, as the room
// is disposed.
func (r *Room) removeObservers(reason RemoveReason) {
	w := &r.w
	for _, m := range w.observers {
		r.removed(m, m.client, reason)
	}
	w.observers, w.observerView = nil, nil
}
