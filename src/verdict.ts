// The verdict: a pure function of the facts the server gave and the settings. No I/O.
// Every path that does not positively establish the role ends in a failure with a reason;
// a NULL where a value is needed, or a value outside the documented set, is a failure too.
import type { DatabaseFacts, GroupFacts } from './facts.ts';
import { groupsOf } from './facts.ts';
import type { Role, MirroringState } from './settings.ts';
import { MIRRORING_STATES } from './settings.ts';

export interface VerdictSettings {
  role: Role;
  databases: string[];
  mirroringStates?: MirroringState[];
  maxLagSeconds?: number;
  requireHa: boolean;
  /**
   * --allow-standalone: --role primary also passes a copy that nothing guards against a second
   * writable one (standalone, CLUSTER_TYPE = NONE, a witness-less principal that lost its mirror)
   */
  allowStandalone?: boolean;
  /** --partner is given: the partner's answer (decidePartner) settles what this server alone cannot */
  partner?: unknown;
  /** the login, to write the GRANT that fixes a missing permission */
  user?: string;
  domain?: string;
}

export interface DatabaseVerdict {
  name: string;
  pass: boolean;
  reason: string;
  /** on a pass of --role primary: what stops another server from being primary too (witness, cluster), or null */
  quorum?: string | null;
}

export interface Verdict {
  pass: boolean;
  reason: string;
  databases: DatabaseVerdict[];
}

/** Thrown inside the judging of one database: the reason it fails. */
class Fail {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}
const fail = (reason: string): never => {
  throw new Fail(reason);
};

const DATABASE_STATES = ['ONLINE', 'RESTORING', 'RECOVERING', 'RECOVERY_PENDING', 'SUSPECT', 'EMERGENCY', 'OFFLINE', 'COPYING', 'OFFLINE_SECONDARY'];

export function quoteLogin(s: { user?: string; domain?: string }): string {
  const name = s.domain ? `${s.domain}\\${s.user ?? 'login'}` : (s.user ?? 'login');
  return `[${name.replace(/]/g, ']]')}]`;
}

function hints(s: VerdictSettings) {
  const login = quoteLogin(s);
  return {
    mirrorHidden: `the login cannot see mirroring state on the mirror; it needs sysadmin (ALTER SERVER ROLE sysadmin ADD MEMBER ${login})`,
    // --role primary: a mirror fails for being the mirror; seeing why needs no new grant
    notWritable: ' (a mirror database, or a restore under way: not writable here)',
    viewServerState: `the login cannot see availability-group state; GRANT VIEW SERVER STATE TO ${login}`,
    viewAnyDefinition: `the login cannot see availability-group metadata; GRANT VIEW ANY DEFINITION TO ${login}`,
    viewAnyDatabase: `GRANT VIEW ANY DATABASE TO ${login}`,
    closed: 'SQL Server shows NULL here while the database is not ONLINE or is closed by AUTO_CLOSE',
    updateability: 'DATABASEPROPERTYEX returns NULL when the database is not started or the login cannot see it',
  };
}

/** The value, or a failure naming the column and the likely cause of the NULL. */
function need<T>(value: T | null, label: string, hint: string): T {
  if (value === null || value === undefined) fail(`${label} is NULL: ${hint}`);
  return value as T;
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v) : String(v);
}

/** Every check of --role primary needs the database ONLINE, open to all users and writable. */
function requireWritable(f: DatabaseFacts, h: ReturnType<typeof hints>, restoringHint: string): void {
  requireOnline(f, h, restoringHint);
  const ro = need(f.is_read_only, 'is_read_only', h.closed);
  if (ro) fail('database is READ_ONLY (is_read_only = 1)');
  const up = need(f.updateability, 'Updateability', h.updateability);
  if (up === 'READ_ONLY') fail('database is not writable here (Updateability READ_ONLY)');
  if (up !== 'READ_WRITE') fail(`unexpected Updateability ${show(up)}`);
}

function requireOnline(f: DatabaseFacts, h: ReturnType<typeof hints>, restoringHint: string): void {
  const st = need(f.state_desc, 'database state (state_desc)', h.viewAnyDatabase);
  if (!DATABASE_STATES.includes(st)) fail(`unexpected database state ${show(st)}`);
  if (st !== 'ONLINE') fail(`database is ${st}, not ONLINE${st === 'RESTORING' ? restoringHint : ''}`);
  const ua = need(f.user_access_desc, 'user_access_desc', h.closed);
  if (ua !== 'MULTI_USER') {
    if (ua === 'SINGLE_USER' || ua === 'RESTRICTED_USER') fail(`database is ${ua}, not MULTI_USER`);
    fail(`unexpected user_access_desc ${show(ua)}`);
  }
}

