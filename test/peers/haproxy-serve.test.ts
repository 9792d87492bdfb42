// HAProxy for real in front of two simulated SQL Servers (a mirrored pair), health-checked over
// HTTP by the packed daemon (`mssql-role-check serve`): option httpchk, the path naming the server
// (/%[srv_name]/primary, as doc/examples/haproxy-serve.cfg has it), `check port PORT addr 127.0.0.1`.
// Through the stats socket only the principal is UP; after a failover the two swap. The time from
// the failover to HAProxy's switch is measured for the daemon and, with the same inter/fall/rise,
// for the one-shot external-check, and printed side by side (measured, not asserted tightly).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, BIN_X64 } from '../helpers/paths.ts';
import { tempDir, waitUntil, writePrivate, freePort, fmtMs, sleep, Daemon } from './harness.ts';
import { statsSocket, statsCommand, startHaproxy } from './haproxy.ts';
import { startMirroredPair, type MirroredPair } from '../sqlsim/server.ts';
import { scenarioFile } from '../sqlsim/scenarios.ts';
import { startServe, configFor, waitForPolls, MONITOR_PASSWORD, type ServeProcess } from '../serve/daemon.ts';

const INTER_MS = 1000; // HAProxy's inter for both kinds of check
const INTERVAL_S = 1; // the daemon's poll interval (its default)
const ROUNDS = 6; // failovers measured per kind of check
/** fall 1 / rise 1: interval + inter + the check's own time, with room for a loaded 2-core machine */
const SWAP_LIMIT_MS = 20_000;
const EXAMPLE = join(ROOT, 'doc/examples/haproxy-serve.cfg');

let tmp: ReturnType<typeof tempDir>;
let pair: MirroredPair | undefined;
let serve: ServeProcess | undefined;
const haproxies: Daemon[] = [];

before(async () => {
  assert.ok(existsSync(BIN_X64), `${BIN_X64} is missing; run make first`);
  tmp = tempDir('mrc-haproxy-serve');
  pair = await startMirroredPair({ principal: scenarioFile('principal'), mirror: scenarioFile('mirror'), host: '127.0.0.1' });
  const [a, b] = pair.servers;
  serve = await startServe({ bin: BIN_X64, config: configFor({ sqlA: { port: a.port }, sqlB: { port: b.port } }, `interval = ${INTERVAL_S}\ntimeout = 2\n`) });
  await waitForPolls(serve, ['sqlA', 'sqlB'], 20_000);
});

after(async () => {
  await Promise.all(haproxies.map((h) => h.stop()));
  await serve?.stop();
  await pair?.close();
  tmp?.remove();
});

/**
 * The backend of doc/examples/haproxy-serve.cfg as written, on this machine: the servers are the
 * simulators, the daemon's port the one it listens on, the frontend a free loopback port, and the
 * test's own stats socket and inter. Its check lines are taken from the example, not retyped.
 */
function httpchkConf(dir: string, frontendPort: number): string {
  const example = readFileSync(EXAMPLE, 'utf8');
  const checkLines = example.split('\n').filter((l) => /^\s*(option httpchk|http-check )/.test(l));
  assert.deepEqual(checkLines.map((l) => l.trim()), ['option httpchk', 'http-check disable-on-404',
    'http-check send meth GET uri-lf /%[srv_name]/primary', 'http-check expect status 200'], 'the example\'s check lines');
  assert.match(example, /server sql1 10\.0\.0\.11:1433 check port 8008 addr 127\.0\.0\.1 inter 1s fall 1 rise 1/);
  const [a, b] = pair!.servers;
  const server = (name: string, port: number) => `  server ${name} 127.0.0.1:${port} check port ${serve!.port} addr 127.0.0.1 inter ${INTER_MS} fall 1 rise 1`;
  return `global
  stats socket ${statsSocket(dir)} mode 600 level admin
  pidfile ${join(dir, 'haproxy.pid')}

defaults
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout check 2s

listen mssql
  bind 127.0.0.1:${frontendPort}
${checkLines.join('\n')}
${server('sqlA', a.port)}
${server('sqlB', b.port)}
`;
}

interface View { status: string; check: string }

