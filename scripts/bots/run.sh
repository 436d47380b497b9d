#!/usr/bin/env bash
# scripts/bots/run.sh — one bounded load run against a fresh local server.
#
# Builds tickroom and tickroom-bots, starts the server on 127.0.0.1 (port 0),
# runs PROCS bot processes that share BOTS between them (each on its own
# source addresses, sampling the server's /metrics and /proc), optionally
# takes a server CPU profile during the run, stops the server, and prints a
# one-line summary per process plus every report merged into one.
#
# Usage: scripts/bots/run.sh OUT_DIR [tickroom-bots flags...]
# Environment: BOTS (default 1000), PROCS (default 1), SERVER_FLAGS (extra
# tickroom flags), PROFILE_SECONDS (server CPU profile length, 0 = none),
# PROFILE_DELAY (seconds before profiling, default 15), BIN_DIR (use the
# tickroom and tickroom-bots binaries there instead of building),
# SERVER_CPUS and BOT_CPUS (taskset CPU lists to pin the server and the bot
# processes to, e.g. 1 and 0; empty: not pinned), HEAP_PROFILE (1: save the
# server's heap profile, /metrics and /proc/<pid>/status and smaps while
# the bots play, as server.heap, server.metrics, server.status and
# server.smaps; HEAP_DELAY seconds after the CPU profile or the start,
# default 15; server.status0 is the status before the first bot), LINGER
# (seconds the bots play on after their steady window, -linger; with
# HEAP_PROFILE the server's memory is then read once the window is over,
# not after HEAP_DELAY, so the reading costs the window nothing; and the
# CPU profile starts PROFILE_DELAY seconds after the window starts, not
# after the start. Both follow the first bot process's window: with PROCS
# above 1 the others' may start and end a little apart).
# Only loopback is used; the run ends by itself (-duration) and every process
# it started is stopped on exit. What an earlier run left in OUT_DIR (reports,
# the store in OUT_DIR/data) is removed first.
set -euo pipefail

out=${1:?usage: scripts/bots/run.sh OUT_DIR [tickroom-bots flags...]}
shift
bots=${BOTS:-1000}
procs=${PROCS:-1}
profile=${PROFILE_SECONDS:-0}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/server.sh
. "$root/scripts/lib/server.sh"
mkdir -p "$out"
# What an earlier run left in OUT: its reports would be merged with this
# run's, and its store would serve this run's server.
rm -rf "$out/data"
rm -f "$out"/report-*.json "$out"/series-*.csv "$out"/latency-*.svg "$out"/bots-*.txt "$out"/bots-*.err \
	"$out"/merged.json "$out"/merged.txt "$out"/server.pprof "$out"/server.heap "$out"/server.metrics \
	"$out"/server.status "$out"/server.status0 "$out"/server.smaps "$out"/server.smaps_rollup
binaries "$out"

# taskset execs its command, so $! stays the server's own pid.
srvpin=()
botpin=()
if [ -n "${SERVER_CPUS:-}" ]; then srvpin=(taskset -c "$SERVER_CPUS"); fi
if [ -n "${BOT_CPUS:-}" ]; then botpin=(taskset -c "$BOT_CPUS"); fi

pids=()
trap stop_pids EXIT

# The server holds at most the open-file limit in sockets; ask for all of it.
start_server "$out" env TICKROOM_ADMIN_TOKEN=bots "${srvpin[@]}" "$bin/tickroom" -addr 127.0.0.1:0 -http 127.0.0.1:0 -admin 127.0.0.1:0 \
	-max-conns 19900 -ignore-file-limit -max-conns-per-ip 19900 -max-http-conns-per-ip 4096 -guest-login-rate inf -data-dir "$out/data" ${SERVER_FLAGS:-}
pids+=("$srv")
echo "server pid $srv http $http admin $admin"
cp "/proc/$srv/status" "$out/server.status0" 2>/dev/null || true

