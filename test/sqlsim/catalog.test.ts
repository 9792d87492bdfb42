// sqlsim's query engine: catalog rows and types, joins, permissions, SQL Server's errors, the
// T-SQL translation, scenario changes and speed.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Catalog, failover, scenarioFile, setDatabaseState, setMirroringState, setReplicaRole } from './catalog.ts';
import { normalize } from './scenarios.ts';
import { SqlError, SqlErrors, type Login, type ResultSet, type Scenario, type Session, type Value } from './types.ts';

const SCENARIOS = ['principal', 'mirror', 'ag-primary', 'ag-secondary-sync', 'ag-secondary-async', 'standalone'];

function session(s: Scenario, login: string, database = 'master'): Session {
  const l = s.logins.find((x) => x.name === login);
  assert.ok(l, `no login ${login}`);
  return { login: l, database };
}

/** Runs a batch that must produce exactly one result set. */
function query(c: Catalog, sql: string, params: Record<string, Value> = {}, login = 'sa', database = 'master'): ResultSet {
  const results = c.execute(sql, params, session(c.scenario, login, database));
  assert.equal(results.length, 1, 'one result set');
  const r = results[0];
  assert.ok('columns' in r, 'a result set, not a row count');
  return r;
}

/** Rows as objects keyed by column name. */
function objects(r: ResultSet): Record<string, Value>[] {
  return r.rows.map((row) => Object.fromEntries(r.columns.map((c, k) => [c.name, row[k]])));
}

function catalog(name: string): Catalog {
  return new Catalog(scenarioFile(name));
}

// The facts a role check needs, for every HA kind, in one parameterised query.
const FACTS_SQL = `
SELECT d.name, d.database_id, d.state_desc, d.is_read_only,
       m.mirroring_role_desc, m.mirroring_state_desc,
       ars.role_desc AS ag_role, ars.operational_state_desc,
       drs.synchronization_state_desc, drs.synchronization_health_desc, drs.secondary_lag_seconds,
       ar.availability_mode_desc, ar.secondary_role_allow_connections_desc
FROM sys.databases AS d
LEFT JOIN sys.database_mirroring AS m ON m.database_id = d.database_id
LEFT JOIN sys.dm_hadr_database_replica_states AS drs ON drs.database_id = d.database_id AND drs.is_local = 1
LEFT JOIN sys.availability_replicas AS ar ON ar.replica_id = drs.replica_id
LEFT JOIN sys.dm_hadr_availability_replica_states AS ars ON ars.replica_id = drs.replica_id AND ars.group_id = drs.group_id
WHERE d.name IN (@d0, @d1)
ORDER BY d.name;`;

describe('scenario files', () => {
  for (const name of SCENARIOS) {
    test(`${name}.json loads, with the logins the tests use`, () => {
      const s = scenarioFile(name);
      const n = normalize(s);
      assert.deepEqual(s.logins.map((l: Login) => l.name), ['sa', 'monitor', 'monitor_full', 'nobody']);
      // sys.database_mirroring has a row for every database, like a real server
      assert.equal(n.rows.database_mirroring.length, n.rows.databases.length);
      assert.deepEqual(n.rows.databases.slice(0, 4).map((d) => d.name), ['master', 'tempdb', 'model', 'msdb']);
    });
  }

  const bad: [string, (s: Scenario) => void, RegExp][] = [
    ['a misspelt column', (s) => { s.databases[0].stat_desc = 'ONLINE'; }, /sys\.databases has no column 'stat_desc'/],
    ['an undocumented state', (s) => { s.databases[0].state_desc = 'SLEEPING'; }, /state_desc = 'SLEEPING' is not a documented value/],
    ['a code that disagrees with its description', (s) => { s.databases[0].state = 6; }, /state and state_desc disagree/],
    ['a mirroring row for a missing database', (s) => { s.database_mirroring![0].database_id = 99; }, /database_id 99/],
    ['a mirroring row without a role', (s) => { delete s.database_mirroring![0].mirroring_role_desc; }, /needs mirroring_role_desc/],
    ['a GUID that is not one', (s) => { s.database_mirroring![0].mirroring_guid = 'xyz'; }, /cannot hold "xyz"/],
    ['two databases with one name', (s) => { s.databases.push({ name: 'APPDB' }); }, /appears twice/],
  ];
  for (const [what, change, message] of bad) {
    test(`a scenario with ${what} is refused`, () => {
      const s = scenarioFile('principal');
      change(s);
      assert.throws(() => new Catalog(s), message);
    });
  }
});

