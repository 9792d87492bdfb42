// Host names, with the packed binaries: `--host localhost`, a name only /etc/hosts knows, a name
// only DNS knows (and one that needs the search domain), and `--instance NAME --host NAME`, on x64
// and on arm64 (qemu). Then a DNS fault table in network namespaces (dns-lab.ts), each client with
// its own /etc/hosts and /etc/resolv.conf and a fake DNS server (test/helpers/fake-dns.ts): a
// resolver that never answers, one that answers slowly (within and beyond the budget), NXDOMAIN,
// SERVFAIL, no address, a black-holed AAAA or A beside a live one, a name in /etc/hosts only; and
// TLS verifying the certificate against the name given, not the address it resolved to.
// Every row ends within --timeout plus SLACK_MS, measured from outside the process; the rows that
// can pass do, the others exit 1 with a one-line reason.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestCertificates, type TestCertificates } from '../sqlsim/certs.ts';
import { BIN_X64, BIN_ARM64, NODE, ROOT } from '../helpers/paths.ts';
import { startSqlSim, type SqlSim } from '../sqlsim/server.ts';
import type { FakeRecord } from '../helpers/fake-dns.ts';
import { loadScenario, passwordOf, SIM_CLI, DATABASE, LOGIN } from './sim.ts';
import { Daemon, run, fmtMs, waitUntil, sleep, tempDir } from './harness.ts';
import { canCreateNetns } from './netns.ts';
import { createDnsLab, SVC4, SVC6, HOLE4, HOLE6, type DnsLab } from './dns-lab.ts';

const FAKE_DNS = join(ROOT, 'test/helpers/fake-dns.ts');
const QEMU = 'qemu-aarch64-static';
/** the fault table's deadline: short, so that the rows that must wait for it stay cheap */
const TIMEOUT_S = 2;
/** past --timeout: the process's exit, and spawning it through `ip netns exec`, on a loaded machine */
const SLACK_MS = 1000;
/** a row that fails on an answer (not on the deadline) must end well before it */
const QUICK_MS = TIMEOUT_S * 1000 / 2;
/** emulation makes start-up slow (seconds) */
const ARM64_TIMEOUT_S = 30;

const PASSWORD = passwordOf(loadScenario('principal'));

interface CheckRun {
  status: number | null;
  ms: number;
  stdout: string;
  stderr: string;
  killed: boolean;
  json?: { exitCode: number; reason: string; errorCode: string | null; phase: string | null; timings: Record<string, number> };
}

/** One check with --json, optionally inside a namespace and under qemu; the password in the environment. */
async function check(o: { host: string; port?: number; instance?: string; ns?: string; arm64?: boolean; timeoutS?: number; extra?: string[] }): Promise<CheckRun> {
  const timeoutS = o.timeoutS ?? (o.arm64 ? ARM64_TIMEOUT_S : TIMEOUT_S);
  const args = ['--host', o.host, ...(o.instance ? ['--instance', o.instance] : ['--port', String(o.port ?? 1433)]),
    '--database', DATABASE, '--user', LOGIN, '--timeout', String(timeoutS), '--json',
    ...(o.extra?.includes('--encrypt') ? [] : ['--encrypt', 'off']), ...(o.extra ?? [])];
  const cmd = [...(o.ns ? ['ip', 'netns', 'exec', o.ns] : []), ...(o.arm64 ? [QEMU, BIN_ARM64] : [BIN_X64]), ...args];
  const r: CheckRun = await run(cmd[0], cmd.slice(1), {
    env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', MSSQL_PASSWORD: PASSWORD },
    limitMs: timeoutS * 1000 + 15_000,
  });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    if (line.startsWith('{')) r.json = JSON.parse(line) as CheckRun['json'];
  } catch { /* asserted by the caller */ }
  return r;
}

const shown = (r: CheckRun) => `exit ${r.status} in ${fmtMs(r.ms)}: ${r.stdout.trim()} ${r.stderr.trim()}`;

function assertPass(r: CheckRun, what: string): void {
  assert.equal(r.status, 0, `${what}: ${shown(r)}`);
  assert.equal(r.json?.exitCode, 0, `${what}: ${shown(r)}`);
}

before(() => {
  assert.ok(existsSync(BIN_X64) && existsSync(BIN_ARM64), 'binaries missing; run make first');
});

// ------------------------------------------------------------------ localhost, no namespace

