// HAProxy for real: a TCP frontend on loopback in front of two simulated SQL Servers (a mirrored
// pair), health-checked with external-check running the built binary through the shipped wrapper.
// Through the stats socket only the principal is UP, that swaps after a failover, and a FreeTDS
// tsql client connecting to the frontend lands on the principal. Then the README's HAProxy recipe,
// run as written on a copy of the distribution's own /etc/haproxy/haproxy.cfg (chroot, user
// haproxy, daemon): with the chroot left in every check fails, after the recipe the principal is UP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, chmodSync, chownSync, copyFileSync, mkdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, BIN_X64 } from '../helpers/paths.ts';
import { tempDir, waitUntil, writePrivate, freePort, run, fmtMs, secureCopy, Daemon } from './harness.ts';
import { startHaproxy, statsSocket, statsCommand, serverOpState } from './haproxy.ts';
import { DATABASE, LOGIN, loadScenario, passwordOf, asDocumented } from './sim.ts';
import { codeBlocks, substitute } from '../helpers/readme-blocks.ts';
import { startSqlSim, type SqlSim } from '../sqlsim/server.ts';
import { makeTestCertificates, type TestCertificates } from '../sqlsim/certs.ts';
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
    text = text.replaceAll('/usr/bin/mssql-role-check', BIN_X64).replace(/\/etc\/mssql-role-check\/mssql-role-check\.conf/g, conf);
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

// ---------------------------------------------------------------- the README's recipe, stock config

const STOCK_CFG = '/etc/haproxy/haproxy.cfg';

/**
 * The README's HAProxy block as a script for this machine: only paths, addresses and the reload
 * are substituted (the installed paths into a scratch folder, the example servers into two
 * simulators, `systemctl reload` into nothing: the test starts HAProxy itself).
 */
function readmeRecipe(o: { cfg: string; conf: string; wrapperSource: string; bin: string; port: number; a: SqlSim; b: SqlSim; keepChroot: boolean }): string {
  const [block] = codeBlocks('HAProxy', 'sh');
  let text = substitute(block, [
    ['/etc/haproxy/haproxy.cfg', o.cfg],
    ['/etc/mssql-role-check/mssql-role-check.conf', o.conf],
    ['/usr/share/doc/mssql-role-check/examples/haproxy-mssql-check', o.wrapperSource],
    ['/usr/local/bin/', `${o.bin}/`],
    ['bind :1433', `bind 127.0.0.1:${o.port}`],
    ['10.0.0.11:1433', `${o.a.host}:${o.a.port}`],
    ['10.0.0.12:1433', `${o.b.host}:${o.b.port}`],
    ['&& systemctl reload haproxy', ''],
  ]);
  if (o.keepChroot) text = substitute(text, [[/^sed -i .*chroot.*$/m, ': the chroot stays']]);
  return text;
}

/** Debian's haproxy.cfg as the package installed it (dpkg -V: unchanged), its stats socket in DIR. */
function stockConfig(dir: string): string {
  const verify = spawnSync('dpkg', ['-V', 'haproxy'], { encoding: 'utf8' });
  assert.equal(verify.status, 0, `dpkg -V haproxy: ${verify.stdout}${verify.stderr}`);
  assert.doesNotMatch(verify.stdout, /haproxy\.cfg/, `${STOCK_CFG} is not the distribution's any more:\n${verify.stdout}`);
  const stock = readFileSync(STOCK_CFG, 'utf8');
  for (const line of [/^\s*chroot \/var\/lib\/haproxy$/m, /^\s*user haproxy$/m, /^\s*group haproxy$/m, /^\s*daemon$/m]) {
    assert.match(stock, line, `the stock global section has ${line}`);
  }
  // the one change: its stats socket, so that this test reads its own HAProxy's
  return substitute(stock, [[/stats socket \S+/, `stats socket ${statsSocket(dir)}`]]);
}

