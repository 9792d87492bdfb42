// The catalog views sqlsim answers from: column names, SQL Server types and nullability as Microsoft
// documents them, the default a real server shows for a column a scenario leaves out, and the
// numeric code behind each *_desc column.
//
// Column lists taken from Microsoft Learn (the MicrosoftDocs/sql-docs sources of these pages):
//   sys.databases                          https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-databases-transact-sql
//   sys.database_mirroring                 https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-mirroring-transact-sql
//   sys.availability_groups                https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-availability-groups-transact-sql
//   sys.availability_replicas              https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-availability-replicas-transact-sql
//   sys.dm_hadr_availability_replica_states https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-hadr-availability-replica-states-transact-sql
//   sys.dm_hadr_database_replica_states    https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-hadr-database-replica-states-transact-sql
//   sys.dm_hadr_availability_group_states  https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-hadr-availability-group-states-transact-sql
// Later columns of sys.availability_groups (cluster_type … is_contained) and sys.availability_replicas
// (read_write_routing_url, seeding_mode*) and the nullability of the catalog views were checked against
// linq2db's generated SQL Server schema (Source/LinqToDB.Tools/DataProvider/SqlServer/Schemas).
//
// Collation: every text column of these views (names and *_desc alike) is in the server collation
// (SERVERPROPERTY('Collation'), scenario server.collation, default SQL_Latin1_General_CP1_CI_AS),
// the collation "of the system databases and all user databases" unless a database names its own
// (Collation and Unicode support, Server-level collations), in which instance-level names such
// as database names are kept (COLLATE (Transact-SQL), Remarks). The documents do not give the
// collation of each *_desc column; real servers are reported to declare some of them
// Latin1_General_CI_AS_KS_WS, which sqlsim does not copy: under a case-sensitive server collation
// the server's is the stricter side. sys.databases.collation_name is the server collation for a
// database the scenario gives none (NULL when it is not ONLINE). collation.ts has the rules.
//
// Facts of a real server the catalog reproduces (see catalog.ts):
// - sys.databases has a row per database; sys.database_mirroring has a row for EVERY database, with
//   NULL in all mirroring_* columns when the database is not mirrored.
// - the HADR DMVs have rows only for availability-group replicas and databases; on a secondary
//   replica only the local ones, on the primary also one per remote replica / remote database.

import type { Column, SqlType, Value } from './types.ts';

export interface ColumnSpec {
  name: string;
  /** SQL Server type as documented, e.g. nvarchar(60), sysname, numeric(25,0) */
  sqlType: string;
  nullable: boolean;
  /** what a real server shows when the scenario leaves the column out (undefined = NULL or computed) */
  default?: Value;
  /** the first major version that has the column (9 = 2005 … 17 = 2025); Infinity: not on SQL Server */
  since: number;
}

export interface ViewSpec {
  name: string; // without the sys. prefix
  doc: string;
  columns: ColumnSpec[];
  /** numeric code column → its codes; the description column is `<code>_desc` */
  codes: Record<string, Record<number, string>>;
  /** the first major version that has the view */
  since: number;
}

/**
 * Parses `name type [not null] [since N | synapse] [= json]` lines. `since N` is the "Applies to:
 * SQL Server 20xx and later" of the column's row on its Learn page (a column without it is as old
 * as the view); `synapse` marks a column that page gives to Azure Synapse Analytics only.
 */
function cols(text: string, viewSince: number): ColumnSpec[] {
  return text.trim().split('\n').map((line) => {
    const m = /^\s*(\w+)\s+([\w(),]+)(\s+not null)?(?:\s+since\s+(\d+)|\s+(synapse))?(?:\s*=\s*(.+))?\s*$/.exec(line);
    if (!m) throw new Error(`bad column line: ${line}`);
    const since = m[5] ? Infinity : m[4] ? Number(m[4]) : viewSince;
    return { name: m[1], sqlType: m[2], nullable: !m[3], since, default: m[6] === undefined ? undefined : JSON.parse(m[6]) as Value };
  });
}

