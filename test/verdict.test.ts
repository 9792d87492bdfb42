// The verdict as tables: role × mirroring role/state × AG role/operational state × database state ×
// Updateability × NULLs. Each row says pass or fail and a piece of the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decidePartner, decideRole, judgeDatabase, partnerClaims } from '../src/verdict.ts';
import type { PartnerAnswer, VerdictSettings } from '../src/verdict.ts';
import type { DatabaseFacts } from '../src/facts.ts';
import { noFacts } from '../src/facts.ts';
import type { Role } from '../src/settings.ts';

const MIRROR_STATES = ['SUSPENDED', 'DISCONNECTED', 'SYNCHRONIZING', 'PENDING_FAILOVER', 'SYNCHRONIZED', 'UNSYNCHRONIZED'];

/** As toSettings makes them: --role primary requires mirroring or a group unless --allow-standalone. */
function settings(role: Role, extra: Partial<VerdictSettings> = {}): VerdictSettings {
  return { role, databases: ['Sales'], requireHa: role === 'primary' && !extra.allowStandalone, user: 'monitor', ...extra };
}
const standaloneOk = { allowStandalone: true };

// Facts as real servers report them, per situation.
function standalone(over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return {
    ...noFacts('Sales', 1),
    database_id: 5, name: 'Sales', state_desc: 'ONLINE', is_read_only: false,
    user_access_desc: 'MULTI_USER', updateability: 'READ_WRITE', ...over,
  };
}
function principal(state = 'SYNCHRONIZED', over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return standalone({
    mirroring_guid: '7C3A3B4E-0000-4000-8000-000000000001', mirroring_role_desc: 'PRINCIPAL', mirroring_state_desc: state, ...over,
  });
}
function mirror(state = 'SYNCHRONIZED', over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return standalone({
    state_desc: 'RESTORING', is_read_only: null, updateability: null,
    mirroring_guid: '7C3A3B4E-0000-4000-8000-000000000001', mirroring_role_desc: 'MIRROR', mirroring_state_desc: state, ...over,
  });
}
/** The mirror as a login without sysadmin sees it: RESTORING, every mirroring column NULL. */
function mirrorHidden(over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return standalone({ state_desc: 'RESTORING', is_read_only: null, updateability: null, ...over });
}
const AG = {
  db_replica_id: '11111111-0000-4000-8000-000000000001', replica_id: '11111111-0000-4000-8000-000000000001',
  group_id: '22222222-0000-4000-8000-000000000001', ag_name: 'ag1',
};
function agPrimary(over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return standalone({
    ...AG, role_desc: 'PRIMARY', operational_state_desc: 'ONLINE', connected_state_desc: 'CONNECTED',
    replica_synchronization_health_desc: 'HEALTHY', database_state_desc: 'ONLINE',
    synchronization_state_desc: 'SYNCHRONIZED', synchronization_health_desc: 'HEALTHY', is_suspended: false,
    redo_queue_size: null, redo_rate: null, secondary_role_allow_connections_desc: 'READ_ONLY', availability_mode_desc: 'SYNCHRONOUS_COMMIT', ...over,
  });
}
function agSecondary(over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return agPrimary({
    role_desc: 'SECONDARY', updateability: 'READ_ONLY', redo_queue_size: 0, redo_rate: 0, ...over,
  });
}
/** An AG database seen without VIEW SERVER STATE: sys.databases knows, the DMVs say nothing. */
function agHidden(over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return standalone({ db_replica_id: AG.db_replica_id, ...over });
}

/** The distributed group's local row on the primary of a member group. */
function dagRow(role: string) {
  return {
    ag_name: 'dag1', group_id: '33333333-0000-4000-8000-000000000001', replica_id: '33333333-0000-4000-8000-0000000000A1',
    synchronization_state_desc: 'SYNCHRONIZED', synchronization_health_desc: 'HEALTHY', database_state_desc: 'ONLINE',
    is_suspended: false, redo_queue_size: null, redo_rate: null, role_desc: role, operational_state_desc: 'ONLINE',
    connected_state_desc: 'CONNECTED', replica_synchronization_health_desc: 'HEALTHY',
    secondary_role_allow_connections_desc: 'READ_ONLY', availability_mode_desc: 'ASYNCHRONOUS_COMMIT', cluster_type_desc: 'NONE',
  };
}

/** A database of a member group of a distributed availability group: two local rows. */
function inDag(role: string, over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return { ...agPrimary({ more_groups: [dagRow(role)], ...over }), rows: 2 };
}

interface Row {
  name: string;
  facts: DatabaseFacts;
  s: VerdictSettings;
  pass: boolean;
  reason: string | RegExp;
}

