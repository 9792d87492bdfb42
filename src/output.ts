// What a run reports: the -v lines, the --json object and the --log-file line, all from one
// Outcome, and all passed through scrub() so the password never leaves the process.
import type { Settings } from './settings.ts';
import type { DatabaseFacts } from './facts.ts';
import { groupsOf } from './facts.ts';
import pkg from '../package.json' with { type: 'json' };

export interface DatabaseOutcome {
  name: string;
  pass: boolean;
  reason: string;
  facts?: DatabaseFacts;
}

export interface Outcome {
  pass: boolean;
  exitCode: number;
  /** one line: why the server is in or out */
  reason: string;
  /** null on a pass; ROLE (a database failed its check), MAINTENANCE, TIMEOUT, SIGNAL, INTERNAL, a driver code (ELOGIN, ESOCKET, …), SQL<number>, PROTOCOL */
  errorCode: string | null;
  /** the phase a failure happened in */
  phase: string | null;
  databases: DatabaseOutcome[];
  timings: Record<string, number>;
  /** --partner: the server asked, and its facts or why it could not be asked */
  partner?: { server: string; reached: boolean; facts?: DatabaseFacts[]; reason?: string };
}

/** Remove the password from a text, wherever it appears: as it is, and as JSON.stringify quotes it (a name in a reason). */
export function scrub(text: string, password: string | undefined): string {
  if (!password) return text;
  const out = text.includes(password) ? text.split(password).join('***') : text;
  const escaped = escapedOf(password);
  return escaped !== password && out.includes(escaped) ? out.split(escaped).join('***') : out;
}

/** the password as it reads inside a JSON string (a quote, a backslash, a control character escaped) */
let lastEscaped: { password: string; escaped: string } | undefined;
function escapedOf(password: string): string {
  if (lastEscaped?.password !== password) lastEscaped = { password, escaped: JSON.stringify(password).slice(1, -1) };
  return lastEscaped.escaped;
}

/**
 * scrub() every string inside a value, of one password or of each of several, in one walk
 * (object keys are ours and stay as they are). The daemon scrubs every answer of every target's
 * password, so this walk is most of what an HTTP answer costs: it stays one pass.
 */
export function scrubDeep<T>(value: T, passwords: string | undefined | readonly string[]): T {
  const list = typeof passwords === 'string' ? [passwords] : (passwords ?? []).filter((p) => p !== '');
  return list.length === 0 || (list.length === 1 && !list[0]) ? value : (scrubWalk(value, list) as T);
}

function scrubWalk(value: unknown, passwords: readonly string[]): unknown {
  if (typeof value === 'string') {
    let text = value;
    for (const pw of passwords) text = scrub(text, pw);
    return text;
  }
  if (Array.isArray(value)) return value.map((v) => scrubWalk(v, passwords));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value)) {
      const v = scrubWalk((value as Record<string, unknown>)[k], passwords);
      if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      else out[k] = v;
    }
    return out;
  }
  return value;
}

export function target(s: Pick<Settings, 'host' | 'port' | 'instance'>): string {
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  return s.instance !== undefined ? `${host}\\${s.instance}` : `${host}:${s.port}`;
}

/** The facts of one database in a few words, for -v. */
export function factsSummary(f: DatabaseFacts | undefined): string {
  if (!f) return 'no facts';
  if (f.rows === 0) return 'no row';
  if (f.database_id === null) return 'not in sys.databases';
  const v = (x: unknown) => (x === null ? 'NULL' : String(x));
  const parts = [
    `state ${v(f.state_desc)}, ${v(f.user_access_desc)}, is_read_only ${v(f.is_read_only === null ? null : Number(f.is_read_only))}, Updateability ${v(f.updateability)}`,
  ];
  if (f.mirroring_guid !== null || f.mirroring_role_desc !== null) {
    parts.push(`mirroring ${v(f.mirroring_role_desc)} ${v(f.mirroring_state_desc)}`);
  } else {
    parts.push('not mirrored (or hidden)');
  }
  const groups = groupsOf(f);
  for (const g of groups) {
    parts.push(`AG ${v(g.ag_name)}: replica ${v(g.role_desc)} ${v(g.operational_state_desc)} ${v(g.connected_state_desc)}, ` +
      `database ${v(g.database_state_desc)} ${v(g.synchronization_state_desc)} ${v(g.synchronization_health_desc)}` +
      `${g.is_suspended ? ' SUSPENDED' : ''}, connections ${v(g.secondary_role_allow_connections_desc)}, ` +
      `${v(g.availability_mode_desc)}, redo queue ${v(g.redo_queue_size)} KB at ${v(g.redo_rate)} KB/s`);
  }
  if (groups.length === 0) parts.push(f.db_replica_id !== null ? 'AG rows hidden' : 'no AG');
  return parts.join('; ');
}

export function verboseLines(o: Outcome, s: Settings): string[] {
  // The warning goes into every line, which keeps -v at one line per database.
  const clear = s.encrypt === 'off' ? 'warning: --encrypt off, the password travelled in the clear: ' : '';
  const head = `mssql-role-check: ${clear}${target(s)} as ${s.role}`;
  const ms = `${Math.round(o.timings.total ?? 0)} ms`;
  if (o.databases.length === 0 || o.databases.every((d) => !d.facts)) {
    const where = o.phase && o.errorCode !== 'MAINTENANCE' && !o.reason.includes(`during ${o.phase}`) ? `, during ${o.phase}` : '';
    return [`${head}: ${o.pass ? 'PASS' : 'FAIL'}: ${o.reason} (${o.errorCode ?? 'ok'}${where}, ${ms})`];
  }
  const lines = o.databases.map((d) =>
    `${head}: database ${JSON.stringify(d.name)}: ${d.pass ? 'PASS' : 'FAIL'}: ${d.reason} [${factsSummary(d.facts)}] (${ms})`);
  const p = o.partner;
  if (p) {
    lines.push(p.reached
      ? `${head}: partner ${p.server}: ${(p.facts ?? []).map((f) => `database ${JSON.stringify(f.requested)} [${factsSummary(f)}]`).join('; ')}`
      : `${head}: partner ${p.server}: not asked: ${p.reason}`);
  }
  return lines;
}

/** The --json object, with the password scrubbed from every string in it. */
/** The --json object, not yet scrubbed (jsonReport scrubs it; the daemon scrubs its answers of every target's password). */
export function reportFields(o: Outcome, s: Settings): Record<string, unknown> {
  return {
    verdict: o.pass ? 'pass' : 'fail',
    exitCode: o.exitCode,
    reason: o.reason,
    errorCode: o.errorCode,
    phase: o.phase,
    server: { host: s.host, port: s.port ?? null, instance: s.instance ?? null },
    role: s.role,
    databases: o.databases.map((d) => ({ name: d.name, pass: d.pass, reason: d.reason, facts: d.facts ?? null })),
    timings: o.timings,
    ...(o.partner ? { partner: o.partner } : {}),
    version: pkg.version,
  };
}

export function jsonReport(o: Outcome, s: Settings): string {
  return JSON.stringify(scrubDeep(reportFields(o, s), s.password));
}

export function logLine(o: Outcome, s: Settings, now: Date): string {
  const reason = o.reason.replace(/[\r\n]+/g, ' ');
  return `${now.toISOString()} ${target(s)} role=${s.role} exit=${o.exitCode} ${o.pass ? 'pass' : 'fail'}: ${reason} (${Math.round(o.timings.total ?? 0)} ms)`;
}
