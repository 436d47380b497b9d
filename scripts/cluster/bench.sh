#!/usr/bin/env bash
# scripts/cluster/bench.sh — one bounded cluster load run on this machine.
#
# Starts a private redis-server, NODES tickroom nodes sharing it (each its
# own process, under the open-file limit), and PROCS tickroom-bots processes
# that spread their bots over every node and over their own 127.0.0.x source
# addresses; samples every node's RSS, CPU and open connections and Redis's
# commands and memory every few seconds; stops everything; and prints a
# summary (summary.txt) with the bots' merged report (merged.txt).
#
# Usage: scripts/cluster/bench.sh OUT_DIR [tickroom-bots flags...]
#
# SHAPE picks the defaults:
#   turn  (default) 100,000 players on 6 nodes in gomoku rooms of 2 ticking
#         at 2 Hz, each bot moving on its turn at its next 0.1 Hz input
#         time (a move every 10 s a player, 5 s a room on average;
#         heartbeats in between; `-input-hz 0.2` doubles the moves, more
#         than this two-core box carries at 100,000), 8 bot processes,
#         150 started a second, 60 s held after the ramp, 900 s at most;
#   arena 20 Hz arena rooms of 10 on 3 nodes, 10 inputs/s per player.
# Environment: NODES, BOTS, PROCS, RAMP (bots started per second, all
# processes together), DURATION (hold after the ramp, default 60s),
# SOURCES (source addresses per bot process, default 4), STORE (none: no
# store, the default; sqlite: one SQLite file per node; the nodes share the
# session key either way, so a token from one node is valid on every node),
# SERVER_FLAGS (extra tickroom flags), NICE_REDIS and NICE_NODES (the
# scheduling priority of Redis and of the nodes, default -10 and -5 when run
# as root: on a box where everything shares two cores, a starved Redis
# stalls every node's cluster calls past their one-second deadline), MAX_SECONDS (the whole run is cut
# there, default 900 for turn and 600 for arena), BIN_DIR (use the tickroom and tickroom-bots binaries
# there instead of building).
# Only loopback is used; every process started here is stopped on exit.
set -euo pipefail

out=${1:?usage: scripts/cluster/bench.sh OUT_DIR [tickroom-bots flags...]}
shift
shape=${SHAPE:-turn}
case $shape in
turn)
	nodes=${NODES:-6} bots=${BOTS:-100000} procs=${PROCS:-8} ramp=${RAMP:-150}
	shapeflags=(-game gomoku -room-size 2 -tick-rate 2 -options move_seconds=0 -input-hz 0.1)
	maxsec=${MAX_SECONDS:-900}
	;;
arena)
	nodes=${NODES:-3} bots=${BOTS:-1500} procs=${PROCS:-1} ramp=${RAMP:-300}
	shapeflags=(-game arena -room-size 10 -tick-rate 20 -input-hz 10)
	maxsec=${MAX_SECONDS:-600}
	;;
*)
	echo "SHAPE must be turn or arena" >&2
	exit 2
	;;
esac
duration=${DURATION:-60s}
sources=${SOURCES:-4}
store=${STORE:-none}
per=$(((bots + procs - 1) / procs))
# A process holds at most its open-file limit in sockets.
fdlimit=$(ulimit -Hn)
if [ "$fdlimit" != unlimited ]; then
	if [ $((per + 300)) -gt "$fdlimit" ]; then
		echo "$per bots per process exceed the open-file limit $fdlimit: raise PROCS" >&2
		exit 2
	fi
	if [ $((bots / nodes + 300)) -gt "$fdlimit" ]; then
		echo "$((bots / nodes)) players per node exceed the open-file limit $fdlimit: raise NODES" >&2
		exit 2
	fi
fi
if [ $((procs * sources)) -gt 250 ]; then
	echo "PROCS*SOURCES must stay within 250 source addresses" >&2
	exit 2
fi

nice_redis=${NICE_REDIS:-0} nice_nodes=${NICE_NODES:-0}
if [ "$(id -u)" = 0 ]; then nice_redis=${NICE_REDIS:--10} nice_nodes=${NICE_NODES:--5}; fi
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/botpids" "$out/nodes.tsv" "$out/redis.tsv" "$out/bots-rss.tsv" "$out"/report-*.json
bin=${BIN_DIR:-$out/bin}
if [ -z "${BIN_DIR:-}" ]; then
	mkdir -p "$bin"
	(cd "$root" && go build -o "$bin/" ./cmd/tickroom ./cmd/tickroom-bots)
fi
"$root/scripts/install-redis.sh" >/dev/null

