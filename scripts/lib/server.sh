# scripts/lib/server.sh — sourced by the load scripts, after they set root.

# binaries OUT sets bin to BIN_DIR, or builds tickroom and tickroom-bots into
# OUT/bin and sets bin to that.
binaries() {
	bin=${BIN_DIR:-$1/bin}
	if [ -z "${BIN_DIR:-}" ]; then
		mkdir -p "$bin"
		(cd "$root" && go build -o "$bin/" ./cmd/tickroom ./cmd/tickroom-bots)
	fi
}

# stop_pids stops what a script started and listed in pids (its EXIT trap).
stop_pids() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}

# setup_load OUT makes OUT and sets out to its absolute path, gets the
# binaries, and starts the server the bots play on (start_server), with
# stop_pids as the EXIT trap: pinned to SERVER_CPU (default 1), admin token
# "bots", the connection caps and the guest login rate opened for bots on
# one loopback address, its store in OUT/data (emptied first), then
# SERVER_FLAGS. It gives the server a second to settle.
setup_load() {
	mkdir -p "$1"
	out=$(cd "$1" && pwd)
	binaries "$out"
	pids=()
	trap stop_pids EXIT
	rm -rf "$out/data"
	start_server "$out" env TICKROOM_ADMIN_TOKEN=bots taskset -c "${SERVER_CPU:-1}" "$bin/tickroom" -addr 127.0.0.1:0 -http 127.0.0.1:0 -admin 127.0.0.1:0 \
		-max-conns 19900 -ignore-file-limit -max-conns-per-ip 19900 -max-http-conns-per-ip 4096 -guest-login-rate inf -data-dir "$out/data" ${SERVER_FLAGS:-}
	pids+=("$srv")
	sleep 1
}

# start_server OUT CMD... runs CMD (a tickroom command line, with any env or
# taskset in front, and an admin listener) in the background, its output in
# OUT/server.out and OUT/server.err, waits up to 5 s for it to print its
# admin address (the summary's first line comes a few writes before it),
# and sets srv (its pid), http (its public host:port) and admin (its admin
# base URL). When the server exits or does not listen in time, it prints
# what OUT/server.err says and exits the script with status 1.
start_server() {
	local out=$1
	shift
	"$@" >"$out/server.out" 2>"$out/server.err" &
	srv=$!
	for _ in $(seq 50); do
		grep -q '^  admin ' "$out/server.out" 2>/dev/null && break
		kill -0 "$srv" 2>/dev/null || break
		sleep 0.1
	done
	http=$(sed -n 's/^tickroom listening ws=[^ ]* http=//p' "$out/server.out")
	admin=$(grep -o 'admin *http://[0-9.:]*' "$out/server.out" | grep -o 'http://.*' || true)
	if [ -z "$http" ] || [ -z "$admin" ]; then
		# The last lines of its own (a flag error is followed by the usage).
		echo "tickroom did not start (no admin address in $out/server.out); $out/server.err says:" >&2
		grep -v '^[[:space:]]' "$out/server.err" | tail -n 5 >&2
		exit 1
	fi
}
