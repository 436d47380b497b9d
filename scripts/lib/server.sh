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

# start_server OUT CMD... runs CMD (a tickroom command line, with any env or
# taskset in front) in the background, its output in OUT/server.out and
# OUT/server.err, waits up to 5 s for it to listen, and sets srv (its pid),
# http (its public host:port) and admin (its admin base URL).
start_server() {
	local out=$1
	shift
	"$@" >"$out/server.out" 2>"$out/server.err" &
	srv=$!
	for _ in $(seq 50); do
		grep -q '^tickroom listening' "$out/server.out" 2>/dev/null && break
		sleep 0.1
	done
	http=$(sed -n 's/^tickroom listening ws=[^ ]* http=//p' "$out/server.out")
	admin=$(grep -o 'admin *http://[0-9.:]*' "$out/server.out" | grep -o 'http://.*')
}
