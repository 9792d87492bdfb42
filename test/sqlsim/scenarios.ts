// Scenarios: one server's state as a data file (scenarios/*.json), completed the way a real server
// fills the catalog, and the changes tests and the control interface make to it (fail over a
// mirrored pair, take a database offline, make a replica RESOLVING).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DEFAULT_COLLATION, comparisonKey, sameName, scenarioCollation } from './collation.ts';
import { VIEWS, VIEW_BY_NAME, catalogLevel, type ViewSpec } from './schema.ts';
import type { Login, Scenario, Value } from './types.ts';

/** A value as stored in SQLite: bit → 0/1, datetime → 'YYYY-MM-DD hh:mm:ss.mmm', GUID → upper case. */
export type Stored = null | number | bigint | string | Uint8Array;
export type Row = Record<string, Stored>;

export interface ServerInfo {
  name: string;
  machineName: string;
  instanceName: string | null;
  productVersion: string;
  edition: string;
  /** SERVERPROPERTY('EngineEdition'): 2 Standard, 3 Enterprise/Developer, 4 Express, 8 Managed Instance */
  engineEdition: number;
  isHadrEnabled: boolean;
  /** which release's catalog the server shows (schema.ts catalogLevel) */
  level: number;
  /** the server collation, as sqlsim spells it (collation.ts) */
  collation: string;
}

/** A scenario completed with every column of every view, as the server shows it to a sysadmin. */
export interface Normalized {
  server: ServerInfo;
  logins: Login[];
  rows: Record<string, Row[]>;
}

const VIEW_KEYS = VIEWS.map((v) => v.name);
const SCENARIO_KEYS = new Set(['description', 'server', 'logins', ...VIEW_KEYS]);

export function loadScenario(path: string | URL): Scenario {
  const scenario = JSON.parse(readFileSync(path, 'utf8')) as Scenario;
  for (const key of Object.keys(scenario)) {
    if (!SCENARIO_KEYS.has(key)) throw new Error(`${String(path)}: unknown key '${key}'`);
  }
  return scenario;
}

/** A scenario file of scenarios/ by name, e.g. scenarioFile('principal'). */
export function scenarioFile(name: string): Scenario {
  return loadScenario(new URL(`./scenarios/${name}.json`, import.meta.url));
}

// --- value conversion ---------------------------------------------------------------------------

export function formatDatetime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** Parses the datetime strings SQL Server accepts in the ISO forms; null when it is not one. */
export function parseDatetime(s: string): Date | null {
  const m = /^\s*(\d{4})-?(\d{2})-?(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?\s*$/.exec(s);
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '0'] = m;
  const ms = Math.round(Number(`0.${frac}`) * 1000);
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms));
  return Number.isNaN(date.getTime()) || date.getUTCDate() !== Number(d) ? null : date;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A GUID derived from a seed, so generated ids are the same on every run. */
