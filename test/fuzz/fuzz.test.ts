// A small fixed run of the reply fuzzer (make fuzz runs as many as asked): mutated replies while
// the catalog says mirror must never pass; with either catalog no case may hang, crash, or exit
// with a code other than 0/1. Besides the fixed seeds, a fresh one per commit (printed, with the
// command that replays it), and the cases that once broke the rules, by their own seeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { BIN_X64, ROOT } from '../helpers/paths.ts';
import { startSqlSim } from '../sqlsim/server.ts';
import { loadScenario, passwordOf, runCheck } from '../peers/sim.ts';
import { runFuzz, fuzzCase, summary, describe, type FuzzOptions, type FuzzReport, type Truth } from './fuzz.ts';

const CASES = 50; // per catalog; about 12 s each on two cores
const SEED = 20261125;
const base: Omit<FuzzOptions, 'truth'> = { cases: CASES, seed: SEED, timeoutS: 2, slackMs: 2000, width: 4 };

function assertRules(r: FuzzReport): void {
  assert.deepEqual(r.falsePasses.map(describe), [], 'exit 0 while the catalog says mirror');
  assert.deepEqual(r.hangs.map(describe), [], 'past the deadline');
  assert.deepEqual(r.crashes.map(describe), [], 'crash or stack trace');
  assert.deepEqual(r.badExits.map(describe), [], 'exit code other than 0 or 1');
  const mutated = r.cases.filter((c) => c.kind !== 'none').length;
  assert.ok(mutated >= r.cases.length * 0.75, `only ${mutated} of ${r.cases.length} cases had a reply mutated`);
}

/**
 * A seed no earlier run used: the first 8 hex digits of the commit under test, so that every commit
 * CI builds meets other cases, and a failure replays from the commit alone. Outside a git checkout
 * (a release tarball), the time.
 */
function freshSeed(): { seed: number; from: string } {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (/^[0-9a-f]{40}$/.test(head)) return { seed: parseInt(head.slice(0, 8), 16), from: `commit ${head.slice(0, 12)}` };
  } catch {
    // no git, or not a checkout
  }
  return { seed: Date.now() % 2 ** 31, from: 'the clock (no git checkout)' };
}

const FRESH_CASES = 40; // both catalogs in turn, as make fuzz runs them

test(`fuzz: ${FRESH_CASES} cases from a fresh seed (this commit's) → the same rules`, async () => {
  const { seed, from } = freshSeed();
  console.log(`# fuzz: fresh seed ${seed} from ${from}; replay: make fuzz CASES=${FRESH_CASES} SEED=${seed}`);
  const opts = { ...base, cases: FRESH_CASES, seed };
  const r = await runFuzz(opts);
  console.log(summary(r, opts).replace(/^/gm, '# '));
  assertRules(r);
});

// Cases that broke the rules once, replayed by their own seed (make fuzz's case seed, see caseSeed):
// index, seed, truth, what it was.
// The reason shows the case still meets what it met (a change to sqlsim's replies moves the bytes
// a seed mutates: then find the case again and pin its new seed).
const REGRESSIONS: Array<[number, number, Truth, string, RegExp]> = [
  // make fuzz CASES=1000 SEED=424242: a LOGINACK packet size "4096" bit-flipped to "4\x1096", which
  // tedious read as 4; its packet writer then looped without end and held the check past any deadline
  [366, 1898728653, 'mirror', 'login bit-flip: packet size 4', /negotiated packet size 4 /],
];

for (const [index, seed, truth, what, reason] of REGRESSIONS) {
  test(`fuzz regression: case ${index} (seed ${seed}, ${truth}, ${what}) → exit 1 within --timeout + slack`, async () => {
    const c = await fuzzCase(index, seed, truth, { ...base, cases: 1 });
    console.log(`# ${describe(c)}: ${c.reason}`);
    assert.equal(c.status, 1, describe(c));
    assert.equal(c.hang, false, `past the deadline: ${describe(c)}`);
    assert.equal(c.crash, undefined, describe(c));
    assert.match(c.reason, reason, `the case no longer meets what it met: ${describe(c)}`);
  });
}

test('without mutations the same harness sees principal pass and mirror fail (the fuzz verdicts mean something)', async () => {
  assert.ok(existsSync(BIN_X64), `${BIN_X64} is missing; run make first`);
  for (const [truth, want] of [['principal', 0], ['mirror', 1]] as const) {
    const scenario = loadScenario(truth);
    const sim = await startSqlSim({ scenario, fault: { name: 'mutate', mutate: (b) => b } });
    try {
      const r = await runCheck({ host: sim.host, port: sim.port, password: passwordOf(scenario), timeoutS: 2 });
      assert.equal(r.status, want, `${truth}: ${r.stdout}${r.stderr}`);
    } finally {
      await sim.close();
    }
  }
});

test(`fuzz: ${CASES} mutated replies while the catalog says mirror → never exit 0`, async () => {
  const opts = { ...base, truth: 'mirror' as const };
  const r = await runFuzz(opts);
  console.log(summary(r, opts).replace(/^/gm, '# '));
  assertRules(r);
  assert.equal(r.cases.filter((c) => c.status === 0).length, 0);
});

test(`fuzz: ${CASES} mutated replies while the catalog says principal → exit 0 or 1, in time, no crash`, async () => {
  const opts = { ...base, seed: SEED + 1, truth: 'principal' as const };
  const r = await runFuzz(opts);
  console.log(summary(r, opts).replace(/^/gm, '# '));
  assertRules(r);
  // re-cutting the same reply into other packets changes nothing a correct client can see
  // (a TIMEOUT there is the machine being slow, not the framing)
  const reframed = r.cases.filter((c) => c.kind === 'reframe' && c.errorCode !== 'TIMEOUT');
  assert.deepEqual(reframed.filter((c) => c.status !== 0).map(describe), [], 'a re-framed but intact principal reply must still pass');
});
