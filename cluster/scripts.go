package cluster

import (
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/game"
)

// seatedScore scores a seated player in a room's seats set; reservations
// are scored by their expiry (ms), always far below it.
const seatedScore = "9000000000000000"

// The directory's scripts. Each runs atomically in Redis, so a seat is
// counted and taken in one step: two nodes can never both take a room's
// last seat. Key names built inside a script (node and room keys reached
// from an index) tie them to a single Redis, not Redis Cluster.

// nowLua is Redis's clock in milliseconds.
const nowLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// publishScript writes a room's listing and its seated players.
// KEYS: room hash, seats, room index, node's room set, pool (” for none),
// nodes-with-rooms set, lost tombstone.
// ARGV: room id, open ('1'/'0'), max players, node id, user seats key
// prefix, the number n of field arguments, n field arguments (name,
// value, ...), then the seated user ids. A seated user's reservation of
// the room leaves its UserSeats set.
var publishScript = redis.NewScript(nowLua + `
local nf = tonumber(ARGV[6])
redis.call('HSET', KEYS[1], unpack(ARGV, 7, 6 + nf))
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[6], ARGV[4])
redis.call('DEL', KEYS[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local want = {}
for i = 7 + nf, #ARGV do want[ARGV[i]] = true end
for _, u in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], ` + seatedScore + `, '+inf')) do
  if not want[u] then redis.call('ZREM', KEYS[2], u) end
end
for i = 7 + nf, #ARGV do
  if redis.call('ZADD', KEYS[2], ` + seatedScore + `, ARGV[i]) == 0 then
    redis.call('ZREM', ARGV[5] .. ARGV[i], ARGV[1])
  end
end
if KEYS[5] ~= '' then
  local free = 0
  if ARGV[2] == '1' then free = math.max(0, tonumber(ARGV[3]) - redis.call('ZCARD', KEYS[2])) end
  redis.call('ZADD', KEYS[5], free, ARGV[1])
end
return 1
`)

// unpublishScript removes a room this node listed; a room another node
// lists now (it moved there) only leaves this node's set. A node whose
// set is left empty leaves the nodes-with-rooms set (publishScript adds
// it back with its next room), so that a node that lists nothing, or
// closed, stays in no key.
// KEYS: room hash, seats, room index, node's room set, nodes-with-rooms
// set. ARGV: room id, pool key prefix, node id.
var unpublishScript = redis.NewScript(`
redis.call('SREM', KEYS[4], ARGV[1])
if redis.call('SCARD', KEYS[4]) == 0 then redis.call('SREM', KEYS[5], ARGV[3]) end
local owner = redis.call('HGET', KEYS[1], 'node')
if owner and owner ~= ARGV[3] then return 0 end
local pool = redis.call('HGET', KEYS[1], 'pool')
if pool and pool ~= '' then redis.call('ZREM', ARGV[2] .. pool, ARGV[1]) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
`)

// userSeatsLua admits a new reservation of room ARGV_ROOM for the user
// whose UserSeats set is USEATS, at most CAP untaken ones at once (0: no
// cap); it returns 'budget' past the cap and records the reservation
// otherwise. A user re-reserving a room it holds keeps its one entry.
func userSeatsLua(useats, room, ttl, limit string) string {
	return `
redis.call('ZREMRANGEBYSCORE', ` + useats + `, '-inf', now)
if tonumber(` + limit + `) > 0 and not redis.call('ZSCORE', ` + useats + `, ` + room + `)
  and redis.call('ZCARD', ` + useats + `) >= tonumber(` + limit + `) then
  return {'budget'}
end
redis.call('ZADD', ` + useats + `, now + ` + ttl + `, ` + room + `)
redis.call('PEXPIRE', ` + useats + `, ` + ttl + `)
`
}

