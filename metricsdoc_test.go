package tickroom_test

import (
	"fmt"
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
// tickroom_ name the document gives must be one /metrics can export, and
// so must every one the other documents give (seriesDocs), of which none
// was checked before.
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
	for _, doc := range seriesDocs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range unexportedSeries(t, doc, string(b), all, scraped) {
			t.Error(e)
		}
	}
}

// seriesDocs are the documents that name tickroom_ series: each name
// must be one /metrics can export.
var seriesDocs = []string{
	"docs/metrics.md", "docs/deploy.md", "docs/games.md", "docs/cluster.md", "docs/store.md",
	"docs/limits.md", "docs/state-sync.md", "README.md", "BENCHMARKS.md",
}

// unexportedSeries returns a line for each tickroom_ name in doc that
// is none of the families (all; scraped gives the types of those a
// scrape showed): a family, a histogram's or summary's _bucket, _sum or
// _count series (a label selector after the name, {code="4507"}, is the
// family's), a wildcard tickroom_cluster_* that some family starts
// with, an nginx upstream the deploy/ configurations declare (upstream
// tickroom_ws), or a table of the store.
func unexportedSeries(t *testing.T, doc, text string, all map[string]bool, scraped map[string]string) []string {
	t.Helper()
	notSeries := map[string]bool{} // nginx upstreams and the store's tables
	confs, _ := filepath.Glob(filepath.Join("deploy", "*.conf"))
	for _, conf := range confs {
		b, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^\s*upstream (tickroom_[a-z0-9_]+)`).FindAllSubmatch(b, -1) {
			notSeries[string(m[1])] = true
		}
	}
	if !notSeries["tickroom_ws"] {
		t.Fatalf("no upstream tickroom_ws in deploy/*.conf: %v", notSeries)
	}
	// The store's tables (goose's tickroom_schema_version) are named
	// in its source as strings.
	sources, _ := filepath.Glob(filepath.Join("store", "*.go"))
	for _, src := range sources {
		if strings.HasSuffix(src, "_test.go") {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"(tickroom_[a-z0-9_]+)"`).FindAllSubmatch(b, -1) {
			if !all[string(m[1])] {
				notSeries[string(m[1])] = true
			}
		}
	}
	if !notSeries["tickroom_schema_version"] {
		t.Fatal("the store's source names no table tickroom_schema_version")
	}
	var out []string
	for i, line := range strings.Split(text, "\n") {
		for _, name := range regexp.MustCompile(`tickroom_[a-z0-9_]+`).FindAllString(line, -1) {
			if all[name] || notSeries[name] {
				continue
			}
			if prefix, ok := strings.CutSuffix(name, "_"); ok { // tickroom_cluster_*: a wildcard
				if slices.ContainsFunc(sortedNames(all), func(f string) bool { return strings.HasPrefix(f, prefix+"_") }) {
					continue
				}
			}
			if base, suffix, ok := cutSeriesSuffix(name); ok && all[base] {
				if typ, ok := scraped[base]; !ok || typ == "histogram" || typ == "summary" {
					continue
				}
				out = append(out, fmt.Sprintf("%s:%d names %s, but %s is a %s, which has no %s series", doc, i+1, name, base, scraped[base], suffix))
				continue
			}
			out = append(out, fmt.Sprintf("%s:%d names %s, which /metrics does not export and the source does not register", doc, i+1, name))
		}
	}
	return out
}

// cutSeriesSuffix cuts a histogram's or summary's series suffix.
func cutSeriesSuffix(name string) (base, suffix string, ok bool) {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			return base, suffix, true
		}
	}
	return "", "", false
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
