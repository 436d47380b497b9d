package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsNameOnlyVariablesSomethingReads: README.md, the guides and
// BENCHMARKS.md name TICKROOM_ environment variables: one of tickroom's
// flags (TICKROOM_ and the flag's name), one of tickroom-bots'
// (TICKROOM_BOTS_ and its flag's), or one a script, a test helper or
// deploy/Caddyfile reads by name. Every one a document names must be
// read: a variable nothing reads is set to no effect.
func TestDocsNameOnlyVariablesSomethingReads(t *testing.T) {
	root := filepath.Join("..", "..")
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append(docs, filepath.Join(root, "README.md"), filepath.Join(root, "BENCHMARKS.md"), filepath.Join(root, "client-js", "README.md"))
	readers := variableReaders(t, root)
	named := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range regexp.MustCompile(`TICKROOM_[A-Z0-9_]*[A-Z0-9](_<)?`).FindAllStringSubmatch(line, -1) {
				named++
				if why := variableRead(t, m[0], readers); why != "" {
					rel, _ := filepath.Rel(root, doc)
					t.Errorf("%s:%d names %s, %s", rel, i+1, strings.TrimSuffix(m[0], "_<"), why)
				}
			}
		}
	}
	if named < 20 {
		t.Fatalf("found %d variables in the documents: the test no longer sees them", named)
	}
}

// variableRead returns "" when something reads the variable name (a
// trailing "_<" is a placeholder after a prefix, TICKROOM_BOTS_<FLAG>),
// else what it is not.
func variableRead(t *testing.T, name string, readers string) string {
	if prefix, ok := strings.CutSuffix(name, "_<"); ok {
		if prefix == "TICKROOM_BOTS" {
			return ""
		}
		return "a prefix no program reads flags under"
	}
	flagOf := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "-")) }
	if f, ok := strings.CutPrefix(name, "TICKROOM_BOTS_"); ok {
		if programFlags(t, "tickroom-bots")[flagOf(f)] {
			return ""
		}
		return fmt.Sprintf("but tickroom-bots has no -%s", flagOf(f))
	}
	if programFlags(t, "tickroom")[flagOf(strings.TrimPrefix(name, "TICKROOM_"))] {
		return ""
	}
	if readBy(readers, name) {
		return ""
	}
	return fmt.Sprintf("but tickroom has no -%s and no script, test helper or deploy file reads it", flagOf(strings.TrimPrefix(name, "TICKROOM_")))
}

// readBy reports whether readers reads the variable name: whether name,
// with no word character after it, comes just after Getenv("), a const
// x = " (a name passed on), process.env., a script's $ or ${, or a
// Caddyfile's {$. It looks at each place name occurs: a regular
// expression run over the whole tree (6 MB) took 16 s a name under the
// race detector.
func readBy(readers, name string) bool {
	before := regexp.MustCompile(`(Getenv\("|const \w+ = "|process\.env\.|\$\{?|\{\$)$`)
	for at := 0; ; {
		i := strings.Index(readers[at:], name)
		if i < 0 {
			return false
		}
		i += at
		at = i + 1
		if end := i + len(name); end < len(readers) && isWordByte(readers[end]) {
			continue
		}
		if before.MatchString(readers[strings.LastIndexByte(readers[:i], '\n')+1 : i]) {
			return true
		}
	}
}

// isWordByte reports whether c is a word character of a regular
// expression's \b: an ASCII letter, digit or underscore.
func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// variableReaders returns the tree's Go, JavaScript and shell files and
// deploy/, one after another: what may read a variable by name.
func variableReaders(t *testing.T, root string) string {
	var all strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "dist") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".mjs", ".js", ".ts", ".sh":
		default:
			if filepath.Base(filepath.Dir(path)) != "deploy" && d.Name() != "Makefile" {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		all.Write(b)
		all.WriteString("\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return all.String()
}
