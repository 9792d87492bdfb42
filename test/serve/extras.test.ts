// The daemon's extras end to end (packed binary): the simulator's split-brain scenarios behind
// groups — two PRINCIPALs after forced service, two PRIMARYs of a CLUSTER_TYPE = NONE group —
// where neither member passes through HTTP, agent-check and the probe port alike, and healing one
// lets the other pass; real HAProxy (agent-check, and plain TCP checks against the probe ports)
// following a mirrored pair through a drain and a failover, timed; the status page in headless
// Chromium before and after the failover, a screenshot in dist/, a <script> database name shown
// as text.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { existsSync, mkdirSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { startSqlSim, startMirroredPair } from '../sqlsim/server.ts';
import type { SqlSim } from '../sqlsim/server.ts';
import { scenarioFile } from '../sqlsim/scenarios.ts';
import type { Scenario } from '../sqlsim/types.ts';
import { startServe, MONITOR_PASSWORD } from './daemon.ts';
import { BIN_X64, BIN_ARM64, ROOT } from '../helpers/paths.ts';
import { Daemon as Program, freePort, waitUntil, tempDir } from '../peers/harness.ts';
import { serverStatus, statsCommand } from '../peers/haproxy.ts';

assert.ok(existsSync(BIN_X64), `${BIN_X64} is missing: run make first`);

/** The old principal of the forced-service pair, resumed as the mirror (healed). */
function resumedAsMirror(): Scenario {
  const s = scenarioFile('split-forced-old-principal');
  s.databases[0].state_desc = 'RESTORING';
  s.database_mirroring![0].mirroring_role_desc = 'MIRROR';
  return s;
}
/** The forced primary of the CLUSTER_TYPE = NONE pair, made secondary again (healed). */
function demotedToSecondary(): Scenario {
  const s = scenarioFile('split-ag-none-b');
  for (const r of s.dm_hadr_availability_replica_states!) {
    r.role_desc = r.role_desc === 'PRIMARY' ? 'SECONDARY' : 'PRIMARY';
    r.connected_state_desc = 'CONNECTED';
  }
  return s;
}

const XSS_DB = '<script>alert(1)</script>';
const sims: SqlSim[] = [await startSqlSim({ scenario: scenarioFile('split-forced-old-principal'), host: '127.0.0.1' }),
  await startSqlSim({ scenario: scenarioFile('split-forced-new-principal'), host: '127.0.0.1' }),
  await startSqlSim({ scenario: scenarioFile('split-ag-none-a'), host: '127.0.0.1' }),
  await startSqlSim({ scenario: scenarioFile('split-ag-none-b'), host: '127.0.0.1' })];
const [sqlA, sqlB, agA, agB] = sims;
const pair = await startMirroredPair({ principal: scenarioFile('principal'), mirror: scenarioFile('mirror'), host: '127.0.0.1' });
const [m1, m2] = pair.servers;
const probe: Record<string, number> = {};
for (const n of ['sql1', 'sql2', 'ag1', 'ag2', 'm1', 'm2']) probe[n] = await freePort();

const section = (name: string, sim: SqlSim, extra = '') => `[${name}]\nhost = 127.0.0.1\nport = ${sim.port}\nprobe-port = ${probe[name]}\n${extra}`;
const configText = [
  `user = monitor\npassword = ${MONITOR_PASSWORD}\ndatabase = appdb\nencrypt = off\nlisten = 127.0.0.1:0\nagent-listen = 127.0.0.1:0\ninterval = 0.2\nmax-age = 0.6\ntimeout = 2\n`,
  section('sql1', sqlA), section('sql2', sqlB),
  section('ag1', agA, 'database = agdb\n'), section('ag2', agB, 'database = agdb\n'),
  section('m1', m1, 'maintenance-file = @DIR@/drain-m1\nweight = 50\n'), section('m2', m2),
  `[xss]\nhost = 127.0.0.1\nport = ${sqlB.port}\ndatabase = ${XSS_DB}\n`,
  '[group pair]\nmembers = sql1, sql2\n', '[group ag]\nmembers = ag1, ag2\n', '[group mp]\nmembers = m1, m2\n',
].join('\n');
const d = await startServe({ bin: BIN_X64, config: configText });
const agentPort = Number(/agent-check at 127\.0\.0\.1:(\d+)/.exec(await d.waitForLine(/agent-check at /))![1]);
after(async () => {
  await d.stop();
  await Promise.all([...sims.map((s) => s.close()), pair.close()]);
});