const rows: Row[] = [
  // --- distributed availability groups: one local row for the group, one for the distributed group
  { name: 'distributed AG: global primary', facts: inDag('PRIMARY'), s: settings('primary', { partner: true }), pass: true, reason: 'availability group "ag1" and availability group "dag1": local replica PRIMARY' },
  // a distributed group fails over only by hand (forced), and its row says CLUSTER_TYPE NONE
  { name: 'distributed AG: global primary, alone', facts: inDag('PRIMARY'), s: settings('primary'), pass: false, reason: 'availability group "dag1": CLUSTER_TYPE = NONE' },
  { name: 'distributed AG: forwarder', facts: inDag('SECONDARY', { updateability: 'READ_ONLY' }), s: settings('primary'), pass: false, reason: 'availability group "dag1": availability replica role is SECONDARY, not PRIMARY (of a distributed availability group only the global primary passes)' },
  { name: 'distributed AG: forwarder, writable by mistake', facts: inDag('SECONDARY'), s: settings('primary'), pass: false, reason: 'SECONDARY, not PRIMARY' },
  { name: 'distributed AG: global primary, distributed row RESOLVING', facts: inDag('RESOLVING'), s: settings('primary'), pass: false, reason: 'RESOLVING, not PRIMARY' },
  { name: 'distributed AG: forwarder is no secondary', facts: inDag('SECONDARY', { updateability: 'READ_ONLY' }), s: settings('secondary'), pass: false, reason: 'PRIMARY, not SECONDARY' },
  { name: 'distributed AG: rows not matching more_groups', facts: { ...inDag('PRIMARY'), rows: 3 }, s: settings('primary'), pass: false, reason: '3 rows' },
  // --- primary, database mirroring
  { name: 'principal SYNCHRONIZED', facts: principal(), s: settings('primary'), pass: true, reason: 'PRINCIPAL, SYNCHRONIZED' },
  // --- the witness: a DISCONNECTED principal without it has lost quorum
  ...(['SYNCHRONIZED', 'SYNCHRONIZING', 'SUSPENDED', 'DISCONNECTED'] as const).flatMap((st) => (['CONNECTED', 'DISCONNECTED', 'UNKNOWN'] as const).map((ws): Row => {
    const lost = st === 'DISCONNECTED' && ws !== 'CONNECTED';
    return {
      name: `principal ${st}, witness ${ws}`, facts: principal(st, { mirroring_witness_name: 'TCP://witness.example:5022', mirroring_witness_state_desc: ws }),
      s: settings('primary', { allowStandalone: true, partner: true }), pass: !lost,
      reason: lost ? `mirroring DISCONNECTED and the witness ${ws}: this server has lost quorum, and the mirror may have failed over with the witness` : `PRINCIPAL, ${st}, witness ${ws}`,
    };
  })),
  { name: 'principal, witness state NULL', facts: principal('DISCONNECTED', { mirroring_witness_name: 'TCP://w:5022', mirroring_witness_state_desc: null }), s: settings('primary'), pass: false, reason: 'mirroring witness state is NULL' },
  { name: 'principal, unexpected witness state', facts: principal('SYNCHRONIZED', { mirroring_witness_name: 'TCP://w:5022', mirroring_witness_state_desc: 'ASLEEP' }), s: settings('primary'), pass: false, reason: 'unexpected mirroring witness state "ASLEEP"' },
  { name: 'principal PENDING_FAILOVER', facts: principal('PENDING_FAILOVER'), s: settings('primary'), pass: false, reason: 'PENDING_FAILOVER' },
  { name: 'principal DISCONNECTED, no witness', facts: principal('DISCONNECTED'), s: settings('primary'), pass: false, reason: 'mirroring DISCONNECTED and no witness: the mirror may have been forced into service and be writable too; give --partner to ask the other server, or --allow-standalone' },
  { name: 'principal DISCONNECTED, no witness, --allow-standalone', facts: principal('DISCONNECTED'), s: settings('primary', standaloneOk), pass: true, reason: 'PRINCIPAL, DISCONNECTED' },
  { name: 'principal DISCONNECTED, no witness, --partner (decided with the partner)', facts: principal('DISCONNECTED'), s: settings('primary', { partner: true }), pass: true, reason: 'PRINCIPAL, DISCONNECTED' },
  { name: 'principal DISCONNECTED, empty witness name is no witness', facts: principal('DISCONNECTED', { mirroring_witness_name: '', mirroring_witness_state_desc: 'UNKNOWN' }), s: settings('primary'), pass: false, reason: 'no witness' },
  { name: 'principal DISCONNECTED, only SYNCHRONIZED allowed', facts: principal('DISCONNECTED'), s: settings('primary', { mirroringStates: ['SYNCHRONIZED'] }), pass: false, reason: 'not one of --mirroring-state SYNCHRONIZED' },
  { name: 'principal SYNCHRONIZING in allowed list', facts: principal('SYNCHRONIZING'), s: settings('primary', { mirroringStates: ['SYNCHRONIZED', 'SYNCHRONIZING'] }), pass: true, reason: 'SYNCHRONIZING' },
  { name: 'principal, mirroring state NULL', facts: principal('SYNCHRONIZED', { mirroring_state_desc: null }), s: settings('primary'), pass: false, reason: 'mirroring state is NULL' },
  { name: 'principal, unexpected mirroring state', facts: principal('WEIRD'), s: settings('primary'), pass: false, reason: 'unexpected mirroring state "WEIRD"' },
  { name: 'mirrored, role NULL', facts: principal('SYNCHRONIZED', { mirroring_role_desc: null }), s: settings('primary'), pass: false, reason: /mirroring role is NULL: .*sysadmin/ },
  { name: 'mirrored, unexpected role', facts: principal('SYNCHRONIZED', { mirroring_role_desc: 'WITNESS' }), s: settings('primary'), pass: false, reason: 'unexpected mirroring role "WITNESS"' },
  { name: 'mirror side as primary', facts: mirror(), s: settings('primary'), pass: false, reason: 'mirroring role is MIRROR, not PRINCIPAL' },
  // the mirror fails for being the mirror: the reason must not send the operator to grant sysadmin
  { name: 'mirror hidden (no sysadmin) as primary', facts: mirrorHidden(), s: settings('primary'), pass: false, reason: /^database is RESTORING, not ONLINE \(a mirror database, or a restore under way: not writable here\)$/ },
  { name: 'principal but database READ_ONLY', facts: principal('SYNCHRONIZED', { is_read_only: true }), s: settings('primary'), pass: false, reason: 'READ_ONLY' },
  { name: 'principal but SINGLE_USER', facts: principal('SYNCHRONIZED', { user_access_desc: 'SINGLE_USER' }), s: settings('primary'), pass: false, reason: 'SINGLE_USER, not MULTI_USER' },
  { name: 'principal but Updateability NULL', facts: principal('SYNCHRONIZED', { updateability: null }), s: settings('primary'), pass: false, reason: 'Updateability is NULL' },
  { name: 'principal but state_desc NULL', facts: principal('SYNCHRONIZED', { state_desc: null }), s: settings('primary'), pass: false, reason: 'state_desc) is NULL' },
  { name: 'principal but is_read_only NULL', facts: principal('SYNCHRONIZED', { is_read_only: null }), s: settings('primary'), pass: false, reason: 'is_read_only is NULL' },
  { name: 'mirroring role without guid', facts: standalone({ mirroring_role_desc: 'PRINCIPAL' }), s: settings('primary'), pass: false, reason: 'without a mirroring_guid' },
  { name: 'mirrored and in an AG', facts: principal('SYNCHRONIZED', AG), s: settings('primary'), pass: false, reason: 'both mirrored and in an availability group' },

  // --- primary, availability groups
  { name: 'AG primary (2012-2016: no cluster_type_desc, WSFC)', facts: agPrimary(), s: settings('primary'), pass: true, reason: 'replica PRIMARY' },
  { name: 'AG primary, WSFC', facts: agPrimary({ cluster_type_desc: 'WSFC' }), s: settings('primary'), pass: true, reason: 'replica PRIMARY' },
  { name: 'AG primary, EXTERNAL', facts: agPrimary({ cluster_type_desc: 'EXTERNAL' }), s: settings('primary'), pass: true, reason: 'replica PRIMARY' },
  { name: 'AG primary, CLUSTER_TYPE NONE', facts: agPrimary({ cluster_type_desc: 'NONE' }), s: settings('primary'), pass: false, reason: 'availability group "ag1": CLUSTER_TYPE = NONE: no cluster stops another replica from being made primary by a forced failover, and both would pass; give --partner' },
  { name: 'AG primary, CLUSTER_TYPE NONE, --allow-standalone', facts: agPrimary({ cluster_type_desc: 'NONE' }), s: settings('primary', standaloneOk), pass: true, reason: 'replica PRIMARY' },
  { name: 'AG primary, CLUSTER_TYPE NONE, --partner', facts: agPrimary({ cluster_type_desc: 'NONE' }), s: settings('primary', { partner: true }), pass: true, reason: 'replica PRIMARY' },
  { name: 'AG primary, group hidden (no VIEW ANY DEFINITION)', facts: agPrimary({ ag_name: null }), s: settings('primary'), pass: false, reason: /cluster type unknown \(.*GRANT VIEW ANY DEFINITION TO \[monitor\]\)/ },
  { name: 'AG primary, unexpected cluster type', facts: agPrimary({ cluster_type_desc: 'MESH' }), s: settings('primary'), pass: false, reason: 'unexpected cluster_type_desc "MESH"' },
  { name: 'AG secondary as primary', facts: agSecondary(), s: settings('primary'), pass: false, reason: 'role is SECONDARY, not PRIMARY' },
  { name: 'AG resolving as primary', facts: agPrimary({ role_desc: 'RESOLVING' }), s: settings('primary'), pass: false, reason: 'role is RESOLVING, not PRIMARY' },
  { name: 'AG role NULL', facts: agPrimary({ role_desc: null }), s: settings('primary'), pass: false, reason: /role_desc\) is NULL: .*VIEW SERVER STATE/ },
  { name: 'AG unexpected role', facts: agPrimary({ role_desc: 'LEADER' }), s: settings('primary'), pass: false, reason: 'unexpected availability replica role' },
  { name: 'AG primary PENDING_FAILOVER', facts: agPrimary({ operational_state_desc: 'PENDING_FAILOVER' }), s: settings('primary'), pass: false, reason: 'operational state is PENDING_FAILOVER' },
  { name: 'AG primary FAILED_NO_QUORUM', facts: agPrimary({ operational_state_desc: 'FAILED_NO_QUORUM' }), s: settings('primary'), pass: false, reason: 'FAILED_NO_QUORUM' },
  { name: 'AG primary operational NULL', facts: agPrimary({ operational_state_desc: null }), s: settings('primary'), pass: false, reason: /operational state is NULL: .*VIEW SERVER STATE/ },
  { name: 'AG primary, AG database RECOVERING', facts: agPrimary({ database_state_desc: 'RECOVERING' }), s: settings('primary'), pass: false, reason: 'availability database state is RECOVERING' },
  { name: 'AG primary, database OFFLINE', facts: agPrimary({ state_desc: 'OFFLINE' }), s: settings('primary'), pass: false, reason: 'database is OFFLINE, not ONLINE' },
  { name: 'AG rows hidden (no VIEW SERVER STATE)', facts: agHidden(), s: settings('primary'), pass: false, reason: /GRANT VIEW SERVER STATE TO \[monitor\]/ },
  { name: 'AG secondary hidden, Updateability READ_ONLY', facts: agHidden({ updateability: 'READ_ONLY' }), s: settings('primary'), pass: false, reason: 'VIEW SERVER STATE' },

  // --- primary, neither mirrored nor AG
  { name: 'standalone ONLINE READ_WRITE (default)', facts: standalone(), s: settings('primary'), pass: false, reason: 'neither mirrored nor in an availability group: nothing stops another copy (a broken mirror or a former replica, recovered) from being writable too, and it would pass as well; give --allow-standalone' },
  { name: 'standalone ONLINE READ_WRITE, --allow-standalone', facts: standalone(), s: settings('primary', standaloneOk), pass: true, reason: 'neither mirrored nor in an availability group' },
  { name: 'standalone READ_ONLY', facts: standalone({ is_read_only: true, updateability: 'READ_ONLY' }), s: settings('primary', standaloneOk), pass: false, reason: 'READ_ONLY' },
  { name: 'standalone Updateability READ_ONLY only', facts: standalone({ updateability: 'READ_ONLY' }), s: settings('primary', standaloneOk), pass: false, reason: 'Updateability READ_ONLY' },
  { name: 'standalone unexpected Updateability', facts: standalone({ updateability: 'MAYBE' }), s: settings('primary', standaloneOk), pass: false, reason: 'unexpected Updateability' },
  { name: 'standalone RESTRICTED_USER', facts: standalone({ user_access_desc: 'RESTRICTED_USER' }), s: settings('primary', standaloneOk), pass: false, reason: 'RESTRICTED_USER' },
  { name: 'standalone unexpected user access', facts: standalone({ user_access_desc: 'NOBODY' }), s: settings('primary', standaloneOk), pass: false, reason: 'unexpected user_access_desc' },
  { name: 'standalone unexpected state', facts: standalone({ state_desc: 'DREAMING' }), s: settings('primary', standaloneOk), pass: false, reason: 'unexpected database state' },
  { name: 'missing database', facts: noFacts('Sales', 1), s: settings('primary'), pass: false, reason: /not found \(or not visible to the login; GRANT VIEW ANY DATABASE TO \[monitor\]\)/ },
  { name: 'no row at all', facts: noFacts('Sales', 0), s: settings('primary'), pass: false, reason: 'no row' },
  { name: 'two rows for one name', facts: { ...standalone(), rows: 2 }, s: settings('primary'), pass: false, reason: '2 rows' },
  { name: 'NTLM login in the GRANT', facts: noFacts('Sales', 1), s: settings('primary', { domain: 'CORP', user: 'svc]x' }), pass: false, reason: 'TO [CORP\\svc]]x]' },

  // --- secondary
  { name: 'readable sync secondary', facts: agSecondary(), s: settings('secondary'), pass: true, reason: 'readable SECONDARY (READ_ONLY)' },
  { name: 'readable secondary ALL', facts: agSecondary({ secondary_role_allow_connections_desc: 'ALL' }), s: settings('secondary'), pass: true, reason: '(ALL)' },
  { name: 'secondary allows no connections', facts: agSecondary({ secondary_role_allow_connections_desc: 'NO' }), s: settings('secondary'), pass: false, reason: 'accepts no connections' },
  { name: 'secondary allow NULL', facts: agSecondary({ secondary_role_allow_connections_desc: null }), s: settings('secondary'), pass: false, reason: 'VIEW ANY DEFINITION' },
  // --max-lag from the secondary's own row: redo_queue_size (KB) / redo_rate (KB/s), rounded up
  { name: 'secondary nothing to redo', facts: agSecondary({ redo_queue_size: 0, redo_rate: null }), s: settings('secondary', { maxLagSeconds: 0 }), pass: true, reason: 'lag 0 s' },
  { name: 'secondary within max lag', facts: agSecondary({ redo_queue_size: 400, redo_rate: 100 }), s: settings('secondary', { maxLagSeconds: 5 }), pass: true, reason: 'lag 4 s' },
  { name: 'secondary at max lag', facts: agSecondary({ redo_queue_size: 401, redo_rate: 80 }), s: settings('secondary', { maxLagSeconds: 5 }), pass: false, reason: 'lag 6 s' },
  { name: 'secondary rounded up to max lag', facts: agSecondary({ redo_queue_size: 500, redo_rate: 100 }), s: settings('secondary', { maxLagSeconds: 5 }), pass: true, reason: 'lag 5 s' },
  { name: 'secondary lagging', facts: agSecondary({ redo_queue_size: 3000, redo_rate: 100, availability_mode_desc: 'ASYNCHRONOUS_COMMIT', synchronization_state_desc: 'SYNCHRONIZING' }), s: settings('secondary', { maxLagSeconds: 10 }), pass: false, reason: 'lag 30 s (redo queue 3000 KB at 100 KB/s) is more than --max-lag 10 s' },
  { name: 'secondary redo queue NULL with --max-lag', facts: agSecondary({ redo_queue_size: null }), s: settings('secondary', { maxLagSeconds: 10 }), pass: false, reason: 'redo_queue_size is NULL' },
  { name: 'secondary redo rate NULL with a queue', facts: agSecondary({ redo_queue_size: 10, redo_rate: null }), s: settings('secondary', { maxLagSeconds: 10 }), pass: false, reason: 'redo_rate is NULL' },
  { name: 'secondary redo rate 0 with a queue', facts: agSecondary({ redo_queue_size: 10, redo_rate: 0 }), s: settings('secondary', { maxLagSeconds: 10 }), pass: false, reason: 'cannot be estimated' },
  { name: 'secondary negative redo queue', facts: agSecondary({ redo_queue_size: -1, redo_rate: 5 }), s: settings('secondary', { maxLagSeconds: 10 }), pass: false, reason: 'unexpected redo_queue_size' },
  { name: 'secondary lag unknown without --max-lag', facts: agSecondary({ redo_queue_size: null }), s: settings('secondary'), pass: true, reason: 'SECONDARY' },
  { name: 'secondary NOT_HEALTHY', facts: agSecondary({ synchronization_health_desc: 'NOT_HEALTHY' }), s: settings('secondary'), pass: false, reason: 'NOT_HEALTHY, not HEALTHY' },
  { name: 'secondary PARTIALLY_HEALTHY', facts: agSecondary({ synchronization_health_desc: 'PARTIALLY_HEALTHY' }), s: settings('secondary'), pass: false, reason: 'PARTIALLY_HEALTHY' },
  { name: 'secondary health NULL', facts: agSecondary({ synchronization_health_desc: null }), s: settings('secondary'), pass: false, reason: 'synchronization health is NULL' },
  { name: 'secondary suspended', facts: agSecondary({ is_suspended: true }), s: settings('secondary'), pass: false, reason: 'suspended' },
  { name: 'secondary is_suspended NULL', facts: agSecondary({ is_suspended: null }), s: settings('secondary'), pass: false, reason: 'is_suspended is NULL' },
  { name: 'secondary DISCONNECTED', facts: agSecondary({ connected_state_desc: 'DISCONNECTED' }), s: settings('secondary'), pass: false, reason: 'DISCONNECTED, not CONNECTED' },
  { name: 'secondary database RESTORING', facts: agSecondary({ state_desc: 'RESTORING' }), s: settings('secondary'), pass: false, reason: 'RESTORING, not ONLINE' },
  { name: 'secondary AG database NOT ONLINE', facts: agSecondary({ database_state_desc: 'RECOVERY_PENDING' }), s: settings('secondary'), pass: false, reason: 'RECOVERY_PENDING' },
  { name: 'primary replica as secondary', facts: agPrimary(), s: settings('secondary'), pass: false, reason: 'role is PRIMARY, not SECONDARY' },
  { name: 'resolving as secondary', facts: agSecondary({ role_desc: 'RESOLVING' }), s: settings('secondary'), pass: false, reason: 'RESOLVING, not SECONDARY' },
  { name: 'secondary operational OFFLINE', facts: agSecondary({ operational_state_desc: 'OFFLINE' }), s: settings('secondary'), pass: false, reason: 'operational state is OFFLINE' },
  { name: 'standalone as secondary', facts: standalone(), s: settings('secondary'), pass: false, reason: 'not in an availability group' },
  { name: 'mirrored as secondary', facts: principal(), s: settings('secondary'), pass: false, reason: 'use --role mirror' },
  { name: 'AG hidden as secondary', facts: agHidden(), s: settings('secondary'), pass: false, reason: 'VIEW SERVER STATE' },

  // --- mirror
  { name: 'mirror SYNCHRONIZED', facts: mirror(), s: settings('mirror'), pass: true, reason: 'MIRROR, SYNCHRONIZED' },
  { name: 'mirror SUSPENDED, only SYNCHRONIZED allowed', facts: mirror('SUSPENDED'), s: settings('mirror', { mirroringStates: ['SYNCHRONIZED'] }), pass: false, reason: 'SUSPENDED, not one of' },
  { name: 'principal as mirror', facts: principal(), s: settings('mirror'), pass: false, reason: 'PRINCIPAL, not MIRROR' },
  { name: 'mirror hidden (no sysadmin) as mirror', facts: mirrorHidden(), s: settings('mirror'), pass: false, reason: /mirroring role is NULL: the login cannot see mirroring state on the mirror; it needs sysadmin/ },
  { name: 'standalone as mirror', facts: standalone(), s: settings('mirror'), pass: false, reason: 'not mirrored' },
  { name: 'AG as mirror', facts: agSecondary(), s: settings('mirror'), pass: false, reason: 'use --role secondary' },
  { name: 'mirror, state NULL', facts: mirror('SYNCHRONIZED', { mirroring_state_desc: null }), s: settings('mirror'), pass: false, reason: 'mirroring state is NULL' },

  // --- online
  { name: 'standalone online', facts: standalone(), s: settings('online'), pass: true, reason: 'ONLINE' },
  { name: 'read-only standalone is online', facts: standalone({ is_read_only: true, updateability: 'READ_ONLY' }), s: settings('online'), pass: true, reason: 'ONLINE' },
  { name: 'OFFLINE is not online', facts: standalone({ state_desc: 'OFFLINE' }), s: settings('online'), pass: false, reason: 'OFFLINE, not ONLINE' },
  { name: 'SUSPECT is not online', facts: standalone({ state_desc: 'SUSPECT' }), s: settings('online'), pass: false, reason: 'SUSPECT' },
  { name: 'EMERGENCY is not online', facts: standalone({ state_desc: 'EMERGENCY' }), s: settings('online'), pass: false, reason: 'EMERGENCY' },
  { name: 'principal online', facts: principal(), s: settings('online'), pass: true, reason: 'PRINCIPAL' },
  { name: 'mirror not online', facts: mirror(), s: settings('online'), pass: false, reason: 'RESTORING' },
  { name: 'readable secondary online', facts: agSecondary(), s: settings('online'), pass: true, reason: 'readable SECONDARY' },
  { name: 'unreadable secondary not online', facts: agSecondary({ secondary_role_allow_connections_desc: 'NO' }), s: settings('online'), pass: false, reason: 'accepts no connections' },
  { name: 'AG primary online', facts: agPrimary(), s: settings('online'), pass: true, reason: 'PRIMARY' },
  { name: 'resolving not online', facts: agPrimary({ role_desc: 'RESOLVING' }), s: settings('online'), pass: false, reason: 'RESOLVING' },
  { name: 'online with --require-ha, standalone', facts: standalone(), s: settings('online', { requireHa: true }), pass: false, reason: '--require-ha' },
  { name: 'SINGLE_USER not online', facts: standalone({ user_access_desc: 'SINGLE_USER' }), s: settings('online'), pass: false, reason: 'SINGLE_USER' },
];