function mirroringState(f: DatabaseFacts, h: ReturnType<typeof hints>): MirroringState {
  const st = need(f.mirroring_state_desc, 'mirroring state', h.mirrorHidden);
  if (!(MIRRORING_STATES as readonly string[]).includes(st)) fail(`unexpected mirroring state ${show(st)}`);
  return st as MirroringState;
}

function requireAllowedMirroringState(st: MirroringState, s: VerdictSettings): void {
  if (s.mirroringStates && !s.mirroringStates.includes(st)) {
    fail(`mirroring state is ${st}, not one of --mirroring-state ${s.mirroringStates.join(',')}`);
  }
}

function replicaRole(f: GroupFacts, h: ReturnType<typeof hints>): string {
  const role = need(f.role_desc, 'availability replica role (role_desc)', h.viewServerState);
  if (!['PRIMARY', 'SECONDARY', 'RESOLVING'].includes(role)) fail(`unexpected availability replica role ${show(role)}`);
  return role;
}

function requireAgDatabaseOnline(f: GroupFacts, h: ReturnType<typeof hints>): void {
  const st = need(f.database_state_desc, 'availability database state (database_state_desc)', h.viewServerState);
  if (st !== 'ONLINE') fail(`availability database state is ${st}, not ONLINE`);
}

function requireReadableSecondary(f: GroupFacts, h: ReturnType<typeof hints>): string {
  const allow = need(f.secondary_role_allow_connections_desc, 'secondary_role_allow_connections_desc', h.viewAnyDefinition);
  if (allow === 'NO') fail('the secondary replica accepts no connections (secondary_role_allow_connections_desc NO)');
  if (allow !== 'READ_ONLY' && allow !== 'ALL') fail(`unexpected secondary_role_allow_connections_desc ${show(allow)}`);
  return allow;
}

const agLabel = (g: GroupFacts) => (g.ag_name !== null ? `availability group ${show(g.ag_name)}` : 'availability group');
const agLabels = (gs: GroupFacts[]) => gs.map(agLabel).join(' and ');

/**
 * The lag of a secondary as its own row shows it: the seconds to redo the log it has received,
 * redo_queue_size (KB) / redo_rate (KB/s), rounded up, as the availability-group dashboard's
 * "Estimated Recovery Time" computes it; 0 with nothing to redo. (secondary_lag_seconds is NULL on
 * a secondary's own row, and log the primary has not yet sent is not visible on the secondary.)
 */
export function redoLagSeconds(g: Pick<GroupFacts, 'redo_queue_size' | 'redo_rate'>): number {
  const queue = need(g.redo_queue_size, 'redo_queue_size', 'the lag is unknown, so --max-lag cannot be met');
  if (!Number.isSafeInteger(queue) || queue < 0) fail(`unexpected redo_queue_size ${show(queue)}`);
  if (queue === 0) return 0;
  const rate = need(g.redo_rate, 'redo_rate', `${queue} KB to redo at an unknown rate, so --max-lag cannot be met`);
  if (!Number.isSafeInteger(rate) || rate < 0) fail(`unexpected redo_rate ${show(rate)}`);
  if (rate === 0) fail(`${queue} KB to redo and a redo rate of 0 KB/s: the lag cannot be estimated, so --max-lag cannot be met`);
  return Math.ceil(queue / rate);
}

const WITNESS_STATES = ['UNKNOWN', 'CONNECTED', 'DISCONNECTED'];
const CLUSTER_TYPES = ['WSFC', 'EXTERNAL', 'NONE'];
// sys.database_mirroring: mirroring_witness_name "NULL = No witness exists" (an empty name is none
// either); mirroring_witness_state_desc UNKNOWN, CONNECTED or DISCONNECTED, as this partner sees it.
const hasWitness = (f: DatabaseFacts) => f.mirroring_witness_name !== null && f.mirroring_witness_name !== '';

function witnessState(f: DatabaseFacts, h: ReturnType<typeof hints>): string {
  const ws = need(f.mirroring_witness_state_desc, 'mirroring witness state', h.mirrorHidden);
  if (!WITNESS_STATES.includes(ws)) fail(`unexpected mirroring witness state ${show(ws)}`);
  return ws;
}