/** One agent-check exchange, as HAProxy makes it. */
function agent(line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(agentPort, '127.0.0.1');
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(line + '\n'));
    s.on('data', (b: string) => { buf += b; });
    s.on('error', reject);
    s.on('close', () => resolve(buf));
  });
}
/** 'open' when the probe port accepts a TCP connection, else the error code. */
function port(name: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(probe[name], '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve('open'); });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

interface Seen { http: number; reason: string; agent: string; port: string }
async function seen(name: string): Promise<Seen> {
  const r = await d.get(`/${name}/primary`);
  return { http: r.status, reason: String(r.json?.reason), agent: (await agent(`${name} primary`)).trimEnd(), port: await port(name) };
}
const passing = (s: Seen) => s.http === 200 && /^up ready \d+%$/.test(s.agent) && s.port === 'open';
const failing = (s: Seen) => s.http === 503 && s.agent.startsWith('down #') && s.port === 'ECONNREFUSED';

async function settle(names: string[], ok: (s: Record<string, Seen>) => boolean, limitMs = 5000): Promise<{ ms: number; last: Record<string, Seen> }> {
  const t0 = performance.now();
  let last: Record<string, Seen> = {};
  for (;;) {
    last = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await seen(n)] as const)));
    if (ok(last)) return { ms: performance.now() - t0, last };
    if (performance.now() - t0 > limitMs) throw new Error(`not settled within ${limitMs} ms: ${JSON.stringify(last, null, 1)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const splitRows = [
  { name: 'two PRINCIPALs after forced service', group: 'pair', members: ['sql1', 'sql2'], database: 'appdb', heal: () => sqlA.setScenario(resumedAsMirror()), healed: 'sql1', holder: 'sql2' },
  { name: 'two PRIMARYs of a CLUSTER_TYPE = NONE group', group: 'ag', members: ['ag1', 'ag2'], database: 'agdb', heal: () => agB.setScenario(demotedToSecondary()), healed: 'ag2', holder: 'ag1' },
];

for (const row of splitRows) {
  test(`split brain behind a group: ${row.name}: neither passes through HTTP, agent-check or the probe port; heal one and the other passes`, { timeout: 30_000 }, async () => {
    const want = `split brain: ${row.members[0]} and ${row.members[1]} both claim PRIMARY for "${row.database}"`;
    const { last } = await settle(row.members, (s) => row.members.every((n) => failing(s[n]) && s[n].reason === want));
    for (const n of row.members) {
      assert.equal(last[n].agent, `down #${want}`, `${n}: agent-check`);
    }
    const g = await d.get(`/group/${row.group}/primary`);
    assert.equal(g.status, 503, g.text);
    assert.equal(g.json!.primary, null);
    await d.waitForLine(new RegExp(`group ${row.group}: split brain: .* both claim PRIMARY for "${row.database}"; every claimant fails`));
    const metrics = (await d.get('/metrics')).text;
    assert.match(metrics, new RegExp(`mssql_role_check_split_brain\\{group="${row.group}",role="primary",database="${row.database}"\\} 1`));
    assert.match(metrics, new RegExp(`mssql_role_check_split_brains_total\\{group="${row.group}",role="primary",database="${row.database}"\\} 1`));
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8', timeout: 20_000 });
    assert.equal(lint.status, 0, `promtool, during the split brain: ${lint.stdout}${lint.stderr}`);
    // logged once, however many polls see it
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(d.lines.filter((l) => l.includes(`group ${row.group}: split brain:`)).length, 1, d.lines.join('\n'));

    const t0 = performance.now();
    row.heal();
    const healed = await settle(row.members, (s) => passing(s[row.holder]) && failing(s[row.healed]));
    console.log(`# ${row.name}: healed ${row.healed}; ${row.holder} passes HTTP, agent-check and its probe port ${(performance.now() - t0).toFixed(0)} ms later (interval 0.2 s)`);
    assert.match(healed.last[row.holder].reason, new RegExp(`group ${row.group}: ${row.healed}: `));
    const h = await d.get(`/group/${row.group}/primary`);
    assert.equal(h.status, 200, h.text);
    assert.equal(h.json!.primary, row.holder);
    await d.waitForLine(new RegExp(`group ${row.group}: split brain over for primary of "${row.database}"`));
    // the state-change log speaks of the same verdict as the answers: the group's
    await d.waitForLine(new RegExp(`${row.holder}: database "${row.database}" as primary: \\w+ -> pass`));
    assert.ok(!(await d.get('/metrics')).text.includes(`mssql_role_check_split_brain{group="${row.group}"`), 'no split brain in the gauge once healed');
  });
}

