// What the daemon knows about each target, and the answer to one request made from it. The poll
// loop writes Snapshots; every way of asking (HTTP, agent-check, probe ports, the page) reads them
// through answer(), which calls the one-shot's verdict unchanged. No I/O here.
import type { Settings, Role, MirroringState } from '../settings.ts';
import type { DatabaseFacts } from '../facts.ts';
import type { ProbeError } from '../prober/types.ts';
import type { Verdict } from '../verdict.ts';
import { decideRole } from '../verdict.ts';
import { probeReason } from '../run.ts';

/** The latest poll of one target. A failed poll leaves no facts: never "the last good answer". */
export interface Snapshot {
  /** the facts of every database of the target from the latest poll; null when it failed or none completed yet */
  facts: DatabaseFacts[] | null;
  /** when the latest poll completed, successful or not (ms since the epoch); null before the first */
  at: number | null;
  /** why the latest poll gave no facts (null on success, and before the first poll) */
  error: ProbeError | null;
  /** the maintenance file's reason at the latest poll (run.ts maintenanceReason), or null */
  maintenance: string | null;
  /** with facts: when their query was sent; the server read them at that time or later, so their age counts from here (default `at`) */
  asked?: number;
}

/** Since when the snapshot's facts are known (their query's start), or null before the first poll. */
export function factsSince(s: Snapshot): number | null {
  return s.at === null ? null : (s.asked ?? s.at);
}

/** One target of the serve config: its name ([NAME]), its one-shot settings, its latest snapshot. */
export interface Target {
  name: string;
  settings: Settings;
  snapshot: Snapshot;
}

/** What one request asks of a target: the one-shot's role options (target defaults, then query parameters). */
export interface Ask {
  role: Role;
  /** a subset of the target's databases (all of them when the request names none) */
  databases: string[];
  mirroringStates?: MirroringState[];
  maxLagSeconds?: number;
  requireHa: boolean;
  allowStandalone: boolean;
  /** the other members of the target's group stand in for --partner (groups.ts): the verdict leaves the two-writers question to them */
  partner?: boolean;
}

export type Status = 200 | 503 | 404;

export interface Answer {
  /** 200 pass, 503 fail (or facts unknown / too old), 404 drained by the maintenance file */
  status: Status;
  pass: boolean;
  reason: string;
  /** as the one-shot's --json: null on a pass, ROLE, MAINTENANCE, STALE, NOFACTS, or the probe's error code */
  errorCode: string | null;
  /** the verdict, when there were fresh facts to judge */
  verdict: Verdict | null;
  /** the facts judged (one per asked database, in order), when fresh */
  facts: DatabaseFacts[] | null;
  /** seconds since the snapshot was taken; null before the first poll */
  ageSeconds: number | null;
}

/** The Ask a target answers when the request adds nothing: its own settings. */
export function defaultAsk(s: Settings): Ask {
  return {
    role: s.role, databases: s.databases, mirroringStates: s.mirroringStates, maxLagSeconds: s.maxLagSeconds,
    requireHa: s.requireHa, allowStandalone: s.allowStandalone,
  };
}

/** The answer to `ask` from the target's latest snapshot at `nowMs`; facts older than maxAgeMs are unknown. */
export function answer(t: Target, ask: Ask, nowMs: number, maxAgeMs: number): Answer {
  const snap = t.snapshot;
  const since = factsSince(snap);
  const ageSeconds = since === null ? null : Math.max(0, (nowMs - since) / 1000);
  const out = (status: Status, reason: string, errorCode: string | null, verdict: Verdict | null = null, facts: DatabaseFacts[] | null = null): Answer =>
    ({ status, pass: status === 200, reason, errorCode, verdict, facts, ageSeconds });
  if (snap.maintenance !== null) return out(404, snap.maintenance, 'MAINTENANCE');
  if (since === null) return out(503, 'no poll has completed yet', 'NOFACTS');
  if (nowMs - since > maxAgeMs) return out(503, `facts are ${ageSeconds!.toFixed(1)} s old (max-age ${maxAgeMs / 1000} s)`, 'STALE');
  if (snap.facts === null) return out(503, snap.error ? probeReason(snap.error, t.settings) : 'the latest poll gave no facts', snap.error?.code ?? 'NOFACTS');
  const facts = ask.databases.map((d) => snap.facts!.find((f) => f.requested === d));
  if (facts.some((f) => f === undefined)) return out(503, 'a database asked for is not polled for this target', 'NOFACTS');
  const v = decideRole(facts as DatabaseFacts[], { ...ask, user: t.settings.user, domain: t.settings.domain });
  return out(v.pass ? 200 : 503, v.reason, v.pass ? null : 'ROLE', v, facts as DatabaseFacts[]);
}
