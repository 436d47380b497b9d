//go:build !linux

package server

// interactive does nothing where TCP_QUICKACK is not (delayAcks).
func interactive(int) {}

func notSentLowat(int, int) {}
