package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// kernelQueue returns the bytes the kernel holds for sending (sent and not
// yet acknowledged, or not sent) on the established loopback sockets whose
// local port is local and whose remote port passes remote, from
// /proc/net/tcp's tx_queue, and whether there was one.
func kernelQueue(local int, remote func(int) bool) (int, bool) {
	return procQueue(4, func(l, r int) bool { return l == local && remote(r) })
}

// receiveQueue returns the bytes waiting to be read (rx_queue) on the
// established loopback sockets whose remote port is remote and whose local
// port passes local.
func receiveQueue(remote int, local func(int) bool) (int, bool) {
	return procQueue(5, func(l, r int) bool { return r == remote && local(l) })
}

// procQueue sums tx_queue (half 4) or rx_queue (half 5) of /proc/net/tcp's
// established sockets whose ports pass match.
func procQueue(half int, match func(local, remote int) bool) (int, bool) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sum, found := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue ...
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 || fs[3] != "01" {
			continue
		}
		lp, rp := hexPort(fs[1]), hexPort(fs[2])
		if !match(lp, rp) {
			continue
		}
		tx, rx, _ := strings.Cut(fs[4], ":")
		q := tx
		if half == 5 {
			q = rx
		}
		n, err := strconv.ParseInt(q, 16, 64)
		if err != nil {
			continue
		}
		sum += int(n)
		found = true
	}
	return sum, found
}

// hexPort is the port of an address of /proc/net/tcp ("0100007F:1F90").
func hexPort(a string) int {
	_, p, ok := strings.Cut(a, ":")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(p, 16, 32)
	if err != nil {
		return -1
	}
	return int(n)
}
