// The group rule (src/serve/groups.ts) as a table: each row puts the members of a group in a state
// and says which member passes and a piece of each reason. Then every combination of member states
// from a palette, two and three members: never two members pass primary (or mirror) for one
// database, and a two-member group decides exactly as the one-shot's --partner rule would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupAnswer, groupHolder, splitBrains, SplitBrainWatch, claimOf } from '../src/serve/groups.ts';
import type { Group, View } from '../src/serve/groups.ts';
import { defaultAsk } from '../src/serve/state.ts';
import type { Ask, Target } from '../src/serve/state.ts';
import { decidePartner, decideRole } from '../src/verdict.ts';
import type { PartnerAnswer } from '../src/verdict.ts';
import type { Role } from '../src/settings.ts';
import { NOW, MAX_AGE_MS, DB, agPrimary, agSecondary, mirror, principal, standalone, target, WITNESS } from './helpers/serve-targets.ts';
import type { TargetSpec } from './helpers/serve-targets.ts';

function view(specs: Record<string, TargetSpec>, groups: Group[] = [{ name: 'pair', members: Object.keys(specs) }]): View {
  return { targets: new Map(Object.entries(specs).map(([n, s]) => [n, target(n, s)])), groups, maxAgeMs: () => MAX_AGE_MS };
}
const ask = (v: View, name: string, role: Role = 'primary'): Ask => ({ ...defaultAsk(v.targets.get(name)!.settings), role });

interface Row {
  name: string;
  members: Record<string, TargetSpec>;
  role?: Role;
  /** the member that passes, or null */
  passes: string | null;
  /** a piece of each member's reason */
  reasons: Record<string, string>;
  status?: Record<string, number>;
}

const forcedA = principal('DISCONNECTED');
const forcedB = principal('DISCONNECTED');
const standaloneOk = { allowStandalone: true, requireHa: false };

