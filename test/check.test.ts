// The built x64 binary against sqlsim, end to end: roles, failover, permissions, several and
// strange database names, TLS, the SQL Server Browser, HAProxy, --weight, drain, and every fault
// the simulator can show ending in exit 1 within the deadline. The simulators run in this process;
// the binary is a child with a bounded time. The password goes in a 0600 file or MSSQL_PASSWORD.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BIN_X64 } from './helpers/paths.ts';
import { startSqlSim } from './sqlsim/server.ts';
import type { SqlSim, SqlSimOptions } from './sqlsim/server.ts';
import { startBrowser } from './sqlsim/browser.ts';
import { makeTestCertificates } from './sqlsim/certs.ts';
import type { TestCertificates } from './sqlsim/certs.ts';
import { failover } from './sqlsim/scenarios.ts';
import type { Scenario, Login } from './sqlsim/types.ts';
import type { Fault } from './sqlsim/faults.ts';
import { message, done } from './sqlsim/tds/tokens.ts';
import { splitPackets, framePackets, walkTokens } from './fuzz/mutate.ts';

/** The binary under test: dist's x64 build (MSSQL_ROLE_CHECK_BIN may name another, e.g. a qemu wrapper). */
const BIN = process.env.MSSQL_ROLE_CHECK_BIN ?? BIN_X64;

const PASSWORD = 'Chk-Pw_4417-zeta';
let dir: string;
let pwFile: string;
let certs: TestCertificates;