/**
 * The cluster type of a group: sys.availability_groups.cluster_type_desc, which 2012-2016 lack (every
 * group there is WSFC: CLUSTER_TYPE came with 2017); null when the group's row is hidden (no
 * VIEW ANY DEFINITION: ag_name is NULL too).
 */
function clusterType(g: GroupFacts): string | null {
  if (g.ag_name === null) return null;
  const t = g.cluster_type_desc ?? 'WSFC';
  if (!CLUSTER_TYPES.includes(t)) fail(`${agLabel(g)}: unexpected cluster_type_desc ${show(t)}`);
  return t;
}

/**
 * What keeps a passing primary the only one even when its partner cannot be asked, or null. A
 * principal with its witness CONNECTED holds quorum: the mirror cannot fail over without it
 * ("Quorum: How a Witness Affects Database Availability"). A PRIMARY replica of a WSFC or EXTERNAL
 * group whose replica is HEALTHY is primary by the cluster's word: a replica that loses the cluster
 * becomes RESOLVING. Nothing else (witness-less mirroring, CLUSTER_TYPE = NONE, standalone) holds one.
 */
function quorumOf(f: DatabaseFacts, h: ReturnType<typeof hints>): string | null {
  if (f.mirroring_guid !== null) {
    return hasWitness(f) && witnessState(f, h) === 'CONNECTED' ? `witness ${show(f.mirroring_witness_name)} CONNECTED` : null;
  }
  const groups = groupsOf(f);
  if (groups.length === 0) return null;
  const parts: string[] = [];
  for (const g of groups) {
    const t = clusterType(g);
    if (t !== 'WSFC' && t !== 'EXTERNAL') return null;
    if (g.replica_synchronization_health_desc !== 'HEALTHY') return null;
    parts.push(`${agLabel(g)}: ${t} cluster, replica HEALTHY`);
  }
  return parts.join('; ');
}

const PARTNER_OR_ALLOW = 'give --partner to ask the other server, or --allow-standalone to accept this risk';

