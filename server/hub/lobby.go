package hub

import (
	"errors"
	"slices"
	"sync"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/social"
)

// listRooms answers ListRooms with the public rooms that match its
// filters, when the connection's ListRooms bucket and its address's room
// lists allow (takeRoomList).
func (s *Session) listRooms(id uint32, q *tickroomv1.ListRooms) {
	giveBack, err := s.takeRoomList(&s.h.listLim, s.h.cfg.ListRoomsRate, s.h.cfg.ListRoomsBurst, "room list rate limit exceeded")
	if err != nil {
		s.fail(id, err)
		return
	}
	if s.h.cluster != nil {
		s.clusterList(id, q, giveBack)
		return
	}
	limit := s.h.cfg.ListLimit
	if q.Limit > 0 && int(q.Limit) < limit {
		limit = int(q.Limit)
	}
	f := game.RoomFilter{Game: q.Game, Joinable: q.FreeSeatsOnly}
	out := &tickroomv1.RoomList{}
	// Rooms come ordered by id; a page token is the last id of the
	// previous page.
	if p, ok := s.h.dir.(roomPager); ok {
		// One call looks at listScan rooms at most: a filter that keeps
		// few rooms gets a short page and a token to go on from, so a
		// ListRooms costs its loop the same however many rooms there are.
		infos, next := p.Page(f, q.PageToken, func(m map[string]string) bool { return metadataMatches(m, q.Metadata) }, limit, listScan)
		fillRoomList(out, infos, next)
		s.reply(id, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_RoomList{RoomList: out}})
		return
	}
	var page []game.RoomInfo
	next := ""
	for _, info := range s.h.dir.List(f) {
		if q.PageToken != "" && info.ID <= q.PageToken {
			continue
		}
		if !metadataMatches(info.Metadata, q.Metadata) {
			continue
		}
		if len(page) == limit {
			next = page[len(page)-1].ID
			break
		}
		page = append(page, info)
	}
	fillRoomList(out, page, next)
	s.reply(id, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_RoomList{RoomList: out}})
}

// takeRoomList charges a room list, a ListRooms or a WatchRooms's first
// list, first to the connection's own bucket of that request (own, at
// perSec and burst; refused with message), then to its client address's
// room lists (Config.RoomListAddressRate, RoomListAddressBurst): giveBack,
// or the refusal with when to try again. A connection's own bounds are
// each connection's, and one address may hold server.Config.MaxConnsPerIP
// connections, so their room lists together are the address's budget;
// the connection's bucket, taken first, keeps one connection to its share
// of it, and an address's refusal gives the connection's token back, so
// that a refusal changes nothing. An address IPQuotaExempt exempts
// (loopback, a proxy on the same host) has only the connection's bound.
//
// giveBack returns both tokens; the caller calls it (from any goroutine,
// once or more) when the request is refused before it looks at any room:
// LIST_FULL, or on a node of a cluster its lobby requests in flight, which
// a client asks again after, and which would otherwise spend its
// address's room lists for nothing. A cluster directory that fails does
// not give them back: the request was a call to Redis, which may have
// walked its rooms before it failed, and a refund would lift every bound
// on room lists exactly while Redis fails or is slow.
func (s *Session) takeRoomList(own *connLimits, perSec float64, burst int, message string) (giveBack func(), err error) {
	now := s.h.cfg.Now()
	wait, undo := own.reserve(s, now, perSec, burst)
	if wait > 0 {
		s.h.stats.RoomListsConnectionRate.Add(1)
		return nil, &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait, Message: message}
	}
	var once sync.Once
	ip := s.ip()
	if s.h.cfg.IPQuotaExempt(ip) {
		return func() { once.Do(undo) }, nil
	}
	if ok, wait := s.h.roomLists.Allow(ip, now); !ok {
		undo()
		s.h.stats.RoomListsAddressRate.Add(1)
		return nil, &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait, Message: "room lists asked too fast from this address"}
	}
	return func() {
		once.Do(func() {
			undo()
			s.h.roomLists.Refund(ip, s.h.cfg.Now())
		})
	}, nil
}

// listScan bounds the rooms one ListRooms looks at past its page token
// (docs/limits.md): a page that met it before filling ends there, with a
// next_page_token, as a cluster's listing ends at cluster.ListScan.
const listScan = 1000

