// The end-to-end scenarios of test/scenarios/cases.ts against sqlsim, with the built x64 binary.
// `make test-docker` runs the very same list with the same runner against real SQL Server 2022.
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { SCENARIOS } from './scenarios/cases.ts';
import { runScenario } from './scenarios/run.ts';
import { sqlsimTopology } from './scenarios/sqlsim-topology.ts';
import { BIN_X64 } from './helpers/paths.ts';

for (const scenario of SCENARIOS) {
  test(scenario.name, { timeout: 60_000 }, async (t) => {
    if (!existsSync(BIN_X64)) throw new Error(`${BIN_X64} is missing: run make first`);
    await runScenario(BIN_X64, sqlsimTopology, scenario, (line) => t.diagnostic(line));
  });
}