function judge(f: DatabaseFacts, s: VerdictSettings): string {
  const h = hints(s);
  if (f.rows === 0) fail('the server returned no row for it');
  if (f.rows !== 1 + f.more_groups.length) fail(`the server returned ${f.rows} rows for it (expected one)`);
  if (f.database_id === null) fail(`database not found (or not visible to the login; ${h.viewAnyDatabase})`);

  const mirrored = f.mirroring_guid !== null;
  const groups = groupsOf(f);
  const inAg = groups.length > 0 || f.db_replica_id !== null;
  const agHidden = inAg && groups.length === 0;
  if (!mirrored && (f.mirroring_role_desc !== null || f.mirroring_state_desc !== null)) {
    fail('unexpected: a mirroring role or state without a mirroring_guid');
  }
  if (mirrored && inAg) fail('unexpected: the database is both mirrored and in an availability group');
  if (agHidden && s.role !== 'mirror') fail(`in an availability group, but no availability-group rows are visible: ${h.viewServerState}`);
  // A mirror database is RESTORING and, to a login without sysadmin, looks not mirrored at all.
  const restoringHint = mirrored ? '' : s.role === 'primary' || s.role === 'online' ? h.notWritable : ` (if it is a mirror: ${h.mirrorHidden})`;
  // (--role primary checks it last, so that a mirror hidden from the login fails for being RESTORING)
  if (s.requireHa && !mirrored && !inAg && s.role !== 'primary') {
    fail(`neither mirrored nor in an availability group (--require-ha)${f.state_desc === 'RESTORING' ? restoringHint : ''}`);
  }

  switch (s.role) {
    case 'primary': {
      if (mirrored) {
        const role = need(f.mirroring_role_desc, 'mirroring role', h.mirrorHidden);
        if (role === 'MIRROR') fail('mirroring role is MIRROR, not PRINCIPAL');
        if (role !== 'PRINCIPAL') fail(`unexpected mirroring role ${show(role)}`);
        const st = mirroringState(f, h);
        if (st === 'PENDING_FAILOVER') fail('mirroring state is PENDING_FAILOVER (a failover is under way)');
        requireAllowedMirroringState(st, s);
        let witness = '';
        if (hasWitness(f)) {
          const ws = witnessState(f, h);
          // Without the mirror and the witness the principal has lost quorum, and the mirror with the
          // witness may have failed over ("Quorum: How a Witness Affects Database Availability").
          if (st === 'DISCONNECTED' && ws !== 'CONNECTED') {
            fail(`mirroring DISCONNECTED and the witness ${ws}: this server has lost quorum, and the mirror may have failed over with the witness`);
          }
          witness = `, witness ${ws}`;
        } else if (st === 'DISCONNECTED' && !s.partner && !s.allowStandalone) {
          // No witness: only the mirror's owner can make it principal (FORCE_SERVICE_ALLOW_DATA_LOSS),
          // and from here that cannot be told from a mirror that is merely down.
          fail(`mirroring DISCONNECTED and no witness: the mirror may have been forced into service and be writable too; ${PARTNER_OR_ALLOW}`);
        }
        requireWritable(f, h, restoringHint);
        return `mirroring PRINCIPAL, ${st}${witness}; database ONLINE, READ_WRITE`;
      }
      if (inAg) {
        // Every group the database is in must have this replica as PRIMARY: in a distributed
        // availability group only the global primary is PRIMARY in both; a forwarder is
        // PRIMARY of its own group and SECONDARY of the distributed one.
        for (const g of groups) {
          const role = replicaRole(g, h);
          if (role !== 'PRIMARY') fail(`${agLabel(g)}: availability replica role is ${role}, not PRIMARY${groups.length > 1 ? ' (of a distributed availability group only the global primary passes)' : ''}`);
          const op = need(g.operational_state_desc, 'replica operational state', h.viewServerState);
          if (op !== 'ONLINE') fail(`${agLabel(g)}: replica operational state is ${op}, not ONLINE`);
          requireAgDatabaseOnline(g, h);
          if (!s.partner && !s.allowStandalone) {
            const t = clusterType(g);
            // CLUSTER_TYPE = NONE: failover is manual and forced; no cluster demotes the old primary
            // ("Read-scale availability groups"), so two replicas can both be PRIMARY.
            if (t === 'NONE') fail(`${agLabel(g)}: CLUSTER_TYPE = NONE: no cluster stops another replica from being made primary by a forced failover, and both would pass; ${PARTNER_OR_ALLOW}`);
            if (t === null) fail(`${agLabel(g)}: cluster type unknown (${h.viewAnyDefinition}), so CLUSTER_TYPE = NONE, which no cluster guards, cannot be ruled out; ${PARTNER_OR_ALLOW}`);
          }
        }
        requireWritable(f, h, restoringHint);
        return `${agLabels(groups)}: local replica PRIMARY, ONLINE; database ONLINE, READ_WRITE`;
      }
      requireWritable(f, h, restoringHint);
      if (s.requireHa) {
        fail('neither mirrored nor in an availability group: nothing stops another copy (a broken mirror or a former replica, recovered) from being writable too, and it would pass as well; give --allow-standalone to accept standalone databases');
      }
      return 'database ONLINE, READ_WRITE (neither mirrored nor in an availability group)';
    }

    case 'secondary': {
      if (mirrored) fail('database is mirrored, not in an availability group (for database mirroring use --role mirror)');
      if (!inAg) fail(`not in an availability group${f.state_desc === 'RESTORING' ? restoringHint : ''}`);
      const parts: string[] = [];
      for (const g of groups) {
        const role = replicaRole(g, h);
        if (role !== 'SECONDARY') fail(`${agLabel(g)}: availability replica role is ${role}, not SECONDARY`);
        const op = need(g.operational_state_desc, 'replica operational state', h.viewServerState);
        if (op !== 'ONLINE') fail(`replica operational state is ${op}, not ONLINE`);
        const conn = need(g.connected_state_desc, 'replica connected state', h.viewServerState);
        if (conn !== 'CONNECTED') fail(`replica is ${conn}, not CONNECTED to the primary`);
        const allow = requireReadableSecondary(g, h);
        requireOnline(f, h, '');
        requireAgDatabaseOnline(g, h);
        const health = need(g.synchronization_health_desc, 'synchronization health', h.viewServerState);
        if (health !== 'HEALTHY') fail(`synchronization health is ${health}, not HEALTHY`);
        const suspended = need(g.is_suspended, 'is_suspended', h.viewServerState);
        if (suspended) fail('data movement is suspended (is_suspended = 1)');
        const sync = g.synchronization_state_desc ?? 'synchronization state unknown';
        let lag = '';
        if (s.maxLagSeconds !== undefined) {
          const seconds = redoLagSeconds(g);
          if (seconds > s.maxLagSeconds) fail(`lag ${seconds} s (redo queue ${g.redo_queue_size} KB at ${g.redo_rate} KB/s) is more than --max-lag ${s.maxLagSeconds} s`);
          lag = `, lag ${seconds} s`;
        }
        parts.push(`${agLabel(g)}: readable SECONDARY (${allow}), ${sync}, HEALTHY${lag}`);
      }
      return parts.join('; ');
    }

    case 'mirror': {
      if (!mirrored) {
        if (inAg) fail('in an availability group, not mirrored (for availability groups use --role secondary)');
        if (f.state_desc === 'RESTORING') fail(`mirroring role is NULL: ${h.mirrorHidden}`);
        fail('database is not mirrored (mirroring_guid is NULL)');
      }
      const role = need(f.mirroring_role_desc, 'mirroring role', h.mirrorHidden);
      if (role === 'PRINCIPAL') fail('mirroring role is PRINCIPAL, not MIRROR');
      if (role !== 'MIRROR') fail(`unexpected mirroring role ${show(role)}`);
      const st = mirroringState(f, h);
      requireAllowedMirroringState(st, s);
      return `mirroring MIRROR, ${st}`;
    }

    case 'online': {
      requireOnline(f, h, restoringHint);
      if (mirrored) {
        const role = need(f.mirroring_role_desc, 'mirroring role', h.mirrorHidden);
        if (role !== 'PRINCIPAL') fail(`mirroring role is ${role}, which does not serve reads`);
        return 'database ONLINE, MULTI_USER (mirroring PRINCIPAL)';
      }
      if (inAg) {
        const parts: string[] = [];
        for (const g of groups) {
          const role = replicaRole(g, h);
          if (role === 'RESOLVING') fail(`${agLabel(g)}: availability replica role is RESOLVING`);
          requireAgDatabaseOnline(g, h);
          parts.push(role === 'SECONDARY' ? `${agLabel(g)}: readable SECONDARY, ${requireReadableSecondary(g, h)}` : `${agLabel(g)}: PRIMARY`);
        }
        return `database ONLINE, MULTI_USER (${parts.join('; ')})`;
      }
      return 'database ONLINE, MULTI_USER';
    }
    default:
      return fail(`unknown role ${show(s.role)}`);
  }
}

