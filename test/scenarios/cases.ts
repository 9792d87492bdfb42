// The end-to-end scenarios as data, run by two suites with the same code (./run.ts): against
// sqlsim in CI (test/scenarios-sqlsim.test.ts) and against real SQL Server 2022 containers
// (test/docker/run.ts, `make test-docker`). A scenario names its topology and, for each check, the
// server by the role it held when the topology was made; the runner adds host, port, login,
// password file, --json and --timeout. Expected reasons are substrings of what the check reports,
// so a server whose answers differ from sqlsim's shows up here.
//
// Database names, as in sqlsim's scenario files (test/sqlsim/scenarios/): appdb is mirrored
// (principal.json, mirror.json), agdb is in the availability group (ag-primary.json,
// ag-secondary-sync.json), salesdb is in neither (standalone.json).

export type TopologyKind = 'mirroring' | 'ag' | 'standalone';

/** A server of a topology, by the role it held when the topology was made. */
export type ServerRole = 'principal' | 'mirror' | 'primary' | 'secondary' | 'standalone';

/**
 * The logins of sqlsim's scenarios, made the same way on the real servers: monitor (not sysadmin;
 * VIEW SERVER STATE, VIEW ANY DATABASE), monitor_full (also VIEW ANY DEFINITION, without which
 * sys.availability_groups and sys.availability_replicas show no rows) and sysadmin (sa).
 */
export type LoginKind = 'monitor' | 'monitor_full' | 'sysadmin';

export interface Endpoint {
  host: string;
  port: number;
}

export interface Credentials {
  user: string;
  password: string;
}

/** A running set of servers the scenarios check. Made fresh (or reset) for every scenario. */
export interface Topology {
  readonly kind: TopologyKind;
  readonly endpoints: Partial<Record<ServerRole, Endpoint>>;
  readonly logins: Record<LoginKind, Credentials>;
  /** --timeout for every run of the check (real servers log in slower than sqlsim) */
  readonly timeoutSeconds: number;
  /** Swap the roles (mirroring failover, or the AG's manual failover) and wait until it is done. */
  failover(): Promise<void>;
  /** Take a database offline on the first server of the topology (principal/primary/standalone). */
  setOffline(database: string): Promise<void>;
  /** Stop the servers, or put them back as they were for the next scenario. */
  close(): Promise<void>;
}

export type TopologyFactory = (kind: TopologyKind) => Promise<Topology>;

export interface Check {
  server: ServerRole;
  /** options for the check beyond host, port, login, password, --json and --timeout */
  argv: string[];
  /** --partner: the other server of the topology, by its role when the topology was made */
  partner?: ServerRole;
  /** default: monitor */
  login?: LoginKind;
  /** log in with a password that is not the login's */
  wrongPassword?: boolean;
  exit: number;
  /** a substring of the reason the check gives (its --json "reason", or a database's) */
  reason?: string;
}

export type Step = { check: Check } | { failover: true } | { setOffline: string };

export interface Scenario {
  name: string;
  topology: TopologyKind;
  steps: Step[];
}

