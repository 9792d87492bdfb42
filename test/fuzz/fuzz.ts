// The reply fuzzer: each case starts a simulated server whose catalog says principal (truth:
// pass allowed) or mirror (truth: must fail), picks one reply message by phase, mutates it with a
// seeded mutation, and runs the built check against it. The rule checked is the product's:
// never exit 0 unless the truth is principal, never past the deadline, never a crash, exit 0/1 only.
import { startSqlSim } from '../sqlsim/server.ts';
import type { FaultPhase, MutateInfo } from '../sqlsim/faults.ts';
import { loadScenario, passwordOf, runCheck } from '../peers/sim.ts';
import { seededRng, mutateReply, type MutationKind } from './mutate.ts';
import { inPool, crashSigns } from './pool.ts';

export type Truth = 'principal' | 'mirror';

export interface FuzzCase {
  index: number;
  seed: number;
  truth: Truth;
  /** the reply mutated: prelogin, login or facts */
  phase: string;
  kind: MutationKind | 'none';
  detail: string;
  status: number | null;
  signal: string | null;
  ms: number;
  errorCode: string | null;
  /** the check's one-line reason (from --json) */
  reason: string;
  stderr: string;
  falsePass: boolean;
  hang: boolean;
  crash: string | undefined;
  badExit: boolean;
}

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** the --timeout given to the check, seconds */
  timeoutS: number;
  /** allowed time past the deadline before a case counts as a hang */
  slackMs: number;
  width: number;
  /** restrict to one truth (default: alternate) */
  truth?: Truth;
  bin?: string;
  onCase?: (c: FuzzCase) => void;
}

/**
 * Which reply to mutate: a check's exchange is PRELOGIN, LOGIN7 (LOGINACK), then the facts query.
 * The facts reply, where the role is decided, gets most.
 */
const TARGETS: { phase: FaultPhase; nth: number; label: string; weight: number }[] = [
  { phase: 'prelogin', nth: 0, label: 'prelogin', weight: 15 },
  { phase: 'login', nth: 0, label: 'login', weight: 20 },
  // the only request after the login: the build sends no SET-options batch (build/levers.mjs)
  { phase: 'query', nth: 0, label: 'facts', weight: 65 },
];

function pickTarget(rng: () => number): (typeof TARGETS)[number] {
  let x = rng() * TARGETS.reduce((a, t) => a + t.weight, 0);
  for (const t of TARGETS) { x -= t.weight; if (x < 0) return t; }
  return TARGETS[TARGETS.length - 1];
}

/** Seed of case i: the run seed mixed with the index, so any single case can be replayed. */
export const caseSeed = (seed: number, i: number) => (Math.imul(seed ^ 0x9e3779b9, 2654435761) + i * 7919) >>> 0;

export async function fuzzCase(index: number, seed: number, truth: Truth, opts: FuzzOptions): Promise<FuzzCase> {
  const rng = seededRng(seed);
  const target = pickTarget(rng);
  const phase = target.label;
  const scenario = loadScenario(truth);
  let kind: FuzzCase['kind'] = 'none';
  let detail = `no ${phase} reply was sent`;
  let done = false;
  const seen: Record<string, number> = {};
  const sim = await startSqlSim({
    scenario,
    fault: {
      name: 'mutate',
      mutate: (bytes: Buffer, info: MutateInfo) => {
        const nth = seen[info.phase] ?? 0;
        seen[info.phase] = nth + 1;
        if (done || info.phase !== target.phase || nth !== target.nth) return bytes;
        done = true;
        const m = mutateReply(bytes, rng);
        kind = m.kind;
        detail = m.detail;
        return m.bytes;
      },
    },
  });
  try {
    const r = await runCheck({ host: sim.host, port: sim.port, password: passwordOf(scenario), timeoutS: opts.timeoutS, bin: opts.bin,
      limitMs: opts.timeoutS * 1000 + opts.slackMs + 10_000 });
    const errorCode = (r.json?.errorCode as string | null | undefined) ?? null;
    const out = r.stdout + r.stderr;
    const c: FuzzCase = {
      reason: (r.json?.reason as string | undefined) ?? "",
      index, seed, truth, phase, kind, detail,
      status: r.status, signal: r.signal, ms: Math.round(r.ms), errorCode,
      stderr: r.stderr.slice(0, 500),
      falsePass: truth !== 'principal' && r.status === 0,
      hang: r.killed || r.ms > opts.timeoutS * 1000 + opts.slackMs,
      crash: crashSigns(out) ?? (r.signal && !r.killed ? `killed by ${r.signal}` : undefined),
      badExit: r.status !== 0 && r.status !== 1,
    };
    opts.onCase?.(c);
    return c;
  } finally {
    await sim.close();
  }
}

