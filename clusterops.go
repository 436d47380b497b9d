package tickroom

import (
	"context"
	"slices"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/server/admin"
)

// adminCluster is the admin API's view of the cluster (admin.Cluster):
// the node registry, the room directory, and operator requests carried to
// other nodes on the bus.
type adminCluster struct {
	node  *cluster.Node
	dir   *cluster.Directory
	ops   *cluster.Ops
	users *cluster.Users
}

var _ admin.Cluster = (*adminCluster)(nil)

func (a *adminCluster) Nodes(ctx context.Context) ([]admin.NodeInfo, error) {
	ns, err := a.node.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]admin.NodeInfo, 0, len(ns))
	for _, n := range ns {
		out = append(out, admin.NodeInfo{
			ID: n.ID, WebSocketURL: n.WebSocketURL, HTTPURL: n.HTTPURL,
			Conns: n.Conns, Sessions: n.Sessions, Rooms: n.Rooms, Draining: n.Draining,
			Started: n.Started, LastHeartbeat: n.Seen,
		})
	}
	return out, nil
}

func (a *adminCluster) RoomNode(ctx context.Context, roomID string) (string, error) {
	return a.dir.RoomNode(ctx, roomID)
}

func (a *adminCluster) UserNodes(ctx context.Context, userID string) ([]string, error) {
	found, err := a.users.Locate(ctx, userID)
	if err != nil {
		return nil, err
	}
	var nodes []string
	for _, us := range found[userID] {
		if !slices.Contains(nodes, us.Node) {
			nodes = append(nodes, us.Node)
		}
	}
	return nodes, nil
}

func (a *adminCluster) Call(ctx context.Context, node string, req []byte) ([]byte, error) {
	return a.ops.Call(ctx, node, req)
}

// adminConfig joins the admin API to the cluster, or names the single
// node and its URLs.
func (s *Server) adminConfig(cfg *admin.Config) {
	if s.node == nil {
		cfg.NodeID = s.opts.NodeID
		cfg.URLs = s.publicURLs
		return
	}
	cfg.NodeID = s.node.ID()
	cfg.Cluster = &adminCluster{node: s.node, dir: s.dir, ops: s.xnode.ops, users: s.xnode.users}
}