async function servers(dir: string): Promise<Map<string, View>> {
  const csv = await statsCommand(statsSocket(dir), 'show stat');
  const [head, ...rows] = csv.split('\n').filter((l) => l.trim() !== '');
  const h = head.replace(/^# /, '').split(',');
  const out = new Map<string, View>();
  for (const r of rows) {
    const f = r.split(',');
    if (f[h.indexOf('pxname')] !== 'mssql' || ['FRONTEND', 'BACKEND'].includes(f[h.indexOf('svname')])) continue;
    out.set(f[h.indexOf('svname')], { status: f[h.indexOf('status')], check: f[h.indexOf('check_status')] });
  }
  return out;
}

/** `name` UP and the other DOWN, both by a completed check (L7OK/L7STS for httpchk, PROCOK/PROCERR for external). */
async function onlyUp(h: Daemon, dir: string, name: 'sqlA' | 'sqlB', pass: string, fail: string, limitMs: number): Promise<number> {
  const other = name === 'sqlA' ? 'sqlB' : 'sqlA';
  return waitUntil(`${name} alone UP`, async () => {
    if (!h.running) throw new Error(`haproxy exited:\n${h.tail()}`);
    const s = await servers(dir);
    return s.get(name)?.status === 'UP' && s.get(name)?.check === pass && s.get(other)?.status === 'DOWN' && s.get(other)?.check === fail;
  }, limitMs, 20).catch(async (e) => {
    throw new Error(`${(e as Error).message}\nshow stat: ${JSON.stringify([...(await servers(dir))])}\n${h.tail(20)}`);
  });
}

async function startIn(sub: string, conf: (dir: string) => string): Promise<{ h: Daemon; dir: string }> {
  const dir = join(tmp.dir, sub);
  mkdirSync(dir);
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, conf(dir));
  const h = new Daemon(`haproxy ${sub}`, 'haproxy', ['-db', '-f', file], { PATH: process.env.PATH });
  haproxies.push(h);
  await waitUntil(`the ${sub} HAProxy stats socket`, async () => {
    if (!h.running) throw new Error(`haproxy exited:\n${h.tail()}`);
    try { await statsCommand(statsSocket(dir), 'show info'); return true; } catch { return false; }
  }, 10_000, 100);
  return { h, dir };
}

/** Fail the pair over ROUNDS times; the ms from each failover to HAProxy showing the swap. */
async function failovers(h: Daemon, dir: string, pass: string, fail: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const want = pair!.principal === pair!.servers[0] ? 'sqlB' : 'sqlA';
    await sleep(Math.random() * INTER_MS); // anywhere in HAProxy's check cycle
    const t0 = performance.now();
    pair!.failover();
    await onlyUp(h, dir, want, pass, fail, SWAP_LIMIT_MS + 20_000);
    times.push(performance.now() - t0);
  }
  return times;
}

const daemonTimes: number[] = [];
const oneShotTimes: number[] = [];
/** logins per minute the two servers saw while each kind of check ran */
const loginsPerMinute: Record<'daemon' | 'oneShot', number> = { daemon: NaN, oneShot: NaN };
const logins = () => pair!.servers.reduce((n, s) => n + s.stats.logins, 0);
async function counted(kind: 'daemon' | 'oneShot', body: () => Promise<void>): Promise<void> {
  const [n0, t0] = [logins(), performance.now()];
  await body();
  loginsPerMinute[kind] = ((logins() - n0) * 60_000) / (performance.now() - t0);
}

test('httpchk through the daemon: only the principal is UP; after each failover the two swap', { timeout: 180_000 }, async () => {
  const frontend = await freePort();
  const { h, dir } = await startIn('httpchk', (d) => httpchkConf(d, frontend));
  const ms = await onlyUp(h, dir, pair!.principal === pair!.servers[0] ? 'sqlA' : 'sqlB', 'L7OK', 'L7STS', SWAP_LIMIT_MS + 20_000);
  console.log(`# haproxy httpchk → daemon: steady state ${fmtMs(ms)} after start`);
  await counted('daemon', async () => { daemonTimes.push(...await failovers(h, dir, 'L7OK', 'L7STS')); });
  assert.equal(loginsPerMinute.daemon, 0, 'the daemon logs in once per server at start, never per check');
  for (const t of daemonTimes) assert.ok(t < SWAP_LIMIT_MS + 20_000, `a swap took ${fmtMs(t)}`);
  await h.stop();
});

