// The daemon's endpoints against a simulated mirrored pair: the verdicts before and after a
// failover (timed), HEAD and OPTIONS, query parameters judged by the one-shot's rules, the drain
// file, /TARGET, /health; logins counted by the simulators (one per target, none per request);
// never a 200 from facts older than max-age; no password in any answer or log line.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startMirroredPair } from '../sqlsim/server.ts';
import { scenarioFile } from '../sqlsim/scenarios.ts';
import { startServe, configFor, waitForStatus, waitForPolls, MONITOR_PASSWORD } from './daemon.ts';
import type { Reply } from './daemon.ts';

const pair = await startMirroredPair({ principal: scenarioFile('principal'), mirror: scenarioFile('mirror'), host: '127.0.0.1' });
const [a, b] = pair.servers;
const d = await startServe({
  config: configFor({
    sql1: { port: a.port, extra: 'maintenance-file = @DIR@/drain-sql1\n' },
    sql2: { port: b.port },
  }, 'interval = 0.2\nmax-age = 0.6\ntimeout = 2\n'),
  args: ['-v'],
});
after(async () => {
  await d.stop();
  await pair.close();
});
await waitForPolls(d, ['sql1', 'sql2']);

const replies: Reply[] = [];
const get = async (path: string, method = 'GET') => {
  const r = await d.get(path, method);
  replies.push(r);
  return r;
};

test('before a failover: the principal passes primary, the mirror does not; GET bodies are the one-shot\'s --json object plus the age', async () => {
  const p = await get('/sql1/primary');
  assert.equal(p.status, 200);
  assert.equal(p.json!.verdict, 'pass');
  assert.equal(p.json!.exitCode, 0);
  assert.equal(p.json!.role, 'primary');
  assert.equal(p.json!.target, 'sql1');
  assert.equal(typeof p.json!.ageSeconds, 'number');
  assert.ok((p.json!.ageSeconds as number) <= 0.6);
  assert.deepEqual((p.json!.server as Record<string, unknown>).port, a.port);
  const dbs = p.json!.databases as Array<Record<string, unknown>>;
  assert.equal(dbs.length, 1);
  assert.equal((dbs[0].facts as Record<string, unknown>).mirroring_role_desc, 'PRINCIPAL');
  const m = await get('/sql2/primary');
  assert.equal(m.status, 503);
  assert.equal(m.json!.errorCode, 'ROLE');
  assert.match(m.json!.reason as string, /RESTORING/);
  assert.equal((await get('/sql1/principal')).status, 200, 'principal is an alias of primary');
});

test('HEAD and OPTIONS: the same status, no body', async () => {
  for (const method of ['HEAD', 'OPTIONS']) {
    const ok = await get('/sql1/primary', method);
    assert.equal(ok.status, 200, method);
    assert.equal(ok.text, '', method);
    const no = await get('/sql2/primary', method);
    assert.equal(no.status, 503, method);
    assert.equal(no.text, '', method);
  }
});

