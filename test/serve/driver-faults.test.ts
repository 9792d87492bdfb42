// Servers that take logins and then misbehave, under the daemon: one that stalls every query is
// logged in to with the reconnect backoff (0.5 s doubling), not every interval; an exception the
// driver throws on one target's bytes fails that target alone (503, a log line, a reconnect),
// never the daemon nor another target.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSqlSim } from '../sqlsim/server.ts';
import type { SqlSim } from '../sqlsim/server.ts';
import { scenarioFile } from '../sqlsim/scenarios.ts';
import { startServe, configFor, waitForStatus, waitForPolls } from './daemon.ts';
import type { ServeProcess } from './daemon.ts';

const results: string[] = [];
after(() => { for (const r of results) console.log(r); });

/** The times (ms from now) at which the simulator's login count rose, sampled every 20 ms for `ms`. */
async function loginTimes(sim: SqlSim, ms: number): Promise<number[]> {
  const times: number[] = [];
  const start = performance.now();
  let seen = sim.stats.logins;
  while (performance.now() - start < ms) {
    await new Promise((r) => setTimeout(r, 20));
    for (; seen < sim.stats.logins; seen++) times.push(performance.now() - start);
  }
  return times;
}

test('a server that takes logins and stalls every query: logins back off (0.5 s doubling), and from 0.5 s again after a poll that succeeds', { timeout: 90_000 }, async () => {
  const sim = await startSqlSim({ scenario: scenarioFile('principal'), host: '127.0.0.1' });
  const d = await startServe({ config: configFor({ stall: { port: sim.port } }, 'interval = 0.2\ntimeout = 0.5\nmax-age = 1\n') });
  after(async () => { await d.stop(); await sim.close(); });
  await waitForStatus(d, '/stall/primary', 200, 10_000);
  await sim.setFault({ name: 'stall-after-login', on: 'rpc' });
  const times = await loginTimes(sim, 12_000);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  results.push(`stalled queries: ${times.length} logins in 12 s (a poll every 0.2 s, timeout 0.5 s), gaps ${gaps.map((g) => (g / 1000).toFixed(1)).join(', ')} s`);
  // with the backoff: about 0, 1, 2.6, 5.2, 9.7 s; without it a login every ~1.1 s (10 or more)
  assert.ok(times.length >= 3 && times.length <= 6, `${times.length} logins in 12 s: ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
  assert.ok(gaps.at(-1)! >= 3000, `the last gap between logins is ${gaps.at(-1)} ms`);
  assert.equal((await d.get('/stall/primary')).status, 503);
  // a poll that succeeds starts the backoff again from 0.5 s
  await sim.setFault(undefined);
  await waitForStatus(d, '/stall/primary', 200, 40_000);
  await sim.setFault({ name: 'stall-after-login', on: 'rpc' });
  const again = await loginTimes(sim, 2500);
  results.push(`after a pass, stalled again: ${again.length} login(s) in 2.5 s`);
  assert.ok(again.length >= 1, 'a reconnect within 2.5 s of the next stall (the backoff started from 0.5 s again)');
  await sim.setFault(undefined);
  assert.equal(d.child.exitCode, null, 'the daemon is still running');
});

/** Samples `path` every 20 ms until `done` resolves; resolves with the statuses seen (and what a non-200 said). */
async function watch(d: ServeProcess, path: string, done: Promise<unknown>): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let over = false;
  void done.finally(() => { over = true; });
  while (!over) {
    const r = await d.get(path);
    const key = r.status === 200 ? '200' : `${r.status} ${String(r.json?.reason).slice(0, 120)}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    await new Promise((res) => setTimeout(res, 20));
  }
  return seen;
}

test('the driver throws on one target\'s bytes: that target goes 503 and reconnects, the daemon and the other target (200 throughout) carry on', { timeout: 120_000 }, async () => {
  const simLog: string[] = [];
  const bad = await startSqlSim({ scenario: scenarioFile('principal'), host: '127.0.0.1', log: (l) => simLog.push(l) });
  const good = await startSqlSim({ scenario: scenarioFile('principal'), host: '127.0.0.1' });
  // the good server answers in 1.2 s, so that a poll of it is under way nearly all the time
  await good.setFault({ name: 'delay', ms: 1200, on: 'rpc' });
  const d = await startServe({ config: configFor({ bad: { port: bad.port }, good: { port: good.port } }, 'interval = 0.5\ntimeout = 1.5\nmax-age = 3\n') });
  after(async () => { await d.stop(); await bad.close(); await good.close(); });
  await waitForPolls(d, ['bad', 'good']);
  await waitForStatus(d, '/bad/primary', 200, 10_000);
  await waitForStatus(d, '/good/primary', 200, 10_000);

  // 1. garbage tokens in the answer to a poll: tedious throws from its own event handler
  const from = d.lines.length;
  const episode1 = (async () => {
    await bad.setFault({ name: 'garbage', on: 'rpc' });
    await waitForStatus(d, '/bad/primary', 503, 5000);
    await d.waitForLine(/unexpected answer from the server during a poll/, 5000, from);
    await new Promise((r) => setTimeout(r, 4000));
    await bad.setFault(undefined);
    await waitForStatus(d, '/bad/primary', 200, 40_000);
  })();
  const seen1 = await watch(d, '/good/primary', episode1.catch(() => {}));
  await episode1;
  const throws = d.lines.slice(from).filter((l) => /unexpected answer from the server during a poll/.test(l));
  results.push(`garbage answers to bad's polls: ${throws.length} driver exception(s); good answered ${[...seen1].map(([k, n]) => `${k} x${n}`).join(', ')}`);
  assert.ok(throws.length >= 2, `the driver threw: ${throws.join(' | ')}`);
  assert.deepEqual([...seen1.keys()], ['200'], 'the good target stayed 200 while the bad one\'s driver threw');
  assert.ok(throws.every((l) => /: bad: unexpected answer from the server during a poll: Unknown type/.test(l)), `every exception was the bad target's: ${throws.join(' | ')}`);

  // 2. bytes nobody asked for on the bad target's idle connection, between two polls
  const from2 = d.lines.length;
  const sent = simLog.length;
  const episode2 = (async () => {
    await bad.setFault({ name: 'idle-garbage' });
    await waitForStatus(d, '/bad/primary', 503, 5000);
    await bad.setFault(undefined);
    await waitForStatus(d, '/bad/primary', 200, 40_000);
  })();
  const seen2 = await watch(d, '/good/primary', episode2.catch(() => {}));
  await episode2;
  assert.ok(simLog.slice(sent).some((l) => /idle-garbage: sending/.test(l)), 'the simulator sent the bytes on an idle connection');
  results.push(`unasked bytes on bad's idle connection: good answered ${[...seen2].map(([k, n]) => `${k} x${n}`).join(', ')}; log: ${d.lines.slice(from2).filter((l) => /bad: /.test(l)).join(' | ')}`);
  assert.deepEqual([...seen2.keys()], ['200'], 'the good target stayed 200');

  assert.equal(d.child.exitCode, null, 'the daemon is still running');
  assert.equal((await d.get('/health')).status, 200);
  assert.ok(!d.lines.some((l) => /internal error/.test(l)), d.lines.join('\n'));
});
