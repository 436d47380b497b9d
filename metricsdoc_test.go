package tickroom_test

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestMetricsDocNamesEverySeries: docs/metrics.md is the reference of
// /metrics. Before it, README.md's paragraph and a few guides named some
// series, and most of what /metrics exported was in no document. Every
// tickroom_ family must have a row there, with its type, and every
// tickroom_ name the document gives must be one /metrics can export.
//
// The families are those a real server exports: one with a store (the
// data directory), a cluster's Redis and the HTTP port, scraped after a
// session, a room, a refused upgrade and a closed connection, so that
// the families that show only once there is something to count show too.
// To them are added the names the source registers (a prometheus.Desc,
// an admin counter or gauge, an Opts' Name), for families no scrape here
// shows, such as one only a failure brings.
func TestMetricsDocNamesEverySeries(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // family: type column
	for _, m := range regexp.MustCompile("(?m)^\\| `(tickroom_[a-z0-9_]+)` \\| ([a-z]+) \\|").FindAllStringSubmatch(string(doc), -1) {
		rows[m[1]] = m[2]
	}

	scraped := scrapeFamilies(t)
	registered := sourceFamilies(t)
	if len(scraped) < 50 || len(registered) < 50 {
		t.Fatalf("%d families scraped and %d found in the source: the test no longer sees them", len(scraped), len(registered))
	}
	all := map[string]bool{}
	for name := range registered {
		all[name] = true
	}
	for name, typ := range scraped {
		all[name] = true
		if row, ok := rows[name]; ok && row != typ {
			t.Errorf("docs/metrics.md gives %s as a %s; /metrics exports it as a %s", name, row, typ)
		}
	}
	for _, name := range sortedNames(all) {
		if _, ok := rows[name]; !ok {
			where := "/metrics exports"
			if _, ok := scraped[name]; !ok {
				where = "the source registers"
			}
			t.Errorf("%s %s, which docs/metrics.md has no row for", where, name)
		}
	}
	named := map[string]bool{}
	for _, name := range regexp.MustCompile(`tickroom_[a-z0-9_]+`).FindAllString(string(doc), -1) {
		if !strings.HasSuffix(name, "_") { // tickroom_cluster_*: a wildcard
			named[name] = true
		}
	}
	for _, name := range sortedNames(named) {
		if !all[name] {
			t.Errorf("docs/metrics.md names %s, which /metrics does not export and the source does not register", name)
		}
	}
}

// scrapeFamilies runs a server with a store, Redis and the HTTP port,
// gives it something to count, and returns the tickroom_ families its
// /metrics exports, with their types.
func scrapeFamilies(t *testing.T) map[string]string {
	t.Helper()
	rdb := redistest.Start(t)
	srv, _, _ := start(t, tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DataDir: t.TempDir(), AdminAddr: "127.0.0.1:0", Redis: rdb.URL(),
	})
	ada := dial(t, srv, "ada")
	qm := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}}
	if ada.Request(qm).GetJoined().GetRoomId() == "" {
		t.Fatal("quick-match failed")
	}
	if _, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, "not-a-token", testclient.Options{}); err == nil {
		t.Fatal("an upgrade with a bad token was not refused")
	}
	bob := dial(t, srv, "bob")
	bob.WriteRaw(websocket.BinaryMessage, []byte{0xff, 0xff, 0xff}) // undecodable: closed
	bob.WaitClosed()

	var families map[string]string
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + srv.AdminAddr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		families = map[string]string{}
		for _, m := range regexp.MustCompile(`(?m)^# TYPE (tickroom_[a-z0-9_]+) ([a-z]+)$`).FindAllStringSubmatch(string(body), -1) {
			families[m[1]] = m[2]
		}
		// The close is counted when the server's side of the socket
		// closes, which may come after the client saw it.
		if _, ok := families["tickroom_connections_closed_total"]; ok || time.Now().After(deadline) {
			return families
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sourceFamilies returns the tickroom_ names the module's non-test Go
// files register: in a prometheus.NewDesc, the admin collector's counter
// and gauge, or an Opts' Name.
func sourceFamilies(t *testing.T) map[string]bool {
	t.Helper()
	decl := regexp.MustCompile(`(?:NewDesc\(|\bcounter\(|\bgauge\(|Name:\s*)"(tickroom_[a-z0-9_]+)"`)
	names := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllSubmatch(b, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
