package hub

import (
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/social"
)

// Session is one authenticated connection of a user. It is the room
// runtime's game.Client for that connection.
type Session struct {
	h    *Hub
	conn *server.Conn
	// The token's claims that outlive the login (a Session is kept to
	// 144 B: BenchmarkSeatedMemory): the user, and when the token expires
	// (Unix ms: a token's exp is in whole seconds, and ns would overflow
	// past 2262 for a long -token-ttl).
	claims  sessionClaims
	expires int64
	expIdx  int32 // index in Hub.expiries, -1 when not scheduled; guarded by expiries.mu
	// issued is when the token was issued, Unix seconds (to 2106), for
	// Hub.SignOut.
	issued uint32
	// regNext is the user's next newer session in a MemoryRegistry;
	// guarded by its mu.
	regNext *Session

	replaced atomic.Bool  // a newer login of the same user took over
	kicked   atomic.Bool  // seats are freed at once, not held
	closed   atomic.Bool  // the connection is gone
	moved    atomic.Bool  // a login on another node replaced it
	lookups  atomic.Int32 // store reads queued or running (lookup.go)
	offLoop  atomic.Int32 // cluster requests in flight (clusterlobby.go)

	mu    sync.Mutex
	rooms []membership // guarded by mu; a change of the user's room count takes Hub.mu too (held.go)

	member *social.Member // set by Accept before any message
}

// membership is a room the session has a seat in, or is joining.
type membership struct {
	room      *game.Room
	id        string
	seat      uint32 // 0 while the join is pending
	spectator bool
	// entering marks a seat the game gave whose Joined is not sent yet
	// (Session.joined): a LeaveRoom waits for it as for a pending join,
	// and is answered after it (entered).
	entering bool
	leaveID  uint32 // request id of a LeaveRoom sent while the join was pending or entering
	leaving  bool   // a LeaveRoom arrived while the join was pending or entering
	rejoin   *rejoin
}

// rejoin is a JoinRoom that came after the LeaveRoom of a join still
// pending (a "rematch" pressed at once): the room is asked for it once
// that join is settled and its seat given up (Session.afterLeave).
type rejoin struct {
	id      uint32  // its request id
	jr      joinReq // what it asks of the room
	leaving bool    // a LeaveRoom of it came meanwhile
	leaveID uint32  // that LeaveRoom's request id
}

// sessionClaims is what a session keeps of its token's auth.Claims.
type sessionClaims struct {
	UserID, Name string
	Guest        bool
}

func newSession(h *Hub, c *server.Conn, claims auth.Claims) *Session {
	return &Session{
		h: h, conn: c, expIdx: -1,
		claims:  sessionClaims{UserID: claims.UserID, Name: claims.Name, Guest: claims.Guest},
		expires: claims.ExpiresAt.UnixMilli(),
		issued:  uint32(min(max(claims.IssuedAt.Unix(), 0), math.MaxUint32)),
	}
}

// ip returns the client's address (server.Conn.ClientIP).
func (s *Session) ip() netip.Addr { return s.conn.ClientIP() }

// UserID returns the session's user id.
func (s *Session) UserID() string { return s.claims.UserID }

// ConnID returns the id of the session's connection, unique in this
// process (Welcome.connection_id).
func (s *Session) ConnID() uint64 { return s.conn.ID() }

// Congested reports that the connection's outbound bytes are over the
// transport's high-water mark. Safe from any goroutine. A Session made
// without a connection (BenchmarkInputDispatch's, seated as itself so
// that its room takes its input) is never congested.
func (s *Session) Congested() bool { return s.conn != nil && s.conn.Congested() }

// startExpiry closes the session with CLOSE_CODE_TOKEN_EXPIRED when its
// token expires (expiry.go).
func (s *Session) startExpiry(now time.Time) {
	s.h.expiries.add(s, time.UnixMilli(s.expires).Sub(now))
}

// close starts closing the connection with a typed code. Safe from any
// goroutine.
func (s *Session) close(code protocol.CloseCode, reason string) {
	if reason == "" {
		reason = code.Description()
	}
	s.conn.Close(server.StatusCode(code), reason)
}

// rateLimited is the refusal of a message over the transport's message
// rate, telling the client when one more message will be allowed.
func (s *Session) rateLimited() error {
	return &protocol.Error{
		Code: protocol.ErrorRateLimited, Message: "message rate limit exceeded",
		RetryAfter: time.Duration(1000/s.h.srv.MessageRate()+1) * time.Millisecond,
	}
}