// listBytes bounds the rooms of one RoomList reply, encoded (docs/limits.md).
const listBytes = 64 << 10

// fillRoomList puts a page of rooms in out, and next as its token; the
// page ends at listBytes, with the last room it holds as the token: a
// room's metadata may take 5 KB, and a hundred such rooms would make each
// ListRooms of a few bytes a half-megabyte reply.
func fillRoomList(out *tickroomv1.RoomList, infos []game.RoomInfo, next string) {
	size := 0
	for _, info := range infos {
		ri := wireRoomInfo(info)
		if size += ri.SizeVT() + 3; size > listBytes && len(out.Rooms) > 0 {
			next = out.Rooms[len(out.Rooms)-1].RoomId
			break
		}
		out.Rooms = append(out.Rooms, ri)
	}
	out.NextPageToken = next
}

// wireRoomInfo is a room's entry in a RoomList.
func wireRoomInfo(info game.RoomInfo) *tickroomv1.RoomInfo {
	return &tickroomv1.RoomInfo{
		RoomId: info.ID, Game: info.Game, Metadata: info.Metadata,
		Players: uint32(info.Players), MaxPlayers: uint32(info.MaxPlayers),
		Spectators: uint32(info.Spectators), HasPassword: info.HasPassword, Tick: info.Tick,
		PlayerNames: info.PlayerNames,
	}
}

func metadataMatches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// errRoomsPerUser refuses a join past Config.MaxRoomsPerUser, which counts
// the rooms of all the user's connections here and its held seats.
var errRoomsPerUser = protocol.NewError(protocol.ErrorAlreadyInRoom, "in as many rooms as a user may be")

// errInRoom refuses a join of a room the connection is in, joined or
// joining.
var errInRoom = protocol.NewError(protocol.ErrorAlreadyInRoom, "")

// errSessionClosed refuses a join that a closed connection's request
// would make off its loop (a quick-match's retry, a cluster's join): its
// answer is never read. It is not ERROR_CODE_UNAVAILABLE, which gives a
// cluster's creation back to the budgets (publishAndJoin): a client
// closing its connection as it creates does not create for free.
var errSessionClosed = protocol.NewError(protocol.ErrorInternal, "connection closed")

// createRoom creates a room and joins it. A room whose creator cannot take
// its seat is closed at once, whether the room refuses the join or the
// game does at the tick (joined).
func (s *Session) createRoom(id uint32, q *tickroomv1.CreateRoom) error {
	if !s.hasRoomFor("") {
		return errRoomsPerUser
	}
	if s.h.cluster != nil {
		return s.clusterCreate(id, q)
	}
	room, _, err := s.newOwnedRoom(game.RoomOptions{
		Game: q.Game, Options: q.Options, Metadata: q.Metadata, Password: q.Password,
		MaxPlayers: int(q.MaxPlayers), Private: q.Private, TickRate: int(q.TickRate),
	})
	if err != nil {
		return err
	}
	if err := s.tryJoin(id, room, joinReq{spectator: q.Spectate, password: q.Password, creator: true}); err != nil {
		room.Close("creator could not join")
		return err
	}
	return nil
}

// newOwnedRoom creates a room paid from the session's creation budgets
// (see quota.go). A room the cluster could not list is given back to the
// budgets with the charge's refund; one whose creator could not join is
// not: that join is the client's to get right (a spectator's seat in a
// game without any, say), and a refund would make such creations free.
func (s *Session) newOwnedRoom(opts game.RoomOptions) (*game.Room, *charge, error) {
	d, ok := s.h.cfg.Games.Lookup(opts.Game)
	if !ok {
		return nil, nil, protocol.NewError(protocol.ErrorUnknownGame, "no game named "+opts.Game)
	}
	if err := d.CheckOptions(opts); err != nil {
		return nil, nil, err
	}
	ch, err := s.h.quota.charge(s, d.RoomCost(opts))
	if err != nil {
		return nil, nil, err
	}
	room, err := s.h.newRoom(opts)
	if err != nil {
		ch.refund()
		return nil, nil, err
	}
	ch.record(room.ID())
	return room, ch, nil
}

