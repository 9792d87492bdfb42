#!/usr/bin/env bash
# Take a database offline or bring it back online, or make it read-only or read-write, and wait
# until sys.databases says so (Microsoft Learn, "ALTER DATABASE SET options": OFFLINE | ONLINE,
# READ_ONLY | READ_WRITE, WITH ROLLBACK IMMEDIATE).
# Usage (inside a *-setup service): db-state.sh HOST DATABASE OFFLINE|ONLINE|READ_ONLY|READ_WRITE
. "$(dirname "$0")/lib.sh"
[ $# -eq 3 ] || die "usage: db-state.sh HOST DATABASE OFFLINE|ONLINE|READ_ONLY|READ_WRITE"
H=$1 DB=$2 STATE=$3
[[ $DB =~ ^[A-Za-z0-9_]+$ ]] || die "database name must be a plain identifier: $DB"
state="SELECT state_desc FROM sys.databases WHERE name = N'$DB'"
read_only="SELECT state_desc + '|' + CONVERT(varchar(1), is_read_only) FROM sys.databases WHERE name = N'$DB'"
case $STATE in
  OFFLINE) run "$H" "ALTER DATABASE [$DB] SET OFFLINE WITH ROLLBACK IMMEDIATE;"; wait_until "$H" "$state" OFFLINE 60 ;;
  ONLINE) run "$H" "ALTER DATABASE [$DB] SET ONLINE;"; wait_until "$H" "$state" ONLINE 60 ;;
  READ_ONLY) run "$H" "ALTER DATABASE [$DB] SET READ_ONLY WITH ROLLBACK IMMEDIATE;"; wait_until "$H" "$read_only" "ONLINE|1" 60 ;;
  READ_WRITE) run "$H" "ALTER DATABASE [$DB] SET READ_WRITE WITH ROLLBACK IMMEDIATE;"; wait_until "$H" "$read_only" "ONLINE|0" 60 ;;
  *) die "state must be OFFLINE, ONLINE, READ_ONLY or READ_WRITE: $STATE" ;;
esac
log "$H: $DB is $STATE"
