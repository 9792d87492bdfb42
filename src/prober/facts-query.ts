// The one query: for every requested database, in one round trip, the facts the verdict needs.
// Database names travel as nvarchar parameters (@db0, @db1, …), never in the SQL text; only
// catalog views and DMVs are read.
import { Request, TYPES } from 'tedious';
import type { Connection } from 'tedious';
import type { DatabaseFacts } from '../facts.ts';
import { GROUP_COLUMNS, groupsOf, noFacts } from '../facts.ts';
import type { GroupFacts } from '../facts.ts';
import { ProbeFailure, describeError } from './connection.ts';

/**
 * Which catalog the server has, from the TDS version it answered in LOGINACK: TDS 7.4 (and 8.0)
 * is SQL Server 2012 and later and Azure SQL Managed Instance, whose catalog has the
 * availability-group views and every column the query names; 7.2 (2005) and 7.3 (2008, 2008 R2)
 * have database mirroring only, and those views would fail the query with errors 208/207. The TDS
 * version is what the server speaks rather than a version number it reports, so a Managed Instance
 * (ProductMajorVersion 12) is asked the full query, and the choice costs no round trip.
 */
export type Catalog = 'hadr' | 'mirroring-only';
export function catalogFor(tdsVersion: string | undefined): Catalog {
  return tdsVersion === undefined || tdsVersion >= '7_4' || tdsVersion === '8_0' ? 'hadr' : 'mirroring-only';
}

/**
 * The SQL for n requested databases. The only variable parts are the parameter names and the
 * catalog. On a server with availability groups the batch reads the HADR DMVs only when the login
 * holds VIEW SERVER STATE (without it they raise Msg 300): otherwise sys.databases.replica_id still
 * tells that a database is in a group, and the verdict fails it with the GRANT that would show
 * the rest, while mirrored and standalone databases need no such grant.
 *
 * sys.availability_groups.cluster_type_desc exists from SQL Server 2017 on, and 2012-2016 (the same
 * TDS 7.4) would refuse the whole batch for naming it (Msg 207). The subquery names it unqualified:
 * "If a column does not exist in the table referenced in the FROM clause of a subquery, it is
 * implicitly qualified by the table referenced in the FROM clause of the outer query" (Microsoft
 * Learn, "Qualifying Column Names in Subqueries"), so on 2012-2016 it is before2017's NULL, and
 * every group there is a WSFC group.
 */
export function factsSql(n: number, catalog: Catalog = 'hadr'): string {
  const requested = Array.from({ length: n }, (_, i) =>
    i === 0 ? 'SELECT 0 AS ord, @db0 AS name' : `SELECT ${i}, @db${i}`).join(' UNION ALL ');
  const select = `SELECT r.ord,
  d.database_id, d.name, d.state_desc, d.is_read_only, d.user_access_desc,
  DATABASEPROPERTYEX(d.name, N'Updateability') AS updateability,
  m.mirroring_guid, m.mirroring_role_desc, m.mirroring_state_desc,
  m.mirroring_safety_level_desc, m.mirroring_witness_name, m.mirroring_witness_state_desc`;
  const from = `FROM (${requested}) AS r
LEFT JOIN sys.databases AS d ON d.name = r.name
LEFT JOIN sys.database_mirroring AS m ON m.database_id = d.database_id`;
  if (catalog === 'mirroring-only') return `${select}\n${from}\nORDER BY r.ord`;
  return `IF HAS_PERMS_BY_NAME(NULL, NULL, N'VIEW SERVER STATE') = 1
${select},
  d.replica_id AS db_replica_id,
  ag.name AS ag_name,
  drs.group_id, drs.replica_id, drs.synchronization_state_desc, drs.synchronization_health_desc,
  drs.database_state_desc, drs.is_suspended, drs.redo_queue_size, drs.redo_rate,
  ars.role_desc, ars.operational_state_desc, ars.connected_state_desc,
  ars.synchronization_health_desc AS replica_synchronization_health_desc,
  ar.secondary_role_allow_connections_desc, ar.availability_mode_desc,
  (SELECT cluster_type_desc FROM sys.availability_groups AS agc WHERE agc.group_id = drs.group_id) AS cluster_type_desc
${from}
CROSS JOIN (SELECT NULL AS cluster_type_desc) AS before2017
LEFT JOIN sys.dm_hadr_database_replica_states AS drs ON drs.database_id = d.database_id AND drs.is_local = 1
LEFT JOIN sys.dm_hadr_availability_replica_states AS ars ON ars.replica_id = drs.replica_id
LEFT JOIN sys.availability_replicas AS ar ON ar.replica_id = drs.replica_id
LEFT JOIN sys.availability_groups AS ag ON ag.group_id = drs.group_id
ORDER BY r.ord, drs.group_id
ELSE
${select},
  d.replica_id AS db_replica_id
${from}
ORDER BY r.ord`;
}

