package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tickroom/tickroom/internal/rawbody"
)

// Cluster is the admin API's view of the other nodes of a cluster: the
// node registry, where a room lives, and a call that runs an admin request
// on another node (which answers it with ServePeer). Package tickroom
// implements it over the cluster package's registry, directory and bus.
// Its methods are safe from any goroutine.
type Cluster interface {
	// Nodes returns the live nodes, this one included, ordered by id.
	Nodes(ctx context.Context) ([]NodeInfo, error)
	// RoomNode returns the id of the node a room is listed on; "" when
	// the directory does not list it.
	RoomNode(ctx context.Context, roomID string) (string, error)
	// UserNodes returns the ids of the nodes a user has a connection on;
	// none when the user is connected nowhere.
	UserNodes(ctx context.Context, userID string) ([]string, error)
	// Call sends an encoded request to a node's ServePeer and returns the
	// encoded answer.
	Call(ctx context.Context, node string, req []byte) ([]byte, error)
}

// NodeInfo is one node of the cluster as the admin API lists it.
type NodeInfo struct {
	ID string `json:"id"`
	// WebSocketURL and HTTPURL are the public URLs the node advertises.
	WebSocketURL string `json:"ws_url"`
	HTTPURL      string `json:"http_url,omitempty"`
	// Conns, Sessions and Rooms are its load as of LastHeartbeat.
	Conns    int  `json:"conns"`
	Sessions int  `json:"sessions"`
	Rooms    int  `json:"rooms"`
	Draining bool `json:"draining"`
	// Started is when the node process started.
	Started time.Time `json:"started"`
	// LastHeartbeat is when its registration was last written (Redis's
	// clock; now for a single node).
	LastHeartbeat time.Time `json:"last_heartbeat"`
	// Self marks the node that answered.
	Self bool `json:"self"`
}

// Cluster-wide listing bounds.
const (
	// maxMergedRows caps offset+limit of a listing merged from every node:
	// each node sends its first offset+limit matches. ?node= pages one
	// node's list with no such cap.
	maxMergedRows = 2000
	// maxPeerAnswer caps the body of a peer's answer. The answer crosses
	// Redis pub/sub as its own bytes behind a short JSON head, both in
	// the answer and in the bus envelope (internal/rawbody): ~1 MB a peer
	// at this cap, so that the answers of 30 nodes at once stay under
	// Redis's 32 MB hard limit of a subscriber's output buffer, past which
	// Redis drops the node's subscription (and with it its users' direct
	// messages, kicks and channel lines).
	maxPeerAnswer = 1 << 20
	// peerTimeout bounds one request to the other nodes.
	peerTimeout = 3 * time.Second
)

// peerKey marks a request that another node's admin API sent through
// ServePeer: it is answered from this node alone, without the token.
type peerKey struct{}

func isPeer(r *http.Request) bool { return r.Context().Value(peerKey{}) != nil }

// peerRequest is an admin request sent to another node, as JSON (its
// small Body base64 inside, so that a node of any version reads it), and
// peerAnswer its answer. A request with Raw set is answered framed by
// internal/rawbody, the Body as its own bytes after the JSON of the rest;
// one without (from an older node) as JSON alone. Either is read.
type peerRequest struct {
	Method string `json:"m"`
	// Path is the path with its query.
	Path string `json:"p"`
	Body []byte `json:"b,omitempty"`
	Raw  bool   `json:"w,omitempty"`
}

type peerAnswer struct {
	Status int    `json:"s"`
	Total  string `json:"t,omitempty"` // X-Total-Count
	Body   []byte `json:"b,omitempty"`
}

// ServePeer answers an admin request another node's admin API forwarded
// (Cluster.Call): it runs it on this node alone and returns the encoded
// answer. Only /v1/admin/ paths are served. Safe from any goroutine.
func (h *Handler) ServePeer(ctx context.Context, req []byte) []byte {
	var pr peerRequest
	err := json.Unmarshal(req, &pr)
	out := func(a peerAnswer) []byte {
		if !pr.Raw {
			b, _ := json.Marshal(a)
			return b
		}
		body := a.Body
		a.Body = nil
		b, _ := rawbody.Encode(a, body)
		return b
	}
	if err != nil || !strings.HasPrefix(pr.Path, "/v1/admin/") {
		b, _ := json.Marshal(errorBody{Error: "bad peer request"})
		return out(peerAnswer{Status: http.StatusBadRequest, Body: b})
	}
	r, err := http.NewRequestWithContext(context.WithValue(ctx, peerKey{}, true), pr.Method, pr.Path, strings.NewReader(string(pr.Body)))
	if err != nil {
		b, _ := json.Marshal(errorBody{Error: "bad peer request"})
		return out(peerAnswer{Status: http.StatusBadRequest, Body: b})
	}
	rec := &recorder{header: http.Header{}}
	h.mux.ServeHTTP(rec, r)
	if rec.over {
		b, _ := json.Marshal(errorBody{Error: "the node's answer is larger than 1 MiB: narrow the search (q, game, a smaller limit) or page one node with ?node="})
		return out(peerAnswer{Status: http.StatusBadGateway, Body: b})
	}
	return out(peerAnswer{Status: rec.status(), Total: rec.header.Get("X-Total-Count"), Body: rec.body})
}

