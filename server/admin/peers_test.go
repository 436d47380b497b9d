package admin_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tickroom/tickroom/server/admin"
)

// peers joins the admin handlers of separate servers as the nodes of one
// cluster: a call to a node runs its ServePeer in the caller's goroutine,
// as the bus would on that node.
type peers struct {
	ids      []string
	handlers map[string]*admin.Handler
}

var _ admin.Cluster = (*peers)(nil)

func (p *peers) Nodes(context.Context) ([]admin.NodeInfo, error) {
	out := make([]admin.NodeInfo, 0, len(p.ids))
	for _, id := range p.ids {
		out = append(out, admin.NodeInfo{ID: id})
	}
	return out, nil
}

func (p *peers) RoomNode(context.Context, string) (string, error)    { return "", nil }
func (p *peers) UserNodes(context.Context, string) ([]string, error) { return nil, nil }

func (p *peers) Call(ctx context.Context, node string, req []byte) ([]byte, error) {
	return p.handlers[node].ServePeer(ctx, req), nil
}

// startCluster starts one server for each id and makes them the nodes of
// one cluster: each env's admin API (env.do) answers as that node.
func startCluster(t *testing.T, ids ...string) []*env {
	t.Helper()
	p := &peers{ids: ids, handlers: map[string]*admin.Handler{}}
	envs := make([]*env, len(ids))
	for i, id := range ids {
		e := start(t, adminToken)
		h, err := admin.New(admin.Config{Hub: e.hub, Server: e.srv, Token: adminToken, Cluster: p, NodeID: id})
		if err != nil {
			t.Fatal(err)
		}
		p.handlers[id] = h
		e.admin = httptest.NewServer(h)
		t.Cleanup(e.admin.Close)
		envs[i] = e
	}
	return envs
}

// TestClusterSearchFindsWhatEachNodeFinds: a search asked of one node
// finds on the others what they find asked themselves. Each node keys the
// text once: store.NameKey is not idempotent ("™" keys to "tm", but "™"
// to "TM" first) and may lengthen it ("İ" keys to an i and a combining
// dot, 2 bytes to 3), so a key keyed again finds other names, or is past
// the 100 bytes a node takes.
func TestClusterSearchFindsWhatEachNodeFinds(t *testing.T) {
	nodes := startCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	long := strings.Repeat("İ", 6) + strings.Repeat("x", 88) // 100 bytes
	b.connect("Acme™")
	b.connect(long)
	for _, tc := range []struct{ name, q, want string }{
		{"a sign NFKC spells out", "acme™", "Acme™"},
		{"a search text whose key is longer", long, long},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, asked := range []struct {
				node string
				e    *env
			}{{"b", b}, {"a", a}} {
				status, body := asked.e.do("GET", "/v1/admin/players?q="+url.QueryEscape(tc.q), adminToken, "")
				var rows []struct {
					UserID string `json:"user_id"`
					Node   string `json:"node"`
				}
				if status != 200 || json.Unmarshal([]byte(body), &rows) != nil {
					t.Fatalf("asked of node %s: %d %s", asked.node, status, body)
				}
				if len(rows) != 1 || rows[0].UserID != tc.want || rows[0].Node != "b" {
					t.Fatalf("q=%q asked of node %s: %s, want %s of node b", tc.q, asked.node, strings.TrimSpace(body), tc.want)
				}
			}
		})
	}
}