for (const r of rows) {
  test(`${r.s.role}: ${r.name} → ${r.pass ? 'pass' : 'fail'}`, () => {
    const v = judgeDatabase(r.facts, r.s);
    assert.equal(v.pass, r.pass, `reason: ${v.reason}`);
    if (typeof r.reason === 'string') assert.ok(v.reason.includes(r.reason), `reason ${JSON.stringify(v.reason)} lacks ${JSON.stringify(r.reason)}`);
    else assert.match(v.reason, r.reason);
  });
}

// The whole mirroring matrix: role × mirroring role × mirroring state (NULL included).
test('mirroring matrix: only PRINCIPAL (not PENDING_FAILOVER) passes primary, only MIRROR passes mirror', () => {
  let count = 0;
  for (const mRole of ['PRINCIPAL', 'MIRROR', null]) {
    for (const state of [...MIRROR_STATES, null]) {
      const facts = mRole === 'MIRROR' ? mirror(state as string, { mirroring_state_desc: state }) : principal(state as string, { mirroring_role_desc: mRole, mirroring_state_desc: state });
      for (const role of ['primary', 'secondary', 'mirror', 'online'] as Role[]) {
        const v = judgeDatabase(facts, settings(role));
        const expected =
          // without a witness a DISCONNECTED principal fails unless --partner or --allow-standalone
          role === 'primary' ? mRole === 'PRINCIPAL' && state !== null && state !== 'PENDING_FAILOVER' && state !== 'DISCONNECTED'
          : role === 'mirror' ? mRole === 'MIRROR' && state !== null
          : role === 'online' ? mRole === 'PRINCIPAL'
          : false;
        assert.equal(v.pass, expected, `${role} with mirroring ${mRole}/${state}: ${v.reason}`);
        assert.ok(v.reason.length > 10);
        count++;
      }
    }
  }
  assert.equal(count, 3 * 7 * 4);
});

