package hub

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// listRooms answers ListRooms with the public rooms that match its filters.
func (s *Session) listRooms(id uint32, q *tickroomv1.ListRooms) {
	infos := s.h.rt.Rooms(game.RoomFilter{Game: q.Game, Joinable: q.FreeSeatsOnly})
	limit := s.h.cfg.ListLimit
	if q.Limit > 0 && int(q.Limit) < limit {
		limit = int(q.Limit)
	}
	// Rooms come ordered by id; a page token is the last id of the
	// previous page.
	out := &tickroomv1.RoomList{}
	for _, info := range infos {
		if q.PageToken != "" && info.ID <= q.PageToken {
			continue
		}
		if !metadataMatches(info.Metadata, q.Metadata) {
			continue
		}
		if len(out.Rooms) == limit {
			out.NextPageToken = out.Rooms[len(out.Rooms)-1].RoomId
			break
		}
		out.Rooms = append(out.Rooms, &tickroomv1.RoomInfo{
			RoomId: info.ID, Game: info.Game, Metadata: info.Metadata,
			Players: uint32(info.Players), MaxPlayers: uint32(info.MaxPlayers),
			Spectators: uint32(info.Spectators), HasPassword: info.HasPassword, Tick: info.Tick,
		})
	}
	s.reply(id, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_RoomList{RoomList: out}})
}

func metadataMatches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Limits on what a client may attach to a room: it is copied into every
// listing, so it is kept small.
const (
	maxRoomPairs    = 16  // entries in options or metadata
	maxRoomKeyLen   = 64  // bytes in a key
	maxRoomValueLen = 256 // bytes in a value
)

// checkPairs refuses options or metadata over the limits.
func checkPairs(what string, m map[string]string) string {
	if len(m) > maxRoomPairs {
		return fmt.Sprintf("%s: more than %d entries", what, maxRoomPairs)
	}
	for k, v := range m {
		if len(k) > maxRoomKeyLen || len(v) > maxRoomValueLen {
			return fmt.Sprintf("%s: keys are at most %d bytes and values %d", what, maxRoomKeyLen, maxRoomValueLen)
		}
	}
	return ""
}

// createRoom creates a room and joins it. A room whose creator cannot take
// its seat is closed at once.
func (s *Session) createRoom(id uint32, q *tickroomv1.CreateRoom) {
	if !s.hasRoomFor() {
		s.sendError(id, protocol.ErrorAlreadyInRoom, "in as many rooms as a user may be")
		return
	}
	room, code, msg := s.h.newRoom(game.RoomOptions{
		Game: q.Game, Options: q.Options, Metadata: q.Metadata, Password: q.Password,
		MaxPlayers: int(q.MaxPlayers), Private: q.Private, TickRate: int(q.TickRate),
	})
	if code != 0 {
		s.sendError(id, code, msg)
		return
	}
	if !s.tryJoin(id, room, q.Spectate, q.Password, 0) {
		room.Close("creator could not join")
	}
}

// newRoom creates a room and, when it is public and has no password,
// indexes it for quick-match.
func (h *Hub) newRoom(opts game.RoomOptions) (*game.Room, protocol.ErrorCode, string) {
	for what, m := range map[string]map[string]string{"options": opts.Options, "metadata": opts.Metadata} {
		if msg := checkPairs(what, m); msg != "" {
			return nil, protocol.ErrorBadOptions, msg
		}
	}
	if h.rt.RoomCount() >= h.cfg.MaxRooms {
		return nil, protocol.ErrorRoomLimit, "the server runs as many rooms as it may"
	}
	room, err := h.rt.CreateRoom(opts)
	switch {
	case errors.Is(err, game.ErrUnknownGame):
		return nil, protocol.ErrorUnknownGame, "no game named " + opts.Game
	case errors.Is(err, game.ErrInvalidOptions):
		return nil, protocol.ErrorBadOptions, err.Error()
	case errors.Is(err, game.ErrRuntimeClosed):
		return nil, protocol.ErrorRoomClosing, "server shutting down"
	case err != nil:
		return nil, protocol.ErrorInternal, ""
	}
	if !opts.Private && opts.Password == "" {
		key := h.matchKey(opts.Game, opts.MaxPlayers, opts.Options)
		h.mu.Lock()
		h.matches[key] = append(h.matches[key], room.ID())
		h.created++
		sweep := h.created%matchSweepEvery == 0
		h.mu.Unlock()
		if sweep {
			h.sweepMatches()
		}
	}
	return room, 0, ""
}

// matchSweepEvery is how many indexed room creations pass between sweeps
// of the quick-match index: a room that is gone leaves the index within
// that many creations, so the index holds at most MaxRooms plus that many.
const matchSweepEvery = 256

