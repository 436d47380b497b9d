// Command tickroom-bots load-tests a tickroom server with protocol-aware
// bots: each logs in over HTTP, joins a room over tickroom.v1 and sends
// inputs and chat at a rate, while the run measures input → ack latency,
// snapshot rates, tick gaps, connect/login/join times, errors, close codes
// and resumes, and samples the server's /metrics (or /proc/<pid>).
//
// It prints a progress line every second and a report at the end; -json,
// -csv and -svg also write the report, the per-second series and a latency
// plot to files; it exits with status 1, after the report, when no bot was
// in a room as the window ended. With -merge it runs no bots: it merges the JSON reports
// named as arguments (several bot processes against one server) into one.
// Every flag can be set with an environment variable: TICKROOM_BOTS_ and
// the flag's name in upper case with '-' as '_'.
//
//	tickroom-bots -http http://127.0.0.1:8080 -bots 1000 -room-size 10 -input-hz 10 -duration 30s
//
// Against a cluster, -http names several nodes (comma-separated): bots
// log in and connect round the nodes and follow the Redirects they answer
// with to the node that hosts their room; the report counts them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/tickroom/tickroom/internal/bots"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tickroom-bots:", err)
		os.Exit(1)
	}
}

type outputs struct {
	json, csv, svg, cpuprofile string
	merge                      bool
}

func parseFlags() (bots.Config, outputs, error) {
	var (
		c                 bots.Config
		o                 outputs
		options           string
		quiet             bool
		storm, slow, ramp float64
	)
	fs := flag.CommandLine
	fs.StringVar(&c.HTTPURL, "http", "http://127.0.0.1:8080", "server's public HTTP base URL (login, client config); comma-separated for the nodes of a cluster, bots spread over them")
	fs.StringVar(&c.WSURL, "ws", "", "tickroom.v1 WebSocket URL (empty: the one GET /v1/config gives clients, its ws_url resolved against -http when the server sets -public-ws-url; with several -http nodes, each node's own port)")
	fs.IntVar(&c.Bots, "bots", 100, "number of bots")
	fs.StringVar(&c.NamePrefix, "name", "bot", "bot name prefix (names are <prefix>-<n>)")
	fs.StringVar(&c.Game, "game", "arena", "game to play: arena or gomoku")
	fs.IntVar(&c.RoomSize, "room-size", 0, "bots per room, rooms created with max_players set (0: quick-match)")
	fs.IntVar(&c.TickRate, "tick-rate", 0, "tick rate in Hz of the rooms created with -room-size (0: the game's)")
	fs.StringVar(&options, "options", "", "game options, k=v,k=v")
	fs.Float64Var(&ramp, "ramp", 500, "bots started per second (0: as fast as logins go)")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "length of the steady window, which starts after the last bot started, then -settle and -warmup")
	fs.DurationVar(&c.Settle, "settle", 0, "after the last bot started, wait up to this long for every bot to be in a room before the steady window and -duration start (0: no wait)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "after -settle, play this long before the steady window and -duration start, so the window leaves out the server catching up on the ramp (0: no wait)")
	fs.DurationVar(&c.Linger, "linger", 0, "after the steady window, keep playing this long before stopping; \"steady window over\" is printed as the window ends, so a script can read the server meanwhile (0: stop at once)")
	fs.Float64Var(&c.InputHz, "input-hz", 10, "inputs per bot per second (0: 10; negative: none); a gomoku bot moves only on its turn, at its first input time after the turn came")
	fs.Float64Var(&c.ChatRate, "chat-rate", 0, "chat lines per bot per second")
	fs.IntVar(&c.ChatChannels, "chat-channels", 0, "send the chat to this many lobby channels (bots-0, bots-1, …; a store keeps their lines) instead of the rooms (0: room chat)")
	fs.Float64Var(&storm, "storm", 0, "reconnect storm: percent of seated bots that drop at once and resume")
	fs.DurationVar(&c.StormAt, "storm-at", 0, "when the storm hits, after the steady window started (the last bot started, then -settle and -warmup), at most -duration (0: half of -duration)")
	fs.Float64Var(&slow, "slow", 0, "slow readers: percent of bots that stop reading")
	fs.DurationVar(&c.SlowAt, "slow-at", 0, "when slow readers stop reading, after the steady window started, at most -duration (0: a quarter of -duration)")
	fs.IntVar(&c.SlowReadBuffer, "slow-rcvbuf", 0, "slow readers' socket receive buffer in bytes (0: kernel default)")
	fs.DurationVar(&c.SlowFor, "slow-for", 5*time.Second, "how long slow readers stop reading")
	fs.IntVar(&c.Loops, "loops", 0, "event loops (0: one per CPU)")
	fs.IntVar(&c.SourceAddrs, "sources", 0, "source addresses 127.0.0.2.. to spread connections over (0: one per 5,000 bots, -1: kernel's choice)")
	fs.IntVar(&c.SourceOffset, "source-offset", 0, "first source address is 127.0.0.(2+offset), for several bot processes")
	fs.IntVar(&c.MaxHandshakes, "max-handshakes", 32, "unfinished WebSocket handshakes per source address")
	fs.IntVar(&c.LoginConcurrency, "login-concurrency", 32, "logins in flight")
	fs.StringVar(&c.MetricsURL, "metrics-url", "", "server's Prometheus /metrics URL, sampled every second")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "server's pid, for CPU and RSS from /proc when /metrics is unavailable")
	fs.StringVar(&o.json, "json", "", "write the report as JSON to this file")
	fs.StringVar(&o.csv, "csv", "", "write the per-second series as CSV to this file")
	fs.StringVar(&o.svg, "svg", "", "write a latency plot as SVG to this file")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write the bots' own CPU profile to this file")
	fs.BoolVar(&o.merge, "merge", false, "merge the JSON reports named as arguments instead of running bots")
	fs.BoolVar(&quiet, "quiet", false, "no progress lines")
	fs.Parse(os.Args[1:])
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var err error
	fs.VisitAll(func(fl *flag.Flag) {
		env := "TICKROOM_BOTS_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !set[fl.Name] && err == nil {
			if e := fl.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	if err != nil {
		return c, o, err
	}
	// The library reads zero as its own default (10 bots, 10 s), which is
	// neither what was asked nor these flags' defaults.
	if c.Bots == 0 && !o.merge {
		return c, o, errors.New("-bots 0: a run needs at least one bot")
	}
	if c.Duration == 0 && !o.merge {
		return c, o, errors.New("-duration 0: a run needs a steady window; give a positive duration")
	}
	if urls := strings.Split(c.HTTPURL, ","); len(urls) > 1 {
		c.HTTPURL, c.HTTPURLs = urls[0], urls
	}
	if options != "" {
		c.Options = map[string]string{}
		for _, kv := range strings.Split(options, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return c, o, fmt.Errorf("-options: %q is not k=v", kv)
			}
			c.Options[k] = v
		}
	}
	c.RampRate, c.StormPercent, c.SlowPercent = ramp, storm, slow
	if !quiet {
		c.Progress = os.Stdout
	}
	return c, o, nil
}

