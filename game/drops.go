package game

import "github.com/tickroom/tickroom/protocol/tickroomv1"

// maxDropRuns bounds the runs of dropped seqs one InputDropped lists: the
// newest are kept.
const maxDropRuns = 8

// dropReason says why a numbered input was dropped before the inbox.
type dropReason uint8

const (
	dropRate  dropReason = iota + 1 // over the seat's input rate
	dropInbox                       // the room's inbox (or the seat's share of it) full
)

// code is the reason on the wire: the code an Error reply to the input
// carries.
func (d dropReason) code() tickroomv1.ErrorCode {
	if d == dropRate {
		return tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED
	}
	return tickroomv1.ErrorCode_ERROR_CODE_INPUT_DROPPED
}

// dropNote is what a seat is told at the next tick of the numbered
// inputs dropped for one reason since the last: one InputDropped. Its
// runs are first and last seq of each run of consecutive seqs, the newest
// maxDropRuns.
type dropNote struct {
	seat   uint32
	reason dropReason
	n      uint8 // runs held
	count  uint32
	runs   [2 * maxDropRuns]uint32
}

// inputDrops holds a room's drop notes between two ticks, under Room.mu.
// A room makes it at the first numbered input it drops and lets it go at
// a tick that finds it empty, so a room that drops nothing carries its
// pointer alone and its inputs pay one comparison.
type inputDrops struct {
	notes []dropNote // at most one per seat and reason
}

// noteDrop records that the numbered input seq of seat was dropped for
// why, for the InputDropped the next tick sends; an input with seq 0 is
// not told of. The first note since the last tick rouses a sleeping room,
// to tell it. Called with r.mu held.
func (r *Room) noteDrop(seat, seq uint32, why dropReason) {
	if seq == 0 {
		return
	}
	if r.drops == nil {
		r.drops = &inputDrops{}
	}
	d := r.drops
	for i := range d.notes {
		if n := &d.notes[i]; n.seat == seat && n.reason == why {
			n.add(seq)
			return
		}
	}
	if len(d.notes) == 0 {
		r.rouse()
	}
	d.notes = append(d.notes, dropNote{seat: seat, reason: why})
	d.notes[len(d.notes)-1].add(seq)
}

// forgetDrops drops the notes of seat: a resume moved it to another
// connection, which numbers its inputs afresh and must not be told of the
// old one's, or the seat was freed, and its next player must not be told
// of its last one's. Called with r.mu held.
func (r *Room) forgetDrops(seat uint32) {
	if r.drops == nil {
		return
	}
	notes := r.drops.notes[:0]
	for _, n := range r.drops.notes {
		if n.seat != seat {
			notes = append(notes, n)
		}
	}
	r.drops.notes = notes
}

// add counts seq and lists it: at the end of the newest run when it
// follows it, as a new run otherwise (the oldest run let go past
// maxDropRuns), not again when the newest run holds it already (a resend
// dropped again).
func (n *dropNote) add(seq uint32) {
	n.count++
	if n.n > 0 {
		first, last := &n.runs[2*n.n-2], &n.runs[2*n.n-1]
		if seq == nextSeq(*last) {
			*last = seq
			return
		}
		if !seqAfter(*first, seq) && !seqAfter(seq, *last) {
			return
		}
	}
	if n.n == maxDropRuns {
		copy(n.runs[:], n.runs[2:])
		n.n--
	}
	n.runs[2*n.n], n.runs[2*n.n+1] = seq, seq
	n.n++
}

// nextSeq is the seq after s: numbering wraps from 2^32-1 to 1.
func nextSeq(s uint32) uint32 {
	if s == ^uint32(0) {
		return 1
	}
	return s + 1
}

// takeDrops moves the room's drop notes to the tick's scratch (w.drops),
// and lets the room's buffer go when there were none. Called by the tick
// with r.mu held. A handoff does not carry the notes made after the
// saving tick took them: like the inputs queued then, their seqs are
// above the saved last seqs, and the client sends them again after the
// resume.
func (r *Room) takeDrops() {
	w := &r.w
	w.drops = w.drops[:0]
	if d := r.drops; d != nil {
		if len(d.notes) == 0 {
			r.drops = nil
			return
		}
		w.drops = append(w.drops, d.notes...)
		d.notes = d.notes[:0]
	}
}

// sendDrops sends each seat the InputDropped of its notes the tick took
// (takeDrops), as a reliable frame ahead of the tick's State: that State's
// ack may pass over the dropped seqs. A member no longer connected is told
// nothing.
func (r *Room) sendDrops() {
	w := &r.w
	for i := range w.drops {
		d := &w.drops[i]
		m := w.member(d.seat)
		if m == nil || m.client == nil {
			continue
		}
		w.dropped = tickroomv1.InputDropped{RoomId: r.id, Reason: d.reason.code(), Runs: d.runs[:2*d.n], Count: d.count}
		f, err := encodeEnvelope(fieldServerInputDropped, &w.dropped)
		w.dropped = tickroomv1.InputDropped{}
		if err != nil {
			r.log.Error("encode input dropped", "err", err)
			continue
		}
		w.recips = append(w.recips[:0], m.client)
		r.deliver(f, true)
	}
	w.drops = w.drops[:0]
}
