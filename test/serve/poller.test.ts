// The poll loop in-process (src/serve/poller.ts) against an in-process simulator: what a poll finds
// replaces the facts before it at once, even while the drain file's stat has not answered. The
// stat is held back by filling libuv's thread pool (4 threads) with key derivations, as a slow
// mount would hold it; the poll itself needs no thread of the pool.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import { startSqlSim } from '../sqlsim/server.ts';
import { scenarioFile } from '../sqlsim/scenarios.ts';
import { parseServeConfig } from '../../src/serve/config.ts';
import { Poller, MAINTENANCE_STAT_MS, pollerOfContext } from '../../src/serve/poller.ts';
import { answer } from '../../src/serve/state.ts';
import { MONITOR_PASSWORD } from './daemon.ts';

const sim = await startSqlSim({ scenario: scenarioFile('principal'), host: '127.0.0.1' });
after(() => sim.close());

const INTERVAL_MS = 200;

function poller(extra = `interval = ${INTERVAL_MS / 1000}\ntimeout = 2\nmax-age = 10\nmaintenance-file = /nonexistent-${process.pid}/drain\n`): Poller {
  const c = parseServeConfig(`user = monitor\npassword = ${MONITOR_PASSWORD}\ndatabase = appdb\nencrypt = off\n${extra}` +
    `[sql1]\nhost = 127.0.0.1\nport = ${sim.port}\n`, 'serve.conf', {});
  const p = new Poller(c.targets[0], { polled() {}, reconnect() {}, verdictChanged() {} });
  after(() => p.stop());
  return p;
}

const status = (p: Poller) => answer(p.target, p.config.asks.primary, Date.now(), p.config.maxAgeMs);