describe('catalog views answer with the scenario rows and SQL Server types', () => {
  const cases: { scenario: string; sql: string; params?: Record<string, Value>; columns: [string, string, number?][]; rows: Value[][] }[] = [
    {
      scenario: 'principal',
      sql: 'SELECT name, database_id, state_desc, state, is_read_only, user_access_desc, recovery_model_desc, compatibility_level, create_date FROM sys.databases WHERE name = @n',
      params: { '@n': 'appdb' },
      columns: [['name', 'nvarchar', 128], ['database_id', 'int'], ['state_desc', 'nvarchar', 60], ['state', 'tinyint'], ['is_read_only', 'bit'],
        ['user_access_desc', 'nvarchar', 60], ['recovery_model_desc', 'nvarchar', 60], ['compatibility_level', 'tinyint'], ['create_date', 'datetime']],
      rows: [['appdb', 5, 'ONLINE', 0, false, 'MULTI_USER', 'FULL', 160, new Date(Date.UTC(2024, 0, 15, 9, 30))]],
    },
    {
      scenario: 'principal',
      sql: 'SELECT owner_sid, service_broker_guid, replica_id FROM sys.databases WHERE database_id = 1',
      columns: [['owner_sid', 'varbinary', 85], ['service_broker_guid', 'uniqueidentifier'], ['replica_id', 'uniqueidentifier']],
      rows: [[new Uint8Array([1]), normalize(scenarioFile('principal')).rows.databases[0].service_broker_guid as string, null]],
    },
    {
      scenario: 'mirror',
      sql: `SELECT d.name, d.state_desc, m.mirroring_role_desc, m.mirroring_role, m.mirroring_state_desc, m.mirroring_partner_instance,
              m.mirroring_safety_level_desc, m.mirroring_witness_name, m.mirroring_failover_lsn
            FROM sys.databases d JOIN sys.database_mirroring m ON m.database_id = d.database_id WHERE d.name = N'appdb'`,
      columns: [['name', 'nvarchar', 128], ['state_desc', 'nvarchar', 60], ['mirroring_role_desc', 'nvarchar', 60], ['mirroring_role', 'tinyint'],
        ['mirroring_state_desc', 'nvarchar', 60], ['mirroring_partner_instance', 'nvarchar', 128], ['mirroring_safety_level_desc', 'nvarchar', 60],
        ['mirroring_witness_name', 'nvarchar', 128], ['mirroring_failover_lsn', 'numeric']],
      rows: [['appdb', 'RESTORING', 'MIRROR', 2, 'SYNCHRONIZED', 'SQLA', 'FULL', null, null]],
    },
    {
      // every database has a row; not mirrored → NULL mirroring columns
      scenario: 'principal',
      sql: `SELECT d.name, m.mirroring_guid, m.mirroring_role_desc FROM sys.databases d JOIN sys.database_mirroring m ON m.database_id = d.database_id
            WHERE d.name IN ('master', 'reports') ORDER BY d.database_id`,
      columns: [['name', 'nvarchar', 128], ['mirroring_guid', 'uniqueidentifier'], ['mirroring_role_desc', 'nvarchar', 60]],
      rows: [['master', null, null], ['reports', null, null]],
    },
    {
      scenario: 'ag-primary',
      sql: `SELECT ar.replica_server_name, ars.is_local, ars.role_desc, ars.operational_state_desc, ars.synchronization_health_desc, ar.availability_mode_desc
            FROM sys.dm_hadr_availability_replica_states ars JOIN sys.availability_replicas ar ON ar.replica_id = ars.replica_id
            ORDER BY ar.replica_server_name`,
      columns: [['replica_server_name', 'nvarchar', 256], ['is_local', 'bit'], ['role_desc', 'nvarchar', 60], ['operational_state_desc', 'nvarchar', 60],
        ['synchronization_health_desc', 'nvarchar', 60], ['availability_mode_desc', 'nvarchar', 60]],
      rows: [
        ['SQLAG1', true, 'PRIMARY', 'ONLINE', 'HEALTHY', 'SYNCHRONOUS_COMMIT'],
        ['SQLAG2', false, 'SECONDARY', null, 'HEALTHY', 'SYNCHRONOUS_COMMIT'],
        ['SQLAG3', false, 'SECONDARY', null, 'HEALTHY', 'ASYNCHRONOUS_COMMIT'],
      ],
    },
    {
      scenario: 'ag-secondary-async',
      sql: `SELECT database_id, is_local, is_primary_replica, synchronization_state_desc, synchronization_health_desc, database_state_desc,
              is_suspended, secondary_lag_seconds, log_send_queue_size, redo_queue_size, last_commit_time, last_hardened_lsn
            FROM sys.dm_hadr_database_replica_states`,
      columns: [['database_id', 'int'], ['is_local', 'bit'], ['is_primary_replica', 'bit'], ['synchronization_state_desc', 'nvarchar', 60],
        ['synchronization_health_desc', 'nvarchar', 60], ['database_state_desc', 'nvarchar', 60], ['is_suspended', 'bit'], ['secondary_lag_seconds', 'bigint'],
        ['log_send_queue_size', 'bigint'], ['redo_queue_size', 'bigint'], ['last_commit_time', 'datetime'], ['last_hardened_lsn', 'numeric']],
      rows: [[5, true, false, 'SYNCHRONIZING', 'HEALTHY', 'ONLINE', false, null, 52000, 18000, new Date(Date.UTC(2024, 5, 1, 11)), null]],
    },
    {
      scenario: 'ag-secondary-sync',
      sql: `SELECT g.name, g.cluster_type_desc, gs.primary_replica, gs.primary_recovery_health_desc, gs.secondary_recovery_health_desc, gs.synchronization_health_desc
            FROM sys.availability_groups g JOIN sys.dm_hadr_availability_group_states gs ON gs.group_id = g.group_id`,
      columns: [['name', 'nvarchar', 128], ['cluster_type_desc', 'nvarchar', 60], ['primary_replica', 'varchar', 128],
        ['primary_recovery_health_desc', 'nvarchar', 60], ['secondary_recovery_health_desc', 'nvarchar', 60], ['synchronization_health_desc', 'nvarchar', 60]],
      rows: [['ag1', 'NONE', 'SQLAG1', null, 'ONLINE', 'HEALTHY']],
    },
    {
      // the HADR DMVs only have rows for availability-group databases and replicas
      scenario: 'principal',
      sql: `SELECT (SELECT COUNT(*) FROM sys.dm_hadr_database_replica_states) AS dbs, (SELECT COUNT(*) FROM sys.dm_hadr_availability_replica_states) AS replicas,
              (SELECT COUNT(*) FROM sys.availability_groups) AS groups`,
      columns: [['dbs', 'int'], ['replicas', 'int'], ['groups', 'int']],
      rows: [[0, 0, 0]],
    },
    {
      scenario: 'standalone',
      sql: `SELECT DATABASEPROPERTYEX(@db, 'Status') AS status, DATABASEPROPERTYEX(@db, 'Updateability') AS upd,
              DATABASEPROPERTYEX(@db, 'UserAccess') AS ua, DATABASEPROPERTYEX(@db, 'Recovery') AS rec, DATABASEPROPERTYEX('archive', 'Updateability') AS arch,
              DATABASEPROPERTYEX('nosuchdb', 'Status') AS missing, DATABASEPROPERTYEX(@db, 'NoSuchProperty') AS badprop`,
      params: { db: 'salesdb' },
      columns: [['status', 'sql_variant'], ['upd', 'sql_variant'], ['ua', 'sql_variant'], ['rec', 'sql_variant'], ['arch', 'sql_variant'], ['missing', 'sql_variant'], ['badprop', 'sql_variant']],
      rows: [['ONLINE', 'READ_WRITE', 'MULTI_USER', 'FULL', 'READ_ONLY', null, null]],
    },
    {
      scenario: 'ag-secondary-sync',
      sql: `SELECT @@SERVERNAME AS sn, SERVERPROPERTY('ServerName') AS pn, SERVERPROPERTY('IsHadrEnabled') AS hadr, SERVERPROPERTY('InstanceName') AS inst,
              SERVERPROPERTY('MachineName') AS machine, SERVERPROPERTY('ProductVersion') AS ver, SERVERPROPERTY('Edition') AS ed,
              DB_ID('agdb') AS id, DB_NAME(5) AS n, DB_NAME() AS cur, sys.fn_hadr_is_primary_replica('agdb') AS isprim`,
      columns: [['sn', 'nvarchar', 128], ['pn', 'sql_variant'], ['hadr', 'sql_variant'], ['inst', 'sql_variant'], ['machine', 'sql_variant'],
        ['ver', 'sql_variant'], ['ed', 'sql_variant'], ['id', 'int'], ['n', 'nvarchar', 128], ['cur', 'nvarchar', 128], ['isprim', 'bit']],
      rows: [['SQLAG2', 'SQLAG2', 1, null, 'SQLAG2', '16.0.4165.4', 'Developer Edition (64-bit)', 5, 'agdb', 'master', false]],
    },
  ];
  for (const c of cases) {
    test(`${c.scenario}: ${c.sql.replace(/\s+/g, ' ').slice(0, 90)}`, () => {
      const r = query(catalog(c.scenario), c.sql, c.params);
      assert.deepEqual(r.columns.map((x) => [x.name, x.type, ...(x.type.endsWith('char') || x.type === 'varbinary' ? [x.length] : [])]), c.columns);
      assert.deepEqual(r.rows, c.rows);
    });
  }

  test('numeric(25,0) LSN columns carry precision and scale', () => {
    const r = query(catalog('ag-primary'), 'SELECT last_hardened_lsn FROM sys.dm_hadr_database_replica_states');
    assert.equal(r.columns[0].precision, 25);
    assert.equal(r.columns[0].scale, 0);
  });

  test('declared NOT NULL columns are reported not nullable, outer-joined ones nullable', () => {
    const inner = query(catalog('principal'), 'SELECT name, state_desc FROM sys.databases');
    assert.deepEqual(inner.columns.map((c) => c.nullable), [false, true]);
    const outer = query(catalog('principal'), 'SELECT d.name FROM sys.databases d LEFT JOIN sys.database_mirroring m ON m.database_id = d.database_id');
    assert.equal(outer.columns[0].nullable, true);
  });

  test('SELECT * returns every documented column of sys.databases', () => {
    const r = query(catalog('principal'), 'SELECT * FROM sys.databases WHERE name = @n', { n: 'appdb' });
    assert.equal(r.columns.length, 84); // 87 on the page, of which 3 are Azure Synapse's only
    assert.equal(r.columns[0].name, 'name');
    assert.equal(r.columns.at(-1)!.name, 'is_ledger_on');
  });
});

