#!/usr/bin/env bash
# Runs each transport attack against a fresh tickroom on loopback while a
# bystander plays, and writes one report per attack to OUT (default
# /tmp/tickroom-abuse): the server's peak RSS and CPU and the bystander's
# input→ack and Ping p99 before, during and after the attack.
#
#   scripts/abuse/run.sh [OUT]            # ATTACKERS=200 PHASE=10s ATTACKS="ping-flood ..."
#
# Bounded: at most ATTACKERS connections per attack (≤ 2,000), three
# phases of PHASE (≤ 60 s) each, loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/tickroom-abuse}
attackers=${ATTACKERS:-200}
phase=${PHASE:-10s}
attacks=${ATTACKS:-ping-flood slow-drip nonreaders conns}
mkdir -p "$out/bin"
go build -o "$out/bin/" ./cmd/tickroom ./cmd/tickroom-abuse

for attack in $attacks; do
	# The server gets one core and the load the other, so its CPU share is its own.
	taskset -c 1 "$out/bin/tickroom" -addr 127.0.0.1:0 -http 127.0.0.1:0 -admin "" \
		-conformance-endpoints -guest-login-rate inf ${SERVER_FLAGS:-} \
		>"$out/$attack.server.out" 2>"$out/$attack.server.err" &
	srv=$!
	trap 'kill $srv 2>/dev/null || true' EXIT
	for _ in $(seq 100); do
		grep -q '^tickroom listening' "$out/$attack.server.out" 2>/dev/null && break
		sleep 0.1
	done
	ws=$(sed -n 's/^tickroom listening ws=\([^ ]*\) .*/\1/p' "$out/$attack.server.out")
	http=$(sed -n 's/^tickroom listening ws=[^ ]* http=//p' "$out/$attack.server.out")
	taskset -c 0 "$out/bin/tickroom-abuse" -ws "$ws" -http "http://$http" -pid "$srv" \
		-attack "$attack" -attackers "$attackers" -phase "$phase" | tee "$out/$attack.txt"
	kill "$srv"
	wait "$srv" 2>/dev/null || true
	echo
done