// tokenLua sets the Lua local tok to the user's token for a room, the
// one its UserToken key UTK names while it lives, else NEWTOK, and
// (re)writes both keys with VALUE for TTL ms: however often a user asks,
// it holds one token key per room (and one placement).
func tokenLua(utk, tokPrefix, newTok, value, ttl string) string {
	return `
local tok = redis.call('GET', ` + utk + `) or ` + newTok + `
redis.call('SET', ` + utk + `, tok, 'PX', ` + ttl + `)
redis.call('SET', ` + tokPrefix + ` .. tok, ` + value + `, 'PX', ` + ttl + `)
`
}

// placeScript writes the token that lets a user make a new room on a node.
// KEYS: the user's placement UserToken. ARGV: token prefix, new token,
// value (node|user|), ttl ms. Returns the token.
var placeScript = redis.NewScript(tokenLua("KEYS[1]", "ARGV[1]", "ARGV[2]", "ARGV[3]", "ARGV[4]") + `
return tok
`)

// reserveScript holds a player seat in a room for a user.
// KEYS: room hash, seats, the user's UserToken for the room, user's
// UserSeats. ARGV: user, ttl ms, node key prefix, pool key prefix, room
// id, cap of the user's untaken reservations (0 none), password digest
// ('-' skips the check), token prefix, new token.
// Returns {'ok', node, ws, token} or {reason}: gone, lost, closed
// (finished), locked (the room is locked or its game closed its seats),
// password, full, budget; closed and locked are told before a wrong
// password, in that order, as the room's own node does (game.Room Join).
// A user already seated keeps its seat unchecked.
var reserveScript = redis.NewScript(nowLua + `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
local f = redis.call('HMGET', KEYS[1], 'node', 'max', 'closed', 'pool', 'open', 'pwd', 'locked', 'seatsclosed', 'phase')
local ws = redis.call('HGET', ARGV[3] .. f[1], 'ws')
if not ws then return {'lost'} end
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local sc = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not sc and (tonumber(f[9]) or 0) >= ` + strconv.Itoa(int(game.PhaseFinished)) + ` then return {'closed'} end
if not sc and (f[7] == '1' or f[8] == '1') then return {'locked'} end
if not sc or tonumber(sc) < ` + seatedScore + ` then
  if ARGV[7] ~= '-' and f[6] and f[6] ~= '' and f[6] ~= ARGV[7] then return {'password'} end
end
if not sc then
  if f[3] == '1' then return {'closed'} end
  if redis.call('ZCARD', KEYS[2]) >= tonumber(f[2]) then return {'full'} end
` + userSeatsLua("KEYS[4]", "ARGV[5]", "ttl", "ARGV[6]") + `
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
elseif tonumber(sc) < ` + seatedScore + ` then
` + userSeatsLua("KEYS[4]", "ARGV[5]", "ttl", "ARGV[6]") + `
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
end
if f[4] and f[4] ~= '' then
  local free = 0
  if f[5] == '1' then free = math.max(0, tonumber(f[2]) - redis.call('ZCARD', KEYS[2])) end
  redis.call('ZADD', ARGV[4] .. f[4], free, ARGV[5])
end
` + tokenLua("KEYS[3]", "ARGV[8]", "ARGV[9]", "f[1] .. '|' .. ARGV[1] .. '|' .. ARGV[5]", "ttl") + `
return {'ok', f[1], ws, tok}
`)

// releaseScript gives back a reservation that was not taken (a seated
// player keeps its seat). KEYS: room hash, seats, user's UserSeats. ARGV:
// user, pool prefix, room id.
var releaseScript = redis.NewScript(`
redis.call('ZREM', KEYS[3], ARGV[3])
local sc = redis.call('ZSCORE', KEYS[2], ARGV[1])
if sc and tonumber(sc) < ` + seatedScore + ` then
  redis.call('ZREM', KEYS[2], ARGV[1])
  local f = redis.call('HMGET', KEYS[1], 'max', 'pool', 'open')
  if f[2] and f[2] ~= '' and f[3] == '1' then
    redis.call('ZADD', ARGV[2] .. f[2], math.max(0, tonumber(f[1]) - redis.call('ZCARD', KEYS[2])), ARGV[3])
  end
end
return 1
`)