const rows: Row[] = [
  // both members answer
  { name: 'principal and its mirror', members: { sql1: { facts: principal() }, sql2: { facts: mirror() } }, passes: 'sql1',
    reasons: { sql1: 'group pair: sql2: mirroring MIRROR', sql2: 'mirroring role is MIRROR' } },
  { name: 'principal DISCONNECTED without a witness, its mirror answers: the group stands in for --partner', members: { sql1: { facts: principal('DISCONNECTED') }, sql2: { facts: mirror('DISCONNECTED') } }, passes: 'sql1',
    reasons: { sql1: 'mirroring PRINCIPAL, DISCONNECTED', sql2: 'mirroring role is MIRROR' } },
  { name: 'forced service: two PRINCIPALs', members: { sql1: { facts: forcedA }, sql2: { facts: forcedB } }, passes: null,
    reasons: { sql1: 'split brain: sql1 and sql2 both claim PRIMARY for "appdb"', sql2: 'split brain: sql1 and sql2 both claim PRIMARY for "appdb"' } },
  { name: 'two PRINCIPALs, one with its witness CONNECTED: a split brain all the same', members: { sql1: { facts: principal('SYNCHRONIZED', WITNESS) }, sql2: { facts: forcedB } }, passes: null,
    reasons: { sql1: 'split brain', sql2: 'split brain' } },
  { name: 'CLUSTER_TYPE = NONE: two PRIMARYs', members: { sql1: { facts: agPrimary('NONE') }, sql2: { facts: agPrimary('NONE') } }, passes: null,
    reasons: { sql1: 'split brain: sql1 and sql2 both claim PRIMARY for "appdb"', sql2: 'split brain' } },
  { name: 'CLUSTER_TYPE = NONE: primary and secondary (alone the primary fails; the group answers)', members: { sql1: { facts: agPrimary('NONE') }, sql2: { facts: agSecondary('NONE') } }, passes: 'sql1',
    reasons: { sql1: 'group pair: sql2: availability group "ag1": replica SECONDARY', sql2: 'SECONDARY, not PRIMARY' } },
  { name: 'recovered standalone copies, --allow-standalone', members: { sql1: { facts: standalone(), settings: standaloneOk }, sql2: { facts: standalone(), settings: standaloneOk } }, passes: null,
    reasons: { sql1: 'split brain', sql2: 'split brain' } },
  { name: 'a principal beside a recovered writable copy', members: { sql1: { facts: principal() }, sql2: { facts: standalone() } }, passes: null,
    reasons: { sql1: 'split brain: sql1 and sql2 both', sql2: 'split brain: sql1 and sql2 both' } },
  { name: 'a standalone copy, the other one OFFLINE', members: { sql1: { facts: standalone(), settings: standaloneOk }, sql2: { facts: standalone({ state_desc: 'OFFLINE' }) } }, passes: 'sql1',
    reasons: { sql1: 'sql2: database OFFLINE', sql2: 'OFFLINE' } },
  { name: 'principal in PENDING_FAILOVER, the mirror: its own verdict fails', members: { sql1: { facts: principal('PENDING_FAILOVER') }, sql2: { facts: mirror() } }, passes: null,
    reasons: { sql1: 'PENDING_FAILOVER', sql2: 'mirroring role is MIRROR' } },
  // a member whose claim is unknown: quorum decides
  { name: 'principal without a witness; the other never polled', members: { sql1: { facts: principal() }, sql2: { none: 'never-polled' } }, passes: null,
    reasons: { sql1: 'sql2\'s claim on database "appdb" is unknown (no poll has completed yet), and this member has no witness or cluster', sql2: 'no poll has completed yet' } },
  { name: 'principal with its witness CONNECTED; the other cannot be polled', members: { sql1: { facts: principal('DISCONNECTED', WITNESS) }, sql2: { none: 'poll-failed' } }, passes: 'sql1',
    reasons: { sql1: 'sql2: unknown (network error: connect ECONNREFUSED 127.0.0.1:1433); quorum: witness "TCP://witness.example:5022" CONNECTED', sql2: 'network error' } },
  { name: 'principal whose witness is DISCONNECTED; the other cannot be polled', members: { sql1: { facts: principal('SYNCHRONIZED', { ...WITNESS, mirroring_witness_state_desc: 'DISCONNECTED' }) }, sql2: { none: 'poll-failed' } }, passes: null,
    reasons: { sql1: 'has no witness or cluster', sql2: 'network error' } },
  { name: 'WSFC primary, HEALTHY; the other\'s facts too old', members: { sql1: { facts: agPrimary('WSFC') }, sql2: { none: 'stale', facts: agPrimary('WSFC') } }, passes: 'sql1',
    reasons: { sql1: 'quorum: availability group "ag1": WSFC cluster, replica HEALTHY', sql2: 'old (max-age 3 s)' } },
  { name: 'WSFC primary, replica NOT_HEALTHY; the other\'s facts too old', members: { sql1: { facts: agPrimary('WSFC', { replica_synchronization_health_desc: 'NOT_HEALTHY' }) }, sql2: { none: 'stale' } }, passes: null,
    reasons: { sql1: 'sql2\'s claim on database "appdb" is unknown (facts are 3.0 s old)', sql2: 'old' } },
  { name: 'CLUSTER_TYPE = NONE primary; the other\'s facts too old', members: { sql1: { facts: agPrimary('NONE') }, sql2: { none: 'stale', facts: agSecondary('NONE') } }, passes: null,
    reasons: { sql1: 'is unknown', sql2: 'old' } },
  { name: 'principal; the other answers, but its mirroring role is NULL (cannot be judged)', members: { sql1: { facts: principal() }, sql2: { facts: mirror('SYNCHRONIZED', { mirroring_role_desc: null }) } }, passes: null,
    reasons: { sql1: 'is unknown (mirroring role NULL)', sql2: 'mirroring role is NULL' } },
  { name: 'principal with a witness; the other does not poll the database', members: { sql1: { facts: principal('SYNCHRONIZED', WITNESS) }, sql2: { facts: mirror('SYNCHRONIZED', { requested: 'other' }), settings: { databases: ['other'] } } }, passes: 'sql1',
    reasons: { sql1: 'sql2: unknown (does not poll database "appdb")', sql2: 'database "other": mirroring role is MIRROR' } },
  { name: 'neither can be polled', members: { sql1: { none: 'poll-failed' }, sql2: { none: 'never-polled' } }, passes: null,
    reasons: { sql1: 'network error', sql2: 'no poll has completed yet' } },
  // the maintenance file
  { name: 'the principal drained; its mirror', members: { sql1: { facts: principal(), maintenance: true }, sql2: { facts: mirror() } }, passes: null,
    reasons: { sql1: 'maintenance', sql2: 'mirroring role is MIRROR' }, status: { sql1: 404, sql2: 503 } },
  { name: 'a drained PRINCIPAL still claims: the other PRINCIPAL does not pass', members: { sql1: { facts: forcedA, maintenance: true }, sql2: { facts: forcedB } }, passes: null,
    reasons: { sql1: 'split brain', sql2: 'split brain' }, status: { sql1: 404, sql2: 503 } },
  // --role mirror
  { name: 'mirror role: principal and mirror', role: 'mirror', members: { sql1: { facts: principal() }, sql2: { facts: mirror() } }, passes: 'sql2',
    reasons: { sql1: 'PRINCIPAL, not MIRROR', sql2: 'mirroring MIRROR, SYNCHRONIZED; group pair: sql1: mirroring PRINCIPAL' } },
  { name: 'mirror role: two MIRRORs', role: 'mirror', members: { sql1: { facts: mirror('SUSPENDED') }, sql2: { facts: mirror('SUSPENDED') } }, passes: null,
    reasons: { sql1: 'split brain: sql1 and sql2 both claim MIRROR for "appdb"', sql2: 'split brain' } },
  { name: 'mirror role: the mirror; the other cannot be polled (no writes, no quorum needed)', role: 'mirror', members: { sql1: { facts: mirror('DISCONNECTED') }, sql2: { none: 'poll-failed' } }, passes: 'sql1',
    reasons: { sql1: 'sql2: unknown', sql2: 'network error' } },
  // roles a group does not limit
  { name: 'secondary role: two readable secondaries both pass', role: 'secondary', members: { sql1: { facts: agSecondary('WSFC') }, sql2: { facts: agSecondary('WSFC') } }, passes: 'both',
    reasons: { sql1: 'readable SECONDARY', sql2: 'readable SECONDARY' } },
  // three members
  { name: 'three replicas, two PRIMARYs', members: { sql1: { facts: agPrimary('NONE') }, sql2: { facts: agSecondary('NONE') }, sql3: { facts: agPrimary('NONE') } }, passes: null,
    reasons: { sql1: 'split brain: sql1 and sql3 both claim PRIMARY', sql2: 'SECONDARY, not PRIMARY', sql3: 'split brain: sql1 and sql3 both claim' } },
  { name: 'three replicas, three PRIMARYs', members: { sql1: { facts: agPrimary('NONE') }, sql2: { facts: agPrimary('NONE') }, sql3: { facts: agPrimary('NONE') } }, passes: null,
    reasons: { sql1: 'split brain: sql1, sql2 and sql3 all claim PRIMARY for "appdb"', sql2: 'all claim', sql3: 'all claim' } },
  { name: 'three replicas, one PRIMARY, one SECONDARY, one unknown, WSFC: quorum', members: { sql1: { facts: agPrimary('WSFC') }, sql2: { facts: agSecondary('WSFC') }, sql3: { none: 'poll-failed' } }, passes: 'sql1',
    reasons: { sql1: 'sql2: availability group "ag1": replica SECONDARY, sql3: unknown (network error', sql2: 'SECONDARY', sql3: 'network error' } },
];