const check = (c: Check): Step => ({ check: c });

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'mirroring: the principal passes',
    topology: 'mirroring',
    steps: [check({ server: 'principal', argv: ['--database', 'appdb'], exit: 0 })],
  },
  {
    name: 'mirroring: the mirror fails as primary',
    topology: 'mirroring',
    steps: [check({ server: 'mirror', login: 'sysadmin', argv: ['--database', 'appdb'], exit: 1, reason: 'mirroring role is MIRROR, not PRINCIPAL' })],
  },
  {
    name: 'mirroring: the verdicts swap after a failover',
    topology: 'mirroring',
    steps: [
      check({ server: 'principal', argv: ['--database', 'appdb'], exit: 0 }),
      check({ server: 'mirror', login: 'sysadmin', argv: ['--database', 'appdb'], exit: 1, reason: 'MIRROR, not PRINCIPAL' }),
      { failover: true },
      check({ server: 'principal', login: 'sysadmin', argv: ['--database', 'appdb'], exit: 1, reason: 'MIRROR, not PRINCIPAL' }),
      check({ server: 'mirror', argv: ['--database', 'appdb'], exit: 0 }),
    ],
  },
  {
    name: 'mirroring: --role mirror passes on the mirror and fails on the principal',
    topology: 'mirroring',
    steps: [
      check({ server: 'mirror', login: 'sysadmin', argv: ['--database', 'appdb', '--role', 'mirror'], exit: 0 }),
      check({ server: 'principal', login: 'sysadmin', argv: ['--database', 'appdb', '--role', 'mirror'], exit: 1, reason: 'PRINCIPAL, not MIRROR' }),
    ],
  },
  {
    name: 'mirroring: a login without sysadmin cannot see the mirror; only --role mirror is told it needs sysadmin',
    topology: 'mirroring',
    steps: [
      check({ server: 'mirror', argv: ['--database', 'appdb'], exit: 1, reason: 'not writable here' }),
      check({ server: 'mirror', argv: ['--database', 'appdb', '--role', 'mirror'], exit: 1, reason: 'sysadmin' }),
    ],
  },
  {
    name: 'mirroring: a missing database fails',
    topology: 'mirroring',
    steps: [check({ server: 'principal', argv: ['--database', 'nosuchdb'], exit: 1, reason: 'not found' })],
  },
  {
    // = pads the shorter string with spaces, and the default collation (SQL_Latin1_General_CP1_CI_AS)
    // ignores case but not accents (test/sqlsim/collation.ts)
    name: 'mirroring: the database name compares as the server collation does',
    topology: 'mirroring',
    steps: [
      check({ server: 'principal', argv: ['--database', 'APPDB  '], exit: 0 }),
      check({ server: 'principal', argv: ['--database', 'äppdb'], exit: 1, reason: 'not found' }),
    ],
  },
  {
    name: 'mirroring: several databases pass together, and --weight sets the exit code',
    topology: 'mirroring',
    // master is in neither mirroring nor a group: it passes --role primary only with --allow-standalone
    steps: [
      check({ server: 'principal', argv: ['--database', 'appdb', '--database', 'master', '--weight', '5', '--allow-standalone'], exit: 7 }),
      check({ server: 'principal', argv: ['--database', 'appdb', '--database', 'master', '--weight', '5'], exit: 1, reason: 'database "master": neither mirrored nor in an availability group' }),
    ],
  },
  {
    name: 'mirroring: one missing database among several fails the server',
    topology: 'mirroring',
    steps: [check({ server: 'principal', argv: ['--database', 'appdb', '--database', 'nosuchdb', '--weight', '5'], exit: 1, reason: 'not found' })],
  },
  {
    name: 'mirroring: a wrong password fails',
    topology: 'mirroring',
    steps: [check({ server: 'principal', wrongPassword: true, argv: ['--database', 'appdb'], exit: 1, reason: 'Login failed' })],
  },
  {
    name: 'standalone: ONLINE READ_WRITE passes, and fails once the database is taken offline',
    topology: 'standalone',
    steps: [
      check({ server: 'standalone', argv: ['--database', 'salesdb', '--allow-standalone'], exit: 0 }),
      // a standalone database could be a recovered copy of another: --role primary needs --allow-standalone
      check({ server: 'standalone', argv: ['--database', 'salesdb'], exit: 1, reason: 'neither mirrored nor in an availability group: nothing stops another copy' }),
      check({ server: 'standalone', argv: ['--database', 'salesdb', '--role', 'online', '--require-ha'], exit: 1, reason: '(--require-ha)' }),
      { setOffline: 'salesdb' },
      check({ server: 'standalone', login: 'sysadmin', argv: ['--database', 'salesdb', '--allow-standalone'], exit: 1, reason: 'database is OFFLINE, not ONLINE' }),
      // sqlsim shows an OFFLINE database only to logins with ALTER ANY DATABASE: "not found" here
      check({ server: 'standalone', argv: ['--database', 'salesdb', '--allow-standalone'], exit: 1, reason: 'database not found (or not visible to the login' }),
    ],
  },
  {
    // the group is CLUSTER_TYPE = NONE (as on SQL Server for Linux without Pacemaker): the primary
    // passes once the other replica, asked with --partner, says it is not primary
    name: 'ag: the primary passes with --partner, and not alone (CLUSTER_TYPE = NONE)',
    topology: 'ag',
    steps: [
      check({ server: 'primary', argv: ['--database', 'agdb'], partner: 'secondary', exit: 0, reason: 'replica SECONDARY' }),
      check({ server: 'primary', login: 'monitor_full', argv: ['--database', 'agdb'], exit: 1, reason: 'CLUSTER_TYPE = NONE' }),
    ],
  },
  {
    name: 'ag: the readable secondary passes with --role secondary (with VIEW ANY DEFINITION), also within --max-lag',
    topology: 'ag',
    steps: [
      check({ server: 'secondary', argv: ['--database', 'agdb', '--role', 'secondary'], exit: 1, reason: 'GRANT VIEW ANY DEFINITION' }),
      check({ server: 'secondary', login: 'monitor_full', argv: ['--database', 'agdb', '--role', 'secondary'], exit: 0 }),
      check({ server: 'secondary', login: 'monitor_full', argv: ['--database', 'agdb', '--role', 'secondary', '--max-lag', '60'], exit: 0 }),
    ],
  },
  {
    name: 'ag: the secondary fails as primary, the primary fails as secondary',
    topology: 'ag',
    steps: [
      check({ server: 'secondary', argv: ['--database', 'agdb'], exit: 1, reason: 'SECONDARY, not PRIMARY' }),
      check({ server: 'primary', login: 'monitor_full', argv: ['--database', 'agdb', '--role', 'secondary'], exit: 1, reason: 'PRIMARY, not SECONDARY' }),
    ],
  },
  {
    name: 'ag: the verdicts swap after a manual failover',
    topology: 'ag',
    steps: [
      check({ server: 'primary', argv: ['--database', 'agdb'], partner: 'secondary', exit: 0 }),
      { failover: true },
      check({ server: 'primary', argv: ['--database', 'agdb'], partner: 'secondary', exit: 1, reason: 'SECONDARY, not PRIMARY' }),
      check({ server: 'secondary', argv: ['--database', 'agdb'], partner: 'primary', exit: 0 }),
      check({ server: 'primary', login: 'monitor_full', argv: ['--database', 'agdb', '--role', 'secondary'], exit: 0 }),
    ],
  },
];