describe('joins between the views (the query a role check sends)', () => {
  const cases: { scenario: string; login: string; dbs: [string, string]; rows: Record<string, Value>[] }[] = [
    {
      scenario: 'principal', login: 'monitor', dbs: ['appdb', 'reports'],
      rows: [
        { name: 'appdb', database_id: 5, state_desc: 'ONLINE', is_read_only: false, mirroring_role_desc: 'PRINCIPAL', mirroring_state_desc: 'SYNCHRONIZED', ag_role: null, operational_state_desc: null, synchronization_state_desc: null, synchronization_health_desc: null, secondary_lag_seconds: null, availability_mode_desc: null, secondary_role_allow_connections_desc: null },
        { name: 'reports', database_id: 10, state_desc: 'ONLINE', is_read_only: false, mirroring_role_desc: null, mirroring_state_desc: null, ag_role: null, operational_state_desc: null, synchronization_state_desc: null, synchronization_health_desc: null, secondary_lag_seconds: null, availability_mode_desc: null, secondary_role_allow_connections_desc: null },
      ],
    },
    {
      scenario: 'mirror', login: 'sa', dbs: ['appdb', 'nosuchdb'],
      rows: [
        { name: 'appdb', database_id: 7, state_desc: 'RESTORING', is_read_only: false, mirroring_role_desc: 'MIRROR', mirroring_state_desc: 'SYNCHRONIZED', ag_role: null, operational_state_desc: null, synchronization_state_desc: null, synchronization_health_desc: null, secondary_lag_seconds: null, availability_mode_desc: null, secondary_role_allow_connections_desc: null },
      ],
    },
    {
      scenario: 'ag-primary', login: 'monitor_full', dbs: ['agdb', 'localonly'],
      rows: [
        { name: 'agdb', database_id: 5, state_desc: 'ONLINE', is_read_only: false, mirroring_role_desc: null, mirroring_state_desc: null, ag_role: 'PRIMARY', operational_state_desc: 'ONLINE', synchronization_state_desc: 'SYNCHRONIZED', synchronization_health_desc: 'HEALTHY', secondary_lag_seconds: null, availability_mode_desc: 'SYNCHRONOUS_COMMIT', secondary_role_allow_connections_desc: 'ALL' },
        { name: 'localonly', database_id: 6, state_desc: 'ONLINE', is_read_only: false, mirroring_role_desc: null, mirroring_state_desc: null, ag_role: null, operational_state_desc: null, synchronization_state_desc: null, synchronization_health_desc: null, secondary_lag_seconds: null, availability_mode_desc: null, secondary_role_allow_connections_desc: null },
      ],
    },
    {
      scenario: 'ag-secondary-sync', login: 'monitor_full', dbs: ['agdb', 'x'],
      rows: [
        { name: 'agdb', database_id: 5, state_desc: 'ONLINE', is_read_only: false, mirroring_role_desc: null, mirroring_state_desc: null, ag_role: 'SECONDARY', operational_state_desc: 'ONLINE', synchronization_state_desc: 'SYNCHRONIZED', synchronization_health_desc: 'HEALTHY', secondary_lag_seconds: null, availability_mode_desc: 'SYNCHRONOUS_COMMIT', secondary_role_allow_connections_desc: 'ALL' },
      ],
    },
    {
      scenario: 'ag-secondary-async', login: 'sa', dbs: ['AGDB', 'x'],
      rows: [
        { name: 'agdb', database_id: 5, state_desc: 'ONLINE', is_read_only: false, mirroring_role_desc: null, mirroring_state_desc: null, ag_role: 'SECONDARY', operational_state_desc: 'ONLINE', synchronization_state_desc: 'SYNCHRONIZING', synchronization_health_desc: 'HEALTHY', secondary_lag_seconds: null, availability_mode_desc: 'ASYNCHRONOUS_COMMIT', secondary_role_allow_connections_desc: 'ALL' },
      ],
    },
    {
      // monitor lacks VIEW ANY DEFINITION: the replica's availability mode is hidden, the DMVs are not
      scenario: 'ag-secondary-async', login: 'monitor', dbs: ['agdb', 'x'],
      rows: [
        { name: 'agdb', database_id: 5, state_desc: 'ONLINE', is_read_only: false, mirroring_role_desc: null, mirroring_state_desc: null, ag_role: 'SECONDARY', operational_state_desc: 'ONLINE', synchronization_state_desc: 'SYNCHRONIZING', synchronization_health_desc: 'HEALTHY', secondary_lag_seconds: null, availability_mode_desc: null, secondary_role_allow_connections_desc: null },
      ],
    },
    {
      scenario: 'standalone', login: 'monitor', dbs: ['salesdb', 'archive'],
      rows: [
        { name: 'archive', database_id: 6, state_desc: 'ONLINE', is_read_only: true, mirroring_role_desc: null, mirroring_state_desc: null, ag_role: null, operational_state_desc: null, synchronization_state_desc: null, synchronization_health_desc: null, secondary_lag_seconds: null, availability_mode_desc: null, secondary_role_allow_connections_desc: null },
        { name: 'salesdb', database_id: 5, state_desc: 'ONLINE', is_read_only: false, mirroring_role_desc: null, mirroring_state_desc: null, ag_role: null, operational_state_desc: null, synchronization_state_desc: null, synchronization_health_desc: null, secondary_lag_seconds: null, availability_mode_desc: null, secondary_role_allow_connections_desc: null },
      ],
    },
  ];
  for (const c of cases) {
    test(`${c.scenario} as ${c.login}: ${c.dbs.join(', ')}`, () => {
      const r = query(catalog(c.scenario), FACTS_SQL, { '@d0': c.dbs[0], '@d1': c.dbs[1] }, c.login);
      assert.deepEqual(objects(r), c.rows);
      assert.deepEqual(r.columns.map((x) => x.type), ['nvarchar', 'int', 'nvarchar', 'bit', 'nvarchar', 'nvarchar', 'nvarchar', 'nvarchar', 'nvarchar', 'nvarchar', 'bigint', 'nvarchar', 'nvarchar']);
    });
  }
});

describe('permissions like the real server', () => {
  const cases: { what: string; scenario: string; login: string; database?: string; sql: string; rows: Value[][] }[] = [
    { what: 'a non-sysadmin sees NULL mirroring columns on the mirror', scenario: 'mirror', login: 'monitor',
      sql: "SELECT m.mirroring_role_desc, m.mirroring_state_desc, m.mirroring_guid FROM sys.database_mirroring m WHERE m.database_id = DB_ID('appdb')", rows: [[null, null, null]] },
    { what: 'sysadmin sees them on the mirror', scenario: 'mirror', login: 'sa',
      sql: "SELECT m.mirroring_role_desc, m.mirroring_state_desc FROM sys.database_mirroring m WHERE m.database_id = DB_ID('appdb')", rows: [['MIRROR', 'SYNCHRONIZED']] },
    { what: 'a non-sysadmin sees them on the principal', scenario: 'principal', login: 'monitor',
      sql: "SELECT m.mirroring_role_desc FROM sys.database_mirroring m WHERE m.database_id = DB_ID('appdb')", rows: [['PRINCIPAL']] },
    { what: 'VIEW SERVER STATE: the HADR DMV rows', scenario: 'ag-primary', login: 'monitor',
      sql: `SELECT (SELECT COUNT(*) FROM sys.dm_hadr_database_replica_states), (SELECT COUNT(*) FROM sys.dm_hadr_availability_replica_states),
              (SELECT COUNT(*) FROM sys.dm_hadr_availability_group_states)`, rows: [[3, 3, 1]] },
    { what: 'no VIEW ANY DEFINITION: no AG metadata rows', scenario: 'ag-primary', login: 'monitor',
      sql: 'SELECT (SELECT COUNT(*) FROM sys.availability_groups), (SELECT COUNT(*) FROM sys.availability_replicas)', rows: [[0, 0]] },
    { what: 'VIEW ANY DEFINITION: AG metadata rows', scenario: 'ag-primary', login: 'monitor_full',
      sql: 'SELECT (SELECT COUNT(*) FROM sys.availability_groups), (SELECT COUNT(*) FROM sys.availability_replicas)', rows: [[1, 3]] },
    { what: 'no VIEW ANY DATABASE: only master and tempdb', scenario: 'standalone', login: 'nobody',
      sql: 'SELECT name FROM sys.databases ORDER BY database_id', rows: [['master'], ['tempdb']] },
    { what: 'no VIEW ANY DATABASE: also the current database', scenario: 'standalone', login: 'nobody', database: 'salesdb',
      sql: 'SELECT name FROM sys.databases ORDER BY database_id', rows: [['master'], ['tempdb'], ['salesdb']] },
    { what: 'no VIEW ANY DATABASE: DB_ID and DATABASEPROPERTYEX of others are NULL', scenario: 'standalone', login: 'nobody',
      sql: "SELECT DB_ID('salesdb'), DATABASEPROPERTYEX('salesdb', 'Status'), DB_ID('master')", rows: [[null, null, 1]] },
    { what: 'an OFFLINE database is hidden from low-privileged logins', scenario: 'standalone', login: 'monitor',
      sql: "SELECT COUNT(*) FROM sys.databases WHERE name = 'offline_db'", rows: [[0]] },
    { what: 'sysadmin sees the OFFLINE database', scenario: 'standalone', login: 'sa',
      sql: "SELECT state_desc FROM sys.databases WHERE name = 'offline_db'", rows: [['OFFLINE']] },
    { what: 'DATABASEPROPERTYEX still reports OFFLINE', scenario: 'standalone', login: 'monitor',
      sql: "SELECT DATABASEPROPERTYEX('offline_db', 'Status')", rows: [['OFFLINE']] },
    { what: 'HAS_PERMS_BY_NAME and IS_SRVROLEMEMBER tell the login its rights', scenario: 'principal', login: 'monitor',
      sql: "SELECT HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW SERVER STATE'), HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW ANY DEFINITION'), IS_SRVROLEMEMBER('sysadmin'), SUSER_NAME()",
      rows: [[1, 0, 0, 'monitor']] },
    { what: 'sysadmin has them all', scenario: 'principal', login: 'sa',
      sql: "SELECT HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW SERVER STATE'), HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW ANY DEFINITION'), IS_SRVROLEMEMBER('sysadmin'), SUSER_SNAME()",
      rows: [[1, 1, 1, 'sa']] },
  ];
  for (const c of cases) {
    test(c.what, () => {
      assert.deepEqual(query(catalog(c.scenario), c.sql, {}, c.login, c.database).rows, c.rows);
    });
  }

  test('no VIEW SERVER STATE: the HADR DMVs raise Msg 300 then 297, not an empty result', () => {
    for (const [version, permission] of [['15.0.4236.7', 'VIEW SERVER STATE'], ['16.0.4165.4', 'VIEW SERVER PERFORMANCE STATE']]) {
      const s = { ...scenarioFile('ag-primary') };
      s.server = { ...s.server, productVersion: version };
      const c = new Catalog(s);
      for (const view of ['dm_hadr_database_replica_states', 'dm_hadr_availability_replica_states', 'dm_hadr_availability_group_states']) {
        assert.throws(() => query(c, `SELECT d.name FROM sys.databases d LEFT JOIN sys.${view} x ON 1 = 1`, {}, 'nobody'), (e: unknown) => {
          const all = (e as SqlErrors).all;
          assert.deepEqual(all.map((x) => x.number), [300, 297]);
          assert.equal(all[0].message, `${permission} permission was denied on object 'server', database 'master'.`);
          return true;
        });
      }
      assert.equal(query(c, 'SELECT COUNT(*) FROM sys.dm_hadr_database_replica_states', {}, 'monitor').rows[0][0], 3, 'with the grant, the rows');
    }
  });

  test('IF … ELSE runs one branch: the DMVs only for a login that may read them', () => {
    const c = catalog('ag-primary');
    const sql = `IF HAS_PERMS_BY_NAME(NULL, NULL, N'VIEW SERVER STATE') = 1
      SELECT COUNT(*) AS n FROM sys.dm_hadr_database_replica_states
    ELSE
      SELECT -1 AS n`;
    assert.deepEqual(query(c, sql, {}, 'monitor').rows, [[3]]);
    assert.deepEqual(query(c, sql, {}, 'nobody').rows, [[-1]]);
    assert.equal(c.execute('IF 1 = 0 SELECT 1 AS n', {}, session(c.scenario, 'monitor', 'master')).length, 0, 'no ELSE: no result');
    // both branches are compiled: an invalid column in the one not taken still fails the batch
    assert.throws(() => query(c, 'IF 1 = 1 SELECT 1 AS n ELSE SELECT no_such_column FROM sys.databases', {}, 'monitor'), /Invalid column name 'no_such_column'/);
    assert.throws(() => query(c, 'IF 1 = 1 BEGIN SELECT 1 END', {}, 'monitor'), /sqlsim does not support/);
  });

  test('sessions with different logins on one catalog each see their own view', () => {
    const c = catalog('mirror');
    const sql = "SELECT mirroring_role_desc FROM sys.database_mirroring WHERE database_id = DB_ID(N'appdb')";
    for (let k = 0; k < 3; k++) {
      assert.deepEqual(query(c, sql, {}, 'sa').rows, [['MIRROR']]);
      assert.deepEqual(query(c, sql, {}, 'monitor').rows, [[null]]);
    }
  });
});

