package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// docFlagChecks are the documents whose `-flags` are held to the
// binaries that have them. A command line in a code span or in an sh or
// unlabelled block (tickroom -addr …, go run ./cmd/tickroom-bots -bots …,
// scripts/bots/run.sh OUT -room-size …) is held to the binary it runs; a
// code span that is flags alone (`-drop-grace`) to the binary of its
// section, else of its document. BENCHMARKS.md's spans of flags alone
// speak of tickroom, tickroom-bots, fanoutcpu or connrss as the paragraph
// says, which no heading tells: only its command lines are checked.
// examples/README.md is not here: its -addr and -http are those of
// tickroom.Main, each example's own binary.
var docFlagChecks = []struct {
	doc      string
	bare     string            // the binary a span of flags alone names; "": not checked
	sections map[string]string // a "## " heading: the binary its spans of flags alone name
}{
	{doc: "docs/metrics.md", bare: "tickroom"},
	{doc: "docs/deploy.md", bare: "tickroom"},
	{doc: "docs/limits.md", bare: "tickroom"},
	{doc: "docs/cluster.md", bare: "tickroom"},
	{doc: "docs/store.md", bare: "tickroom"},
	{doc: "docs/games.md", bare: "tickroom"},
	{doc: "docs/state-sync.md", bare: "tickroom"},
	{doc: "README.md", bare: "tickroom", sections: map[string]string{"Load-testing with tickroom-bots": "tickroom-bots"}},
	{doc: "BENCHMARKS.md"},
	{doc: "client-js/README.md", bare: "tickroom"},
}

// TestOperatorDocsNameOnlyTheBinarysFlags: docs/metrics.md told operators
// that chat lines are refused over "the chat rate (`-chat-rate`)", a flag
// of tickroom-bots the server does not have (its chat rate is fixed,
// docs/limits.md). Every `-flag` a document names must be one of the
// binary's it names it for.
func TestOperatorDocsNameOnlyTheBinarysFlags(t *testing.T) {
	for _, c := range docFlagChecks {
		b, err := os.ReadFile(filepath.Join("..", "..", c.doc))
		if err != nil {
			t.Fatal(err)
		}
		uses := docFlagUses(string(b), c.bare, c.sections)
		if len(uses) == 0 {
			t.Errorf("found no flag in %s: the test no longer sees them", c.doc)
		}
		for _, u := range uses {
			if !programFlags(t, u.binary)[u.flag] {
				t.Errorf("%s:%d names -%s, which is not a flag of %s: %s", c.doc, u.line, u.flag, u.binary, u.text)
			}
		}
	}
}

type flagUse struct {
	binary, flag, text string
	line               int
}

var (
	codeSpan   = regexp.MustCompile("`([^`\n]+)`")
	flagWord   = regexp.MustCompile(`^--?([a-z][a-z0-9-]*)(=.*)?$`)
	envAssign  = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)
	serverArgs = regexp.MustCompile(`(?:^make run ARGS|\bSERVER_FLAGS)=(?:"([^"]*)"|'([^']*)'|(\S*))`)
	// The programs whose flags documents name, each built from ./cmd.
	programs = map[string]bool{"tickroom": true, "tickroom-bots": true, "tickroom-abuse": true, "fanoutcpu": true, "connrss": true, "tickroom-slowlink": true}
	// Scripts that pass what follows their first argument to a program.
	scriptPrograms = map[string]string{"scripts/bots/run.sh": "tickroom-bots", "scripts/cluster/bench.sh": "tickroom-bots"}
)

// docFlagUses returns the flags a Markdown document names, each with the
// binary it names it for: see docFlagChecks.
func docFlagUses(doc, bare string, sections map[string]string) []flagUse {
	var uses []flagUse
	lines := strings.Split(doc, "\n")
	section, fence := bare, ""
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if lang, ok := strings.CutPrefix(line, "```"); ok {
			if fence == "" {
				fence = lang + " "
			} else {
				fence = ""
			}
			continue
		}
		if fence != "" {
			if fence == "sh " || fence == " " {
				// A command's lines are one to a line ending in \.
				n := i
				for strings.HasSuffix(strings.TrimSpace(line), `\`) && i+1 < len(lines) && !strings.HasPrefix(lines[i+1], "```") {
					i++
					line = strings.TrimSuffix(strings.TrimSpace(line), `\`) + " " + lines[i]
				}
				uses = append(uses, commandFlags(line, "", n+1)...)
			}
			continue
		}
		if h, ok := strings.CutPrefix(line, "## "); ok {
			section = bare
			if b, ok := sections[h]; ok {
				section = b
			}
		}
		for _, m := range codeSpan.FindAllStringSubmatch(line, -1) {
			bin := ""
			if strings.HasPrefix(m[1], "-") {
				bin = section
			}
			uses = append(uses, commandFlags(m[1], bin, i+1)...)
		}
	}
	return uses
}

// commandFlags returns the flags of the command lines in text, held to
// the binaries they run; text that starts with a flag is one command of
// bin's ("": not checked).
func commandFlags(text, bin string, line int) []flagUse {
	var uses []flagUse
	text, _, _ = strings.Cut(text, " #")
	for _, cmd := range regexp.MustCompile(`\|\|?|&&|;`).Split(text, -1) {
		words := strings.Fields(cmd)
		prog := bin
		if !strings.HasPrefix(cmd, "-") {
			prog = ""
			// make run ARGS="…" (go run ./cmd/tickroom $(ARGS)) and the
			// SERVER_FLAGS="…" of scripts/bots/run.sh are tickroom's.
			for _, m := range serverArgs.FindAllStringSubmatch(strings.TrimSpace(cmd), -1) {
				uses = append(uses, commandFlags(m[1]+m[2]+m[3], "tickroom", line)...)
			}
			for len(words) > 0 && envAssign.MatchString(words[0]) {
				words = words[1:]
			}
			switch {
			case len(words) >= 3 && words[0] == "go" && words[1] == "run" && programs[strings.TrimPrefix(words[2], "./cmd/")]:
				prog, words = strings.TrimPrefix(words[2], "./cmd/"), words[3:]
			case len(words) >= 2 && scriptPrograms[words[0]] != "":
				prog, words = scriptPrograms[words[0]], words[2:]
			case len(words) >= 1 && programs[filepath.Base(words[0])]:
				prog, words = filepath.Base(words[0]), words[1:]
			}
		}
		if prog == "" {
			continue
		}
		for _, w := range words {
			if m := flagWord.FindStringSubmatch(w); m != nil {
				uses = append(uses, flagUse{binary: prog, flag: m[1], text: strings.TrimSpace(cmd), line: line})
			}
		}
	}
	return uses
}

var programFlagSets sync.Map // program: map[string]bool

// programFlags returns the flags a program of ./cmd lists in its -h, and
// -h itself.
func programFlags(t *testing.T, prog string) map[string]bool {
	t.Helper()
	if f, ok := programFlagSets.Load(prog); ok {
		return f.(map[string]bool)
	}
	var flags map[string]bool
	if prog == "tickroom" {
		flags = binaryFlags(t)
	} else {
		bin := filepath.Join(t.TempDir(), prog)
		if out, err := exec.Command("go", "build", "-o", bin, filepath.Join("..", prog)).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", prog, err, out)
		}
		out, _ := exec.Command(bin, "-h").CombinedOutput()
		flags = map[string]bool{}
		for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
			flags[m[1]] = true
		}
		if len(flags) == 0 {
			t.Fatalf("no flags in %s -h:\n%s", prog, out)
		}
	}
	flags["h"], flags["help"] = true, true
	programFlagSets.Store(prog, flags)
	return flags
}
