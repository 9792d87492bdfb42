#!/usr/bin/env bash
# Database mirroring of appdb between sqla (principal) and sqlb (mirror), high-safety mode
# (SAFETY FULL, no witness: manual failover), with certificate-authenticated endpoints; plus the
# logins the scenarios use. Follows Microsoft's "Example: Set up database mirroring using
# certificates (Transact-SQL)" and "Prepare a mirror database for mirroring". Safe to run again: it
# stops when appdb is mirrored.
#
# Microsoft lists database mirroring among the features not available on SQL Server 2022 on Linux
# ("Editions and supported features of SQL Server 2022 on Linux", Unsupported features and
# services: High Availability, Database mirroring). This script still attempts it, and judges the
# engine by what it says:
#   - SET PARTNER refused with a message that refuses the feature itself (refusal() below): the
#     server's words on stdout, exit status 3 (NOT_SUPPORTED); the runner then reports every
#     mirroring scenario as skipped, "not supported here", with those words;
#   - any other error (Msg 1418, the partner's endpoint cannot be reached, among others): a failure,
#     with the server's message;
#   - a session that does not reach SYNCHRONIZED in time: the state on both partners and the
#     mirroring lines of both error logs; a refusal among those lines is a refusal, else a failure.
# Usage (inside the mirroring-setup service): setup-mirroring.sh
. "$(dirname "$0")/lib.sh"
: "${DBM_KEY_PASSWORD:?}"
A=sqla B=sqlb DB=appdb PORT=5022
SYNC_WAIT_SECONDS=${SYNC_WAIT_SECONDS:-180}

# refusal TEXT: the lines of TEXT in which the engine refuses database mirroring itself, if any:
# Msg 1463 "Database mirroring is not available in the edition of this SQL Server instance",
# Msg 1473 "This SQL Server edition does not allow changing the safety level", Msg 1489 "Database
# Mirroring is disabled on this server due to error %d" (Microsoft Learn, "Database Engine events
# and errors (1000 to 1999)"), or a message that says mirroring is not supported. A "Msg" header
# line is kept with the text line after it.
refusal() {
  awk '{ l = tolower($0) }
    l ~ /^msg (1463|1473|1489),/ { print; if ((getline nxt) > 0) print nxt; found = 1; hdr = ""; next }
    l ~ /^msg [0-9]+,/ { hdr = $0; next }
    l ~ /mirroring/ && l ~ /(not supported|not available|is disabled on this server)/ { if (hdr != "") print hdr; print; found = 1 }
    { hdr = "" }
    END { exit found ? 0 : 1 }' <<< "$1"
}

refused() { # refused WHO TEXT: report the refusal and stop with NOT_SUPPORTED
  log "$1 refuses database mirroring (Microsoft lists it as not supported on SQL Server on Linux); the mirroring scenarios are skipped"
  printf '%s\n' "$2"
  exit "$NOT_SUPPORTED"
}

# set_partner HOST PARTNER: ALTER DATABASE ... SET PARTNER, judged as above.
set_partner() {
  log "$1: SET PARTNER = TCP://$2:$PORT"
  attempt "$1" "ALTER DATABASE [$DB] SET PARTNER = N'TCP://$2:$PORT';" && return 0
  local words
  words=$(refusal "$ATTEMPT_ERR") && refused "$1" "$words"
  die "$1 refused SET PARTNER = TCP://$2:$PORT: $(msgs "$ATTEMPT_ERR")"
}

wait_for_server $A
wait_for_server $B
for h in $A $B; do create_logins $h; done

role=$(q $A "SELECT mirroring_role_desc FROM sys.database_mirroring WHERE database_id = DB_ID('$DB')" | tr -d '\r ')
if [ "$role" = PRINCIPAL ] || [ "$role" = MIRROR ]; then
  log "$DB is already mirrored ($A is $role)"
  exit 0
fi

rm -f /exchange/*_cert.cer /exchange/$DB.bak /exchange/$DB.trn

# Outbound: each partner gets a master key, its own certificate and an endpoint using it.
for h in $A $B; do
  log "$h: master key, certificate ${h}_cert, mirroring endpoint on port $PORT"
  sql $h >&2 <<SQL
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
  sql $h >&2 <<SQL
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
sql $A >&2 <<SQL
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
sql $B >&2 <<SQL
RESTORE DATABASE [$DB] FROM DISK = N'/exchange/$DB.bak' WITH NORECOVERY, REPLACE;
RESTORE LOG [$DB] FROM DISK = N'/exchange/$DB.trn' WITH NORECOVERY;
SQL

# The mirror names the principal first, then the principal names the mirror (this starts the session).
set_partner $B $A
set_partner $A $B
log "$A: SET PARTNER SAFETY FULL"
if ! attempt $A "ALTER DATABASE [$DB] SET PARTNER SAFETY FULL;"; then
  words=$(refusal "$ATTEMPT_ERR") && refused $A "$words"
  die "$A refused SET PARTNER SAFETY FULL: $(msgs "$ATTEMPT_ERR")"
fi

# "A SET PARTNER or SET WITNESS command can complete successfully when entered, but fail later"
# (Microsoft Learn, "ALTER DATABASE Database Mirroring"): wait for the session itself.
state="SELECT mirroring_role_desc + '|' + mirroring_state_desc FROM sys.database_mirroring WHERE database_id = DB_ID('$DB')"
if ! poll $A "$state" "PRINCIPAL|SYNCHRONIZED" "$SYNC_WAIT_SECONDS"; then
  seen_a=$POLL_GOT
  seen_b=$(q $B "$state" 2>&1 | paste -sd ' ' -) || true
  # the mirroring lines of each error log (sp_readerrorlog: log 0, SQL Server log, search text)
  errlog=
  for h in $A $B; do
    errlog+=$(q $h "EXEC sys.sp_readerrorlog 0, 1, N'mirroring';" 2>&1 | sed "s/^/$h: /")$'\n' || true
  done
  words=$(refusal "$errlog") && refused "$A/$B" "$words"
  die "the mirroring session of $DB did not reach SYNCHRONIZED within ${SYNC_WAIT_SECONDS}s:" \
    "$A [$seen_a]${POLL_ERR:+ ($POLL_ERR)}, $B [$seen_b]; error log: $(msgs "$errlog")"
fi
wait_until $B "$state" "MIRROR|SYNCHRONIZED" 60
log "mirroring ready: $A PRINCIPAL, $B MIRROR for $DB"
