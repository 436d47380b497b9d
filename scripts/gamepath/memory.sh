#!/usr/bin/env bash
# scripts/gamepath/memory.sh — where the server's memory per seated player
# goes under tickroom-bots: one bounded arena run (rooms of 10, 20 Hz,
# inputs at 10 Hz) with the server pinned to one core and the bots to the
# other, and, once every bot has played for 25 s, the server's
# /proc/PID/status and smaps_rollup, /metrics, and its heap (in use, after
# a GC), allocs and goroutine profiles. It prints each part as growth since
# before the first bot over the seated players: anonymous RSS, and in it
# the live heap, the garbage not yet collected, span slack, free pages
# kept, stacks and runtime metadata (go_memstats_*), then the live heap's
# largest allocation sites.
#
# Usage: scripts/gamepath/memory.sh OUT_DIR
# Environment: BOTS (default 3000), BIN_DIR (tickroom and tickroom-bots
# there instead of building them), SERVER_CPU (default 1), LOAD_CPU
# (default 0), SERVER_FLAGS (extra tickroom flags). Run the server with
# GODEBUG=memprofilerate=1 in the environment for a heap profile of every
# allocation (slower: on a busy 2-core box fewer bots get seated).
#
# Run it under the measurement lock:
#   flock /work/wt/measure.lock scripts/gamepath/memory.sh /tmp/gpmem
# It takes about 45 s and stops every process it started.
set -euo pipefail

out=${1:?usage: scripts/gamepath/memory.sh OUT_DIR}
n=${BOTS:-3000}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/server.sh
. "$root/scripts/lib/server.sh"
setup_load "$out"
cp "/proc/$srv/status" "$out/status0"
curl -s -o "$out/metrics0" "$admin/metrics"
taskset -c "${LOAD_CPU:-0}" "$bin/tickroom-bots" -http "http://$http" -bots "$n" -room-size 10 -tick-rate 20 -input-hz 10 \
	-duration 40s -ramp 1000 -sources 1 -metrics-url "$admin/metrics" -server-pid "$srv" -quiet \
	-json "$out/report.json" >"$out/bots.txt" 2>"$out/bots.err" &
bots=$!
pids+=("$bots")
sleep $(((n + 999) / 1000 + 25))
auth="Authorization: Bearer bots"
cp "/proc/$srv/status" "$out/status"
cp "/proc/$srv/smaps_rollup" "$out/smaps_rollup"
curl -s -o "$out/metrics" "$admin/metrics"
curl -s -H "$auth" -o "$out/heap" "$admin/debug/pprof/heap?gc=1"
curl -s -H "$auth" -o "$out/allocs" "$admin/debug/pprof/allocs"
curl -s -H "$auth" -o "$out/goroutine.txt" "$admin/debug/pprof/goroutine?debug=1"
load=$(cut -d' ' -f1 /proc/loadavg)
wait "$bots" || true

seated=$(jq .in_room_at_end "$out/report.json")
echo "$n bots, $seated seated; load average $load; input→ack p99 $(jq '.input_latency_us.p99/1000|round' "$out/report.json") ms" | tee "$out/parts.txt"
# m FILE NAME: a go_memstats_ value.
m() { awk -v k="go_memstats_$2" '$1 == k { printf "%.0f", $2 }' "$1"; }
d() { echo $((($(m "$out/metrics" "$1") - $(m "$out/metrics0" "$1")) / seated)); }
anon=$(awk 'FNR == 1 { f++ } /^RssAnon:/ { v[f] = $2 } END { printf "%d", (v[2] - v[1]) * 1024 }' "$out/status0" "$out/status")
alloc=$(d heap_alloc_bytes)
# The collector's target is the live heap grown by go_gc_gogc_percent.
gogc=$(awk '$1 == "go_gc_gogc_percent" { printf "%.0f", $2 }' "$out/metrics")
live=$(($(d next_gc_bytes) * 100 / (100 + ${gogc:-10})))
slack=$(($(d heap_inuse_bytes) - alloc))
kept=$(($(d heap_idle_bytes) - $(d heap_released_bytes)))
stacks=$(d stack_inuse_bytes)
meta=$(($(d gc_sys_bytes) + $(d mspan_inuse_bytes) + $(d mcache_inuse_bytes) + $(d buck_hash_sys_bytes) + $(d other_sys_bytes)))
rest=$((anon / seated - alloc - slack - kept - stacks - meta))
{
	echo "B per seated player:"
	echo "  anonymous RSS growth           $((anon / seated))"
	echo "  live heap (next GC goal / (1 + ${gogc:-10} %)) $live"
	echo "  garbage not yet collected      $((alloc - live))"
	echo "  free slots in in-use spans     $slack"
	echo "  free pages not yet returned    $kept"
	echo "  goroutine stacks               $stacks"
	echo "  runtime metadata               $meta"
	echo "  the rest (pages first touched) $rest"
	echo "live heap by allocation site (after a GC), B per seated player:"
	go tool pprof -sample_index=inuse_space -top -nodecount=25 "$bin/tickroom" "$out/heap" 2>/dev/null |
		awk -v s="$seated" 'BEGIN { u["B"] = 1; u["kB"] = 1024; u["MB"] = 1048576 }
			match($1, /^[0-9.]+/) && $2 ~ /%$/ { v = substr($1, 1, RLENGTH) * u[substr($1, RLENGTH + 1)]; printf "  %7.0f  %s\n", v / s, $6 }'
} | tee -a "$out/parts.txt"
