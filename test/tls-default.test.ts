// TLS by default, run by the packed binaries (x64, and arm64 under qemu-aarch64-static): without
// --ca-file the server certificate is verified against the system trust store, which is what
// OpenSSL reads (the binary runs with --use-openssl-ca, build/sea-pack.mjs): SSL_CERT_FILE,
// SSL_CERT_DIR, else /etc/ssl/certs, here replaced in a private mount namespace. A test CA
// installed in such a scratch store passes with no --ca-file; the machine's own store, which does
// not hold it, fails with a reason that names the options. A self-signed certificate (SQL Server's
// own when none is installed) is accepted with --trust-server-certificate or pinned with
// --ca-file. --encrypt off is said explicitly, and -v then warns in its one line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN_X64, BIN_ARM64, NODE, ROOT } from './helpers/paths.ts';
import { startSqlSim, type SqlSim, type SqlSimOptions } from './sqlsim/server.ts';
import { makeSelfSignedCertificate, makeTestCertificates, type TestCertificates } from './sqlsim/certs.ts';
import { DATABASE, LOGIN, loadScenario, passwordOf } from './peers/sim.ts';
import { run, type RunResult } from './peers/harness.ts';

const QEMU = 'qemu-aarch64-static';
const TIMEOUT_S = 30; // qemu starts slowly

type SimName = 'ca' | 'self' | 'strict' | 'plain';
const sims = {} as Record<SimName, SqlSim>;
let dir: string;
let certs: TestCertificates;
let other: TestCertificates;
let self: { certFile: string };
/** a scratch system store: the test CA under its subject hash (openssl rehash), as update-ca-certificates leaves /etc/ssl/certs */
let store: string;
/** the same CA file without its hash link: OpenSSL's lookup cannot find it there */
let unhashed: string;
let password: string;

