package tickroom_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
)

// TestRunCommandServesOnTheFlagsAddresses runs a command's server on the
// addresses its -addr and -http flags give, says where, serves, and
// returns nil after a clean shutdown when its context ends.
func TestRunCommandServesOnTheFlagsAddresses(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- tickroom.RunCommand(ctx, "mygame", []string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0"},
			tickroom.Options{AdminAddr: tickroom.Off}, pw)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no address line: %v (run: %v)", err, <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	httpAddr, ok := strings.CutPrefix(strings.TrimSpace(line), "mygame on http://")
	if !ok || !strings.HasSuffix(httpAddr, "/") {
		t.Fatalf("address line %q", line)
	}
	resp, err := http.Get("http://" + httpAddr + "v1/config")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/config on the -http address: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunCommand after its context ended: %v", err)
	}
}

// TestRunCommandRefusesBadCommandLines returns an error, serving nothing,
// for an unknown flag and for a -http address that is taken.
func TestRunCommandRefusesBadCommandLines(t *testing.T) {
	t.Parallel()
	opts := tickroom.Options{AdminAddr: tickroom.Off}
	if err := tickroom.RunCommand(t.Context(), "mygame", []string{"-nope"}, opts, io.Discard); err == nil || !strings.Contains(err.Error(), "-nope") {
		t.Fatalf("unknown flag: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	err = tickroom.RunCommand(t.Context(), "mygame", []string{"-addr", "127.0.0.1:0", "-http", taken}, opts, io.Discard)
	if err == nil || !strings.Contains(err.Error(), taken) {
		t.Fatalf("taken -http address %s: %v", taken, err)
	}
}

// TestRunCommandSaysWhereTheAdminTokenIs: a command's admin port serves
// the monitor and the admin API only with the admin token, which Options
// left empty makes at random; the start lines name the admin address and
// a private file holding that token, which opens the admin API, and the
// file is gone once the command returns.
func TestRunCommandSaysWhereTheAdminTokenIs(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- tickroom.RunCommand(ctx, "mygame", []string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0"},
			tickroom.Options{AdminAddr: "127.0.0.1:0"}, pw)
		pw.Close()
	}()
	lines := make(chan string, 8)
	go func() {
		r := bufio.NewReader(pr)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				close(lines)
				_, _ = io.Copy(io.Discard, pr)
				return
			}
			lines <- line
		}
	}()
	var admin, tokenFile string
	deadline := time.After(10 * time.Second)
	for admin == "" {
		var line string
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("no admin line (run: %v)", <-done)
			}
			line = l
		case <-deadline:
			t.Fatal("no admin line in 10 s")
		}
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "mygame admin on http://"); ok {
			addr, file, ok := strings.Cut(rest, "/monitor/ (admin token in ")
			if !ok || !strings.HasSuffix(file, ")") {
				t.Fatalf("admin line %q", line)
			}
			admin, tokenFile = addr, strings.TrimSuffix(file, ")")
		}
	}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %s: %v %v", tokenFile, fi.Mode(), err)
	}
	req, _ := http.NewRequest("GET", "http://"+admin+"/v1/admin/overview", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin API with the file's token: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunCommand after its context ended: %v", err)
	}
	if _, err := os.Stat(tokenFile); !os.IsNotExist(err) {
		t.Fatalf("token file left behind: %v", err)
	}
}

// TestRunCommandTakesTheAdminAddressFromItsFlag: -admin sets the admin
// address over Options' own, as -addr and -http do theirs: a command whose
// Options turn the admin port off serves it on the address -admin names,
// and -admin off turns off one Options left at its default.
func TestRunCommandTakesTheAdminAddressFromItsFlag(t *testing.T) {
	t.Parallel()
	// serve runs the command until its first lines are out, hands them to
	// check, then ends it and returns every line it wrote.
	serve := func(opts tickroom.Options, admin string, lines int, check func([]string)) []string {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- tickroom.RunCommand(ctx, "mygame", []string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", admin}, opts, pw)
			pw.Close()
		}()
		var out []string
		r := bufio.NewReader(pr)
		for len(out) < lines {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("-admin %s: %d lines %q, then %v (run: %v)", admin, len(out), out, err, <-done)
			}
			out = append(out, strings.TrimSpace(line))
		}
		check(out)
		cancel()
		rest, _ := io.ReadAll(r)
		if err := <-done; err != nil {
			t.Fatalf("-admin %s: RunCommand after its context ended: %v", admin, err)
		}
		return append(out, strings.Split(string(rest), "\n")...)
	}

	serve(tickroom.Options{AdminAddr: tickroom.Off}, "127.0.0.1:0", 2, func(out []string) {
		rest, ok := strings.CutPrefix(out[1], "mygame admin on http://")
		admin, _, _ := strings.Cut(rest, "/")
		if !ok || strings.HasSuffix(admin, ":9090") {
			t.Fatalf("-admin 127.0.0.1:0 over Options' off: lines %q", out)
		}
		resp, err := http.Get("http://" + admin + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz on the -admin address: %d", resp.StatusCode)
		}
	})

	for _, line := range serve(tickroom.Options{}, tickroom.Off, 1, func([]string) {}) {
		if strings.Contains(line, "admin on") {
			t.Fatalf("-admin off: %q", line)
		}
	}
}