// recorder keeps an answer in memory, up to maxPeerAnswer.
type recorder struct {
	header http.Header
	code   int
	body   []byte
	over   bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if len(r.body)+len(p) > maxPeerAnswer {
		r.over = true
		return 0, errors.New("admin: peer answer too large")
	}
	r.body = append(r.body, p...)
	return len(p), nil
}

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// call runs an admin request on another node.
func (h *Handler) call(ctx context.Context, node, method, path string, body []byte) (peerAnswer, error) {
	req, _ := json.Marshal(peerRequest{Method: method, Path: path, Body: body, Raw: true})
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	b, err := h.cluster.Call(ctx, node, req)
	if err != nil {
		return peerAnswer{}, err
	}
	var a peerAnswer
	ab, err := rawbody.Decode(b, &a)
	if err != nil {
		return peerAnswer{}, err
	}
	if ab != nil {
		a.Body = ab
	}
	return a, nil
}

// forward answers r with another node's answer to it.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, node string, body []byte) {
	a, err := h.call(r.Context(), node, r.Method, r.URL.RequestURI(), body)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "node "+node+" did not answer: "+err.Error())
		return
	}
	if a.Total != "" {
		w.Header().Set("X-Total-Count", a.Total)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Tickroom-Node", node)
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}

// clustered reports whether r is to be answered for the whole cluster:
// the server is in one and r did not come from another node.
func (h *Handler) clustered(r *http.Request) bool { return h.cluster != nil && !isPeer(r) }

// ownList reports whether a listing r asks for is this node's alone: not
// in a cluster, asked by another node, or ?node= naming this node.
func (h *Handler) ownList(r *http.Request) bool {
	return !h.clustered(r) || r.URL.Query().Get("node") == h.nodeID
}

// roomElsewhere forwards a request about a room this node does not run to
// the node that does, and reports whether it did (or answered an error);
// false means this node answers it (404 when the room is nowhere).
func (h *Handler) roomElsewhere(w http.ResponseWriter, r *http.Request, id string, body []byte) bool {
	if !h.clustered(r) {
		return false
	}
	if _, ok := h.hub.Runtime().Room(id); ok {
		return false
	}
	node, err := h.cluster.RoomNode(r.Context(), id)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "the room directory is unreachable: "+err.Error())
		return true
	}
	if node == "" || node == h.nodeID {
		return false
	}
	h.forward(w, r, node, body)
	return true
}

// nodeParam handles ?node=: a listing of that node alone, forwarded when
// it is another. It reports whether it answered r.
func (h *Handler) nodeParam(w http.ResponseWriter, r *http.Request) bool {
	node := r.URL.Query().Get("node")
	if node == "" || node == h.nodeID || isPeer(r) {
		return false
	}
	// A node id no node has (a typo) is refused at once, not answered
	// with this node's list nor waited for as a node that is silent.
	if h.cluster == nil {
		writeError(w, http.StatusNotFound, "no such node")
		return true
	}
	if nodes, err := h.cluster.Nodes(r.Context()); err == nil && !slices.ContainsFunc(nodes, func(n NodeInfo) bool { return n.ID == node }) {
		writeError(w, http.StatusNotFound, "no such node")
		return true
	}
	q := r.URL.Query()
	q.Del("node")
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	a, err := h.call(r.Context(), node, http.MethodGet, u.RequestURI(), nil)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "node "+node+" did not answer: "+err.Error())
		return true
	}
	if a.Total != "" {
		w.Header().Set("X-Total-Count", a.Total)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
	return true
}

// share is one node's part of a merged listing.
type share[T any] struct {
	items []T
	total int
	err   error
}