// reservedScript returns the milliseconds until the last live
// reservation of a room's seats lapses, 0 when it has none; seated
// players are not reservations. KEYS: seats. ARGV: the user whose
// reservation is not counted.
var reservedScript = redis.NewScript(nowLua + `
local last = 0
local r = redis.call('ZRANGEBYSCORE', KEYS[1], now, '(` + seatedScore + `', 'WITHSCORES')
for i = 1, #r, 2 do
  local at = tonumber(r[i + 1])
  if r[i] ~= ARGV[1] and at > now and at > last then last = at end
end
if last == 0 then return 0 end
return last - now
`)

// matchScript reserves a seat in the fullest open room of a pool on a
// live node that is not draining: the pool is scored by free seats, so
// the lowest score of at least 1 is the fullest room.
// Rooms the quick-match passes over (their game refused it at the tick,
// or its connection is in them) count in the scan limit; the token's
// value carries the refusing ones after the room id (",<id>,<id>"), for
// the node the match sends the player to.
// KEYS: pool, user's UserSeats. ARGV: user, ttl ms, node key prefix, room
// key prefix, token prefix, scan limit, cap of the user's untaken
// reservations (0 none), new token, UserToken prefix, the token value's
// suffix, then the room ids to pass over.
// Returns {'ok', room, node, ws, token}, {'none'} or {'budget'}.
var matchScript = redis.NewScript(nowLua + `
local ttl = tonumber(ARGV[2])
local skip = {}
for i = 11, #ARGV do skip[ARGV[i]] = true end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], 1, '+inf', 'LIMIT', 0, tonumber(ARGV[6]))
for _, id in ipairs(ids) do
  -- A room that refused this quick-match at the tick is passed over.
  if not skip[id] then
    local rk = ARGV[4] .. id
    local f = redis.call('HMGET', rk, 'node', 'max', 'open')
    if not f[1] then
      redis.call('ZREM', KEYS[1], id)
    else
      local nf = redis.call('HMGET', ARGV[3] .. f[1], 'ws', 'draining')
      if nf[1] and nf[2] ~= '1' and f[3] == '1' then
        local seats = rk .. ':seats'
        redis.call('ZREMRANGEBYSCORE', seats, '-inf', now)
        local n = redis.call('ZCARD', seats)
        local sc = redis.call('ZSCORE', seats, ARGV[1])
        if sc or n < tonumber(f[2]) then
          if not sc or tonumber(sc) < ` + seatedScore + ` then
` + userSeatsLua("KEYS[2]", "id", "ttl", "ARGV[7]") + `
          end
          if not sc then
            redis.call('ZADD', seats, now + ttl, ARGV[1])
            n = n + 1
          end
          redis.call('ZADD', KEYS[1], math.max(0, tonumber(f[2]) - n), id)
` + tokenLua("ARGV[9] .. id .. ':' .. ARGV[1]", "ARGV[5]", "ARGV[8]", "f[1] .. '|' .. ARGV[1] .. '|' .. id .. ARGV[10]", "ttl") + `
          return {'ok', id, f[1], nf[1], tok}
        end
        redis.call('ZADD', KEYS[1], 0, id)
      end
    end
  end
end
return {'none'}
`)

// sweepScript removes the rooms of nodes whose registration expired,
// leaving a tombstone so that their players learn the room was lost; a
// room listed by another node since (it moved) is left alone.
// KEYS: nodes-with-rooms set. ARGV: node key prefix, node rooms prefix,
// room key prefix, room index, pool prefix, lost prefix, tombstone ttl ms.
// Returns the number of rooms removed.
var sweepScript = redis.NewScript(`
local removed = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. node) == 0 then
    local set = ARGV[2] .. node
    for _, id in ipairs(redis.call('SMEMBERS', set)) do
      local rk = ARGV[3] .. id
      local owner = redis.call('HGET', rk, 'node')
      -- A room that moved to another node (a drain) is that node's now.
      if owner == false or owner == node then
        local pool = redis.call('HGET', rk, 'pool')
        if pool and pool ~= '' then redis.call('ZREM', ARGV[5] .. pool, id) end
        redis.call('DEL', rk, rk .. ':seats')
        redis.call('ZREM', ARGV[4], id)
        redis.call('SET', ARGV[6] .. id, node, 'PX', tonumber(ARGV[7]))
        removed = removed + 1
      end
    end
    redis.call('DEL', set)
    redis.call('SREM', KEYS[1], node)
  end
end
return removed
`)

