#!/usr/bin/env bash
# Suspend or resume data movement of an availability database on one server, and wait until that
# server's own row of sys.dm_hadr_database_replica_states shows it (is_suspended 1 or 0).
# "If you suspend a secondary database on a secondary replica, only the local secondary database
# is suspended"; SUSPEND and RESUME return once accepted and take effect asynchronously (Microsoft
# Learn, "ALTER DATABASE SET HADR"), so the script waits, and retries RESUME (lib.sh).
# Usage (inside the ag-setup service): hadr-data-movement.sh HOST DATABASE SUSPEND|RESUME
. "$(dirname "$0")/lib.sh"
[ $# -eq 3 ] || die "usage: hadr-data-movement.sh HOST DATABASE SUSPEND|RESUME"
H=$1 DB=$2 OP=$3
[[ $DB =~ ^[A-Za-z0-9_]+$ ]] || die "database name must be a plain identifier: $DB"
case $OP in
  SUSPEND)
    run "$H" "ALTER DATABASE [$DB] SET HADR SUSPEND;"
    poll "$H" "SELECT CONVERT(varchar(1), is_suspended) FROM sys.dm_hadr_database_replica_states WHERE is_local = 1 AND database_id = DB_ID('$DB')" 1 60 ||
      die "$H: $DB not suspended after 60s; local row (is_suspended|synchronization_state|suspend_reason|database_state): [$(q "$H" "$(local_row "$DB")" 2>&1 | paste -sd ' ' -)]"
    log "$H: data movement of $DB suspended ($(q "$H" "$(local_row "$DB")" | paste -sd ' ' -))" ;;
  RESUME) resume_data_movement "$H" "$DB" "${RESUME_WAIT_SECONDS:-120}" ;;
  *) die "operation must be SUSPEND or RESUME: $OP" ;;
esac
