# shellcheck shell=bash
# Shared by the scripts in this folder. They run inside a container of the SQL Server image (the
# *-setup services of ../compose.yaml), next to the servers on the compose network, and use the
# image's own sqlcmd. Passwords come from the environment (setup.env, which test/docker/run.ts
# writes) and reach sqlcmd through SQLCMDPASSWORD or a 0600 input file, never through an argv.
#
# sqlcmd runs with -b and -r1 (Microsoft Learn, "sqlcmd utility"): -b makes an error of severity
# 11 or more end sqlcmd with exit status 1; -r1 sends every error message (and PRINT) to stderr, so
# the server's "Msg N, Level L, State S, Server H, Line N" lines and its text are never lost in a
# stdout that a caller discards, and reach the runner's output on a failure.
#
# Knobs for test/docker.test.ts, whose fake docker runs these scripts against recorded sqlcmd
# outputs (the real setup services get only setup.env, so the defaults hold there):
#   MSSQL_SQLCMD   another sqlcmd than the image's
#   POLL_SECONDS   pause between two polls of a wait (default 2)
#   SYNC_WAIT_SECONDS, RESUME_WAIT_SECONDS: see setup-mirroring.sh and ag-failover.sh
set -Eeuo pipefail
# A command that fails outside a test ends the script (set -e); say which, once (not again from
# inside a command substitution), after the server's messages that sqlcmd wrote to stderr.
trap 'rc=$?; [ "$BASH_SUBSHELL" -gt 0 ] || echo "ERROR: $(basename "$0"), line $LINENO: $BASH_COMMAND (exit $rc)" >&2' ERR

: "${MSSQL_SA_PASSWORD:?MSSQL_SA_PASSWORD is not set (the env file is missing)}"

SQLCMD=${MSSQL_SQLCMD:-}
if [ -z "$SQLCMD" ]; then
  for c in /opt/mssql-tools18/bin/sqlcmd /opt/mssql-tools/bin/sqlcmd; do
    if [ -x "$c" ]; then SQLCMD=$c; break; fi
  done
fi
[ -n "$SQLCMD" ] || { echo "ERROR: no sqlcmd in this image" >&2; exit 1; }
POLL_SECONDS=${POLL_SECONDS:-2}

# Exit status of a script when the engine refuses a feature in its own words (mirroring on Linux):
# the runner reports that part's scenarios as skipped, "not supported here", with those words.
export NOT_SUPPORTED=3

# T-SQL (which may hold passwords) goes to sqlcmd through files in a private 0700 folder that is
# removed when the script ends, also on a signal or a killed sqlcmd.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
die() { echo "ERROR: $*" >&2; exit 1; }

# sql HOST: run the T-SQL read from stdin on HOST as sa; result rows on stdout (no headers,
# trimmed, | between columns); server messages on stderr; any error of severity 11+ makes it fail.
sql() {
  local host=$1 f rc=0
  f=$(mktemp "$WORK/batch.XXXXXX")
  cat > "$f"
  SQLCMDPASSWORD=$MSSQL_SA_PASSWORD "$SQLCMD" -S "$host" -U sa -C -b -r1 -l 10 -t 300 \
    -h -1 -W -s '|' -i "$f" || rc=$?
  rm -f "$f"
  return "$rc"
}

# q HOST QUERY: one query (no secrets in QUERY), the rows on stdout.
q() { printf 'SET NOCOUNT ON;\n%s\n' "$2" | sql "$1"; }

# run HOST STATEMENT: a statement whose output is only worth logging (stdout to stderr).
run() { q "$1" "$2" >&2; }

# attempt HOST STATEMENT: like run, but the server's messages go to $ATTEMPT_ERR for the caller
# to judge and report; returns sqlcmd's status.
ATTEMPT_ERR=
attempt() {
  local rc=0
  q "$1" "$2" >&2 2> "$WORK/attempt.err" || rc=$?
  ATTEMPT_ERR=$(cat "$WORK/attempt.err")
  return "$rc"
}

# msgs TEXT: the server's messages in TEXT on one line (a "Msg N, ..." line joined to its text).
msgs() { sed '/^$/d' <<< "$1" | paste -sd ' ' -; }

# wait_for_server HOST [SECONDS]: until HOST accepts a login and answers a query.
wait_for_server() {
  local host=$1 limit=${2:-240} start=$SECONDS
  until q "$host" "SELECT 1" > /dev/null 2> "$WORK/wait.err"; do
    [ $((SECONDS - start)) -lt "$limit" ] || die "$host did not answer within ${limit}s: $(msgs "$(cat "$WORK/wait.err")")"
    sleep "$POLL_SECONDS"
  done
  log "$host answers"
}

# poll HOST QUERY EXPECTED SECONDS: until the query's output (lines joined by spaces) equals
# EXPECTED; returns 1 on timeout with the last answer in $POLL_GOT and the last error in $POLL_ERR.
POLL_GOT=''
POLL_ERR=''
poll() {
  local host=$1 query=$2 want=$3 limit=$4 start=$SECONDS
  while :; do
    POLL_ERR=
    POLL_GOT=$(q "$host" "$query" 2> "$WORK/poll.err" | tr -d '\r' | sed '/^$/d' | paste -sd ' ' -) || POLL_GOT=
    POLL_ERR=$(msgs "$(cat "$WORK/poll.err")")
    [ "$POLL_GOT" = "$want" ] && return 0
    [ $((SECONDS - start)) -lt "$limit" ] || return 1
    sleep "$POLL_SECONDS"
  done
}