test('the same failovers with the one-shot external-check (for comparison)', { timeout: 180_000 }, async () => {
  const conf = join(tmp.dir, 'one-shot.conf');
  writePrivate(conf, `database = appdb\nuser = monitor\npassword = ${MONITOR_PASSWORD}\ntimeout = 3\nencrypt = off\n`);
  const wrapper = join(tmp.dir, 'haproxy-mssql-check');
  writeFileSync(wrapper, readFileSync(join(ROOT, 'doc/examples/haproxy-mssql-check'), 'utf8')
    .replaceAll('/usr/bin/mssql-role-check', BIN_X64).replace(/\/etc\/mssql-role-check\/mssql-role-check\.conf/g, conf), { mode: 0o755 });
  const [a, b] = pair!.servers;
  const dir = join(tmp.dir, 'external');
  mkdirSync(dir);
  const h = startHaproxy({ dir, frontendPort: await freePort(), checkCommand: wrapper, interMs: INTER_MS, fall: 1, rise: 1, checkTimeoutMs: 5000,
    servers: [{ name: 'sqlA', host: a.host, port: a.port }, { name: 'sqlB', host: b.host, port: b.port }] });
  haproxies.push(h);
  await waitUntil('the external-check HAProxy stats socket', async () => {
    try { await statsCommand(statsSocket(dir), 'show info'); return true; } catch { return false; }
  }, 10_000, 100);
  await onlyUp(h, dir, pair!.principal === pair!.servers[0] ? 'sqlA' : 'sqlB', 'PROCOK', 'PROCERR', SWAP_LIMIT_MS + 20_000);
  await counted('oneShot', async () => { oneShotTimes.push(...await failovers(h, dir, 'PROCOK', 'PROCERR')); });
  assert.ok(loginsPerMinute.oneShot > 0, 'each external check logs in');
  await h.stop();
});

test('on the distribution\'s own haproxy.cfg (chroot /var/lib/haproxy, user haproxy), httpchk through the daemon works with the chroot kept', { timeout: 90_000 }, async () => {
  const stock = readFileSync('/etc/haproxy/haproxy.cfg', 'utf8');
  for (const line of [/^\s*chroot \/var\/lib\/haproxy$/m, /^\s*user haproxy$/m]) assert.match(stock, line, `the stock global section has ${line}`);
  const frontend = await freePort();
  const { h, dir } = await startIn('stock', (d) => {
    // the one change to the stock file: its stats socket, so that this test reads its own HAProxy's
    const global = stock.replace(/stats socket \S+/, `stats socket ${statsSocket(d)}`);
    const ours = httpchkConf(d, frontend);
    return `${global}\n${ours.slice(ours.indexOf('listen mssql'))}`;
  });
  const ms = await onlyUp(h, dir, pair!.principal === pair!.servers[0] ? 'sqlA' : 'sqlB', 'L7OK', 'L7STS', SWAP_LIMIT_MS + 20_000);
  console.log(`# haproxy, stock global (chroot kept) + httpchk → daemon: the principal alone UP ${fmtMs(ms)} after start`);
  await h.stop();
});

test('failover → HAProxy switch, side by side (printed)', () => {
  assert.equal(daemonTimes.length, ROUNDS, 'the daemon rounds ran');
  assert.equal(oneShotTimes.length, ROUNDS, 'the one-shot rounds ran');
  const stats = (t: number[]) => {
    const s = [...t].sort((x, y) => x - y);
    return `median ${fmtMs(s[s.length >> 1])}, min ${fmtMs(s[0])}, max ${fmtMs(s.at(-1)!)}`;
  };
  console.log(`# failover → HAProxy switch over ${ROUNDS} failovers, inter ${INTER_MS} ms, fall 1, rise 1:`);
  console.log(`#   httpchk → daemon (interval ${INTERVAL_S} s): ${stats(daemonTimes)}  [${daemonTimes.map((t) => fmtMs(t)).join(', ')}]`);
  console.log(`#   external-check (one-shot):        ${stats(oneShotTimes)}  [${oneShotTimes.map((t) => fmtMs(t)).join(', ')}]`);
  console.log(`#   logins per minute on the two servers meanwhile: daemon ${loginsPerMinute.daemon.toFixed(0)}, external-check ${loginsPerMinute.oneShot.toFixed(0)}`);
  console.log(`#   target: <= interval + inter + 0.2 s = ${fmtMs(INTERVAL_S * 1000 + INTER_MS + 200)} (reported, not asserted)`);
});
