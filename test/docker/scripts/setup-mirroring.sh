#!/usr/bin/env bash
# Database mirroring of appdb between sqla (principal) and sqlb (mirror), high-safety mode
# (SAFETY FULL, no witness: manual failover), with certificate-authenticated endpoints; plus the
# logins the scenarios use, and salesdb on sqla, in neither mirroring nor an availability group.
# Follows Microsoft's "Example: Set up database mirroring using certificates (Transact-SQL)" and
# "Prepare a mirror database for mirroring". Safe to run again: it stops when appdb is mirrored.
# Usage (inside the mirroring-setup service): setup-mirroring.sh
. "$(dirname "$0")/lib.sh"
: "${DBM_KEY_PASSWORD:?}"
A=sqla B=sqlb DB=appdb PORT=5022

wait_for_server $A
wait_for_server $B

for h in $A $B; do create_logins $h; done
log "$A: salesdb (in neither mirroring nor an availability group)"
q $A "IF DB_ID(N'salesdb') IS NULL CREATE DATABASE [salesdb];" >/dev/null

role=$(q $A "SELECT mirroring_role_desc FROM sys.database_mirroring WHERE database_id = DB_ID('$DB')" | tr -d '\r ')
if [ "$role" = PRINCIPAL ] || [ "$role" = MIRROR ]; then
  log "$DB is already mirrored ($A is $role)"
  exit 0
fi

rm -f /exchange/*_cert.cer /exchange/$DB.bak /exchange/$DB.trn

# Outbound: each partner gets a master key, its own certificate and an endpoint using it.
for h in $A $B; do
  log "$h: master key, certificate ${h}_cert, mirroring endpoint on port $PORT"
  sql $h <<SQL
IF NOT EXISTS (SELECT * FROM sys.symmetric_keys WHERE name = N'##MS_DatabaseMasterKey##')
  CREATE MASTER KEY ENCRYPTION BY PASSWORD = N'$DBM_KEY_PASSWORD';
IF CERT_ID(N'${h}_cert') IS NULL
  CREATE CERTIFICATE [${h}_cert] WITH SUBJECT = N'$h certificate for database mirroring', EXPIRY_DATE = N'20991231';
IF NOT EXISTS (SELECT * FROM sys.database_mirroring_endpoints)
  CREATE ENDPOINT [Endpoint_Mirroring] STATE = STARTED
    AS TCP (LISTENER_PORT = $PORT, LISTENER_IP = ALL)
    FOR DATABASE_MIRRORING (AUTHENTICATION = CERTIFICATE [${h}_cert], ENCRYPTION = REQUIRED ALGORITHM AES, ROLE = ALL);
BACKUP CERTIFICATE [${h}_cert] TO FILE = N'/exchange/${h}_cert.cer';
SQL
done

# Inbound: each partner lets the other's certificate connect to its endpoint.
inbound() { # inbound HOST PEER
  local h=$1 p=$2
  log "$h: accept $p's certificate on the endpoint"
  sql $h <<SQL
IF SUSER_ID(N'${p}_login') IS NULL
  CREATE LOGIN [${p}_login] WITH PASSWORD = N'$DBM_KEY_PASSWORD';
IF USER_ID(N'${p}_user') IS NULL
  CREATE USER [${p}_user] FOR LOGIN [${p}_login];
IF CERT_ID(N'${p}_cert') IS NULL
  CREATE CERTIFICATE [${p}_cert] AUTHORIZATION [${p}_user] FROM FILE = N'/exchange/${p}_cert.cer';
GRANT CONNECT ON ENDPOINT::[Endpoint_Mirroring] TO [${p}_login];
SQL
}
inbound $A $B
inbound $B $A

log "$A: create $DB (FULL recovery), back up the database and its log"
sql $A <<SQL
IF DB_ID(N'$DB') IS NULL CREATE DATABASE [$DB];
ALTER DATABASE [$DB] SET RECOVERY FULL;
GO
USE [$DB];
IF OBJECT_ID(N'dbo.heartbeat') IS NULL CREATE TABLE dbo.heartbeat (id int PRIMARY KEY, at datetime2 NOT NULL);
GO
USE master;
BACKUP DATABASE [$DB] TO DISK = N'/exchange/$DB.bak' WITH INIT, FORMAT;
BACKUP LOG [$DB] TO DISK = N'/exchange/$DB.trn' WITH INIT, FORMAT;
SQL

log "$B: restore $DB WITH NORECOVERY (the mirror database)"
sql $B <<SQL
RESTORE DATABASE [$DB] FROM DISK = N'/exchange/$DB.bak' WITH NORECOVERY, REPLACE;
RESTORE LOG [$DB] FROM DISK = N'/exchange/$DB.trn' WITH NORECOVERY;
SQL

# The mirror names the principal first, then the principal names the mirror (this starts the session).
log "$B: SET PARTNER = TCP://$A:$PORT"
q $B "ALTER DATABASE [$DB] SET PARTNER = N'TCP://$A:$PORT';" >/dev/null ||
  die "$B refused SET PARTNER. Microsoft lists database mirroring as unsupported on SQL Server on Linux; see test/docker/README.md"
log "$A: SET PARTNER = TCP://$B:$PORT, SAFETY FULL"
q $A "ALTER DATABASE [$DB] SET PARTNER = N'TCP://$B:$PORT';" >/dev/null ||
  die "$A refused SET PARTNER. Microsoft lists database mirroring as unsupported on SQL Server on Linux; see test/docker/README.md"
q $A "ALTER DATABASE [$DB] SET PARTNER SAFETY FULL;" >/dev/null

state="SELECT mirroring_role_desc + '|' + mirroring_state_desc FROM sys.database_mirroring WHERE database_id = DB_ID('$DB')"
wait_until $A "$state" "PRINCIPAL|SYNCHRONIZED" 180
wait_until $B "$state" "MIRROR|SYNCHRONIZED" 60
log "mirroring ready: $A PRINCIPAL, $B MIRROR for $DB"