pids=()
cleanup() {
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo "stopped" >&2; exit 1' INT TERM
# The run cannot outlast MAX_SECONDS.
(
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "$maxsec" &
	s=$!
	wait "$s"
	echo "MAX_SECONDS ($maxsec) reached, stopping" >&2
	kill -TERM $$
) &
pids+=("$!")

# Redis, on a free port of its own.
mkdir -p "$out/redis"
for _ in $(seq 20); do
	rport=$((20000 + RANDOM % 20000))
	(exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && continue
	nice -n "$nice_redis" redis-server --port "$rport" --bind 127.0.0.1 --dir "$out/redis" --save "" --appendonly no \
		--daemonize no --protected-mode yes --logfile "$out/redis/redis.log" &
	rpid=$!
	for _ in $(seq 50); do
		redis-cli -p "$rport" ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	if redis-cli -p "$rport" ping >/dev/null 2>&1; then
		pids+=("$rpid")
		break
	fi
	kill "$rpid" 2>/dev/null || true
	rpid=
done
[ -n "${rpid:-}" ] || { echo "redis-server did not start" >&2; exit 1; }
echo "redis pid $rpid port $rport"

# The nodes share the session key (a token is valid on every node) and the
# admin token.
key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
nodepids=() https=() admins=()
for i in $(seq 1 "$nodes"); do
	data=""
	# A fresh store: an earlier run's accounts and results stay out of this one.
	rm -rf "$out/n$i/data"
	if [ "$store" = sqlite ]; then data="$out/n$i/data"; fi
	mkdir -p "$out/n$i"
	TICKROOM_REDIS="redis://127.0.0.1:$rport" TICKROOM_TOKEN_KEY="$key" TICKROOM_ADMIN_TOKEN=bench \
		nice -n "$nice_nodes" "$bin/tickroom" -node-id "n$i" -addr 127.0.0.1:0 -http 127.0.0.1:0 -admin 127.0.0.1:0 \
		-max-conns 19900 -ignore-file-limit -max-conns-per-ip 19900 -max-http-conns-per-ip 4096 -guest-login-rate inf -data-dir "$data" ${SERVER_FLAGS:-} \
		>"$out/n$i/server.out" 2>"$out/n$i/server.err" &
	nodepids+=("$!")
	pids+=("$!")
done
for i in $(seq 1 "$nodes"); do
	f="$out/n$i/server.out"
	for _ in $(seq 100); do
		grep -q '^  admin ' "$f" 2>/dev/null && break
		sleep 0.1
	done
	h=$(sed -n 's/^tickroom listening ws=[^ ]* http=//p' "$f")
	a=$(grep -o 'admin *http://[0-9.:]*' "$f" | grep -o 'http://.*' || true)
	if [ -z "$h" ] || [ -z "$a" ]; then
		echo "node n$i did not start:" >&2
		cat "$out/n$i/server.err" >&2
		exit 1
	fi
	https+=("http://$h")
	admins+=("$a")
	echo "node n$i pid ${nodepids[$((i - 1))]} http $h admin $a"
done
httplist=$(IFS=,; echo "${https[*]}")

# Samples every 5 s: per node RSS (kB), CPU (clock ticks) and open
# sessions; Redis's commands processed and used memory.
# A node too busy to answer in time gives an empty value, not an exit.
metric() { { curl -s --max-time 5 "$1/metrics" || true; } | awk -v m="$2" '$1 == m { v = $2 } END { print v }'; }
sample() {
	local t
	set +e
	while :; do
		t=$(date +%s.%N)
		for i in $(seq 0 $((nodes - 1))); do
			p=${nodepids[$i]}
			rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
			cpu=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
			conns=$(metric "${admins[$i]}" tickroom_connections_open)
			echo "$t n$((i + 1)) ${rss:-0} ${cpu:-0} ${conns:-0}" >>"$out/nodes.tsv"
		done
		for p in $(cat "$out/botpids" 2>/dev/null); do
			echo "$t $p $(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null)" >>"$out/bots-rss.tsv"
		done
		redis-cli -p "$rport" info all 2>/dev/null | tr -d '\r' |
			awk -v t="$t" -F: '$1 == "total_commands_processed" { c = $2 } $1 == "used_memory" { m = $2 } $1 == "connected_clients" { n = $2 } END { print t, c, m, n }' >>"$out/redis.tsv"
		sleep 5
	done
}
sample &
pids+=("$!")
sleep 6 # a baseline sample before the first bot

botpids=()
for i in $(seq 0 $((procs - 1))); do
	n=$((bots - i * per < per ? bots - i * per : per))
	[ "$n" -gt 0 ] || break
	"$bin/tickroom-bots" -http "$httplist" -bots "$n" -name "p$i" -sources "$sources" -source-offset $((i * sources)) \
		-ramp "$(awk -v r="$ramp" -v p="$procs" 'BEGIN { print r / p }')" -duration "$duration" \
		-quiet=$([ "$i" = 0 ] && echo false || echo true) \
		-json "$out/report-$i.json" "${shapeflags[@]}" "$@" \
		>"$out/bots-$i.txt" 2>"$out/bots-$i.err" &
	botpids+=("$!")
	pids+=("$!")
	echo "$!" >>"$out/botpids"
done
echo "$procs bot processes, $bots bots, ramp $ramp/s, hold $duration"
for p in "${botpids[@]}"; do wait "$p" || echo "bot process $p exited with $?"; done
uptime | tee "$out/uptime.txt"
# Which commands Redis ran (calls and CPU per command, Lua's included) and its
# own CPU time, over the whole run.
redis-cli -p "$rport" info commandstats >"$out/redis-commandstats.txt" 2>/dev/null || true
redis-cli -p "$rport" info cpu >"$out/redis-cpu.txt" 2>/dev/null || true

redirects=()
for i in $(seq 0 $((nodes - 1))); do
	redirects+=("$(metric "${admins[$i]}" tickroom_redirects_total)")
done
for p in "${nodepids[@]}"; do kill "$p" 2>/dev/null || true; done
# Redis stays up until the nodes have left (their rooms and users unlisted).
for p in "${nodepids[@]}"; do wait "$p" 2>/dev/null || true; done

"$bin/tickroom-bots" -merge -json "$out/merged.json" "$out"/report-*.json >"$out/merged.txt"

# The steady window: samples where the nodes together held at least 99%
# of their highest number of sessions.
{
	echo "cluster bench: shape $shape, $nodes nodes, $bots bots in $procs processes, ramp $ramp/s, hold $duration, store $store"
	echo "load average at the end: $(cat "$out/uptime.txt")"
	jq -r '"bots: logged in \(.logged_in) (failed \(.login_failed)), open at end \(.open_at_end), in a room at end \(.in_room_at_end), redirects followed \(.counters.redirects // 0)",
		"login p50 \(.login_us.p50/1000)ms p99 \(.login_us.p99/1000)ms max \(.login_us.max/1000)ms; join (through redirects) p50 \(.join_us.p50/1000)ms p99 \(.join_us.p99/1000)ms max \(.join_us.max/1000)ms",
		"input→ack p50 \(.input_latency_us.p50/1000)ms p90 \(.input_latency_us.p90/1000)ms p99 \(.input_latency_us.p99/1000)ms p99.9 \(.input_latency_us.p99_9/1000)ms max \(.input_latency_us.max/1000)ms (n=\(.input_latency_us.count))",
		"errors \(.errors) closes \(.closes) failures \(.failures)",
		"bots CPU \(.bots_cpu_percent|round)% (all processes, steady window)"' "$out/merged.json"
	awk -v nodes="$nodes" '
		{ t[NR] = $1; conns[$1] += $5 }
		END { for (k in conns) if (conns[k] > max) max = conns[k]; print max + 0 }' "$out/nodes.tsv" >"$out/maxconns.txt"
	max=$(cat "$out/maxconns.txt")
	awk -v max="$max" -v hz="$(getconf CLK_TCK)" '
		{ tot[$1] += $5; rows[NR] = $0 }
		END {
			for (i = 1; i <= NR; i++) {
				split(rows[i], f, " ")
				n = f[2]
				if (!(n in base)) base[n] = f[3]
				if (tot[f[1]] >= 0.99 * max) {
					if (!(n in t0)) { t0[n] = f[1]; c0[n] = f[4] }
					t1[n] = f[1]; c1[n] = f[4]; rss[n] = f[3]; conn[n] = f[5]
				}
			}
			for (n in rss) {
				cpu = 0
				if (t1[n] > t0[n]) cpu = 100 * (c1[n] - c0[n]) / hz / (t1[n] - t0[n])
				per = 0
				if (conn[n] > 0) per = (rss[n] - base[n]) * 1024 / conn[n]
				printf "node %s: %d sessions, RSS %.0f MB (baseline %.0f MB), %.0f B per session, CPU %.0f%% over the steady window\n",
					n, conn[n], rss[n] / 1024, base[n] / 1024, per, cpu
			}
		}' "$out/nodes.tsv" | sort -V
	# Redis over the same window.
	awk -v max="$max" '
		FNR == NR { tot[$1] += $5; next }
		{ if (tot[$1] >= 0.99 * max) { if (t0 == "") { t0 = $1; c0 = $2 } t1 = $1; c1 = $2; mem = $3; cl = $4 } }
		END {
			if (t1 > t0) printf "redis: %.0f commands/s over the steady window (%.0f s), used memory %.1f MB, %d clients\n", (c1 - c0) / (t1 - t0), t1 - t0, mem / 1048576, cl
			else print "redis: no steady window sampled"
		}' "$out/nodes.tsv" "$out/redis.tsv"
	# None when the bots ended before the sampler's first look at them.
	if [ -s "$out/bots-rss.tsv" ]; then
		awk '{ if ($3 > m[$2]) m[$2] = $3 } END { for (p in m) { s += m[p]; n++ } if (n) printf "bot processes: peak RSS %.0f MB in all (%d processes)\n", s / 1024, n }' "$out/bots-rss.tsv"
	fi
	echo "redirects sent per node: ${redirects[*]}"
	echo "sessions at the peak, all nodes: $max"
} | tee "$out/summary.txt"