const STATE = { 0: 'ONLINE', 1: 'RESTORING', 2: 'RECOVERING', 3: 'RECOVERY_PENDING', 4: 'SUSPECT', 5: 'EMERGENCY', 6: 'OFFLINE', 7: 'COPYING', 10: 'OFFLINE_SECONDARY' };
const HEALTH = { 0: 'NOT_HEALTHY', 1: 'PARTIALLY_HEALTHY', 2: 'HEALTHY' };
const RECOVERY_HEALTH = { 0: 'ONLINE_IN_PROGRESS', 1: 'ONLINE' };

const LEARN = 'https://learn.microsoft.com/sql/relational-databases';

export const VIEWS: ViewSpec[] = [
  {
    name: 'databases',
    doc: `${LEARN}/system-catalog-views/sys-databases-transact-sql`,
    columns: cols(`
      name sysname not null
      database_id int not null
      source_database_id int
      owner_sid varbinary(85)
      create_date datetime not null = "2024-01-15 09:30:00.000"
      compatibility_level tinyint not null = 160
      collation_name sysname
      user_access tinyint
      user_access_desc nvarchar(60) = "MULTI_USER"
      is_read_only bit = 0
      is_auto_close_on bit not null = 0
      is_auto_shrink_on bit = 0
      state tinyint
      state_desc nvarchar(60) = "ONLINE"
      is_in_standby bit = 0
      is_cleanly_shutdown bit = 0
      is_supplemental_logging_enabled bit = 0
      snapshot_isolation_state tinyint
      snapshot_isolation_state_desc nvarchar(60) = "OFF"
      is_read_committed_snapshot_on bit = 0
      recovery_model tinyint
      recovery_model_desc nvarchar(60) = "FULL"
      page_verify_option tinyint
      page_verify_option_desc nvarchar(60) = "CHECKSUM"
      is_auto_create_stats_on bit = 1
      is_auto_create_stats_incremental_on bit since 12 = 0
      is_auto_update_stats_on bit = 1
      is_auto_update_stats_async_on bit = 0
      is_ansi_null_default_on bit = 0
      is_ansi_nulls_on bit = 0
      is_ansi_padding_on bit = 0
      is_ansi_warnings_on bit = 0
      is_arithabort_on bit = 0
      is_concat_null_yields_null_on bit = 0
      is_numeric_roundabort_on bit = 0
      is_quoted_identifier_on bit = 0
      is_recursive_triggers_on bit = 0
      is_cursor_close_on_commit_on bit = 0
      is_local_cursor_default bit = 0
      is_fulltext_enabled bit = 1
      is_trustworthy_on bit = 0
      is_db_chaining_on bit = 0
      is_parameterization_forced bit = 0
      is_master_key_encrypted_by_server bit not null = 0
      is_query_store_on bit since 13 = 1
      is_published bit not null = 0
      is_subscribed bit not null = 0
      is_merge_published bit not null = 0
      is_distributor bit not null = 0
      is_sync_with_backup bit not null = 0
      service_broker_guid uniqueidentifier not null
      is_broker_enabled bit not null = 0
      log_reuse_wait tinyint
      log_reuse_wait_desc nvarchar(60) = "NOTHING"
      is_date_correlation_on bit not null = 0
      is_cdc_enabled bit not null since 10 = 0
      is_encrypted bit since 10 = 0
      is_honor_broker_priority_on bit since 10 = 0
      replica_id uniqueidentifier since 11
      group_database_id uniqueidentifier since 11
      resource_pool_id int since 12
      default_language_lcid smallint since 11
      default_language_name nvarchar(128) since 11
      default_fulltext_language_lcid int since 11
      default_fulltext_language_name nvarchar(128) since 11
      is_nested_triggers_on bit since 11
      is_transform_noise_words_on bit since 11
      two_digit_year_cutoff smallint since 11
      containment tinyint not null since 11
      containment_desc nvarchar(60) not null since 11 = "NONE"
      target_recovery_time_in_seconds int since 11 = 60
      delayed_durability int since 12
      delayed_durability_desc nvarchar(60) since 12 = "DISABLED"
      is_memory_optimized_elevate_to_snapshot_on bit since 12 = 0
      is_federation_member bit since 11 = 0
      is_remote_data_archive_enabled bit since 13 = 0
      is_mixed_page_allocation_on bit since 13 = 0
      is_temporal_history_retention_enabled bit since 14 = 1
      catalog_collation_type int not null since 15
      catalog_collation_type_desc nvarchar(60) since 15 = "DATABASE_DEFAULT"
      physical_database_name nvarchar(128) since 15
      is_result_set_caching_on bit synapse
      is_accelerated_database_recovery_on bit since 15 = 0
      is_tempdb_spill_to_remote_store bit synapse
      is_stale_page_detection_on bit synapse
      is_memory_optimized_enabled bit since 15 = 1
      is_ledger_on bit since 16 = 0
    `, 9),
    since: 9,
    codes: {
      state: STATE,
      user_access: { 0: 'MULTI_USER', 1: 'SINGLE_USER', 2: 'RESTRICTED_USER' },
      snapshot_isolation_state: { 0: 'OFF', 1: 'ON', 2: 'IN_TRANSITION_TO_OFF', 3: 'IN_TRANSITION_TO_ON' },
      recovery_model: { 1: 'FULL', 2: 'BULK_LOGGED', 3: 'SIMPLE' },
      page_verify_option: { 0: 'NONE', 1: 'TORN_PAGE_DETECTION', 2: 'CHECKSUM' },
      log_reuse_wait: {
        0: 'NOTHING', 1: 'CHECKPOINT', 2: 'LOG_BACKUP', 3: 'ACTIVE_BACKUP_OR_RESTORE', 4: 'ACTIVE_TRANSACTION',
        5: 'DATABASE_MIRRORING', 6: 'REPLICATION', 7: 'DATABASE_SNAPSHOT_CREATION', 8: 'LOG_SCAN',
        9: 'AVAILABILITY_REPLICA', 13: 'OLDEST_PAGE', 16: 'XTP_CHECKPOINT', 17: 'SLOG_SCAN',
      },
      containment: { 0: 'NONE', 1: 'PARTIAL' },
      delayed_durability: { 0: 'DISABLED', 1: 'ALLOWED', 2: 'FORCED' },
      catalog_collation_type: { 0: 'DATABASE_DEFAULT', 2: 'SQL_Latin_1_General_CP1_CI_AS' },
    },
  },
  {
    name: 'database_mirroring',
    doc: `${LEARN}/system-catalog-views/sys-database-mirroring-transact-sql`,
    columns: cols(`
      database_id int not null
      mirroring_guid uniqueidentifier
      mirroring_state tinyint
      mirroring_state_desc nvarchar(60)
      mirroring_role tinyint
      mirroring_role_desc nvarchar(60)
      mirroring_role_sequence int
      mirroring_safety_level tinyint
      mirroring_safety_level_desc nvarchar(60)
      mirroring_safety_sequence int
      mirroring_partner_name nvarchar(128)
      mirroring_partner_instance nvarchar(128)
      mirroring_witness_name nvarchar(128)
      mirroring_witness_state tinyint
      mirroring_witness_state_desc nvarchar(60)
      mirroring_failover_lsn numeric(25,0)
      mirroring_connection_timeout int
      mirroring_redo_queue int
      mirroring_redo_queue_type nvarchar(60)
      mirroring_end_of_log_lsn numeric(25,0) since 10
      mirroring_replication_lsn numeric(25,0) since 10
    `, 9),
    since: 9,
    codes: {
      // 4 and 6 are both documented as SYNCHRONIZED; a description maps back to 4
      mirroring_state: { 0: 'SUSPENDED', 1: 'DISCONNECTED', 2: 'SYNCHRONIZING', 3: 'PENDING_FAILOVER', 4: 'SYNCHRONIZED', 5: 'UNSYNCHRONIZED', 6: 'SYNCHRONIZED' },
      mirroring_role: { 1: 'PRINCIPAL', 2: 'MIRROR' },
      mirroring_safety_level: { 0: 'UNKNOWN', 1: 'OFF', 2: 'FULL' },
      mirroring_witness_state: { 0: 'UNKNOWN', 1: 'CONNECTED', 2: 'DISCONNECTED' },
    },
  },
  {
    name: 'availability_groups',
    doc: `${LEARN}/system-catalog-views/sys-availability-groups-transact-sql`,
    columns: cols(`
      group_id uniqueidentifier not null
      name sysname
      resource_id nvarchar(40)
      resource_group_id nvarchar(40)
      failure_condition_level int = 3
      health_check_timeout int = 30000
      automated_backup_preference tinyint
      automated_backup_preference_desc nvarchar(60) = "SECONDARY"
      version smallint since 13 = 4
      basic_features bit since 13 = 0
      dtc_support bit since 13 = 0
      db_failover bit since 13 = 0
      is_distributed bit since 13 = 0
      cluster_type tinyint since 14
      cluster_type_desc nvarchar(60) since 14 = "WSFC"
      required_synchronized_secondaries_to_commit int since 14 = 0
      sequence_number bigint since 14 = 1
      is_contained bit since 16 = 0
    `, 11),
    since: 11,
    codes: {
      automated_backup_preference: { 0: 'PRIMARY', 1: 'SECONDARY_ONLY', 2: 'SECONDARY', 3: 'NONE' },
      cluster_type: { 0: 'WSFC', 1: 'EXTERNAL', 2: 'NONE' },
    },
  },
  {
    name: 'availability_replicas',
    doc: `${LEARN}/system-catalog-views/sys-availability-replicas-transact-sql`,
    columns: cols(`
      replica_id uniqueidentifier
      group_id uniqueidentifier
      replica_metadata_id int
      replica_server_name nvarchar(256)
      owner_sid varbinary(85)
      endpoint_url nvarchar(128)
      availability_mode tinyint
      availability_mode_desc nvarchar(60) = "SYNCHRONOUS_COMMIT"
      failover_mode tinyint
      failover_mode_desc nvarchar(60) = "MANUAL"
      session_timeout int = 10
      primary_role_allow_connections tinyint
      primary_role_allow_connections_desc nvarchar(60) = "ALL"
      secondary_role_allow_connections tinyint
      secondary_role_allow_connections_desc nvarchar(60) = "NO"
      create_date datetime = "2024-01-15 09:30:00.000"
      modify_date datetime = "2024-01-15 09:30:00.000"
      backup_priority int = 50
      read_only_routing_url nvarchar(256)
      read_write_routing_url nvarchar(256) since 15
      seeding_mode tinyint since 13
      seeding_mode_desc nvarchar(60) since 13 = "MANUAL"
    `, 11),
    since: 11,
    codes: {
      availability_mode: { 0: 'ASYNCHRONOUS_COMMIT', 1: 'SYNCHRONOUS_COMMIT', 4: 'CONFIGURATION_ONLY' },
      failover_mode: { 0: 'AUTOMATIC', 1: 'MANUAL' },
      primary_role_allow_connections: { 2: 'ALL', 3: 'READ_WRITE' },
      secondary_role_allow_connections: { 0: 'NO', 1: 'READ_ONLY', 2: 'ALL' },
      seeding_mode: { 0: 'AUTOMATIC', 1: 'MANUAL' },
    },
  },
  {
    name: 'dm_hadr_availability_replica_states',
    doc: `${LEARN}/system-dynamic-management-views/sys-dm-hadr-availability-replica-states-transact-sql`,
    columns: cols(`
      replica_id uniqueidentifier not null
      group_id uniqueidentifier not null
      is_local bit not null = 1
      role tinyint
      role_desc nvarchar(60)
      operational_state tinyint
      operational_state_desc nvarchar(60)
      recovery_health tinyint
      recovery_health_desc nvarchar(60)
      synchronization_health tinyint
      synchronization_health_desc nvarchar(60)
      connected_state tinyint
      connected_state_desc nvarchar(60) = "CONNECTED"
      last_connect_error_number int
      last_connect_error_description nvarchar(1024)
      last_connect_error_timestamp datetime
    `, 11),
    since: 11,
    codes: {
      role: { 0: 'RESOLVING', 1: 'PRIMARY', 2: 'SECONDARY' },
      operational_state: { 0: 'PENDING_FAILOVER', 1: 'PENDING', 2: 'ONLINE', 3: 'OFFLINE', 4: 'FAILED', 5: 'FAILED_NO_QUORUM' },
      recovery_health: RECOVERY_HEALTH,
      synchronization_health: HEALTH,
      connected_state: { 0: 'DISCONNECTED', 1: 'CONNECTED' },
    },
  },
  {
    name: 'dm_hadr_database_replica_states',
    doc: `${LEARN}/system-dynamic-management-views/sys-dm-hadr-database-replica-states-transact-sql`,
    columns: cols(`
      database_id int
      group_id uniqueidentifier
      replica_id uniqueidentifier
      group_database_id uniqueidentifier
      is_local bit = 1
      is_primary_replica bit since 12
      synchronization_state tinyint
      synchronization_state_desc nvarchar(60)
      is_commit_participant bit
      synchronization_health tinyint
      synchronization_health_desc nvarchar(60)
      database_state tinyint
      database_state_desc nvarchar(60)
      is_suspended bit = 0
      suspend_reason tinyint
      suspend_reason_desc nvarchar(60)
      recovery_lsn numeric(25,0)
      truncation_lsn numeric(25,0)
      last_sent_lsn numeric(25,0)
      last_sent_time datetime
      last_received_lsn numeric(25,0)
      last_received_time datetime
      last_hardened_lsn numeric(25,0)
      last_hardened_time datetime
      last_redone_lsn numeric(25,0)
      last_redone_time datetime
      log_send_queue_size bigint = 0
      log_send_rate bigint = 0
      redo_queue_size bigint = 0
      redo_rate bigint = 0
      filestream_send_rate bigint = 0
      end_of_log_lsn numeric(25,0)
      last_commit_lsn numeric(25,0)
      last_commit_time datetime = "2024-06-01 12:00:00.000"
      low_water_mark_for_ghosts bigint = 0
      secondary_lag_seconds bigint since 13
    `, 11),
    since: 11,
    codes: {
      synchronization_state: { 0: 'NOT SYNCHRONIZING', 1: 'SYNCHRONIZING', 2: 'SYNCHRONIZED', 3: 'REVERTING', 4: 'INITIALIZING' },
      synchronization_health: HEALTH,
      database_state: STATE,
      suspend_reason: {
        0: 'SUSPEND_FROM_USER', 1: 'SUSPEND_FROM_PARTNER', 2: 'SUSPEND_FROM_REDO', 3: 'SUSPEND_FROM_CAPTURE',
        4: 'SUSPEND_FROM_APPLY', 5: 'SUSPEND_FROM_RESTART', 6: 'SUSPEND_FROM_UNDO', 7: 'SUSPEND_FROM_REVALIDATION',
        8: 'SUSPEND_FROM_XRF_UPDATE',
      },
    },
  },
  {
    name: 'dm_hadr_availability_group_states',
    doc: `${LEARN}/system-dynamic-management-views/sys-dm-hadr-availability-group-states-transact-sql`,
    columns: cols(`
      group_id uniqueidentifier not null
      primary_replica varchar(128)
      primary_recovery_health tinyint
      primary_recovery_health_desc nvarchar(60)
      secondary_recovery_health tinyint
      secondary_recovery_health_desc nvarchar(60)
      synchronization_health tinyint
      synchronization_health_desc nvarchar(60)
    `, 11),
    since: 11,
    codes: {
      primary_recovery_health: RECOVERY_HEALTH,
      secondary_recovery_health: RECOVERY_HEALTH,
      synchronization_health: HEALTH,
    },
  },
];

