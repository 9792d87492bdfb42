#!/usr/bin/env bash
# Take a database offline or bring it back online, and wait until sys.databases says so.
# Usage (inside a *-setup service): db-state.sh HOST DATABASE OFFLINE|ONLINE
. "$(dirname "$0")/lib.sh"
[ $# -eq 3 ] || die "usage: db-state.sh HOST DATABASE OFFLINE|ONLINE"
H=$1 DB=$2 STATE=$3
[[ $DB =~ ^[A-Za-z0-9_]+$ ]] || die "database name must be a plain identifier: $DB"
case $STATE in
  OFFLINE) q $H "ALTER DATABASE [$DB] SET OFFLINE WITH ROLLBACK IMMEDIATE;" >/dev/null ;;
  ONLINE) q $H "ALTER DATABASE [$DB] SET ONLINE;" >/dev/null ;;
  *) die "state must be OFFLINE or ONLINE: $STATE" ;;
esac
wait_until $H "SELECT state_desc FROM sys.databases WHERE name = N'$DB'" "$STATE" 60
log "$H: $DB is $STATE"
