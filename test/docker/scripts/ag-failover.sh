#!/usr/bin/env bash
# Manual failover without data loss of an availability group with CLUSTER_TYPE = NONE, as
# Microsoft documents it ("Configure a SQL Server availability group for read-scale on Linux",
# Fail over the primary replica on a read-scale availability group, Manual failover without data
# loss):
#   1. make the current primary and the target secondary SYNCHRONOUS_COMMIT
#   2. wait until the target's databases are SYNCHRONIZED
#   3. SET (REQUIRED_SYNCHRONIZED_SECONDARIES_TO_COMMIT = 1)
#   4. take the AG OFFLINE on the primary
#   5. promote the target: FORCE_FAILOVER_ALLOW_DATA_LOSS
#   6. demote the old primary: SET (ROLE = SECONDARY)
#   7. resume data movement: ALTER DATABASE ... SET HADR RESUME
# Each role change is waited for (the local replica's role_desc) before the next step, and step 7
# is retried until each server's own row shows is_suspended = 0 (resume_data_movement in lib.sh),
# within RESUME_WAIT_SECONDS (default 120), the state printed on timeout. Then waits until the old
# primary is a SYNCHRONIZED secondary, and prints the new primary's host.
# Usage (inside the ag-setup service): ag-failover.sh [AG] [DATABASE] [HOST HOST]
. "$(dirname "$0")/lib.sh"
AG=${1:-ag1} DB=${2:-agdb} H1=${3:-sqlag1} H2=${4:-sqlag2}
RESUME_WAIT_SECONDS=${RESUME_WAIT_SECONDS:-120}
[[ $AG =~ ^[A-Za-z0-9_]+$ && $DB =~ ^[A-Za-z0-9_]+$ ]] || die "AG and database names must be plain identifiers"

local_role="SELECT role_desc FROM sys.dm_hadr_availability_replica_states WHERE is_local = 1"
role_of() { q "$1" "$local_role" | tr -d '\r '; }
if [ "$(role_of "$H1")" = PRIMARY ]; then P=$H1 S=$H2
elif [ "$(role_of "$H2")" = PRIMARY ]; then P=$H2 S=$H1
else die "neither $H1 nor $H2 holds the PRIMARY replica of $AG"; fi
Pname=$(q "$P" "SELECT @@SERVERNAME" | tr -d '\r ')
Sname=$(q "$S" "SELECT @@SERVERNAME" | tr -d '\r ')

log "1. $P: $Pname and $Sname SYNCHRONOUS_COMMIT"
sql "$P" >&2 <<SQL
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
wait_until "$P" "$(target_state "$Sname")" SYNCHRONIZED 180

log "3. $P: REQUIRED_SYNCHRONIZED_SECONDARIES_TO_COMMIT = 1"
run "$P" "ALTER AVAILABILITY GROUP [$AG] SET (REQUIRED_SYNCHRONIZED_SECONDARIES_TO_COMMIT = 1);"

log "4. $P: ALTER AVAILABILITY GROUP [$AG] OFFLINE"
run "$P" "ALTER AVAILABILITY GROUP [$AG] OFFLINE;"

log "5. $S: ALTER AVAILABILITY GROUP [$AG] FORCE_FAILOVER_ALLOW_DATA_LOSS"
run "$S" "ALTER AVAILABILITY GROUP [$AG] FORCE_FAILOVER_ALLOW_DATA_LOSS;"
wait_until "$S" "$local_role" PRIMARY 60

log "6. $P: ALTER AVAILABILITY GROUP [$AG] SET (ROLE = SECONDARY)"
run "$P" "ALTER AVAILABILITY GROUP [$AG] SET (ROLE = SECONDARY);"
wait_until "$P" "$local_role" SECONDARY 60

# The doc resumes on the new primary; a forced failover also suspends the secondary copies
# (suspend_reason SUSPEND_FROM_PARTNER, "sys.dm_hadr_database_replica_states"), so the old
# primary's copy is resumed as well, each until its own row runs.
log "7. $S and $P: ALTER DATABASE [$DB] SET HADR RESUME"
resume_data_movement "$S" "$DB" "$RESUME_WAIT_SECONDS"
resume_data_movement "$P" "$DB" "$RESUME_WAIT_SECONDS"

wait_until "$S" "$(target_state "$Pname")" SYNCHRONIZED 180
log "failed over: $S is PRIMARY, $P is a SYNCHRONIZED SECONDARY"
echo "$S"