func run() error {
	cfg, out, err := parseFlags()
	if err != nil {
		return err
	}
	if out.merge {
		return merge(flag.Args(), out)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if out.cpuprofile != "" {
		f, err := os.Create(out.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	rep, err := bots.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := write(rep, out); err != nil {
		return err
	}
	// A window with no bot seated measured nothing: not a run to read
	// figures from, whatever the report's zeros say.
	if rep.InRoomAtEnd == 0 {
		return fmt.Errorf("no bot was in a room as the window ended (logged in %d of %d; the report's failures and closes say why)", rep.LoggedIn, cfg.Bots)
	}
	return nil
}

// merge reads the reports in files, merges them and writes the result.
func merge(files []string, out outputs) error {
	var reps []*bots.Report
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		rep, err := bots.ReadReport(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		reps = append(reps, rep)
	}
	rep, err := bots.Merge(reps...)
	if err != nil {
		return err
	}
	return write(rep, out)
}

// write prints rep and writes the files out names.
func write(rep *bots.Report, out outputs) error {
	if err := rep.WriteText(os.Stdout); err != nil {
		return err
	}
	var errs []error
	for _, f := range []struct {
		path  string
		write func(*os.File) error
	}{
		{out.json, func(f *os.File) error { return rep.WriteJSON(f) }},
		{out.csv, func(f *os.File) error { return rep.WriteCSV(f) }},
		{out.svg, func(f *os.File) error { return rep.WriteSVG(f) }},
	} {
		if f.path == "" {
			continue
		}
		file, err := os.Create(f.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, f.write(file), file.Close())
	}
	return errors.Join(errs...)
}