export const VIEW_BY_NAME = new Map(VIEWS.map((v) => [v.name, v]));

/** SQL Server type text (nvarchar(60), sysname, numeric(25,0) …) → the result column it produces. */
export function columnOf(name: string, sqlType: string, nullable: boolean): Column {
  const m = /^(\w+)(?:\((\w+)(?:,(\d+))?\))?$/.exec(sqlType.replace(/\s+/g, '').toLowerCase());
  if (!m) throw new Error(`unknown SQL type ${sqlType}`);
  const [, base, a, b] = m;
  const size = a === undefined ? undefined : a === 'max' ? 0x7fffffff : Number(a);
  switch (base) {
    case 'sysname': return { name, type: 'nvarchar', length: 128, nullable };
    case 'nvarchar': case 'nchar': return { name, type: 'nvarchar', length: size ?? 1, nullable };
    case 'varchar': case 'char': return { name, type: 'varchar', length: size ?? 1, nullable };
    case 'varbinary': case 'binary': return { name, type: 'varbinary', length: size ?? 1, nullable };
    case 'numeric': case 'decimal': return { name, type: 'numeric', precision: size ?? 18, scale: b === undefined ? 0 : Number(b), nullable };
    case 'float': case 'real': return { name, type: 'float', nullable };
    case 'int': case 'smallint': case 'tinyint': case 'bigint': case 'bit':
    case 'uniqueidentifier': case 'datetime': case 'sql_variant':
      return { name, type: base as SqlType, nullable };
    default: throw new Error(`unknown SQL type ${sqlType}`);
  }
}

