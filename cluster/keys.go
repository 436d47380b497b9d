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
