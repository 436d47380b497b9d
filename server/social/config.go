package social

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/tickroom/tickroom/internal/limits"
)

// Config limits chat, direct messages, friend and block lists and presence
// queries. A rate that is negative or NaN makes New fail naming it; a
// positive one however small is taken, its refusals' retry hint capped at
// an hour.
type Config struct {
	// MaxTextBytes caps a chat line or direct message in bytes; longer text
	// is refused with ERROR_CODE_MESSAGE_TOO_LONG. Zero value means 500.
	MaxTextBytes int
	// HistoryLines is how many recent lines a room or lobby channel keeps
	// for members who join. Zero value means 50.
	HistoryLines int
	// ChatRate is the chat lines and direct messages a user may send per
	// second (its connections to this node together, and those it opens
	// later: reconnecting brings no new burst), with a burst of ChatBurst;
	// the excess is refused with ERROR_CODE_RATE_LIMITED. Zero value
	// means 2.
	ChatRate float64
	// ChatBurst is the chat limiter's burst. Zero value means 10.
	ChatBurst int
	// ChannelLineRate is the lines one lobby channel takes per second from
	// all its members together (on each node of a cluster, from that
	// node's members), with a burst of ChannelLineBurst; a line past it is
	// refused with ERROR_CODE_RATE_LIMITED and a retry_after_ms. ChatRate
	// holds each sender, this the channel: without it every member of a
	// channel would get ChatRate lines a second times the members who
	// chat. Zero value means 20; +Inf turns it off.
	ChannelLineRate float64
	// ChannelLineBurst is the channel line limiter's burst. Zero value
	// means 40.
	ChannelLineBurst int
	// MaxChannels caps the lobby channels that exist at once; joining a new
	// one past it is refused with ERROR_CODE_CHANNEL_NOT_FOUND. Zero value
	// means 1,000.
	MaxChannels int
	// MaxChannelsPerUser caps the lobby channels one connection joins, and
	// the channels one user opened that still exist. Zero value means 8.
	MaxChannelsPerUser int
	// MaxChannelsPerAddress caps the lobby channels opened from one client
	// address (its users together) that still exist; opening one more is
	// refused with ERROR_CODE_LIST_FULL. A user's own share of opened
	// channels is MaxChannelsPerUser. Zero value means 32.
	MaxChannelsPerAddress int
	// ChannelOpenRate is how many lobby channels one user may open per
	// second, sustained (opening is joining a channel this node does not
	// hold; joining one it holds is never limited), with a burst of
	// ChannelOpenBurst; past it the join is refused with
	// ERROR_CODE_RATE_LIMITED and a retry_after_ms. A channel that gets a
	// line leaves a counter in a cluster's Redis for a day, so this rate
	// bounds those keys where the shares above, which count only channels
	// that still exist, do not. Zero value means 0.25 (one every 4 s);
	// +Inf turns the open limits off.
	ChannelOpenRate float64
	// ChannelOpenBurst is the per-user open limiter's burst. Zero value
	// means 8.
	ChannelOpenBurst int
	// ChannelRejoinRate is how many times a second one user may join
	// again a lobby channel its connection is in already (its
	// connections to this node together, and those it opens later), with
	// a burst of ChannelRejoinBurst; past it such a JoinChannel is
	// refused with ERROR_CODE_RATE_LIMITED and a retry_after_ms. Each is
	// answered with the channel's whole history (HistoryLines lines of up
	// to MaxTextBytes, tens of KB) for a request of a few bytes: at the
	// message rate a guest had the node send it megabytes a second. So
	// is a join of a channel another member keeps open that the user
	// left (LeaveChannel) within the last minute, which leaving and
	// joining again replayed as often; a user that left more than 8
	// channels within a minute has every join of a channel held charged
	// until a minute after the 9th last. Otherwise a connection's first
	// join of a channel, a new connection's after a reconnect included,
	// never takes from it, nor does a join that wants no reply (request
	// id 0). Zero value means 0.2 (one every 5 s); +Inf turns it off.
	ChannelRejoinRate float64
	// ChannelRejoinBurst is the rejoin limiter's burst. Zero value means
	// 4.
	ChannelRejoinBurst int
	// StoreReadRate is how many pages of the store one user may ask for
	// a second, GetChannelHistory, GetMatchHistory and GetLeaderboard
	// together (its connections to this node together, and those it
	// opens later), with a burst of StoreReadBurst; past it such a
	// request is refused with ERROR_CODE_RATE_LIMITED and a
	// retry_after_ms before the store is asked. Each is a read of the
	// database answered with up to a few hundred lines (tens or a
	// hundred KB) for a request of a few bytes: bounded only by the
	// reads a connection may have awaiting a reply, one guest had the
	// node read and send hundreds of pages a second. One bucket serves
	// the three, since each costs a read of the one database and a
	// person turns a few pages of one of them at a time. A request
	// refused before it reads (a bad one, or one past the reads it may
	// have awaiting a reply) takes nothing; one the store fails keeps
	// what it took, so that a client asking again while the database
	// fails is held to the rate as ever. Zero value means 1; +Inf turns
	// it off.
	StoreReadRate float64
	// StoreReadBurst is the store read limiter's burst: a lobby's
	// leaderboard, history and channel pages opened at once, and a few
	// pages turned. Zero value means 10.
	StoreReadBurst int
	// ChannelOpenAddressRate is how many lobby channels the users of one
	// client address may open per second together (an IPv6 /64 as one
	// address, the /64s of a /48 sharing clientip.V6SiteFactor addresses'
	// worth), with a burst of ChannelOpenAddressBurst; past it, as past
	// ChannelOpenRate. AddressExempt addresses have no such limit. Zero
	// value means 0.5 (one every 2 s); +Inf turns it off.
	ChannelOpenAddressRate float64
	// ChannelOpenAddressBurst is the per-address open limiter's burst.
	// Zero value means 64 (twice MaxChannelsPerAddress's default).
	ChannelOpenAddressBurst int
	// ChannelOpenKeys bounds the users, and apart from them the addresses
	// and IPv6 /48s, the open limiters track; past it the least recently
	// used is forgotten. Zero value means 16,384.
	ChannelOpenKeys int
	// AddressExempt tells the addresses that have no share of their own.
	// Zero value means loopback addresses.
	AddressExempt func(netip.Addr) bool
	// MaxListSize caps a user's friend list and block list each; the excess
	// is refused with ERROR_CODE_LIST_FULL. Zero value means 500.
	MaxListSize int
	// MaxRequestsPerAddress caps, with a Graph, the friend requests
	// standing for one user that were sent from one client address (an
	// IPv6 /64 as one address, the /64s of a /48 sharing
	// clientip.V6SiteFactor addresses' worth): a new one past it is
	// refused with ERROR_CODE_LIST_FULL, so that the guests of a few
	// addresses, made one every few seconds, cannot fill the MaxListSize
	// requests a user may have standing and leave its real friends
	// refused. The Graph counts the stored requests (on every node, after
	// a restart), and this node adds those it is checking or has yet to
	// store; an acceptance, a decline or a withdrawal frees its place.
	// AddressExempt addresses have no such cap. Zero value means 20.
	MaxRequestsPerAddress int
	// MaxGuestRequests caps, with a Graph, the friend requests standing
	// for one user from guests (accounts with neither a claimed name nor
	// a linked identity) together, whatever their addresses: a guest's
	// new request past it is refused with ERROR_CODE_LIST_FULL, so that
	// guests, made one every few seconds, leave room among the
	// MaxListSize for accounts with a name (a claim per address every
	// 20 s). The Graph counts the stored ones. Zero value means half of
	// MaxListSize (250), at least 1.
	MaxGuestRequests int
	// ContactRate is the contact requests a user may send per second
	// (AddFriend, with or without Remove, AnswerFriend and BlockUser,
	// blocking or unblocking; as ChatRate, its connections to this node
	// together), with a burst of ContactBurst;
	// past it a request is refused with ERROR_CODE_RATE_LIMITED and a
	// retry_after_ms of when it would pass. Each may queue a write to the
	// store, whose write queue every user of the node shares, and in a
	// cluster a look-up through Redis; a person adds, answers or blocks a
	// few users a minute. Zero value means 2.
	ContactRate float64
	// ContactBurst is the contact limiter's burst: enough to decline a
	// screenful of requests at once. Zero value means 20.
	ContactBurst int
	// ContactAddressRate and ContactAddressBurst bound, likewise, the
	// contact requests the users of one client address send together (an
	// IPv6 /64 as one address, the /64s of a /48 sharing
	// clientip.V6SiteFactor addresses' worth); past it, as past
	// ContactRate. Each request or block a user makes is a row of the
	// store, bounded per account (MaxListSize) but not per address, where
	// guests are made one every few seconds: without it one address's 256
	// connections made 512 a second. AddressExempt addresses have no such
	// limit. Zero values mean 4 times ContactRate and ContactBurst (8 a
	// second, a burst of 80), as a room share is 4 times a user's; +Inf
	// turns it off.
	ContactAddressRate  float64
	ContactAddressBurst int
	// OfflineAddressRate and OfflineAddressBurst bound the direct
	// messages to users connected nowhere that the users of one client
	// address have kept together (an IPv6 /64 as one address, the /64s
	// of a /48 sharing clientip.V6SiteFactor addresses' worth); past it
	// such a message is refused with ERROR_CODE_RATE_LIMITED and a
	// retry_after_ms, as past ChatRate, while messages to online users
	// are not held back. Each is two reads and a row of the store, and
	// the node has at most 1,024 awaiting the store: without it the
	// guests of one address, made one every few seconds and each within
	// its own ChatBurst, filled those (256 connections of 10 each) and
	// every other user's was refused. AddressExempt addresses have no
	// such limit. Zero values mean 4 times ChatRate and ChatBurst (8 a
	// second, a burst of 40), as ContactAddressRate; +Inf turns it off.
	OfflineAddressRate  float64
	OfflineAddressBurst int
	// StrangerDirectRate and StrangerDirectBurst bound the direct
	// messages an online user is sent by users who are not its friends
	// (no accepted friendship; a request standing makes none), all of
	// them together, on the node where the user is connected: a message
	// from another node is charged there too when it arrives (a user
	// connected on several nodes has a bucket on each, and a message one
	// refuses is still delivered by the others and answered Ok). Past it
	// the sender gets ERROR_CODE_RATE_LIMITED and a retry_after_ms, and
	// nothing is delivered; friends are never held back by it (the
	// sender's lists on its node or the recipient's on its own naming
	// the other, allowDirectLocked). Each
	// sender is held to ChatRate, but the guests of one address (256
	// connections) or of a few addresses could each message one user at
	// that rate: hundreds of messages a second, which the user could
	// only block one by one. The refusal tells its sender that the user
	// is online, which QueryPresence tells anyone it does not block, and
	// that others message it as fast; a blocked sender is refused
	// ERROR_CODE_BLOCKED first. The users whose buckets are kept are the
	// node's last 16,384 to be messaged so (maxRateUsers). Zero values
	// mean 4 a second and a burst of 20 (the store keeps 20 messages of
	// non-friends for an offline user, store.Config.InboxStrangers);
	// +Inf turns it off.
	StrangerDirectRate  float64
	StrangerDirectBurst int
	// MaxPresenceQuery caps the users one QueryPresence asks about; the
	// rest are ignored. Zero value means 100.
	MaxPresenceQuery int
	// PresenceRate is the users a user's presence queries may name per
	// second (as ChatRate, its connections to this node together), with
	// a burst of PresenceBurst; a query past it is refused whole with
	// ERROR_CODE_RATE_LIMITED and a retry hint of when it would pass. Each user named costs a look-up here and, for a user of another
	// node, a call through Redis to it. A client is pushed its friends'
	// changes and asks again only for a list it shows (a lobby, a
	// leaderboard), so it names a few users a second; a whole friend list
	// every few seconds is still under it. Zero value means 200.
	PresenceRate float64
	// PresenceBurst is the presence limiter's burst, in users named. Zero
	// value means twice MaxListSize (1,000), so a client asking for its
	// whole friend list (in as many queries as MaxPresenceQuery takes),
	// even twice in a row, is never refused; it is raised to
	// MaxPresenceQuery when smaller, so that one query always fits.
	PresenceBurst int
	// MaxPresenceAwaiting caps the users of other nodes that a
	// connection's presence queries await answers about at once; a query
	// that would pass it while others await is refused whole with
	// ERROR_CODE_RATE_LIMITED and a retry hint of 1 s (a query alone is
	// never refused by it). It keeps one connection from filling the
	// node's queues toward Redis and the other nodes, which every user of
	// the node shares, when those are slow. Zero value means MaxListSize
	// (500): a whole friend list asked for at once waits together.
	MaxPresenceAwaiting int
	// Peers reaches the users of the other nodes of a cluster. Zero value
	// means one node: a user with no connection here is offline.
	Peers Peers
	// SharedUsers says that a user may be connected on several nodes of
	// the cluster at once (the hub's MultipleSockets): when its last
	// connection here closes, its friends are told it is offline only if
	// Peers finds it connected on no other node. Zero value means a
	// user's connections are all on one node.
	SharedUsers bool
	// Graph keeps friendships, friend requests and blocks across
	// connections and restarts: a user's side is loaded when it comes
	// online, and a request stands while its sender is offline. Zero value
	// means the lists live in memory while their user is online.
	Graph Graph
	// Inbox keeps direct messages to users connected nowhere until their
	// next login. Zero value means such a message is refused with
	// ERROR_CODE_USER_OFFLINE.
	Inbox Inbox
	// Channels keeps lobby channel lines across restarts: a channel that
	// opens gets its newest HistoryLines lines back (with id 0). Zero
	// value means a channel's history goes with it.
	Channels ChannelStore
}