/**
 * The declared type of the SQLite column. The SQL Server name is kept, except sysname: SQLite gives
 * that word NUMERIC affinity, which would turn a database named '1e5' into a number. Result column
 * types come from ColumnSpec.sqlType, not from this declaration.
 */
export function sqliteDeclaration(c: ColumnSpec, textCollate: string): string {
  const declared = c.sqlType === 'sysname' ? 'nvarchar(128)' : c.sqlType;
  // what SQLite compares itself (catalog.ts); sqlsim's own string comparisons follow collation.ts
  const collate = /char|sysname/i.test(c.sqlType) ? ` COLLATE ${textCollate}` : '';
  return `"${c.name}" ${declared}${collate}${c.nullable ? '' : ' NOT NULL'}`;
}

// --- versions -------------------------------------------------------------------------------------
// What each release's catalog has: a view or column a release lacks is absent from that server's
// catalog, so naming it raises 208 (Invalid object name) or 207 (Invalid column name), as there.
//   - the availability-group views and DMVs and sys.databases.replica_id / group_database_id came
//     with SQL Server 2012 (11.x) ("Applies to: SQL Server 2012 (11.x) and later" on each page; the
//     2012 pages under learn.microsoft.com/previous-versions/sql/sql-server-2012 list their columns);
//   - later columns carry the "Applies to" of their row on the view's page (the `since` above), e.g.
//     sys.dm_hadr_database_replica_states.is_primary_replica 2014, secondary_lag_seconds 2016;
//     sys.availability_groups.is_distributed 2016, cluster_type 2017, is_contained 2022;
//   - sys.database_mirroring is there since SQL Server 2005 SP1 with its witness and safety columns.
// Azure SQL Managed Instance reports ProductMajorVersion 12 (SERVERPROPERTY, "ProductVersion":
// "Azure SQL Database and Azure SQL Managed Instance return 12.x"), with EngineEdition 8, while its
// catalog is that of the newest SQL Server ("always-up-to-date"): sqlsim gives it the newest level.

