# mssql-role-check — build, test, demo. `make` builds both binaries; `make test` runs every test.
include build/toolchain.env

NODE_X64 := .cache/node/node-v$(NODE_VERSION)-linux-x64/bin/node
NODE_ARM64 := .cache/node/node-v$(NODE_VERSION)-linux-arm64/bin/node
NODE := $(NODE_X64)
SRC := $(shell find src -name '*.ts') package.json tsconfig.json
BINS := dist/mssql-role-check-linux-x64 dist/mssql-role-check-linux-arm64
# node expands the quoted glob itself; a subset: make test TESTS='test/build.test.ts'
TESTS ?= 'test/**/*.test.ts'

.PHONY: all build test demo deps clean distclean toolchain packages man bump-node test-fresh
.DELETE_ON_ERROR:

all build: dist/SHA256SUMS dist/typecheck.ok

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

toolchain: $(NODE_X64).ok $(NODE_ARM64).ok
$(NODE_X64).ok: build/toolchain.env build/fetch-node.sh
	build/fetch-node.sh x64
$(NODE_ARM64).ok: build/toolchain.env build/fetch-node.sh
	build/fetch-node.sh arm64

dist/typecheck.ok: $(SRC) $(shell find test build bench -name '*.ts' -o -name '*.mjs') node_modules/.package-lock.json $(NODE_X64).ok
	$(NODE) node_modules/typescript/bin/tsc -p tsconfig.json
	@mkdir -p dist && touch $@

