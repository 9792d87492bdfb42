// GET /metrics: promtool (Debian's prometheus package) accepts the exposition; the series say
// what the endpoints say (up, role, maintenance), and the counters count (reconnects, errors by
// code, role changes, poll durations) through a fault and a failover.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startMirroredPair } from '../sqlsim/server.ts';
import { scenarioFile } from '../sqlsim/scenarios.ts';
import { startServe, configFor, waitForPolls, waitForStatus, MONITOR_PASSWORD } from './daemon.ts';

const pair = await startMirroredPair({ principal: scenarioFile('principal'), mirror: scenarioFile('mirror'), host: '127.0.0.1' });
const [a, b] = pair.servers;
const d = await startServe({ config: configFor({ sql1: { port: a.port }, sql2: { port: b.port } }, 'interval = 0.2\ntimeout = 1\n') });
after(async () => { await d.stop(); await pair.close(); });
await waitForPolls(d, ['sql1', 'sql2']);

const metrics = async () => (await d.get('/metrics')).text;
const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('promtool check metrics accepts the output', async () => {
  const text = await metrics();
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.error, undefined, 'promtool runs (Debian package prometheus)');
  assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint warning');
  assert.ok(!text.includes(MONITOR_PASSWORD));
});

test('the series: up, role per database and role, maintenance, poll durations', async () => {
  const t = await metrics();
  assert.equal(value(t, 'mssql_role_check_up{target="sql1",database="appdb"}'), 1);
  assert.equal(value(t, 'mssql_role_check_role{target="sql1",database="appdb",role="primary"}'), 1);
  assert.equal(value(t, 'mssql_role_check_role{target="sql2",database="appdb",role="primary"}'), 0);
  assert.equal(value(t, 'mssql_role_check_role{target="sql1",database="appdb",role="online"}'), 1);
  assert.equal(value(t, 'mssql_role_check_maintenance{target="sql1"}'), 0);
  assert.ok(value(t, 'mssql_role_check_poll_duration_seconds_count{target="sql1"}')! >= 1);
  const last = value(t, 'mssql_role_check_last_success_timestamp_seconds{target="sql1"}')!;
  assert.ok(Math.abs(Date.now() / 1000 - last) < 5, `last success ${last}`);
  assert.ok(value(t, 'process_resident_memory_bytes')! > 0, 'the process metrics, from the daemon\'s own registry');
});

test('the counters: a failover counts role changes; a fault counts errors by code and reconnects', async () => {
  pair.failover();
  await waitForStatus(d, '/sql2/primary', 200, 3000);
  await waitForStatus(d, '/sql1/primary', 503, 3000);
  let t = await metrics();
  assert.equal(value(t, 'mssql_role_check_role_changes_total{target="sql1",database="appdb"}'), 1);
  assert.equal(value(t, 'mssql_role_check_role_changes_total{target="sql2",database="appdb"}'), 1);
  assert.equal(value(t, 'mssql_role_check_role{target="sql2",database="appdb",role="primary"}'), 1);
  await b.setFault({ name: 'server-close', on: 'rpc' });
  await waitForStatus(d, '/sql2/primary', 503, 3000);
  await new Promise((r) => setTimeout(r, 1200));
  t = await metrics();
  assert.ok(value(t, 'mssql_role_check_errors_total{target="sql2",code="ESOCKET"}')! >= 1, t.split('\n').filter((l) => l.includes('errors_total')).join('\n'));
  assert.ok(value(t, 'mssql_role_check_reconnects_total{target="sql2"}')! >= 1);
  assert.equal(value(t, 'mssql_role_check_up{target="sql2",database="appdb"}'), 0);
  await b.setFault(undefined);
  await waitForStatus(d, '/sql2/primary', 200, 10_000);
  const r = spawnSync('promtool', ['check', 'metrics'], { input: await metrics(), encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
});
