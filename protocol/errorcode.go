package protocol

import "strconv"

// ErrorCode says why the server refused a request; it travels in an Error
// reply and does not close the connection. The constants and the table
// (codes_table.pb.go) are generated from the ErrorCode enum in
// tickroom/v1/codes.proto by make proto. Codes are grouped: general 1-99, lobby
// and rooms 100-199, play 200-299, social 300-399.
type ErrorCode uint32

var errorIndex = indexTable(errorTable)

// ErrorCodes returns the error codes in numeric order. The caller may
// modify the returned slice.
func ErrorCodes() []CodeInfo { return append([]CodeInfo(nil), errorTable...) }

// String returns the code's enum name (ERROR_CODE_ROOM_FULL), or its number
// for a code outside the table.
func (c ErrorCode) String() string {
	if i, ok := errorIndex[uint32(c)]; ok {
		return errorTable[i].Name
	}
	return "ERROR_CODE_" + strconv.FormatUint(uint64(c), 10)
}

// Description returns the code's short English description; empty for a
// code outside the table.
func (c ErrorCode) Description() string {
	if i, ok := errorIndex[uint32(c)]; ok {
		return errorTable[i].Description
	}
	return ""
}

// Known reports whether c is one of the error codes.
func (c ErrorCode) Known() bool {
	_, ok := errorIndex[uint32(c)]
	return ok
}
