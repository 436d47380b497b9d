#!/usr/bin/env bash
# scripts/gamepath/slope.sh — what one more seated player costs the server.
# One server, and BOTS bots seated in two equal waves (two tickroom-bots
# processes: rooms of 10, 20 Hz, inputs at 10 Hz; the server pinned to one
# core and the bots to the other). Once each wave has played for 25 s it
# reads the server's /proc/PID/status and /metrics, then prints, in B a
# seated player:
#   - the growth over the second wave's players: the slope, what a player
#     adds to a server under load;
#   - the growth over all players since before the first bot, as
#     scripts/gamepath/memory.sh reports it: it also holds what load costs
#     once, whatever the number of players (the collector's metadata, the
#     loops' buffers, the store's page cache up to its cap).
# Each in anonymous RSS, and in it the live heap (the collector's goal over
# 1 + its target), the heap in use and the collector's metadata. The heap
# profiles after each wave are in OUT_DIR (heap0–heap2): `go tool pprof
# -base OUT/heap1 OUT/heap2` is what the second wave's players hold. Run the
# server with GODEBUG=memprofilerate=1 for a profile of every allocation.
#
# Usage: scripts/gamepath/slope.sh OUT_DIR
# Environment: BOTS (default 3000), BIN_DIR (tickroom and tickroom-bots
# there instead of building them), SERVER_CPU (default 1), LOAD_CPU
# (default 0), SERVER_FLAGS (extra tickroom flags).
#
# Run it under the measurement lock:
#   flock /work/wt/measure.lock scripts/gamepath/slope.sh /tmp/gpslope
# It takes about 75 s at 3,000 bots and stops every process it started.
set -euo pipefail

out=${1:?usage: scripts/gamepath/slope.sh OUT_DIR}
n=${BOTS:-3000}
half=$((n / 2))
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/server.sh
. "$root/scripts/lib/server.sh"
setup_load "$out"
# snap N: the server's status, metrics and heap profile (in use, after a
# GC) after step N (0: before any bot).
snap() {
	cp "/proc/$srv/status" "$out/status$1"
	curl -s -o "$out/metrics$1" "$admin/metrics"
	curl -s -H "Authorization: Bearer bots" -o "$out/heap$1" "$admin/debug/pprof/heap?gc=1"
}
snap 0
# One wave seats its bots at 1,000 a second, then plays 25 s.
settle=$(((half + 999) / 1000 + 25))
# wave N DURATION: the Nth half of the bots, from its own source address.
wave() {
	taskset -c "${LOAD_CPU:-0}" "$bin/tickroom-bots" -http "http://$http" -bots "$half" -room-size 10 -tick-rate 20 -input-hz 10 \
		-duration "$2" -ramp 1000 -sources 1 -source-offset "$(($1 - 1))" -quiet \
		-json "$out/report$1.json" >"$out/bots$1.txt" 2>"$out/bots$1.err" &
	pids+=("$!")
}
wave 1 "$((2 * settle + 10))s"
sleep "$settle"
snap 1
wave 2 "$((settle + 10))s"
sleep "$settle"
snap 2
wait "${pids[@]:1}" || true

# val FILE NAME: a metric's value (summed over its labels).
val() { awk -v k="$2" '$1 == k || index($1, k "{") == 1 { s += $2 } END { printf "%.0f", s }' "$1"; }
rss() { awk '/^RssAnon:/ { printf "%d", $2 * 1024 }' "$1"; }
players() { val "$1" tickroom_players; }
gogc=$(val "$out/metrics2" go_gc_gogc_percent)
gogc=${gogc:-10}
# row LABEL FROM TO: the growth from snapshot FROM to TO over the players added.
row() {
	local a=$out/metrics$2 b=$out/metrics$3 p
	p=$(($(players "$b") - $(players "$a")))
	if [ "$p" -le 0 ]; then
		echo "  $1: no players added"
		return
	fi
	local live heap meta
	live=$((($(val "$b" go_memstats_next_gc_bytes) - $(val "$a" go_memstats_next_gc_bytes)) * 100 / (100 + gogc) / p))
	heap=$((($(val "$b" go_memstats_heap_inuse_bytes) - $(val "$a" go_memstats_heap_inuse_bytes)) / p))
	meta=$((($(val "$b" go_memstats_gc_sys_bytes) - $(val "$a" go_memstats_gc_sys_bytes) + $(val "$b" go_memstats_mspan_inuse_bytes) - $(val "$a" go_memstats_mspan_inuse_bytes)) / p))
	printf "  %-34s %6d players  anonymous RSS %5d  live heap %5d  heap in use %5d  metadata %4d\n" \
		"$1" "$p" $((($(rss "$out/status$3") - $(rss "$out/status$2")) / p)) "$live" "$heap" "$meta"
}
load=$(cut -d' ' -f1 /proc/loadavg)
{
	echo "$n bots in two waves; seated $(players "$out/metrics1") after the first, $(players "$out/metrics2") after the second; load average $load"
	echo "B a seated player:"
	row "second wave (the slope)" 1 2
	row "first wave" 0 1
	row "all, since before the first bot" 0 2
} | tee "$out/slope.txt"