// sweepMatches drops rooms that are gone from the quick-match index.
func (h *Hub) sweepMatches() {
	h.mu.Lock()
	keys := slices.Collect(maps.Keys(h.matches))
	h.mu.Unlock()
	for _, key := range keys {
		h.mu.Lock()
		ids := slices.Clone(h.matches[key])
		h.mu.Unlock()
		gone := slices.DeleteFunc(ids, func(id string) bool { _, ok := h.rt.Room(id); return ok })
		h.prune(key, gone)
	}
}

// prune removes gone room ids from a quick-match pool.
func (h *Hub) prune(key string, gone []string) {
	if len(gone) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.matches[key] = slices.DeleteFunc(h.matches[key], func(id string) bool { return slices.Contains(gone, id) })
	if len(h.matches[key]) == 0 {
		delete(h.matches, key)
	}
}

// matchKey names the quick-match pool of a game, a room size and options;
// a size equal to the game's default counts as the default.
func (h *Hub) matchKey(gameName string, maxPlayers int, opts map[string]string) string {
	if d, ok := h.cfg.Games.Lookup(gameName); ok && maxPlayers == d.MaxPlayers {
		maxPlayers = 0
	}
	return matchKey(gameName, maxPlayers, opts)
}

// matchKey names the quick-match pool of a game, a room size (0 for the
// game's default) and options.
func matchKey(gameName string, maxPlayers int, opts map[string]string) string {
	var b strings.Builder
	b.WriteString(gameName)
	b.WriteByte(0)
	b.WriteString(strconv.Itoa(maxPlayers))
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(opts[k])
	}
	return b.String()
}

// joinRoom joins, spectates or resumes a room by id.
func (s *Session) joinRoom(id uint32, q *tickroomv1.JoinRoom) {
	room, ok := s.h.rt.Room(q.RoomId)
	if !ok {
		s.sendError(id, protocol.ErrorRoomNotFound, "")
		return
	}
	if q.ResumeTick != 0 {
		s.h.stats.ResumeAttempts.Add(1)
		if !s.h.holds(s.claims.UserID, q.RoomId) {
			s.sendError(id, protocol.ErrorResumeUnavailable, "no seat held in that room")
			return
		}
	}
	s.tryJoin(id, room, q.Spectate, q.Password, q.ResumeTick)
}

// quickMatch joins the fullest open room of the game with the same options,
// or creates one. Seats are reserved synchronously by the room, so
// concurrent quick-matches never overfill it: a room that filled meanwhile
// refuses and the next one is tried.
func (s *Session) quickMatch(id uint32, q *tickroomv1.QuickMatch) {
	if !s.hasRoomFor() {
		s.sendError(id, protocol.ErrorAlreadyInRoom, "in as many rooms as a user may be")
		return
	}
	key := s.h.matchKey(q.Game, int(q.MaxPlayers), q.Options)
	for _, room := range s.h.candidates(key) {
		switch err := s.reserveSeat(id, room, false, "", 0); {
		case err == nil:
			return
		case errors.Is(err, game.ErrRoomFull), errors.Is(err, game.ErrLocked), errors.Is(err, game.ErrFinished):
			continue // filled or ended meanwhile: try the next one
		default:
			s.refuseJoin(id, err)
			return
		}
	}
	room, code, msg := s.h.newRoom(game.RoomOptions{Game: q.Game, Options: q.Options, MaxPlayers: int(q.MaxPlayers)})
	if code != 0 {
		s.sendError(id, code, msg)
		return
	}
	if !s.tryJoin(id, room, false, "", 0) {
		room.Close("creator could not join")
	}
}

// candidates returns the live, joinable rooms of a quick-match pool,
// fullest first, and prunes the rooms that are gone.
func (h *Hub) candidates(key string) []*game.Room {
	h.mu.Lock()
	ids := slices.Clone(h.matches[key])
	h.mu.Unlock()
	type cand struct {
		room    *game.Room
		players int
	}
	var cs []cand
	var gone []string
	for _, id := range ids {
		room, ok := h.rt.Room(id)
		if !ok {
			gone = append(gone, id)
			continue
		}
		info := room.Info()
		if info.Locked || info.Phase >= game.PhaseFinished || info.Players >= info.MaxPlayers {
			continue
		}
		cs = append(cs, cand{room, info.Players})
	}
	h.prune(key, gone)
	slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(b.players, a.players) })
	out := make([]*game.Room, len(cs))
	for i, c := range cs {
		out[i] = c.room
	}
	return out
}

// hasRoomFor reports whether the session may join one more room.
func (s *Session) hasRoomFor() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms) < s.h.cfg.MaxRoomsPerUser
}

// errReplied is a join refusal that was already answered.
var errReplied = errors.New("hub: refusal already sent")

// tryJoin asks for a seat and answers the request: Joined from the room's
// callback, or an Error. It reports whether the request was queued.
func (s *Session) tryJoin(id uint32, room *game.Room, spectator bool, password string, resumeTick uint64) bool {
	if err := s.reserveSeat(id, room, spectator, password, resumeTick); err != nil {
		s.refuseJoin(id, err)
		return false
	}
	return true
}

