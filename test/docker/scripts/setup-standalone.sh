#!/usr/bin/env bash
# The standalone scenarios' server: the logins on sqla, and salesdb there, in neither database
# mirroring nor an availability group. Needs nothing from database mirroring, so these scenarios
# run whatever the engine says to mirroring (setup-mirroring.sh). Safe to run again.
# Usage (inside the mirroring-setup service): setup-standalone.sh [HOST]
. "$(dirname "$0")/lib.sh"
H=${1:-sqla}

wait_for_server "$H"
create_logins "$H"
log "$H: salesdb (in neither mirroring nor an availability group), ONLINE and READ_WRITE"
run "$H" "IF DB_ID(N'salesdb') IS NULL CREATE DATABASE [salesdb];"
wait_until "$H" "SELECT state_desc + '|' + CONVERT(varchar(1), is_read_only) FROM sys.databases WHERE name = N'salesdb'" "ONLINE|0" 60
log "$H: salesdb ready"
