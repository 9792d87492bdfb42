// The contract between sqlsim's parts: the catalog (SQL evaluated with node:sqlite), the TDS
// server that carries it, and the tests that drive both.

/** SQL Server types a result column can have (what the TDS layer knows how to encode). */
export type SqlType =
  | 'int' | 'smallint' | 'tinyint' | 'bigint' | 'bit'
  | 'nvarchar' // also sysname (= nvarchar(128))
  | 'uniqueidentifier' | 'datetime' | 'sql_variant'
  // catalog columns Microsoft documents with these types (owner_sid, the LSN columns,
  // dm_hadr_availability_group_states.primary_replica) and non-integer expression results
  | 'varchar' | 'varbinary' | 'numeric' | 'float';

export interface Column {
  name: string;
  type: SqlType;
  /** nvarchar/varchar: max length in characters (sysname = 128); varbinary: bytes; ignored for fixed-size types */
  length?: number;
  /** numeric only: precision and scale, e.g. numeric(25,0) */
  precision?: number;
  scale?: number;
  nullable: boolean;
}

/**
 * nvarchar/varchar/uniqueidentifier → string, integers/numeric/float → number (bigint may be bigint),
 * bit → boolean, varbinary → Uint8Array, datetime → Date whose UTC fields are the server's clock reading.
 */
export type Value = null | number | bigint | boolean | string | Date | Uint8Array;

export interface ResultSet {
  columns: Column[];
  rows: Value[][];
}

/** What a batch produced, in order: result sets and row counts of statements without rows. */
export type StatementResult = ResultSet | { rowCount: number };

/** An error as SQL Server reports it in an ERROR token. */
export class SqlError extends Error {
  readonly number: number;
  readonly state: number;
  readonly severity: number;
  constructor(number: number, message: string, severity = 16, state = 1) {
    super(message);
    this.number = number;
    this.severity = severity;
    this.state = state;
  }
}

/** Several errors for one statement, sent as one ERROR token each (e.g. Msg 300 then Msg 297). */
export class SqlErrors extends SqlError {
  readonly all: SqlError[];
  constructor(all: SqlError[]) {
    super(all[0].number, all[0].message, all[0].severity, all[0].state);
    this.all = all;
  }
}

/** One login of the scenario. */
export interface Login {
  name: string;
  password: string;
  sysadmin?: boolean;
  /** VIEW SERVER STATE: without it the HADR DMVs return no rows. */
  viewServerState?: boolean;
  /** VIEW ANY DATABASE (granted to public by default): without it sys.databases shows only master, tempdb and owned databases. */
  viewAnyDatabase?: boolean;
  /** VIEW ANY DEFINITION: without it sys.availability_groups and sys.availability_replicas show no rows. */
  viewAnyDefinition?: boolean;
  /** ALTER ANY DATABASE: without it an OFFLINE database is not visible in sys.databases. */
  alterAnyDatabase?: boolean;
  disabled?: boolean;
}

/** The session a query runs in. */
export interface Session {
  login: Login;
  database: string;
  appName?: string;
}

/**
 * One server's state as a data file: server properties, logins, and the rows of the catalog views.
 * Rows use the catalog views' own column names (Microsoft's documented names), so a scenario file
 * reads like the output of SELECT * FROM sys.<view>. Columns left out take the value a real server
 * shows for a database not in that feature (mostly NULL).
 */
export interface Scenario {
  description?: string;
  server: {
    name: string; // @@SERVERNAME, SERVERPROPERTY('ServerName')
    productVersion?: string; // SERVERPROPERTY('ProductVersion'), e.g. 16.0.4135.4
    edition?: string;
    /** SERVERPROPERTY('EngineEdition'); 8 = Azure SQL Managed Instance (catalog of the newest release) */
    engineEdition?: number;
    isHadrEnabled?: boolean;
    instanceName?: string | null; // SERVERPROPERTY('InstanceName'); null for the default instance
    /**
     * The server collation (SERVERPROPERTY('Collation')), default SQL_Latin1_General_CP1_CI_AS:
     * the collation of the catalog's names and the default of every database (collation.ts).
     */
    collation?: string;
    /**
     * Every login is answered with a routing ENVCHANGE to this server (MS-TDS 2.2.7.9, type 20:
     * "sent in response to a LOGIN7 message when the server wants to route the client to an
     * alternate server", after LOGINACK), as an Azure SQL gateway with the Redirect connection
     * policy or an AG replica with read/write routing does. What the server does with a request
     * on a routed session the documents do not say; sqlsim takes the failing side and closes it.
     */
    routing?: { server: string; port: number };
  };
  logins: Login[];
  /** sys.databases rows (name, database_id, state_desc, is_read_only, user_access_desc, ...). */
  databases: Record<string, Value>[];
  /** sys.database_mirroring rows for mirrored databases (database_id, mirroring_role_desc, ...). */
  database_mirroring?: Record<string, Value>[];
  availability_groups?: Record<string, Value>[];
  availability_replicas?: Record<string, Value>[];
  dm_hadr_availability_replica_states?: Record<string, Value>[];
  dm_hadr_database_replica_states?: Record<string, Value>[];
  dm_hadr_availability_group_states?: Record<string, Value>[];
}

/** Evaluates T-SQL batches against a scenario. Implemented by catalog.ts. */
export interface QueryEngine {
  /** Run one batch (SQL_BATCH text, or the statement of sp_executesql with its parameters). Throws SqlError. */
  execute(sql: string, params: Record<string, Value>, session: Session): StatementResult[];
  /** Replace the server state (scenario changes while the server runs). */
  load(scenario: Scenario): void;
  readonly scenario: Scenario;
}
