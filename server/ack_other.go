//go:build !linux

package server

// interactive does nothing where TCP_QUICKACK is not (delayAcks).
func interactive(int) {}

func notSentLowat(int, int) {}

// unacked reports nothing where SIOCOUTQ is not: no connection is found
// behind (Config.MaxStateLag).
func unacked(int) (int, bool) { return 0, false }
