// Package pgtest starts a private PostgreSQL server for tests: initdb into
// a temporary data directory, pg_ctl start on a free loopback port, and
// pg_ctl stop in t.Cleanup. Nothing is shared with a system cluster.
//
// The binaries come from $TICKROOM_PG_BIN, else the newest
// /usr/lib/postgresql/<version>/bin (Debian's layout), else $PATH;
// scripts/install-postgres.sh installs them. When they are missing the
// test fails, so that CI never passes without running the PostgreSQL
// suite; a developer without PostgreSQL sets TICKROOM_PG_SKIP=1 to skip.
//
// PostgreSQL refuses to run as root; as root the server runs as the
// "postgres" user (which Debian's package makes) through runuser.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tickroom/tickroom/internal/freeport"
)

// SkipEnv names the variable that, set to 1, skips PostgreSQL tests when
// the binaries are missing.
const SkipEnv = "TICKROOM_PG_SKIP"

// Server is one running test server.
type Server struct {
	// Port is the loopback port it listens on.
	Port    int
	dir     string
	bin     string
	stopped bool
	paused  []int
}

// Start starts a server for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		if os.Getenv(SkipEnv) == "1" {
			t.Skipf("PostgreSQL not installed (%v); %s=1 skips", err, SkipEnv)
		}
		t.Fatalf("PostgreSQL not installed: %v; run scripts/install-postgres.sh (or set %s=1 to skip locally)", err, SkipEnv)
	}
	dir, err := os.MkdirTemp("", "tickroom-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user to run the server: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	s.reapOnExit(t)
	data := filepath.Join(dir, "data")
	if out, err := s.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// A free port can be taken between the probe and the start by another
	// test process; try a few.
	for attempt := 0; ; attempt++ {
		s.Port = freeport.Port(t) // below the ephemeral range: kept free across Restart
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50", s.Port, dir)
		out, err := s.run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts)
		if err == nil {
			break
		}
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		if attempt == 3 || !strings.Contains(string(log), "already in use") {
			t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Logf("PostgreSQL server log:\n%s", log)
		}
		if s.stopped {
			return
		}
		if out, err := s.run("pg_ctl", "stop", "-D", data, "-m", "immediate", "-w"); err != nil {
			t.Errorf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	return s
}

// reaper stops the server and removes its directory once the test binary
// is gone, whichever way it went: a shell that waits for the end of a pipe
// only this process holds. pg_ctl starts the server as a daemon, out of
// reach of the cleanups of a binary that never runs them (go test's
// -timeout panic, a cancelled CI job), which left it running for good.
const reaper = `dir=$1; shift
read -r done
[ "$done" = stopped ] && exit 0
pm=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
if [ -n "$pm" ]; then
	kill -CONT "$pm" 2>/dev/null; pkill -CONT -P "$pm" 2>/dev/null
	"$@" stop -D "$dir/data" -m immediate -w >/dev/null 2>&1
fi
rm -rf "$dir"`

// reapOnExit starts the reaper for s, in a process group of its own so
// that a signal to the test's group leaves it to do its work. A test that
// ends normally tells it the server is stopped (then it touches nothing,
// not even a stale postmaster.pid's process).
func (s *Server) reapOnExit(t testing.TB) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pgCtl := []string{filepath.Join(s.bin, "pg_ctl")}
	if os.Geteuid() == 0 {
		pgCtl = append([]string{"runuser", "-u", "postgres", "--"}, pgCtl...)
	}
	cmd := exec.Command("sh", append([]string{"-c", reaper, "sh", s.dir}, pgCtl...)...)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		t.Fatalf("starting the reaper: %v", err)
	}
	t.Cleanup(func() {
		_, _ = w.WriteString("stopped\n")
		w.Close()
		_ = cmd.Wait()
	})
}

// URL returns the URL of the database name on the server.
func (s *Server) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, name)
}

// NewDatabase creates an empty database with a fresh name and returns its
// URL. Its text sorts by bytes (the server is made without a locale, C).
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	return s.newDatabase(t, "")
}

// NewICUDatabase creates an empty database, as NewDatabase does, whose
// text sorts by the ICU locale loc (such as "en-US", where "a" sorts
// before "B", which C sorts after it), as a database made on a server with
// a linguistic locale does.
func (s *Server) NewICUDatabase(t testing.TB, loc string) string {
	t.Helper()
	return s.newDatabase(t, " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '"+strings.ReplaceAll(loc, "'", "''")+"'")
}

func (s *Server) newDatabase(t testing.TB, options string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("connecting to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+options); err != nil {
		t.Fatalf("creating database: %v", err)
	}
	return s.URL(name)
}

// Stop stops the server now (to test a lost database), closing every
// client connection; what was committed stays (the test server runs with
// synchronous_commit off, which an immediate stop would lose). The cleanup
// then finds it stopped.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if out, err := s.run("pg_ctl", "stop", "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w"); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
	s.stopped = true
}

// Restart starts a stopped server again on the same port.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", s.Port, s.dir)
	if out, err := s.run("pg_ctl", "start", "-w", "-t", "60", "-D", filepath.Join(s.dir, "data"), "-l", filepath.Join(s.dir, "log"), "-o", opts); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
	s.stopped = false
}

// Pause freezes the server (SIGSTOP to the postmaster and every backend):
// alive, its port still taking connections, answering nothing, as behind
// a partition that drops packets. Resume, and the end of the test, let it
// go on.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	pids := s.pids(t)
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP %d: %v", pid, err)
		}
	}
	s.paused = pids
	t.Cleanup(func() { s.Resume(t) })
}

// Resume lets a paused server go on.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	for _, pid := range s.paused {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	s.paused = nil
}

// pids returns the postmaster's pid and its children's.
func (s *Server) pids(t testing.TB) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	pids := []int{pm}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces; read after ')'.
		i := strings.LastIndexByte(string(b), ')')
		fields := strings.Fields(string(b)[i+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(pm) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

func binDir() (string, error) {
	if d := os.Getenv("TICKROOM_PG_BIN"); d != "" {
		return d, checkBin(d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if checkBin(d) == nil {
			return d, nil
		}
	}
	p, err := exec.LookPath("initdb")
	if err != nil {
		return "", fmt.Errorf("no initdb in /usr/lib/postgresql/*/bin or $PATH")
	}
	p, _ = filepath.EvalSymlinks(p)
	d := filepath.Dir(p)
	return d, checkBin(d)
}

func checkBin(d string) error {
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(d, b)); err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
	}
	return nil
}