// refuseJoin answers a join refused at once.
func (s *Session) refuseJoin(id uint32, err error) {
	if !errors.Is(err, errReplied) {
		s.sendError(id, joinErrorCode(err), err.Error())
	}
}

// reserveSeat records a pending membership and asks the room for a seat.
// A refusal the room can tell at once is returned (errReplied when it was
// answered already); a later one (the game refused) is answered from the
// callback.
func (s *Session) reserveSeat(id uint32, room *game.Room, spectator bool, password string, resumeTick uint64) error {
	if code := s.reserve(room, spectator); code != 0 {
		s.sendError(id, code, "")
		return errReplied
	}
	err := room.Join(game.JoinRequest{
		UserID: s.claims.UserID, Name: s.claims.Name, Password: password,
		Spectator: spectator, Client: s, ResumeTick: resumeTick,
	}, func(res game.JoinResult) { s.joined(id, room, res) })
	if err != nil {
		s.unreserve(room.ID())
	}
	return err
}

// joined runs on the room's tick worker with the outcome of a join, before
// the member's first state frame.
func (s *Session) joined(id uint32, room *game.Room, res game.JoinResult) {
	if res.Err != nil {
		s.unreserve(room.ID())
		s.sendError(id, joinErrorCode(res.Err), res.Err.Error())
		return
	}
	m, keep := s.confirm(room.ID(), res.Seat, res.Spectator)
	switch {
	case m.leaving:
		// A LeaveRoom came while the join was pending: answer the join,
		// then give the seat up and answer the leave.
		s.sendJoined(id, room, res)
		_ = room.LeaveAs(res.Seat, s.claims.UserID, s)
		s.reply(m.leaveID, leftMessage(room.ID(), tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, ""))
		return
	case !keep && s.replaced.Load():
		// A newer login took over before the seat was confirmed; it was
		// never told of this seat, so give it up.
		_ = room.LeaveAs(res.Seat, s.claims.UserID, s)
		return
	case !keep:
		// The connection closed while the join was queued: hold the seat.
		s.release(membership{room: room, id: room.ID(), seat: res.Seat, spectator: res.Spectator})
		return
	}
	s.h.stats.Joins.Add(1)
	if res.Resumed {
		s.h.stats.Resumes.Add(1)
		s.h.dropHeld(s.claims.UserID, room.ID())
	}
	info := s.sendJoined(id, room, res)
	s.h.social.enterRoom(s, roomPresence{id: info.ID, game: info.Game, private: info.Private})
}

// sendJoined answers a join with the room as it is now, and returns the
// room's listing entry.
func (s *Session) sendJoined(id uint32, room *game.Room, res game.JoinResult) game.RoomInfo {
	info := room.Info()
	if id == 0 {
		return info
	}
	j := &tickroomv1.Joined{
		RoomId: info.ID, Game: info.Game, Seat: res.Seat, Spectator: res.Spectator,
		TickRate: uint32(info.TickRate), Resumed: res.Resumed, Metadata: info.Metadata,
		Options: room.Options(), Tick: info.Tick, MaxPlayers: uint32(info.MaxPlayers),
	}
	for _, p := range room.Players() {
		j.Players = append(j.Players, &tickroomv1.Player{Seat: p.Seat, UserId: p.UserID, Name: p.Name, Connected: p.Connected})
	}
	s.reply(id, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Joined{Joined: j}})
	return info
}

// leaveRoom gives up a seat at once and answers Left; a leave of a join
// still pending is answered once the join is settled.
func (s *Session) leaveRoom(id uint32, roomID string) {
	if s.pendingLeave(roomID, id) {
		return
	}
	s.mu.Lock()
	m := s.find([]byte(roomID))
	var mm membership
	if m != nil && m.seat != 0 {
		mm = *m
		s.removeLocked(roomID)
	}
	s.mu.Unlock()
	if mm.room == nil {
		s.sendError(id, protocol.ErrorNotInRoom, "")
		return
	}
	_ = mm.room.LeaveAs(mm.seat, s.claims.UserID, s)
	s.h.social.exitRoom(s, roomID)
	s.reply(id, leftMessage(roomID, tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, ""))
}

// joinErrorCode maps a runtime join error to its wire code.
func joinErrorCode(err error) protocol.ErrorCode {
	switch {
	case errors.Is(err, game.ErrRoomFull):
		return protocol.ErrorRoomFull
	case errors.Is(err, game.ErrWrongPassword):
		return protocol.ErrorWrongPassword
	case errors.Is(err, game.ErrLocked), errors.Is(err, game.ErrRefused):
		return protocol.ErrorForbidden
	case errors.Is(err, game.ErrFinished), errors.Is(err, game.ErrRuntimeClosed):
		return protocol.ErrorRoomClosing
	case errors.Is(err, game.ErrInboxFull):
		return protocol.ErrorTooManyRequestsInFlight
	}
	return protocol.ErrorInternal
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
