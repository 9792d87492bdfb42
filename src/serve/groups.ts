// Groups ([group NAME], members = a, b): the daemon sees every member of a mirrored pair or an
// availability group at once, so for each database at most one member passes `primary` (and
// `mirror`). The rule is the one-shot's --partner rule (verdict.ts decidePartner) over every other
// member, each member's claim judged by partnerClaims(); the table is in README.md ("Groups and
// split brain") and in test/serve-groups.test.ts row by row. Pure: no I/O, no clock of its own.
import type { DatabaseFacts } from '../facts.ts';
import { partnerClaims } from '../verdict.ts';
import type { DatabaseVerdict } from '../verdict.ts';
import { probeReason } from '../run.ts';
import type { Role } from '../settings.ts';
import type { Answer, Ask, Target } from './state.ts';
import { answer, defaultAsk, factsSince } from './state.ts';

export interface Group {
  name: string;
  /** target names, in the order of `members =` */
  members: string[];
}

/** What the group rule reads: every target, every group, each target's max-age. */
export interface View {
  targets: ReadonlyMap<string, Target>;
  groups: readonly Group[];
  maxAgeMs(t: Target): number;
}

/** The roles of which a group has at most one holder per database. */
export const GROUP_ROLES: readonly Role[] = ['primary', 'mirror'];

export type ClaimState = 'claims' | 'not' | 'unknown';
export interface Claim {
  member: string;
  state: ClaimState;
  reason: string;
}

const q = JSON.stringify;

/**
 * Whether a member claims `role` for `database` from its latest facts: mirroring PRINCIPAL, an AG
 * PRIMARY, a writable standalone copy (partnerClaims) for primary; mirroring MIRROR for mirror.
 * Unknown without fresh facts (no poll yet, too old, the poll failed, the database not polled) or
 * when the facts cannot be judged. The maintenance file does not change a claim: a drained server
 * may still hold the writable copy.
 */
export function claimOf(t: Target, database: string, role: Role, nowMs: number, maxAgeMs: number): Claim {
  const unknown = (reason: string): Claim => ({ member: t.name, state: 'unknown', reason });
  const s = t.snapshot;
  const since = factsSince(s);
  if (since === null) return unknown('no poll has completed yet');
  if (nowMs - since > maxAgeMs) return unknown(`facts are ${((nowMs - since) / 1000).toFixed(1)} s old`);
  if (s.facts === null) return unknown(s.error ? probeReason(s.error, t.settings) : 'the latest poll gave no facts');
  const f = s.facts.find((x) => x.requested === database);
  if (!f) return unknown(`does not poll database ${q(database)}`);
  const c = role === 'mirror' ? mirrorClaims(f) : partnerClaims(f);
  return { member: t.name, state: c.claims === null ? 'unknown' : c.claims ? 'claims' : 'not', reason: c.reason };
}

function mirrorClaims(f: DatabaseFacts): { claims: boolean | null; reason: string } {
  if (f.rows !== 1 + f.more_groups.length) return { claims: null, reason: `${f.rows} rows for it` };
  if (f.database_id === null) return { claims: null, reason: 'database not found or not visible to the login' };
  if (f.mirroring_guid === null) return { claims: false, reason: 'not mirrored (as the login sees it)' };
  if (f.mirroring_role_desc === 'MIRROR') return { claims: true, reason: `mirroring MIRROR, ${f.mirroring_state_desc ?? 'state NULL'}` };
  if (f.mirroring_role_desc === 'PRINCIPAL') return { claims: false, reason: 'mirroring PRINCIPAL' };
  return { claims: null, reason: `mirroring role ${f.mirroring_role_desc === null ? 'NULL' : q(f.mirroring_role_desc)}` };
}

/** The groups a target is in. */
export function groupsOfTarget(view: View, name: string): Group[] {
  return view.groups.filter((g) => g.members.includes(name));
}

/** Every member of the target's groups (the target itself included), in order, once each. */
function peersOf(view: View, name: string): Target[] {
  const names = [...new Set(groupsOfTarget(view, name).flatMap((g) => g.members))];
  return names.map((n) => view.targets.get(n)).filter((t): t is Target => t !== undefined);
}