async function until(what: string, ok: () => boolean, limitMs: number): Promise<number> {
  const start = performance.now();
  while (!ok()) {
    if (performance.now() - start > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - start;
}

/** Every thread of libuv's pool busy for a few seconds: a stat started now waits for one. */
function fillThreadPool(): Promise<unknown> {
  return Promise.all(Array.from({ length: 4 }, () => new Promise((resolve) => pbkdf2('x', 'y', 3_000_000, 64, 'sha512', resolve))));
}

const rows: { name: string; fault(): Promise<void> | void; heal(): Promise<void> | void; reason: RegExp }[] = [
  { name: 'the query fails (an SQL error, the connection stays)', fault: () => sim.setFault({ name: 'query-error', number: 50000, on: 'rpc' }), heal: () => sim.setFault(undefined), reason: /50000|error/i },
  { name: 'a failover: the server answers MIRROR', fault: () => sim.setScenario(scenarioFile('mirror')), heal: () => sim.setScenario(scenarioFile('principal')), reason: /MIRROR|RESTORING/ },
];

for (const row of rows) {
  test(`${row.name}: no 200 from the facts before it while the drain file's stat is held`, { timeout: 60_000 }, async () => {
    const p = poller();
    p.start();
    await until('a first pass', () => status(p).status === 200, 10_000);
    const pool = fillThreadPool();
    await row.fault();
    after(async () => { await row.heal(); await pool; });
    // the next poll starts within the interval and sees the fault at once; before the fix its
    // snapshot waited MAINTENANCE_STAT_MS for the stat, and the old facts kept passing meanwhile
    const ms = await until('a non-pass', () => status(p).status !== 200, 5000);
    const a = status(p);
    console.log(`${row.name}: ${a.status} after ${ms.toFixed(0)} ms (interval ${INTERVAL_MS} ms, stat held up to ${MAINTENANCE_STAT_MS} ms): ${a.reason}`);
    assert.ok(ms < INTERVAL_MS + 300, `${ms.toFixed(0)} ms`);
    assert.equal(a.status, 503, a.reason);
    assert.match(a.reason, row.reason);
    // then the stat's own answer: held, so drained for safety (404), never a pass
    await until('the held stat shows', () => status(p).status === 404, MAINTENANCE_STAT_MS + 2000);
    assert.match(status(p).reason, /cannot be checked/);
    await row.heal();
    await pool;
    await until('a pass again after the heal', () => status(p).status === 200, 10_000);
    p.stop();
  });
}

test('the facts\' age counts from when their query was sent: a server that answers in 0.7 s never passes max-age 0.5 s', { timeout: 30_000 }, async () => {
  const p = poller('interval = 0.5\ntimeout = 2\nmax-age = 0.5\n');
  p.start();
  await until('a first pass', () => status(p).status === 200, 10_000);
  // the simulator reads its catalog when the query arrives, and answers 700 ms later
  await sim.setFault({ name: 'delay', ms: 700, on: 'rpc' });
  after(() => sim.setFault(undefined));
  const seen = new Map<string, number>();
  let oldest = 0;
  const start = performance.now();
  let slowFacts = 0;
  while (performance.now() - start < 4000) {
    const a = status(p);
    const key = `${a.status} ${a.errorCode}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    if (performance.now() - start > 1500) {
      // past the poll under way when the delay began: every answer is from a slow poll's facts
      if (a.status === 200) assert.fail(`a 200 from facts ${a.ageSeconds} s old (max-age 0.5 s): ${a.reason}`);
      if (p.target.snapshot.facts !== null) slowFacts++;
      oldest = Math.max(oldest, a.ageSeconds ?? 0);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  console.log(`delay 700 ms, max-age 0.5 s: answers ${[...seen].map(([k, n]) => `${k} x${n}`).join(', ')}`);
  assert.ok(slowFacts > 0, 'facts of slow polls were there to be judged');
  await sim.setFault(undefined);
  await until('a pass again', () => status(p).status === 200, 10_000);
  p.stop();
});

test('a connection lost between two polls: the facts go at once, and the daemon hears of the new snapshot (probe ports, history)', { timeout: 30_000 }, async () => {
  const own = await startSqlSim({ scenario: scenarioFile('principal'), host: '127.0.0.1' });
  const c = parseServeConfig(`user = monitor\npassword = ${MONITOR_PASSWORD}\ndatabase = appdb\nencrypt = off\ninterval = 30\ntimeout = 2\n` +
    `[sql1]\nhost = 127.0.0.1\nport = ${own.port}\n`, 'serve.conf', {});
  const published: number[] = [];
  const p = new Poller(c.targets[0], { polled() {}, reconnect() {}, verdictChanged() {}, published: () => { published.push(Date.now()); } });
  after(() => p.stop());
  p.start();
  await until('a first pass', () => status(p).status === 200, 10_000);
  const before = published.length;
  const t0 = Date.now();
  await own.close();
  const ms = await until('the facts gone', () => p.target.snapshot.facts === null, 2000);
  assert.ok(ms < 500, `${ms} ms (the next poll is 30 s away)`);
  assert.ok(published.length > before && published.at(-1)! >= t0, 'published() was called for the lost connection');
  p.stop();
});

test('an exception of the driver between polls (driverFault): the connection is dropped, the facts go at once, the next poll logs in again; the daemon\'s callbacks run outside the loop\'s context', { timeout: 30_000 }, async () => {
  const own = await startSqlSim({ scenario: scenarioFile('principal'), host: '127.0.0.1' });
  after(() => own.close());
  const c = parseServeConfig(`user = monitor\npassword = ${MONITOR_PASSWORD}\ndatabase = appdb\nencrypt = off\ninterval = 0.3\ntimeout = 2\n` +
    `[sql1]\nhost = 127.0.0.1\nport = ${own.port}\n`, 'serve.conf', {});
  const contexts: unknown[] = [];
  const seen = () => { contexts.push(pollerOfContext()); };
  const p = new Poller(c.targets[0], { polled: seen, reconnect: seen, verdictChanged: seen, published: seen });
  after(() => p.stop());
  p.start();
  await until('a first pass', () => status(p).status === 200, 10_000);
  await until('between two polls', () => !p.inFlight, 2000);
  assert.equal(p.driverFault({ code: 'PROTOCOL', message: 'Unknown type: 0' }), 'idle');
  const a = status(p);
  assert.equal(a.status, 503, 'no facts from the moment the driver threw');
  assert.match(a.reason, /Unknown type: 0/);
  await until('a pass again, on a new connection', () => status(p).status === 200, 5000);
  assert.equal(p.logins, 2);
  assert.equal(own.stats.logins, 2);
  p.stop();
  assert.equal(p.driverFault({ code: 'PROTOCOL', message: 'late' }), 'stopped');
  assert.ok(contexts.length > 3, 'the callbacks were called');
  assert.deepEqual(new Set(contexts), new Set([undefined]), 'no callback of the daemon runs as the loop\'s (its exceptions are its own bugs)');
});