// The AG matrix: replica role × operational state × database state.
test('AG matrix: primary needs PRIMARY + ONLINE + ONLINE; secondary needs SECONDARY + ONLINE + ONLINE', () => {
  const ops = ['PENDING_FAILOVER', 'PENDING', 'ONLINE', 'OFFLINE', 'FAILED', 'FAILED_NO_QUORUM', null];
  const dbStates = ['ONLINE', 'RESTORING', 'RECOVERING', 'RECOVERY_PENDING', 'SUSPECT', 'EMERGENCY', 'OFFLINE', null];
  let count = 0;
  for (const agRole of ['PRIMARY', 'SECONDARY', 'RESOLVING', null]) {
    for (const op of ops) {
      for (const st of dbStates) {
        const base = agRole === 'SECONDARY' ? agSecondary() : agPrimary();
        const facts = { ...base, role_desc: agRole, operational_state_desc: op, state_desc: st };
        const p = judgeDatabase(facts, settings('primary'));
        assert.equal(p.pass, agRole === 'PRIMARY' && op === 'ONLINE' && st === 'ONLINE', `primary ${agRole}/${op}/${st}: ${p.reason}`);
        const sec = judgeDatabase(facts, settings('secondary'));
        assert.equal(sec.pass, agRole === 'SECONDARY' && op === 'ONLINE' && st === 'ONLINE', `secondary ${agRole}/${op}/${st}: ${sec.reason}`);
        count++;
      }
    }
  }
  assert.equal(count, 4 * 7 * 8);
});