export function judgeDatabase(f: DatabaseFacts, s: VerdictSettings): DatabaseVerdict {
  try {
    const reason = judge(f, s);
    if (s.role !== 'primary') return { name: f.requested, pass: true, reason };
    return { name: f.requested, pass: true, reason, quorum: quorumOf(f, hints(s)) };
  } catch (err) {
    if (err instanceof Fail) return { name: f.requested, pass: false, reason: err.reason };
    throw err;
  }
}

/** Judge every requested database; the server passes only if each one does. */
export function decideRole(facts: DatabaseFacts[], s: VerdictSettings): Verdict {
  const complete = facts.length === s.databases.length && s.databases.every((d, i) => facts[i].requested === d);
  if (!complete || facts.length === 0) {
    return {
      pass: false,
      reason: `the answer covers ${facts.length} of ${s.databases.length} requested databases`,
      databases: s.databases.map((name) => ({ name, pass: false, reason: 'no answer for this database' })),
    };
  }
  const databases = facts.map((f) => judgeDatabase(f, s));
  const failed = databases.find((d) => !d.pass);
  if (failed) {
    return { pass: false, reason: `database ${JSON.stringify(failed.name)}: ${failed.reason}`, databases };
  }
  const reason = databases.length === 1
    ? `database ${JSON.stringify(databases[0].name)}: ${databases[0].reason}`
    : `all ${databases.length} databases pass as ${s.role}`;
  return { pass: true, reason, databases };
}

// --- the partner ------------------------------------------------------------------------------

/** What the partner said, or why it could not be asked. */
export type PartnerAnswer = { reached: true; facts: DatabaseFacts[] } | { reached: false; reason: string };

/**
 * Whether the partner's copy of a database claims the role: true (it is writable there, or says it
 * is principal/primary), false (it says it is not), or null (its answer cannot be judged).
 */
