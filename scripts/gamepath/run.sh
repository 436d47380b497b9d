#!/usr/bin/env bash
# scripts/gamepath/run.sh — the "game path" table of BENCHMARKS.md in one
# bounded run: for each bot count, the arena through tickroom-bots, the
# transport's /broadcast at the same delivery rate, and the write(2) floor,
# with the server pinned to one core and the load to the other.
#
# Usage: scripts/gamepath/run.sh OUT_DIR
# Environment:
#   BOTS         bot counts to run, space-separated (default "1000"; e.g.
#                "1000 3000 5000"); a count named again runs again, so
#                "1000 3000 1000 3000 1000 3000" gives three pairs of each
#                to take the median ratio of
#   DURATION     measured window of each run (default 20s)
#   SETTLE       how long an arena run waits, once its last bot has
#                started, for every bot to be in a room before its
#                measured window starts (tickroom-bots -settle; default
#                10s; 0: the window starts when the last bot started, as
#                the tables before 2026-12-04 20:24 UTC did)
#   WARMUP       how long an arena run plays, once every bot is in a
#                room, before its window starts (tickroom-bots -warmup;
#                default 5s): at 5,000 bots the server takes 2–3 s to
#                drain what the ramp queued; tables before 2026-12-05
#                16:45 UTC had no warm-up
#   SERVER_CPU   CPU the server runs on (default 1)
#   LOAD_CPU     CPU the bots, the /broadcast clients and the write floor
#                run on (default 0)
#   PROFILE      1: also save a 10 s server CPU profile and a heap profile
#                of each arena run (arena-N/server.pprof, server.heap)
#   PERF         1: also record both cores with `perf record -a -g` for
#                10 s of each arena and /broadcast run's steady window and
#                split the server's (and the bots') samples by syscall
#                (scripts/gamepath/perfsplit.sh; arena-N/perf.txt,
#                broadcast-N/perf.txt, broadcast-inputs-N/perf.txt; perf
#                needs root or kernel.perf_event_paranoid <= 0)
#   SERVER_FLAGS extra tickroom flags for both servers
#   BIN_DIR      use the tickroom, tickroom-bots and fanoutcpu binaries
#                there instead of building them
#
# For each N in BOTS:
#   arena      N bots in arena rooms of 10 at 20 Hz, inputs at 10 Hz
#              (scripts/bots/run.sh): bytes per client per second, server
#              CPU per delivered frame, input→ack p50/p99, delivered
#              frames/s, RSS growth per seated player (all, and anonymous
#              only: without the binary's pages that running code pages
#              in), tick lateness mean and p99 (a p99 alone hid runs
#              in which half the ticks were over 2 ms late), and the
#              send wait mean and p99 (tickroom_send_wait_seconds: how
#              long rooms' frames waited from their tick to their write;
#              a p99 past a tick period is the loop behind on its writes).
#   broadcast  a fresh server with -conformance-endpoints; N connections to
#              /broadcast, one sending at the rate that gives the arena's
#              delivered frames/s (cmd/fanoutcpu -mode broadcast): the
#              transport's own server CPU per delivered frame.
#   broadcast with inputs
#              the same, with every connection but the sender also sending
#              the server 10 frames a second of 24 B, as the bots send
#              their inputs (unsolicited pongs, read and dropped; INPUT_HZ,
#              0 skips it): the transport's own cost of the same traffic
#              both ways, reads included.
#   write      N loopback TCP sockets written round-robin at the same rate,
#              64 B a write, from one thread (cmd/fanoutcpu -mode write):
#              the kernel's floor per write.
# and the ratios arena ÷ broadcast (the goal's) and arena ÷ broadcast with
# inputs. Each line carries the 1-minute load
# average at its end: the box is shared, so CPU figures move ±30 % between
# runs; compare the ratio within one run, and alternate before/after runs.
#
# Run it under the measurement lock so that two measurements never overlap:
#   flock /work/wt/measure.lock scripts/gamepath/run.sh /tmp/gamepath
# A 1,000-bot run takes about 90 s; every process it starts is stopped on
# exit.
set -euo pipefail

