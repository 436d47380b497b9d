package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRunReports runs a short measurement directly and through nginx with
// the shipped deploy/nginx.conf (and a listen parameter added, as
// scripts/slowlink/run.sh does), so the tool keeps up with the site file:
// each run reports its rows and its summary. What the figures are is not
// checked; they depend on the machine's load.
func TestRunReports(t *testing.T) {
	bin := os.Getenv("NGINX_PATH")
	if bin == "" {
		bin = "/usr/sbin/nginx"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run scripts/install-nginx.sh (make nginx)", bin)
	}
	for _, tc := range []struct {
		name string
		r    run
		want string
	}{
		{"direct", run{}, "slow player through tickroom directly"},
		{"nginx", run{nginx: bin, listen: "sndbuf=64k", wsExtra: "proxy_buffer_size 4k;"},
			"slow player through nginx (../../deploy/nginx.conf, listen … sndbuf=64k, /v1/ws: proxy_buffer_size 4k;)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.conf, r.tickRate, r.entity, r.fraction = "../../deploy/nginx.conf", 20, 1024, 5
			r.warmup, r.duration, r.recover = 250*time.Millisecond, 2*time.Second, 10*time.Second
			var out bytes.Buffer
			if err := r.do(context.Background(), &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			rep := out.String()
			for _, want := range []string{tc.want, "\n   1  ", "\n   2  ", "\nsummary: states skipped: "} {
				if !strings.Contains(rep, want) {
					t.Errorf("the report lacks %q:\n%s", want, rep)
				}
			}
		})
	}
}

func TestHexPort(t *testing.T) {
	for a, want := range map[string]int{"0100007F:1F90": 8080, "00000000:0050": 80, "0100007F": -1, "0100007F:XYZ": -1} {
		if got := hexPort(a); got != want {
			t.Errorf("hexPort(%q) = %d, want %d", a, got, want)
		}
	}
}
