# shellcheck shell=bash
# Shared by the scripts in this folder. They run inside a container of the SQL Server image (the
# *-setup services of ../compose.yaml), next to the servers on the compose network, and use the
# image's own sqlcmd. Passwords come from the environment (the env file test/docker/run.ts writes)
# and reach sqlcmd through SQLCMDPASSWORD or its standard input, never through an argv.
set -euo pipefail

: "${MSSQL_SA_PASSWORD:?MSSQL_SA_PASSWORD is not set (the env file is missing)}"

SQLCMD=
for c in /opt/mssql-tools18/bin/sqlcmd /opt/mssql-tools/bin/sqlcmd; do
  if [ -x "$c" ]; then SQLCMD=$c; break; fi
done
[ -n "$SQLCMD" ] || { echo "no sqlcmd in this image" >&2; exit 1; }

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
die() { echo "ERROR: $*" >&2; exit 1; }

# sql HOST: run the T-SQL read from stdin on HOST as sa; result rows on stdout (no headers,
# trimmed, | between columns); any SQL error makes it fail (-b).
sql() {
  local host=$1 f
  f=$(mktemp)
  cat > "$f"
  SQLCMDPASSWORD=$MSSQL_SA_PASSWORD "$SQLCMD" -S "$host" -U sa -C -b -l 10 -t 300 \
    -h -1 -W -s '|' -i "$f" || { local rc=$?; rm -f "$f"; return $rc; }
  rm -f "$f"
}

# q HOST QUERY: one query (no secrets in QUERY), the rows on stdout.
q() { printf 'SET NOCOUNT ON;\n%s\n' "$2" | sql "$1"; }

# wait_for_server HOST [SECONDS]: until HOST accepts a login and answers a query.
wait_for_server() {
  local host=$1 limit=${2:-240} start=$SECONDS
  until q "$host" "SELECT 1" >/dev/null 2>&1; do
    [ $((SECONDS - start)) -lt "$limit" ] || die "$host did not answer within ${limit}s"
    sleep 3
  done
  log "$host answers"
}

# wait_until HOST QUERY EXPECTED [SECONDS]: until the query's output equals EXPECTED.
wait_until() {
  local host=$1 query=$2 want=$3 limit=${4:-120} start=$SECONDS got=
  while :; do
    got=$(q "$host" "$query" 2>/dev/null | tr -d '\r' | sed '/^$/d' | paste -sd ' ' -) || got=
    [ "$got" = "$want" ] && return 0
    [ $((SECONDS - start)) -lt "$limit" ] || die "$host: waited ${limit}s for [$want], last answer [$got] to: $query"
    sleep 2
  done
}

# create_logins HOST: the logins of sqlsim's scenarios. monitor: what an operator gives the check,
# not sysadmin (VIEW SERVER STATE, VIEW ANY DATABASE); monitor_full: also VIEW ANY DEFINITION
# (without it sys.availability_groups and sys.availability_replicas show no rows); sa is sysadmin.
create_logins() {
  : "${MONITOR_PASSWORD:?}" "${MONITOR_FULL_PASSWORD:?}"
  log "$1: logins monitor and monitor_full"
  sql "$1" <<SQL
IF SUSER_ID(N'monitor') IS NULL
  CREATE LOGIN [monitor] WITH PASSWORD = N'$MONITOR_PASSWORD', CHECK_POLICY = ON;
GRANT VIEW SERVER STATE TO [monitor];
GRANT VIEW ANY DATABASE TO [monitor];
IF SUSER_ID(N'monitor_full') IS NULL
  CREATE LOGIN [monitor_full] WITH PASSWORD = N'$MONITOR_FULL_PASSWORD', CHECK_POLICY = ON;
GRANT VIEW SERVER STATE TO [monitor_full];
GRANT VIEW ANY DATABASE TO [monitor_full];
GRANT VIEW ANY DEFINITION TO [monitor_full];
SQL
}
