# tickroom — `make run` starts the server with the demo (http://127.0.0.1:8080/;
# pass flags with ARGS="..."); `make test` runs everything CI runs.
GO        ?= go
TOOLS     := .tools/bin
BUF       := $(TOOLS)/buf

.PHONY: run test tools npm postgres redis nginx proto proto-check lint gotest benchcheck jstest build

run:
	$(GO) run ./cmd/tickroom $(ARGS)

build:
	$(GO) build -o bin/ ./cmd/...

tools:
	bash scripts/install-tools.sh

npm:
	bash scripts/npm-install.sh

# proto also regenerates each example game's code from its own buf.gen.yaml,
# as a studio's module would.
proto: tools npm
	$(BUF) lint
	$(BUF) generate
	for d in $(dir $(wildcard examples/*/buf.gen.yaml)); do (cd $$d && $(CURDIR)/$(BUF) lint && $(CURDIR)/$(BUF) generate) || exit 1; done

# proto-check fails when the committed generated code differs from what the
# .proto sources generate, or when buf lint fails.
proto-check: tools npm
	bash scripts/proto-check.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# gotest needs PostgreSQL's server binaries and redis-server: the store and
# cluster tests start their own servers (internal/pgtest,
# internal/redistest); the install scripts install them when missing. The
# cluster's load balancer test runs Debian's nginx (install-nginx.sh).
gotest: npm postgres redis nginx
	$(GO) test -race -count=1 -timeout 20m ./...

# benchcheck runs every benchmark once (-benchtime 1x; -short shortens
# the ones that run for seconds), so that a change that breaks a benchmark
# fails here rather than at the next measurement. Their figures are not
# read: BENCHMARKS.md gives the commands that measure. The store's and the
# cluster's benchmarks, which start servers and run for minutes, are left
# to those commands. Only the packages that hold a benchmark are linked.
BENCH_PKGS = $(addprefix ./,$(sort $(dir $(shell git grep -l '^func Benchmark' -- '*_test.go' ':!store/' ':!cluster/'))))
benchcheck:
	$(GO) test -race -count=1 -short -run '^$$' -bench . -benchtime 1x $(BENCH_PKGS)

nginx:
	bash scripts/install-nginx.sh

postgres:
	bash scripts/install-postgres.sh

redis:
	bash scripts/install-redis.sh

# jstest runs client-js's unit tests and its browser tests in Debian's
# chromium, which install-chromium.sh installs when it is missing; the TLS
# tests run Debian's nginx (install-nginx.sh) and caddy (install-caddy.sh)
# in front of the server, and the cluster test a private redis-server
# (install-redis.sh); the guide's test generates the counter game of
# docs/games.md with buf (tools).
jstest: tools npm redis
	bash scripts/install-chromium.sh
	bash scripts/install-nginx.sh
	bash scripts/install-caddy.sh
	cd client-js && npm test && npm run test:browser

test: lint proto-check gotest benchcheck jstest
