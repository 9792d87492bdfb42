#!/usr/bin/env bash
# Wait until an availability group with CLUSTER_TYPE = NONE is whole again (after a container of
# it was stopped and started): one server's local replica is PRIMARY, the other's SECONDARY, and
# the secondary's copy of the database runs (resumed if need be) and is SYNCHRONIZED. A restarted
# replica keeps the role it had ("if the original primary replica recovers ... it will assume the
# primary role": Microsoft Learn, "Configure a SQL Server availability group for read-scale on
# Linux"), so nothing is failed over here. Prints the primary's host.
# Usage (inside the ag-setup service): ag-wait.sh [DATABASE] [HOST HOST] [SECONDS]
. "$(dirname "$0")/lib.sh"
DB=${1:-agdb} H1=${2:-sqlag1} H2=${3:-sqlag2} LIMIT=${4:-240}
[[ $DB =~ ^[A-Za-z0-9_]+$ ]] || die "database name must be a plain identifier: $DB"
wait_for_server "$H1" "$LIMIT"
wait_for_server "$H2" "$LIMIT"
local_role="SELECT role_desc FROM sys.dm_hadr_availability_replica_states WHERE is_local = 1"
start=$SECONDS
while :; do
  r1=$(q "$H1" "$local_role" 2> "$WORK/r1.err" | tr -d '\r ') || r1=
  r2=$(q "$H2" "$local_role" 2> "$WORK/r2.err" | tr -d '\r ') || r2=
  if [ "$r1|$r2" = "PRIMARY|SECONDARY" ]; then P=$H1 S=$H2; break; fi
  if [ "$r1|$r2" = "SECONDARY|PRIMARY" ]; then P=$H2 S=$H1; break; fi
  [ $((SECONDS - start)) -lt "$LIMIT" ] || die "no PRIMARY and SECONDARY after ${LIMIT}s: $H1 [$r1] $(msgs "$(cat "$WORK/r1.err")"), $H2 [$r2] $(msgs "$(cat "$WORK/r2.err")")"
  sleep "$POLL_SECONDS"
done
resume_data_movement "$S" "$DB" "$LIMIT"
both="SELECT ars.role_desc + '|' + drs.synchronization_state_desc
  FROM sys.dm_hadr_database_replica_states drs
  JOIN sys.dm_hadr_availability_replica_states ars ON ars.replica_id = drs.replica_id
  WHERE drs.is_local = 1 AND drs.database_id = DB_ID('$DB')"
wait_until "$S" "$both" "SECONDARY|SYNCHRONIZED" "$LIMIT"
wait_until "$P" "$both" "PRIMARY|SYNCHRONIZED" 60
log "availability group whole again: $P PRIMARY, $S SYNCHRONIZED SECONDARY for $DB"
echo "$P"
