#!/usr/bin/env bash
# Runs each attack (transport, session protocol, login) against a fresh tickroom on loopback while a
# bystander plays, and writes one report per attack to OUT (default
# /tmp/tickroom-abuse): the server's peak RSS and CPU and the bystander's
# input→ack and Ping p99 before, during and after the attack.
#
#   scripts/abuse/run.sh [OUT]            # ATTACKERS=200 PHASE=10s ATTACKS="ping-flood ..."
#
# ROOM_BUDGET is the server's -max-room-cost-per-user when SERVER_FLAGS
# changes it (default 32): the room flood asks for the costliest room it buys.
#
# The server runs without a store (-data-dir ""), except for contact-flood
# and offline-dm, whose requests are checked against it and whose messages
# it keeps, and reconnect-loop, each of whose sessions reads its user's
# lists and inbox from it: they get a fresh SQLite store in OUT/ATTACK.data
# (removed first).
#
# dm-flood's attackers send the bystander direct messages a bit over the
# chat rate, each from its own guest: none is the bystander's friend. The
# bystander counts those it gets a second.
#
# join-churn's attackers spectate the bystander's arena room and leave it,
# over and over: each join and leave is a room event to every member, the
# bystander included, which counts those it gets a second. The arena has
# 16 spectator seats, so with more than 16 attackers the rest are refused
# ROOM_FULL whenever the seats are taken.
#
# SERVER_BIN runs that tickroom binary in place of the one built from this
# tree (a build of an older commit, to compare); the attacks are always
# this tree's.
#
# The load average before and after each attack goes to OUT/ATTACK.load:
# the machine may be shared, and the figures mean little when it is busy.
#
# Bounded: at most ATTACKERS connections per attack (≤ 2,000), three
# phases of PHASE (≤ 60 s) each, loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/tickroom-abuse}
attackers=${ATTACKERS:-200}
phase=${PHASE:-10s}
# "none" runs the phases with no attack: the machine's own noise, the
# baseline the ratios are read against.
attacks=${ATTACKS:-none ping-flood slow-drip nonreaders conns room-flood channel-squat oversized login-flood chat-nonreaders http-hold contact-flood dm-flood offline-dm reconnect-loop join-churn}
mkdir -p "$out/bin"
go build -o "$out/bin/" ./cmd/tickroom ./cmd/tickroom-abuse
server=${SERVER_BIN:-$out/bin/tickroom}

# What runs is listed in pids, and the EXIT trap (which bash also runs on
# SIGTERM and SIGINT) stops it. The attack runs in the background and is
# waited for: bash takes a signal only once a foreground command ends, so
# a foreground attack would run its phases out after the script is told
# to stop.
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

for attack in $attacks; do
	# Attackers log in as guests from loopback, so the guest login limit
	# is off, except for the attack on it.
	login_rate=inf
	[ "$attack" = login-flood ] && login_rate=0
	data_dir=""
	case $attack in
	contact-flood | offline-dm | reconnect-loop)
		data_dir="$out/$attack.data"
		rm -rf "$data_dir"
		;;
	esac
	# The server gets one core and the load the other, so its CPU share is its own.
	taskset -c 1 "$server" -addr 127.0.0.1:0 -http 127.0.0.1:0 -admin "" \
		-conformance-endpoints -guest-login-rate "$login_rate" -data-dir "$data_dir" ${SERVER_FLAGS:-} \
		>"$out/$attack.server.out" 2>"$out/$attack.server.err" &
	srv=$!
	pids=("$srv")
	for _ in $(seq 100); do
		grep -q '^tickroom listening' "$out/$attack.server.out" 2>/dev/null && break
		sleep 0.1
	done
	ws=$(sed -n 's/^tickroom listening ws=\([^ ]*\) .*/\1/p' "$out/$attack.server.out")
	http=$(sed -n 's/^tickroom listening ws=[^ ]* http=//p' "$out/$attack.server.out")
	echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/$attack.load"
	taskset -c 0 "$out/bin/tickroom-abuse" -ws "$ws" -http "http://$http" -pid "$srv" \
		-attack "$attack" -attackers "$attackers" -phase "$phase" -room-budget "${ROOM_BUDGET:-32}" > >(tee "$out/$attack.txt") &
	pids+=("$!")
	wait "$!"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/$attack.load"
	kill "$srv"
	wait "$srv" 2>/dev/null || true
	echo
done