export function partnerClaims(f: DatabaseFacts): { claims: boolean | null; reason: string } {
  const unknown = (reason: string) => ({ claims: null, reason });
  if (f.rows !== 1 + f.more_groups.length) return unknown(`${f.rows} rows for it`);
  if (f.database_id === null) return unknown('database not found or not visible to the login');
  if (f.mirroring_guid !== null) {
    if (f.mirroring_role_desc === 'PRINCIPAL') return { claims: true, reason: `mirroring PRINCIPAL, ${f.mirroring_state_desc ?? 'state NULL'}` };
    if (f.mirroring_role_desc === 'MIRROR') return { claims: false, reason: 'mirroring MIRROR' };
    return unknown(`mirroring role ${f.mirroring_role_desc === null ? 'NULL' : show(f.mirroring_role_desc)}`);
  }
  const groups = groupsOf(f);
  if (groups.length > 0) {
    const roles = groups.map((g) => g.role_desc);
    // a forwarder of a distributed group is PRIMARY of its own group only, and read-only
    if (roles.some((r) => r === 'SECONDARY' || r === 'RESOLVING')) return { claims: false, reason: `${agLabels(groups)}: replica ${roles.join('/')}` };
    if (roles.every((r) => r === 'PRIMARY')) return { claims: true, reason: `${agLabels(groups)}: replica PRIMARY` };
    return unknown(`availability replica role ${roles.map((r) => (r === null ? 'NULL' : show(r))).join('/')}`);
  }
  if (f.db_replica_id !== null) return unknown('in an availability group whose rows are hidden (VIEW SERVER STATE)');
  // neither mirrored nor in a group as the partner shows it: what counts is whether it is writable
  if (f.state_desc === 'RESTORING') return { claims: false, reason: 'database RESTORING' };
  if (f.state_desc === 'OFFLINE') return { claims: false, reason: 'database OFFLINE' };
  if (f.state_desc !== 'ONLINE') return unknown(`database ${f.state_desc === null ? 'state NULL' : show(f.state_desc)}`);
  if (f.is_read_only === true || f.updateability === 'READ_ONLY') return { claims: false, reason: 'database ONLINE, READ_ONLY' };
  if (f.is_read_only === false && f.updateability === 'READ_WRITE') return { claims: true, reason: 'database ONLINE, READ_WRITE, neither mirrored nor in an availability group' };
  return unknown('its Updateability is unknown');
}

/**
 * The verdict once the partner was asked (--partner): a server that passes on its own still fails
 * when the partner also claims the role for one of the databases. It passes when the partner
 * answers and claims none of them, or, when the partner cannot be asked or its answer cannot be
 * judged, when every database holds quorum here (quorumOf). The table in README.md.
 */
export function decidePartner(own: Verdict, partner: PartnerAnswer, partnerName: string): Verdict {
  if (!own.pass) return own;
  const who = `partner ${partnerName}`;
  let doubt: string;
  if (partner.reached) {
    const complete = partner.facts.length === own.databases.length && own.databases.every((d, i) => partner.facts[i].requested === d.name);
    if (complete) {
      const stances = partner.facts.map((f) => ({ name: f.requested, ...partnerClaims(f) }));
      const claim = stances.find((x) => x.claims === true);
      if (claim) {
        const reason = `${who} also claims database ${JSON.stringify(claim.name)} (${claim.reason}): two servers claim the role, neither passes`;
        return {
          pass: false, reason,
          databases: own.databases.map((d, i) => stances[i].claims === true
            ? { ...d, pass: false, reason: `${who} also claims it (${stances[i].reason})` } : d),
        };
      }
      const unsure = stances.find((x) => x.claims === null);
      if (!unsure) {
        return {
          pass: true,
          reason: `${own.reason}; ${who}: ${stances.length === 1 ? stances[0].reason : 'claims none of them'}`,
          databases: own.databases.map((d, i) => ({ ...d, reason: `${d.reason}; ${who}: ${stances[i].reason}` })),
        };
      }
      doubt = `${who}'s answer for database ${JSON.stringify(unsure.name)} cannot be judged (${unsure.reason})`;
    } else {
      doubt = `${who} answered for ${partner.facts.length} of ${own.databases.length} databases`;
    }
  } else {
    doubt = `${who} cannot be asked (${partner.reason})`;
  }
  const without = own.databases.find((d) => !d.quorum);
  if (without) {
    const reason = `${doubt}, and database ${JSON.stringify(without.name)} has no witness or cluster that keeps the other server from being primary too`;
    return { pass: false, reason, databases: own.databases.map((d) => (d.quorum ? d : { ...d, pass: false, reason })) };
  }
  return {
    pass: true,
    reason: `${own.reason}; ${doubt}, but this server holds quorum (${own.databases.map((d) => d.quorum).join('; ')})`,
    databases: own.databases.map((d) => ({ ...d, reason: `${d.reason}; ${doubt}; quorum: ${d.quorum}` })),
  };
}
