// T-SQL → SQLite: the small, documented translation sqlsim evaluates queries with. It does not
// recognise particular queries; it rewrites the T-SQL dialect token by token:
//
//   N'…' and '…'            → '…'
//   [name] and "name"        → "name" (every identifier is quoted, so SQLite keywords are plain names)
//   @name                    → $pN, bound; a name the caller did not supply → error 137
//   @@SERVERNAME, @@VERSION… → calls of the catalog's functions; unknown → error 137
//   TOP (n) / TOP n          → LIMIT n at the end of that SELECT
//   alias = expr, expr alias → expr AS "alias"
//   sys.<view>, master.sys.<view> → the attached schema sys; any other table name → error 208
//   WITH (NOLOCK) table hints → dropped
//   a = b, a <> b, a < b …   → (tsql_compare(a, b, 'collation') = 0) … when a and b are strings
//   a [NOT] IN (x, y …)      → [NOT] tsql_in('collation', a, x, y …) when they are strings
//   a [NOT] LIKE p [ESCAPE e] → [NOT] tsql_like(a, p, e, 'collation', unicode) when they are strings
//                              (collation.ts evaluates them: trailing spaces, case, accents, kana
//                              and width per collation; a comparison of other types stays SQLite's)
//   COLLATE name             → the Explicit collation of that operand; outside the comparisons above
//                              COLLATE NOCASE (case-insensitive) or COLLATE RTRIM (the others)
//   CAST / CONVERT / TRY_CAST / TRY_CONVERT → tsql_cast(value, 'type') (SQL Server's conversion rules
//                              for the simple types; failures raise SQL Server's conversion errors)
//   whitelisted built-ins    → SQLite or catalog functions (FUNCTIONS below); others → error 195/4121
//   SET <option> …, USE db   → accepted as statements (see Statement)
//
// The collation of a string comparison follows Collation Precedence
// (https://learn.microsoft.com/sql/t-sql/statements/collation-precedence-transact-sql): a literal
// or parameter is Coercible-default, in the current database's default collation; a column
// reference is Implicit in its column's collation (every text column of the catalog views is in
// the server collation: database and other instance-level names "are assigned the default
// collation of the instance", COLLATE (Transact-SQL), Remarks); a COLLATE clause is Explicit.
// Explicit > Implicit > Coercible-default; two different Implicit collations give No-collation,
// and a comparison on No-collation is error 468, decided when the batch is compiled. Only the
// labels the text shows are followed: string functions that keep their input's label (the list of
// "Functions and Collation", CAST/CONVERT, ISNULL, COALESCE, CASE …), derived tables and CTEs (a
// column of one made of parameters is Implicit in the database's collation: the documents are
// silent, and that is the side that can conflict); a scalar subquery counts as Coercible-default.
//
// Known gaps: '+' does not concatenate strings; BETWEEN, a simple CASE (CASE x WHEN …), IN
// (SELECT …), ORDER BY, GROUP BY, DISTINCT, UNION, MIN/MAX and CHARINDEX compare as SQLite does
// (NOCASE, which folds ASCII letters only and keeps trailing spaces, under a case-insensitive
// server collation; RTRIM otherwise), not as collation.ts does; identifiers (table, column and
// parameter names) resolve case-insensitively even under a case-sensitive collation;
// CROSS/OUTER APPLY, OFFSET/FETCH, variables assignment and control flow are not supported
// (error 50000).

import { findCollation, looksLikeCollation } from './collation.ts';
import { SqlError } from './types.ts';

export type TokenKind = 'str' | 'nstr' | 'num' | 'bin' | 'ident' | 'qident' | 'var' | 'gvar' | 'op';

export interface Token {
  kind: TokenKind;
  /** the source text */
  text: string;
  /** string literal contents, identifier name without quotes, variable name with its @ */
  value: string;
  upper: string;
  line: number;
}

// --- errors as SQL Server reports them (number, class, state) ---------------------------------

export const errors = {
  syntax: (near: string) => new SqlError(102, `Incorrect syntax near '${near}'.`, 15, 1),
  unclosedQuote: (rest: string) => new SqlError(105, `Unclosed quotation mark after the character string '${rest}'.`, 15, 1),
  unclosedComment: () => new SqlError(113, "Missing end comment mark '*/'.", 15, 1),
  invalidColumn: (name: string) => new SqlError(207, `Invalid column name '${name}'.`, 16, 1),
  invalidObject: (name: string) => new SqlError(208, `Invalid object name '${name}'.`, 16, 1),
  ambiguousColumn: (name: string) => new SqlError(209, `Ambiguous column name '${name}'.`, 16, 1),
  notBuiltin: (name: string) => new SqlError(195, `'${name}' is not a recognized built-in function name.`, 15, 10),
  notSetOption: (name: string) => new SqlError(195, `'${name}' is not a recognized SET option.`, 15, 1),
  noFunctionOrColumn: (first: string, full: string) =>
    new SqlError(4121, `Cannot find either column "${first}" or the user-defined function or aggregate "${full}", or the name is ambiguous.`, 16, 1),
  multipart: (full: string) => new SqlError(4104, `The multi-part identifier "${full}" could not be bound.`, 16, 1),
  undeclared: (name: string) => new SqlError(137, `Must declare the scalar variable "${name}".`, 15, 2),
  argCount: (fn: string, min: number, max: number) => min === max
    ? new SqlError(174, `The ${fn.toLowerCase()} function requires ${min} argument(s).`, 15, 1)
    : new SqlError(189, `The ${fn.toLowerCase()} function requires ${min} to ${max} arguments.`, 15, 1),
  notAType: (name: string) => new SqlError(243, `Type ${name} is not a defined system type.`, 16, 1),
  notDatepart: (fn: string, part: string) => new SqlError(155, `'${part}' is not a recognized ${fn.toLowerCase()} option.`, 15, 1),
  unsupported: (what: string) => new SqlError(50000, `sqlsim does not support ${what}.`, 16, 1),
  // "Cannot resolve the collation conflict between "SQL_Latin1_General_CP1_CS_AS" and
  // "SQL_Latin1_General_CP1_CI_AS" in the equal to operation." (Msg 468, Level 16, State 9): the
  // right operand's collation first, as real servers print it
  collationConflict: (right: string, left: string, operation: string) =>
    new SqlError(468, `Cannot resolve the collation conflict between "${right}" and "${left}" in the ${operation} operation.`, 16, 9),
  invalidCollation: (name: string) => new SqlError(448, `Invalid collation '${name}'.`, 16, 1),
};

// --- tokenizer ---------------------------------------------------------------------------------

