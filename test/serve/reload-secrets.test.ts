// A reload that changes a target's password: what the daemon keeps from before it (the page's
// history of changes, their reasons) may quote the old password, which stays a secret to scrub.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSqlSim } from '../sqlsim/server.ts';
import { scenarioFile } from '../sqlsim/scenarios.ts';
import { startServe, configFor, waitForStatus, waitForPolls, MONITOR_PASSWORD } from './daemon.ts';

const sim = await startSqlSim({ scenario: scenarioFile('principal'), host: '127.0.0.1' });
after(() => sim.close());

test('after a reload with a new password, the old one quoted in the history is still scrubbed', { timeout: 60_000 }, async () => {
  const defaults = 'interval = 0.2\ntimeout = 2\n';
  const d = await startServe({ config: configFor({ sql1: { port: sim.port } }, defaults) });
  after(() => d.stop());
  await waitForPolls(d, ['sql1']);
  await waitForStatus(d, '/sql1/primary', 200, 5000);
  await sim.setFault({ name: 'query-error', number: 50000, message: `cannot use '${MONITOR_PASSWORD}' here`, on: 'rpc' });
  await waitForStatus(d, '/sql1/primary', 503, 5000);
  await sim.setFault(undefined);
  await new Promise((r) => setTimeout(r, 500)); // the sweep records the change with its reason
  const from = d.lines.length;
  d.writeConfig(configFor({ sql1: { port: sim.port } }, defaults).replace(`password = ${MONITOR_PASSWORD}`, 'password = Another-Passw0rd'));
  d.child.kill('SIGHUP');
  await d.waitForLine(/reloaded /, 5000, from);
  const page = await d.get('/targets');
  assert.equal(page.status, 200);
  assert.match(page.text, /cannot use '\*\*\*' here/, 'the history keeps the change, its reason scrubbed');
  assert.ok(!page.text.includes(MONITOR_PASSWORD), `the old password in /targets: ${page.text.slice(0, 400)}`);
  for (const l of d.lines) assert.ok(!l.includes(MONITOR_PASSWORD), `a password in the log: ${l}`);
});