export interface FuzzReport {
  cases: FuzzCase[];
  falsePasses: FuzzCase[];
  hangs: FuzzCase[];
  crashes: FuzzCase[];
  badExits: FuzzCase[];
  exitHistogram: Record<string, number>;
  byKind: Record<string, { cases: number; exit0: number }>;
  errorCodes: Record<string, number>;
  slowestMs: number;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const indices = Array.from({ length: opts.cases }, (_, i) => i);
  const cases = await inPool(indices, opts.width, (i) => {
    const truth: Truth = opts.truth ?? (i % 2 === 0 ? 'mirror' : 'principal');
    return fuzzCase(i, caseSeed(opts.seed, i), truth, opts);
  });
  const count = (xs: string[]) => xs.reduce<Record<string, number>>((a, k) => { a[k] = (a[k] ?? 0) + 1; return a; }, {});
  const byKind: FuzzReport['byKind'] = {};
  for (const c of cases) {
    const k = (byKind[`${c.phase}/${c.kind}`] ??= { cases: 0, exit0: 0 });
    k.cases++;
    if (c.status === 0) k.exit0++;
  }
  return {
    cases,
    falsePasses: cases.filter((c) => c.falsePass),
    hangs: cases.filter((c) => c.hang),
    crashes: cases.filter((c) => c.crash),
    badExits: cases.filter((c) => c.badExit),
    exitHistogram: count(cases.map((c) => `${c.truth} exit ${c.status ?? c.signal}`)),
    byKind,
    errorCodes: count(cases.map((c) => c.errorCode ?? 'none')),
    slowestMs: Math.max(0, ...cases.map((c) => c.ms)),
  };
}

export function describe(c: FuzzCase): string {
  return `case ${c.index} seed ${c.seed} (${c.truth}, ${c.phase} ${c.kind}: ${c.detail}) → exit ${c.status ?? c.signal} in ${c.ms} ms` +
    `${c.errorCode ? ` [${c.errorCode}]` : ''}${c.crash ? ` crash: ${c.crash}` : ''}`;
}

export function summary(r: FuzzReport, opts: FuzzOptions): string {
  const lines = [
    `fuzz: ${r.cases.length} cases, seed ${opts.seed}, --timeout ${opts.timeoutS} s (hang = over ${opts.timeoutS * 1000 + opts.slackMs} ms)`,
    `  false passes: ${r.falsePasses.length}   hangs: ${r.hangs.length}   crashes: ${r.crashes.length}   exit codes outside 0/1: ${r.badExits.length}`,
    `  exit codes: ${Object.entries(r.exitHistogram).sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`,
    `  error codes: ${Object.entries(r.errorCodes).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `  slowest case: ${r.slowestMs} ms`,
    `  mutations (phase/kind: cases, exit 0): ${Object.entries(r.byKind).sort().map(([k, v]) => `${k} ${v.cases}/${v.exit0}`).join(', ')}`,
  ];
  for (const c of [...r.falsePasses, ...r.hangs, ...r.crashes, ...r.badExits]) lines.push(`  ! ${describe(c)}`);
  return lines.join('\n');
}