// gather asks every node for its first n matches of a listing (path with
// its query but offset and limit) and merges them by key; local answers
// for this node. It returns the page p asks for, the number of matches
// cluster-wide, and the nodes that did not answer. When the registry does
// not answer, the page is this node's alone and regErr says why.
func gather[T any](ctx context.Context, h *Handler, path string, query url.Values, p page, key func(T) string, local func(n int) ([]T, int)) (items []T, total int, missing []string, regErr error) {
	nodes, regErr := h.cluster.Nodes(ctx)
	n := p.offset + p.limit
	query.Set("offset", "0")
	query.Set("limit", strconv.Itoa(n))
	u := url.URL{Path: path, RawQuery: query.Encode()}
	shares := make([]share[T], len(nodes))
	var wg sync.WaitGroup
	selfSeen := false
	for i, node := range nodes {
		if node.ID == h.nodeID {
			selfSeen = true
			shares[i].items, shares[i].total = local(n)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := h.call(ctx, node.ID, http.MethodGet, u.RequestURI(), nil)
			if err == nil && a.Status != http.StatusOK {
				err = errors.New(http.StatusText(a.Status))
			}
			if err == nil {
				err = json.Unmarshal(a.Body, &shares[i].items)
				shares[i].total, _ = strconv.Atoi(a.Total)
			}
			shares[i].err = err
		}()
	}
	wg.Wait()
	if !selfSeen { // not registered yet, or cut off from Redis
		var s share[T]
		s.items, s.total = local(n)
		shares = append(shares, s)
	}
	all := []T{} // [] when nothing matched, as on a single node, not null
	for i, s := range shares {
		if s.err != nil {
			missing = append(missing, nodes[i].ID)
			continue
		}
		all = append(all, s.items...)
		total += s.total
	}
	sortBy(all, key)
	lo, hi := p.window(len(all))
	return all[lo:hi], total, missing, regErr
}

// maxLimit is the largest page a listing request may ask for: another
// node gathering a merged page asks for up to maxMergedRows.
func (h *Handler) maxLimit(r *http.Request) int {
	if isPeer(r) {
		return maxMergedRows
	}
	return maxPageSize
}

// mergedPage checks that a merged listing's page is within maxMergedRows.
func mergedPage(w http.ResponseWriter, p page) bool {
	// Compared without adding: an offset near the largest int would
	// overflow the sum past the check.
	if p.offset > maxMergedRows-p.limit {
		writeError(w, http.StatusBadRequest, "offset+limit above "+strconv.Itoa(maxMergedRows)+" across the cluster: narrow the search (q, game) or page one node with ?node=")
		return false
	}
	return true
}

// setMissing names the nodes a merged listing lacks, or says that it is
// this node's alone since the registry did not answer.
func setMissing(w http.ResponseWriter, missing []string, regErr error) {
	if len(missing) > 0 {
		w.Header().Set("X-Unreachable-Nodes", strings.Join(missing, ","))
	}
	if regErr != nil {
		w.Header().Set("X-Cluster-Error", "this node's alone: "+regErr.Error())
	}
}

// nodes answers GET /v1/admin/nodes: every live node of the cluster, or
// this one alone.
func (h *Handler) nodes(w http.ResponseWriter, r *http.Request) {
	ns, err := h.nodeList(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "the node registry is unreachable: "+err.Error())
		return
	}
	setTotal(w, len(ns))
	writeJSON(w, http.StatusOK, ns)
}

// nodeList returns the cluster's nodes, or this one alone without a
// cluster.
func (h *Handler) nodeList(ctx context.Context) ([]NodeInfo, error) {
	if h.cluster == nil {
		return []NodeInfo{h.selfInfo()}, nil
	}
	ns, err := h.cluster.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	for i := range ns {
		ns[i].Self = ns[i].ID == h.nodeID
	}
	return ns, nil
}

// selfInfo is this node as a single node lists itself.
func (h *Handler) selfInfo() NodeInfo {
	n := NodeInfo{
		ID: h.nodeID, Conns: int(h.srv.Stats().Open), Sessions: h.hub.OpenSessions(),
		Rooms: h.hub.Runtime().RoomCount(), Draining: h.hub.Draining(),
		Started: h.started, LastHeartbeat: time.Now(), Self: true,
	}
	if h.urls != nil {
		n.WebSocketURL, n.HTTPURL = h.urls()
	}
	return n
}

// sortBy sorts s by key, stably.
func sortBy[T any](s []T, key func(T) string) {
	slices.SortStableFunc(s, func(a, b T) int { return strings.Compare(key(a), key(b)) })
}

// drainNode answers POST /v1/admin/nodes/{id}/drain: the drain of that
// node (as POST /v1/admin/drain there), carried to it when it is another.
func (h *Handler) drainNode(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == h.nodeID {
		h.startDrain(w, r)
		return
	}
	if !h.clustered(r) {
		writeError(w, http.StatusNotFound, "no such node")
		return
	}
	nodes, err := h.cluster.Nodes(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "the node registry is unreachable: "+err.Error())
		return
	}
	if !slices.ContainsFunc(nodes, func(n NodeInfo) bool { return n.ID == id }) {
		writeError(w, http.StatusNotFound, "no such node")
		return
	}
	u := url.URL{Path: "/v1/admin/drain", RawQuery: r.URL.RawQuery}
	a, err := h.call(r.Context(), id, http.MethodPost, u.RequestURI(), nil)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "node "+id+" did not answer: "+err.Error())
		return
	}
	h.log.Info("admin: drain of another node requested", "node", id, "status", a.Status)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}