before(() => {
  assert.ok(existsSync(BIN), `${BIN} is missing: make builds it before the tests`);
  dir = mkdtempSync(join(tmpdir(), 'check-test-'));
  pwFile = join(dir, 'password');
  writeFileSync(pwFile, PASSWORD + '\n', { mode: 0o600 });
  certs = makeTestCertificates(join(dir, 'certs'));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ running the binary

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(args: string[], opts: { env?: Record<string, string>; killAfterMs?: number; onSpawn?: (pid: number) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(BIN, args, { env: { PATH: '/usr/bin:/bin', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 20_000);
    child.on('error', (err) => { clearTimeout(killer); reject(err); });
    child.on('spawn', () => opts.onSpawn?.(child.pid!));
    child.on('close', (status, signal) => {
      clearTimeout(killer);
      resolve({ status, signal, stdout, stderr, ms: performance.now() - start });
    });
  });
}

/**
 * Arguments that reach a simulated server as the monitoring login (with --timeout 5 unless given,
 * and --encrypt off unless an --encrypt is given: most simulators here have no certificate, and
 * the tests of TLS and of the default say their --encrypt, or DEFAULT_TLS for none at all).
 */
function at(sim: SqlSim, ...rest: string[]): string[] {
  const timeout = rest.includes('--timeout') ? [] : ['--timeout', '5'];
  const encrypt = rest.includes('--encrypt') ? [] : rest.includes(DEFAULT_TLS) ? [] : ['--encrypt', 'off'];
  return ['--host', sim.host, '--port', String(sim.port), '--user', 'monitor', '--password-file', pwFile, ...timeout, ...encrypt,
    ...rest.filter((a) => a !== DEFAULT_TLS)];
}
/** Given to at() or check(): no --encrypt on the command line, the default. */
const DEFAULT_TLS = '<default --encrypt>';

interface Report {
  verdict: string;
  exitCode: number;
  reason: string;
  errorCode: string | null;
  phase: string | null;
  databases: Array<{ name: string; pass: boolean; reason: string; facts: Record<string, unknown> | null }>;
  timings: Record<string, number>;
}

async function check(sim: SqlSim, ...rest: string[]): Promise<Run & { report: Report }> {
  const r = await run(at(sim, '--json', ...rest));
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    return assert.fail(`no JSON on stdout (exit ${r.status}): ${r.stdout} ${r.stderr}`);
  }
  assert.equal(report.exitCode, r.status, 'the JSON tells the exit code');
  return { ...r, report };
}

async function withSims<T>(opts: SqlSimOptions[], fn: (sims: SqlSim[]) => Promise<T>): Promise<T> {
  const sims: SqlSim[] = [];
  try {
    for (const o of opts) sims.push(await startSqlSim(o));
    return await fn(sims);
  } finally {
    await Promise.all(sims.map((s) => s.close()));
  }
}

// ------------------------------------------------------------------ scenarios

/** A password with the characters JSON escapes: a quoted name in a message must not give it away. */
const QUOTED_PASSWORD = 'Qt"Pw\\9183-omega';

const LOGINS: Login[] = [
  { name: 'monitor', password: PASSWORD, sysadmin: true, viewServerState: true, viewAnyDatabase: true },
  { name: 'quoted', password: QUOTED_PASSWORD, sysadmin: true, viewServerState: true, viewAnyDatabase: true },
  { name: 'lowpriv', password: PASSWORD, sysadmin: false, viewServerState: true, viewAnyDatabase: true },
  { name: 'nostate', password: PASSWORD, sysadmin: false, viewServerState: false, viewAnyDatabase: true },
];

const WEIRD = ["O'Brien", 'Sales [EU]', 'Stock Room', 'Ünïcødé Straße', 'x]; DROP DATABASE master; --', '数据库'];

function mirrored(name: string, role: 'PRINCIPAL' | 'MIRROR', state = 'SYNCHRONIZED'): Scenario {
  const dbs = ['Sales', 'Stock'];
  return {
    server: { name },
    logins: LOGINS,
    databases: [
      ...dbs.map((db, i) => ({ name: db, database_id: 5 + i, state_desc: role === 'PRINCIPAL' ? 'ONLINE' : 'RESTORING' })),
      { name: 'Plain', database_id: 9 },
    ],
    database_mirroring: dbs.map((_, i) => ({
      database_id: 5 + i, mirroring_role_desc: role, mirroring_state_desc: state,
      mirroring_partner_name: 'TCP://partner.example:5022',
    })),
  };
}

const AG_ID = '6B0A8C1E-6A4C-4C5E-9E1B-3C1F00000001';
const R = ['6B0A8C1E-6A4C-4C5E-9E1B-3C1F0000000A', '6B0A8C1E-6A4C-4C5E-9E1B-3C1F0000000B', '6B0A8C1E-6A4C-4C5E-9E1B-3C1F0000000C'];
const SERVERS = ['AG1', 'AG2', 'AG3'];

/** One server of a three-replica AG: AG1 primary, AG2 synchronous readable, AG3 asynchronous lagging. */
function agServer(local: 0 | 1 | 2, opts: { primary?: number; lag?: number } = {}): Scenario {
  const primary = opts.primary ?? 0;
  const role = (k: number) => (k === primary ? 'PRIMARY' : 'SECONDARY');
  const replicas = [0, 1, 2].map((k) => ({
    replica_id: R[k], group_id: AG_ID, replica_server_name: SERVERS[k],
    availability_mode_desc: k === 2 ? 'ASYNCHRONOUS_COMMIT' : 'SYNCHRONOUS_COMMIT',
    failover_mode_desc: k === 2 ? 'MANUAL' : 'AUTOMATIC',
    secondary_role_allow_connections_desc: 'READ_ONLY',
  }));
  const visible = local === primary ? [0, 1, 2] : [local];
  return {
    server: { name: SERVERS[local], isHadrEnabled: true },
    logins: LOGINS,
    databases: [{ name: 'agdb', database_id: 5 }, { name: 'plain', database_id: 6 }],
    availability_groups: [{ group_id: AG_ID, name: 'ag1' }],
    availability_replicas: replicas,
    dm_hadr_availability_replica_states: visible.map((k) => ({ replica_id: R[k], group_id: AG_ID, role_desc: role(k) })),
    dm_hadr_database_replica_states: visible.map((k) => ({
      database_id: 5, replica_id: R[k], group_id: AG_ID,
      ...(k === 2 && k !== primary ? { redo_queue_size: (opts.lag ?? 45) * 100, redo_rate: 100 } : {}),
    })),
  };
}

function standalone(): Scenario {
  return {
    server: { name: 'SOLO' },
    logins: LOGINS,
    databases: [
      { name: 'appdb', database_id: 5 },
      { name: 'ro', database_id: 6, is_read_only: true },
      { name: 'gone', database_id: 7, state_desc: 'OFFLINE' },
      ...WEIRD.map((name, i) => ({ name, database_id: 10 + i })),
    ],
  };
}

// ------------------------------------------------------------------ roles

test('mirrored pair: the principal passes, the mirror fails; after a failover they swap', async () => {
  let [p, m] = [mirrored('SQL1', 'PRINCIPAL'), mirrored('SQL2', 'MIRROR')];
  await withSims([{ scenario: p }, { scenario: m }], async ([s1, s2]) => {
    const a = await check(s1, '--database', 'Sales');
    assert.equal(a.status, 0, a.report.reason);
    assert.equal(a.report.verdict, 'pass');
    assert.match(a.report.reason, /mirroring PRINCIPAL, SYNCHRONIZED/);
    assert.equal(a.report.databases[0].facts!.mirroring_role_desc, 'PRINCIPAL');
    const b = await check(s2, '--database', 'Sales');
    assert.equal(b.status, 1);
    assert.match(b.report.reason, /mirroring role is MIRROR, not PRINCIPAL/);
    assert.equal(b.report.errorCode, 'ROLE');

    [p, m] = failover(p, m);
    s1.setScenario(p);
    s2.setScenario(m);
    const c = await check(s1, '--database', 'Sales');
    assert.equal(c.status, 1);
    assert.match(c.report.reason, /MIRROR, not PRINCIPAL/);
    const d = await check(s2, '--database', 'Sales');
    assert.equal(d.status, 0, d.report.reason);

    // --role mirror is the other way round
    assert.equal((await check(s1, '--database', 'Sales', '--role', 'mirror')).status, 0);
    assert.equal((await check(s2, '--database', 'Sales', '--role', 'mirror')).status, 1);
  });
});

test('mirroring: PENDING_FAILOVER fails, --mirroring-state tightens', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL', 'PENDING_FAILOVER') }, { scenario: mirrored('SQL3', 'PRINCIPAL', 'SUSPENDED') }], async ([pending, suspended]) => {
    const a = await check(pending, '-d', 'Sales');
    assert.equal(a.status, 1);
    assert.match(a.report.reason, /PENDING_FAILOVER/);
    assert.equal((await check(suspended, '-d', 'Sales')).status, 0);
    const b = await check(suspended, '-d', 'Sales', '--mirroring-state', 'SYNCHRONIZED');
    assert.equal(b.status, 1);
    assert.match(b.report.reason, /SUSPENDED, not one of --mirroring-state SYNCHRONIZED/);
  });
});

test('a login without sysadmin on the mirror side fails; only --role mirror is told it needs sysadmin', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL') }, { scenario: mirrored('SQL2', 'MIRROR') }], async ([s1, s2]) => {
    const low = (sim: SqlSim, ...rest: string[]) =>
      run(['--host', sim.host, '--port', String(sim.port), '--user', 'lowpriv', '--timeout', '5', '--encrypt', 'off', '--json', ...rest], { env: { MSSQL_PASSWORD: PASSWORD } });
    const onPrincipal = await low(s1, '-d', 'Sales');
    assert.equal(onPrincipal.status, 0, onPrincipal.stdout);
    for (const role of ['primary', 'mirror']) {
      const r = await low(s2, '-d', 'Sales', '--role', role);
      assert.equal(r.status, 1);
      const report = JSON.parse(r.stdout) as Report;
      // the mirror fails --role primary for being the mirror: no grant would make it pass
      if (role === 'primary') assert.match(report.reason, /RESTORING, not ONLINE \(a mirror database, or a restore under way: not writable here\)$/);
      else assert.match(report.reason, /sysadmin/, `${role}: ${report.reason}`);
      assert.equal(report.databases[0].facts!.mirroring_role_desc, null, 'the mirror hides its mirroring state from a non-sysadmin');
    }
  });
});

