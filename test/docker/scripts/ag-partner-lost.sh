#!/usr/bin/env bash
# Wait until HOST's own availability replica shows that its partner is gone (after the other
# container was stopped): role_desc RESOLVING, or connected_state_desc DISCONNECTED (Microsoft
# Learn, "sys.dm_hadr_availability_replica_states"). A replica notices a lost partner only after
# its session timeout, so the checks that follow would otherwise see the old state.
# Usage (inside the ag-setup service): ag-partner-lost.sh HOST [SECONDS]
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || die "usage: ag-partner-lost.sh HOST [SECONDS]"
H=$1 LIMIT=${2:-120}
query="SELECT role_desc + '|' + connected_state_desc FROM sys.dm_hadr_availability_replica_states WHERE is_local = 1"
start=$SECONDS
while :; do
  got=$(q "$H" "$query" 2> "$WORK/lost.err" | tr -d '\r ') || got=
  case $got in
    RESOLVING\|* | *\|DISCONNECTED) log "$H: partner lost ($got)"; exit 0 ;;
  esac
  [ $((SECONDS - start)) -lt "$LIMIT" ] ||
    die "$H: still [$got] (role_desc|connected_state_desc) ${LIMIT}s after its partner stopped $(msgs "$(cat "$WORK/lost.err")")"
  sleep "$POLL_SECONDS"
done