for (const r of rows) {
  test(`group rule: ${r.name}`, () => {
    const v = view(r.members);
    const answers = Object.keys(r.members).map((n) => ({ n, a: groupAnswer(v, n, ask(v, n, r.role), NOW) }));
    for (const { n, a } of answers) {
      const expected = r.passes === 'both' || r.passes === n;
      assert.equal(a.pass, expected, `${n}: ${a.reason}`);
      assert.equal(a.status, r.status?.[n] ?? (expected ? 200 : 503), `${n} status: ${a.reason}`);
      assert.ok(a.reason.includes(r.reasons[n]), `${n}: ${JSON.stringify(a.reason)} lacks ${JSON.stringify(r.reasons[n])}`);
      if (a.reason.startsWith('split brain')) assert.equal(a.errorCode, a.status === 404 ? 'MAINTENANCE' : 'SPLIT_BRAIN');
      assert.ok(!a.reason.includes('not-shown-anywhere'), 'no password in a reason');
    }
  });
}

test('group rule: a target in no group, or a group of one, answers as state.ts answer() does', () => {
  const v = view({ sql1: { facts: agPrimary('NONE') }, sql2: { facts: agSecondary('NONE') } }, [{ name: 'solo', members: ['sql1'] }]);
  const a = groupAnswer(v, 'sql1', ask(v, 'sql1'), NOW);
  assert.equal(a.pass, false);
  assert.match(a.reason, /CLUSTER_TYPE = NONE: no cluster stops another replica/);
  assert.equal(groupAnswer(v, 'sql2', ask(v, 'sql2', 'secondary'), NOW).pass, true);
});