describe('--host localhost (the host\'s own /etc/hosts)', () => {
  let sim: SqlSim;
  before(async () => {
    sim = await startSqlSim({ scenario: loadScenario('principal'), host: '127.0.0.1' });
  });
  after(async () => {
    await sim?.close();
  });

  test('x64 and arm64 (qemu) pass against a live sqlsim', async () => {
    const [x64, arm64] = await Promise.all([check({ host: 'localhost', port: sim.port, timeoutS: 10 }), check({ host: 'localhost', port: sim.port, arm64: true })]);
    assertPass(x64, 'x64 --host localhost');
    assertPass(arm64, 'arm64 --host localhost');
    console.log(`# --host localhost: x64 exit 0 in ${fmtMs(x64.ms)}, arm64 (qemu) exit 0 in ${fmtMs(arm64.ms)}`);
  });

  test('a name that does not resolve fails in one line, not as a driver error', async () => {
    const r = await check({ host: 'no-such-host.invalid', port: sim.port });
    assert.equal(r.status, 1, shown(r));
    assert.equal(r.json?.errorCode, 'EDNS', shown(r));
    assert.match(r.json!.reason, /^name resolution failed: no-such-host\.invalid /);
    assert.doesNotMatch(r.stdout + r.stderr, /dynamic import|getaddrinfo/);
  });
});

// ------------------------------------------------------------------ the namespaces

const netns = canCreateNetns();
const skip = netns.ok ? false : `needs root to create network namespaces (${netns.why})`;
if (skip) console.log(`# SKIPPED DNS namespace tests: ${skip}`);

const HOSTS = [
  '127.0.0.1 localhost',
  '::1 localhost ip6-localhost',
  '# only here, not in DNS:',
  `${SVC4}\thostsonly.test HostsAlias   # a comment after the names`,
  `${SVC6} hosts6.test`,
  '',
].join('\n');

const RECORDS: Record<string, FakeRecord> = {
  'sql.corp.test': { a: [SVC4] },
  'dual.corp.test': { a: [SVC4], aaaa: [SVC6] },
  'v6only.corp.test': { aaaa: [SVC6] },
  'hole6.corp.test': { a: [SVC4], aaaa: [HOLE6] },
  'hole4.corp.test': { a: [HOLE4], aaaa: [SVC6] },
  'hole.corp.test': { a: [HOLE4], aaaa: [HOLE6] },
  'slow.corp.test': { a: [SVC4], delayMs: 400 },
  'slower.corp.test': { a: [SVC4], delayMs: 60_000 },
  'silent.corp.test': { silent: true },
  'noaaaa.corp.test': { a: [SVC4], silent: ['AAAA'] },
  'nodata.corp.test': {},
  'servfail.corp.test': { servfail: true },
  'xn--bcher-kva.corp.test': { a: [SVC4] },
};

type Client = 'live' | 'dead' | 'second';

interface Row {
  label: string;
  client: Client;
  host: string;
  instance?: string;
  pass: boolean;
  /** for a failure: the error codes that may report it, and what the reason must say */
  codes?: string[];
  reason?: RegExp;
  /** a failure on an answer: it must not wait for the deadline */
  quick?: boolean;
  /** questions the DNS server must have been asked, or must not have been */
  asked?: string[];
  notAsked?: RegExp;
  /** the least the connect phase may take (the IPv6 attempt first, the next one after 250 ms) */
  connectAtLeastMs?: number;
}

const DEADLINE_DNS = /^timeout after 2s during dns$|no answer from the DNS servers/;