describe('errors as SQL Server gives them', () => {
  const cases: { sql: string; params?: Record<string, Value>; number: number; severity: number; state?: number; message: string }[] = [
    { sql: 'SELECT name FROM', number: 102, severity: 15, message: "Incorrect syntax near 'FROM'." },
    { sql: 'SELECT name, FROM sys.databases', number: 102, severity: 15, message: "Incorrect syntax near 'FROM'." },
    { sql: 'SELEC name FROM sys.databases', number: 102, severity: 15, message: "Incorrect syntax near 'SELEC'." },
    { sql: 'SELECT name FROM sys.databases LIMIT 1', number: 102, severity: 15, message: "Incorrect syntax near '1'." },
    { sql: "SELECT 'a' || 'b'", number: 102, severity: 15, message: "Incorrect syntax near '|'." },
    { sql: 'SELECT (1', number: 102, severity: 15, message: "Incorrect syntax near '1'." },
    { sql: 'PRAGMA table_info(x)', number: 102, severity: 15, message: "Incorrect syntax near 'PRAGMA'." },
    { sql: 'SELECT name FROM sys.databases WHERE name = ?', number: 102, severity: 15, message: "Incorrect syntax near '?'." },
    { sql: 'SELECT name FROM sys.databases WHERE name = :x', number: 102, severity: 15, message: "Incorrect syntax near ':'." },
    { sql: 'SELECT name FROM sys.databases ORDER BY name OFFSET 1 ROWS', number: 102, severity: 15, message: "Incorrect syntax near 'OFFSET'." },
    { sql: 'SELECT mirroring_role FROM sys.databases', number: 207, severity: 16, state: 1, message: "Invalid column name 'mirroring_role'." },
    { sql: 'SELECT d.is_primary FROM sys.dm_hadr_database_replica_states d', number: 207, severity: 16, message: "Invalid column name 'is_primary'." },
    { sql: 'SELECT [no such] FROM sys.databases', number: 207, severity: 16, message: "Invalid column name 'no such'." },
    { sql: 'SELECT "nosuch" FROM sys.databases', number: 207, severity: 16, message: "Invalid column name 'nosuch'." },
    { sql: 'SELECT name FROM sys.databases WHERE nosuch = 1', number: 207, severity: 16, message: "Invalid column name 'nosuch'." },
    { sql: 'SELECT * FROM sys.database_mirrorings', number: 208, severity: 16, state: 1, message: "Invalid object name 'sys.database_mirrorings'." },
    { sql: 'SELECT * FROM databases', number: 208, severity: 16, message: "Invalid object name 'databases'." },
    { sql: 'SELECT * FROM dbo.databases', number: 208, severity: 16, message: "Invalid object name 'dbo.databases'." },
    { sql: 'SELECT * FROM nosuchdb.sys.databases', number: 208, severity: 16, message: "Invalid object name 'nosuchdb.sys.databases'." },
    { sql: 'SELECT * FROM sqlite_master', number: 208, severity: 16, message: "Invalid object name 'sqlite_master'." },
    { sql: 'SELECT * FROM sys.sqlite_master', number: 208, severity: 16, message: "Invalid object name 'sys.sqlite_master'." },
    { sql: 'SELECT NOSUCHFN(1)', number: 195, severity: 15, state: 10, message: "'NOSUCHFN' is not a recognized built-in function name." },
    { sql: 'SELECT IFNULL(NULL, 1)', number: 195, severity: 15, message: "'IFNULL' is not a recognized built-in function name." },
    { sql: 'SELECT sqlite_version()', number: 195, severity: 15, message: "'sqlite_version' is not a recognized built-in function name." },
    { sql: 'SELECT dbo.f(1)', number: 4121, severity: 16, message: 'Cannot find either column "dbo" or the user-defined function or aggregate "dbo.f", or the name is ambiguous.' },
    { sql: 'SELECT name FROM sys.databases WHERE name = @db', number: 137, severity: 15, state: 2, message: 'Must declare the scalar variable "@db".' },
    { sql: 'SELECT @db', params: { '@other': 1 }, number: 137, severity: 15, message: 'Must declare the scalar variable "@db".' },
    { sql: 'SELECT @@NOSUCH', number: 137, severity: 15, message: 'Must declare the scalar variable "@@NOSUCH".' },
    { sql: 'SELECT x.name FROM sys.databases d', number: 4104, severity: 16, message: 'The multi-part identifier "x.name" could not be bound.' },
    { sql: 'SELECT database_id FROM sys.databases d JOIN sys.database_mirroring m ON m.database_id = d.database_id', number: 209, severity: 16, message: "Ambiguous column name 'database_id'." },
    { sql: 'SELECT ISNULL(1)', number: 174, severity: 15, message: 'The isnull function requires 2 argument(s).' },
    { sql: "SELECT 'abc", number: 105, severity: 15, message: "Unclosed quotation mark after the character string 'abc'." },
    { sql: 'SELECT 1 /* open', number: 113, severity: 15, message: "Missing end comment mark '*/'." },
    { sql: "SELECT CAST('abc' AS int)", number: 245, severity: 16, message: "Conversion failed when converting the nvarchar value 'abc' to data type int." },
    { sql: 'SELECT CAST(1 AS nosuchtype)', number: 243, severity: 16, message: 'Type nosuchtype is not a defined system type.' },
    { sql: 'SELECT DATEDIFF(fortnight, GETDATE(), GETDATE())', number: 155, severity: 15, message: "'fortnight' is not a recognized datediff option." },
    { sql: 'SET NOSUCHOPTION ON', number: 195, severity: 15, message: "'NOSUCHOPTION' is not a recognized SET option." },
    { sql: 'USE nosuchdb', number: 911, severity: 16, message: "Database 'nosuchdb' does not exist. Make sure that the name is entered correctly." },
    { sql: "DELETE FROM sys.databases WHERE name = 'appdb'", number: 50000, severity: 16, message: 'sqlsim does not support DELETE statements.' },
    { sql: 'DECLARE @x int', number: 50000, severity: 16, message: 'sqlsim does not support DECLARE statements.' },
    // a compile error anywhere in the batch runs nothing
    { sql: 'SELECT 1; SELECT nosuch FROM sys.databases', number: 207, severity: 16, message: "Invalid column name 'nosuch'." },
  ];
  for (const c of cases) {
    test(`${c.number}: ${c.sql}`, () => {
      const cat = catalog('principal');
      assert.throws(() => cat.execute(c.sql, c.params ?? {}, session(cat.scenario, 'sa')), (e: unknown) => {
        assert.ok(e instanceof SqlError, `a SqlError, not ${String(e)}`);
        assert.equal(e.message, c.message);
        assert.equal(e.number, c.number);
        assert.equal(e.severity, c.severity);
        if (c.state !== undefined) assert.equal(e.state, c.state);
        return true;
      });
    });
  }
});