// newRoom creates a room and lists it in the directory, in its quick-match
// pool when it is public and has no password. Its options and metadata
// come from a decoded CreateRoom or QuickMatch, whose sizes
// protocol.ValidateClientMessage already bounded.
func (h *Hub) newRoom(opts game.RoomOptions) (*game.Room, error) {
	if h.draining.Load() {
		return nil, errDraining
	}
	if h.rt.RoomCount() >= h.cfg.MaxRooms {
		return nil, protocol.NewError(protocol.ErrorRoomLimit, "the server runs as many rooms as it may")
	}
	room, err := h.rt.CreateRoom(opts)
	if err != nil {
		return nil, err // wireError maps the runtime's refusals (runtimeCodes)
	}
	pool := ""
	if !opts.Private && opts.Password == "" {
		pool = h.matchKey(opts.Game, opts.MaxPlayers, opts.Options)
	}
	h.dir.Add(room.ID(), pool)
	return room, nil
}

// matchKey names the quick-match pool of a game, a room size and options;
// a size equal to the game's default counts as the default.
func (h *Hub) matchKey(gameName string, maxPlayers int, opts map[string]string) string {
	if d, ok := h.cfg.Games.Lookup(gameName); ok && maxPlayers == d.MaxPlayers {
		maxPlayers = 0
	}
	return matchKey(gameName, maxPlayers, opts)
}

// joinRoom joins, spectates or resumes a room by id.
func (s *Session) joinRoom(id uint32, q *tickroomv1.JoinRoom) error {
	// A resume of a seat held here is let through: the room does not
	// check its password. Any other resume_tick is not: in a cluster the
	// directory checks the password of a seat it reserves, resume or not.
	guessed := q.Password != "" && (q.ResumeTick == 0 || !s.h.mayResume(s.claims.UserID, q.RoomId))
	if guessed {
		if err := s.h.guesses.refusal(s); err != nil {
			return err
		}
	}
	if s.h.cluster != nil {
		return s.clusterJoin(id, q, guessed)
	}
	room, ok := s.h.rt.Room(q.RoomId)
	if !ok {
		return protocol.NewError(protocol.ErrorRoomNotFound, "")
	}
	return s.joinLocal(id, room, q, nil)
}

// joinLocal joins, spectates or resumes a room of this node; arrived
// (nil for none) ends the join's time on its way (Hub.onWay) once it is
// a membership, or refused before.
func (s *Session) joinLocal(id uint32, room *game.Room, q *tickroomv1.JoinRoom, arrived func()) error {
	if q.ResumeTick != 0 {
		s.h.stats.ResumeAttempts.Add(1)
		if !s.h.mayResume(s.claims.UserID, q.RoomId) {
			return protocol.NewError(protocol.ErrorResumeUnavailable, "no seat held in that room")
		}
	}
	if err := s.h.drainRefusal(room, s.claims.UserID, q.Spectate); err != nil {
		return err
	}
	if !s.newMembership(q.RoomId) {
		return s.tryJoin(id, room, joinReq{spectator: q.Spectate, password: q.Password, resumeTick: q.ResumeTick, arrived: arrived})
	}
	refund, err := s.chargeJoin()
	if err != nil {
		return err
	}
	// Refused before it reached the room, or by the game at the tick
	// (joined): no event sent, the token goes back.
	refund = sync.OnceFunc(refund)
	if err := s.tryJoin(id, room, joinReq{spectator: q.Spectate, password: q.Password, resumeTick: q.ResumeTick, refund: refund, arrived: arrived}); err != nil {
		refund()
		return err
	}
	return nil
}

// quickMatch joins the fullest open room of the game with the same options,
// or creates one. Seats are reserved synchronously by the room, so
// concurrent quick-matches never overfill it: a room that filled meanwhile
// refuses and the next one is tried.
func (s *Session) quickMatch(id uint32, q *tickroomv1.QuickMatch) error {
	if s.h.cluster != nil {
		if !s.hasRoomFor("") {
			return errRoomsPerUser
		}
		return s.clusterQuickMatch(id, q)
	}
	refund, err := s.chargeJoin()
	if err != nil {
		return err
	}
	if err := s.matchLocal(id, &localMatch{q: q}); err != nil {
		refund() // refused at once: the player joined no room
		return err
	}
	return nil
}

// quickMatchTries bounds the rooms one quick-match asks for a seat whose
// game then refuses it at the tick (docs/limits.md); past it, it makes a
// room.
const quickMatchTries = 3

