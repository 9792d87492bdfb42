// A small fixed run of the reply fuzzer (make fuzz runs as many as asked): mutated replies while
// the catalog says mirror must never pass; with either catalog no case may hang, crash, or exit
// with a code other than 0/1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { BIN_X64 } from '../helpers/paths.ts';
import { startSqlSim } from '../sqlsim/server.ts';
import { loadScenario, passwordOf, runCheck } from '../peers/sim.ts';
import { runFuzz, summary, describe, type FuzzOptions, type FuzzReport } from './fuzz.ts';

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