func (c Config) withDefaults() Config {
	limits.Default(&c.MaxTextBytes, 500)
	limits.Default(&c.HistoryLines, 50)
	limits.Default(&c.ChatRate, 2)
	limits.Default(&c.ChatBurst, 10)
	limits.Default(&c.ChannelLineRate, 20)
	limits.Default(&c.ChannelLineBurst, 40)
	limits.Default(&c.MaxChannels, 1000)
	limits.Default(&c.MaxChannelsPerUser, 8)
	limits.Default(&c.MaxChannelsPerAddress, 32)
	limits.Default(&c.ChannelOpenRate, 0.25)
	limits.Default(&c.ChannelOpenBurst, 8)
	limits.Default(&c.ChannelRejoinRate, 0.2)
	limits.Default(&c.ChannelRejoinBurst, 4)
	limits.Default(&c.StoreReadRate, 1)
	limits.Default(&c.StoreReadBurst, 10)
	limits.Default(&c.ChannelOpenAddressRate, 0.5)
	limits.Default(&c.ChannelOpenAddressBurst, 64)
	limits.Default(&c.ChannelOpenKeys, 16384)
	limits.Default(&c.MaxListSize, 500)
	limits.Default(&c.MaxRequestsPerAddress, 20)
	limits.Default(&c.MaxGuestRequests, max(1, c.MaxListSize/2))
	limits.Default(&c.ContactRate, 2)
	limits.Default(&c.ContactBurst, 20)
	limits.Default(&c.ContactAddressRate, 4*c.ContactRate)
	limits.Default(&c.ContactAddressBurst, 4*c.ContactBurst)
	limits.Default(&c.OfflineAddressRate, 4*c.ChatRate)
	limits.Default(&c.OfflineAddressBurst, 4*c.ChatBurst)
	limits.Default(&c.StrangerDirectRate, 4)
	limits.Default(&c.StrangerDirectBurst, 20)
	if c.AddressExempt == nil {
		c.AddressExempt = func(ip netip.Addr) bool { return ip.IsLoopback() }
	}
	limits.Default(&c.MaxPresenceQuery, 100)
	limits.Default(&c.PresenceRate, 200)
	limits.Default(&c.PresenceBurst, 2*c.MaxListSize)
	c.PresenceBurst = max(c.PresenceBurst, c.MaxPresenceQuery)
	limits.Default(&c.MaxPresenceAwaiting, c.MaxListSize)
	return c
}