// localMatch is a quick-match of this node's rooms under way: its request,
// and the rooms whose game refused the player at the tick.
type localMatch struct {
	q       *tickroomv1.QuickMatch
	refused []string
}

// matchLocal serves a quick-match from this node's rooms. A room that
// refuses at once (filled, locked or ended meanwhile, or busy: passOver)
// is passed over, and so is one whose game refuses the player at the
// tick, as if it had not been listed: the room's callback (joined) calls matchLocal again, on
// a goroutine of its own, without it and the rooms refused before. After
// quickMatchTries such refusals the quick-match makes a room; only that
// room's refusal is the request's answer. A node of a cluster goes on the
// same way from the cluster's pool (matchCluster, quickMatchHere). A retry
// whose connection closed meanwhile makes no room and asks none for a
// seat: nobody would play it, and the seat would be held for the resume
// window.
func (s *Session) matchLocal(id uint32, lm *localMatch) error {
	if s.closed.Load() {
		return errSessionClosed
	}
	if !s.hasRoomFor("") {
		return errRoomsPerUser
	}
	if s.h.draining.Load() {
		return errDraining
	}
	q := lm.q
	if len(lm.refused) < quickMatchTries {
		retry := func(roomID string) error {
			lm.refused = append(lm.refused, roomID)
			return s.matchLocal(id, lm)
		}
		for _, info := range s.h.dir.Match(s.h.matchKey(q.Game, int(q.MaxPlayers), q.Options)) {
			if slices.Contains(lm.refused, info.ID) || s.inRoom(info.ID) {
				// A room this connection is in already (watching it, or
				// seated there by an earlier quick-match) would refuse it
				// as ALREADY_IN_ROOM: the quick-match looks on.
				continue
			}
			room, ok := s.h.rt.Room(info.ID)
			if !ok {
				continue
			}
			switch err := s.tryJoin(id, room, joinReq{retry: retry}); {
			case err == nil:
				return nil
			case passOver(err):
				continue // filled, ended or busy meanwhile: try the next one
			default:
				return err
			}
		}
	}
	room, _, err := s.newOwnedRoom(game.RoomOptions{Game: q.Game, Options: q.Options, MaxPlayers: int(q.MaxPlayers)})
	if err != nil {
		return err
	}
	if err := s.tryJoin(id, room, joinReq{creator: true}); err != nil {
		room.Close("creator could not join")
		return err
	}
	return nil
}

// passOver reports whether err is a room's refusal of a quick-match's
// join that the pool's other rooms need not share: the room filled,
// locked or ended since it was listed, its queue of joins, leaves and
// observers waiting for its tick is full (game.ErrControlFull), it is
// being moved off this node (game.ErrMoving), or this connection's own
// join of it came first (errInRoom). The quick-match tries the next room,
// or makes one; the user's own refusals (errRoomsPerUser, a closed
// connection) are its answer.
func passOver(err error) bool {
	for _, e := range []error{game.ErrRoomFull, game.ErrLocked, game.ErrFinished, game.ErrControlFull, game.ErrMoving, errInRoom} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// inRoom reports whether the session is in roomID, joined or joining.
func (s *Session) inRoom(roomID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.find([]byte(roomID)) != nil
}

// roomsIn returns the rooms the session is in, joined or joining.
func (s *Session) roomsIn() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.rooms))
	for _, m := range s.rooms {
		ids = append(ids, m.id)
	}
	return ids
}

// playsIn reports whether the session is in roomID as a player, joined
// or joining. A pending join that a LeaveRoom left is not joining unless
// a player's JoinRoom queued after that leave (afterLeave) is still to
// take its place, not left itself, whether the left join was a player's
// or a spectator's: it is refused, or seated only to be given up at once
// (joined), and nothing then gives back a seat in the room directory
// that another refusal kept for it.
func (s *Session) playsIn(roomID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.find([]byte(roomID))
	switch {
	case m == nil:
		return false
	case m.rejoin != nil && !m.rejoin.leaving && !m.rejoin.jr.spectator:
		return true
	case m.spectator:
		return false
	}
	return !m.leaving // a seat left as its Joined went out is given up too
}

// hasRoomFor reports whether the session's user may join roomID (empty:
// a room not made yet), before anything is paid or reserved for it: it
// is in fewer rooms than Config.MaxRoomsPerUser, through all its
// connections and held seats, or already counted in that one. reserve
// checks again when the seat is asked for.
func (s *Session) hasRoomFor(roomID string) bool {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.h.mayJoinLocked(s.claims.UserID, roomID)
}

