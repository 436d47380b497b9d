package cluster

// Keys names the Redis keys and channels of one cluster; docs/cluster.md
// lists them with their TTLs.
type Keys struct {
	// Prefix starts every name (Config.Prefix).
	Prefix string
}

// Node is the hash of one node's registration (TTL: Config.TTL).
func (k Keys) Node(id string) string { return k.Prefix + "node:" + id }

// NodePrefix is Node's name without the id.
func (k Keys) NodePrefix() string { return k.Prefix + "node:" }

// Nodes is the sorted set of node ids scored by their registration's
// expiry (milliseconds, Redis's clock); expired members are pruned when
// it is read.
func (k Keys) Nodes() string { return k.Prefix + "nodes" }

// Room is the hash of one room's listing (no TTL: removed when the room
// ends, or by the sweep once its node's registration expired).
func (k Keys) Room(id string) string { return k.Prefix + "room:" + id }

// RoomPrefix is Room's name without the id.
func (k Keys) RoomPrefix() string { return k.Prefix + "room:" }

// Seats is the sorted set of a room's seats: seated players scored
// seatedScore, reservations scored by their expiry (ms).
func (k Keys) Seats(id string) string { return k.Room(id) + ":seats" }

// Rooms is the index of every listed room id (all scored 0, walked in
// id order for the lobby's paging).
func (k Keys) Rooms() string { return k.Prefix + "rooms" }

// Pool is a quick-match pool: room ids scored by their free seats.
func (k Keys) Pool(pool string) string { return k.PoolPrefix() + pool }

// PoolPrefix is Pool's name without the pool.
func (k Keys) PoolPrefix() string { return k.Prefix + "pool:" }

// PoolTurn names the user whose new room a quick-match pool waits for
// (TTL: PoolTurnTTL): one new room of a pool at a time, cluster-wide.
func (k Keys) PoolTurn(pool string) string { return k.Prefix + "poolturn:" + pool }

// UserTurn names the PoolTurn key of the turn a user took last (TTL:
// PoolTurnTTL): a user holds one turn, taking another ends it.
func (k Keys) UserTurn(user string) string { return k.Prefix + "uturn:" + user }

// NodeRooms is the set of the rooms a node hosts.
func (k Keys) NodeRooms(node string) string { return k.NodeRoomsPrefix() + node }

// NodeRoomsPrefix is NodeRooms's name without the node.
func (k Keys) NodeRoomsPrefix() string { return k.Prefix + "noderooms:" }

// RoomNodes is the set of node ids that have rooms listed, which the
// sweep walks; a node leaves it when its last room is unlisted.
func (k Keys) RoomNodes() string { return k.Prefix + "roomnodes" }

// Lost is the tombstone of a room whose node died (TTL: LostTTL).
func (k Keys) Lost(id string) string { return k.LostPrefix() + id }

// LostPrefix is Lost's name without the id.
func (k Keys) LostPrefix() string { return k.Prefix + "lost:" }

// Reservation is a seat reservation or room placement token (TTL: the
// reservation's).
func (k Keys) Reservation(token string) string { return k.ReservationPrefix() + token }

// ReservationPrefix is Reservation's name without the token.
func (k Keys) ReservationPrefix() string { return k.Prefix + "resv:" }

// UserToken names the one live token a user holds for a room (roomID ""
// for a room placement): asking again reuses it, so a user keeps at most
// one token per room, and one placement, however often it asks. Room ids
// hold no ':', so the name is unambiguous for any user id.
func (k Keys) UserToken(userID, roomID string) string {
	return k.UserTokenPrefix() + roomID + ":" + userID
}

// UserTokenPrefix is UserToken's name without the room and user.
func (k Keys) UserTokenPrefix() string { return k.Prefix + "utok:" }

// UserSeats is a zset of the rooms userID holds a reservation in that it
// has not taken yet, each scored by its expiry (ms); it bounds the seats
// one user can hold cluster-wide.
func (k Keys) UserSeats(user string) string { return k.UserSeatsPrefix() + user }

// UserSeatsPrefix prefixes UserSeats keys.
func (k Keys) UserSeatsPrefix() string { return k.Prefix + "useats:" }

// Bucket is a token bucket of Buckets, a string (TTL: until the bucket
// is full again, at most Burst/Rate). redis_rate puts its own "rate:"
// before the name.
func (k Keys) Bucket(key string) string { return k.Prefix + "bucket:" + key }

// Guesses is the hash of one account's wrong passwords (Guesses): its
// bucket and its marked addresses (TTL: until the bucket is full again
// and the last mark has ended: at most account.WrongPasswordMemory, an
// hour, at the default limits).
func (k Keys) Guesses(userID string) string { return k.Prefix + "guess:" + userID }

// Login is the hash of one bucket of Logins, an address's logins (TTL:
// until the bucket is full again, at most Burst/Rate; a full bucket has
// no key): key is "a:<address>/32" (IPv4), "a:<prefix>/64" or
// "s:<prefix>/48" (IPv6).
func (k Keys) Login(key string) string { return k.Prefix + "login:" + key }
