package protocol

import (
	"strconv"
	"strings"
)

// Protocol versions. A version counts incompatible changes to the wire
// under the same package tickroom.v1 (see README.md, "Versions"); changes
// that only add fields keep it.
const (
	// Version is the protocol version this server speaks, sent as
	// Welcome.protocol_version. Version 2 is the State patch layout
	// (State.patch; fields 5-9 reserved); version 1 carried entities,
	// globals and acks in those fields.
	Version = 2
	// OldestVersion is the oldest version a client may declare and still be
	// served.
	OldestVersion = 2
	// VersionParam is the query parameter of the WebSocket upgrade request
	// in which a client declares the version it speaks.
	VersionParam = "protocol_version"
)

// CheckVersion checks a client's declared protocol version, the value of
// VersionParam in its upgrade request (present false when the request has
// none). A client that declares none is served; one that declares a version
// outside [OldestVersion, Version], or not a decimal number, is not: the
// reason, for the CloseUnsupportedVersion close frame, names both versions
// and is at most 123 bytes of ASCII.
func CheckVersion(declared string, present bool) (reason string, ok bool) {
	if !present {
		return "", true
	}
	v, err := strconv.ParseUint(declared, 10, 32)
	if err == nil && v >= OldestVersion && v <= Version {
		return "", true
	}
	var b strings.Builder
	b.WriteString("client speaks protocol version ")
	if err == nil {
		// As a number: the leading zeros a decimal may have would push
		// the rest past the 123 bytes a close frame holds.
		b.WriteString(strconv.FormatUint(v, 10))
	} else {
		if len(declared) > 8 {
			declared = declared[:8] // the quote takes at most 34 bytes
		}
		b.WriteString(strconv.QuoteToASCII(declared))
	}
	b.WriteString(", server speaks ")
	b.WriteString(supported())
	b.WriteString("; reload or upgrade the client")
	return b.String(), false
}

// supported is the versions served, as text: "2", or "2 to 3".
func supported() string {
	if OldestVersion == Version {
		return strconv.Itoa(Version)
	}
	return strconv.Itoa(OldestVersion) + " to " + strconv.Itoa(Version)
}
