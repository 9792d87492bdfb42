// sqlsim's query engine: T-SQL batches evaluated by SQLite (node:sqlite) against tables laid out
// like SQL Server's catalog views (schema.ts), filled from a scenario (scenarios.ts) as the
// session's login may see them, after the documented translation of tsql.ts.
//
// Permissions follow Microsoft's documentation of each view:
// - sys.databases: master, tempdb and the session's database, all others only with VIEW ANY DATABASE
//   (granted to public by default); an OFFLINE database only with ALTER ANY DATABASE.
// - sys.database_mirroring: the rows of those databases; "To see non-NULL values on a mirror
//   database, you must be a member of the sysadmin fixed server role" — so for anyone else the
//   mirroring_* columns of a database this server mirrors are NULL.
// - sys.availability_groups, sys.availability_replicas: VIEW ANY DEFINITION, otherwise no rows.
// - sys.dm_hadr_*: VIEW SERVER STATE ("On SQL Server 2019 (15.x) and earlier versions, requires VIEW
//   SERVER STATE permission on the server. On SQL Server 2022 (16.x) and later versions, requires
//   VIEW SERVER PERFORMANCE STATE", Permissions of each DMV's page; VIEW SERVER STATE covers the
//   latter). Without it a real server does not return an empty result: the statement fails with
//   Msg 300 "VIEW SERVER STATE permission was denied on object 'server', database 'master'." and
//   Msg 297 "The user does not have permission to perform this action." (Database Engine errors
//   297 and 300), and so does sqlsim, before running anything of the statement.
// The tables hold the views and columns of the scenario's release (schema.ts viewsAt): a view or
// column that release lacks gives 208/207 as there. The tables are tiny, so each time the
// session's view of them changes they are refilled.
//
// Strings compare under SQL Server's collations (collation.ts): tsql.ts turns each string
// comparison into tsql_compare / tsql_in with the collation that collation precedence gives it,
// and lookups by name (DB_ID, DATABASEPROPERTYEX, USE, the database of a login) use the server
// collation, in which database names are (COLLATE, Remarks: "Identifiers of instance-level
// objects, such as logins and database names, are assigned the default collation of the
// instance"). node:sqlite's DatabaseSync has no custom collations (only user functions), so what
// SQLite still compares itself — ORDER BY, GROUP BY, DISTINCT, UNION, LIKE, BETWEEN, MIN/MAX, a
// simple CASE — uses the nearest built-in one: NOCASE under a case-insensitive server collation,
// RTRIM (binary, trailing spaces ignored) under a case-sensitive or binary one.

import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { compareStrings, findCollation, likeMatches, sameName, type Collation } from './collation.ts';
import { VIEW_BY_NAME, columnOf, sqliteDeclaration, viewsAt, type ViewSpec } from './schema.ts';
import { formatDatetime, normalize, parseDatetime, type Normalized, type Row, type Stored } from './scenarios.ts';
import { GUID_COMPARISON, STATEMENT_STARTS, errors, splitStatements, tokenize, translate, type SelectItem, type Statement, type Token } from './tsql.ts';
import { SqlError, SqlErrors, type Column, type Login, type QueryEngine, type ResultSet, type Scenario, type Session, type StatementResult, type Value } from './types.ts';

export { failover, loadScenario, scenarioFile, setDatabaseState, setMirroringState, setReplicaRole } from './scenarios.ts';

interface Permissions {
  sysadmin: boolean;
  viewServerState: boolean;
  viewAnyDatabase: boolean;
  viewAnyDefinition: boolean;
  alterAnyDatabase: boolean;
}

export function permissionsOf(login: Login): Permissions {
  const sa = login.sysadmin === true;
  return {
    sysadmin: sa,
    viewServerState: sa || login.viewServerState === true,
    viewAnyDatabase: sa || login.viewAnyDatabase !== false,
    viewAnyDefinition: sa || login.viewAnyDefinition === true,
    alterAnyDatabase: sa || login.alterAnyDatabase === true,
  };
}

type Compiled =
  | { kind: 'set' }
  | { kind: 'use'; database: string }
  | { kind: 'select'; st: Extract<Statement, { kind: 'select' }>; stmt: StatementSync; origins: ReturnType<StatementSync['columns']> }
  | { kind: 'if'; condition: Extract<Compiled, { kind: 'select' }>; then: Compiled; else: Compiled | null };

