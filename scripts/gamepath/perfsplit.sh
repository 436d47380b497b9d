#!/usr/bin/env bash
# scripts/gamepath/perfsplit.sh — where a process's CPU goes, by syscall,
# from a system-wide `perf record -a -g` (run.sh's PERF=1 takes one).
#
# Usage: scripts/gamepath/perfsplit.sh PERF_DATA COMM...
# For each COMM (tickroom, tickroom-bots), prints the share of its samples
# in each syscall — counted from the first frame of the stack that names
# one, kernel or user side, so a syscall's entry and exit and the loopback
# receiver's softirq work done in the sender's context count with it — then
# in the game path's own code (room ticks, the read and write paths, the
# bots' frame handling and schedule), the Go runtime, and the rest by leaf
# symbol. On a paravirtualized guest much of a syscall's cost shows as
# samples at pvm_irq_enable or in the user-side stub; both land in the
# syscall's line.
set -euo pipefail
data=${1:?usage: perfsplit.sh PERF_DATA COMM...}
shift
for comm in "$@"; do
	echo "== $comm"
	perf script -i "$data" --comm "$comm" -F comm,ip,sym 2>/dev/null | awk '
	function flush(   c, i, s) {
		if (n == 0) return
		c = ""
		for (i = 1; i <= n && c == ""; i++) {
			s = st[i]
			if (s ~ /do_writev|unix\.writev$|unix\.Writev$/) c = "writev"
			else if (s ~ /ksys_read|unix\.read$|unix\.Read$/) c = "read"
			else if (s ~ /ksys_write|unix\.write$|unix\.Write$/) c = "write"
			else if (s ~ /do_epoll_wait|EpollWait/) c = "epoll_wait"
			else if (s ~ /epoll_ctl|EpollCtl/) c = "epoll_ctl"
			else if (s ~ /futex/) c = "futex"
			else if (s ~ /nanosleep|usleep/) c = "nanosleep (Go runtime)"
			else if (s ~ /gcBgMarkWorker|gcDrain|scanobject|bgsweep|markroot|gcStart|mallocgc/) c = "GC and allocation"
		}
		for (i = 1; i <= n && c == ""; i++) {
			s = st[i]
			if (s ~ /\.\(\*Room\)\.|\.\(\*shard\)\./) c = "room ticks (game)"
			else if (s ~ /OnTraffic|readFrames/) c = "read path (our code)"
			else if (s ~ /flushDirty|Broadcast/) c = "write path (our code)"
			else if (s ~ /bots\.\(\*bot\)\.(message|state|consume|feed|frame)/) c = "bots: frame handling"
			else if (s ~ /bots\.\(\*loop\)\.schedule|bots\.\(\*bot\)\.(tick|due)/) c = "bots: schedule"
			else if (s ~ /runtime\.(schedule|findRunnable|mcall|park_m|exitsyscall|entersyscall|reentersyscall)/) c = "Go scheduler"
		}
		if (c == "") c = "other: " st[1]
		cnt[c]++
		tot++
		n = 0
	}
	/^[^ \t]/ { flush(); next }
	/^[ \t]+[0-9a-f]+ / { n++; $1 = ""; sub(/^ +/, ""); st[n] = $0; next }
	END {
		flush()
		for (k in cnt) if (cnt[k] / tot >= 0.005) printf "%6.1f %%  %s\n", 100 * cnt[k] / tot, k | "sort -rn"
		close("sort -rn")
		printf "%d samples\n", tot
	}'
done