/** `sql1 and sql2 both` / `sql1, sql2 and sql3 all` */
function listed(names: string[]): string {
  if (names.length === 2) return `${names[0]} and ${names[1]} both`;
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)} all`;
}

export function splitBrainReason(claimants: string[], role: Role, database: string): string {
  return `split brain: ${listed(claimants)} claim ${role === 'mirror' ? 'MIRROR' : 'PRIMARY'} for ${q(database)}`;
}

/**
 * The answer to `ask` for target `name`, under the group rule when the target is in a group and
 * the role is primary or mirror; otherwise state.ts answer() as it is. For each database asked:
 *  - two or more members claim it: every claimant fails, "split brain: ...";
 *  - otherwise the member's own verdict (judged as with --partner: the group answers the
 *    two-writers question) must pass and the member must claim it itself;
 *  - any other member unknown: for primary, only a database that holds quorum here
 *    (DatabaseVerdict.quorum: a CONNECTED witness, a healthy WSFC/EXTERNAL replica) passes;
 *  - every other member answers and claims it not: pass.
 */
export function groupAnswer(view: View, name: string, ask: Ask, nowMs: number): Answer {
  const t = view.targets.get(name);
  if (!t) throw new Error(`unknown target ${name}`);
  const maxAge = view.maxAgeMs(t);
  const peers = peersOf(view, name);
  if (peers.length < 2 || !GROUP_ROLES.includes(ask.role)) return answer(t, ask, nowMs, maxAge);

  const own = answer(t, { ...ask, partner: true }, nowMs, maxAge);
  const label = groupsOfTarget(view, name).map((g) => `group ${g.name}`).join(', ');
  const perDb = ask.databases.map((d) => {
    const claims = peers.map((p) => claimOf(p, d, ask.role, nowMs, view.maxAgeMs(p)));
    return { database: d, mine: claims.find((c) => c.member === name)!, others: claims.filter((c) => c.member !== name) };
  });
  const dbVerdicts = (reasonOf: (i: number, v: DatabaseVerdict | undefined) => DatabaseVerdict): DatabaseVerdict[] =>
    ask.databases.map((_, i) => reasonOf(i, own.verdict?.databases[i]));
  const failWith = (reason: string, which: Set<number>): Answer => ({
    ...own,
    status: own.status === 404 ? 404 : 503,
    pass: false,
    reason,
    errorCode: own.status === 404 ? own.errorCode : 'SPLIT_BRAIN',
    verdict: own.verdict && {
      pass: false, reason,
      databases: dbVerdicts((i, v) => (which.has(i) ? { ...v!, pass: false, reason } : v!)),
    },
  });

  // 1. split brain: every claimant fails, whatever its own verdict says
  const splits = perDb.map((x, i) => ({ i, ...x, claimants: [x.mine, ...x.others].filter((c) => c.state === 'claims') }))
    .filter((x) => x.mine.state === 'claims' && x.claimants.length >= 2);
  if (splits.length > 0) {
    const first = splits[0];
    const names = peers.map((p) => p.name).filter((n) => first.claimants.some((c) => c.member === n));
    const reason = splitBrainReason(names, ask.role, first.database);
    return failWith(reason, new Set(splits.map((s) => s.i)));
  }
  // 2. its own verdict
  if (!own.pass) return own;
  // 3. it must claim the role itself, or the group cannot place it
  const unsure = perDb.findIndex((x) => x.mine.state !== 'claims');
  if (unsure >= 0) {
    const x = perDb[unsure];
    return { ...failWith(`${label}: this member's claim on database ${q(x.database)} cannot be judged (${x.mine.reason})`, new Set([unsure])), errorCode: 'ROLE' };
  }
  // 4. the others: none claims; an unknown one leaves it to quorum (primary only)
  const notes: string[] = [];
  for (const [i, x] of perDb.entries()) {
    const unknown = x.others.filter((c) => c.state === 'unknown');
    const v = own.verdict!.databases[i];
    if (unknown.length > 0 && ask.role === 'primary' && !v.quorum) {
      const u = unknown[0];
      const reason = `${label}: ${u.member}'s claim on database ${q(x.database)} is unknown (${u.reason}), and this member has no witness or cluster that keeps ${u.member} from being primary too`;
      return { ...failWith(reason, new Set([i])), errorCode: 'ROLE' };
    }
    const said = x.others.map((c) => `${c.member}: ${c.state === 'unknown' ? `unknown (${c.reason})` : c.reason}`).join(', ');
    notes.push(unknown.length > 0 && ask.role === 'primary' ? `${said}; quorum: ${v.quorum}` : said);
  }
  const suffix = perDb.length === 1 ? `; ${label}: ${notes[0]}` : `; ${label}: no other member claims any of them`;
  return {
    ...own,
    reason: own.reason + suffix,
    verdict: { ...own.verdict!, reason: own.verdict!.reason + suffix, databases: dbVerdicts((i, v) => ({ ...v!, reason: `${v!.reason}; ${label}: ${notes[i]}` })) },
  };
}

