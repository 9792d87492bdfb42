// HAProxy for real: a TCP frontend on loopback in front of two simulated SQL Servers (a mirrored
// pair), health-checked with external-check running the built binary through the shipped wrapper.
// Through the stats socket only the principal is UP, that swaps after a failover, and a FreeTDS
// tsql client connecting to the frontend lands on the principal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, BIN_X64 } from '../helpers/paths.ts';
import { tempDir, waitUntil, writePrivate, freePort, run, fmtMs, type Daemon } from './harness.ts';
import { startHaproxy, statsSocket, statsCommand, serverOpState } from './haproxy.ts';
import { DATABASE, LOGIN, loadScenario, passwordOf } from './sim.ts';
import { startSqlSim, type SqlSim } from '../sqlsim/server.ts';
import { failover } from '../sqlsim/catalog.ts';

const INTER_MS = 1000;
const CHECK_TIMEOUT = 3; // the check's default deadline; HAProxy's timeout check is 2 s more
const SWAP_LIMIT_MS = 8_000; // fall 1 / rise 1: one inter plus the check's own run, with room for a loaded CI machine
const WRAPPER_EXAMPLE = join(ROOT, 'doc/examples/haproxy-mssql-check');

let tmp: ReturnType<typeof tempDir>;
let haproxy: Daemon | undefined;
let simA: SqlSim | undefined;
let simB: SqlSim | undefined;
let frontendPort = 0;
let password = '';

before(async () => {
  assert.ok(existsSync(BIN_X64), `${BIN_X64} is missing; run make first`);
  tmp = tempDir('mrc-haproxy');
  const principal = loadScenario('principal');
  const mirror = loadScenario('mirror');
  password = passwordOf(principal);
  simA = await startSqlSim({ scenario: principal });
  simB = await startSqlSim({ scenario: mirror });

  // The config the check reads; host and port come from HAProxy (HAPROXY_SERVER_ADDR/PORT).
  const conf = join(tmp.dir, 'mssql-role-check.conf');
  writePrivate(conf, `database = ${DATABASE}\nuser = ${LOGIN}\npassword = ${password}\ntimeout = ${CHECK_TIMEOUT}\nencrypt = off\n`);
  // HAProxy 2.6 gives the command only PATH and HAPROXY_*, and no way to add options: the shipped
  // wrapper names the config file. Use it, pointed at this build and this config.
  const wrapper = join(tmp.dir, 'haproxy-mssql-check');
  let text: string;
  if (existsSync(WRAPPER_EXAMPLE)) {
    text = readFileSync(WRAPPER_EXAMPLE, 'utf8');
    assert.match(text, /\/usr\/bin\/mssql-role-check/);
    text = text.replaceAll('/usr/bin/mssql-role-check', BIN_X64).replace(/\/etc\/haproxy\/mssql-role-check\.conf/g, conf);
  } else {
    console.log('# NOTE: doc/examples/haproxy-mssql-check is missing; using an equivalent wrapper');
    text = `#!/bin/sh\nexec ${BIN_X64} --config ${conf}\n`;
  }
  writeFileSync(wrapper, text);
  chmodSync(wrapper, 0o755);

  frontendPort = await freePort();
  haproxy = startHaproxy({
    dir: tmp.dir, frontendPort, checkCommand: wrapper, interMs: INTER_MS, fall: 1, rise: 1, checkTimeoutMs: (CHECK_TIMEOUT + 2) * 1000,
    servers: [{ name: 'sqlA', host: simA.host, port: simA.port }, { name: 'sqlB', host: simB.host, port: simB.port }],
  });
  await waitUntil('the HAProxy stats socket', async () => {
    try { await statsCommand(statsSocket(tmp.dir), 'show info'); return true; } catch { return false; }
  }, 10_000, 100).catch((e) => { throw new Error(`${e.message}\n${haproxy!.tail()}`); });
});

after(async () => {
  await haproxy?.stop();
  await simA?.close();
  await simB?.close();
  tmp?.remove();
});

interface ServerView { status: string; checkStatus: string }