/** Major version → release name, for messages. */
export const RELEASES: Record<number, string> = {
  9: '2005', 10: '2008', 11: '2012', 12: '2014', 13: '2016', 14: '2017', 15: '2019', 16: '2022', 17: '2025',
};
export const NEWEST_LEVEL = 17;

/** The catalog level of a server: its major version, or the newest for Managed Instance (EngineEdition 8). */
export function catalogLevel(productVersion: string, engineEdition: number): number {
  if (engineEdition === 8) return NEWEST_LEVEL;
  const major = Number.parseInt(productVersion.split('.')[0], 10);
  if (!(major in RELEASES)) throw new Error(`scenario: productVersion ${productVersion} is not a SQL Server release sqlsim models (9..17)`);
  return major;
}

/** The views and columns a server of this catalog level has. */
export function viewsAt(level: number): ViewSpec[] {
  return VIEWS.filter((v) => v.since <= level).map((v) => ({ ...v, columns: v.columns.filter((c) => c.since <= level) }));
}

/**
 * The TDS version a server of this major version answers in LOGINACK (MS-TDS 2.2.7.14 LOGINACK,
 * TDSVersion: 0x72090002 SQL Server 2005, 0x730A0003 SQL Server 2008, 0x730B0003 SQL Server 2008 R2,
 * 0x74000004 SQL Server 2012 and later). A client that asks for a higher version is answered with
 * the server's own (MS-TDS 2.2.6.4 LOGIN7, TDSVersion: "the server ... responds with the highest
 * TDS version it supports").
 */
export function tdsVersionOf(productVersion: string): number {
  const [major, minor] = productVersion.split('.').map((p) => Number.parseInt(p, 10) || 0);
  if (major <= 9) return 0x72090002;
  if (major === 10) return minor >= 50 ? 0x730b0003 : 0x730a0003;
  return 0x74000004;
}