// handle serves one binary message; overRate is the transport's verdict
// (server.Conn.OverRate): such a message is answered with
// ERROR_CODE_RATE_LIMITED and dropped. The transport itself closes a
// connection that keeps flooding. An Input within its field limits takes
// a fast path; every other message, an Input over a limit included, is
// decoded and validated whole. It runs on the loop.
func (s *Session) handle(p []byte, overRate bool) {
	s.h.stats.MessagesIn.Add(1)
	if in, isInput := parseInput(p); isInput && len(in.roomID) <= maxInputRoomID && len(in.data) <= maxInputData {
		if overRate {
			s.h.stats.RateLimited.Add(1)
			if in.requestID != 0 {
				s.fail(in.requestID, s.rateLimited())
			}
			return
		}
		if err := s.input(in); err != nil {
			s.fail(in.requestID, err)
		}
		return
	}
	m := new(tickroomv1.ClientMessage)
	if err := m.UnmarshalVT(p); err != nil {
		s.h.stats.ProtocolErrors.Add(1)
		s.close(protocol.CloseProtocolError, "undecodable ClientMessage")
		return
	}
	if overRate {
		s.h.stats.RateLimited.Add(1)
		s.fail(m.RequestId, s.rateLimited())
		return
	}
	// Every field's limit (protocol/limits.md), before anything is stored.
	if err := protocol.ValidateClientMessage(m); err != nil {
		// A refused message weighs more against its address's input
		// budget, so a flood of them closes its senders sooner.
		s.conn.Refused(len(p))
		s.fail(m.RequestId, err)
		return
	}
	if err := s.dispatch(m); err != nil {
		s.fail(m.RequestId, err)
	}
}

// dispatch serves a decoded message other than the fast-path Input. A
// request answers success itself and returns its refusal, which handle
// turns into the Error reply.
func (s *Session) dispatch(m *tickroomv1.ClientMessage) error {
	id, so, sm := m.RequestId, s.h.social, s.member
	switch b := m.Body.(type) {
	case *tickroomv1.ClientMessage_Ping:
		s.sendPong(id, b.Ping.ClientTimeMs)
		return nil
	case *tickroomv1.ClientMessage_Input:
		in := b.Input
		return s.input(inputMsg{requestID: id, roomID: []byte(in.RoomId), seq: in.Seq, data: in.Data})
	case *tickroomv1.ClientMessage_ListRooms:
		s.listRooms(id, b.ListRooms)
		return nil
	case *tickroomv1.ClientMessage_WatchRooms:
		return s.watchRooms(id, b.WatchRooms)
	case *tickroomv1.ClientMessage_UnwatchRooms:
		return s.unwatchRooms(id, b.UnwatchRooms)
	case *tickroomv1.ClientMessage_CreateRoom:
		return s.createRoom(id, b.CreateRoom)
	case *tickroomv1.ClientMessage_JoinRoom:
		return s.joinRoom(id, b.JoinRoom)
	case *tickroomv1.ClientMessage_QuickMatch:
		return s.quickMatch(id, b.QuickMatch)
	case *tickroomv1.ClientMessage_LeaveRoom:
		return s.leaveRoom(id, b.LeaveRoom.RoomId)
	case *tickroomv1.ClientMessage_SendChat:
		return so.SendChat(sm, id, b.SendChat)
	case *tickroomv1.ClientMessage_SendDirect:
		return so.SendDirect(sm, id, b.SendDirect)
	case *tickroomv1.ClientMessage_SendSignal:
		return so.SendSignal(sm, id, b.SendSignal)
	case *tickroomv1.ClientMessage_JoinChannel:
		return so.JoinChannel(sm, id, b.JoinChannel.Channel)
	case *tickroomv1.ClientMessage_LeaveChannel:
		return so.LeaveChannel(sm, id, b.LeaveChannel.Channel)
	case *tickroomv1.ClientMessage_BlockUser:
		return so.Block(sm, id, b.BlockUser)
	case *tickroomv1.ClientMessage_AddFriend:
		return so.AddFriend(sm, id, b.AddFriend)
	case *tickroomv1.ClientMessage_QueryPresence:
		return so.QueryPresence(sm, id, b.QueryPresence)
	case *tickroomv1.ClientMessage_AnswerFriend:
		return so.AnswerFriend(sm, id, b.AnswerFriend)
	case *tickroomv1.ClientMessage_GetMatchHistory:
		return s.matchHistory(id, b.GetMatchHistory)
	case *tickroomv1.ClientMessage_GetLeaderboard:
		return s.leaderboard(id, b.GetLeaderboard)
	case *tickroomv1.ClientMessage_GetChannelHistory:
		return s.channelHistory(id, b.GetChannelHistory)
	case *tickroomv1.ClientMessage_GetWatchPass:
		return s.watchPass(id, b.GetWatchPass)
	}
	s.h.stats.Unsupported.Add(1)
	return protocol.NewError(protocol.ErrorUnsupported, "message kind not supported by this server")
}