describe('the T-SQL translation', () => {
  const cases: { sql: string; params?: Record<string, Value>; names?: string[]; types?: string[]; rows: Value[][] }[] = [
    { sql: 'SELECT 1', names: [''], types: ['int'], rows: [[1]] },
    { sql: "SELECT N'Bücher_Ω' AS n, 'x' AS v", types: ['nvarchar', 'varchar'], rows: [['Bücher_Ω', 'x']] },
    { sql: 'SELECT TOP 2 name FROM sys.databases ORDER BY database_id', rows: [['master'], ['tempdb']] },
    { sql: 'SELECT TOP (1) name FROM sys.databases ORDER BY database_id DESC', rows: [['reports']] },
    { sql: 'SELECT TOP (@n) name FROM sys.databases ORDER BY database_id', params: { n: 1 }, rows: [['master']] },
    { sql: 'SELECT (SELECT TOP 1 name FROM sys.databases ORDER BY database_id DESC) AS last_db', names: ['last_db'], types: ['nvarchar'], rows: [['reports']] },
    { sql: "SELECT [name] AS [db name], [database_id] FROM [sys].[databases] WHERE [name] = N'O''Brien''s db'", names: ['db name', 'database_id'], rows: [["O'Brien's db", 6]] },
    { sql: 'SELECT n = name, id = database_id FROM sys.databases WHERE database_id = 5', names: ['n', 'id'], rows: [['appdb', 5]] },
    { sql: 'SELECT name n FROM sys.databases d WHERE d.database_id = 5', names: ['n'], rows: [['appdb']] },
    { sql: "SELECT name FROM sys.databases WHERE name = 'APPDB'", rows: [['appdb']] },
    { sql: "SELECT COUNT(*) FROM sys.database_mirroring WHERE mirroring_role_desc = 'principal'", rows: [[5]] },
    { sql: "SELECT name FROM sys.databases WHERE name = 'APPDB' COLLATE Latin1_General_CS_AS", rows: [] },
    { sql: "SELECT r.n FROM (SELECT @db AS n) r JOIN sys.databases d ON r.n = d.name", params: { db: 'AppDB' }, rows: [['AppDB']] },
    { sql: "SELECT 1 AS up WHERE DATABASEPROPERTYEX('appdb', 'Status') = 'online'", rows: [[1]] },
    { sql: "SELECT name FROM sys.databases WHERE name LIKE N'app%'", rows: [['appdb']] },
    { sql: 'SELECT name FROM master.sys.databases WITH (NOLOCK) WHERE database_id = 1', rows: [['master']] },
    { sql: 'WITH m AS (SELECT database_id FROM sys.database_mirroring WHERE mirroring_role_desc IS NOT NULL) SELECT COUNT(*) AS n FROM m', rows: [[5]] },
    { sql: 'SELECT name FROM sys.databases WHERE database_id IN (SELECT TOP 1 database_id FROM sys.database_mirroring WHERE mirroring_role IS NOT NULL ORDER BY database_id)', rows: [['appdb']] },
    { sql: "SELECT name FROM sys.databases WHERE database_id = 1 UNION ALL SELECT N'x'", rows: [['master'], ['x']] },
    { sql: "SELECT CASE WHEN state_desc = 'ONLINE' THEN 1 ELSE 0 END AS up FROM sys.databases WHERE database_id = 5", types: ['int'], rows: [[1]] },
    { sql: 'SELECT ISNULL(m.mirroring_role_desc, N\'NONE\') AS r FROM sys.database_mirroring m WHERE database_id = 10', types: ['nvarchar'], rows: [['NONE']] },
    { sql: "SELECT CONVERT(nvarchar(3), 'abcdef') AS c, CAST('1' AS bit) AS b, TRY_CAST('x' AS int) AS t, CAST(database_id AS bigint) AS i FROM sys.databases WHERE database_id = 5",
      types: ['nvarchar', 'bit', 'int', 'bigint'], rows: [['abc', true, null, 5]] },
    { sql: "SELECT CAST('2024-06-01T12:00:00' AS datetime) AS d", types: ['datetime'], rows: [[new Date(Date.UTC(2024, 5, 1, 12))]] },
    { sql: "SELECT DATEDIFF(second, '2024-06-01 11:00:00', '2024-06-01 12:00:00') AS lag", types: ['int'], rows: [[3600]] },
    { sql: "SELECT IIF(1 = 1, 'yes', 'no') AS y, UPPER(N'bücher') AS u, LEN(N'ab  ') AS l, LEFT('abc', 2) AS le, CHARINDEX('C', 'abc') AS ci",
      rows: [['yes', 'BÜCHER', 2, 'ab', 3]] },
    { sql: 'SELECT COUNT(*) AS n, MAX(database_id) AS m FROM sys.databases', types: ['int', 'int'], rows: [[10, 10]] },
    { sql: 'SELECT 0x01AB AS b', types: ['varbinary'], rows: [[new Uint8Array([1, 0xab])]] },
    // typed from the FROM clause that follows the select list
    { sql: 'SELECT LEFT(d.name, 3) AS l FROM sys.databases d WHERE 1 = 0', types: ['nvarchar'], rows: [] },
    { sql: 'SELECT ROW_NUMBER() OVER (PARTITION BY state_desc ORDER BY database_id) AS rn FROM sys.databases WHERE database_id < 3', types: ['bigint'], rows: [[1], [2]] },
    { sql: 'SELECT name FROM sys.databases WHERE name = @db OPTION (RECOMPILE)', params: { db: 'tempdb' }, rows: [['tempdb']] },
    { sql: "SELECT name FROM sys.databases -- a comment\n/* another /* nested */ one */ WHERE database_id = 2", rows: [['tempdb']] },
    { sql: 'SELECT @b AS b, @d AS d', params: { b: true, d: new Date(Date.UTC(2024, 0, 2)) }, types: ['bit', 'datetime'], rows: [[true, new Date(Date.UTC(2024, 0, 2))]] },
  ];
  for (const c of cases) {
    test(c.sql.replace(/\s+/g, ' '), () => {
      const r = query(catalog('principal'), c.sql, c.params ?? {});
      if (c.names) assert.deepEqual(r.columns.map((x) => x.name), c.names);
      if (c.types) assert.deepEqual(r.columns.map((x) => x.type), c.types);
      assert.deepEqual(r.rows, c.rows);
    });
  }

  test('@@VERSION and GETDATE() answer like a SQL Server 2022', () => {
    const r = query(catalog('principal'), 'SELECT @@VERSION AS v, GETDATE() AS now, CURRENT_TIMESTAMP AS ts');
    assert.match(r.rows[0][0] as string, /^Microsoft SQL Server 2022 .* 16\.0\.4165\.4 /);
    assert.deepEqual(r.columns.map((x) => x.type), ['nvarchar', 'datetime', 'datetime']);
    assert.ok(Math.abs((r.rows[0][1] as Date).getTime() - Date.now()) < 5000);
  });

  test("tedious's SET batch after login produces no result", () => {
    const c = catalog('principal');
    const batch = ['set textsize 2147483647', 'set quoted_identifier on', 'set arithabort off', 'set numeric_roundabort off',
      'set ansi_warnings on', 'set ansi_padding on', 'set ansi_nulls on', 'set concat_null_yields_null on',
      'set cursor_close_on_commit off', 'set implicit_transactions off', 'set language us_english', 'set dateformat mdy',
      'set datefirst 7', 'set transaction isolation level read committed', 'SET NOCOUNT ON', 'SET ANSI_NULLS, QUOTED_IDENTIFIER ON'].join('\n');
    assert.deepEqual(c.execute(batch, {}, session(c.scenario, 'sa')), []);
  });

  test('statements separated by ; or newlines each produce a result', () => {
    const c = catalog('principal');
    const results = c.execute('SET NOCOUNT ON; SELECT 1 AS a;\nSELECT 2 AS b\nSELECT name FROM sys.databases WHERE database_id = 1', {}, session(c.scenario, 'sa'));
    assert.deepEqual(results.map((r) => ('rows' in r ? r.rows : r)), [[[1]], [[2]], [['master']]]);
  });

  test('USE changes the session database', () => {
    const c = catalog('principal');
    const s = session(c.scenario, 'sa');
    const results = c.execute('USE [appdb]; SELECT DB_NAME() AS d', {}, s);
    assert.equal(s.database, 'appdb');
    assert.deepEqual(results.length === 1 && 'rows' in results[0] ? results[0].rows : null, [['appdb']]);
    assert.throws(() => catalog('mirror').execute('USE appdb', {}, session(scenarioFile('mirror'), 'sa')), /in the middle of a restore/);
  });
});

