package hub

import (
	"cmp"
	"errors"
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
	s.send(&tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_RoomList{RoomList: out}})
}

func metadataMatches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// createRoom creates a room and joins it.
func (s *Session) createRoom(id uint32, q *tickroomv1.CreateRoom) {
	room, code, msg := s.h.newRoom(game.RoomOptions{
		Game: q.Game, Options: q.Options, Metadata: q.Metadata, Password: q.Password,
		MaxPlayers: int(q.MaxPlayers), Private: q.Private,
	})
	if code != 0 {
		s.sendError(id, code, msg)
		return
	}
	if err := s.tryJoin(id, room, q.Spectate, q.Password, 0); err != nil {
		s.sendError(id, joinErrorCode(err), err.Error())
	}
}

// newRoom creates a room and, when it is public and has no password,
// indexes it for quick-match.
func (h *Hub) newRoom(opts game.RoomOptions) (*game.Room, protocol.ErrorCode, string) {
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
		key := matchKey(opts.Game, opts.MaxPlayers, opts.Options)
		h.mu.Lock()
		h.matches[key] = append(h.matches[key], room.ID())
		h.mu.Unlock()
	}
	return room, 0, ""
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
	if err := s.tryJoin(id, room, q.Spectate, q.Password, q.ResumeTick); err != nil {
		s.sendError(id, joinErrorCode(err), err.Error())
	}
}

// quickMatch joins the fullest open room of the game with the same options,
// or creates one. Seats are reserved synchronously by the room, so
// concurrent quick-matches never overfill it: a room that filled meanwhile
// refuses and the next one is tried.
func (s *Session) quickMatch(id uint32, q *tickroomv1.QuickMatch) {
	key := matchKey(q.Game, int(q.MaxPlayers), q.Options)
	for _, room := range s.h.candidates(key) {
		err := s.tryJoin(id, room, false, "", 0)
		if err == nil {
			return
		}
		if !errors.Is(err, game.ErrRoomFull) && !errors.Is(err, game.ErrLocked) && !errors.Is(err, game.ErrFinished) {
			s.sendError(id, joinErrorCode(err), err.Error())
			return
		}
	}
	room, code, msg := s.h.newRoom(game.RoomOptions{Game: q.Game, Options: q.Options, MaxPlayers: int(q.MaxPlayers)})
	if code != 0 {
		s.sendError(id, code, msg)
		return
	}
	if err := s.tryJoin(id, room, false, "", 0); err != nil {
		s.sendError(id, joinErrorCode(err), err.Error())
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
	if len(gone) > 0 {
		h.mu.Lock()
		h.matches[key] = slices.DeleteFunc(h.matches[key], func(id string) bool { return slices.Contains(gone, id) })
		if len(h.matches[key]) == 0 {
			delete(h.matches, key)
		}
		h.mu.Unlock()
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(b.players, a.players) })
	out := make([]*game.Room, len(cs))
	for i, c := range cs {
		out[i] = c.room
	}
	return out
}

// tryJoin reserves a membership and asks the room for a seat. A refusal the
// room can tell at once is returned; a later one (the game refused) is
// answered from the callback.
func (s *Session) tryJoin(id uint32, room *game.Room, spectator bool, password string, resumeTick uint64) error {
	if code := s.reserve(room, spectator); code != 0 {
		s.sendError(id, code, "")
		return nil
	}
	err := room.Join(game.JoinRequest{
		UserID: s.claims.UserID, Name: s.claims.Name, Password: password,
		Spectator: spectator, Client: s, ResumeTick: resumeTick,
	}, func(res game.JoinResult) { s.joined(id, room, spectator, res) })
	if err != nil {
		s.unreserve(room.ID())
	}
	return err
}

// joined runs on the room's tick worker with the outcome of a join, before
// the member's first state frame.
func (s *Session) joined(id uint32, room *game.Room, spectator bool, res game.JoinResult) {
	if res.Err != nil {
		s.unreserve(room.ID())
		s.sendError(id, joinErrorCode(res.Err), res.Err.Error())
		return
	}
	if !s.confirm(room.ID(), res.Seat) {
		// The connection closed while the join was queued: hold the seat.
		s.release(membership{room: room, id: room.ID(), seat: res.Seat, spectator: spectator})
		return
	}
	s.h.stats.Joins.Add(1)
	if res.Resumed {
		s.h.stats.Resumes.Add(1)
		s.h.dropHeld(s.claims.UserID, room.ID())
	}
	info := room.Info()
	j := &tickroomv1.Joined{
		RoomId: info.ID, Game: info.Game, Seat: res.Seat, Spectator: spectator,
		TickRate: uint32(info.TickRate), Resumed: res.Resumed, Metadata: info.Metadata,
		Options: room.Options(), Tick: info.Tick, MaxPlayers: uint32(info.MaxPlayers),
	}
	for _, p := range room.Players() {
		j.Players = append(j.Players, &tickroomv1.Player{Seat: p.Seat, UserId: p.UserID, Name: p.Name, Connected: p.Connected})
	}
	s.send(&tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_Joined{Joined: j}})
	s.h.social.enterRoom(s, roomPresence{id: info.ID, game: info.Game, private: info.Private})
}

// leaveRoom gives up a seat at once and answers Left.
func (s *Session) leaveRoom(id uint32, roomID string) {
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
	_ = mm.room.Leave(mm.seat)
	s.h.social.exitRoom(s, roomID)
	s.sendLeft(id, roomID, tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, "")
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
