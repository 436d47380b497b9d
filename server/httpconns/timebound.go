package httpconns

import (
	"io"
	"net/http"
	"time"
)

// Bounds on one request under TimeBound: the time to read its body, and
// to write each part of its answer.
const (
	BodyTimeout  = 10 * time.Second
	WriteTimeout = 30 * time.Second
	// WriteChunk is the most a response write moves under one write
	// deadline: a file is sent (with sendfile) a chunk at a time.
	WriteChunk = 1 << 20
)

// TimeBound gives each request a read deadline for its body and a write
// deadline renewed at each write of its answer, so a client that sends or
// reads slowly holds its connection (one a Limiter counts) for a bounded
// time while a large answer to a client that keeps reading is never cut
// off. net/http's ReadTimeout and WriteTimeout are whole-request bounds
// that would do the latter. A handler that streams for long (a spectator
// stream) bounds its own writes and is served outside it.
func TimeBound(h http.Handler) http.Handler { return TimeBoundBody(h, BodyTimeout) }

// TimeBoundBody is TimeBound with body as the time to read a body.
func TimeBoundBody(h http.Handler, body time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.ContentLength != 0 {
			_ = rc.SetReadDeadline(time.Now().Add(body))
		}
		h.ServeHTTP(&boundWriter{ResponseWriter: w, rc: rc}, r)
	})
}

// boundWriter renews the write deadline before each write.
type boundWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w *boundWriter) renew() { _ = w.rc.SetWriteDeadline(time.Now().Add(WriteTimeout)) }

func (w *boundWriter) Write(p []byte) (int, error) {
	w.renew()
	return w.ResponseWriter.Write(p)
}

// ReadFrom sends r a chunk at a time, each under its own deadline,
// through the response's own ReadFrom (sendfile for a file).
func (w *boundWriter) ReadFrom(r io.Reader) (int64, error) {
	// A limited file (io.CopyN's) is read through its own limit, so that
	// the chunk's limit is the only one and sendfile still applies.
	src, left := r, int64(-1)
	if lr, ok := r.(*io.LimitedReader); ok {
		src, left = lr.R, lr.N
		defer func() { lr.N = left }()
	}
	var n int64
	for left != 0 {
		chunk := int64(WriteChunk)
		if left > 0 {
			chunk = min(chunk, left)
		}
		w.renew()
		k, err := io.Copy(w.ResponseWriter, io.LimitReader(src, chunk))
		n += k
		if left > 0 {
			left -= k
		}
		if err != nil || k < chunk {
			return n, err
		}
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the response (flushes,
// deadlines).
func (w *boundWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