test('availability group: primary, readable synchronous secondary, lagging asynchronous secondary', async () => {
  await withSims([{ scenario: agServer(0) }, { scenario: agServer(1) }, { scenario: agServer(2, { lag: 45 }) }], async ([p, sync, lagging]) => {
    const a = await check(p, '-d', 'agdb');
    assert.equal(a.status, 0, a.report.reason);
    assert.match(a.report.reason, /availability group "ag1": local replica PRIMARY, ONLINE/);
    const b = await check(sync, '-d', 'agdb');
    assert.equal(b.status, 1);
    assert.match(b.report.reason, /SECONDARY, not PRIMARY/);
    const c = await check(sync, '-d', 'agdb', '--role', 'secondary', '--max-lag', '10');
    assert.equal(c.status, 0, c.report.reason);
    assert.match(c.report.reason, /readable SECONDARY \(READ_ONLY\)/);
    const d = await check(lagging, '-d', 'agdb', '--role', 'secondary', '--max-lag', '10');
    assert.equal(d.status, 1);
    assert.match(d.report.reason, /lag 45 s \(redo queue 4500 KB at 100 KB\/s\) is more than --max-lag 10 s/);
    assert.equal(d.report.databases[0].facts!.availability_mode_desc, 'ASYNCHRONOUS_COMMIT');
    assert.equal((await check(lagging, '-d', 'agdb', '--role', 'secondary', '--max-lag', '60')).status, 0);
    assert.equal((await check(lagging, '-d', 'agdb', '--role', 'secondary')).status, 0, 'no --max-lag: lag does not count');
    const e = await check(p, '-d', 'agdb', '--role', 'secondary');
    assert.equal(e.status, 1);
    assert.match(e.report.reason, /PRIMARY, not SECONDARY/);
    // a manual failover to AG2
    p.setScenario(agServer(0, { primary: 1 }));
    sync.setScenario(agServer(1, { primary: 1 }));
    assert.equal((await check(p, '-d', 'agdb')).status, 1);
    assert.equal((await check(sync, '-d', 'agdb')).status, 0);
  });
});

test('availability group without VIEW SERVER STATE: fails with the GRANT that fixes it', async () => {
  await withSims([{ scenario: agServer(0) }], async ([p]) => {
    const r = await run(['--host', p.host, '--port', String(p.port), '--user', 'nostate', '-d', 'agdb', '--encrypt', 'off', '--json'], { env: { MSSQL_PASSWORD: PASSWORD } });
    assert.equal(r.status, 1);
    assert.match((JSON.parse(r.stdout) as Report).reason, /GRANT VIEW SERVER STATE TO \[nostate\]/);
  });
});

test('standalone: fails --role primary unless --allow-standalone; then READ_ONLY, OFFLINE and a missing database fail', async () => {
  await withSims([{ scenario: standalone() }], async ([s]) => {
    const a = await check(s, '-d', 'appdb', '--allow-standalone');
    assert.equal(a.status, 0, a.report.reason);
    assert.match(a.report.reason, /neither mirrored nor in an availability group/);
    const cases: Array<[string[], RegExp]> = [
      [['-d', 'appdb'], /neither mirrored nor in an availability group: nothing stops another copy .* give --allow-standalone/],
      [['-d', 'appdb', '--require-ha'], /give --allow-standalone/],
      [['-d', 'ro', '--allow-standalone'], /READ_ONLY/],
      [['-d', 'gone', '--allow-standalone'], /OFFLINE, not ONLINE/],
      [['-d', 'nosuchdb', '--allow-standalone'], /database "nosuchdb": database not found \(or not visible to the login; GRANT VIEW ANY DATABASE TO \[monitor\]\)/],
      [['-d', 'appdb', '--role', 'online', '--require-ha'], /--require-ha/],
    ];
    for (const [args, reason] of cases) {
      const r = await check(s, ...args);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.report.reason, reason);
    }
    assert.equal((await check(s, '-d', 'ro', '--role', 'online')).status, 0, 'READ_ONLY is still online');
    assert.equal((await check(s, '-d', 'appdb', '--role', 'online')).status, 0, '--role online needs no --allow-standalone');
  });
});

test('several databases: all must pass; -v prints one line per database', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL') }], async ([s]) => {
    const ok = await check(s, '-d', 'Sales', '-d', 'Stock', '-d', 'Plain', '--allow-standalone');
    assert.equal(ok.status, 0, ok.report.reason);
    assert.equal(ok.report.databases.length, 3);
    const r = await run(at(s, '-v', '-d', 'Sales', '-d', 'nosuchdb', '-d', 'Stock'));
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 3, r.stderr);
    assert.match(lines[0], /database "Sales": PASS: mirroring PRINCIPAL/);
    assert.match(lines[1], /database "nosuchdb": FAIL: database not found/);
    assert.match(lines[2], /database "Stock": PASS/);
  });
});

test('database names with quotes, brackets, spaces and non-ASCII letters travel as parameters', async () => {
  await withSims([{ scenario: standalone() }], async ([s]) => {
    const args = [...WEIRD.flatMap((name) => ['-d', name]), '--allow-standalone'];
    const r = await check(s, ...args);
    assert.equal(r.status, 0, r.report.reason);
    assert.deepEqual(r.report.databases.map((d) => d.name), WEIRD);
    assert.deepEqual(r.report.databases.map((d) => d.facts!.name), WEIRD, 'each name found as itself');
    // a name that is almost one of them is not found
    const near = await check(s, '-d', "O''Brien");
    assert.equal(near.status, 1);
    assert.match(near.report.reason, /not found/);
  });
});