// find returns the membership in roomID, comparing without allocating.
// The caller holds s.mu.
func (s *Session) find(roomID []byte) *membership {
	for i := range s.rooms {
		if s.rooms[i].id == string(roomID) {
			return &s.rooms[i]
		}
	}
	return nil
}

// lock takes Hub.mu and then Session.mu, as a change of the session's
// memberships needs (the user's room count changes with them).
func (s *Session) lock() {
	s.h.mu.Lock()
	s.mu.Lock()
}

func (s *Session) unlock() {
	s.mu.Unlock()
	s.h.mu.Unlock()
}

// reserve adds a pending membership; it fails when the session is already
// in the room, or when the user is in as many rooms as it may be (through
// any of its connections, or by seats held for a resume) and this is not
// one of them, or when the connection has closed (gone took the
// memberships it holds or gives up: a join asked after that, off the
// connection's loop, would hold a seat nobody resumes).
func (s *Session) reserve(r *game.Room, spectator bool) error {
	s.lock()
	defer s.unlock()
	if s.closed.Load() {
		return errSessionClosed
	}
	if s.find([]byte(r.ID())) != nil {
		return errInRoom
	}
	if !s.h.mayJoinLocked(s.claims.UserID, r.ID()) {
		return errRoomsPerUser
	}
	s.rooms = append(s.rooms, membership{room: r, id: r.ID(), spectator: spectator})
	s.h.refRoomLocked(s.claims.UserID, r.ID())
	return nil
}

// confirm records the seat of a pending membership. It returns the
// membership as confirmed, and false when the seat must be given up: the
// session closed or was replaced meanwhile (the pending membership stays
// until the caller has held or given up the seat, and then unreserves
// it, so the user's room count never dips between the two), or a
// LeaveRoom arrived while the join was pending (the membership is then
// removed), whether or not the session closed since: the user asked to
// be out of the room, and the seat is given up rather than held.
func (s *Session) confirm(roomID string, seat uint32, spectator bool) (membership, bool) {
	s.lock()
	defer s.unlock()
	m := s.find([]byte(roomID))
	if m == nil {
		return membership{}, false
	}
	if m.leaving {
		m.seat, m.spectator = seat, spectator
		return s.settledLocked(m), false
	}
	if s.closed.Load() || s.replaced.Load() {
		return membership{}, false
	}
	m.seat, m.spectator, m.entering = seat, spectator, true
	return *m, true
}

// entered ends the entering of the membership of roomID that confirm
// kept, once its Joined went out. A LeaveRoom that came meanwhile waited
// for it (pendingLeave): the membership is then settled as a pending
// join's that was left (settledLocked) and returned with left set, for
// the caller to give up its seat and answer the leave. Closed meanwhile,
// it is returned with hold set, still listed (gone leaves it to this
// call), for the caller to hold its seat and then unreserve it, as
// joined does for a seat confirmed after the close. The common case, a
// seat neither left nor closed meanwhile, changes the membership alone
// and takes the session's lock only; the others change the user's rooms
// (settledLocked) or leave that to the caller, and take Hub.mu too
// (lock), checked again under it.
func (s *Session) entered(roomID string) (m membership, left, hold bool) {
	s.mu.Lock()
	p := s.find([]byte(roomID))
	switch {
	case p == nil || !p.entering:
		s.mu.Unlock()
		return membership{}, false, false
	case !p.leaving && !s.closed.Load():
		// gone, which sets closed before it takes the lock, finds the
		// seat entered and holds it itself.
		p.entering = false
		m = *p
		s.mu.Unlock()
		return m, false, false
	}
	s.mu.Unlock()
	s.lock()
	defer s.unlock()
	p = s.find([]byte(roomID))
	switch {
	case p == nil || !p.entering:
		return membership{}, false, false
	case p.leaving:
		p.entering = false
		return s.settledLocked(p), true, false
	case s.closed.Load():
		return *p, false, true
	}
	p.entering = false
	return *p, false, false
}

