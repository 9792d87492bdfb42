// One check, start to verdict: maintenance file, then (driver loaded only now) the probe, then the
// verdict. Returns an Outcome; main.ts turns it into output and an exit code.
import { statSync } from 'node:fs';
import type { Settings } from './settings.ts';
import { PhaseClock } from './phases.ts';
import type { Outcome } from './output.ts';
import type { ProbeError } from './prober/types.ts';
import type { PartnerAnswer } from './verdict.ts';
import { decidePartner, decideRole, quoteLogin } from './verdict.ts';
import { target } from './output.ts';

/** The exit code of a verdict: keepalived's misc_dynamic reads 2..255 as "up with weight N-2". */
export function exitCodeFor(pass: boolean, weight: number | undefined): number {
  if (!pass) return 1;
  return weight === undefined ? 0 : weight + 2;
}

/** The reason the server is drained, or null when it is not. */
export function maintenanceReason(path: string): string | null {
  try {
    statSync(path);
    return maintenanceFrom(path, null);
  } catch (err) {
    return maintenanceFrom(path, err);
  }
}

/** The maintenance reason from a stat of `path` that succeeded (err null) or failed with err. */
export function maintenanceFrom(path: string, err: unknown): string | null {
  if (err === null) return `maintenance (${path} exists)`;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return null;
  // Cannot tell whether the operator is draining this server: out, to be safe.
  return `maintenance file ${path} cannot be checked (${code ?? String(err)})`;
}

export function probeReason(e: ProbeError, login: { user?: string; domain?: string } = {}): string {
  switch (e.code) {
    // Msg 300 (then 297): the sys.dm_hadr_* DMVs need VIEW SERVER STATE (2022+: VIEW SERVER
    // PERFORMANCE STATE, which VIEW SERVER STATE includes).
    case 'SQL300': case 'SQL297':
      return `query failed (error ${e.code.slice(3)}): ${e.message} The check reads the availability-group DMVs: GRANT VIEW SERVER STATE TO ${quoteLogin(login)}`;
    case 'ELOGIN': return `login failed: ${e.message}`;
    case 'ESOCKET': return `network error: ${e.message}`;
    case 'EINSTLOOKUP': return `SQL Server Browser lookup failed: ${e.message}`;
    case 'EDNS': return `name resolution failed: ${e.message}`;
    case 'EENCRYPT': return `TLS: ${e.message}`;
    case 'PROTOCOL': return `unexpected answer from the server: ${e.message}`;
    case 'ETDS': return `unexpected answer from the server: ${e.message}`;
    default: return e.code.startsWith('SQL') ? `query failed (error ${e.code.slice(3)}): ${e.message}` : e.message;
  }
}

export async function runCheck(settings: Settings, phases: PhaseClock, remainingMs: () => number): Promise<Outcome> {
  const unjudged = (reason: string) => settings.databases.map((name) => ({ name, pass: false, reason }));
  if (settings.maintenanceFile !== undefined) {
    phases.enter('maintenance');
    const m = maintenanceReason(settings.maintenanceFile);
    if (m !== null) {
      return { pass: false, exitCode: 1, reason: m, errorCode: 'MAINTENANCE', phase: 'maintenance', databases: unjudged(m), timings: phases.timings() };
    }
  }

  phases.enter('load');
  const { probe } = await import('./prober/index.ts');
  const result = await probe({ settings, phases, remainingMs });
  if (!result.ok) {
    const reason = probeReason(result.error, settings);
    return { pass: false, exitCode: 1, reason, errorCode: result.error.code, phase: phases.current, databases: unjudged(reason), timings: phases.timings() };
  }

  phases.enter('verdict');
  let v = decideRole(result.facts, settings);
  let partner: Outcome['partner'];
  if (settings.partner && v.pass) {
    const name = target({ host: settings.partner.host, port: settings.partner.port, instance: settings.partner.instance });
    phases.enter('partner');
    const answer = await askPartner(settings, remainingMs, probe);
    phases.enter('verdict');
    v = decidePartner(v, answer, name);
    partner = { server: name, reached: answer.reached, ...(answer.reached ? { facts: answer.facts } : { reason: answer.reason }) };
  }
  return {
    pass: v.pass,
    exitCode: exitCodeFor(v.pass, settings.weight),
    reason: v.reason,
    errorCode: v.pass ? null : 'ROLE',
    phase: v.pass ? null : 'verdict',
    databases: v.databases.map((d, i) => ({ name: d.name, pass: d.pass, reason: d.reason, facts: result.facts[i] })),
    timings: phases.timings(),
    ...(partner ? { partner } : {}),
  };
}

/**
 * Time kept back for the verdict and the output after the partner is asked: a partner that does not
 * answer must leave time to pass on quorum, not run into the run's own deadline.
 */
const PARTNER_RESERVE_MS = 250;

/** The same probe, pointed at --partner, within what is left of --timeout. */
async function askPartner(settings: Settings, remainingMs: () => number, probe: typeof import('./prober/index.ts').probe): Promise<PartnerAnswer> {
  const p = settings.partner!;
  const budget = () => remainingMs() - Math.min(PARTNER_RESERVE_MS, settings.timeoutMs / 4);
  if (budget() <= 0) return { reached: false, reason: 'no time left within --timeout' };
  const clock = new PhaseClock();
  const copy: Settings = { ...settings, host: p.host, port: p.port, instance: p.instance, partner: undefined };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<PartnerAnswer>((resolve) => {
    timer = setTimeout(() => resolve({ reached: false, reason: `no answer within --timeout, during ${clock.current}` }), budget());
  });
  const asked = probe({ settings: copy, phases: clock, remainingMs: budget }).then((r): PartnerAnswer =>
    r.ok ? { reached: true, facts: r.facts } : { reached: false, reason: probeReason(r.error, settings) });
  try {
    return await Promise.race([asked, late]);
  } finally {
    clearTimeout(timer);
  }
}