test('one login, one query: the check makes a single connection and one round trip for every database', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL') }], async ([s]) => {
    const before = { ...s.stats };
    const r = await check(s, '-d', 'Sales', '-d', 'Stock', '-d', 'Plain', '--allow-standalone');
    assert.equal(r.status, 0);
    assert.equal(s.stats.connections - before.connections, 1, 'one TCP connection');
    assert.equal(s.stats.logins - before.logins, 1, 'one login');
    assert.equal(s.stats.rpcs - before.rpcs, 1, 'one query (sp_executesql) for three databases');
    // tedious's SET-options batch is left out of the build (build/levers.mjs, one-batch)
    assert.equal(s.stats.batches - before.batches, 0, 'no SQL batch: the query is the only request');
    assert.equal(s.stats.messagesIn - before.messagesIn, 3, 'three messages in: PRELOGIN, LOGIN7, the query');
    // the query of three databases is a little longer than one 4096-byte packet (the witness and
    // cluster-type columns), so it may take a second packet of the same message
    assert.ok(s.stats.packetsIn - before.packetsIn <= 4, `packets in: ${s.stats.packetsIn - before.packetsIn}`);
    for (const phase of ['dns', 'connect', 'prelogin', 'login', 'query', 'total']) {
      assert.equal(typeof r.report.timings[phase], 'number', `timings.${phase}`);
    }
  });
});

test('text sent as varchar in a code page is decoded as nvarchar is: the binary loads iconv-lite when it must', async () => {
  // Every text column of the facts query, as a server whose views declared them varchar would send
  // them: tedious decodes them with iconv-lite, which the binary keeps in a chunk of its own.
  // A database name outside ASCII ('é' is 0xE9 in code page 1252) shows the decoding is right.
  const text = ['name', 'state_desc', 'user_access_desc', 'mirroring_role_desc', 'mirroring_state_desc'];
  const scenario = mirrored('SQL1', 'PRINCIPAL');
  scenario.databases!.push({ name: 'Ventes_é', database_id: 12 });
  await withSims([{ scenario }, { scenario, varcharColumns: text }], async ([plain, varchar]) => {
    for (const db of ['Sales', 'Ventes_é']) {
      const a = await check(plain, '-d', db, '--role', 'online');
      const b = await check(varchar, '-d', db, '--role', 'online');
      assert.equal(b.status, 0, b.report.reason);
      assert.deepEqual(b.report.databases[0].facts, a.report.databases[0].facts);
      assert.equal(b.report.databases[0].facts?.name, db);
      assert.equal(b.report.databases[0].facts?.state_desc, 'ONLINE');
    }
  });
});

// ------------------------------------------------------------------ connection settings

test('IPv6 loopback', async () => {
  await withSims([{ scenario: standalone(), host: '::1' }], async ([s]) => {
    const r = await check(s, '-d', 'appdb', '--allow-standalone');
    assert.equal(r.status, 0, r.report.reason);
  });
});

test('TLS: --encrypt on (trusted or with a CA file) and strict (TDS 8.0, CA file); an untrusted certificate fails', async () => {
  const tls = { cert: certs.cert, key: certs.key };
  await withSims([
    { scenario: standalone(), tls, encryption: 'required' },
    { scenario: standalone(), tls, encryption: 'strict' },
  ], async ([forced, strict]) => {
    const on1 = await check(forced, '-d', 'appdb', '--allow-standalone', '--encrypt', 'on', '--trust-server-certificate');
    assert.equal(on1.status, 0, on1.report.reason);
    // TLS to an IP address makes Node warn about the server name; the warning must not reach stderr
    const v = await run(at(forced, '-d', 'appdb', '--allow-standalone', '--encrypt', 'on', '--trust-server-certificate', '-v'));
    assert.equal(v.status, 0);
    assert.equal(v.stderr.trimEnd().split('\n').length, 1, v.stderr);
    const byDefault = await check(forced, '-d', 'appdb', DEFAULT_TLS, '--allow-standalone', '--trust-server-certificate');
    assert.equal(byDefault.status, 0, 'TLS is the default: ' + byDefault.report.reason);
    const on2 = await check(forced, '-d', 'appdb', '--allow-standalone', '--encrypt', 'on', '--ca-file', certs.caFile);
    assert.equal(on2.status, 0, on2.report.reason);
    const untrusted = await check(forced, '-d', 'appdb', '--allow-standalone', '--encrypt', 'on');
    assert.equal(untrusted.status, 1);
    const off = await check(forced, '-d', 'appdb', '--allow-standalone');
    assert.equal(off.status, 1, 'the server forces encryption and --encrypt is off');
    assert.match(off.report.reason, /encryption/i);
    const before = strict.stats.strictHandshakes;
    const s1 = await check(strict, '-d', 'appdb', '--allow-standalone', '--encrypt', 'strict', '--ca-file', certs.caFile);
    assert.equal(s1.status, 0, s1.report.reason);
    assert.equal(strict.stats.strictHandshakes - before, 1, 'TLS first, TDS 8.0');
    assert.equal(typeof s1.report.timings.tls, 'number');
    const s2 = await check(strict, '-d', 'appdb', '--allow-standalone', '--encrypt', 'strict');
    assert.equal(s2.status, 1, 'strict verifies the certificate: no CA, no pass');
  });
});

