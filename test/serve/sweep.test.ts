// The extras' sweep (src/serve/extras.ts) on its own clock: with fresh facts nothing is judged
// again between polls (no wake-up every 250 ms), and facts that grow older than max-age are seen
// at that moment (the probe ports, the history and the split-brain log follow them at once).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { parseServeConfig } from '../../src/serve/config.ts';
import { Extras } from '../../src/serve/extras.ts';
import type { Poller } from '../../src/serve/poller.ts';
import { principal } from '../helpers/serve-targets.ts';

const MAX_AGE_MS = 600;

function setUp() {
  const config = parseServeConfig('user = monitor\npassword = x\ndatabase = appdb\nencrypt = off\n' +
    `interval = 0.2\nmax-age = ${MAX_AGE_MS / 1000}\n[sql1]\nhost = 127.0.0.1\n`, 'serve.conf', {});
  const t = config.targets[0];
  const p = { target: { name: t.name, settings: t.settings, snapshot: { facts: null, at: null, error: null, maintenance: null } }, config: t } as unknown as Poller;
  const pollers = new Map([[t.name, p]]);
  const extras = new Extras({ pollers: () => pollers, config: () => config, log: () => {}, registry: new Registry() });
  let sweeps = 0;
  const sweep = extras.sweep.bind(extras);
  extras.sweep = (...a: Parameters<Extras['sweep']>) => { sweeps++; sweep(...a); };
  after(() => extras.stop());
  return { p, extras, sweeps: () => sweeps };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('fresh facts: no sweep until they would grow too old; then one, at that moment', async () => {
  const { p, extras, sweeps } = setUp();
  await extras.start();
  // a poll's facts, published as the poller does (the daemon calls polled() after each snapshot)
  const at = Date.now();
  p.target.snapshot = { facts: [principal()], at, error: null, maintenance: null };
  extras.polled('sql1');
  const after1 = sweeps();
  await sleep(MAX_AGE_MS - 100);
  assert.equal(sweeps(), after1, `${sweeps() - after1} sweeps while the facts were fresh`);
  assert.equal(extras.history.lastOf('sql1', 'appdb')?.to, 'pass');
  await sleep(300);
  assert.ok(sweeps() > after1, 'a sweep once the facts grew too old');
  const change = extras.history.lastOf('sql1', 'appdb')!;
  assert.equal(change.to, 'unknown', JSON.stringify(change));
  const late = change.at - (at + MAX_AGE_MS);
  console.log(`the facts grew too old ${MAX_AGE_MS} ms after their poll; the sweep saw it ${late} ms later`);
  assert.ok(late >= 0 && late < 100, `${late} ms`);
});

test('a new snapshot before the old one grows too old moves the sweep later (a poll every interval: no sweep of its own)', async () => {
  const { p, extras, sweeps } = setUp();
  await extras.start();
  const before = sweeps();
  for (let i = 0; i < 8; i++) {
    p.target.snapshot = { facts: [principal()], at: Date.now(), error: null, maintenance: null };
    extras.polled('sql1');
    await sleep(200);
  }
  // 8 polls, 8 sweeps after them, none of the timer's
  assert.equal(sweeps() - before, 8);
  assert.equal(extras.history.lastOf('sql1', 'appdb')?.to, 'pass');
});
