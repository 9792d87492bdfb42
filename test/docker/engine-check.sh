#!/usr/bin/env bash
# First step of `make test-docker`: everything the SQL Server 2022 scenarios need from this host
# and its Docker engine. When something is missing, say exactly what, all of it, in one line
# and exit 1 (nothing is built or started). Runs on Linux and macOS (no timeout(1) there: run_limited below).
#   - a docker client, and an engine that answers it
#   - a Linux engine that runs linux/amd64 images natively (the image is amd64 only): an arm64
#     engine (Apple Silicon) runs it only under Rosetta, and QEMU crashes it
#   - a local engine: the servers' ports are published on the engine host's 127.0.0.1, where the
#     runner connects; a remote DOCKER_HOST or context has them on another machine
#   - docker compose v2, or docker-compose 1.29 or later (profiles: 1.28; depends_on
#     condition service_completed_successfully: 1.29)
#   - this host Linux x86_64: the runner runs the pinned linux-x64 Node and dist/mssql-role-check-linux-x64
docker=${DOCKER:-docker}
say() { echo "test-docker: $* (see test/docker/README.md)" >&2; exit 1; }

# run_limited OUT CMD...: CMD with stdout+stderr to OUT, killed after ENGINE_CHECK_SECONDS
# (default 30); status 124 then, as timeout(1) says.
LIMIT=${ENGINE_CHECK_SECONDS:-30}
run_limited() {
  local out=$1 pid rc=0 ticks=0
  shift
  "$@" > "$out" 2>&1 < /dev/null &
  pid=$!
  # polled, not a watcher subshell: a subshell killed early runs this script's EXIT trap (bash)
  while kill -0 "$pid" 2> /dev/null; do
    if [ "$ticks" -ge $((LIMIT * 10)) ]; then
      kill "$pid" 2> /dev/null
      wait "$pid" 2> /dev/null
      return 124
    fi
    sleep 0.1
    ticks=$((ticks + 1))
  done
  wait "$pid" || rc=$?
  return "$rc"
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
first_line() { sed -n '/./{p;q;}' "$out" | tr -d '\r'; }

command -v "$docker" > /dev/null 2>&1 || say "no Docker engine reachable: no '$docker' command"
rc=0
run_limited "$out" "$docker" version --format '{{.Server.Os}} {{.Server.Arch}}' || rc=$?
[ "$rc" -ne 124 ] ||
  say "no Docker engine reachable ('$docker version' did not answer within ${LIMIT}s${DOCKER_HOST:+ for DOCKER_HOST=$DOCKER_HOST})"
[ "$rc" -eq 0 ] ||
  say "no Docker engine reachable ('$docker version' failed${DOCKER_HOST:+ for DOCKER_HOST=$DOCKER_HOST}: $(first_line))"
read -r engine_os engine_arch < "$out" || true

# Past this point every missing thing is named, in one line.
missing=()
[ "$engine_os" = linux ] ||
  missing+=("the Docker engine runs ${engine_os:-an unknown OS} containers, and the SQL Server image needs a Linux engine (Docker Desktop: switch to Linux containers)")
case $engine_arch in
  amd64 | x86_64) ;;
  *) missing+=("the Docker engine is ${engine_arch:-of unknown architecture}, and the SQL Server image is linux/amd64 only: it runs there only under Rosetta (Docker Desktop: 'Use Rosetta for x86_64/amd64 emulation'), and QEMU emulation crashes it") ;;
esac

# Where the engine is: DOCKER_HOST, else the current context's endpoint.
endpoint=${DOCKER_HOST:-}
if [ -z "$endpoint" ] && run_limited "$out" "$docker" context inspect --format '{{.Endpoints.docker.Host}}'; then
  endpoint=$(first_line)
fi
case $endpoint in
  '' | unix://* | npipe://* | fd://* | tcp://localhost | tcp://localhost:* | tcp://127.0.0.1 | tcp://127.0.0.1:* | tcp://\[::1\]*) ;;
  *) missing+=("the Docker engine at $endpoint is not on this host: the servers' ports are published on the engine host's 127.0.0.1, which the runner cannot reach from here (run it on the engine's host)") ;;
esac

if run_limited "$out" "$docker" compose version; then
  :
elif command -v docker-compose > /dev/null 2>&1; then
  if run_limited "$out" docker-compose version --short; then
    v=$(first_line)
    IFS=. read -r major minor _ <<< "${v#v}"
    if ! { [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] && { [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 29 ]; }; }; }; then
      missing+=("docker-compose $v is too old: the harness needs docker compose v2 or docker-compose 1.29 or later")
    fi
  else
    missing+=("docker-compose does not run: $(first_line)")
  fi
else
  missing+=("the Docker engine answers, but there is neither '$docker compose' nor docker-compose")
fi

host="$(uname -s) $(uname -m)"
[ "$host" = "Linux x86_64" ] ||
  missing+=("this host is $host, and the runner runs the pinned linux-x64 Node and dist/mssql-role-check-linux-x64 here, so it needs Linux x86_64 (a Linux x86_64 machine or VM with its own engine)")

if [ ${#missing[@]} -gt 0 ]; then
  joined=$(printf '%s; ' "${missing[@]}")
  say "${joined%; }"
fi
exit 0