test('--encrypt on never logs in without TLS: a server that answers PRELOGIN without encryption fails', async () => {
  await withSims([{ scenario: standalone(), encryption: 'none' }], async ([plain]) => {
    const logins = plain.stats.logins + plain.stats.loginFailures;
    const r = await check(plain, '-d', 'appdb', '--allow-standalone', '--encrypt', 'on', '--trust-server-certificate');
    assert.equal(r.status, 1, r.report.reason);
    assert.equal(r.report.errorCode, 'EENCRYPT');
    assert.match(r.report.reason, /refusing to log in without TLS/);
    assert.equal(plain.stats.logins + plain.stats.loginFailures, logins, 'no LOGIN7 may reach the server');
    const byDefault = await check(plain, '-d', 'appdb', DEFAULT_TLS, '--allow-standalone');
    assert.equal(byDefault.report.errorCode, 'EENCRYPT', 'the default refuses it too: ' + byDefault.report.reason);
    assert.equal(plain.stats.logins + plain.stats.loginFailures, logins, 'no LOGIN7 may reach the server by default');
    const off = await check(plain, '-d', 'appdb', '--allow-standalone', '--encrypt', 'off');
    assert.equal(off.status, 0, 'the same server passes with --encrypt off: ' + off.report.reason);
  });
});

test('--instance through the SQL Server Browser', async () => {
  // tedious asks the Browser on UDP 1434: a loopback address of our own keeps other tests' Browsers apart
  const host = '127.0.0.44';
  await withSims([{ scenario: standalone(), host }], async ([s]) => {
    const browser = await startBrowser({ host, instances: [{ name: 'PROD', port: s.port }] });
    try {
      const r = await run(['--host', host, '--instance', 'PROD', '--user', 'monitor', '--password-file', pwFile, '-d', 'appdb', '--allow-standalone', '--encrypt', 'off', '--json']);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(typeof (JSON.parse(r.stdout) as Report).timings.browser, 'number');
      const missing = await run(['--host', host, '--instance', 'NOPE', '--user', 'monitor', '--password-file', pwFile, '-d', 'appdb', '--allow-standalone', '--encrypt', 'off', '--json', '--timeout', '2']);
      assert.equal(missing.status, 1);
    } finally {
      await browser.close();
    }
  });
});

test('HAProxy external-check: host and port from HAPROXY_SERVER_ADDR/PORT, its four arguments accepted', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL') }, { scenario: mirrored('SQL2', 'MIRROR') }], async ([s1, s2]) => {
    const conf = join(dir, 'haproxy.conf');
    writeFileSync(conf, `user = monitor\npassword-file = ${pwFile}\ndatabase = Sales\ntimeout = 5\nencrypt = off\n`, { mode: 0o600 });
    for (const [sim, expected] of [[s1, 0], [s2, 1]] as const) {
      const r = await run(['0.0.0.0', '1433', sim.host, String(sim.port)], {
        env: { MSSQL_ROLE_CHECK_CONFIG: conf, HAPROXY_SERVER_ADDR: sim.host, HAPROXY_SERVER_PORT: String(sim.port), HAPROXY_PROXY_NAME: 'mssql' },
      });
      assert.equal(r.status, expected, r.stderr);
      assert.equal(r.stdout + r.stderr, '', 'quiet by default');
    }
  });
});

test('--weight: a pass exits N+2, a failure still exits 1', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL') }, { scenario: mirrored('SQL2', 'MIRROR') }], async ([s1, s2]) => {
    assert.equal((await run(at(s1, '-d', 'Sales', '--weight', '100'))).status, 102);
    assert.equal((await run(at(s1, '-d', 'Sales', '--weight', '0'))).status, 2);
    assert.equal((await run(at(s1, '-d', 'Sales', '--weight', '253'))).status, 255);
    assert.equal((await run(at(s2, '-d', 'Sales', '--weight', '100'))).status, 1);
  });
});

test('--maintenance-file: while it exists the check fails with "maintenance", without connecting', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL') }], async ([s]) => {
    const drain = join(dir, 'drain');
    assert.equal((await run(at(s, '-d', 'Sales', '--maintenance-file', drain))).status, 0);
    writeFileSync(drain, '');
    const before = s.stats.connections;
    const r = await check(s, '-d', 'Sales', '--maintenance-file', drain);
    assert.equal(r.status, 1);
    assert.match(r.report.reason, /^maintenance/);
    assert.equal(r.report.errorCode, 'MAINTENANCE');
    assert.equal(s.stats.connections, before, 'no connection while draining');
    rmSync(drain);
  });
});

test('wrong password: exit 1, "Login failed"', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL') }], async ([s]) => {
    const r = await run(['--host', s.host, '--port', String(s.port), '-U', 'monitor', '-d', 'Sales', '--encrypt', 'off', '--json'], { env: { MSSQL_PASSWORD: 'not-the-password' } });
    assert.equal(r.status, 1);
    const report = JSON.parse(r.stdout) as Report;
    assert.match(report.reason, /Login failed for user 'monitor'/);
    assert.equal(report.errorCode, 'ELOGIN');
    assert.equal(report.phase, 'login');
  });
});

test('--domain logs in with NTLM (the simulator, like a server outside the domain, refuses it)', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL') }], async ([s]) => {
    const r = await check(s, '-d', 'Sales', '--domain', 'CORP');
    assert.equal(r.status, 1);
    assert.equal(r.report.errorCode, 'ELOGIN');
    assert.match(r.report.reason, /untrusted domain .* Integrated authentication/);
  });
});

// ------------------------------------------------------------------ faults and the deadline

const TIMEOUT_S = 1.5;
const SLACK_MS = 1500; // process start-up and a loaded CI machine

interface FaultCase { fault: Fault; reason: RegExp; code: string; phase: string | string[]; tls?: boolean }