// pendingLeave marks a pending join of roomID, or one entering (its
// Joined on its way), as left; it reports whether there was one.
func (s *Session) pendingLeave(roomID string, id uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.find([]byte(roomID))
	switch {
	case m == nil || m.seat != 0 && !m.entering:
		return false
	case !m.leaving:
		m.leaving, m.leaveID = true, id
		return true
	case m.rejoin != nil && !m.rejoin.leaving:
		// Left again before the join that follows the first leave was
		// asked for: that join is pending and left (settledLocked).
		m.rejoin.leaving, m.rejoin.leaveID = true, id
		return true
	}
	return false
}

// afterLeave queues join, a JoinRoom (request id) of roomID that the
// pending membership there refused, to run once that membership is
// settled, when a LeaveRoom of it came: the user asked to leave, then to
// come back. It reports whether it was queued; one JoinRoom waits so at
// most, a second is refused ALREADY_IN_ROOM as the one before it still
// is in the room.
func (s *Session) afterLeave(roomID string, id uint32, jr joinReq) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.find([]byte(roomID))
	if m == nil || m.seat != 0 && !m.entering || !m.leaving || m.rejoin != nil {
		return false
	}
	m.rejoin = &rejoin{id: id, jr: jr}
	return true
}

// settledLocked ends m, the pending membership of a join just settled
// (refused, or seated and given up as it was left), and returns it as it
// was. A JoinRoom queued after its leave (m.rejoin) takes its place at
// once as a pending join, left when a LeaveRoom of it came: the user's
// room count does not dip, and a LeaveRoom coming meanwhile finds it
// (pendingLeave). The caller then asks the room for it (rejoin). The
// caller holds the session's lock (lock).
func (s *Session) settledLocked(m *membership) membership {
	mm := *m
	if rj := m.rejoin; rj != nil {
		*m = membership{room: m.room, id: m.id, spectator: rj.jr.spectator, leaving: rj.leaving, leaveID: rj.leaveID}
		return mm
	}
	s.removeLocked(m.id)
	return mm
}

// rejoin asks room for the seat of a JoinRoom that waited for the join
// before it to be settled and left (afterLeave, settledLocked), now a
// pending join: its answer comes as any join's (joined), or its refusal
// now, with the Left of a LeaveRoom of it that came meanwhile. Its join
// token (jr.refund, once-only) is given back when it is refused now, or
// dropped unasked as the connection closed. Either way, on a node of a
// cluster, the user's seat in the room directory, which the join before
// it kept for it, is given back (dropRejoin).
func (s *Session) rejoin(room *game.Room, rj *rejoin) {
	if s.closed.Load() {
		// Nobody reads the answer, and the room was not asked: the join
		// sent no event, and gives its token back.
		s.unreserve(room.ID())
		s.dropRejoin(room.ID(), rj)
		if rj.jr.refund != nil {
			rj.jr.refund()
		}
		return
	}
	if m, err := s.askRoom(rj.id, room, rj.jr); err != nil {
		s.dropRejoin(room.ID(), rj)
		if rj.jr.refund != nil {
			rj.jr.refund() // refused before it reached the room
		}
		s.fail(rj.id, err)
		if m.leaving {
			s.reply(m.leaveID, leftMessage(room.ID(), tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, ""))
		}
	}
}

// dropRejoin gives back, on a node of a cluster, the seat of roomID the
// room directory holds for the user, once rj, a player's join queued after
// a LeaveRoom, was dropped before it reached the room: the join before it
// kept that seat for it (joined), and nothing else gives it back, unless
// another join of the user's on this node plays in the room or is joining
// it (releaseSeat). Kept, it counted as taken for the reservation's life.
func (s *Session) dropRejoin(roomID string, rj *rejoin) {
	if s.h.cluster != nil && !rj.jr.spectator {
		s.h.releaseSeat(roomID, s.claims.UserID, func() bool { return s.sessionsPlayIn(roomID) })
	}
}