// Database state × Updateability × is_read_only for a standalone database.
test('standalone matrix: primary needs ONLINE, is_read_only 0 and Updateability READ_WRITE', () => {
  for (const st of ['ONLINE', 'RESTORING', 'OFFLINE', 'SUSPECT', null]) {
    for (const up of ['READ_WRITE', 'READ_ONLY', null]) {
      for (const ro of [false, true, null]) {
        const facts = standalone({ state_desc: st, updateability: up, is_read_only: ro });
        const v = judgeDatabase(facts, settings('primary', standaloneOk));
        assert.equal(v.pass, st === 'ONLINE' && up === 'READ_WRITE' && ro === false, `${st}/${up}/${ro}: ${v.reason}`);
        assert.equal(judgeDatabase(facts, settings('primary')).pass, false, `${st}/${up}/${ro} without --allow-standalone`);
        const o = judgeDatabase(facts, settings('online'));
        assert.equal(o.pass, st === 'ONLINE', `online ${st}: ${o.reason}`);
      }
    }
  }
});

test('several databases: every one must pass; the reason names the first that fails', () => {
  const s = { ...settings('primary'), databases: ['A', 'B', 'C'] };
  const ok = (n: string) => ({ ...principal(), requested: n, name: n });
  const pass = decideRole([ok('A'), ok('B'), ok('C')], s);
  assert.equal(pass.pass, true);
  assert.match(pass.reason, /all 3 databases pass/);
  const one = decideRole([ok('A'), { ...mirror(), requested: 'B', name: 'B' }, ok('C')], s);
  assert.equal(one.pass, false);
  assert.match(one.reason, /^database "B": mirroring role is MIRROR/);
  assert.deepEqual(one.databases.map((d) => d.pass), [true, false, true]);
});