test('agent-check: the whole state in one line; unknown target or role, bad option: down', async () => {
  await settle(['m1', 'm2'], (s) => passing(s.m1) && failing(s.m2));
  assert.equal(await agent('m1 primary'), 'up ready 50%\n', 'the target\'s weight as a percentage');
  assert.match(await agent('m2 primary'), /^down #database "appdb": database is RESTORING, not ONLINE \(a mirror database, or a restore under way: not writable here\)\n$/);
  assert.equal(await agent('m1 online'), 'up ready 50%\n');
  assert.equal(await agent('m1 principal database=appdb'), 'up ready 50%\n');
  assert.match(await agent('m1 primary max-lag=30'), /^down #\?max-lag: applies to --role secondary, not primary\n$/);
  assert.match(await agent('m1 primary database=other'), /^down #\?database: "other" is not polled for target m1/);
  assert.match(await agent('nobody primary'), /^down #unknown target "nobody"\n$/);
  assert.match(await agent('m1 leader'), /^down #unknown role "leader"/);
  assert.match(await agent('m1 constructor'), /^down #unknown role "constructor"/);
  for (const l of d.lines) assert.ok(!l.includes(MONITOR_PASSWORD));
});

// --- real HAProxy --------------------------------------------------------------------------------

const hp = tempDir('serve-haproxy-');
after(() => hp.remove());
const sock = join(hp.dir, 'haproxy.sock');
const haproxyConf = `global
  stats socket ${sock} mode 600 level admin
  pidfile ${join(hp.dir, 'haproxy.pid')}

defaults
  mode tcp
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 1s

listen by_agent
  bind 127.0.0.1:${await freePort()}
  server m1 127.0.0.1:${m1.port} check inter 200ms agent-check agent-addr 127.0.0.1 agent-port ${agentPort} agent-send "m1 primary\\n" agent-inter 200ms weight 100
  server m2 127.0.0.1:${m2.port} check inter 200ms agent-check agent-addr 127.0.0.1 agent-port ${agentPort} agent-send "m2 primary\\n" agent-inter 200ms weight 100

listen by_probe_port
  bind 127.0.0.1:${await freePort()}
  server m1 127.0.0.1:${m1.port} check addr 127.0.0.1 port ${probe.m1} inter 200ms fall 1 rise 1
  server m2 127.0.0.1:${m2.port} check addr 127.0.0.1 port ${probe.m2} inter 200ms fall 1 rise 1
`;
writeFileSync(join(hp.dir, 'haproxy.cfg'), haproxyConf, { mode: 0o600 });
const haproxy = new Program('haproxy', 'haproxy', ['-db', '-f', join(hp.dir, 'haproxy.cfg')], { PATH: process.env.PATH });
after(() => haproxy.stop());

async function states(): Promise<string> {
  // HAProxy 2.6 writes "DOWN (agent)" when the agent said down
  const a = new Map([...await serverStatus(sock, 'by_agent')].map(([k, v]) => [k, v.replace(/ \(agent\)$/, '')]));
  const p = await serverStatus(sock, 'by_probe_port');
  return `agent m1=${a.get('m1')} m2=${a.get('m2')}; probe m1=${p.get('m1')} m2=${p.get('m2')}`;
}
async function haproxyShows(re: RegExp, limitMs = 5000): Promise<number> {
  let last = '';
  try {
    return await waitUntil(`HAProxy to show ${re}`, async () => re.test(last = await states()), limitMs, 10);
  } catch {
    throw new Error(`HAProxy shows ${last}, not ${re}\n${haproxy.tail()}`);
  }
}

test('HAProxy: agent-check and TCP checks of the probe ports follow the daemon: UP / DRAIN / DOWN, and a failover, timed', { timeout: 60_000 }, async () => {
  await waitUntil('the stats socket', () => existsSync(sock), 5000);
  await haproxyShows(/^agent m1=UP m2=DOWN; probe m1=UP m2=DOWN$/);
  const weights = await statsCommand(sock, 'get weight by_agent/m1');
  assert.match(weights, /^50 \(initial 100\)/, 'the agent\'s 50%: the target\'s weight');

  // the maintenance file: the agent says drain, the probe port closes
  writeFileSync(join(d.dir, 'drain-m1'), '');
  const drainMs = await haproxyShows(/^agent m1=DRAIN m2=DOWN; probe m1=DOWN m2=DOWN$/);
  rmSync(join(d.dir, 'drain-m1'));
  const backMs = await haproxyShows(/^agent m1=UP m2=DOWN; probe m1=UP m2=DOWN$/);
  assert.match((await statsCommand(sock, 'show servers state by_agent')), /m1/);
  // a drain set on HAProxy's command line is undone by the agent's next "ready" (the README says so)
  await statsCommand(sock, 'set server by_agent/m1 state drain');
  assert.match((await serverStatus(sock, 'by_agent')).get('m1')!, /^DRAIN/);
  await haproxyShows(/^agent m1=UP m2=DOWN; probe m1=UP m2=DOWN$/);
  console.log(`# HAProxy: DRAIN ${drainMs.toFixed(0)} ms after the maintenance file appeared, UP ${backMs.toFixed(0)} ms after it went (interval 0.2 s, agent-inter 0.2 s)`);

  // a failover: both backends swap
  const t0 = performance.now();
  pair.failover();
  await haproxyShows(/^agent m1=DOWN m2=UP; probe m1=DOWN m2=UP$/);
  const swapMs = performance.now() - t0;
  console.log(`# HAProxy: failover to both backends swapped: ${swapMs.toFixed(0)} ms (interval 0.2 s + inter 0.2 s)`);
  assert.ok(swapMs < 3000, `swapped in ${swapMs.toFixed(0)} ms`);
  const g = await d.get('/group/mp/primary');
  assert.equal(g.json!.primary, 'm2');
  pair.failover();
  await haproxyShows(/^agent m1=UP m2=DOWN; probe m1=UP m2=DOWN$/);
});

// --- the page in headless Chromium ---------------------------------------------------------------

const CHROMIUM = '/usr/bin/chromium';
const profile = tempDir('serve-chromium-');
after(() => profile.remove());
/** Chromium, asynchronously: the simulators live in this process and must go on answering the polls. */
function chromium(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile.dir}`, ...args],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}
/**
 * Load `url` in headless Chromium at width x height and evaluate `expression` there, through the
 * DevTools protocol (a WebSocket of Node's own): what the browser computed, not the HTML sent.
 */
async function inBrowser(url: string, width: number, height: number, expression: string): Promise<unknown> {
  const child = spawn(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile.dir}-cdp`,
    '--remote-debugging-port=0', `--window-size=${width},${height}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const wsUrl = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`no DevTools address from chromium: ${err}`)), 30_000);
      child.stderr!.on('data', (b: Buffer) => {
        err += b.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
    });
    const port = new URL(wsUrl).port;
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as { type: string; webSocketDebuggerUrl: string }[];
    const ws = new WebSocket(targets.find((t) => t.type === 'page')!.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    let id = 0;
    const waiting = new Map<number, (v: { result?: unknown; error?: unknown }) => void>();
    const events: string[] = [];
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as { id?: number; method?: string; result?: unknown; error?: unknown };
      if (msg.id !== undefined) waiting.get(msg.id)?.(msg);
      else if (msg.method) events.push(msg.method);
    };
    const call = (method: string, params: object = {}) => new Promise<{ result?: any; error?: unknown }>((resolve) => {
      const n = ++id;
      waiting.set(n, resolve);
      ws.send(JSON.stringify({ id: n, method, params }));
    });
    await call('Page.enable');
    await call('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: width < 600 });
    await call('Page.navigate', { url });
    await waitUntil('the page to load', () => events.includes('Page.loadEventFired'), 20_000, 20);
    const r = await call('Runtime.evaluate', { expression, returnByValue: true });
    ws.close();
    if (r.error || r.result?.exceptionDetails) throw new Error(`evaluate: ${JSON.stringify(r.error ?? r.result.exceptionDetails)}`);
    return r.result.result.value;
  } finally {
    child.kill('SIGKILL');
  }
}

/** The rows of the targets table as the browser built them: target, database, verdict. */
function rowsOf(dom: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const m of dom.matchAll(/<tr data-target="([^"]*)" data-database="([^"]*)" data-verdict="([^"]*)">/g)) rows.set(`${m[1]}/${m[2]}`, m[3]);
  return rows;
}

test('the status page in headless Chromium: rows and verdicts before and after a failover, a screenshot, a <script> name as text', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), 'chromium (Debian package) is needed');
  const url = `http://127.0.0.1:${d.port}/`;
  await settle(['m1', 'm2'], (s) => passing(s.m1) && failing(s.m2));
  const before = await chromium(['--dump-dom', url]);
  const rows = rowsOf(before);
  assert.equal(rows.get('m1/appdb'), 'pass', before.slice(0, 2000));
  assert.equal(rows.get('m2/appdb'), 'fail');
  assert.equal(rows.get('sql2/appdb'), 'pass', 'healed above');
  assert.equal(rows.get('sql1/appdb'), 'fail');
  assert.equal(rows.size, 7, [...rows.keys()].join(', '));
  assert.match(before, /<tr data-group="mp" data-primary="m2?">|<tr data-group="mp" data-primary="m1">/);
  // the name with <script> in it: text in the page, no element
  assert.ok(before.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the name shown as text');
  assert.ok(!/<script/i.test(before.replace(/"[^"]*"/g, '""')), 'no script element in the DOM');
  assert.deepEqual([...rows].filter(([k]) => k.startsWith('xss/')).map(([, v]) => v), ['fail']);

  pair.failover();
  await settle(['m1', 'm2'], (s) => failing(s.m1) && passing(s.m2));
  const afterDom = await chromium(['--dump-dom', url]);
  const rows2 = rowsOf(afterDom);
  assert.equal(rows2.get('m1/appdb'), 'fail');
  assert.equal(rows2.get('m2/appdb'), 'pass');
  assert.match(afterDom, /<tr data-group="mp" data-primary="m2">/);
  assert.match(afterDom, /<tr data-change="">.*m2.*fail \u2192 <span class="pass">pass<\/span>/s);

  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const shot = join(ROOT, 'dist/serve-status.png');
  const narrow = join(ROOT, 'dist/serve-status-narrow.png');
  rmSync(shot, { force: true });
  await chromium([`--screenshot=${shot}`, '--window-size=1280,1000', '--hide-scrollbars', url]);
  await chromium([`--screenshot=${narrow}`, '--window-size=390,1400', '--hide-scrollbars', url]);
  assert.ok(statSync(shot).size > 10_000, 'a screenshot of the page');
  assert.ok(statSync(narrow).size > 5_000, 'a screenshot of the page on a narrow screen');
  console.log(`# screenshots: dist/serve-status.png (${statSync(shot).size} bytes), dist/serve-status-narrow.png`);

  // on a narrow screen, through the DevTools protocol: nothing wider than the screen, a card per row
  const narrowView = await inBrowser(url, 390, 844, `(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    rows: [...document.querySelectorAll('tr[data-target]')].map((tr) => [tr.dataset.target, tr.dataset.verdict, getComputedStyle(tr).display]),
    scripts: document.querySelectorAll('script').length,
  }))()`) as { scrollWidth: number; rows: [string, string, string][]; scripts: number };
  assert.ok(narrowView.scrollWidth <= 390, `the page is ${narrowView.scrollWidth} px wide on a 390 px screen`);
  assert.equal(narrowView.rows.length, 7);
  assert.ok(narrowView.rows.every(([, , display]) => display === 'block'), JSON.stringify(narrowView.rows));
  assert.deepEqual(narrowView.rows.find(([t]) => t === 'm2')!.slice(0, 2), ['m2', 'pass']);
  assert.equal(narrowView.scripts, 0);
  console.log(`# narrow screen (390 px): the page is ${narrowView.scrollWidth} px wide, ${narrowView.rows.length} rows as cards`);

  // the page's data as JSON
  const j = await d.get('/targets');
  assert.equal(j.status, 200);
  const data = j.json as { rows: { target: string; verdict: string }[]; groups: { name: string; primary: string | null }[] };
  assert.equal(data.rows.find((r) => r.target === 'm2')!.verdict, 'pass');
  assert.equal(data.groups.find((g) => g.name === 'mp')!.primary, 'm2');
  assert.deepEqual((await d.get('/?format=json')).json!.groups, data.groups);
  assert.ok(!j.text.includes(MONITOR_PASSWORD) && !afterDom.includes(MONITOR_PASSWORD));
  pair.failover();
});

test('reload (SIGHUP): a probe port no longer configured closes; a bad probe-port is refused and the old config keeps serving', { timeout: 30_000 }, async () => {
  await settle(['m1', 'm2'], (s) => passing(s.m1) && failing(s.m2));
  let from = d.lines.length;
  d.writeConfig(configText.replace(`probe-port = ${probe.m1}\n`, 'probe-port = 0\n'));
  d.child.kill('SIGHUP');
  await d.waitForLine(/reload refused, the running config stays: .*probe-port: expected a TCP port 1\.\.65535, not 0/, 5000, from);
  assert.equal(await port('m1'), 'open', 'the old config keeps serving');
  from = d.lines.length;
  d.writeConfig(configText.replace(`probe-port = ${probe.m1}\n`, ''));
  d.child.kill('SIGHUP');
  await d.waitForLine(/reloaded /, 5000, from);
  await waitUntil('m1\'s probe port to close', async () => (await port('m1')) === 'ECONNREFUSED', 3000);
  assert.equal((await d.get('/m1/primary')).status, 200, 'm1 still passes; only its probe port is gone');
  assert.equal(await agent('m1 primary'), 'up ready 50%\n', 'the agent listener stays');
});

test('the packed arm64 binary (qemu) runs the extras: agent-check, a probe port, the group, the page', { timeout: 90_000 }, async () => {
  assert.ok(existsSync(BIN_ARM64), `${BIN_ARM64} is missing: run make first`);
  const pp = await freePort();
  const a = await startServe({
    bin: BIN_ARM64, via: ['qemu-aarch64-static'], limitMs: 30_000,
    config: `user = monitor\npassword = ${MONITOR_PASSWORD}\ndatabase = appdb\nencrypt = off\nlisten = 127.0.0.1:0\nagent-listen = 127.0.0.1:0\n`
      + `[m1]\nhost = 127.0.0.1\nport = ${m1.port}\nprobe-port = ${pp}\n[m2]\nhost = 127.0.0.1\nport = ${m2.port}\n[group mp]\nmembers = m1, m2\n`,
  });
  try {
    const ap = Number(/agent-check at 127\.0\.0\.1:(\d+)/.exec(await a.waitForLine(/agent-check at /, 30_000))![1]);
    const ask = (line: string) => new Promise<string>((resolve, reject) => {
      const s = connect(ap, '127.0.0.1');
      let buf = '';
      s.on('connect', () => s.write(line + '\n'));
      s.on('data', (b) => { buf += b.toString(); });
      s.on('error', reject);
      s.on('close', () => resolve(buf));
    });
    await waitUntil('m1 to pass on arm64', async () => (await ask('m1 primary')) === 'up ready 100%\n', 20_000, 100);
    assert.match(await ask('m2 primary'), /^down #/);
    const g = await a.get('/group/mp/primary');
    assert.equal(g.json!.primary, 'm1', g.text);
    const page = await a.get('/');
    assert.match(page.headers['content-type'] as string, /^text\/html/);
    assert.match(page.text, /<tr data-target="m1" data-database="appdb" data-verdict="pass">/);
    await waitUntil('the probe port to listen', () => new Promise<boolean>((resolve) => {
      const s = connect(pp, '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    }), 5000, 50);
  } finally {
    assert.equal((await a.stop()).code, 0);
  }
});
