// What the server said about one requested database: the columns of the catalog views, under
// their own names, exactly as the probe query returned them (NULL stays null).

export interface DatabaseFacts {
  /** the name as given with --database */
  requested: string;
  /** rows the query returned for this name: exactly 1 is expected */
  rows: number;

  // sys.databases (database_id NULL: no such database, or the login cannot see it)
  database_id: number | null;
  name: string | null;
  state_desc: string | null;
  is_read_only: boolean | null;
  user_access_desc: string | null;
  /** DATABASEPROPERTYEX(name, 'Updateability'): READ_ONLY on a readable secondary */
  updateability: string | null;
  /** sys.databases.replica_id: the database is in an availability group (visible without VIEW SERVER STATE) */
  db_replica_id: string | null;

  // sys.database_mirroring (mirroring_guid NULL: not mirrored, or hidden from a non-sysadmin on the mirror)
  mirroring_guid: string | null;
  mirroring_role_desc: string | null;
  mirroring_state_desc: string | null;
  /** FULL (high safety) or OFF (high performance); UNKNOWN while the partners have not agreed */
  mirroring_safety_level_desc: string | null;
  /** the witness's network address; NULL or empty when no witness is configured */
  mirroring_witness_name: string | null;
  /** UNKNOWN, CONNECTED or DISCONNECTED: whether this partner is connected to the witness */
  mirroring_witness_state_desc: string | null;

  // Always On, the local replica: its (first) row of sys.dm_hadr_database_replica_states with
  // is_local = 1 and what that row joins to. The login needs VIEW SERVER STATE, or the query fails.
  ag_name: string | null; // sys.availability_groups.name
  group_id: string | null; // sys.dm_hadr_database_replica_states (is_local = 1)
  replica_id: string | null;
  synchronization_state_desc: string | null;
  synchronization_health_desc: string | null;
  database_state_desc: string | null;
  is_suspended: boolean | null;
  /** KB of log the local (secondary) copy has received but not yet redone, and its redo rate in KB/s */
  redo_queue_size: number | null;
  redo_rate: number | null;
  role_desc: string | null; // sys.dm_hadr_availability_replica_states
  operational_state_desc: string | null;
  connected_state_desc: string | null;
  replica_synchronization_health_desc: string | null;
  secondary_role_allow_connections_desc: string | null; // sys.availability_replicas
  availability_mode_desc: string | null;
  /** sys.availability_groups.cluster_type_desc (2017+): WSFC, EXTERNAL or NONE; NULL on 2012-2016, where every group is WSFC */
  cluster_type_desc: string | null;

  /**
   * Further local availability-group rows of the database: a database in a distributed
   * availability group has one for its own group and one for the distributed group.
   */
  more_groups: GroupFacts[];
}

/** The columns of one local availability-group row. */
export const GROUP_COLUMNS = [
  'ag_name', 'group_id', 'replica_id', 'synchronization_state_desc', 'synchronization_health_desc',
  'database_state_desc', 'is_suspended', 'redo_queue_size', 'redo_rate', 'role_desc', 'operational_state_desc',
  'connected_state_desc', 'replica_synchronization_health_desc', 'secondary_role_allow_connections_desc',
  'availability_mode_desc', 'cluster_type_desc',
] as const;
export type GroupFacts = Pick<DatabaseFacts, (typeof GROUP_COLUMNS)[number]>;

/** The availability-group rows of a database, the first one first (none when it is in no group). */
export function groupsOf(f: DatabaseFacts): GroupFacts[] {
  if (f.group_id === null) return f.more_groups;
  const first = Object.fromEntries(GROUP_COLUMNS.map((c) => [c, f[c]])) as unknown as GroupFacts;
  return [first, ...f.more_groups];
}

/** Facts for a database the server did not report at all (a blank row). */
export function noFacts(requested: string, rows = 0): DatabaseFacts {
  return {
    requested, rows,
    database_id: null, name: null, state_desc: null, is_read_only: null, user_access_desc: null,
    updateability: null, db_replica_id: null,
    mirroring_guid: null, mirroring_role_desc: null, mirroring_state_desc: null,
    mirroring_safety_level_desc: null, mirroring_witness_name: null, mirroring_witness_state_desc: null,
    ag_name: null, group_id: null, replica_id: null, synchronization_state_desc: null,
    synchronization_health_desc: null, database_state_desc: null, is_suspended: null,
    redo_queue_size: null, redo_rate: null, role_desc: null, operational_state_desc: null,
    connected_state_desc: null, replica_synchronization_health_desc: null,
    secondary_role_allow_connections_desc: null, availability_mode_desc: null, cluster_type_desc: null,
    more_groups: [],
  };
}