const TABLE: Row[] = [
  { label: 'A record', client: 'live', host: 'sql.corp.test', pass: true, asked: ['A sql.corp.test'] },
  { label: 'short name, through the search domain', client: 'live', host: 'sql', pass: true, asked: ['A sql.corp.test'] },
  { label: 'absolute name (final dot): no search', client: 'live', host: 'sql.corp.test.', pass: true, notAsked: /corp\.test\.corp\.test/ },
  { label: 'A and AAAA', client: 'live', host: 'dual.corp.test', pass: true },
  { label: 'AAAA only', client: 'live', host: 'v6only.corp.test', pass: true },
  { label: 'IDN name, asked in punycode', client: 'live', host: 'bücher.corp.test', pass: true, asked: ['A xn--bcher-kva.corp.test'] },
  { label: 'black-holed AAAA, live A', client: 'live', host: 'hole6.corp.test', pass: true, connectAtLeastMs: 240 },
  { label: 'black-holed A, live AAAA', client: 'live', host: 'hole4.corp.test', pass: true },
  { label: 'answers slowly, within the budget', client: 'live', host: 'slow.corp.test', pass: true },
  { label: 'never answers AAAA, answers A', client: 'live', host: 'noaaaa.corp.test', pass: true },
  { label: 'in /etc/hosts only: DNS is not asked', client: 'live', host: 'hostsonly.test', pass: true, notAsked: /hostsonly/ },
  { label: '/etc/hosts alias, other case', client: 'live', host: 'HOSTSALIAS', pass: true, notAsked: /hostsalias/ },
  { label: '/etc/hosts IPv6 entry', client: 'live', host: 'hosts6.test', pass: true },
  { label: '--instance with a DNS name', client: 'live', host: 'sql.corp.test', instance: 'PROD', pass: true },
  { label: '--instance with a name in /etc/hosts', client: 'live', host: 'hostsonly.test', instance: 'prod', pass: true },
  { label: 'second nameserver answers, first black-holed', client: 'second', host: 'sql.corp.test', pass: true },
  { label: 'in /etc/hosts, resolver dead', client: 'dead', host: 'hostsonly.test', pass: true },
  { label: 'NXDOMAIN', client: 'live', host: 'nx.corp.test', pass: false, codes: ['EDNS'], quick: true,
    reason: /^name resolution failed: nx\.corp\.test not found \(not in \/etc\/hosts, and DNS has no such name\) \(asked for nx\.corp\.test, nx\.corp\.test\.corp\.test\)$/ },
  { label: 'no A or AAAA record', client: 'live', host: 'nodata.corp.test', pass: false, codes: ['EDNS'], quick: true, reason: /has no IPv4 or IPv6 address in DNS/ },
  { label: 'SERVFAIL', client: 'live', host: 'servfail.corp.test', pass: false, codes: ['EDNS'], quick: true, reason: /SERVFAIL/ },
  { label: 'answers beyond the budget', client: 'live', host: 'slower.corp.test', pass: false, codes: ['TIMEOUT', 'EDNS'], reason: DEADLINE_DNS },
  { label: 'never answers this name', client: 'live', host: 'silent.corp.test', pass: false, codes: ['TIMEOUT', 'EDNS'], reason: DEADLINE_DNS },
  { label: 'resolver never answers', client: 'dead', host: 'sql.corp.test', pass: false, codes: ['TIMEOUT', 'EDNS'], reason: DEADLINE_DNS },
  { label: 'every address black-holed', client: 'live', host: 'hole.corp.test', pass: false, codes: ['TIMEOUT'], reason: /^timeout after 2s during connect$/ },
  { label: '--instance, name never answered', client: 'live', host: 'silent.corp.test', instance: 'PROD', pass: false, codes: ['TIMEOUT', 'EDNS'], reason: DEADLINE_DNS },
  { label: '--instance, no such instance', client: 'live', host: 'sql.corp.test', instance: 'NOPE', pass: false, codes: ['EINSTLOOKUP'], quick: true,
    reason: /^SQL Server Browser lookup failed: no instance NOPE on sql\.corp\.test \(its SQL Server Browser lists PROD\)$/ },
];

