package cluster

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/social"
)

// BenchmarkMassLogin logs 2,000 users of 500 friends each on node b in on
// node a, one after another (a node restarted, its players reconnecting
// to a), with a real Redis, while a probe asks b about one of its users
// every 100 ms, as a user's own request would. It reports when every
// friend on b was told its friends on a are online (told-s), when every
// user on a was shown its friends on b online (shown-s), how long the
// logins took (logins-s), the probe's calls to b (mean and max, failed)
// and its lookups on Redis (mean and max), and the bus messages refused.
// Run it alone: go test -run x -bench MassLogin -benchtime 1x ./cluster
func BenchmarkMassLogin(b *testing.B) {
	const users, friends, remote = 2000, 500, 2000
	lists := ringFriends(users, friends, remote, 1)
	for range b.N {
		rs := redistest.Start(b)
		na := startSocialNode(b, rs, "a", lists)
		nb := startSocialNode(b, rs, "b", lists)
		loginRemote(b, nb, remote, 60*time.Second)
		time.Sleep(3 * time.Second) // b's own logins' casts and questions done

		var mu sync.Mutex
		var calls, lookups []time.Duration
		failed := 0
		stop, probed := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(probed)
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				t0 := time.Now()
				_, _ = na.peers.locate([]string{"r0"}, false)
				t1 := time.Now()
				done := make(chan []social.RemoteAnswer, 1)
				na.peers.Call([]*social.RemoteOp{{Kind: social.OpQueryPresence, From: "probe", To: "r0"}}, func(as []social.RemoteAnswer) { done <- as })
				as := <-done
				mu.Lock()
				lookups, calls = append(lookups, t1.Sub(t0)), append(calls, time.Since(t1))
				if as[0].Err != nil {
					failed++
				}
				mu.Unlock()
			}
		}()

		start := time.Now()
		for i := range users {
			na.login(b, fmt.Sprint("u", i), uint64(i+1))
		}
		logins := time.Since(start)
		online := tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE
		var told, shown time.Duration
		for (told == 0 || shown == 0) && time.Since(start) < 2*time.Minute {
			untold, unshown := 0, 0
			for i := range users {
				u := fmt.Sprint("u", i)
				for _, r := range lists[u] {
					if nb.host.status(r, u) != online {
						untold++
					}
					if na.host.status(u, r) != online {
						unshown++
					}
				}
			}
			if untold == 0 && told == 0 {
				told = time.Since(start)
			}
			if unshown == 0 && shown == 0 {
				shown = time.Since(start)
			}
			time.Sleep(200 * time.Millisecond)
		}
		close(stop)
		<-probed
		if told == 0 || shown == 0 {
			b.Fatalf("2 min after the first login: told %v, shown %v", told, shown)
		}
		mean := func(ds []time.Duration) (avg, most time.Duration) {
			for _, d := range ds {
				avg += d
				most = max(most, d)
			}
			return avg / time.Duration(max(len(ds), 1)), most
		}
		callMean, callMax := mean(calls)
		lookMean, lookMax := mean(lookups)
		b.ReportMetric(logins.Seconds(), "logins-s")
		b.ReportMetric(told.Seconds(), "told-s")
		b.ReportMetric(shown.Seconds(), "shown-s")
		b.ReportMetric(float64(callMean.Microseconds())/1000, "call-mean-ms")
		b.ReportMetric(float64(callMax.Microseconds())/1000, "call-max-ms")
		b.ReportMetric(float64(failed), "calls-failed")
		b.ReportMetric(float64(lookMean.Microseconds())/1000, "lookup-mean-ms")
		b.ReportMetric(float64(lookMax.Microseconds())/1000, "lookup-max-ms")
		b.ReportMetric(float64(na.peers.bus.Dropped.Load()+nb.peers.bus.Dropped.Load()), "refused")
	}
}