/** status and last check status (PROCOK / PROCERR / PROCTOUT from an external check) per server */
async function servers(): Promise<Map<string, ServerView>> {
  const csv = await statsCommand(statsSocket(tmp.dir), 'show stat');
  const [head, ...rows] = csv.split('\n').filter((l) => l.trim() !== '');
  const h = head.replace(/^# /, '').split(',');
  const col = (name: string) => h.indexOf(name);
  const out = new Map<string, ServerView>();
  for (const r of rows) {
    const f = r.split(',');
    if (f[col('pxname')] !== 'mssql' || ['FRONTEND', 'BACKEND'].includes(f[col('svname')])) continue;
    out.set(f[col('svname')], { status: f[col('status')], checkStatus: f[col('check_status')] });
  }
  return out;
}

async function onlyUp(name: 'sqlA' | 'sqlB', what: string): Promise<number> {
  const other = name === 'sqlA' ? 'sqlB' : 'sqlA';
  try {
    return await waitUntil(`${name} alone UP (${what})`, async () => {
      const s = await servers();
      // a server not yet checked shows UP; wait for both to carry a verdict of the external check
      return s.get(name)?.status === 'UP' && s.get(name)?.checkStatus === 'PROCOK' &&
        s.get(other)?.status === 'DOWN' && s.get(other)?.checkStatus === 'PROCERR';
    }, SWAP_LIMIT_MS + 10_000, 50);
  } catch (e) {
    console.log(`--- haproxy:\n${haproxy!.tail(20)}\n--- show stat: ${JSON.stringify([...(await servers())])}`);
    throw e;
  }
}

/** Connect through the HAProxy frontend with FreeTDS tsql and return the server names it printed. */
async function serverNamesThroughFrontend(): Promise<string[]> {
  // tsql reads the password from stdin when it has no terminal (setsid: no controlling tty)
  const r = await run('setsid', ['tsql', '-H', '127.0.0.1', '-p', String(frontendPort), '-U', LOGIN, '-D', DATABASE, '-o', 'q'], {
    input: `${password}\nSELECT @@SERVERNAME\ngo\nexit\n`, limitMs: 20_000,
    env: { PATH: '/usr/bin:/bin', HOME: tmp.dir },
  });
  const known = [simA!.engine.scenario.server.name, simB!.engine.scenario.server.name];
  const names = (r.stdout + r.stderr).split('\n').map((l) => l.trim()).filter((l) => known.includes(l));
  assert.ok(names.length > 0, `tsql through the frontend printed no server name (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return names;
}

test('only the principal is UP; the mirror is DOWN by the external check', async () => {
  const ms = await onlyUp('sqlA', 'A principal, B mirror');
  console.log(`# haproxy: steady state (sqlA UP, sqlB DOWN) ${fmtMs(ms)} after start`);
  const op = await serverOpState(statsSocket(tmp.dir));
  assert.equal(op.get('sqlA'), 2, 'show servers state: sqlA running');
  assert.equal(op.get('sqlB'), 0, 'show servers state: sqlB stopped');
});

test('a tsql client through the HAProxy frontend lands on the principal', async () => {
  const name = simA!.engine.scenario.server.name;
  for (let i = 0; i < 3; i++) assert.deepEqual(await serverNamesThroughFrontend(), [name]);
});

test('after a failover, HAProxy swaps: the new principal UP, the old one DOWN', async () => {
  const t0 = performance.now();
  const [a, b] = failover(simA!.engine.scenario, simB!.engine.scenario);
  simA!.setScenario(a);
  simB!.setScenario(b);
  const ms = await onlyUp('sqlB', 'after failover');
  console.log(`# haproxy: swapped to sqlB ${fmtMs(ms)} after the failover (inter ${INTER_MS} ms, fall 1, rise 1, check --timeout ${CHECK_TIMEOUT} s)`);
  assert.ok(performance.now() - t0 < SWAP_LIMIT_MS, `swap took ${fmtMs(performance.now() - t0)}`);
  assert.deepEqual(await serverNamesThroughFrontend(), [simB!.engine.scenario.server.name]);
});
