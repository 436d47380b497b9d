package spectate

import (
	"context"
	"net/http"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// stream writes one sink's frames to one response.
type stream struct {
	f      *Feeds
	w      http.ResponseWriter
	rc     *http.ResponseController
	sink   *sink
	format Format
	schema game.Schema
	buf    []byte
	batch  batch
	store  statesync.Store // the room's state, for the JSON format
	// base is the tick a JSON stream resumes from, until the room's state
	// at it (a keyframe the client already has) arrives and is applied
	// to store without being written. 0: none expected.
	base uint64
	// lost is set when a state could not be written: the client misses a
	// state the room counts as sent, and the stream ends (flushBatch).
	lost bool
	// revoked, for a stream a session token opened, ends it when the
	// token is revoked. Nil: none did.
	revoked *revocation
}

// run writes events until the room, the client or the server ends the
// stream, and returns why.
func (st *stream) run(ctx context.Context) string {
	h := st.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer this response
	// Any page may embed a feed (an overlay on another origin): the
	// request carries no cookies, and a private room's pass is in the URL
	// its member chose to share.
	h.Set("Access-Control-Allow-Origin", "*")
	st.w.WriteHeader(http.StatusOK)
	if !st.write([]byte("retry: 2000\n\n")) {
		return "write failed"
	}
	minGap := time.Second / time.Duration(st.f.cfg.MaxRate)
	keep := time.NewTicker(st.f.cfg.KeepAlive)
	defer keep.Stop()
	// Nil, which never ends the stream, without a token.
	var revoked chan struct{}
	var expired <-chan time.Time
	if st.revoked != nil {
		revoked = st.revoked.done
		t := time.NewTimer(time.Until(st.revoked.expires))
		defer t.Stop()
		expired = t.C
	}
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return "client gone"
		case <-st.f.closing:
			st.write([]byte("event: end\ndata: {\"reason\":\"server_shutdown\"}\n\n"))
			return "server shutdown"
		case <-revoked:
			return st.endToken(st.revoked.reason)
		case <-expired:
			return st.endToken(tokenExpired)
		case <-keep.C:
			if reason, ended := st.tokenEnded(); ended {
				return st.endToken(reason)
			}
			if !st.write([]byte(": keep-alive\n\n")) {
				return "write failed"
			}
			continue
		case <-st.sink.ready:
		}
		// Pace the writes: the state that piles up meanwhile is merged by
		// the room into one delta (the sink stays congested).
		if wait := minGap - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return "client gone"
			case <-st.f.closing:
				t.Stop()
				continue // the select above writes the end event
			case <-revoked:
				t.Stop()
				continue // as for closing
			case <-expired:
				t.Stop()
				return st.endToken(tokenExpired)
			case <-t.C:
			}
		}
		// A select picks at random among what is ready: a revocation
		// or the expiry that came while the room's data waited goes
		// first, so that the token is sent nothing more of the room.
		if reason, ended := st.tokenEnded(); ended {
			return st.endToken(reason)
		}
		last = time.Now()
		if reason, done := st.flushBatch(); done {
			return reason
		}
	}
}

// flushBatch writes what the sink holds; done reports the end of the
// stream and why.
func (st *stream) flushBatch() (string, bool) {
	b := &st.batch
	st.sink.take(b)
	defer b.release()
	st.buf = st.buf[:0]
	if b.base != nil {
		st.buf = st.appendFrame(st.buf, b.base.Payload())
	}
	for _, fr := range b.frames {
		st.buf = st.appendFrame(st.buf, fr.Payload())
	}
	if b.overrun {
		return "overrun", true
	}
	if b.removed {
		reason := "left"
		if b.reason == game.RemovedRoomClosed {
			reason = "room_closed"
		}
		st.buf = append(st.buf, "event: end\ndata: {\"reason\":\""...)
		st.buf = append(st.buf, reason...)
		st.buf = append(st.buf, "\"}\n\n"...)
		st.write(st.buf)
		return reason, true
	}
	if st.lost {
		// The room counts the state as sent and goes on with deltas from
		// it, which neither this stream's store (JSON) nor its client
		// (protobuf) can apply. The room has no keyframe to give on
		// request, so the stream ends with its client's last event id
		// cleared: the EventSource reconnects (after the retry above)
		// without Last-Event-ID and gets a keyframe.
		st.buf = append(st.buf, lostState...)
		st.write(st.buf)
		st.f.lost.Add(1)
		return "state lost", true
	}
	if len(st.buf) > 0 && !st.write(st.buf) {
		return "write failed", true
	}
	return "", false
}

// lostState ends a stream that could not write a state: an event "lost"
// with an empty id, which sets the client's last event id to none (SSE:
// an "id" field with no value), so that its reconnect asks for no resume.
// The event has data, though EventSource sets the id on an event without
// any: other SSE clients set it only on an event they dispatch. A page
// that listens for no "lost" event is not told of it.
const lostState = "event: lost\ndata: {\"reason\":\"state_lost\"}\nid:\n\n"

// appendFrame decodes one room frame and appends its event, if the feed
// carries it. A state it cannot use, a resume base included, sets st.lost.
func (st *stream) appendFrame(b, payload []byte) []byte {
	msg := &tickroomv1.ServerMessage{}
	if err := msg.UnmarshalVT(payload); err != nil {
		st.f.cfg.Logger.Debug("spectator feed: undecodable frame", "err", err)
		st.lost = st.lost || isState(payload)
		return b
	}
	sm, state := msg.Body.(*tickroomv1.ServerMessage_State)
	if state && st.base != 0 {
		base := st.base
		st.base = 0
		if s := sm.State; s.Keyframe && s.Tick == base {
			if _, err := st.store.Apply(true, s.Tick, 0, s.Patch); err != nil {
				st.f.cfg.Logger.Debug("spectator feed: resume base", "err", err)
				st.lost = true
			}
			return b
		}
		// Any other state first: the tick was gone, this is a keyframe.
	}
	out, _, err := appendEvent(b, msg, st.format, st.schema, &st.store)
	if err != nil {
		st.f.cfg.Logger.Debug("spectator feed: encode", "err", err)
		st.lost = st.lost || state
		return b
	}
	return out
}

// write sends p and flushes it within the write timeout.
func (st *stream) write(p []byte) bool {
	_ = st.rc.SetWriteDeadline(time.Now().Add(st.f.cfg.WriteTimeout))
	if _, err := st.w.Write(p); err != nil {
		return false
	}
	return st.rc.Flush() == nil
}