test('group rule: a target in two groups is held back by the members of both', () => {
  const v = view({ sql1: { facts: agPrimary('NONE') }, sql2: { facts: agSecondary('NONE') }, sql3: { facts: agPrimary('NONE') } },
    [{ name: 'a', members: ['sql1', 'sql2'] }, { name: 'b', members: ['sql1', 'sql3'] }]);
  const a = groupAnswer(v, 'sql1', ask(v, 'sql1'), NOW);
  assert.equal(a.pass, false);
  assert.match(a.reason, /^split brain: sql1 and sql3 both claim PRIMARY for "appdb"$/);
});

test('group rule: with several databases, a split brain on one fails the member, naming that database', () => {
  const two = { databases: ['appdb', 'salesdb'] };
  const v = view({
    sql1: { facts: [principal(), principal('DISCONNECTED', { requested: 'salesdb' })], settings: two },
    sql2: { facts: [mirror(), principal('DISCONNECTED', { requested: 'salesdb' })], settings: two },
  });
  const a = groupAnswer(v, 'sql1', ask(v, 'sql1'), NOW);
  assert.equal(a.pass, false);
  assert.equal(a.reason, 'split brain: sql1 and sql2 both claim PRIMARY for "salesdb"');
  assert.deepEqual(a.verdict!.databases.map((d) => d.pass), [true, false]);
  // asking only for appdb: sql1 holds it
  assert.equal(groupAnswer(v, 'sql1', { ...ask(v, 'sql1'), databases: ['appdb'] }, NOW).pass, true);
});

// --- every combination: never two passes; two members decide as --partner does ----------------

const palette: Record<string, TargetSpec> = {
  principal: { facts: principal() },
  principalWitness: { facts: principal('SYNCHRONIZED', WITNESS) },
  principalLost: { facts: principal('DISCONNECTED') },
  principalLostWitness: { facts: principal('DISCONNECTED', WITNESS) },
  pending: { facts: principal('PENDING_FAILOVER') },
  mirror: { facts: mirror() },
  mirrorLost: { facts: mirror('DISCONNECTED') },
  mirrorHidden: { facts: standalone({ state_desc: 'RESTORING', is_read_only: null, updateability: null }) },
  roleNull: { facts: mirror('SYNCHRONIZED', { mirroring_role_desc: null }) },
  agNone: { facts: agPrimary('NONE') },
  agWsfc: { facts: agPrimary('WSFC') },
  agWsfcUnhealthy: { facts: agPrimary('WSFC', { replica_synchronization_health_desc: 'PARTIALLY_HEALTHY' }) },
  agSecondary: { facts: agSecondary('NONE') },
  agResolving: { facts: agPrimary('WSFC', { role_desc: 'RESOLVING' }) },
  standalone: { facts: standalone(), settings: { allowStandalone: true, requireHa: false } },
  standaloneStrict: { facts: standalone() },
  readOnly: { facts: standalone({ is_read_only: true, updateability: 'READ_ONLY' }) },
  offline: { facts: standalone({ state_desc: 'OFFLINE' }) },
  missing: { facts: { ...standalone(), database_id: null, name: null, state_desc: null } },
  neverPolled: { none: 'never-polled' },
  pollFailed: { none: 'poll-failed' },
  stalePrincipal: { none: 'stale', facts: principal('SYNCHRONIZED', WITNESS) },
  drainedPrincipal: { facts: principal('SYNCHRONIZED', WITNESS), maintenance: true },
  drainedLost: { facts: principal('DISCONNECTED'), maintenance: true },
};
const kinds = Object.keys(palette);