test('a partial answer fails (fewer facts than databases, or in another order)', () => {
  const s = { ...settings('primary'), databases: ['A', 'B'] };
  const a = { ...principal(), requested: 'A' };
  const b = { ...principal(), requested: 'B' };
  assert.equal(decideRole([a], s).pass, false);
  assert.match(decideRole([a], s).reason, /covers 1 of 2/);
  assert.equal(decideRole([b, a], s).pass, false);
  assert.equal(decideRole([], { ...s, databases: [] }).pass, false);
  assert.equal(decideRole([a, b], s).pass, true);
});

// --- the partner rule (README.md, "Split brain"): this server passes on its own, then the partner
const WITNESS = { mirroring_witness_name: 'TCP://witness.example:5022', mirroring_witness_state_desc: 'CONNECTED' };
const reached = (...facts: DatabaseFacts[]): PartnerAnswer => ({ reached: true, facts });
const unreachable: PartnerAnswer = { reached: false, reason: 'network error: connect ECONNREFUSED' };
const withPartner = (over: Partial<VerdictSettings> = {}) => settings('primary', { partner: true, ...over });

interface PartnerRow {
  name: string;
  own: DatabaseFacts;
  s?: VerdictSettings;
  partner: PartnerAnswer;
  pass: boolean;
  reason: string | RegExp;
}
const partnerRows: PartnerRow[] = [
  // the partner answers and claims the role: never two passes
  { name: 'principal; partner PRINCIPAL too (forced service)', own: principal('DISCONNECTED'), partner: reached(principal('DISCONNECTED')), pass: false, reason: 'partner sqlb:1433 also claims database "Sales" (mirroring PRINCIPAL, DISCONNECTED): two servers claim the role, neither passes' },
  { name: 'principal with witness; partner PRINCIPAL too', own: principal('SYNCHRONIZED', WITNESS), partner: reached(principal('DISCONNECTED')), pass: false, reason: 'also claims' },
  { name: 'AG primary; partner PRIMARY too (CLUSTER_TYPE NONE)', own: agPrimary({ cluster_type_desc: 'NONE' }), partner: reached(agPrimary({ cluster_type_desc: 'NONE' })), pass: false, reason: 'replica PRIMARY): two servers claim' },
  { name: 'AG primary under WSFC; partner PRIMARY too', own: agPrimary({ cluster_type_desc: 'WSFC' }), partner: reached(agPrimary({ cluster_type_desc: 'WSFC' })), pass: false, reason: 'also claims' },
  { name: 'standalone; partner writable standalone copy (recovered)', own: standalone(), s: withPartner(standaloneOk), partner: reached(standalone()), pass: false, reason: 'database ONLINE, READ_WRITE, neither mirrored nor in an availability group): two servers' },
  { name: 'principal; partner a recovered writable copy', own: principal('DISCONNECTED'), partner: reached(standalone()), pass: false, reason: 'also claims' },
  // the partner answers and does not claim it
  { name: 'principal; partner MIRROR', own: principal('SYNCHRONIZED'), partner: reached(mirror()), pass: true, reason: 'mirroring PRINCIPAL, SYNCHRONIZED; database ONLINE, READ_WRITE; partner sqlb:1433: mirroring MIRROR' },
  { name: 'principal DISCONNECTED; partner MIRROR (the mirror is back, not forced)', own: principal('DISCONNECTED'), partner: reached(mirror('DISCONNECTED')), pass: true, reason: 'partner sqlb:1433: mirroring MIRROR' },
  { name: 'principal; partner mirror hidden (RESTORING to a non-sysadmin)', own: principal('DISCONNECTED'), partner: reached(mirrorHidden()), pass: true, reason: 'database RESTORING' },
  { name: 'AG primary (NONE); partner SECONDARY', own: agPrimary({ cluster_type_desc: 'NONE' }), partner: reached(agSecondary({ cluster_type_desc: 'NONE' })), pass: true, reason: 'replica SECONDARY' },
  { name: 'AG primary; partner RESOLVING', own: agPrimary({ cluster_type_desc: 'NONE' }), partner: reached(agPrimary({ role_desc: 'RESOLVING' })), pass: true, reason: 'replica RESOLVING' },
  { name: 'standalone; partner READ_ONLY copy', own: standalone(), s: withPartner(standaloneOk), partner: reached(standalone({ is_read_only: true, updateability: 'READ_ONLY' })), pass: true, reason: 'READ_ONLY' },
  { name: 'standalone; partner OFFLINE copy', own: standalone(), s: withPartner(standaloneOk), partner: reached(standalone({ state_desc: 'OFFLINE' })), pass: true, reason: 'database OFFLINE' },
  // the partner cannot be asked: quorum decides
  { name: 'principal, witness CONNECTED; partner unreachable', own: principal('DISCONNECTED', WITNESS), partner: unreachable, pass: true, reason: 'partner sqlb:1433 cannot be asked (network error: connect ECONNREFUSED), but this server holds quorum (witness "TCP://witness.example:5022" CONNECTED)' },
  { name: 'principal SYNCHRONIZED, no witness; partner unreachable', own: principal('SYNCHRONIZED'), partner: unreachable, pass: false, reason: 'partner sqlb:1433 cannot be asked (network error: connect ECONNREFUSED), and database "Sales" has no witness or cluster that keeps the other server from being primary too' },
  { name: 'principal DISCONNECTED, no witness; partner unreachable', own: principal('DISCONNECTED'), partner: unreachable, pass: false, reason: 'no witness or cluster' },
  { name: 'AG primary WSFC, replica HEALTHY; partner unreachable', own: agPrimary({ cluster_type_desc: 'WSFC' }), partner: unreachable, pass: true, reason: 'holds quorum (availability group "ag1": WSFC cluster, replica HEALTHY)' },
  { name: 'AG primary EXTERNAL, replica HEALTHY; partner unreachable', own: agPrimary({ cluster_type_desc: 'EXTERNAL' }), partner: unreachable, pass: true, reason: 'EXTERNAL cluster, replica HEALTHY' },
  { name: 'AG primary 2012-2016 (WSFC); partner unreachable', own: agPrimary(), partner: unreachable, pass: true, reason: 'WSFC cluster' },
  { name: 'AG primary WSFC, replica NOT_HEALTHY; partner unreachable', own: agPrimary({ cluster_type_desc: 'WSFC', replica_synchronization_health_desc: 'NOT_HEALTHY' }), partner: unreachable, pass: false, reason: 'no witness or cluster' },
  { name: 'AG primary NONE; partner unreachable', own: agPrimary({ cluster_type_desc: 'NONE' }), partner: unreachable, pass: false, reason: 'no witness or cluster' },
  { name: 'AG primary, cluster type hidden; partner unreachable', own: agPrimary({ ag_name: null }), partner: unreachable, pass: false, reason: 'no witness or cluster' },
  { name: 'standalone; partner unreachable', own: standalone(), s: withPartner(standaloneOk), partner: unreachable, pass: false, reason: 'no witness or cluster' },
  // the partner answers, but not so that it can be judged: like unreachable
  { name: 'principal with witness; partner cannot see the database', own: principal('SYNCHRONIZED', WITNESS), partner: reached(noFacts('Sales', 1)), pass: true, reason: 'cannot be judged (database not found or not visible to the login), but this server holds quorum' },
  { name: 'principal, no witness; partner cannot see the database', own: principal('SYNCHRONIZED'), partner: reached(noFacts('Sales', 1)), pass: false, reason: 'cannot be judged' },
  { name: 'principal, no witness; partner mirroring role NULL', own: principal('DISCONNECTED'), partner: reached(principal('DISCONNECTED', { mirroring_role_desc: null })), pass: false, reason: 'mirroring role NULL' },
  { name: 'AG NONE; partner AG rows hidden', own: agPrimary({ cluster_type_desc: 'NONE' }), partner: reached(agHidden()), pass: false, reason: 'hidden' },
  { name: 'AG NONE; partner role NULL', own: agPrimary({ cluster_type_desc: 'NONE' }), partner: reached(agPrimary({ role_desc: null })), pass: false, reason: 'role NULL' },
  { name: 'standalone; partner RECOVERING copy', own: standalone(), s: withPartner(standaloneOk), partner: reached(standalone({ state_desc: 'RECOVERING' })), pass: false, reason: 'database "RECOVERING"' },
  { name: 'standalone; partner Updateability NULL', own: standalone(), s: withPartner(standaloneOk), partner: reached(standalone({ updateability: null })), pass: false, reason: 'Updateability is unknown' },
  { name: 'principal with witness; partner answer for another database', own: principal('SYNCHRONIZED', WITNESS), partner: reached({ ...mirror(), requested: 'Other' }), pass: true, reason: 'answered for' },
  { name: 'principal, no witness; partner answered for none', own: principal('SYNCHRONIZED'), partner: reached(), pass: false, reason: 'answered for 0 of 1 databases' },
  // a server that fails on its own fails, whatever the partner says
  { name: 'mirror; partner MIRROR too', own: mirror(), partner: reached(mirror()), pass: false, reason: 'MIRROR, not PRINCIPAL' },
  { name: 'principal witness lost; partner MIRROR', own: principal('DISCONNECTED', { ...WITNESS, mirroring_witness_state_desc: 'DISCONNECTED' }), partner: reached(mirror()), pass: false, reason: 'lost quorum' },
];

