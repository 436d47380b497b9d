package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// binaryFlags returns the names of the binary's flags, from its -h.
func binaryFlags(t *testing.T) map[string]bool {
	t.Helper()
	out, _ := exec.Command(buildBinary(t), "-h").CombinedOutput()
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if !flags["addr"] || !flags["admin"] {
		t.Fatalf("no flags in -h:\n%s", out)
	}
	return flags
}

// TestCaddyfileUpstreamsAreTheBinarysVariables: deploy/Caddyfile reads
// tickroom's addresses from TICKROOM_ variables so that one environment
// sets both Caddy's upstreams and the server's listeners. The WebSocket
// upstream was TICKROOM_WS, which the binary does not read (its -addr is
// TICKROOM_ADDR): set in a shared environment, it moved Caddy's upstream
// while the server stayed on its default port, and every WebSocket got
// 502. Each upstream variable must be the variable of one of the
// binary's flags.
func TestCaddyfileUpstreamsAreTheBinarysVariables(t *testing.T) {
	flags := binaryFlags(t)
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	upstreams := regexp.MustCompile(`(?m)^\s*reverse_proxy \{\$TICKROOM_([A-Z_]+):`).FindAllStringSubmatch(string(b), -1)
	if len(upstreams) == 0 {
		t.Fatal("no reverse_proxy upstream in deploy/Caddyfile")
	}
	for _, m := range upstreams {
		if name := strings.ToLower(strings.ReplaceAll(m[1], "_", "-")); !flags[name] {
			t.Errorf("deploy/Caddyfile proxies to TICKROOM_%s, which sets no flag of tickroom (no -%s)", m[1], name)
		}
	}
}

// TestDocumentedCommandLines: the tickroom command lines docs/deploy.md
// and the deploy/ files give name only flags the binary has, and no
// secret flag, which the binary warns about (the value shows in ps to
// every local user); docs/deploy.md's did, -token-key "$TOKEN_KEY"
// -admin-token "$ADMIN_TOKEN".
func TestDocumentedCommandLines(t *testing.T) {
	flags := binaryFlags(t)
	files, _ := filepath.Glob(filepath.Join("..", "..", "deploy", "*"))
	files = append(files, filepath.Join("..", "..", "docs", "deploy.md"))
	start := regexp.MustCompile(`^(#\s+)?tickroom -`)
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in := false
		for _, line := range strings.Split(string(b), "\n") {
			if !in && !start.MatchString(line) {
				continue
			}
			seen++
			body := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
			for _, w := range strings.Fields(body) {
				name, ok := strings.CutPrefix(w, "-")
				if !ok {
					continue
				}
				name, _, _ = strings.Cut(name, "=")
				if !flags[name] {
					t.Errorf("%s: %q names -%s, which tickroom does not have", f, body, name)
				}
				if secretFlag[name] {
					t.Errorf("%s: %q gives the secret -%s on the command line; use -%s-file or TICKROOM_%s", f, body, name, name, strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
				}
			}
			in = strings.HasSuffix(body, `\`)
		}
	}
	if seen == 0 {
		t.Fatal("no tickroom command line found")
	}
}

// TestHelpSaysWhereTheAdminTokenIs: -h said an admin token left empty is
// "a random one, printed at start", but the binary never prints it (only
// its fingerprint, and where it is kept): an operator looking for it in
// the output found nothing. The help names where it is.
func TestHelpSaysWhereTheAdminTokenIs(t *testing.T) {
	out, _ := exec.Command(buildBinary(t), "-h").CombinedOutput()
	_, help, _ := strings.Cut(string(out), "\n  -admin-token string\n")
	help, _, _ = strings.Cut(help, "\n  -")
	if strings.Contains(help, "printed") || !strings.Contains(help, "admin-token.key") {
		t.Fatalf("-admin-token's help: %q", help)
	}
}

// TestReadmeListsEveryFlag: README.md's Configuration section names every
// flag of the binary (a secret by its -file twin), so that an operator
// reading it learns of -drain-timeout, -shutdown-timeout, -loops, -shards
// and -store-queue, which it left out.
func TestReadmeListsEveryFlag(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "\n## Configuration\n")
	section, _, _ = strings.Cut(section, "\n## ")
	if section == "" {
		t.Fatal("no Configuration section in README.md")
	}
	for name := range binaryFlags(t) {
		want := "`-" + name + "`"
		if secretFlag[name] {
			want = "`-" + name + "-file`"
		}
		if !strings.Contains(section, want) {
			t.Errorf("README.md's Configuration section does not name %s", want)
		}
	}
}

// TestHelpSaysWhereTheSessionKeyIs: -h said a session key left empty is
// "random, tokens die with the process", but with a store (the default
// -data-dir, or -database) the key is generated once and kept, and every
// token outlives a restart; an operator rotating the key by leaving the
// flag out found the old tokens still valid. The help names where it is.
func TestHelpSaysWhereTheSessionKeyIs(t *testing.T) {
	out, _ := exec.Command(buildBinary(t), "-h").CombinedOutput()
	_, help, _ := strings.Cut(string(out), "\n  -token-key string\n")
	help, _, _ = strings.Cut(help, "\n  -")
	if !strings.Contains(help, "token-key.key") || !strings.Contains(help, "secrets") {
		t.Fatalf("-token-key's help: %q", help)
	}
}

// TestGuideTellsToSetNoSecretFlag: docs/games.md's "Running it" table,
// what to set for production, gave the session key as -token-key, whose
// value every local user reads in ps and which the binary warns about
// (docs/deploy.md: from a file or TICKROOM_TOKEN_KEY, never the flag).
// Each flag the table names is one of the binary's, and no secret flag
// but its -file twin.
func TestGuideTellsToSetNoSecretFlag(t *testing.T) {
	flags := binaryFlags(t)
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "games.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "\n## Running it\n")
	section, _, _ = strings.Cut(section, "\n## ")
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.Contains(cells[2], "`-") {
			continue
		}
		rows++
		for _, m := range regexp.MustCompile("`-([a-z][a-z0-9-]*)`").FindAllStringSubmatch(cells[2], -1) {
			if !flags[m[1]] {
				t.Errorf("docs/games.md's Running it table names -%s, which is not a flag of tickroom", m[1])
			}
			if secretFlag[m[1]] {
				t.Errorf("docs/games.md's Running it table sets the secret -%s on the command line; name -%s-file or TICKROOM_%s", m[1], m[1], strings.ToUpper(strings.ReplaceAll(m[1], "-", "_")))
			}
		}
	}
	if rows < 5 {
		t.Fatalf("found %d rows with flags in docs/games.md's Running it table", rows)
	}
}