type Kind = 'int' | 'text' | 'bool';
/** Every column the query returns, and what its values must look like. */
const COLUMNS: Record<Exclude<keyof DatabaseFacts, 'requested' | 'rows' | 'more_groups'>, Kind> = {
  database_id: 'int', name: 'text', state_desc: 'text', is_read_only: 'bool', user_access_desc: 'text',
  updateability: 'text', db_replica_id: 'text',
  mirroring_guid: 'text', mirroring_role_desc: 'text', mirroring_state_desc: 'text',
  ag_name: 'text', group_id: 'text', replica_id: 'text', synchronization_state_desc: 'text',
  synchronization_health_desc: 'text', database_state_desc: 'text', is_suspended: 'bool',
  redo_queue_size: 'int', redo_rate: 'int', role_desc: 'text', operational_state_desc: 'text',
  connected_state_desc: 'text', replica_synchronization_health_desc: 'text',
  secondary_role_allow_connections_desc: 'text', availability_mode_desc: 'text', cluster_type_desc: 'text',
  mirroring_safety_level_desc: 'text', mirroring_witness_name: 'text', mirroring_witness_state_desc: 'text',
};

/** The columns of the mirroring-only query, and of the query for a login without VIEW SERVER STATE; the others stay NULL. */
const MIRRORING_ONLY = ['database_id', 'name', 'state_desc', 'is_read_only', 'user_access_desc', 'updateability',
  'mirroring_guid', 'mirroring_role_desc', 'mirroring_state_desc',
  'mirroring_safety_level_desc', 'mirroring_witness_name', 'mirroring_witness_state_desc'];
const WITHOUT_SERVER_STATE = [...MIRRORING_ONLY, 'db_replica_id'];
const GROUP_SET = new Set<string>(GROUP_COLUMNS);

const protocol = (message: string) => new ProbeFailure({ code: 'PROTOCOL', message });

/** A column value as the verdict expects it; anything of another shape is a protocol failure. */
function convert(column: string, kind: Kind, v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  switch (kind) {
    case 'text':
      if (typeof v === 'string') return v;
      break;
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 0 || v === 1) return v === 1;
      break;
    case 'int': {
      // bigint columns arrive as strings
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
      if (typeof v === 'bigint') return Number(v);
      break;
    }
  }
  throw protocol(`unexpected value for ${column}: ${typeof v}`);
}

interface Column {
  value: unknown;
  metadata: { colName: string };
}

export function queryFacts(conn: Connection, databases: string[], catalog: Catalog = 'hadr'): Promise<DatabaseFacts[]> {
  // which branch of the batch answered shows in its columns
  let expected = catalog === 'hadr' ? Object.keys(COLUMNS) : MIRRORING_ONLY;
  return new Promise((resolve, reject) => {
    const facts = databases.map((name) => noFacts(name));
    let problem: ProbeFailure | undefined;
    let resultSets = 0;
    // tedious completes a request at the end of the server's message, DONE token or not: rows
    // without the final DONE(PROC) after them are a partial answer.
    let ended = false;
    const request = new Request(factsSql(databases.length, catalog), (err) => {
      if (err) return reject(new ProbeFailure(describeError(err)));
      if (problem) return reject(problem);
      if (!ended) return reject(protocol('the answer ended without its final DONE token'));
      if (resultSets !== 1) return reject(protocol(`expected one result set, got ${resultSets}`));
      resolve(facts);
    });
    const onDone = (_rowCount: number | undefined, more: boolean) => {
      if (!more) ended = true;
    };
    request.on('doneProc', onDone);
    request.on('done', onDone);
    databases.forEach((name, i) => request.addParameter(`db${i}`, TYPES.NVarChar, name, { length: 128 }));
    request.on('columnMetadata', (cols: Array<{ colName: string }> | Record<string, { colName: string }>) => {
      resultSets++;
      if (resultSets > 1) problem ??= protocol(`expected one result set, got ${resultSets}`);
      const names = new Set((Array.isArray(cols) ? cols : Object.values(cols)).map((c) => c.colName));
      if (catalog === 'hadr' && !names.has('group_id') && names.size === 1 + WITHOUT_SERVER_STATE.length) expected = WITHOUT_SERVER_STATE;
      const missing = ['ord', ...expected].filter((c) => !names.has(c));
      if (missing.length > 0) problem ??= protocol(`result lacks column ${missing.join(', ')}`);
    });
    request.on('row', (columns: Column[]) => {
      if (problem) return;
      try {
        const byName = new Map(columns.map((c) => [c.metadata.colName, c.value]));
        const ord = convert('ord', 'int', byName.get('ord'));
        if (typeof ord !== 'number' || ord < 0 || ord >= databases.length) throw protocol(`row for an unknown ordinal ${String(ord)}`);
        const f = facts[ord];
        const row: Record<string, unknown> = {};
        for (const column of expected) row[column] = convert(column, COLUMNS[column as keyof typeof COLUMNS], byName.get(column));
        if (f.rows++ === 0) {
          Object.assign(f, row);
          return;
        }
        // Another local availability-group row of the same database (a distributed availability
        // group): the same database columns, another group. Any other extra row is only counted,
        // and the verdict fails the database for it.
        const record = f as unknown as Record<string, unknown>;
        const sameDatabase = expected.every((c) => GROUP_SET.has(c) || record[c] === row[c]);
        const newGroup = row.group_id !== null && f.group_id !== null && !groupsOf(f).some((g) => g.group_id === row.group_id);
        if (!sameDatabase || !newGroup || f.rows !== 1 + f.more_groups.length + 1) return;
        f.more_groups.push(Object.fromEntries(GROUP_COLUMNS.map((c) => [c, row[c]])) as unknown as GroupFacts);
      } catch (err) {
        problem = err instanceof ProbeFailure ? err : protocol(String(err));
      }
    });
    conn.execSql(request);
  });
}