// What each fault must end in: a piece of the reason, the error code and the phase it struck in.
// Faults that strike "the first request after the login" hit the facts query: the build sends no
// SET-options batch before it (build/levers.mjs, one-batch).
const FAULT_CASES: FaultCase[] = [
  { fault: { name: 'refuse' }, reason: /network error: .*ECONNREFUSED/, code: 'ESOCKET', phase: 'connect' },
  { fault: { name: 'reset-on-accept' }, reason: /network error: .*ECONNRESET/, code: 'ESOCKET', phase: ['connect', 'prelogin'] },
  { fault: { name: 'black-hole' }, reason: /timeout after 1.5s during prelogin/, code: 'TIMEOUT', phase: 'prelogin' },
  { fault: { name: 'stall-after-prelogin' }, reason: /timeout after 1.5s during login/, code: 'TIMEOUT', phase: 'login' },
  { fault: { name: 'stall-after-login' }, reason: /timeout after 1.5s during query/, code: 'TIMEOUT', phase: 'query' },
  { fault: { name: 'delay', ms: 5000 }, reason: /timeout after 1.5s during prelogin/, code: 'TIMEOUT', phase: 'prelogin' },
  { fault: { name: 'reset-mid-result' }, reason: /network error: Connection lost/, code: 'ESOCKET', phase: 'query' },
  { fault: { name: 'garbage', phase: 'prelogin' }, reason: /unexpected answer from the server/, code: 'PROTOCOL', phase: 'prelogin' },
  { fault: { name: 'garbage', phase: 'login' }, reason: /unexpected answer from the server/, code: 'PROTOCOL', phase: 'login' },
  { fault: { name: 'garbage', phase: 'query' }, reason: /unexpected answer from the server/, code: 'PROTOCOL', phase: 'query' },
  { fault: { name: 'truncated-packet', phase: 'prelogin' }, reason: /network error: Connection lost/, code: 'ESOCKET', phase: 'prelogin' },
  { fault: { name: 'truncated-packet', phase: 'login' }, reason: /network error: Connection lost/, code: 'ESOCKET', phase: 'login' },
  { fault: { name: 'truncated-packet', phase: 'query' }, reason: /network error: Connection lost/, code: 'ESOCKET', phase: 'query' },
  { fault: { name: 'truncated-packet', phase: 'query', stall: true }, reason: /timeout after 1.5s/, code: 'TIMEOUT', phase: 'query' },
  { fault: { name: 'wrong-tds-version' }, reason: /unknown TDS version/, code: 'ETDS', phase: 'login' },
  { fault: { name: 'packet-size', text: '4' }, reason: /unexpected answer from the server during login: the server negotiated packet size 4 \(MS-TDS allows 512\.\.32767\)/, code: 'PROTOCOL', phase: 'login' },
  // the longest message an ERROR token holds, of hex letters: the reason's TLS rewrite once took seconds over it
  { fault: { name: 'login-failure', message: 'F'.repeat(32_000) }, reason: /login failed: F{32000} \(ELOGIN/, code: 'ELOGIN', phase: 'login' },
  { fault: { name: 'tls-handshake-failure' }, reason: /network error: .*TLS: .*handshake failure/, code: 'ESOCKET', phase: 'prelogin', tls: true },
  { fault: { name: 'login-failure' }, reason: /login failed: Login failed for user 'monitor'/, code: 'ELOGIN', phase: 'login' },
  { fault: { name: 'login-failure', number: 18470, message: 'Login failed: the account is disabled.' }, reason: /disabled/, code: 'ELOGIN', phase: 'login' },
  { fault: { name: 'query-error', number: 208, message: "Invalid object name 'sys.databases'." }, reason: /query failed \(error 208\): Invalid object name/, code: 'SQL208', phase: 'query' },
  { fault: { name: 'server-close' }, reason: /network error: Connection lost/, code: 'ESOCKET', phase: 'query' },
];

// The same request faults aimed (on: 'rpc') at the check's facts query, an sp_executesql RPC, on
// either side of a mirrored pair: the fault meets the reply that decides the role.
const FACTS_QUERY_CASES: FaultCase[] = [
  { fault: { name: 'stall-after-login', on: 'rpc' }, reason: /timeout after 1.5s during query/, code: 'TIMEOUT', phase: 'query' },
  { fault: { name: 'delay', ms: 5000, on: 'rpc' }, reason: /timeout after 1.5s during query/, code: 'TIMEOUT', phase: 'query' },
  { fault: { name: 'reset-mid-result', on: 'rpc' }, reason: /network error: Connection lost/, code: 'ESOCKET', phase: 'query' },
  { fault: { name: 'garbage', on: 'rpc' }, reason: /unexpected answer from the server/, code: 'PROTOCOL', phase: 'query' },
  { fault: { name: 'truncated-packet', on: 'rpc' }, reason: /network error: Connection lost/, code: 'ESOCKET', phase: 'query' },
  { fault: { name: 'truncated-packet', stall: true, on: 'rpc' }, reason: /timeout after 1.5s during query/, code: 'TIMEOUT', phase: 'query' },
  { fault: { name: 'query-error', number: 208, message: "Invalid object name 'sys.databases'.", on: 'rpc' }, reason: /query failed \(error 208\): Invalid object name/, code: 'SQL208', phase: 'query' },
  // a whole answer, read in the query phase; the verdict refuses a database with many rows
  { fault: { name: 'oversized-result', rows: 2_000, on: 'rpc' }, reason: /database "Sales": FAIL: the server returned 2000 rows for it \(expected one\)/, code: 'ROLE', phase: 'verdict' },
  { fault: { name: 'server-close', on: 'rpc' }, reason: /network error: Connection lost/, code: 'ESOCKET', phase: 'query' },
];

const faultLabel = (f: Fault) => `${f.name}${f.phase ? ` at ${f.phase}` : ''}${f.on ? ` on ${f.on}` : ''}${f.stall ? ' (stall)' : ''}`;

for (const c of FAULT_CASES) {
  test(`fault ${faultLabel(c.fault)} → exit 1 within the deadline, one line with -v`, () => faultCheck(c, mirrored('SQL1', 'PRINCIPAL')));
}

describe('faults on the facts query', { concurrency: 2 }, () => {
  for (const c of FACTS_QUERY_CASES) {
    for (const role of ['PRINCIPAL', 'MIRROR'] as const) {
      test(`fault ${faultLabel(c.fault)}, ${role.toLowerCase()} → exit 1 within the deadline, phase ${c.phase}`, () => faultCheck(c, mirrored('SQL1', role)));
    }
  }
});

async function faultCheck(c: FaultCase, scenario: Scenario): Promise<void> {
  const opts: SqlSimOptions = c.tls
    ? { scenario, tls: { cert: certs.cert, key: certs.key }, encryption: 'required', fault: c.fault }
    : { scenario, fault: c.fault };
  await withSims([opts], async ([s]) => {
    const tlsArgs = c.tls ? ['--encrypt', 'on', '--trust-server-certificate'] : [];
    const r = await run(at(s, '-d', 'Sales', '-v', '--json', ...tlsArgs, '--timeout', String(TIMEOUT_S)), { killAfterMs: 15_000 });
    assert.equal(r.signal, null, `killed: the check did not end by itself (${r.ms} ms)`);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.ms < TIMEOUT_S * 1000 + SLACK_MS, `took ${Math.round(r.ms)} ms`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line: ${r.stderr}`);
    assert.match(lines[0], /^mssql-role-check: /);
    assert.match(lines[0], c.reason);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.verdict, 'fail');
    assert.equal(report.errorCode, c.code, report.reason);
    assert.ok([c.phase].flat().includes(report.phase!), `phase ${report.phase}: ${report.reason}`);
  });
}

// The principal's answer to the facts query, rewritten token by token: each must fail, never pass.
const deadlock = message({ number: 1205, state: 51, severity: 13, message: 'Transaction (Process ID 51) was deadlocked.', serverName: 'SQL1' });
const REPLY_CASES: Array<{ label: string; edit: (reply: Buffer, at: { meta: number; firstDone: number }) => Buffer; reason: RegExp; code: string }> = [
  { label: 'an error after the rows', code: 'SQL1205', reason: /query failed \(error 1205\): Transaction .* was deadlocked/,
    edit: (r, at) => Buffer.concat([r.subarray(0, at.firstDone), deadlock, r.subarray(at.firstDone)]) },
  { label: 'a second result set after the first', code: 'PROTOCOL', reason: /expected one result set, got 2/,
    edit: (r, at) => Buffer.concat([r.subarray(0, at.firstDone), done(0xff, 0x11, 0xc1, 1), r.subarray(at.meta, at.firstDone), r.subarray(at.firstDone)]) },
  // the message ends (EOM) after the rows: tedious completes the request all the same
  { label: 'the rows without the DONE tokens after them (a partial answer)', code: 'PROTOCOL', reason: /the answer ended without its final DONE token/,
    edit: (r, at) => r.subarray(0, at.firstDone) },
  { label: 'the result set, then nothing (no RETURNSTATUS, no DONEPROC)', code: 'PROTOCOL', reason: /the answer ended without its final DONE token/,
    edit: (r, at) => r.subarray(0, at.firstDone + 13) },
  { label: 'no rows at all', code: 'ROLE', reason: /the server returned no row for it/,
    edit: (r, at) => Buffer.concat([r.subarray(0, at.meta), r.subarray(at.meta, at.meta + walkTokens(r.subarray(at.meta)).filter((f) => f.what === 'token')[1].offset), r.subarray(at.firstDone)]) },
];

function rewriteFactsReply(edit: (reply: Buffer, at: { meta: number; firstDone: number }) => Buffer): Fault {
  return {
    name: 'mutate',
    mutate: (bytes, info) => {
      if (info.phase !== 'query') return bytes;
      const { packets } = splitPackets(bytes);
      const reply = Buffer.concat(packets.map((p) => p.data));
      const tokens = walkTokens(reply).filter((f) => f.what === 'token').map((f) => f.offset);
      const meta = tokens.find((o) => reply[o] === 0x81);
      if (meta === undefined) return bytes; // not an answer with a result set
      const firstDone = tokens.find((o) => o > meta && [0xfd, 0xfe, 0xff, 0x79].includes(reply[o]))!;
      return framePackets([{ ...packets[0], status: 1, data: edit(reply, { meta, firstDone }) }]);
    },
  };
}

describe('rewritten answers to the facts query', { concurrency: 2 }, () => {
  for (const c of REPLY_CASES) {
    test(`${c.label} → exit 1, ${c.code}`, async () => {
      await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL'), fault: rewriteFactsReply(c.edit) }], async ([s]) => {
        const r = await check(s, '-d', 'Sales', '--timeout', String(TIMEOUT_S));
        assert.equal(r.status, 1, r.report.reason);
        assert.equal(r.report.errorCode, c.code, r.report.reason);
        assert.match(r.report.reason, c.reason);
      });
    });
  }
  test('the same rewriting with no edit passes (the rewriting itself breaks nothing)', async () => {
    await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL'), fault: rewriteFactsReply((r) => r) }], async ([s]) => {
      const r = await check(s, '-d', 'Sales');
      assert.equal(r.status, 0, r.report.reason);
    });
  });
});

test('SIGTERM ends a hanging check at once with exit 1', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL'), fault: { name: 'black-hole' } }], async ([s]) => {
    let sent = 0;
    const r = await run(at(s, '-d', 'Sales', '-v', '--timeout', '30'), {
      killAfterMs: 10_000,
      onSpawn: (pid) => setTimeout(() => { sent = performance.now(); process.kill(pid, 'SIGTERM'); }, 700),
    });
    assert.equal(r.signal, null);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /stopped by SIGTERM during prelogin/);
    assert.ok(sent > 0);
  });
});

test('an exception the check cannot even describe still exits 1, never 7 (misc_dynamic reads 7 as up)', async () => {
  // Node exits 7 when its uncaughtException handler throws: thrown here is a value String() cannot
  // convert, injected with --import into the check run from source (a SEA binary takes no --import)
  const trigger = join(dir, 'throw-odd-value.mjs');
  writeFileSync(trigger, 'setTimeout(() => { throw Object.create(null); }, 300);\n');
  const main = join(import.meta.dirname, '../src/main.ts');
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL'), fault: { name: 'black-hole' } }], async ([s]) => {
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', trigger, main, ...at(s, '-d', 'Sales', '-v', '--weight', '100', '--timeout', '3')],
        { env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('close', (status) => { clearTimeout(killer); resolve({ status, stderr }); });
    });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^mssql-role-check: .*FAIL: .*(internal error|unexpected answer)/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });
});

test('--json is one whole line even when stdout is a pipe its reader drains late', async () => {
  // Once the driver is loaded, Node has made a piped stdout non-blocking: a write can take only part
  // of the text (or none) while the pipe (64 KiB) is full. The reader here starts after the check wrote,
  // 0.2 s past its deadline (the wait for a reader ends 0.3 s past it: test/deadline.test.ts).
  const names = Array.from({ length: 600 }, (_, i) => `db-${String(i).padStart(4, '0')}-${'n'.repeat(90)}`);
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL'), fault: { name: 'black-hole' } }], async ([s]) => {
    const args = at(s, '--json', '--timeout', '1', ...names.flatMap((n) => ['-d', n]));
    const r = await new Promise<{ stdout: string }>((resolve) => {
      const child = spawn('/bin/sh', ['-c', '"$0" "$@" | (sleep 1.2; cat)', BIN, ...args], { env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'ignore'] });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('close', () => { clearTimeout(killer); resolve({ stdout }); });
    });
    assert.ok(r.stdout.length > 65_536, `the report outgrows a pipe (${r.stdout.length} bytes)`);
    assert.ok(r.stdout.endsWith('}\n'), `the line is whole: ...${r.stdout.slice(-80)}`);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.errorCode, 'TIMEOUT');
    assert.deepEqual(report.databases.map((d) => d.name), names);
  });
});

// ------------------------------------------------------------------ the password stays secret

test('the password appears in no output: stdout, stderr, --json and --log-file, failing and passing', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL') }, { scenario: mirrored('SQL2', 'MIRROR') }], async ([s1, s2]) => {
    const log = join(dir, 'secret.log');
    const outputs: string[] = [];
    const runs = [
      // through the password file
      await run(at(s1, '-d', 'Sales', '-v', '--json', '--log-file', log)),
      await run(at(s2, '-d', 'Sales', '-v', '--json', '--log-file', log)),
      // through the environment, with the password also as a database name and a wrong-password login
      await run(['--host', s1.host, '--port', String(s1.port), '-U', 'monitor', '-d', PASSWORD, '--encrypt', 'off', '-v', '--json', '--log-file', log], { env: { MSSQL_PASSWORD: PASSWORD } }),
      await run(['--host', s1.host, '--port', String(s1.port), '-U', PASSWORD, '-d', 'Sales', '--encrypt', 'off', '-v', '--json', '--log-file', log], { env: { MSSQL_PASSWORD: PASSWORD } }),
    ];
    assert.deepEqual(runs.map((r) => r.status), [0, 1, 1, 1]);
    for (const r of runs) outputs.push(r.stdout, r.stderr);
    const logText = readFileSync(log, 'utf8');
    outputs.push(logText);
    assert.equal(logText.trimEnd().split('\n').length, 4, 'one log line per run');
    for (const line of logText.trimEnd().split('\n')) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    for (const text of outputs) assert.ok(!text.includes(PASSWORD), `the password leaked: ${text.slice(0, 300)}`);
    assert.ok(outputs.join('').length > 500, 'there was output to search');
  });
});

test('a password with quotes and backslashes is not in the output in its JSON-escaped form either', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL') }], async ([s]) => {
    const log = join(dir, 'quoted.log');
    const escaped = JSON.stringify(QUOTED_PASSWORD).slice(1, -1);
    const r = await run(['--host', s.host, '--port', String(s.port), '-U', 'quoted', '-d', 'Sales', '-d', QUOTED_PASSWORD, '--encrypt', 'off', '-v', '--json', '--log-file', log],
      { env: { MSSQL_PASSWORD: QUOTED_PASSWORD } });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /database "Sales": PASS/, 'logged in, judged every database');
    for (const text of [r.stdout, r.stderr, readFileSync(log, 'utf8')]) {
      for (const form of [QUOTED_PASSWORD, escaped]) assert.ok(!text.includes(form), `the password leaked as ${form}: ${text.slice(0, 300)}`);
    }
  });
});

test('an empty PATH, as HAProxy gives its external checks by default: the check still passes (the deadline watchdog needs none)', async () => {
  await withSims([{ scenario: mirrored('SQL1', 'PRINCIPAL') }], async ([s]) => {
    for (const PATH of ['', '/nonexistent']) {
      const r = await run(at(s, '-d', 'Sales', '--json'), { env: { PATH } });
      assert.equal(r.signal, null, `PATH=${JSON.stringify(PATH)}: killed by ${r.signal}`);
      assert.equal(r.status, 0, `PATH=${JSON.stringify(PATH)}: ${r.stdout} ${r.stderr}`);
    }
  });
});
