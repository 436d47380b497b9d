package protocol_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tickroom/tickroom/protocol"
)

func TestCheckVersion(t *testing.T) {
	for _, tc := range []struct {
		declared string
		present  bool
		ok       bool
	}{
		{"", false, true},
		{"2", true, true},
		{"02", true, true},
		{"1", true, false},
		{"3", true, false},
		{"0", true, false},
		{"", true, false},
		{"x", true, false},
		{"-2", true, false},
		{"99999999999999999999", true, false},
		{strings.Repeat("\xff\u00e9", 100), true, false},
		// A decimal number, but one no client speaks: its leading zeros
		// must not push "server speaks" out of the close frame.
		{strings.Repeat("0", 200) + "3", true, false},
		{strings.Repeat("0", 200) + "1", true, false},
	} {
		reason, ok := protocol.CheckVersion(tc.declared, tc.present)
		if ok != tc.ok {
			t.Errorf("CheckVersion(%q, %v) ok %v, want %v", tc.declared, tc.present, ok, tc.ok)
		}
		if ok {
			continue
		}
		// A close frame's reason: at most 123 bytes of UTF-8, naming both.
		if len(reason) > 123 || !utf8.ValidString(reason) || !strings.Contains(reason, "server speaks 2") {
			t.Errorf("CheckVersion(%q) reason %q (%d bytes)", tc.declared, reason, len(reason))
		}
	}
}