before(async () => {
  assert.ok(existsSync(BIN_X64) && existsSync(BIN_ARM64), 'binaries missing; run make first');
  dir = mkdtempSync(join(tmpdir(), 'tls-default-test-'));
  certs = makeTestCertificates(join(dir, 'certs'));
  other = makeTestCertificates(join(dir, 'other'));
  const selfSigned = makeSelfSignedCertificate(join(dir, 'self'));
  self = selfSigned;
  store = join(dir, 'store');
  mkdirSync(store);
  copyFileSync(certs.caFile, join(store, 'sqlsim-test-ca.pem'));
  execFileSync('openssl', ['rehash', store]);
  unhashed = join(dir, 'unhashed');
  mkdirSync(unhashed);
  copyFileSync(certs.caFile, join(unhashed, 'sqlsim-test-ca.pem'));
  password = passwordOf(loadScenario('principal'));
  const scenario = loadScenario('principal');
  const opts: Record<SimName, SqlSimOptions> = {
    // SQL Server's default: encryption offered, not forced; the client asks for the whole session
    ca: { scenario, tls: { cert: certs.cert, key: certs.key }, encryption: 'off' },
    self: { scenario, tls: { cert: selfSigned.cert, key: selfSigned.key }, encryption: 'off' },
    strict: { scenario, tls: { cert: certs.cert, key: certs.key }, encryption: 'strict' },
    plain: { scenario, encryption: 'none' },
  };
  for (const [name, o] of Object.entries(opts)) sims[name as SimName] = await startSqlSim(o);
});
after(async () => {
  await Promise.all(Object.values(sims).map((s) => s.close()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The reason for an untrusted certificate: what OpenSSL said, then the options that accept or pin it. */
const untrusted = (why: string) => new RegExp(`^network error: .*the server certificate is not trusted \\(${why}\\): ` +
  'neither --ca-file nor the system trust store holds its CA\\. A self-signed certificate .* is accepted with --trust-server-certificate; ' +
  'to verify it instead, pin it: --ca-file FILE holding the server\'s certificate \\(PEM\\), or the CA that signed it$');

interface Row {
  name: string;
  sim: SimName;
  args?: () => string[];
  /** the system trust store of this run */
  store?: 'machine' | 'SSL_CERT_FILE' | 'SSL_CERT_DIR' | 'unhashed SSL_CERT_DIR' | 'mount' | 'other CA';
  exit: 0 | 1;
  reason?: RegExp;
  verbose?: RegExp;
}

const ROWS: Row[] = [
  { name: 'default, the machine\'s store (no test CA): fails, naming --trust-server-certificate and --ca-file', sim: 'ca', exit: 1,
    reason: untrusted('unable to verify the first certificate') },
  { name: 'default, the test CA in SSL_CERT_FILE: passes, verified, no --ca-file', sim: 'ca', store: 'SSL_CERT_FILE', exit: 0 },
  { name: 'default, the test CA in SSL_CERT_DIR (hashed): passes', sim: 'ca', store: 'SSL_CERT_DIR', exit: 0 },
  { name: 'default, the test CA in /etc/ssl/certs (a private mount namespace): passes', sim: 'ca', store: 'mount', exit: 0 },
  // OpenSSL finds a CA in a directory only under its subject hash, where Node's
  // tls.getCACertificates('system') would read every file: this row fails only in a binary whose
  // store is OpenSSL's own (--use-openssl-ca), looked up when a chain needs it
  { name: 'default, the CA in SSL_CERT_DIR without its hash link: not found (the store is OpenSSL\'s lookup, not a read of every file)', sim: 'ca',
    store: 'unhashed SSL_CERT_DIR', exit: 1, reason: untrusted('unable to verify the first certificate') },
  { name: 'default, another CA in SSL_CERT_FILE: fails', sim: 'ca', store: 'other CA', exit: 1, reason: untrusted('unable to verify the first certificate') },
  { name: 'default, --ca-file with the CA: passes', sim: 'ca', args: () => ['--ca-file', certs.caFile], exit: 0 },
  { name: '--ca-file replaces the store: another CA fails although the store holds the right one', sim: 'ca', store: 'SSL_CERT_FILE',
    args: () => ['--ca-file', other.caFile], exit: 1, reason: untrusted('unable to verify the first certificate') },
  { name: 'self-signed, default: fails saying so, naming --trust-server-certificate and --ca-file', sim: 'self', store: 'SSL_CERT_FILE', exit: 1,
    reason: untrusted('self-signed certificate') },
  { name: 'self-signed, --trust-server-certificate: passes', sim: 'self', args: () => ['--trust-server-certificate'], exit: 0 },
  { name: 'self-signed, pinned with --ca-file: passes', sim: 'self', args: () => ['--ca-file', self.certFile], exit: 0 },
  { name: 'self-signed, --encrypt strict: fails saying so', sim: 'self', args: () => ['--encrypt', 'strict'], exit: 1, reason: untrusted('self-signed certificate') },
  { name: 'strict, the test CA in SSL_CERT_FILE: passes, verified against the system store', sim: 'strict', args: () => ['--encrypt', 'strict'], store: 'SSL_CERT_FILE', exit: 0 },
  { name: '-v with TLS: one line, no warning', sim: 'ca', store: 'SSL_CERT_FILE', args: () => ['-v'], exit: 0,
    verbose: /^mssql-role-check: 127\.0\.0\.1:\d+ as primary: database "appdb": PASS: /u },
  { name: '-v with --encrypt off: one line, and it warns that the password travelled in the clear', sim: 'plain', args: () => ['--encrypt', 'off', '-v'], exit: 0,
    verbose: /^mssql-role-check: warning: --encrypt off, the password travelled in the clear: 127\.0\.0\.1:\d+ as primary: database "appdb": PASS: / },
  { name: '-v with --encrypt off, a failure: one line with the warning', sim: 'ca', args: () => ['--encrypt', 'off', '-v', '--role', 'mirror'], exit: 1,
    verbose: /^mssql-role-check: warning: --encrypt off, the password travelled in the clear: 127\.0\.0\.1:\d+ as mirror: database "appdb": FAIL: / },
];

/** One run: the password in the environment, the trust store as the row says. */
function once(row: Row, sim: SqlSim, arm64: boolean): Promise<RunResult> {
  const args = ['--host', sim.host, '--port', String(sim.port), '--database', DATABASE, '--user', LOGIN,
    '--timeout', String(TIMEOUT_S), '--json', ...(row.args?.() ?? [])];
  const env: Record<string, string> = { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', MSSQL_PASSWORD: password };
  if (row.store === 'SSL_CERT_FILE') env.SSL_CERT_FILE = certs.caFile;
  if (row.store === 'SSL_CERT_DIR') env.SSL_CERT_DIR = store;
  if (row.store === 'unhashed SSL_CERT_DIR') env.SSL_CERT_DIR = unhashed;
  if (row.store === 'other CA') env.SSL_CERT_FILE = other.caFile;
  let cmd = arm64 ? [QEMU, BIN_ARM64, ...args] : [BIN_X64, ...args];
  // the binary's own default paths (/etc/ssl/certs), with the scratch store mounted over them for this process only
  if (row.store === 'mount') cmd = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/ssl/certs && exec "$@"', store, ...cmd];
  return run(cmd[0], cmd.slice(1), { env, limitMs: TIMEOUT_S * 1000 + 15_000 });
}

for (const row of ROWS) {
  test(row.name, async () => {
    const sim = sims[row.sim];
    const before = sim.stats.tlsHandshakes;
    const [x64, arm64] = await Promise.all([once(row, sim, false), once(row, sim, true)]);
    for (const [name, r] of [['x64', x64], ['arm64', arm64]] as const) {
      const json = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { reason?: string };
      assert.equal(r.status, row.exit, `${name}: ${r.stdout}${r.stderr}`);
      if (row.reason) assert.match(json.reason ?? '', row.reason, name);
      assert.doesNotMatch(r.stdout + r.stderr, /Node\.js|--use-system-ca/, 'no advice about Node flags');
      if (row.verbose) {
        const lines = r.stderr.split('\n').filter(Boolean);
        assert.equal(lines.length, 1, `${name}: one line on stderr: ${r.stderr}`);
        assert.match(lines[0], row.verbose, name);
      }
    }
    if (row.exit === 0 && row.sim !== 'plain') {
      const handshakes = sim.stats.tlsHandshakes - before;
      assert.equal(handshakes, 2, 'a TLS handshake for each binary');
    }
  });
}

test('the -v warning is in every line: two databases, two lines, each warned', async () => {
  const sim = sims.plain;
  const args = ['--host', sim.host, '--port', String(sim.port), '--database', DATABASE, '--database', 'master', '--user', LOGIN,
    '--timeout', '5', '--encrypt', 'off', '-v', '--role', 'online'];
  const r = await run(BIN_X64, args, { env: { PATH: '/usr/bin:/bin', MSSQL_PASSWORD: password }, limitMs: 20_000 });
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 2, r.stderr);
  for (const l of lines) assert.match(l, /^mssql-role-check: warning: --encrypt off, the password travelled in the clear: /);
});

test('run from source (Node without --use-openssl-ca), the check reads the same system store', async () => {
  const sim = sims.ca;
  const args = [join(ROOT, 'src/main.ts'), '--host', sim.host, '--port', String(sim.port), '--database', DATABASE, '--user', LOGIN, '--timeout', '10', '--json'];
  const env = { PATH: '/usr/bin:/bin', MSSQL_PASSWORD: password };
  const trusted = await run(NODE, args, { env: { ...env, SSL_CERT_FILE: certs.caFile }, limitMs: 30_000 });
  assert.equal(trusted.status, 0, trusted.stdout + trusted.stderr);
  const machine = await run(NODE, args, { env, limitMs: 30_000 });
  assert.equal(machine.status, 1, machine.stdout + machine.stderr);
  assert.match(String(JSON.parse(machine.stdout).reason), untrusted('unable to verify the first certificate'));
});
