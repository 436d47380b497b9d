package tickroom

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/tickroom/tickroom/store"
)

// Main is the main function of a game server command: it runs
// RunCommand with the command line's arguments until SIGINT or SIGTERM,
// and on an error prints it after name to standard error and exits with
// status 1 (2 for a bad command line).
//
//	func main() {
//		pages, _ := fs.Sub(web, "web/dist")
//		tickroom.Main("pong", tickroom.Options{Games: []game.Definition{Definition()}, Pages: pages})
//	}
func Main(name string, opts Options) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := RunCommand(ctx, name, os.Args[1:], opts, os.Stdout)
	stop()
	switch {
	case err == flag.ErrHelp:
		os.Exit(0)
	case err != nil && isUsage(err):
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// usageError is a bad command line; the flag set already printed it.
type usageError struct{ error }

func isUsage(err error) bool { _, ok := err.(usageError); return ok }

// RunCommand serves opts as a command would: the flags in args, -addr,
// -http and -admin, set Options.Addr, Options.HTTPAddr and
// Options.AdminAddr (their defaults are opts' own, else DefaultAddr,
// DefaultHTTPAddr and DefaultAdminAddr, which the server goes without when
// it is taken; Off turns HTTP or admin off); it builds and starts
// the server, writes "<name> on http://<HTTP address>/" to out and, when
// the admin listener is up, "<name> admin on http://<admin address>/monitor/
// (admin token in <where>)", where a token Options left empty (random, no
// store) is in a private file removed at return; and serves
// until ctx ends, then shuts down (Server.Run). Everything else keeps
// opts' values. A bad command line returns an error after the usage is
// printed to standard error; -h returns flag.ErrHelp.
func RunCommand(ctx context.Context, name string, args []string, opts Options, out io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&opts.Addr, "addr", orString(opts.Addr, DefaultAddr), "WebSocket listen address")
	fs.StringVar(&opts.HTTPAddr, "http", orString(opts.HTTPAddr, DefaultHTTPAddr), "HTTP listen address (login and the page)")
	admin := opts.AdminAddr
	fs.StringVar(&opts.AdminAddr, "admin", orString(opts.AdminAddr, DefaultAdminAddr), "admin HTTP listen address (/metrics, /monitor/, the admin API); "+Off+" turns it off")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	adminSet := false
	fs.Visit(func(f *flag.Flag) { adminSet = adminSet || f.Name == "admin" })
	if !adminSet {
		// Left empty, the default is one the server goes without when it
		// is taken; an address given must be free.
		opts.AdminAddr = admin
	}
	srv, err := New(opts)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	if a := srv.HTTPAddr(); a != nil {
		fmt.Fprintf(out, "%s on http://%s/\n", name, a)
	}
	if a := srv.AdminAddr(); a != nil {
		// The monitor and the admin API take the admin token alone, and
		// one Options left empty is random: name where it can be read,
		// never the token itself.
		where := "Options.AdminToken"
		switch {
		case srv.AdminTokenStored() && opts.DatabaseURL == "":
			where = store.SecretFile(opts.DataDir, "admin-token")
		case srv.AdminTokenStored():
			where = "the database's secrets table"
		case opts.AdminToken == "":
			path, err := writeAdminToken(name, srv.AdminToken())
			if err != nil {
				where = fmt.Sprintf("no file: %v; set Options.AdminToken", err)
				break
			}
			defer os.RemoveAll(filepath.Dir(path))
			where = path
		}
		fmt.Fprintf(out, "%s admin on http://%s/monitor/ (admin token in %s)\n", name, a, where)
	}
	return srv.Run(ctx)
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeAdminToken writes a random admin token to a file only its user may
// read, in a directory of its own that the caller removes.
func writeAdminToken(name, token string) (string, error) {
	dir, err := os.MkdirTemp("", name+"-admin-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "admin-token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return path, nil
}