test('request parameters, judged by the one-shot\'s rules: a table', async () => {
  const rows: Array<[string, number, RegExp | null]> = [
    ['/sql1/primary?mirroring-state=SYNCHRONIZED', 200, null],
    ['/sql1/primary?mirroring-state=suspended', 503, /mirroring state is SYNCHRONIZED, not one of --mirroring-state SUSPENDED/],
    ['/sql1/primary?mirroring-state=SUSPENDED,SYNCHRONIZED', 200, null],
    ['/sql1/primary?mirroring-state=SUSPENDED&mirroring-state=SYNCHRONIZED', 200, null],
    ['/sql1/primary?mirroring-state=PENDING_FAILOVER', 400, /\?mirroring-state: PENDING_FAILOVER never passes --role primary/],
    ['/sql1/primary?mirroring-state=BOGUS', 400, /\?mirroring-state: expected mirroring states from/],
    ['/sql1/primary?database=appdb', 200, null],
    ['/sql1/primary?database=otherdb', 400, /\?database: "otherdb" is not polled for target sql1/],
    ['/sql1/primary?max-lag=30', 400, /\?max-lag: applies to --role secondary, not primary/],
    ['/sql1/secondary?max-lag=30', 503, /not in an availability group|neither|SECONDARY|availability/],
    ['/sql1/secondary?max-lag=-1', 400, /\?max-lag: expected seconds/],
    ['/sql1/secondary?max-lag=1&max-lag=2', 400, /more than once/],
    ['/sql1/primary?colour=blue', 400, /unknown parameter "colour"/],
    ['/sql1/online', 200, null],
    ['/sql1/mirror', 503, null],
    ['/sql1/leader', 400, /unknown role "leader"/],
    ['/sql1/constructor', 400, /unknown role "constructor"/], // a property of every object, not a role
    ['/sql9/primary', 503, /no such target "sql9"/], // not 404: disable-on-404 would drain, not fail
    ['/sql9', 404, /no such target/],
    ['/sql1/primary/extra', 404, null],
    ['/', 200, null], // the status page (extras.ts)
    // an unknown group with a known role: 503, as for an unknown target (a 404 would drain under disable-on-404)
    ['/group/none/primary', 503, /no such group "none" in this config/],
    ['/group/none/mirror', 503, /no such group "none" in this config/],
    ['/group/none/leader', 404, /no such group "none" or role "leader"/],
    ['/?colour=blue', 400, /unknown parameter "colour"/],
  ];
  for (const [path, status, message] of rows) {
    const r = await get(path);
    assert.equal(r.status, status, `${path}: ${r.text.slice(0, 300)}`);
    if (message) assert.match(String(r.json?.error ?? r.json?.reason), message, path);
  }
});

test('only GET, HEAD and OPTIONS: 405 with Allow', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    for (const path of ['/sql1/primary', '/health', '/nowhere']) {
      const r = await get(path, method);
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS', `${method} ${path}`);
    }
  }
});

test('OPTIONS answers Allow (RFC 9110 9.3.7), with the status a GET has', async () => {
  for (const [path, status] of [['/sql1/primary', 200], ['/sql2/primary', 503], ['/sql9/primary', 503], ['/sql1', 200], ['/health', 200], ['/group/none/primary', 503], ['/nowhere', 404]] as const) {
    const r = await get(path, 'OPTIONS');
    assert.equal(r.status, status, path);
    assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS', `OPTIONS ${path}`);
    assert.equal(r.text, '', path);
  }
  assert.equal((await get('/sql1/primary', 'GET')).headers.allow, undefined, 'a GET has no Allow');
});

test('GET /TARGET: every role\'s verdict and the facts; GET /health', async () => {
  const r = await get('/sql1');
  assert.equal(r.status, 200);
  const roles = r.json!.roles as Record<string, { status: number }>;
  assert.deepEqual(Object.fromEntries(Object.entries(roles).map(([k, v]) => [k, v.status])), { primary: 200, secondary: 503, mirror: 503, online: 200 });
  assert.equal((r.json!.facts as unknown[]).length, 1);
  const h = await get('/health');
  assert.equal(h.status, 200);
  assert.equal(h.json!.status, 'ok');
});

test('the drain file: 404 while it exists, 200 once it is gone, without a restart', async () => {
  const drain = join(d.dir, 'drain-sql1');
  writeFileSync(drain, '');
  const on = await waitForStatus(d, '/sql1/primary', 404, 3000);
  const r = await get('/sql1/primary');
  assert.equal(r.json!.errorCode, 'MAINTENANCE');
  assert.match(r.json!.reason as string, /maintenance \(.*drain-sql1 exists\)/);
  rmSync(drain);
  const off = await waitForStatus(d, '/sql1/primary', 200, 3000);
  console.log(`drain: 404 after ${on.toFixed(0)} ms, 200 again after ${off.toFixed(0)} ms (interval 0.2 s)`);
});