for (const r of partnerRows) {
  test(`partner: ${r.name} → ${r.pass ? 'pass' : 'fail'}`, () => {
    const own = decideRole([r.own], r.s ?? withPartner());
    const v = decidePartner(own, r.partner, 'sqlb:1433');
    assert.equal(v.pass, r.pass, `reason: ${v.reason}`);
    assert.equal(v.databases[0].pass, r.pass, `database reason: ${v.databases[0].reason}`);
    if (typeof r.reason === 'string') assert.ok(v.reason.includes(r.reason), `reason ${JSON.stringify(v.reason)} lacks ${JSON.stringify(r.reason)}`);
    else assert.match(v.reason, r.reason);
  });
}

test('partner: every database must be cleared; the one the partner claims fails, and names it', () => {
  const s = { ...withPartner(), databases: ['A', 'B'] };
  const named = (f: DatabaseFacts, n: string) => ({ ...f, requested: n, name: n });
  const own = decideRole([named(principal('SYNCHRONIZED', WITNESS), 'A'), named(principal('SYNCHRONIZED', WITNESS), 'B')], s);
  assert.equal(own.pass, true, own.reason);
  const v = decidePartner(own, reached(named(mirror(), 'A'), named(principal('DISCONNECTED'), 'B')), 'sqlb:1433');
  assert.equal(v.pass, false);
  assert.match(v.reason, /also claims database "B"/);
  assert.deepEqual(v.databases.map((d) => d.pass), [true, false]);
  const ok = decidePartner(own, reached(named(mirror(), 'A'), named(mirror(), 'B')), 'sqlb:1433');
  assert.equal(ok.pass, true, ok.reason);
  assert.match(ok.reason, /claims none of them/);
});

