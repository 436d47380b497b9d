package server

import "golang.org/x/sys/unix"

// interactive puts a TCP socket in the kernel's interactive mode, in which
// the ACK of what it reads rides on what it sends next (delayAcks).
func interactive(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_QUICKACK, 0)
}

// notSentLowat bounds the bytes the kernel keeps unsent for a TCP socket
// (Config.NotSentLowat); n ≤ 0 leaves the kernel's default.
func notSentLowat(fd, n int) {
	if n > 0 {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, n)
	}
}

// unacked returns the bytes the kernel holds for a TCP socket that its
// peer has not acknowledged, sent or not (SIOCOUTQ), for the lag probe.
func unacked(fd int) (int, bool) {
	n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	return n, err == nil
}