// joinReq is what tryJoin asks of a room for the session's user.
type joinReq struct {
	spectator  bool
	password   string
	resumeTick uint64
	// creator marks the join of the user who made the room for it: when
	// the game refuses it at the tick, the room is closed at once unless
	// another join holds a seat in it, and then once the last such join
	// is refused too, or as a room its creator left (joined).
	creator bool
	// retry, set by a quick-match, serves the request again without the
	// room when the game refuses the join at the tick, or the room ends
	// first (matchLocal; on a node of a cluster goOn, which gives the
	// room's seat in the directory back first); nil answers the refusal.
	retry func(roomID string) error
	// refund, set by a JoinRoom that took a token of the user's joins
	// (chargeJoin), gives it back, once, when the game refuses the join
	// at the tick: the room's members heard of nothing.
	refund func()
	// arrived, set by a join of a node of a cluster that reserved its
	// seat in the directory, ends its time on its way (Hub.onWay) once
	// it is a membership (or queued as one: afterLeave), or refused
	// before; tryJoin calls it before it asks the room, whose answer
	// may come before tryJoin returns.
	arrived func()
}

// tryJoin records a pending membership and asks the room for a seat. A
// refusal the room can tell at once is returned; otherwise the request is
// answered from the room's callback: Joined, or the game's refusal.
func (s *Session) tryJoin(id uint32, room *game.Room, jr joinReq) error {
	if err := s.reserve(room, jr.spectator); err != nil {
		queued := errors.Is(err, errInRoom) && jr.retry == nil && !jr.creator && s.afterLeave(room.ID(), id, jr)
		if jr.arrived != nil {
			jr.arrived()
		}
		if queued {
			return nil // asked for once the join it left is settled
		}
		return err
	}
	if jr.arrived != nil {
		jr.arrived()
	}
	_, err := s.askRoom(id, room, jr)
	return err
}

// askRoom asks room for the seat of the session's pending membership
// there (tryJoin); a refusal the room tells at once ends the membership,
// returned with it as it was.
func (s *Session) askRoom(id uint32, room *game.Room, jr joinReq) (ended membership, err error) {
	err = room.Join(game.JoinRequest{
		UserID: s.claims.UserID, Name: s.claims.Name, Password: jr.password,
		Spectator: jr.spectator, Client: s, ResumeTick: jr.resumeTick,
	}, func(res game.JoinResult) { s.joined(id, room, jr, res) })
	if err != nil {
		ended = s.unreserve(room.ID())
	}
	return ended, err
}

