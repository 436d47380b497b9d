package tickroom

import (
	"context"
	"fmt"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/server/hub"
)

// clusterUsers reach users across the nodes of a cluster: one session per
// user cluster-wide, kicks and bans on every node, and the social layer's
// requests (direct messages, friends, presence, notices, lobby channels)
// wherever the user is connected. docs/cluster.md describes the keys and
// channels.
type clusterUsers struct {
	node  *cluster.Node
	bus   *cluster.Bus
	users *cluster.Users
	reg   *cluster.Registry
	peers *cluster.Social
	rev   *cluster.Revocations
	ops   *cluster.Ops
}

// newClusterUsers builds the pieces over the node's Redis client, keeping
// kicks and bans in inner (nil: memory) as well; nothing without
// Options.Redis.
func (s *Server) newClusterUsers(inner hub.Revocations) error {
	if s.node == nil {
		return nil
	}
	n := s.node
	bus, err := cluster.NewBus(cluster.BusConfig{
		Client: n.Client(), Node: n.ID(), Prefix: n.Keys().Prefix, Timeout: n.Timeout(), Logger: s.log,
		Raw: n.RawPeers,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	users, err := cluster.NewUsers(cluster.UsersConfig{
		Client: n.Client(), Node: n.ID(), Prefix: n.Keys().Prefix, Timeout: n.Timeout(),
		NodeLiveness: true, Logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	s.xnode = &clusterUsers{
		node: n, bus: bus, users: users,
		reg:   cluster.NewRegistry(users, bus, s.log),
		peers: cluster.NewSocial(bus, users, s.log),
		rev:   cluster.NewRevocations(inner, bus, s.log),
		ops:   cluster.NewOps(bus),
	}
	// A process started under the id of a live node takes none of that
	// node's messages, nor records its sessions as that node's, until its
	// registration is its own. These hooks run first: the others make
	// calls, whose answers come on the node's channel.
	bus.WaitForNode(n)
	s.xnode.reg.WaitForNode(n)
	// Sessions are ordered across nodes on Redis's clock, not each node's.
	s.xnode.reg.UseClockOf(n)
	s.xnode.peers.SetBatchPeers(n.BatchPeers)
	s.xnode.peers.SetUnreachable(n.Unreachable)
	// After Redis lost its data, or this node was cut off past its TTL.
	n.OnRegister(users.Republish)
	// The other nodes may have taken this one for gone meanwhile, and told
	// their users this node's users are offline.
	n.OnRegister(s.xnode.peers.AnnounceRemote)
	// Presence pushes made while this node could not reach Redis, to its
	// users or by them, were lost: they are asked again.
	n.OnRegister(s.xnode.peers.Recheck)
	return nil
}

// hubConfig sets the hub's cluster seams.
func (c *clusterUsers) hubConfig(cfg *hub.Config) {
	if c == nil {
		return
	}
	cfg.Registry, cfg.Revocations, cfg.Social.Peers = c.reg, c.rev, c.peers
}

// bind hands the hub to the pieces that serve other nodes' requests.
func (c *clusterUsers) bind(h *hub.Hub) {
	if c == nil {
		return
	}
	c.reg.Bind(h)
	c.rev.Bind(h)
	c.peers.Bind(h.Social())
}

// start subscribes to the bus and starts refreshing the user records.
func (c *clusterUsers) start() {
	if c == nil {
		return
	}
	c.bus.Start()
	c.users.Start()
	c.peers.WatchNodes(c.node.Nodes, c.node.LocalTime, c.node.Heartbeat(), 4*c.node.Timeout())
}

// close records what is queued (up to ctx) and stops every goroutine.
func (c *clusterUsers) close(ctx context.Context) {
	if c == nil {
		return
	}
	c.reg.Close(ctx)
	// The hub closes the sessions only after the node left the cluster,
	// when the registry no longer records their ends: remove them now.
	_ = c.users.Leave(ctx)
	c.peers.Close()
	c.ops.Close()
	c.users.Close()
	c.bus.Close()
}
