package cluster

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// The directory's gauges, read from Redis at each scrape (one pipelined
// round trip under the node's call deadline).
var (
	descUp        = prometheus.NewDesc("tickroom_cluster_redis_up", "1 when this node's last heartbeat reached Redis, else 0.", nil, nil)
	descNodes     = prometheus.NewDesc("tickroom_cluster_nodes", "Nodes registered in the cluster (draining ones included).", nil, nil)
	descRooms     = prometheus.NewDesc("tickroom_cluster_rooms", "Rooms listed in the cluster directory, every node's.", nil, nil)
	descNodeRooms = prometheus.NewDesc("tickroom_cluster_node_rooms", "Rooms this node has listed in the directory.", nil, nil)
	descDraining  = prometheus.NewDesc("tickroom_cluster_nodes_draining", "Registered nodes that drain.", nil, nil)
	descConns     = prometheus.NewDesc("tickroom_cluster_connections", "WebSocket connections open on every registered node, as of each node's last heartbeat.", nil, nil)
	descSessions  = prometheus.NewDesc("tickroom_cluster_sessions", "Logged-in sessions (players online) on every registered node, as of each node's last heartbeat.", nil, nil)
)

// Describe implements prometheus.Collector.
func (d *Directory) Describe(ch chan<- *prometheus.Desc) {
	ch <- descUp
	ch <- descNodes
	ch <- descRooms
	ch <- descNodeRooms
	ch <- descDraining
	ch <- descConns
	ch <- descSessions
}

// Collect implements prometheus.Collector; without Redis only
// tickroom_cluster_redis_up (0) is reported.
func (d *Directory) Collect(ch chan<- prometheus.Metric) {
	up := 0.0
	if d.node.Ready() == nil {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up)
	ctx, cancel := context.WithTimeout(context.Background(), d.node.Timeout())
	defer cancel()
	var rooms, mine *redis.IntCmd
	_, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		rooms = p.ZCard(ctx, d.keys.Rooms())
		mine = p.SCard(ctx, d.keys.NodeRooms(d.node.ID()))
		return nil
	})
	if err != nil {
		return
	}
	n, err := d.node.Nodes(ctx) // prunes expired registrations first
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(len(n)))
	ch <- prometheus.MustNewConstMetric(descRooms, prometheus.GaugeValue, float64(rooms.Val()))
	ch <- prometheus.MustNewConstMetric(descNodeRooms, prometheus.GaugeValue, float64(mine.Val()))
	var draining, conns, sessions int
	for _, ni := range n {
		conns += ni.Conns
		sessions += ni.Sessions
		if ni.Draining {
			draining++
		}
	}
	ch <- prometheus.MustNewConstMetric(descDraining, prometheus.GaugeValue, float64(draining))
	ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(conns))
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(sessions))
}

var _ prometheus.Collector = (*Directory)(nil)

// The social layer's counts (presence.go): what a node could not tell
// other nodes.
var (
	descCastsLost = prometheus.NewDesc("tickroom_cluster_presence_casts_lost_total",
		"Presence changes not told to a friend on another node because Redis did not answer where the friend is, or the bus could not send them, for 10 s.", nil, nil)
	descLookupsRefused = prometheus.NewDesc("tickroom_cluster_lookups_refused_total",
		"Users' requests about users of other nodes refused because the lookup workers' queue was full.", nil, nil)
	descOtherCastsLost = prometheus.NewDesc("tickroom_cluster_casts_lost_total",
		"Unfriendings, changes to users' lists for their other nodes, notices and copies of direct messages and signals not told to a user on another node because Redis did not answer where the user is, its lookup made again for 10 s, or the bus could not send them; copies of direct messages and signals not queued because Redis was known not to answer; and copies dropped for having waited longer than 5 s (Redis slow, or down before the node knew).", nil, nil)
	descOtherCastsWaiting = prometheus.NewDesc("tickroom_cluster_casts_waiting",
		"Unfriendings, changes to users' lists for their other nodes, notices and copies of direct messages and signals waiting to be told to users on other nodes.", nil, nil)
	descAsksWaiting = prometheus.NewDesc("tickroom_cluster_presence_questions_waiting",
		"Logins whose questions about their friends' presence on other nodes wait to be asked.", nil, nil)
	descCastsWaiting = prometheus.NewDesc("tickroom_cluster_presence_casts_waiting",
		"Users whose presence changes wait to be told to their friends on other nodes.", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *Social) Describe(ch chan<- *prometheus.Desc) {
	ch <- descCastsLost
	ch <- descLookupsRefused
	ch <- descCastsWaiting
	ch <- descOtherCastsLost
	ch <- descOtherCastsWaiting
	ch <- descAsksWaiting
}

// Collect implements prometheus.Collector.
func (s *Social) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descCastsLost, prometheus.CounterValue, float64(s.PushesLost.Load()))
	ch <- prometheus.MustNewConstMetric(descLookupsRefused, prometheus.CounterValue, float64(s.Refused.Load()))
	ch <- prometheus.MustNewConstMetric(descCastsWaiting, prometheus.GaugeValue, float64(s.pushes.Len()))
	ch <- prometheus.MustNewConstMetric(descOtherCastsLost, prometheus.CounterValue, float64(s.CastsLost.Load()))
	ch <- prometheus.MustNewConstMetric(descOtherCastsWaiting, prometheus.GaugeValue, float64(s.casts.Len()))
	ch <- prometheus.MustNewConstMetric(descAsksWaiting, prometheus.GaugeValue, float64(s.asks.Len()))
}

var _ prometheus.Collector = (*Social)(nil)
