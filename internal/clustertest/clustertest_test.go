package clustertest

import (
	"flag"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// minParallel is how many of the package's parallel tests run at once
// when go test is not given -parallel. Each test's work is done by
// processes of its own (its nodes, Redis and PostgreSQL) and the test
// mostly waits on them, so GOMAXPROCS, go test's default, says little of
// how many a machine takes: on two cores, the package took 107 s under
// -race two at a time and 81 s four at a time. The tests that freeze a
// process with SIGSTOP and bound the time something takes are not
// parallel: they run alone, before the others.
const minParallel = 4

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(max(minParallel, runtime.GOMAXPROCS(0))))
	}
	Main(m)
}

// TestNodesRegisterAndACrashedNodeExpires starts two real nodes sharing
// Redis and PostgreSQL: each is registered with its own WebSocket URL;
// after a kill -9 the dead node leaves the registry within the TTL while
// the other stays, and a restarted node registers again; a SIGTERM'd node
// leaves at once.
func TestNodesRegisterAndACrashedNodeExpires(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	nodes, err := c.Registered(t)
	if err != nil || len(nodes) != 2 {
		t.Fatalf("registry: %+v, %v", nodes, err)
	}
	for i, n := range []*Node{n1, n2} {
		if nodes[i].ID != n.ID || nodes[i].WebSocketURL != n.WSURL() || nodes[i].HTTPURL != "http://"+n.HTTP() || nodes[i].Draining {
			t.Fatalf("registration of %s: %+v, want ws %s", n.ID, nodes[i], n.WSURL())
		}
	}
	// A token made by one node is good on the other: they share the store.
	tok, uid := n1.Login(t, "ada")
	cl, _, err := testclient.Dial(t, n2.WSURL(), tok, testclient.Options{Label: "ada on n2"})
	if err != nil {
		t.Fatalf("n1's token on n2: %v", err)
	}
	if w := cl.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome(); w.UserId != uid {
		t.Fatalf("welcome on n2: %v, want user %s", w, uid)
	}

	// A crashed node's registration ends within its TTL by Redis's clock;
	// the wait for it to leave the list only catches one that never does.
	n2.Kill(t)
	c.RegistrationExpires(t, n2.ID, cluster.DefaultTTL)
	c.WaitGone(t, 10*cluster.DefaultTTL, n2.ID)
	c.WaitRegistered(t, time.Second, n1.ID)

	// A node that shuts down removes its registration before it exits:
	// gone as soon as the process is, not at its TTL's end.
	n2.Restart(t)
	if err := n1.Term(t, 30*time.Second); err != nil {
		t.Fatalf("SIGTERM exit: %v", err)
	}
	nodes, err = c.Registered(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range nodes {
		if x.ID == n1.ID {
			t.Fatalf("a node that shut down still registered once it exited: %+v", nodes)
		}
	}
}
