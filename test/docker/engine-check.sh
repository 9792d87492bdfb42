#!/usr/bin/env bash
# First step of `make test-docker`: a Docker engine and compose must be reachable. When not, say so
# in one line and exit 1 (nothing is built or started).
docker=${DOCKER:-docker}
say() { echo "test-docker: $*; the SQL Server 2022 scenarios need one (see test/docker/README.md)" >&2; exit 1; }
command -v "$docker" >/dev/null 2>&1 || say "no Docker engine reachable: no '$docker' command"
timeout 30 "$docker" info >/dev/null 2>&1 ||
  say "no Docker engine reachable ('$docker info' failed${DOCKER_HOST:+ for DOCKER_HOST=$DOCKER_HOST})"
timeout 30 "$docker" compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 ||
  say "Docker engine found, but neither '$docker compose' nor docker-compose"
exit 0