test(`group rule: every pair and triple of ${kinds.length} member states: never two members pass primary or mirror`, () => {
  let checked = 0;
  for (const role of ['primary', 'mirror'] as Role[]) {
    for (const a of kinds) for (const b of kinds) {
      const pair = view({ sql1: palette[a], sql2: palette[b] });
      const passed = ['sql1', 'sql2'].filter((n) => groupAnswer(pair, n, ask(pair, n, role), NOW).pass);
      assert.ok(passed.length <= 1, `${role}: ${a} + ${b}: ${passed.join(' and ')} both pass`);
      checked += 1;
      for (const c of ['principalLost', 'agNone', 'pollFailed', 'mirror', 'standalone']) {
        const triple = view({ sql1: palette[a], sql2: palette[b], sql3: palette[c] });
        const p3 = ['sql1', 'sql2', 'sql3'].filter((n) => groupAnswer(triple, n, ask(triple, n, role), NOW).pass);
        assert.ok(p3.length <= 1, `${role}: ${a} + ${b} + ${c}: ${p3.join(' and ')} pass`);
        checked += 1;
      }
    }
  }
  assert.equal(checked, 2 * kinds.length * kinds.length * 6);
});

/** The other member as --partner would have seen it: its facts, or why it could not be asked. */
function asPartner(t: Target): PartnerAnswer {
  const s = t.snapshot;
  if (s.at === null || NOW - s.at > MAX_AGE_MS || s.facts === null) return { reached: false, reason: 'no fresh facts' };
  return { reached: true, facts: t.settings.databases.includes(DB) ? s.facts : [] };
}

test('group rule: a pair decides primary exactly as the one-shot with --partner pointing at the other', () => {
  let differ = 0;
  for (const a of kinds) for (const b of kinds) {
    const v = view({ sql1: palette[a], sql2: palette[b] });
    const [t1, t2] = [v.targets.get('sql1')!, v.targets.get('sql2')!];
    const got = groupAnswer(v, 'sql1', ask(v, 'sql1'), NOW);
    if (t1.snapshot.maintenance !== null || t1.snapshot.facts === null || NOW - t1.snapshot.at! > MAX_AGE_MS) {
      assert.equal(got.pass, false, `${a} + ${b}`);
      continue;
    }
    const own = decideRole(t1.snapshot.facts, { ...ask(v, 'sql1'), partner: true, user: 'monitor' });
    const oneShot = decidePartner(own, asPartner(t2), 'sql2');
    if (got.pass !== oneShot.pass) differ += 1;
    assert.equal(got.pass, oneShot.pass, `${a} + ${b}: group ${JSON.stringify(got.reason)}, --partner ${JSON.stringify(oneShot.reason)}`);
  }
  assert.equal(differ, 0);
});

// --- the holder, the split brains, their log lines ----------------------------------------------