describe('names in network namespaces', { skip }, () => {
  let lab: DnsLab;
  let dns: Daemon;
  let sqlsim: Daemon;
  let tlsSim: Daemon;
  let tmp: ReturnType<typeof tempDir>;
  let certs: TestCertificates;
  const ended: string[] = [];

  before(async () => {
    tmp = tempDir('mrc-dns');
    certs = makeTestCertificates(join(tmp.dir, 'certs'));
    lab = createDnsLab([
      { role: 'live', resolvConf: 'nameserver {dns}\nsearch corp.test\noptions ndots:1\n', hosts: HOSTS },
      { role: 'dead', resolvConf: `nameserver ${HOLE4.replace(/\d+$/, '53')}\nsearch corp.test\n`, hosts: HOSTS },
      { role: 'second', resolvConf: `nameserver ${HOLE4.replace(/\d+$/, '53')}\nnameserver {dns}\nsearch corp.test\n`, hosts: HOSTS },
      // "localhost" is the servers' address here: the certificate names localhost, not that address
      { role: 'tls', resolvConf: 'nameserver {dns}\n', hosts: `${SVC4} localhost\n` },
    ]);
    dns = new Daemon('fake-dns', 'ip', ['netns', 'exec', lab.server, NODE, FAKE_DNS, '--host', '0.0.0.0', '--port', '53', '--records', JSON.stringify(RECORDS)]);
    // sqlsim on every address of its namespace (IPv4 and IPv6), with a Browser on UDP 1434
    sqlsim = new Daemon('sqlsim', 'ip', ['netns', 'exec', lab.server, NODE, SIM_CLI, '--scenario', 'principal', '--host', '::', '--port', '1433',
      '--browser-port', '1434', '--instance', 'PROD', '--control', 'stdin']);
    tlsSim = new Daemon('sqlsim-tls', 'ip', ['netns', 'exec', lab.server, NODE, SIM_CLI, '--scenario', 'principal', '--host', '::', '--port', '1533',
      '--encryption', 'strict', '--cert', certs.certFile, '--key', certs.keyFile, '--control', 'stdin']);
    await dns.waitForOutput(/^listening /m, 20_000);
    await sqlsim.waitForOutput(/^browser /m, 20_000);
    await tlsSim.waitForOutput(/^listening /m, 20_000);
  });
  after(async () => {
    await tlsSim?.stop();
    await sqlsim?.stop();
    await dns?.stop();
    lab?.destroy();
    tmp?.remove();
    if (ended.length) console.log(`# DNS fault table (--timeout ${TIMEOUT_S}, slack ${SLACK_MS} ms), end measured outside the process:\n${ended.join('\n')}`);
  });

  for (const row of TABLE) {
    test(`${row.label}: ${row.pass ? 'passes' : 'exit 1'}`, async () => {
      const from = dns.output.length;
      const r = await check({ host: row.host, instance: row.instance, ns: lab.clients[row.client] });
      const t = r.json?.timings ?? {};
      const phases = ['start', 'dns', 'browser', 'connect'].filter((p) => t[p] !== undefined).map((p) => `${p} ${Math.round(t[p])}`).join(', ');
      ended.push(`#   ${fmtMs(r.ms).padStart(7)}  exit ${r.status}  ${row.label} (${row.host}${row.instance ? ` --instance ${row.instance}` : ''}; ms: ${phases})${r.json && !row.pass ? `: ${r.json.reason}` : ''}`);
      assert.ok(!r.killed, `killed at the test's limit: ${shown(r)}`);
      assert.ok(r.ms <= TIMEOUT_S * 1000 + SLACK_MS, `ended after ${fmtMs(r.ms)}, past --timeout ${TIMEOUT_S} + ${SLACK_MS} ms: ${shown(r)}`);
      if (row.pass) {
        assertPass(r, row.label);
      } else {
        assert.equal(r.status, 1, shown(r));
        assert.ok(r.json, `no JSON: ${shown(r)}`);
        assert.ok(row.codes!.includes(r.json.errorCode ?? ''), `error code ${r.json.errorCode}, expected ${row.codes!.join(' or ')}: ${shown(r)}`);
        assert.doesNotMatch(r.json.reason, /[\r\n]/);
        if (row.quick) assert.ok(r.ms < QUICK_MS, `a failure on an answer waited ${fmtMs(r.ms)}: ${shown(r)}`);
      }
      if (row.connectAtLeastMs) assert.ok((r.json?.timings.connect ?? 0) >= row.connectAtLeastMs, `connected in ${r.json?.timings.connect} ms: the black-holed IPv6 address was not tried first`);
      if (row.reason) assert.match(r.json?.reason ?? '', row.reason, shown(r));
      // the server's log may still be on its way
      const questions = () => [...dns.output.slice(from).matchAll(/^question (.*)$/gm)].map((m) => m[1]);
      await waitUntil('the DNS server\'s log', () => (row.asked ?? []).every((q) => questions().includes(q)), 2000).catch(() => {});
      await sleep(100);
      const asked = questions();
      for (const q of row.asked ?? []) assert.ok(asked.includes(q), `DNS was not asked "${q}" (asked: ${asked.join(', ') || 'nothing'})`);
      if (row.notAsked) assert.ok(!asked.some((q) => row.notAsked!.test(q)), `DNS was asked ${asked.join(', ')}`);
    });
  }

  test('TLS verifies the certificate against the name, not the address it resolved to (x64 and arm64)', async () => {
    const ns = lab.clients.tls;
    const strict = ['--encrypt', 'strict', '--ca-file', certs.caFile];
    const [x64, arm64] = await Promise.all([check({ host: 'localhost', port: 1533, ns, extra: strict, timeoutS: 10 }),
      check({ host: 'localhost', port: 1533, ns, extra: strict, arm64: true })]);
    assertPass(x64, `x64 --host localhost (${SVC4}) --encrypt strict`);
    assertPass(arm64, `arm64 --host localhost (${SVC4}) --encrypt strict`);
    const byAddress = await check({ host: SVC4, port: 1533, ns, extra: strict, timeoutS: 10 });
    assert.equal(byAddress.status, 1, `the certificate does not name ${SVC4}: ${shown(byAddress)}`);
    assert.match(byAddress.json?.reason ?? '', /altnames|certificate/i, shown(byAddress));
    console.log(`# --encrypt strict by name: x64 exit 0 in ${fmtMs(x64.ms)}, arm64 exit 0 in ${fmtMs(arm64.ms)}; by address: exit 1 (${byAddress.json?.reason})`);
  });

  test('arm64 (qemu): a name in /etc/hosts only, a DNS name, and --instance with a DNS name', async () => {
    const ns = lab.clients.live;
    for (const o of [{ host: 'hostsonly.test' }, { host: 'sql' }, { host: 'sql.corp.test', instance: 'PROD' }]) {
      const r = await check({ ...o, ns, arm64: true });
      assertPass(r, `arm64 ${JSON.stringify(o)}`);
      console.log(`# arm64 (qemu) ${JSON.stringify(o)}: exit 0 in ${fmtMs(r.ms)}`);
    }
  });
});
