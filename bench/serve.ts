// make bench-serve: what a check answered by the daemon (`mssql-role-check serve`, the packed x64
// binary) costs, with 2 and with 50 targets, side by side with the one-shot check.
//   idle      the daemon polling its targets and answering nothing: CPU ms per poll (its own CPU
//             time, all threads, from /proc/PID/task/*/schedstat, over the polls /metrics counts)
//   closed    C concurrent keep-alive clients, R requests in all, round robin over the targets'
//             /TARGET/primary: p50 / p99 latency, requests/s, daemon CPU ms per 1000 requests
//   paced     a fixed rate (default 500 requests/s) for S seconds: p50 / p99 / max latency
//   ref       the same paced load against a plain node:http server of the same Node.js answering a
//             fixed body: what the client, loopback and machine cost without the daemon
//   RSS       the daemon's resident set after the load (VmRSS)
//   logins    logins per minute on the simulated servers after the daemon's start, as sqlsim
//             counts them (the daemon logs in once per target, then polls on that session)
//   one-shot  the same check run as a process K times: CPU ms per verdict (user + sys of the
//             child, from this process's cutime/cstime) and logins per check
// The simulated servers (sqlsim, a mirrored pair: 50 targets share its 2 listeners, alternately)
// run in a process of their own, so that their work neither counts as the daemon's CPU nor holds
// this process's loop while it times requests. The daemon runs from a copy of the binary read
// back from disk, as after a reboot (coldCopy in bench/lib.ts: a binary just written by the build
// maps as large folios, and its RSS would be ~17 MB larger).
//
//   node bench/serve.ts [--clients 8] [--requests 20000] [--rate 500] [--seconds 10] [--idle 15] [--runs 20]
//   node bench/serve.ts ... --bin FILE      another packed x64 binary (an A/B of a build change)
//   node bench/serve.ts --soak MINUTES     RSS and open fds at start and end (make soak-serve)
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn, spawnSync } from 'node:child_process';
import { ROOT, NODE, CLEAN_ENV, spread, machine, coldCopy } from './lib.ts';
import { SimProcess } from '../test/peers/sim.ts';
import { freePort } from '../test/peers/harness.ts';
import { startServe, configFor, waitForPolls, MONITOR_PASSWORD, type ServeProcess } from '../test/serve/daemon.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '8' },
    requests: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    idle: { type: 'string', default: '15' },
    runs: { type: 'string', default: '20' },
    targets: { type: 'string', default: '2,50' },
    soak: { type: 'string' },
    bin: { type: 'string' },
  },
});
const num = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not ${values[name]}`);
  return n;
};
const BUILT = values.bin ?? join(ROOT, 'dist/mssql-role-check-linux-x64');
if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run make first, or give --bin an existing binary`);
const BIN = coldCopy(BUILT, join(ROOT, 'dist/bench'));
const INTERVAL_S = 1;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** CPU ns of every thread of a process (schedstat's first field: time on a CPU). */
function cpuNs(pid: number): number {
  let total = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try { total += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* thread gone */ }
  }
  return total;
}
const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** The polls the daemon has completed, from /metrics (the poll duration histogram's counts). */
async function pollCount(d: ServeProcess): Promise<number> {
  const text = (await d.get('/metrics')).text;
  return [...text.matchAll(/^mssql_role_check_poll_duration_seconds_count\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
/** requests retried because the daemon closed an idle keep-alive socket as it was reused (Node's documented race) */
let retries = 0;
function get(port: number, path: string, again = true): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, ms: performance.now() - t0 }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${path} in 10 s`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (again && req.reusedSocket && err.code === 'ECONNRESET') {
        retries++;
        return get(port, path, false).then(resolve, reject);
      }
      reject(err);
    });
    req.end();
  });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms3 = (v: number) => `${v.toFixed(3)} ms`;

/** A mirrored pair of simulated servers in a process of their own: a principal (a) and its mirror (b). */
interface Pair { sim: SimProcess; ports: number[]; logins(): Promise<number>; failover(): Promise<void> }

async function startPair(): Promise<Pair> {
  const [pa, pb] = [await freePort(), await freePort()];
  const sim = await SimProcess.start({ scenario: 'principal', host: '127.0.0.1', port: pa, partner: { scenario: 'mirror', port: pb }, name: 'bench-sim' });
  return {
    sim,
    ports: sim.listening.map((l) => l.port),
    async logins() {
      const servers = JSON.parse((await sim.control('status')).slice(3)) as { logins: number }[];
      return servers.reduce((n, x) => n + x.logins, 0);
    },
    async failover() { await sim.control('failover'); },
  };
}

interface Setup { pair: Pair; d: ServeProcess; names: string[]; loginsAtStart: number; startedAt: number }

async function setUp(targets: number): Promise<Setup> {
  const pair = await startPair();
  const names = Array.from({ length: targets }, (_, i) => `sql${i + 1}`);
  const spec = Object.fromEntries(names.map((n, i) => [n, { port: pair.ports[i % 2] }]));
  const d = await startServe({ bin: BIN, config: configFor(spec, `interval = ${INTERVAL_S}\ntimeout = 3\n`), env: CLEAN_ENV, limitMs: 30_000 });
  await waitForPolls(d, names, 30_000);
  return { pair, d, names, loginsAtStart: await pair.logins(), startedAt: performance.now() };
}

async function tearDown(s: Setup): Promise<void> {
  await s.d.stop();
  await s.pair.sim.stop();
}

/** The targets' primary paths; the principal's targets answer 200, the mirror's 503. */
const paths = (s: Setup) => s.names.map((n) => `/${n}/primary`);

async function closedLoop(s: Setup, clients: number, total: number) {
  const list = paths(s);
  const lat: number[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const cpu0 = cpuNs(s.d.child.pid!);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < total) {
      const path = list[next++ % list.length];
      const r = await get(s.d.port, path);
      lat.push(r.ms);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  }));
  const wall = performance.now() - t0;
  const cpuMs = (cpuNs(s.d.child.pid!) - cpu0) / 1e6;
  lat.sort((a, b) => a - b);
  return { p50: pct(lat, 50), p99: pct(lat, 99), rps: (total / wall) * 1000, cpuPer1000: (cpuMs / total) * 1000, statuses };
}

async function paced(port: number, list: string[], rate: number, seconds: number) {
  const lat: number[] = [];
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(get(port, list[i % list.length]).then((r) => { lat.push(r.ms); }));
  }
  await Promise.all(pending);
  const achieved = (total / (performance.now() - t0)) * 1000;
  lat.sort((a, b) => a - b);
  return { p50: pct(lat, 50), p99: pct(lat, 99), max: lat.at(-1)!, achieved };
}

async function idle(s: Setup, seconds: number) {
  const pid = s.d.child.pid!;
  const [c0, p0] = [cpuNs(pid), await pollCount(s.d)];
  await sleep(seconds * 1000);
  const [c1, p1] = [cpuNs(pid), await pollCount(s.d)];
  // the two /metrics requests are in the CPU too: a fraction of a millisecond
  return { polls: p1 - p0, cpuMs: (c1 - c0) / 1e6, cpuMsPerPoll: (c1 - c0) / 1e6 / Math.max(1, p1 - p0), cpuMsPerS: (c1 - c0) / 1e6 / seconds };
}

/**
 * The reference for the paced latency: the same Node.js, with the daemon's V8 flags, answering
 * every request with a fixed 200 JSON body from memory; what the client and loopback cost alone.
 */
async function reference(rate: number, seconds: number) {
  const script = `const b = Buffer.from('{"status":"ok"}\\n');
require('node:http').createServer((q, r) => { q.resume(); r.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': b.length }); r.end(b); })
  .listen(0, '127.0.0.1', function () { console.log(this.address().port); });`;
  const child = spawn(NODE, ['--max-semi-space-size=1', '--max-old-space-size=128', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once('exit', (c) => reject(new Error(`the reference server exited ${c}`)));
    });
    return await paced(port, ['/a/primary', '/b/primary'], rate, seconds);
  } finally {
    child.kill();
  }
}

/** /proc/self/stat's cutime + cstime (waited-for children), in ms. */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tck = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return ((Number(f[13]) + Number(f[14])) * 1000) / tck; // fields 16 and 17 of stat(5)
}

async function oneShot(runs: number) {
  const pair = await startPair();
  try {
    const args = ['--host', '127.0.0.1', '--port', String(pair.ports[0]), '--user', 'monitor', '--database', 'appdb', '--encrypt', 'off', '--timeout', '5'];
    const env = { ...CLEAN_ENV, MSSQL_PASSWORD: MONITOR_PASSWORD };
    spawnSync(BIN, args, { env }); // warm the page cache
    const [cpu0, l0] = [childrenCpuMs(), await pair.logins()];
    const walls: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = spawnSync(BIN, args, { env, stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`one-shot check exited ${r.status}`);
      walls.push(performance.now() - t0);
    }
    return { cpuPerVerdict: (childrenCpuMs() - cpu0) / runs, loginsPerCheck: ((await pair.logins()) - l0) / runs, wall: spread(walls).median };
  } finally {
    await pair.sim.stop();
  }
}

async function soak(minutes: number): Promise<void> {
  const s = await setUp(50);
  const pid = s.d.child.pid!;
  const sample = () => ({ rssMb: s.d.rssKb() / 1024, fds: openFds(pid) });
  console.log(`soak: 50 targets, ${minutes} min, 200 requests/s, a failover every 30 s; pid ${pid}`);
  const before = sample();
  console.log(`  before any request: RSS ${before.rssMb.toFixed(1)} MB, ${before.fds} open fds`);
  // the load's keep-alive connections (up to 64) are open fds of the daemon from here on
  await paced(s.d.port, paths(s), 200, 10);
  const start = sample();
  console.log(`  start (after 10 s of load): RSS ${start.rssMb.toFixed(1)} MB, ${start.fds} open fds`);
  const end = Date.now() + minutes * 60_000;
  let lastFailover = Date.now();
  let minute = 0;
  while (Date.now() < end) {
    await paced(s.d.port, paths(s), 200, 10);
    if (Date.now() - lastFailover >= 30_000) { await s.pair.failover(); lastFailover = Date.now(); }
    const m = Math.floor((Date.now() - (end - minutes * 60_000)) / 60_000);
    if (m > minute) {
      minute = m;
      const x = sample();
      console.log(`  minute ${m}: RSS ${x.rssMb.toFixed(1)} MB, ${x.fds} open fds`);
    }
  }
  const last = sample();
  const logins = (await s.pair.logins()) - s.loginsAtStart;
  console.log(`  end:   RSS ${last.rssMb.toFixed(1)} MB, ${last.fds} open fds; logins after start: ${logins}; ` +
    `requests retried on a reused keep-alive socket the daemon had closed: ${retries}`);
  await tearDown(s);
}

async function main(): Promise<void> {
  if (values.soak !== undefined) return soak(num('soak'));
  const clients = num('clients');
  const requests = num('requests');
  const rate = num('rate');
  const seconds = num('seconds');
  const idleS = num('idle');
  const runs = num('runs');
  const counts = values.targets!.split(',').map(Number);
  console.log(`bench-serve: ${machine()}; the packed x64 daemon, interval ${INTERVAL_S} s, against sqlsim on loopback (TLS off)`);
  const rows: string[][] = [];
  let perCheckDaemon = NaN;
  let loginsPerMinute = NaN;
  const idles: { polls: number; cpuMs: number }[] = [];
  for (const n of counts) {
    const s = await setUp(n);
    try {
      const rssStart = s.d.rssKb() / 1024;
      const i = await idle(s, idleS);
      idles.push(i);
      const c = await closedLoop(s, clients, requests);
      const p = await paced(s.d.port, paths(s), rate, seconds);
      const rss = s.d.rssKb() / 1024;
      const minutes = (performance.now() - s.startedAt) / 60_000;
      const logins = (await s.pair.logins()) - s.loginsAtStart;
      const lpm = logins / minutes;
      if (n === counts[0]) { perCheckDaemon = c.cpuPer1000 / 1000; loginsPerMinute = lpm; }
      rows.push([`${n}`, ms3(c.p50), ms3(c.p99), c.rps.toFixed(0), c.cpuPer1000.toFixed(0), `${ms3(p.p50)} / ${ms3(p.p99)} / ${ms3(p.max)} at ${p.achieved.toFixed(0)}/s`,
        `${rssStart.toFixed(1)} / ${rss.toFixed(1)}`, `${i.cpuMsPerS.toFixed(2)}`, `${i.cpuMsPerPoll.toFixed(3)} (${i.polls} polls)`, lpm.toFixed(2)]);
      const bad = [...c.statuses.keys()].filter((k) => k !== 200 && k !== 503);
      if (bad.length) throw new Error(`unexpected statuses under load: ${JSON.stringify([...c.statuses])}`);
    } finally {
      await tearDown(s);
    }
  }
  const ref = await reference(rate, seconds);
  rows.push(['ref', '', '', '', '', `${ms3(ref.p50)} / ${ms3(ref.p99)} / ${ms3(ref.max)} at ${ref.achieved.toFixed(0)}/s`, '', '', '', '']);
  const head = ['targets', 'p50', 'p99', 'req/s', 'CPU ms/1000 req', `paced ${rate}/s: p50 / p99 / max`, 'RSS MB start / after', 'idle CPU ms/s', 'idle CPU ms/poll', 'logins/min'];
  console.log(`\nclosed loop: ${clients} clients, ${requests} requests; idle: ${idleS} s; paced: ${seconds} s`);
  const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const line = (r: string[]) => r.map((v, k) => v.padEnd(widths[k])).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  console.log('ref: a plain node:http server of the same Node.js and V8 flags answering a fixed body (the client and loopback alone)');
  if (idles.length >= 2) {
    // what one more poll costs, the daemon's idle floor (timers, GC, the listener) taken out
    const [a, b] = [idles[0], idles.at(-1)!];
    console.log(`CPU per poll, marginal (${counts[0]} → ${counts.at(-1)} targets): ${((b.cpuMs - a.cpuMs) / Math.max(1, b.polls - a.polls)).toFixed(3)} ms`);
  }

  const o = await oneShot(runs);
  console.log(`\nper check, side by side (${runs} one-shot runs):`);
  console.log(`  daemon:   ${perCheckDaemon.toFixed(3)} ms CPU per verdict (an HTTP answer), logins per minute after start ${loginsPerMinute.toFixed(2)}`);
  console.log(`  one-shot: ${o.cpuPerVerdict.toFixed(1)} ms CPU per verdict (a process, ${o.wall.toFixed(0)} ms wall), ${o.loginsPerCheck.toFixed(2)} login per check` +
    ` = ${(60 / 2 * o.loginsPerCheck).toFixed(0)} logins per minute per server at a check every 2 s`);
  console.log(`requests retried on a reused keep-alive socket the daemon had closed: ${retries}`);
  console.log('\ntargets (reported, not asserted): p99 <= 1 ms at 500 req/s with 2 targets; RSS <= 80 MB with 50 targets; CPU per poll <= 1 ms; logins per minute after start 0');
}

await main();
agent.destroy();