test('groupHolder: the one member that passes, or none', () => {
  const g: Group = { name: 'pair', members: ['sql1', 'sql2'] };
  const held = groupHolder(view({ sql1: { facts: mirror() }, sql2: { facts: principal() } }), g, NOW);
  assert.equal(held.holder, 'sql2');
  assert.match(held.reason, /^sql2: database "appdb": mirroring PRINCIPAL/);
  assert.deepEqual(held.members.map((m) => [m.name, m.pass]), [['sql1', false], ['sql2', true]]);

  const split = groupHolder(view({ sql1: { facts: forcedA }, sql2: { facts: forcedB } }), g, NOW);
  assert.equal(split.holder, null);
  assert.equal(split.reason, 'no member passes primary');
  assert.ok(split.members.every((m) => m.errorCode === 'SPLIT_BRAIN'));

  // members polling different databases can both pass: then no single holder
  const apart = view({ sql1: { facts: principal() }, sql2: { facts: principal('SYNCHRONIZED', { requested: 'other' }), settings: { databases: ['other'] } } });
  const mixed = groupHolder({ ...apart, maxAgeMs: () => MAX_AGE_MS }, g, NOW);
  // each sees the other's claim on its database as unknown and has no quorum: neither passes
  assert.equal(mixed.holder, null);
});

test('splitBrains and SplitBrainWatch: one line when a split brain starts, changes or ends; a counter per start', () => {
  const g: Group = { name: 'pair', members: ['sql1', 'sql2', 'sql3'] };
  const watch = new SplitBrainWatch();
  const at = (specs: Record<string, TargetSpec>) => splitBrains(view(specs, [g]), g, NOW);
  const healthy = { sql1: { facts: principal() }, sql2: { facts: mirror() }, sql3: { facts: standalone({ state_desc: 'OFFLINE' }) } };
  assert.deepEqual(watch.update(at(healthy)), []);
  const two = { sql1: { facts: forcedA }, sql2: { facts: forcedB }, sql3: { facts: standalone({ state_desc: 'OFFLINE' }) } };
  assert.deepEqual(watch.update(at(two)), ['group pair: split brain: sql1 and sql2 both claim PRIMARY for "appdb"; every claimant fails']);
  assert.deepEqual(watch.update(at(two)), [], 'logged once per change');
  const three = { ...two, sql3: { facts: forcedB } };
  assert.deepEqual(watch.update(at(three)), ['group pair: split brain: sql1, sql2 and sql3 all claim PRIMARY for "appdb"; every claimant fails']);
  assert.equal(watch.active.length, 1);
  assert.deepEqual(watch.update(at(healthy)), ['group pair: split brain over for primary of "appdb" (claimed by sql1 and sql2 and sql3 before)']);
  assert.deepEqual(watch.update(at(two)).length, 1);
  assert.equal(watch.started.get('pair\0primary\0appdb')!.count, 2);
  assert.equal(watch.active.length, 1);
});

test('claimOf: what counts as a claim, per role', () => {
  const t = (spec: TargetSpec) => target('sql1', spec);
  const cases: [TargetSpec, Role, string][] = [
    [{ facts: principal() }, 'primary', 'claims'],
    [{ facts: principal(), maintenance: true }, 'primary', 'claims'],
    [{ facts: mirror() }, 'primary', 'not'],
    [{ facts: agSecondary('WSFC') }, 'primary', 'not'],
    [{ facts: standalone() }, 'primary', 'claims'],
    [{ facts: standalone({ updateability: null }) }, 'primary', 'unknown'],
    [{ none: 'stale' }, 'primary', 'unknown'],
    [{ none: 'poll-failed' }, 'primary', 'unknown'],
    [{ none: 'never-polled' }, 'mirror', 'unknown'],
    [{ facts: mirror() }, 'mirror', 'claims'],
    [{ facts: principal() }, 'mirror', 'not'],
    [{ facts: standalone() }, 'mirror', 'not'],
    [{ facts: mirror('SYNCHRONIZED', { mirroring_role_desc: 'X' }) }, 'mirror', 'unknown'],
  ];
  for (const [spec, role, state] of cases) assert.equal(claimOf(t(spec), DB, role, NOW, MAX_AGE_MS).state, state, JSON.stringify(spec));
});