// joined runs on the room's tick worker with the outcome of a join, before
// the member's first state frame.
func (s *Session) joined(id uint32, room *game.Room, jr joinReq, res game.JoinResult) {
	if res.Err != nil {
		m := s.settled(room.ID())
		goOn := jr.retry != nil && !m.leaving && !s.closed.Load() && !s.replaced.Load()
		if s.h.cluster != nil && !jr.spectator && !goOn {
			// A quick-match that goes on gives the seat back itself,
			// before it asks for another (goOn). The user's one seat
			// there stays while a join of the user's on this node is
			// in the room or on its way (releaseSeat): a JoinRoom sent
			// after a LeaveRoom of this join, which asks the room now
			// that it is settled, reserving nothing, or another
			// socket's (MultipleSockets), one that has reserved the
			// seat too.
			s.h.releaseSeat(room.ID(), s.claims.UserID, func() bool { return s.sessionsPlayIn(room.ID()) })
		}
		switch seated := room.Seated(); {
		case seated == 0 && (jr.creator || s.h.gone.has(room.ID())):
			// Nobody sits in the room, made for this join or kept open
			// for others' joins after its creator's was refused (or its
			// creator left): it goes now, as when the room refuses its
			// creator at once, rather than staying listed for the
			// runtime's EmptyTimeout; on a cluster, once no seat is
			// reserved in it for a player on the way (closeEmpty).
			s.h.closeEmpty(room, "creator could not join", s.claims.UserID)
		case jr.creator:
			// Another player's join holds a seat: the room is theirs, and
			// closes as one its creator left once it is empty.
			s.h.leftRoom(s.claims.UserID, room.ID())
		}
		if jr.refund != nil {
			jr.refund()
		}
		if goOn {
			// A quick-match goes on to another room, or a new one, off
			// this room's tick worker: making a room runs its game's
			// constructor, which must not hold up the rooms of this shard.
			// The connection may close before it runs: matchLocal and
			// reserve then refuse it.
			retry := func() {
				if err := jr.retry(room.ID()); err != nil {
					s.fail(id, err)
				}
			}
			if hook := s.h.retryMatch; hook != nil {
				go hook(s, retry)
			} else {
				go retry()
			}
			s.h.endChatIfEmpty(room.ID())
			return
		}
		s.fail(id, res.Err)
		if m.leaving {
			// A LeaveRoom came while the join was pending: the user is
			// not in the room, as it asked.
			s.reply(m.leaveID, leftMessage(room.ID(), tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, ""))
		}
		s.h.endChatIfEmpty(room.ID()) // the room's last seat may have been this one
		if m.rejoin != nil {
			// A JoinRoom came after the LeaveRoom: the user comes back.
			s.rejoin(room, m.rejoin)
		}
		return
	}
	m, keep := s.confirm(room.ID(), res.Seat, res.Spectator)
	if !jr.spectator && res.Spectator {
		// A player's join that resumed the user's spectator seat (held
		// for a resume, or another socket's): the room gives a user its
		// one seat there back. The player seat reserved in the room
		// directory for the join is nobody's, and goes back as a seat
		// given up does, whatever comes of the spectator seat below.
		s.gaveUpSeat(room.ID(), false)
	}
	switch {
	case m.leaving:
		// A LeaveRoom came while the join was pending: answer the join,
		// then give the seat up and answer the leave.
		s.sendJoined(id, room, res)
		_ = room.LeaveAs(res.Seat, s.claims.UserID, s)
		s.h.leftRoom(s.claims.UserID, room.ID())
		s.gaveUpSeat(room.ID(), res.Spectator)
		s.reply(m.leaveID, leftMessage(room.ID(), tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, ""))
		if m.rejoin != nil {
			// A JoinRoom came after the LeaveRoom: the user comes back.
			s.rejoin(room, m.rejoin)
		}
		return
	case !keep && s.replaced.Load() && !res.Resumed:
		// A newer login took over before the seat was confirmed; it was
		// never told of this seat, so give it up. A resumed seat was
		// the user's before (the newer login's Welcome lists it as
		// held): it is held for that login below, like any seat of a
		// closed connection.
		_ = room.LeaveAs(res.Seat, s.claims.UserID, s)
		s.h.leftRoom(s.claims.UserID, room.ID())
		s.unreserve(room.ID())
		s.gaveUpSeat(room.ID(), res.Spectator)
		return
	case !keep:
		// The connection closed while the join was queued: hold the seat,
		// then drop the pending membership that counted it until now.
		s.release(membership{room: room, id: room.ID(), seat: res.Seat, spectator: res.Spectator})
		s.unreserve(room.ID())
		return
	}
	if hook := s.h.entering; hook != nil {
		hook(s)
	}
	s.h.stats.Joins.Add(1)
	if res.Resumed {
		s.h.stats.Resumes.Add(1)
		s.h.dropHeld(s.claims.UserID, room.ID())
	}
	// Joined goes out with the entry into the room's chat, so that a line
	// posted by a member who saw this one join reaches it.
	info, msg := joinedMessage(id, room, res)
	s.h.social.EnterRoom(s.member, social.RoomPresence{ID: info.ID, Game: info.Game, Private: info.Private, Spectator: res.Spectator}, msg)
	switch m, left, hold := s.entered(room.ID()); {
	case left:
		// A LeaveRoom came as the Joined went out: it is answered after
		// it, as when it came while the join was pending. Served at once,
		// it was answered Left before the Joined, and the user, told then
		// that it was in the room, stayed in its chat and presence.
		_ = room.LeaveAs(m.seat, s.claims.UserID, s)
		s.h.leftRoom(s.claims.UserID, room.ID())
		s.gaveUpSeat(room.ID(), m.spectator)
		s.h.social.ExitRoom(s.member, room.ID())
		s.reply(m.leaveID, leftMessage(room.ID(), tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, ""))
		if m.rejoin != nil {
			// A JoinRoom came after the LeaveRoom: the user comes back.
			s.rejoin(room, m.rejoin)
		}
	case hold:
		// The connection closed as the Joined went out (gone left the
		// seat to this): held as any seat of a closed connection.
		s.release(m)
		s.unreserve(room.ID())
	}
}