const MIRRORING_COLUMNS = VIEW_BY_NAME.get('database_mirroring')!.columns.map((c) => c.name).filter((n) => n !== 'database_id');
const CACHE_LIMIT = 200;

export class Catalog implements QueryEngine {
  private readonly db: DatabaseSync;
  private readonly inserts = new Map<string, StatementSync>();
  private readonly cache = new Map<string, Compiled[]>();
  private state!: Normalized;
  private current!: Scenario;
  /** whose view of the catalog the tables now hold */
  private filledFor = '';
  /** the session of the statement running, for the session-dependent functions */
  private session: Session | null = null;

  /** the views (and columns) of the scenario's release, and the SQLite collation of their text
   *  columns (see above), for which the tables were made */
  private views: ViewSpec[] = [];
  private level = 0;
  private tablesCollate = '';

  constructor(scenario: Scenario) {
    this.db = new DatabaseSync(':memory:');
    this.db.exec("ATTACH DATABASE ':memory:' AS sys");
    this.registerFunctions();
    this.load(scenario);
  }

  get scenario(): Scenario {
    return this.current;
  }

  load(scenario: Scenario): void {
    this.state = normalize(scenario);
    this.current = scenario;
    this.filledFor = '';
    this.cache.clear();
    const server = this.serverCollation();
    this.makeTables(this.state.server.level, server.binary || server.caseSensitive ? 'RTRIM' : 'NOCASE');
  }

  /** (Re)creates the tables for a release's catalog and a text collation. */
  private makeTables(level: number, collate: string): void {
    if (level === this.level && collate === this.tablesCollate) return;
    for (const view of this.views) this.db.exec(`DROP TABLE IF EXISTS sys."${view.name}"`);
    this.inserts.clear();
    this.views = viewsAt(level);
    for (const view of this.views) {
      this.db.exec(`CREATE TABLE sys."${view.name}" (${view.columns.map((c) => sqliteDeclaration(c, collate)).join(', ')})`);
      this.inserts.set(view.name, this.db.prepare(
        `INSERT INTO sys."${view.name}" VALUES (${view.columns.map(() => '?').join(', ')})`));
    }
    this.level = level;
    this.tablesCollate = collate;
  }

  private serverCollation(): Collation {
    return findCollation(this.state.server.collation)!;
  }

  /** The default collation of a database (the server's when the database shows none). */
  private databaseCollation(name: string): string {
    const db = this.state.rows.databases.find((d) => sameName(String(d.name), name, this.serverCollation()));
    return typeof db?.collation_name === 'string' ? db.collation_name : this.state.server.collation;
  }

  execute(sql: string, params: Record<string, Value>, session: Session): StatementResult[] {
    const bound = new Map<string, Value>();
    for (const [k, v] of Object.entries(params)) bound.set(k.replace(/^@/, '').toLowerCase(), v);
    const compiled = this.compile(sql, [...bound.keys()], session.database);
    const results: StatementResult[] = [];
    const exec = (c: Compiled): void => {
      if (c.kind === 'use') this.use(c.database, session);
      else if (c.kind === 'select') results.push(this.run(c, bound, session));
      else if (c.kind === 'if') {
        const holds = this.run(c.condition, bound, session).rows[0]?.[0] === 1;
        const branch = holds ? c.then : c.else;
        if (branch) exec(branch);
      }
    };
    for (const c of compiled) exec(c);
    return results;
  }

  // --- compiling -------------------------------------------------------------------------------