export interface GroupHolder {
  group: string;
  role: Role;
  /** the one member that passes, or null */
  holder: string | null;
  reason: string;
  members: { name: string; pass: boolean; reason: string; errorCode: string | null; ageSeconds: number | null }[];
}

/**
 * Who holds `role` in a group now: each member asked with its own databases and options, under the
 * group rule. Exactly one member passing is the holder; none, or (with members polling different
 * databases) more than one, is no holder.
 */
export function groupHolder(view: View, group: Group, nowMs: number, role: Role = 'primary'): GroupHolder {
  const members = group.members.flatMap((n) => {
    const t = view.targets.get(n);
    if (!t) return [];
    const a = groupAnswer(view, n, { ...defaultAsk(t.settings), role }, nowMs);
    return [{ name: n, pass: a.pass, reason: a.reason, errorCode: a.errorCode, ageSeconds: a.ageSeconds }];
  });
  const passing = members.filter((m) => m.pass);
  const reason = passing.length === 1
    ? `${passing[0].name}: ${passing[0].reason}`
    : passing.length === 0
      ? `no member passes ${role}`
      : `${listed(passing.map((m) => m.name))} pass ${role} for different databases`;
  return { group: group.name, role, holder: passing.length === 1 ? passing[0].name : null, reason, members };
}

export interface SplitBrain {
  group: string;
  role: Role;
  database: string;
  /** the claimants, in member order (two or more) */
  members: string[];
}

/** Every split brain in a group now: per role and database, two or more members that claim it. */
export function splitBrains(view: View, group: Group, nowMs: number): SplitBrain[] {
  const targets = group.members.map((n) => view.targets.get(n)).filter((t): t is Target => t !== undefined);
  const databases = [...new Set(targets.flatMap((t) => t.settings.databases))];
  const out: SplitBrain[] = [];
  for (const role of GROUP_ROLES) {
    for (const database of databases) {
      const members = targets.filter((t) => claimOf(t, database, role, nowMs, view.maxAgeMs(t)).state === 'claims').map((t) => t.name);
      if (members.length >= 2) out.push({ group: group.name, role, database, members });
    }
  }
  return out;
}

/**
 * Split brains as they start and end, for the log (one line per change) and the metrics. update()
 * returns the lines to log; `active` and `started` are what /metrics shows.
 */
export class SplitBrainWatch {
  private current = new Map<string, SplitBrain>();
  /** split brains begun, per group, role and database (a counter) */
  readonly started = new Map<string, { group: string; role: Role; database: string; count: number }>();

  update(now: SplitBrain[]): string[] {
    const lines: string[] = [];
    const seen = new Map(now.map((s) => [key(s), s]));
    for (const [k, s] of seen) {
      const before = this.current.get(k);
      if (before && before.members.join('\0') === s.members.join('\0')) continue;
      lines.push(`group ${s.group}: ${splitBrainReason(s.members, s.role, s.database)}; every claimant fails`);
      if (!before) {
        const c = this.started.get(k) ?? { group: s.group, role: s.role, database: s.database, count: 0 };
        c.count += 1;
        this.started.set(k, c);
      }
    }
    for (const [k, s] of this.current) {
      if (!seen.has(k)) lines.push(`group ${s.group}: split brain over for ${s.role} of ${q(s.database)} (claimed by ${s.members.join(' and ')} before)`);
    }
    this.current = seen;
    return lines;
  }

  get active(): SplitBrain[] {
    return [...this.current.values()];
  }
}

const key = (s: { group: string; role: Role; database: string }) => `${s.group}\0${s.role}\0${s.database}`;