# The bundle step also writes the probe chunk and the code caches of both (warm-caches.mjs runs
# a check against sqlsim for that), which pack.sh embeds as assets.
dist/mssql-role-check.cjs: $(SRC) build/bundle.mjs build/levers.mjs build/warm-caches.mjs $(wildcard build/shims/*) node_modules/.package-lock.json $(NODE_X64).ok
	$(NODE) build/bundle.mjs $@

$(BINS) &: dist/mssql-role-check.cjs build/pack.sh build/sea-pack.mjs $(NODE_X64).ok $(NODE_ARM64).ok
	build/pack.sh dist/mssql-role-check.cjs dist/mssql-role-check

dist/SHA256SUMS: $(BINS)
	cd dist && sha256sum $(notdir $(BINS)) > SHA256SUMS

# Distribution packages, a separate target: .deb and .rpm for both architectures, their lines
# added to dist/SHA256SUMS. The man page is generated from doc/ and src/cli-spec.ts.
VERSION := $(shell sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' package.json)
MANPAGE := dist/mssql-role-check.1
DEBS := dist/mssql-role-check_$(VERSION)_amd64.deb dist/mssql-role-check_$(VERSION)_arm64.deb
RPMS := dist/mssql-role-check-$(VERSION)-1.x86_64.rpm dist/mssql-role-check-$(VERSION)-1.aarch64.rpm
PKG_INPUTS := build/package.sh build/pkgmeta.ts build/changelog.ts $(wildcard build/deb/* build/rpm/* build/systemd/*) \
  $(MANPAGE) dist/mssql-role-check.cjs README.md LICENSE CHANGELOG.md $(wildcard doc/examples/*)

man: $(MANPAGE)
$(MANPAGE): build/manpage.ts build/changelog.ts doc/mssql-role-check.1.in src/cli-spec.ts package.json CHANGELOG.md \
    $(wildcard doc/examples/*) $(NODE_X64).ok
	$(NODE) build/manpage.ts $@

packages: dist/packages.ok
dist/mssql-role-check_$(VERSION)_amd64.deb: dist/mssql-role-check-linux-x64 $(PKG_INPUTS)
	build/package.sh deb amd64 $< $@
dist/mssql-role-check_$(VERSION)_arm64.deb: dist/mssql-role-check-linux-arm64 $(PKG_INPUTS)
	build/package.sh deb arm64 $< $@
dist/mssql-role-check-$(VERSION)-1.x86_64.rpm: dist/mssql-role-check-linux-x64 $(PKG_INPUTS)
	build/package.sh rpm x86_64 $< $@
dist/mssql-role-check-$(VERSION)-1.aarch64.rpm: dist/mssql-role-check-linux-arm64 $(PKG_INPUTS)
	build/package.sh rpm aarch64 $< $@

# SHA256SUMS keeps the binaries' lines and gains the packages'.
dist/packages.ok: $(DEBS) $(RPMS) dist/SHA256SUMS
	cd dist && sha256sum $(notdir $(BINS) $(DEBS) $(RPMS)) > SHA256SUMS.new && mv SHA256SUMS.new SHA256SUMS
	@touch $@

test: all
	$(NODE) --test --test-concurrency=2 $(TESTS)

# The built check against a simulated mirrored pair on loopback, before and after a failover.
demo: all
	@$(NODE) test/demo.ts

# The simulator alone, answering FreeTDS tsql (an independent TDS client).
.PHONY: demo-sqlsim
demo-sqlsim: node_modules/.package-lock.json $(NODE_X64).ok
	$(NODE) test/sqlsim/demo.ts

# What one check costs next to a packed hello world, FreeTDS tsql and Python (bench/run.ts);
# N runs of each: make bench N=50
N ?= 20
.PHONY: bench
bench: $(BINS)
	$(NODE) bench/run.ts --runs $(N)

# What a check answered by the daemon (mssql-role-check serve) costs, with 2 and 50 targets, next
# to the one-shot (bench/serve.ts): make bench-serve [CLIENTS=8 REQUESTS=20000 RATE=500]
.PHONY: bench-serve soak-serve
bench-serve: $(BINS)
	$(NODE) bench/serve.ts --clients $(or $(CLIENTS),8) --requests $(or $(REQUESTS),20000) --rate $(or $(RATE),500)

# The daemon with 50 targets under 200 requests/s and a failover every 30 s for MINUTES minutes:
# RSS and open fds at start, each minute and end. Not part of make test, not run in CI.
#   make soak-serve MINUTES=10
soak-serve: $(BINS)
	$(NODE) bench/serve.ts --soak $(or $(MINUTES),10)

deps:
	build/install-deps.sh

# A Node.js security release: move the pin (build/toolchain.env, integrity strings from the npm
# registry, a CHANGELOG line), then fetch it and rebuild the binaries and the packages.
#   make bump-node TO=24.22.0
bump-node:
	@test -n "$(TO)" || { echo 'usage: make bump-node TO=24.x.y' >&2; exit 2; }
	build/bump-node.sh $(TO)
	$(MAKE) --no-print-directory all packages

# The README's two set-up commands in a debootstrapped Debian 12 with nothing preinstalled
# (build/test-fresh.sh). Needs root and the network; the better part of an hour; not part of
# `make test`, not run in CI.
test-fresh:
	build/test-fresh.sh

clean:
	rm -rf dist

# also the fetched Node.js binaries and npm packages
distclean: clean
	rm -rf .cache node_modules

# Real SQL Server 2022 in Docker (a mirrored pair, an availability group): the scenarios of
# test/scenarios/cases.ts and test/docker/scenarios.ts with the built binary. Needs a local Docker
# engine on Linux x86_64; not part of `make test`, not run in CI (test/docker.test.ts runs its
# static checks and a fake docker). The runner's exit status 2 means "passed what this engine
# supports; the rest skipped, not supported here". See test/docker/README.md.
#   make test-docker TEST_DOCKER_ARGS='--only ag --keep'
.PHONY: test-docker
test-docker:
	@test/docker/engine-check.sh
	@$(MAKE) --no-print-directory all
	$(NODE) test/docker/run.ts $(TEST_DOCKER_ARGS)

# Seeded fuzzing of the simulator's replies against the built check (a few run in make test):
#   make fuzz CASES=2000 SEED=7
.PHONY: fuzz
fuzz: all
	$(NODE) test/fuzz/run.ts --cases $(or $(CASES),500) --seed $(or $(SEED),1)
