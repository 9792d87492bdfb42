# mssql-role-check — build, test, demo. `make` builds both binaries; `make test` runs every test.
include build/toolchain.env

NODE_X64 := .cache/node/node-v$(NODE_VERSION)-linux-x64/bin/node
NODE_ARM64 := .cache/node/node-v$(NODE_VERSION)-linux-arm64/bin/node
NODE := $(NODE_X64)
SRC := $(shell find src -name '*.ts') package.json tsconfig.json
BINS := dist/mssql-role-check-linux-x64 dist/mssql-role-check-linux-arm64
# node expands the quoted glob itself; a subset: make test TESTS='test/build.test.ts'
TESTS ?= 'test/**/*.test.ts'

.PHONY: all build test demo deps clean distclean toolchain
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

dist/typecheck.ok: $(SRC) $(shell find test build -name '*.ts' -o -name '*.mjs') node_modules/.package-lock.json $(NODE_X64).ok
	$(NODE) node_modules/typescript/bin/tsc -p tsconfig.json
	@mkdir -p dist && touch $@

dist/mssql-role-check.cjs: $(SRC) build/bundle.mjs build/levers.mjs $(wildcard build/shims/*) node_modules/.package-lock.json $(NODE_X64).ok
	$(NODE) build/bundle.mjs $@

$(BINS) &: dist/mssql-role-check.cjs build/pack.sh build/sea-pack.mjs $(NODE_X64).ok $(NODE_ARM64).ok
	build/pack.sh dist/mssql-role-check.cjs dist/mssql-role-check

dist/SHA256SUMS: $(BINS)
	cd dist && sha256sum $(notdir $(BINS)) > SHA256SUMS

test: all
	$(NODE) --test --test-concurrency=2 $(TESTS)

# The simulator answering FreeTDS tsql: a mirrored pair on loopback, asked, failed over, asked again.
demo: node_modules/.package-lock.json $(NODE_X64).ok
	$(NODE) test/sqlsim/demo.ts

# What one check costs next to a packed hello world, FreeTDS tsql and Python (bench/run.ts);
# N runs of each: make bench N=50
N ?= 20
.PHONY: bench
bench: $(BINS)
	$(NODE) bench/run.ts --runs $(N)

deps:
	build/install-deps.sh

clean:
	rm -rf dist

# also the fetched Node.js binaries and npm packages
distclean: clean
	rm -rf .cache node_modules

# Real SQL Server 2022 in Docker (a mirrored pair, an availability group): the scenarios of
# test/scenarios/cases.ts with the built binary. Needs a Docker engine; not part of `make test`,
# not run in CI. See test/docker/README.md.
.PHONY: test-docker
test-docker:
	@test/docker/engine-check.sh
	@$(MAKE) --no-print-directory all
	$(NODE) test/docker/run.ts

# Seeded fuzzing of the simulator's replies against the built check (a few run in make test):
#   make fuzz CASES=2000 SEED=7
.PHONY: fuzz
fuzz: all
	$(NODE) test/fuzz/run.ts --cases $(or $(CASES),500) --seed $(or $(SEED),1)