  /** Translates and prepares every statement of the batch first: a compile error runs nothing. */
  private compile(sql: string, paramNames: string[], database: string): Compiled[] {
    // literals and parameters take the current database's collation: part of what the text means
    const databaseCollation = this.databaseCollation(database);
    const key = `${paramNames.sort().join(',')}\n${databaseCollation}\n${sql}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const ctx = {
      params: new Set(paramNames),
      catalogCollation: this.state.server.collation,
      databaseCollation,
      views: new Map(this.views.map((v) => [v.name, new Map(v.columns.map((c) => [c.name, c.sqlType]))])),
      databases: new Set(this.state.rows.databases.map((d) => String(d.name).toLowerCase())),
    };
    const one = (tokens: Token[]): Compiled => {
      if (tokens[0]?.upper === 'IF' && tokens[0].kind === 'ident') return this.compileIf(tokens, one);
      const st = translate(tokens, ctx);
      // the statements after a USE are compiled in the database it names
      if (st.kind === 'use') ctx.databaseCollation = this.databaseCollation(st.database);
      if (st.kind !== 'select') return st;
      let stmt: StatementSync;
      try {
        stmt = this.db.prepare(st.sql);
      } catch (e) {
        throw sqliteError(e, st);
      }
      stmt.setReadBigInts(true);
      stmt.setReturnArrays(true);
      return { kind: 'select', st, stmt, origins: stmt.columns() };
    };
    const compiled = splitIfStatements(tokenize(sql)).map(one);
    if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, compiled);
    return compiled;
  }

  /**
   * IF condition statement [ELSE statement]: each branch one statement (no BEGIN … END), the
   * condition any scalar expression. Both branches are compiled, so an invalid column in either
   * fails the batch as SQL Server's compilation does; only the chosen one runs (permissions are
   * checked when a statement executes, "Permissions Hierarchy (Database Engine)").
   */
  private compileIf(tokens: Token[], one: (t: Token[]) => Compiled): Compiled {
    const at = (from: number, test: (t: Token) => boolean): number => {
      let depth = 0;
      for (let i = from; i < tokens.length; i++) {
        const t = tokens[i];
        if (t.kind === 'op' && t.text === '(') depth++;
        else if (t.kind === 'op' && t.text === ')') depth--;
        else if (depth === 0 && test(t)) return i;
      }
      return -1;
    };
    const thenAt = at(1, (t) => t.kind === 'ident' && STATEMENT_STARTS.has(t.upper));
    if (thenAt <= 1) throw errors.syntax(tokens[tokens.length - 1].text);
    const elseAt = at(thenAt, (t) => t.kind === 'ident' && t.upper === 'ELSE');
    const thenTokens = tokens.slice(thenAt, elseAt < 0 ? undefined : elseAt);
    const elseTokens = elseAt < 0 ? null : tokens.slice(elseAt + 1);
    for (const branch of [thenTokens, elseTokens]) {
      if (branch && (branch.length === 0 || splitStatements(branch).length !== 1 || branch[0].upper === 'BEGIN')) {
        throw errors.unsupported('IF branches of more than one statement');
      }
    }
    const condition = one([...tokenize('SELECT CASE WHEN'), ...tokens.slice(1, thenAt), ...tokenize('THEN 1 ELSE 0 END')]);
    if (condition.kind !== 'select') throw errors.syntax(tokens[1].text);
    return { kind: 'if', condition, then: one(thenTokens), else: elseTokens ? one(elseTokens) : null };
  }

  // --- running ---------------------------------------------------------------------------------

  private run(c: Extract<Compiled, { kind: 'select' }>, params: Map<string, Value>, session: Session): ResultSet {
    if ([...c.st.views].some((v) => v.startsWith('dm_')) && !permissionsOf(session.login).viewServerState) {
      const permission = this.level >= 16 ? 'VIEW SERVER PERFORMANCE STATE' : 'VIEW SERVER STATE';
      throw new SqlErrors([
        new SqlError(300, `${permission} permission was denied on object 'server', database 'master'.`, 14, 1),
        new SqlError(297, 'The user does not have permission to perform this action.', 16, 1),
      ]);
    }
    this.fill(session);
    const bind: Record<string, Stored> = {};
    for (const [name, placeholder] of c.st.params) bind[placeholder] = toStored(params.get(name) ?? null);
    let raw: Stored[][];
    this.session = session;
    try {
      raw = c.stmt.all(bind) as unknown as Stored[][];
    } catch (e) {
      throw sqliteError(e, c.st);
    } finally {
      this.session = null;
    }
    const columns = this.columnsOf(c, raw, params);
    return { columns, rows: raw.map((r) => r.map((v, k) => toValue(v, columns[k]))) };
  }

  /** Names from the select list; types from the catalog column, else the text, else the values. */
  private columnsOf(c: Extract<Compiled, { kind: 'select' }>, raw: Stored[][], params: Map<string, Value>): Column[] {
    const items: SelectItem[] | null =
      c.st.items.length === c.origins.length && !c.st.items.some((i) => i.star) ? c.st.items : null;
    return c.origins.map((o, k) => {
      const item = items?.[k];
      const name = item ? item.alias ?? item.column ?? '' : o.name;
      const spec = o.database === 'sys' && o.table && o.column
        ? VIEW_BY_NAME.get(o.table)?.columns.find((x) => x.name === o.column) : undefined;
      if (spec) return columnOf(name, spec.sqlType, spec.nullable || c.st.outerJoin);
      if (item?.type) return columnOf(name, item.type === 'datetime2' || item.type === 'date' ? 'datetime' : item.type, true);
      const bound = item?.param ? params.get(item.param) : undefined;
      if (typeof bound === 'boolean') return { name, type: 'bit', nullable: true };
      if (bound instanceof Date) return { name, type: 'datetime', nullable: true };
      return inferColumn(name, raw.map((r) => r[k]));
    });
  }

  private use(database: string, session: Session): void {
    const db = this.state.rows.databases.find((d) => sameName(String(d.name), database, this.serverCollation()));
    if (!db || !this.canSee(db, session, false)) {
      throw new SqlError(911, `Database '${database}' does not exist. Make sure that the name is entered correctly.`, 16, 1);
    }
    if (db.state_desc === 'OFFLINE') throw new SqlError(942, `Database '${String(db.name)}' cannot be opened because it is offline.`, 14, 4);
    if (db.state_desc === 'RESTORING') throw new SqlError(927, `Database '${String(db.name)}' cannot be opened. It is in the middle of a restore.`, 14, 2);
    if (db.state_desc !== 'ONLINE') throw new SqlError(922, `Database '${String(db.name)}' is being recovered. Waiting until recovery is finished.`, 14, 1);
    session.database = String(db.name);
  }

  // --- the session's view of the catalog -------------------------------------------------------

  private canSee(db: Row, session: Session, offlineRule: boolean): boolean {
    const p = permissionsOf(session.login);
    const is = (name: string) => sameName(String(db.name), name, this.serverCollation());
    const listed = is('master') || is('tempdb') || is(session.database) || p.viewAnyDatabase;
    return listed && !(offlineRule && db.state_desc === 'OFFLINE' && !p.alterAnyDatabase);
  }

  /** Refills the tables when the session sees the catalog differently from the last one. */
  private fill(session: Session): void {
    const p = permissionsOf(session.login);
    const key = JSON.stringify([p, session.database.toLowerCase()]);
    if (key === this.filledFor) return;
    const rows = this.state.rows;
    const seen = new Set(rows.databases.filter((d) => this.canSee(d, session, false)).map((d) => d.database_id));
    const visible: Record<string, Row[]> = {
      databases: rows.databases.filter((d) => this.canSee(d, session, true)),
      database_mirroring: rows.database_mirroring.filter((m) => seen.has(m.database_id)).map((m) => {
        if (m.mirroring_role_desc !== 'MIRROR' || p.sysadmin) return m;
        const masked = { ...m };
        for (const col of MIRRORING_COLUMNS) masked[col] = null;
        return masked;
      }),
      availability_groups: p.viewAnyDefinition ? rows.availability_groups : [],
      availability_replicas: p.viewAnyDefinition ? rows.availability_replicas : [],
      dm_hadr_availability_replica_states: p.viewServerState ? rows.dm_hadr_availability_replica_states : [],
      dm_hadr_database_replica_states: p.viewServerState ? rows.dm_hadr_database_replica_states : [],
      dm_hadr_availability_group_states: p.viewServerState ? rows.dm_hadr_availability_group_states : [],
    };
    this.db.exec('BEGIN');
    try {
      for (const view of this.views) {
        this.db.exec(`DELETE FROM sys."${view.name}"`);
        const insert = this.inserts.get(view.name)!;
        for (const row of visible[view.name]) insert.run(...view.columns.map((c) => row[c.name]));
      }
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
    this.filledFor = key;
  }

  // --- T-SQL functions -------------------------------------------------------------------------

  private findDatabase(arg: Stored, session: Session): Row | undefined {
    const rows = this.state.rows.databases;
    const db = typeof arg === 'string'
      ? rows.find((d) => sameName(String(d.name), arg, this.serverCollation()))
      : rows.find((d) => d.database_id === Number(arg));
    return db && this.canSee(db, session, false) ? db : undefined;
  }

  private registerFunctions(): void {
    const session = (): Session => {
      if (!this.session) throw new Error('catalog function called outside a statement');
      return this.session;
    };
    const define = (name: string, impl: (...args: Stored[]) => Stored) =>
      this.db.function(name, { varargs: true, deterministic: false }, impl as (...args: unknown[]) => Stored);
    const server = () => this.state.server;
    const str = (v: Stored) => (v === null ? null : typeof v === 'string' ? v : String(v));

    define('tsql_global', (name) => {
      const s = server();
      switch (name) {
        case 'SERVERNAME': return s.name;
        case 'SERVICENAME': return s.instanceName ?? 'MSSQLSERVER';
        case 'VERSION': return versionString(s.productVersion, s.edition);
        case 'SPID': return 52;
        case 'LANGUAGE': return 'us_english';
        case 'MAX_PRECISION': return 38;
        default: return 0; // TRANCOUNT, ROWCOUNT, ERROR
      }
    });
    define('tsql_serverproperty', (prop) => {
      const s = server();
      const major = s.productVersion.split('.')[0];
      const props: Record<string, Stored> = {
        servername: s.name, machinename: s.machineName, computernamephysicalnetbios: s.machineName,
        instancename: s.instanceName, productversion: s.productVersion, productmajorversion: major,
        productminorversion: s.productVersion.split('.')[1] ?? '0', productlevel: 'RTM', edition: s.edition,
        engineedition: s.engineEdition, ishadrenabled: s.isHadrEnabled ? 1 : 0, hadrmanagerstatus: s.isHadrEnabled ? 1 : 0,
        isclustered: 0, collation: s.collation, issingleuser: 0, isintegratedsecurityonly: 0,
      };
      return props[String(prop).toLowerCase()] ?? null;
    });
    define('tsql_db_id', (name = null) => {
      const s = session();
      const db = this.findDatabase(name === null ? s.database : String(name), s);
      return db ? db.database_id : null;
    });
    define('tsql_db_name', (id = null) => {
      const s = session();
      const db = id === null ? this.findDatabase(s.database, s) : this.findDatabase(Number(id), s);
      return db ? db.name : null;
    });
    define('tsql_databasepropertyex', (name, prop) => {
      const s = session();
      const db = name === null ? undefined : this.findDatabase(String(name), s);
      if (!db) return null;
      switch (String(prop).toLowerCase()) {
        case 'status': return db.state_desc;
        case 'updateability': return db.is_read_only === 1 || this.isLocalSecondary(db) ? 'READ_ONLY' : 'READ_WRITE';
        case 'useraccess': return db.user_access_desc;
        case 'recovery': return db.recovery_model_desc;
        case 'collation': return db.collation_name;
        case 'isautoclose': return db.is_auto_close_on;
        case 'isinstandby': return db.is_in_standby;
        case 'version': return db.state_desc === 'ONLINE' ? 957 : null;
        default: return null;
      }
    });
    define('tsql_fn_hadr_is_primary_replica', (name) => {
      const db = this.state.rows.databases.find((d) => sameName(String(d.name), String(name), this.serverCollation()));
      const local = db && this.state.rows.dm_hadr_database_replica_states.find((r) => r.is_local === 1 && r.database_id === db.database_id);
      return local?.is_primary_replica === 1 ? 1 : 0;
    });
    define('tsql_suser_name', () => session().login.name);
    define('tsql_user_name', (which) => (which === 'login' ? session().login.name : session().login.sysadmin ? 'dbo' : session().login.name));
    define('tsql_is_srvrolemember', (role) => {
      if (role === null) return null;
      const r = String(role).toLowerCase();
      const fixed = ['sysadmin', 'serveradmin', 'dbcreator', 'setupadmin', 'bulkadmin', 'securityadmin', 'diskadmin', 'public', 'processadmin'];
      if (!fixed.includes(r)) return null;
      return r === 'public' || (r === 'sysadmin' && session().login.sysadmin === true) ? 1 : 0;
    });
    define('tsql_has_perms_by_name', (securable, cls, permission) => {
      const p = permissionsOf(session().login);
      const perm = String(permission).toUpperCase();
      if (cls === null || String(cls).toUpperCase() === 'SERVER') {
        const server: Record<string, boolean> = {
          'VIEW SERVER STATE': p.viewServerState, 'VIEW ANY DATABASE': p.viewAnyDatabase,
          'VIEW ANY DEFINITION': p.viewAnyDefinition, 'ALTER ANY DATABASE': p.alterAnyDatabase,
          'CONTROL SERVER': p.sysadmin, 'VIEW SERVER PERFORMANCE STATE': p.viewServerState,
        };
        return perm in server ? (server[perm] ? 1 : 0) : null;
      }
      if (String(cls).toUpperCase() === 'DATABASE') {
        const db = this.findDatabase(securable, session());
        if (!db) return null;
        return p.sysadmin || perm === 'CONNECT' ? 1 : 0;
      }
      return null;
    });
    // a string comparison under a collation (tsql.ts decides which): -1, 0, 1, or NULL
    define('tsql_compare', (a, b, mode) => compareValues(a, b, String(mode)));
    // x IN (a, b, …): true when one item is equal, else NULL when x or an item is NULL, else false
    define('tsql_in', (mode, x, ...items) => {
      let unknown = false;
      for (const item of items) {
        const r = compareValues(x, item, String(mode));
        if (r === 0) return 1;
        if (r === null) unknown = true;
      }
      return unknown ? null : 0;
    });
    define('tsql_like', (x, pattern, escape, mode, unicode) => {
      if (x === null || pattern === null) return null;
      const c = findCollation(String(mode))!;
      if (escape !== null && [...String(escape)].length !== 1) {
        throw new SqlError(506, `The invalid escape character "${String(escape)}" was specified in a LIKE predicate.`, 16, 1);
      }
      return likeMatches(String(x), String(pattern), escape === null ? null : String(escape), c, unicode === 1) ? 1 : 0;
    });
    define('tsql_getdate', () => formatDatetime(new Date()));
    define('tsql_datediff', (part, a, b) => {
      if (a === null || b === null) return null;
      const x = datetimeArg(a);
      const y = datetimeArg(b);
      const units: Record<string, number> = { millisecond: 1, second: 1000, minute: 60000, hour: 3600000, day: 86400000, week: 604800000 };
      if (String(part) in units) {
        const u = units[String(part)];
        return Math.floor(y.getTime() / u) - Math.floor(x.getTime() / u); // boundaries crossed, as DATEDIFF counts
      }
      const months = (y.getUTCFullYear() - x.getUTCFullYear()) * 12 + y.getUTCMonth() - x.getUTCMonth();
      return part === 'month' ? months : part === 'quarter' ? Math.floor((y.getUTCMonth()) / 3) - Math.floor(x.getUTCMonth() / 3) + (y.getUTCFullYear() - x.getUTCFullYear()) * 4 : y.getUTCFullYear() - x.getUTCFullYear();
    });
    define('tsql_dateadd', (part, n, d) => {
      if (n === null || d === null) return null;
      const x = datetimeArg(d);
      const k = Number(n);
      const units: Record<string, number> = { millisecond: 1, second: 1000, minute: 60000, hour: 3600000, day: 86400000, week: 604800000 };
      if (String(part) in units) return formatDatetime(new Date(x.getTime() + k * units[String(part)]));
      const months = part === 'month' ? k : part === 'quarter' ? 3 * k : 12 * k;
      const y = new Date(x);
      y.setUTCMonth(y.getUTCMonth() + months);
      return formatDatetime(y);
    });
    define('tsql_upper', (s) => str(s)?.toUpperCase() ?? null);
    define('tsql_lower', (s) => str(s)?.toLowerCase() ?? null);
    define('tsql_len', (s) => (s === null ? null : str(s)!.replace(/ +$/, '').length));
    define('tsql_left', (s, n) => (s === null || n === null ? null : str(s)!.slice(0, Math.max(0, Number(n)))));
    define('tsql_right', (s, n) => (s === null || n === null ? null : Number(n) <= 0 ? '' : str(s)!.slice(-Number(n))));
    define('tsql_charindex', (find, s, start = 1) => {
      if (find === null || s === null) return null;
      return str(s)!.toLowerCase().indexOf(str(find)!.toLowerCase(), Math.max(0, Number(start) - 1)) + 1;
    });
    define('tsql_concat', (...parts) => parts.map((p) => str(p) ?? '').join(''));
    define('tsql_cast', (value, type, tryCast) => {
      try {
        return castValue(value, String(type));
      } catch (e) {
        if (tryCast === 1 && e instanceof SqlError) return null;
        throw e;
      }
    });
  }

  /** Not writable here: the local replica is a secondary of one of the database's groups (for a
   *  forwarder of a distributed availability group: of the distributed one). */
  private isLocalSecondary(db: Row): boolean {
    return this.state.rows.dm_hadr_database_replica_states.some((r) => r.is_local === 1 && r.database_id === db.database_id && r.is_primary_replica !== 1);
  }
}

/** Splits a batch into statements, keeping IF … [ELSE …] with its one-statement branches together. */
function splitIfStatements(tokens: Token[]): Token[][] {
  const parts = splitStatements(tokens);
  const out: Token[][] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p[0]?.upper !== 'IF' || p[0].kind !== 'ident') { out.push(p); continue; }
    // [IF cond] [then …ELSE] [else]: the then-branch ends in ELSE when there is an else-branch
    const joined = [...p, ...(parts[i + 1] ?? [])];
    i++;
    if (joined[joined.length - 1]?.upper === 'ELSE' && parts[i + 1]) { joined.push(...parts[i + 1]); i++; }
    out.push(joined);
  }
  return out;
}

// --- values --------------------------------------------------------------------------------------

/**
 * Compares two values for tsql_compare: strings under the collation; a string with a
 * uniqueidentifier as GUIDs; a string with a number as numbers (the string converts to the type
 * of higher precedence, as SQL Server does); other values as SQLite would.
 */
function compareValues(a: Stored, b: Stored, mode: string): number | null {
  if (a === null || b === null) return null;
  if (mode === GUID_COMPARISON) {
    const guid = (v: Stored) => {
      const text = String(v).trim();
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) {
        throw new SqlError(8169, 'Conversion failed when converting from a character string to uniqueidentifier.', 16, 2);
      }
      return text.toUpperCase();
    };
    const [x, y] = [guid(a), guid(b)];
    return x === y ? 0 : x < y ? -1 : 1;
  }
  if (typeof a === 'string' && typeof b === 'string') {
    const c = findCollation(mode);
    if (!c) throw new Error(`tsql_compare: no collation ${mode}`);
    return compareStrings(a, b, c);
  }
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    const bytes = (v: Stored) => (v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v), 'utf8'));
    return Buffer.compare(bytes(a), bytes(b));
  }
  const number = (v: Stored): number | bigint => {
    if (typeof v !== 'string') return v as number | bigint;
    if (/^\s*[+-]?\d+\s*$/.test(v)) return BigInt(v.trim());
    const n = Number(v);
    if (v.trim() === '' || Number.isNaN(n)) throw new SqlError(245, `Conversion failed when converting the nvarchar value '${v}' to data type int.`, 16, 1);
    return n;
  };
  const [x, y] = [number(a), number(b)];
  return x === y || (typeof x !== typeof y && Number(x) === Number(y)) ? 0 : x < y ? -1 : 1;
}

function datetimeArg(v: Stored): Date {
  const d = parseDatetime(String(v));
  if (!d) throw new SqlError(241, 'Conversion failed when converting date and/or time from character string.', 16, 1);
  return d;
}

function versionString(productVersion: string, edition: string): string {
  const years: Record<string, string> = { 9: '2005', 10: '2008', 11: '2012', 12: '2014', 13: '2016', 14: '2017', 15: '2019', 16: '2022', 17: '2025' };
  const year = years[productVersion.split('.')[0]] ?? '2022';
  return `Microsoft SQL Server ${year} (RTM) - ${productVersion} (X64) \n\tJan 15 2024 09:30:00 \n\t` +
    `Copyright (C) ${year} Microsoft Corporation\n\t${edition} on Linux (Debian GNU/Linux 12 (bookworm)) <X64>`;
}

/** SQL Server's CAST for the types sqlsim knows; conversion failures raise its errors. */
function castValue(v: Stored, type: string): Stored {
  if (v === null) return null;
  const base = type.replace(/\(.*$/, '');
  const size = /\((\d+)/.exec(type)?.[1];
  const text = v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : String(v);
  const fail = (target: string) =>
    new SqlError(245, `Conversion failed when converting the ${typeof v === 'string' ? 'nvarchar' : 'int'} value '${text}' to data type ${target}.`, 16, 1);
  switch (base) {
    case 'int': case 'smallint': case 'tinyint': case 'bigint': {
      if (typeof v === 'bigint') return v;
      if (typeof v === 'number') return Math.trunc(v);
      if (!/^\s*[+-]?\d+\s*$/.test(text)) throw fail(base);
      const n = BigInt(text.trim());
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
    case 'bit':
      if (typeof v === 'number' || typeof v === 'bigint') return Number(v) !== 0 ? 1 : 0;
      if (/^\s*(1|true)\s*$/i.test(text)) return 1;
      if (/^\s*(0|false)\s*$/i.test(text)) return 0;
      throw fail('bit');
    case 'float': case 'real': case 'numeric': case 'decimal': {
      const n = Number(text);
      if (text.trim() === '' || Number.isNaN(n)) throw new SqlError(8114, `Error converting data type nvarchar to ${base}.`, 16, 5);
      const scale = /,(\d+)\)/.exec(type)?.[1];
      return base === 'numeric' || base === 'decimal' ? Number(n.toFixed(Number(scale ?? 0))) : n;
    }
    case 'nvarchar': case 'nchar': case 'varchar': case 'char': case 'sysname': {
      const limit = base === 'sysname' ? 128 : size === undefined ? (/\(max\)/i.test(type) ? Infinity : 30) : Number(size);
      return text.slice(0, limit);
    }
    case 'uniqueidentifier':
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text.trim())) {
        throw new SqlError(8169, 'Conversion failed when converting from a character string to uniqueidentifier.', 16, 2);
      }
      return text.trim().toUpperCase();
    case 'datetime': case 'datetime2': case 'date': {
      const d = parseDatetime(text);
      if (!d) throw new SqlError(241, 'Conversion failed when converting date and/or time from character string.', 16, 1);
      if (base === 'date') d.setUTCHours(0, 0, 0, 0);
      return formatDatetime(d);
    }
    case 'varbinary': case 'binary':
      return v instanceof Uint8Array ? v : Buffer.from(text, 'utf8');
    default:
      return v; // sql_variant
  }
}

function toStored(v: Value): Stored {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return formatDatetime(v);
  return v;
}

function toValue(v: Stored, c: Column): Value {
  if (v === null) return null;
  const num = () => (typeof v === 'bigint' && (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) ? v : Number(v));
  switch (c.type) {
    case 'bit': return Number(v) !== 0;
    case 'int': case 'smallint': case 'tinyint': case 'bigint': case 'numeric': case 'float': return num();
    case 'nvarchar': case 'varchar': case 'uniqueidentifier':
      return v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v);
    case 'datetime': return datetimeArg(v);
    case 'varbinary': return v instanceof Uint8Array ? v : Buffer.from(String(v), 'utf8');
    case 'sql_variant': return typeof v === 'bigint' ? num() : v;
    default: return v as Value;
  }
}

/** The type of an expression column whose text did not tell it, from the values it produced. */
function inferColumn(name: string, values: Stored[]): Column {
  const present = values.filter((v) => v !== null);
  if (present.length === 0) return { name, type: 'int', nullable: true };
  if (present.some((v) => typeof v === 'string')) {
    return { name, type: 'nvarchar', length: Math.min(4000, Math.max(1, ...present.map((v) => String(v).length))), nullable: true };
  }
  if (present.some((v) => v instanceof Uint8Array)) return { name, type: 'varbinary', length: 8000, nullable: true };
  if (present.some((v) => typeof v === 'number' && !Number.isInteger(v))) return { name, type: 'float', nullable: true };
  const fitsInt = present.every((v) => Number(v) >= -2147483648 && Number(v) <= 2147483647);
  return { name, type: fitsInt ? 'int' : 'bigint', nullable: true };
}

/** Turns an SQLite error into the error SQL Server gives for the same mistake. */
function sqliteError(e: unknown, st: Extract<Statement, { kind: 'select' }>): Error {
  if (e instanceof SqlError) return e;
  const message = e instanceof Error ? e.message : String(e);
  let m: RegExpExecArray | null;
  if ((m = /^no such column: "?([^"]+?)"?(?: - should this be.*)?$/.exec(message))) {
    const name = m[1];
    const dot = name.lastIndexOf('.');
    if (dot < 0) return errors.invalidColumn(name);
    return st.aliases.has(name.slice(0, dot).toLowerCase().replace(/^.*\./, ''))
      ? errors.invalidColumn(name.slice(dot + 1)) : errors.multipart(name);
  }
  if ((m = /^no such table: (.+)$/.exec(message))) return errors.invalidObject(m[1]);
  if ((m = /^no such function: (.+)$/.exec(message))) return errors.notBuiltin(m[1]);
  if ((m = /^ambiguous column name: (.+)$/.exec(message))) return errors.ambiguousColumn(m[1].replace(/^.*\./, ''));
  if ((m = /^near "(.+)": syntax error$/.exec(message))) return errors.syntax(m[1].replace(/^"(.*)"$/, '$1').replace(/""/g, '"'));
  if (/^incomplete input$/.test(message)) return errors.syntax(st.lastToken);
  return new SqlError(50000, `sqlsim: ${message}`, 16, 1);
}
