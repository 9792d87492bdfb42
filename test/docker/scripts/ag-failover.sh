#!/usr/bin/env bash
# Manual failover without data loss of an availability group with CLUSTER_TYPE = NONE, as
# Microsoft documents it ("Fail over the primary replica on a read-scale availability group"):
#   1. make the current primary and the target secondary SYNCHRONOUS_COMMIT
#   2. wait until the target's databases are SYNCHRONIZED
#   3. SET (REQUIRED_SYNCHRONIZED_SECONDARIES_TO_COMMIT = 1)
#   4. take the AG OFFLINE on the primary
#   5. promote the target: FORCE_FAILOVER_ALLOW_DATA_LOSS
#   6. demote the old primary: SET (ROLE = SECONDARY)
#   7. resume data movement: ALTER DATABASE ... SET HADR RESUME
# Then waits until the old primary is a SYNCHRONIZED secondary, and prints the new primary's host.
# Usage (inside the ag-setup service): ag-failover.sh [AG] [DATABASE] [HOST HOST]
. "$(dirname "$0")/lib.sh"
AG=${1:-ag1} DB=${2:-agdb} H1=${3:-sqlag1} H2=${4:-sqlag2}
[[ $AG =~ ^[A-Za-z0-9_]+$ && $DB =~ ^[A-Za-z0-9_]+$ ]] || die "AG and database names must be plain identifiers"

role_of() { q "$1" "SELECT role_desc FROM sys.dm_hadr_availability_replica_states WHERE is_local = 1" | tr -d '\r '; }
if [ "$(role_of $H1)" = PRIMARY ]; then P=$H1 S=$H2
elif [ "$(role_of $H2)" = PRIMARY ]; then P=$H2 S=$H1
else die "neither $H1 nor $H2 holds the PRIMARY replica of $AG"; fi
Pname=$(q $P "SELECT @@SERVERNAME" | tr -d '\r ')
Sname=$(q $S "SELECT @@SERVERNAME" | tr -d '\r ')

log "1. $P: $Pname and $Sname SYNCHRONOUS_COMMIT"
sql $P <<SQL
ALTER AVAILABILITY GROUP [$AG] MODIFY REPLICA ON N'$Pname' WITH (AVAILABILITY_MODE = SYNCHRONOUS_COMMIT);
ALTER AVAILABILITY GROUP [$AG] MODIFY REPLICA ON N'$Sname' WITH (AVAILABILITY_MODE = SYNCHRONOUS_COMMIT);
SQL

log "2. $P: wait until $Sname's copy of $DB is SYNCHRONIZED"
target_state() { # the state, as HOST sees it, of the database copy on replica NAME
  echo "SELECT drs.synchronization_state_desc
    FROM sys.dm_hadr_database_replica_states drs
    JOIN sys.availability_replicas ar ON ar.replica_id = drs.replica_id
    JOIN sys.availability_groups ag ON ag.group_id = drs.group_id
    WHERE ag.name = N'$AG' AND ar.replica_server_name = N'$1' AND drs.database_id = DB_ID('$DB')"
}
wait_until $P "$(target_state "$Sname")" SYNCHRONIZED 180

log "3. $P: REQUIRED_SYNCHRONIZED_SECONDARIES_TO_COMMIT = 1"
q $P "ALTER AVAILABILITY GROUP [$AG] SET (REQUIRED_SYNCHRONIZED_SECONDARIES_TO_COMMIT = 1);" >/dev/null

log "4. $P: ALTER AVAILABILITY GROUP [$AG] OFFLINE"
q $P "ALTER AVAILABILITY GROUP [$AG] OFFLINE;" >/dev/null

log "5. $S: ALTER AVAILABILITY GROUP [$AG] FORCE_FAILOVER_ALLOW_DATA_LOSS"
q $S "ALTER AVAILABILITY GROUP [$AG] FORCE_FAILOVER_ALLOW_DATA_LOSS;" >/dev/null

log "6. $P: ALTER AVAILABILITY GROUP [$AG] SET (ROLE = SECONDARY)"
q $P "ALTER AVAILABILITY GROUP [$AG] SET (ROLE = SECONDARY);" >/dev/null

# The doc resumes on the new primary; a forced failover suspends the secondary databases too, and
# a database that is not suspended just reports so, which is not a failure here.
log "7. $S and $P: ALTER DATABASE [$DB] SET HADR RESUME"
for h in $S $P; do
  q $h "BEGIN TRY ALTER DATABASE [$DB] SET HADR RESUME; END TRY BEGIN CATCH PRINT ERROR_MESSAGE(); END CATCH;" >&2
done

wait_until $S "SELECT role_desc FROM sys.dm_hadr_availability_replica_states WHERE is_local = 1" PRIMARY 60
wait_until $P "SELECT role_desc FROM sys.dm_hadr_availability_replica_states WHERE is_local = 1" SECONDARY 60
wait_until $S "$(target_state "$Pname")" SYNCHRONIZED 180
log "failed over: $S is PRIMARY, $P is a SYNCHRONIZED SECONDARY"
echo "$S"
