package admin_test

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// A close code in 3000–4999 is the client's to choose: counted by its
// value, every client could add a series of its own to
// tickroom_connections_closed_total (2,000 of them), and a client closing
// with 4001 or 4002 counted as a connection the server closed as slow or
// rate limited. Such closes are counted under code 0.
func TestClientChosenCloseCodesShareOneSeries(t *testing.T) {
	e := start(t, adminToken)
	codes := []int{4001, 4002, 3456, 4999}
	for _, code := range codes {
		c := e.connect("closer")
		_ = c.WS.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, "bye"))
		c.WaitClosed()
	}
	n := e.connect("normal")
	_ = n.WS.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	n.WaitClosed()
	m := e.waitMetric("the five closes counted", func(m map[string]float64) bool {
		return m[`tickroom_connections_closed_by_reason_total{reason="peer"}`] == 5
	})
	var series []string
	for k := range m {
		if strings.HasPrefix(k, "tickroom_connections_closed_total{") {
			series = append(series, k)
		}
	}
	if len(series) != 2 || m[`tickroom_connections_closed_total{code="0"}`] != 4 || m[`tickroom_connections_closed_total{code="1000"}`] != 1 {
		t.Fatalf("closes by code: %v", series)
	}
}
