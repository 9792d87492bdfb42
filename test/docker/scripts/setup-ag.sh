#!/usr/bin/env bash
# An availability group, ag1, without a cluster manager (CLUSTER_TYPE = NONE) between sqlag1
# (primary) and sqlag2 (readable secondary, synchronous commit), holding agdb, with automatic seeding; plus the
# logins the scenarios use. Follows Microsoft's "Configure a SQL Server availability group for
# read-scale on Linux" and its prerequisites (one certificate shared by both endpoints). HADR is
# enabled by MSSQL_ENABLE_HADR=1 in compose.yaml. Safe to run again: it stops when the AG exists.
# Usage (inside the ag-setup service): setup-ag.sh
. "$(dirname "$0")/lib.sh"
: "${DBM_KEY_PASSWORD:?}"
P=sqlag1 S=sqlag2 AG=ag1 DB=agdb PORT=5022

wait_for_server $P
wait_for_server $S
for h in $P $S; do
  [ "$(q $h "SELECT CONVERT(int, SERVERPROPERTY('IsHadrEnabled'))" | tr -d '\r ')" = 1 ] ||
    die "$h: Always On availability groups are not enabled (MSSQL_ENABLE_HADR=1)"
done

for h in $P $S; do create_logins $h; done
if [ -n "$(q $P "SELECT name FROM sys.availability_groups WHERE name = N'$AG'" | tr -d '\r ')" ]; then
  log "availability group $AG already exists"
  exit 0
fi

# Replica names are the instances' @@SERVERNAME; endpoint URLs use the compose service names.
Pname=$(q $P "SELECT @@SERVERNAME" | tr -d '\r ')
Sname=$(q $S "SELECT @@SERVERNAME" | tr -d '\r ')
log "replicas: $Pname (on $P), $Sname (on $S)"

for h in $P $S; do
  log "$h: AlwaysOn_health at startup"
  run $h "ALTER EVENT SESSION AlwaysOn_health ON SERVER WITH (STARTUP_STATE = ON);"
done

rm -f /exchange/dbm_certificate.cer /exchange/dbm_certificate.pvk
log "$P: master key, dbm_certificate, backed up with its private key"
sql $P >&2 <<SQL
IF NOT EXISTS (SELECT * FROM sys.symmetric_keys WHERE name = N'##MS_DatabaseMasterKey##')
  CREATE MASTER KEY ENCRYPTION BY PASSWORD = N'$DBM_KEY_PASSWORD';
IF CERT_ID(N'dbm_certificate') IS NULL
  CREATE CERTIFICATE dbm_certificate WITH SUBJECT = N'dbm';
BACKUP CERTIFICATE dbm_certificate TO FILE = N'/exchange/dbm_certificate.cer'
  WITH PRIVATE KEY (FILE = N'/exchange/dbm_certificate.pvk', ENCRYPTION BY PASSWORD = N'$DBM_KEY_PASSWORD');
SQL

log "$S: master key, dbm_certificate from $P's backup"
sql $S >&2 <<SQL
IF NOT EXISTS (SELECT * FROM sys.symmetric_keys WHERE name = N'##MS_DatabaseMasterKey##')
  CREATE MASTER KEY ENCRYPTION BY PASSWORD = N'$DBM_KEY_PASSWORD';
IF CERT_ID(N'dbm_certificate') IS NULL
  CREATE CERTIFICATE dbm_certificate FROM FILE = N'/exchange/dbm_certificate.cer'
    WITH PRIVATE KEY (FILE = N'/exchange/dbm_certificate.pvk', DECRYPTION BY PASSWORD = N'$DBM_KEY_PASSWORD');
SQL

for h in $P $S; do
  log "$h: Hadr_endpoint on port $PORT"
  sql $h >&2 <<SQL
IF NOT EXISTS (SELECT * FROM sys.database_mirroring_endpoints)
  CREATE ENDPOINT [Hadr_endpoint] AS TCP (LISTENER_PORT = $PORT)
    FOR DATABASE_MIRRORING (ROLE = ALL, AUTHENTICATION = CERTIFICATE dbm_certificate, ENCRYPTION = REQUIRED ALGORITHM AES);
ALTER ENDPOINT [Hadr_endpoint] STATE = STARTED;
SQL
done

log "$P: CREATE AVAILABILITY GROUP $AG (CLUSTER_TYPE = NONE, synchronous commit, readable secondary)"
sql $P >&2 <<SQL
CREATE AVAILABILITY GROUP [$AG]
  WITH (CLUSTER_TYPE = NONE)
  FOR REPLICA ON
    N'$Pname' WITH (
      ENDPOINT_URL = N'tcp://$P:$PORT',
      AVAILABILITY_MODE = SYNCHRONOUS_COMMIT,
      FAILOVER_MODE = MANUAL,
      SEEDING_MODE = AUTOMATIC,
      SECONDARY_ROLE (ALLOW_CONNECTIONS = ALL)),
    N'$Sname' WITH (
      ENDPOINT_URL = N'tcp://$S:$PORT',
      AVAILABILITY_MODE = SYNCHRONOUS_COMMIT,
      FAILOVER_MODE = MANUAL,
      SEEDING_MODE = AUTOMATIC,
      SECONDARY_ROLE (ALLOW_CONNECTIONS = ALL));
ALTER AVAILABILITY GROUP [$AG] GRANT CREATE ANY DATABASE;
SQL

log "$S: JOIN $AG"
sql $S >&2 <<SQL
ALTER AVAILABILITY GROUP [$AG] JOIN WITH (CLUSTER_TYPE = NONE);
ALTER AVAILABILITY GROUP [$AG] GRANT CREATE ANY DATABASE;
SQL

log "$P: create $DB (FULL recovery, one full backup) and add it to $AG (automatic seeding)"
sql $P >&2 <<SQL
IF DB_ID(N'$DB') IS NULL CREATE DATABASE [$DB];
ALTER DATABASE [$DB] SET RECOVERY FULL;
BACKUP DATABASE [$DB] TO DISK = N'/var/opt/mssql/data/$DB.bak' WITH INIT, FORMAT;
ALTER AVAILABILITY GROUP [$AG] ADD DATABASE [$DB];
SQL

local_state="SELECT ars.role_desc + '|' + drs.synchronization_state_desc
  FROM sys.dm_hadr_database_replica_states drs
  JOIN sys.dm_hadr_availability_replica_states ars ON ars.replica_id = drs.replica_id
  WHERE drs.is_local = 1 AND drs.database_id = DB_ID('$DB')"
wait_until $S "$local_state" "SECONDARY|SYNCHRONIZED" 240
wait_until $P "$local_state" "PRIMARY|SYNCHRONIZED" 60
log "availability group ready: $P PRIMARY, $S readable SECONDARY for $DB"