const IDENT_START = /[\p{L}_#]/u;
const IDENT_PART = /[\p{L}\p{N}_@$#]/u;
const TWO_CHAR_OPS = new Set(['<>', '!=', '<=', '>=', '!<', '!>']);

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const push = (kind: TokenKind, text: string, value = text) =>
    tokens.push({ kind, text, value, upper: value.toUpperCase(), line });
  const quoted = (start: number, close: string): [string, number] => {
    // returns [contents, index after the closing quote]; a doubled quote stands for itself
    let j = start;
    let value = '';
    for (;;) {
      const k = sql.indexOf(close, j);
      if (k < 0) throw errors.unclosedQuote(sql.slice(start));
      value += sql.slice(j, k);
      if (sql[k + 1] === close) { value += close; j = k + 2; continue; }
      return [value, k + 1];
    }
  };
  while (i < sql.length) {
    const c = sql[i];
    const start = i;
    if (c === '\n') { line++; i++; continue; }
    if (/\s/.test(c)) { i++; continue; }
    if (c === '-' && sql[i + 1] === '-') { while (i < sql.length && sql[i] !== '\n') i++; continue; }
    if (c === '/' && sql[i + 1] === '*') {
      // T-SQL block comments nest
      let depth = 0;
      do {
        if (sql.startsWith('/*', i)) { depth++; i += 2; } else if (sql.startsWith('*/', i)) { depth--; i += 2; } else { if (sql[i] === '\n') line++; i++; }
        if (i >= sql.length && depth > 0) throw errors.unclosedComment();
      } while (depth > 0);
      continue;
    }
    if ((c === 'N' || c === 'n') && sql[i + 1] === "'") {
      const [v, end] = quoted(i + 2, "'");
      i = end; push('nstr', sql.slice(start, i), v);
    } else if (c === "'") {
      const [v, end] = quoted(i + 1, "'");
      i = end; push('str', sql.slice(start, i), v);
    } else if (c === '[') {
      const [v, end] = quoted(i + 1, ']');
      i = end; push('qident', sql.slice(start, i), v);
    } else if (c === '"') {
      const [v, end] = quoted(i + 1, '"');
      i = end; push('qident', sql.slice(start, i), v);
    } else if (c === '0' && (sql[i + 1] === 'x' || sql[i + 1] === 'X')) {
      i += 2;
      while (i < sql.length && /[0-9a-fA-F]/.test(sql[i])) i++;
      push('bin', sql.slice(start, i));
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^(\d*\.?\d*)([eE][+-]?\d+)?/.exec(sql.slice(i))!;
      i += m[0].length;
      push('num', m[0]);
    } else if (c === '@') {
      const global = sql[i + 1] === '@';
      i += global ? 2 : 1;
      while (i < sql.length && IDENT_PART.test(sql[i])) i++;
      if (i === start + (global ? 2 : 1)) throw errors.syntax('@');
      push(global ? 'gvar' : 'var', sql.slice(start, i));
    } else if (IDENT_START.test(c)) {
      while (i < sql.length && IDENT_PART.test(sql[i])) i++;
      push('ident', sql.slice(start, i));
    } else if (TWO_CHAR_OPS.has(sql.slice(i, i + 2))) {
      i += 2; push('op', sql.slice(start, i));
    } else {
      i++; push('op', c); // anything unknown becomes an operator the translator rejects with 102
    }
  }
  return tokens;
}

// --- statements --------------------------------------------------------------------------------

/** Statements that start a new statement in a batch without a ';' (T-SQL needs no separator). */
export const STATEMENT_STARTS = new Set([
  'SELECT', 'SET', 'USE', 'DECLARE', 'EXEC', 'EXECUTE', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'IF', 'WHILE',
  'BEGIN', 'COMMIT', 'ROLLBACK', 'PRINT', 'RAISERROR', 'THROW', 'CREATE', 'ALTER', 'DROP', 'TRUNCATE',
  'GRANT', 'REVOKE', 'DENY', 'WAITFOR', 'RETURN', 'DBCC', 'BACKUP', 'RESTORE', 'KILL', 'SHUTDOWN',
]);

/** Splits a batch into statements at ';' and where a statement keyword starts a new one. */
export function splitStatements(tokens: Token[]): Token[][] {
  const out: Token[][] = [];
  let cur: Token[] = [];
  let depth = 0;
  let topLevelSelect = false;
  const flush = () => { if (cur.length) out.push(cur); cur = []; topLevelSelect = false; };
  for (const t of tokens) {
    if (t.kind === 'op' && t.text === '(') depth++;
    if (t.kind === 'op' && t.text === ')') depth--;
    if (depth === 0 && t.kind === 'op' && t.text === ';') { flush(); continue; }
    if (depth === 0 && t.kind === 'ident' && cur.length > 0 && STATEMENT_STARTS.has(t.upper)) {
      const first = cur[0].upper;
      const prev = cur[cur.length - 1].upper;
      const continues =
        (t.upper === 'SELECT' && (['UNION', 'ALL', 'EXCEPT', 'INTERSECT'].includes(prev) ||
          (first === 'WITH' && !topLevelSelect) || first === 'INSERT')) ||
        (t.upper === 'SET' && first === 'UPDATE');
      if (!continues) flush();
    }
    if (depth === 0 && t.upper === 'SELECT' && t.kind === 'ident') topLevelSelect = true;
    cur.push(t);
  }
  flush();
  return out;
}

// --- what the translator knows about functions ---------------------------------------------------

/** A result type: a SQL Server type text, 'arg0' (the type of the first argument), or null (from the values). */
export type TypeRule = string | 'arg0' | null;

export interface FunctionSpec {
  /** the SQLite function that implements it (catalog.ts registers the tsql_* ones) */
  sqlite: string;
  min: number;
  max: number;
  returns: TypeRule;
  /** the first argument is a datepart keyword (DATEDIFF(second, …)) */
  datepart?: boolean;
}

const fn = (sqlite: string, min: number, max: number, returns: TypeRule, datepart = false): FunctionSpec =>
  ({ sqlite, min, max, returns, datepart });

export const FUNCTIONS: Record<string, FunctionSpec> = {
  ISNULL: fn('ifnull', 2, 2, 'arg0'),
  COALESCE: fn('coalesce', 2, 254, 'arg0'),
  NULLIF: fn('nullif', 2, 2, 'arg0'),
  IIF: fn('iif', 3, 3, null),
  UPPER: fn('tsql_upper', 1, 1, 'arg0'),
  LOWER: fn('tsql_lower', 1, 1, 'arg0'),
  LEN: fn('tsql_len', 1, 1, 'int'),
  LTRIM: fn('ltrim', 1, 1, 'arg0'),
  RTRIM: fn('rtrim', 1, 1, 'arg0'),
  TRIM: fn('trim', 1, 1, 'arg0'),
  SUBSTRING: fn('substr', 3, 3, 'arg0'),
  LEFT: fn('tsql_left', 2, 2, 'arg0'),
  RIGHT: fn('tsql_right', 2, 2, 'arg0'),
  REPLACE: fn('replace', 3, 3, 'arg0'),
  CHARINDEX: fn('tsql_charindex', 2, 3, 'int'),
  CONCAT: fn('tsql_concat', 2, 254, null),
  ABS: fn('abs', 1, 1, 'arg0'),
  ROUND: fn('round', 2, 3, 'arg0'),
  GETDATE: fn('tsql_getdate', 0, 0, 'datetime'),
  GETUTCDATE: fn('tsql_getdate', 0, 0, 'datetime'),
  SYSDATETIME: fn('tsql_getdate', 0, 0, 'datetime'),
  SYSUTCDATETIME: fn('tsql_getdate', 0, 0, 'datetime'),
  DATEDIFF: fn('tsql_datediff', 3, 3, 'int', true),
  DATEADD: fn('tsql_dateadd', 3, 3, 'datetime', true),
  DB_ID: fn('tsql_db_id', 0, 1, 'int'),
  DB_NAME: fn('tsql_db_name', 0, 1, 'nvarchar(128)'),
  DATABASEPROPERTYEX: fn('tsql_databasepropertyex', 2, 2, 'sql_variant'),
  SERVERPROPERTY: fn('tsql_serverproperty', 1, 1, 'sql_variant'),
  SUSER_NAME: fn('tsql_suser_name', 0, 1, 'nvarchar(128)'),
  SUSER_SNAME: fn('tsql_suser_name', 0, 1, 'nvarchar(128)'),
  HAS_PERMS_BY_NAME: fn('tsql_has_perms_by_name', 3, 5, 'int'),
  IS_SRVROLEMEMBER: fn('tsql_is_srvrolemember', 1, 2, 'int'),
  COUNT: fn('count', 1, 1, 'int'),
  COUNT_BIG: fn('count', 1, 1, 'bigint'),
  SUM: fn('sum', 1, 1, 'arg0'),
  MIN: fn('min', 1, 1, 'arg0'),
  MAX: fn('max', 1, 1, 'arg0'),
  AVG: fn('avg', 1, 1, 'arg0'),
  ROW_NUMBER: fn('row_number', 0, 0, 'bigint'),
  RANK: fn('rank', 0, 0, 'bigint'),
  DENSE_RANK: fn('dense_rank', 0, 0, 'bigint'),
};

/** Functions called with the sys. prefix. */
export const SYS_FUNCTIONS: Record<string, FunctionSpec> = {
  FN_HADR_IS_PRIMARY_REPLICA: fn('tsql_fn_hadr_is_primary_replica', 1, 1, 'bit'),
};

/** Niladic functions written without parentheses. */
const NILADIC: Record<string, { call: string; returns: string }> = {
  CURRENT_TIMESTAMP: { call: 'tsql_getdate()', returns: 'datetime' },
  CURRENT_USER: { call: "tsql_user_name('user')", returns: 'nvarchar(128)' },
  USER: { call: "tsql_user_name('user')", returns: 'nvarchar(128)' },
  SESSION_USER: { call: "tsql_user_name('user')", returns: 'nvarchar(128)' },
  SYSTEM_USER: { call: "tsql_user_name('login')", returns: 'nvarchar(128)' },
};

export const GLOBALS: Record<string, string> = {
  SERVERNAME: 'nvarchar(128)', SERVICENAME: 'nvarchar(128)', VERSION: 'nvarchar(300)', SPID: 'smallint',
  TRANCOUNT: 'int', LANGUAGE: 'nvarchar(128)', ROWCOUNT: 'int', ERROR: 'int', MAX_PRECISION: 'tinyint',
};

export const DATEPARTS: Record<string, string> = {
  YEAR: 'year', YY: 'year', YYYY: 'year', QUARTER: 'quarter', QQ: 'quarter', Q: 'quarter',
  MONTH: 'month', MM: 'month', M: 'month', DAYOFYEAR: 'day', DY: 'day', Y: 'day', DAY: 'day', DD: 'day', D: 'day',
  WEEK: 'week', WK: 'week', WW: 'week', HOUR: 'hour', HH: 'hour', MINUTE: 'minute', MI: 'minute', N: 'minute',
  SECOND: 'second', SS: 'second', S: 'second', MILLISECOND: 'millisecond', MS: 'millisecond',
};

const TYPES = new Set(['int', 'smallint', 'tinyint', 'bigint', 'bit', 'nvarchar', 'nchar', 'varchar', 'char', 'sysname',
  'uniqueidentifier', 'datetime', 'datetime2', 'date', 'sql_variant', 'numeric', 'decimal', 'float', 'real', 'varbinary', 'binary']);

/** T-SQL reserved words: passed to SQLite as keywords, never as names. */
const RESERVED = new Set(`ADD ALL ALTER AND ANY AS ASC AUTHORIZATION BACKUP BEGIN BETWEEN BREAK BROWSE BULK BY CASCADE CASE
  CHECK CHECKPOINT CLOSE CLUSTERED COALESCE COLLATE COLUMN COMMIT COMPUTE CONSTRAINT CONTAINS CONTAINSTABLE CONTINUE
  CONVERT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURSOR DATABASE DBCC DEALLOCATE
  DECLARE DEFAULT DELETE DENY DESC DISK DISTINCT DISTRIBUTED DOUBLE DROP DUMP ELSE END ERRLVL ESCAPE EXCEPT EXEC EXECUTE
  EXISTS EXIT EXTERNAL FETCH FILE FILLFACTOR FOR FOREIGN FREETEXT FREETEXTTABLE FROM FULL FUNCTION GOTO GRANT GROUP
  HAVING HOLDLOCK IDENTITY IDENTITY_INSERT IDENTITYCOL IF IN INDEX INNER INSERT INTERSECT INTO IS JOIN KEY KILL LEFT
  LIKE LINENO LOAD MERGE NATIONAL NOCHECK NONCLUSTERED NOT NULL NULLIF OF OFF OFFSETS ON OPEN OPENDATASOURCE OPENQUERY
  OPENROWSET OPENXML OPTION OR ORDER OUTER OVER PERCENT PIVOT PLAN PRECISION PRIMARY PRINT PROC PROCEDURE PUBLIC
  RAISERROR READ READTEXT RECONFIGURE REFERENCES REPLICATION RESTORE RESTRICT RETURN REVERT REVOKE RIGHT ROLLBACK
  ROWCOUNT ROWGUIDCOL RULE SAVE SCHEMA SECURITYAUDIT SELECT SESSION_USER SET SETUSER SHUTDOWN SOME STATISTICS
  SYSTEM_USER TABLE TABLESAMPLE TEXTSIZE THEN TO TOP TRAN TRANSACTION TRIGGER TRUNCATE TRY_CONVERT TSEQUAL UNION
  UNIQUE UNPIVOT UPDATE UPDATETEXT USE USER VALUES VARYING VIEW WAITFOR WHEN WHERE WHILE WITH WITHIN WRITETEXT`.split(/\s+/));

/** Non-reserved words of the window clause, passed through as keywords. */
const SOFT_KEYWORDS = new Set(['PARTITION', 'ROWS', 'RANGE', 'PRECEDING', 'FOLLOWING', 'UNBOUNDED', 'ROW']);

/** Clauses that end a select list or a FROM list. */
const CLAUSE_ENDS = new Set(['FROM', 'WHERE', 'GROUP', 'HAVING', 'ORDER', 'UNION', 'EXCEPT', 'INTERSECT', 'INTO', 'OPTION', 'FOR', 'WINDOW']);

const OPERATORS: Record<string, string> = {
  '=': '=', '<>': '<>', '!=': '!=', '<': '<', '>': '>', '<=': '<=', '>=': '>=', '!<': '>=', '!>': '<=',
  '+': '+', '-': '-', '*': '*', '/': '/', '%': '%', '&': '&', '|': '|', '~': '~', ',': ',', '.': '.',
};

// --- the translator -----------------------------------------------------------------------------

/** One item of the outermost select list, for naming and typing the result columns. */
export interface SelectItem {
  /** AS alias or alias = expr */
  alias: string | null;
  /** the column name when the item is a plain column reference */
  column: string | null;
  star: boolean;
  /** the type known from the text (CAST target, function result, literal, catalog column); null = from values */
  type: string | null;
  /** the item is a bare @parameter (lower case, without @): its type is the bound value's */
  param: string | null;
}

export interface TranslateContext {
  /** parameter names the caller supplies, lower case without @ */
  params: Set<string>;
  /** the collation of the catalog views' text columns: the server's (instance-level names) */
  catalogCollation: string;
  /** the current database's default collation: that of literals and parameters (Coercible-default) */
  databaseCollation: string;
  /** catalog view names (without sys.) → their columns' SQL Server types */
  views: Map<string, Map<string, string>>;
  /** database names, lower case, for three-part names */
  databases: Set<string>;
}

export type Statement =
  | { kind: 'select'; sql: string; params: Map<string, string>; items: SelectItem[]; outerJoin: boolean; aliases: Set<string>; views: Set<string>; lastToken: string }
  | { kind: 'set' }
  | { kind: 'use'; database: string };

interface Scope { limit: string | null; compound: boolean; inFrom: boolean; level: number }

/** Where an operand starts: an index into the translated pieces and into the tokens. */
interface Mark { out: number; tok: number }

/** Comparison operators, and how error 468 names each operation. */
const COMPARISONS: Record<string, string> = {
  '=': 'equal to', '<>': 'not equal to', '!=': 'not equal to', '<': 'less than', '>': 'greater than',
  '<=': 'less than or equal to', '>=': 'greater than or equal to', '!<': 'greater than or equal to', '!>': 'less than or equal to',
};

/** Reserved words inside an operand (they do not end the operand before or after a comparison). */
const OPERAND_WORDS = new Set(['NULL', 'COLLATE', ...Object.keys(NILADIC)]);

/**
 * Functions whose string result keeps the collation label of their string input: the list of
 * Collation Precedence ("Functions and Collation"), CAST and CONVERT of a string, and the
 * expressions that combine their operands like CASE does (ISNULL, COALESCE, NULLIF, IIF, CONCAT,
 * MIN, MAX). Any other function's string result is Coercible-default ("the output of a catalog
 * built-in function, or a built-in function that does not take string inputs").
 */
const LABEL_KEEPING = new Set(['UPPER', 'LOWER', 'LEFT', 'RIGHT', 'SUBSTRING', 'REPLACE', 'REVERSE', 'STUFF', 'LTRIM', 'RTRIM',
  'TRIM', 'CAST', 'CONVERT', 'TRY_CAST', 'TRY_CONVERT', 'ISNULL', 'COALESCE', 'NULLIF', 'IIF', 'CONCAT', 'MIN', 'MAX']);

/** The collation label of an expression (Collation Precedence, "Collation labels"). */
type Label =
  | { kind: 'explicit' | 'implicit'; collation: string }
  | { kind: 'default' }
  | { kind: 'none'; between: [string, string] };

/** What tsql_compare is told when a string meets a uniqueidentifier: it is converted to one (data type precedence). */
export const GUID_COMPARISON = '#uniqueidentifier';

const isCharType = (t: string) => /char|sysname/i.test(t);

/**
 * The label of an expression combining x (left) and y (right), by the table of Collation
 * Precedence: Explicit > Implicit > Coercible-default; two Implicit collations that differ give
 * No-collation, and so do two different Explicit ones (which SQL Server refuses outright).
 */
function combineLabels(x: Label, y: Label): Label {
  const name = (l: Label) => ('collation' in l ? l.collation : '');
  if (x.kind === 'explicit' && y.kind === 'explicit') return x.collation === y.collation ? x : { kind: 'none', between: [y.collation, x.collation] };
  if (x.kind === 'explicit') return x;
  if (y.kind === 'explicit') return y;
  if (x.kind === 'none') return x;
  if (y.kind === 'none') return y;
  if (x.kind === 'implicit' && y.kind === 'implicit') return x.collation === y.collation ? x : { kind: 'none', between: [name(y), name(x)] };
  return x.kind === 'implicit' ? x : y;
}

const isName = (t: Token | undefined): boolean =>
  !!t && (t.kind === 'qident' || (t.kind === 'ident' && !RESERVED.has(t.upper)));
const isOp = (t: Token | undefined, text: string) => !!t && t.kind === 'op' && t.text === text;
const isWord = (t: Token | undefined, word: string) => !!t && t.kind === 'ident' && t.upper === word;
const CASTS = ['CAST', 'TRY_CAST', 'CONVERT', 'TRY_CONVERT'];
const isFunctionName = (upper: string) => upper in FUNCTIONS || CASTS.includes(upper);
const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const quoteString = (s: string) => `'${s.replace(/'/g, "''")}'`;

class Translator {
  private readonly t: Token[];
  private readonly ctx: TranslateContext;
  readonly params = new Map<string, string>();
  /** table names and aliases (lower case) visible to column references, for 207 vs 4104 */
  readonly aliases = new Set<string>();
  /** alias (lower case) → catalog view name, for typing column references */
  private readonly aliasViews = new Map<string, string>();
  /** every catalog view the statement reads (for the permission each needs) */
  readonly views = new Set<string>();
  private readonly ctes = new Set<string>();
  /** derived table or CTE (its name or alias, lower case) → the token range of its query, for the collation of its columns */
  private readonly derived = new Map<string, [number, number]>();
  /** the select list of every SELECT, by the index of its SELECT token */
  private readonly selects = new Map<number, { items: SelectItem[]; ranges: [number, number][] }>();
  outerJoin = false;
  items: SelectItem[] | null = null;
  private itemRanges: [number, number][] = [];

  constructor(tokens: Token[], ctx: TranslateContext) {
    this.t = tokens;
    this.ctx = ctx;
    // the catalog views' aliases are known before the select list is read (its FROM comes after it)
    for (let i = 0; i + 2 < tokens.length; i++) {
      if (!(isName(tokens[i]) && tokens[i].value.toLowerCase() === 'sys' && isOp(tokens[i + 1], '.') && isName(tokens[i + 2]))) continue;
      const view = tokens[i + 2].value.toLowerCase();
      if (!ctx.views.has(view) || isOp(tokens[i + 3], '(') || isOp(tokens[i + 3], '.')) continue;
      this.aliasViews.set(view, view);
      const k = isWord(tokens[i + 3], 'AS') ? i + 4 : i + 3;
      if (isName(tokens[k]) && !SOFT_KEYWORDS.has(tokens[k].upper)) this.aliasViews.set(tokens[k].value.toLowerCase(), view);
    }
  }

  statement(): string {
    const scope: Scope = { limit: null, compound: false, inFrom: false, level: 0 };
    let i = 0;
    let prefix = '';
    if (isWord(this.t[0], 'WITH')) [prefix, i] = this.ctes_(1);
    const sql = prefix + this.range(i, this.t.length, scope);
    // typed once the whole statement is read: the FROM clause comes after the select list
    for (const [k, [a, b]] of this.itemRanges.entries()) this.items![k].type = this.typeOf(a, b);
    return sql;
  }

  /** WITH name [(cols)] AS (query) [, …] */
  private ctes_(i: number): [string, number] {
    const parts: string[] = [];
    for (;;) {
      const name: Token | undefined = this.t[i];
      if (!isName(name)) throw errors.syntax(this.t[i]?.text ?? 'WITH');
      this.ctes.add(name.value.toLowerCase());
      this.aliases.add(name.value.toLowerCase());
      let def = quoteIdent(name.value);
      i++;
      if (isOp(this.t[i], '(')) {
        const j = this.match(i);
        def += `(${this.t.slice(i + 1, j).filter((x) => !isOp(x, ',')).map((x) => quoteIdent(x.value)).join(', ')})`;
        i = j + 1;
      }
      if (!isWord(this.t[i], 'AS')) throw errors.syntax(this.t[i]?.text ?? name.text);
      if (!isOp(this.t[i + 1], '(')) throw errors.syntax(this.t[i + 1]?.text ?? 'AS');
      const j = this.match(i + 1);
      def += ` AS (${this.range(i + 2, j, { limit: null, compound: false, inFrom: false, level: 1 })})`;
      this.derived.set(name.value.toLowerCase(), [i + 2, j]);
      parts.push(def);
      i = j + 1;
      if (!isOp(this.t[i], ',')) break;
      i++;
    }
    return [`WITH ${parts.join(', ')} `, i];
  }

  /** Index of the ')' matching the '(' at i. */
  private match(i: number): number {
    let depth = 0;
    for (let j = i; j < this.t.length; j++) {
      if (isOp(this.t[j], '(')) depth++;
      else if (isOp(this.t[j], ')') && --depth === 0) return j;
    }
    throw errors.syntax(this.t[this.t.length - 1].text);
  }

  /** Translates tokens [start, end) — a statement or the inside of parentheses. */
  private range(start: number, end: number, scope: Scope): string {
    const out: string[] = [];
    let i = start;
    // where the operand before a comparison operator starts (in out and in the tokens); a CASE
    // expression is one operand, so its start is kept until its END
    let mark: Mark = { out: 0, tok: start };
    const caseMarks: Mark[] = [];
    const reset = (tok: number) => { mark = { out: out.length, tok }; };
    while (i < end) {
      const tok = this.t[i];
      if (tok.kind === 'op') {
        if (tok.text === '(') {
          const j = this.match(i);
          if (j >= end) throw errors.syntax(tok.text);
          out.push(`(${this.range(i + 1, j, { limit: null, compound: false, inFrom: false, level: scope.level + 1 })})`);
          i = j + 1;
        } else if (tok.text === ',' && scope.inFrom) {
          out.push(',');
          i = this.tableRef(i + 1, end, out);
          reset(i);
        } else if (tok.text in COMPARISONS) {
          i = this.comparison(mark, i, end, out, scope);
          reset(i);
        } else {
          const op = OPERATORS[tok.text];
          if (op === undefined) throw errors.syntax(tok.text);
          out.push(op);
          i++;
          if (tok.text === ',') reset(i);
        }
        continue;
      }
      if (tok.kind === 'ident' && RESERVED.has(tok.upper) && !(isFunctionName(tok.upper) && isOp(this.t[i + 1], '('))) {
        const negated = tok.upper === 'NOT' ? this.t[i + 1]?.upper : undefined;
        if (tok.upper === 'IN' || negated === 'IN') {
          const next = this.inList(mark, i, end, out, scope);
          if (next >= 0) { i = next; reset(i); continue; }
        }
        if (tok.upper === 'LIKE' || negated === 'LIKE') {
          const next = this.like(mark, i, end, out, scope);
          if (next >= 0) { i = next; reset(i); continue; }
        }
        const before = mark;
        i = this.keyword(i, end, scope, out);
        if (tok.upper === 'CASE') { caseMarks.push(before); reset(i); }
        else if (tok.upper === 'END') mark = caseMarks.pop() ?? { out: out.length, tok: i };
        else if (!OPERAND_WORDS.has(tok.upper)) reset(i);
        continue;
      }
      i = this.operand(i, end, out);
    }
    if (scope.limit !== null) {
      if (scope.compound) throw errors.unsupported('TOP in a UNION, EXCEPT or INTERSECT');
      out.push(`LIMIT ${scope.limit}`);
    }
    return out.join(' ');
  }

  // --- comparisons and collations -------------------------------------------------------------

  /**
   * `left op right` with op at i, left starting at mark: a string comparison becomes
   * (tsql_compare(left, right, collation) op 0), evaluated by collation.ts under the collation
   * that collation precedence gives it; any other comparison stays SQLite's.
   */
  private comparison(mark: Mark, i: number, end: number, out: string[], scope: Scope): number {
    const op = this.t[i].text;
    if (mark.tok >= i) throw errors.syntax(op);
    const rb = this.operandEnd(i + 1, end);
    if (rb === i + 1) throw errors.syntax(this.t[rb]?.text ?? op);
    const left = out.splice(mark.out).join(' ');
    const right = this.range(i + 1, rb, { limit: null, compound: false, inFrom: false, level: scope.level + 1 });
    const mode = this.comparisonMode([[mark.tok, i], [i + 1, rb]], COMPARISONS[op]);
    out.push(mode === null ? `${left} ${OPERATORS[op]} ${right}` : `(tsql_compare(${left}, ${right}, ${quoteString(mode)}) ${OPERATORS[op]} 0)`);
    return rb;
  }

  /**
   * `left [NOT] IN (a, b, …)` with IN (or NOT) at i: a string IN list becomes tsql_in(collation,
   * left, a, b, …). Returns -1 for what stays SQLite's (IN (SELECT …), lists of other types).
   */
  private inList(mark: Mark, i: number, end: number, out: string[], scope: Scope): number {
    const negate = isWord(this.t[i], 'NOT');
    const open = negate ? i + 2 : i + 1;
    if (mark.tok >= i || !isOp(this.t[open], '(') || isWord(this.t[open + 1], 'SELECT')) return -1;
    const close = this.match(open);
    if (close >= end) return -1;
    const list = this.args(open + 1, close);
    if (list.length === 0) throw errors.syntax(')');
    const mode = this.comparisonMode([[mark.tok, i], ...list], 'equal to');
    if (mode === null) return -1;
    const left = out.splice(mark.out).join(' ');
    const items = list.map(([a, b]) => this.range(a, b, { limit: null, compound: false, inFrom: false, level: scope.level + 1 }));
    out.push(`${negate ? 'NOT ' : ''}tsql_in(${quoteString(mode)}, ${left}, ${items.join(', ')})`);
    return close + 1;
  }

  /**
   * `left [NOT] LIKE pattern [ESCAPE e]` with LIKE (or NOT) at i: a string LIKE becomes
   * tsql_like(left, pattern, e, collation, unicode). Returns -1 for what stays SQLite's.
   */
  private like(mark: Mark, i: number, end: number, out: string[], scope: Scope): number {
    const negate = isWord(this.t[i], 'NOT');
    const at = negate ? i + 1 : i;
    if (mark.tok >= i) return -1;
    const pe = this.operandEnd(at + 1, end);
    if (pe === at + 1) throw errors.syntax(this.t[pe]?.text ?? 'LIKE');
    let next = pe;
    let escape: [number, number] | null = null;
    if (isWord(this.t[pe], 'ESCAPE')) {
      next = this.operandEnd(pe + 1, end);
      if (next === pe + 1) throw errors.syntax(this.t[next]?.text ?? 'ESCAPE');
      escape = [pe + 1, next];
    }
    const operands: [number, number][] = [[mark.tok, i], [at + 1, pe], ...(escape ? [escape] : [])];
    const mode = this.comparisonMode(operands, 'like');
    if (mode === null || mode === GUID_COMPARISON) return -1;
    // Unicode LIKE unless every operand is known to be char/varchar
    const unicode = !operands.every(([a, b]) => /^(var)?char/i.test(this.typeOf(a, b) ?? ''));
    const sub = { limit: null, compound: false, inFrom: false, level: scope.level + 1 };
    const left = out.splice(mark.out).join(' ');
    const pattern = this.range(at + 1, pe, sub);
    const esc = escape ? this.range(escape[0], escape[1], sub) : 'NULL';
    out.push(`${negate ? 'NOT ' : ''}tsql_like(${left}, ${pattern}, ${esc}, ${quoteString(mode)}, ${unicode ? 1 : 0})`);
    return next;
  }

  /** Where the operand that starts at j ends: at the next comparison, comma or keyword outside it (a CASE … END is inside). */
  private operandEnd(j: number, end: number): number {
    let cases = 0;
    while (j < end) {
      const t = this.t[j];
      if (isOp(t, '(')) { j = this.match(j) + 1; continue; }
      if (t.kind === 'op' && cases === 0 && (t.text === ',' || t.text === ')' || t.text in COMPARISONS)) break;
      if (t.kind === 'ident') {
        if (t.upper === 'CASE') cases++;
        else if (t.upper === 'END') { if (cases === 0) break; cases--; }
        else if (t.upper === 'COLLATE') { j += 2; continue; }
        else if (cases === 0 && RESERVED.has(t.upper) && !OPERAND_WORDS.has(t.upper) && !(isFunctionName(t.upper) && isOp(this.t[j + 1], '('))) break;
      }
      j++;
    }
    return j;
  }

  /**
   * How the operands compare: null when they are not strings (SQLite compares them), the GUID
   * conversion when a uniqueidentifier meets another type, else the collation by collation
   * precedence. A comparison is collation-sensitive: No-collation is error 468.
   */
  private comparisonMode(operands: [number, number][], operation: string): string | null {
    const types = operands.map(([a, b]) => this.typeOf(a, b));
    const guid = (t: string | null) => t === 'uniqueidentifier';
    if (types.some(guid)) return types.every(guid) ? null : GUID_COMPARISON;
    if (types.some((t) => t !== null && t !== 'sql_variant' && !isCharType(t))) return null;
    let label = this.labelOf(operands[0][0], operands[0][1]);
    for (const [a, b] of operands.slice(1)) label = combineLabels(label, this.labelOf(a, b));
    if (label.kind === 'none') throw errors.collationConflict(label.between[0], label.between[1], operation);
    return label.kind === 'default' ? this.ctx.databaseCollation : label.collation;
  }

  /** The collation label of the expression [a, b). */
  private labelOf(a: number, b: number): Label {
    const found: { label: Label | null } = { label: null };
    this.walkLabels(a, b, (l) => { found.label = found.label === null ? l : combineLabels(found.label, l); });
    return found.label ?? { kind: 'default' };
  }

  /** Finds the labels an expression is made of: COLLATE clauses, string columns, and what string functions pass on. */
  private walkLabels(a: number, b: number, add: (l: Label) => void): void {
    const t = this.t;
    for (let j = a; j < b; j++) {
      const tok = t[j];
      if (isOp(tok, '(')) {
        // a scalar subquery is not followed (sqlsim counts its value as Coercible-default)
        if (isWord(t[j + 1], 'SELECT')) j = this.match(j);
        continue;
      }
      if (isWord(tok, 'COLLATE')) {
        add({ kind: 'explicit', collation: this.collationName(j) });
        j++;
        continue;
      }
      if (isWord(tok, 'CASE')) {
        // the result of CASE is that of its THEN and ELSE operands; WHEN conditions do not count
        const e = this.caseEnd(j, b);
        for (const [x, y] of this.caseResults(j, e)) this.walkLabels(x, y, add);
        j = e;
        continue;
      }
      let fn: string | null = null;
      let open = -1;
      if (tok.kind === 'ident' && RESERVED.has(tok.upper) && isOp(t[j + 1], '(')) {
        fn = tok.upper;
        open = j + 1;
      } else if (isName(tok)) {
        const chain = this.chainAt(j);
        if (chain && !chain.star && isOp(t[chain.end], '(')) {
          fn = chain.parts.length === 1 ? chain.parts[0].toUpperCase() : '';
          open = chain.end;
        } else if (chain) {
          const l = this.columnLabel(chain.parts);
          if (l) add(l);
          j = chain.end - 1;
          continue;
        }
      }
      if (fn !== null) {
        const close = this.match(open);
        if (fn === 'IIF') for (const [x, y] of this.args(open + 1, close).slice(1)) this.walkLabels(x, y, add);
        else if (LABEL_KEEPING.has(fn)) this.walkLabels(open + 1, close, add);
        j = close;
      }
    }
  }

  /** The index of the END of the CASE at i. */
  private caseEnd(i: number, b: number): number {
    let depth = 0;
    for (let j = i; j < b; j++) {
      if (isOp(this.t[j], '(')) { j = this.match(j); continue; }
      if (isWord(this.t[j], 'CASE')) depth++;
      else if (isWord(this.t[j], 'END') && --depth === 0) return j;
    }
    return b;
  }

  /** The THEN and ELSE operands of the CASE from i to its END e. */
  private caseResults(i: number, e: number): [number, number][] {
    const out: [number, number][] = [];
    let from = -1;
    for (let j = i + 1; j < e; j++) {
      if (isOp(this.t[j], '(')) { j = this.match(j); continue; }
      if (isWord(this.t[j], 'CASE')) { j = this.caseEnd(j, e); continue; }
      if (isWord(this.t[j], 'WHEN') || isWord(this.t[j], 'THEN') || isWord(this.t[j], 'ELSE')) {
        if (from >= 0) out.push([from, j]);
        from = isWord(this.t[j], 'WHEN') ? -1 : j + 1;
      }
    }
    if (from >= 0) out.push([from, e]);
    return out;
  }

  /**
   * The label of a column reference: a catalog view's string column is Implicit in the catalog
   * collation; a column of a derived table or CTE is Implicit in the collation of its defining
   * expression (the documents say "a column reference"; for a column made of parameters or
   * literals they are silent, and sqlsim takes it as Implicit in the database's collation, the side
   * that can conflict); null when the reference is not a string column sqlsim knows.
   */
  private columnLabel(parts: string[]): Label | null {
    const column = parts[parts.length - 1].toLowerCase();
    const ofView = (view: string | undefined): Label | null => {
      const type = view === undefined ? undefined : this.ctx.views.get(view)?.get(column);
      return type !== undefined && isCharType(type) ? { kind: 'implicit', collation: this.ctx.catalogCollation } : null;
    };
    if (parts.length >= 2) {
      const q = parts[parts.length - 2].toLowerCase();
      return this.aliasViews.has(q) ? ofView(this.aliasViews.get(q)) : this.derivedLabel(q, column);
    }
    for (const view of new Set(this.aliasViews.values())) if (this.ctx.views.get(view)?.has(column)) return ofView(view);
    for (const q of this.derived.keys()) {
      const l = this.derivedLabel(q, column);
      if (l) return l;
    }
    return null;
  }

  private readonly visiting = new Set<string>();

  /** The label of a derived table's or CTE's column: its expressions in each SELECT of the query, combined (UNION ALL). */
  private derivedLabel(q: string, column: string): Label | null {
    const range = this.derived.get(q);
    if (!range || this.visiting.has(q)) return null;
    this.visiting.add(q);
    try {
      let label: Label | null = null;
      let k = -1;
      for (const s of this.topSelects(range[0], range[1])) {
        const info = this.selects.get(s);
        if (!info) continue;
        if (k < 0) k = info.items.findIndex((it) => (it.alias ?? it.column)?.toLowerCase() === column);
        if (k < 0) return null;
        const r = info.ranges[k];
        if (!r) continue;
        const l = this.labelOf(r[0], r[1]);
        label = label === null ? l : combineLabels(label, l);
      }
      if (label === null) return null;
      const l: Label = label;
      if (l.kind === 'none') return l;
      return { kind: 'implicit', collation: l.kind === 'default' ? this.ctx.databaseCollation : l.collation };
    } finally {
      this.visiting.delete(q);
    }
  }

  /** The SELECT tokens of the query [a, b) itself (not of its subqueries). */
  private topSelects(a: number, b: number): number[] {
    const out: number[] = [];
    for (let j = a; j < b; j++) {
      if (isOp(this.t[j], '(')) j = this.match(j);
      else if (isWord(this.t[j], 'SELECT')) out.push(j);
    }
    return out;
  }

  /** The collation a COLLATE at i names, as sqlsim spells it; one it does not model is refused. */
  private collationName(i: number): string {
    const name = this.t[i + 1];
    if (!name || (name.kind !== 'ident' && name.kind !== 'qident')) throw errors.syntax('COLLATE');
    if (name.upper === 'DATABASE_DEFAULT') return this.ctx.databaseCollation;
    const c = findCollation(name.value);
    if (c) return c.name;
    throw looksLikeCollation(name.value) ? errors.unsupported(`the collation ${name.value}`) : errors.invalidCollation(name.value);
  }

  private keyword(i: number, end: number, scope: Scope, out: string[]): number {
    const tok = this.t[i];
    switch (tok.upper) {
      case 'SELECT': return this.select(i, end, scope, out);
      case 'FROM':
        out.push('FROM');
        scope.inFrom = true;
        return this.tableRef(i + 1, end, out);
      case 'JOIN':
        out.push('JOIN');
        return this.tableRef(i + 1, end, out);
      case 'LEFT': case 'RIGHT': case 'FULL': case 'OUTER':
        if (isWord(this.t[i + 1], 'APPLY')) throw errors.unsupported('OUTER APPLY');
        this.outerJoin = true;
        out.push(tok.upper);
        return i + 1;
      case 'CROSS':
        if (isWord(this.t[i + 1], 'APPLY')) throw errors.unsupported('CROSS APPLY');
        out.push('CROSS');
        return i + 1;
      case 'WHERE': case 'GROUP': case 'HAVING': case 'ORDER': case 'ON':
        scope.inFrom = false;
        out.push(tok.upper);
        return i + 1;
      case 'UNION': case 'EXCEPT': case 'INTERSECT':
        scope.inFrom = false;
        scope.compound = true;
        out.push(tok.upper);
        return i + 1;
      case 'COLLATE': {
        // the comparisons sqlsim evaluates take the collation from collation precedence (labelOf);
        // what SQLite still compares itself (ORDER BY, GROUP BY, LIKE …) gets its nearest collation
        const c = findCollation(this.collationName(i));
        out.push(c!.binary || c!.caseSensitive ? 'COLLATE RTRIM' : 'COLLATE NOCASE');
        return i + 2;
      }
      case 'TOP': throw errors.syntax('TOP');
      case 'OPTION':
        // query hints: OPTION (RECOMPILE …) changes nothing here
        if (!isOp(this.t[i + 1], '(')) throw errors.syntax('OPTION');
        return this.match(i + 1) + 1;
      default: {
        const niladic = NILADIC[tok.upper];
        out.push(niladic ? niladic.call : tok.upper);
        return i + 1;
      }
    }
  }

  /** SELECT [ALL|DISTINCT] [TOP (n) | TOP n] select-list */
  private select(i: number, end: number, scope: Scope, out: string[]): number {
    const i0 = i;
    out.push('SELECT');
    i++;
    if (isWord(this.t[i], 'DISTINCT') || isWord(this.t[i], 'ALL')) out.push(this.t[i++].upper);
    if (isWord(this.t[i], 'TOP')) {
      const n = this.t[i + 1];
      if (isOp(n, '(')) {
        const j = this.match(i + 1);
        scope.limit = `(${this.range(i + 2, j, { limit: null, compound: false, inFrom: false, level: scope.level + 1 })})`;
        i = j + 1;
      } else if (n && (n.kind === 'num' || n.kind === 'var')) {
        const piece: string[] = [];
        this.operand(i + 1, i + 2, piece);
        scope.limit = piece[0];
        i += 2;
      } else {
        throw errors.syntax(n?.text ?? 'TOP');
      }
      if (isWord(this.t[i], 'PERCENT') || (isWord(this.t[i], 'WITH') && isWord(this.t[i + 1], 'TIES'))) {
        throw errors.unsupported('TOP … PERCENT / WITH TIES');
      }
    }
    // the select list runs to the first clause keyword at this depth
    let j = i;
    let depth = 0;
    const commas: number[] = [];
    for (; j < end; j++) {
      const t = this.t[j];
      if (isOp(t, '(')) depth++;
      else if (isOp(t, ')')) depth--;
      else if (depth === 0 && isOp(t, ',')) commas.push(j);
      else if (depth === 0 && t.kind === 'ident' && CLAUSE_ENDS.has(t.upper)) break;
    }
    const bounds = [i - 1, ...commas, j];
    const pieces: string[] = [];
    const items: SelectItem[] = [];
    const ranges: [number, number][] = [];
    for (let k = 0; k + 1 < bounds.length; k++) {
      const [sql, item, range] = this.selectItem(bounds[k] + 1, bounds[k + 1]);
      pieces.push(sql);
      items.push(item);
      ranges.push(range);
    }
    if (scope.level === 0 && this.items === null) {
      this.items = items;
      this.itemRanges = ranges;
    }
    this.selects.set(i0, { items, ranges });
    out.push(pieces.join(', '));
    return j;
  }

  private selectItem(a: number, b: number): [string, SelectItem, [number, number]] {
    if (a >= b) throw errors.syntax(this.t[a]?.text ?? this.t[a - 1].text);
    let alias: string | null = null;
    const t = this.t;
    if (b - a >= 3 && isName(t[a]) && isOp(t[a + 1], '=')) {
      alias = t[a].value; a += 2; // T-SQL: alias = expression
    } else if (b - a >= 3 && isWord(t[b - 2], 'AS') && (isName(t[b - 1]) || t[b - 1].kind === 'str' || t[b - 1].kind === 'nstr')) {
      alias = t[b - 1].value; b -= 2;
    } else if (b - a >= 2 && isName(t[b - 1]) && !isOp(t[b - 2], '.') && !isWord(t[b - 2], 'COLLATE') &&
      (t[b - 2].kind !== 'op' || isOp(t[b - 2], ')')) && !isWord(t[b - 2], 'AS')) {
      alias = t[b - 1].value; b -= 1; // expression alias
    }
    const sql = this.range(a, b, { limit: null, compound: false, inFrom: false, level: 1 });
    const chain = this.chainAt(a);
    const plainColumn = chain !== null && chain.end === b && !chain.star;
    const item: SelectItem = {
      alias,
      column: plainColumn ? chain.parts[chain.parts.length - 1] : null,
      star: (chain !== null && chain.end === b && chain.star) || (b - a === 1 && isOp(t[a], '*')),
      type: null,
      param: b - a === 1 && t[a].kind === 'var' ? t[a].text.slice(1).toLowerCase() : null,
    };
    return [alias === null ? sql : `${sql} AS ${quoteIdent(alias)}`, item, [a, b]];
  }

  /** An identifier chain a.b.c (or a.*) starting at i. */
  private chainAt(i: number): { parts: string[]; end: number; star: boolean } | null {
    if (!isName(this.t[i])) return null;
    const parts = [this.t[i].value];
    let j = i + 1;
    while (isOp(this.t[j], '.')) {
      const next = this.t[j + 1];
      if (isOp(next, '*')) return { parts, end: j + 2, star: true };
      if (isOp(next, '.')) { parts.push(''); j++; continue; } // master..name
      if (!next || (next.kind !== 'ident' && next.kind !== 'qident')) throw errors.syntax('.');
      parts.push(next.value);
      j += 2;
    }
    return { parts, end: j, star: false };
  }

  /** A table reference after FROM, JOIN or a FROM-list comma: object [AS] [alias] [WITH (hints)]. */
  private tableRef(i: number, end: number, out: string[]): number {
    const tok = this.t[i];
    if (i >= end) throw errors.syntax(this.t[i - 1].text);
    if (isOp(tok, '(')) {
      const j = this.match(i);
      out.push(`(${this.range(i + 1, j, { limit: null, compound: false, inFrom: false, level: 1 })})`);
      return this.tableAlias(j + 1, out, null, [i + 1, j]);
    }
    const chain = this.chainAt(i);
    if (!chain || chain.star) throw errors.syntax(tok.text);
    const written = chain.parts.join('.');
    if (isOp(this.t[chain.end], '(')) throw errors.invalidObject(written); // table-valued functions
    let parts = chain.parts;
    if (parts.length === 3 && this.ctx.databases.has(parts[0].toLowerCase())) parts = parts.slice(1);
    let view: string | null = null;
    let derived: [number, number] | undefined;
    if (parts.length === 1 && this.ctes.has(parts[0].toLowerCase())) {
      out.push(quoteIdent(parts[0]));
      derived = this.derived.get(parts[0].toLowerCase());
    } else if (parts.length === 2 && parts[0].toLowerCase() === 'sys' && this.ctx.views.has(parts[1].toLowerCase())) {
      view = parts[1].toLowerCase();
      this.views.add(view);
      out.push(`sys.${quoteIdent(view)}`);
    } else {
      throw errors.invalidObject(written);
    }
    const name = parts[parts.length - 1].toLowerCase();
    this.aliases.add(name);
    if (view) this.aliasViews.set(name, view);
    return this.tableAlias(chain.end, out, view, derived);
  }

  private tableAlias(i: number, out: string[], view: string | null, derived?: [number, number]): number {
    if (isWord(this.t[i], 'AS')) i++;
    if (isName(this.t[i]) && !SOFT_KEYWORDS.has(this.t[i].upper) && !['APPLY'].includes(this.t[i].upper)) {
      const alias = this.t[i].value;
      out.push(quoteIdent(alias));
      this.aliases.add(alias.toLowerCase());
      if (view) this.aliasViews.set(alias.toLowerCase(), view);
      if (derived) this.derived.set(alias.toLowerCase(), derived);
      i++;
    }
    if (isWord(this.t[i], 'WITH') && isOp(this.t[i + 1], '(')) i = this.match(i + 1) + 1; // table hints
    return i;
  }

  /** A literal, variable, name, column reference or function call at i. */
  private operand(i: number, end: number, out: string[]): number {
    const tok = this.t[i];
    switch (tok.kind) {
      case 'str': case 'nstr': out.push(quoteString(tok.value)); return i + 1;
      case 'num': out.push(tok.text); return i + 1;
      case 'bin': {
        const hex = tok.text.slice(2);
        out.push(`X'${hex.length % 2 ? '0' : ''}${hex}'`);
        return i + 1;
      }
      case 'var': out.push(this.param(tok.text)); return i + 1;
      case 'gvar': {
        const name = tok.upper.slice(2);
        if (!(name in GLOBALS)) throw errors.undeclared(tok.text);
        out.push(`tsql_global('${name}')`);
        return i + 1;
      }
      default: break;
    }
    if (tok.kind === 'ident' && SOFT_KEYWORDS.has(tok.upper)) { out.push(tok.upper); return i + 1; }
    if (tok.kind === 'ident' && RESERVED.has(tok.upper)) {
      // a reserved word that names a function (LEFT(…), COALESCE(…))
      return this.call([tok.value], i + 1, end, out);
    }
    const chain = this.chainAt(i);
    if (!chain) throw errors.syntax(tok.text);
    if (isOp(this.t[chain.end], '(') && !chain.star) return this.call(chain.parts, chain.end, end, out);
    out.push(chain.parts.map(quoteIdent).join('.') + (chain.star ? '.*' : ''));
    return chain.end;
  }

  private param(text: string): string {
    const key = text.slice(1).toLowerCase();
    if (!this.ctx.params.has(key)) throw errors.undeclared(text);
    let name = this.params.get(key);
    if (!name) { name = `p${this.params.size}`; this.params.set(key, name); }
    return `$${name}`;
  }

  /** name(args) with the '(' at i. */
  private call(parts: string[], i: number, end: number, out: string[]): number {
    const close = this.match(i);
    if (close >= end) throw errors.syntax('(');
    const args = this.args(i + 1, close);
    const upper = parts.map((p) => p.toUpperCase());
    const name = upper[upper.length - 1];
    if (parts.length === 1 && CASTS.includes(name)) {
      out.push(this.cast(name, args, i));
      return close + 1;
    }
    let spec: FunctionSpec | undefined;
    if (parts.length === 1) {
      spec = FUNCTIONS[name];
      if (!spec) throw errors.notBuiltin(parts[0]);
    } else {
      spec = parts.length === 2 && upper[0] === 'SYS' ? SYS_FUNCTIONS[name] : undefined;
      if (!spec) throw errors.noFunctionOrColumn(parts[0], parts.join('.'));
    }
    if (args.length < spec.min || args.length > spec.max) throw errors.argCount(parts[parts.length - 1], spec.min, spec.max);
    const sqlArgs = args.map(([a, b], k) => {
      if (k === 0 && spec.datepart) {
        const part = this.t[a];
        if (b - a !== 1 || part.kind !== 'ident' || !(part.upper in DATEPARTS)) throw errors.notDatepart(name, part.text);
        return quoteString(DATEPARTS[part.upper]);
      }
      return this.range(a, b, { limit: null, compound: false, inFrom: false, level: 1 });
    });
    out.push(`${spec.sqlite}(${sqlArgs.join(', ')})`);
    return close + 1;
  }

  /** Argument ranges of the call whose inside is [a, b); COUNT(*) has one argument '*'. */
  private args(a: number, b: number): [number, number][] {
    if (a === b) return [];
    const out: [number, number][] = [];
    let depth = 0;
    let from = a;
    for (let j = a; j < b; j++) {
      if (isOp(this.t[j], '(')) depth++;
      else if (isOp(this.t[j], ')')) depth--;
      else if (depth === 0 && isOp(this.t[j], ',')) {
        if (j === from) throw errors.syntax(',');
        out.push([from, j]);
        from = j + 1;
      }
    }
    if (from === b) throw errors.syntax(this.t[b]?.text ?? ')');
    out.push([from, b]);
    return out;
  }

  private cast(name: string, args: [number, number][], open: number): string {
    let value: [number, number];
    let type: string;
    if (name.endsWith('CAST')) {
      if (args.length !== 1) throw errors.syntax(this.t[open].text);
      const [a, b] = args[0];
      let as = -1;
      for (let j = a, depth = 0; j < b; j++) {
        if (isOp(this.t[j], '(')) depth++;
        else if (isOp(this.t[j], ')')) depth--;
        else if (depth === 0 && isWord(this.t[j], 'AS')) as = j;
      }
      if (as < 0) throw errors.syntax(this.t[b - 1].text);
      value = [a, as];
      type = this.typeName(as + 1, b);
    } else {
      if (args.length < 2 || args.length > 3) throw errors.syntax(this.t[open].text);
      type = this.typeName(args[0][0], args[0][1]);
      value = args[1];
    }
    const sql = this.range(value[0], value[1], { limit: null, compound: false, inFrom: false, level: 1 });
    return `tsql_cast(${sql}, ${quoteString(type)}, ${name.startsWith('TRY') ? 1 : 0})`;
  }

  /** A type name such as nvarchar(60), numeric(25, 0), sysname in [a, b). */
  private typeName(a: number, b: number): string {
    const base = this.t[a];
    if (!base || (base.kind !== 'ident' && base.kind !== 'qident')) throw errors.syntax(this.t[a - 1].text);
    const name = base.value.toLowerCase();
    if (!TYPES.has(name)) throw errors.notAType(base.value);
    if (b - a === 1) return name;
    const size = this.t.slice(a + 1, b).map((x) => x.text.toLowerCase()).join('');
    if (!/^\((\d+|max)(,\d+)?\)$/.test(size)) throw errors.syntax(this.t[a + 1].text);
    return name + size;
  }

  /** The SQL Server type of the expression [a, b) when the text alone tells it. */
  private typeOf(a: number, b: number): string | null {
    const t = this.t;
    if (b - a === 1) {
      const x = t[a];
      if (x.kind === 'nstr') return `nvarchar(${Math.max(1, x.value.length)})`;
      if (x.kind === 'str') return `varchar(${Math.max(1, x.value.length)})`;
      if (x.kind === 'num') {
        if (/^\d+$/.test(x.text)) return Number(x.text) <= 2147483647 ? 'int' : BigInt(x.text) <= 9223372036854775807n ? 'bigint' : null;
        return /e/i.test(x.text) ? 'float' : null;
      }
      if (x.kind === 'gvar') return GLOBALS[x.upper.slice(2)] ?? null;
      if (isWord(x, 'NULL')) return 'int';
      if (x.kind === 'ident' && NILADIC[x.upper]) return NILADIC[x.upper].returns;
    }
    if (isOp(t[a], '(') && this.match(a) === b - 1) return isWord(t[a + 1], 'SELECT') ? null : this.typeOf(a + 1, b - 1);
    const chain = this.chainAt(a);
    if (chain && chain.end === b && !chain.star) return this.columnType(chain.parts);
    const callAt = chain ? chain.end : RESERVED.has(t[a]?.upper) ? a + 1 : -1;
    const callEnd = callAt >= 0 && isOp(t[callAt], '(') ? this.match(callAt) : -1;
    if (callEnd > 0 && isWord(t[callEnd + 1], 'OVER') && isOp(t[callEnd + 2], '(') && this.match(callEnd + 2) === b - 1) {
      return this.typeOf(a, callEnd + 1); // a window function has its function's type
    }
    if (callEnd === b - 1) {
      const parts = chain ? chain.parts.map((p) => p.toUpperCase()) : [t[a].upper];
      const name = parts[parts.length - 1];
      const args = this.args(callAt + 1, b - 1);
      if (['CAST', 'TRY_CAST'].includes(name)) {
        const [x, y] = args[0];
        for (let j = y - 1; j > x; j--) if (isWord(t[j], 'AS')) return this.typeName(j + 1, y);
      }
      if (['CONVERT', 'TRY_CONVERT'].includes(name)) return this.typeName(args[0][0], args[0][1]);
      const spec = parts.length === 1 ? FUNCTIONS[name] : SYS_FUNCTIONS[name];
      if (spec?.returns === 'arg0') return args.length ? this.typeOf(args[0][0], args[0][1]) : null;
      return spec?.returns ?? null;
    }
    return null;
  }

  /** The type of a column reference, found through the FROM aliases; null when not a catalog column. */
  private columnType(parts: string[]): string | null {
    const column = parts[parts.length - 1].toLowerCase();
    if (parts.length >= 2) {
      const view = this.aliasViews.get(parts[parts.length - 2].toLowerCase());
      return view ? this.ctx.views.get(view)?.get(column) ?? null : null;
    }
    const found = [...new Set(this.aliasViews.values())].map((v) => this.ctx.views.get(v)?.get(column)).filter((x) => x);
    return found.length === 1 ? found[0]! : null;
  }
}

const SET_ON_OFF = new Set(['NOCOUNT', 'ANSI_NULLS', 'ANSI_PADDING', 'ANSI_WARNINGS', 'ANSI_NULL_DFLT_ON', 'ANSI_NULL_DFLT_OFF',
  'ANSI_DEFAULTS', 'ARITHABORT', 'ARITHIGNORE', 'CONCAT_NULL_YIELDS_NULL', 'CURSOR_CLOSE_ON_COMMIT', 'IMPLICIT_TRANSACTIONS',
  'NUMERIC_ROUNDABORT', 'QUOTED_IDENTIFIER', 'XACT_ABORT', 'FMTONLY', 'NOEXEC', 'PARSEONLY', 'FORCEPLAN',
  'SHOWPLAN_ALL', 'SHOWPLAN_TEXT', 'SHOWPLAN_XML', 'NO_BROWSETABLE', 'REMOTE_PROC_TRANSACTIONS']);
const SET_VALUE = new Set(['TEXTSIZE', 'DATEFORMAT', 'DATEFIRST', 'LANGUAGE', 'LOCK_TIMEOUT', 'DEADLOCK_PRIORITY',
  'ROWCOUNT', 'QUERY_GOVERNOR_COST_LIMIT', 'CONTEXT_INFO']);
const ISOLATION = ['READ UNCOMMITTED', 'READ COMMITTED', 'REPEATABLE READ', 'SNAPSHOT', 'SERIALIZABLE'];

/** SET statements drivers send after login; they change nothing the catalog evaluates. */
function setStatement(t: Token[]): Statement {
  const words = t.slice(1).map((x) => x.upper);
  const first = t[1];
  if (!first) throw errors.syntax('SET');
  if (first.kind === 'var') throw errors.unsupported('SET @variable');
  if (first.upper === 'TRANSACTION') {
    if (words[1] !== 'ISOLATION' || words[2] !== 'LEVEL' || !ISOLATION.includes(words.slice(3).join(' '))) {
      throw errors.syntax(t[t.length - 1].text);
    }
    return { kind: 'set' };
  }
  if (first.upper === 'STATISTICS') {
    if (!['IO', 'TIME', 'XML', 'PROFILE'].includes(words[1]) || !['ON', 'OFF'].includes(words[2]) || words.length !== 3) {
      throw errors.syntax(t[t.length - 1].text);
    }
    return { kind: 'set' };
  }
  if (SET_VALUE.has(first.upper)) {
    if (t.length !== 3) throw errors.syntax(t[t.length - 1].text);
    return { kind: 'set' };
  }
  // SET opt [, opt …] ON|OFF
  let k = 1;
  for (;;) {
    const opt = t[k];
    if (!opt || opt.kind !== 'ident') throw errors.syntax(t[k - 1].text);
    if (!SET_ON_OFF.has(opt.upper)) throw errors.notSetOption(opt.text);
    if (isOp(t[k + 1], ',')) { k += 2; continue; }
    if (!['ON', 'OFF'].includes(t[k + 1]?.upper) || t.length !== k + 2) throw errors.syntax(t[k + 1]?.text ?? opt.text);
    return { kind: 'set' };
  }
}

/** Translates one statement; throws SqlError for what SQL Server would reject or sqlsim cannot evaluate. */
export function translate(tokens: Token[], ctx: TranslateContext): Statement {
  const first = tokens[0];
  if (first.kind === 'ident') {
    switch (first.upper) {
      case 'SET': return setStatement(tokens);
      case 'USE': {
        const db = tokens[1];
        if (!db || (db.kind !== 'ident' && db.kind !== 'qident') || tokens.length !== 2) throw errors.syntax(tokens[tokens.length - 1].text);
        return { kind: 'use', database: db.value };
      }
      case 'SELECT': case 'WITH': break;
      default:
        if (STATEMENT_STARTS.has(first.upper)) throw errors.unsupported(`${first.upper} statements`);
        throw errors.syntax(first.text);
    }
  } else if (!isOp(first, '(')) {
    throw errors.syntax(first.text);
  }
  const tr = new Translator(tokens, ctx);
  const sql = tr.statement();
  return {
    kind: 'select', sql, params: tr.params, items: tr.items ?? [], outerJoin: tr.outerJoin,
    aliases: tr.aliases, views: new Set(tr.views), lastToken: tokens[tokens.length - 1].text,
  };
}
