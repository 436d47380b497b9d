package server

import "golang.org/x/sys/unix"

// interactive puts a TCP socket in the kernel's interactive mode, in which
// the ACK of what it reads rides on what it sends next (delayAcks).
func interactive(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_QUICKACK, 0)
}
