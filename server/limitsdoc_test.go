package server

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestLimitsDocGivesTheLibrarysInputBudgets: docs/limits.md's transport
// table is server.Config's, and where the tickroom binary's defaults
// differ a row names both. The input budgets derive from MaxMessageSize,
// whose default here (1 MiB) is not the binary's (64 KiB), so the rows
// for one address's bytes and for all connections' must give the
// library's figures as well as the binary's.
func TestLimitsDocGivesTheLibrarysInputBudgets(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/limits.md")
	if err != nil {
		t.Fatal(err)
	}
	row := func(start string) string {
		for _, l := range strings.Split(string(doc), "\n") {
			if strings.HasPrefix(l, start) {
				return l
			}
		}
		t.Fatalf("docs/limits.md has no row starting %q", start)
		return ""
	}
	mib := func(n int) string { return fmt.Sprintf("%s MiB/s (library)", commas(n>>20)) }
	for _, tc := range []struct{ row, want string }{
		{"| bytes the connections of one client address send together", mib(s.cfg.InputBytesPerIP)},
		{"| the same two budgets for all connections together", mib(s.cfg.InputBytes)},
	} {
		if r := row(tc.row); !strings.Contains(r, tc.want) {
			t.Errorf("row %q does not give server.Config's default, %s:\n%s", tc.row, tc.want, r)
		}
	}
}

// commas writes n with a comma every three digits, as the docs do.
func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