describe('awkward database names round-trip as parameters', () => {
  const names = ["O'Brien's db", '[bracketed] name', 'Bücher_Ω', 'name with spaces'];
  for (const name of names) {
    test(name, () => {
      const c = catalog('standalone');
      const sql = "SELECT name, DB_ID(@db) AS id, DATABASEPROPERTYEX(@db, 'Status') AS status FROM sys.databases WHERE name = @db";
      const r = query(c, sql, { '@db': name }, 'monitor');
      assert.equal(r.rows.length, 1);
      assert.equal(r.rows[0][0], name);
      assert.equal(typeof r.rows[0][1], 'number');
      assert.equal(r.rows[0][2], 'ONLINE');
      // SQL Server's default collation ignores case, of non-ASCII letters too (Ü, Ω), and trailing spaces
      assert.equal(query(c, sql, { '@db': name.toUpperCase() }, 'monitor').rows.length, 1);
      assert.equal(query(c, sql, { '@db': `${name}   ` }, 'monitor').rows.length, 1);
    });
  }
});

describe('collations: strings compare as SQL Server compares them', () => {
  /** The standalone scenario on a server of that collation, with a database Réservations (id 20). */
  function collated(collation: string, more: Record<string, Value>[] = []): Scenario {
    const s = scenarioFile('standalone');
    s.server.collation = collation;
    s.databases.push({ name: 'Réservations', database_id: 20 }, ...more);
    return s;
  }
  const sqlError = (number: number, message: string | RegExp) => (e: unknown) => {
    assert.ok(e instanceof SqlError, `a SqlError, not ${String(e)}`);
    assert.equal(e.number, number);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  };

  // One verdict per collation, in this order: = the two strings are equal, x they are not.
  const COLLATIONS = ['SQL_Latin1_General_CP1_CI_AS', 'Latin1_General_CI_AS', 'SQL_Latin1_General_CP1_CS_AS',
    'Latin1_General_CS_AS', 'Latin1_General_CI_AI', 'Latin1_General_CI_AS_KS_WS', 'Latin1_General_BIN2'];
  const RULES: [what: string, a: string, b: string, verdicts: string][] = [
    ['trailing spaces do not count (SQL-92 padding), binary collations included', 'abc', 'abc   ', '======='],
    ['leading spaces count', 'abc', '  abc', 'xxxxxxx'],
    ['only spaces pad: a trailing tab counts', 'abc', 'abc\t', 'xxxxxxx'],
    ['ASCII case: _CI ignores it, _CS and binary do not', 'A', 'a', '==xx==x'],
    ['non-ASCII case: É and é', 'É', 'é', '==xx==x'],
    ['Greek case (with a tonos)', 'ΣΟΦΊΑ', 'σοφία', '==xx==x'],
    ['an accent: é and e are different unless _AI', 'é', 'e', 'xxxx=xx'],
    ['an accent and case', 'É', 'e', 'xxxx=xx'],
    ['a trailing space and non-ASCII case', 'Été ', 'ÉTÉ', '==xx==x'],
    ['a trailing space under a case-sensitive collation', 'Été  ', 'Été', '======='],
    ['a letter and its canonical decomposition are one letter', 'é', 'e\u0301', '======x'],
    ['width: full-width and ASCII letters are equal unless _WS', 'ＡＢＣ', 'ABC', '=====xx'],
    ['kana: Hiragana and Katakana are equal unless _KS', 'か', 'カ', '=====xx'],
  ];
  const RULE_SQL = `SELECT CASE WHEN @a = @b THEN 1 ELSE 0 END AS eq, CASE WHEN @a <> @b THEN 1 ELSE 0 END AS ne,
    CASE WHEN @a IN (N'-', @b) THEN 1 ELSE 0 END AS in_list, CASE WHEN @b NOT IN (@a) THEN 1 ELSE 0 END AS not_in`;
  for (const [what, a, b, verdicts] of RULES) {
    test(`${what}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`, () => {
      assert.equal(verdicts.length, COLLATIONS.length);
      COLLATIONS.forEach((collation, k) => {
        const equal = verdicts[k] === '=' ? 1 : 0;
        const r = query(new Catalog(collated(collation)), RULE_SQL, { a, b });
        assert.deepEqual(r.rows, [[equal, 1 - equal, equal, 1 - equal]], `${collation}: ${equal ? 'equal' : 'different'}`);
      });
    });
  }

  test('literals compare like parameters, in either order', () => {
    const sql = "SELECT CASE WHEN N'Été ' = N'ÉTÉ' THEN 1 ELSE 0 END, CASE WHEN 'ÉTÉ' = N'Été' THEN 1 ELSE 0 END";
    assert.deepEqual(query(new Catalog(collated('SQL_Latin1_General_CP1_CI_AS')), sql).rows, [[1, 1]]);
    assert.deepEqual(query(new Catalog(collated('Latin1_General_CS_AS')), sql).rows, [[0, 0]]);
  });

  test('<, > and the others order by the collation', () => {
    const sql = 'SELECT CASE WHEN @a < @b THEN 1 ELSE 0 END, CASE WHEN @a >= @b THEN 1 ELSE 0 END, CASE WHEN @a !> @b THEN 1 ELSE 0 END';
    assert.deepEqual(query(new Catalog(collated('Latin1_General_CI_AS')), sql, { a: 'apple', b: 'Banana' }).rows, [[1, 0, 1]]);
    assert.deepEqual(query(new Catalog(collated('Latin1_General_BIN2')), sql, { a: 'apple', b: 'Banana' }).rows, [[0, 1, 0]]);
    // lower case sorts ahead of upper case under _CS; trailing spaces do not count for < either
    assert.deepEqual(query(new Catalog(collated('Latin1_General_CS_AS')), sql, { a: 'a', b: 'A' }).rows, [[1, 0, 1]]);
    assert.deepEqual(query(new Catalog(collated('Latin1_General_CS_AS')), sql, { a: 'a  ', b: 'a' }).rows, [[0, 1, 1]]);
  });

  // A catalog column (the server collation) against a parameter (which takes the column's
  // collation by collation precedence): how the name of a database is found.
  const LOOKUPS: [collation: string, name: string, found: boolean][] = [
    ['SQL_Latin1_General_CP1_CI_AS', 'Réservations', true],
    ['SQL_Latin1_General_CP1_CI_AS', 'Réservations  ', true],
    ['SQL_Latin1_General_CP1_CI_AS', 'RÉSERVATIONS', true],
    ['SQL_Latin1_General_CP1_CI_AS', 'Reservations', false],
    ['SQL_Latin1_General_CP1_CI_AS', ' Réservations', false],
    ['Latin1_General_CI_AS', 'rÉsErVaTiOnS ', true],
    ['Latin1_General_CS_AS', 'Réservations', true],
    ['Latin1_General_CS_AS', 'Réservations ', true],
    ['Latin1_General_CS_AS', 'RÉSERVATIONS', false],
    ['Latin1_General_CS_AS', 'réservations', false],
    ['SQL_Latin1_General_CP1_CS_AS', 'RÉSERVATIONS', false],
    ['Latin1_General_CI_AI', 'RESERVATIONS', true],
  ];
  for (const [collation, name, found] of LOOKUPS) {
    test(`${collation}: ${JSON.stringify(name)} ${found ? 'finds' : 'does not find'} Réservations`, () => {
      const c = new Catalog(collated(collation));
      const sql = `SELECT d.name, DB_ID(@db) AS id, DATABASEPROPERTYEX(@db, 'Status') AS status
        FROM (SELECT @db AS n) AS r LEFT JOIN sys.databases AS d ON d.name = r.n`;
      const r = query(c, sql, { db: name }, 'monitor');
      assert.deepEqual(r.rows, [found ? ['Réservations', 20, 'ONLINE'] : [null, null, null]]);
      assert.equal(query(c, 'SELECT name FROM sys.databases WHERE name = @db', { db: name }).rows.length, found ? 1 : 0);
      assert.equal(query(c, 'SELECT COUNT(*) FROM sys.databases WHERE name IN (@db, N\'x\')', { db: name }).rows[0][0], found ? 1 : 0);
      const use = () => c.execute(`USE [${name.replace(/]/g, ']]')}]`, {}, session(c.scenario, 'sa'));
      if (found) assert.doesNotThrow(use);
      else assert.throws(use, sqlError(911, /^Database '.*' does not exist/));
    });
  }

  test('the server collation is SERVERPROPERTY(\'Collation\') and the default of every database', () => {
    for (const collation of ['SQL_Latin1_General_CP1_CI_AS', 'Latin1_General_CS_AS']) {
      const c = new Catalog(collated(collation, [{ name: 'own', database_id: 21, collation_name: 'latin1_general_100_ci_as_sc_utf8' }]));
      assert.deepEqual(query(c, "SELECT SERVERPROPERTY('Collation')").rows, [[collation]]);
      const r = query(c, "SELECT name, collation_name, DATABASEPROPERTYEX(name, 'Collation') FROM sys.databases WHERE database_id IN (1, 20, 21) ORDER BY database_id");
      assert.deepEqual(r.rows, [['master', collation, collation], ['Réservations', collation, collation],
        ['own', 'Latin1_General_100_CI_AS_SC_UTF8', 'Latin1_General_100_CI_AS_SC_UTF8']]);
    }
    // not ONLINE: NULL, and its own collation again once it is back
    const own = collated('Latin1_General_CS_AS', [{ name: 'own', database_id: 21, collation_name: 'Latin1_General_CI_AI' }]);
    const collationOf = (s: Scenario) => query(new Catalog(s), 'SELECT collation_name FROM sys.databases WHERE database_id = 21').rows;
    assert.deepEqual(collationOf(setDatabaseState(own, 'own', 'OFFLINE')), [[null]]);
    assert.deepEqual(collationOf(setDatabaseState(setDatabaseState(own, 'own', 'OFFLINE'), 'own', 'ONLINE')), [['Latin1_General_CI_AI']]);
    // without server.collation: the Setup default for English (United States)
    assert.deepEqual(query(catalog('standalone'), "SELECT SERVERPROPERTY('Collation')").rows, [['SQL_Latin1_General_CP1_CI_AS']]);
  });

  test('collation precedence: a parameter takes the column\'s collation, COLLATE overrides both', () => {
    // a case-sensitive server with a case-insensitive user database
    const c = new Catalog(collated('SQL_Latin1_General_CP1_CS_AS', [{ name: 'cidb', database_id: 21, collation_name: 'Latin1_General_CI_AS' }]));
    const inCidb = (sql: string, params: Record<string, Value> = {}) => query(c, sql, params, 'sa', 'cidb').rows;
    // Coercible-default: two parameters compare in the current database's collation
    const pair = 'SELECT CASE WHEN @a = @b THEN 1 ELSE 0 END';
    assert.deepEqual(inCidb(pair, { a: 'A', b: 'a' }), [[1]]);
    assert.deepEqual(query(c, pair, { a: 'A', b: 'a' }).rows, [[0]], 'in master (the server collation) they differ');
    // Implicit beats Coercible-default: against sys.databases.name the server collation decides
    assert.deepEqual(inCidb('SELECT name FROM sys.databases WHERE name = @db', { db: 'RÉSERVATIONS' }), []);
    assert.deepEqual(inCidb('SELECT name FROM sys.databases WHERE @db = name', { db: 'Réservations ' }), [['Réservations']]);
    // Explicit beats Implicit, on either side
    assert.deepEqual(inCidb('SELECT name FROM sys.databases WHERE name = @db COLLATE Latin1_General_CI_AS', { db: 'RÉSERVATIONS' }), [['Réservations']]);
    assert.deepEqual(query(c, 'SELECT name FROM sys.databases WHERE name COLLATE DATABASE_DEFAULT = @db', { db: 'RÉSERVATIONS' }, 'sa', 'cidb').rows, [['Réservations']]);
    assert.deepEqual(query(c, 'SELECT name FROM sys.databases WHERE name COLLATE Latin1_General_CI_AI = @db', { db: 'reservations' }).rows, [['Réservations']]);
    // the label passes through string functions and CASE, not through a WHEN condition
    assert.deepEqual(inCidb("SELECT name FROM sys.databases WHERE UPPER(LEFT(name, 3)) = N'rés'"), []);
    const viaCase = "SELECT name FROM sys.databases WHERE database_id = 20 AND CASE WHEN name = N'x' THEN N'a' ELSE N'b' END = N'B'";
    assert.deepEqual(inCidb(viaCase), [['Réservations']]);
    assert.deepEqual(query(c, viaCase).rows, [], 'in master the literals are case-sensitive');
    // a catalog function's result is Coercible-default
    assert.deepEqual(inCidb("SELECT 1 WHERE DB_NAME() = N'CIDB'"), [[1]]);
  });

  test('collation conflicts are error 468, as a real server compiles them', () => {
    const c = new Catalog(collated('SQL_Latin1_General_CP1_CS_AS', [{ name: 'cidb', database_id: 21, collation_name: 'Latin1_General_CI_AS' }]));
    const conflict = (right: string, left: string, op = 'equal to') =>
      sqlError(468, `Cannot resolve the collation conflict between "${right}" and "${left}" in the ${op} operation.`);
    assert.throws(() => query(c, "SELECT 1 WHERE N'a' COLLATE Latin1_General_CS_AS = N'a' COLLATE Latin1_General_CI_AS"),
      conflict('Latin1_General_CI_AS', 'Latin1_General_CS_AS'));
    // a derived table's column made of a parameter is Implicit in the database's collation (the
    // documents are silent; sqlsim takes the side that conflicts): in cidb it meets sys.databases.name
    const join = 'SELECT d.name FROM (SELECT @db AS n) AS r JOIN sys.databases AS d ON d.name <> r.n';
    assert.throws(() => query(c, join, { db: 'x' }, 'sa', 'cidb'), conflict('Latin1_General_CI_AS', 'SQL_Latin1_General_CP1_CS_AS', 'not equal to'));
    assert.equal(query(c, join, { db: 'x' }, 'sa', 'master').rows.length, 13, 'in master the collations agree');
    // nothing of a batch with a conflict runs
    assert.throws(() => c.execute(`SELECT 1; ${join}`, { db: 'x' }, session(c.scenario, 'sa', 'cidb')), conflict('Latin1_General_CI_AS', 'SQL_Latin1_General_CP1_CS_AS', 'not equal to'));
  });

  test('LIKE follows the collation: case, accents and significant trailing spaces', () => {
    const like = "SELECT CASE WHEN @s LIKE @p THEN 1 ELSE 0 END, CASE WHEN @s NOT LIKE @p THEN 1 ELSE 0 END";
    const rows: [string, string, string, number, number][] = [
      ['SQL_Latin1_General_CP1_CI_AS', 'Réservations', 'rés%', 1, 0],
      ['Latin1_General_CS_AS', 'Réservations', 'rés%', 0, 1],
      ['Latin1_General_CS_AS', 'Réservations', 'Rés_rvations', 1, 0],
      ['SQL_Latin1_General_CP1_CI_AS', 'Réservations', 'res%', 0, 1],
      ['Latin1_General_CI_AI', 'Réservations', 'res%', 1, 0],
      ['SQL_Latin1_General_CP1_CI_AS', 'abc', 'abc ', 0, 1],
      ['SQL_Latin1_General_CP1_CI_AS', 'abc ', 'abc', 0, 1],
      ['SQL_Latin1_General_CP1_CI_AS', 'B', '[a-c]', 1, 0],
      ['Latin1_General_BIN2', 'B', '[a-c]', 0, 1],
    ];
    for (const [collation, s, p, yes, no] of rows) {
      assert.deepEqual(query(new Catalog(collated(collation)), like, { s, p }).rows, [[yes, no]], `${collation}: ${s} LIKE ${p}`);
    }
    const c = new Catalog(collated('Latin1_General_CS_AS'));
    assert.deepEqual(query(c, "SELECT name FROM sys.databases WHERE name LIKE N'R!%%' ESCAPE '!'").rows, []);
    assert.deepEqual(query(c, "SELECT name FROM sys.databases WHERE name LIKE N'Ré%'").rows, [['Réservations']]);
  });

  test('COLLATE names only collations: unknown ones are refused the way SQL Server does, unmodelled ones loudly', () => {
    const c = catalog('standalone');
    assert.throws(() => query(c, "SELECT 1 WHERE N'a' = N'a' COLLATE NoSuchThing"), sqlError(448, "Invalid collation 'NoSuchThing'."));
    assert.throws(() => query(c, "SELECT 1 WHERE N'a' = N'a' COLLATE Turkish_CI_AS"), sqlError(50000, 'sqlsim does not support the collation Turkish_CI_AS.'));
    assert.deepEqual(query(c, "SELECT 1 WHERE N'a' = N'A' COLLATE latin1_general_ci_as").rows, [[1]], 'any case');
  });

  test('a scenario with a collation sqlsim does not model is refused, naming the ones it does', () => {
    const refused: [string, (s: Scenario) => void, RegExp][] = [
      ['an unknown server collation', (s) => { s.server.collation = 'Klingon_CI_AS'; }, /server\.collation = "Klingon_CI_AS" is not a collation sqlsim models \(SQL_Latin1_General_CP1_CI_AS, /],
      ['a typo', (s) => { s.server.collation = 'SQL_Latin1_General_CP1_CI_A'; }, /not a collation sqlsim models/],
      ['an unknown database collation', (s) => { s.databases[0].collation_name = 'Greek_CI_AS'; }, /collation_name of 'salesdb' = "Greek_CI_AS" is not a collation/],
      ['master in another collation than the server', (s) => { s.databases.push({ name: 'master', database_id: 1, collation_name: 'Latin1_General_CS_AS' }); },
        /system database master has the server collation SQL_Latin1_General_CP1_CI_AS, not Latin1_General_CS_AS/],
      ['two names one database under CI', (s) => { s.databases.push({ name: 'RÉSERVATIONS  ', database_id: 30 }); }, /appears twice/],
    ];
    for (const [what, change, message] of refused) {
      const s = collated('SQL_Latin1_General_CP1_CI_AS');
      change(s);
      assert.throws(() => new Catalog(s), message, what);
    }
    // under a case-sensitive collation the same two names are two databases, each found as itself
    const c = new Catalog(collated('Latin1_General_CS_AS', [{ name: 'RÉSERVATIONS', database_id: 30 }]));
    assert.deepEqual(query(c, 'SELECT database_id FROM sys.databases WHERE name = @db', { db: 'RÉSERVATIONS ' }).rows, [[30]]);
    assert.deepEqual(query(c, 'SELECT DB_ID(@db)', { db: 'Réservations' }).rows, [[20]]);
  });

  test('load() can change the server collation of a running catalog', () => {
    const c = new Catalog(collated('SQL_Latin1_General_CP1_CI_AS'));
    const sql = 'SELECT name FROM sys.databases WHERE name = @db ORDER BY name';
    assert.equal(query(c, sql, { db: 'SALESDB' }).rows.length, 1);
    c.load(collated('Latin1_General_CS_AS'));
    assert.equal(query(c, sql, { db: 'SALESDB' }).rows.length, 0);
    c.load(collated('Latin1_General_CI_AS'));
    assert.equal(query(c, sql, { db: 'SALESDB' }).rows.length, 1);
  });
});

describe('scenario changes', () => {
  const ROLE_SQL = `SELECT d.state_desc, m.mirroring_role_desc, m.mirroring_role_sequence FROM sys.databases d
    JOIN sys.database_mirroring m ON m.database_id = d.database_id WHERE d.name = @db`;

  test('failover swaps the roles of a mirrored pair, and a second failover swaps them back', () => {
    const a0 = scenarioFile('principal');
    const b0 = scenarioFile('mirror');
    const [a1, b1] = failover(a0, b0);
    for (const db of ['appdb', 'Bücher_Ω']) {
      assert.deepEqual(query(new Catalog(a1), ROLE_SQL, { db }).rows, [['RESTORING', 'MIRROR', 2]]);
      assert.deepEqual(query(new Catalog(b1), ROLE_SQL, { db }).rows, [['ONLINE', 'PRINCIPAL', 2]]);
    }
    // reports is not mirrored and stays as it was
    assert.deepEqual(query(new Catalog(a1), ROLE_SQL, { db: 'reports' }).rows, [['ONLINE', null, null]]);
    const [a2, b2] = failover(a1, b1);
    assert.deepEqual(query(new Catalog(a2), ROLE_SQL, { db: 'appdb' }).rows, [['ONLINE', 'PRINCIPAL', 3]]);
    assert.deepEqual(query(new Catalog(b2), ROLE_SQL, { db: 'appdb' }).rows, [['RESTORING', 'MIRROR', 3]]);
    // the inputs are not changed
    assert.deepEqual(query(new Catalog(a0), ROLE_SQL, { db: 'appdb' }).rows, [['ONLINE', 'PRINCIPAL', 1]]);
  });

  test('load() replaces the state of a running catalog', () => {
    const c = catalog('principal');
    assert.deepEqual(query(c, ROLE_SQL, { db: 'appdb' }).rows, [['ONLINE', 'PRINCIPAL', 1]]);
    c.load(failover(scenarioFile('principal'), scenarioFile('mirror'))[0]);
    assert.deepEqual(query(c, ROLE_SQL, { db: 'appdb' }).rows, [['RESTORING', 'MIRROR', 2]]);
  });

  test('setDatabaseState takes a database OFFLINE', () => {
    const c = new Catalog(setDatabaseState(scenarioFile('standalone'), 'SALESDB', 'offline'));
    assert.deepEqual(query(c, "SELECT state, state_desc, collation_name FROM sys.databases WHERE name = 'salesdb'").rows, [[6, 'OFFLINE', null]]);
    assert.deepEqual(query(c, "SELECT DATABASEPROPERTYEX('salesdb', 'Status')", {}, 'monitor').rows, [['OFFLINE']]);
  });

  test('setDatabaseState on an AG database changes its replica state too', () => {
    const c = new Catalog(setDatabaseState(scenarioFile('ag-secondary-sync'), 'agdb', 'RECOVERY_PENDING'));
    assert.deepEqual(query(c, 'SELECT database_state_desc FROM sys.dm_hadr_database_replica_states').rows, [['RECOVERY_PENDING']]);
  });

  test('setMirroringState suspends mirroring', () => {
    const c = new Catalog(setMirroringState(scenarioFile('principal'), 'appdb', 'SUSPENDED'));
    assert.deepEqual(query(c, "SELECT mirroring_state, mirroring_state_desc FROM sys.database_mirroring WHERE database_id = DB_ID('appdb')").rows, [[0, 'SUSPENDED']]);
  });

  test('setReplicaRole makes the primary RESOLVING', () => {
    const before = catalog('ag-primary');
    assert.deepEqual(query(before, "SELECT sys.fn_hadr_is_primary_replica('agdb')").rows, [[true]]);
    const c = new Catalog(setReplicaRole(scenarioFile('ag-primary'), 'RESOLVING'));
    assert.deepEqual(query(c, 'SELECT role, role_desc FROM sys.dm_hadr_availability_replica_states WHERE is_local = 1').rows, [[0, 'RESOLVING']]);
    assert.deepEqual(query(c, 'SELECT is_primary_replica FROM sys.dm_hadr_database_replica_states WHERE is_local = 1').rows, [[false]]);
    assert.deepEqual(query(c, 'SELECT primary_replica FROM sys.dm_hadr_availability_group_states').rows, [[null]]);
    assert.deepEqual(query(c, "SELECT sys.fn_hadr_is_primary_replica('agdb')").rows, [[false]]);
  });

  test('setReplicaRole makes a secondary PRIMARY', () => {
    const c = new Catalog(setReplicaRole(scenarioFile('ag-secondary-sync'), 'PRIMARY'));
    assert.deepEqual(query(c, FACTS_SQL, { d0: 'agdb', d1: 'x' }).rows.map((r) => r[6]), ['PRIMARY']);
  });
});

describe('speed', () => {
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const time = (f: () => void, n: number) => Array.from({ length: n }, () => {
    const t = performance.now();
    f();
    return performance.now() - t;
  });

  test('the facts query takes well under 5 ms', () => {
    const c = catalog('ag-primary');
    const s = session(c.scenario, 'monitor');
    const run = () => c.execute(FACTS_SQL, { d0: 'agdb', d1: 'localonly' }, s);
    run();
    const ms = median(time(run, 200));
    assert.ok(ms < 2.5, `median ${ms.toFixed(3)} ms`);
  });

  test('alternating logins (the tables are refilled each time) stays under 5 ms', () => {
    const c = catalog('ag-primary');
    const sa = session(c.scenario, 'sa');
    const mon = session(c.scenario, 'monitor');
    let k = 0;
    const run = () => c.execute(FACTS_SQL, { d0: 'agdb', d1: 'localonly' }, k++ % 2 ? sa : mon);
    run();
    const ms = median(time(run, 200));
    assert.ok(ms < 5, `median ${ms.toFixed(3)} ms`);
  });

  test('a new batch text (translated and prepared) stays under 5 ms', () => {
    const c = catalog('ag-primary');
    const s = session(c.scenario, 'monitor');
    let k = 0;
    const ms = median(time(() => c.execute(`${FACTS_SQL} -- ${k++}`, { d0: 'agdb', d1: 'x' }, s), 100));
    assert.ok(ms < 5, `median ${ms.toFixed(3)} ms`);
  });
});
