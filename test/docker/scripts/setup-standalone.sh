#!/usr/bin/env bash
# One server, solo, with appdb in neither mirroring nor an availability group, and the logins the
# scenarios use. Safe to run again.
# Usage (inside the standalone-setup service): setup-standalone.sh
. "$(dirname "$0")/lib.sh"
: "${MONITOR_PASSWORD:?}"
H=solo DB=appdb

wait_for_server $H
log "$H: login monitor (VIEW SERVER STATE, VIEW ANY DATABASE), database $DB"
sql $H <<SQL
IF SUSER_ID(N'monitor') IS NULL
  CREATE LOGIN [monitor] WITH PASSWORD = N'$MONITOR_PASSWORD', CHECK_POLICY = ON;
GRANT VIEW SERVER STATE TO [monitor];
GRANT VIEW ANY DATABASE TO [monitor];
IF DB_ID(N'$DB') IS NULL CREATE DATABASE [$DB];
SQL
wait_until $H "SELECT state_desc FROM sys.databases WHERE name = N'$DB'" ONLINE 60
log "standalone ready: $DB on $H"