export function stableGuid(seed: string): string {
  const h = createHash('sha1').update(seed).digest('hex').toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function store(view: string, column: string, sqlType: string, v: Value): Stored {
  if (v === null || v === undefined) return null;
  const where = `sys.${view}.${column}`;
  const base = sqlType.replace(/\(.*$/, '');
  switch (base) {
    case 'bit':
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (v === 0 || v === 1) return v;
      break;
    case 'int': case 'smallint': case 'tinyint': case 'bigint':
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      if (typeof v === 'bigint') return v;
      break;
    case 'numeric': case 'float':
      if (typeof v === 'number' || typeof v === 'bigint') return v;
      if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v) <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : BigInt(v);
      break;
    case 'nvarchar': case 'varchar': case 'sysname':
      if (typeof v === 'string') return v;
      break;
    case 'uniqueidentifier':
      if (typeof v === 'string' && GUID.test(v)) return v.toUpperCase();
      break;
    case 'datetime':
      if (v instanceof Date) return formatDatetime(v);
      if (typeof v === 'string' && parseDatetime(v)) return formatDatetime(parseDatetime(v)!);
      break;
    case 'varbinary':
      if (v instanceof Uint8Array) return v;
      if (typeof v === 'string' && /^0x([0-9a-f]{2})*$/i.test(v)) return Buffer.from(v.slice(2), 'hex');
      break;
  }
  throw new Error(`scenario: ${where} (${sqlType}) cannot hold ${JSON.stringify(v)}`);
}

// --- completing rows ----------------------------------------------------------------------------

type Given = Record<string, Value>;

const lower = (s: unknown) => String(s).toLowerCase();

function checkColumns(spec: ViewSpec, row: Given): void {
  for (const key of Object.keys(row)) {
    if (!spec.columns.some((c) => c.name === key)) throw new Error(`scenario: sys.${spec.name} has no column '${key}'`);
  }
}

/** The description a row gives for a code column (from the *_desc or the code), upper case. */
function descOf(spec: ViewSpec, row: Given, code: string): string | null {
  const desc = row[`${code}_desc`];
  if (typeof desc === 'string') return desc.toUpperCase();
  const n = row[code];
  return typeof n === 'number' ? spec.codes[code][n] ?? null : null;
}

/**
 * Completes one row: the scenario's values, then `computed` (what this server derives), then the
 * documented defaults, NULL for the rest; each code column and its *_desc are made to agree.
 */
function complete(spec: ViewSpec, given: Given, computed: Given = {}): Row {
  checkColumns(spec, given);
  const merged: Given = {};
  for (const c of spec.columns) {
    if (c.name in given) merged[c.name] = given[c.name];
    else if (c.name in computed) merged[c.name] = computed[c.name];
    else merged[c.name] = c.default ?? null;
  }
  for (const [code, names] of Object.entries(spec.codes)) {
    const descCol = `${code}_desc`;
    const codeGiven = code in given || code in computed;
    const descGiven = descCol in given || descCol in computed;
    if (codeGiven && merged[code] !== null && !descGiven) {
      const desc = names[merged[code] as number];
      if (desc === undefined) throw new Error(`scenario: sys.${spec.name}.${code} = ${String(merged[code])} is not a documented value`);
      merged[descCol] = desc;
    } else if (merged[descCol] !== null && !codeGiven) {
      const desc = String(merged[descCol]).toUpperCase();
      const entry = Object.entries(names).find(([, d]) => d === desc);
      if (!entry) throw new Error(`scenario: sys.${spec.name}.${descCol} = '${desc}' is not a documented value`);
      merged[descCol] = desc;
      merged[code] = Number(entry[0]);
    } else if (merged[descCol] === null && !codeGiven) {
      merged[code] = null;
    } else if (merged[code] !== null && names[merged[code] as number] !== String(merged[descCol]).toUpperCase()) {
      throw new Error(`scenario: sys.${spec.name}.${code} and ${descCol} disagree`);
    }
  }
  const row: Row = {};
  for (const c of spec.columns) row[c.name] = store(spec.name, c.name, c.sqlType, merged[c.name]);
  return row;
}

/** Sets a code column and its description from a description. */
function setDesc(spec: ViewSpec, row: Row, code: string, desc: string | null): void {
  row[`${code}_desc`] = desc;
  const entry = desc === null ? undefined : Object.entries(spec.codes[code]).find(([, d]) => d === desc);
  row[code] = entry ? Number(entry[0]) : null;
}

const SYSTEM_DATABASES: Given[] = [
  { name: 'master', database_id: 1, recovery_model_desc: 'SIMPLE', is_db_chaining_on: 1, is_query_store_on: 0 },
  { name: 'tempdb', database_id: 2, recovery_model_desc: 'SIMPLE', is_db_chaining_on: 1, is_broker_enabled: 1, is_query_store_on: 0 },
  { name: 'model', database_id: 3, recovery_model_desc: 'FULL', is_query_store_on: 0 },
  { name: 'msdb', database_id: 4, recovery_model_desc: 'SIMPLE', is_broker_enabled: 1, is_trustworthy_on: 1, is_query_store_on: 0 },
];

const HEALTH_RANK = ['NOT_HEALTHY', 'PARTIALLY_HEALTHY', 'HEALTHY'];
const SA_SID = new Uint8Array([1]);

/** Completes a scenario into the rows a sysadmin sees in every view. */
export function normalize(scenario: Scenario): Normalized {
  const spec = (name: string) => VIEW_BY_NAME.get(name)!;
  const serverName = scenario.server.name;
  const [machineName, namedInstance] = serverName.split('\\');
  const isLocalServer = (name: Value) => typeof name === 'string' && lower(name) === lower(serverName);
  // Setup's collation "becomes the default collation of the system databases and all user
  // databases", and database names are instance-level identifiers in it (collation.ts)
  const collation = scenarioCollation(scenario.server.collation ?? DEFAULT_COLLATION, 'server.collation');
  const sameDb = (a: Value, b: string) => typeof a === 'string' && sameName(a, b, collation);

  // sys.databases (the AG columns are filled at the end)
  const givenDbs = [
    ...SYSTEM_DATABASES.filter((sys) => !scenario.databases.some((d) => sameDb(d.name, sys.name as string)))
      .map((sys) => ({ name: sys.name, database_id: sys.database_id })),
    ...scenario.databases.map((d) => ({ ...d })),
  ];
  let nextId = Math.max(4, ...givenDbs.map((d) => (typeof d.database_id === 'number' ? d.database_id : 0))) + 1;
  const databases = givenDbs.map((given) => {
    if (typeof given.name !== 'string' || given.name === '') throw new Error('scenario: every database needs a name');
    if (given.database_id === undefined) given.database_id = nextId++;
    const system = SYSTEM_DATABASES.find((s) => sameDb(given.name, s.name as string)) ?? {};
    const { name: _n, database_id: _i, ...systemDefaults } = system;
    const row = complete(spec('databases'), given, {
      ...systemDefaults,
      owner_sid: SA_SID,
      service_broker_guid: stableGuid(`broker:${serverName}:${given.name}`),
      physical_database_name: given.name,
    });
    // a database's own collation, else the server's; "NULL = Database is not online" (sys.databases)
    if (!('collation_name' in given)) {
      row.collation_name = collation.name;
    } else if (row.collation_name !== null) {
      const own = scenarioCollation(row.collation_name, `sys.databases.collation_name of '${given.name}'`);
      if ('name' in system && own.name !== collation.name) {
        throw new Error(`scenario: the system database ${given.name} has the server collation ${collation.name}, not ${own.name}`);
      }
      row.collation_name = own.name;
    }
    if (row.state_desc !== 'ONLINE') row.collation_name = null;
    return row;
  });
  // one name under the server collation is one database (CREATE DATABASE refuses a second)
  const seen = new Set<string>();
  for (const d of databases) {
    const key = comparisonKey(String(d.name), collation);
    if (seen.has(key) || databases.filter((x) => x.database_id === d.database_id).length > 1) {
      throw new Error(`scenario: database '${String(d.name)}' or its id ${String(d.database_id)} appears twice`);
    }
    seen.add(key);
  }
  const dbById = new Map(databases.map((d) => [d.database_id, d]));
  const dbOf = (id: Value, where: string) => {
    const d = dbById.get(id as number);
    if (!d) throw new Error(`scenario: ${where} names database_id ${String(id)}, which is not in databases`);
    return d;
  };

  // sys.database_mirroring: a row for every database, mirroring columns NULL when not mirrored
  const mirrored = new Map<Stored, Given>();
  for (const m of scenario.database_mirroring ?? []) {
    dbOf(m.database_id, 'database_mirroring');
    if (descOf(spec('database_mirroring'), m, 'mirroring_role') === null) {
      throw new Error(`scenario: database_mirroring row for database_id ${String(m.database_id)} needs mirroring_role_desc`);
    }
    // sys.database_mirroring: "mirroring_witness_name: Server name of the database mirroring witness.
    // NULL = No witness exists"; its state says whether this partner reaches it. A scenario that
    // names a witness says in which state, since that decides a principal's quorum ("Quorum: How a
    // Witness Affects Database Availability (Database Mirroring)"); without one the page is silent
    // on the state, and sqlsim shows UNKNOWN, the value that claims nothing.
    const witness = m.mirroring_witness_name !== undefined && m.mirroring_witness_name !== null && m.mirroring_witness_name !== '';
    if (witness && descOf(spec('database_mirroring'), m, 'mirroring_witness_state') === null) {
      throw new Error(`scenario: database_mirroring row for database_id ${String(m.database_id)} names a witness, so it needs mirroring_witness_state_desc`);
    }
    mirrored.set(m.database_id as number, m);
  }
  const mirroring = databases.map((d) => {
    const given = mirrored.get(d.database_id);
    if (!given) return complete(spec('database_mirroring'), { database_id: d.database_id as number });
    return complete(spec('database_mirroring'), given, {
      mirroring_guid: stableGuid(`mirroring:${String(d.name)}`),
      mirroring_state_desc: 'SYNCHRONIZED',
      mirroring_role_sequence: 1,
      mirroring_safety_level_desc: 'FULL',
      mirroring_safety_sequence: 1,
      mirroring_connection_timeout: 10,
      mirroring_redo_queue_type: 'UNLIMITED',
      mirroring_witness_state_desc: 'UNKNOWN',
    });
  });

  // availability groups and replicas (cluster metadata: the same on every replica)
  const groups = (scenario.availability_groups ?? []).map((g, k) => {
    if (typeof g.group_id !== 'string') throw new Error('scenario: availability_groups rows need group_id');
    return complete(spec('availability_groups'), g, { name: `AG${k + 1}`, resource_id: stableGuid(`res:${g.group_id}`), resource_group_id: stableGuid(`rg:${g.group_id}`) });
  });
  // A distributed availability group's replicas are availability groups: its sys.availability_replicas
  // rows name them in replica_server_name ("Distributed availability groups", Microsoft Learn; "the
  // replica_server_name ... is the name of the availability group" for a distributed group), and
  // this server's replica of it is the group this server is a replica of.
  const localGroupNames = new Set((scenario.availability_groups ?? [])
    .filter((g) => (scenario.availability_replicas ?? []).some((r) => lower(r.group_id) === lower(g.group_id) && isLocalServer(r.replica_server_name)))
    .map((g) => lower(g.name)));
  const isDistributed = (groupId: Value) => (scenario.availability_groups ?? []).some((g) => lower(g.group_id) === lower(groupId) && (g.is_distributed === true || g.is_distributed === 1));
  const isLocalReplica = (r: Given) => isLocalServer(r.replica_server_name) ||
    (isDistributed(r.group_id) && localGroupNames.has(lower(r.replica_server_name)));
  const replicaGiven = new Map<string, Given>();
  const replicas = (scenario.availability_replicas ?? []).map((r, k) => {
    if (typeof r.replica_id !== 'string' || typeof r.group_id !== 'string' || typeof r.replica_server_name !== 'string') {
      throw new Error('scenario: availability_replicas rows need replica_id, group_id and replica_server_name');
    }
    replicaGiven.set(lower(r.replica_id), r);
    const local = isLocalReplica(r);
    return complete(spec('availability_replicas'), r, {
      replica_metadata_id: local ? 65536 + k : null,
      endpoint_url: `TCP://${r.replica_server_name.split('\\')[0].toLowerCase()}.example:5022`,
      owner_sid: local ? SA_SID : null,
      ...(local ? {} : { create_date: null, modify_date: null }),
    });
  });
  const replicaById = new Map(replicas.map((r) => [lower(r.replica_id), r]));
  const replicaOf = (id: Value, where: string) => {
    const r = replicaById.get(lower(id));
    if (!r) throw new Error(`scenario: ${where} names replica_id ${String(id)}, which is not in availability_replicas`);
    return r;
  };

  // role of each replica as this server sees it (from the replica-states rows)
  const stateGiven = scenario.dm_hadr_availability_replica_states ?? [];
  const roleOf = new Map<string, string | null>();
  for (const s of stateGiven) {
    replicaOf(s.replica_id, 'dm_hadr_availability_replica_states');
    const role = descOf(spec('dm_hadr_availability_replica_states'), s, 'role');
    if (role === null) throw new Error('scenario: dm_hadr_availability_replica_states rows need role_desc');
    roleOf.set(lower(s.replica_id), role);
  }

  // sys.dm_hadr_database_replica_states
  const dbStates = (scenario.dm_hadr_database_replica_states ?? []).map((g) => {
    const db = dbOf(g.database_id, 'dm_hadr_database_replica_states');
    const replica = replicaOf(g.replica_id, 'dm_hadr_database_replica_states');
    const local = isLocalReplica(replica as Given);
    const primary = roleOf.get(lower(replica.replica_id)) === 'PRIMARY';
    const sync = replica.availability_mode_desc === 'SYNCHRONOUS_COMMIT';
    const row = complete(spec('dm_hadr_database_replica_states'), g, {
      group_id: replica.group_id as string,
      group_database_id: stableGuid(`gdb:${String(replica.group_id)}:${lower(db.name)}`),
      is_local: local ? 1 : 0,
      is_primary_replica: primary ? 1 : 0,
      synchronization_state_desc: primary || sync ? 'SYNCHRONIZED' : 'SYNCHRONIZING',
      database_state_desc: local ? db.state_desc as string : null,
      // Filled on the primary for each remote secondary; NULL on a secondary's own (is_local = 1)
      // row, as real secondaries show it (the page describes the column from the primary's side
      // only and is silent on the secondary's own row: NULL, the side on which --max-lag fails).
      secondary_lag_seconds: primary || local ? null : 0,
    });
    if (local && !primary && g.secondary_lag_seconds !== undefined && g.secondary_lag_seconds !== null) {
      throw new Error('scenario: secondary_lag_seconds on a secondary\'s own row is NULL on a real server; give redo_queue_size / redo_rate');
    }
    if (!('is_commit_participant' in g)) row.is_commit_participant = sync && row.synchronization_state_desc === 'SYNCHRONIZED' ? 1 : 0;
    if (!('synchronization_health' in g) && !('synchronization_health_desc' in g)) {
      const state = row.synchronization_state_desc;
      const health = state === 'SYNCHRONIZED' ? 'HEALTHY' : state === 'SYNCHRONIZING' ? (sync ? 'PARTIALLY_HEALTHY' : 'HEALTHY') : 'NOT_HEALTHY';
      setDesc(spec('dm_hadr_database_replica_states'), row, 'synchronization_health', health);
    }
    return row;
  });

  // sys.dm_hadr_availability_replica_states, with the rollups of its databases
  const replicaStates = stateGiven.map((g) => {
    const replica = replicaOf(g.replica_id, 'dm_hadr_availability_replica_states');
    const local = isLocalReplica(replica as Given);
    const mine = dbStates.filter((d) => lower(d.replica_id) === lower(replica.replica_id));
    const worst = Math.min(2, ...mine.map((d) => d.synchronization_health as number));
    return complete(spec('dm_hadr_availability_replica_states'), g, {
      group_id: replica.group_id as string,
      is_local: local ? 1 : 0,
      operational_state_desc: local ? 'ONLINE' : null,
      recovery_health_desc: local ? (mine.every((d) => d.database_state_desc === 'ONLINE') ? 'ONLINE' : 'ONLINE_IN_PROGRESS') : null,
      synchronization_health_desc: HEALTH_RANK[worst],
    });
  });

  // sys.dm_hadr_availability_group_states: one row per group with a local replica
  const groupStateGiven = scenario.dm_hadr_availability_group_states ??
    groups.filter((g) => replicaStates.some((s) => s.is_local === 1 && s.group_id === g.group_id)).map((g) => ({ group_id: g.group_id as string }));
  const groupStates = groupStateGiven.map((g) => {
    const states = replicaStates.filter((s) => lower(s.group_id) === lower(g.group_id));
    const primary = states.find((s) => s.role_desc === 'PRIMARY');
    const local = states.find((s) => s.is_local === 1);
    const healthy = states.filter((s) => s.synchronization_health_desc === 'HEALTHY').length;
    return complete(spec('dm_hadr_availability_group_states'), g, {
      primary_replica: primary ? replicaOf(primary.replica_id, 'dm_hadr_availability_group_states').replica_server_name as string : null,
      primary_recovery_health_desc: local?.role_desc === 'PRIMARY' ? local.recovery_health_desc as string : null,
      secondary_recovery_health_desc: local?.role_desc === 'SECONDARY' ? local.recovery_health_desc as string : null,
      synchronization_health_desc: healthy === states.length ? 'HEALTHY' : healthy === 0 ? 'NOT_HEALTHY' : 'PARTIALLY_HEALTHY',
    });
  });

  // sys.databases: the local replica of an availability database
  for (const d of databases) {
    const given = givenDbs.find((g) => g.database_id === d.database_id)!;
    const hadr = dbStates.find((s) => s.is_local === 1 && s.database_id === d.database_id);
    if (hadr && !('replica_id' in given)) d.replica_id = hadr.replica_id;
    if (hadr && !('group_database_id' in given)) d.group_database_id = hadr.group_database_id;
  }

  const productVersion = scenario.server.productVersion ?? '16.0.4165.4';
  const engineEdition = scenario.server.engineEdition ?? 3;
  const level = catalogLevel(productVersion, engineEdition);
  if (level < 11 && (groups.length > 0 || scenario.server.isHadrEnabled)) {
    throw new Error(`scenario: SQL Server ${productVersion} has no availability groups (they came with 2012, 11.x)`);
  }
  return {
    server: {
      name: serverName,
      machineName,
      instanceName: scenario.server.instanceName !== undefined ? scenario.server.instanceName : namedInstance ?? null,
      productVersion,
      edition: scenario.server.edition ?? (engineEdition === 8 ? 'SQL Azure' : 'Developer Edition (64-bit)'),
      engineEdition,
      isHadrEnabled: scenario.server.isHadrEnabled ?? groups.length > 0,
      level,
      collation: collation.name,
    },
    logins: scenario.logins,
    rows: {
      databases,
      database_mirroring: mirroring,
      availability_groups: groups,
      availability_replicas: replicas,
      dm_hadr_availability_replica_states: replicaStates,
      dm_hadr_database_replica_states: dbStates,
      dm_hadr_availability_group_states: groupStates,
    },
  };
}

// --- scenario changes ---------------------------------------------------------------------------

const clone = (s: Scenario): Scenario => structuredClone(s);

function databaseRow(s: Scenario, database: string): Given {
  const row = s.databases.find((d) => lower(d.name) === lower(database));
  if (!row) throw new Error(`scenario ${s.server.name}: no database '${database}'`);
  return row;
}

/**
 * Fails a mirrored pair over: every database mirrored on both servers swaps roles (the new mirror's
 * copy becomes RESTORING, the new principal's ONLINE). Returns the two scenarios in the order given,
 * so `const [a, b] = failover(a0, b0)` keeps each server's place.
 */
export function failover(principal: Scenario, mirror: Scenario): [Scenario, Scenario] {
  const out = [clone(principal), clone(mirror)] as [Scenario, Scenario];
  const names = out.map((s) => new Set((s.database_mirroring ?? []).map((m) => {
    const db = s.databases.find((d) => d.database_id === m.database_id);
    return lower(db?.name);
  })));
  for (const s of out) {
    for (const m of s.database_mirroring ?? []) {
      const db = s.databases.find((d) => d.database_id === m.database_id);
      if (!db || !names.every((n) => n.has(lower(db.name)))) continue;
      const role = descOf(VIEW_BY_NAME.get('database_mirroring')!, m, 'mirroring_role');
      const next = role === 'PRINCIPAL' ? 'MIRROR' : 'PRINCIPAL';
      m.mirroring_role_desc = next;
      delete m.mirroring_role;
      m.mirroring_role_sequence = (typeof m.mirroring_role_sequence === 'number' ? m.mirroring_role_sequence : 1) + 1;
      db.state_desc = next === 'PRINCIPAL' ? 'ONLINE' : 'RESTORING';
      delete db.state;
    }
  }
  return out;
}

/** Sets a database's state (ONLINE, OFFLINE, RESTORING, SUSPECT …), in sys.databases and its AG rows. */
export function setDatabaseState(s: Scenario, database: string, stateDesc: string): Scenario {
  const out = clone(s);
  const db = databaseRow(out, database);
  db.state_desc = stateDesc.toUpperCase();
  delete db.state;
  for (const r of out.dm_hadr_database_replica_states ?? []) {
    if (r.database_id === db.database_id && 'database_state_desc' in r) { r.database_state_desc = stateDesc.toUpperCase(); delete r.database_state; }
  }
  return out;
}

/** Sets the mirroring state (SYNCHRONIZED, SUSPENDED, DISCONNECTED …) of a mirrored database. */
export function setMirroringState(s: Scenario, database: string, stateDesc: string): Scenario {
  const out = clone(s);
  const db = databaseRow(out, database);
  const m = (out.database_mirroring ?? []).find((x) => x.database_id === db.database_id);
  if (!m) throw new Error(`scenario ${s.server.name}: database '${database}' is not mirrored`);
  m.mirroring_state_desc = stateDesc.toUpperCase();
  delete m.mirroring_state;
  return out;
}

/** Sets the role of this server's replica (PRIMARY, SECONDARY, RESOLVING) in every local AG row. */
export function setReplicaRole(s: Scenario, roleDesc: string): Scenario {
  const out = clone(s);
  const role = roleDesc.toUpperCase();
  const local = new Set<string>();
  for (const r of out.availability_replicas ?? []) {
    if (lower(r.replica_server_name) === lower(out.server.name)) local.add(lower(r.replica_id));
  }
  for (const r of out.dm_hadr_availability_replica_states ?? []) {
    if (!local.has(lower(r.replica_id))) continue;
    r.role_desc = role;
    delete r.role;
  }
  for (const r of out.dm_hadr_database_replica_states ?? []) {
    if (!local.has(lower(r.replica_id))) continue;
    r.is_primary_replica = role === 'PRIMARY';
  }
  for (const g of out.dm_hadr_availability_group_states ?? []) {
    if (role !== 'SECONDARY') delete g.primary_replica;
    for (const k of ['primary_recovery_health', 'primary_recovery_health_desc', 'secondary_recovery_health', 'secondary_recovery_health_desc']) delete g[k];
  }
  return out;
}
