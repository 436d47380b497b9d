package bots

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// node is one server (a node of a cluster) bots connect to: the HTTP base
// URL they log in at (empty for a node known only from a Redirect) and its
// WebSocket address. Immutable once made.
type node struct {
	httpURL string
	wsURL   string
	addr    [4]byte
	port    int
	host    string // Host header
	path    string // request target, without the query
}

// nodes is the engine's table of servers: those Config names, in order,
// then the ones Redirects named. Lookups by index are lock-free (bots dial
// from their loops); additions take mu.
type nodes struct {
	list  atomic.Pointer[[]*node]
	mu    sync.Mutex
	byURL map[string]int
}

// get returns node i. Safe from any goroutine.
func (ns *nodes) get(i int) *node { return (*ns.list.Load())[i] }

// len returns how many nodes are known. Safe from any goroutine.
func (ns *nodes) len() int {
	if p := ns.list.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// add records n unless a node with its WebSocket URL is known, and returns
// the index of the node with that URL. Safe from any goroutine.
func (ns *nodes) add(n *node) int {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if i, ok := ns.byURL[n.wsURL]; ok {
		return i
	}
	if ns.byURL == nil {
		ns.byURL = map[string]int{}
	}
	var list []*node
	if p := ns.list.Load(); p != nil {
		list = *p
	}
	// A fresh slice, so readers of the old one never see a write.
	list = append(list[:len(list):len(list)], n)
	ns.list.Store(&list)
	ns.byURL[n.wsURL] = len(list) - 1
	return len(list) - 1
}

// lookup returns the index of the node at WebSocket URL raw, adding it
// when it is new. Safe from any goroutine; it resolves no names (a
// Redirect names an IPv4 address or a host the table already has).
func (ns *nodes) lookup(raw string) (int, error) {
	ns.mu.Lock()
	i, ok := ns.byURL[raw]
	ns.mu.Unlock()
	if ok {
		return i, nil
	}
	n, err := parseWSURL(raw, false)
	if err != nil {
		return 0, err
	}
	return ns.add(n), nil
}

// wsAddrs returns every known node's WebSocket URL, comma-separated.
func (ns *nodes) wsAddrs() string {
	var urls []string
	for i := range ns.len() {
		urls = append(urls, ns.get(i).wsURL)
	}
	return strings.Join(urls, ",")
}

// parseWSURL parses a ws:// URL whose host is an IPv4 address, or a name
// when resolve is set.
func parseWSURL(raw string, resolve bool) (*node, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "ws" {
		return nil, fmt.Errorf("%w: websocket url %q", ErrConfig, raw)
	}
	var ip net.IP
	port, perr := strconv.Atoi(u.Port())
	if resolve {
		ap, err := net.ResolveTCPAddr("tcp4", u.Host)
		if err != nil {
			return nil, fmt.Errorf("%w: websocket host %q must be an IPv4 address", ErrConfig, u.Host)
		}
		ip, port, perr = ap.IP, ap.Port, nil
	} else {
		ip = net.ParseIP(u.Hostname())
	}
	if ip.To4() == nil || perr != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("%w: websocket host %q must be an IPv4 address and port", ErrConfig, u.Host)
	}
	n := &node{wsURL: raw, port: port, host: u.Host, path: u.EscapedPath()}
	copy(n.addr[:], ip.To4())
	if n.path == "" {
		n.path = "/"
	}
	return n, nil
}

// httpURLs returns the servers' HTTP base URLs Config names.
func (c Config) httpURLs() []string {
	if len(c.HTTPURLs) > 0 {
		return c.HTTPURLs
	}
	return []string{c.HTTPURL}
}

// resolve builds the node table: the WebSocket address of each server,
// from Config.WSURL or from GET /v1/config.
func (e *engine) resolve(ctx context.Context) error {
	for _, hu := range e.cfg.httpURLs() {
		raw := e.cfg.WSURL
		if raw == "" {
			var err error
			// One server is reached where its clients are sent (behind a
			// proxy, the proxy); several are the nodes of a cluster, each
			// reached at its own WebSocket port.
			if raw, err = e.configWS(ctx, hu, len(e.cfg.httpURLs()) == 1); err != nil {
				return err
			}
		}
		n, err := parseWSURL(raw, true)
		if err != nil {
			return err
		}
		n.httpURL = hu
		// Spreading sources only makes sense towards a loopback server.
		if n.addr[0] != 127 {
			e.cfg.SourceAddrs = -1
		}
		e.nodes.add(n)
	}
	if e.nodes.len() != len(e.cfg.httpURLs()) {
		return fmt.Errorf("%w: two servers share a WebSocket URL", ErrConfig)
	}
	return nil
}

// configWS asks the server at hu for its WebSocket URL: the one it gives
// clients when public is set, else its own port.
func (e *engine) configWS(ctx context.Context, hu string, public bool) (string, error) {
	pu, err := url.Parse(hu)
	if err != nil {
		return "", fmt.Errorf("%w: http url: %v", ErrConfig, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hu+"/v1/config", nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrConfig, err)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("bots: GET /v1/config: %w", err)
	}
	defer resp.Body.Close()
	var cc struct {
		WSPort int    `json:"ws_port"`
		WSPath string `json:"ws_path"`
		WSURL  string `json:"ws_url"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&cc); err != nil {
		return "", fmt.Errorf("bots: GET /v1/config: %v", err)
	}
	if public && cc.WSURL != "" {
		// Where the server sends its clients (-public-ws-url): a path on
		// the HTTP origin behind a proxy, or a full URL, as client-js
		// reads it; the node's own ws_port is then not the way in.
		ref, err := url.Parse(cc.WSURL)
		if err != nil {
			return "", fmt.Errorf("bots: GET /v1/config: ws_url %q: %v", cc.WSURL, err)
		}
		u := pu.ResolveReference(ref)
		switch u.Scheme {
		case "http", "ws":
			u.Scheme = "ws"
		default:
			return "", fmt.Errorf("%w: GET /v1/config gives clients %s, which the bots cannot reach (they speak plain ws://); give -ws", ErrConfig, u)
		}
		return u.String(), nil
	}
	if cc.WSPort == 0 {
		return "", errors.New("bots: GET /v1/config: no ws_port")
	}
	return "ws://" + net.JoinHostPort(pu.Hostname(), strconv.Itoa(cc.WSPort)) + cc.WSPath, nil
}

// home is the server bot i logs in at and first connects to. In RoomSize
// mode a group's creator is on node g mod K and its members on the nodes
// after it, so rooms spread evenly and the members reach them through a
// Redirect; in quick-match mode bots go round the nodes.
func (c Config) home(i, servers int) int {
	if c.RoomSize > 0 {
		return (i/c.RoomSize + i%c.RoomSize) % servers
	}
	return i % servers
}

// sockaddr is n's WebSocket address for connect(2), a fresh copy each
// time (unix.Connect writes into it).
func (n *node) sockaddr() *unix.SockaddrInet4 {
	return &unix.SockaddrInet4{Addr: n.addr, Port: n.port}
}