linger=()
if [ -n "${LINGER:-}" ]; then linger=(-linger "${LINGER}s"); fi

per=$(((bots + procs - 1) / procs))
botpids=()
for i in $(seq 0 $((procs - 1))); do
	n=$((bots - i * per < per ? bots - i * per : per))
	"${botpin[@]}" "$bin/tickroom-bots" -http "http://$http" -bots "$n" -name "p$i" -source-offset $((i * 4)) \
		-metrics-url "$admin/metrics" -server-pid "$srv" -quiet=$([ "$i" = 0 ] && echo false || echo true) \
		-json "$out/report-$i.json" -csv "$out/series-$i.csv" -svg "$out/latency-$i.svg" "${linger[@]}" "$@" \
		>"$out/bots-$i.txt" 2>"$out/bots-$i.err" &
	botpids+=("$!")
	pids+=("$!")
done
# await LINE: wait until the first bot process prints LINE, or exits.
await() {
	while kill -0 "${botpids[0]}" 2>/dev/null && ! grep -q "^$1" "$out/bots-0.txt"; do
		sleep 0.2
	done
}
if [ "$profile" != 0 ]; then
	if [ -n "${LINGER:-}" ]; then
		await 'steady window started'
	fi
	# Start profiling once the ramp is likely done; -duration should exceed it.
	sleep "${PROFILE_DELAY:-15}"
	curl -s -H "Authorization: Bearer bots" -o "$out/server.pprof" \
		"$admin/debug/pprof/profile?seconds=$profile" || echo "server profile failed"
fi
if [ "${HEAP_PROFILE:-0}" = 1 ]; then
	if [ -n "${LINGER:-}" ]; then
		# Once the first process's window is over, while the bots linger.
		await 'steady window over'
	else
		# The bots print their report after -duration; take the heap while
		# they still play (the caller's -duration must exceed this delay).
		sleep "${HEAP_DELAY:-15}"
	fi
	curl -s -H "Authorization: Bearer bots" -o "$out/server.heap" "$admin/debug/pprof/heap" || echo "server heap profile failed"
	curl -s -o "$out/server.metrics" "$admin/metrics" || echo "server metrics failed"
	cp "/proc/$srv/status" "$out/server.status" 2>/dev/null || true
	cp "/proc/$srv/smaps_rollup" "$out/server.smaps_rollup" 2>/dev/null || true
	cp "/proc/$srv/smaps" "$out/server.smaps" 2>/dev/null || true
fi
for i in "${!botpids[@]}"; do
	wait "${botpids[$i]}" || {
		echo "bot process ${botpids[$i]} exited with $?; $out/bots-$i.err says:"
		grep -v '^[[:space:]]' "$out/bots-$i.err" | tail -n 5
	}
done
kill "$srv" 2>/dev/null || true
if ! compgen -G "$out/report-*.json" >/dev/null; then
	echo "no bot process wrote a report" >&2
	exit 1
fi

for f in "$out"/report-*.json; do
	jq -r '"\(input_filename): bots \(.config.bots) in room \(.in_room_at_end) | lat p50 \(.input_latency_us.p50/1000)ms p90 \(.input_latency_us.p90/1000)ms p99 \(.input_latency_us.p99/1000)ms p99.9 \(.input_latency_us.p99_9/1000)ms max \(.input_latency_us.max/1000)ms | snaps/bot/s \(.steady.snapshots_per_bot_sec*100|round/100) B/bot/s \(.steady.bytes_per_bot_sec|round) | skipped ticks \(.steady.skipped_ticks) | bots cpu \(.bots_cpu_percent|round)% | errors \(.errors) closes \(.closes) failures \(.failures) | resume \(.resume)"' "$f"
done
# Every process's report merged into one (exact percentiles, server CPU per
# frame and RSS per connection over all processes).
"$bin/tickroom-bots" -merge -json "$out/merged.json" "$out"/report-*.json | tee "$out/merged.txt"
