package tickroom

import (
	"context"
	"fmt"
	"strings"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/server/account"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/hub"
)

// newNode makes the cluster node when Options.Redis is set; it connects
// only at Start.
func (s *Server) newNode() error {
	if s.opts.Redis == "" {
		return nil
	}
	rdb, err := cluster.Dial(s.opts.Redis)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	s.node, err = cluster.New(cluster.Config{
		Client: rdb, ID: s.opts.NodeID, Logger: s.log,
		Load: func() cluster.Load {
			return cluster.Load{Conns: s.ws.Conns(), Rooms: s.hub.Runtime().RoomCount(), Sessions: s.hub.OpenSessions()}
		},
	})
	if err != nil {
		_ = rdb.Close()
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	return nil
}

// hubBuckets returns the token buckets the hub's bound on wrong room
// passwords keeps in Redis, nil without Options.Redis.
func (s *Server) hubBuckets() hub.Buckets {
	if s.node == nil {
		return nil
	}
	return cluster.NewBuckets(s.node)
}

// accountGuesses returns the accounts' wrong passwords the account
// service keeps in Redis, nil without Options.Redis.
func (s *Server) accountGuesses() account.Guesses {
	if s.node == nil {
		return nil
	}
	return cluster.NewGuesses(s.node)
}

// loginBuckets returns the buckets of the logins an address may make
// that the login handler keeps in Redis, nil without Options.Redis.
func (s *Server) loginBuckets() auth.Logins {
	if s.node == nil {
		return nil
	}
	return cluster.NewLogins(s.node)
}

// newDirectory makes the cluster-wide room directory over the hub's
// runtime and hands it to the hub.
func (s *Server) newDirectory() error {
	if s.node == nil {
		return nil
	}
	d, err := cluster.NewDirectory(cluster.DirectoryConfig{Node: s.node, Runtime: s.hub.Runtime(), MaxUserSeats: s.opts.MaxRoomsPerUser, SyncInterval: s.opts.directorySync, Logger: s.log})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	s.dir = d
	s.hub.SetCluster(d)
	return nil
}

// newMigrator makes the migrator that moves this node's saveable rooms
// elsewhere when it drains, and restores those other nodes move here.
func (s *Server) newMigrator() error {
	if s.node == nil {
		return nil
	}
	m, err := cluster.NewMigrator(cluster.MigratorConfig{
		Node: s.node, Bus: s.xnode.bus, Directory: s.dir, Hub: s.hub, Logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	s.migrator = m
	return nil
}

// startNode registers the node with the URLs it is reached at.
func (s *Server) startNode() error {
	if s.node == nil {
		return nil
	}
	s.node.SetURLs(s.publicURLs())
	if err := s.node.Start(); err != nil {
		return err
	}
	s.dir.Start()
	return nil
}

// publicURLs returns the WebSocket and HTTP URLs the node is reached at:
// the public ones configured, else its listeners' addresses.
func (s *Server) publicURLs() (wsURL, httpURL string) {
	wsURL = s.opts.NodeWebSocketURL
	if wsURL == "" {
		wsURL = s.opts.PublicWebSocketURL
	}
	if !strings.HasPrefix(wsURL, "ws://") && !strings.HasPrefix(wsURL, "wss://") {
		wsURL = "ws://" + s.ws.Addr().String() + WebSocketPath
	}
	httpURL = s.opts.PublicHTTPURL
	if httpURL == "" && s.publicAddr != nil {
		httpURL = "http://" + s.publicAddr.String()
	}
	return wsURL, httpURL
}

// leaveCluster removes the node's registration and closes its Redis
// client.
func (s *Server) leaveCluster(ctx context.Context) {
	if s.node == nil {
		return
	}
	if s.dir != nil {
		if err := s.dir.Close(ctx); err != nil {
			s.log.Warn("cluster: unlisting rooms", "node", s.node.ID(), "err", err)
		}
	}
	s.migrator.Close()
	s.xnode.close(ctx)
	if err := s.node.Close(ctx); err != nil {
		s.log.Warn("cluster: leaving", "node", s.node.ID(), "err", err)
	}
	_ = s.node.Client().Close()
}

// Cluster returns the node's cluster membership, or nil without
// Options.Redis.
func (s *Server) Cluster() *cluster.Node { return s.node }
