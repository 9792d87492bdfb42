#!/usr/bin/env bash
# Manual failover of the mirrored database: on the principal, once the session is SYNCHRONIZED,
# ALTER DATABASE ... SET PARTNER FAILOVER (Microsoft: "Manually fail over a database mirroring
# session (Transact-SQL)"). Waits until the roles have swapped and the session is SYNCHRONIZED
# again, then prints the new principal's host name.
# Usage (inside the mirroring-setup service): mirror-failover.sh [DATABASE] [HOST HOST]
. "$(dirname "$0")/lib.sh"
DB=${1:-appdb} H1=${2:-sqla} H2=${3:-sqlb}
[[ $DB =~ ^[A-Za-z0-9_]+$ ]] || die "database name must be a plain identifier: $DB"

state="SELECT mirroring_role_desc + '|' + mirroring_state_desc FROM sys.database_mirroring WHERE database_id = DB_ID('$DB')"
role_of() { q "$1" "SELECT mirroring_role_desc FROM sys.database_mirroring WHERE database_id = DB_ID('$DB')" | tr -d '\r '; }

if [ "$(role_of $H1)" = PRINCIPAL ]; then P=$H1 M=$H2
elif [ "$(role_of $H2)" = PRINCIPAL ]; then P=$H2 M=$H1
else die "neither $H1 nor $H2 is PRINCIPAL for $DB"; fi

wait_until $P "$state" "PRINCIPAL|SYNCHRONIZED" 120
log "$P: ALTER DATABASE [$DB] SET PARTNER FAILOVER"
run $P "ALTER DATABASE [$DB] SET PARTNER FAILOVER;"
wait_until $M "$state" "PRINCIPAL|SYNCHRONIZED" 120
wait_until $P "$state" "MIRROR|SYNCHRONIZED" 120
log "failed over: $M is PRINCIPAL, $P is MIRROR"
echo "$M"