// memberships returns the confirmed memberships, but for one a LeaveRoom
// left as its Joined went out (entered gives it up).
func (s *Session) memberships() []membership {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]membership, 0, len(s.rooms))
	for _, m := range s.rooms {
		if m.seat != 0 && !m.leaving {
			out = append(out, m)
		}
	}
	return out
}

// unreserve removes a pending membership whose join failed, or whose
// seat was held or given up because the session closed meanwhile, and
// returns it as it was.
func (s *Session) unreserve(roomID string) membership {
	s.lock()
	defer s.unlock()
	var m membership
	if p := s.find([]byte(roomID)); p != nil {
		m = *p
	}
	s.removeLocked(roomID)
	return m
}

// settled is settledLocked for the pending membership of roomID, when
// there is one.
func (s *Session) settled(roomID string) membership {
	s.lock()
	defer s.unlock()
	if p := s.find([]byte(roomID)); p != nil {
		return s.settledLocked(p)
	}
	return membership{}
}

// forget removes the membership in roomID with seat; it reports whether
// there was one.
func (s *Session) forget(roomID string, seat uint32) bool {
	s.lock()
	defer s.unlock()
	if m := s.find([]byte(roomID)); m == nil || m.seat != seat {
		return false
	}
	s.removeLocked(roomID)
	return true
}

// owns reports whether the session holds seat in roomID.
func (s *Session) owns(roomID string, seat uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.find([]byte(roomID))
	return m != nil && m.seat == seat
}

// removeLocked removes the membership in roomID and its count in the
// user's rooms. The caller holds Hub.mu and Session.mu (lock).
func (s *Session) removeLocked(roomID string) {
	for i := range s.rooms {
		if s.rooms[i].id == roomID {
			s.rooms = append(s.rooms[:i], s.rooms[i+1:]...)
			s.h.unrefRoomLocked(s.claims.UserID, roomID)
			return
		}
	}
}

// gone runs once when the connection has closed: seats are held for the
// resume window (or freed after a kick). A seat is held before the
// session's own record of it goes, so the user's room count never dips in
// between; a pending join stays listed until its callback, which sees
// closed and holds or gives up the seat, and so does a seat whose Joined
// is on its way (entered).
func (s *Session) gone() {
	s.closed.Store(true)
	s.h.expiries.remove(s)
	s.lock()
	var confirmed []membership
	pending := s.rooms[:0]
	for _, m := range s.rooms {
		if m.seat == 0 || m.entering {
			pending = append(pending, m)
		} else {
			confirmed = append(confirmed, m)
		}
	}
	clear(s.rooms[len(pending):])
	s.rooms = pending
	s.unlock()
	for _, m := range confirmed {
		s.release(m)
	}
	if len(confirmed) == 0 {
		return
	}
	s.h.mu.Lock()
	for _, m := range confirmed {
		s.h.unrefRoomLocked(s.claims.UserID, m.id)
	}
	s.h.mu.Unlock()
}

// release gives up or holds a confirmed seat of a closed session. The
// held seat is recorded before the room hears of the drop, so the room's
// removal of it (OnRemoved, on a tick worker) always finds the record.
func (s *Session) release(m membership) {
	if s.kicked.Load() {
		_ = m.room.LeaveAs(m.seat, s.claims.UserID, s)
		s.h.leftRoom(s.claims.UserID, m.id)
		if s.h.cluster != nil && !m.spectator {
			// The user's other sessions were kicked too, and do not
			// keep the seat from one another: it goes back now, not at
			// the reservation's end (gaveUpSeat), unless a session of
			// a login since the kick plays there, or a join of the
			// user's is on its way there (releaseSeat).
			s.h.releaseSeat(m.id, s.claims.UserID, func() bool { return s.unkickedPlayIn(m.id) })
		}
		return
	}
	hs := heldSeat{
		roomID: m.id, game: m.room.Game(), seat: m.seat, spectator: m.spectator,
		expires: s.h.cfg.Now().Add(s.h.cfg.Runtime.DropGrace),
	}
	s.h.holdSeat(s.claims.UserID, hs)
	if m.room.Drop(m.seat, s) != nil {
		s.h.dropHeld(s.claims.UserID, m.id)
	}
}