// validate refuses negative limits; zero means their default.
func (c Config) validate() error {
	err := errors.Join(
		limits.NonNegative("MaxTextBytes", c.MaxTextBytes),
		limits.NonNegative("HistoryLines", c.HistoryLines),
		limits.NonNegative("ChatRate", c.ChatRate),
		limits.NonNegative("ChatBurst", c.ChatBurst),
		limits.NonNegative("ChannelLineRate", c.ChannelLineRate),
		limits.NonNegative("ChannelLineBurst", c.ChannelLineBurst),
		limits.NonNegative("MaxChannels", c.MaxChannels),
		limits.NonNegative("MaxChannelsPerUser", c.MaxChannelsPerUser),
		limits.NonNegative("MaxChannelsPerAddress", c.MaxChannelsPerAddress),
		limits.NonNegative("ChannelOpenRate", c.ChannelOpenRate),
		limits.NonNegative("ChannelOpenBurst", c.ChannelOpenBurst),
		limits.NonNegative("ChannelRejoinRate", c.ChannelRejoinRate),
		limits.NonNegative("ChannelRejoinBurst", c.ChannelRejoinBurst),
		limits.NonNegative("StoreReadRate", c.StoreReadRate),
		limits.NonNegative("StoreReadBurst", c.StoreReadBurst),
		limits.NonNegative("ChannelOpenAddressRate", c.ChannelOpenAddressRate),
		limits.NonNegative("ChannelOpenAddressBurst", c.ChannelOpenAddressBurst),
		limits.NonNegative("ChannelOpenKeys", c.ChannelOpenKeys),
		limits.NonNegative("MaxListSize", c.MaxListSize),
		limits.NonNegative("MaxRequestsPerAddress", c.MaxRequestsPerAddress),
		limits.NonNegative("MaxGuestRequests", c.MaxGuestRequests),
		limits.NonNegative("ContactRate", c.ContactRate),
		limits.NonNegative("ContactBurst", c.ContactBurst),
		limits.NonNegative("ContactAddressRate", c.ContactAddressRate),
		limits.NonNegative("ContactAddressBurst", c.ContactAddressBurst),
		limits.NonNegative("OfflineAddressRate", c.OfflineAddressRate),
		limits.NonNegative("OfflineAddressBurst", c.OfflineAddressBurst),
		limits.NonNegative("StrangerDirectRate", c.StrangerDirectRate),
		limits.NonNegative("StrangerDirectBurst", c.StrangerDirectBurst),
		limits.NonNegative("MaxPresenceQuery", c.MaxPresenceQuery),
		limits.NonNegative("PresenceRate", c.PresenceRate),
		limits.NonNegative("PresenceBurst", c.PresenceBurst),
		limits.NonNegative("MaxPresenceAwaiting", c.MaxPresenceAwaiting),
	)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// Stats counts social events. Every field is safe to read from any
// goroutine; the metrics layer exports them.
type Stats struct {
	RoomChats           atomic.Uint64 // room chat lines accepted
	ChannelChats        atomic.Uint64 // lobby channel lines accepted
	ChatDeliveries      atomic.Uint64 // chat lines queued on connections
	ChatRefused         atomic.Uint64 // chat lines and direct messages over the chat rate, lobby channel lines over the channel's line rate, and direct messages over their recipient's StrangerDirectRate
	DirectMessages      atomic.Uint64 // direct messages delivered
	DirectRefused       atomic.Uint64 // direct messages refused because the recipient blocked the sender
	Signals             atomic.Uint64 // WebRTC signaling messages relayed
	SignalRefused       atomic.Uint64 // signaling refused: blocked, no shared room or friendship, or over the rate
	PresenceEvents      atomic.Uint64 // presence changes queued on watchers' connections
	PresenceRefused     atomic.Uint64 // presence queries over the presence rate or awaiting too many answers
	Notifications       atomic.Uint64 // operator notifications sent
	GraphLoadErrors     atomic.Uint64 // failed reads of a user's friends, requests and blocks (each retry counts)
	DirectStored        atomic.Uint64 // direct messages kept for an offline recipient
	InboxErrors         atomic.Uint64 // kept direct messages that could not be read or removed at a login
	ChannelLoadErrors   atomic.Uint64 // lobby channels whose kept lines could not be read
	ChannelOpensRefused atomic.Uint64 // lobby channel opens over ChannelOpenRate or ChannelOpenAddressRate
	ContactRefused      atomic.Uint64 // friend and block requests over ContactRate
	DirectBusy          atomic.Uint64 // direct messages to offline users refused while too many await Inbox.Keep
}
