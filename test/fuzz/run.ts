// `make fuzz CASES=N SEED=S`: run N fuzz cases (half with a mirror catalog, half with a
// principal one), print the figures, exit 1 if any case broke the rules.
//   node test/fuzz/run.ts [--cases N] [--seed S] [--timeout SECONDS] [--width N] [--truth principal|mirror] [--verbose]
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { BIN_X64 } from '../helpers/paths.ts';
import { runFuzz, summary, describe, type FuzzOptions, type Truth } from './fuzz.ts';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '2' },
    width: { type: 'string', default: '4' },
    truth: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});

const num = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) { console.error(`fuzz: --${name} must be an integer >= ${min}, not ${JSON.stringify(v)}`); process.exit(2); }
  return n;
};
if (!existsSync(BIN_X64)) { console.error(`fuzz: ${BIN_X64} is missing; run make first`); process.exit(2); }
if (values.truth !== undefined && values.truth !== 'principal' && values.truth !== 'mirror') {
  console.error('fuzz: --truth must be principal or mirror'); process.exit(2);
}

const timeoutS = Number(values.timeout);
const opts: FuzzOptions = {
  cases: num('cases', values.cases, 1),
  seed: num('seed', values.seed, 0),
  timeoutS: timeoutS > 0 ? timeoutS : 2,
  slackMs: 2000,
  width: num('width', values.width, 1),
  truth: values.truth as Truth | undefined,
  onCase: (() => {
    let n = 0;
    return (c) => {
      n++;
      if (values.verbose) console.log(describe(c));
      else if (n % 50 === 0) process.stderr.write(`fuzz: ${n}/${values.cases} cases\n`);
    };
  })(),
};
const started = performance.now();
const report = await runFuzz(opts);
console.log(summary(report, opts));
console.log(`  wall time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
const broken = report.falsePasses.length + report.hangs.length + report.crashes.length + report.badExits.length;
process.exitCode = broken === 0 ? 0 : 1;
