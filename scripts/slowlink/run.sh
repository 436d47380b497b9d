#!/usr/bin/env bash
# Measures a player whose downlink carries a fifth of what its room sends,
# connected to tickroom directly and through nginx with TLS as
# deploy/nginx.conf sets it up, with what bounds the proxy's socket toward
# the player or without: how stale the states the player gets are, second
# by second, and from when the server skips states for it
# (cmd/tickroom-slowlink says how). One report a variant in OUT (default
# /tmp/tickroom-slowlink), each with the load average before and after.
#
#   flock /work/wt/measure.lock scripts/slowlink/run.sh [OUT]   # DURATION=40s VARIANTS="direct nginx ..."
#
# Variants:
#   direct        the player connects to tickroom (through the throttled relay)
#   nginx         through nginx, deploy/nginx.conf as it is
#   sysctl        the same, with net.ipv4.tcp_notsent_lowat=16384 on the host
#   sndbuf32k     deploy/nginx.conf with sndbuf=32k on the players' TLS listen
#   sndbuf64k     the same with sndbuf=64k
#   rmem          net.ipv4.tcp_notsent_lowat=16384 and tcp_rmem's default
#                 (its middle value, the receive buffer a socket starts
#                 with) 16384 on the host: nginx's socket from tickroom
#                 then starts small too
#   rmem-sndbuf32k  tcp_rmem's default 16384 and sndbuf=32k
#   rmem-fixed    as rmem, with net.ipv4.tcp_moderate_rcvbuf=0: receive
#                 buffers stay at tcp_rmem's default instead of growing
#
# The host settings are for the run only (root only; the old values are
# put back after it and on exit); a variant whose setting cannot be made
# is skipped with a note in its report.
#
# Bounded: each variant runs DURATION throttled (≤ 2m) after a few seconds
# unthrottled and at most 10 s more to catch up; loopback only; tickroom,
# the relay and the players run in the one tickroom-slowlink process,
# nginx in its own, which tickroom-slowlink stops.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
. "$root/scripts/lib/server.sh"
out=${1:-/tmp/tickroom-slowlink}
mkdir -p "$out/bin"
out=$(cd "$out" && pwd)
go build -o "$out/bin/" ./cmd/tickroom-slowlink
nginx=${NGINX_PATH:-/usr/sbin/nginx}
duration=${DURATION:-40s}
variants=${VARIANTS:-direct nginx sysctl sndbuf32k sndbuf64k rmem rmem-sndbuf32k rmem-fixed}

# The measurement runs in the background and is waited for, so a signal
# stops it (bash takes one only once a foreground command ends); the EXIT
# trap stops it and puts the host's tcp_notsent_lowat back.
pids=()
changed=() # "file old value" of each host setting changed, to put back
restore() {
	local i
	for ((i = ${#changed[@]} - 1; i >= 0; i--)); do
		local f=${changed[i]%%$'\t'*}
		printf '%s\n' "${changed[i]#*$'\t'}" >"$f"
		echo "$f back to $(tr '\t' ' ' <"$f")"
	done
	changed=()
}
cleanup() {
	stop_pids
	restore
}
trap cleanup EXIT

# set_host FILE VALUE writes VALUE to the /proc/sys FILE, keeping the old
# value to put back; it fails when it cannot.
set_host() {
	local old
	old=$(cat "$1") || return 1
	changed+=("$1"$'\t'"$old")
	printf '%s\n' "$2" 2>/dev/null >"$1" || return 1
	echo "$1=$(tr '\t' ' ' <"$1") (was $(echo "$old" | tr '\t' ' '))"
}
lowat=/proc/sys/net/ipv4/tcp_notsent_lowat
rmem=/proc/sys/net/ipv4/tcp_rmem
moderate=/proc/sys/net/ipv4/tcp_moderate_rcvbuf

for v in $variants; do
	args=(-duration "$duration")
	host=()
	case $v in
	direct) ;;
	nginx) args+=(-nginx "$nginx") ;;
	sysctl)
		args+=(-nginx "$nginx")
		host=("$lowat" 16384)
		;;
	sndbuf32k) args+=(-nginx "$nginx" -listen sndbuf=32k) ;;
	sndbuf64k) args+=(-nginx "$nginx" -listen sndbuf=64k) ;;
	rmem)
		args+=(-nginx "$nginx")
		host=("$lowat" 16384 "$rmem" "$(awk '{print $1 "\t16384\t" $3}' "$rmem")")
		;;
	rmem-fixed)
		args+=(-nginx "$nginx")
		host=("$lowat" 16384 "$rmem" "$(awk '{print $1 "\t16384\t" $3}' "$rmem")" "$moderate" 0)
		;;
	rmem-sndbuf32k)
		args+=(-nginx "$nginx" -listen sndbuf=32k)
		host=("$rmem" "$(awk '{print $1 "\t16384\t" $3}' "$rmem")")
		;;
	*)
		echo "unknown variant $v" >&2
		exit 2
		;;
	esac
	: >"$out/$v.txt"
	skip=
	for ((i = 0; i < ${#host[@]}; i += 2)); do
		if ! set_host "${host[i]}" "${host[i + 1]}" >>"$out/$v.txt"; then
			skip=1
		fi
	done
	if [ -n "$skip" ]; then
		restore >>"$out/$v.txt"
		echo "$v: cannot change the host's settings here; skipped" | tee -a "$out/$v.txt"
		continue
	fi
	cat "$out/$v.txt"
	echo "== $v: $(date -u '+%F %T UTC')" | tee -a "$out/$v.txt"
	"$out/bin/tickroom-slowlink" "${args[@]}" > >(tee -a "$out/$v.txt") &
	pids=("$!")
	wait "$!"
	restore > >(tee -a "$out/$v.txt")
	echo
done