# wait_until HOST QUERY EXPECTED [SECONDS]: poll, and fail with what was seen on timeout.
wait_until() {
  poll "$1" "$2" "$3" "${4:-120}" ||
    die "$1: waited ${4:-120}s for [$3], last answer [$POLL_GOT]${POLL_ERR:+, last error: $POLL_ERR}, to: $(tr -s ' \n' ' ' <<< "$2")"
}

# The local row of an availability database (sys.dm_hadr_database_replica_states, is_local = 1):
# is_suspended|synchronization_state_desc|suspend_reason_desc|database_state_desc.
local_row() {
  echo "SELECT CONVERT(varchar(1), drs.is_suspended) + '|' + drs.synchronization_state_desc + '|'
      + ISNULL(drs.suspend_reason_desc, 'NULL') + '|' + ISNULL(drs.database_state_desc, 'NULL')
    FROM sys.dm_hadr_database_replica_states drs
    WHERE drs.is_local = 1 AND drs.database_id = DB_ID('$1')"
}

# resume_data_movement HOST DATABASE [SECONDS]: ALTER DATABASE ... SET HADR RESUME until HOST's own
# row shows is_suspended = 0. RESUME "returns as soon as it has been accepted ... but actually
# resuming the database occurs asynchronously", and right after a role change the database may not
# have started yet (Msg 35239) (Microsoft Learn, "ALTER DATABASE SET HADR"; "Database Engine events
# and errors (31000 to 41399)"), so a refused or not yet effective RESUME is tried again, within a
# bound, and the state is printed on timeout.
resume_data_movement() {
  local host=$1 db=$2 limit=${3:-120} start=$SECONDS tries=0 state=
  while :; do
    tries=$((tries + 1))
    if attempt "$host" "ALTER DATABASE [$db] SET HADR RESUME;"; then
      log "$host: RESUME of $db accepted (try $tries)"
    else
      log "$host: RESUME of $db not accepted (try $tries): $(msgs "$ATTEMPT_ERR")"
    fi
    state=$(q "$host" "$(local_row "$db")" 2> "$WORK/row.err" | tr -d '\r' | sed '/^$/d' | paste -sd ' ' -) || state=
    if [ "${state%%|*}" = 0 ]; then
      log "$host: data movement of $db runs ($state)"
      return 0
    fi
    [ $((SECONDS - start)) -lt "$limit" ] ||
      die "$host: data movement of $db still suspended after ${limit}s and $tries RESUME tries;" \
        "local row (is_suspended|synchronization_state|suspend_reason|database_state): [$state]${ATTEMPT_ERR:+; last RESUME error: $(msgs "$ATTEMPT_ERR")}$( [ -s "$WORK/row.err" ] && echo "; $(msgs "$(cat "$WORK/row.err")")")"
    sleep "$POLL_SECONDS"
  done
}

# create_logins HOST: the logins of sqlsim's scenarios. monitor: what an operator gives the check,
# not sysadmin (VIEW SERVER STATE, VIEW ANY DATABASE); monitor_full: also VIEW ANY DEFINITION
# (without it sys.availability_groups and sys.availability_replicas show no rows); monitor_nostate:
# no VIEW SERVER STATE, on which a real server answers the sys.dm_hadr_* views with Msg 300/297
# (2022: VIEW SERVER PERFORMANCE STATE; Microsoft Learn, "sys.dm_hadr_database_replica_states",
# Permissions); sa is sysadmin.
create_logins() {
  : "${MONITOR_PASSWORD:?}" "${MONITOR_FULL_PASSWORD:?}" "${MONITOR_NOSTATE_PASSWORD:?}"
  log "$1: logins monitor, monitor_full and monitor_nostate"
  sql "$1" >&2 <<SQL
IF SUSER_ID(N'monitor') IS NULL
  CREATE LOGIN [monitor] WITH PASSWORD = N'$MONITOR_PASSWORD', CHECK_POLICY = ON;
GRANT VIEW SERVER STATE TO [monitor];
GRANT VIEW ANY DATABASE TO [monitor];
IF SUSER_ID(N'monitor_full') IS NULL
  CREATE LOGIN [monitor_full] WITH PASSWORD = N'$MONITOR_FULL_PASSWORD', CHECK_POLICY = ON;
GRANT VIEW SERVER STATE TO [monitor_full];
GRANT VIEW ANY DATABASE TO [monitor_full];
GRANT VIEW ANY DEFINITION TO [monitor_full];
IF SUSER_ID(N'monitor_nostate') IS NULL
  CREATE LOGIN [monitor_nostate] WITH PASSWORD = N'$MONITOR_NOSTATE_PASSWORD', CHECK_POLICY = ON;
GRANT VIEW ANY DATABASE TO [monitor_nostate];
SQL
}
