package bots

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// serverSample is one reading of the server process.
type serverSample struct {
	at     int64 // engine clock, ns
	source string
	cpu    float64 // process CPU seconds so far
	rss    float64 // resident bytes
	late   promHist
	send   promHist // the transport's send wait (sendWaitMetric)
}

// sendWaitMetric is tickroom's histogram of how long a room's frames
// waited from their tick to their write.
const sendWaitMetric = "tickroom_send_wait_seconds"

// histParts gathers one histogram's lines, summed over label sets.
type histParts struct {
	h       *promHist
	buckets map[float64]float64
}

// line adds a _bucket, _sum or _count line of the histogram.
func (p *histParts) line(suffix, labels string, val float64) {
	switch suffix {
	case "_bucket":
		le := promLabel(labels, "le")
		b, err := strconv.ParseFloat(le, 64)
		if le == "+Inf" {
			b, err = math.Inf(1), nil
		}
		if err == nil {
			p.buckets[b] += val
		}
	case "_sum":
		p.h.sum += val
	case "_count":
		p.h.count += val
	}
}

// done sorts the buckets into the histogram.
func (p *histParts) done() {
	for b := range p.buckets {
		p.h.bounds = append(p.h.bounds, b)
	}
	sort.Float64s(p.h.bounds)
	for _, b := range p.h.bounds {
		p.h.counts = append(p.h.counts, p.buckets[b])
	}
}

// promHist is a Prometheus histogram summed over its label sets: cumulative
// counts by upper bound.
type promHist struct {
	name   string
	bounds []float64
	counts []float64
	sum    float64
	count  float64
}

// sampler reads the server's CPU, RSS and tick lateness from its /metrics,
// or from /proc/<pid> when there is no /metrics to read.
type sampler struct {
	url    string
	pid    int
	client *http.Client
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times on Linux.
const clockTicks = 100

// configured reports whether s has anything to read the server from.
func (s *sampler) configured() bool { return s.url != "" || s.pid > 0 }

// sample reads the server once, stamped with now() once it is read, not
// before the request: a saturated server may answer late, and its CPU
// figure is that of when it answered. The error says why there is no
// reading.
func (s *sampler) sample(ctx context.Context, now func() int64) (serverSample, error) {
	var ss serverSample
	var errs []error
	ok := false
	if s.url != "" {
		var err error
		ss, err = s.scrape(ctx)
		if ok = err == nil; !ok {
			errs = append(errs, err)
		}
	}
	// A /metrics page without the process collector still has the tick
	// lateness and the send wait; CPU and RSS then come from /proc.
	if !ok && s.pid > 0 {
		if ps, good := readProc(s.pid); good {
			if ss.late.name != "" || ss.send.name != "" {
				ps.source = "proc+metrics"
			}
			ps.late, ps.send = ss.late, ss.send
			ss, ok = ps, true
		} else {
			errs = append(errs, fmt.Errorf("/proc/%d unreadable", s.pid))
		}
	}
	ss.at = now()
	if !ok {
		if len(errs) == 0 {
			errs = append(errs, errors.New("no metrics URL nor server pid"))
		}
		return ss, errors.Join(errs...)
	}
	return ss, nil
}

func (s *sampler) scrape(ctx context.Context) (serverSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return serverSample{}, err
	}
	// Uncompressed: on loopback, gzip would only add the server's
	// compressor (~0.8 MB kept between scrapes, and its CPU) to what the
	// run measures.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := s.client.Do(req)
	if err != nil {
		return serverSample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return serverSample{}, fmt.Errorf("GET %s: http %d", s.url, resp.StatusCode)
	}
	ss, ok := parseProm(io.LimitReader(resp.Body, 16<<20))
	if !ok {
		return ss, fmt.Errorf("GET %s: no process_cpu_seconds_total nor process_resident_memory_bytes", s.url)
	}
	return ss, nil
}

// parseProm reads the Prometheus text exposition format: the standard
// process_cpu_seconds_total and process_resident_memory_bytes, the first
// histogram whose name mentions tick lateness, and tickroom's send wait.
func parseProm(r io.Reader) (serverSample, bool) {
	ss := serverSample{source: "metrics"}
	found := false
	late := histParts{h: &ss.late, buckets: map[float64]float64{}}
	send := histParts{h: &ss.send, buckets: map[float64]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, val, ok := promLine(line)
		if !ok {
			continue
		}
		switch {
		case name == "process_cpu_seconds_total":
			ss.cpu, found = val, true
		case name == "process_resident_memory_bytes":
			ss.rss, found = val, true
		case strings.HasPrefix(name, sendWaitMetric+"_"):
			ss.send.name = sendWaitMetric
			send.line(strings.TrimPrefix(name, sendWaitMetric), labels, val)
		case strings.Contains(name, "lateness") && strings.HasSuffix(name, "_bucket"):
			base := strings.TrimSuffix(name, "_bucket")
			if ss.late.name == "" {
				ss.late.name = base
			}
			if base == ss.late.name {
				late.line("_bucket", labels, val)
			}
		case ss.late.name != "" && (name == ss.late.name+"_sum" || name == ss.late.name+"_count"):
			late.line(strings.TrimPrefix(name, ss.late.name), labels, val)
		}
	}
	late.done()
	send.done()
	return ss, found
}

// promLine splits `name{labels} value [timestamp]`.
func promLine(line string) (name, labels string, val float64, ok bool) {
	rest := line
	if i := strings.IndexByte(line, '{'); i >= 0 {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", "", 0, false
		}
		name, labels, rest = line[:i], line[i+1:j], line[j+1:]
	} else {
		i := strings.IndexByte(line, ' ')
		if i < 0 {
			return "", "", 0, false
		}
		name, rest = line[:i], line[i:]
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", "", 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return name, labels, v, err == nil
}

func promLabel(labels, key string) string {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && k == key {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// quantile returns the upper bound of the bucket holding quantile q of the
// observations between prev and h; NaN when there are none.
func (h promHist) quantile(prev promHist, q float64) float64 {
	if len(h.counts) == 0 {
		return math.NaN()
	}
	base := map[float64]float64{}
	for i, b := range prev.bounds {
		base[b] = prev.counts[i]
	}
	total := h.counts[len(h.counts)-1] - base[h.bounds[len(h.bounds)-1]]
	if total <= 0 {
		return math.NaN()
	}
	for i, b := range h.bounds {
		if h.counts[i]-base[b] >= q*total {
			return b
		}
	}
	return math.Inf(1)
}

// readProc reads CPU time and RSS of pid from /proc.
func readProc(pid int) (serverSample, bool) {
	ss := serverSample{source: "proc"}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ss, false
	}
	// Fields after the parenthesised command: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return ss, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return ss, false
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return ss, false
	}
	ss.cpu = (ut + st) / clockTicks
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return ss, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			ss.rss = kb * 1024
		}
	}
	return ss, true
}

// aboveTop returns the largest finite bucket bound and the share of the
// observations between prev and h above it.
func (h promHist) aboveTop(prev promHist) (top, share float64) {
	n := len(h.bounds)
	if n < 2 || !math.IsInf(h.bounds[n-1], 1) {
		return math.NaN(), 0
	}
	top = h.bounds[n-2]
	var pTop, pAll float64
	for i, b := range prev.bounds {
		switch b {
		case top:
			pTop = prev.counts[i]
		case h.bounds[n-1]:
			pAll = prev.counts[i]
		}
	}
	all := h.counts[n-1] - pAll
	if all <= 0 {
		return top, 0
	}
	return top, (all - (h.counts[n-2] - pTop)) / all
}
