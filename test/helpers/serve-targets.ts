// Targets of the daemon in every state a poll can leave them, for the table tests of src/serve/:
// facts as real servers report them (the shapes of test/verdict.test.ts), and the ways of having
// none (no poll yet, a failed poll, facts too old, the maintenance file).
import type { DatabaseFacts } from '../../src/facts.ts';
import { noFacts } from '../../src/facts.ts';
import type { Settings } from '../../src/settings.ts';
import type { Snapshot, Target } from '../../src/serve/state.ts';

export const NOW = 1_800_000_000_000;
export const MAX_AGE_MS = 3000;
export const DB = 'appdb';

export function standalone(over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return {
    ...noFacts(DB, 1),
    database_id: 5, name: DB, state_desc: 'ONLINE', is_read_only: false,
    user_access_desc: 'MULTI_USER', updateability: 'READ_WRITE', ...over,
  };
}
const MIRRORING = '7C3A3B4E-0000-4000-8000-000000000001';
export const WITNESS = { mirroring_witness_name: 'TCP://witness.example:5022', mirroring_witness_state_desc: 'CONNECTED' };
export function principal(state = 'SYNCHRONIZED', over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return standalone({ mirroring_guid: MIRRORING, mirroring_role_desc: 'PRINCIPAL', mirroring_state_desc: state, mirroring_safety_level_desc: 'FULL', ...over });
}
export function mirror(state = 'SYNCHRONIZED', over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return standalone({
    state_desc: 'RESTORING', is_read_only: null, updateability: null,
    mirroring_guid: MIRRORING, mirroring_role_desc: 'MIRROR', mirroring_state_desc: state, mirroring_safety_level_desc: 'FULL', ...over,
  });
}
export function agPrimary(cluster: string, over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return standalone({
    db_replica_id: '11111111-0000-4000-8000-000000000001', replica_id: '11111111-0000-4000-8000-000000000001',
    group_id: '22222222-0000-4000-8000-000000000001', ag_name: 'ag1',
    role_desc: 'PRIMARY', operational_state_desc: 'ONLINE', connected_state_desc: 'CONNECTED',
    replica_synchronization_health_desc: 'HEALTHY', database_state_desc: 'ONLINE',
    synchronization_state_desc: 'SYNCHRONIZED', synchronization_health_desc: 'HEALTHY', is_suspended: false,
    redo_queue_size: null, redo_rate: null, secondary_role_allow_connections_desc: 'READ_ONLY',
    availability_mode_desc: 'SYNCHRONOUS_COMMIT', cluster_type_desc: cluster, ...over,
  });
}
export function agSecondary(cluster: string, over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return agPrimary(cluster, { role_desc: 'SECONDARY', updateability: 'READ_ONLY', redo_queue_size: 0, redo_rate: 0, ...over });
}

export interface TargetSpec {
  /** the facts of its one database, or how it has none */
  facts?: DatabaseFacts | DatabaseFacts[];
  none?: 'never-polled' | 'poll-failed' | 'stale';
  maintenance?: boolean;
  settings?: Partial<Settings>;
}

export function settingsFor(over: Partial<Settings> = {}): Settings {
  return {
    host: '127.0.0.1', port: 1433, user: 'monitor', password: 'not-shown-anywhere', encrypt: 'off', trustServerCertificate: false,
    tlsMinVersion: '1.2', applicationName: 'mssql-role-check', timeoutMs: 5000, databases: [DB], role: 'primary',
    requireHa: true, allowStandalone: false, verbose: false, json: false, ...over,
  };
}

export function target(name: string, spec: TargetSpec): Target {
  const facts = spec.facts === undefined ? null : Array.isArray(spec.facts) ? spec.facts : [spec.facts];
  let snapshot: Snapshot;
  switch (spec.none) {
    case 'never-polled': snapshot = { facts: null, at: null, error: null, maintenance: null }; break;
    case 'poll-failed': snapshot = { facts: null, at: NOW - 100, error: { code: 'ESOCKET', message: 'connect ECONNREFUSED 127.0.0.1:1433' }, maintenance: null }; break;
    case 'stale': snapshot = { facts: facts ?? [principal()], at: NOW - MAX_AGE_MS - 1, error: null, maintenance: null }; break;
    default: snapshot = { facts, at: NOW - 100, error: null, maintenance: null };
  }
  if (spec.maintenance) snapshot.maintenance = 'maintenance (/run/mssql-role-check/drain exists)';
  return { name, settings: settingsFor(spec.settings), snapshot };
}