// dropScript removes rooms this node's set lists that this process does
// not hold (listed by a previous process under the same id, which crashed
// and was started again before its registration expired, so the sweep
// never saw it dead), leaving the sweep's tombstone; a room another node
// lists now only leaves the set.
// A node whose set is left empty leaves the nodes-with-rooms set, as in
// unpublishScript.
// KEYS: the node's room set, nodes-with-rooms set. ARGV: node id, room
// key prefix, room index, pool prefix, lost prefix, tombstone ttl ms,
// then the room ids.
// Returns the number of rooms removed.
var dropScript = redis.NewScript(`
local removed = 0
for i = 7, #ARGV do
  local id = ARGV[i]
  local rk = ARGV[2] .. id
  local owner = redis.call('HGET', rk, 'node')
  if owner == false or owner == ARGV[1] then
    local pool = redis.call('HGET', rk, 'pool')
    if pool and pool ~= '' then redis.call('ZREM', ARGV[4] .. pool, id) end
    redis.call('DEL', rk, rk .. ':seats')
    redis.call('ZREM', ARGV[3], id)
    if owner then
      redis.call('SET', ARGV[5] .. id, ARGV[1], 'PX', tonumber(ARGV[6]))
      removed = removed + 1
    end
  end
  redis.call('SREM', KEYS[1], id)
end
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return removed
`)

// listScript returns a page of rooms that pass the filters, walking the
// room index by id from a page token, at most a bounded number of rooms
// per call. KEYS: room index. ARGV: room key prefix, node key prefix,
// after (” from the start), limit, game (” any), joinable ('1'),
// metadata filter (JSON object), scan limit.
// Returns {next, room...}: each room a flat field/value array with its id
// and seat count added; next is ” at the end of the index.
var listScript = redis.NewScript(nowLua + `
local limit = tonumber(ARGV[4])
local scanMax = tonumber(ARGV[8])
local want = cjson.decode(ARGV[7])
local start = '-'
if ARGV[3] ~= '' then start = '(' .. ARGV[3] end
local out = {''}
local scanned = 0
local alive = {}
while scanned < scanMax do
  local ids = redis.call('ZRANGEBYLEX', KEYS[1], start, '+', 'LIMIT', 0, 100)
  if #ids == 0 then return out end
  for _, id in ipairs(ids) do
    scanned = scanned + 1
    start = '(' .. id
    local rk = ARGV[1] .. id
    local h = redis.call('HGETALL', rk)
    if #h == 0 then
      redis.call('ZREM', KEYS[1], id)
    else
      local t = {}
      for i = 1, #h, 2 do t[h[i]] = h[i + 1] end
      if alive[t.node] == nil then alive[t.node] = redis.call('EXISTS', ARGV[2] .. t.node) == 1 end
      local ok = alive[t.node] and t.private ~= '1' and (ARGV[5] == '' or t.game == ARGV[5])
      local seats = 0
      if ok then
        seats = redis.call('ZCOUNT', rk .. ':seats', now, '+inf')
        if ARGV[6] == '1' and (t.closed == '1' or t.seatsclosed == '1' or seats >= tonumber(t.max)) then ok = false end
      end
      if ok and next(want) ~= nil then
        local meta = cjson.decode(t.meta or '{}')
        for k, v in pairs(want) do
          if meta[k] ~= v then ok = false end
        end
      end
      if ok then
        h[#h + 1] = 'id'
        h[#h + 1] = id
        h[#h + 1] = 'seats'
        h[#h + 1] = tostring(seats)
        out[#out + 1] = h
        if #out == limit + 1 then
          out[1] = id
          return out
        end
      end
    end
    if scanned >= scanMax then break end
  end
end
out[1] = string.sub(start, 2)
return out
`)