// No pair of servers ever both passes for one database: every own × partner pair, each asking the other.
test('partner: of two servers asking each other, at most one passes, for every pair of situations', () => {
  const situations: Record<string, DatabaseFacts> = {
    'principal SYNCHRONIZED': principal(), 'principal DISCONNECTED': principal('DISCONNECTED'),
    'principal DISCONNECTED, witness CONNECTED': principal('DISCONNECTED', WITNESS),
    'principal DISCONNECTED, witness DISCONNECTED': principal('DISCONNECTED', { ...WITNESS, mirroring_witness_state_desc: 'DISCONNECTED' }),
    mirror: mirror(), 'mirror hidden': mirrorHidden(), standalone: standalone(), 'read-only copy': standalone({ is_read_only: true, updateability: 'READ_ONLY' }),
    'AG primary NONE': agPrimary({ cluster_type_desc: 'NONE' }), 'AG primary WSFC': agPrimary({ cluster_type_desc: 'WSFC' }),
    'AG secondary': agSecondary(), 'AG resolving': agPrimary({ role_desc: 'RESOLVING' }), missing: noFacts('Sales', 1),
  };
  let pairs = 0;
  for (const [an, a] of Object.entries(situations)) {
    for (const [bn, b] of Object.entries(situations)) {
      for (const extra of [{}, standaloneOk]) {
        const s = withPartner(extra);
        const va = decidePartner(decideRole([a], s), reached(b), 'b');
        const vb = decidePartner(decideRole([b], s), reached(a), 'a');
        assert.ok(!(va.pass && vb.pass), `${an} and ${bn} both pass: ${va.reason} | ${vb.reason}`);
        pairs++;
      }
    }
  }
  assert.equal(pairs, 13 * 13 * 2);
});

test('partnerClaims: PRINCIPAL, PRIMARY and a writable copy claim; MIRROR, SECONDARY, RESTORING, READ_ONLY do not', () => {
  assert.equal(partnerClaims(principal('SUSPENDED')).claims, true);
  assert.equal(partnerClaims(agPrimary()).claims, true);
  assert.equal(partnerClaims(standalone()).claims, true);
  assert.equal(partnerClaims(inDag('SECONDARY', { updateability: 'READ_ONLY' })).claims, false);
  assert.equal(partnerClaims(inDag('PRIMARY')).claims, true);
  assert.equal(partnerClaims(mirror()).claims, false);
  assert.equal(partnerClaims(agSecondary()).claims, false);
  assert.equal(partnerClaims(mirrorHidden()).claims, false);
  assert.equal(partnerClaims(noFacts('Sales', 0)).claims, null);
});