// sendJoined answers a join with the room as it is now.
func (s *Session) sendJoined(id uint32, room *game.Room, res game.JoinResult) {
	if _, msg := joinedMessage(id, room, res); msg != nil {
		s.send(msg)
	}
}

// joinedMessage is the answer to join request id (nil without an id) and
// the room's listing entry.
func joinedMessage(id uint32, room *game.Room, res game.JoinResult) (game.RoomInfo, *tickroomv1.ServerMessage) {
	info := room.Info()
	if id == 0 {
		return info, nil
	}
	j := &tickroomv1.Joined{
		RoomId: info.ID, Game: info.Game, Seat: res.Seat, Spectator: res.Spectator,
		TickRate: uint32(info.TickRate), Resumed: res.Resumed, Metadata: info.Metadata,
		Options: room.Options(), Tick: info.Tick, MaxPlayers: uint32(info.MaxPlayers),
		LastInputSeq: res.LastSeq,
	}
	for _, p := range room.Players() {
		pl := &tickroomv1.Player{Seat: p.Seat, UserId: p.UserID, Name: p.Name, Connected: p.Connected}
		if !p.HeldUntil.IsZero() {
			pl.HeldUntilMs = p.HeldUntil.UnixMilli()
		}
		j.Players = append(j.Players, pl)
	}
	return info, &tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_Joined{Joined: j}}
}

// leaveRoom gives up a seat at once and answers Left; a leave of a join
// still pending is answered once the join is settled, and one of a join
// seated whose Joined is not sent yet after that Joined. A seat held for
// the user from an earlier connection (Welcome.seats) is given up too,
// without a resume first.
func (s *Session) leaveRoom(id uint32, roomID string) error {
	if s.pendingLeave(roomID, id) {
		return nil
	}
	s.lock()
	m := s.find([]byte(roomID))
	var mm membership
	if m != nil && m.seat != 0 && !m.entering {
		mm = *m
		s.removeLocked(roomID)
	}
	s.unlock()
	if mm.room == nil {
		spectator, ok := s.h.giveUpHeld(s.claims.UserID, roomID)
		if !ok {
			return protocol.NewError(protocol.ErrorNotInRoom, "")
		}
		s.gaveUpSeat(roomID, spectator)
		s.reply(id, leftMessage(roomID, tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, ""))
		return nil
	}
	_ = mm.room.LeaveAs(mm.seat, s.claims.UserID, s)
	s.h.leftRoom(s.claims.UserID, roomID)
	s.gaveUpSeat(roomID, mm.spectator)
	s.h.social.ExitRoom(s.member, roomID)
	s.reply(id, leftMessage(roomID, tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, ""))
	return nil
}

// gaveUpSeat gives back, on a node of a cluster, the user's seat of
// roomID in the room directory once s gave up its seat there (a
// spectator's holds none), unless a join of the user's on this node
// plays in the room or is joining it (releaseSeat): the node's sync
// drops only the players it wrote as seated, and a seat given up before
// its next sync stayed reserved for the reservation's life, counted as
// taken (a room of two with one player refused everyone ROOM_FULL).
// Release leaves a seat the sync wrote as seated to the next sync.
func (s *Session) gaveUpSeat(roomID string, spectator bool) {
	if s.h.cluster != nil && !spectator {
		s.h.releaseSeat(roomID, s.claims.UserID, func() bool { return s.sessionsPlayIn(roomID) })
	}
}

// mayResume reports whether userID has a seat in roomID to resume: one
// held for a closed connection, or, with MultipleSockets, one another of
// its connections has, as a socket whose network vanished keeps it until
// the idle timeout; the room moves that seat to the resuming connection.
func (h *Hub) mayResume(userID, roomID string) bool {
	if h.holds(userID, roomID) {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cfg.MultipleSockets && slices.ContainsFunc(h.userRooms[userID], func(r roomRefs) bool { return r.id == roomID })
}

// holds reports whether userID has a seat held in roomID.
func (h *Hub) holds(userID, roomID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, hs := range h.held[userID] {
		if hs.roomID == roomID {
			return true
		}
	}
	return false
}