out=${1:?usage: scripts/gamepath/run.sh OUT_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
bots_list=${BOTS:-1000}
duration=${DURATION:-20s}
scpu=${SERVER_CPU:-1}
lcpu=${LOAD_CPU:-0}
secs=${duration%s}
input_hz=${INPUT_HZ:-10}
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin=${BIN_DIR:-$out/bin}
if [ -z "${BIN_DIR:-}" ]; then
	mkdir -p "$bin"
	(cd "$root" && go build -o "$bin/" ./cmd/tickroom ./cmd/tickroom-bots ./cmd/fanoutcpu)
fi

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
# run_bg waits for the command just started in the background, which is
# listed in pids so that the EXIT trap stops it: a command run in the
# foreground would run on to its end after the script is stopped (SIGTERM).
run_bg() {
	pids+=("$!")
	wait "$!" || true
}

load1() { cut -d' ' -f1 /proc/loadavg; }

# broadcast N RATE DIR [INPUTS]: the /broadcast reference on a fresh pinned
# server; with INPUTS, each client but the sender sends that many frames a
# second.
broadcast() {
	local n=$1 rate=$2 dir=$3 inputs=${4:-0}
	mkdir -p "$dir"
	taskset -c "$scpu" "$bin/tickroom" -addr 127.0.0.1:0 -http "" -admin "" -data-dir "" \
		-max-conns 19900 -max-conns-per-ip 19900 -ignore-file-limit -conformance-endpoints ${SERVER_FLAGS:-} \
		>"$dir/server.out" 2>"$dir/server.err" &
	local srv=$!
	pids+=("$srv")
	for _ in $(seq 50); do
		grep -q '^tickroom listening' "$dir/server.out" 2>/dev/null && break
		sleep 0.1
	done
	local ws
	ws=$(sed -n 's/^tickroom listening ws=\([^ ]*\).*/\1/p' "$dir/server.out")
	local in=()
	if [ "$inputs" != 0 ]; then in=(-inputs "$inputs" -input-size 24); fi
	taskset -c "$lcpu" "$bin/fanoutcpu" -mode broadcast -url "ws://$ws/broadcast" -server-pid "$srv" \
		-conns "$n" -rate "$rate" -size 64 "${in[@]}" -duration "$duration" \
		>"$dir/result.txt" 2>"$dir/err.txt" &
	local fo=$!
	pids+=("$fo")
	if [ "${PERF:-0}" = 1 ]; then
		# 2 s into the window, for 10 s, as for the arena.
		for _ in $(seq 600); do
			grep -q '^window started' "$dir/err.txt" 2>/dev/null && break
			kill -0 "$fo" 2>/dev/null || break
			sleep 0.2
		done
		sleep 2
		if kill -0 "$fo" 2>/dev/null; then
			perf record -a -g -F 499 -o "$dir/perf.data" -- sleep 10 >"$dir/perf.log" 2>&1 &
			run_bg
			"$root/scripts/gamepath/perfsplit.sh" "$dir/perf.data" tickroom >"$dir/perf.txt" 2>&1 || true
		fi
	fi
	wait "$fo" || true
	kill "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true
	if [ ! -s "$dir/result.txt" ]; then
		echo "no /broadcast result in $dir:" >&2
		cat "$dir/err.txt" "$dir/server.err" >&2 || true
	fi
}

# field FILE: the "(F/s) ... X µs per frame" pair of a fanoutcpu result.
field() {
	sed -n 's/.*(\([0-9]*\)\/s).*: \([0-9.]*\) µs per frame.*/\1 \2/p' "$1"
}

rows=()
k=0
for n in $bots_list; do
	# A count named again (BOTS="1000 3000 1000 3000") runs again, into
	# directories of its own: arena-N-K, broadcast-N-K, write-N-K.txt.
	k=$((k + 1))
	sfx=
	if [ -e "$out/arena-$n" ]; then sfx=-$k; fi
	adir=$out/arena-$n$sfx
	echo "== $n bots: arena (server on CPU $scpu, bots on CPU $lcpu), load $(load1)" >&2
	# The server's memory is read once the window is over, while the bots
	# play on for 4 s (HEAP_PROFILE, LINGER); the CPU profile, when there
	# is one, starts 2 s into the window (with DURATION 12s or more, it
	# ends within it).
	prof=(HEAP_PROFILE=1 LINGER=4)
	if [ "${PROFILE:-0}" = 1 ]; then
		prof+=(PROFILE_SECONDS=10 PROFILE_DELAY=2)
	fi
	sources=$(((n + 2999) / 3000))
	perfpid=
	if [ "${PERF:-0}" = 1 ]; then
		mkdir -p "$adir"
		# 2 s into the arena run's window, for 10 s.
		(
			for _ in $(seq 600); do
				grep -q '^steady window started' "$adir/bots-0.txt" 2>/dev/null && break
				sleep 0.2
			done
			sleep 2
			perf record -a -g -F 499 -o "$adir/perf.data" -- sleep 10 >"$adir/perf.log" 2>&1
		) &
		perfpid=$!
		pids+=("$perfpid")
	fi
	env BIN_DIR="$bin" BOTS="$n" PROCS=1 SERVER_CPUS="$scpu" BOT_CPUS="$lcpu" "${prof[@]}" \
		"$root/scripts/bots/run.sh" "$adir" -room-size 10 -tick-rate 20 -input-hz 10 \
		-duration "$duration" -settle "${SETTLE:-10s}" -warmup "${WARMUP:-5s}" -ramp 1000 -sources "$sources" >"$adir.log" 2>&1 &
	run_bg
	aload=$(load1)
	if [ -n "$perfpid" ]; then
		wait "$perfpid" || true
		"$root/scripts/gamepath/perfsplit.sh" "$adir/perf.data" tickroom tickroom-bots >"$adir/perf.txt" 2>&1 || true
	fi
	rep=$adir/report-0.json
	if [ ! -s "$rep" ]; then
		echo "arena run of $n bots left no report; see $adir.log" >&2
		continue
	fi
	read -r fps bpc cpf p50 p99 rss seated late swait bcpu <<<"$(jq -r '[
		(.steady.snapshots_per_sec|round),
		(.steady.bytes_per_bot_sec|round),
		(.server.cpu_us_per_frame*100|round/100),
		(.input_latency_us.p50/1000*10|round/10),
		(.input_latency_us.p99/1000*10|round/10),
		(.server.rss_per_conn_bytes|round),
		.in_room_at_end,
		(if .server.tick_lateness == null then "—"
		 else "\(.server.tick_lateness.mean*1e4|round/10)/" + (if .server.tick_lateness.p99 < 0 then ">\(.server.tick_lateness.top_bound*1000)"
		 else "\(.server.tick_lateness.p99*1e4|round/10)" end) end),
		(if .server.send_wait == null or .server.send_wait.count == 0 then "—"
		 else "\(.server.send_wait.mean*1e4|round/10)/" + (if .server.send_wait.p99 < 0 then ">\(.server.send_wait.top_bound*1000)"
		 else "\(.server.send_wait.p99*1e4|round/10)" end) end),
		"\(.bots_cpu_percent|round) % / \((.steady.bots_cpu_us_per_message // 0) * 100 | round / 100)"
	] | @tsv' "$rep")"
	# Anonymous RSS (heap, stacks, buffers) grown since before the first
	# bot, per seated player; total RSS also counts the binary's pages
	# paged in as code runs for the first time, a fixed cost.
	anon=$(awk -v s="$seated" 'FNR == 1 { f++ } /^RssAnon:/ { v[f] = $2 } END { if (s > 0 && f == 2) printf "%d", (v[2] - v[1]) * 1024 / s; else print "—" }' \
		"$adir/server.status0" "$adir/server.status" 2>/dev/null || echo "—")
	# The sender's own connection gets no copy: N-1 deliveries a message.
	rate=$(awk -v f="$fps" -v n="$n" 'BEGIN { printf "%.3f", f / (n - 1) }')
	echo "== $n conns: /broadcast at $rate msgs/s ($fps frames/s), load $(load1)" >&2
	broadcast "$n" "$rate" "$out/broadcast-$n$sfx"
	bload=$(load1)
	read -r bfps bcpf <<<"$(field "$out/broadcast-$n$sfx/result.txt")" || true
	ifps= icpf= iload=
	if [ "$input_hz" != 0 ]; then
		echo "== $n conns: /broadcast at $rate msgs/s with $input_hz inputs/s a client, load $(load1)" >&2
		broadcast "$n" "$rate" "$out/broadcast-inputs-$n$sfx" "$input_hz"
		iload=$(load1)
		read -r ifps icpf <<<"$(field "$out/broadcast-inputs-$n$sfx/result.txt")" || true
	fi
	echo "== $n sockets: write(2) floor at $fps writes/s, load $(load1)" >&2
	taskset -c "$lcpu" "$bin/fanoutcpu" -mode write -conns "$n" -rate "$fps" -size 64 -duration "$duration" \
		>"$out/write-$n$sfx.txt" 2>&1 &
	run_bg
	wload=$(load1)
	read -r wfps wcpf <<<"$(field "$out/write-$n$sfx.txt")" || true
	ratio=$(awk -v a="$cpf" -v b="${bcpf:-0}" -v c="${icpf:-0}" 'BEGIN {
		if (a > 0 && b > 0) printf "%.2f×", a / b; else printf "—"
		if (a > 0 && c > 0) printf " (%.2f× with inputs)", a / c }')
	iratio=$(awk -v a="${icpf:-0}" -v b="${bcpf:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f×", a / b; else print "—" }')
	wratio=$(awk -v a="${wcpf:-0}" -v b="${bcpf:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f×", a / b; else print "—" }')
	rows+=("| arena, $n bots ($seated seated) | $bpc | $cpf | $ratio | $p50 / $p99 | $fps | $rss / $anon | $late | $swait | $bcpu | $aload |")
	rows+=("| \`/broadcast\`, $n conns, $rate msgs/s of 64 B | — | ${bcpf:-—} | 1 | — | ${bfps:-—} | — | — | — | — | $bload |")
	if [ "$input_hz" != 0 ]; then
		rows+=("| \`/broadcast\` with $input_hz inputs/s a client of 24 B | — | ${icpf:-—} | $iratio | — | ${ifps:-—} | — | — | — | — | $iload |")
	fi
	rows+=("| write(2) floor, $n sockets, 64 B | — | ${wcpf:-—} | $wratio | — | ${wfps:-—} | — | — | — | — | $wload |")
done

{
	echo "Server on CPU $scpu, load on CPU $lcpu, ${secs} s windows, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs."
	echo
	echo "| what | bytes / client / s | server CPU µs / delivered frame | vs \`/broadcast\` | input→ack p50 / p99 ms | frames / s | RSS B / seated player (all / anonymous) | tick lateness mean/p99 ms | send wait mean/p99 ms | bots' CPU (% of a core / µs a frame) | load avg (1 min) |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${rows[@]}"
} | tee "$out/table.md"