async function readmeHaproxy(keepChroot: boolean): Promise<{ state: () => Promise<Map<string, ServerView>>; stop: () => Promise<void>; daemon: Daemon }> {
  const dir = join(tmp.dir, keepChroot ? 'stock-chroot' : 'stock');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  chmodSync(join(dir, 'bin'), 0o755);
  chmodSync(tmp.dir, 0o711); // HAProxy's checks run as the user haproxy: let it reach its files
  chmodSync(dir, 0o711);
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, stockConfig(dir));
  // The installed config file: the example, with this login's password; root's, mode 0640.
  const conf = join(dir, 'mssql-role-check.conf');
  // TLS is on and verified by default: the simulators' certificates are pinned with ca-file, as the
  // README says for a server with its own certificate (HAProxy passes its checks no environment)
  const ca = join(dir, 'sql-ca.pem');
  copyFileSync(docCerts().caFile, ca);
  chmodSync(ca, 0o644);
  writeFileSync(conf, readFileSync(join(ROOT, 'doc/examples/mssql-role-check.conf'), 'utf8') + `password = ${password}\nca-file = ${ca}\n`);
  chownSync(conf, 0, 0);
  chmodSync(conf, 0o640);
  // The installed wrapper, naming this build and this config file.
  mkdirSync(join(dir, 'examples'));
  const wrapperSource = join(dir, 'examples/haproxy-mssql-check');
  // a copy of the binary where the user haproxy can reach it (the checkout may be under /root)
  const bin = secureCopy(BIN_X64, dir, 'mssql-role-check');
  writeFileSync(wrapperSource, substitute(readFileSync(WRAPPER_EXAMPLE, 'utf8'), [
    ['/usr/bin/mssql-role-check', bin], ['/etc/mssql-role-check/mssql-role-check.conf', conf]]));
  const port = await freePort();
  const script = readmeRecipe({ cfg, conf, wrapperSource, bin: join(dir, 'bin'), port, a: docA!, b: docB!, keepChroot });
  const r = spawnSync('sh', ['-e', '-c', script], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } });
  assert.equal(r.status, 0, `the README's HAProxy recipe failed:\n${r.stdout}${r.stderr}\n--- script:\n${script}`);
  const st = statSync(conf);
  assert.equal(st.mode & 0o777, 0o640);
  assert.equal(st.gid, Number(spawnSync('id', ['-g', 'haproxy'], { encoding: 'utf8' }).stdout.trim()), 'the recipe gave the config file to haproxy');
  assert.equal(/^\s*chroot /m.test(readFileSync(cfg, 'utf8')), keepChroot, 'chroot line');
  const daemon = new Daemon('haproxy-stock', 'haproxy', ['-db', '-f', cfg], { PATH: process.env.PATH });
  await waitUntil('the stock HAProxy stats socket', async () => {
    if (!daemon.running) throw new Error(`haproxy exited:\n${daemon.tail()}`);
    try { await statsCommand(statsSocket(dir), 'show info'); return true; } catch { return false; }
  }, 10_000, 100);
  const state = async () => {
    const csv = await statsCommand(statsSocket(dir), 'show stat');
    const [head, ...rows] = csv.split('\n').filter((l) => l.trim() !== '');
    const h = head.replace(/^# /, '').split(',');
    const out = new Map<string, ServerView>();
    for (const row of rows) {
      const f = row.split(',');
      if (f[h.indexOf('pxname')] === 'mssql' && !['FRONTEND', 'BACKEND'].includes(f[h.indexOf('svname')])) {
        out.set(f[h.indexOf('svname')], { status: f[h.indexOf('status')], checkStatus: f[h.indexOf('check_status')] });
      }
    }
    return out;
  };
  return { state, stop: () => daemon.stop(), daemon };
}

let docA: SqlSim | undefined;
let docB: SqlSim | undefined;
after(async () => { await docA?.close(); await docB?.close(); });

/** The documented servers' certificates, in a directory HAProxy's user can read. */
let docCertsMade: TestCertificates | undefined;
function docCerts(): TestCertificates {
  if (!docCertsMade) {
    const d = join(tmp.dir, 'doc-certs');
    docCertsMade = makeTestCertificates(d);
    chmodSync(d, 0o755);
    chmodSync(docCertsMade.caFile, 0o644);
  }
  return docCertsMade;
}

// inter 4s as the README has it, HAProxy's default fall 3 / rise 2: the verdicts take ~15 s
const STOCK_LIMIT_MS = 40_000;

test('README recipe on the stock haproxy.cfg, chroot left in: every check fails (why the recipe drops it)', { timeout: 90_000 }, async () => {
  docA ??= await startSqlSim({ scenario: asDocumented(loadScenario('principal')), tls: { cert: docCerts().cert, key: docCerts().key } });
  docB ??= await startSqlSim({ scenario: asDocumented(loadScenario('mirror')), tls: { cert: docCerts().cert, key: docCerts().key } });
  const h = await readmeHaproxy(true);
  try {
    await waitUntil('both servers DOWN by the external check', async () => {
      const s = await h.state();
      return ['sql1', 'sql2'].every((n) => s.get(n)?.status === 'DOWN' && s.get(n)?.checkStatus === 'PROCERR');
    }, STOCK_LIMIT_MS, 200).catch(async (e) => { throw new Error(`${e.message}\n${JSON.stringify([...(await h.state())])}\n${h.daemon.tail(20)}`); });
    // for the reason the README gives: inside the chroot the command does not exist
    assert.match(h.daemon.output, /Failed to exec process for external health check: No such file or directory/, h.daemon.tail(20));
  } finally {
    await h.stop();
  }
});

test('README recipe on the stock haproxy.cfg (user haproxy, chroot dropped): the principal alone is UP', { timeout: 90_000 }, async () => {
  docA ??= await startSqlSim({ scenario: asDocumented(loadScenario('principal')), tls: { cert: docCerts().cert, key: docCerts().key } });
  docB ??= await startSqlSim({ scenario: asDocumented(loadScenario('mirror')), tls: { cert: docCerts().cert, key: docCerts().key } });
  const h = await readmeHaproxy(false);
  try {
    const ms = await waitUntil('sql1 UP and sql2 DOWN', async () => {
      const s = await h.state();
      return s.get('sql1')?.status === 'UP' && s.get('sql1')?.checkStatus === 'PROCOK' &&
        s.get('sql2')?.status === 'DOWN' && s.get('sql2')?.checkStatus === 'PROCERR';
    }, STOCK_LIMIT_MS, 200).catch(async (e) => { throw new Error(`${e.message}\n${JSON.stringify([...(await h.state())])}\n${h.daemon.tail(20)}`); });
    console.log(`# haproxy, stock global + README recipe: sql1 UP, sql2 DOWN ${fmtMs(ms)} after start`);
  } finally {
    await h.stop();
  }
});
