package protocol_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

var update = flag.Bool("update", false, "rewrite codes.json from the Go tables")

func TestCloseCodesMatchProtoEnum(t *testing.T) {
	checkAgainstEnum(t, protocol.CloseCodes(), tickroomv1.CloseCode_name)
}

func TestErrorCodesMatchProtoEnum(t *testing.T) {
	checkAgainstEnum(t, protocol.ErrorCodes(), tickroomv1.ErrorCode_name)
}

// checkAgainstEnum asserts the Go table and the generated enum hold the same
// numbers under the same names, the enum's zero value aside.
func checkAgainstEnum(t *testing.T, table []protocol.CodeInfo, enum map[int32]string) {
	t.Helper()
	seen := make(map[int32]bool)
	for _, c := range table {
		name, ok := enum[int32(c.Code)]
		if !ok {
			t.Errorf("code %d (%s) is in the Go table but not in codes.proto", c.Code, c.Name)
			continue
		}
		if name != c.Name {
			t.Errorf("code %d: Go table name %q, codes.proto name %q", c.Code, c.Name, name)
		}
		seen[int32(c.Code)] = true
	}
	for n, name := range enum {
		if n != 0 && !seen[n] {
			t.Errorf("codes.proto has %s = %d, the Go table does not", name, n)
		}
	}
}

func TestCloseCodesInDocumentedRanges(t *testing.T) {
	table := protocol.CloseCodes()
	for i, c := range table {
		t.Run(c.Name, func(t *testing.T) {
			code := protocol.CloseCode(c.Code)
			inResumable := code >= protocol.ResumableMin && code <= protocol.ResumableMax
			inTerminal := code >= protocol.TerminalMin && code <= protocol.TerminalMax
			if !inResumable && !inTerminal {
				t.Fatalf("code %d outside 4000-4999", c.Code)
			}
			if c.Resumable != inResumable || code.Resumable() != inResumable {
				t.Errorf("code %d: table resumable=%v, Resumable()=%v, range says %v", c.Code, c.Resumable, code.Resumable(), inResumable)
			}
			if c.Description == "" || len(c.Description) > protocol.MaxCloseReason {
				t.Errorf("description %q must be 1-%d bytes to fit a close frame", c.Description, protocol.MaxCloseReason)
			}
			if code.String() != c.Name || code.Description() != c.Description || !code.Known() {
				t.Errorf("methods disagree with the table: %q %q %v", code.String(), code.Description(), code.Known())
			}
			if i > 0 && table[i-1].Code >= c.Code {
				t.Errorf("table not in strictly increasing order at %d", c.Code)
			}
		})
	}
}

func TestErrorCodesInDocumentedGroups(t *testing.T) {
	table := protocol.ErrorCodes()
	for i, c := range table {
		t.Run(c.Name, func(t *testing.T) {
			if c.Code < 1 || c.Code > 399 {
				t.Errorf("code %d outside the documented groups 1-399", c.Code)
			}
			if c.Resumable {
				t.Errorf("error code %d marked resumable", c.Code)
			}
			code := protocol.ErrorCode(c.Code)
			if c.Description == "" || code.String() != c.Name || code.Description() != c.Description || !code.Known() {
				t.Errorf("methods disagree with the table: %q %q %v", code.String(), code.Description(), code.Known())
			}
			if i > 0 && table[i-1].Code >= c.Code {
				t.Errorf("table not in strictly increasing order at %d", c.Code)
			}
		})
	}
}