test('a failover: the two swap, timed from the failover', async () => {
  const start = performance.now();
  pair.failover();
  await waitForStatus(d, '/sql2/primary', 200, 3000);
  const toNew = performance.now() - start;
  await waitForStatus(d, '/sql1/primary', 503, 3000);
  const toOld = performance.now() - start;
  console.log(`failover: new principal 200 after ${toNew.toFixed(0)} ms, old principal 503 after ${toOld.toFixed(0)} ms (interval 0.2 s)`);
  assert.ok(toNew < 1000 && toOld < 1000, 'within a few intervals');
  assert.ok(d.lines.some((l) => /sql1: database "appdb" as primary: pass -> fail \(ROLE\)/.test(l)), 'the state change is logged');
  assert.ok(d.lines.some((l) => /sql2: database "appdb" as primary: fail -> pass: /.test(l)), 'the state change is logged');
  pair.failover();
  await waitForStatus(d, '/sql1/primary', 200, 3000);
});

test('logins: one per target at start, none per request', async () => {
  const before = [a.stats.logins, b.stats.logins];
  assert.deepEqual(before, [1, 1], 'one login per target since the start');
  const polls = [a.stats.rpcs, b.stats.rpcs];
  for (let i = 0; i < 200; i++) await get(i % 2 ? '/sql1/primary' : '/sql2/mirror');
  assert.deepEqual([a.stats.logins, b.stats.logins], [1, 1], 'no login per request');
  assert.deepEqual([a.stats.connections, b.stats.connections], [1, 1], 'one connection per target');
  // the requests were answered from memory: the servers saw only the polls (5 a second)
  console.log(`200 requests: the servers saw ${a.stats.rpcs - polls[0]} + ${b.stats.rpcs - polls[1]} queries (the polls) and no login`);
});

test('never a 200 from facts older than max-age: a server that stalls mid-poll goes 503 as its facts pass max-age', async () => {
  await a.setFault({ name: 'stall-after-login', on: 'rpc' });
  const start = performance.now();
  let firstFail: number | undefined;
  const passes: number[] = [];
  while (performance.now() - start < 2500) {
    const r = await get('/sql1/primary');
    if (r.status === 200) {
      passes.push(r.json!.ageSeconds as number);
      assert.ok((r.json!.ageSeconds as number) <= 0.6, `a pass from facts ${r.json!.ageSeconds} s old`);
    } else {
      firstFail ??= performance.now() - start;
      assert.equal(r.status, 503);
      assert.ok(['STALE', 'TIMEOUT', 'ESOCKET'].includes(r.json!.errorCode as string), String(r.json!.errorCode));
    }
    await new Promise((res) => setTimeout(res, 10));
  }
  assert.ok(firstFail !== undefined && firstFail <= 600 + 200 + 100, `503 within max-age + interval (${firstFail} ms)`);
  console.log(`stalled server: 503 after ${firstFail!.toFixed(0)} ms (max-age 0.6 s); the oldest facts served as a pass were ${Math.max(...passes).toFixed(3)} s old`);
  await a.setFault(undefined);
  const back = await waitForStatus(d, '/sql1/primary', 200, 8000);
  console.log(`back to 200 ${back.toFixed(0)} ms after the stall ended (reconnect with backoff)`);
});

test('a server error that quotes the password: scrubbed from the answer and the log', async () => {
  await a.setFault({ name: 'query-error', number: 50000, message: `cannot use '${MONITOR_PASSWORD}' here`, on: 'rpc' });
  await waitForStatus(d, '/sql1/primary', 503, 3000);
  const r = await get('/sql1/primary');
  assert.equal(r.json!.errorCode, 'SQL50000');
  assert.match(r.json!.reason as string, /cannot use '\*\*\*' here/);
  const t = await get('/sql1');
  assert.match(t.text, /\*\*\*/);
  await d.waitForLine(/cannot use '\*\*\*' here/, 3000);
  await a.setFault(undefined);
  await waitForStatus(d, '/sql1/primary', 200, 8000);
});

test('no password in any answer or log line', async () => {
  await get('/metrics');
  await get('/sql1');
  assert.ok(replies.length > 200);
  for (const r of replies) assert.ok(!r.text.includes(MONITOR_PASSWORD), `a password in ${r.text.slice(0, 200)}`);
  assert.ok(d.lines.length > 10);
  for (const l of d.lines) assert.ok(!l.includes(MONITOR_PASSWORD), `a password in the log: ${l}`);
  assert.ok(d.lines.some((l) => / poll \d+ ms: /.test(l)), '-v: one line per poll');
});