func TestResumable(t *testing.T) {
	tests := []struct {
		code protocol.CloseCode
		want bool
	}{
		{protocol.CloseNormal, false},
		{protocol.CloseGoingAway, true},
		{protocol.CloseStandardProtocolError, false},
		{protocol.CloseAbnormal, true},
		{protocol.CloseMessageTooBig, false},
		{protocol.CloseStandardInternalError, true},
		{protocol.CloseServiceRestart, true},
		{protocol.CloseTryAgainLater, true},
		{protocol.CloseServerShutdown, true},
		{protocol.CloseSlowClient, true},
		{protocol.CloseRateLimited, true},
		{protocol.CloseHeartbeatTimeout, true},
		{4499, true}, // unknown but in the resumable range: a newer server's code
		{protocol.CloseTokenExpired, false},
		{protocol.CloseDuplicateLogin, false},
		{protocol.CloseKicked, false},
		{protocol.CloseRoomClosed, false},
		{4999, false},
		{3000, false},
		{0, false},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			if got := protocol.Resumable(tt.code); got != tt.want {
				t.Errorf("Resumable(%d) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}

// TestConstantsNameTheirEntries keeps the Go constants pointing at the
// table entries their names promise.
func TestConstantsNameTheirEntries(t *testing.T) {
	closes := map[protocol.CloseCode]string{
		protocol.CloseServerShutdown: "SERVER_SHUTDOWN", protocol.CloseSlowClient: "SLOW_CLIENT",
		protocol.CloseRateLimited: "RATE_LIMITED", protocol.CloseHeartbeatTimeout: "HEARTBEAT_TIMEOUT",
		protocol.CloseServerOverloaded: "SERVER_OVERLOADED", protocol.CloseInternalError: "INTERNAL_ERROR",
		protocol.CloseTokenExpired: "TOKEN_EXPIRED", protocol.CloseUnauthorized: "UNAUTHORIZED",
		protocol.CloseDuplicateLogin: "DUPLICATE_LOGIN", protocol.CloseKicked: "KICKED",
		protocol.CloseBanned: "BANNED", protocol.CloseProtocolError: "PROTOCOL_ERROR",
		protocol.CloseRoomClosed: "ROOM_CLOSED", protocol.CloseUnsupportedVersion: "UNSUPPORTED_VERSION",
	}
	if len(closes) != len(protocol.CloseCodes()) {
		t.Errorf("%d close constants, %d table entries", len(closes), len(protocol.CloseCodes()))
	}
	for c, suffix := range closes {
		if c.String() != "CLOSE_CODE_"+suffix {
			t.Errorf("constant %d names %s, want CLOSE_CODE_%s", c, c, suffix)
		}
	}
	errs := map[protocol.ErrorCode]string{
		protocol.ErrorInternal: "INTERNAL", protocol.ErrorBadRequest: "BAD_REQUEST",
		protocol.ErrorUnsupported: "UNSUPPORTED", protocol.ErrorRateLimited: "RATE_LIMITED",
		protocol.ErrorForbidden: "FORBIDDEN", protocol.ErrorTooManyRequestsInFlight: "TOO_MANY_REQUESTS_IN_FLIGHT",
		protocol.ErrorRoomNotFound: "ROOM_NOT_FOUND", protocol.ErrorRoomFull: "ROOM_FULL",
		protocol.ErrorWrongPassword: "WRONG_PASSWORD", protocol.ErrorAlreadyInRoom: "ALREADY_IN_ROOM",
		protocol.ErrorNotInRoom: "NOT_IN_ROOM", protocol.ErrorUnknownGame: "UNKNOWN_GAME",
		protocol.ErrorBadOptions: "BAD_OPTIONS", protocol.ErrorRoomLimit: "ROOM_LIMIT",
		protocol.ErrorResumeUnavailable: "RESUME_UNAVAILABLE", protocol.ErrorRoomClosing: "ROOM_CLOSING", protocol.ErrorUnavailable: "UNAVAILABLE", protocol.ErrorRoomLost: "ROOM_LOST", protocol.ErrorDraining: "DRAINING",
		protocol.ErrorInputTooLarge: "INPUT_TOO_LARGE", protocol.ErrorInputRejected: "INPUT_REJECTED",
		protocol.ErrorNotAPlayer: "NOT_A_PLAYER", protocol.ErrorInputDropped: "INPUT_DROPPED",
		protocol.ErrorMessageTooLong: "MESSAGE_TOO_LONG", protocol.ErrorBlocked: "BLOCKED",
		protocol.ErrorUserOffline: "USER_OFFLINE", protocol.ErrorUserNotFound: "USER_NOT_FOUND",
		protocol.ErrorChannelNotFound: "CHANNEL_NOT_FOUND", protocol.ErrorListFull: "LIST_FULL",
	}
	if len(errs) != len(protocol.ErrorCodes()) {
		t.Errorf("%d error constants, %d table entries", len(errs), len(protocol.ErrorCodes()))
	}
	for c, suffix := range errs {
		if c.String() != "ERROR_CODE_"+suffix {
			t.Errorf("constant %d names %s, want ERROR_CODE_%s", c, c, suffix)
		}
	}
}

func TestUnknownCodes(t *testing.T) {
	if got := protocol.CloseCode(4321).String(); got != "CLOSE_CODE_4321" {
		t.Errorf("String of unknown close code = %q", got)
	}
	if got := protocol.ErrorCode(999).String(); got != "ERROR_CODE_999" {
		t.Errorf("String of unknown error code = %q", got)
	}
	if protocol.CloseCode(4321).Known() || protocol.ErrorCode(999).Known() {
		t.Error("unknown code reported as known")
	}
	if protocol.CloseCode(4321).Description() != "" || protocol.ErrorCode(999).Description() != "" {
		t.Error("unknown code has a description")
	}
}

// codesJSON is the shape of codes.json, the copy of the tables client-js
// tests against.
type codesJSON struct {
	Comment                string              `json:"_comment"`
	CloseCodes             []protocol.CodeInfo `json:"close_codes"`
	ResumableStandardCodes []uint16            `json:"resumable_standard_codes"`
	ErrorCodes             []protocol.CodeInfo `json:"error_codes"`
}

func buildCodesJSON(t *testing.T) []byte {
	t.Helper()
	doc := codesJSON{
		Comment:    "Generated by `go test ./protocol -run TestCodesJSON -update` from the Go tables (codes_table.pb.go, generated from tickroom/v1/codes.proto) and protocol.Resumable; do not edit.",
		CloseCodes: protocol.CloseCodes(),
		ErrorCodes: protocol.ErrorCodes(),
	}
	for c := protocol.CloseCode(1000); c < 3000; c++ {
		if protocol.Resumable(c) {
			doc.ResumableStandardCodes = append(doc.ResumableStandardCodes, uint16(c))
		}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestCodesJSON keeps codes.json equal to the Go tables.
func TestCodesJSON(t *testing.T) {
	want := buildCodesJSON(t)
	if *update {
		if err := os.WriteFile("codes.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("codes.json")
	if err != nil {
		t.Fatalf("%v (run go test ./protocol -run TestCodesJSON -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("codes.json is stale: run go test ./protocol -run TestCodesJSON -update")
	}
	var doc codesJSON
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(doc.ResumableStandardCodes, []uint16{1001, 1006, 1011, 1012, 1013}) {
		t.Errorf("resumable standard codes = %v", doc.ResumableStandardCodes)
	}
	if !strings.Contains(string(got), `"CLOSE_CODE_SLOW_CLIENT"`) {
		t.Error("codes.json lacks CLOSE_CODE_SLOW_CLIENT")
	}
}

// TestDocsListEveryCode keeps the generated docs tables (codes.md) in step
// with the Go tables and checks that README.md links them.
func TestDocsListEveryCode(t *testing.T) {
	doc, err := os.ReadFile("codes.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, c := range protocol.CloseCodes() {
		kind := "terminal"
		if c.Resumable {
			kind = "resumable"
		}
		if protocol.CloseCode(c.Code).LongerBackoff() {
			kind += ", longer backoff"
		}
		rows = append(rows, fmt.Sprintf("| %d | `%s` | %s | %s |", c.Code, c.Name, kind, c.Description))
	}
	for _, c := range protocol.ErrorCodes() {
		rows = append(rows, fmt.Sprintf("| %d | `%s` | %s |", c.Code, c.Name, c.Description))
	}
	for _, row := range rows {
		if !strings.Contains(string(doc), row+"\n") {
			t.Errorf("codes.md lacks the row %s (run make proto)", row)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "(codes.md)") {
		t.Error("README.md does not link codes.md")
	}
}

func TestLongerBackoff(t *testing.T) {
	var got []protocol.CloseCode
	for c := protocol.CloseCode(1000); c < 5000; c++ {
		if c.LongerBackoff() {
			got = append(got, c)
		}
	}
	want := []protocol.CloseCode{protocol.CloseTryAgainLater, protocol.CloseRateLimited, protocol.CloseServerOverloaded}
	if !slices.Equal(got, want) {
		t.Errorf("codes with a longer backoff = %v, want %v", got, want)
	}
}
